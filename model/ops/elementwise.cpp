// Elementwise ops: numpy-broadcast binary arithmetic, Where, and the unary activations.

#include <algorithm>
#include <cmath>

#include "model/ops/ops.hpp"

namespace chipref::ops {

namespace {

template <class FloatFn, class IntFn>
void binary(OpContext& ctx, FloatFn float_fn, IntFn int_fn) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype != b.dtype)
    ctx.fail("operand types differ: " + std::string(to_string(a.dtype)) + " and " + std::string(to_string(b.dtype)));
  const Shape out_shape = broadcast_shapes(ctx, a.shape, b.shape);
  Tensor out = Tensor::zeros(a.dtype, out_shape);
  const std::vector<std::vector<int64_t>> strides = {broadcast_strides(a.shape, out_shape),
                                                     broadcast_strides(b.shape, out_shape)};
  // An operand of the output's shape, or one that repeats along leading axes only (a scalar, a bias
  // [C] over [..., C]), is read at i mod its size: the common cases, without the general walk.
  auto repeats = [&](const Tensor& t) {
    Shape padded = t.shape;
    while (padded.size() < out_shape.size()) padded.insert(padded.begin(), 1);
    size_t d = 0;
    while (d < padded.size() && padded[d] == 1) ++d;
    return std::equal(padded.begin() + static_cast<std::ptrdiff_t>(d), padded.end(),
                      out_shape.begin() + static_cast<std::ptrdiff_t>(d));
  };
  if (a.is_float() && out.numel() > 0 && repeats(a) && repeats(b)) {
    const int64_t n = out.numel(), na = a.numel(), nb = b.numel();
    for (int64_t i = 0; i < n; ++i)
      out.floats[i] = float_fn(a.floats[na == n ? i : i % na], b.floats[nb == n ? i : i % nb]);
  } else if (a.is_float()) {
    for_each_broadcast(out_shape, strides, [&](int64_t i, const int64_t* off) {
      out.floats[i] = float_fn(a.floats[off[0]], b.floats[off[1]]);
    });
  } else {
    for_each_broadcast(out_shape, strides, [&](int64_t i, const int64_t* off) {
      out.ints[i] = int_fn(ctx, a.ints[off[0]], b.ints[off[1]]);
    });
  }
  ctx.outputs[0] = std::move(out);
}

int64_t int_unsupported(const OpContext& ctx, int64_t, int64_t) {
  ctx.unsupported("integer operands are not supported");
}

template <class FloatFn>
void unary_float(OpContext& ctx, FloatFn fn) {
  const Tensor& x = ctx.input(0);
  if (!x.is_float()) ctx.fail("expects a float32 input, got " + std::string(to_string(x.dtype)));
  Tensor y = x;
  for (float& v : y.floats) v = fn(v);
  ctx.outputs[0] = std::move(y);
}

void add(OpContext& ctx) {
  binary(
      ctx, [](float a, float b) { return a + b; }, [](const OpContext&, int64_t a, int64_t b) { return a + b; });
}
void sub(OpContext& ctx) {
  binary(
      ctx, [](float a, float b) { return a - b; }, [](const OpContext&, int64_t a, int64_t b) { return a - b; });
}
void mul(OpContext& ctx) {
  binary(
      ctx, [](float a, float b) { return a * b; }, [](const OpContext&, int64_t a, int64_t b) { return a * b; });
}
void div(OpContext& ctx) {
  binary(
      ctx, [](float a, float b) { return a / b; },
      [](const OpContext& c, int64_t a, int64_t b) {
        if (b == 0) c.fail("integer division by zero");
        return a / b;  // truncation, as the ONNX reference's integer Div
      });
}
void pow(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!a.is_float() && b.is_float()) {  // integer base, float exponent: the result keeps the base's type
    const Shape out_shape = broadcast_shapes(ctx, a.shape, b.shape);
    Tensor out = Tensor::zeros(a.dtype, out_shape);
    for_each_broadcast(out_shape, {broadcast_strides(a.shape, out_shape), broadcast_strides(b.shape, out_shape)},
                       [&](int64_t i, const int64_t* off) {
                         const double v =
                             std::pow(static_cast<double>(a.ints[off[0]]), static_cast<double>(b.floats[off[1]]));
                         if (!std::isfinite(v) || std::fabs(v) > 9.2e18) ctx.fail("integer power overflows");
                         out.ints[i] = static_cast<int64_t>(v);  // truncation, as numpy's cast back to the base type
                       });
    ctx.outputs[0] = std::move(out);
    return;
  }
  if (ctx.input(0).is_float() && !b.is_float()) {  // float base, integer exponent: allowed by the spec
    Tensor exponent = Tensor::of_floats(b.shape, std::vector<float>(b.ints.begin(), b.ints.end()));
    ctx.inputs[1] = &exponent;
    binary(
        ctx, [](float x, float e) { return std::pow(x, e); }, int_unsupported);
    return;
  }
  binary(
      ctx, [](float x, float e) { return std::pow(x, e); }, int_unsupported);
}

void where(OpContext& ctx) {
  const Tensor& cond = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (x.dtype != y.dtype) ctx.fail("X and Y types differ");
  const Shape out_shape = broadcast_shapes(ctx, broadcast_shapes(ctx, cond.shape, x.shape), y.shape);
  Tensor out = Tensor::zeros(x.dtype, out_shape);
  const std::vector<std::vector<int64_t>> strides = {broadcast_strides(cond.shape, out_shape),
                                                     broadcast_strides(x.shape, out_shape),
                                                     broadcast_strides(y.shape, out_shape)};
  for_each_broadcast(out_shape, strides, [&](int64_t i, const int64_t* off) {
    const bool c = cond.int_value(off[0]) != 0;
    if (x.is_float())
      out.floats[i] = c ? x.floats[off[1]] : y.floats[off[2]];
    else
      out.ints[i] = c ? x.ints[off[1]] : y.ints[off[2]];
  });
  ctx.outputs[0] = std::move(out);
}

void relu(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor y = x;
  if (x.is_float())
    for (float& v : y.floats) v = std::max(v, 0.0f);
  else
    for (int64_t& v : y.ints) v = std::max<int64_t>(v, 0);
  ctx.outputs[0] = std::move(y);
}

void clip(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor y = x;
  if (ctx.opset < 11) ctx.unsupported("Clip before opset 11 is not supported");
  if (x.is_float()) {
    const float lo = ctx.has_input(1) ? ctx.input(1).floats.at(0) : -INFINITY;
    const float hi = ctx.has_input(2) ? ctx.input(2).floats.at(0) : INFINITY;
    for (float& v : y.floats) v = std::min(std::max(v, lo), hi);
  } else {
    const int64_t lo = ctx.has_input(1) ? ctx.input(1).ints.at(0) : INT64_MIN;
    const int64_t hi = ctx.has_input(2) ? ctx.input(2).ints.at(0) : INT64_MAX;
    for (int64_t& v : y.ints) v = std::min(std::max(v, lo), hi);
  }
  ctx.outputs[0] = std::move(y);
}

void identity(OpContext& ctx) { ctx.outputs[0] = ctx.input(0); }

// Inference-mode Dropout: the identity, and an all-true mask if asked for.
void dropout(OpContext& ctx) {
  // In training mode with a ratio of 0 nothing is dropped (ONNX's definition; torch exports Swin's
  // attention dropout so even in eval mode).
  const bool training = ctx.has_input(2) && ctx.input(2).int_value(0) != 0;
  const double ratio = ctx.has_input(1) ? ctx.input(1).value(0) : 0.5;
  if (training && ratio != 0)
    ctx.unsupported("training_mode = true with a ratio of " + std::to_string(ratio) +
                    " is not supported; chipref runs inference only");
  ctx.outputs[0] = ctx.input(0);
  if (ctx.outputs.size() > 1)
    ctx.outputs[1] = Tensor::of_ints(DType::boolean, ctx.input(0).shape,
                                     std::vector<int64_t>(static_cast<size_t>(ctx.input(0).numel()), 1));
}

void sigmoid(OpContext& ctx) {
  unary_float(ctx, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}
void reciprocal(OpContext& ctx) {
  unary_float(ctx, [](float v) { return 1.0f / v; });
}
void tanh_op(OpContext& ctx) {
  unary_float(ctx, [](float v) { return std::tanh(v); });
}
void erf_op(OpContext& ctx) {
  unary_float(ctx, [](float v) { return std::erf(v); });
}
void sqrt_op(OpContext& ctx) {
  unary_float(ctx, [](float v) { return std::sqrt(v); });
}
void leaky_relu(OpContext& ctx) {
  const float alpha = ctx.node.get_float("alpha", 0.01f);
  unary_float(ctx, [alpha](float v) { return v < 0 ? alpha * v : v; });
}
void hard_sigmoid(OpContext& ctx) {
  const float alpha = ctx.node.get_float("alpha", 0.2f), beta = ctx.node.get_float("beta", 0.5f);
  unary_float(ctx, [=](float v) { return std::max(0.0f, std::min(1.0f, alpha * v + beta)); });
}
void hard_swish(OpContext& ctx) {
  unary_float(ctx, [](float v) { return v * std::max(0.0f, std::min(1.0f, v / 6.0f + 0.5f)); });
}

// ELU, SELU, CELU, Softplus, Softsign, Mish (ONNX's definitions and attribute defaults): in double,
// rounded to float32 once.
template <class Fn>
void unary_double(OpContext& ctx, Fn fn) {
  unary_float(ctx, [&](float v) { return static_cast<float>(fn(static_cast<double>(v))); });
}
double softplus_of(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
void elu(OpContext& ctx) {
  const double alpha = ctx.node.get_float("alpha", 1.0f);
  unary_double(ctx, [alpha](double x) { return x >= 0 ? x : alpha * std::expm1(x); });
}
void selu(OpContext& ctx) {
  const double alpha = ctx.node.get_float("alpha", 1.67326319217681884765625f),
               gamma = ctx.node.get_float("gamma", 1.05070102214813232421875f);
  unary_double(ctx, [=](double x) { return gamma * (x > 0 ? x : alpha * std::expm1(x)); });
}
void celu(OpContext& ctx) {
  const double alpha = ctx.node.get_float("alpha", 1.0f);
  if (alpha == 0) ctx.fail("alpha must not be 0");
  unary_double(ctx, [alpha](double x) { return std::max(0.0, x) + std::min(0.0, alpha * std::expm1(x / alpha)); });
}
void softplus(OpContext& ctx) { unary_double(ctx, softplus_of); }
void softsign(OpContext& ctx) {
  unary_double(ctx, [](double x) { return x / (1.0 + std::fabs(x)); });
}
void mish(OpContext& ctx) {
  unary_double(ctx, [](double x) { return x * std::tanh(softplus_of(x)); });
}
// PRelu: the slope broadcast to the input (one per channel, or one).
void prelu(OpContext& ctx) {
  binary(
      ctx, [](float x, float slope) { return x < 0 ? slope * x : x; }, int_unsupported);
}

// ONNX Gelu (opset 20; here also the node chipref's GELU fusion creates): approximate "none" is
// x·Φ(x) = x/2·(1 + erf(x/√2)), "tanh" the tanh form; evaluated in double, rounded to float32 once.
void gelu(OpContext& ctx) {
  const std::string approximate = ctx.node.get_string("approximate", std::string("none"));
  if (approximate != "none" && approximate != "tanh")
    ctx.fail("approximate must be 'none' or 'tanh', got '" + approximate + "'");
  if (approximate == "none")
    unary_float(ctx, [](float v) { return static_cast<float>(0.5 * v * (1.0 + std::erf(v / 1.4142135623730951))); });
  else
    unary_float(ctx, [](float v) {
      const double x = v;
      return static_cast<float>(0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))));
    });
}

// chipref's own Silu (the node its SiLU fusion creates): x·σ(x) = x / (1 + e^−x), in double, rounded to
// float32 once.
void silu(OpContext& ctx) {
  unary_float(ctx, [](float v) {
    return static_cast<float>(static_cast<double>(v) / (1.0 + std::exp(-static_cast<double>(v))));
  });
}

}  // namespace

void register_elementwise(OpTable& t) {
  t["Add"] = add;
  t["Sub"] = sub;
  t["Mul"] = mul;
  t["Div"] = div;
  t["Pow"] = pow;
  t["Where"] = where;
  t["Relu"] = relu;
  t["Clip"] = clip;
  t["Identity"] = identity;
  t["Dropout"] = dropout;
  t["Sigmoid"] = sigmoid;
  t["Tanh"] = tanh_op;
  t["Reciprocal"] = reciprocal;
  t["Erf"] = erf_op;
  t["Sqrt"] = sqrt_op;
  t["LeakyRelu"] = leaky_relu;
  t["HardSigmoid"] = hard_sigmoid;
  t["HardSwish"] = hard_swish;
  t["Elu"] = elu;
  t["Selu"] = selu;
  t["Celu"] = celu;
  t["Softplus"] = softplus;
  t["Softsign"] = softsign;
  t["Mish"] = mish;
  t["PRelu"] = prelu;
  t["Gelu"] = gelu;
  t[kSiluKey] = silu;
}

}  // namespace chipref::ops
