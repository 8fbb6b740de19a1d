# Shared by the end-to-end scripts (runs.sh, pictures.sh): the counters and the check
# helpers, the Fashion-MNIST slice they train on, and the tiny model of issue 8.
# Source it after setting $vaec, $src and $work.

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; }
# check NAME COMMAND...: ok when the command succeeds; its output is shown only on failure
check() {
  local name=$1; shift
  if "$@" >"$work/check.out" 2>&1; then ok "$name"; else fail "$name"; head -3 "$work/check.out"; fi
}

# Skips the whole script (as passed, with a line saying so) when the data set is missing;
# otherwise writes SLICE, a folder of N_TRAIN and N_TEST Fashion-MNIST images and labels.
# usage: fashion_slice SCRIPT_NAME SLICE N_TRAIN N_TEST
fashion_slice() {
  if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    echo "$1: Fashion-MNIST is not installed (scripts/setup installs it); skipped"
    echo "$1: 0 passed, 0 failed"
    exit 0
  fi
  python3 "$src/tests/cli/make_slice.py" /usr/share/datasets/fashion-mnist "$2" "$3" "$4"
}

# The tiny model of issue 8: DATA_TYPE data, a real[2] latent, one hidden layer of 32 units
# on each side, and the given train block's settings.
# usage: tiny_model DATA_TYPE TRAIN_SETTINGS >FILE.vae
tiny_model() {
  cat <<VAE
model tiny
data   x : $1
latent z : real[2]
p(z) = Normal(0, 1)
p(x | z) {
  h = mlp(z, [32], activation = relu)
  x ~ Bernoulli(logits = linear(h, 784))
}
q(z | x) {
  h = mlp(x, [32], activation = relu)
  z ~ Normal(loc = linear(h, 2), scale = softplus(linear(h, 2)) + 1e-4)
}
train { $2 }
VAE
}

# A small model of real[4] data under a Normal likelihood of scale 0.5, one hidden layer of
# 8 units on each side: a value far from the others (an outlier) overflows its likelihood.
# usage: real4_model NAME TRAIN_SETTINGS >FILE.vae
real4_model() {
  cat <<VAE
model $1
data   x : real[4]
latent z : real[2]
p(z) = Normal(0, 1)
p(x | z) {
  h = mlp(z, [8], activation = relu)
  x ~ Normal(loc = linear(h, 4), scale = 0.5)
}
q(z | x) {
  h = mlp(x, [8], activation = relu)
  z ~ Normal(loc = linear(h, 2), scale = softplus(linear(h, 2)) + 1e-4)
}
train { $2 }
VAE
}
