#include "rtl_bridge/design_cosim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "rtl_bridge/dut_protocol.hpp"

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
CosimResult run_inputs(const Design& design, const DesignRun& run, const std::vector<Stimulus>& inputs, Drive drive) {
  const DutProtocol& protocol = *find_dut_protocol(design.adapter.protocol);
  auto run_one = [&](const Stimulus& s, CosimResult& r, const std::string& trace, int64_t from, int64_t to) {
    const auto t0 = std::chrono::steady_clock::now();
    Harness h(design.make(!trace.empty()), design.adapter, run.layer);
    if (!trace.empty()) h.trace(trace, from, to);
    drive(protocol, h, s, r);
    r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  CosimResult r = cosim_each_input(design.name, run.layer, inputs,
                                   [&](const Stimulus& s, CosimResult& res) { run_one(s, res, "", 0, -1); });
  if (run.trace.empty() || r.passed()) return r;
  const int64_t failed_input = r.hung ? r.inputs - 1 : r.first.input;
  const int64_t around = r.hung ? r.cycles : r.first.cycle;
  const int64_t start = r.hung ? r.input_start_cycle : r.first.input_start_cycle;
  CosimResult replay;
  replay.cycles = start;
  run_one(inputs.at(static_cast<size_t>(failed_input)), replay, run.trace, around - run.trace_window,
          around + run.trace_window);
  r.trace = fmt::format("{} (cycles {}..{} of input {})", run.trace, std::max(start, around - run.trace_window),
                        std::min(replay.cycles, around + run.trace_window), failed_input);
  return r;
}

}  // namespace

CosimResult cosim_design(const Design& design, const std::vector<MulShiftStimulus>& inputs, const DesignRun& run) {
  return run_inputs(design, run, inputs,
                    [&](const DutProtocol& p, Harness& h, const MulShiftStimulus& s, CosimResult& r) {
                      std::vector<int32_t> shifts;
                      p.elements(h, element_stream(s, shifts), r, run.watchdog);
                    });
}

CosimResult cosim_design(const Design& design, const std::vector<LutStimulus>& inputs, const DesignRun& run) {
  return run_inputs(design, run, inputs, [&](const DutProtocol& p, Harness& h, const LutStimulus& s, CosimResult& r) {
    p.elements(h, element_stream(s), r, run.watchdog);
  });
}

CosimResult cosim_design(const Design& design, const std::vector<MacArrayStimulus>& inputs, const DesignRun& run) {
  if (!inputs.empty() && inputs[0].reduction > design.max_reduction)
    throw InputError(fmt::format("layer {}: its reduction K = {} is longer than the {} steps {} buffers per tile",
                                 run.layer, inputs[0].reduction, design.max_reduction, design.name));
  return run_inputs(design, run, inputs,
                    [&](const DutProtocol& p, Harness& h, const MacArrayStimulus& s, CosimResult& r) {
                      p.tiles(h, s, r, run.watchdog);
                    });
}

CosimResult cosim_design(const Design& design, const std::vector<SparseStimulus>& inputs, const DesignRun& run) {
  return run_inputs(design, run, inputs,
                    [&](const DutProtocol& p, Harness& h, const SparseStimulus& s, CosimResult& r) {
                      p.groups(h, s, r, run.watchdog);
                    });
}

CosimResult cosim_design(const Design& design, const std::vector<MxDotStimulus>& inputs, const DesignRun& run) {
  return run_inputs(design, run, inputs, [&](const DutProtocol& p, Harness& h, const MxDotStimulus& s, CosimResult& r) {
    p.block_dots(h, s, r, run.watchdog);
  });
}

CosimResult cosim_design(const Design& design, const std::string& vectors_dir, const DesignRun& run) {
  const DutAdapter& a = design.adapter;
  if (a.block == "mx_dot")
    return cosim_design(
        design, mx_dot_stimulus(vectors_dir, run.layer, a.block_lanes, a.activation_format, a.weight_format), run);
  if (a.block == "mulshift") return cosim_design(design, mulshift_stimulus(vectors_dir, run.layer), run);
  if (a.block == "lut") return cosim_design(design, lut_stimulus(vectors_dir, run.layer, design.lut_depth), run);
  if (a.block == "sparse")
    return cosim_design(design, sparse_stimulus(vectors_dir, run.layer, static_cast<int>(a.n), static_cast<int>(a.m)),
                        run);
  return cosim_design(design, mac_array_stimulus(vectors_dir, run.layer, a.rows, a.cols), run);
}

}  // namespace chipref::cosim
