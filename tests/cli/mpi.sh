#!/usr/bin/env bash
# End-to-end tests of vaec under MPI (issue 13), on this machine over loopback only:
# `mpirun -np 2 vaec compare` gives every cell's metrics.csv byte for byte as one process
# does; a rank killed mid-run (mpirun --enable-recovery) has its cell marked failed and the
# others finish; data-parallel training on 2 ranks agrees with one plain process to 1e-5 relative
# after 20 steps, two 2-rank runs agree bit for bit, every rank holds the same parameters
# after every step, a Ctrl-C'd run resumes exactly; an error on one rank ends every rank
# with one message; nothing listens on or connects to an address but loopback. Skipped
# (with a line saying so) when vaec is built without MPI or Fashion-MNIST is missing.
# usage: mpi.sh VAEC SOURCE_DIR
set -u
vaec=$(readlink -f "$1") src=$(readlink -f "$2")
# Loopback only: Open MPI 4.1.4's mpirun binds its out-of-band listener to every address
# whatever oob_tcp_if_include says (open-mpi/ompi#14441, fixed in PRRTE after 4.1), so the
# tests run in a network namespace of their own whose only interface is lo (unshare -rn:
# a user and a network namespace; as root or, where unprivileged user namespaces are on,
# as anyone). Where no namespace can be made, the tests run in the machine's network and
# mpirun's wildcard listener is reported, not counted.
if [ -z "${VAEC_MPI_NETNS:-}" ]; then
  if unshare -rn sh -c "ip link set lo up" 2>/dev/null; then
    exec unshare -rn env VAEC_MPI_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
  fi
  VAEC_MPI_NETNS=none
fi
work=$(mktemp -d)
bg=""
cleanup() { [ -n "$bg" ] && kill -KILL $bg 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
. "$src/tests/cli/lib.sh"

if ! "$vaec" --version | grep -q "^MPI: Open MPI"; then
  echo "mpi: vaec is built without MPI (-DVAEC_MPI=OFF); skipped"
  echo "mpi: 0 passed, 0 failed"
  exit 0
fi
# One machine: the ranks talk through shared memory (btl self,vader; the TCP transport,
# even told to use lo, listens on every address), mpirun and its ranks over lo.
mpirun=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_tcp_if_include lo
        --mca oob_tcp_if_include lo)

cd "$work"
fashion_slice mpi slice 300 100
tiny_model "binary[784]" "batch = 32  epochs = 2" >a.vae
tiny_model "binary[784]" "batch = 50  epochs = 2" >b.vae

# Every TCP socket of mpirun and the ranks, local and remote addresses, until stopped:
# anything but 127.0.0.0/8 and ::1 is a failure (Open MPI's out-of-band and TCP transport
# are told to use lo; the ranks on one machine talk through shared memory).
watch_sockets() {
  while :; do
    for p in $(pgrep -x mpirun) $(pgrep -x orted) $(pgrep -x vaec); do
      ss -tanpH 2>/dev/null | grep "pid=$p," || true
    done
    sleep 0.2
  done
}

# ---- 1. a compare over 2 ranks: the same cells, byte for byte ---------------------------
"$vaec" compare a.vae b.vae --data slice --seeds 2 --iw 5 --jobs 2 --threads 1 --out one >one.out 2>one.err
check "compare in one process: exit 0" test $? -eq 0
watch_sockets >sockets.txt &
watcher=$!
"${mpirun[@]}" -np 2 "$vaec" compare a.vae b.vae --data slice --seeds 2 --iw 5 --threads 1 --out two >two.out 2>two.err
status=$?
kill $watcher; wait $watcher 2>/dev/null
check "mpirun -np 2 vaec compare: exit 0" test $status -eq 0
check "mpirun -np 2 vaec compare: rank 1 ran cells" grep -q "on rank 1 (pid" two.err
same=0 cells=0
for f in one/runs/*/metrics.csv; do
  cells=$((cells + 1))
  cmp -s "$f" "two/${f#one/}" && same=$((same + 1))
done
# metrics.csv holds no time (timing.csv does, and differs run to run): the whole file is compared.
check "mpirun -np 2 vaec compare: all 4 cells' metrics.csv identical to one process's" test "$same" -eq 4 -a "$cells" -eq 4
check "mpirun -np 2 vaec compare: eval_per_example.npy identical too" \
  sh -c 'for f in one/runs/*/eval_per_example.npy; do cmp -s "$f" "two/${f#one/}" || exit 1; done'
check "sockets were seen while the compare ran" test -s sockets.txt
# columns of ss -tanpH: state, recv-q, send-q, local address:port, peer address:port, process
# Columns of ss -tanpH: state, recv-q, send-q, local address:port, peer address:port, process.
# Every connection, and every listening socket of vaec, on loopback. mpirun's out-of-band
# listener binds every address (Open MPI 4.1.4, see the top): in the namespace, whose only
# interface is lo, that is loopback; outside one it is reported as a note, not counted.
check "no connection on or to an address but loopback; vaec listens on loopback only" \
  awk '{ for (i = 4; i <= 5; ++i) { a = $i; sub(/:[^:]*$/, "", a); gsub(/[][]/, "", a);
         if (a != "*" && a != "0.0.0.0" && a != "::" && a !~ /^127\./ && a != "::1" && a != "::ffff:127.0.0.1") { print; bad = 1 } }
         if ($1 == "LISTEN" && $4 ~ /^(\*|0\.0\.0\.0|\[::\]):/ && $0 !~ /"mpirun"/) { print "listens on every address: " $0; bad = 1 } }
       END { exit bad }' sockets.txt
if [ "$VAEC_MPI_NETNS" = 1 ]; then
  check "the tests' network namespace has no interface but lo, so mpirun's wildcard listener is loopback only" \
    sh -c '[ "$(ip -o link show | awk -F": " "{print \$2}" | tr "\n" " ")" = "lo " ]'
elif grep '^LISTEN' sockets.txt | grep '"mpirun"' | grep -qE ' (\*|0\.0\.0\.0|\[::\]):[0-9]+ '; then
  echo "note: no network namespace could be made (unshare -rn); mpirun's out-of-band listener binds every address, as Open MPI 4.1.4 does"
fi

# ---- 2. a rank killed mid-run: its cell is marked failed, the others finish ------------
"${mpirun[@]}" --enable-recovery -np 2 "$vaec" compare a.vae b.vae --data slice --seeds 2 --iw 5 --threads 1 \
  --epochs 20 --out kill >kill.out 2>kill.err &
bg=$!
rank1=""
for _ in $(seq 100); do
  # Only this test's ranks (mpirun's children): never another user's vaec.
  for p in $(pgrep -x -P "$bg" vaec); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && pgrep -P "$p" >/dev/null; then
      rank1=$p
    fi
  done
  [ -n "$rank1" ] && break
  sleep 0.1
done
check "rank 1 was found running a cell" test -n "$rank1"
[ -n "$rank1" ] && kill -KILL "$rank1"
timeout 120 tail --pid=$bg -f /dev/null
ended=$?
wait $bg; status=$?; bg=""
# (mpirun's own exit status then reports the killed rank: Open MPI's, not vaec's.)
check "a rank killed: the compare still ends (mpirun exited with $status)" test $ended -eq 0
check "a rank killed: rank 0 said which cell failed and went on" grep -q "rank 1 (pid .*) has not answered for 10 s" kill.err
cat >marked.py <<'PY'
import json, sys
cells = json.load(open(sys.argv[1] + "/compare.json"))["cells"]
failed = [c for c in cells if c["status"] == "failed"]
assert len(failed) == 1, [(c["id"], c["status"]) for c in cells]
assert "rank 1" in failed[0]["reason"] and "stopped answering" in failed[0]["reason"], failed[0]["reason"]
assert all(c["status"] == "done" for c in cells if c is not failed[0])
PY
check "a rank killed: its cell failed naming rank 1, the 3 others done" python3 marked.py kill
check "a rank killed: the tables were written" test -s kill/table.md
"${mpirun[@]}" -np 2 "$vaec" compare --resume --out kill >resume.out 2>resume.err
check "the re-run of the compare finishes the failed cell" sh -c "test $? -eq 0 && grep -q 'all 4 cells done' resume.err"

# ---- 3. data-parallel training -------------------------------------------------------------
# 300 examples, batch 30: 10 steps per epoch, 20 steps in all.
tiny_model "binary[784]" "batch = 30  epochs = 2" >t.vae
cat >params.py <<'PY'
# The parameters of two checkpoints (safetensors: 8-byte header length, JSON header, data),
# read independently of vaec: the largest |a − b| / max(|a|, |b|, 1e-3) over every tensor.
import json, struct, sys
import numpy as np
def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__" or k.startswith("vaec."):
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32)
    return out
x, y = tensors(sys.argv[1]), tensors(sys.argv[2])
assert x.keys() == y.keys() and len(x) >= 4, (x.keys(), y.keys())
worst = max(float(np.max(np.abs(x[k] - y[k]) / np.maximum(np.maximum(np.abs(x[k]), np.abs(y[k])), 1e-3))) for k in x)
print(f"largest relative difference {worst:.3g}")
assert worst <= float(sys.argv[3]), worst
moved = max(float(np.max(np.abs(x[k]))) for k in x)
assert moved > 0
PY
# dp1: one plain process, no mpirun (the reference the ranks must reproduce).
"$vaec" t.vae --data slice --threads 1 --out dp1 >dp1.log 2>&1
check "plain vaec training: exit 0" test $? -eq 0
"${mpirun[@]}" -np 1 "$vaec" t.vae --data slice --threads 1 --out dpm1 >dpm1.log 2>&1
check "mpirun -np 1 training: exit 0" test $? -eq 0
check "mpirun -np 1 against plain vaec: parameters and metrics.csv bit for bit" \
  sh -c "/usr/bin/python3 params.py dp1/checkpoint.safetensors dpm1/checkpoint.safetensors 0 && cmp dp1/metrics.csv dpm1/metrics.csv"
VAEC_CHECK_RANKS=1 "${mpirun[@]}" -x VAEC_CHECK_RANKS -np 2 "$vaec" t.vae --data slice --threads 1 --out dp2 >dp2.log 2>&1
check "mpirun -np 2 training: exit 0" test $? -eq 0
check "every rank held the same parameters after each of the 20 steps" \
  grep -q "rank check: the parameters were identical on all 2 ranks after each of 20 steps" dp2.log
"${mpirun[@]}" -np 2 "$vaec" t.vae --data slice --threads 1 --out dp2b >/dev/null 2>&1
check "two 2-rank runs: checkpoint and metrics.csv bit for bit" \
  sh -c "cmp dp2/checkpoint.safetensors dp2b/checkpoint.safetensors && cmp dp2/metrics.csv dp2b/metrics.csv"
check "2 ranks against plain vaec, the same global batch: parameters after 20 steps within 1e-5 relative" \
  /usr/bin/python3 params.py dp1/checkpoint.safetensors dp2/checkpoint.safetensors 1e-5
# And the test can fail: a different seed is far from it.
"$vaec" t.vae --data slice --threads 1 --seed 2 --out dps >/dev/null 2>&1
check "(the comparison tells another seed's parameters apart)" \
  sh -c "! /usr/bin/python3 params.py dp1/checkpoint.safetensors dps/checkpoint.safetensors 1e-5"
check "2 ranks: the test figures agree with plain vaec's to 1e-6 relative" /usr/bin/python3 -c "
import csv, sys
a = list(csv.DictReader(open('dp1/metrics.csv'))); b = list(csv.DictReader(open('dp2/metrics.csv')))
assert len(a) == len(b) == 2
for r, s in zip(a, b):
    for k in ('train_elbo', 'test_elbo', 'test_kl'):
        assert abs(float(r[k]) - float(s[k])) <= 1e-6 * abs(float(r[k])), (k, r[k], s[k])"

# A gradient not finite at step 1 (sqrt at 0 in p): the stop's "objective was finite: X" is
# the whole batch's objective, as one process computes it (it was rank 0's half-batch's).
sed 's/x ~ Bernoulli(logits = linear(h, 784))/x ~ Bernoulli(logits = linear(h, 784) + sqrt(0 * linear(h, 784)))/' t.vae >nangrad.vae
"$vaec" nangrad.vae --data slice --threads 1 --out ng1 >/dev/null 2>ng1.err
"${mpirun[@]}" -np 2 "$vaec" nangrad.vae --data slice --threads 1 --out ng2 >ng2.log 2>&1
check "data-parallel, a non-finite gradient: the objective it names is the whole batch's (within 1e-5 of one process's)" \
  /usr/bin/python3 -c "
import re
pat = r'the objective was finite: ([-0-9.e+]+)'
one = float(re.search(pat, open('ng1.err').read()).group(1))
two = float(re.search(pat, open('ng2.log').read()).group(1))
assert abs(one - two) <= 1e-5 * abs(one), (one, two)"

# Ctrl-C (mpirun passes SIGTERM to every rank): every rank stops after the same step; the
# resumed run (same N) ends with the uninterrupted run's bytes; another N is refused.
# An epoch of this model takes about 4 ms, so it runs 1,500 (about 6 s): long enough for the
# interrupt to land mid-run. The run's progress is read from its metrics.csv (rank 0 writes
# a row per epoch), not from mpirun's forwarded output, which may arrive late.
tiny_model "binary[784]" "batch = 30  epochs = 1500" >t40.vae
"${mpirun[@]}" -np 2 "$vaec" t40.vae --data slice --threads 1 --out full >/dev/null 2>&1
"${mpirun[@]}" -np 2 "$vaec" t40.vae --data slice --threads 1 --out cut >cut.log 2>&1 &
bg=$!
for _ in $(seq 1200); do [ "$( (wc -l <cut/metrics.csv) 2>/dev/null || echo 0)" -ge 4 ] && break; sleep 0.05; done
kill -INT "$bg" 2>/dev/null  # $bg is mpirun itself
wait $bg; bg=""
check "Ctrl-C: the ranks stopped with a checkpoint" sh -c "grep -q \"^interrupted .*checkpoint written\" cut.log || { tail -5 cut.log; false; }"
"${mpirun[@]}" -np 3 "$vaec" --resume --out cut >n3.log 2>&1
check "resume on another number of ranks: refused, naming both and the command" \
  grep -qF "trained on 2 MPI ranks, and this command runs on 3 MPI ranks; resume it as it was trained (mpirun -np 2 $vaec --resume --out cut)" n3.log
"${mpirun[@]}" -np 2 "$vaec" --resume --out cut >/dev/null 2>&1
check "resume on 2 ranks: checkpoint and metrics.csv identical to the uninterrupted run" \
  sh -c "cmp full/checkpoint.safetensors cut/checkpoint.safetensors && cmp full/metrics.csv cut/metrics.csv"

# An error on one rank only (one example's value overflows the likelihood; it falls in one
# rank's shard): every rank stops at that step, one message, no hang.
real4_model small "batch = 16  epochs = 2" >r.vae
/usr/bin/python3 -c "
import numpy as np
x = np.random.RandomState(0).rand(64, 4).astype(np.float32); x[37, 2] = 3e38; np.save('big.npy', x)"
timeout 60 "${mpirun[@]}" -np 2 "$vaec" r.vae --data big.npy --threads 1 --out big >big.out 2>big.err
status=$?
check "an error on one rank: every rank ends (no hang), non-zero exit" test $status -ne 0 -a $status -ne 124
check "an error on one rank: its message, once" \
  sh -c "test \$(grep -c '^vaec: error: training stopped at epoch 1, step 3 (step 3 overall): log p(x | z) became infinite' big.err) -eq 1"

# Errors at the start: one message (rank 0's), every rank ends, no MPI_ABORT banner.
"${mpirun[@]}" -np 2 "$vaec" t.vae --data nosuch.npy --threads 1 --out e1 >e1.out 2>&1; st=$?
check "a missing data file under mpirun -np 2: exit 1, its message once, no MPI_ABORT" \
  sh -c "[ $st -eq 1 ] && [ \$(grep -c '^vaec: error: nosuch.npy: no such file' e1.out) -eq 1 ] && ! grep -q MPI_ABORT e1.out"
"${mpirun[@]}" -np 2 "$vaec" t.vae --data slice --epochs -1 --out e2 >e2.out 2>&1; st=$?
check "a bad option under mpirun -np 2: exit 2, its message once, no MPI_ABORT" \
  sh -c "[ $st -eq 2 ] && [ \$(grep -c '^vaec: error: --epochs -1' e2.out) -eq 1 ] && ! grep -q MPI_ABORT e2.out"
head -c 300 t.vae >trunc.vae
"${mpirun[@]}" -np 2 "$vaec" trunc.vae --data slice --out e3 >e3.out 2>&1; st=$?
check "a malformed model under mpirun -np 2: exit 1, its diagnostics once, no MPI_ABORT" \
  sh -c "[ $st -eq 1 ] && [ \$(grep -cE '^[0-9]+ errors? in trunc[.]vae' e3.out) -eq 1 ] && ! grep -q MPI_ABORT e3.out"
# An --out that holds a run: refused once, with the resume command as it must be typed here.
"${mpirun[@]}" -np 2 "$vaec" t.vae --data slice --threads 1 --out dp2 >e4.out 2>&1; st=$?
check "an --out holding a run under mpirun -np 2: refused once, naming \`mpirun -np 2 $vaec --resume --out dp2\`" \
  sh -c "[ $st -ne 0 ] && [ \$(grep -cF 'continue it with \`mpirun -np 2 $vaec --resume --out dp2\`' e4.out) -eq 1 ] && ! grep -q MPI_ABORT e4.out"
# Ranks that read different data (a mis-synced copy on a cluster): refused before any step,
# naming the rank; nothing left behind. Other contents of the same size, and another size.
cp -r slice slicealt
/usr/bin/python3 -c "
b = bytearray(open('slicealt/train-images-idx3-ubyte', 'rb').read()); b[5000] ^= 0xFF
open('slicealt/train-images-idx3-ubyte', 'wb').write(b)"
fashion_slice mpi slice200 200 100
for other in slicealt slice200; do
  "${mpirun[@]}" -np 1 "$vaec" t.vae --data slice --threads 1 --out e-$other : \
    -np 1 "$vaec" t.vae --data $other --threads 1 --out e-$other >e-$other.out 2>&1; st=$?
  check "rank 1 reads $other, rank 0 slice: refused, once, naming rank 1; no run folder" \
    sh -c "[ $st -eq 1 ] && [ \$(grep -c '^vaec: error: rank 1 of 2 read other data than rank 0' e-$other.out) -eq 1 ] && [ ! -e e-$other ] && ! grep -q 'Segmentation' e-$other.out"
done

"${mpirun[@]}" -np 2 "$vaec" eval dp1 --data slice >ev.out 2>&1
check "vaec eval under mpirun -np 2: refused with the reason" grep -q "vaec eval runs in one process: run it without mpirun" ev.out

echo "mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
