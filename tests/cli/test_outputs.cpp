// Outputs under crashes and concurrent writers (docs/errors.md, "Outputs"), driven through the chipref
// binary as a user runs it: SIGKILL at seeded random instants while quantize, vectors and sweep replace a
// good earlier output, and two writers into one target. After every kill the target must be, byte for
// byte, the old output or the new one, anything else beside it must be a named leftover of the dead run,
// and the next run must succeed and leave nothing behind.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace fs = std::filesystem;

namespace {

const std::string kChipref = CHIPREF_BIN;
const fs::path kSource = CHIPREF_SOURCE_DIR;

// Every file under DIR (its relative path → its bytes); `skip` names a subdirectory left out.
using Snapshot = std::map<std::string, std::string>;
Snapshot snapshot(const fs::path& dir, const std::string& skip = "") {
  Snapshot s;
  if (!fs::exists(dir)) return s;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = fs::relative(entry.path(), dir).generic_string();
    if (!skip.empty() && relative.rfind(skip + "/", 0) == 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    s[relative] = bytes.str();
  }
  return s;
}

// What lies beside TARGET in its parent, other than TARGET itself and `keep`.
std::vector<std::string> beside(const fs::path& target, const std::vector<std::string>& keep = {}) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(target.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name != target.filename().string() && std::find(keep.begin(), keep.end(), name) == keep.end())
      names.push_back(name);
  }
  return names;
}

// A dead run's leftover for TARGET: ".NAME.HASH.chipref-..." (core/staged_output.hpp).
bool named_leftover(const std::string& name, const fs::path& target) {
  const std::string prefix = "." + target.filename().string().substr(0, 48) + ".";
  return name.rfind(prefix, 0) == 0 && name.find(".chipref-") != std::string::npos;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(kChipref.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, kChipref.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  REQUIRE(error == 0);
  return pid;
}

// The exit status, or 128 + the signal that ended it.
int wait_for(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(const std::vector<std::string>& args) { return wait_for(spawn(args)); }

double seconds_of(const std::vector<std::string>& args) {
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(run(args) == 0);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("chipref_test_outputs_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

std::string sweep_file(const fs::path& dir, const std::string& name, const std::string& values) {
  return write(dir / name, "model: " + (kSource / "examples/fmnist_cnn.onnx").string() +
                               "\nbase: " + (kSource / "configs/w8a8.yaml").string() +
                               "\ndata: {eval_images: 20, calibration_images: 10, detail_images: 5}\naxes:\n  "
                               "weight_bits: {key: weights.bits, values: " +
                               values + "}\n");
}

// Kills `make_new` (which replaces TARGET's `old` output with `new`) at `trials` seeded instants spread
// over 1.5 times one run's duration; after each kill checks the target and runs `make_old` to completion (the
// next run succeeds, cleans up, and restores the old output for the next trial).
void kill_at_random_instants(const fs::path& target, const std::vector<std::string>& make_old,
                             const std::vector<std::string>& make_new, const std::vector<std::string>& keep,
                             const std::string& skip, int trials, uint32_t seed) {
  // Each command once first: a sweep's later runs find their points cached, and the kill instants must
  // spread over a run as long as the trials' runs.
  REQUIRE(run(make_old) == 0);
  REQUIRE(run(make_new) == 0);
  REQUIRE(run(make_old) == 0);
  const Snapshot old_output = snapshot(target, skip);
  // the shortest of three runs: a run slowed by a passing hiccup, or by a test on the other core that the trials
  // then no longer share it with, drew the instants past the trials' runs (4 of 50 killed once with one run
  // timed, 8 of 50 once with the median of three, each in a full ctest run); a shorter window only moves more
  // of the instants into the runs
  std::array<double, 3> durations{};
  for (double& d : durations) d = seconds_of(make_new);
  const double duration = *std::min_element(durations.begin(), durations.end());
  const Snapshot new_output = snapshot(target, skip);
  REQUIRE(run(make_old) == 0);
  REQUIRE(snapshot(target, skip) == old_output);  // deterministic, so "old" is one known state
  REQUIRE(old_output != new_output);
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> instant(0.0, 1.5 * duration);
  int old_seen = 0, new_seen = 0, killed = 0;
  for (int t = 0; t < trials; ++t) {
    const double at = instant(random);
    INFO("trial " << t << ": SIGKILL after " << at * 1000 << " ms of a " << duration * 1000 << " ms run");
    const pid_t pid = spawn(make_new);
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    kill(pid, SIGKILL);
    killed += wait_for(pid) == 128 + SIGKILL;
    const Snapshot now = snapshot(target, skip);
    const bool is_old = now == old_output, is_new = now == new_output;
    CHECK((is_old || is_new));
    old_seen += is_old, new_seen += is_new;
    for (const std::string& name : beside(target, keep)) CHECK(named_leftover(name, target));
    REQUIRE(run(make_old) == 0);
    CHECK(snapshot(target, skip) == old_output);
    CHECK(beside(target, keep).empty());
  }
  // The instants cover the run: some kills left the old output, and a good part struck a run still
  // going (not most of them for sure: a loaded machine runs the trials faster or slower than the run
  // the instants were drawn against).
  CHECK(old_seen > 0);
  CHECK(killed >= trials / 5);
  WARN(target.filename().string() << ": " << killed << " of " << trials << " runs killed; the old output after "
                                  << old_seen << ", the new after " << new_seen);
}

// Two writers into one TARGET at once, `trials` times: both exit 0, and the target is one of the two
// complete outputs, with nothing left beside it.
void two_writers(const fs::path& target, const std::vector<std::string>& a, const std::vector<std::string>& b,
                 const std::vector<std::string>& keep, const std::vector<std::string>& check, int trials) {
  REQUIRE(run(a) == 0);
  const Snapshot output_a = snapshot(target);
  REQUIRE(run(b) == 0);
  const Snapshot output_b = snapshot(target);
  REQUIRE(output_a != output_b);
  for (int t = 0; t < trials; ++t) {
    INFO("trial " << t);
    const pid_t first = spawn(t % 2 ? a : b), second = spawn(t % 2 ? b : a);
    CHECK(wait_for(first) == 0);
    CHECK(wait_for(second) == 0);
    const Snapshot now = snapshot(target);
    CHECK((now == output_a || now == output_b));
    if (!check.empty()) CHECK(run(check) == 0);
    CHECK(beside(target, keep).empty());
  }
}

}  // namespace

TEST_CASE(
    "Outputs/quantize killed at 50 random instants over a good IntGraph leaves the old or the new one, and the next "
    "run succeeds",
    "[outputs]") {
  const fs::path dir = scratch("kill_quantize");
  const std::string model = (kSource / "examples/fmnist_cnn.onnx").string(), target = (dir / "q").string();
  auto quantize = [&](const char* config) {
    return std::vector<std::string>{"quantize",      model, "--config", (kSource / "configs" / config).string(),
                                    "--calib-count", "20",  "-o",       target};
  };
  kill_at_random_instants(target, quantize("w8a8.yaml"), quantize("w4a8.yaml"), {}, "", 50, 23);
}

TEST_CASE(
    "Outputs/vectors killed at 50 random instants over good vectors leaves the old or the new ones, never a stale file",
    "[outputs]") {
  const fs::path dir = scratch("kill_vectors");
  const std::string graph = (dir / "q").string(), target = (dir / "out" / "vec").string();
  REQUIRE(run({"quantize", (kSource / "examples/fmnist_cnn.onnx").string(), "--config",
               (kSource / "configs/w8a8.yaml").string(), "--calib-count", "20", "-o", graph}) == 0);
  fs::create_directories(dir / "out");
  auto vectors = [&](const char* count) {
    return std::vector<std::string>{"vectors", graph, "--data", "fashion-mnist", "--count", count, "-o", target};
  };
  kill_at_random_instants(target, vectors("3"), vectors("1"), {}, "", 50, 24);
}

TEST_CASE("Outputs/sweep killed at 50 random instants over a finished sweep leaves its old report or the new one",
          "[outputs]") {
  const fs::path dir = scratch("kill_sweep");
  const std::string a = sweep_file(dir, "a.yaml", "[4, 8]"), b = sweep_file(dir, "b.yaml", "[3, 5]");
  fs::create_directories(dir / "out");
  const std::string target = (dir / "out" / "sweep").string();
  // points/ is the cache every run adds to (each file written atomically): the report and finished.json
  // are the result compared.
  kill_at_random_instants(target, {"sweep", a, "-o", target}, {"sweep", b, "-o", target}, {}, "points", 50, 25);
}

TEST_CASE(
    "Outputs/two quantize and two vectors runs into one target, 50 times each: both succeed, one complete output stays",
    "[outputs]") {
  const fs::path dir = scratch("two_writers");
  const std::string model = (kSource / "examples/fmnist_cnn.onnx").string();
  fs::create_directories(dir / "q_out");
  const std::string q = (dir / "q_out" / "q").string();
  auto quantize = [&](const char* config) {
    return std::vector<std::string>{"quantize",      model, "--config", (kSource / "configs" / config).string(),
                                    "--calib-count", "20",  "-o",       q};
  };
  two_writers(q, quantize("w8a8.yaml"), quantize("w4a8.yaml"), {}, {"inspect", q}, 50);

  REQUIRE(run(quantize("w8a8.yaml")) == 0);
  fs::create_directories(dir / "v_out");
  const std::string v = (dir / "v_out" / "vec").string();
  auto vectors = [&](const char* count) {
    return std::vector<std::string>{"vectors", q, "--data", "fashion-mnist", "--count", count, "-o", v};
  };
  two_writers(v, vectors("2"), vectors("1"), {}, {"vectors", "verify", v}, 50);
}
