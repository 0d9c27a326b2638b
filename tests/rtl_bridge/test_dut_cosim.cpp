// Cosim of a user's own design (`chipref cosim --dut`, docs/cosim.md "Bring your own DUT"): designs are
// Verilated and compiled at run time into a shared build cache, loaded, and driven through their YAML
// adapter. Proven here: port lanes are written and read bit-exactly (against a bit-by-bit oracle, every
// lane width at odd offsets); adapter errors point at the line; the reference blocks built this way pass
// and their broken variants report exactly what the linked-in variants report; the tutorial's systolic
// array (examples/cosim) passes every MAC layer of the CNN and its BUG is reported at exactly the
// elements of PE (1, 2) with the value the weights predict; the fixed_latency protocol (latency and done
// flag) passes and takes the cycles it defines; hangs, waveforms, the cache and Verilator errors.
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <set>

#include "Vlut_unit_m0.h"
#include "Vmac_array_16x16.h"
#include "Vmac_array_4x5_m0.h"
#include "Vmac_array_ws_16x16.h"
#include "Vmulshift_unit_m1.h"
#include "Vmx_dot_unit_e4m3_m0.h"
#include "Vsparse_decoder_m1.h"
#include "core/error.hpp"
#include "model/int_graph.hpp"
#include "ops/op_def.hpp"
#include "rtl_bridge/dut_adapter.hpp"
#include "rtl_bridge/dut_cosim.hpp"
#include "rtl_bridge/dut_runtime.hpp"
#include "rtl_bridge/linked_design.hpp"
#include "rtl_bridge/protocol_plugin.hpp"
#include "rtl_bridge/reference_blocks.hpp"
#include "tests/rtl_bridge/example_vectors.hpp"

using namespace chipref;
namespace fs = std::filesystem;

namespace {

const std::string kSource = CHIPREF_SOURCE_DIR;

std::string cache_dir() { return (fs::temp_directory_path() / "chipref_test_dut_cache").string(); }

std::string write_text(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / "chipref_test_dut_files";
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return (dir / name).string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// An adapter file: `base` (a shipped adapter's path) with `extra` YAML lines appended.
std::string adapter_with(const std::string& name, const std::string& base, const std::string& extra) {
  return write_text(name, read_text(base) + extra);
}

cosim::CosimResult run_dut(const std::vector<std::string>& sources, const std::string& top, const std::string& adapter,
                           const std::string& vectors, const std::string& layer, int64_t watchdog = 1000,
                           const std::string& trace = "") {
  cosim::DutCosimOptions o;
  o.sources = sources, o.top = top, o.adapter = adapter, o.vectors_dir = vectors, o.layer = layer,
  o.build_dir = cache_dir();
  o.watchdog = watchdog, o.trace = trace;
  return cosim::cosim_dut(o);
}

std::vector<std::string> layers_of(const std::string& vectors, const std::vector<std::string>& types) {
  std::vector<std::string> layers;
  for (const Node& op : load_int_graph(vectors::read_manifest(vectors).model).ops)
    if (std::find(types.begin(), types.end(), op.op_type) != types.end()) layers.push_back(op.name);
  return layers;
}

void check_same_report(const cosim::CosimResult& dut, const cosim::CosimResult& linked) {
  CHECK(dut.compared == linked.compared);
  CHECK(dut.mismatches == linked.mismatches);
  CHECK(dut.has_mismatch == linked.has_mismatch);
  CHECK(dut.first.input == linked.first.input);
  CHECK(dut.first.index == linked.first.index);
  CHECK(dut.first.got == linked.first.got);
  CHECK(dut.first.expected == linked.first.expected);
}

// Every conv and linear layer of the vectors in `dir` through the design with each adapter (an array of
// rows x cols): every accumulator of the layer compared and equal. The results, for checks of their own.
std::vector<cosim::CosimResult> check_every_mac_layer(const std::vector<std::string>& sources, const std::string& top,
                                                      const std::vector<std::string>& adapters, const std::string& dir,
                                                      int64_t rows, int64_t cols) {
  std::vector<cosim::CosimResult> results;
  for (const std::string& layer : layers_of(dir, {"conv_mac", "linear_mac"})) {
    int64_t elements = 0;
    for (const auto& s : cosim::mac_array_stimulus(dir, layer, rows, cols)) elements += element_count(s.shape);
    for (const std::string& adapter : adapters) {
      const cosim::CosimResult r = run_dut(sources, top, adapter, dir, layer);
      INFO(layer << ", " << adapter << "\n" << cosim::format_report(r));
      CHECK(r.passed());
      CHECK(r.compared == elements);
      results.push_back(r);
    }
  }
  return results;
}

const std::string& cnn_vectors() {
  static const std::string dir = write_example_vectors("fmnist_cnn.onnx", "dut", "");
  return dir;
}

}  // namespace

TEST_CASE("DutCosim/port lanes are written and read bit-exactly at every width and offset", "[rtl][cosim][dut]") {
  std::mt19937_64 rng(7);
  // Port widths and the storage Verilator gives them: 1, 2, 4, 8 bytes, or 32-bit words.
  for (const int width : {1, 5, 8, 9, 13, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257}) {
    const int bytes = width <= 8 ? 1 : width <= 16 ? 2 : width <= 32 ? 4 : width <= 64 ? 8 : 4 * ((width + 31) / 32);
    cosim::DutPort port{"p", true, width - 1, 0, bytes};
    for (int lane_width = 1; lane_width <= std::min(width, 64); ++lane_width) {
      std::vector<uint8_t> storage(static_cast<size_t>(bytes));
      for (auto& b : storage) b = static_cast<uint8_t>(rng());
      std::vector<bool> oracle(static_cast<size_t>(bytes) * 8);
      for (size_t i = 0; i < oracle.size(); ++i) oracle[i] = (storage[i / 8] >> (i % 8)) & 1;
      const cosim::Pin pin(&port, storage.data());
      const int64_t lanes = width / lane_width;
      for (int64_t lane = 0; lane < lanes; ++lane) {
        const auto value = static_cast<int64_t>(rng());
        pin.set_lane(lane, lane_width, value);
        for (int b = 0; b < lane_width; ++b)
          oracle[static_cast<size_t>(lane * lane_width + b)] = (static_cast<uint64_t>(value) >> b) & 1;
      }
      for (size_t i = 0; i < oracle.size(); ++i)
        REQUIRE(((storage[i / 8] >> (i % 8)) & 1) == oracle[i]);  // other bits untouched
      for (int64_t lane = 0; lane < lanes; ++lane) {
        uint64_t raw = 0;
        for (int b = lane_width - 1; b >= 0; --b) raw = (raw << 1) | oracle[static_cast<size_t>(lane * lane_width + b)];
        const bool negative = lane_width < 64 && ((raw >> (lane_width - 1)) & 1);
        // Two's complement by definition: raw − 2^width when the sign bit is set (exact in 128 bits).
        const auto as_signed =
            static_cast<int64_t>(negative ? static_cast<__int128>(raw) - (static_cast<__int128>(1) << lane_width)
                                          : static_cast<__int128>(raw));
        INFO("port width " << width << ", lane width " << lane_width << ", lane " << lane);
        REQUIRE(pin.lane(lane, lane_width, false) == static_cast<int64_t>(raw));
        REQUIRE(pin.lane(lane, lane_width, true) == as_signed);
      }
      // A whole bus in one call (values − offset each) writes what lane-by-lane writes do.
      if (lane_width <= 32) {
        std::vector<int32_t> values(static_cast<size_t>(lanes));
        for (auto& v : values) v = static_cast<int32_t>(rng());
        const int64_t offset = static_cast<int32_t>(rng()) / 2;
        std::vector<uint8_t> by_lane = storage;
        const cosim::Pin lane_pin(&port, by_lane.data());
        for (int64_t lane = 0; lane < lanes; ++lane)
          lane_pin.set_lane(lane, lane_width, values[static_cast<size_t>(lane)] - offset);
        REQUIRE(pin.set_lanes(lane_width, values.data(), lanes, offset, INT64_MIN, INT64_MAX));
        INFO("port width " << width << ", lane width " << lane_width);
        REQUIRE(storage == by_lane);
        // A value outside [lo, hi] is reported, wherever it is.
        const size_t bad = static_cast<size_t>(rng() % static_cast<uint64_t>(lanes));
        const int64_t lo = values[bad] - offset + 1;
        REQUIRE(!pin.set_lanes(lane_width, values.data(), lanes, offset, lo, INT64_MAX));
        const int64_t hi = values[bad] - offset - 1;
        REQUIRE(!pin.set_lanes(lane_width, values.data(), lanes, offset, INT64_MIN, hi));
      }
    }
  }
}

TEST_CASE("DutCosim/adapter errors name the file, line and what was expected", "[rtl][cosim][dut]") {
  struct Case {
    std::string yaml, line, message;
  };
  const std::string head = "block: mulshift\nprotocol: valid_ready\nclock: clk\n";
  const std::string ports =
      "ports:\n  in_acc: a\n  in_multiplier: m\n  in_shift: s\n  out_code: c\n  in_valid: v\n  out_valid: ov\n";
  const std::vector<Case> cases = {
      {"block: conv\nprotocol: valid_ready\nclock: clk\nports: {}\n",
       ":1:8:", "'block' is 'conv'; expected one of: mulshift, lut, mac_array"},
      {"block: mulshift\nprotocol: matrix_tiles\nclock: clk\nports: {}\n",
       ":2:11:", "expected one of: valid_ready, fixed_latency"},
      {head + ports + "  in_bias: b\n", ":11:3:", "unknown role 'in_bias' for a mulshift block"},
      {head + "ports:\n  in_acc: a\n  in_multiplier: m\n  in_shift: s\n  in_valid: v\n  out_valid: ov\n",
       ":5:3:", "role out_code is required"},
      {head + ports + "rows: 4\n", ":11:7:", "'rows' is for a mac_array block only"},
      {head + ports + "  tbl_we: w\n", "", "unknown role 'tbl_we'"},
      {"block: mac_array\nprotocol: matrix_tiles\nclock: clk\nports: {}\n", "", "a mac_array block needs 'rows'"},
      {"block: mulshift\nprotocol: fixed_latency\nclock: clk\nports:\n  in_acc: a\n  in_multiplier: m\n  in_shift: s\n "
       " out_code: c\n  in_valid: v\n",
       ":5:3:", "role out_valid is required for a mulshift block on this protocol (or give 'latency')"},
      {head + ports + "latency: 3\n", ":11:10:", "'latency' is not a key of the valid_ready protocol"},
      {head + ports + "reset: {port: r, active: sideways}\n",
       ":11:26:", "'active' is 'sideways'; expected one of: high, low"},
      {head + "ports:\n  in_acc: {port: a, width: 99}\n", ":5:28:", "'width' is 99; expected 1..64"},
      {head + ports + "depth: 16\n", ":11:8:", "'depth' is a key of the whole_matrix protocol only"},
      {"block: mac_array\nprotocol: whole_matrix\nrows: 4\ncols: 4\nclock: clk\nports: {}\n", "",
       "the whole_matrix protocol needs 'depth'"},
      {"block: mac_array\nprotocol: whole_matrix\nrows: 4\ncols: 4\ndepth: 4\nclock: clk\nports:\n  in_a: a\n  "
       "in_b: b\n  in_valid: v\n  out_valid: d\n  out_c: c\n  in_act: x\n",
       ":13:3:",
       "unknown role 'in_act' for a mac_array block on this protocol; expected one of: in_a, in_b, "
       "in_accumulate, out_c, in_valid, in_ready, out_valid"},
      {"block: mac_array\nprotocol: whole_matrix\nrows: 4\ncols: 4\ndepth: 4\naccumulate: dut\nclock: clk\n"
       "ports:\n  in_a: a\n  in_b: b\n  in_valid: v\n  out_valid: d\n  out_c: c\n",
       ":9:3:", "role in_accumulate is required for a mac_array block on this protocol"},
      {"block: mac_array\nprotocol: whole_matrix\nrows: 4\ncols: 4\ndepth: 4\nlayout: {in_a: diagonal}\n"
       "clock: clk\nports: {}\n",
       ":6:16:", "'in_a' is 'diagonal'; expected one of: row_major, column_major"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = write_text("bad_adapter_" + std::to_string(i) + ".yaml", cases[i].yaml);
    INFO(cases[i].yaml);
    try {
      cosim::load_dut_adapter(path);
      FAIL("no error");
    } catch (const InputError& e) {
      const std::string what = e.what();
      CHECK(what.rfind(path + cases[i].line, 0) == 0);
      CHECK(what.find(cases[i].message) != std::string::npos);
    }
  }
  // Against the design's ports: a missing port, a wrong direction, lanes that do not divide the width.
  const std::vector<cosim::DutPort> design = {{"clk", true, 0, 0, 1}, {"a", true, 31, 0, 4},  {"m", true, 31, 0, 4},
                                              {"s", true, 7, 0, 1},   {"c", false, 31, 0, 4}, {"v", true, 0, 0, 1},
                                              {"ov", false, 0, 0, 1}};
  auto bind_error = [&](const std::string& yaml) {
    cosim::DutAdapter a = cosim::load_dut_adapter(write_text("bind.yaml", yaml));
    try {
      cosim::bind_dut_ports(a, design);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(bind_error(head + ports).find("no error") == 0);
  CHECK(bind_error(head + ports + "  in_ready: rdy\n")
            .find(":11:13: role in_ready names port 'rdy', which the design does not have; its ports: clk, a, m, s, c, "
                  "v, ov") != std::string::npos);
  const std::string swapped =
      head + "ports:\n  in_acc: c\n  in_multiplier: m\n  in_shift: s\n  out_code: a\n  in_valid: v\n  out_valid: ov\n";
  CHECK(bind_error(swapped).find(
            ":5:11: role in_acc is an input of the block, but port 'c' is an output of the design") !=
        std::string::npos);
  const std::string wide = head +
                           "ports:\n  in_acc: {port: a, width: 33}\n  in_multiplier: m\n  in_shift: s\n  out_code: c\n "
                           " in_valid: v\n  out_valid: ov\n";
  CHECK(bind_error(wide).find("role in_acc needs 1 lane(s) of 33 bits, but port 'a' has 32") != std::string::npos);
}

namespace {

// What the linked-in reference blocks declare (rtl_bridge/linked_design.hpp) against an independent
// source: the ports Verilator itself reports for the same RTL and parameters, and the identity adapters
// against the shipped YAML adapters read by the user's path.
void check_linked(const cosim::Design& linked, const std::string& block,
                  const std::map<std::string, std::string>& params, int64_t rows, int64_t cols) {
  INFO(block);
  const cosim::BuiltDut built = cosim::build_dut(
      cosim::DutDesign{{cosim::reference_rtl_path(block)}, cosim::reference_top(block), params}, cache_dir());
  const auto instance = linked.make(false);
  const std::vector<cosim::DutPort>& ports = instance->ports();
  REQUIRE(ports.size() == built.ports.size());
  for (const cosim::DutPort& want : built.ports) {
    const auto it =
        std::find_if(ports.begin(), ports.end(), [&](const cosim::DutPort& p) { return p.name == want.name; });
    REQUIRE(it != ports.end());
    INFO(want.name);
    CHECK(it->input == want.input);
    CHECK(it->width() == want.width());
    CHECK(it->bytes == want.bytes);
  }
  cosim::DutAdapter yaml = cosim::load_dut_adapter(cosim::reference_adapter_path(block));
  if (rows) yaml.rows = rows, yaml.cols = cols;
  const cosim::DutAdapter& identity = linked.adapter;
  CHECK(identity.protocol == yaml.protocol);
  CHECK(identity.clock == yaml.clock);
  CHECK(identity.reset == yaml.reset);
  CHECK(identity.reset_active_high == yaml.reset_active_high);
  CHECK(identity.reset_cycles == yaml.reset_cycles);
  CHECK(identity.rows == yaml.rows);
  CHECK(identity.cols == yaml.cols);
  CHECK(identity.n == yaml.n);
  CHECK(identity.m == yaml.m);
  CHECK(identity.block_lanes == yaml.block_lanes);
  CHECK(identity.activation_format == yaml.activation_format);
  CHECK(identity.weight_format == yaml.weight_format);
  REQUIRE(identity.roles.size() == yaml.roles.size());
  for (const auto& [role, b] : yaml.roles) {
    INFO(role);
    REQUIRE(identity.has(role));
    CHECK(identity.roles.at(role).port == b.port);
    CHECK(identity.roles.at(role).is_signed == b.is_signed);
    // The shipped adapter is 16 x 16; at another size the row and column roles have that many lanes.
    const int64_t lanes = !rows || b.lanes == 1 ? b.lanes : role == "in_act" ? rows : cols;
    CHECK(identity.roles.at(role).lanes == lanes);
  }
}

}  // namespace

TEST_CASE(
    "DutCosim/the linked-in reference blocks have the ports Verilator reports and the shipped adapters as identity "
    "adapters",
    "[rtl][cosim][dut]") {
  check_linked(cosim::linked_mulshift<Vmulshift_unit_m1>(), "mulshift", {}, 0, 0);
  check_linked(cosim::linked_lut<Vlut_unit_m0>(cosim::kReferenceLutDepth), "lut", {}, 0, 0);
  check_linked(cosim::linked_mac_array<Vmac_array_16x16>(16, 16), "mac_array", {}, 0, 0);
  check_linked(cosim::linked_mac_array<Vmac_array_4x5_m0>(4, 5), "mac_array", {{"ROWS", "4"}, {"COLS", "5"}}, 4, 5);
  check_linked(cosim::linked_mac_array<Vmac_array_ws_16x16>(16, 16), "mac_array_ws", {}, 0, 0);
  check_linked(cosim::linked_sparse<Vsparse_decoder_m1>(2, 4), "sparse", {}, 0, 0);
  check_linked(cosim::linked_mx_dot<Vmx_dot_unit_e4m3_m0>(32, "mxfp8_e4m3", "mxfp8_e4m3"), "mx_dot", {}, 0, 0);
}

TEST_CASE("DutCosim/the MX dot-product unit built as a user design from its shipped adapter passes an MXFP8 layer",
          "[rtl][cosim][dut][mx]") {
  const std::string dir = write_example_vectors("fmnist_cnn.onnx", "dut_mx_dot", "  format: {name: mxfp8_e4m3}\n");
  const cosim::CosimResult r = run_dut({cosim::reference_rtl_path("mx_dot")}, "mx_dot_unit",
                                       cosim::reference_adapter_path("mx_dot"), dir, "/conv3/conv3.0/Conv.block_mac");
  INFO(cosim::format_report(r));
  CHECK(r.passed());
  // 2 inputs × 48 channels × the (position, tap) pairs inside the 7 × 7 image: 2 + 5 · 3 + 2 = 19 per axis.
  CHECK(r.compared == 2 * 48 * 19 * 19);
  // An adapter whose formats are not the layer's is refused, naming both.
  const std::string e5m2 =
      write_text("mx_dot_e5m2.yaml",
                 std::regex_replace(read_text(cosim::reference_adapter_path("mx_dot")),
                                    std::regex("activation_format: mxfp8_e4m3"), "activation_format: mxfp8_e5m2"));
  CHECK_THROWS_WITH(
      run_dut({cosim::reference_rtl_path("mx_dot")}, "mx_dot_unit", e5m2, dir, "/conv3/conv3.0/Conv.block_mac"),
      Catch::Contains("multiplies mxfp8_e5m2 by mxfp8_e5m2") && Catch::Contains("mxfp8_e4m3 by mxfp8_e4m3"));
}

TEST_CASE(
    "DutCosim/the reference blocks built as user designs pass, and a broken one reports what its linked-in variant "
    "reports",
    "[rtl][cosim][dut]") {
  const std::string& dir = cnn_vectors();
  const std::string mulshift_sv = cosim::reference_rtl_path("mulshift"),
                    mulshift_yaml = cosim::reference_adapter_path("mulshift");
  for (const std::string& layer : layers_of(dir, {"mulshift"})) {
    const cosim::CosimResult r = run_dut({mulshift_sv}, "mulshift_unit", mulshift_yaml, dir, layer);
    INFO(cosim::format_report(r));
    CHECK(r.passed());
    CHECK(r.compared > 0);
  }
  for (const std::string& layer : layers_of(dir, {"conv_mac", "linear_mac"})) {
    const cosim::CosimResult r = run_dut({cosim::reference_rtl_path("mac_array")}, "mac_array",
                                         cosim::reference_adapter_path("mac_array"), dir, layer);
    INFO(cosim::format_report(r));
    CHECK(r.passed());
    CHECK(r.compared > 0);
  }
  // Unsigned weights: one zero point per tensor goes on cfg_weight_zero_point; one per channel cannot, and the
  // adapter without that port gets each lane less its own channel's zero point.
  const std::string per_tensor = write_example_vectors(
      "fmnist_cnn.onnx", "ref_uint8_tensor", "", "{bits: 8, signed: false, symmetric: false, granularity: per_tensor}");
  const std::string per_channel =
      write_example_vectors("fmnist_cnn.onnx", "ref_uint8_channel", "", "{bits: 8, signed: false, symmetric: false}");
  const std::string no_weight_zp =
      write_text("mac_array_no_weight_zp.yaml",
                 std::regex_replace(read_text(cosim::reference_adapter_path("mac_array")),
                                    std::regex("  cfg_weight_zero_point: cfg_weight_zero_point\n"), ""));
  for (const std::string& layer : layers_of(per_tensor, {"conv_mac", "linear_mac"})) {
    INFO(layer);
    const cosim::CosimResult r = run_dut({cosim::reference_rtl_path("mac_array")}, "mac_array",
                                         cosim::reference_adapter_path("mac_array"), per_tensor, layer);
    CHECK(r.passed());
    CHECK(r.compared > 0);
    CHECK_THROWS_WITH(run_dut({cosim::reference_rtl_path("mac_array")}, "mac_array",
                              cosim::reference_adapter_path("mac_array"), per_channel, layer),
                      Catch::Contains(layer) && Catch::Contains("a zero point per output channel"));
    const cosim::CosimResult lanes =
        run_dut({cosim::reference_rtl_path("mac_array")}, "mac_array", no_weight_zp, per_channel, layer);
    CHECK(lanes.passed());
    CHECK(lanes.compared > 0);
  }
  const std::string layer = layers_of(dir, {"mulshift"}).at(0);
  const auto stimulus = cosim::mulshift_stimulus(dir, layer);
  const cosim::CosimResult linked =
      cosim::cosim_design(cosim::linked_mulshift<Vmulshift_unit_m1>(), stimulus, cosim::DesignRun{layer});
  REQUIRE(linked.mismatches > 0);
  const cosim::CosimResult built =
      run_dut({mulshift_sv}, "mulshift_unit",
              adapter_with("mulshift_m1.yaml", mulshift_yaml, "parameters: {MUTATION: 1}\n"), dir, layer);
  check_same_report(built, linked);
  std::cout << "built as a design, MulShift MUTATION 1: " << cosim::format_report(built);

  // The sparse decoder on the all-2:4 CNN: passes every layer; swapped index bits report as linked in.
  const std::string sparse_dir =
      write_example_vectors("fmnist_cnn.onnx", "dut_sparse", "  sparsity: {pattern: \"2:4\"}\n");
  const std::string sparse_sv = cosim::reference_rtl_path("sparse"),
                    sparse_yaml = cosim::reference_adapter_path("sparse");
  const std::string sparse_m1 = adapter_with("sparse_m1.yaml", sparse_yaml, "parameters: {MUTATION: 1}\n");
  for (const std::string& decode : layers_of(sparse_dir, {"sparse_decode"})) {
    const cosim::CosimResult good = run_dut({sparse_sv}, "sparse_decoder", sparse_yaml, sparse_dir, decode);
    INFO(cosim::format_report(good));
    CHECK(good.passed());
    CHECK(good.compared > 0);
    const auto groups = cosim::sparse_stimulus(sparse_dir, decode, 2, 4);
    const cosim::CosimResult linked_sparse =
        cosim::cosim_design(cosim::linked_sparse<Vsparse_decoder_m1>(2, 4), groups, cosim::DesignRun{decode});
    REQUIRE(linked_sparse.mismatches > 0);
    check_same_report(run_dut({sparse_sv}, "sparse_decoder", sparse_m1, sparse_dir, decode), linked_sparse);
  }

  // A hung design ends at the harness's watchdog with its last handshake.
  const cosim::CosimResult hung =
      run_dut({mulshift_sv}, "mulshift_unit",
              adapter_with("mulshift_m4.yaml", mulshift_yaml, "parameters: {MUTATION: 4}\n"), dir, layer, 40);
  CHECK(hung.hung);
  CHECK(hung.hang ==
        "no handshake for 40 cycles at cycle 43 (input 0; 0 of 12544 elements sent, 0 received; last handshake: none "
        "at cycle 2)");
}

TEST_CASE(
    "DutCosim/the tutorial's systolic array passes every MAC layer, and its BUG is reported at PE (1, 2)'s elements",
    "[rtl][cosim][dut][mutation]") {
  const std::string& dir = cnn_vectors();
  const std::string sv = kSource + "/examples/cosim/systolic_os.sv",
                    yaml = kSource + "/examples/cosim/systolic_os.yaml";
  for (const std::string& layer : layers_of(dir, {"conv_mac", "linear_mac"})) {
    const cosim::CosimResult r = run_dut({sv}, "systolic_os", yaml, dir, layer);
    INFO(cosim::format_report(r));
    CHECK(r.passed());
    CHECK(r.compared > 0);
  }
  // BUG = 1: PE (1, 2) computes a · b instead of (a − z_a) · b, so on the stem conv (one group, 4 x 4
  // tiles of positions x channels) every output at position p ≡ 1 and channel m ≡ 2 (mod 4) is off by
  // z_a · Σ_k w[m][k] (the padding's codes are z_a too), wrapped to 32 bits; nothing else differs.
  const std::string layer = "/stem/stem.0/Conv.mac";
  const vectors::Manifest m = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(m.model);
  const Node& op = *std::find_if(g.ops.begin(), g.ops.end(), [&](const Node& n) { return n.name == layer; });
  const int64_t za = g.values.at(op.inputs[0]).quant.zero_point;
  const vectors::Entry* w_entry = nullptr;
  for (const vectors::Entry& e : m.entries)
    if (e.op == layer && e.tensor == op.inputs[1]) w_entry = &e;
  REQUIRE(w_entry);
  const std::vector<int64_t> w = vectors::read_vector(dir, *w_entry);
  const int64_t channels = w_entry->shape[0], taps = static_cast<int64_t>(w.size()) / channels;
  const cosim::CosimResult r =
      run_dut({sv}, "systolic_os", adapter_with("systolic_bug.yaml", yaml, "parameters: {BUG: 1}\n"), dir, layer);
  const auto stimulus = cosim::mac_array_stimulus(dir, layer, 4, 4);
  int64_t want = 0;
  bool first_found = false;
  cosim::FirstMismatch want_first;
  for (const auto& s : stimulus) {
    const int64_t positions = s.shape[2] * s.shape[3];
    for (size_t slot = 0; slot < s.index.size(); ++slot) {  // drain order: tile by tile, row by row
      const int64_t index = s.index[slot];
      if (index < 0) continue;
      const int64_t channel = index / positions, position = index % positions;
      if (position % 4 != 1 || channel % 4 != 2) continue;
      int64_t sum = 0;
      for (int64_t k = 0; k < taps; ++k) sum += w[static_cast<size_t>(channel * taps + k)];
      const auto offset = static_cast<uint32_t>(za * sum);
      if (offset == 0) continue;
      ++want;
      const auto expected = static_cast<int32_t>(static_cast<uint32_t>(s.expected[slot]) -
                                                 static_cast<uint32_t>(s.bias[slot / 16 * 4 + slot % 4]));
      if (!first_found)
        first_found = true,
        want_first = cosim::FirstMismatch{
            s.input, index, 0, {}, static_cast<int32_t>(static_cast<uint32_t>(expected) + offset), expected};
    }
  }
  INFO(cosim::format_report(r));
  REQUIRE(first_found);
  CHECK(r.mismatches == want);
  CHECK(r.first.input == want_first.input);
  CHECK(r.first.index == want_first.index);
  CHECK(r.first.got == want_first.got);
  CHECK(r.first.expected == want_first.expected);
  CHECK(r.first.coordinates == Shape{0, 2, 0, 1});
  std::cout << "tutorial systolic array, BUG 1: " << cosim::format_report(r);
}

namespace {

// The adapter of examples/cosim/systolic_mm.sv: whole 16 x 16 uint8 matrices, the CNN's int8
// weights sent as w + 128.
const std::string kSystolicAdapter =
    "block: mac_array\nprotocol: whole_matrix\nrows: 16\ncols: 16\ndepth: 16\nb_offset: 128\nclock: clk\n"
    "reset: {port: rst, active: high}\n"
    "ports:\n  in_a: a_in\n  in_b: b_in\n  in_valid: valid_in\n  out_valid: valid_out\n  out_c: c_out\n";

}  // namespace

TEST_CASE(
    "DutCosim/whole_matrix: a systolic multiplier of whole uint8 matrices passes every MAC layer, summing K chunks "
    "in chipref or in the design, and its stuck bit is found where the design's arithmetic predicts",
    "[rtl][cosim][dut][mutation]") {
  const std::string& dir = cnn_vectors();
  const std::vector<std::string> sv = {kSource + "/examples/cosim/systolic_mm.sv"};
  const std::string harness = write_text("systolic_mm.yaml", kSystolicAdapter),
                    dut = write_text("systolic_mm_dut.yaml",
                                     kSystolicAdapter + "  in_accumulate: accumulate\naccumulate: dut\n");
  check_every_mac_layer(sv, "systolic_mm", {harness, dut}, dir, 16, 16);

  // uint8 x uint8 as the design is: weights quantized unsigned with a zero point per output channel, sent as they
  // are (no b_offset); chipref's correction takes each column's zero point.
  const std::string unsigned_vectors =
      write_example_vectors("fmnist_cnn.onnx", "dut_uint8", "", "{bits: 8, signed: false, symmetric: false}");
  const std::string native = std::regex_replace(kSystolicAdapter, std::regex("b_offset: 128\n"), "");
  REQUIRE(native != kSystolicAdapter);
  const std::string native_harness = write_text("systolic_mm_uint8.yaml", native),
                    native_dut = write_text("systolic_mm_uint8_dut.yaml",
                                            native + "  in_accumulate: accumulate\naccumulate: dut\n");
  const IntGraph unsigned_graph = load_int_graph(vectors::read_manifest(unsigned_vectors).model);
  for (const std::string& layer : layers_of(unsigned_vectors, {"conv_mac", "linear_mac"})) {
    const Node& op = *std::find_if(unsigned_graph.ops.begin(), unsigned_graph.ops.end(),
                                   [&](const Node& n) { return n.name == layer; });
    const WeightQuant& w = unsigned_graph.weights.at(op.inputs.at(1));
    CHECK(w.format == IntFormat::uint_bits(8));
    CHECK(std::set<int64_t>(w.zero_points.begin(), w.zero_points.end()).size() > 1);  // per channel, not one
    for (const std::string& adapter : {native_harness, native_dut}) {
      const cosim::CosimResult r = run_dut(sv, "systolic_mm", adapter, unsigned_vectors, layer);
      INFO(layer << ", uint8 weights, " << adapter << "\n" << cosim::format_report(r));
      CHECK(r.passed());
      CHECK(r.compared > 0);
    }
  }

  // A 4-bit weight datapath (B_BITS = 4, 16 x 16 x 4-bit B lanes) on 4-bit vectors: unsigned symmetric 4-bit weights,
  // zero point 8, written 4 bits wide.
  const std::string four_bit_vectors =
      write_example_vectors("fmnist_cnn.onnx", "dut_uint4", "", "{bits: 4, signed: false}");
  const std::string four_bit = write_text("systolic_mm_uint4.yaml", native + "parameters: {B_BITS: 4}\n");
  for (const vectors::Entry& e : vectors::read_manifest(four_bit_vectors).entries)
    if (e.role == "weight") {
      CHECK(e.type.bits == 4);
      CHECK(!e.type.is_signed);
      CHECK(e.zero_points == std::vector<int64_t>(e.zero_points.size(), 8));
    }
  for (const std::string& layer : layers_of(four_bit_vectors, {"conv_mac", "linear_mac"})) {
    const cosim::CosimResult r = run_dut(sv, "systolic_mm", four_bit, four_bit_vectors, layer);
    INFO(layer << ", 4-bit weights\n" << cosim::format_report(r));
    CHECK(r.passed());
    CHECK(r.compared > 0);
  }

  // B packed transposed on the port (the design's B_COLUMN_MAJOR): passes when the adapter says so, and
  // the row-major default then reads every weight from the wrong lane.
  const std::string transposed = kSystolicAdapter + "parameters: {B_COLUMN_MAJOR: 1}\n";
  const std::string stem = "/stem/stem.0/Conv.mac";
  const cosim::CosimResult column_major = run_dut(
      sv, "systolic_mm", write_text("systolic_mm_cm.yaml", transposed + "layout: {in_b: column_major}\n"), dir, stem);
  INFO(cosim::format_report(column_major));
  CHECK(column_major.passed());
  CHECK(run_dut(sv, "systolic_mm", write_text("systolic_mm_rm.yaml", transposed), dir, stem).mismatches > 0);

  // BUG = 1 forces bit 3 of PE (1, 2)'s sum after every step: output position 1 of each 16-position tile,
  // channel 2 of each 16 channels. Predicted from the stimulus alone, with the design's own order of
  // additions (its first step adds 0, then one product a·(w + 128) per k, padding products 0) and
  // chipref's correction; the other PEs are exact.
  const std::string layer = "/stem/stem.0/Conv.mac";
  int64_t want = 0;
  std::set<std::pair<int64_t, int64_t>> want_elements;  // (input, index)
  for (const auto& s : cosim::mac_array_stimulus(dir, layer, 16, 16)) {
    const int64_t K = s.reduction, chunks = (K + 15) / 16, A = s.act_zero_point, B = 128 + s.weight_zero_points.at(0);
    for (int64_t tile = 0; tile < s.tiles; ++tile) {
      const size_t slot = static_cast<size_t>((tile * 16 + 1) * 16 + 2);
      if (s.index[slot] < 0) continue;
      int64_t broken = 0, exact = 0, row_sum = 0, col_sum = 0;
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        uint32_t acc = 8;
        for (int64_t k = chunk * 16; k < std::min(K, chunk * 16 + 16); ++k) {
          const int64_t a = s.activations[static_cast<size_t>((tile * K + k) * 16 + 1)],
                        w = s.weights[static_cast<size_t>((tile * K + k) * 16 + 2)] + 128;
          acc = (acc + static_cast<uint32_t>(a * w)) | 8u;
          exact += a * w, row_sum += a, col_sum += w;
        }
        broken += static_cast<int32_t>(acc);
      }
      const auto corrected = [&](int64_t sum) {
        return static_cast<int32_t>(static_cast<uint32_t>(sum - B * row_sum - A * col_sum + K * A * B +
                                                          s.bias[static_cast<size_t>(tile * 16 + 2)]));
      };
      REQUIRE(corrected(exact) == s.expected[slot]);  // the correction itself, checked on the exact sums
      if (corrected(broken) != s.expected[slot]) ++want, want_elements.insert({s.input, s.index[slot]});
    }
  }
  REQUIRE(want > 0);
  const cosim::CosimResult r = run_dut(
      sv, "systolic_mm", write_text("systolic_mm_bug.yaml", kSystolicAdapter + "parameters: {BUG: 1}\n"), dir, layer);
  INFO(cosim::format_report(r));
  CHECK(r.mismatches == want);
  CHECK(want_elements.count({r.first.input, r.first.index}) == 1);
  CHECK(want_elements.count({r.lowest.input, r.lowest.index}) == 1);
  CHECK(*want_elements.begin() == std::make_pair(r.lowest.input, r.lowest.index));
  std::cout << "whole-matrix systolic multiplier, BUG 1: " << cosim::format_report(r);
}

TEST_CASE(
    "DutCosim/fixed_latency: a pipelined MulShift passes by latency and by done flag, in the cycles the protocol "
    "defines",
    "[rtl][cosim][dut]") {
  const std::string& dir = cnn_vectors();
  const std::string layer = layers_of(dir, {"mulshift"}).at(0);
  const std::vector<std::string> sources = {kSource + "/tests/rtl_bridge/designs/requant_pipe.sv",
                                            cosim::reference_rtl_path("mulshift")};
  const std::string common =
      "block: mulshift\nprotocol: fixed_latency\nclock: clock\nreset: {port: reset_n, active: low, cycles: 3}\n"
      "ports:\n  in_acc: acc\n  in_multiplier: {port: mult, signed: false}\n  in_shift: sh\n  cfg_zero_point: zp\n  "
      "cfg_out_min: lo\n"
      "  cfg_out_max: hi\n  out_code: result\n  in_valid: go\n";
  const auto stimulus = cosim::mulshift_stimulus(dir, layer);
  const int64_t elements = static_cast<int64_t>(stimulus.at(0).expected.size());
  const cosim::CosimResult by_latency =
      run_dut(sources, "requant_pipe", write_text("pipe_latency.yaml", common + "latency: 3\n"), dir, layer);
  INFO(cosim::format_report(by_latency));
  CHECK(by_latency.passed());
  CHECK(by_latency.compared == 2 * elements);
  CHECK(by_latency.cycles == 2 * (3 + 3 * elements));  // per input: 3 reset cycles, then 3 a element
  const cosim::CosimResult by_flag =
      run_dut(sources, "requant_pipe", write_text("pipe_flag.yaml", common + "  out_valid: done\n"), dir, layer);
  INFO(cosim::format_report(by_flag));
  CHECK(by_flag.passed());
  CHECK(by_flag.cycles == by_latency.cycles);
  // A latency one short reads the previous element's code: caught.
  const cosim::CosimResult early =
      run_dut(sources, "requant_pipe", write_text("pipe_early.yaml", common + "latency: 2\n"), dir, layer);
  CHECK(early.mismatches > 0);
  // The unit's MUTATION through the wrapper: the same report as the linked-in variant.
  const cosim::CosimResult linked =
      cosim::cosim_design(cosim::linked_mulshift<Vmulshift_unit_m1>(), stimulus, cosim::DesignRun{layer});
  const cosim::CosimResult broken =
      run_dut(sources, "requant_pipe", write_text("pipe_m1.yaml", common + "latency: 3\nparameters: {MUTATION: 1}\n"),
              dir, layer);
  check_same_report(broken, linked);
}

TEST_CASE(
    "DutCosim/whole_matrix with matrices split a port per row or column: every MAC layer passes, a swapped port "
    "order is caught, and lanes that do not split evenly are an error",
    "[rtl][cosim][dut]") {
  const std::string& dir = cnn_vectors();
  const std::vector<std::string> sv = {kSource + "/tests/rtl_bridge/designs/systolic_mm_split.sv",
                                       kSource + "/examples/cosim/systolic_mm.sv"};
  const auto adapter = [](const std::string& a_rows) {
    return "block: mac_array\nprotocol: whole_matrix\nrows: 4\ncols: 4\ndepth: 4\nb_offset: 128\nclock: clk\n"
           "reset: {port: rst, active: high}\nlayout: {in_b: column_major}\nports:\n"
           "  in_a: {ports: [" +
           a_rows +
           "]}\n  in_b: {ports: [b_col0, b_col1, b_col2, b_col3]}\n  in_valid: valid_in\n  out_valid: valid_out\n"
           "  out_c: {ports: [c_row0, c_row1, c_row2, c_row3]}\n";
  };
  const std::string split = write_text("split.yaml", adapter("a_row0, a_row1, a_row2, a_row3"));
  check_every_mac_layer(sv, "systolic_mm_split", {split}, dir, 4, 4);
  // Rows 0 and 1 of A exchanged: the outputs of those positions exchange too.
  const std::string layer = layers_of(dir, {"conv_mac"}).at(0);
  const cosim::CosimResult swapped = run_dut(
      sv, "systolic_mm_split", write_text("split_swapped.yaml", adapter("a_row1, a_row0, a_row2, a_row3")), dir, layer);
  CHECK(swapped.mismatches > 0);
  CHECK_THROWS_WITH(
      run_dut(sv, "systolic_mm_split", write_text("split_uneven.yaml", adapter("a_row0, a_row1, a_row2")), dir, layer),
      Catch::Contains("role in_a has 16 lanes, which 3 ports cannot carry in equal parts"));
}

TEST_CASE(
    "DutCosim/whole_matrix with in_ready overlaps blocks: a pipelined multiplier with backpressure passes every MAC "
    "layer with either accumulation in fewer cycles than one block at a time, and a late C is caught",
    "[rtl][cosim][dut]") {
  const std::string& dir = cnn_vectors();
  const std::vector<std::string> sv = {kSource + "/tests/rtl_bridge/designs/pipelined_mm.sv"};
  const std::string base =
      "block: mac_array\nprotocol: whole_matrix\nrows: 4\ncols: 4\ndepth: 4\nb_offset: 128\nclock: clk\n"
      "reset: {port: rst_n, active: low}\nports:\n  in_a: a_in\n  in_b: b_in\n  in_valid: valid_in\n"
      "  in_ready: ready_out\n  out_valid: valid_out\n  out_c: c_out\n";
  const std::string harness = write_text("pipelined.yaml", base),
                    dut = write_text("pipelined_dut.yaml", base + "  in_accumulate: accumulate\naccumulate: dut\n");
  constexpr int64_t kLatency = 5;  // the design's default
  // One block at a time would take at least kLatency cycles a block; overlapped, about 1.5 (every third
  // cycle the design is not ready).
  for (const cosim::CosimResult& r : check_every_mac_layer(sv, "pipelined_mm", {harness, dut}, dir, 4, 4))
    CHECK(r.cycles < r.matrices * kLatency / 2);
  const std::string layer = layers_of(dir, {"conv_mac"}).at(0);
  const cosim::CosimResult late =
      run_dut(sv, "pipelined_mm", write_text("pipelined_bug.yaml", base + "parameters: {BUG: 1}\n"), dir, layer);
  CHECK(late.mismatches > 0);
  CHECK_THROWS_WITH(
      run_dut(sv, "pipelined_mm",
              write_text("pipelined_latency.yaml",
                         std::regex_replace(base, std::regex("  out_valid: valid_out\n"), "") + "latency: 5\n"),
              dir, layer),
      Catch::Contains("with in_ready (blocks overlapping) the whole_matrix protocol takes each C on out_valid"));
}

TEST_CASE(
    "DutCosim/protocol plugins: the example plugin loads, drives a pipelined MulShift at its latency and catches a "
    "late one and a broken one, and modules that are not plugins or were built against other headers are refused",
    "[rtl][cosim][dut][plugin]") {
  const std::string plugins = CHIPREF_TEST_PLUGIN_DIR;
  const std::string& dir = cnn_vectors();
  const std::string layer = layers_of(dir, {"mulshift"}).at(0);
  const std::string sv = cosim::reference_rtl_path("mulshift");
  // The reference unit's own roles, minus its handshake (the plugin holds in_valid high and reads the
  // code `latency` edges later, never looking at in_ready or out_valid).
  std::string roles;
  for (const char* role :
       {"in_acc", "in_multiplier", "in_shift", "cfg_multiplier_bits", "cfg_round_half_up", "cfg_zero_point",
        "cfg_out_min", "cfg_out_max", "cfg_clamp_lo", "cfg_clamp_hi", "out_code", "in_valid", "out_ready"})
    roles += std::string("  ") + role + ": " + role + "\n";
  const std::string head =
      "block: mulshift\nprotocol: pipelined\nclock: clk\nreset: {port: rst_n, active: low, cycles: 2}\nports:\n" +
      roles;
  // Before the plugin is loaded, its protocol is unknown, and the error says where protocols come from.
  CHECK_THROWS_WITH(cosim::load_dut_adapter(write_text("plugin_early.yaml", head + "latency: 1\n")),
                    Catch::Contains("'protocol' is 'pipelined'; expected one of: valid_ready, fixed_latency (or one "
                                    "of your own: load its plugin with --protocol-plugin)"));
  cosim::load_protocol_plugin(plugins + "/libtest_pipelined_protocol.so");
  cosim::load_protocol_plugin(plugins + "/libtest_pipelined_protocol.so");  // again: a no-op
  REQUIRE(cosim::find_dut_protocol("pipelined") != nullptr);

  const auto stimulus = cosim::mulshift_stimulus(dir, layer);
  const auto elements = static_cast<int64_t>(stimulus.at(0).expected.size());
  const cosim::CosimResult r =
      run_dut({sv}, "mulshift_unit", write_text("plugin.yaml", head + "latency: 1\n"), dir, layer);
  INFO(cosim::format_report(r));
  CHECK(r.passed());
  CHECK(r.compared == 2 * elements);
  CHECK(r.cycles == 2 * (2 + elements + 1));  // per input: the reset, an element a cycle, the last one's latency
  // One edge late reads the previous element's code: caught (the unit's latency is 1).
  const cosim::CosimResult late =
      run_dut({sv}, "mulshift_unit", write_text("plugin_late.yaml", head + "latency: 2\n"), dir, layer);
  CHECK(late.mismatches > 0);
  // The broken rounding: what the linked-in variant reports through valid_ready.
  const cosim::CosimResult broken =
      run_dut({sv}, "mulshift_unit", write_text("plugin_m1.yaml", head + "latency: 1\nparameters: {MUTATION: 1}\n"),
              dir, layer);
  check_same_report(
      broken, cosim::cosim_design(cosim::linked_mulshift<Vmulshift_unit_m1>(), stimulus, cosim::DesignRun{layer}));

  CHECK_THROWS_WITH(cosim::load_protocol_plugin(plugins + "/libtest_version_plugin.so"),
                    Catch::Contains("built for plugin interface version 2, this chipref loads version 1: rebuild it"));
  CHECK_THROWS_WITH(cosim::load_protocol_plugin(plugins + "/libtest_headers_plugin.so"),
                    Catch::Contains("built against other chipref headers (hash 0123456789abcdef), this chipref's are " +
                                    std::string(cosim::kPluginHeadersHash).substr(0, 16)));
  // Refused again, not skipped as loaded.
  CHECK_THROWS_WITH(cosim::load_protocol_plugin(plugins + "/libtest_headers_plugin.so"),
                    Catch::Contains("built against other chipref headers"));
  CHECK_THROWS_WITH(cosim::load_protocol_plugin(plugins + "/libtest_none_plugin.so"),
                    Catch::Contains("not a chipref protocol plugin (it defines no chipref_protocol_plugin_version"));
  CHECK_THROWS_WITH(cosim::load_protocol_plugin(plugins + "/no_such_plugin.so"), Catch::Contains("no such file"));
}

TEST_CASE("DutCosim/a waveform around the first mismatch, the build cache, and Verilator's own errors",
          "[rtl][cosim][dut]") {
  const std::string& dir = cnn_vectors();
  const std::string sv = kSource + "/examples/cosim/systolic_os.sv";
  const std::string trace = (fs::temp_directory_path() / "chipref_test_dut_bug.fst").string();
  fs::remove(trace);
  const cosim::CosimResult r =
      run_dut({sv}, "systolic_os",
              adapter_with("systolic_bug.yaml", kSource + "/examples/cosim/systolic_os.yaml", "parameters: {BUG: 1}\n"),
              dir, "/stem/stem.0/Conv.mac", 1000, trace);
  REQUIRE(r.has_mismatch);
  CHECK(r.trace == trace + " (cycles 0.." + std::to_string(r.first.cycle + 100) + " of input 0)");
  CHECK(cosim::format_report(r).find("  waveform: " + r.trace) != std::string::npos);
  const std::string fst = read_text(trace);
  REQUIRE(fst.size() > 100);
  CHECK(fst[0] == 0);  // an FST file opens with its header block (type 0)

  cosim::build_dut(cosim::DutDesign{{sv}, "systolic_os", {}}, cache_dir());  // built here, or by an earlier case
  const cosim::BuiltDut again = cosim::build_dut(cosim::DutDesign{{sv}, "systolic_os", {}}, cache_dir());
  CHECK(again.from_cache);
  std::vector<std::string> names;
  for (const cosim::DutPort& p : again.ports) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"a_zero", "i_clk", "i_rst", "m_c", "m_valid", "s_a", "s_b", "s_last",
                                          "s_ready", "s_valid"});  // as declared
  // The Verilator runtime is kept by the first build (here, or an earlier one); a new design starts from
  // it and compiles only its own model (its build log shows no runtime source compiled). BUG values past
  // the design's own change nothing: a random one is a design not in the cache.
  const int64_t unique = std::random_device{}() % 1000000 + 100;
  cosim::build_dut(cosim::DutDesign{{sv}, "systolic_os", {{"BUG", std::to_string(unique)}}}, cache_dir());
  bool kept = false;
  for (const auto& entry : fs::directory_iterator(cache_dir())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("runtime-", 0) == 0 && name.find(".tmp-") == std::string::npos)
      kept =
          fs::is_regular_file(entry.path() / "verilated.o") && fs::is_regular_file(entry.path() / "verilated_fst_c.o");
  }
  CHECK(kept);
  const cosim::BuiltDut fresh =
      cosim::build_dut(cosim::DutDesign{{sv}, "systolic_os", {{"BUG", std::to_string(unique + 1)}}}, cache_dir());
  CHECK_FALSE(fresh.from_cache);
  const std::string log = read_text(fresh.directory + "/build.log");
  CHECK(log.find("include/verilated.cpp") == std::string::npos);
  CHECK(log.find("Vdut__ALL") != std::string::npos);  // the design's own code was compiled
  const std::string broken =
      write_text("broken.sv", "module broken(input logic clk);\n  logic x;\n  assign x = ;\nendmodule\n");
  try {
    cosim::build_dut(cosim::DutDesign{{broken}, "broken", {}}, cache_dir());
    FAIL("no error");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("Verilator rejected the design (top 'broken')") != std::string::npos);
    CHECK(what.find("%Error: " + broken + ":3:") != std::string::npos);
    CHECK(what.find("full log: ") != std::string::npos);
  }
}
