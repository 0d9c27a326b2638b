// The testbench proof of docs/vectors.md: .mem files chipref writes load with $readmemh into both
// simulators RTL teams use — Verilator 5.006 (--binary) and Icarus Verilog (iverilog -g2012) — and the
// words the simulator sees give the same checksum as the integers chipref wrote. Widths 1, 8 (signed
// weights), 12 and 32 (accumulators), element counts up to 4096; and sub-8-bit elements packed into words
// (4-bit weights 8 to a 32-bit word, 2-bit ones 16 to a word msb-first), unpacked by the testbench.
// Registered only where CMake found both simulators (scripts/setup installs them).

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "core/files.hpp"
#include "vectors/encoding.hpp"
#include "vectors/layout.hpp"

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
    int64_t count;   // elements
    bool verilator;  // Verilator compiles each shape: three cases keep the test short
    int per_word = 1;
    bool msb_first = false;
  };
  for (const Case& c : {Case{8, true, 1024, true}, Case{32, true, 4096, true}, Case{12, false, 300, false},
                        Case{1, false, 65, false}, Case{4, true, 1001, true, 8}, Case{2, false, 77, false, 16, true}}) {
    const ElementType type{c.bits, c.is_signed};
    std::uniform_int_distribution<int64_t> d(type.min(), type.max());
    std::vector<int64_t> values = {type.min(), type.max()};
    while (static_cast<int64_t>(values.size()) < c.count) values.push_back(d(rng));
    const std::string name = "w" + std::to_string(c.bits);
    const fs::path mem = dir / (name + ".mem");
    // The words as `vectors` writes them: pack, then encode at the word's width.
    Layout layout = parse_layout("nchw");
    layout.per_word = c.per_word, layout.msb_first = c.msb_first;
    const std::vector<int64_t> words = pack(layout, type, values);
    const auto depth = static_cast<int64_t>(words.size());
    write_file_atomically(mem.string(), encode(words, {depth}, word_type(layout, type), Format::mem, name));
    const uint64_t expected = checksum(values, c.bits);
    INFO(c.bits << "-bit, " << c.count << " elements, " << c.per_word << " a word, expected checksum " << expected);
    const std::map<std::string, std::string> parameters = {{"DEPTH", std::to_string(depth)},
                                                           {"WIDTH", std::to_string(c.bits)},
                                                           {"PER_WORD", std::to_string(c.per_word)},
                                                           {"COUNT", std::to_string(c.count)},
                                                           {"MSB_FIRST", c.msb_first ? "1" : "0"}};
    std::string icarus, verilator;
    for (const auto& [key, value] : parameters)
      icarus += " -P readmem_checksum." + key + "=" + value, verilator += " -G" + key + "=" + value;
    run("iverilog -g2012 -o " + (dir / (name + ".vvp")).string() + icarus + " -P 'readmem_checksum.FILE=\"" +
        mem.string() + "\"' " + tb);
    CHECK(printed_checksum(run("vvp -n " + (dir / (name + ".vvp")).string())) == expected);
    if (!c.verilator) continue;
    const fs::path build = dir / ("obj_" + name);
    run("verilator --binary -O3 -Wno-fatal --top-module readmem_checksum" + verilator + " '-GFILE=\"" + mem.string() +
        "\"' --Mdir " + build.string() + " -o tb " + tb);
    CHECK(printed_checksum(run((build / "tb").string())) == expected);
  }
  fs::remove_all(dir);
}
