// Convolution and matrix products, float and integer: one im2col + GEMM core (Eigen) templated on the
// element type, used by Conv (float32), ConvInteger / QLinearConv (int64 after zero-point subtraction),
// and one batched-broadcast matmul core used by MatMul, MatMulInteger and QLinearMatMul.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "model/ops/ops.hpp"
#include "numerics/rounding.hpp"

namespace chipref::ops {

namespace {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// x: [N, C, H, W] (1-D inputs as H = 1), w: [M, C/group, KH, KW] → y: [N, M, OH, OW]. Padding reads 0.
template <class T>
std::vector<T> conv_core(const std::vector<T>& x, const Shape& xs, const std::vector<T>& w, const Shape& ws,
                         int64_t group, const Window2d& g) {
  const int64_t n_batch = xs[0], c_in = xs[1], m_out = ws[0];
  const int64_t c_per_group = c_in / group, m_per_group = m_out / group;
  const int64_t k_size = c_per_group * g.kh * g.kw, out_size = g.out_h * g.out_w;
  std::vector<T> y(static_cast<size_t>(n_batch * m_out * out_size));
  RowMatrix<T> col(k_size, out_size);
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t grp = 0; grp < group; ++grp) {
      for (int64_t c = 0; c < c_per_group; ++c) {
        const T* plane = x.data() + ((n * c_in) + grp * c_per_group + c) * g.in_h * g.in_w;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            T* row = col.data() + ((c * g.kh + ky) * g.kw + kx) * out_size;
            // the outputs whose tap lies inside the input's columns: ox in [ox_lo, ox_hi)
            const int64_t offset = kx * g.dw - g.pad_left;  // ix = ox·sw + offset
            const int64_t ox_lo = std::clamp<int64_t>((-offset + g.sw - 1) / g.sw, 0, g.out_w);
            const int64_t ox_hi = std::clamp<int64_t>((g.in_w - offset + g.sw - 1) / g.sw, ox_lo, g.out_w);
            for (int64_t oy = 0; oy < g.out_h; ++oy) {
              const int64_t iy = oy * g.sh - g.pad_top + ky * g.dh;
              T* out = row + oy * g.out_w;
              if (iy < 0 || iy >= g.in_h) {
                std::fill(out, out + g.out_w, T(0));
                continue;
              }
              std::fill(out, out + ox_lo, T(0));
              const T* in = plane + iy * g.in_w;
              for (int64_t ox = ox_lo; ox < ox_hi; ++ox) out[ox] = in[ox * g.sw + offset];
              std::fill(out + ox_hi, out + g.out_w, T(0));
            }
          }
      }
      Eigen::Map<const RowMatrix<T>> wg(w.data() + grp * m_per_group * k_size, m_per_group, k_size);
      Eigen::Map<RowMatrix<T>> yg(y.data() + (n * m_out + grp * m_per_group) * out_size, m_per_group, out_size);
      yg.noalias() = wg * col;
    }
  return y;
}

struct ConvSetup {
  int64_t group;
  Window2d window;
  Shape out_shape;
};

ConvSetup conv_setup(const OpContext& ctx, const Tensor& x, const Tensor& w) {
  const int64_t spatial = spatial_rank(ctx, x);
  if (w.rank() != x.rank())
    ctx.fail("weight of shape " + shape_to_string(w.shape) + " does not match input rank " + std::to_string(x.rank()));
  const int64_t group = ctx.node.get_int("group", 1);
  if (group < 1 || x.shape[1] % group || w.shape[0] % group || w.shape[1] * group != x.shape[1])
    ctx.fail("input channels " + std::to_string(x.shape[1]) + ", weight " + shape_to_string(w.shape) + " and group " +
             std::to_string(group) + " are inconsistent");
  const int64_t kh = spatial == 1 ? 1 : w.shape[2], kw = w.shape[spatial == 1 ? 2 : 3];
  if (ctx.node.has("kernel_shape")) {
    const auto ks = ctx.node.get_ints("kernel_shape");
    if (ks != Shape(w.shape.begin() + 2, w.shape.end()))
      ctx.fail("kernel_shape does not match the weight shape " + shape_to_string(w.shape));
  }
  const Window2d win = window_geometry(ctx, x.shape, kh, kw, false);
  Shape out = {x.shape[0], w.shape[0]};
  if (spatial == 2) out.push_back(win.out_h);
  out.push_back(win.out_w);
  return {group, win, out};
}

// Per-output-channel values (scale or zero point): a scalar or a 1-D tensor of length `channels`.
template <class Get>
auto per_channel(const OpContext& ctx, const Tensor& t, int64_t channels, const char* what, Get get) {
  if (t.numel() != 1 && t.numel() != channels)
    ctx.fail(std::string(what) + " has " + std::to_string(t.numel()) + " values; expected 1 or " +
             std::to_string(channels));
  using V = decltype(get(t, 0));
  std::vector<V> v(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) v[c] = get(t, t.numel() == 1 ? 0 : c);
  return v;
}
int64_t get_int_at(const Tensor& t, int64_t i) { return t.int_value(i); }
double get_double_at(const Tensor& t, int64_t i) { return t.value(i); }

// Integer input minus its zero point (scalar), widened to int64.
std::vector<int64_t> minus_zero_point(const Tensor& t, int64_t zp) {
  std::vector<int64_t> v(t.ints);
  for (int64_t& e : v) e -= zp;
  return v;
}
// Weight [M, ...] minus a per-output-channel zero point.
std::vector<int64_t> minus_channel_zero_point(const Tensor& w, const std::vector<int64_t>& zp) {
  std::vector<int64_t> v(w.ints);
  const int64_t per = w.numel() / w.shape[0];
  for (int64_t i = 0; i < w.numel(); ++i) v[i] -= zp[i / per];
  return v;
}

int64_t scalar_zero_point(const OpContext& ctx, size_t input) {
  if (!ctx.has_input(input)) return 0;
  const Tensor& t = ctx.input(input);
  if (t.numel() != 1) ctx.fail("zero point input " + std::to_string(input) + " must be a scalar here");
  return t.int_value(0);
}

void conv(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  if (!x.is_float() || !w.is_float()) ctx.fail("expects float32 input and weight");
  const ConvSetup s = conv_setup(ctx, x, w);
  std::vector<float> y = conv_core(x.floats, x.shape, w.floats, w.shape, s.group, s.window);
  if (ctx.has_input(2)) {
    const Tensor& b = ctx.input(2);
    if (b.numel() != w.shape[0])
      ctx.fail("bias has " + std::to_string(b.numel()) + " values; expected " + std::to_string(w.shape[0]));
    const int64_t plane = s.window.out_h * s.window.out_w;
    for (size_t i = 0; i < y.size(); ++i) y[i] += b.floats[(i / plane) % w.shape[0]];
  }
  ctx.outputs[0] = Tensor::of_floats(s.out_shape, std::move(y));
}

// Exact integer convolution Σ (x − x_zp)(w − w_zp), padding contributing 0 (i.e. padded with x_zp).
std::vector<int64_t> integer_conv(const Tensor& x, int64_t x_zp, const Tensor& w, const std::vector<int64_t>& w_zp,
                                  const ConvSetup& s) {
  return conv_core(minus_zero_point(x, x_zp), x.shape, minus_channel_zero_point(w, w_zp), w.shape, s.group, s.window);
}

void conv_integer(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const ConvSetup s = conv_setup(ctx, x, w);
  const auto w_zp = ctx.has_input(3) ? per_channel(ctx, ctx.input(3), w.shape[0], "w_zero_point", get_int_at)
                                     : std::vector<int64_t>(static_cast<size_t>(w.shape[0]), 0);
  ctx.outputs[0] = Tensor::of_ints(DType::int32, s.out_shape, integer_conv(x, scalar_zero_point(ctx, 2), w, w_zp, s));
}

// y = saturate(round_half_even(acc · scale) + zp), the ONNX QLinear output stage. The real product is
// formed in double from the float32 scales, as the ONNX reference implementation does in numpy.
int64_t qlinear_output(int64_t acc, double scale, int64_t zp, DType out) {
  const double v =
      round_to_integer(static_cast<double>(acc) * scale, RoundingMode::half_even) + static_cast<double>(zp);
  return static_cast<int64_t>(
      std::min<double>(std::max<double>(v, static_cast<double>(dtype_min(out))), static_cast<double>(dtype_max(out))));
}

void qlinear_conv(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(3);
  const ConvSetup s = conv_setup(ctx, x, w);
  const int64_t m = w.shape[0];
  const float x_scale = static_cast<float>(checked_scale(ctx, ctx.input(1).floats.at(0), "x_scale"));
  const float y_scale = static_cast<float>(checked_scale(ctx, ctx.input(6).floats.at(0), "y_scale"));
  const auto w_scale = per_channel(ctx, ctx.input(4), m, "w_scale", get_double_at);
  for (double s : w_scale) checked_scale(ctx, s, "w_scale");
  const auto w_zp = per_channel(ctx, ctx.input(5), m, "w_zero_point", get_int_at);
  std::vector<int64_t> acc = integer_conv(x, ctx.input(2).int_value(0), w, w_zp, s);
  const int64_t plane = s.window.out_h * s.window.out_w;
  const Tensor* bias = ctx.has_input(8) ? &ctx.input(8) : nullptr;
  if (bias && bias->numel() != m)
    ctx.fail("bias has " + std::to_string(bias->numel()) + " values; expected " + std::to_string(m));
  const Tensor& y_zp = ctx.input(7);
  std::vector<float> scale(static_cast<size_t>(m));
  for (int64_t c = 0; c < m; ++c)
    scale[c] = x_scale * static_cast<float>(w_scale[c]) / y_scale;  // float32, as the reference's numpy scalars
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t c = (static_cast<int64_t>(i) / plane) % m;
    acc[i] = qlinear_output(acc[i] + (bias ? bias->ints[c] : 0), scale[c], y_zp.ints.at(0), y_zp.dtype);
  }
  ctx.outputs[0] = Tensor::of_ints(y_zp.dtype, s.out_shape, std::move(acc));
}

// numpy.matmul: 1-D operands are promoted (and the added dimension removed), batch dimensions broadcast.
template <class T>
std::vector<T> matmul_core(const OpContext& ctx, const std::vector<T>& a, Shape as, const std::vector<T>& b, Shape bs,
                           Shape& out_shape) {
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (as.empty() || bs.empty()) ctx.fail("operands must have rank >= 1");
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) ctx.fail("inner dimensions differ: " + shape_to_string(as) + " x " + shape_to_string(bs));
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const Shape batch = broadcast_shapes(ctx, a_batch, b_batch);
  std::vector<T> y(static_cast<size_t>(element_count(batch) * m * n));
  const std::vector<std::vector<int64_t>> strides = {broadcast_strides(a_batch, batch),
                                                     broadcast_strides(b_batch, batch)};
  for_each_broadcast(batch, strides, [&](int64_t i, const int64_t* off) {
    Eigen::Map<const RowMatrix<T>> am(a.data() + off[0] * m * k, m, k);
    Eigen::Map<const RowMatrix<T>> bm(b.data() + off[1] * k * n, k, n);
    Eigen::Map<RowMatrix<T>> ym(y.data() + i * m * n, m, n);
    ym.noalias() = am * bm;
  });
  out_shape = batch;
  if (!a_vec) out_shape.push_back(m);
  if (!b_vec) out_shape.push_back(n);
  return y;
}

void matmul(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!a.is_float() || !b.is_float()) ctx.fail("expects float32 operands");
  Shape out;
  std::vector<float> y = matmul_core(ctx, a.floats, a.shape, b.floats, b.shape, out);
  ctx.outputs[0] = Tensor::of_floats(out, std::move(y));
}

// (a − a_zp) · (b − b_zp) with a_zp scalar or per row of a (M), b_zp scalar or per column of b (N).
std::vector<int64_t> integer_matmul(const OpContext& ctx, const Tensor& a, const Tensor* a_zp, const Tensor& b,
                                    const Tensor* b_zp, Shape& out) {
  std::vector<int64_t> av(a.ints), bv(b.ints);
  if (a_zp) {
    const int64_t rows = a.rank() >= 2 ? a.shape[a.rank() - 2] : 1, k = a.shape.back();
    const auto zp = per_channel(ctx, *a_zp, rows, "a_zero_point", get_int_at);
    for (size_t i = 0; i < av.size(); ++i) av[i] -= zp[(static_cast<int64_t>(i) / k) % rows];
  }
  if (b_zp) {
    const int64_t cols = b.shape.back();
    const auto zp = per_channel(ctx, *b_zp, cols, "b_zero_point", get_int_at);
    for (size_t i = 0; i < bv.size(); ++i) bv[i] -= zp[static_cast<int64_t>(i) % cols];
  }
  return matmul_core(ctx, av, a.shape, bv, b.shape, out);
}

void matmul_integer(OpContext& ctx) {
  Shape out;
  std::vector<int64_t> y = integer_matmul(ctx, ctx.input(0), ctx.has_input(2) ? &ctx.input(2) : nullptr, ctx.input(1),
                                          ctx.has_input(3) ? &ctx.input(3) : nullptr, out);
  ctx.outputs[0] = Tensor::of_ints(DType::int32, out, std::move(y));
}

void qlinear_matmul(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  const Tensor& y_zp = ctx.input(7);
  if (ctx.input(1).numel() != 1 || ctx.input(4).numel() != 1 || ctx.input(6).numel() != 1)
    ctx.unsupported("per-row / per-column scales are not supported; expected scalar scales");
  Shape out;
  std::vector<int64_t> acc = integer_matmul(ctx, a, &ctx.input(2), b, &ctx.input(5), out);
  const float scale = static_cast<float>(checked_scale(ctx, ctx.input(1).floats[0], "a_scale")) *
                      static_cast<float>(checked_scale(ctx, ctx.input(4).floats[0], "b_scale")) /
                      static_cast<float>(checked_scale(ctx, ctx.input(6).floats[0], "y_scale"));
  for (int64_t& v : acc) v = qlinear_output(v, scale, y_zp.ints.at(0), y_zp.dtype);
  ctx.outputs[0] = Tensor::of_ints(y_zp.dtype, out, std::move(acc));
}

void gemm(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!a.is_float() || !b.is_float()) ctx.fail("expects float32 operands");
  if (a.rank() != 2 || b.rank() != 2)
    ctx.fail("expects 2-D A and B, got " + shape_to_string(a.shape) + " and " + shape_to_string(b.shape));
  const bool ta = ctx.node.get_int("transA", 0) != 0, tb = ctx.node.get_int("transB", 0) != 0;
  const float alpha = ctx.node.get_float("alpha", 1.0f), beta = ctx.node.get_float("beta", 1.0f);
  Eigen::Map<const RowMatrix<float>> am(a.floats.data(), a.shape[0], a.shape[1]);
  Eigen::Map<const RowMatrix<float>> bm(b.floats.data(), b.shape[0], b.shape[1]);
  const int64_t m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1];
  const int64_t kb = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1];
  if (k != kb) ctx.fail("inner dimensions differ: " + shape_to_string(a.shape) + " x " + shape_to_string(b.shape));
  RowMatrix<float> y(m, n);
  if (ta && tb)
    y.noalias() = am.transpose() * bm.transpose();
  else if (ta)
    y.noalias() = am.transpose() * bm;
  else if (tb)
    y.noalias() = am * bm.transpose();
  else
    y.noalias() = am * bm;
  y *= alpha;
  Tensor out = Tensor::of_floats({m, n}, std::vector<float>(y.data(), y.data() + m * n));
  if (ctx.has_input(2)) {
    const Tensor& c = ctx.input(2);
    const Shape shape = broadcast_shapes(ctx, c.shape, out.shape);
    if (shape != out.shape)
      ctx.fail("C of shape " + shape_to_string(c.shape) + " does not broadcast to " + shape_to_string(out.shape));
    for_each_broadcast(out.shape, {broadcast_strides(c.shape, out.shape)},
                       [&](int64_t i, const int64_t* off) { out.floats[i] += beta * c.floats[off[0]]; });
  }
  ctx.outputs[0] = std::move(out);
}

// ConvTranspose from its definition, as a scatter: each input element adds x · w[c, m, ky, kx] at output
// position iy·s − pad_start + ky·d (positions outside the output are dropped), then the bias.
void conv_transpose(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  if (!x.is_float() || !w.is_float()) ctx.fail("expects float32 input and weight");
  spatial_rank(ctx, x);
  std::string error;
  const TransposedConvGeometry g = conv_transpose_geometry(ctx.node, x.shape, w.shape, &error);
  if (!error.empty()) ctx.fail(error);
  const TransposedAxis &h = g.axes[0], &v = g.axes[1];
  const int64_t n_batch = x.shape[0], c_in = x.shape[1], c_group = c_in / g.group, m_group = w.shape[1];
  const int64_t m_out = m_group * g.group;
  Shape out_shape = {n_batch, m_out};
  if (x.rank() == 4) out_shape.push_back(h.out);
  out_shape.push_back(v.out);
  std::vector<double> y(static_cast<size_t>(n_batch * m_out * h.out * v.out), 0.0);
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t c = 0; c < c_in; ++c) {
      const int64_t grp = c / c_group;
      for (int64_t iy = 0; iy < h.in; ++iy)
        for (int64_t ix = 0; ix < v.in; ++ix) {
          const double xv = x.floats[((n * c_in + c) * h.in + iy) * v.in + ix];
          for (int64_t m = 0; m < m_group; ++m)
            for (int64_t ky = 0; ky < h.kernel; ++ky) {
              const int64_t oy = iy * h.stride - h.pad_start + ky * h.dilation;
              if (oy < 0 || oy >= h.out) continue;
              for (int64_t kx = 0; kx < v.kernel; ++kx) {
                const int64_t ox = ix * v.stride - v.pad_start + kx * v.dilation;
                if (ox < 0 || ox >= v.out) continue;
                y[((n * m_out + grp * m_group + m) * h.out + oy) * v.out + ox] +=
                    xv * w.floats[((c * m_group + m) * h.kernel + ky) * v.kernel + kx];
              }
            }
        }
    }
  if (ctx.has_input(2)) {
    const Tensor& b = ctx.input(2);
    if (b.numel() != m_out)
      ctx.fail("bias has " + std::to_string(b.numel()) + " values; expected " + std::to_string(m_out));
    const int64_t plane = h.out * v.out;
    for (size_t i = 0; i < y.size(); ++i) y[i] += b.floats[(static_cast<int64_t>(i) / plane) % m_out];
  }
  ctx.outputs[0] = Tensor::of_floats(out_shape, std::vector<float>(y.begin(), y.end()));
}

}  // namespace

void register_linear(OpTable& t) {
  t["ConvTranspose"] = conv_transpose;
  t["Conv"] = conv;
  t["ConvInteger"] = conv_integer;
  t["QLinearConv"] = qlinear_conv;
  t["MatMul"] = matmul;
  t["MatMulInteger"] = matmul_integer;
  t["QLinearMatMul"] = qlinear_matmul;
  t["Gemm"] = gemm;
}

}  // namespace chipref::ops
