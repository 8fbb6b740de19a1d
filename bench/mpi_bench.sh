#!/usr/bin/env bash
# vaec over MPI on one machine (issue 13), both cores in use on each side, in one run:
#   A. `vaec compare`: 2 ranks × 1 cell × 1 thread against 1 process × 2 cells × 1 thread,
#      the same grid (fashion_gaussian and fashion_vmf × 2 seeds, 2 epochs, --iw 100, on a
#      4,000/1,000-example Fashion-MNIST slice): wall time of each, and their ratio.
#   B. data-parallel training of models/fashion_gaussian.vae on the whole of Fashion-MNIST
#      (batch 128): 2 ranks × 1 thread against 1 process × 2 threads: the median epoch
#      time (timing.csv) of each, and their ratio.
# Each pair runs twice in the order A B B A (so that a drift of the machine's load falls on
# both sides). Prints a Markdown table for bench/README.md; leaves everything in OUT.
# usage: bench/mpi_bench.sh [OUT_DIR] [EPOCHS]      (defaults: a new folder in /tmp, 3 epochs)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
vaec=$src/build/vaec
out=${1:-$(mktemp -d /tmp/vaec-mpi-bench.XXXXXX)}
epochs=${2:-3}
mkdir -p "$out"
cd "$out"
"$vaec" --version | grep -q "^MPI: Open MPI" || { echo "mpi_bench: build/vaec is built without MPI"; exit 1; }
mpirun=(mpirun --allow-run-as-root --bind-to none --mca btl self,vader --mca oob_tcp_if_include lo)
[ -d slice ] || python3 "$src/tests/cli/make_slice.py" /usr/share/datasets/fashion-mnist slice 4000 1000
models=("$src/models/fashion_gaussian.vae" "$src/models/fashion_vmf.vae")

now() { date +%s.%N; }
declare -A took
compare_one() {  # $1: label
  rm -rf "cmp-$1"; local t0; t0=$(now)
  "$vaec" compare "${models[@]}" --data slice --seeds 2 --epochs 2 --iw 100 --jobs 2 --threads 1 --out "cmp-$1" \
    >"cmp-$1.out" 2>"cmp-$1.err"
  took[cmp-$1]=$(python3 -c "print(f'{$(now) - $t0:.1f}')")
}
compare_two() {
  rm -rf "cmp-$1"; local t0; t0=$(now)
  "${mpirun[@]}" -np 2 "$vaec" compare "${models[@]}" --data slice --seeds 2 --epochs 2 --iw 100 --jobs 1 --threads 1 \
    --out "cmp-$1" >"cmp-$1.out" 2>"cmp-$1.err"
  took[cmp-$1]=$(python3 -c "print(f'{$(now) - $t0:.1f}')")
}
median_epoch() {  # the median of timing.csv's seconds column
  python3 -c "
import csv, statistics, sys
print(statistics.median(float(r['seconds']) for r in csv.DictReader(open(sys.argv[1]))))" "$1/timing.csv"
}
train_one() {
  rm -rf "dp-$1"
  "$vaec" "$src/models/fashion_gaussian.vae" --data fashion-mnist --epochs "$epochs" --threads 2 --out "dp-$1" >"dp-$1.log" 2>&1
  took[dp-$1]=$(median_epoch "dp-$1")
}
train_two() {
  rm -rf "dp-$1"
  "${mpirun[@]}" -np 2 "$vaec" "$src/models/fashion_gaussian.vae" --data fashion-mnist --epochs "$epochs" --threads 1 \
    --out "dp-$1" >"dp-$1.log" 2>&1
  took[dp-$1]=$(median_epoch "dp-$1")
}

echo "mpi_bench: A (compare), pass 1"; compare_one 1p-a; compare_two 2r-a
echo "mpi_bench: B (data-parallel), pass 1"; train_one 1p-a; train_two 2r-a
echo "mpi_bench: B (data-parallel), pass 2"; train_two 2r-b; train_one 1p-b
echo "mpi_bench: A (compare), pass 2"; compare_two 2r-b; compare_one 1p-b

ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<EOF

vaec $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo "?"), $(date -u '+%Y-%m-%d %H:%M UTC'), load average at the end: $load

| | 1 process | 2 MPI ranks | ratio 2 ranks / 1 process |
|---|---|---|---|
| A. compare wall time, pass 1 | ${took[cmp-1p-a]} s | ${took[cmp-2r-a]} s | $(ratio "${took[cmp-2r-a]}" "${took[cmp-1p-a]}") |
| A. compare wall time, pass 2 | ${took[cmp-1p-b]} s | ${took[cmp-2r-b]} s | $(ratio "${took[cmp-2r-b]}" "${took[cmp-1p-b]}") |
| B. median epoch, pass 1 | ${took[dp-1p-a]} s | ${took[dp-2r-a]} s | $(ratio "${took[dp-2r-a]}" "${took[dp-1p-a]}") |
| B. median epoch, pass 2 | ${took[dp-1p-b]} s | ${took[dp-2r-b]} s | $(ratio "${took[dp-2r-b]}" "${took[dp-1p-b]}") |

(A: 1 process = --jobs 2 --threads 1; 2 ranks = mpirun -np 2, 1 cell × 1 thread each.
 B: 1 process = --threads 2; 2 ranks = mpirun -np 2, --threads 1 each, batch 128 split 64 + 64.)
Every file is in $out.
EOF
# The same cells, byte for byte, whichever way they ran.
for f in cmp-1p-a/runs/*/metrics.csv; do cmp -s "$f" "cmp-2r-a/${f#cmp-1p-a/}" || echo "mpi_bench: WARNING: $f differs"; done
