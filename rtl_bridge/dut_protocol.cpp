#include "rtl_bridge/dut_protocol.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/error.hpp"

namespace chipref::cosim {

Harness::Harness(std::unique_ptr<DesignInstance> design, const DutAdapter& adapter, const std::string& layer)
    : adapter_(adapter), layer_(layer), design_(std::move(design)) {
  clock_ = design_->pin(adapter.clock);
  if (!adapter.reset.empty()) reset_ = design_->pin(adapter.reset);
  for (const auto& [name, binding] : adapter.roles) {
    const int w = binding.lane_width;
    Role r{design_->pin(binding.port), &binding, std::numeric_limits<int64_t>::min(),
           std::numeric_limits<int64_t>::max()};
    if (w < 64) {
      r.lo = binding.is_signed ? -(int64_t{1} << (w - 1)) : 0;
      r.hi = binding.is_signed ? (int64_t{1} << (w - 1)) - 1 : (int64_t{1} << w) - 1;
    }
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
      "{}: layer {}: role {} must carry {}, which does not fit port '{}' ({}-bit {} lanes, range {}..{})", b.where,
      layer_, b.role, value, b.port, b.lane_width, b.is_signed ? "signed" : "unsigned", role.lo, role.hi));
}

void Harness::falling(CosimResult& r) {
  clock_.set(0);
  design_->eval();
  dump(2 * static_cast<uint64_t>(r.cycles), r.cycles);
}

void Harness::rising(CosimResult& r) {
  clock_.set(1);
  design_->eval();
  dump(2 * static_cast<uint64_t>(r.cycles) + 1, r.cycles);
  ++r.cycles;
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

void Harness::dump(uint64_t time, int64_t cycle) {
  if (cycle >= trace_from_ && cycle <= trace_to_) design_->dump(time);
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

namespace {

// What every element-wise protocol does first: the layer's constants, the reset, the table.
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

// The element's input roles, looked up once.
std::vector<std::pair<const Harness::Role*, const std::vector<int32_t>*>> element_inputs(const Harness& h,
                                                                                         const ElementStream& s) {
  std::vector<std::pair<const Harness::Role*, const std::vector<int32_t>*>> inputs;
  for (const auto& [role, values] : s.inputs) inputs.emplace_back(&h.role(role), values);
  return inputs;
}

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
  std::vector<std::string> blocks() const override { return {"mulshift", "lut", "sparse"}; }
  std::vector<HandshakeRole> handshake_roles(const DutAdapter&) const override { return kStreamHandshake; }
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
    int64_t sent = 0, drained = 0;
    Watchdog watchdog(watchdog_cycles, r.cycles);
    while (drained < rows_out) {
      h.put(in_valid, sent < beats);
      if (sent < beats) {
        const int64_t tile = sent / K, k = sent % K;
        if (in_first) h.put(*in_first, k == 0);
        h.put(in_last, k == K - 1);
        h.put_lanes(in_act, &s.activations[static_cast<size_t>(sent * R)], R, act_offset);
        const int32_t* weights = &s.weights[static_cast<size_t>(sent * C)];
        if (weight_zp || one_weight_zp)
          h.put_lanes(in_weight, weights, C, weight_zp ? 0 : zw[0]);
        else  // each lane less its own channel's zero point
          for (int64_t c = 0; c < C; ++c) h.put(in_weight, weights[c] - zw[static_cast<size_t>(tile * C + c)], c);
        if (in_bias && k == 0) h.put_lanes(*in_bias, &s.bias[static_cast<size_t>(tile * C)], C);
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
      if (in_fire) watchdog.saw(r.cycles, "input", "beat", sent++);
      h.rising(r);
      if (watchdog.expired(r.cycles))
        return hang(r, watchdog,
                    fmt::format("input {}; {} of {} beats sent, {} of {} rows drained", s.input, sent, beats, drained,
                                rows_out));
    }
  }
};

// A MAC array that takes whole matrices: each tile's GEMM (rows output positions × cols channels, the
// conv's im2col view) is cut into K chunks of `depth`; a chunk's A [rows × depth] (activation codes) and
// B [depth × cols] (weight codes) go in on packed ports with a one-cycle in_valid pulse, and C [rows ×
// cols] = Σ_k A·B comes back after `latency` rising edges or when out_valid rises. Chipref adds the
// chunks (accumulate: harness) or reads the design's sum after the last one (accumulate: dut: in_accumulate
// is high with every chunk but a tile's first, telling the design to add to its sums instead of starting). The design
// computes plain products of what it receives: codes plus the adapter's a_offset / b_offset, zeros past the edges.
// Everything else is chipref's exact correction, with A = a_offset + z_a, B = b_offset + z_w (the column's channel's
// weight zero point) and a, w the codes sent:
//   Σ_k (a − z_a)(w − z_w) = Σ_k a·w − B · Σ_k a − A · Σ_k w + K · A · B      (k over the real K)
// plus the bias, in 32-bit two's complement like the golden accumulators.
class WholeMatrix : public DutProtocol {
 public:
  std::vector<std::string> blocks() const override { return {"mac_array"}; }
  std::vector<HandshakeRole> handshake_roles(const DutAdapter& a) const override {
    return {{"in_valid", true, true}, {"out_valid", false, a.latency == 0}};
  }
  bool takes_latency() const override { return true; }
  bool takes_matrix_keys() const override { return true; }
  std::vector<DataRole> data_roles(const DutAdapter& a) const override {
    return {{"in_a", true, a.rows * a.matrix.depth, false, true},
            {"in_b", true, a.matrix.depth * a.cols, false, true},
            {"in_accumulate", true, 1, false, a.matrix.accumulate_in_dut},
            {"out_c", false, a.rows * a.cols, true, true}};
  }
  void tiles(Harness& h, const MacArrayStimulus& s, CosimResult& r, int64_t watchdog_cycles) const override {
    const DutAdapter& adapter = h.adapter();
    const WholeMatrixKeys& m = adapter.matrix;
    const int64_t M = s.rows, N = s.cols, K = s.reduction, D = m.depth, chunks = (K + D - 1) / D;
    const auto lane = [](MatrixLayout layout, int64_t row, int64_t col, int64_t rows, int64_t cols) {
      return layout == MatrixLayout::row_major ? row * cols + col : col * rows + row;
    };
    h.put_if("in_accumulate", 0);
    h.reset(r);
    const Harness::Role &in_a = h.role("in_a"), &in_b = h.role("in_b"), &out_c = h.role("out_c"),
                        &in_valid = h.role("in_valid");
    const Harness::Role *in_accumulate = h.find("in_accumulate"), *out_valid = h.find("out_valid");
    const int64_t A = m.a_offset + s.act_zero_point;
    std::vector<int64_t> B(static_cast<size_t>(N));  // b_offset + each column's weight zero point
    std::vector<int64_t> sums(static_cast<size_t>(M * N)), row_sums(static_cast<size_t>(M)),
        col_sums(static_cast<size_t>(N));
    Watchdog watchdog(watchdog_cycles, r.cycles);
    for (int64_t tile = 0; tile < s.tiles; ++tile) {
      std::fill(sums.begin(), sums.end(), 0), std::fill(row_sums.begin(), row_sums.end(), 0);
      std::fill(col_sums.begin(), col_sums.end(), 0);
      for (int64_t c = 0; c < N; ++c) B[c] = m.b_offset + s.weight_zero_points[static_cast<size_t>(tile * N + c)];
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const int64_t k0 = chunk * D, real = std::min(D, K - k0);
        for (int64_t k = 0; k < D; ++k) {
          const size_t beat = static_cast<size_t>(tile * K + k0 + k);
          for (int64_t i = 0; i < M; ++i) {
            const int64_t a = k < real ? s.activations[beat * M + i] + m.a_offset : 0;
            row_sums[i] += a;
            h.put(in_a, a, lane(m.a_layout, i, k, M, D));
          }
          for (int64_t c = 0; c < N; ++c) {
            const int64_t w = k < real ? s.weights[beat * N + c] + m.b_offset : 0;
            col_sums[c] += w;
            h.put(in_b, w, lane(m.b_layout, k, c, D, N));
          }
        }
        if (in_accumulate) h.put(*in_accumulate, chunk > 0);
        h.put(in_valid, 1);
        h.cycle(r);
        h.put(in_valid, 0);
        const std::string what = fmt::format("in_valid pulse of tile {}, K chunk {}", tile, chunk);
        watchdog.saw(r.cycles - 1, what);
        for (int64_t edges = 1; adapter.latency > 0 ? edges < adapter.latency : !h.high(*out_valid); ++edges) {
          h.cycle(r);
          if (watchdog.expired(r.cycles))
            return hang(r, watchdog,
                        fmt::format("input {}; tile {} of {}, K chunk {} of {} sent; out_valid never rose", s.input,
                                    tile, s.tiles, chunk, chunks));
        }
        ++r.matrices;
        if (m.accumulate_in_dut && chunk + 1 < chunks) continue;  // the design's running sum: read at the end
        for (int64_t i = 0; i < M; ++i)
          for (int64_t c = 0; c < N; ++c) sums[i * N + c] += h.get(out_c, lane(m.c_layout, i, c, M, N));
      }
      for (int64_t i = 0; i < M; ++i)
        for (int64_t c = 0; c < N; ++c) {
          const size_t slot = static_cast<size_t>((tile * M + i) * N + c);
          if (s.index[slot] < 0) continue;  // padding of a partial tile
          const int64_t corrected =
              sums[i * N + c] - B[c] * row_sums[i] - A * col_sums[c] + K * A * B[c] + s.bias[tile * N + c];
          score(r, s.input, s.index[slot], s.shape, static_cast<int32_t>(static_cast<uint32_t>(corrected)),
                s.expected[slot]);
        }
    }
  }
};

}  // namespace

const std::vector<std::pair<std::string, std::unique_ptr<DutProtocol>>>& dut_protocols() {
  static const auto protocols = [] {
    std::vector<std::pair<std::string, std::unique_ptr<DutProtocol>>> p;
    p.emplace_back("valid_ready", std::make_unique<ValidReady>());
    p.emplace_back("fixed_latency", std::make_unique<FixedLatency>());
    p.emplace_back("matrix_tiles", std::make_unique<MatrixTiles>());
    p.emplace_back("whole_matrix", std::make_unique<WholeMatrix>());
    // Your own: p.emplace_back("my_protocol", std::make_unique<MyProtocol>());
    return p;
  }();
  return protocols;
}

const DutProtocol* find_dut_protocol(const std::string& name) {
  for (const auto& [n, p] : dut_protocols())
    if (n == name) return p.get();
  return nullptr;
}

}  // namespace chipref::cosim
