// The whole_matrix protocol (docs/cosim.md, "Whole-matrix arrays"), written as a protocol plugin is
// (docs/cosim.md, "Protocols as plugins"): it includes only the plugin interface and adds itself to a
// ProtocolRegistry. The one difference: chipref links it in and calls register_whole_matrix_protocol()
// where a plugin would end with CHIPREF_PROTOCOL_PLUGIN(registry) { ... } and be loaded at run time.
#include <fmt/format.h>

#include <algorithm>

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

void register_whole_matrix_protocol(ProtocolRegistry& registry) {
  registry.add("whole_matrix", std::make_unique<WholeMatrix>());
}

}  // namespace chipref::cosim
