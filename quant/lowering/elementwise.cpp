// Elementwise ops: Add of two activations or of a constant (add, each operand rescaled), Mul/Div by a
// constant scalar (folded into the readers' scales), and a Relu/Clip no requantization absorbed (clamp).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/executor.hpp"
#include "quant/lowering/lowering.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/quantize.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

namespace {

// Mul or Div by a positive constant scalar (attention's 1/√d): the codes stay and the scale changes, so
// the readers read the input's codes and the factor lands in their requantization multiplier.
// The product of two activations (a gate): y = z_y + R((a − z_a)(b − z_b)·s_a·s_b/s_y), one operand
// broadcast over the other's axes of size 1 (squeeze-excitation's [N, C, 1, 1]); a ReLU or Clip after
// it is fused into its clamp.
void lower_product(Lowering& cx, const Node& n) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string a = n.inputs.at(0), b = n.inputs.at(1);
  cx.require_quantized(a, n);
  cx.require_quantized(b, n);
  const Shape &sa = cx.int_graph.values.at(a).shape, &sb = cx.int_graph.values.at(b).shape;
  if (sa.size() != sb.size())
    cx.cannot(n, "its operands " + shape_to_string(sa) + " and " + shape_to_string(sb) +
                     " have different ranks; a product of activations broadcasts operands of one rank");
  const QuantParams &qa = cx.int_graph.values.at(a).quant, &qb = cx.int_graph.values.at(b).quant;
  if (qa.format.bits() + qb.format.bits() > 30)
    cx.cannot(n, "its operands are " + qa.format.name() + " and " + qb.format.name() +
                     "; their product must fit the 32-bit requantizer input (at most 30 bits together)");
  const Node* act = cx.fusable_activation(n.outputs[0]);
  const std::string y = act ? act->outputs[0] : n.outputs[0];
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  const FixedMultiplier m = cx.stored_multiplier(qa.scale * qb.scale / yq.scale, c, n.name);
  Node mul = cx.op("mul", n.name, {a, b}, {y});
  cx.set_requant_attrs(mul, c);
  mul.attributes["multiplier"] = int64_t{m.multiplier}, mul.attributes["shift"] = int64_t{m.shift};
  const auto clamp = cx.clamp_for(act, yq);
  mul.attributes["clamp_lo"] = clamp.first, mul.attributes["clamp_hi"] = clamp.second;
  cx.int_graph.ops.push_back(std::move(mul));
}

void lower_scaling(Lowering& cx, const Node& n) {
  const bool div = n.op_type == "Div";
  if (!div && !cx.graph.initializers.count(n.inputs.at(0)) && !cx.graph.initializers.count(n.inputs.at(1)))
    return lower_product(cx, n);
  const size_t k = !div && cx.graph.initializers.count(n.inputs.at(0)) ? 0 : 1;
  const auto it = cx.graph.initializers.find(n.inputs.at(k));
  if (it == cx.graph.initializers.end() || !it->second.is_float() || it->second.numel() != 1)
    cx.cannot(n, std::string("only a ") + (div ? "division" : "multiplication") +
                     " by a constant scalar is lowered (and a product of two activations)");
  const double factor = it->second.floats[0];
  if (!(factor > 0) || !std::isfinite(factor))
    cx.cannot(n, "its constant " + std::to_string(factor) + " must be positive and finite (it rescales the codes)");
  const std::string x = n.inputs.at(1 - k), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  for (const auto& o : cx.graph.outputs)
    if (o.name == y) cx.cannot(n, "a rescaling cannot produce the graph output");
  if (cx.prequantized) cx.cannot(n, "rescaling by a constant is lowered for calibrated models only");
  QuantParams q = cx.int_graph.values.at(x).quant;
  q.scale = div ? q.scale / factor : q.scale * factor;
  cx.int_graph.values[y] = IntValue{cx.shape_of(y), q};
  const auto a = cx.aliases.find(x);
  cx.aliases[y] = a == cx.aliases.end() ? x : a->second;
}

void lower_add(Lowering& cx, const Node& n) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  std::string a = n.inputs.at(0), b = n.inputs.at(1);
  if (n.op_type == "Add" && (cx.additive_masks.count(a) || cx.additive_masks.count(b)))
    return cx.additive_masks.count(b) ? apply_additive_mask(cx, n, b, a) : apply_additive_mask(cx, n, a, b);
  if (cx.graph.initializers.count(a))
    a = cx.constant_operand(n, 0, b, c);
  else if (cx.graph.initializers.count(b))
    b = cx.constant_operand(n, 1, a, c);
  cx.require_quantized(a, n);
  cx.require_quantized(b, n);
  if (cx.int_graph.values.at(a).shape != cx.int_graph.values.at(b).shape)
    cx.cannot(n, "only same-shape adds (a residual) and adds of a constant repeated over the batch are supported");
  const Node* act = cx.fusable_activation(n.outputs[0]);
  const std::string y = act ? act->outputs[0] : n.outputs[0];
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  // A pre-quantized graph's Add rounds once, after its float32 sum: with the float flavour, the add computes
  // exactly that from the three scales; the fixed-point flavours round each operand (one code at most apart).
  const bool round_once = cx.prequantized && c.requant_flavour == RequantFlavour::float32;
  const double divisor = round_once ? 1.0 : yq.scale;
  const FixedMultiplier ma =
      cx.stored_multiplier(cx.int_graph.values.at(a).quant.scale / divisor, c, n.name + " (input a)");
  const FixedMultiplier mb =
      cx.stored_multiplier(cx.int_graph.values.at(b).quant.scale / divisor, c, n.name + " (input b)");
  Node add = cx.op("add", n.name, {a, b}, {y});
  cx.set_requant_attrs(add, c);
  if (round_once) {
    const FixedMultiplier my = cx.stored_multiplier(yq.scale, c, n.name + " (output)");
    add.attributes["round_once"] = int64_t{1};
    add.attributes["multiplier_y"] = int64_t{my.multiplier}, add.attributes["shift_y"] = int64_t{my.shift};
  }
  if (n.op_type == "Sub") add.attributes["subtract"] = int64_t{1};
  add.attributes["multiplier_a"] = int64_t{ma.multiplier}, add.attributes["shift_a"] = int64_t{ma.shift};
  add.attributes["multiplier_b"] = int64_t{mb.multiplier}, add.attributes["shift_b"] = int64_t{mb.shift};
  const auto clamp = cx.clamp_for(act, yq);
  add.attributes["clamp_lo"] = clamp.first, add.attributes["clamp_hi"] = clamp.second;
  cx.int_graph.ops.push_back(std::move(add));
}

// A ReLU or Clip that no requantization absorbed (its input has other readers, or its producer has no
// requantization): a clamp of the codes, its output keeping the input's quantization, so that clamping
// codes clamps reals exactly (the bounds rounded to codes as a fused clamp rounds them).
void lower_clamp(Lowering& cx, const Node& n) {
  cx.require_quantized(n.inputs.at(0), n);
  // A pre-quantized model that quantizes the output otherwise than the input: its own two roundings,
  // the QDQ graph's function of each input code as a table (docs/numerics.md §7).
  if (cx.prequantized) {
    const QuantParams in = cx.int_graph.values.at(n.inputs[0]).quant,
                      out = cx.params_for(n.outputs.at(0), cx.config.for_node(n.name));
    if (!same_quantization(in, out)) return lower_qdq_table(cx, n, in, out, n.op_type == "Relu" ? "relu" : "clip");
  }
  const auto [lo, hi] = cx.clamp_for(&n, cx.int_graph.values.at(n.inputs[0]).quant);
  if (lo > hi) cx.cannot(n, "its bounds leave no code of the input's format (min above max after rounding to codes)");
  cx.lower_data_movement(n, "clamp", {{"clamp_lo", lo}, {"clamp_hi", hi}});
}

}  // namespace

std::vector<LoweringRule> elementwise_lowering_rules() {
  return {
      {"", "Add", lower_add},     {"", "Sub", lower_add},    {"", "Mul", lower_scaling},
      {"", "Div", lower_scaling}, {"", "Relu", lower_clamp},  // an activation no MAC or Add absorbed
      {"", "Clip", lower_clamp},
  };
}

}  // namespace chipref
