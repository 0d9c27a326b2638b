#include "sim/tile_streams.hpp"

#include <functional>

#include "ops/op_def.hpp"

namespace chipref {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

TileStreams mac_tile_streams(const Node& op, const HardwareConfig& hw, const CodeTensor& input, int32_t zx,
                             const CodeTensor& second, int32_t zw, const CodeTensor& acc,
                             std::vector<int64_t>* accumulator_index) {
  const ops::MacMatrixView v = ops::mac_matrix_view(op, input.shape, second.shape, acc.shape);
  const int64_t R = hw.mac_rows, C = hw.mac_cols, G = v.groups, P = v.positions, K = v.reduction, M = v.channels;
  const int64_t KT = ceil_div(K, R), CT = ceil_div(M, C), PT = ceil_div(P, R);
  auto x = [&](int64_t g, int64_t p, int64_t k) {
    if (p >= P || k >= K) return zx;
    const int64_t i = v.input_index(g, p, k);
    return i < 0 ? zx : input.data[static_cast<size_t>(i)];
  };
  auto w = [&](int64_t g, int64_t m, int64_t k) {
    return m < M && k < K ? second.data[static_cast<size_t>(v.second_index(g, m, k))] : zw;
  };
  auto a = [&](int64_t g, int64_t p, int64_t m) {
    const int64_t i = p < P && m < M ? v.accumulator_index(g, p, m) : -1;
    if (accumulator_index) accumulator_index->push_back(i);
    return i < 0 ? 0 : acc.data[static_cast<size_t>(i)];
  };
  TileStreams s;
  std::vector<int32_t>& ws = s.weights.data;
  std::vector<int32_t>& as = s.activations.data;
  std::vector<int32_t>& ys = s.accumulators.data;
  if (hw.dataflow == Dataflow::weight_stationary) {
    s.weights.shape = {G * CT * KT, R, C}, s.activations.shape = {G * CT * KT, P, R},
    s.accumulators.shape = {G * CT, P, C};
    for (int64_t g = 0; g < G; ++g)
      for (int64_t ct = 0; ct < CT; ++ct) {
        for (int64_t kt = 0; kt < KT; ++kt) {
          for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c < C; ++c) ws.push_back(w(g, ct * C + c, kt * R + r));
          for (int64_t p = 0; p < P; ++p)
            for (int64_t r = 0; r < R; ++r) as.push_back(x(g, p, kt * R + r));
        }
        for (int64_t p = 0; p < P; ++p)
          for (int64_t c = 0; c < C; ++c) ys.push_back(a(g, p, ct * C + c));
      }
  } else {
    s.weights.shape = {G * PT * CT, K, C}, s.activations.shape = {G * PT * CT, K, R},
    s.accumulators.shape = {G * PT * CT, R, C};
    for (int64_t g = 0; g < G; ++g)
      for (int64_t pt = 0; pt < PT; ++pt)
        for (int64_t ct = 0; ct < CT; ++ct) {
          for (int64_t k = 0; k < K; ++k)
            for (int64_t c = 0; c < C; ++c) ws.push_back(w(g, ct * C + c, k));
          for (int64_t k = 0; k < K; ++k)
            for (int64_t r = 0; r < R; ++r) as.push_back(x(g, pt * R + r, k));
          for (int64_t r = 0; r < R; ++r)
            for (int64_t c = 0; c < C; ++c) ys.push_back(a(g, pt * R + r, ct * C + c));
        }
  }
  return s;
}

}  // namespace chipref
