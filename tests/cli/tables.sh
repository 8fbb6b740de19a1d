#!/usr/bin/env bash
# End-to-end tests of vaec compare's outputs (issue 11): results.csv, differences.csv,
# table.md, table.tex, the plots and report.html, written by vaec_compare_outputs (the same
# entry point vaec compare calls at its end) from a fixture compare folder whose numbers
# are known (tests/experiments/compare_fixture.py), every expected value computed there in
# Python; report.html opened in headless Chromium; table.tex compiled by pdflatex when
# it is installed.
# usage: tables.sh VAEC_COMPARE_OUTPUTS SOURCE_DIR
set -u
tool=$(readlink -f "$1") src=$(readlink -f "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$src/tests/cli/lib.sh"
fixture() { python3 "$src/tests/experiments/compare_fixture.py" "$@"; }
picture() { python3 "$src/tests/report/check_picture.py" "$@"; }

cd "$work"
fixture make c
"$tool" c >out.txt 2>err.txt
status=$?
check "the outputs are written (exit 0, nothing on stderr)" sh -c "[ $status -eq 0 ] && [ ! -s err.txt ]"
for f in results.csv differences.csv table.md table.tex ll_vs_d.png ll_vs_d.svg curves.png curves.svg report.html; do
  [ -s "c/$f" ] || fail "the compare folder lacks $f"
done
check "no temporary file is left behind" sh -c "! ls c | grep -q tmp"

check "results.csv: a row per cell, every number equal to the cell's eval.json (17 digits), the failed cell's reason" \
  fixture results c
check "table.md: mean ± sd over seeds of LL, L[q], RE, KL equal to the eval.json numbers" fixture table c
check "table.md: the best LL and ELBO at each grid point in bold (vmf at d = 2; a tie of the Gaussians at d = 5)" \
  fixture bold c
check "table.md: the failed cell marked, its reason in a note; the caption states K, seeds, epochs, data" \
  fixture notes c
check "differences.csv: mean(d) and paired SE per seed, mean and sd over seeds, equal to Python's" \
  fixture differences c
check "a model paired with itself: difference exactly 0 with SE 0" fixture self c
check "cells evaluated on different data are not paired, with a note" fixture refused c
check "table.md's differences table equals Python's numbers to 3 decimals" fixture differences_table c
check "table.tex: booktabs, consistent columns, the same bold cells, escaped labels, ASCII" fixture tex c
if command -v pdflatex >/dev/null; then
  mkdir tex
  printf '%s\n' '\documentclass{article}' '\usepackage{booktabs}' '\begin{document}' '\input{table.tex}' \
    '\end{document}' >tex/doc.tex
  cp c/table.tex tex/
  check "table.tex compiles in a plain LaTeX document with booktabs (pdflatex)" \
    sh -c "cd tex && pdflatex -interaction=nonstopmode -halt-on-error doc.tex >log.txt 2>&1 && [ -s doc.pdf ] \
           && ! grep -q 'Missing character' doc.log && ! grep -q 'invalid in math mode' doc.log"
else
  echo "note: pdflatex is not installed (scripts/setup installs texlive); table.tex checked for structure only"
fi

for p in ll_vs_d curves; do
  read -r w h c var < <(picture stats "c/$p.png")
  check "$p.png: 800 × 600, not blank (pixel variance $var)" \
    python3 -c "import sys; sys.exit(not ($w == 800 and $h == 600 and $var > 100))"
  check "$p.svg parses as XML" picture xml "c/$p.svg"
done

check "report.html is self-contained (only data: URIs, no scripts, no external CSS) and holds every picture" \
  fixture html c

# A study of one model: its table, and a sentence where the paired differences would be (no
# empty table under "Is the difference real?").
cp -r c one
python3 - one <<'PY'
import json, sys
p = sys.argv[1] + "/compare.json"
c = json.load(open(p))
keep = c["baseline"]
c["models"] = [m for m in c["models"] if m["label"] == keep]
c["cells"] = [x for x in c["cells"] if x["model"] == keep]
json.dump(c, open(p, "w"), indent=2)
PY
rm -f one/table.md one/table.tex one/report.html one/differences.csv
"$tool" one >one.out 2>one.err
status=$?
check "one model: exit 0, its results table, and 'no paired differences' instead of an empty table" \
  sh -c "[ $status -eq 0 ] && [ ! -s one.err ] && [ \$(grep -c '^| ' one/table.md) -ge 3 ] \
         && grep -q 'no paired differences, which need a second model' one/table.md \
         && ! grep -q 'model − ' one/table.md && grep -q 'no paired differences' one/report.html \
         && grep -q '^% One model: no paired differences' one/table.tex && LC_ALL=C grep -qv '[^ -~]' one/table.tex"

# Headless Chromium: the report renders (a screenshot that is not blank) with no console errors.
if command -v chromium >/dev/null; then
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-extensions \
    --no-first-run --user-data-dir="$work/chromium" --enable-logging=stderr --v=0 --window-size=1200,1600 \
    --screenshot="$work/shot.png" "file://$work/c/report.html" >chromium.out 2>&1
  read -r w h c var < <(picture stats shot.png 2>/dev/null || echo "0 0 0 0")
  check "report.html renders in headless Chromium: a 1200 × 1600 screenshot that is not blank (variance $var)" \
    python3 -c "import sys; sys.exit(not ($w == 1200 and $h == 1600 and $var > 100))"
  check "no console errors while Chromium renders report.html" \
    sh -c "! grep -E 'CONSOLE|Uncaught|Failed to load|net::ERR' chromium.out"
  [ -n "${VAEC_KEEP_SCREENSHOT:-}" ] && cp shot.png "$VAEC_KEEP_SCREENSHOT"
else
  fail "chromium is not installed (scripts/setup installs it)"
fi

# The same inputs give the same bytes.
mkdir first && cp c/*.* first/
"$tool" c >/dev/null 2>&1
check "the same folder gives the same bytes again (tables, plots, report)" sh -c "
  for f in results.csv differences.csv table.md table.tex ll_vs_d.png ll_vs_d.svg curves.png report.html; do
    cmp first/\$f c/\$f || exit 1; done"

# A done cell whose eval.json is broken is shown as failed, saying why; the others are kept.
mkdir broken && cp -r c/compare.json c/runs broken/
echo '{"elbo": ' >broken/runs/vmf-d=2-seed1/eval.json
"$tool" broken >broken.out 2>&1
check "a done cell with a broken eval.json: reported as failed with the file's name, the rest drawn" \
  sh -c "grep -q 'warning: cell vmf-d=2-seed1 is done but .*eval.json: not valid JSON' broken.out &&
         grep -q '^vmf,2,1,failed,.*eval.json: not valid JSON' broken/results.csv && [ -s broken/report.html ]"

# Bad input: a clear message naming the file, a non-zero exit, never a crash.
expect_err() {
  local name=$1 want_status=$2 re=$3; shift 3
  "$tool" "$@" >/dev/null 2>err.txt; local s=$?
  if [ "$s" -eq "$want_status" ] && grep -qE -- "$re" err.txt; then ok "$name"; else fail "$name (exit $s)"; head -2 err.txt; fi
}
expect_err "no folder given: usage, exit 2" 2 "usage: vaec_compare_outputs DIR"
mkdir empty
expect_err "a folder without compare.json" 1 "cannot read .*empty/compare.json: no such file; vaec compare writes it" empty
mkdir bad && cp -r c/runs bad/ && sed 's/"model": "vmf"/"model": "vMF"/' c/compare.json >bad/compare.json
expect_err "a cell naming an unknown model" 1 "compare.json: 'cells\[[0-9]+\].model' names no model in 'models' \('vMF'\)" bad
mkdir badnpy && cp -r c/compare.json c/runs badnpy/
python3 -c "
import sys; p = 'badnpy/runs/vmf-d=2-seed1/eval_per_example.npy'; b = open(p, 'rb').read(); open(p, 'wb').write(b[:-8])"
"$tool" badnpy >/dev/null 2>&1
check "a truncated eval_per_example.npy: that seed is not paired, the note names the file" \
  sh -c "grep -q 'vmf,gaussian,2,1,,,,,,.*eval_per_example.npy: not a 1-D float64 .npy array: the header says 40 values but the file holds 312 bytes' badnpy/differences.csv"

echo
echo "tables: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
