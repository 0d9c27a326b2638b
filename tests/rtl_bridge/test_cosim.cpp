// Cosim of the reference MulShift unit (rtl_bridge/rtl/mulshift_unit.sv, Verilated) against golden
// vectors of the shipped CNN: the RTL is lint-clean, passes on every mulshift layer (half_even and
// half_up configs), and each deliberately broken variant is caught where chipref's own numerics predict
// it must differ: the same number of mismatching elements, the same first element, the same wrong value.
// The predictions come from quant/numerics' Requantizer (floor rounding for the truncating variant, no
// saturation for the unsaturated one, an even accumulator for the dropped bit), not from the RTL.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/numerics/requant.hpp"
#include "quant/quantize.hpp"
#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/mulshift_driver.hpp"
#include "vectors/vectors.hpp"
#include "Vmulshift_unit_m0.h"
#include "Vmulshift_unit_m1.h"
#include "Vmulshift_unit_m2.h"
#include "Vmulshift_unit_m3.h"
#include "Vmulshift_unit_m4.h"

using namespace chipref;
namespace fs = std::filesystem;

namespace {

// The shipped CNN quantized with `requant_line` in its defaults; golden vectors of 2 test images.
std::string write_cnn_vectors(const std::string& name, const std::string& requant_line) {
  const std::string model = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Normalisation norm = *read_sidecar_normalisation(model);
  const Graph graph = import_onnx(model);
  const QuantConfig config = parse_quant_config("defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\n" + requant_line, name + ".yaml");
  const Tensor calibration = load_fashion_mnist("train", 100, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", norm});
  const fs::path root = fs::temp_directory_path() / ("chipref_test_cosim_" + name);
  fs::remove_all(root);
  save_int_graph(q, (root / "model").string());
  vectors::Options options;
  vectors::write_vectors(q, (root / "model").string(), load_fashion_mnist("t10k", 2, norm).images, vectors::InputSource{"fashion-mnist", "", 2, ""},
                         (root / "vectors").string(), options);
  return (root / "vectors").string();
}

std::vector<std::string> mulshift_layers(const std::string& dir) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(dir).model).ops)
    if (op.op_type == "mulshift") layers.push_back(op.name);
  return layers;
}

template <class Unit>
cosim::CosimResult run_block(const std::vector<cosim::MulShiftStimulus>& inputs, int64_t watchdog = 1000) {
  cosim::CosimResult r;
  r.block = "mulshift", r.layer = inputs.at(0).layer, r.tensor = inputs[0].tensor;
  for (const auto& s : inputs) {
    Unit unit;
    cosim::drive_mulshift(unit, s, r, watchdog);
    ++r.inputs;
    if (r.hung) break;
  }
  return r;
}

// What a broken unit outputs for element i, from chipref's numerics.
int32_t predicted(int mutation, const cosim::MulShiftStimulus& s, size_t i) {
  const FixedMultiplier fixed{s.multipliers[i], s.shifts[i], s.multiplier_bits};
  const RequantChannel ch = requant_channel_of(fixed, RequantFlavour::single);
  const IntFormat any = IntFormat::make(32, true);
  const RoundingMode mode = mutation == 1 ? RoundingMode::floor : s.round_half_up ? RoundingMode::half_up : RoundingMode::half_even;
  const Requantizer rq = Requantizer::make(RequantFlavour::single, mode, any, 0);
  const int32_t acc = mutation == 3 ? (s.accumulators[i] & ~1) : s.accumulators[i];
  const int64_t raw = s.zero_point + rq.scale_only(acc, ch);
  if (mutation == 2) return static_cast<int32_t>(raw);
  return static_cast<int32_t>(std::clamp<int64_t>(std::clamp<int64_t>(raw, s.out_min, s.out_max), s.clamp_lo, s.clamp_hi));
}

template <class Unit>
int64_t check_mutation(int mutation, const std::string& dir) {
  int64_t detected_layers = 0;
  for (const std::string& layer : mulshift_layers(dir)) {
    const auto inputs = cosim::mulshift_stimulus(dir, layer);
    int64_t want_mismatches = 0;
    bool first_found = false;
    cosim::FirstMismatch want_first;
    for (const auto& s : inputs)
      for (size_t i = 0; i < s.accumulators.size(); ++i) {
        const int32_t p = predicted(mutation, s, i);
        if (p == s.expected[i]) continue;
        ++want_mismatches;
        if (!first_found) first_found = true, want_first.input = s.input, want_first.index = static_cast<int64_t>(i), want_first.got = p;
      }
    const cosim::CosimResult r = run_block<Unit>(inputs);
    INFO("mutation " << mutation << ", layer " << layer << "\n" << cosim::format_report(r));
    CHECK(!r.hung);
    CHECK(r.mismatches == want_mismatches);
    CHECK(r.has_mismatch == first_found);
    if (first_found && r.has_mismatch) {
      CHECK(r.first.input == want_first.input);
      CHECK(r.first.index == want_first.index);
      CHECK(r.first.got == want_first.got);
      CHECK(r.first.expected == inputs[static_cast<size_t>(want_first.input)].expected[static_cast<size_t>(want_first.index)]);
      CHECK(cosim::format_report(r).find("MISMATCH: mulshift on layer " + layer) == 0);
      ++detected_layers;
      std::cout << "mutation " << mutation << ": detected on " << layer << ", first at input " << r.first.input << " element " << r.first.index
                << ", " << r.mismatches << " of " << r.compared << " values differ\n";
      if (detected_layers == 1) std::cout << cosim::format_report(r);  // the report a user sees, once per mutation
    }
  }
  return detected_layers;
}

}  // namespace

TEST_CASE("Cosim/the reference RTL is lint-clean in Verilator (-Wall) and compiles in Icarus", "[rtl][cosim]") {
  for (const auto& f : fs::directory_iterator(CHIPREF_SOURCE_DIR "/rtl_bridge/rtl")) {
    if (f.path().extension() != ".sv") continue;
    for (int m = 0; m <= 4; ++m) {
      const std::string lint = "verilator --lint-only -Wall -GMUTATION=" + std::to_string(m) + " " + f.path().string() + " 2>&1";
      INFO(lint);
      CHECK(std::system(lint.c_str()) == 0);
    }
    // Not -o /dev/null: iverilog marks its output executable (chmod), which would break /dev/null.
    const std::string icarus = "iverilog -g2012 -o " + (fs::temp_directory_path() / "chipref_test_cosim_icarus.vvp").string() + " " + f.path().string() + " >/dev/null 2>&1";
    INFO(icarus);
    CHECK(std::system(icarus.c_str()) == 0);
  }
}

TEST_CASE("Cosim/the reference MulShift unit matches every mulshift layer of the CNN, half_even and half_up", "[rtl][cosim]") {
  for (const auto& [name, requant] : {std::pair<std::string, std::string>{"half_even", ""}, {"half_up", "  requant: {rounding: half_up}\n"}}) {
    const std::string dir = write_cnn_vectors(name, requant);
    int64_t layers = 0;
    for (const std::string& layer : mulshift_layers(dir)) {
      const auto inputs = cosim::mulshift_stimulus(dir, layer);
      REQUIRE(inputs.size() == 2);
      const cosim::CosimResult r = run_block<Vmulshift_unit_m0>(inputs);
      INFO(cosim::format_report(r));
      CHECK(r.passed());
      CHECK(r.compared == static_cast<int64_t>(inputs[0].expected.size() + inputs[1].expected.size()));
      CHECK(cosim::format_report(r).find("PASS: mulshift on layer " + layer) == 0);
      ++layers;
    }
    CHECK(layers == 8);
  }
}

TEST_CASE("Cosim/every broken MulShift variant is caught at the element chipref's numerics predict", "[rtl][cosim][mutation]") {
  const std::string dir = write_cnn_vectors("mutations", "");
  CHECK(check_mutation<Vmulshift_unit_m1>(1, dir) > 0);  // truncation instead of rounding
  CHECK(check_mutation<Vmulshift_unit_m2>(2, dir) > 0);  // no saturation or clamp
  CHECK(check_mutation<Vmulshift_unit_m3>(3, dir) > 0);  // accumulator bit 0 dropped
}

TEST_CASE("Cosim/a hung block ends at the watchdog with the cycle and last handshake", "[rtl][cosim]") {
  const std::string dir = write_cnn_vectors("hung", "");
  const auto inputs = cosim::mulshift_stimulus(dir, "/head/Gemm.requant");
  const cosim::CosimResult r = run_block<Vmulshift_unit_m4>(inputs, 50);
  CHECK(r.hung);
  CHECK(!r.passed());
  const std::string report = cosim::format_report(r);
  INFO(report);
  CHECK(report.find("HUNG: mulshift on layer /head/Gemm.requant") == 0);
  CHECK(report.find("no handshake for 50 cycles") != std::string::npos);
  CHECK(report.find("0 of 10 elements sent") != std::string::npos);
  CHECK_THROWS_WITH(cosim::mulshift_stimulus(dir, "/Add"), Catch::Contains("is not a mulshift op") && Catch::Contains("/head/Gemm.requant"));
}
