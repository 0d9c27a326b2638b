#!/usr/bin/env bash
# Follows a walk-through in the docs literally: runs the ```sh blocks between the document's
# <!-- tutorial --> markers in order, in one shell, from the source tree, with chipref on PATH and a
# fresh TMPDIR, and requires every line of its ```text blocks in the output (stdout). Masked on both
# sides: cycles/s and matrices/s rates (speeds), Slurm job numbers, and the fresh TMPDIR (shown as /tmp).
# With --last-block-always, the last sh block (a cleanup: stopping daemons) also runs when an earlier
# one fails. With --in-scratch, the blocks run in a scratch directory holding links to the source tree's
# examples/ and configs/ (for a walk-through that writes its outputs into the current directory, as
# README.md's does).
# Usage: tutorial.sh DOC SOURCE_DIR BIN_DIR [--last-block-always] [--in-scratch]
set -euo pipefail
doc=$1 src=$2 bin=$3
always= scratch=
for option in "${@:4}"; do
  case $option in
    --last-block-always) always=$option ;;
    --in-scratch) scratch=$option ;;
    *) echo "tutorial.sh: unknown option $option"; exit 2 ;;
  esac
done
work=$(mktemp -d)
# Daemons a walk-through stopped (slurmctld saving its state) may still write into $work for a moment:
# retry, and never let the cleanup decide the test's result.
remove_work() {
  for _ in {1..40}; do rm -rf "$work" 2>/dev/null && return 0; sleep 0.25; done
  echo "tutorial.sh: could not remove $work (left behind)" >&2
}
trap 'remove_work' EXIT
awk -v out="$work" '
  /<!-- tutorial -->/ { on = 1; next }
  /<!-- \/tutorial -->/ { on = 0 }
  on && /^```sh$/ { kind = "sh"; block++; next }
  on && /^```text$/ { kind = "text"; next }
  on && /^```$/ { kind = ""; next }
  on && kind == "sh" { print > (out "/tutorial.sh"); print > (out "/block" block ".sh") }
  on && kind == "text" { print > (out "/expected.txt") }
' "$src/$doc"
[[ -s $work/tutorial.sh && -s $work/expected.txt ]] || { echo "no tutorial blocks found in $src/$doc"; exit 1; }
if [[ $always == --last-block-always ]]; then
  last=$(ls "$work"/block*.sh | sort -V | tail -1)
  { echo "trap 'source $last' EXIT"; cat "$work/tutorial.sh"; } >"$work/with_cleanup.sh"
  mv "$work/with_cleanup.sh" "$work/tutorial.sh"
fi
mkdir "$work/tmp"
# The DUT build cache is content-addressed: sharing the tests' cache only saves rebuilding identical designs.
run_dir=$src
if [[ $scratch == --in-scratch ]]; then
  run_dir=$work/run
  mkdir "$run_dir" && ln -s "$src/examples" "$run_dir/examples" && ln -s "$src/configs" "$run_dir/configs"
fi
(cd "$run_dir" && PATH="$bin:$PATH" TMPDIR="$work/tmp" CHIPREF_CACHE_DIR="${TMPDIR:-/tmp}/chipref_test_dut_cache" bash -e "$work/tutorial.sh") >"$work/output.txt" 2>"$work/stderr.txt" || {
  echo "the walk-through's commands failed:"; cat "$work/output.txt" "$work/stderr.txt"; exit 1; }
mask() { sed -E -e 's/, [0-9.e+-]+ cycles\/s/, RATE cycles\/s/' -e 's/, [0-9.e+-]+ matrices\/s\)/, RATE matrices\/s)/' -e 's/job [0-9]+/job N/g' -e "s|$work/tmp|/tmp|g"; }
# Masked once into a file: grep -q stops reading at its first match, and under pipefail a mask still
# writing into that pipe would turn a found line into a missing one.
mask <"$work/output.txt" >"$work/output.masked"
missing=0
while IFS= read -r line; do
  if ! grep -qxF -- "$(printf '%s\n' "$line" | mask)" "$work/output.masked"; then
    echo "expected in the output, not found: $line"; missing=1
  fi
done <"$work/expected.txt"
if (( missing )); then echo "--- output:"; cat "$work/output.txt"; echo "--- stderr:"; cat "$work/stderr.txt"; exit 1; fi
echo "$doc: $(grep -c . "$work/expected.txt") expected lines found; $(grep -c '^chipref' "$work/tutorial.sh") chipref commands run"
