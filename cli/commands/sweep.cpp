#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "cli/commands/commands.hpp"
#include "core/error.hpp"
#include "sweep/report.hpp"
#include "sweep/run.hpp"
#include "sweep/slurm.hpp"

namespace chipref::cli {

namespace {
// 1 when the sweep had points and none succeeded (its outputs are still written, the failures in them),
// with the first failure on stderr; else 0.
int status_of(const std::vector<sweep::PointResult>& results) {
  const auto ok =
      std::find_if(results.begin(), results.end(), [](const sweep::PointResult& r) { return r.error.empty(); });
  if (results.empty() || ok != results.end()) return 0;
  std::fflush(stdout);  // the summary line first
  fmt::print(stderr, "chipref: error: every one of the {} points failed; the first (point {}): {}\n", results.size(),
             results.front().id, results.front().error);
  return 1;
}

struct SweepOptions {
  std::string sweep_file, output, shard;
  int jobs = 1;
  std::vector<std::string> merge_dirs;
  std::string merge_output;
  bool slurm = false, no_submit = false;
  sweep::SlurmOptions cluster;
};

int run_slurm_command(const SweepOptions& o, const sweep::SweepSpec& spec) {
  sweep::SlurmOptions cluster = o.cluster;
  cluster.submit = !o.no_submit;
  const sweep::SlurmSummary s = sweep::run_on_slurm(spec, o.output, cluster);
  if (!s.failures.empty()) {
    fmt::print(stderr,
               "chipref: error: {} of {} shards did not finish; nothing merged. Run the same command again to submit "
               "only them.\n",
               s.failures.size(), s.shards);
    for (const sweep::ShardFailure& f : s.failures)
      fmt::print(stderr, "  shard {}: {} (log {})\n", f.shard, f.reason, f.log);
    return 1;
  }
  if (!s.merged) {
    fmt::print(
        "wrote {} for {} of {} shards; submit it with: sbatch {}\nthen run this command again without --no-submit to "
        "wait and merge\n",
        s.script, s.submitted.size(), s.shards, s.script);
    return 0;
  }
  int64_t failed = 0;
  for (const sweep::PointResult& r : s.merge.results) failed += !r.error.empty();
  fmt::print("{}: {} grid points ({} failed) from {} shards{} -> {}/results.csv, report.md, report.html\n",
             o.sweep_file, s.merge.results.size(), failed, s.shards,
             !s.submitted.empty()      ? fmt::format(", {} run by job {}", s.submitted.size(), s.job_id)
             : !s.attached_job.empty() ? fmt::format(", waited for job {}", s.attached_job)
                                       : ", all finished before",
             o.output);
  return status_of(s.merge.results);
}

int run_sweep_command(const SweepOptions& o) {
  const sweep::SweepSpec spec = sweep::load_sweep(o.sweep_file);
  if (o.slurm) {
    if (!o.shard.empty())
      throw InputError("--shard and --slurm: --slurm runs every shard as a task of a job array; give one of them");
    return run_slurm_command(o, spec);
  }
  sweep::RunOptions run;
  run.jobs = o.jobs;
  if (!o.shard.empty()) {
    const size_t slash = o.shard.find('/');
    try {
      if (slash == std::string::npos) throw std::invalid_argument("no slash");
      run.shard = std::stoll(o.shard.substr(0, slash)), run.shards = std::stoll(o.shard.substr(slash + 1));
    } catch (const std::exception&) {
      throw InputError("--shard '" + o.shard + "': expected i/N, e.g. 0/4");
    }
  }
  const sweep::RunSummary s = sweep::run_sweep(spec, o.output, run);
  fmt::print(
      "{}: {} grid points{} ({} failed); {} points computed, {} cached -> {}/results.csv, report.md, report.html\n",
      o.sweep_file, s.results.size(), run.shards > 1 ? fmt::format(" of shard {}/{}", run.shard, run.shards) : "",
      s.failed, s.computed, s.cached, o.output);
  if (const auto& sens = s.analyses.sensitivity)
    fmt::print("sensitivity: {} layers at {} = {} -> {}/sensitivity.csv\n", sens->layers.size(), sens->key, sens->value,
               o.output);
  if (const auto& search = s.analyses.search) {
    if (search->reached)
      fmt::print("search: {} steps, {} {:.4f} (target {}) -> {}/search_config.yaml\n", search->steps.size(),
                 sweep::metric_label(spec.metric),
                 search->steps.empty() ? search->start.accuracy() : search->steps.back().result.accuracy(),
                 search->target, o.output);
    else
      fmt::print("search: the target {} {} is not reached even at the start ({:.4f})\n",
                 sweep::metric_label(spec.metric), search->target, search->start.accuracy());
  }
  return status_of(s.results);
}

int run_merge(const SweepOptions& o) {
  const sweep::MergeSummary m = sweep::merge_sweeps(o.merge_dirs, o.merge_output);
  fmt::print("{} directories: {} points merged{} -> {}/results.csv, report.md, report.html\n", o.merge_dirs.size(),
             m.results.size(), m.missing ? fmt::format(", {} of the sweep's points in none of them", m.missing) : "",
             o.merge_output);
  return status_of(m.results);
}
}  // namespace

void add_sweep_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SweepOptions>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Quantize and evaluate every point of a sweep file (bit widths, sparsity, non-linears...) and report accuracy "
      "against cost with the Pareto front (docs/sweep.md)");
  cmd->add_option("SWEEP", o->sweep_file, "Sweep file (YAML: model, base, axes, sampling)")->check(CLI::ExistingFile);
  cmd->add_option(
      "-o,--output", o->output,
      "Output directory (results.csv, results.json, plots, report.md/html; points/ caches finished points)");
  cmd->add_option("-j,--jobs", o->jobs, "Points evaluated in parallel")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--shard", o->shard,
                  "Run only the points whose index is i modulo N (i/N), e.g. one task of a Slurm array; combine with "
                  "'sweep merge'");
  auto* slurm = cmd->add_flag("--slurm", o->slurm,
                              "Run the shards as a Slurm job array (sbatch), wait for them and merge; a re-run submits "
                              "only the shards that did not "
                              "finish (docs/cluster.md)");
  const std::string group = "Slurm (with --slurm)";
  cmd->add_option("--shards", o->cluster.shards, "Shards (array tasks); default one per 4 points, at most 100")
      ->check(CLI::Range(1, 100000))
      ->group(group);
  cmd->add_option("--cpus", o->cluster.cpus, "CPUs per task, also its -j")
      ->check(CLI::Range(1, 256))
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--partition", o->cluster.partition, "Slurm partition (default: the cluster's)")->group(group);
  cmd->add_option("--time", o->cluster.time_limit,
                  "Time limit per task, in Slurm's format, e.g. 30 or 1:00:00 (default: the partition's)")
      ->group(group);
  cmd->add_option("--array-max", o->cluster.array_max, "At most this many tasks running at once (sbatch --array=...%K)")
      ->check(CLI::Range(1, 100000))
      ->group(group);
  cmd->add_option("--poll", o->cluster.poll_seconds, "Seconds between looks at the shards' files and the queue")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str()
      ->group(group);
  cmd->add_flag("--no-submit", o->no_submit,
                "Only write OUT/slurm/sweep.sbatch (for the shards not finished) to submit by hand")
      ->group(group);
  for (const char* needs_slurm :
       {"--shards", "--cpus", "--partition", "--time", "--array-max", "--poll", "--no-submit"})
    cmd->get_option(needs_slurm)->needs(slurm);
  auto* merge = cmd->add_subcommand(
      "merge", "Combine the run directories of one sweep (shards, other machines) into one with all outputs");
  merge->add_option("DIRS", o->merge_dirs, "Run directories of the same sweep file")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->add_option("-o,--output", o->merge_output, "Output directory")->required();
  merge->callback([&exit_code, o] { exit_code = run_merge(*o); });
  cmd->callback([&exit_code, o, merge] {
    if (merge->parsed()) return;
    if (o->sweep_file.empty() || o->output.empty())
      throw CLI::ValidationError("sweep", "SWEEP and -o DIR are required (or: sweep merge DIR... -o DIR)");
    exit_code = run_sweep_command(*o);
  });
}

}  // namespace chipref::cli
