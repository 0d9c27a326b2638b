#include "rtl_bridge/dut_cosim.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "core/error.hpp"
#include "rtl_bridge/dut_runtime.hpp"

namespace chipref::cosim {

namespace {

// One instance of the design with its adapter's roles bound to pins: values go in and out by role,
// range-checked against the lanes, and the clock is driven here (with an optional waveform window).
class Harness {
 public:
  Harness(std::shared_ptr<const DutLibrary> library, const DutAdapter& adapter, const std::string& layer, bool traced)
      : adapter_(adapter), layer_(layer), dut_(std::move(library), traced) {
    clock_ = dut_.pin(adapter.clock);
    if (!adapter.reset.empty()) reset_ = dut_.pin(adapter.reset);
    for (const auto& [role, binding] : adapter.roles) pins_.emplace(role, Bound{dut_.pin(binding.port), &binding});
  }

  bool has(const std::string& role) const { return pins_.count(role) != 0; }

  void put(const std::string& role, int64_t value, int64_t lane = 0) {
    const Bound& b = pins_.at(role);
    const int w = b.binding->lane_width;
    const int64_t lo = b.binding->is_signed ? -(int64_t{1} << (w - 1)) : 0, hi = b.binding->is_signed ? (int64_t{1} << (w - 1)) - 1 : (int64_t{1} << w) - 1;
    if (w < 64 && (value < lo || value > hi))
      throw InputError(fmt::format("{}: layer {}: role {} must carry {}, which does not fit port '{}' ({}-bit {} lanes, range {}..{})", b.binding->where, layer_,
                                   role, value, b.binding->port, w, b.binding->is_signed ? "signed" : "unsigned", lo, hi));
    b.pin.set_lane(lane, w, value);
  }
  void put_if(const std::string& role, int64_t value) {
    if (has(role)) put(role, value);
  }
  int64_t get(const std::string& role, int64_t lane = 0) const {
    const Bound& b = pins_.at(role);
    return b.pin.lane(lane, b.binding->lane_width, b.binding->is_signed);
  }
  bool high(const std::string& role) const { return pins_.at(role).pin.high(); }

  // The two halves of a clock cycle: the handshakes of a cycle are sampled between them.
  void falling(CosimResult& r) {
    clock_.set(0);
    dut_.eval();
    dump(2 * r.cycles, r.cycles);
  }
  void rising(CosimResult& r) {
    clock_.set(1);
    dut_.eval();
    dump(2 * r.cycles + 1, r.cycles);
    ++r.cycles;
  }
  void cycle(CosimResult& r) { falling(r), rising(r); }

  // reset_cycles cycles with the reset active, no input offered and the output accepted.
  void reset(CosimResult& r) {
    put_if("in_valid", 0);
    put_if("out_ready", 1);
    if (!reset_) return;
    reset_.set(adapter_.reset_active_high ? 1 : 0);
    for (int64_t i = 0; i < adapter_.reset_cycles; ++i) cycle(r);
    reset_.set(adapter_.reset_active_high ? 0 : 1);
  }

  // A waveform of cycles [from, to] to `path`.
  void trace(const std::string& path, int64_t from, int64_t to) {
    dut_.open_trace(path);
    trace_from_ = from, trace_to_ = to;
  }

 private:
  void dump(uint64_t time, int64_t cycle) {
    if (cycle >= trace_from_ && cycle <= trace_to_) dut_.dump(time);
  }
  struct Bound {
    Pin pin;
    const RoleBinding* binding;
  };
  const DutAdapter& adapter_;
  std::string layer_;
  DutInstance dut_;
  Pin clock_, reset_;
  std::map<std::string, Bound> pins_;
  int64_t trace_from_ = 1, trace_to_ = 0;
};

void hang(CosimResult& r, const Watchdog& watchdog, const std::string& progress) {
  r.hung = true;
  r.hang = watchdog.describe(r.cycles, progress);
}

// An element-wise block's stimulus for one input, by role.
struct ElementStream {
  int64_t input = 0;
  Shape shape;
  std::vector<std::pair<std::string, const std::vector<int32_t>*>> inputs;  // per element
  std::vector<std::pair<std::string, int64_t>> config;
  const std::vector<int32_t>* table = nullptr;
  const std::vector<int32_t>* expected = nullptr;
};

ElementStream element_stream(const MulShiftStimulus& s, std::vector<int32_t>& shifts) {
  shifts.assign(s.shifts.begin(), s.shifts.end());
  ElementStream e{s.input, s.shape, {{"in_acc", &s.accumulators}, {"in_multiplier", &s.multipliers}, {"in_shift", &shifts}}, {}, nullptr, &s.expected};
  e.config = {{"cfg_multiplier_bits", s.multiplier_bits}, {"cfg_round_half_up", s.round_half_up}, {"cfg_zero_point", s.zero_point}, {"cfg_out_min", s.out_min},
              {"cfg_out_max", s.out_max}, {"cfg_clamp_lo", s.clamp_lo}, {"cfg_clamp_hi", s.clamp_hi}};
  return e;
}

ElementStream element_stream(const LutStimulus& s) {
  ElementStream e{s.input, s.shape, {{"in_code", &s.codes}}, {}, &s.table, &s.expected};
  e.config = {{"cfg_entries", static_cast<int64_t>(s.table.size())}, {"cfg_in_min", s.in_min}, {"cfg_shift", s.shift}, {"cfg_interpolate", s.interpolate},
              {"cfg_out_min", s.out_min}, {"cfg_out_max", s.out_max}};
  return e;
}

void drive_elements(Harness& h, const DutAdapter& a, const ElementStream& s, CosimResult& r, int64_t watchdog_cycles) {
  for (const auto& [role, value] : s.config) h.put_if(role, value);
  h.put_if("tbl_we", 0);
  h.reset(r);
  if (s.table && h.has("tbl_we")) {
    for (size_t i = 0; i < s.table->size(); ++i) {
      h.put("tbl_we", 1), h.put("tbl_addr", static_cast<int64_t>(i)), h.put("tbl_data", (*s.table)[i]);
      h.cycle(r);
    }
    h.put("tbl_we", 0);
  }
  const std::vector<int32_t>& expected = *s.expected;
  const size_t n = expected.size();
  auto set_inputs = [&](size_t i) {
    for (const auto& [role, values] : s.inputs) h.put(role, (*values)[i]);
  };
  Watchdog watchdog(watchdog_cycles, r.cycles);
  auto progress = [&](size_t sent, size_t received) {
    return fmt::format("input {}; {} of {} elements sent, {} received", s.input, sent, n, received);
  };
  if (a.protocol == DutProtocol::fixed_latency) {
    // One element at a time: its inputs with a one-cycle in_valid pulse, then the output after `latency`
    // rising edges (the pulse's own edge counts) or on the first edge after which out_valid is high.
    for (size_t i = 0; i < n; ++i) {
      set_inputs(i);
      h.put("in_valid", 1);
      h.cycle(r);
      h.put("in_valid", 0);
      watchdog.saw(r.cycles - 1, "in_valid pulse of element " + std::to_string(i));
      for (int64_t edges = 1; a.latency > 0 ? edges < a.latency : !h.high("out_valid"); ++edges) {
        h.cycle(r);
        if (watchdog.expired(r.cycles)) return hang(r, watchdog, progress(i + 1, i) + "; out_valid never rose");
      }
      score(r, s.input, static_cast<int64_t>(i), s.shape, static_cast<int32_t>(h.get("out_code")), expected[i]);
    }
    return;
  }
  size_t sent = 0, received = 0;
  while (received < n) {
    h.put("in_valid", sent < n);
    if (sent < n) set_inputs(sent);
    h.falling(r);
    const bool in_fire = sent < n && (!h.has("in_ready") || h.high("in_ready")), out_fire = h.high("out_valid");
    if (out_fire) {
      score(r, s.input, static_cast<int64_t>(received), s.shape, static_cast<int32_t>(h.get("out_code")), expected[received]);
      watchdog.saw(r.cycles, "output element " + std::to_string(received++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input element " + std::to_string(sent++));
    h.rising(r);
    if (watchdog.expired(r.cycles)) return hang(r, watchdog, progress(sent, received));
  }
}

// Output-stationary tiles (docs/cosim.md): per tile K beats of in_act [rows] and in_weight [cols] with
// in_first / in_last, then `rows` output beats of out_acc [cols], row 0 first. What the design leaves
// out, chipref does: without cfg_*_zero_point it sends codes minus the zero point; without in_bias it
// expects the accumulators minus the bias.
void drive_tiles(Harness& h, const MacArrayStimulus& s, CosimResult& r, int64_t watchdog_cycles) {
  const int64_t R = s.rows, C = s.cols, K = s.reduction, beats = s.tiles * K, rows_out = s.tiles * R;
  const bool act_zp = h.has("cfg_act_zero_point"), weight_zp = h.has("cfg_weight_zero_point"), bias = h.has("in_bias");
  h.put_if("cfg_act_zero_point", s.act_zero_point);
  h.put_if("cfg_weight_zero_point", s.weight_zero_point);
  h.reset(r);
  int64_t sent = 0, drained = 0;
  Watchdog watchdog(watchdog_cycles, r.cycles);
  while (drained < rows_out) {
    h.put("in_valid", sent < beats);
    if (sent < beats) {
      const int64_t tile = sent / K, k = sent % K;
      h.put_if("in_first", k == 0);
      h.put("in_last", k == K - 1);
      for (int64_t i = 0; i < R; ++i) h.put("in_act", s.activations[static_cast<size_t>(sent * R + i)] - (act_zp ? 0 : s.act_zero_point), i);
      for (int64_t c = 0; c < C; ++c) h.put("in_weight", s.weights[static_cast<size_t>(sent * C + c)] - (weight_zp ? 0 : s.weight_zero_point), c);
      if (bias && k == 0)
        for (int64_t c = 0; c < C; ++c) h.put("in_bias", s.bias[static_cast<size_t>(tile * C + c)], c);
    }
    h.falling(r);
    const bool in_fire = sent < beats && (!h.has("in_ready") || h.high("in_ready")), out_fire = h.high("out_valid");
    if (out_fire) {
      const int64_t tile = drained / R;
      for (int64_t c = 0; c < C; ++c) {
        const size_t slot = static_cast<size_t>(drained * C + c);
        if (s.index[slot] < 0) continue;  // padding of a partial tile
        const int32_t offset = bias ? 0 : s.bias[static_cast<size_t>(tile * C + c)];
        const auto expected = static_cast<int32_t>(static_cast<uint32_t>(s.expected[slot]) - static_cast<uint32_t>(offset));
        score(r, s.input, s.index[slot], s.shape, static_cast<int32_t>(h.get("out_acc", c)), expected);
      }
      watchdog.saw(r.cycles, "output row " + std::to_string(drained++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input beat " + std::to_string(sent++));
    h.rising(r);
    if (watchdog.expired(r.cycles))
      return hang(r, watchdog, fmt::format("input {}; {} of {} beats sent, {} of {} rows drained", s.input, sent, beats, drained, rows_out));
  }
}

// Every input through a fresh instance; then, when asked and something failed, the failing input once
// more with a waveform of the cycles around the first mismatch (or before the hang).
template <class Stimulus, class Drive>
CosimResult run_inputs(const std::shared_ptr<const DutLibrary>& library, const DutAdapter& adapter, const DutCosimOptions& o, const std::vector<Stimulus>& inputs,
                       Drive drive) {
  auto run_one = [&](const Stimulus& s, CosimResult& r, const std::string& trace, int64_t from, int64_t to) {
    const auto t0 = std::chrono::steady_clock::now();
    Harness h(library, adapter, o.layer, !trace.empty());
    if (!trace.empty()) h.trace(trace, from, to);
    drive(h, s, r);
    r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  CosimResult r = cosim_each_input("dut " + adapter.block, o.layer, inputs, [&](const Stimulus& s, CosimResult& res) { run_one(s, res, "", 0, -1); });
  if (o.trace.empty() || r.passed()) return r;
  const int64_t failed_input = r.hung ? r.inputs - 1 : r.first.input;
  const int64_t around = r.hung ? r.cycles : r.first.cycle;
  const int64_t start = r.hung ? r.input_start_cycle : r.first.input_start_cycle;
  CosimResult replay;
  replay.cycles = start;
  run_one(inputs.at(static_cast<size_t>(failed_input)), replay, o.trace, around - o.trace_window, around + o.trace_window);
  r.trace = fmt::format("{} (cycles {}..{} of input {})", o.trace, std::max(start, around - o.trace_window), std::min(replay.cycles, around + o.trace_window),
                        failed_input);
  return r;
}

}  // namespace

CosimResult cosim_dut(const DutCosimOptions& o) {
  DutAdapter adapter = load_dut_adapter(o.adapter);
  DutDesign design{o.sources, o.top, adapter.parameters};
  const std::string root = o.build_dir.empty() ? default_dut_cache_root() : o.build_dir;
  const BuiltDut built = build_dut(design, root);
  std::fprintf(stderr, "cosim: design %s %s %s\n", o.top.c_str(), built.from_cache ? "from the build cache" : "built into", built.directory.c_str());
  bind_dut_ports(adapter, built.ports);
  const auto library = std::make_shared<const DutLibrary>(built);
  const int64_t watchdog = o.watchdog;
  if (adapter.block == "mulshift")
    return run_inputs(library, adapter, o, mulshift_stimulus(o.vectors_dir, o.layer), [&](Harness& h, const MulShiftStimulus& s, CosimResult& r) {
      std::vector<int32_t> shifts;
      drive_elements(h, adapter, element_stream(s, shifts), r, watchdog);
    });
  if (adapter.block == "lut")
    return run_inputs(library, adapter, o, lut_stimulus(o.vectors_dir, o.layer, int64_t{1} << 30),
                      [&](Harness& h, const LutStimulus& s, CosimResult& r) { drive_elements(h, adapter, element_stream(s), r, watchdog); });
  return run_inputs(library, adapter, o, mac_array_stimulus(o.vectors_dir, o.layer, adapter.rows, adapter.cols),
                    [&](Harness& h, const MacArrayStimulus& s, CosimResult& r) { drive_tiles(h, s, r, watchdog); });
}

std::string reference_top(const std::string& block) { return block == "mulshift" ? "mulshift_unit" : block == "lut" ? "lut_unit" : block; }
std::string reference_rtl_path(const std::string& block) { return std::string(CHIPREF_SOURCE_DIR) + "/rtl_bridge/rtl/" + reference_top(block) + ".sv"; }
std::string reference_adapter_path(const std::string& block) { return std::string(CHIPREF_SOURCE_DIR) + "/rtl_bridge/adapters/" + block + ".yaml"; }

}  // namespace chipref::cosim
