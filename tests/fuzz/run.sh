#!/usr/bin/env bash
# Runs the parse+check fuzzer for a fixed time, seeded from models/ and the bad-model
# and golden files. Any crash, sanitizer report or timeout fails (non-zero exit).
# usage: run.sh FUZZER SOURCE_DIR SECONDS
set -euo pipefail
fuzzer=$1 src=$2 seconds=${3:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp "$src"/models/*.vae "$work/corpus/"
for d in tests/lang/bad tests/lang/golden; do
  if compgen -G "$src/$d/*.vae" >/dev/null; then
    for f in "$src/$d"/*.vae; do cp "$f" "$work/corpus/$(basename "$d")-$(basename "$f")"; done
  fi
done
echo "fuzz: $(ls "$work/corpus" | wc -l) seed files, ${seconds} s"
# -timeout: one input must finish in 2 s (the issue's bound); -rss_limit_mb guards memory.
# The fuzzer's own status, read before anything else runs (with pipefail, an `|| true` after
# the pipeline would run `true` on a crash and replace PIPESTATUS: a crash then passed).
set +e
"$fuzzer" "$work/corpus" -dict="$src/tests/fuzz/vae.dict" -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 2>&1 | tee "$work/log" | grep -E "^(#[0-9]+.*(DONE|pulse)|stat::|==|SUMMARY|INFO: seed|.*ERROR)"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); the crashing input:"
  for a in "$work"/artifacts/*; do [ -e "$a" ] && { echo "$a"; od -A x -t x1z "$a" | head -20; cp "$a" "$src/" 2>/dev/null || true; }; done
  tail -40 "$work/log"
  exit 1
fi
execs=$(grep -Eo "stat::number_of_executed_units: [0-9]+" "$work/log" | grep -Eo "[0-9]+$" || echo "?")
echo "fuzz: passed, ${execs} executions in ${seconds} s, no crash"
