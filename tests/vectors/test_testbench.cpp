// The testbench proof of docs/vectors.md: .mem files chipref writes load with $readmemh into both
// simulators RTL teams use — Verilator 5.006 (--binary) and Icarus Verilog (iverilog -g2012) — and the
// words the simulator sees give the same checksum as the integers chipref wrote. Widths 1, 8 (signed
// weights), 12 and 32 (accumulators), element counts up to 4096. Registered only where CMake found
// both simulators (scripts/setup installs them).

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "core/files.hpp"
#include "vectors/encoding.hpp"

using namespace chipref;
using namespace chipref::vectors;
namespace fs = std::filesystem;

namespace {
uint64_t checksum(const std::vector<int64_t>& values, int bits) {
  uint64_t sum = 0;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  for (size_t i = 0; i < values.size(); ++i)
    sum = (sum + (static_cast<uint64_t>(values[i]) & mask) * (i + 1)) % (uint64_t{1} << 32);
  return sum;
}

// Runs a shell command, returns its stdout; fails the test on a non-zero exit.
std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
  const int status = pclose(p);
  INFO(command << "\n" << out);
  REQUIRE(status == 0);
  return out;
}

uint64_t printed_checksum(const std::string& output) {
  const size_t at = output.find("CHECKSUM ");
  REQUIRE(at != std::string::npos);
  return std::stoull(output.substr(at + 9));
}
}  // namespace

TEST_CASE("Testbench/$readmemh of chipref .mem files in Verilator and Icarus gives chipref's checksum",
          "[vectors][testbench]") {
  const fs::path dir = fs::temp_directory_path() / "chipref_test_testbench";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string tb = CHIPREF_SOURCE_DIR "/tests/vectors/readmem_checksum.sv";
  std::mt19937_64 rng(71);
  struct Case {
    int bits;
    bool is_signed;
    int64_t depth;
    bool verilator;  // Verilator compiles each shape: two cases keep the test short
  };
  for (const Case& c : {Case{8, true, 1024, true}, Case{32, true, 4096, true}, Case{12, false, 300, false},
                        Case{1, false, 65, false}}) {
    const ElementType type{c.bits, c.is_signed};
    std::uniform_int_distribution<int64_t> d(type.min(), type.max());
    std::vector<int64_t> values = {type.min(), type.max()};
    while (static_cast<int64_t>(values.size()) < c.depth) values.push_back(d(rng));
    const std::string name = "w" + std::to_string(c.bits);
    const fs::path mem = dir / (name + ".mem");
    write_file_atomically(mem.string(), encode(values, {c.depth}, type, Format::mem, name));
    const uint64_t expected = checksum(values, c.bits);
    INFO(c.bits << "-bit, " << c.depth << " words, expected checksum " << expected);
    const std::string params = " -P readmem_checksum.DEPTH=" + std::to_string(c.depth) +
                               " -P readmem_checksum.WIDTH=" + std::to_string(c.bits) +
                               " -P 'readmem_checksum.FILE=\"" + mem.string() + "\"'";
    run("iverilog -g2012 -o " + (dir / (name + ".vvp")).string() + params + " " + tb);
    CHECK(printed_checksum(run("vvp -n " + (dir / (name + ".vvp")).string())) == expected);
    if (!c.verilator) continue;
    const fs::path build = dir / ("obj_" + name);
    run("verilator --binary -O3 -Wno-fatal --top-module readmem_checksum -GDEPTH=" + std::to_string(c.depth) +
        " -GWIDTH=" + std::to_string(c.bits) + " '-GFILE=\"" + mem.string() + "\"' --Mdir " + build.string() +
        " -o tb " + tb);
    CHECK(printed_checksum(run((build / "tb").string())) == expected);
  }
  fs::remove_all(dir);
}
