// The DPI-C golden model (dpi/chipref_dpi.svh, libchipref_dpi.so) called from SystemVerilog: a testbench
// Verilated here calls every function, and what it prints is checked against independent sources: the
// golden vectors chipref's engine wrote (mulshift of each layer's accumulators must give its output
// codes; a MAC tile over the linear layer's input, weights and bias must give its accumulators) and a
// table lookup computed here from docs/numerics.md §8's formula. A bad layer name stops the simulation
// with chipref's message instead of returning a silent 0.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ops/mulshift.hpp"
#include "ops/op_def.hpp"
#include "tests/rtl_bridge/example_vectors.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {

#ifdef CHIPREF_TESTBENCH_LDFLAGS
const std::string kTestbenchLdflags = "-LDFLAGS " CHIPREF_TESTBENCH_LDFLAGS;
#else
const std::string kTestbenchLdflags;
#endif

struct Run {
  int status = 0;
  std::string output;
};

Run run(const std::string& command) {
  Run r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
  r.status = pclose(pipe);
  return r;
}

// A lookup by the formula of docs/numerics.md §8, written here from the document.
int32_t lut_oracle(const std::vector<int32_t>& table, int64_t x, int64_t in_min, int shift, bool interpolate,
                   int64_t lo, int64_t hi) {
  const int64_t d = x - in_min, i = d >> shift, r = d & ((int64_t{1} << shift) - 1);
  int64_t y = table[static_cast<size_t>(i)];
  if (interpolate && shift > 0) {
    const int64_t num = (table[static_cast<size_t>(i) + 1] - table[static_cast<size_t>(i)]) * r;
    const int64_t den = int64_t{1} << shift;
    int64_t q = num >= 0 ? num / den : -((-num + den - 1) / den);  // floor
    const int64_t rem = num - q * den;
    if (2 * rem > den || (2 * rem == den && (q & 1))) ++q;  // half to even
    y += q;
  } else if (shift > 0) {
    y = table[static_cast<size_t>((d + (int64_t{1} << (shift - 1))) >> shift)];
  }
  return static_cast<int32_t>(std::clamp(y, lo, hi));
}

}  // namespace

TEST_CASE(
    "DPI/SystemVerilog calls chipref's golden model: mulshift, MAC tile and LUT agree with the golden vectors "
    "and the LUT formula, and a bad layer stops the simulation",
    "[rtl][dpi]") {
  const std::string dir = write_example_vectors("fmnist_cnn.onnx", "dpi", "");
  const IntGraph g = load_int_graph(vectors::read_manifest(dir).model);
  const Node* requant = nullptr;
  for (const Node& op : g.ops)
    if (op.op_type == "mulshift" && !requant) requant = &op;
  REQUIRE(requant != nullptr);
  const ops::MulShiftParams p = ops::read_mulshift(g, *requant);
  const IntFormat out = p.kernel.requantizer.output_format();
  const Shape shape = g.values.at(requant->inputs.at(0)).shape;
  const int64_t channels = shape.at(1), inner = shape.at(2) * shape.at(3);
  const Node& linear =
      *std::find_if(g.ops.begin(), g.ops.end(), [](const Node& n) { return n.name == "/head/Gemm.mac"; });
  const int64_t linear_input_zero_point = g.values.at(linear.inputs.at(0)).quant.zero_point;
  const std::vector<int32_t> table = {-100, -50, 0, 50, 100, 120, 127, 127, 127};

  std::ostringstream tb;
  tb << "`include \"chipref_dpi.svh\"\n"
     << "module tb;\n  import chipref_dpi::*;\n"
     << "  string dir = \"" << dir << "\";\n"
     << "  string requant = \"" << requant->name << "\";\n"
     << "  string linear = \"/head/Gemm.mac\";\n"
     << "  int lut_table[9] = '{";
  for (size_t i = 0; i < table.size(); ++i) tb << (i ? ", " : "") << table[i];
  tb << "};\n"
     << "  initial begin\n"
     << "    int compared = 0, mismatches = 0, n, ch, got;\n"
     << "    int acc[16], code[16];\n"
     << "    int a[48], b[480], bias[10], c[10];\n"
     << "    if ($test$plusargs(\"bad\")) n = expected_count(dir, \"/no/such/layer\", \"output\", 0);\n"
     << "    for (int input_index = 0; input_index < 2; input_index++) begin\n"
     << "      n = expected_count(dir, requant, \"output\", input_index);\n"
     << "      for (int e = 0; e < n; e++) begin\n"
     << "        ch = (e / " << inner << ") % " << channels << ";\n"
     << "        got = mulshift(expected(dir, requant, \"input\", input_index, e),\n"
     << "                       expected(dir, requant, \"multiplier\", input_index, ch),\n"
     << "                       expected(dir, requant, \"shift\", input_index, ch), " << p.multiplier_bits << ", \""
     << to_string(p.kernel.requantizer.flavour()) << "\", \"" << to_string(p.kernel.requantizer.rounding()) << "\", "
     << p.kernel.requantizer.zero_point() << ", " << out.bits() << ", " << (out.is_signed() ? 1 : 0) << ", "
     << p.kernel.clamp_lo << ", " << p.kernel.clamp_hi << ");\n"
     << "        compared++;\n"
     << "        if (got != expected(dir, requant, \"output\", input_index, e)) mismatches++;\n"
     << "      end\n"
     << "    end\n"
     << "    $display(\"mulshift: %0d compared, %0d mismatches\", compared, mismatches);\n"
     // the vector form on the first 16 elements (channel 0)
     << "    compared = 0; mismatches = 0;\n"
     << "    for (int e = 0; e < 16; e++) acc[e] = expected(dir, requant, \"input\", 0, e);\n"
     << "    chipref_mulshift_vector(acc, code, expected(dir, requant, \"multiplier\", 0, 0), "
     << "expected(dir, requant, \"shift\", 0, 0), " << p.multiplier_bits << ", \""
     << to_string(p.kernel.requantizer.flavour()) << "\", \"" << to_string(p.kernel.requantizer.rounding()) << "\", "
     << p.kernel.requantizer.zero_point() << ", " << out.bits() << ", " << (out.is_signed() ? 1 : 0) << ", "
     << p.kernel.clamp_lo << ", " << p.kernel.clamp_hi << ");\n"
     << "    check(\"chipref_mulshift_vector\");\n"
     << "    for (int e = 0; e < 16; e++) begin compared++; if (code[e] != expected(dir, requant, \"output\", 0, e)) "
        "mismatches++; end\n"
     << "    $display(\"mulshift_vector: %0d compared, %0d mismatches\", compared, mismatches);\n"
     // the linear layer as one MAC tile per input: a [1 x 48], b [48 x 10] from the [10, 48] weights
     << "    compared = 0; mismatches = 0;\n"
     << "    for (int input_index = 0; input_index < 2; input_index++) begin\n"
     << "      for (int k = 0; k < 48; k++) a[k] = expected(dir, linear, \"input\", input_index, k);\n"
     << "      for (int k = 0; k < 48; k++) for (int j = 0; j < 10; j++) b[k * 10 + j] = expected(dir, linear, "
        "\"weight\", input_index, j * 48 + k);\n"
     << "      for (int j = 0; j < 10; j++) bias[j] = expected(dir, linear, \"bias\", input_index, j);\n"
     << "      chipref_mac_tile(1, 10, 48, a, b, " << linear_input_zero_point << ", 0, bias, c);\n"
     << "      check(\"chipref_mac_tile\");\n"
     << "      for (int j = 0; j < 10; j++) begin compared++; if (c[j] != expected(dir, linear, \"accumulator\", "
        "input_index, j)) mismatches++; end\n"
     << "    end\n"
     << "    $display(\"mac_tile: %0d compared, %0d mismatches\", compared, mismatches);\n"
     << "    for (int x = -128; x < 128; x++) begin\n"
     << "      $display(\"lut %0d %0d %0d\", x, chipref_lut(x, lut_table, -128, 5, 1, 8, 1), "
        "chipref_lut(x, lut_table, -128, 5, 0, 8, 1));\n"
     << "      check(\"chipref_lut\");\n"
     << "    end\n"
     << "    $finish;\n  end\nendmodule\n";
  const fs::path work = fs::temp_directory_path() / "chipref_test_dpi";
  fs::remove_all(work);
  fs::create_directories(work);
  std::ofstream(work / "tb.sv") << tb.str();
  const std::string library = CHIPREF_DPI_LIBRARY;
  const Run build =
      run("cd " + work.string() + " && verilator --binary -Wno-fatal -Wno-lint -I" CHIPREF_SOURCE_DIR "/dpi tb.sv " +
          library + " -LDFLAGS -Wl,-rpath," + fs::path(library).parent_path().string() + " " + kTestbenchLdflags +
          " --Mdir obj -o tb");
  INFO(build.output);
  REQUIRE(build.status == 0);
  const Run sim = run((work / "obj" / "tb").string());
  INFO(sim.output);
  REQUIRE(sim.status == 0);
  const auto channel_elements = static_cast<int64_t>(channels * inner);
  CHECK(sim.output.find("mulshift: " + std::to_string(2 * channel_elements) + " compared, 0 mismatches") !=
        std::string::npos);
  CHECK(sim.output.find("mulshift_vector: 16 compared, 0 mismatches") != std::string::npos);
  CHECK(sim.output.find("mac_tile: 20 compared, 0 mismatches") != std::string::npos);
  int64_t lut_lines = 0;
  std::istringstream lines(sim.output);
  for (std::string line; std::getline(lines, line);) {
    int x = 0, interpolated = 0, nearest = 0;
    if (std::sscanf(line.c_str(), "lut %d %d %d", &x, &interpolated, &nearest) != 3) continue;
    INFO("x = " << x);
    CHECK(interpolated == lut_oracle(table, x, -128, 5, true, -128, 127));
    CHECK(nearest == lut_oracle(table, x, -128, 5, false, -128, 127));
    ++lut_lines;
  }
  CHECK(lut_lines == 256);

  const Run bad = run((work / "obj" / "tb").string() + " +bad");
  CHECK(bad.status != 0);
  CHECK(bad.output.find("chipref_dpi::expected_count: chipref_expected_count: " + dir +
                        ": no output of layer '/no/such/layer' for input 0 (no such layer in the manifest)") !=
        std::string::npos);
}
