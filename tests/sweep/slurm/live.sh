#!/usr/bin/env bash
# `chipref sweep --slurm` against a live single-node Slurm (started by cluster.sh as a ctest fixture):
#  1. a sweep run as a 3-task job array, merged: results.csv and results.json equal to the local -j 2
#     run's, point for point;
#  2. a second sweep whose running task 0 is cancelled with scancel: chipref exits 1 naming shard 0 as
#     cancelled; the same command again submits only shard 0 (tasks 1 and 2 untouched) and the merged
#     result equals the local run's;
#  3. --no-submit, the script submitted by hand with sbatch, then the same command attaches to the
#     queued job instead of submitting again, and merges.
# Usage: live.sh SOURCE_DIR BIN_DIR CLUSTER_DIR
set -euo pipefail
src=$1 bin=$2 cluster=$3
export SLURM_CONF=$cluster/slurm.conf
[ -f "$SLURM_CONF" ] || { echo "FAIL no cluster at $cluster (the fixture 'Slurm/start' did not run or failed)"; exit 1; }
work=$(mktemp -d /tmp/chipref-slurm-test.XXXXXX)
trap 'scancel --me 2>/dev/null || true; rm -rf "$work"' EXIT
chipref=$bin/chipref
status=0
fail() { echo "FAIL $*"; status=1; }
ok() { echo "ok   $*"; }
same_results() {  # DIR_A DIR_B WHAT
  for f in results.csv results.json; do
    if cmp -s "$1/$f" "$2/$f"; then ok "$3: $f equals the local -j 2 run's"
    else fail "$3: $f differs from the local -j 2 run's"; diff "$1/$f" "$2/$f" | head -20 || true; fi
  done
}
write_sweep() {  # FILE EVAL_IMAGES
  cat >"$1" <<YAML
model: $src/examples/fmnist_cnn.onnx
base: $src/configs/w8a8.yaml
data: {eval_images: $2, calibration_images: 50, detail_images: 20}
axes:
  weight_bits: {key: weights.bits, values: [4, 5, 6, 8]}
  act_bits: {key: activations.bits, values: [6, 8]}
YAML
}

# 1. The whole sweep on Slurm equals the local run.
write_sweep "$work/a.yaml" 300
"$chipref" sweep "$work/a.yaml" -o "$work/a_local" -j 2 >/dev/null
"$chipref" sweep "$work/a.yaml" -o "$work/a_slurm" --slurm --shards 3 --poll 0.3 >"$work/a.log" 2>&1 || { cat "$work/a.log"; fail "the Slurm run failed"; }
grep -q "submitted job .*: 3 of 3 shards (array 0-2)" "$work/a.log" && ok "3 array tasks submitted" || { cat "$work/a.log"; fail "not 3 tasks submitted"; }
same_results "$work/a_local" "$work/a_slurm" "job array"

# 2. A running task cancelled; the re-run submits only it.
write_sweep "$work/b.yaml" 3000
"$chipref" sweep "$work/b.yaml" -o "$work/b_local" -j 2 >/dev/null
set +e
"$chipref" sweep "$work/b.yaml" -o "$work/b_slurm" --slurm --shards 3 --array-max 2 --poll 0.3 >"$work/b1.log" 2>&1 &
run=$!
set -e
started=0
for _ in $(seq 600); do
  if grep -qs '^running' "$work/b_slurm/shards/0.status"; then started=1; break; fi
  sleep 0.05
done
[ $started = 1 ] || fail "task 0 never started"
job=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' "$work/b1.log")
[ -n "$job" ] || job=$(squeue -h --me -o %F | head -1)
scancel "${job}_0"
set +e
wait $run
code=$?
set -e
[ $code = 1 ] && ok "a cancelled task: exit status 1" || { cat "$work/b1.log"; fail "a cancelled task gave exit status $code, not 1"; }
grep -q "shard 0: cancelled: SIGTERM" "$work/b1.log" && ok "the failure names shard 0 as cancelled" || { cat "$work/b1.log"; fail "shard 0 not reported as cancelled"; }
[ ! -f "$work/b_slurm/shards/0/finished.json" ] && ok "the cancelled shard has no finished.json" || fail "the cancelled shard has a finished.json"
[ ! -f "$work/b_slurm/results.csv" ] && ok "nothing merged" || fail "results.csv written although a shard failed"
before=$(stat -c %Y.%s "$work/b_slurm/shards/1/finished.json" "$work/b_slurm/shards/2/finished.json")
"$chipref" sweep "$work/b.yaml" -o "$work/b_slurm" --slurm --poll 0.3 >"$work/b2.log" 2>&1 || { cat "$work/b2.log"; fail "the re-run failed"; }
grep -q "submitted job .*: 1 of 3 shards (array 0)" "$work/b2.log" && ok "the re-run submits only shard 0" || { cat "$work/b2.log"; fail "the re-run did not submit exactly shard 0"; }
after=$(stat -c %Y.%s "$work/b_slurm/shards/1/finished.json" "$work/b_slurm/shards/2/finished.json")
[ "$before" = "$after" ] && ok "shards 1 and 2 not run again" || fail "shards 1 and 2 were run again"
same_results "$work/b_local" "$work/b_slurm" "after the re-run"

# 3. The script submitted by hand; the command waits for that job rather than submitting its own.
"$chipref" sweep "$work/a.yaml" -o "$work/c_slurm" --slurm --shards 2 --no-submit >"$work/c1.log"
sbatch "$work/c_slurm/slurm/sweep.sbatch" >/dev/null
"$chipref" sweep "$work/a.yaml" -o "$work/c_slurm" --slurm --poll 0.3 >"$work/c2.log" 2>&1 || { cat "$work/c2.log"; fail "waiting for the hand-submitted job failed"; }
grep -q "still queued" "$work/c2.log" && ! grep -q "^submitted job" "$work/c2.log" && ok "the command attached to the hand-submitted job" ||
  { cat "$work/c2.log"; fail "did not attach to the hand-submitted job"; }
same_results "$work/a_local" "$work/c_slurm" "hand-submitted"
exit $status
