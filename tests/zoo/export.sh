#!/usr/bin/env bash
# The zoo test's fixture: exports every model at opsets 13 and 17 into DIR (tests/zoo/export_zoo.py, the
# two opsets side by side) and starts a fresh results.tsv. A model file newer than the export script is
# kept (the export is deterministic: same seed, same settings), so that a second ctest run does not
# export again.
set -euo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
rm -f "$dir/results.tsv"
pids=()
for opset in 13 17; do
  /usr/bin/python3 "$here/export_zoo.py" --out "$dir" --opset "$opset" --keep-newer-than "$here/export_zoo.py" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
