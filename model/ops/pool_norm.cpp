// Pooling, normalisation and reductions: MaxPool, AveragePool, GlobalAveragePool, BatchNormalization
// (inference), LayerNormalization, Softmax, ReduceMean, ReduceSum. Sums are accumulated in double and rounded to
// float32 once, so results sit within float32 rounding of the exact value.

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/ops/ops.hpp"

namespace chipref::ops {

namespace {

const Tensor& float_input(const OpContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (!t.is_float())
    ctx.fail("input " + std::to_string(i) + " must be float32, got " + std::string(to_string(t.dtype)));
  return t;
}

template <class Reduce>
void pool(OpContext& ctx, Reduce reduce) {
  const Tensor& x = ctx.input(0);
  if (!x.is_float()) ctx.fail("input must be float32, got " + std::string(to_string(x.dtype)));
  const int64_t spatial = spatial_rank(ctx, x);
  const auto ks = ctx.node.get_ints("kernel_shape");
  if (static_cast<int64_t>(ks.size()) != spatial)
    ctx.fail("kernel_shape must have " + std::to_string(spatial) + " values");
  const Window2d g =
      window_geometry(ctx, x.shape, spatial == 1 ? 1 : ks[0], ks.back(), ctx.node.get_int("ceil_mode", 0) != 0);
  const int64_t planes = x.shape[0] * x.shape[1];
  Shape out_shape = {x.shape[0], x.shape[1]};
  if (spatial == 2) out_shape.push_back(g.out_h);
  out_shape.push_back(g.out_w);
  std::vector<float> y(static_cast<size_t>(planes * g.out_h * g.out_w));
  for (int64_t p = 0; p < planes; ++p) {
    const float* plane = x.floats.data() + p * g.in_h * g.in_w;
    for (int64_t oy = 0; oy < g.out_h; ++oy)
      for (int64_t ox = 0; ox < g.out_w; ++ox) y[(p * g.out_h + oy) * g.out_w + ox] = reduce(plane, g, oy, ox);
  }
  ctx.outputs[0] = Tensor::of_floats(out_shape, std::move(y));
  if (ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty()) ctx.unsupported("the Indices output is not supported");
}

void max_pool(OpContext& ctx) {
  if (ctx.node.get_int("storage_order", 0) != 0) ctx.unsupported("storage_order = 1 is not supported");
  const Tensor& x = ctx.input(0);
  Tensor as_float;  // 8- and 16-bit integers are exact in float32, and max commutes with the conversion
  if (!x.is_float()) {
    if (x.dtype != DType::int8 && x.dtype != DType::uint8 && x.dtype != DType::int16 && x.dtype != DType::uint16)
      ctx.unsupported("MaxPool on " + std::string(to_string(x.dtype)) + " is not supported");
    as_float = Tensor::of_floats(x.shape, std::vector<float>(x.ints.begin(), x.ints.end()));
    ctx.inputs[0] = &as_float;
  }
  pool(ctx, [](const float* plane, const Window2d& g, int64_t oy, int64_t ox) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t iy = oy * g.sh - g.pad_top + ky * g.dh, ix = ox * g.sw - g.pad_left + kx * g.dw;
        if (iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w) m = std::max(m, plane[iy * g.in_w + ix]);
      }
    return m;
  });
  if (!x.is_float()) {
    Tensor& y = ctx.outputs[0];
    y = Tensor::of_ints(x.dtype, y.shape, std::vector<int64_t>(y.floats.begin(), y.floats.end()));
  }
}

void average_pool(OpContext& ctx) {
  const bool include_pad = ctx.node.get_int("count_include_pad", 0) != 0;
  pool(ctx, [include_pad](const float* plane, const Window2d& g, int64_t oy, int64_t ox) {
    double sum = 0;
    int64_t count = 0;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t iy = oy * g.sh - g.pad_top + ky * g.dh, ix = ox * g.sw - g.pad_left + kx * g.dw;
        const bool inside = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
        // count_include_pad counts explicit padding, never the part of a ceil_mode window past it
        const bool in_padded =
            iy >= -g.pad_top && iy < g.in_h + g.pad_bottom && ix >= -g.pad_left && ix < g.in_w + g.pad_right;
        if (inside) sum += plane[iy * g.in_w + ix];
        count += include_pad ? in_padded : inside;
      }
    return static_cast<float>(sum / static_cast<double>(std::max<int64_t>(count, 1)));
  });
}

void global_average_pool(OpContext& ctx) {
  const Tensor& x = float_input(ctx, 0);
  if (x.rank() < 3) ctx.fail("expects an N×C×spatial input, got " + shape_to_string(x.shape));
  const int64_t planes = x.shape[0] * x.shape[1], size = x.numel() / std::max<int64_t>(planes, 1);
  Shape out_shape(x.shape.size(), 1);
  out_shape[0] = x.shape[0], out_shape[1] = x.shape[1];
  std::vector<float> y(static_cast<size_t>(planes));
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0;
    for (int64_t i = 0; i < size; ++i) sum += x.floats[p * size + i];
    y[p] = static_cast<float>(sum / static_cast<double>(size));
  }
  ctx.outputs[0] = Tensor::of_floats(out_shape, std::move(y));
}

void batch_normalization(OpContext& ctx) {
  const Tensor& x = float_input(ctx, 0);
  if (ctx.node.get_int("training_mode", 0) != 0 || (ctx.outputs.size() > 1 && !ctx.node.outputs[1].empty()))
    ctx.unsupported("training mode is not supported; chipref runs inference only");
  const float eps = ctx.node.get_float("epsilon", 1e-5f);
  const int64_t c = x.rank() > 1 ? x.shape[1] : 1, inner = x.numel() / std::max<int64_t>(x.shape[0] * c, 1);
  const Tensor &scale = float_input(ctx, 1), &bias = float_input(ctx, 2), &mean = float_input(ctx, 3),
               &var = float_input(ctx, 4);
  for (const Tensor* t : {&scale, &bias, &mean, &var})
    if (t->numel() != c)
      ctx.fail("parameter of shape " + shape_to_string(t->shape) + " does not match " + std::to_string(c) +
               " channels");
  Tensor y = x;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t ch = (i / inner) % c;
    y.floats[i] =
        (x.floats[i] - mean.floats[ch]) / std::sqrt(var.floats[ch] + eps) * scale.floats[ch] + bias.floats[ch];
  }
  ctx.outputs[0] = std::move(y);
}

void layer_normalization(OpContext& ctx) {
  const Tensor& x = float_input(ctx, 0);
  const int64_t axis = normalize_axis(ctx, ctx.node.get_int("axis", -1), x.rank());
  const float eps = ctx.node.get_float("epsilon", 1e-5f);
  int64_t inner = 1;
  for (int64_t d = axis; d < x.rank(); ++d) inner *= x.shape[d];
  const int64_t outer = x.numel() / std::max<int64_t>(inner, 1);
  const Tensor& scale = float_input(ctx, 1);
  const Tensor* bias = ctx.has_input(2) ? &float_input(ctx, 2) : nullptr;
  const Shape norm_shape(x.shape.begin() + axis, x.shape.end());
  const auto scale_strides = broadcast_strides(scale.shape, norm_shape);
  const auto bias_strides = bias ? broadcast_strides(bias->shape, norm_shape) : std::vector<int64_t>{};
  if (broadcast_shapes(ctx, scale.shape, norm_shape) != norm_shape)
    ctx.fail("Scale does not broadcast to the normalised shape");
  std::vector<float> scale_full(static_cast<size_t>(inner)), bias_full(static_cast<size_t>(inner), 0.0f);
  for_each_broadcast(norm_shape, {scale_strides},
                     [&](int64_t i, const int64_t* off) { scale_full[i] = scale.floats[off[0]]; });
  if (bias)
    for_each_broadcast(norm_shape, {bias_strides},
                       [&](int64_t i, const int64_t* off) { bias_full[i] = bias->floats[off[0]]; });
  Tensor y = x;
  Shape stat_shape = x.shape;
  for (int64_t d = axis; d < x.rank(); ++d) stat_shape[d] = 1;
  std::vector<float> means(static_cast<size_t>(outer)), inv_std(static_cast<size_t>(outer));
  for (int64_t o = 0; o < outer; ++o) {
    const float* row = x.floats.data() + o * inner;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < inner; ++i) sum += row[i];
    const double mean = sum / static_cast<double>(inner);
    for (int64_t i = 0; i < inner; ++i) sq += (row[i] - mean) * (row[i] - mean);
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(inner) + eps);
    for (int64_t i = 0; i < inner; ++i)
      y.floats[o * inner + i] = static_cast<float>((row[i] - mean) * inv * scale_full[i] + bias_full[i]);
    means[o] = static_cast<float>(mean), inv_std[o] = static_cast<float>(inv);
  }
  ctx.outputs[0] = std::move(y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = Tensor::of_floats(stat_shape, means);
  if (ctx.outputs.size() > 2) ctx.outputs[2] = Tensor::of_floats(stat_shape, inv_std);
}

// Softmax over `inner` consecutive elements of each of `outer` rows.
void softmax_rows(std::vector<float>& v, int64_t outer, int64_t axis_len, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      float* base = v.data() + o * axis_len * inner + in;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t a = 0; a < axis_len; ++a) m = std::max(m, base[a * inner]);
      double sum = 0;
      for (int64_t a = 0; a < axis_len; ++a) sum += std::exp(static_cast<double>(base[a * inner]) - m);
      for (int64_t a = 0; a < axis_len; ++a)
        base[a * inner] = static_cast<float>(std::exp(static_cast<double>(base[a * inner]) - m) / sum);
    }
}

void softmax(OpContext& ctx) {
  const Tensor& x = float_input(ctx, 0);
  Tensor y = x;
  if (x.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return;
  }
  if (ctx.opset >= 13) {  // along one axis
    const int64_t axis = normalize_axis(ctx, ctx.node.get_int("axis", -1), x.rank());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
    for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.shape[d];
    softmax_rows(y.floats, outer, x.shape[axis], inner);
  } else {  // opsets 11-12: over the input flattened to 2-D at `axis`
    const int64_t axis = normalize_axis(ctx, ctx.node.get_int("axis", 1), x.rank());
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
    softmax_rows(y.floats, outer, x.numel() / outer, 1);
  }
  ctx.outputs[0] = std::move(y);
}

// ReduceMean and ReduceSum: axes as an attribute (ReduceMean up to opset 17, ReduceSum up to 12) or an
// optional input (ReduceSum from 13); no axes reduces every axis, or nothing with noop_with_empty_axes.
void reduce(OpContext& ctx, bool mean) {
  const Tensor& x = float_input(ctx, 0);
  const bool keep = ctx.node.get_int("keepdims", 1) != 0;
  std::vector<int64_t> axes;
  if (ctx.node.has("axes")) axes = ctx.node.get_ints("axes");
  if (ctx.has_input(1)) axes = ctx.input(1).to_int_vector();
  if (axes.empty() && ctx.node.get_int("noop_with_empty_axes", 0) != 0) {
    ctx.outputs[0] = x;
    return;
  }
  std::vector<bool> reduce(x.shape.size(), axes.empty());
  for (int64_t a : axes) reduce[normalize_axis(ctx, a, x.rank())] = true;
  Shape kept_shape = x.shape, out_shape;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (reduce[d]) kept_shape[d] = 1;
    if (!reduce[d] || keep) out_shape.push_back(kept_shape[d]);
  }
  const int64_t count = x.numel() / std::max<int64_t>(element_count(kept_shape), 1);
  std::vector<double> sums(static_cast<size_t>(element_count(kept_shape)), 0.0);
  // Walk x and add each element into its reduced slot: x's index with reduced axes set to 0.
  const auto slot_strides = strides_of(kept_shape);
  std::vector<int64_t> as_input(x.shape.size());
  for (size_t d = 0; d < x.shape.size(); ++d) as_input[d] = reduce[d] ? 0 : slot_strides[d];
  for_each_broadcast(x.shape, {as_input}, [&](int64_t i, const int64_t* off) { sums[off[0]] += x.floats[i]; });
  std::vector<float> y(sums.size());
  for (size_t i = 0; i < sums.size(); ++i)
    y[i] = static_cast<float>(mean ? sums[i] / static_cast<double>(count) : sums[i]);
  ctx.outputs[0] = Tensor::of_floats(out_shape, std::move(y));
}
void reduce_mean(OpContext& ctx) { reduce(ctx, true); }
void reduce_sum(OpContext& ctx) { reduce(ctx, false); }

}  // namespace

void register_pool_norm(OpTable& t) {
  t["MaxPool"] = max_pool;
  t["AveragePool"] = average_pool;
  t["GlobalAveragePool"] = global_average_pool;
  t["BatchNormalization"] = batch_normalization;
  t["LayerNormalization"] = layer_normalization;
  t["Softmax"] = softmax;
  t["ReduceMean"] = reduce_mean;
  t["ReduceSum"] = reduce_sum;
}

}  // namespace chipref::ops
