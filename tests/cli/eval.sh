#!/usr/bin/env bash
# End-to-end tests of what `vaec eval` saves (experiments/README.md): eval.json and
# eval_per_example.npy read back by an independent reader (tests/cli/eval_check.py,
# Python's standard library only), the posterior figures (active units, concentration)
# against the encoder recomputed in Python from the checkpoint, --json, the replacement
# of an earlier evaluation, the run folder's lock, determinism, and a non-finite
# evaluation that writes nothing. Runs on a 1,000/300-example slice of Fashion-MNIST
# (skipped without it).
# usage: eval.sh VAEC SOURCE_DIR
set -u
vaec=$(readlink -f "$1") src=$(readlink -f "$2")
work=$(mktemp -d)
busy_pid=""
cleanup() {
  [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null && wait "$busy_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$src/tests/cli/lib.sh"
checker=("python3" "$src/tests/cli/eval_check.py")
no_crash() { ! grep -qE "internal error|terminate called|Aborted|Segmentation|what\(\)" "$1"; }

cd "$work"
fashion_slice eval slice 1000 300
# Grey levels as given (no binarization), so that Python sees the encoder's very inputs.
tiny_model "binary[784]" "batch = 32" >gauss.vae
tiny_model "binary[784]" "batch = 32  beta = 1000" >collapse.vae  # the KL dominates: posterior collapse
sed -e 's/^model tiny$/model tiny_vmf/' -e 's/^latent z : real\[2\]$/latent z : sphere[3]/' \
    -e 's/^p(z) = Normal(0, 1)$/p(z) = HypersphericalUniform()/' \
    -e 's/^  z ~ Normal(.*)$/  z ~ VonMisesFisher(mean = normalize(linear(h, 3)), concentration = softplus(linear(h, 1)) + 1)/' \
    gauss.vae >vmf.vae
for m in gauss vmf collapse; do
  "$vaec" "$m.vae" --data slice --epochs 3 --threads 1 --out "$m" >"$m.train.out" 2>&1 || { fail "training $m"; cat "$m.train.out"; }
done
evaluate() { "$vaec" eval "$1" --data slice --threads 1 "${@:2}"; }

# ---- 1. the files, read back independently ---------------------------------------------------
evaluate gauss --iw 20 >g1.out 2>g1.err; s=$?
check "eval exits 0 and writes eval.json and eval_per_example.npy" \
  sh -c "[ $s -eq 0 ] && test -s gauss/eval.json && test -s gauss/eval_per_example.npy && grep -q 'wrote gauss/eval.json' g1.out"
check "Gaussian: eval.json's keys in order; the .npy is float64 [N]; its mean is log_likelihood and its sd/√N log_likelihood_se (1e-9); gap = log_likelihood − elbo" \
  "${checker[@]}" files gauss
check "the printed ELBO, KL, log p(x) ± its standard error are eval.json's" "${checker[@]}" printed g1.out gauss
check "Gaussian: active units equal those of Cov_x(E_q[z_u]) > 0.01 from the encoder recomputed in Python" \
  "${checker[@]}" encoder gauss slice 300
check "Gaussian: no concentration, no df; kl_method 'closed form'; at least 1 active unit" python3 -c "
import json; e = json.load(open('gauss/eval.json')); z = e['latents'][0]
assert z['concentration'] is None and z['df'] is None and z['kl_method'] == 'closed form' and e['active_units'] >= 1, z"

# ---- 2. --json: exactly eval.json on stdout; a vMF latent -------------------------------------
evaluate vmf --iw 20 --json >v.json 2>v.err; s=$?
check "--json: stdout is exactly eval.json's text, and parses as JSON" \
  sh -c "[ $s -eq 0 ] && cmp -s v.json vmf/eval.json && python3 -m json.tool v.json >/dev/null"
check "--json: the human-readable figures and the progress go to stderr" \
  sh -c "grep -q 'log p(x), IW K=20 ' v.err && grep -q 'latent z (sphere\[3\])' v.err && grep -q 'of 300 examples' v.err"
check "vMF: the files, read back independently (as for the Gaussian)" "${checker[@]}" files vmf
check "vMF: concentration mean/min/max (0 < min ≤ mean ≤ max) and active units equal the encoder's, recomputed in Python" \
  "${checker[@]}" encoder vmf slice 300
check "vMF: q VonMisesFisher, p HypersphericalUniform, type sphere[3], dims 3, kl_method 'closed form'" python3 -c "
import json; z = json.load(open('vmf/eval.json'))['latents'][0]
assert (z['q'], z['p'], z['type'], z['dims'], z['kl_method']) == ('VonMisesFisher', 'HypersphericalUniform', 'sphere[3]', 3, 'closed form'), z"

# ---- 3. posterior collapse: no active unit ----------------------------------------------------
evaluate collapse --iw 20 >c.out 2>&1
check "beta = 1000 (posterior collapse): 0 active units, and the recomputed encoder agrees" \
  sh -c "python3 -c \"import json, sys; sys.exit(json.load(open('collapse/eval.json'))['active_units'] != 0)\" && ${checker[*]} encoder collapse slice 300"

# ---- 4. a new evaluation replaces the previous one, and says so; determinism ------------------
cp gauss/eval_per_example.npy seed1.npy
evaluate gauss --iw 20 --seed 5 >g5.out 2>&1
check "a second eval says what it replaced: 'replaced eval.json of checkpoint last, seed 1 (K = 20)'" \
  grep -q "^replaced eval.json of checkpoint last, seed 1 (K = 20)$" g5.out
check "the new eval.json is the new evaluation's (seed 5)" python3 -c "
import json, sys; sys.exit(json.load(open('gauss/eval.json'))['seed'] != 5)"
cp gauss/eval_per_example.npy seed5.npy
evaluate gauss --iw 20 --seed 5 >/dev/null 2>&1
check "determinism: the same seed twice gives a byte-identical eval_per_example.npy" cmp -s seed5.npy gauss/eval_per_example.npy
check "another seed, other draws: another eval_per_example.npy" sh -c "! cmp -s seed1.npy seed5.npy"

# ---- 5. a run that is still training is refused ----------------------------------------------
"$vaec" gauss.vae --data slice --epochs 500 --threads 1 --out busy >busy.out 2>&1 &
busy_pid=$!
for _ in $(seq 1 100); do [ -s busy/run.json ] && break; sleep 0.1; done
evaluate busy --iw 2 >b.out 2>b.err; s=$?
check "eval of a run that is training is refused: exit 1, 'in use by another vaec process' (no --out advice: eval has none), nothing written" \
  sh -c "[ $s -eq 1 ] && grep -q 'busy is in use by another vaec process (pid $busy_pid); wait for it to finish, or stop it\$' b.err && [ ! -e busy/eval.json ] && [ ! -s b.out ]"
kill -INT "$busy_pid" 2>/dev/null
wait "$busy_pid" 2>/dev/null
busy_pid=""

# ---- 6. a non-finite evaluation exits 1 and writes nothing ------------------------------------
cp -r gauss nonfinite
# q's location bias 3e38: loc² overflows float, the KL is +inf and the ELBO −inf.
python3 - nonfinite/checkpoint.safetensors "$src/tests/cli" <<'EOF'
import json, struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
start = h["q(z | x).linear2.bias"]["data_offsets"][0] + 8 + n
b[start:start + 4] = struct.pack("<f", 3e38)
sys.path.insert(0, sys.argv[2])
from resign import resign
open(path, "wb").write(bytes(resign(b)))
EOF
evaluate nonfinite --iw 5 --json >nf.out 2>nf.err; s=$?
check "a non-finite evaluation: exit 1, a message, nothing on stdout with --json, the earlier eval.json and .npy untouched" \
  sh -c "[ $s -eq 1 ] && grep -q 'is not finite' nf.err && [ ! -s nf.out ] && cmp -s gauss/eval.json nonfinite/eval.json && cmp -s gauss/eval_per_example.npy nonfinite/eval_per_example.npy"

for f in *.err; do no_crash "$f" || fail "$f holds an internal error or a crash"; done

echo
echo "eval: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
