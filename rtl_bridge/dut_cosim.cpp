#include "rtl_bridge/dut_cosim.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "core/error.hpp"
#include "rtl_bridge/dut_protocol.hpp"
#include "rtl_bridge/dut_runtime.hpp"

namespace chipref::cosim {

namespace {

ElementStream element_stream(const MulShiftStimulus& s, std::vector<int32_t>& shifts) {
  shifts.assign(s.shifts.begin(), s.shifts.end());
  ElementStream e{
      s.input, s.shape, {{"in_acc", &s.accumulators}, {"in_multiplier", &s.multipliers}, {"in_shift", &shifts}},
      {},      nullptr, &s.expected};
  const MulShiftSettings& c = s.settings;
  e.config = {{"cfg_multiplier_bits", c.multiplier_bits},
              {"cfg_round_half_up", c.round_half_up},
              {"cfg_zero_point", c.zero_point},
              {"cfg_out_min", c.out_min},
              {"cfg_out_max", c.out_max},
              {"cfg_clamp_lo", c.clamp_lo},
              {"cfg_clamp_hi", c.clamp_hi}};
  return e;
}

ElementStream element_stream(const LutStimulus& s) {
  ElementStream e{s.input, s.shape, {{"in_code", &s.codes}}, {}, &s.table, &s.expected};
  e.config = {{"cfg_entries", static_cast<int64_t>(s.table.size())},
              {"cfg_in_min", s.in_min},
              {"cfg_shift", s.shift},
              {"cfg_interpolate", s.interpolate},
              {"cfg_out_min", s.out_min},
              {"cfg_out_max", s.out_max}};
  return e;
}

// Every input through a fresh instance; then, when asked and something failed, the failing input once
// more with a waveform of the cycles around the first mismatch (or before the hang).
template <class Stimulus, class Drive>
CosimResult run_inputs(const std::shared_ptr<const DutLibrary>& library, const DutAdapter& adapter,
                       const DutCosimOptions& o, const std::vector<Stimulus>& inputs, Drive drive) {
  auto run_one = [&](const Stimulus& s, CosimResult& r, const std::string& trace, int64_t from, int64_t to) {
    const auto t0 = std::chrono::steady_clock::now();
    Harness h(library, adapter, o.layer, !trace.empty());
    if (!trace.empty()) h.trace(trace, from, to);
    drive(h, s, r);
    r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  CosimResult r = cosim_each_input("dut " + adapter.block, o.layer, inputs,
                                   [&](const Stimulus& s, CosimResult& res) { run_one(s, res, "", 0, -1); });
  if (o.trace.empty() || r.passed()) return r;
  const int64_t failed_input = r.hung ? r.inputs - 1 : r.first.input;
  const int64_t around = r.hung ? r.cycles : r.first.cycle;
  const int64_t start = r.hung ? r.input_start_cycle : r.first.input_start_cycle;
  CosimResult replay;
  replay.cycles = start;
  run_one(inputs.at(static_cast<size_t>(failed_input)), replay, o.trace, around - o.trace_window,
          around + o.trace_window);
  r.trace = fmt::format("{} (cycles {}..{} of input {})", o.trace, std::max(start, around - o.trace_window),
                        std::min(replay.cycles, around + o.trace_window), failed_input);
  return r;
}

}  // namespace

CosimResult cosim_dut(const DutCosimOptions& o) {
  DutAdapter adapter = load_dut_adapter(o.adapter);
  DutDesign design{o.sources, o.top, adapter.parameters};
  const std::string root = o.build_dir.empty() ? default_dut_cache_root() : o.build_dir;
  const BuiltDut built = build_dut(design, root);
  std::fprintf(stderr, "cosim: design %s %s %s\n", o.top.c_str(),
               built.from_cache ? "from the build cache" : "built into", built.directory.c_str());
  bind_dut_ports(adapter, built.ports);
  const auto library = std::make_shared<const DutLibrary>(built);
  const int64_t watchdog = o.watchdog;
  const DutProtocol& protocol = *find_dut_protocol(adapter.protocol);
  if (adapter.block == "mulshift")
    return run_inputs(library, adapter, o, mulshift_stimulus(o.vectors_dir, o.layer),
                      [&](Harness& h, const MulShiftStimulus& s, CosimResult& r) {
                        std::vector<int32_t> shifts;
                        protocol.elements(h, element_stream(s, shifts), r, watchdog);
                      });
  if (adapter.block == "lut")
    return run_inputs(library, adapter, o, lut_stimulus(o.vectors_dir, o.layer, int64_t{1} << 30),
                      [&](Harness& h, const LutStimulus& s, CosimResult& r) {
                        protocol.elements(h, element_stream(s), r, watchdog);
                      });
  if (adapter.block == "sparse")
    return run_inputs(library, adapter, o,
                      sparse_stimulus(o.vectors_dir, o.layer, static_cast<int>(adapter.n), static_cast<int>(adapter.m)),
                      [&](Harness& h, const SparseStimulus& s, CosimResult& r) { protocol.groups(h, s, r, watchdog); });
  return run_inputs(library, adapter, o, mac_array_stimulus(o.vectors_dir, o.layer, adapter.rows, adapter.cols),
                    [&](Harness& h, const MacArrayStimulus& s, CosimResult& r) { protocol.tiles(h, s, r, watchdog); });
}

std::string reference_top(const std::string& block) {
  return block == "mulshift" ? "mulshift_unit"
         : block == "lut"    ? "lut_unit"
         : block == "sparse" ? "sparse_decoder"
                             : block;
}
std::string reference_rtl_path(const std::string& block) {
  return std::string(CHIPREF_SOURCE_DIR) + "/rtl_bridge/rtl/" + reference_top(block) + ".sv";
}
std::string reference_adapter_path(const std::string& block) {
  return std::string(CHIPREF_SOURCE_DIR) + "/rtl_bridge/adapters/" + block + ".yaml";
}

}  // namespace chipref::cosim
