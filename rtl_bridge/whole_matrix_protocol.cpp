// The whole_matrix protocol (docs/cosim.md, "Whole-matrix arrays"), written as a protocol plugin is
// (docs/cosim.md, "Protocols as plugins"): it includes only the plugin interface and adds itself to a
// ProtocolRegistry. The one difference: chipref links it in and calls register_whole_matrix_protocol()
// where a plugin would end with CHIPREF_PROTOCOL_PLUGIN(registry) { ... } and be loaded at run time.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "rtl_bridge/protocol_plugin.hpp"

namespace chipref::cosim {

namespace {

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
    return {{"in_valid", true, true}, {"in_ready", false, false}, {"out_valid", false, a.latency == 0}};
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
    Blocks b(h, s);
    h.put_if("in_accumulate", 0);
    h.reset(r);
    if (const Harness::Role* in_ready = h.find("in_ready")) return overlapped(h, b, *in_ready, r, watchdog_cycles);
    const Harness::Role& in_valid = h.role("in_valid");
    const Harness::Role* out_valid = h.find("out_valid");
    const int64_t latency = h.adapter().latency;
    Watchdog watchdog(watchdog_cycles, r.cycles);
    for (int64_t tile = 0; tile < s.tiles; ++tile) {
      TileSums sums(b.M, b.N);
      for (int64_t chunk = 0; chunk < b.chunks; ++chunk) {
        b.put(tile, chunk, sums);
        h.put(in_valid, 1);
        h.cycle(r);
        h.put(in_valid, 0);
        watchdog.saw(r.cycles - 1, fmt::format("in_valid pulse of tile {}, K chunk {}", tile, chunk));
        for (int64_t edges = 1; latency > 0 ? edges < latency : !h.high(*out_valid); ++edges) {
          h.cycle(r);
          if (watchdog.expired(r.cycles))
            return hang(r, watchdog,
                        fmt::format("input {}; tile {} of {}, K chunk {} of {} sent; out_valid never rose", s.input,
                                    tile, s.tiles, chunk, b.chunks));
        }
        ++r.matrices;
        b.read(chunk, sums);
      }
      b.score(r, tile, sums);
    }
  }

 private:
  // A tile's running sums: the C's read, and the row and column sums of what was sent (the correction's).
  struct TileSums {
    TileSums(int64_t rows_, int64_t cols_)
        : c(static_cast<size_t>(rows_ * cols_)), rows(static_cast<size_t>(rows_)), cols(static_cast<size_t>(cols_)) {}
    std::vector<int64_t> c, rows, cols;
  };

  // One input's blocks: (tile, K chunk) → the values on in_a / in_b, C read from out_c, the tile scored.
  struct Blocks {
    Blocks(Harness& harness, const MacArrayStimulus& stimulus)
        : h(harness),
          s(stimulus),
          m(harness.adapter().matrix),
          M(s.rows),
          N(s.cols),
          K(s.reduction),
          D(m.depth),
          chunks((K + D - 1) / D),
          in_a(h.role("in_a")),
          in_b(h.role("in_b")),
          out_c(h.role("out_c")),
          in_accumulate(h.find("in_accumulate")) {}
    static int64_t lane(MatrixLayout layout, int64_t row, int64_t col, int64_t rows, int64_t cols) {
      return layout == MatrixLayout::row_major ? row * cols + col : col * rows + row;
    }
    // Puts the block's A and B (codes plus the offsets, zeros past the layer's K) and adds them to the sums.
    void put(int64_t tile, int64_t chunk, TileSums& sums) const {
      const int64_t k0 = chunk * D, real = std::min(D, K - k0);
      for (int64_t k = 0; k < D; ++k) {
        const size_t beat = static_cast<size_t>(tile * K + k0 + k);
        for (int64_t i = 0; i < M; ++i) {
          const int64_t a = k < real ? s.activations[beat * M + i] + m.a_offset : 0;
          sums.rows[i] += a;
          h.put(in_a, a, lane(m.a_layout, i, k, M, D));
        }
        for (int64_t c = 0; c < N; ++c) {
          const int64_t w = k < real ? s.weights[beat * N + c] + m.b_offset : 0;
          sums.cols[c] += w;
          h.put(in_b, w, lane(m.b_layout, k, c, D, N));
        }
      }
      if (in_accumulate) h.put(*in_accumulate, chunk > 0);
    }
    // C of a finished block, added to the tile's (with accumulate: dut, only the last chunk's: the design's sum).
    void read(int64_t chunk, TileSums& sums) const {
      if (m.accumulate_in_dut && chunk + 1 < chunks) return;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t c = 0; c < N; ++c) sums.c[i * N + c] += h.get(out_c, lane(m.c_layout, i, c, M, N));
    }
    void score(CosimResult& r, int64_t tile, const TileSums& sums) const {
      const int64_t A = m.a_offset + s.act_zero_point;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t c = 0; c < N; ++c) {
          const size_t slot = static_cast<size_t>((tile * M + i) * N + c);
          if (s.index[slot] < 0) continue;  // padding of a partial tile
          const int64_t B = m.b_offset + s.weight_zero_points[static_cast<size_t>(tile * N + c)];
          const int64_t corrected =
              sums.c[i * N + c] - B * sums.rows[i] - A * sums.cols[c] + K * A * B + s.bias[tile * N + c];
          cosim::score(r, s.input, s.index[slot], s.shape, static_cast<int32_t>(static_cast<uint32_t>(corrected)),
                       s.expected[slot]);
        }
    }
    Harness& h;
    const MacArrayStimulus& s;
    const WholeMatrixKeys& m;
    const int64_t M, N, K, D, chunks;
    const Harness::Role &in_a, &in_b, &out_c;
    const Harness::Role* in_accumulate;
  };

  // With in_ready bound, blocks overlap: the next block goes in (in_valid and in_ready high at a rising
  // edge) while earlier ones compute, and each out_valid cycle delivers the oldest block's C.
  static void overlapped(Harness& h, const Blocks& b, const Harness::Role& in_ready, CosimResult& r,
                         int64_t watchdog_cycles) {
    const Harness::Role& in_valid = h.role("in_valid");
    const Harness::Role* out_valid = h.find("out_valid");
    if (!out_valid)
      throw InputError(h.adapter().path +
                       ": with in_ready (blocks overlapping) the whole_matrix protocol takes each C on out_valid, "
                       "not after a latency: bind out_valid");
    const int64_t total = b.s.tiles * b.chunks;
    std::map<int64_t, TileSums> open;  // tiles with blocks sent and not yet scored
    int64_t sent = 0, received = 0, staged = -1;
    Watchdog watchdog(watchdog_cycles, r.cycles);
    while (received < total) {
      const bool offering = sent < total;
      h.put(in_valid, offering);
      if (offering && staged != sent) {  // a block's values stay on the ports until it is taken
        const int64_t tile = sent / b.chunks;
        b.put(tile, sent % b.chunks, open.try_emplace(tile, b.M, b.N).first->second);
        staged = sent;
      }
      h.falling(r);
      const bool in_fire = offering && h.high(in_ready), out_fire = h.high(*out_valid);
      if (out_fire) {
        if (received >= sent)
          throw InputError(fmt::format("{}: layer {}: out_valid high at cycle {} with no block outstanding",
                                       h.adapter().path, b.s.layer, r.cycles));
        const int64_t tile = received / b.chunks, chunk = received % b.chunks;
        TileSums& sums = open.at(tile);
        b.read(chunk, sums);
        ++r.matrices;
        if (chunk + 1 == b.chunks) b.score(r, tile, sums), open.erase(tile);
        watchdog.saw(r.cycles, "output", "block", received++);
      }
      if (in_fire) watchdog.saw(r.cycles, "input", "block", sent++);
      h.rising(r);
      if (watchdog.expired(r.cycles))
        return hang(r, watchdog,
                    fmt::format("input {}; {} of {} blocks sent, {} received", b.s.input, sent, total, received));
    }
    h.put(in_valid, 0);
  }
};

}  // namespace

void register_whole_matrix_protocol(ProtocolRegistry& registry) {
  registry.add("whole_matrix", std::make_unique<WholeMatrix>());
}

}  // namespace chipref::cosim
