#!/usr/bin/env bash
# scripts/sweep.sbatch as Slurm would run it (two array tasks, their environment set by hand), the GNU
# parallel command of docs/sweep.md (three shards), and the script `chipref sweep --slurm --no-submit`
# writes (its tasks run by hand; written again, it holds only the task not run), each merged:
# results.csv equal to the unsharded run's. (tests/sweep/slurm/live.sh does it on a live Slurm.)
# Usage: shards.sh SOURCE_DIR BIN_DIR
set -euo pipefail
src=$1 bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$bin:$PATH"
cat >"$work/sweep.yaml" <<YAML
model: $src/examples/fmnist_cnn.onnx
base: $src/configs/w8a8.yaml
data: {eval_images: 100, calibration_images: 50, detail_images: 20}
axes:
  weight_bits: {key: weights.bits, values: [4, 6, 8]}
YAML
chipref sweep "$work/sweep.yaml" -o "$work/single" >/dev/null
for task in 0 1; do
  SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=2 SLURM_CPUS_PER_TASK=1 bash "$src/scripts/sweep.sbatch" "$work/sweep.yaml" "$work/slurm" >/dev/null
done
chipref sweep merge "$work"/slurm/shard-* -o "$work/slurm/all" >/dev/null
parallel --will-cite chipref sweep "$work/sweep.yaml" -o "$work/par/{}" --shard {}/3 ::: 0 1 2 >/dev/null
chipref sweep merge "$work"/par/* -o "$work/par_all" >/dev/null
chipref sweep "$work/sweep.yaml" -o "$work/gen" --slurm --shards 3 --no-submit >/dev/null
array_is() {  # the array list the script holds now
  grep -q "^#SBATCH --array=$1\$" "$work/gen/slurm/sweep.sbatch" && echo "ok   the script's array is $1" ||
    { echo "FAIL the script's array is not $1:"; grep array "$work/gen/slurm/sweep.sbatch"; exit 1; }
}
array_is 0-2
for task in 1 0; do
  SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_JOB_ID=1 bash "$work/gen/slurm/sweep.sbatch" >/dev/null
  chipref sweep "$work/sweep.yaml" -o "$work/gen" --slurm --no-submit >/dev/null
  [ $task = 1 ] && array_is 0,2 || array_is 2
done
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_JOB_ID=1 bash "$work/gen/slurm/sweep.sbatch" >/dev/null
chipref sweep "$work/sweep.yaml" -o "$work/gen" --slurm --no-submit | grep -q "from 3 shards, all finished before" || { echo "FAIL no merge"; exit 1; }
status=0
for merged in slurm/all par_all gen; do
  if cmp -s "$work/single/results.csv" "$work/$merged/results.csv"; then echo "ok   $merged/results.csv equals the single run's"
  else echo "FAIL $merged/results.csv differs:"; diff "$work/single/results.csv" "$work/$merged/results.csv" || true; status=1; fi
done
exit $status
