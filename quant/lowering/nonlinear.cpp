// Non-linears: elementwise functions as lookup tables (or I-BERT polynomials), integer Softmax and
// LayerNormalization over the last axis.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "model/executor.hpp"
#include "quant/lowering/lowering.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/quantize.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

namespace {

// The error of a non-linear's table against its float function over every input code, measured once
// here (where the table's input scale is known, also behind a folded rescaling) for reports: in units
// of `lsb` (the output LSB; softmax: its exp table's 2^-15), as integers of 10^-6 LSB (an IntGraph op
// carries no float attribute).
void set_error_attrs(Node& n, const LutError& e, double lsb) {
  n.attributes["error_max_micro_lsb"] = static_cast<int64_t>(std::llround(e.max_abs / lsb * 1e6));
  n.attributes["error_mean_micro_lsb"] = static_cast<int64_t>(std::llround(e.mean_abs / lsb * 1e6));
  n.attributes["error_codes"] = e.codes;
  n.attributes["error_saturated_codes"] = e.saturated;
  n.attributes["error_within_bound"] = int64_t{e.worst_bound_ratio <= 1.0};
}

// An elementwise non-linear as a lookup table from the input's codes to the output's (§8).
void lower_lut(Lowering& cx, const Node& n, NonLinear f, const NonLinearParams& params = {}) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  if (cx.prequantized)
    return lower_qdq_table(cx, n, cx.int_graph.values.at(x).quant, cx.params_for(y, c), std::string(to_string(f)));
  LutSpec spec;
  spec.function = f, spec.params = params, spec.in = cx.int_graph.values.at(x).quant, spec.out = cx.params_for(y, c);
  spec.table_bits = std::min(c.lut_table_bits, spec.in.format.bits()), spec.interpolate = c.lut_interpolate,
  spec.method = c.nonlinear_method;
  if (spec.in.format.bits() > 16)
    cx.cannot(n, "its input is " + spec.in.format.name() + "; a lookup table takes at most 16 bits");
  kernels::Lut table;
  try {
    table = build_lut(spec);
  } catch (const InputError& e) {
    cx.cannot(n, e.what());
  }
  cx.add_value(y, spec.out);
  cx.add_constant(n.name + ".table", Tensor::of_ints(DType::int32, {static_cast<int64_t>(table.table.size())},
                                                     std::vector<int64_t>(table.table.begin(), table.table.end())));
  Node l = cx.op("lut", n.name, {x, n.name + ".table"}, {y});
  l.attributes["function"] = std::string(to_string(f));
  const NonLinearParams p = resolved(f, params);  // for reports: the table holds the function
  std::string parameters;
  for (const auto& [name, v] : {std::pair<const char*, double>{"alpha", p.alpha}, {"beta", p.beta}})
    if (!std::isnan(v)) parameters += (parameters.empty() ? "" : " ") + fmt::format("{}={:g}", name, v);
  if (!parameters.empty()) l.attributes["function_parameters"] = parameters;
  l.attributes["in_min"] = table.in_min;
  l.attributes["shift"] = int64_t{table.shift};
  l.attributes["interpolate"] = int64_t{table.interpolate};
  l.attributes["method"] = std::string(to_string(spec.method));  // how the entries were made (reports)
  set_error_attrs(l, measure_lut_error(spec, table), spec.out.scale);
  cx.int_graph.ops.push_back(std::move(l));
}

}  // namespace

void lower_qdq_table(Lowering& cx, const Node& n, const QuantParams& in, const QuantParams& out,
                     const std::string& function) {
  const std::vector<int64_t> entries = cx.qdq_table(n, in, out);
  const std::string y = n.outputs.at(0);
  cx.add_value(y, out);
  cx.add_constant(n.name + ".table", Tensor::of_ints(DType::int32, {static_cast<int64_t>(entries.size())}, entries));
  Node l = cx.op("lut", n.name, {n.inputs.at(0), n.name + ".table"}, {y});
  l.attributes["function"] = function;
  l.attributes["in_min"] = in.format.min();
  l.attributes["shift"] = int64_t{0};
  l.attributes["interpolate"] = int64_t{0};
  l.attributes["method"] = std::string("qdq");  // the QDQ graph's own function of each code (reports)
  cx.int_graph.ops.push_back(std::move(l));
}

namespace {

constexpr double kDefault = std::numeric_limits<double>::quiet_NaN();

// PRelu with one slope for every element is a LeakyRelu table. With one slope per channel (the slope
// broadcast along a single axis of the input: [C, 1, 1] on NCHW), one LeakyRelu table per channel, all of
// one input and output quantization: a `lut` with a table [C, E] along that axis.
void lower_prelu(Lowering& cx, const Node& n) {
  const Tensor& slope = cx.initializer(n, 1);
  if (slope.numel() == 1)
    return lower_lut(cx, n, NonLinear::leaky_relu, {static_cast<double>(slope.floats.at(0)), kDefault});
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  const Shape xs = cx.int_graph.values.at(x).shape;
  Shape padded = slope.shape;
  while (padded.size() < xs.size()) padded.insert(padded.begin(), 1);
  int64_t axis = -1;
  for (size_t d = 0; d < padded.size(); ++d)
    if (padded[d] != 1) axis = axis < 0 ? static_cast<int64_t>(d) : -2;
  if (padded.size() != xs.size() || axis < 1 || padded[axis] != xs[axis])
    cx.cannot(n, "its slope " + shape_to_string(slope.shape) +
                     " must be one value, or one per channel of a single "
                     "non-batch axis of its input " +
                     shape_to_string(xs));
  if (cx.prequantized) cx.cannot(n, "a per-channel PRelu is lowered for calibrated models only");
  const LayerQuantConfig c = cx.config.for_node(n.name);
  LutSpec spec;
  spec.function = NonLinear::leaky_relu, spec.in = cx.int_graph.values.at(x).quant, spec.out = cx.params_for(y, c);
  spec.table_bits = std::min(c.lut_table_bits, spec.in.format.bits()), spec.interpolate = c.lut_interpolate;
  if (spec.in.format.bits() > 16)
    cx.cannot(n, "its input is " + spec.in.format.name() + "; a lookup table takes at most 16 bits");
  std::vector<int64_t> rows;
  kernels::Lut first;
  LutError worst;
  double mean_sum = 0;
  for (int64_t ch = 0; ch < slope.numel(); ++ch) {
    spec.params = {static_cast<double>(slope.floats[ch]), kDefault};
    kernels::Lut t;
    try {
      t = build_lut(spec);
    } catch (const InputError& e) {
      cx.cannot(n, e.what());
    }
    if (ch == 0) first = t;
    rows.insert(rows.end(), t.table.begin(), t.table.end());
    const LutError e = measure_lut_error(spec, t);
    worst.max_abs = std::max(worst.max_abs, e.max_abs), mean_sum += e.mean_abs;
    worst.worst_bound_ratio = std::max(worst.worst_bound_ratio, e.worst_bound_ratio);
    worst.codes += e.codes, worst.saturated += e.saturated;
  }
  worst.mean_abs = mean_sum / static_cast<double>(slope.numel());
  cx.add_value(y, spec.out);
  cx.add_constant(n.name + ".table",
                  Tensor::of_ints(DType::int32, {slope.numel(), static_cast<int64_t>(first.table.size())}, rows));
  Node l = cx.op("lut", n.name, {x, n.name + ".table"}, {y});
  l.attributes["function"] = std::string(to_string(NonLinear::leaky_relu));
  l.attributes["function_parameters"] = std::string("alpha per channel");
  l.attributes["axis"] = axis;
  l.attributes["in_min"] = first.in_min;
  l.attributes["shift"] = int64_t{first.shift};
  l.attributes["interpolate"] = int64_t{first.interpolate};
  l.attributes["method"] = std::string("lut");
  set_error_attrs(l, worst, spec.out.scale);
  cx.int_graph.ops.push_back(std::move(l));
}

void lower_softmax(Lowering& cx, const Node& n);

// A softmax over another axis than the last: its axis moved last (a transpose swapping the two, or for
// opsets before 13 a reshape flattening the axes from `axis` on), the integer softmax over the last axis,
// and the move undone. Moving codes changes none of them; the softmax sees each row it would see in place.
void lower_softmax_moved(Lowering& cx, const Node& n, const std::string& x, const Shape& xs, int64_t axis,
                         bool flattens) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  const std::string moved = n.name + ".moved", result = n.name + ".result";
  Node before = cx.op(flattens ? "reshape" : "transpose", n.name + ".move", {x}, {moved});
  Node after = cx.op(flattens ? "reshape" : "transpose", n.name + ".move_back", {result}, {n.outputs.at(0)});
  Shape moved_shape = xs;
  if (flattens) {
    int64_t row = 1;
    for (int64_t d = axis; d < rank; ++d) {
      if (xs[d] < 0) cx.cannot(n, "it flattens axes of " + shape_to_string(xs) + " whose size is not static");
      row *= xs[d];
    }
    std::vector<int64_t> target(static_cast<size_t>(axis), 0), back(static_cast<size_t>(axis), 0);
    target.push_back(-1);
    back.insert(back.end(), xs.begin() + axis, xs.end());
    moved_shape.resize(static_cast<size_t>(axis)), moved_shape.push_back(row);
    before.attributes["shape"] = target, after.attributes["shape"] = back;
  } else {
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[axis], perm[rank - 1]);
    std::swap(moved_shape[axis], moved_shape[rank - 1]);
    before.attributes["perm"] = perm, after.attributes["perm"] = perm;  // a swap undoes itself
  }
  cx.int_graph.values[moved] = IntValue{moved_shape, cx.int_graph.values.at(x).quant};
  cx.int_graph.ops.push_back(std::move(before));
  Node inner = n;
  inner.inputs = {moved}, inner.outputs = {result};
  inner.attributes["axis"] = int64_t{-1};
  if (flattens) inner.attributes["axis"] = static_cast<int64_t>(moved_shape.size() - 1);
  lower_softmax(cx, inner);
  cx.int_graph.values.at(result).shape = moved_shape;
  cx.int_graph.values[n.outputs[0]] = IntValue{cx.shape_of(n.outputs[0]), cx.int_graph.values.at(result).quant};
  cx.int_graph.ops.push_back(std::move(after));
}

// Softmax (§9): output codes at scale 1/M for an integer M — 2^bits when calibrated, the model's own when
// pre-quantized (which must then be 1/M); over the last axis, any other moved there and back.
void lower_softmax(Lowering& cx, const Node& n) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  // Scores with an additive attention mask: the scores' codes, and the mask's codes beside them.
  const auto masked = cx.additive_masks.find(n.inputs.at(0));
  if (masked != cx.additive_masks.end() && masked->second.scores.empty())
    cx.cannot(n, "it reads an attention mask alone; a mask is lowered when added to scores");
  const std::string x = masked != cx.additive_masks.end() ? masked->second.scores : n.inputs.at(0), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  const Shape xs = cx.int_graph.values.at(x).shape;
  const int64_t rank = static_cast<int64_t>(xs.size());
  // Opset 13 takes the softmax over one axis (default −1); before, over the input flattened from `axis`
  // (default 1) on.
  const bool flattens = cx.graph.opset < 13;
  int64_t axis = n.get_int("axis", flattens ? 1 : -1);
  if (axis < 0) axis += rank;
  if (rank == 0 || axis < 0 || axis >= rank)
    cx.cannot(n, "axis " + std::to_string(n.get_int("axis", 0)) + " is outside its input " + shape_to_string(xs));
  if (axis != rank - 1) {
    if (masked != cx.additive_masks.end()) cx.cannot(n, "a masked softmax is lowered over the last axis only");
    return lower_softmax_moved(cx, n, x, xs, axis, flattens);
  }
  const QuantParams& in = cx.int_graph.values.at(x).quant;
  if (in.format.bits() > 16) cx.cannot(n, "its input is " + in.format.name() + "; the exp table takes at most 16 bits");
  QuantParams out;
  if (cx.prequantized) {
    out = cx.params_for(y, c);
  } else {
    const int bits = std::min(c.activation_bits, 16);
    out = QuantParams{IntFormat::make(bits, false), 0, std::ldexp(1.0, -bits)};
  }
  const double m = 1.0 / out.scale;
  const int64_t one = static_cast<int64_t>(std::llround(m));
  if (one < 2 || std::fabs(m - static_cast<double>(one)) > 1e-6 * m)
    cx.cannot(n, "its output scale " + std::to_string(out.scale) +
                     " is not 1/M for an integer M; integer softmax writes probabilities in units of 1/M");
  kernels::Softmax k;
  try {
    k = build_softmax(in.scale, in.format.bits(), 15, out.format.bits(), c.nonlinear_method);
  } catch (const InputError& e) {
    cx.cannot(n, e.what());
  }
  cx.add_value(y, out);
  cx.add_constant(n.name + ".exp_table", Tensor::of_ints(DType::int32, {static_cast<int64_t>(k.exp_table.size())},
                                                         std::vector<int64_t>(k.exp_table.begin(), k.exp_table.end())));
  Node sm = cx.op("softmax", n.name, {x, n.name + ".exp_table"}, {y});
  if (masked != cx.additive_masks.end()) {
    // The mask's codes at the scores' shape (it broadcast into them in the float graph).
    std::string mask = masked->second.codes;
    if (cx.int_graph.values.at(mask).shape != cx.int_graph.values.at(x).shape) {
      const std::string widened = n.name + ".mask";
      cx.int_graph.values[widened] = IntValue{cx.int_graph.values.at(x).shape, cx.int_graph.values.at(mask).quant};
      cx.exact_integers.insert(widened);
      cx.int_graph.ops.push_back(cx.op("expand", widened, {mask, x}, {widened}));
      mask = widened;
    }
    sm.inputs.push_back(mask);
    sm.attributes["masked_code"] = masked->second.masked_code;
  }
  sm.attributes["one_over_scale"] = one;
  sm.attributes["method"] = std::string(to_string(c.nonlinear_method));
  set_error_attrs(sm, measure_softmax_exp_error(in.scale, in.format.bits(), 15, c.nonlinear_method, k.exp_table),
                  std::ldexp(1.0, -15));
  cx.int_graph.ops.push_back(std::move(sm));
}

// LayerNormalization over the last axis (§10), its γ and β constant.
void lower_layer_norm(Lowering& cx, const Node& n) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  const Shape shape = cx.shape_of(x);
  const int64_t axis = n.get_int("axis", -1);
  if (shape.empty() || (axis != -1 && axis != static_cast<int64_t>(shape.size()) - 1))
    cx.cannot(n, "only a LayerNorm over the last axis is lowered");
  const Tensor& gamma = cx.initializer(n, 1);
  const Tensor beta =
      n.has_input(2) ? cx.initializer(n, 2)
                     : Tensor::of_floats({gamma.numel()}, std::vector<float>(static_cast<size_t>(gamma.numel()), 0.0f));
  if (gamma.rank() != 1 || beta.numel() != gamma.numel() || (shape.back() >= 0 && shape.back() != gamma.numel()))
    cx.cannot(n, "its scale and bias must be vectors over the last axis");
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  kernels::LayerNorm k;
  try {
    k = build_layernorm(cx.int_graph.values.at(x).quant, gamma.floats, beta.floats, n.get_float("epsilon", 1e-5f), yq,
                        c.multiplier_bits);
  } catch (const InputError& e) {
    cx.cannot(n, e.what());
  }
  const int64_t len = gamma.numel();
  Tensor m = Tensor::zeros(DType::int32, {len}), sh = m, neg = m, b = m;
  for (int64_t j = 0; j < len; ++j)
    m.ints[j] = k.gamma[j].fixed.multiplier, sh.ints[j] = k.gamma[j].fixed.shift, neg.ints[j] = k.gamma_negative[j],
    b.ints[j] = k.beta[j];
  for (auto& [suffix, t] : std::vector<std::pair<std::string, Tensor*>>{
           {".gamma_multiplier", &m}, {".gamma_shift", &sh}, {".gamma_negative", &neg}, {".beta", &b}})
    cx.add_constant(n.name + suffix, std::move(*t));
  Node ln = cx.op(
      "layernorm", n.name,
      {x, n.name + ".gamma_multiplier", n.name + ".gamma_shift", n.name + ".gamma_negative", n.name + ".beta"}, {y});
  ln.attributes["epsilon_units"] = static_cast<int64_t>(std::min<uint64_t>(k.epsilon, INT64_MAX));
  ln.attributes["extra_bits"] = int64_t{k.extra_bits};
  ln.attributes["multiplier_bits"] = int64_t{c.multiplier_bits};
  cx.int_graph.ops.push_back(std::move(ln));
}

}  // namespace

std::vector<LoweringRule> nonlinear_lowering_rules() {
  auto table = [](NonLinear f) { return [f](Lowering& cx, const Node& n) { lower_lut(cx, n, f); }; };
  return {
      {"", "Sigmoid", table(NonLinear::sigmoid)},
      {"", "Gelu",
       [](Lowering& cx, const Node& n) {
         lower_lut(
             cx, n,
             n.get_string("approximate", std::string("none")) == "tanh" ? NonLinear::gelu_tanh : NonLinear::gelu_erf);
       }},
      {"", "Tanh", table(NonLinear::tanh)},
      {"", "LeakyRelu",
       [](Lowering& cx, const Node& n) {
         lower_lut(cx, n, NonLinear::leaky_relu, {n.get_float("alpha", 0.01f), kDefault});
       }},
      {"", "PRelu", lower_prelu},
      {"", "HardSigmoid",
       [](Lowering& cx, const Node& n) {
         lower_lut(cx, n, NonLinear::hard_sigmoid, {n.get_float("alpha", 0.2f), n.get_float("beta", 0.5f)});
       }},
      {"", "HardSwish", table(NonLinear::hard_swish)},
      {"", "Elu",
       [](Lowering& cx, const Node& n) {
         lower_lut(cx, n, NonLinear::elu, {n.get_float("alpha", 1.0f), kDefault});
       }},
      {"", "Celu",
       [](Lowering& cx, const Node& n) {
         lower_lut(cx, n, NonLinear::celu, {n.get_float("alpha", 1.0f), kDefault});
       }},
      {"", "Selu",
       [](Lowering& cx, const Node& n) {
         lower_lut(
             cx, n, NonLinear::selu,
             {n.get_float("alpha", 1.67326319217681884765625f), n.get_float("gamma", 1.05070102214813232421875f)});
       }},
      {"", "Softplus", table(NonLinear::softplus)},
      {"", "Softsign", table(NonLinear::softsign)},
      {"", "Mish", table(NonLinear::mish)},
      {"", "Exp", table(NonLinear::exp)},
      {"", "Reciprocal", table(NonLinear::reciprocal)},
      {kChiprefDomain, kSiluOp, table(NonLinear::silu)},
      {"", "Softmax", lower_softmax},
      {"", "LayerNormalization", lower_layer_norm},
  };
}

}  // namespace chipref
