#!/usr/bin/env bash
# End-to-end tests of vaec compare (issue 11): the cells (models × grid points × seeds)
# and their run folders, compare.json, interrupt (SIGINT, and SIGKILL of compare) and
# resume to the same checkpoint bytes as an uninterrupted comparison, a changed command
# refused, a failed cell reported while the others finish, a locked or foreign DIR, bad
# options. On a 300/100-example slice of Fashion-MNIST (skipped without it).
# usage: compare.sh VAEC SOURCE_DIR
set -u
vaec=$(readlink -f "$1") src=$(readlink -f "$2")
work=$(mktemp -d)
bg=""
cleanup() { [ -n "$bg" ] && kill -KILL $bg 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
. "$src/tests/cli/lib.sh"
no_crash() { ! grep -qE "internal error|terminate called|Aborted|Segmentation|what\(\)" "$1"; }

cd "$work"
fashion_slice compare slice 300 100
tiny_model "binary[784]" "batch = 32  epochs = 2" >a.vae
tiny_model "binary[784]" "batch = 50  epochs = 2" >b.vae
# Two grid points: over a train key once the verbs take --set NAME=VALUE, else over seeds.
if "$vaec" --help 2>&1 | grep -q -- "--set"; then
  axes=(--grid "samples=1,2" --seeds 2)
else
  axes=(--seed-list 1,2,3,4)
fi
cmd=("$vaec" compare a.vae b.vae --data slice "${axes[@]}" --iw 5 --jobs 2 --threads 1)

# ---- 1. a small comparison: 2 models × 2 grid points × 2 seeds --------------------------
"${cmd[@]}" --out ref >ref.out 2>ref.err
status=$?
check "compare: exit 0" test $status -eq 0
check "compare: 8 cell folders in runs/" test "$(ls ref/runs | wc -l)" -eq 8
check "compare: a line per finished cell on stderr, and the closing line" \
  sh -c "test \$(grep -c '^\[[1-8]/8\] ' ref.err) -eq 8 && grep -q 'all 8 cells done' ref.err"
# compare.json as experiments/README.md has it: keys in order, one cell per model × point × seed, all done.
cat >check_json.py <<'PY'
import json, os, sys
d, want_status = sys.argv[1], sys.argv[2]
j = json.load(open(os.path.join(d, "compare.json")))
keys = ["vaec_version", "command", "data", "models", "baseline", "grid", "seeds", "sets", "iw_samples", "jobs",
        "threads", "cells"]
assert list(j) == keys, list(j)
assert [m["label"] for m in j["models"]] == ["a", "b"] and j["baseline"] == "a"
assert len(j["models"][0]["sha256"]) == 64 and len(j["data"]["sha256"]) == 64
assert j["iw_samples"] == 5 and j["jobs"] == 2 and j["threads"] == 1
points = 1
for a in j["grid"]:
    points *= len(a["values"])
assert len(j["cells"]) == 2 * points * len(j["seeds"]) == 8, len(j["cells"])
ids = set()
for c in j["cells"]:
    assert list(c) == ["id", "folder", "model", "grid", "seed", "status", "reason", "seconds"], list(c)
    want = c["model"] + "".join(f"-{k}={v}" for k, v in c["grid"].items()) + f"-seed{c['seed']}"
    assert c["id"] == want and c["folder"] == "runs/" + want, (c["id"], want)
    assert c["status"] == want_status, (c["id"], c["status"], c["reason"])
    assert c["reason"] is None and c["seconds"] > 0
    for f in ("run.json", "model.vae", "metrics.csv", "summary.json", "checkpoint.safetensors"):
        assert os.path.exists(os.path.join(d, c["folder"], f)), (c["folder"], f)
    assert len(open(os.path.join(d, c["folder"], "metrics.csv")).read().splitlines()) == 3  # header + 2 epochs
    run = json.load(open(os.path.join(d, c["folder"], "run.json")))
    assert run["settings"]["seed"] == c["seed"] and run["settings"]["threads"] == 1
    for k, v in c["grid"].items():
        assert str(run["settings"][k]) == v, (k, v)
    for log in ("train", "eval"):
        assert os.path.exists(os.path.join(d, "logs", f"{c['id']}.{log}.log"))
    ids.add(c["id"])
assert len(ids) == 8
PY
check "compare.json: every key in order, 8 distinct cells, all done, each a complete run folder" python3 check_json.py ref done
# Each cell's evaluation ran: its log holds vaec eval's figures (and eval.json, once vaec eval writes it).
n=0
for l in ref/logs/*.eval.log; do grep -q "log p(x), IW K=5 " "$l" && n=$((n + 1)); done
check "compare: 8 evaluations with K = 5" test "$n" -eq 8
if "$vaec" eval --help 2>&1 | grep -q -- "--json"; then
  check "compare: every cell has its eval.json, and the line on stderr is its log-likelihood" python3 - <<'PY'
import json, glob, re
err = open("ref.err").read()
for c in json.load(open("ref/compare.json"))["cells"]:
    e = json.load(open(f"ref/{c['folder']}/eval.json"))
    m = re.search(r"\] " + re.escape(c["id"]) + r"  LL (\S+) ± (\S+)", err)
    assert m and abs(float(m.group(1)) - e["log_likelihood"]) <= 0.005, c["id"]
PY
fi
# The same command again: nothing runs; a finished comparison exits 0 at once.
before=$(cat ref/logs/*.log | md5sum)
"${cmd[@]}" --out ref >/dev/null 2>again.err
status=$?
check "compare: the same command again runs no cell" sh -c "test $status -eq 0 && grep -q '8 done before, 0 to run' again.err && test \"$before\" = \"\$(cat ref/logs/*.log | md5sum)\""

same_cells() {  # every cell's checkpoint and metrics.csv byte-identical to ref's
  for c in ref/runs/*; do
    cmp -s "$c/checkpoint.safetensors" "$1/runs/${c##*/}/checkpoint.safetensors" || return 1
    cmp -s "$c/metrics.csv" "$1/runs/${c##*/}/metrics.csv" || return 1
  done
}

# ---- 2. SIGINT: the cells stop, compare exits 130; the same command finishes it --------
"${cmd[@]}" --out int >int.out 2>int.err &
bg=$!
sleep 1.5
"${cmd[@]}" --out int >/dev/null 2>locked.err
status=$?
check "compare: a second compare on a DIR in use is refused, naming the holder's pid" \
  sh -c "test $status -eq 1 && grep -q 'in use by another vaec compare (pid $bg)' locked.err"
kill -INT $bg
wait $bg
status=$?
bg=""
check "compare: SIGINT → exit 130 with the command that resumes" sh -c "test $status -eq 130 && grep -qF 'resume with: $vaec compare --resume --out int' int.err"
check "compare: interrupted cells are pending or done in compare.json" python3 -c "
import json; s = [c['status'] for c in json.load(open('int/compare.json'))['cells']]
assert set(s) <= {'pending', 'done'} and 'pending' in s, s"
"${cmd[@]}" --out int >/dev/null 2>int2.err
status=$?
check "compare: the same command resumes it to the end" sh -c "test $status -eq 0 && python3 check_json.py int done"
check "compare: after SIGINT and resume, every cell's checkpoint and metrics bytes are those of the uninterrupted compare" same_cells int

# ---- 3. SIGKILL of compare: its children stop too; --resume --out DIR alone finishes ----
"${cmd[@]}" --out kill >/dev/null 2>kill.err &
bg=$!
sleep 2
kill -KILL $bg
wait $bg 2>/dev/null
bg=""
# They get SIGTERM (vaec's Ctrl-C): they stop after their step, writing checkpoint and pictures.
for i in $(seq 1 100); do pgrep -f -- '[k]ill/runs/' >/dev/null || break; sleep 0.1; done
check "compare: after SIGKILL of compare its children stop within 10 s" sh -c "! pgrep -f -- '[k]ill/runs/' >/dev/null"
"$vaec" compare --resume --out kill >/dev/null 2>kill2.err
status=$?
check "compare: --resume --out DIR alone finishes it" sh -c "test $status -eq 0 && python3 check_json.py kill done"
check "compare: after SIGKILL and resume, every cell's checkpoint and metrics bytes are those of the uninterrupted compare" same_cells kill

# ---- 4. a changed command is refused, naming what differs --------------------------------
"$vaec" compare a.vae b.vae --data slice "${axes[@]}" --iw 7 --jobs 2 --threads 1 --out ref >/dev/null 2>changed.err
status=$?
check "compare: another --iw on the same DIR is refused (exit 2), naming --iw" \
  sh -c "test $status -eq 2 && grep -q -- '--iw: 7 (compare.json: 5)' changed.err && grep -q 'another --out' changed.err"
cp b.vae b.vae.orig && echo "# changed" >>b.vae
"${cmd[@]}" --out ref >/dev/null 2>changed2.err
status=$?
check "compare: a changed model file is refused, naming it" sh -c "test $status -eq 2 && grep -q 'b.vae is not the model the comparison started with' changed2.err"
mv b.vae.orig b.vae
"$vaec" compare b.vae a.vae --data slice "${axes[@]}" --iw 5 --jobs 2 --threads 1 --out ref >/dev/null 2>order.err
status=$?
check "compare: the same models in another order are refused as such, not as changed files" \
  sh -c "test $status -eq 2 && grep -q 'the models are the comparison.s, in another order: b.vae a.vae (compare.json: a.vae b.vae)' order.err && ! grep -q 'was changed' order.err"
"$vaec" compare a.vae b.vae --data slice --seeds 3 --epochs 2 --out ref >/dev/null 2>changed3.err
status=$?
check "compare: other seeds and epochs are refused, naming both" \
  sh -c "test $status -eq 2 && grep -q 'seeds: 1,2,3' changed3.err && grep -q 'epochs=2' changed3.err"
check "compare: a refused command leaves compare.json as it was" python3 check_json.py ref done

# ---- 5. a model that does not check is refused before any cell; a cell that fails at ----
# ---- run time is reported with its reason while the others finish ----------------------
sed 's/linear(h, 784)/linear(h, 783)/' a.vae >broken.vae
"$vaec" compare a.vae broken.vae --data slice --iw 5 --out broken >/dev/null 2>broken.err
status=$?
check "compare: a model that does not check → exit 1, its diagnostic, no cell started, no DIR" \
  sh -c "test $status -eq 1 && grep -q 'broken.vae:.*error' broken.err && grep -q 'broken.vae does not check' broken.err && grep -q 'no cell was started' broken.err && test ! -e broken"
"$vaec" compare a.vae --data slice --grid d=1,2 --iw 5 --out nogrid >/dev/null 2>nogrid.err
status=$?
check "compare: a grid over a name the model lacks → exit 1, 'did you mean', the grid point named" \
  sh -c "test $status -eq 1 && grep -q \"'d' is neither a constant\" nogrid.err && grep -q 'at the grid point d=1' nogrid.err && test ! -e nogrid"
# The learning rate as a constant of the model: 1e30 diverges at once.
{ echo "const rate = 0.001"; sed 's/batch = 32  epochs = 2/batch = 32  epochs = 2  optimizer = adam(lr = rate)/' a.vae; } >lr.vae
"$vaec" compare lr.vae --data slice --grid rate=0.001,1e30 --iw 5 --out failing >/dev/null 2>failing.err
status=$?
check "compare: a failed cell → exit 1, a line saying how many failed" sh -c "test $status -eq 1 && grep -q '1 of 2 cells failed' failing.err"
check "compare: the failed cell has status failed and the child's error as reason; the other is done" python3 -c "
import json; c = json.load(open('failing/compare.json'))['cells']
assert c[0]['status'] == 'done' and c[0]['reason'] is None, c[0]
assert c[1]['status'] == 'failed' and 'training stopped' in c[1]['reason'], c[1]"
check "compare: the failed cell's line names the reason" grep -q "lr-rate=1e30-seed1  failed: .*training stopped" failing.err
check "compare: the table reports the failed cell" grep -q "failed" failing/table.md
check "compare: no crash" no_crash failing.err

# ---- 6. DIR and bad options: a clear message, exit 2 ------------------------------------
mkdir mine && echo precious >mine/notes.txt
"${cmd[@]}" --out mine >/dev/null 2>mine.err
status=$?
check "compare: a folder holding other files is refused (exit 2), and left as it was" \
  sh -c "test $status -eq 2 && grep -q 'not empty' mine.err && test \"\$(ls mine)\" = notes.txt"
bad() {  # bad NAME EXPECTED_TEXT ARGS...: exit 2 and the message
  local name=$1 want=$2; shift 2
  "$vaec" compare "$@" >/dev/null 2>bad.err
  local s=$?
  if [ $s -eq 2 ] && grep -q -- "$want" bad.err && no_crash bad.err; then ok "bad option: $name"; else fail "bad option: $name (exit $s)"; cat bad.err; fi
}
bad "--jobs 0" "--jobs 0: from 1 to" a.vae --data slice --jobs 0 --out x1
bad "--grid without =" "--grid d: write the axis as NAME=v1,v2" a.vae --data slice --grid d --out x2
bad "unknown model file" "nosuch.vae: no such model file" a.vae nosuch.vae --data slice --out x3
bad "--seeds 0" "--seeds 0: the number of seeds is at least 1" a.vae --data slice --seeds 0 --out x4
bad "duplicate grid names" "the axis 'd' is given twice" a.vae --data slice --grid d=1,2 --grid d=3 --out x5
bad "--seeds and --seed-list" "give the seeds one way" a.vae --data slice --seeds 2 --seed-list 1,2 --out x6
bad "--threads 0" "--threads 0: from 1 to 256" a.vae --data slice --threads 0 --out x7
bad "--resume without --out" "--resume needs --out DIR" --resume
bad "no model" "needs the model files" --data slice
bad "--set without =" "--set lr: write NAME=VALUE" a.vae --data slice --set lr --out x8
bad "--grid value twice" "the value '2' is given twice" a.vae --data slice --grid d=2,2 --out x9
bad "--grid: one number written two ways" "'1e-3' and '0.001' are the same number; give it once" a.vae --data slice --grid lr=1e-3,0.001 --out x11
bad "--baseline not a model" "--baseline c.vae: not one of the compared models" a.vae --data slice --baseline c.vae --out x10
# Two files of one name: labelled a and a-2, and the run says which is which.
mkdir -p other && cp b.vae other/a.vae
"$vaec" compare a.vae other/a.vae --data slice --iw 5 --jobs 2 --threads 1 --out same_stem >/dev/null 2>same_stem.err
status=$?
check "compare: two files named a.vae → labels a and a-2, each named on stderr" \
  sh -c "test $status -eq 0 && grep -q \"model a.vae is labelled 'a' in the tables\" same_stem.err && grep -q \"model other/a.vae is labelled 'a-2' in the tables\" same_stem.err && test -d same_stem/runs/a-2-seed1"
mkdir -p twin && cp a.vae twin/a.vae
bad "the same model twice (another path, the same text)" "twin/a.vae is the same model as a.vae (the same text): give each model once" \
  a.vae twin/a.vae --data slice --out x11
check "bad options leave no folder behind" sh -c "! ls -d x* 2>/dev/null | grep -q ."

echo "compare: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
