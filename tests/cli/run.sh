#!/usr/bin/env bash
# End-to-end tests of the vaec program: every model in models/ checks, and every bad
# input of the foundation issue gets a diagnostic and exit status 1 — never a crash,
# an abort, a hang or an uncaught exception — within the time bound.
# usage: run.sh VAEC SOURCE_DIR
set -u
vaec=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
# A generous bound for a shared, noisy machine; the issue's bound is 2 s, and the
# times printed below are what to compare with it.
limit_ms=${VAEC_CLI_LIMIT_MS:-4000}

fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

# expect NAME STATUS STDERR_REGEX [STDOUT_REGEX] -- ARGS...
expect() {
  local name=$1 want=$2 err_re=$3 out_re=$4
  shift 5
  local t0 t1 ms status
  t0=$(date +%s%N)
  timeout 20 "$vaec" "$@" >"$work/out" 2>"$work/err" </dev/null
  status=$?
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  if [ "$status" -ne "$want" ]; then fail "$name: exit $status, expected $want"; head -5 "$work/err"; return; fi
  if grep -qE "terminate called|Aborted|Segmentation|AddressSanitizer|what\(\)" "$work/err"; then
    fail "$name: crashed"; head -5 "$work/err"; return
  fi
  if [ -n "$err_re" ] && ! grep -qE -- "$err_re" "$work/err"; then
    fail "$name: stderr lacks /$err_re/"; head -5 "$work/err"; return
  fi
  if [ -n "$out_re" ] && ! grep -qE -- "$out_re" "$work/out"; then
    fail "$name: stdout lacks /$out_re/"; head -5 "$work/out"; return
  fi
  if [ "$ms" -gt "$limit_ms" ]; then fail "$name: took ${ms} ms (limit ${limit_ms} ms)"; return; fi
  printf 'ok   %-34s %6d ms\n' "$name" "$ms"
  passed=$((passed + 1))
}

# ---- every model in models/ is accepted and summarized
for m in "$src"/models/*.vae; do
  expect "check $(basename "$m")" 0 "" "^θ \(generative model p\):" -- check "$m"
done
expect "check all models at once" 0 "" "^model fashion_vmf$" -- check "$src"/models/*.vae
expect "vmf latent convention" 0 "" "latent z : sphere\[11\] +\(unit vectors in R\^11, the sphere S\^10\)" -- check "$src/models/fashion_vmf.vae"
expect "vmf KL and gradient" 0 "" "KL\(VonMisesFisher ‖ HypersphericalUniform\): closed form" -- check "$src/models/fashion_vmf.vae"

# ---- files that cannot be read
expect "missing file" 1 "nope\.vae: error: cannot read the model file: no such file or directory" "" -- check "$work/nope.vae"
mkdir -p "$work/dir.vae"
expect "directory" 1 "dir\.vae: error: cannot read the model file: is a directory" "" -- check "$work/dir.vae"

# ---- empty and blank files
: >"$work/empty.vae"
expect "empty file" 1 "empty\.vae:1:1: error: the model file is empty" "" -- check "$work/empty.vae"
printf '# only a comment\n\n   \n' >"$work/blank.vae"
expect "comment-only file" 1 "blank\.vae:1:1: error: the model file is empty" "" -- check "$work/blank.vae"

# ---- bytes that are not a model
head -c 100000 /dev/urandom >"$work/random.vae"
expect "random bytes" 1 "random\.vae:[0-9]+:[0-9]+: error: " "" -- check "$work/random.vae"
# deterministic printable noise (an LCG), so the grammar and not the UTF-8 check sees it
awk 'BEGIN { s = 12345; c = "abzpq()[]{}=~+-*/,:;|#\n 0123.e_"; for (i = 0; i < 200000; i++) { s = (s * 1103515245 + 12345) % 2147483648; printf "%s", substr(c, s % length(c) + 1, 1) } }' >"$work/noise.vae"
expect "printable noise" 1 "noise\.vae:[0-9]+:[0-9]+: error: " "" -- check "$work/noise.vae"
printf 'model m\ndata x : binary[4]\n# caf\xc3\xa9 is fine in a comment\nlatent z : real[2] \xff\n' >"$work/badutf8.vae"
expect "invalid UTF-8" 1 "badutf8\.vae:4:20: error: invalid UTF-8 byte 0xff" "" -- check "$work/badutf8.vae"
printf 'model m\ndata x : binary[4]\nlatent z\xc3\xa9 : real[2]\n' >"$work/nonascii.vae"
expect "non-ASCII character" 1 "nonascii\.vae:3:9: error: unexpected character 'é' \(U\+00E9\)" "" -- check "$work/nonascii.vae"
printf 'model m # é\ndata x : binary[4] # ü\nlatent é : real[2]\n' >"$work/nonascii2.vae"
expect "non-ASCII column after UTF-8 comment" 1 "nonascii2\.vae:3:8: error: unexpected character 'é'" "" -- check "$work/nonascii2.vae"
printf 'model m\ndata x : binary[4]\nlatent z : real[2]\n\x01\n' >"$work/control.vae"
expect "control character" 1 "control\.vae:4:1: error: unexpected character '\\\\x01'" "" -- check "$work/control.vae"

# ---- numbers and nesting
sed 's/Normal(0, 1)/Normal(0, 1e999)/' "$src/models/fashion_gaussian.vae" >"$work/huge.vae"
expect "number too large" 1 "huge\.vae:[0-9]+:[0-9]+: error: number '1e999' is too large" "" -- check "$work/huge.vae"
sed 's/real\[20\]/real[99999999999999999999999]/' "$src/models/fashion_gaussian.vae" >"$work/hugesize.vae"
expect "size too large" 1 "hugesize\.vae:[0-9]+:[0-9]+: error: size must be a whole number" "" -- check "$work/hugesize.vae"
python3 - "$src/models/fashion_gaussian.vae" "$work" <<'PY'
import sys
m = open(sys.argv[1]).read()
w = sys.argv[2]
open(w + "/deep.vae", "w").write(m.replace("+ 1e-4", "+ " + "(" * 20000 + "1e-4" + ")" * 20000))
open(w + "/deeplist.vae", "w").write(m.replace("[256, 512]", "[" * 20000 + "]" * 20000))
open(w + "/minus.vae", "w").write(m.replace("+ 1e-4", "+ " + "-" * 1000000 + "1e-4"))
# 10 MB: a valid model plus 10 MB of comments; a 10 MB expression; 10 MB of garbage
open(w + "/big_comments.vae", "w").write(m + ("# " + "x" * 98 + "\n") * 100000)
open(w + "/big_sum.vae", "w").write(m.replace("+ 1e-4", "+ 1e-4 * (" + "+".join(["1"] * 5000000) + ")"))
open(w + "/big_garbage.vae", "w").write(m + "\n" + ("p(z) = = \n" * 1000000))
open(w + "/big_line.vae", "w").write("model m" + " " * 10000000 + "]")
PY
expect "20,000 nested parentheses" 1 "deep\.vae:[0-9]+:[0-9]+: error: brackets nested more than 64 deep" "" -- check "$work/deep.vae"
expect "20,000 nested brackets" 1 "deeplist\.vae:[0-9]+:[0-9]+: error: brackets nested more than 64 deep" "" -- check "$work/deeplist.vae"
expect "1,000,000 unary minus (even)" 0 "" "^model" -- check "$work/minus.vae"
expect "10 MB: model + comments" 0 "" "^model fashion_gaussian" -- check "$work/big_comments.vae"
expect "10 MB: one expression" 0 "" "^model fashion_gaussian" -- check "$work/big_sum.vae"
expect "10 MB: garbage lines" 1 "too many errors \(20\); stopping here" "" -- check "$work/big_garbage.vae"
expect "10 MB: one line" 1 "big_line\.vae:1:10000008: error: expected declaration" "" -- check "$work/big_line.vae"

# ---- the command line itself
expect "no arguments" 2 "" "" --
expect "unknown verb" 2 "" "" -- frobnicate
expect "--version" 0 "" "^vaec [0-9]" -- --version

echo
echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
