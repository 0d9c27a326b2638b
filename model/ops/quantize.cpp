// Quantization ops of the float IR: ONNX QuantizeLinear / DequantizeLinear (per-tensor and per-axis),
// DynamicQuantizeLinear, and QONNX's Quant (kept as a quantizer node; run here as fake quantization).
// Integer results are exact: round half to even (ONNX) or the QONNX rounding mode, then saturation.

#include <algorithm>
#include <cmath>

#include "model/onnx_import.hpp"
#include "model/ops/ops.hpp"
#include "numerics/rounding.hpp"

namespace chipref::ops {

namespace {

// Scale / zero point of input `i`: one value per element of `axis` (per-axis) or a single value.
struct AxisParams {
  int64_t axis = 0, axis_len = 1, inner = 1;  // element e uses parameter (e / inner) % axis_len
  bool per_axis = false;
  int64_t index(int64_t e) const { return per_axis ? (e / inner) % axis_len : 0; }
};

AxisParams axis_params(const OpContext& ctx, const Tensor& x, const Tensor& scale) {
  AxisParams p;
  if (scale.numel() == 1 && scale.rank() <= 1) return p;
  if (scale.rank() != 1) ctx.fail("scale must be a scalar or 1-D, got " + shape_to_string(scale.shape));
  p.per_axis = true;
  p.axis = normalize_axis(ctx, ctx.node.get_int("axis", 1), x.rank());
  p.axis_len = x.shape[p.axis];
  if (scale.numel() != p.axis_len)
    ctx.fail("scale has " + std::to_string(scale.numel()) + " values; expected " + std::to_string(p.axis_len) +
             " for axis " + std::to_string(p.axis));
  for (int64_t d = p.axis + 1; d < x.rank(); ++d) p.inner *= x.shape[d];
  return p;
}

void quantize_linear(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  if (!x.is_float()) ctx.fail("input must be float32");
  const Tensor zp = ctx.has_input(2) ? ctx.input(2) : Tensor::of_ints(DType::uint8, {}, {0});
  const AxisParams p = axis_params(ctx, x, scale);
  if (zp.numel() != scale.numel()) ctx.fail("zero point and scale have different lengths");
  for (float s : scale.floats) checked_scale(ctx, s, "y_scale");
  Tensor y = Tensor::zeros(zp.dtype, x.shape);
  for (int64_t e = 0; e < x.numel(); ++e) {
    const int64_t k = p.index(e);
    const float q = x.floats[e] / scale.floats[k];  // division in float32, as the spec
    if (std::isnan(q)) ctx.fail("input element " + std::to_string(e) + " is NaN; it has no quantized value");
    const double r = round_to_integer(q, RoundingMode::half_even) + static_cast<double>(zp.ints[k]);
    y.ints[e] = static_cast<int64_t>(
        std::clamp<double>(r, static_cast<double>(dtype_min(zp.dtype)), static_cast<double>(dtype_max(zp.dtype))));
  }
  ctx.outputs[0] = std::move(y);
}

void dequantize_linear(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  if (x.is_float()) ctx.fail("input must be an integer tensor");
  const AxisParams p = axis_params(ctx, x, scale);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (zp && zp->numel() != scale.numel()) ctx.fail("zero point and scale have different lengths");
  Tensor y = Tensor::zeros(DType::float32, x.shape);
  for (int64_t e = 0; e < x.numel(); ++e) {
    const int64_t k = p.index(e);
    y.floats[e] = static_cast<float>(x.ints[e] - (zp ? zp->ints[k] : 0)) * scale.floats[k];
  }
  ctx.outputs[0] = std::move(y);
}

// uint8 dynamic quantization, all in float32 as the ONNX reference: the range always includes 0.
void dynamic_quantize_linear(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!x.is_float()) ctx.fail("input must be float32");
  float lo = 0.0f, hi = 0.0f;
  for (float v : x.floats) {
    if (!std::isfinite(v)) ctx.fail("input holds a non-finite value; its quantization range is undefined");
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  const float scale = (hi - lo) / 255.0f;
  const float zp_real = scale == 0.0f ? 0.0f : 0.0f - lo / scale;
  const int64_t zp = static_cast<int64_t>(std::clamp(round_to_integer(zp_real, RoundingMode::half_even), 0.0, 255.0));
  Tensor y = Tensor::zeros(DType::uint8, x.shape);
  for (int64_t e = 0; e < x.numel(); ++e) {
    const float q = scale == 0.0f ? 0.0f : x.floats[e] / scale;
    y.ints[e] = static_cast<int64_t>(
        std::clamp(round_to_integer(q, RoundingMode::half_even) + static_cast<double>(zp), 0.0, 255.0));
  }
  ctx.outputs[0] = std::move(y);
  ctx.outputs[1] = Tensor::of_floats({}, {scale});
  ctx.outputs[2] = Tensor::of_ints(DType::uint8, {}, {zp});
}

// QONNX Quant: y = (clamp(round(x / scale + zeropt), min, max) − zeropt) · scale, with min/max from the
// bit width, `signed` and `narrow`; scale and zero point broadcast against x.
void qonnx_quant(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor& zeropt = ctx.input(2);
  const Tensor& bitwidth = ctx.input(3);
  if (!x.is_float() || !scale.is_float() || !zeropt.is_float() || !bitwidth.is_float())
    ctx.fail("inputs must be float32 (QONNX convention)");
  const double bits = bitwidth.floats.at(0);
  if (bits < 1 || bits > 32 || bits != std::floor(bits))
    ctx.fail("bit width " + std::to_string(bits) + " is not an integer in 1..32");
  const bool is_signed = ctx.node.get_int("signed", 1) != 0, narrow = ctx.node.get_int("narrow", 0) != 0;
  const std::string mode_name = ctx.node.get_string("rounding_mode", std::string("ROUND"));
  static const std::pair<const char*, RoundingMode> kModes[] = {{"ROUND", RoundingMode::half_even},
                                                                {"HALF_EVEN", RoundingMode::half_even},
                                                                {"ROUND_TO_ZERO", RoundingMode::toward_zero},
                                                                {"FLOOR", RoundingMode::floor},
                                                                {"HALF_UP", RoundingMode::half_up}};
  const auto it =
      std::find_if(std::begin(kModes), std::end(kModes), [&](const auto& m) { return mode_name == m.first; });
  if (it == std::end(kModes))
    ctx.unsupported("rounding_mode '" + mode_name +
                    "' is not supported; expected ROUND, HALF_EVEN, ROUND_TO_ZERO, FLOOR or HALF_UP");
  const double b = bits;
  const double qmin = is_signed ? -std::exp2(b - 1) + (narrow ? 1 : 0) : 0;
  const double qmax = is_signed ? std::exp2(b - 1) - 1 : std::exp2(b) - 1 - (narrow ? 1 : 0);
  const Shape out_shape = broadcast_shapes(ctx, broadcast_shapes(ctx, x.shape, scale.shape), zeropt.shape);
  if (out_shape != x.shape) ctx.fail("scale and zero point must broadcast to the input's shape");
  Tensor y = x;
  for_each_broadcast(out_shape, {broadcast_strides(scale.shape, out_shape), broadcast_strides(zeropt.shape, out_shape)},
                     [&](int64_t e, const int64_t* off) {
                       const double s = checked_scale(ctx, scale.floats[off[0]], "scale"), z = zeropt.floats[off[1]];
                       if (std::isnan(x.floats[e])) ctx.fail("input element " + std::to_string(e) + " is NaN");
                       const double q = std::clamp(
                           round_to_integer(static_cast<float>(x.floats[e] / s) + z, it->second), qmin, qmax);
                       y.floats[e] = static_cast<float>((q - z) * s);
                     });
  ctx.outputs[0] = std::move(y);
}

}  // namespace

void register_quantize(OpTable& t) {
  t["QuantizeLinear"] = quantize_linear;
  t["DequantizeLinear"] = dequantize_linear;
  t["DynamicQuantizeLinear"] = dynamic_quantize_linear;
  t[std::string(kMicrosoftDomain) + "::QuantizeLinear"] = quantize_linear;  // the same ops, 16-bit codes too
  t[std::string(kMicrosoftDomain) + "::DequantizeLinear"] = dequantize_linear;
  t[std::string(kQonnxDomain) + "::Quant"] = qonnx_quant;
}

}  // namespace chipref::ops
