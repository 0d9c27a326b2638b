// Data movement, which keeps codes: Transpose, Concat, Slice, Split, Pad, Gather (constant indices; a constant
// table by run-time ids is an embedding, integers.cpp), Flatten, Reshape and Expand (constant shape),
// chipref's BatchBroadcast; and the shape arithmetic that is refused.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/executor.hpp"
#include "model/ops/ops.hpp"
#include "quant/lowering/lowering.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/quantize.hpp"
#include "quant/quantizer.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

namespace {

// The BatchBroadcast that dynamic-batch folding left for a constant an export expanded to the batch
// (a class token): its codes at its output's quantization, repeated to the batch.
void lower_batch_broadcast(Lowering& cx, const Node& n) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  cx.require_quantized(n.inputs.at(1), n);
  const QuantParams q = cx.params_for(n.outputs.at(0), c);
  cx.add_constant(n.name + ".codes", cx.codes_of(cx.initializer(n, 0), q));
  cx.add_value(n.outputs[0], q);
  Node b = cx.op("batch_broadcast", n.name, {n.name + ".codes", n.inputs[1]}, {n.outputs[0]});
  b.attributes["source"] = n.name,
  b.attributes["source_input"] = int64_t{0};  // the float constant (the dual-path check)
  cx.int_graph.ops.push_back(std::move(b));
}

void lower_slice(Lowering& cx, const Node& n) {
  const Shape xs = cx.shape_of(n.inputs.at(0));
  const std::vector<int64_t> starts = cx.int_constant(n, 1, "starts").ints, ends = cx.int_constant(n, 2, "ends").ints;
  std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1), begins, counts;
  std::iota(axes.begin(), axes.end(), 0);
  if (n.has_input(3)) axes = cx.int_constant(n, 3, "axes").ints;
  if (n.has_input(4)) steps = cx.int_constant(n, 4, "steps").ints;
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    cx.cannot(n, "starts, ends, axes and steps must have the same length");
  for (size_t i = 0; i < axes.size(); ++i) {
    axes[i] = cx.static_axis(n, xs, axes[i]);
    if (steps[i] == 0) cx.cannot(n, "step 0 on axis " + std::to_string(axes[i]));
    const ops::SliceRange r = ops::slice_range(starts[i], ends[i], steps[i], xs[axes[i]]);
    begins.push_back(r.begin), counts.push_back(r.count);
  }
  cx.lower_data_movement(n, "slice", {{"axes", axes}, {"starts", begins}, {"steps", steps}, {"counts", counts}});
}

// Split moves codes: one slice op per part, each output in the input's quantization.
void lower_split(Lowering& cx, const Node& n) {
  const Shape xs = cx.shape_of(n.inputs.at(0));
  const int64_t axis = cx.static_axis(n, xs, n.get_int("axis", 0));
  std::vector<int64_t> given;
  if (n.has("split")) given = n.get_ints("split");
  if (n.has_input(1)) given = cx.int_constant(n, 1, "split sizes").ints;
  std::string error;
  const std::vector<int64_t> sizes =
      ops::split_sizes(xs[static_cast<size_t>(axis)], static_cast<int64_t>(n.outputs.size()), given, &error);
  if (!error.empty()) cx.cannot(n, error);
  int64_t begin = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (!n.outputs[k].empty()) {
      Node part = n;  // one output: lower_data_movement's checks, named by the part
      part.name = n.name + ".part" + std::to_string(k);
      part.outputs = {n.outputs[k]};
      cx.lower_data_movement(part, "slice",
                             {{"axes", std::vector<int64_t>{axis}},
                              {"starts", std::vector<int64_t>{begin}},
                              {"steps", std::vector<int64_t>{1}},
                              {"counts", std::vector<int64_t>{sizes[k]}}});
    }
    begin += sizes[k];
  }
}

// Pad moves codes and fills: constant mode with the constant's code in the input's quantization (the
// fake-quant path rounds it the same way; 0 is the zero point, exact), edge and reflect with codes.
void lower_pad(Lowering& cx, const Node& n) {
  const std::string mode = n.get_string("mode", std::string("constant"));
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    cx.cannot(n, "mode '" + mode + "' is not lowered (constant, edge and reflect are)");
  if (n.has_input(3)) cx.cannot(n, "the axes input is not lowered (pads for every axis are)");
  const std::vector<int64_t> pads = cx.int_constant(n, 1, "pads").ints;
  const Shape xs = cx.shape_of(n.inputs.at(0));
  if (pads.size() != 2 * xs.size() || std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
    cx.cannot(
        n, "its pads " + shape_to_string(pads) + " must be two non-negative values per axis of " + shape_to_string(xs));
  if (pads[0] != 0 || pads[xs.size()] != 0) cx.cannot(n, "it pads the batch axis");
  cx.require_quantized(n.inputs[0], n);
  int64_t fill = 0;
  if (mode == "constant") {
    double value = 0;
    if (n.has_input(2)) {
      const auto it = cx.graph.initializers.find(n.inputs[2]);
      if (it == cx.graph.initializers.end()) cx.cannot(n, "its constant value must be a constant");
      if (it->second.numel()) value = it->second.value(0);
    }
    const QuantParams& q = cx.int_graph.values.at(n.inputs[0]).quant;
    fill = code_of(value, q);
  }
  cx.lower_data_movement(n, "pad", {{"pads", pads}, {"mode", mode}, {"fill", fill}});
}

void lower_gather(Lowering& cx, const Node& n) {
  const Shape xs = cx.shape_of(n.inputs.at(0));
  const Tensor& idx = cx.int_constant(n, 1, "indices");
  if (idx.rank() > 1) cx.cannot(n, "only a scalar or a vector of indices is lowered");
  const int64_t axis = cx.static_axis(n, xs, n.get_int("axis", 0));
  std::vector<int64_t> indices;
  for (int64_t j : idx.ints) {
    if (j < -xs[axis] || j >= xs[axis])
      cx.cannot(
          n, "index " + std::to_string(j) + " is outside axis " + std::to_string(axis) + " of " + shape_to_string(xs));
    indices.push_back(j < 0 ? j + xs[axis] : j);
  }
  cx.lower_data_movement(n, "gather", {{"axis", axis}, {"indices", indices}, {"drop_axis", int64_t{idx.rank() == 0}}});
}

// Resize with mode linear computes new values: a `resize_linear`, whose per-axis tables are the plan's
// indices with each weight rounded to F fractional bits (half to even), F as large as keeps the blended
// sum of (x − z) within 31 bits (at most 12); one rounding at the end, to the output's quantization.
void lower_resize_linear(Lowering& cx, const Node& n, const std::vector<ops::ResizeAxis>& plan,
                         const std::vector<size_t>& resized, const std::vector<float>& scales) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  const QuantParams& xq = cx.int_graph.values.at(x).quant;
  const int k = static_cast<int>(resized.size());
  const int fraction_bits = std::min(12, (31 - 1 - xq.format.bits()) / k);
  if (fraction_bits < 4)
    cx.cannot(n, "its input is " + xq.format.name() + " and it resizes " + std::to_string(k) +
                     " axes: the blended sums would need more than 32 bits for 4 fraction bits per weight");
  const double one = std::ldexp(1.0, fraction_bits);
  Node r = cx.op("resize_linear", n.name, {x}, {y});
  std::vector<int64_t> axes;
  for (const size_t d : resized) {
    const ops::ResizeAxis& a = plan[d];
    Tensor table = Tensor::zeros(DType::int32, {a.out, 3});
    for (int64_t i = 0; i < a.out; ++i) {
      table.ints[3 * i] = a.lo[i], table.ints[3 * i + 1] = a.hi[i];
      table.ints[3 * i + 2] = static_cast<int64_t>(round_to_integer(a.weight_hi[i] * one, RoundingMode::half_even));
    }
    const std::string name = n.name + ".axis" + std::to_string(d);
    cx.add_constant(name, std::move(table));
    r.inputs.push_back(name);
    axes.push_back(static_cast<int64_t>(d));
  }
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  const FixedMultiplier m = cx.stored_multiplier(xq.scale / (std::ldexp(1.0, fraction_bits * k) * yq.scale), c, n.name);
  cx.set_requant_attrs(r, c);
  const auto [lo, hi] = cx.clamp_for(nullptr, yq);
  r.attributes["axes"] = axes, r.attributes["fraction_bits"] = int64_t{fraction_bits};
  r.attributes["multiplier"] = int64_t{m.multiplier}, r.attributes["shift"] = int64_t{m.shift};
  r.attributes["clamp_lo"] = lo, r.attributes["clamp_hi"] = hi;
  r.attributes["coordinate_transformation_mode"] =
      n.get_string("coordinate_transformation_mode", std::string("half_pixel"));
  // The model's float32 scales (none when it gave sizes), for the QDQ export: each exactly as a 24-bit
  // multiplier and shift, as the float flavour stores a float32 scale (an IntGraph holds integers only).
  std::vector<int64_t> scale_multipliers, scale_shifts;
  for (const float s : scales) {
    const FixedMultiplier f = derive_multiplier(static_cast<double>(s), kFloat32MultiplierBits);
    scale_multipliers.push_back(f.multiplier), scale_shifts.push_back(f.shift);
  }
  r.attributes["scale_multipliers"] = scale_multipliers, r.attributes["scale_shifts"] = scale_shifts;
  cx.int_graph.ops.push_back(std::move(r));
}

// Resize with mode nearest moves codes: one gather per resized axis, its indices the ONNX coordinate
// mode's and nearest mode's choice for each output position (ops::resize_plan, the float op's own). The
// batch axis is never resized. Mode linear: lower_resize_linear.
void lower_resize(Lowering& cx, const Node& n) {
  const bool linear = n.get_string("mode", std::string("nearest")) == "linear";
  if (!linear && n.get_string("mode", std::string("nearest")) != "nearest")
    cx.cannot(n, "mode '" + n.get_string("mode") + "' is not lowered; the nearest supported forms: nearest, linear");
  const Shape xs = cx.shape_of(n.inputs.at(0));
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (n.has_input(2)) {
    const auto it = cx.graph.initializers.find(n.inputs[2]);
    if (it == cx.graph.initializers.end() || !it->second.is_float()) cx.cannot(n, "its scales must be constant");
    scales = it->second.floats;
  }
  if (n.has_input(3)) sizes = cx.int_constant(n, 3, "sizes").ints;
  for (size_t d = 1; d < xs.size(); ++d)
    if (xs[d] < 0)
      cx.cannot(n, "axis " + std::to_string(d) + " of its input " + shape_to_string(xs) + " is not static");
  Shape known = xs;
  if (!known.empty() && known[0] < 0) known[0] = 1;  // the batch: never resized (checked below)
  std::string unsupported, error;
  const std::vector<ops::ResizeAxis> plan = ops::resize_plan(n, known, scales, sizes, &unsupported, &error);
  if (!unsupported.empty() || !error.empty()) cx.cannot(n, unsupported + error);
  std::vector<size_t> resized;
  for (size_t d = 0; d < plan.size(); ++d)
    if (!plan[d].identity()) resized.push_back(d);
  if (!resized.empty() && resized.front() == 0) cx.cannot(n, "it resizes the batch axis");
  if (resized.empty()) return cx.lower_data_movement(n, "reshape", {{"shape", std::vector<int64_t>(xs.size(), 0)}});
  if (linear) {
    cx.require_quantized(n.inputs[0], n);
    return lower_resize_linear(cx, n, plan, resized, scales);
  }
  std::string current = n.inputs[0];
  Shape shape = xs;
  for (size_t k = 0; k < resized.size(); ++k) {
    const size_t d = resized[k];
    Node step = n;
    step.name = n.name + (resized.size() > 1 ? ".axis" + std::to_string(d) : "");
    step.inputs = {current};
    step.outputs = {k + 1 == resized.size() ? n.outputs.at(0) : n.name + ".axis" + std::to_string(d)};
    cx.lower_data_movement(step, "gather",
                           {{"axis", static_cast<int64_t>(d)}, {"indices", plan[d].lo}, {"drop_axis", int64_t{0}}});
    shape[d] = plan[d].out;
    cx.int_graph.values.at(step.outputs[0]).shape = shape;
    current = step.outputs[0];
  }
}

// Concatenation moves codes. Inputs that arrive in the output's quantization (calibration gives a
// Concat's producers its range where they requantize anyway) are concatenated as they are; any other
// input is first rescaled to it (a `rescale` op: the Add's rounding of one operand, §6). A constant input
// (ViT's class token, exported with a fixed batch of 1) is quantized at the output's parameters, whose
// calibrated range holds it, and repeated to the batch of the first activation input.
void lower_concat(Lowering& cx, const Node& n) {
  std::vector<size_t> activations;
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (!cx.graph.initializers.count(n.inputs[i])) activations.push_back(i);
  if (activations.empty()) cx.cannot(n, "all its inputs are constants (folding should have computed it)");
  for (const size_t i : activations) cx.require_quantized(n.inputs[i], n);
  const QuantParams& q0 = cx.int_graph.values.at(n.inputs[activations[0]]).quant;
  const bool uniform = std::all_of(activations.begin(), activations.end(), [&](size_t i) {
    return same_quantization(cx.int_graph.values.at(n.inputs[i]).quant, q0);
  });
  const bool has_constant = activations.size() != n.inputs.size();
  QuantParams out = q0;
  if (cx.prequantized) {
    // The model's own quantization. A QuantizeLinear after the Concat rounds each input's values to the
    // output's: then each input in another quantization takes that rounding (below); without one, a rescale
    // would be a rounding the graph does not have.
    const auto given = cx.prequantized->activations.find(n.outputs[0]);
    if (has_constant) cx.cannot(n, "it concatenates a constant; a pre-quantized model's Concat joins activations only");
    if (given != cx.prequantized->activations.end())
      out = given->second;
    else if (!uniform)
      cx.cannot(n,
                "its inputs carry different quantizations and no QuantizeLinear after it says which one its output "
                "takes");
  } else {
    // A constant outside the shared quantization (its producers did not take the Concat's range) would
    // saturate: then the output's own calibrated range, which holds it, and the activations rescaled.
    bool constants_fit = true;
    for (const auto& in : n.inputs)
      if (const auto it = cx.graph.initializers.find(in); it != cx.graph.initializers.end() && it->second.is_float())
        for (const float v : it->second.floats)
          constants_fit = constants_fit && v >= q0.scale * static_cast<double>(q0.format.min() - q0.zero_point) &&
                          v <= q0.scale * static_cast<double>(q0.format.max() - q0.zero_point);
    if (!uniform || !constants_fit) out = cx.params_for(n.outputs[0], cx.config.for_node(n.name));
  }
  const int64_t axis = n.get_int("axis");
  std::vector<std::string> inputs;
  const LayerQuantConfig c = cx.config.for_node(n.name);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const std::string& in = n.inputs[i];
    if (cx.graph.initializers.count(in)) {
      const Tensor& t = cx.initializer(n, i);
      const std::string& like = n.inputs[activations[0]];
      const Shape& like_shape = cx.int_graph.values.at(like).shape;
      if (!t.is_float() || t.rank() != static_cast<int64_t>(like_shape.size()) || t.shape.empty() || t.shape[0] != 1 ||
          axis == 0 || axis == -t.rank())
        cx.cannot(n, "its constant input " + std::to_string(i) + " " + shape_to_string(t.shape) +
                         " must be float with a batch of 1 and the rank of its other inputs, joined on an axis "
                         "other than the batch");
      const std::string name = n.name + ".input" + std::to_string(i);
      cx.add_constant(name + ".codes", cx.codes_of(t, out));
      Shape shape = t.shape;
      shape[0] = like_shape.empty() ? 1 : like_shape[0];
      cx.int_graph.values[name] = IntValue{shape, out};
      Node b = cx.op("batch_broadcast", name, {name + ".codes", like}, {name});
      b.attributes["source"] = n.name, b.attributes["source_input"] = static_cast<int64_t>(i);
      cx.int_graph.ops.push_back(std::move(b));
      inputs.push_back(name);
      continue;
    }
    const QuantParams& q = cx.int_graph.values.at(in).quant;
    if (same_quantization(q, out)) {
      inputs.push_back(in);
      continue;
    }
    const std::string rescaled = n.name + ".input" + std::to_string(i);
    if (cx.prequantized) {  // the graph's QuantizeLinear of each dequantized code: a table, exact by construction
      Node requantize = n;
      requantize.op_type = "Identity", requantize.name = rescaled, requantize.inputs = {in};
      requantize.outputs = {rescaled}, requantize.attributes.clear();
      lower_qdq_table(cx, requantize, q, out, "requantize");
      cx.int_graph.values.at(rescaled).shape = cx.int_graph.values.at(in).shape;
      inputs.push_back(rescaled);
      continue;
    }
    cx.int_graph.values[rescaled] = IntValue{cx.int_graph.values.at(in).shape, out};
    const FixedMultiplier m =
        cx.stored_multiplier(q.scale / out.scale, c, n.name + " (input " + std::to_string(i) + ")");
    Node r = cx.op("rescale", rescaled, {in}, {rescaled});
    Lowering::set_requant_attrs(r, c);
    r.attributes["multiplier"] = int64_t{m.multiplier}, r.attributes["shift"] = int64_t{m.shift};
    r.attributes["clamp_lo"] = out.format.min(), r.attributes["clamp_hi"] = out.format.max();
    r.attributes["source"] = n.name;
    cx.int_graph.ops.push_back(std::move(r));
    inputs.push_back(rescaled);
  }
  cx.int_graph.values[n.outputs[0]] = IntValue{cx.shape_of(n.outputs[0]), out};
  Node m = cx.op("concat", n.name, inputs, {n.outputs[0]});
  m.attributes["axis"] = axis;
  cx.int_graph.ops.push_back(std::move(m));
}

}  // namespace

// The model computes shapes at run time (a dynamic batch's shape arithmetic that folding left).
void refuse_shape_arithmetic(Lowering& cx, const Node& n) {
  cx.cannot(n,
            "the model computes shapes at run time (shape arithmetic on its dynamic batch dimension), which is not "
            "lowered yet");
}

std::vector<LoweringRule> movement_lowering_rules() {
  return {
      {"", "Transpose",
       [](Lowering& cx, const Node& n) {
         cx.lower_data_movement(n, "transpose", {{"perm", n.get_ints("perm", std::vector<int64_t>{})}});
       }},
      {"", "Concat", lower_concat},
      {"", "Resize", lower_resize},
      {"", "Slice", lower_slice},
      {"", "Split", lower_split},
      {"", "Pad", lower_pad},
      {"", "Gather",
       [](Lowering& cx, const Node& n) {
         if (cx.graph.initializers.count(n.inputs.at(1)))
           lower_gather(cx, n);
         else if (cx.graph.initializers.count(n.inputs.at(0)))
           lower_embedding_lookup(cx, n);
         else
           refuse_shape_arithmetic(cx, n);
       }},
      {"", "Flatten",
       [](Lowering& cx, const Node& n) {
         if (n.get_int("axis", 1) != 1) cx.cannot(n, "only Flatten with axis 1 is supported");
         cx.lower_data_movement(n, "reshape", {{"shape", std::vector<int64_t>{0, -1}}});
       }},
      {"", "Reshape",
       [](Lowering& cx, const Node& n) {
         const auto it = cx.graph.initializers.find(n.inputs.at(1));
         if (it == cx.graph.initializers.end())
           cx.cannot(n, "the target shape must be constant (fix the batch size when importing)");
         cx.lower_data_movement(n, "reshape", {{"shape", it->second.ints}});
       }},
      {kChiprefDomain, kBatchBroadcastOp, lower_batch_broadcast},
      {kChiprefDomain, kDilateOp,
       [](Lowering& cx, const Node& n) {
         cx.require_quantized(n.inputs.at(0), n);
         std::vector<int64_t> strides = {1, 1};
         for (int64_t s : n.get_ints("strides")) strides.push_back(s);
         // The inserted zeros are the zero point: real 0, contributing nothing to the Conv after it.
         cx.lower_data_movement(n, "dilate",
                                {{"strides", strides}, {"fill", cx.int_graph.values.at(n.inputs[0]).quant.zero_point}});
       }},
      {"", "ConvTranspose",
       [](Lowering& cx, const Node& n) {
         cx.cannot(n,
                   "only a 2-D ConvTranspose with constant weights and pads at most dilation·(kernel − 1) is "
                   "lowered (as a Conv over its zero-dilated input)");
       },
       true},
      {"", "Shape", refuse_shape_arithmetic, true},
      {"", "Unsqueeze", refuse_shape_arithmetic, true},
      {"", "ConstantOfShape", refuse_shape_arithmetic, true},
      {"", "Expand",
       [](Lowering& cx, const Node& n) {
         const auto it = cx.graph.initializers.find(n.inputs.at(1));
         if (it == cx.graph.initializers.end() || it->second.is_float()) refuse_shape_arithmetic(cx, n);
         cx.lower_data_movement(n, "expand", {{"shape", it->second.ints}});
       }},
  };
}

}  // namespace chipref
