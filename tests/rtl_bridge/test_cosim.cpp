// Cosim of the reference RTL (rtl_bridge/rtl/, Verilated) against golden vectors of the shipped CNN: the
// RTL is lint-clean; the MulShift unit passes on every mulshift layer (half_even and half_up configs) and
// the MAC array on every conv/linear layer (16 x 16, and 4 x 5 with partial tiles); each deliberately
// broken variant is caught where an independent prediction says it must differ: the same number of
// mismatching elements, the same first element, the same wrong value. MulShift predictions come from
// numerics' Requantizer (floor rounding, no saturation, an even accumulator); MAC array predictions
// from the golden accumulators, weights and bias (+ z_a·Σw without the zero point, the sum wrapped to 16
// bits, the sum without the bias).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "Vlut_unit_m0.h"
#include "Vlut_unit_m1.h"
#include "Vmac_array_16x16.h"
#include "Vmac_array_4x5_m0.h"
#include "Vmac_array_4x5_m1.h"
#include "Vmac_array_4x5_m2.h"
#include "Vmac_array_4x5_m3.h"
#include "Vmac_array_ws_16x16.h"
#include "Vmac_array_ws_4x5_m0.h"
#include "Vmac_array_ws_4x5_m1.h"
#include "Vmac_array_ws_4x5_m2.h"
#include "Vmac_array_ws_4x5_m3.h"
#include "Vmulshift_unit_m0.h"
#include "Vmulshift_unit_m1.h"
#include "Vmulshift_unit_m2.h"
#include "Vmulshift_unit_m3.h"
#include "Vmulshift_unit_m4.h"
#include "Vmx_dot_unit_e4m3_m0.h"
#include "Vmx_dot_unit_e4m3_m1.h"
#include "Vmx_dot_unit_e4m3_m2.h"
#include "Vsparse_decoder_m0.h"
#include "Vsparse_decoder_m1.h"
#include "core/files.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "numerics/requant.hpp"
#include "quant/quantize.hpp"
#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/linked_design.hpp"
#include "rtl_bridge/reference_blocks.hpp"
#include "rtl_bridge/systemc_blocks.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"
#include "tests/rtl_bridge/example_vectors.hpp"
#include "vectors/vectors.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {

std::string write_cnn_vectors(const std::string& name, const std::string& requant_line) {
  return write_example_vectors("fmnist_cnn.onnx", name, requant_line);
}

std::vector<std::string> mulshift_layers(const std::string& dir) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(dir).model).ops)
    if (op.op_type == "mulshift") layers.push_back(op.name);
  return layers;
}

// The report of a broken block against the independent prediction: the same count of mismatches and,
// if any, the same first one (input, element, wrong value, golden value), reported at the right layer.
bool matches_prediction(int mutation, const cosim::CosimResult& r, int64_t want_mismatches, bool first_found,
                        const cosim::FirstMismatch& want_first) {
  CHECK(!r.hung);
  CHECK(r.mismatches == want_mismatches);
  CHECK(r.has_mismatch == first_found);
  if (!first_found || !r.has_mismatch) return false;
  CHECK(r.first.input == want_first.input);
  CHECK(r.first.index == want_first.index);
  CHECK(r.first.got == want_first.got);
  CHECK(r.first.expected == want_first.expected);
  CHECK(cosim::format_report(r).find("MISMATCH: " + r.block + " on layer " + r.layer) == 0);
  std::cout << r.block << " mutation " << mutation << ": detected on " << r.layer << ", first at input "
            << r.first.input << " element " << r.first.index << ", " << r.mismatches << " of " << r.compared
            << " values differ\n";
  return true;
}

template <class Unit>
cosim::CosimResult run_block(const std::vector<cosim::MulShiftStimulus>& inputs, int64_t watchdog = 1000) {
  return cosim::cosim_design(cosim::linked_mulshift<Unit>(), inputs, cosim::DesignRun{inputs.at(0).layer, watchdog});
}

// What a broken unit outputs for element i, from chipref's numerics.
int32_t predicted(int mutation, const cosim::MulShiftStimulus& s, size_t i) {
  const FixedMultiplier fixed{s.multipliers[i], s.shifts[i], s.settings.multiplier_bits};
  const RequantChannel ch = requant_channel_of(fixed, RequantFlavour::single);
  const IntFormat any = IntFormat::make(32, true);
  const RoundingMode mode = mutation == 1              ? RoundingMode::floor
                            : s.settings.round_half_up ? RoundingMode::half_up
                                                       : RoundingMode::half_even;
  const Requantizer rq = Requantizer::make(RequantFlavour::single, mode, any, 0);
  const int32_t acc = mutation == 3 ? (s.accumulators[i] & ~1) : s.accumulators[i];
  const int64_t raw = s.settings.zero_point + rq.scale_only(acc, ch);
  if (mutation == 2) return static_cast<int32_t>(raw);
  return static_cast<int32_t>(std::clamp<int64_t>(std::clamp<int64_t>(raw, s.settings.out_min, s.settings.out_max),
                                                  s.settings.clamp_lo, s.settings.clamp_hi));
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
        if (!first_found)
          first_found = true,
          want_first = cosim::FirstMismatch{s.input, static_cast<int64_t>(i), 0, {}, p, s.expected[i]};
      }
    const cosim::CosimResult r = run_block<Unit>(inputs);
    INFO("mutation " << mutation << ", layer " << layer << "\n" << cosim::format_report(r));
    if (matches_prediction(mutation, r, want_mismatches, first_found, want_first) && detected_layers++ == 0)
      std::cout << cosim::format_report(r);
  }
  return detected_layers;
}

}  // namespace

TEST_CASE("Cosim/a report names the first mismatch in time and the one at the lowest index", "[cosim]") {
  cosim::CosimResult r;
  r.block = "dut mac_array", r.layer = "L", r.tensor = "T";
  const Shape shape{1, 2, 3};
  r.cycles = 10, cosim::score(r, 0, 4, shape, 7, 7);  // equal: counted, not a mismatch
  r.cycles = 11, cosim::score(r, 0, 5, shape, 1, 2);
  const std::string same = cosim::format_report(r);
  CHECK(same.find("  first in time: tensor 'T', input 0, element 5 at [0, 1, 2], cycle 11: got 1 (0x00000001), "
                  "expected 2 (0x00000002) (also the lowest index)\n") != std::string::npos);
  CHECK(same.find("lowest index:") == std::string::npos);
  r.cycles = 12, cosim::score(r, 0, 1, shape, -1, 3);  // later, lower
  r.cycles = 13, cosim::score(r, 0, 2, shape, 0, 3);   // later, not the lowest
  CHECK(r.mismatches == 3);
  CHECK(r.compared == 4);
  CHECK(r.first.index == 5);
  CHECK(r.lowest.index == 1);
  CHECK(r.lowest.cycle == 12);
  const std::string both = cosim::format_report(r);
  CHECK(both.find("MISMATCH: dut mac_array on layer L: 3 of 4 values differ\n") == 0);
  CHECK(both.find("  first in time: tensor 'T', input 0, element 5 at [0, 1, 2], cycle 11: got 1 (0x00000001), "
                  "expected 2 (0x00000002)\n") != std::string::npos);
  CHECK(both.find("  lowest index:  tensor 'T', input 0, element 1 at [0, 0, 1], cycle 12: got -1 (0xffffffff), "
                  "expected 3 (0x00000003)\n") != std::string::npos);
}

TEST_CASE("Cosim/the reference RTL is lint-clean in Verilator (-Wall) and compiles in Icarus", "[rtl][cosim]") {
  for (const auto& f : fs::directory_iterator(CHIPREF_SOURCE_DIR "/rtl_bridge/rtl")) {
    if (f.path().extension() != ".sv") continue;
    for (int m = 0; m <= 4; ++m) {
      const std::string lint =
          "verilator --lint-only -Wall -GMUTATION=" + std::to_string(m) + " " + f.path().string() + " 2>&1";
      INFO(lint);
      CHECK(std::system(lint.c_str()) == 0);
    }
    // Not -o /dev/null: iverilog marks its output executable (chmod), which would break /dev/null.
    // A buffer of KMAX beats (the weight-stationary array: 4096 × 16 × 2 registers) takes Icarus minutes
    // to elaborate: the same code with a short buffer is what the check is about.
    const bool buffered = read_file_bytes(f.path().string()).find("parameter int KMAX") != std::string::npos;
    const std::string icarus = "iverilog -g2012 " +
                               (buffered ? "-P" + f.path().stem().string() + ".KMAX=64 " : std::string()) + "-o " +
                               (fs::temp_directory_path() / "chipref_test_cosim_icarus.vvp").string() + " " +
                               f.path().string() + " >/dev/null 2>&1";
    INFO(icarus);
    CHECK(std::system(icarus.c_str()) == 0);
  }
}

TEST_CASE("Cosim/the reference MulShift unit matches every mulshift layer of the CNN, half_even and half_up",
          "[rtl][cosim]") {
  for (const auto& [name, requant] :
       {std::pair<std::string, std::string>{"half_even", ""}, {"half_up", "  requant: {rounding: half_up}\n"}}) {
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

TEST_CASE("Cosim/every broken MulShift variant is caught at the element chipref's numerics predict",
          "[rtl][cosim][mutation]") {
  const std::string dir = write_cnn_vectors("mutations", "");
  CHECK(check_mutation<Vmulshift_unit_m1>(1, dir) > 0);  // truncation instead of rounding
  CHECK(check_mutation<Vmulshift_unit_m2>(2, dir) > 0);  // no saturation or clamp
  CHECK(check_mutation<Vmulshift_unit_m3>(3, dir) > 0);  // accumulator bit 0 dropped
}

namespace {

std::vector<std::string> mac_layers(const std::string& dir) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(dir).model).ops)
    if (op.op_type == "conv_mac" || op.op_type == "linear_mac") layers.push_back(op.name);
  return layers;
}

template <class Unit>
cosim::CosimResult run_array(const std::vector<cosim::MacArrayStimulus>& inputs) {
  return cosim::cosim_design(cosim::linked_mac_array<Unit>(inputs.at(0).rows, inputs.at(0).cols), inputs,
                             cosim::DesignRun{inputs.at(0).layer});
}

// Every conv and linear layer of the vectors in `dir` through an array Verilated at 16 x 16 (`Wide`) and at
// 4 x 5 (`Small`: partial tiles): every accumulator of the layer compared (no padding slot) and equal.
// Returns the number of layers.
template <class Wide, class Small>
int64_t check_every_mac_layer(const std::string& dir) {
  int64_t layers = 0;
  for (const std::string& layer : mac_layers(dir)) {
    for (int geometry = 0; geometry < 2; ++geometry) {
      const auto inputs =
          geometry == 0 ? cosim::mac_array_stimulus(dir, layer, 16, 16) : cosim::mac_array_stimulus(dir, layer, 4, 5);
      const cosim::CosimResult r = geometry == 0 ? run_array<Wide>(inputs) : run_array<Small>(inputs);
      INFO(cosim::format_report(r));
      CHECK(r.passed());
      int64_t elements = 0;
      for (const auto& s : inputs) elements += element_count(s.shape);
      CHECK(r.compared == elements);
    }
    ++layers;
  }
  return layers;
}

// The output channel of accumulator `index`: axis 1 of a conv's NCHW accumulators, the last axis of a linear's.
int64_t channel_of(const Node& op, const Shape& shape, int64_t index) {
  if (op.op_type == "linear_mac") return index % shape.back();
  return index / (shape[2] * shape[3]) % shape[1];
}

// What a broken array drains for accumulator `index` of the layer, whose golden value is `golden`.
int32_t predicted_array(int mutation, const IntGraph& g, const Node& op, const Shape& shape, int64_t index,
                        int32_t golden, int32_t za) {
  const int64_t m = channel_of(op, shape, index);
  if (mutation == 1) {  // Σ a·w = Σ (a − z_a)·w + z_a·Σ w: padded taps carry z_a, so every tap counts
    const Tensor& w = g.constants.at(op.inputs.at(1));
    const int64_t k = w.numel() / w.shape[0];
    int64_t sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += w.ints[static_cast<size_t>(m * k + i)];
    return static_cast<int32_t>(static_cast<uint32_t>(int64_t{golden} + int64_t{za} * sum));
  }
  if (mutation == 2) {  // wrapping is a ring homomorphism: 16 bits kept each step = the sum mod 2^16
    const int32_t low = golden & 0xFFFF;
    return (low ^ 0x8000) - 0x8000;
  }
  const int64_t bias = op.inputs.size() > 2 ? g.constants.at(op.inputs[2]).ints.at(static_cast<size_t>(m)) : 0;
  return static_cast<int32_t>(static_cast<uint32_t>(int64_t{golden} - bias));
}

template <class Unit>
int64_t check_array_mutation(int mutation, const std::string& dir) {
  const IntGraph g = load_int_graph(vectors::read_manifest(dir).model);
  int64_t detected_layers = 0;
  for (const std::string& layer : mac_layers(dir)) {
    const Node& op = *std::find_if(g.ops.begin(), g.ops.end(), [&](const Node& n) { return n.name == layer; });
    const auto inputs = cosim::mac_array_stimulus(dir, layer, 4, 5);
    int64_t want_mismatches = 0;
    bool first_found = false;
    cosim::FirstMismatch want_first, want_lowest;  // in drain order; at the lowest (input, index)
    for (const auto& s : inputs)
      for (size_t slot = 0; slot < s.index.size(); ++slot) {  // slots in drain order
        if (s.index[slot] < 0) continue;
        const int32_t p = predicted_array(mutation, g, op, s.shape, s.index[slot], s.expected[slot], s.act_zero_point);
        if (p == s.expected[slot]) continue;
        ++want_mismatches;
        const cosim::FirstMismatch here{s.input, s.index[slot], 0, {}, p, s.expected[slot]};
        if (!first_found ||
            std::make_pair(here.input, here.index) < std::make_pair(want_lowest.input, want_lowest.index))
          want_lowest = here;
        if (!first_found) first_found = true, want_first = here;
      }
    const cosim::CosimResult r = run_array<Unit>(inputs);
    INFO("mutation " << mutation << ", layer " << layer << "\n" << cosim::format_report(r));
    if (!matches_prediction(mutation, r, want_mismatches, first_found, want_first)) continue;
    CHECK(r.first.coordinates == cosim::coordinates_of(inputs[0].shape, want_first.index));
    CHECK(r.lowest.input == want_lowest.input);
    CHECK(r.lowest.index == want_lowest.index);
    CHECK(r.lowest.got == want_lowest.got);
    CHECK(r.lowest.expected == want_lowest.expected);
    if (detected_layers++ == 0) std::cout << cosim::format_report(r);
  }
  return detected_layers;
}

}  // namespace

TEST_CASE("Cosim/the reference MAC array matches every conv and linear layer of the CNN, 16 x 16 and 4 x 5",
          "[rtl][cosim]") {
  CHECK(check_every_mac_layer<Vmac_array_16x16, Vmac_array_4x5_m0>(write_cnn_vectors("mac_array", "")) == 6);
}

TEST_CASE("Cosim/every broken MAC array variant is caught at the element the golden tensors predict",
          "[rtl][cosim][mutation]") {
  const std::string dir = write_cnn_vectors("mac_array_mutations", "");
  CHECK(check_array_mutation<Vmac_array_4x5_m1>(1, dir) > 0);  // activation zero point ignored
  CHECK(check_array_mutation<Vmac_array_4x5_m2>(2, dir) > 0);  // 16-bit accumulators
  CHECK(check_array_mutation<Vmac_array_4x5_m3>(3, dir) > 0);  // no bias
}

namespace {

std::string write_vit_vectors(const std::string& name, const std::string& nonlinear_line) {
  return write_example_vectors("fmnist_vit.onnx", name, nonlinear_line);
}

std::vector<std::string> lut_layers(const std::string& dir) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(dir).model).ops)
    if (op.op_type == "lut") layers.push_back(op.name);
  return layers;
}

template <class Unit>
cosim::CosimResult run_lut(const std::vector<cosim::LutStimulus>& inputs) {
  return cosim::cosim_design(cosim::linked_lut<Unit>(cosim::kReferenceLutDepth), inputs,
                             cosim::DesignRun{inputs.at(0).layer});
}

}  // namespace

TEST_CASE(
    "Cosim/the reference LUT unit matches every lut layer of the ViT: direct, nearest-entry and interpolated tables",
    "[rtl][cosim]") {
  for (const auto& [name, nonlinear] : {std::pair<std::string, std::string>{"lut_direct", ""},
                                        {"lut_nearest", "  nonlinear: {table_bits: 5, interpolate: false}\n"},
                                        {"lut_interpolated", "  nonlinear: {table_bits: 5, interpolate: true}\n"}}) {
    const std::string dir = write_vit_vectors(name, nonlinear);
    const auto layers = lut_layers(dir);
    CHECK(layers.size() == 2);  // the two GELUs
    for (const std::string& layer : layers) {
      const auto inputs = cosim::lut_stimulus(dir, layer, 4096);
      CHECK((inputs[0].shift > 0) == (name != "lut_direct"));  // the config reached the table: every mode is exercised
      CHECK(inputs[0].interpolate == (name == "lut_interpolated"));
      const cosim::CosimResult r = run_lut<Vlut_unit_m0>(inputs);
      INFO(name << ": " << cosim::format_report(r));
      CHECK(r.passed());
      CHECK(r.compared == static_cast<int64_t>(inputs[0].codes.size() + inputs[1].codes.size()));
    }
  }
}

TEST_CASE("Cosim/an off-by-one LUT address is caught at the element the table predicts", "[rtl][cosim][mutation]") {
  const std::string dir = write_vit_vectors("lut_mutation", "");
  int64_t detected = 0;
  for (const std::string& layer : lut_layers(dir)) {
    const auto inputs = cosim::lut_stimulus(dir, layer, 4096);
    int64_t want_mismatches = 0;
    bool first_found = false;
    cosim::FirstMismatch want_first;
    for (const auto& s : inputs)
      for (size_t i = 0; i < s.codes.size();
           ++i) {  // direct tables: the broken unit reads T[offset + 1], 0 past the end
        const size_t next = static_cast<size_t>(s.codes[i] - s.in_min) + 1;
        const int32_t p = std::clamp(next < s.table.size() ? s.table[next] : 0, s.out_min, s.out_max);
        if (p == s.expected[i]) continue;
        ++want_mismatches;
        if (!first_found)
          first_found = true,
          want_first = cosim::FirstMismatch{s.input, static_cast<int64_t>(i), 0, {}, p, s.expected[i]};
      }
    const cosim::CosimResult r = run_lut<Vlut_unit_m1>(inputs);
    INFO(layer << "\n" << cosim::format_report(r));
    if (matches_prediction(1, r, want_mismatches, first_found, want_first)) ++detected;
  }
  CHECK(detected == 2);
}

namespace {
std::vector<std::string> sparse_layers(const std::string& dir) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(dir).model).ops)
    if (op.op_type == "sparse_decode") layers.push_back(op.name);
  return layers;
}
template <class Unit>
cosim::CosimResult run_sparse(const std::vector<cosim::SparseStimulus>& inputs) {
  return cosim::cosim_design(cosim::linked_sparse<Unit>(inputs.at(0).n, inputs.at(0).m), inputs,
                             cosim::DesignRun{inputs.at(0).layer});
}
}  // namespace

TEST_CASE(
    "Cosim/the reference sparse decoder rebuilds every 2:4 layer's dense weights, and swapped index bits are caught "
    "where predicted",
    "[rtl][cosim][mutation]") {
  // Every MAC layer 2:4-sparse: the 3 x 3 convs of one input channel (k = 9) end their rows in padding.
  const std::string dir = write_cnn_vectors("sparse", "  sparsity: {pattern: \"2:4\"}\n");
  const std::vector<std::string> layers = sparse_layers(dir);
  REQUIRE(layers.size() == 6);
  int64_t detected = 0, padded = 0;
  for (const std::string& layer : layers) {
    const auto inputs = cosim::sparse_stimulus(dir, layer, 2, 4);
    const cosim::CosimResult good = run_sparse<Vsparse_decoder_m0>(inputs);
    INFO(layer << "\n" << cosim::format_report(good));
    CHECK(good.passed());
    CHECK(good.compared == element_count(inputs[0].shape));
    if (std::count(inputs[0].index.begin(), inputs[0].index.end(), -1) > 0) ++padded;
    // The broken decoder puts each kept value at its position with the two index bits swapped (1 <-> 2).
    int64_t want_mismatches = 0;
    bool first_found = false;
    cosim::FirstMismatch want_first;
    for (const auto& st : inputs)
      for (size_t group = 0; group * 4 < st.index.size(); ++group) {
        int32_t dense[4] = {0, 0, 0, 0};
        for (size_t j = 0; j < 2; ++j) {
          const int32_t p = st.positions[group * 2 + j];
          dense[((p & 1) << 1) | ((p >> 1) & 1)] = st.values[group * 2 + j];
        }
        for (size_t p = 0; p < 4; ++p) {
          const size_t lane = group * 4 + p;
          if (st.index[lane] < 0 || dense[p] == st.expected[lane]) continue;
          ++want_mismatches;
          if (!first_found)
            first_found = true,
            want_first = cosim::FirstMismatch{st.input, st.index[lane], 0, {}, dense[p], st.expected[lane]};
        }
      }
    const cosim::CosimResult r = run_sparse<Vsparse_decoder_m1>(inputs);
    INFO(cosim::format_report(r));
    if (matches_prediction(1, r, want_mismatches, first_found, want_first)) ++detected;
  }
  CHECK(padded >= 2);  // the stem and depthwise convs
  CHECK(detected == 6);
}

TEST_CASE("Cosim/the Verilated MulShift unit inside the SystemC netlist: every tensor identical to the DirectEngine's",
          "[rtl][cosim][systemc]") {
  // The 8 MulShift modules of the CNN replaced by rtl/mulshift_unit.sv (Verilated in SystemC mode) behind
  // the transaction <-> pin adapter; both half_even and half_up.
  for (const char* rounding : {"half_even", "half_up"}) {
    const std::string dir = write_cnn_vectors(std::string("systemc_rtl_") + rounding,
                                              std::string("  requant: {rounding: ") + rounding + "}\n");
    const IntGraph q = load_int_graph(vectors::read_manifest(dir).model);
    SystemCEngine engine(q, q.hardware, cosim::rtl_module_factory({"mulshift"}));
    int64_t rtl_modules = 0;
    for (const ModuleStats& m : engine.stats()) rtl_modules += m.kind == "MulShift (RTL)";
    CHECK(rtl_modules == 8);
    const Tensor x = load_fashion_mnist("t10k", 12, q.preprocess).images;
    RunTrace want, got;
    const Tensor y_direct = DirectEngine(q).run(x, &want);
    CHECK(engine.run(x, &got).floats == y_direct.floats);
    REQUIRE(got.values.size() == want.values.size());
    for (const auto& [name, t] : want.values) {
      INFO(rounding << ": " << name);
      REQUIRE(got.values.count(name));
      CHECK(got.values.at(name).data == t.data);
    }
    CHECK(engine.run(x).floats == y_direct.floats);  // chunked transactions through the pipeline
    std::cout << "RTL MulShift in the SystemC netlist (" << rounding << "): " << want.values.size()
              << " tensors of 12 images identical to the DirectEngine\n";
  }
  CHECK_THROWS_WITH(cosim::rtl_module_factory({"fpu"}), Catch::Contains("available: mulshift"));
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
  CHECK_THROWS_WITH(cosim::mulshift_stimulus(dir, "/Add"),
                    Catch::Contains("is not a mulshift op") && Catch::Contains("/head/Gemm.requant"));
}

namespace {

// What the weight-stationary array (rtl/mac_array_ws.sv, 4 x 5 in chunks of 4 steps) drains for every slot
// of a tile stream, variant `mutation` included, computed from the stimulus alone: the plain sum
// bias + Σ_k (a − z_a)(w − z_w) over each slot's real K, with each variant's fault applied to its terms.
// Variant 0 must give every golden accumulator (which checks this model against the golden one).
std::vector<int32_t> predicted_ws(const cosim::MacArrayStimulus& s, int mutation, int64_t depth) {
  const int64_t R = s.rows, C = s.cols, K = s.reduction;
  std::vector<int32_t> out(s.expected.size());
  for (int64_t tile = 0; tile < s.tiles; ++tile)
    for (int64_t i = 0; i < R; ++i)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t zw = s.weight_zero_points[static_cast<size_t>(tile * C + c)];
        const auto a = [&](int64_t k) {
          return s.activations[static_cast<size_t>((tile * K + k) * R + i)] - int64_t{s.act_zero_point};
        };
        const auto w = [&](int64_t k) { return s.weights[static_cast<size_t>((tile * K + k) * C + c)] - zw; };
        uint32_t sum = static_cast<uint32_t>(s.bias[static_cast<size_t>(tile * C + c)]);
        for (int64_t k = 0; k < K; ++k) {
          const int64_t d = k % depth, chunk = k / depth;
          int64_t weight = w(k);
          if (mutation == 1 && d == 1 && c == 2) weight = w(1);  // PE (1, 2) keeps chunk 0's weight
          // PE (depth−1, 0) drops the sum from above: of a chunk's terms only its own reaches the bottom.
          if (mutation == 2 && c == 0 && d != depth - 1) weight = 0;
          if (mutation == 3 && chunk != (K - 1) / depth) weight = 0;  // only the last chunk's products kept
          sum += static_cast<uint32_t>(a(k) * weight);
        }
        out[static_cast<size_t>((tile * R + i) * C + c)] = static_cast<int32_t>(sum);
      }
  return out;
}

template <class Unit>
void check_ws_variant(int mutation, const std::string& dir, int64_t& detected_layers) {
  for (const std::string& layer : mac_layers(dir)) {
    const auto inputs = cosim::mac_array_stimulus(dir, layer, 4, 5);
    int64_t want_mismatches = 0;
    std::optional<cosim::FirstMismatch> want_lowest;
    for (const auto& s : inputs) {
      const std::vector<int32_t> golden_model = predicted_ws(s, 0, 4), broken = predicted_ws(s, mutation, 4);
      for (size_t slot = 0; slot < s.index.size(); ++slot) {
        if (s.index[slot] < 0) continue;
        REQUIRE(golden_model[slot] == s.expected[slot]);
        if (broken[slot] == s.expected[slot]) continue;
        ++want_mismatches;
        if (!want_lowest ||
            std::make_pair(s.input, s.index[slot]) < std::make_pair(want_lowest->input, want_lowest->index))
          want_lowest = cosim::FirstMismatch{s.input, s.index[slot], 0, {}, broken[slot], s.expected[slot]};
      }
    }
    const cosim::CosimResult r =
        cosim::cosim_design(cosim::linked_mac_array<Unit>(4, 5), inputs, cosim::DesignRun{layer});
    INFO("weight-stationary mutation " << mutation << ", layer " << layer << "\n" << cosim::format_report(r));
    CHECK(!r.hung);
    CHECK(r.mismatches == want_mismatches);
    if (!want_lowest) continue;
    CHECK(r.lowest.input == want_lowest->input);
    CHECK(r.lowest.index == want_lowest->index);
    CHECK(r.lowest.got == want_lowest->got);
    CHECK(r.lowest.expected == want_lowest->expected);
    ++detected_layers;
  }
}

}  // namespace

TEST_CASE("Cosim/the weight-stationary MAC array matches every conv and linear layer of the CNN, 16 x 16 and 4 x 5",
          "[rtl][cosim]") {
  const std::string dir = write_cnn_vectors("mac_array_ws", "");
  CHECK(check_every_mac_layer<Vmac_array_ws_16x16, Vmac_array_ws_4x5_m0>(dir) == 6);
  // Through chipref cosim --block: the 16 x 16 build, and a reduction longer than its buffer refused.
  const std::string first = mac_layers(dir).at(0);
  CHECK(cosim::cosim_reference_block("mac_array_ws", dir, first, 1000).passed());
  cosim::Design small = cosim::linked_mac_array<Vmac_array_ws_16x16>(16, 16);
  small.name = "mac_array_ws", small.max_reduction = 8;
  CHECK_THROWS_WITH(cosim::cosim_design(small, cosim::mac_array_stimulus(dir, first, 16, 16), cosim::DesignRun{first}),
                    Catch::Contains("its reduction K = 9 is longer than the 8 steps mac_array_ws buffers per tile"));
}

TEST_CASE("Cosim/every broken weight-stationary variant is caught where a model of its fault predicts",
          "[rtl][cosim][mutation]") {
  const std::string dir = write_cnn_vectors("mac_array_ws_mutations", "");
  int64_t detected = 0;
  check_ws_variant<Vmac_array_ws_4x5_m0>(0, dir, detected);
  CHECK(detected == 0);
  // PE (1, 2) misses the weight preloads: every layer but the depthwise one, whose tiles hold one
  // channel (column 0 only: a group of its own), so column 2 never carries a product.
  check_ws_variant<Vmac_array_ws_4x5_m1>(1, dir, detected);
  CHECK(detected == 5);
  check_ws_variant<Vmac_array_ws_4x5_m2>(2, dir, detected);  // PE (3, 0) drops the partial sum from above
  CHECK(detected == 11);
  check_ws_variant<Vmac_array_ws_4x5_m3>(3, dir, detected);  // the chunks' sums are not accumulated
  CHECK(detected == 17);
}

namespace {
std::vector<std::string> block_mac_layers(const std::string& dir) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(dir).model).ops)
    if (op.op_type == "block_mac") layers.push_back(op.name);
  return layers;
}

// An FP8 E4M3 code as an integer in units of 2^-9 (its subnormal quantum), from the format's bit layout (OCP
// FP8: sign, 4 exponent bits, 3 mantissa bits); `implicit_one_in_subnormals` decodes as mutation 2 does.
int64_t e4m3_units(int32_t code, bool implicit_one_in_subnormals) {
  const int32_t exponent = (code >> 3) & 15, mantissa = code & 7;
  const int64_t magnitude =
      exponent == 0 ? (implicit_one_in_subnormals ? mantissa | 8 : mantissa) : int64_t{mantissa | 8} << (exponent - 1);
  return code & 0x80 ? -magnitude : magnitude;
}

// What the broken unit outputs for a pair of blocks: (sum, exponent).
std::pair<int64_t, int64_t> predicted_block_dot(int mutation, const cosim::MxDotPair& pair) {
  int64_t sum = 0;
  for (size_t l = 0; l < pair.a.size(); ++l) sum += e4m3_units(pair.a[l], mutation == 2) * e4m3_units(pair.w[l], false);
  return {sum, pair.expected_exponent - (mutation == 1 ? 1 : 0)};
}
}  // namespace

TEST_CASE("Cosim/the reference MX dot-product unit matches every block_mac layer of the CNN in MXFP8 and MXINT8",
          "[rtl][cosim][mx]") {
  for (const std::string format : {"mxfp8_e4m3", "mxint8"}) {
    const std::string dir = write_cnn_vectors("mx_dot_" + format, "  format: {name: " + format + "}\n");
    const std::vector<std::string> layers = block_mac_layers(dir);
    CHECK(layers.size() == 6);
    for (const std::string& layer : layers) {
      const cosim::CosimResult r = cosim::cosim_reference_block("mx_dot", dir, layer, 1000);
      INFO(format << " " << layer << "\n" << cosim::format_report(r));
      CHECK(r.passed());
      // Every pair of blocks of every output but those of padded taps: the stimulus's own count.
      const auto inputs = cosim::mx_dot_stimulus(dir, layer, 32, format, format);
      int64_t beats = 0;
      for (const auto& s : inputs) beats += s.pairs;
      CHECK(r.compared == beats);
      CHECK(r.inputs == 2);
    }
  }
}

TEST_CASE("Cosim/every broken MX dot-product unit is caught at the block pair a model of its fault predicts",
          "[rtl][cosim][mx][mutation]") {
  // Mutation 1 takes the weights' scale bias as 128: every nonzero block sum is reported a factor 2 low.
  // Mutation 2 gives subnormal (and zero) activation elements an implicit one. The predictions decode the codes
  // from FP8 E4M3's bit layout on their own; the correct unit's prediction must equal the stimulus.
  const std::string dir = write_cnn_vectors("mx_dot_mutants", "  format: {name: mxfp8_e4m3}\n");
  for (const int mutation : {1, 2}) {
    int64_t detected = 0, predicted_layers = 0;
    for (const std::string& layer : block_mac_layers(dir)) {
      const auto inputs = cosim::mx_dot_stimulus(dir, layer, 32, "mxfp8_e4m3", "mxfp8_e4m3");
      int64_t want_mismatches = 0;
      bool first_found = false;
      cosim::FirstMismatch want_first;
      for (const auto& s : inputs)
        for (cosim::MxDotPairs pairs(s); pairs.next_output();)
          while (pairs.next_pair()) {
            const cosim::MxDotPair& pair = pairs.pair();
            REQUIRE(predicted_block_dot(0, pair).first == pair.expected_sum);
            const auto [sum, exponent] = predicted_block_dot(mutation, pair);
            if (sum == pair.expected_sum && (sum == 0 || exponent == pair.expected_exponent)) continue;
            ++want_mismatches;
            if (!first_found)
              first_found = true, want_first = cosim::FirstMismatch{s.input, pair.index, 0, {}, sum, pair.expected_sum};
          }
      predicted_layers += first_found;
      const cosim::Design broken = mutation == 1
                                       ? cosim::linked_mx_dot<Vmx_dot_unit_e4m3_m1>(32, "mxfp8_e4m3", "mxfp8_e4m3")
                                       : cosim::linked_mx_dot<Vmx_dot_unit_e4m3_m2>(32, "mxfp8_e4m3", "mxfp8_e4m3");
      const cosim::CosimResult r = cosim::cosim_design(broken, inputs, cosim::DesignRun{layer, 1000});
      INFO("mutation " << mutation << ", layer " << layer << "\n" << cosim::format_report(r));
      if (matches_prediction(mutation, r, want_mismatches, first_found, want_first)) {
        CHECK(cosim::format_report(r).find("got " + std::to_string(want_first.got) + " x 2^") != std::string::npos);
        if (detected++ == 0) std::cout << cosim::format_report(r);
      }
    }
    // Mutation 1 in every layer; mutation 2 where an activation block holds a zero or a subnormal element (not
    // the stem's one-element blocks of image pixels, nor the head's pooled features).
    CHECK(detected == predicted_layers);
    CHECK(detected >= (mutation == 1 ? 6 : 4));
  }
  // The correct unit through the same path passes.
  for (const std::string& layer : block_mac_layers(dir))
    CHECK(cosim::cosim_design(cosim::linked_mx_dot<Vmx_dot_unit_e4m3_m0>(32, "mxfp8_e4m3", "mxfp8_e4m3"),
                              cosim::mx_dot_stimulus(dir, layer, 32, "mxfp8_e4m3", "mxfp8_e4m3"),
                              cosim::DesignRun{layer, 1000})
              .passed());
}
