#!/usr/bin/env bash
# End-to-end tests of a run's pictures and of `vaec sample` (issue 10), on a slice of
# Fashion-MNIST: every picture is written, decoded independently (python3's zlib and
# struct) and checked against numbers vaec printed by another path.
# usage: pictures.sh VAEC SOURCE_DIR
set -u
vaec=$(readlink -f "$1") src=$(readlink -f "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$src/tests/cli/lib.sh"
grid() { python3 "$src/tests/cli/grid_check.py" "$@"; }

cd "$work"
fashion_slice pictures slice 1000 300
tiny_model "binary[28, 28]" "batch = 32  kl_warmup = 1" >tiny.vae
"$vaec" tiny.vae --data slice --epochs 3 --threads 1 --seed 5 --out r >r.out 2>&1
for f in samples.png samples_aggregate.png reconstructions.png curves.png curves.svg latent.png latent.svg manifold.png \
         kl_per_dim.png kl_per_dim.svg active_units.png active_units.svg; do
  [ -s "r/$f" ] || fail "the run folder lacks $f"
done
check "training lists every picture with its time" sh -c "grep -c '^  [a-z_]*\.png.* s  ' r.out | grep -qx 8"

# samples.png: 8 × 8 cells of 28 × 28 at scale 2, equal to `vaec sample --seed 5` (the run's seed).
check "samples.png is 8 × 8 cells of 28 × 28 pixels drawn 2 × 2 (457 × 457, grey)" \
  sh -c "python3 '$src/tests/report/check_picture.py' stats r/samples.png | grep -q '^457 457 1 '"
"$vaec" sample r -n 64 --seed 5 --out s.npy --out s.png --out s.csv >/dev/null 2>&1
check "samples.png's pixels equal vaec sample's decoder means (seed 5) to one grey level" grid grid r/samples.png s.npy 28 28 8 2
check "vaec sample --out s.png is byte for byte the run's samples.png" cmp s.png r/samples.png
check "the .csv holds the same numbers as the .npy" python3 -c "
import sys; sys.path.insert(0, '$src/tests/cli'); from grid_check import load
a = load('s.npy'); b = [[float(v) for v in l.split(',')] for l in open('s.csv')]
assert len(a) == 64 and len(b) == 64 and all(abs(x - y) < 1e-6 for r, s in zip(a, b) for x, y in zip(r, s))"
"$vaec" sample r -n 64 --seed 6 --out s6.npy >/dev/null 2>&1
check "another seed, other samples" sh -c "! cmp -s s.npy s6.npy"
# samples_aggregate.png: z from (1/M) Σ q(z | x_m) over M = 1000 training examples, the same
# draws as vaec sample --from aggregate (the run's data by default).
"$vaec" sample r -n 64 --seed 5 --from aggregate --out agg.png --out agg.npy >agg.out 2>&1
check "vaec sample --from aggregate --out agg.png is byte for byte the run's samples_aggregate.png" cmp agg.png r/samples_aggregate.png
check "sample --from aggregate says what it mixes" grep -q "the aggregate posterior (1/M) Σ q(z | x_m) over M = 1,000 examples of .*train-images-idx3-ubyte (the training split" agg.out
check "aggregate samples are not the prior's" sh -c "! cmp -s agg.npy s.npy"
"$vaec" sample r -n 64 --seed 5 --from aggregate --examples 3 --data slice --out agg3.npy >/dev/null 2>&1
check "--examples 3 mixes 3 examples: other samples" sh -c "! cmp -s agg.npy agg3.npy"
"$vaec" sample r -n 4 --from aggregate --examples 1000000 --out ex-big.npy >ex.out 2>&1; st=$?
check "--examples above the training split's size: refused (exit 2), naming the size, nothing written" \
  sh -c "[ $st -eq 2 ] && grep -q -- '--examples 1000000: the training split of .* holds [0-9]* examples; use at most' ex.out && [ ! -e ex-big.npy ]"
for from in prior posterior; do
  data=""; [ $from = posterior ] && data="--data slice"
  "$vaec" sample r -n 4 --from $from --examples 3 $data --out ex-$from.npy >ex.out 2>&1; st=$?
  check "--examples with --from $from: refused (exit 2), saying it is for --from aggregate, nothing written" \
    sh -c "[ $st -eq 2 ] && grep -q -- '--examples is for --from aggregate' ex.out && [ ! -e ex-$from.npy ]"
done
mv slice slice-moved
"$vaec" sample r --from aggregate -n 4 --out gone.npy >gone.out 2>&1; st=$?
mv slice-moved slice
check "sample --from aggregate without the run's data: exit 1, naming them, nothing written" \
  sh -c "[ $st -eq 1 ] && grep -q 'slice' gone.out && ! grep -q 'internal error' gone.out && [ ! -e gone.npy ]"
"$vaec" sample r -n 64 --seed 6 --out s6b.npy >/dev/null 2>&1
check "the same seed, the same bytes" cmp s6.npy s6b.npy
"$vaec" sample r -n 10 --draw --out d.npy >/dev/null 2>&1
check "--draw writes binary x for a Bernoulli likelihood" python3 -c "
import sys; sys.path.insert(0, '$src/tests/cli'); from grid_check import load
a = load('d.npy'); assert len(a) == 10 and all(v in (0.0, 1.0) for r in a for v in r) and any(v == 1.0 for r in a for v in r)"

# reconstructions.png: odd rows are the test examples themselves.
check "reconstructions.png's odd rows are the first 32 test images, exactly" grid rows r/reconstructions.png slice/t10k-images-idx3-ubyte 28 28 8 2

# Plots: the expected size, not blank, and the SVGs parse.
for p in curves latent kl_per_dim active_units; do
  python3 "$src/tests/report/check_picture.py" stats "r/$p.png" >"$p.stats"
  read -r w h c var <"$p.stats"
  want_h=600; [ "$p" = curves ] && want_h=900
  check "$p.png: 800 × $want_h, not blank (pixel variance $var)" \
    python3 -c "import sys; sys.exit(not ($w == 800 and $h == $want_h and $var > 100))"
  check "$p.svg parses as XML" python3 "$src/tests/report/check_picture.py" xml "r/$p.svg"
done
check "manifold.png is a 20 × 20 grid of 28 × 28 images (581 × 581)" \
  sh -c "python3 '$src/tests/report/check_picture.py' stats r/manifold.png | grep -q '^581 581 1 '"

# A checkpoint made to copy its input reproduces it: q's loc = 10·x, p's logits = 10·z − 50,
# so the decoder's mean at the posterior location is σ(±50) = x (to 2e-22).
cat >ident.vae <<'EOF'
model ident
data   x : binary[4, 4]
latent z : real[16]
p(z) = Normal(0, 1)
p(x | z) { x ~ Bernoulli(logits = linear(z, 16)) }
q(z | x) { z ~ Normal(loc = linear(x, 16), scale = softplus(param(16, init = -40)) + 1e-6) }
train { batch = 8 }
EOF
python3 -c "
import random; random.seed(3)
open('bits.csv', 'w').write(''.join(','.join(str(random.randint(0, 1)) for _ in range(16)) + '\n' for _ in range(40)))"
"$vaec" ident.vae --data bits.csv --epochs 1 --threads 1 --out id >/dev/null 2>&1
python3 - id/checkpoint.safetensors "$src/tests/cli" <<'EOF'
import json, struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def put(name, values):
    start, end = h[name]["data_offsets"]
    assert end - start == 4 * len(values), name
    b[8 + n + start:8 + n + end] = struct.pack("<%df" % len(values), *values)
eye = [10.0 if i == j else 0.0 for i in range(16) for j in range(16)]
names = [k for k in h if k != "__metadata__"]
for k in names:
    if k.startswith("q(") and k.endswith("weight"): put(k, eye)
    elif k.startswith("q(") and k.endswith("bias"): put(k, [0.0] * 16)
    elif k.startswith("p(") and k.endswith("weight"): put(k, eye)
    elif k.startswith("p(") and k.endswith("bias"): put(k, [-50.0] * 16)
sys.path.insert(0, sys.argv[2])
from resign import resign
open(path, "wb").write(bytes(resign(b)))
EOF
"$vaec" sample id --from posterior --data bits.csv -n 40 --out rec.npy --out rec.png >/dev/null 2>&1
check "an identity checkpoint: reconstructions (vaec sample --from posterior) reproduce the input to 1e-6" \
  python3 -c "
import sys; sys.path.insert(0, '$src/tests/cli'); from grid_check import load
a = load('rec.npy'); b = [[float(v) for v in l.split(',')] for l in open('bits.csv')]
assert len(a) == 40; worst = max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s)); assert worst < 1e-6, worst"
check "its PNG is a 7 × 6 grid of 4 × 4 images at scale 2 (64 × 55)" \
  sh -c "python3 '$src/tests/report/check_picture.py' stats rec.png | grep -q '^64 55 1 '"

# Bad options get a clear message and a non-zero exit.
expect_err() {
  local name=$1 status=$2 re=$3; shift 3
  "$vaec" "$@" >/dev/null 2>err.txt; local s=$?
  if [ "$s" -eq "$status" ] && grep -qE -- "$re" err.txt && ! grep -q "internal error" err.txt; then ok "$name"; else fail "$name (exit $s)"; head -2 err.txt; fi
}
expect_err "sample --from posterior without --data" 2 "--from posterior encodes data: give them with --data" sample r --from posterior
expect_err "sample -n 0" 2 "-n 0: ask for at least 1 sample" sample r -n 0
expect_err "sample -n -3" 2 "ask for at least 1 sample" sample r -n -3
expect_err "sample --out with an unknown extension" 2 "the file's extension says the format" sample r --out x.jpg
expect_err "sample --out under /proc" 1 "cannot write /proc/x.npy" sample r --out /proc/x.npy
mkdir nockpt && cp r/run.json r/model.vae nockpt/
expect_err "sample of a run folder without a checkpoint" 1 "no checkpoint yet" sample nockpt
expect_err "sample of a folder that is not a run" 1 "not a run folder" sample slice
expect_err "sample --mean --draw together" 2 "excludes" sample r --mean --draw
expect_err "sample --out twice" 2 "is given twice \\(as s2.npy and ./s2.npy\\)" sample r -n 4 --out s2.npy --out ./s2.npy
# A Student-t prior at df 0.05 draws z beyond what float32 decodes: vaec check warns, and vaec
# sample refuses to write the non-finite samples (exit 1) instead of writing NaN.
sed 's/p(z) = Normal(0, 1)/p(z) = StudentT(df = 0.05, loc = 0, scale = 1)/' tiny.vae >tprior.vae
check "check warns about a Student-t prior at df 0.05" sh -c "'$vaec' check tprior.vae 2>&1 | grep -q \"'z' is drawn from the prior p, a Student-t with df 0.05\""
"$vaec" tprior.vae --data slice --epochs 1 --threads 1 --out tp >tp.out 2>&1
expect_err "sample of a Student-t prior at df 0.05: non-finite samples refused" 1 \
  "of the 400 decoded samples are not finite, so nothing was written" sample tp -n 400 --out tp400.npy
check "nothing written for the refused samples" test ! -e tp400.npy
# The same df reached through a learned parameter (0.05 + 0 · sigmoid(param)): whether the
# objective or the df's gradient overflows first, the stop names the draws, not the lr.
sed 's/p(z) = Normal(0, 1)/p(z) = StudentT(df = 3, loc = 0, scale = 1)/; s/z ~ Normal(/z ~ StudentT(df = 0.05 + 0 * sigmoid(param(1)), /' tiny.vae >tq.vae
"$vaec" tq.vae --data slice --epochs 1 --threads 1 --out tq >/dev/null 2>tq.err; s=$?
check "a Student-t q at df 0.05 through a parameter: the stop names the overflowing draws" \
  sh -c "[ $s -eq 1 ] && grep -q \"draws of 'z' from q (a Student-t, df as low as 0.05)\" tq.err && ! grep -q 'smaller learning rate' tq.err"
# The default output name, taken: the message says it is the default and how to get another.
"$vaec" sample r -n 4 --seed 9 >/dev/null 2>&1
expect_err "sample twice with the same seed and default names" 2 \
  "r/sample_prior_means_seed9.npy exists \(the default name for these samples.*--out FILE.npy, draw other samples with --seed" \
  sample r -n 4 --seed 9
python3 -c "open('flat.csv', 'w').write(''.join(','.join(['0.5'] * 5) + '\n' for _ in range(20)))"
sed 's/binary\[28, 28\]/binary[5]/; s/linear(h, 784)/linear(h, 5)/' tiny.vae >flat.vae
"$vaec" flat.vae --data flat.csv --epochs 1 --threads 1 --out flat >flat.out 2>&1
check "a run on one CSV (no test split) says which pictures it leaves out and why" \
  sh -c "grep -q 'no reconstructions, latent, manifold, kl_per_dim or active-unit pictures: they encode the test split' flat.out && ! test -e flat/reconstructions.png"
check "flat data of 5 values: samples drawn as a plot of values (samples.png and .svg)" sh -c "[ -s flat/samples.png ] && [ -s flat/samples.svg ]"
"$vaec" sample flat -n 8 --out flat8.png --out flat8.npy >/dev/null 2>&1
check "sample --out x.png of data that are not images: a plot of the values (x.png 800 × 600, x.svg)" \
  sh -c "python3 '$src/tests/report/check_picture.py' stats flat8.png | grep -q '^800 600 3 ' && python3 '$src/tests/report/check_picture.py' xml flat8.svg"

# A joint block with two latents (models/fashion_product_joint.vae, sphere[5] × real[8], one
# encoder), one epoch on the slice: the run's pictures, vaec eval's figures per latent,
# vaec sample from the posterior, and vaec graph.
"$vaec" "$src/models/fashion_product_joint.vae" --data slice --epochs 1 --batch 32 --threads 1 --out joint >joint.out 2>&1
check "joint block: the run writes samples, reconstructions and latent.png (mean directions of s)" \
  sh -c "[ -s joint/samples.png ] && [ -s joint/reconstructions.png ] && [ -s joint/latent.png ] && grep -q 'latent.png/.svg .*mean directions of s' joint.out"
"$vaec" eval joint --data slice --iw 5 >/dev/null 2>&1
check "joint block: eval.json has both latents, their families, and KL terms that add up to the KL" python3 -c "
import json; e = json.load(open('joint/eval.json')); l = e['latents']
assert [x['name'] for x in l] == ['s', 'g'] and [x['q'] for x in l] == ['VonMisesFisher', 'Normal'], l
assert [x['dims'] for x in l] == [5, 8] and l[0]['concentration'] is not None
assert abs(sum(x['kl'] for x in l) - e['kl']) < 1e-6 * (1 + abs(e['kl'])), (l, e['kl'])"
"$vaec" sample joint --from posterior --data slice -n 16 --out jrec.npy >/dev/null 2>&1
check "joint block: sample --from posterior decodes 16 test examples to means in [0, 1]" python3 -c "
import sys; sys.path.insert(0, '$src/tests/cli'); from grid_check import load
a = load('jrec.npy'); assert len(a) == 16 and all(len(r) == 784 and all(0 <= v <= 1 for v in r) for r in a)"
check "joint block: vaec graph creates the shared trunk once" \
  sh -c "'$vaec' graph '$src/models/fashion_product_joint.vae' | grep -c 'φ:q(s, g | x).linear1.weight' | grep -qx 1"

# Two latents from one joint block, made to copy the input: the trunk is the identity, s's
# location is 10·x[0:8] and g's 10·x[8:16], and p's logits are 10·concat(s, g) − 50, so the
# decoder's mean at the posterior's location is σ(±50) = x. A head wired to the wrong half,
# or the latents swapped, cannot reproduce it.
cat >ident2.vae <<'EOF'
model ident2
data   x : binary[4, 4]
latent s : real[8]
latent g : real[8]
p(s) = Normal(0, 1)
p(g) = Normal(0, 1)
p(x | s, g) { x ~ Bernoulli(logits = linear(concat(s, g), 16)) }
q(s, g | x) {
  h = linear(x, 16)
  s ~ Normal(loc = linear(h, 8), scale = softplus(param(8, init = -40)) + 1e-6)
  g ~ Normal(loc = linear(h, 8), scale = softplus(param(8, init = -40)) + 1e-6)
}
train { batch = 8 }
EOF
"$vaec" ident2.vae --data bits.csv --epochs 1 --threads 1 --out id2 >/dev/null 2>&1
python3 - id2/checkpoint.safetensors "$src/tests/cli" <<'EOF'
import json, struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def put(name, values):
    start, end = h[name]["data_offsets"]
    assert end - start == 4 * len(values), name
    b[8 + n + start:8 + n + end] = struct.pack("<%df" % len(values), *values)
# Linear weights are [out, in], row-major (torch.nn.Linear's layout): row i reads input first + i.
def select(rows, cols, first, scale):
    return [scale if j == first + i else 0.0 for i in range(rows) for j in range(cols)]
put("q(s, g | x).linear1.weight", select(16, 16, 0, 1.0)); put("q(s, g | x).linear1.bias", [0.0] * 16)
put("q(s, g | x).linear2.weight", select(8, 16, 0, 10.0)); put("q(s, g | x).linear2.bias", [0.0] * 8)
put("q(s, g | x).linear4.weight", select(8, 16, 8, 10.0)); put("q(s, g | x).linear4.bias", [0.0] * 8)
put("p(x | s, g).linear1.weight", select(16, 16, 0, 10.0)); put("p(x | s, g).linear1.bias", [-50.0] * 16)
sys.path.insert(0, sys.argv[2])
from resign import resign
open(path, "wb").write(bytes(resign(b)))
EOF
"$vaec" sample id2 --from posterior --data bits.csv -n 40 --out rec2.npy >/dev/null 2>&1
check "a joint block's two latents: reconstructions (vaec sample --from posterior) reproduce the input to 1e-6" \
  python3 -c "
import sys; sys.path.insert(0, '$src/tests/cli'); from grid_check import load
a = load('rec2.npy'); b = [[float(v) for v in l.split(',')] for l in open('bits.csv')]
assert len(a) == 40; worst = max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s)); assert worst < 1e-6, worst"

echo
echo "pictures: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
