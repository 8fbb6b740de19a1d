#!/usr/bin/env bash
# End-to-end tests of trustworthy runs (issue 8): the same bytes whatever the
# environment, resume that is exact after Ctrl-C or kill -9 at any moment, run folders
# that are guarded, every failure reported, evaluation that says what it computes.
# Runs on a 2,000/500-example slice of Fashion-MNIST (skipped without it).
# usage: runs.sh VAEC SOURCE_DIR
set -u
vaec=$(readlink -f "$1") src=$(readlink -f "$2")
work=$(mktemp -d)
mnt=""
cleanup() { [ -n "$mnt" ] && umount "$mnt" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
. "$src/tests/cli/lib.sh"
same() { cmp -s "$1/metrics.csv" "$2/metrics.csv" && cmp -s "$1/checkpoint.safetensors" "$2/checkpoint.safetensors"; }
no_crash() { ! grep -qE "internal error|terminate called|Aborted|Segmentation|what\(\)" "$1"; }

cd "$work"
fashion_slice runs slice 2000 500
# The tiny model of issue 8, with a cyclical KL schedule so that resume must continue it.
tiny_model "binary[784]" "batch = 32  kl_warmup = 2  kl_cycle = 4" >tiny.vae
# (a command, not a shell function: a function run with & is a subshell, and killing it
# would leave vaec running)
train=("$vaec" tiny.vae --data slice --threads 1)
train() { "${train[@]}" "$@"; }

# ---- 1. determinism: same bytes under every variation of the environment ----------------
train --epochs 2 --out ref >/dev/null 2>&1
train --epochs 2 --out v-stderr-file 2>err.txt >/dev/null
train --epochs 2 --out v-both-file >out.txt 2>&1
mkdir -p a/much/longer/current/directory/than/before && (cd a/much/longer/current/directory/than/before &&
  "$vaec" "$work/tiny.vae" --data "$work/slice" --epochs 2 --threads 1 --out "$work/v-cwd-and-a-long-run-folder-name-$(printf 'x%.0s' $(seq 1 120))" >/dev/null 2>&1)
env -i PATH=/usr/bin:/bin BIG="$(head -c 20000 /dev/zero | tr '\0' y)" "$vaec" tiny.vae --data slice --epochs 2 --threads 1 --out v-env >/dev/null 2>&1
LANG=C.UTF-8 LC_ALL=C TZ=Asia/Kolkata HOME=/nonexistent train --epochs 2 --out v-locale >/dev/null 2>&1
script -qec "$vaec tiny.vae --data slice --epochs 2 --threads 1 --out v-terminal" /dev/null >/dev/null 2>&1
n=0
for v in v-stderr-file v-both-file v-cwd-and-a-long-run-folder-name-* v-env v-locale v-terminal; do
  if same ref "$v"; then n=$((n + 1)); else fail "determinism: $v differs from the reference run"; fi
done
[ "$n" -eq 6 ] && ok "determinism: 6 variations (redirections, cwd and folder path, environment, locale, terminal), identical bytes"
# Two threads: reproducible too (for that thread count).
"$vaec" tiny.vae --data slice --epochs 2 --threads 2 --out t2a >/dev/null 2>&1
"$vaec" tiny.vae --data slice --epochs 2 --threads 2 --out t2b >/dev/null 2>&1 </dev/null
check "determinism: 2 threads, twice, identical bytes" same t2a t2b

# ---- 2. exact resume after Ctrl-C or kill -9 at random moments ----------------------------
train --epochs 12 --out full >/dev/null 2>&1
check "kl_cycle: the beta column is the saw-tooth 0.5 1 1 1 0.5 1 1 1 …" \
  test "$(cut -d, -f10 full/metrics.csv | tail -n +2 | tr '\n' ' ')" = "0.5 1 1 1 0.5 1 1 1 0.5 1 1 1 "
total_ms=$( { /usr/bin/time -f %e "$vaec" tiny.vae --data slice --epochs 12 --threads 1 --out timed >/dev/null 2>/dev/null; } 2>&1 | awk '{printf "%d", $1 * 1000}')
[ "${total_ms:-0}" -lt 300 ] && total_ms=300
RANDOM=8  # the kill points follow from this seed
kills=0 identical=0
for i in $(seq 1 22); do
  d="k$i"
  sig=INT; [ $((i % 2)) -eq 0 ] && sig=KILL
  "${train[@]}" --epochs 12 --out "$d" >"$d.log" 2>&1 &
  pid=$!
  sleep "$(awk -v r=$RANDOM -v t="$total_ms" 'BEGIN { printf "%.3f", 0.02 + (r / 32768) * t / 1000 }')"
  kill -s "$sig" "$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
  # Resume until done, killing some of the resumed runs again.
  for attempt in 1 2 3 4 5 6; do
    if [ $((RANDOM % 3)) -eq 0 ] && [ "$attempt" -lt 6 ]; then
      "$vaec" --resume --out "$d" >>"$d.log" 2>&1 &
      pid=$!
      sleep "$(awk -v r=$RANDOM -v t="$total_ms" 'BEGIN { printf "%.3f", (r / 32768) * t / 1000 }')"
      kill -s KILL "$pid" 2>/dev/null && kills=$((kills + 1))
      wait "$pid" 2>/dev/null
    elif [ ! -e "$d/run.json" ]; then
      # Killed before the run had started (no run.json yet): the same command starts it.
      "${train[@]}" --epochs 12 --out "$d" >>"$d.log" 2>&1 && break
    else
      "$vaec" --resume --out "$d" >>"$d.log" 2>&1 && break
    fi
  done
  if same full "$d"; then identical=$((identical + 1)); else fail "resume: $d ($sig) differs from the uninterrupted run"; tail -3 "$d.log"; fi
done
[ "$identical" -eq 22 ] && ok "resume: $kills kills (SIGINT and SIGKILL) in 22 runs, every resumed metrics.csv and checkpoint identical"
# A finished run resumed again changes nothing.
"$vaec" --resume --out full >/dev/null 2>&1
check "resume of a finished run: exit 0, bytes unchanged" same full k1

# ---- 3. run folders are guarded ------------------------------------------------------------
mkdir mine && echo "my own metrics" >mine/metrics.csv && echo "my model" >mine/model.vae
before=$(md5sum mine/* | md5sum)
train --epochs 1 --out mine >/dev/null 2>g.err; s=$?
check "a folder of the user's own files is refused and left untouched" \
  sh -c "[ $s -eq 1 ] && grep -q 'is not empty' g.err && [ \"$(md5sum mine/* | md5sum)\" = \"$before\" ] && [ ! -e mine/vaec.lock ]"
grep -q "is not empty (it holds 'metrics.csv', 'model.vae')" g.err && ok "the refusal names the files" || { fail "the refusal names the files"; cat g.err; }
"${train[@]}" --epochs 40 --out busy >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -e busy/run.json ] && break; sleep 0.02; done
train --epochs 1 --out busy >/dev/null 2>w2.err; s1=$?
"$vaec" --resume --out busy >/dev/null 2>w3.err; s2=$?
kill -KILL "$pid"; wait "$pid" 2>/dev/null
check "a second writer is refused, naming the holder's pid" \
  sh -c "[ $s1 -eq 1 ] && [ $s2 -eq 1 ] && grep -q 'in use by another vaec process (pid $pid)' w2.err && grep -q 'pid $pid' w3.err"
mkdir defaults && (cd defaults && for _ in 1 2 3; do "$vaec" ../tiny.vae --data ../slice --epochs 1 --threads 1 >/dev/null 2>&1 & done; wait)
check "three runs started together without --out get three folders" test "$(ls defaults/runs | wc -l)" -eq 3
check "each of the three holds a complete run" sh -c "for d in defaults/runs/*; do [ -s \$d/checkpoint.safetensors ] || exit 1; [ \$(wc -l <\$d/metrics.csv) -eq 2 ] || exit 1; done"
train --epochs 1 --out done1 >/dev/null 2>&1
train --epochs 1 --out done1 >/dev/null 2>g2.err
check "a folder holding a run is refused for a new run, with the resume command" grep -qF "already holds a run; continue it with \`$vaec --resume --out done1\`" g2.err

# ---- 4. every failure is reported ---------------------------------------------------------
train --epochs 1 --out /proc/x >/dev/null 2>f1.err; s=$?
check "--out under /proc: exit 1, a clear message" sh -c "[ $s -eq 1 ] && grep -q 'cannot create the run folder /proc/x' f1.err && ! grep -q 'internal error' f1.err"
train --epochs 1 --out tiny.vae >/dev/null 2>f2.err; s=$?
check "--out at a file: exit 1, a clear message" sh -c "[ $s -eq 1 ] && grep -q 'this is a file, not a folder' f2.err"
train --epochs 1 --out tiny.vae/sub >/dev/null 2>f3.err; s=$?
check "--out under a file: exit 1, no internal error" sh -c "[ $s -eq 1 ] && grep -q 'cannot create the run folder tiny.vae/sub: not a directory' f3.err"
mkdir -p tmpfs && if mount -t tmpfs -o size=3m tmpfs tmpfs 2>/dev/null; then
  mnt="$work/tmpfs"
  mkdir tmpfs/pre && head -c 1500000 /dev/zero >tmpfs/pre/fill
  train --epochs 1 --out tmpfs/pre/r >out.f4 2>f4.err; s=$?
  check "too little free space is found before training" \
    sh -c "[ $s -eq 1 ] && grep -q 'MiB free, and the run.s checkpoints need about' f4.err && ! grep -q '^epoch' out.f4"
  # ... and the refused run leaves no folder, so the same command can run again once there
  # is room (it left model.vae, run.json and the lock, and the retry was refused as "holds a run").
  check "the refused run leaves no run folder behind" sh -c "[ ! -e tmpfs/pre/r ]"
  rm -rf tmpfs/pre
  "${train[@]}" --epochs 12 --out tmpfs/r >f5.out 2>f5.err &
  pid=$!
  for _ in $(seq 1 200); do grep -q "^epoch   2" f5.out 2>/dev/null && break; sleep 0.01; done
  head -c 3000000 /dev/zero >tmpfs/fill 2>/dev/null
  wait "$pid"; s=$?
  check "a full disk mid-run: exit 1, naming the file and 'no space left on device'" \
    sh -c "[ $s -eq 1 ] && grep -qE 'tmpfs/r/[a-z.]+: .*no space left on device|cannot write .*tmpfs/r/.*no space left on device' f5.err && ! grep -q 'internal error' f5.err"
  rm -f tmpfs/fill
  check "after the full disk, the kept checkpoint reads" python3 "$src/tests/runtime/read_safetensors.py" tmpfs/r/checkpoint.safetensors >/dev/null
  "$vaec" --resume --out tmpfs/r >/dev/null 2>&1
  check "after freeing space, --resume gives the uninterrupted run's bytes" same full tmpfs/r
  umount tmpfs && mnt=""
else
  echo "note: cannot mount a tmpfs here; the full-disk cases are skipped"
fi
python3 - <<'EOF'
import struct
# data of width 100: a CSV of 5 rows
open("narrow.csv", "w").write("\n".join(",".join(["0.5"] * 100) for _ in range(5)) + "\n")
EOF
"$vaec" tiny.vae --epochs 1 --data narrow.csv --out narrow >/dev/null 2>f6.err; s=$?
check "a data-width error: exit 1, and no run folder is left" sh -c "[ $s -eq 1 ] && grep -q 'each example has 100 values' f6.err && [ ! -e narrow ]"

# ---- 5. --resume refuses another model or other data ------------------------------------
sed 's/z ~ Normal(loc = linear(h, 2), scale = softplus(linear(h, 2)) + 1e-4)/z ~ StudentT(df = 5, loc = linear(h, 2), scale = softplus(linear(h, 2)) + 1e-4)/' tiny.vae >tiny_t.vae
cp -r k1 r5
"$vaec" tiny_t.vae --resume --out r5 >/dev/null 2>r5a.err; s=$?
check "--resume with a StudentT posterior in place of the Normal is refused" sh -c "[ $s -ne 0 ] && grep -q 'tiny_t.vae differs from r5/model.vae' r5a.err"
python3 - <<'EOF'
# slice2: the same shapes, values 1 - x
import os
os.makedirs("slice2", exist_ok=True)
for name in os.listdir("slice"):
    b = bytearray(open(os.path.join("slice", name), "rb").read())
    if "images" in name:
        for i in range(16, len(b)):
            b[i] = 255 - b[i]
    open(os.path.join("slice2", name), "wb").write(bytes(b))
EOF
mv slice slice.orig && mv slice2 slice
"$vaec" --resume --out r5 >/dev/null 2>r5b.err; s=$?
mv slice slice2 && mv slice.orig slice
check "--resume on data 1 − x at the same path is refused" sh -c "[ $s -eq 1 ] && grep -q 'are not those the run in r5 started on' r5b.err"
"$vaec" --resume --out r5 --data slice2 >/dev/null 2>r5c.err; s=$?
check "--resume --data OTHER is refused naming both paths" sh -c "[ $s -eq 2 ] && grep -q -- '--data slice2 contradicts the run in r5, which has data = $work/slice' r5c.err"
"$vaec" --resume --out r5 --batch 64 >/dev/null 2>r5d.err; s=$?
check "--resume --batch 64 is refused naming both values" sh -c "[ $s -eq 2 ] && grep -q -- '--batch 64 contradicts the run in r5, which has batch = 32' r5d.err"
echo "# edited" >>r5/model.vae
"$vaec" --resume --out r5 >/dev/null 2>r5e.err; s=$?
check "--resume after model.vae was edited is refused" sh -c "[ $s -eq 1 ] && grep -q 'was changed since the run started' r5e.err"

# ---- 6. the resume hint is the whole command; no epoch is dropped ---------------------------
"${train[@]}" --epochs 3 --out r6 >r6.out 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "^epoch   1" r6.out 2>/dev/null && break; sleep 0.01; done
kill -INT "$pid"; wait "$pid"; s=$?
# The hint names vaec as it was run (here by its path: after the README's setup it is
# build/vaec, not on PATH), so that it can be pasted; section 8 runs it as printed.
check "Ctrl-C: exit 130 and the hint 'resume with: $vaec --resume --out r6'" sh -c "[ $s -eq 130 ] && grep -qxF 'resume with: $vaec --resume --out r6' r6.out"
# SIGTERM (kill, a batch system's stop) stops the same way, and exits as a shell reports a
# process ended by it: 143 (it was 130, as if Ctrl-C).
"${train[@]}" --epochs 3 --out r6t >r6t.out 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "^epoch   1" r6t.out 2>/dev/null && break; sleep 0.01; done
kill -TERM "$pid"; wait "$pid"; s=$?
check "SIGTERM: exit 143, a checkpoint and the resume hint" \
  sh -c "[ $s -eq 143 ] && grep -qE '^interrupted (at|after) epoch' r6t.out && grep -qxF 'resume with: $vaec --resume --out r6t' r6t.out"
# Run through PATH, the hint says vaec; a folder with a space and a quote is quoted as a
# shell reads it back, and the hint, pasted into a shell, resumes the run.
mkdir -p onpath && ln -sf "$vaec" onpath/vaec
(PATH="$work/onpath:$PATH" exec vaec tiny.vae --data slice --threads 1 --epochs 3 --out "r6 it's" >r6q.out 2>&1) &
pid=$!
for _ in $(seq 1 200); do grep -q "^epoch   1" r6q.out 2>/dev/null && break; sleep 0.01; done
kill -INT "$pid"; wait "$pid"; s=$?
printf '%s\n' "resume with: vaec --resume --out 'r6 it'\\''s'" >r6q.expect
check "run through PATH: exit 130, the hint says vaec and quotes the folder as a shell reads it back" \
  sh -c "[ $s -eq 130 ] && grep -qxFf r6q.expect r6q.out"
(PATH="$work/onpath:$PATH" sh -c "$(sed -n 's/^resume with: //p' r6q.out)") >r6qb.out 2>&1
check "that hint, pasted into a shell, resumes the run to its end" grep -q '^done: 3 of 3 epochs' r6qb.out
# Ctrl-C at sixteen moments of a run whose steps are mostly oneDNN products (the Gaussian model at
# 2 threads): each stops with exit 130 and a checkpoint, never a crash. oneDNN's AVX2 GEMM
# points the stack pointer into a heap buffer; a handler run there wrote its signal frame
# over the heap, and glibc aborted ("corrupted size vs. prev_size") in about half of the
# Ctrl-Cs of a Fashion-MNIST training on an AVX2 machine, 1 in 10 of these on the slice
# (tests/runtime/train_test.cpp checks the alternate stack itself). A last one is resumed to
# the uninterrupted run's bytes.
"$vaec" "$src/models/fashion_gaussian.vae" --data slice --epochs 12 --threads 2 --out cc-ref >/dev/null 2>&1
n=0
for delay in 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0 1.1 1.2 1.3 1.4 1.5 1.6 1.7 1.8; do
  rm -rf cc
  "$vaec" "$src/models/fashion_gaussian.vae" --data slice --epochs 50 --batch 500 --threads 2 --out cc >cc.out 2>cc.err &
  pid=$!
  sleep "$delay"
  kill -INT "$pid"; wait "$pid"; s=$?
  if [ "$s" -eq 130 ] && grep -qE "^interrupted (at|after) epoch" cc.out && no_crash cc.err; then n=$((n + 1)); else
    fail "Ctrl-C after ${delay}s: exit $s"; tail -2 cc.err; fi
done
[ "$n" -eq 16 ] && ok "Ctrl-C at 16 moments of a 2-thread run of oneDNN products: exit 130 and a checkpoint each time, no crash"
rm -rf cc
"$vaec" "$src/models/fashion_gaussian.vae" --data slice --epochs 12 --threads 2 --out cc >cc.out 2>cc.err &
pid=$!
sleep 0.8
kill -INT "$pid"; wait "$pid"
"$vaec" --resume --out cc >/dev/null 2>&1
if grep -qE '^interrupted (at|after) epoch' cc.out && same cc-ref cc; then ok "such a run, interrupted and resumed, equals the uninterrupted one"
else fail "such a run, interrupted and resumed, differs from the uninterrupted one (or was not interrupted)"; fi
# A SIGINT while the data load, to a run started with SIGINT ignored (as a script's
# background job is): honoured — the command stops before writing anything, exit 130. It
# used to be ignored until the run folder was made, and the run went on to the end. The
# handler is seen installed (SigCgt in /proc) before "run folder:" is printed, while
# Fashion-MNIST is still being read.
python3 -c "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])" \
  "$vaec" "$src/models/fashion_gaussian.vae" --data fashion-mnist --epochs 1 --threads 2 --out early >early.out 2>&1 &
pid=$!
caught=0
for _ in $(seq 1 2000); do
  mask=$(awk '/^SigCgt/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  if [ -n "$mask" ] && [ $((0x$mask & 2)) -ne 0 ]; then caught=1; break; fi
  sleep 0.002
done
printed=$(grep -c "^run folder:" early.out)
kill -INT "$pid"; wait "$pid"; s=$?
check "a SIGINT while the data load (SIGINT ignored at the start): exit 130 before anything is written" \
  sh -c "[ $caught -eq 1 ] && [ $printed -eq 0 ] && [ $s -eq 130 ] && grep -q '^interrupted before training started: nothing was written' early.out && [ ! -e early ]"
# kill -9 during the first epoch: summary.json exists already, saying in_progress.
"$vaec" "$src/models/fashion_gaussian.vae" --data slice --epochs 50 --batch 500 --threads 2 --out early-k9 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -e early-k9/summary.json ] && break; sleep 0.01; done
kill -KILL "$pid"; wait "$pid" 2>/dev/null
check "summary.json exists from a run's start (in_progress), also after kill -9" \
  python3 -c "import json, sys; st = json.load(open('early-k9/summary.json'))['status']; print(st); sys.exit(st != 'in_progress')"
# kill -9 after a checkpoint: summary.json cannot say so, but eval, which holds the run's
# lock, knows no process trains it any more, and says how to continue it.
"${train[@]}" --epochs 40 --out k9e >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 500); do [ -s k9e/metrics.csv ] && [ "$(wc -l <k9e/metrics.csv)" -ge 3 ] && break; sleep 0.01; done
kill -KILL "$pid"; wait "$pid" 2>/dev/null
"$vaec" eval k9e --data slice --iw 2 >k9e.out 2>&1; s=$?
printf '%s continues it\n' "\`$vaec --resume --out k9e\`" >k9e.expect
check "eval of a run killed with -9 says it did not finish, after how many epochs, and how to resume it" \
  sh -c "[ $s -eq 0 ] && grep -q '^note: this run did not finish: its summary.json says in_progress, but no vaec process is training it' k9e.out && grep -qE 'after [0-9]+ of 40 epochs' k9e.out && grep -qFf k9e.expect k9e.out"
"$vaec" eval r6 --data slice --iw 2 >r6e.out 2>&1
check "eval of a run interrupted by Ctrl-C adds no such note" sh -c "! grep -q 'did not finish' r6e.out"
status_is() { python3 -c "import json, sys; sys.exit(json.load(open('$1/summary.json'))['status'] != '$2')"; }
check "summary.json of the interrupted run says interrupted" status_is r6 interrupted
# What a writer killed mid-write leaves (a second SIGTERM while the checkpoint is written):
# the resume removes it, and keeps everything else.
printf 'partial' >r6/checkpoint.safetensors.tmp; printf 'partial' >r6/metrics.csv.4242.tmp
sh -c "$(sed -n 's/^resume with: //p' r6.out)" >r6b.out 2>&1  # the hint as printed
check "a resume removes the temporary files of a writer killed mid-write" \
  sh -c "[ ! -e r6/checkpoint.safetensors.tmp ] && [ ! -e r6/metrics.csv.4242.tmp ] && [ -s r6/checkpoint.safetensors ] && [ -s r6/eval.json ]"
check "the resumed run reports 3 of 3 epochs and metrics.csv has 3 rows" \
  sh -c "grep -q '^done: 3 of 3 epochs' r6b.out && [ \$(wc -l <r6/metrics.csv) -eq 4 ]"
check "summary.json of the resumed run says completed" status_is r6 completed

# A checkpoint that is gone while metrics.csv records finished epochs: --resume refuses,
# rather than start over and overwrite their history (it used to say "no checkpoint yet").
cp -r k1 nock && rm nock/checkpoint.safetensors && cp nock/metrics.csv nock.metrics
"$vaec" --resume --out nock >nock.out 2>nock.err; s=$?
check "--resume without the checkpoint of finished epochs: refused, metrics.csv untouched" \
  sh -c "[ $s -eq 1 ] && grep -q 'nock: checkpoint.safetensors is missing, but metrics.csv records [0-9]* finished epochs: the run.s parameters are gone' nock.err && cmp -s nock.metrics nock/metrics.csv && [ ! -e nock/checkpoint.safetensors ]"
# But a run killed between its first epoch's row and its first checkpoint (one row, no
# checkpoint, summary.json counting no epoch) starts over and ends as the uninterrupted run.
"${train[@]}" --epochs 2 --out win-ref >/dev/null 2>&1
cp -r win-ref win && rm win/checkpoint.safetensors && head -2 win-ref/metrics.csv >win/metrics.csv
python3 - <<'PY'
import json
j = json.load(open("win/summary.json")); j["epochs_completed"] = 0; j["status"] = "in_progress"
open("win/summary.json", "w").write(json.dumps(j, indent=2))
PY
"$vaec" --resume --out win >win.out 2>&1; s=$?
check "killed between the first row and the first checkpoint: the resume starts over and equals the uninterrupted run" \
  sh -c "[ $s -eq 0 ] && grep -q 'holds no checkpoint yet' win.out && cmp -s win/metrics.csv win-ref/metrics.csv && cmp -s win/checkpoint.safetensors win-ref/checkpoint.safetensors"
# run.json edited by hand (a learning rate, the binarization): the resume would continue
# another run than the one interrupted; refused, naming each value both ways.
cp -r k1 tam
python3 - <<'PY'
import json
j = json.load(open("tam/run.json"))
j["settings"]["optimizer"]["lr"] = 0.5
j["settings"]["binarize"] = "dynamic"
open("tam/run.json", "w").write(json.dumps(j, indent=2))
PY
"$vaec" --resume --out tam >/dev/null 2>tam.err; s=$?
check "--resume after run.json's settings were edited: refused, naming each changed value" \
  sh -c "[ $s -eq 1 ] && grep -q 'tam/run.json: run.json.s settings differ from those the run was trained with' tam.err && grep -q 'optimizer.lr is 0.001 there, 0.5 in run.json' tam.err && grep -q 'binarize is \"none\" there, \"dynamic\" in run.json' tam.err"
# --data fashion-mnist names the installed data set; a folder of that name here gets a note
# saying which one is read and how to reach the other.
mkdir -p fmdir/fashion-mnist
(cd fmdir && "$vaec" eval ../k1 --data fashion-mnist --iw 1 --threads 1 >../fm.out 2>../fm.err); s=$?
check "--data fashion-mnist beside a folder of that name: a note says which is read, and how to reach the folder" \
  sh -c "[ $s -eq 0 ] && grep -q \"^vaec: note: --data fashion-mnist names the data set installed in /usr/share/datasets/fashion-mnist, not the folder '.*/fmdir/fashion-mnist' here; for that one, write --data ./fashion-mnist\" fm.err"
"$vaec" eval k1 --data fashion-mnist --iw 1 --threads 1 >/dev/null 2>fm2.err
check "without such a folder, no note" sh -c "! grep -q 'names the data set installed' fm2.err"
# The run's position in the checkpoint's metadata edited by hand: a negative step, or an
# epoch that Adam's step count contradicts, is refused (a negative step was read as
# 18446744073709551613; an earlier epoch trained its epochs again).
cat >edit_meta.py <<'PY'
import json, struct, sys
path, key, value = sys.argv[1], sys.argv[2], sys.argv[3]
b = open(path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"][key] = value
t = json.dumps(h, separators=(",", ":")).encode()
t += b" " * ((8 - len(t) % 8) % 8)
open(path, "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
PY
cp -r k1 pos1 && python3 edit_meta.py pos1/checkpoint.safetensors vaec.step_in_epoch -3
"$vaec" --resume --out pos1 >/dev/null 2>pos1.err; s=$?
check "a checkpoint whose step was edited to -3: refused, showing -3" \
  sh -c "[ $s -eq 1 ] && grep -q \"pos1/checkpoint.safetensors: the run's position (epoch [0-9]*, step -3, Adam step [0-9]*) does not fit\" pos1.err"
cp -r k1 pos2 && python3 edit_meta.py pos2/checkpoint.safetensors vaec.epoch 0
"$vaec" --resume --out pos2 >/dev/null 2>pos2.err; s=$?
check "a checkpoint whose epoch was edited: Adam's step count contradicts it, refused" \
  sh -c "[ $s -eq 1 ] && grep -q \"pos2/checkpoint.safetensors: the run's position (epoch 0, step 0: 0 steps of [0-9]* an epoch) and Adam's step count ([0-9]*) disagree\" pos2.err"
# Settings that cannot train on these data (early stopping on 1 example) are refused naming
# the data and the fix, and leave no folder behind, so the corrected command can run.
printf '0.1,0.2,0.3,0.4\n' >one.csv
real4_model one "batch = 1  early_stopping = 1" >one.vae
"$vaec" one.vae --data one.csv --epochs 1 --threads 1 --out one-es >/dev/null 2>one.err; s=$?
check "early stopping on 1 example: refused naming the data and the fix, no folder left" \
  sh -c "[ $s -eq 1 ] && grep -q 'one.csv: 1 training example, but early stopping .* needs at least 2; give more data, or train without early stopping (early_stopping = 0)' one.err && [ ! -e one-es ]"

# ---- 7. eval of a checkpoint holding NaN or inf --------------------------------------------
for bad in nan inf; do
  cp -r k1 "e-$bad"
  python3 - "e-$bad/checkpoint.safetensors" "$bad" "$src/tests/cli" <<'EOF'
import json, struct, sys
path, bad = sys.argv[1], sys.argv[2]
b = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
start = h["p(x | z).linear2.weight"]["data_offsets"][0] + 8 + n
b[start + 40:start + 44] = struct.pack("<f", float(bad))
sys.path.insert(0, sys.argv[3])
from resign import resign
open(path, "wb").write(bytes(resign(b)))
EOF
  "$vaec" eval "e-$bad" --data slice --iw 2 >"e-$bad.out" 2>"e-$bad.err"; s=$?
  check "eval of a checkpoint holding $bad: exit 1, naming the tensor" \
    sh -c "[ $s -eq 1 ] && grep -q \"tensor 'p(x | z).linear2.weight' holds a non-finite value\" e-$bad.err && ! grep -q 'ELBO' e-$bad.out"
done

# A byte changed behind vaec's back (not re-signed): eval, sample and --resume refuse it.
cp -r k1 e-flip
printf '\x01' | dd of=e-flip/checkpoint.safetensors bs=1 seek=5000 conv=notrunc 2>/dev/null
"$vaec" eval e-flip --data slice --iw 2 >/dev/null 2>flip1.err; s1=$?
"$vaec" sample e-flip -n 2 --out flip.npy >/dev/null 2>flip2.err; s2=$?
"$vaec" --resume --out e-flip >/dev/null 2>flip3.err; s3=$?
check "a flipped byte in a checkpoint: eval, sample and --resume exit 1, naming its SHA-256" \
  sh -c "[ $s1 -eq 1 ] && [ $s2 -eq 1 ] && [ $s3 -eq 1 ] && grep -q 'do not match the SHA-256 stored in it' flip1.err && grep -q 'SHA-256' flip2.err && grep -q 'SHA-256' flip3.err"

# ---- 8. messages ----------------------------------------------------------------------------
for lr in inf nan 0 -1e-3; do
  train --epochs 1 --lr "$lr" --out "lr$lr" >/dev/null 2>m.err; s=$?
  check "--lr $lr is refused (exit 2), no folder made" sh -c "[ $s -eq 2 ] && grep -q 'the learning rate must be a finite number above 0' m.err && [ ! -e lr$lr ]"
done
train --epochs 1 --lr 1e-40 --out lrtiny >/dev/null 2>m.err; s=$?
check "--lr 1e-40 (0 in float32 under flush-to-zero: nothing would train) is refused (exit 2)" \
  sh -c "[ $s -eq 2 ] && grep -q 'below float32.s smallest normal number' m.err && [ ! -e lrtiny ]"
# lr a constant of the model: --set lr sets it, and --lr is the learning rate; no clash.
sed 's/^latent z : real\[2\]/const lr = 2\nlatent z : real[lr]/; s/linear(h, 2)/linear(h, lr)/g' tiny.vae >clr.vae
"$vaec" clr.vae --data slice --epochs 1 --threads 1 --lr 0.01 --set lr=3 --out clr >/dev/null 2>m.err; s=$?
check "a model constant named lr: --set lr=3 sets it, --lr 0.01 the learning rate" \
  sh -c "[ $s -eq 0 ] && grep -q '\"lr\": 0.01' clr/run.json && grep -q 'real\[lr\]' clr/model.vae && python3 -c \"import json, sys; sys.exit(json.load(open('clr/summary.json'))['constants']['lr']['value'] != 3)\""
# --resume --set with the run's value written as another number (3e-4 and 0.0003) agrees.
train --epochs 1 --set lr=3e-4 --out rset >/dev/null 2>&1
"$vaec" --resume --out rset --set lr=0.0003 >/dev/null 2>m.err; s=$?
check "--resume --set lr=0.0003 on a run made with --set lr=3e-4: the same number, accepted" test $s -eq 0
"$vaec" --resume --out rset --set lr=0.0004 >/dev/null 2>m.err; s=$?
check "--resume --set lr=0.0004 on that run: refused" sh -c "[ $s -eq 2 ] && grep -q 'contradicts the run in rset' m.err"
for seed in -1 18446744073709551616 1.5 abc; do
  train --epochs 1 --seed "$seed" --out "s$seed" >/dev/null 2>m.err; s=$?
  check "--seed $seed is refused (exit 2)" sh -c "[ $s -eq 2 ] && grep -q 'a seed is a whole number from 0 to 18446744073709551615' m.err"
done
train --epochs 1 --seed 18446744073709551615 --out smax >/dev/null 2>&1
check "--seed 2^64 − 1 is accepted and recorded" grep -q '"seed": 18446744073709551615' smax/run.json
"$vaec" tiny.vae --data slice --epochs 1 --threads 0 --out th0 >/dev/null 2>m.err; s=$?
check "--threads 0 is refused for training" sh -c "[ $s -eq 2 ] && grep -q 'needs at least 1 thread' m.err"
"$vaec" tiny.vae --data slice --epochs 1 --threads 100000 --out th1e5 >/dev/null 2>m.err; s=$?
check "--threads 100000 is refused before a folder is made" sh -c "[ $s -eq 2 ] && grep -q 'at most 256' m.err && [ ! -e th1e5 ]"
for edit in '"batch": 32/"batch": -5' '"samples": 1,/"samples": 1000000000,' '"objective": "elbo"/"objective": "bogus"' '"threads": 1/"threads": 0' '"lr": 0.001/"lr": -1' '"eps": 1e-08/"eps": 1e-39' '"beta2": 0.999,/"beta2": 0.9999999999,'; do
  rm -rf rj && cp -r k1 rj && sed -i "s/$edit/" rj/run.json
  "$vaec" --resume --out rj >/dev/null 2>m.err; s=$?
  check "a hand-edited run.json ($edit) is refused, naming the field" \
    sh -c "[ $s -eq 1 ] && grep -q 'rj/run.json: settings\.' m.err && grep -q 'changed by hand' m.err && ! grep -q 'internal error' m.err"
done
"$vaec" --resume --out k1 >fin.out 2>&1
check "--resume of a finished run says it is complete" grep -q "the run is complete: 12 of 12 epochs" fin.out
"$vaec" sample k1 -n 2 --out k1/metrics.csv >/dev/null 2>m.err; s=$?
check "vaec sample never writes over a file (here the run's metrics.csv)" \
  sh -c "[ $s -eq 2 ] && grep -q 'the file exists' m.err && cmp -s k1/metrics.csv full/metrics.csv"
"$vaec" eval k1 --data slice --threads 0 >/dev/null 2>m.err; s=$?
check "eval --threads 0 is refused" sh -c "[ $s -eq 2 ] && grep -q 'needs at least 1 thread' m.err"
# exp(1000 · …) overflows at the initial parameters: NaN at step 1, before any update
sed 's/scale = softplus(linear(h, 2)) + 1e-4/scale = exp(1000 * linear(h, 2))/' tiny.vae >overflow.vae
"$vaec" overflow.vae --data slice --epochs 1 --threads 1 --out nan1 >/dev/null 2>m.err; s=$?
check "a NaN at the first step says no checkpoint exists and does not blame the learning rate" \
  sh -c "[ $s -eq 1 ] && grep -q 'no checkpoint was written' m.err && ! grep -q -- '--lr' m.err && ! grep -q 'last good checkpoint' m.err"
# sqrt at 0: the objective is finite, its gradient is not (∞ · 0); the stop names the layer
# nearest the objective (the one inside sqrt), not the first in storage, and not the lr
sed 's/x ~ Bernoulli(logits = linear(h, 784))/x ~ Bernoulli(logits = linear(h, 784) + sqrt(0 * linear(h, 784)))/' tiny.vae >nangrad.vae
"$vaec" nangrad.vae --data slice --epochs 1 --threads 1 --out nan2 >/dev/null 2>m2.err; s=$?
check "a gradient not finite at step 1 names the layer inside sqrt, discards the update, does not blame the lr" \
  sh -c "[ $s -eq 1 ] && grep -q \"the gradient of 'p(x | z).linear3.weight' is not finite (the objective was finite\" m2.err && grep -q 'update is discarded' m2.err && grep -q 'so the learning rate is not the cause' m2.err && ! grep -q -- '--lr' m2.err && ! test -e nan2/checkpoint.safetensors"
# Updates that leave float's range: a step beyond 3.4e38 (lr 1e38), and a finite gradient
# whose (1 − β2)·g² makes Adam's v +∞ (lr 1e6; it used to freeze the parameter and finish
# with exit 0); then finite parameters whose test ELBO is NaN (one step of lr 1e6 on the
# Gaussian model; it used to write a NaN row and keep that epoch's checkpoint as "good")
"$vaec" tiny.vae --data slice --epochs 2 --threads 1 --lr 1e38 --out big1 >/dev/null 2>m3.err; s=$?
check "a step beyond float32's range (lr·m is +inf, and +inf·0 NaN) stops at once, naming the parameter and the learning rate, saving nothing" \
  sh -c "[ $s -eq 1 ] && grep -q \"this step made 'p(x | z).linear2.weight' NaN\" m3.err && grep -q 'learning rate (1e+38) is far too large' m3.err && ! test -e big1/checkpoint.safetensors"
"$vaec" tiny.vae --data slice --epochs 2 --threads 1 --lr 1e6 --out big2 >/dev/null 2>m4.err; s=$?
check "a gradient whose square overflows Adam's second moment stops the run, naming it" \
  sh -c "[ $s -eq 1 ] && grep -q \"the gradient of 'p(x | z).linear2.weight' is finite but as large as\" m4.err && grep -q 'exceeds float32.s largest value' m4.err"
"$vaec" "$src/models/fashion_gaussian.vae" --data slice --epochs 2 --threads 1 --batch 2000 --lr 1e6 --out big3 >/dev/null 2>m5.err; s=$?
check "a NaN test ELBO after an epoch stops the run before that epoch's row and checkpoint" \
  sh -c "[ $s -eq 1 ] && grep -q 'stopped after epoch 1: the test ELBO is NaN' m5.err && ! test -e big3/checkpoint.safetensors && [ \$(wc -l <big3/metrics.csv) -eq 1 ]"
# One test example far outside the training data (1e20 where the others are N(0, 1)) makes
# the test ELBO −∞ while training is fine: the stop names that example (it used to say only
# that the parameters diverged); with early stopping, an outlier in the validation split is
# named by its row in the training data.
python3 - <<'PY'
import os, random, struct
random.seed(5)
def idx(path, rows):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBBII", 0, 0, 0x0D, 2, len(rows), len(rows[0])))
        for r in rows:
            f.write(struct.pack(">%df" % len(r), *r))
for d in ("outlier_test", "outlier_train", "outlier_big"):
    os.makedirs(d, exist_ok=True)
train = [[random.gauss(0, 1) for _ in range(4)] for _ in range(400)]
test = [[random.gauss(0, 1) for _ in range(4)] for _ in range(100)]
idx("outlier_test/train-images-idx3-ubyte", train)
test[7] = [1e20, 0, 0, 0]
idx("outlier_test/t10k-images-idx3-ubyte", test)
test[7] = [0, 0, 0, 0]
train[123] = [1e20, 0, 0, 0]
idx("outlier_train/train-images-idx3-ubyte", train)
idx("outlier_train/t10k-images-idx3-ubyte", test)
train[123] = [0, 0, 1e15, 0]  # large but finite: the loss stays finite, the gradient overflows
idx("outlier_big/train-images-idx3-ubyte", train)
idx("outlier_big/t10k-images-idx3-ubyte", test)
PY
real4_model outlier "batch = 50" >outlier.vae
"$vaec" outlier.vae --data outlier_test --epochs 2 --threads 1 --out out1 >/dev/null 2>o1.err; s=$?
check "one test example unlike the training data: the stop names it (example 7 of 100), not only divergence" \
  sh -c "[ $s -eq 1 ] && grep -q 'the test ELBO is .* at the parameters this epoch reached' o1.err && grep -q '1 of the 100 test examples has a non-finite ELBO: the test data.s example 7 (counting from 0)' o1.err && grep -q 'If it is unlike the training data (an outlier, a corrupt row), remove it' o1.err"
check "a stopped run's summary.json says stopped, with the reason" \
  python3 -c "import json, sys; d = json.load(open('out1/summary.json')); sys.exit(not (d['status'] == 'stopped' and 'example 7' in d['stop_reason']))"
# Row 123 of the training data, in the validation tenth that early stopping holds out with
# seed 3 (the split is a permutation drawn from the seed: integer arithmetic, the same on
# every machine), is named by its row in the training data.
"$vaec" outlier.vae --data outlier_train --epochs 2 --threads 1 --set early_stopping=1 --seed 3 --out out2 >/dev/null 2>o2.err; s=$?
check "an outlier held out for validation is named by its row in the training data (123)" \
  sh -c "[ $s -eq 1 ] && grep -q 'the validation ELBO is infinite .* 1 of the 40 validation examples has a non-finite ELBO: the training data.s example 123 (counting from 0, held out by early stopping for validation)' o2.err"
# The same example met by a training step stops the run there, naming it by its row in the
# training data — also with early stopping, where the training part is a permutation of the
# rows (seed 1 keeps row 123 in it).
"$vaec" outlier.vae --data outlier_train --epochs 2 --threads 1 --out out3 >/dev/null 2>o3.err; s=$?
check "an outlier met by a training step: the stop names it (example 123) and says to remove it" \
  sh -c "[ $s -eq 1 ] && grep -q \"log p(x | z) became infinite; .* 1 of this step's 50 examples has a non-finite ELBO: the training data's example 123 (counting from 0). If it is unlike the rest of the data (an outlier, a corrupt row), remove it from the data; otherwise: \" o3.err"
"$vaec" outlier.vae --data outlier_train --epochs 2 --threads 1 --set early_stopping=1 --seed 1 --out out4 >/dev/null 2>o4.err; s=$?
check "with early stopping, a training step's outlier is named by its row in the whole training data (123)" \
  sh -c "[ $s -eq 1 ] && grep -q \"1 of this step's 50 examples has a non-finite ELBO: the training data's example 123 (counting from 0)\" o4.err"
# An outlier large but finite (1e15 among values near 1): the loss stays finite and the
# gradient overflows Adam's second moment; the stop names the example as well as the weight.
"$vaec" outlier.vae --data outlier_big --epochs 2 --threads 1 --out out5 >/dev/null 2>o5.err; s=$?
check "a finite outlier that overflows the gradient: the stop names example 123 beside the weight" \
  sh -c "[ $s -eq 1 ] && grep -q \"is finite but as large as .* This step's lowest ELBO, .*, is the training data's example 123 (counting from 0), against a median of .* over its 50 examples: if that example is unlike the rest of the data\" o5.err"
# binarize reads values as probabilities of a 1: data outside [0, 1] are refused before a
# folder is made, naming the first such value (they were binarized in silence).
"$vaec" outlier.vae --data outlier_train --set binarize=static --epochs 1 --threads 1 --out bz >/dev/null 2>bz.err; s=$?
check "binarize on data outside [0, 1]: refused naming the example, column and value, no folder" \
  sh -c "[ $s -eq 1 ] && grep -q 'outlier_train/train-images-idx3-ubyte: example [0-9]* (counting from 0), column [0-9]*, holds [-0-9.e+]*, outside \[0, 1\]; binarize = static reads each value as the probability of a 1' bz.err && [ ! -e bz ]"
for f in *.err; do no_crash "$f" || fail "$f holds an internal error or a crash"; done

# ---- 9. evaluation says what it computes ------------------------------------------------------
sed 's/train { batch = 32  kl_warmup = 2  kl_cycle = 4 }/train { batch = 32  binarize = dynamic  early_stopping = 1 }/' tiny.vae >bin.vae
"$vaec" bin.vae --data slice --epochs 6 --threads 1 --seed 3 --out b9 >b9.out 2>&1
check "binarize = dynamic: training says its test set is binarized once with the seed" grep -q "test set binarized once (seed 3)" b9.out
check "early stopping prints the validation split's size" grep -q "early stopping: 200 examples (a tenth of the training data" b9.out
check "early stopping keeps best.safetensors" test -s b9/best.safetensors
"$vaec" eval b9 --data slice --iw 4 >b9e.out 2>&1
check "eval scores best.safetensors by default, on the binarized test set (seed 3)" \
  sh -c "grep -q 'best.safetensors, the best validation ELBO' b9e.out && grep -q 'binarized test set (seed 3)' b9e.out"
"$vaec" eval b9 --data slice --iw 4 --checkpoint last >b9l.out 2>&1
check "eval --checkpoint last scores checkpoint.safetensors" grep -q "checkpoint.safetensors, the last epoch" b9l.out
"$vaec" eval b9 --data slice --iw 4 --seed 11 >b9s.out 2>&1
"$vaec" eval b9 --data slice --iw 4 --seed 11 >b9s2.out 2>&1
# (but for the line that names the evaluation each replaced, and which file it wrote)
for f in b9e b9s b9s2; do grep -v -e '^replaced eval.json of ' -e '^wrote ' "$f.out" >"$f.figures"; done
check "eval --seed: another seed, other draws; the same seed, the same output" \
  sh -c "! cmp -s b9e.figures b9s.figures && cmp -s b9s.figures b9s2.figures && grep -q 'seed 11' b9s.out"
"$vaec" eval k1 --data slice --iw 4 >g9.out 2>&1
check "grey levels under a Bernoulli likelihood: eval says the figure is not a log-probability" \
  grep -q "not log-probabilities of the data" g9.out
"$vaec" eval b9 --data slice --iw 4 --checkpoint best >/dev/null 2>&1 && "$vaec" eval k1 --data slice --checkpoint best >/dev/null 2>m9.err
check "eval --checkpoint best without early stopping: a clear message" grep -q "has no best.safetensors (early stopping was off)" m9.err

# ---- objective = iwae: the bound that is optimized and the ELBO, in separate columns ----------
sed 's/train { batch = 32  kl_warmup = 2  kl_cycle = 4 }/train { batch = 32  objective = iwae  samples = 4 }/' tiny.vae >iw.vae
"$vaec" iw.vae --data slice --epochs 2 --threads 1 --out iw >iw.out 2>&1
check "objective = iwae: metrics.csv has train_iw_bound and test_iw_bound beside the ELBO columns" \
  grep -q "^epoch,train_elbo,.*,beta,train_iw_bound,test_iw_bound$" iw/metrics.csv
# log (1/K) Σ w ≥ (1/K) Σ log w for the same draws (Jensen): the bound is never below the ELBO.
check "the IW bound (K = 4) is at least the ELBO of the same draws, on training and test data, every epoch" \
  awk -F, 'NR > 1 { if (!($11 >= $2 && $12 >= $6)) bad = 1; n++ } END { exit bad || n != 2 }' iw/metrics.csv

# ---- products: oneDNN's and bf16's runs are as reproducible; precision is the run's own -------
# (the tiny model's encoder product, 32 × 784 · 784 × 32, runs on oneDNN; its 2-wide ones on OpenBLAS)
grep -q "float products: oneDNN" <("$vaec" --version) && {
  "$vaec" tiny.vae --data slice --epochs 2 --threads 1 --out o1a >/dev/null 2>&1
  "$vaec" tiny.vae --data slice --epochs 2 --threads 1 --out o1b >/dev/null 2>&1
  check "oneDNN products: 1 thread, twice, identical bytes" same o1a o1b
  if "$vaec" tiny.vae --data slice --epochs 2 --threads 2 --set precision=bf16 --out h2a >h2a.out 2>&1; then
    "$vaec" tiny.vae --data slice --epochs 2 --threads 2 --set precision=bf16 --out h2b >/dev/null 2>&1
    check "precision = bf16: 2 threads, twice, identical bytes" same h2a h2b
    check "precision = bf16: other bytes than fp32's (its inputs are rounded)" sh -c "! cmp -s h2a/checkpoint.safetensors t2a/checkpoint.safetensors"
    recorded_bf16() {
      grep -q '"precision": "bf16"' h2a/run.json && grep -q '"precision": "bf16"' h2a/summary.json &&
        grep -aqE 'precision[\\"]+:[\\"]+bf16' h2a/checkpoint.safetensors
    }
    check "precision = bf16 is in run.json, summary.json and the checkpoint's metadata" recorded_bf16
    "$vaec" --resume --out h2a --set precision=fp32 >/dev/null 2>h2r.err
    check "resume in another precision is refused, naming the run's" grep -q "precision=fp32 contradicts the run in h2a, which has --set precision=bf16" h2r.err
  else
    check "precision = bf16 refused only for the CPU's lack of bf16 products" grep -q "needs a CPU with native bf16 products" h2a.out
  fi
  # A CPU without bf16, as oneDNN sees it when its ISA is capped: a clear refusal, no run folder.
  ONEDNN_MAX_CPU_ISA=AVX2 "$vaec" tiny.vae --data slice --epochs 1 --set precision=bf16 --out h-avx2 >/dev/null 2>h-avx2.err
  check "precision = bf16 on a CPU without bf16 products: the setting and the CPU named, nothing written" \
    sh -c "grep -q 'precision = bf16 needs a CPU with native bf16 products (AVX512-BF16 or AMX), and this one has none (oneDNN finds avx2)' h-avx2.err && [ ! -e h-avx2 ]"
}

echo
echo "runs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
