#include "sim/systemc/tile_streams.hpp"

#include <functional>

namespace chipref {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The layer as G products: X(g, p, k), W(g, m, k), A(g, p, m) over [P, K], [M, K], [P, M].
struct MacView : MacProducts {
  std::function<int32_t(int64_t, int64_t, int64_t)> x, w, a;
  std::function<int64_t(int64_t, int64_t, int64_t)> a_index;  // A(g, p, m)'s index in the accumulator tensor
};

MacView view_of(const Node& op, const CodeTensor& input, int32_t zx, const CodeTensor& second, const CodeTensor& acc) {
  MacView v;
  static_cast<MacProducts&>(v) = mac_products(op, input.shape, second.shape, acc.shape);
  const int32_t* xd = input.data.data();
  const int32_t* sd = second.data.data();
  const int32_t* ad = acc.data.data();
  if (op.op_type == "conv_mac") {
    const Shape& xs = input.shape;
    const Shape& ws = second.shape;
    const Shape& ys = acc.shape;
    const int64_t groups = op.get_int("group", 1), cg = xs.at(1) / groups, mg = ys.at(1) / groups;
    const int64_t kh = ws.at(2), kw = ws.at(3), oh = ys.at(2), ow = ys.at(3), h = xs.at(2), wd = xs.at(3), c_total = xs.at(1), m_total = ys.at(1);
    const auto strides = op.get_ints("strides", std::vector<int64_t>{1, 1}), dil = op.get_ints("dilations", std::vector<int64_t>{1, 1});
    const auto pads = op.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
    v.x = [=](int64_t g, int64_t p, int64_t k) {
      const int64_t n = p / (oh * ow), oy = p / ow % oh, ox = p % ow, c = k / (kh * kw), ky = k / kw % kh, kx = k % kw;
      const int64_t iy = oy * strides[0] - pads[0] + ky * dil[0], ix = ox * strides[1] - pads[1] + kx * dil[1];
      if (iy < 0 || iy >= h || ix < 0 || ix >= wd) return zx;
      return xd[((n * c_total + g * cg + c) * h + iy) * wd + ix];
    };
    const int64_t k_total = cg * kh * kw;
    v.w = [=](int64_t g, int64_t m, int64_t k) { return sd[(g * mg + m) * k_total + k]; };
    v.a_index = [=](int64_t g, int64_t p, int64_t m) {
      const int64_t n = p / (oh * ow), q = p % (oh * ow);
      return (n * m_total + g * mg + m) * oh * ow + q;
    };
  } else if (op.op_type == "linear_mac") {
    const int64_t k = input.shape.back(), m = acc.shape.back();
    v.x = [=](int64_t, int64_t p, int64_t i) { return xd[p * k + i]; };
    v.w = [=](int64_t, int64_t o, int64_t i) { return sd[o * k + i]; };
    v.a_index = [=](int64_t, int64_t p, int64_t o) { return p * m + o; };
  } else {  // matmul_mac: [.., p, k] × [.., k, n]
    const size_t r = input.shape.size();
    const int64_t p = input.shape.at(r - 2), k = input.shape.at(r - 1), n = acc.shape.at(r - 1);
    v.x = [=](int64_t g, int64_t i, int64_t j) { return xd[(g * p + i) * k + j]; };
    v.w = [=](int64_t g, int64_t o, int64_t j) { return sd[(g * k + j) * n + o]; };
    v.a_index = [=](int64_t g, int64_t i, int64_t o) { return (g * p + i) * n + o; };
  }
  v.a = [ad, index = v.a_index](int64_t g, int64_t p, int64_t m) { return ad[index(g, p, m)]; };
  return v;
}

}  // namespace

MacProducts mac_products(const Node& op, const Shape& x, const Shape& second, const Shape& y) {
  MacProducts m;
  if (op.op_type == "conv_mac") {  // x [N, C, H, W], weights [M, C/G, KH, KW], y [N, M, OH, OW]
    m.groups = op.get_int("group", 1);
    m.positions = y.at(0) * y.at(2) * y.at(3);
    m.reduction = second.at(1) * second.at(2) * second.at(3);
    m.channels = y.at(1) / m.groups;
  } else if (op.op_type == "linear_mac") {  // x [.., K], y [.., M]
    m.reduction = x.back(), m.channels = y.back();
    m.positions = element_count(y) / std::max<int64_t>(m.channels, 1);
  } else {  // matmul_mac: x [.., P, K], y [.., P, N]
    const size_t r = x.size();
    m.positions = x.at(r - 2), m.reduction = x.at(r - 1), m.channels = y.at(r - 1);
    m.groups = element_count(y) / std::max<int64_t>(m.positions * m.channels, 1);
  }
  return m;
}

TileStreams mac_tile_streams(const Node& op, const HardwareConfig& hw, const CodeTensor& input, int32_t zx, const CodeTensor& second,
                             int32_t zw, const CodeTensor& acc, std::vector<int64_t>* accumulator_index) {
  const MacView v = view_of(op, input, zx, second, acc);
  const int64_t R = hw.mac_rows, C = hw.mac_cols, G = v.groups, P = v.positions, K = v.reduction, M = v.channels;
  const int64_t KT = ceil_div(K, R), CT = ceil_div(M, C), PT = ceil_div(P, R);
  auto x = [&](int64_t g, int64_t p, int64_t k) { return p < P && k < K ? v.x(g, p, k) : zx; };
  auto w = [&](int64_t g, int64_t m, int64_t k) { return m < M && k < K ? v.w(g, m, k) : zw; };
  auto a = [&](int64_t g, int64_t p, int64_t m) {
    if (accumulator_index) accumulator_index->push_back(p < P && m < M ? v.a_index(g, p, m) : -1);
    return p < P && m < M ? v.a(g, p, m) : 0;
  };
  TileStreams s;
  std::vector<int32_t>& ws = s.weights.data;
  std::vector<int32_t>& as = s.activations.data;
  std::vector<int32_t>& ys = s.accumulators.data;
  if (hw.dataflow == Dataflow::weight_stationary) {
    s.weights.shape = {G * CT * KT, R, C}, s.activations.shape = {G * CT * KT, P, R}, s.accumulators.shape = {G * CT, P, C};
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
    s.weights.shape = {G * PT * CT, K, C}, s.activations.shape = {G * PT * CT, K, R}, s.accumulators.shape = {G * PT * CT, R, C};
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
