#include "rtl_bridge/dut_protocol.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>

#include "core/error.hpp"
#include "rtl_bridge/protocol_plugin.hpp"

namespace chipref::cosim {

namespace fs = std::filesystem;

// whole_matrix_protocol.cpp: written as a plugin would be, registered here instead of loaded.
void register_whole_matrix_protocol(ProtocolRegistry& registry);

Harness::Harness(std::unique_ptr<DesignInstance> design, const DutAdapter& adapter, const std::string& layer)
    : adapter_(adapter), layer_(layer), design_(std::move(design)) {
  clock_ = design_->pin(adapter.clock);
  if (!adapter.reset.empty()) reset_ = design_->pin(adapter.reset);
  for (const auto& [name, binding] : adapter.roles) {
    const int w = binding.lane_width;
    Role r;
    r.pin = design_->pin(binding.port), r.binding = &binding;
    r.lo = std::numeric_limits<int64_t>::min(), r.hi = std::numeric_limits<int64_t>::max();
    if (w < 64) {
      r.lo = binding.is_signed ? -(int64_t{1} << (w - 1)) : 0;
      r.hi = binding.is_signed ? (int64_t{1} << (w - 1)) - 1 : (int64_t{1} << w) - 1;
    }
    for (const std::string& port : binding.ports) r.split.push_back(design_->pin(port));
    r.per_pin = binding.lanes_per_port();
    roles_.emplace(name, r);
  }
}

const Harness::Role* Harness::find(const std::string& name) const {
  const auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : &it->second;
}

void Harness::out_of_range(const Role& role, int64_t value) const {
  const RoleBinding& b = *role.binding;
  throw InputError(fmt::format(
      "{}: layer {}: role {} must carry {}, which does not fit {} ({}-bit {} lanes, range {}..{})", b.where, layer_,
      b.role, value, b.ports.empty() ? "port '" + b.port + "'" : fmt::format("ports {}", fmt::join(b.ports, ", ")),
      b.lane_width, b.is_signed ? "signed" : "unsigned", role.lo, role.hi));
}

void Harness::reset(CosimResult& r) {
  put_if("in_valid", 0);
  put_if("out_ready", 1);
  if (!reset_) return;
  reset_.set(adapter_.reset_active_high ? 1 : 0);
  for (int64_t i = 0; i < adapter_.reset_cycles; ++i) cycle(r);
  reset_.set(adapter_.reset_active_high ? 0 : 1);
}

void Harness::trace(const std::string& path, int64_t from, int64_t to) {
  design_->open_trace(path);
  trace_from_ = from, trace_to_ = to;
}

void hang(CosimResult& r, const Watchdog& watchdog, const std::string& progress) {
  r.hung = true;
  r.hang = watchdog.describe(r.cycles, progress);
}

void DutProtocol::elements(Harness& h, const ElementStream&, CosimResult&, int64_t) const {
  throw InputError(h.adapter().path + ": this protocol does not drive element-wise blocks");
}

void DutProtocol::tiles(Harness& h, const MacArrayStimulus&, CosimResult&, int64_t) const {
  throw InputError(h.adapter().path + ": this protocol does not drive a MAC array");
}

void DutProtocol::groups(Harness& h, const SparseStimulus&, CosimResult&, int64_t) const {
  throw InputError(h.adapter().path + ": this protocol does not drive a sparse decoder");
}

void DutProtocol::block_dots(Harness& h, const MxDotStimulus&, CosimResult&, int64_t) const {
  throw InputError(h.adapter().path + ": this protocol does not drive an MX dot-product unit");
}

void score_block_dot(const Harness& h, const BlockDotResult& result, const MxDotStimulus& s, const MxDotPair& pair,
                     CosimResult& r) {
  const int64_t sum = h.get(result.sum), exponent = h.get(result.exponent);
  const bool nan = result.nan && h.get(*result.nan) != 0, expected_nan = pair.expected_nan;
  const int64_t expected = pair.expected_sum, expected_exponent = pair.expected_exponent;
  ++r.compared;
  // One value, compared exactly: the same sum and exponent (a zero's exponent does not matter), or both NaN.
  const bool equal = nan == expected_nan && (nan || (sum == expected && (sum == 0 || exponent == expected_exponent)));
  if (equal) return;
  const auto show = [](bool is_nan, int64_t v, int64_t e) {
    return is_nan ? std::string("NaN") : fmt::format("{} x 2^{}", v, e);
  };
  record_mismatch(r, s.input, pair.index, s.shape, sum, expected,
                  "got " + show(nan, sum, exponent) + ", expected " + show(expected_nan, expected, expected_exponent));
}

void start_elements(Harness& h, const ElementStream& s, CosimResult& r) {
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
}

std::vector<std::pair<const Harness::Role*, const std::vector<int32_t>*>> element_inputs(const Harness& h,
                                                                                         const ElementStream& s) {
  std::vector<std::pair<const Harness::Role*, const std::vector<int32_t>*>> inputs;
  for (const auto& [role, values] : s.inputs) inputs.emplace_back(&h.role(role), values);
  return inputs;
}

namespace {

void put_element(const Harness& h,
                 const std::vector<std::pair<const Harness::Role*, const std::vector<int32_t>*>>& inputs, size_t i) {
  for (const auto& [role, values] : inputs) h.put(*role, (*values)[i]);
}

std::string element_progress(const ElementStream& s, size_t sent, size_t received) {
  return fmt::format("input {}; {} of {} elements sent, {} received", s.input, sent, s.expected->size(), received);
}

const std::vector<HandshakeRole> kStreamHandshake = {
    {"in_valid", true, true}, {"in_ready", false, false}, {"out_valid", false, true}, {"out_ready", true, false}};

// Items 0..n−1 through in_valid/in_ready (`put_item(i)` sets item i's inputs) and out_valid (out_ready
// held high), `score_item(i)` for the i-th output; an item moves when valid and ready are high at a
// rising edge.
template <class PutItem, class ScoreItem>
void stream(Harness& h, CosimResult& r, int64_t input, size_t n, const char* what, int64_t watchdog_cycles,
            PutItem put_item, ScoreItem score_item) {
  size_t sent = 0, received = 0;
  const Harness::Role &in_valid = h.role("in_valid"), &out_valid = h.role("out_valid");
  const Harness::Role* in_ready = h.find("in_ready");
  Watchdog watchdog(watchdog_cycles, r.cycles);
  while (received < n) {
    h.put(in_valid, sent < n);
    if (sent < n) put_item(sent);
    h.falling(r);
    const bool in_fire = sent < n && (!in_ready || h.high(*in_ready)), out_fire = h.high(out_valid);
    if (out_fire) {
      score_item(received);
      watchdog.saw(r.cycles, "output", what, static_cast<int64_t>(received++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input", what, static_cast<int64_t>(sent++));
    h.rising(r);
    if (watchdog.expired(r.cycles))
      return hang(r, watchdog, fmt::format("input {}; {} of {} {}s sent, {} received", input, sent, n, what, received));
  }
}

// One element (sparse: one N:M group) a handshake in, its code (dense group) a handshake out.
class ValidReady : public DutProtocol {
 public:
  std::vector<std::string> blocks() const override { return {"mulshift", "lut", "sparse", "mx_dot"}; }
  std::vector<HandshakeRole> handshake_roles(const DutAdapter&) const override { return kStreamHandshake; }
  void block_dots(Harness& h, const MxDotStimulus& s, CosimResult& r, int64_t watchdog_cycles) const override {
    h.reset(r);
    const Harness::Role &a = h.role("in_a"), &w = h.role("in_w"), &a_scale = h.role("in_a_scale"),
                        &w_scale = h.role("in_w_scale");
    const BlockDotResult result(h);
    MxDotPairs sending(s), scoring(s);
    stream(
        h, r, s.input, static_cast<size_t>(s.pairs), "block pair", watchdog_cycles,
        [&](size_t i) {
          const MxDotPair& pair = sending.at(i);
          h.put_lanes(a, pair.a.data(), s.lanes), h.put_lanes(w, pair.w.data(), s.lanes);
          h.put(a_scale, pair.a_scale), h.put(w_scale, pair.w_scale);
        },
        [&](size_t i) { score_block_dot(h, result, s, scoring.at(i), r); });
  }
  void elements(Harness& h, const ElementStream& s, CosimResult& r, int64_t watchdog_cycles) const override {
    start_elements(h, s, r);
    const auto inputs = element_inputs(h, s);
    const Harness::Role& out_code = h.role("out_code");
    stream(
        h, r, s.input, s.expected->size(), "element", watchdog_cycles, [&](size_t i) { put_element(h, inputs, i); },
        [&](size_t i) {
          score(r, s.input, static_cast<int64_t>(i), s.shape, static_cast<int32_t>(h.get(out_code)), (*s.expected)[i]);
        });
  }
  void groups(Harness& h, const SparseStimulus& s, CosimResult& r, int64_t watchdog_cycles) const override {
    h.reset(r);
    const auto N = static_cast<size_t>(s.n), M = static_cast<size_t>(s.m);
    const Harness::Role &values = h.role("in_values"), &index = h.role("in_index"), &dense = h.role("out_dense");
    stream(
        h, r, s.input, s.index.size() / M, "group", watchdog_cycles,
        [&](size_t g) {
          for (size_t j = 0; j < N; ++j)
            h.put(values, s.values[g * N + j], static_cast<int64_t>(j)),
                h.put(index, s.positions[g * N + j], static_cast<int64_t>(j));
        },
        [&](size_t g) {
          for (size_t p = 0; p < M; ++p)
            if (s.index[g * M + p] >= 0)  // else padding past the row's end
              score(r, s.input, s.index[g * M + p], s.shape,
                    static_cast<int32_t>(h.get(dense, static_cast<int64_t>(p))), s.expected[g * M + p]);
        });
  }
};

// One element at a time: its inputs with a one-cycle in_valid pulse, then the output after `latency`
// rising edges (the pulse's own edge counts) or on the first edge after which out_valid is high.
class FixedLatency : public DutProtocol {
 public:
  std::vector<std::string> blocks() const override { return {"mulshift", "lut"}; }
  std::vector<HandshakeRole> handshake_roles(const DutAdapter& a) const override {
    return {{"in_valid", true, true}, {"out_valid", false, a.latency == 0}};
  }
  bool takes_latency() const override { return true; }
  void elements(Harness& h, const ElementStream& s, CosimResult& r, int64_t watchdog_cycles) const override {
    start_elements(h, s, r);
    const auto inputs = element_inputs(h, s);
    const int64_t latency = h.adapter().latency;
    Watchdog watchdog(watchdog_cycles, r.cycles);
    for (size_t i = 0; i < s.expected->size(); ++i) {
      put_element(h, inputs, i);
      h.put("in_valid", 1);
      h.cycle(r);
      h.put("in_valid", 0);
      watchdog.saw(r.cycles - 1, "in_valid pulse of", "element", static_cast<int64_t>(i));
      for (int64_t edges = 1; latency > 0 ? edges < latency : !h.high("out_valid"); ++edges) {
        h.cycle(r);
        if (watchdog.expired(r.cycles))
          return hang(r, watchdog, element_progress(s, i + 1, i) + "; out_valid never rose");
      }
      score(r, s.input, static_cast<int64_t>(i), s.shape, static_cast<int32_t>(h.get("out_code")), (*s.expected)[i]);
    }
  }
};

// Output-stationary tiles: per tile K beats of in_act [rows] and in_weight [cols] with in_first /
// in_last, then `rows` output beats of out_acc [cols], row 0 first. What the design leaves out, chipref
// does: without cfg_*_zero_point it sends codes minus the zero point; without in_bias it expects the
// accumulators minus the bias.
class MatrixTiles : public DutProtocol {
 public:
  std::vector<std::string> blocks() const override { return {"mac_array"}; }
  std::vector<HandshakeRole> handshake_roles(const DutAdapter&) const override { return kStreamHandshake; }
  void tiles(Harness& h, const MacArrayStimulus& s, CosimResult& r, int64_t watchdog_cycles) const override {
    const int64_t R = s.rows, C = s.cols, K = s.reduction, beats = s.tiles * K, rows_out = s.tiles * R;
    const bool act_zp = h.has("cfg_act_zero_point"), weight_zp = h.has("cfg_weight_zero_point"),
               bias = h.has("in_bias");
    const std::vector<int32_t>& zw = s.weight_zero_points;
    const bool one_weight_zp = std::all_of(zw.begin(), zw.end(), [&](int32_t z) { return z == zw.at(0); });
    if (weight_zp && !one_weight_zp)
      throw InputError(s.layer +
                       ": its weights have a zero point per output channel, and the design takes one on "
                       "cfg_weight_zero_point (quantize with weights.granularity: per_tensor, or leave the "
                       "port unbound and chipref sends code − zero point)");
    h.put_if("cfg_act_zero_point", s.act_zero_point);
    h.put_if("cfg_weight_zero_point", zw.at(0));
    h.reset(r);
    const Harness::Role &in_valid = h.role("in_valid"), &in_last = h.role("in_last"), &in_act = h.role("in_act"),
                        &in_weight = h.role("in_weight"), &out_valid = h.role("out_valid"),
                        &out_acc = h.role("out_acc");
    const Harness::Role *in_first = h.find("in_first"), *in_ready = h.find("in_ready"), *in_bias = h.find("in_bias");
    const int32_t act_offset = act_zp ? 0 : s.act_zero_point;
    const bool weights_as_lanes = weight_zp || one_weight_zp;  // else each lane less its own channel's zero point
    const int32_t weight_offset = weight_zp ? 0 : zw.at(0);
    const PackedLanes act_lanes(h, in_act, s.activations.data(), beats, R, act_offset);
    const std::optional<PackedLanes> weight_lanes =
        weights_as_lanes ? std::make_optional<PackedLanes>(h, in_weight, s.weights.data(), beats, C, weight_offset)
                         : std::nullopt;
    const std::optional<PackedLanes> bias_lanes =
        in_bias ? std::make_optional<PackedLanes>(h, *in_bias, s.bias.data(), s.tiles, C) : std::nullopt;
    int64_t sent = 0, drained = 0;
    int64_t beat_tile = 0, beat_k = 0;  // sent = beat_tile·K + beat_k, counted rather than divided each beat
    Watchdog watchdog(watchdog_cycles, r.cycles);
    while (drained < rows_out) {
      h.put(in_valid, sent < beats);
      if (sent < beats) {
        if (in_first) h.put(*in_first, beat_k == 0);
        h.put(in_last, beat_k == K - 1);
        act_lanes.put(sent);
        if (weight_lanes) {
          weight_lanes->put(sent);
        } else {
          const int32_t* weights = &s.weights[static_cast<size_t>(sent * C)];
          for (int64_t c = 0; c < C; ++c) h.put(in_weight, weights[c] - zw[static_cast<size_t>(beat_tile * C + c)], c);
        }
        if (bias_lanes && beat_k == 0) bias_lanes->put(beat_tile);
      }
      h.falling(r);
      const bool in_fire = sent < beats && (!in_ready || h.high(*in_ready)), out_fire = h.high(out_valid);
      if (out_fire) {
        const int64_t tile = drained / R;
        for (int64_t c = 0; c < C; ++c) {
          const size_t slot = static_cast<size_t>(drained * C + c);
          if (s.index[slot] < 0) continue;  // padding of a partial tile
          const int32_t offset = bias ? 0 : s.bias[static_cast<size_t>(tile * C + c)];
          const auto expected =
              static_cast<int32_t>(static_cast<uint32_t>(s.expected[slot]) - static_cast<uint32_t>(offset));
          score(r, s.input, s.index[slot], s.shape, static_cast<int32_t>(h.get(out_acc, c)), expected);
        }
        watchdog.saw(r.cycles, "output", "row", drained++);
        if (drained % R == 0) ++r.matrices;  // a whole tile out
      }
      if (in_fire) {
        watchdog.saw(r.cycles, "input", "beat", sent++);
        if (++beat_k == K) beat_k = 0, ++beat_tile;
      }
      h.rising(r);
      if (watchdog.expired(r.cycles))
        return hang(r, watchdog,
                    fmt::format("input {}; {} of {} beats sent, {} of {} rows drained", s.input, sent, beats, drained,
                                rows_out));
    }
  }
};

// Every protocol: the built-ins first, then each plugin's in load order; what added each (for messages).
struct ProtocolTable {
  std::vector<std::pair<std::string, std::unique_ptr<DutProtocol>>> protocols;
  std::map<std::string, std::string> origin;
  std::set<std::string> plugins;  // loaded, by canonical path
};

class TableRegistry : public ProtocolRegistry {
 public:
  TableRegistry(ProtocolTable& table, std::string origin) : table_(table), origin_(std::move(origin)) {}
  void add(const std::string& name, std::unique_ptr<DutProtocol> protocol) override {
    if (name.empty() || !protocol) throw InputError(origin_ + ": a protocol needs a name and an object");
    if (table_.origin.count(name))
      throw InputError(fmt::format("{}: protocol '{}' is already defined ({})", origin_, name, table_.origin[name]));
    table_.origin[name] = origin_;
    table_.protocols.emplace_back(name, std::move(protocol));
  }

 private:
  ProtocolTable& table_;
  std::string origin_;
};

ProtocolTable& protocol_table() {
  static ProtocolTable table = [] {
    ProtocolTable t;
    TableRegistry built_in(t, "built into chipref");
    built_in.add("valid_ready", std::make_unique<ValidReady>());
    built_in.add("fixed_latency", std::make_unique<FixedLatency>());
    built_in.add("matrix_tiles", std::make_unique<MatrixTiles>());
    register_whole_matrix_protocol(built_in);
    return t;
  }();
  return table;
}

}  // namespace

const std::vector<std::pair<std::string, std::unique_ptr<DutProtocol>>>& dut_protocols() {
  return protocol_table().protocols;
}

void load_protocol_plugin(const std::string& path) {
  std::error_code error;
  const fs::path file = fs::canonical(path, error);
  if (error) throw InputError(fmt::format("protocol plugin {}: no such file", path));
  ProtocolTable& table = protocol_table();
  if (table.plugins.count(file.string())) return;  // loaded already
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw InputError(fmt::format("protocol plugin {}: cannot be loaded: {}", path, dlerror()));
  const auto symbol = [&](const char* name) {
    void* s = dlsym(handle, name);
    if (!s)
      throw InputError(fmt::format(
          "protocol plugin {}: not a chipref protocol plugin (it defines no {}; its source defines its protocols "
          "with CHIPREF_PROTOCOL_PLUGIN(registry) {{ ... }}, rtl_bridge/protocol_plugin.hpp)",
          path, name));
    return s;
  };
  const int version = reinterpret_cast<int (*)()>(symbol("chipref_protocol_plugin_version"))();
  if (version != kProtocolPluginVersion)
    throw InputError(fmt::format(
        "protocol plugin {}: built for plugin interface version {}, this chipref loads version {}: rebuild it "
        "against this chipref (cmake --install, then find_package(chipref))",
        path, version, kProtocolPluginVersion));
  const std::string headers = reinterpret_cast<const char* (*)()>(symbol("chipref_protocol_plugin_headers"))();
  if (headers != kPluginHeadersHash)
    throw InputError(fmt::format(
        "protocol plugin {}: built against other chipref headers (hash {}), this chipref's are {}: its classes "
        "would not match; rebuild it against this chipref's installed headers (cmake --install, then "
        "find_package(chipref))",
        path, headers.substr(0, 16), std::string(kPluginHeadersHash).substr(0, 16)));
  const auto register_protocols =
      reinterpret_cast<void (*)(ProtocolRegistry&)>(symbol("chipref_protocol_plugin_register"));
  TableRegistry registry(table, "protocol plugin " + path);
  register_protocols(registry);         // the library stays loaded: its protocols live as long as the table
  table.plugins.insert(file.string());  // only now: a refused plugin is refused again, not skipped
}

const DutProtocol* find_dut_protocol(const std::string& name) {
  for (const auto& [n, p] : dut_protocols())
    if (n == name) return p.get();
  return nullptr;
}

}  // namespace chipref::cosim
