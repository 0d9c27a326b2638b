#include "sweep/slurm.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/process.hpp"
#include "core/progress.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace chipref::sweep {

namespace {

// "0-3,5,7-8": Slurm's --array list of the shards.
std::string array_list(const std::vector<int64_t>& shards) {
  std::string list;
  for (size_t i = 0; i < shards.size();) {
    size_t j = i;
    while (j + 1 < shards.size() && shards[j + 1] == shards[j] + 1) ++j;
    list +=
        (list.empty() ? "" : ",") + (j == i ? std::to_string(shards[i]) : fmt::format("{}-{}", shards[i], shards[j]));
    i = j + 1;
  }
  return list;
}

// The job name ties the queue's tasks to one output directory, so that a re-run finds a job still
// running (and waits for it) instead of submitting its shards a second time.
std::string job_name(const fs::path& out) {
  return fmt::format("chipref-sweep-{:08x}", content_hash(out.string()) & 0xffffffffu);
}

std::string this_binary() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw InputError("cannot find chipref's own path (/proc/self/exe) for the Slurm tasks: " + ec.message());
  return self.string();
}

fs::path status_file(const fs::path& out, int64_t shard) {
  return out / "shards" / (std::to_string(shard) + ".status");
}
fs::path shard_dir(const fs::path& out, int64_t shard) { return out / "shards" / std::to_string(shard); }
fs::path task_log(const fs::path& out, int64_t shard) {
  return out / "slurm" / ("shard-" + std::to_string(shard) + ".out");
}

std::string task_script(const SweepSpec& spec, const fs::path& out, const SlurmOptions& o, int64_t shards,
                        const std::vector<int64_t>& todo, const std::string& chipref) {
  std::string s = "#!/bin/bash\n";
  s += fmt::format(
      "# Written by `chipref sweep --slurm` (docs/cluster.md) for {}:\n"
      "# array task i runs shard i of {} into {}/shards/i. Submit it with `sbatch` on this file, then run the\n"
      "# same chipref command again: it waits for the job, merges when every shard has finished, and\n"
      "# submits again only the shards that did not.\n",
      spec.path, shards, out.string());
  s += "#SBATCH --job-name=" + job_name(out) + "\n";
  s += "#SBATCH --array=" + array_list(todo) + (o.array_max > 0 ? "%" + std::to_string(o.array_max) : "") + "\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(o.cpus) + "\n";
  s += "#SBATCH --output=" + (out / "slurm" / "shard-%a.out").string() + "\n";
  if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
  if (!o.time_limit.empty()) s += "#SBATCH --time=" + o.time_limit + "\n";
  // The status file says how the task ended; on scancel, a time limit or preemption Slurm sends SIGTERM
  // first, and the trap records it. chipref itself writes points atomically and finished.json last, so
  // a task killed at any moment leaves no result that counts as more than it is.
  s += fmt::format(
      "shard=$SLURM_ARRAY_TASK_ID\n"
      "status={status_dir}/$shard.status\n"
      "echo \"running on $(hostname) since $(date -Is), task ${{SLURM_ARRAY_JOB_ID}}_$shard\" > \"$status\"\n"
      "trap 'echo \"cancelled: SIGTERM (scancel, the time limit or preemption)\" > \"$status\"; kill -TERM \"$child\" "
      "2>/dev/null; exit 143' TERM\n"
      "{chipref} sweep {sweep} -o {shards_dir}/\"$shard\" --shard \"$shard/{n}\" -j {cpus} &\n"
      "child=$!\n"
      "wait \"$child\"\n"
      "code=$?\n"
      "if [ \"$code\" -eq 0 ]; then echo finished > \"$status\"; else echo \"exit status $code\" > \"$status\"; fi\n"
      "exit \"$code\"\n",
      fmt::arg("status_dir", shell_quote((out / "shards").string())), fmt::arg("chipref", shell_quote(chipref)),
      fmt::arg("sweep", shell_quote(fs::absolute(spec.path).lexically_normal().string())),
      fmt::arg("shards_dir", shell_quote((out / "shards").string())), fmt::arg("n", shards), fmt::arg("cpus", o.cpus));
  return s;
}

// The job's tasks still in the queue (pending or running), by its name; nullopt if squeue failed for
// another reason than the job being gone.
std::optional<std::string> queued_tasks(const std::string& name, std::string& error) {
  const CommandResult r = run_command("squeue -h --me --name=" + shell_quote(name) + " -o '%i %t'");
  if (r.status != 0) {
    error = r.output;
    return std::nullopt;
  }
  return r.output;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The first line of task i's status file; empty if the task never wrote one.
std::string status_of(const fs::path& out, int64_t shard) {
  const fs::path status = status_file(out, shard);
  return fs::is_regular_file(status) ? first_line(read_file_bytes(status.string())) : "";
}

// Each unfinished shard's reason, from its status file.
ShardFailure failure_of(const fs::path& out, int64_t shard) {
  ShardFailure f;
  f.shard = shard;
  f.log = task_log(out, shard).string();
  const std::string text = status_of(out, shard);
  if (text.empty())
    f.reason = "never started (cancelled while pending, or not part of the job)";
  else if (text.rfind("running", 0) == 0)
    f.reason = "left the queue while " + text + " (node failure or SIGKILL)";
  else if (text == "finished")
    f.reason = "exited 0 but wrote no finished.json (a different sweep file or shard count?)";
  else
    f.reason = text;
  return f;
}

}  // namespace

int64_t default_shard_count(size_t points) {
  return std::clamp<int64_t>((static_cast<int64_t>(points) + 3) / 4, 1, 100);
}

bool shard_finished(const std::string& dir, const std::string& sweep_hash, int64_t shard, int64_t shards) {
  const fs::path file = fs::path(dir) / "finished.json";
  if (!fs::is_regular_file(file)) return false;
  try {
    const json j = json::parse(read_file_bytes(file.string()));
    return j.value("sweep_hash", "") == sweep_hash && j.value("shard", int64_t{-1}) == shard &&
           j.value("shards", int64_t{-1}) == shards;
  } catch (const json::exception&) {
    return false;
  }
}

SlurmSummary run_on_slurm(const SweepSpec& spec, const std::string& out_dir, const SlurmOptions& o) {
  const fs::path out = fs::absolute(out_dir).lexically_normal();
  if (out.string().find_first_of(" \t\n%") != std::string::npos)
    throw InputError(
        "-o " + out.string() +
        ": with --slurm the output directory may not contain spaces or '%' (they would break #SBATCH --output)");
  for (const auto& [what, value] :
       {std::pair<std::string, std::string>{"--partition", o.partition}, {"--time", o.time_limit}})
    if (value.find_first_of(" \t\n'\"") != std::string::npos)
      throw InputError(what + " '" + value + "': expected one word");
  if (o.cpus < 1) throw InputError("--cpus " + std::to_string(o.cpus) + ": expected >= 1");
  const std::string hash = sweep_file_hash(spec.path);
  const std::vector<Point> points = make_points(spec, sweep_salt(spec));

  // The shard count stays what the directory was started with, for the same sweep file.
  SlurmSummary summary;
  const fs::path state = out / "slurm" / "shards.json";
  int64_t recorded = 0;
  if (fs::is_regular_file(state)) {
    try {
      const json j = json::parse(read_file_bytes(state.string()));
      if (j.value("sweep_hash", "") == hash) recorded = j.value("shards", int64_t{0});
    } catch (const json::exception& e) {
      throw InputError(state.string() + ": " + e.what());
    }
  }
  summary.shards = o.shards > 0 ? o.shards : recorded > 0 ? recorded : default_shard_count(points.size());
  if (recorded > 0 && summary.shards != recorded) {
    bool any_finished = false;
    for (int64_t s = 0; s < recorded; ++s)
      any_finished = any_finished || shard_finished(shard_dir(out, s).string(), hash, s, recorded);
    if (any_finished)
      throw InputError(fmt::format(
          "{} holds shards of this sweep run {} ways; --shards {} would start over (use --shards {}, or another -o)",
          out.string(), recorded, summary.shards, recorded));
  }
  // A sweep of only sensitivity / search has no grid points: one shard (shard 0 runs those).
  if (summary.shards > std::max<int64_t>(1, static_cast<int64_t>(points.size())))
    throw InputError(fmt::format("--shards {}: the sweep has only {} points", summary.shards, points.size()));
  fs::create_directories(out / "slurm");
  fs::create_directories(out / "shards");
  write_file_atomically(state.string(), json{{"sweep", fs::absolute(spec.path).lexically_normal().string()},
                                             {"sweep_hash", hash},
                                             {"shards", summary.shards}}
                                                .dump(1) +
                                            "\n");

  auto unfinished = [&] {
    std::vector<int64_t> left;
    for (int64_t s = 0; s < summary.shards; ++s)
      if (!shard_finished(shard_dir(out, s).string(), hash, s, summary.shards)) left.push_back(s);
    return left;
  };
  const std::string name = job_name(out);
  const std::string chipref = o.chipref.empty() ? this_binary() : o.chipref;

  // Waits until no task of ours is in the queue, drawing progress from the shards' point files.
  auto wait_for_queue = [&](const std::string& label) {
    const std::vector<int64_t> waiting = unfinished();
    std::vector<std::pair<fs::path, std::string>> expected;  // point files of the shards waited for
    for (const Point& p : points)
      if (std::binary_search(waiting.begin(), waiting.end(), static_cast<int64_t>(p.index) % summary.shards))
        expected.emplace_back(
            shard_dir(out, static_cast<int64_t>(p.index) % summary.shards) / "points" / (p.id + ".json"), p.id);
    ProgressBar progress(label, static_cast<int64_t>(expected.size()));
    // Without a terminal (a log, nohup) there is no bar: a line per shard that finishes instead.
    const bool log_lines = isatty(2) == 0;
    std::set<int64_t> reported;
    bool warned = false;
    for (;;) {
      // A shard's run writes its points into a staging directory beside the shard's and swaps it in
      // when it finishes (core/staged_output.hpp): the points found there count too.
      int64_t done = 0;
      std::map<fs::path, std::vector<fs::path>> staging_of;
      for (const auto& [file, id] : expected) {
        const fs::path shard = file.parent_path().parent_path();
        if (!staging_of.count(shard)) staging_of[shard] = staged_output_leftovers(shard);
        bool found = fs::exists(file);
        for (const fs::path& staging : staging_of[shard])
          found = found || fs::exists(staging / "points" / file.filename());
        done += found;
      }
      progress.update(done);
      if (log_lines)
        for (int64_t s : waiting)
          if (!reported.count(s) && shard_finished(shard_dir(out, s).string(), hash, s, summary.shards)) {
            reported.insert(s);
            fmt::print("shard {} finished ({} of {} shards waited for)\n", s, reported.size(), waiting.size());
            std::fflush(stdout);
          }
      std::string error;
      const std::optional<std::string> queued = queued_tasks(name, error);
      if (queued && queued->find_first_not_of(" \n") == std::string::npos) break;
      if (!queued && !warned) {
        fmt::print(stderr, "chipref: warning: squeue failed ({}); still waiting for job {}\n", first_line(error), name);
        warned = true;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(o.poll_seconds));
    }
    progress.finish();
  };

  std::string error;
  const std::optional<std::string> already = queued_tasks(name, error);
  if (!already && o.submit)
    throw InputError("squeue failed: " + first_line(error) + " (is this a Slurm submit host? SLURM_CONF?)");
  bool attached = false;
  const bool queued = already && already->find_first_not_of(" \n") != std::string::npos;
  if (queued && !o.submit)
    fmt::print(
        stderr,
        "chipref: warning: a job of {} is still queued ({}); submitting the script now would run its shards twice\n",
        out.string(), first_line(*already));
  if (queued && o.submit) {
    fmt::print(
        "{}: a job of this output directory is still queued ({}); waiting for it instead of submitting its shards "
        "again\n",
        out.string(), first_line(*already));
    std::fflush(stdout);
    summary.attached_job = first_line(*already).substr(0, first_line(*already).find_first_of("_ "));
    wait_for_queue("slurm job " + summary.attached_job);
    attached = true;  // what it left unfinished is reported below; the next run submits it again
  }
  const std::vector<int64_t> todo = unfinished();
  if (!todo.empty() && !attached) {
    summary.script = (out / "slurm" / "sweep.sbatch").string();
    write_file_atomically(summary.script, task_script(spec, out, o, summary.shards, todo, chipref));
    fs::permissions(summary.script, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
    summary.submitted = todo;
    if (!o.submit) return summary;
    for (int64_t s : todo) fs::remove(status_file(out, s));  // the statuses of the earlier attempt
    const CommandResult r = run_command("sbatch --parsable " + shell_quote(summary.script));
    if (r.status != 0) throw InputError("sbatch " + summary.script + " failed: " + r.output);
    // --parsable prints "JOBID[;CLUSTER]"; warnings may come before it (stderr is folded in).
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      const std::string id = line.substr(0, line.find(';'));
      if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos) summary.job_id = id;
    }
    if (summary.job_id.empty()) throw InputError("sbatch " + summary.script + " printed no job id: " + r.output);
    fmt::print("submitted job {}: {} of {} shards (array {}), script {}; progress from {}/shards\n", summary.job_id,
               todo.size(), summary.shards, array_list(todo), summary.script, out.string());
    std::fflush(stdout);
    wait_for_queue("slurm job " + summary.job_id);
  }
  // A task's files written on another node may show up here a little after it left the queue (NFS
  // attribute caching): a shard whose status says it finished or is running gets a few more looks.
  for (int look = 0; look < 10; ++look) {
    bool in_doubt = false;
    for (int64_t s : unfinished()) {
      const std::string text = status_of(out, s);
      in_doubt = in_doubt || text == "finished" || text.rfind("running", 0) == 0;
    }
    if (!in_doubt) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(o.poll_seconds, 1.0)));
  }
  for (int64_t s : unfinished()) summary.failures.push_back(failure_of(out, s));
  if (!summary.failures.empty()) return summary;
  std::vector<std::string> dirs;
  for (int64_t s = 0; s < summary.shards; ++s) dirs.push_back(shard_dir(out, s).string());
  summary.merge = merge_sweeps(dirs, out.string(), MergeInto::in_place);
  summary.merged = true;
  return summary;
}

}  // namespace chipref::sweep
