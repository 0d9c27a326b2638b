#pragma once
// A sweep as a Slurm job array (docs/cluster.md): one array task per shard, each a `chipref sweep
// --shard i/N` into OUT/shards/i on the shared filesystem, which is the only coupling between this
// process and the tasks. Progress comes from the shards' point files; a shard is finished when its
// finished.json (written last, atomically) is there. Re-running the same command submits only the
// shards that are not finished, and merges when all are.

#include <string>
#include <vector>

#include "sweep/run.hpp"

namespace chipref::sweep {

struct SlurmOptions {
  std::string partition, time_limit;  // empty: the cluster's defaults
  int cpus = 1;                       // per array task; also the task's -j
  int64_t shards = 0;                 // 0: from the sweep's size (default_shard_count)
  int64_t array_max = 0;              // at most this many tasks at once (sbatch --array=...%K); 0: no limit
  bool submit = true;                 // false: write the script only
  double poll_seconds = 2;            // how often the shard files are looked at
  std::string chipref;                // the binary the tasks run; empty: this process's own
};

// One shard per 4 points, at most 100 shards.
int64_t default_shard_count(size_t points);

struct ShardFailure {
  int64_t shard = 0;
  std::string reason, log;  // what happened (exit status, cancelled, gone from the queue); the task's output file
};

struct SlurmSummary {
  int64_t shards = 0;
  std::vector<int64_t> submitted;      // the shards this call submitted (or would have, without submit)
  std::string script, job_id;          // the sbatch script; the job array's id (empty if none submitted)
  std::string attached_job;            // a job of this directory found queued and waited for, if any
  std::vector<ShardFailure> failures;  // non-empty: nothing merged
  bool merged = false;                 // every shard finished and OUT holds the merged outputs
  MergeSummary merge;
};

// Writes OUT/slurm/sweep.sbatch for the shards not finished, submits it (unless !submit), waits for the
// tasks (progress bar over the points), and merges OUT/shards/* into OUT when every shard has finished.
SlurmSummary run_on_slurm(const SweepSpec& spec, const std::string& out_dir, const SlurmOptions& options);

// OUT/shards/i is finished: its finished.json names this sweep file (by content hash) and shard i/N.
bool shard_finished(const std::string& shard_dir, const std::string& sweep_hash, int64_t shard, int64_t shards);

}  // namespace chipref::sweep
