#!/usr/bin/env bash
# Follows the cosim tutorial in docs/cosim.md literally: runs its ```sh blocks (between the
# <!-- tutorial --> markers) in order from the source tree, with chipref on PATH and a fresh TMPDIR,
# and requires every line of its ```text blocks in the output (the cycles/s rate masked: it is a speed).
# Usage: tutorial.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1 bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk -v out="$work" '
  /<!-- tutorial -->/ { on = 1; next }
  /<!-- \/tutorial -->/ { on = 0 }
  on && /^```sh$/ { kind = "sh"; next }
  on && /^```text$/ { kind = "text"; next }
  on && /^```$/ { kind = ""; next }
  on && kind == "sh" { print > (out "/tutorial.sh") }
  on && kind == "text" { print > (out "/expected.txt") }
' "$src/docs/cosim.md"
[[ -s $work/tutorial.sh && -s $work/expected.txt ]] || { echo "no tutorial blocks found in $src/docs/cosim.md"; exit 1; }
mkdir "$work/tmp"
# The build cache is content-addressed: sharing the tests' cache only saves rebuilding identical designs.
(cd "$src" && PATH="$bin:$PATH" TMPDIR="$work/tmp" CHIPREF_CACHE_DIR="${TMPDIR:-/tmp}/chipref_test_dut_cache" bash -e "$work/tutorial.sh") >"$work/output.txt" 2>"$work/stderr.txt" || {
  echo "the tutorial's commands failed:"; cat "$work/output.txt" "$work/stderr.txt"; exit 1; }
mask() { sed -E 's/, [0-9.e+-]+ cycles\/s\)/, RATE cycles\/s)/'; }
missing=0
while IFS= read -r line; do
  if ! mask <"$work/output.txt" | grep -qxF -- "$(printf '%s\n' "$line" | mask)"; then
    echo "expected in the output, not found: $line"; missing=1
  fi
done <"$work/expected.txt"
if (( missing )); then echo "--- output:"; cat "$work/output.txt"; exit 1; fi
echo "tutorial: $(grep -c . "$work/expected.txt") expected lines found; $(grep -c '^chipref' "$work/tutorial.sh") chipref commands run"
