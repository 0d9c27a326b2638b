// MAC layers: Conv, Gemm and MatMul with constant weights (conv_mac / linear_mac + mulshift, the activation
// after them fused into the clamp), and MatMul of two activations (matmul_mac + mulshift).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/executor.hpp"
#include "numerics/block_format.hpp"
#include "ops/mac.hpp"
#include "quant/config_keys.hpp"
#include "quant/lowering/lowering.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/quantize.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

namespace {

// The attributes every block op carries: formats, block size, accumulation, the input conversion's rounding,
// the first input's and the output's scales as float32 bit patterns, and the clamp of a fused activation.
void block_attributes(Lowering& cx, Node& op, const LayerQuantConfig& c, const BlockFormat& af, const BlockFormat& wf,
                      double input_scale, double output_scale, const Node* act, const QuantParams& yq) {
  op.attributes["activation_format"] = af.name;
  op.attributes["weight_format"] = wf.name;
  op.attributes["block_size"] = int64_t{af.block_size};
  op.attributes["accumulation"] = std::string(to_string(c.block_accumulation));
  op.attributes["activation_rounding"] = c.block_rounding;
  op.attributes["seed"] = c.block_seed;
  op.attributes["shared_exponent"] = std::string(to_string(c.block_shared_exponent));
  op.attributes["input_scale_bits"] = int64_t{float32_bits(static_cast<float>(input_scale))};
  op.attributes["output_scale_bits"] = int64_t{float32_bits(static_cast<float>(output_scale))};
  const auto [lo, hi] = cx.clamp_for(act, yq);
  op.attributes["clamp_lo"] = lo;
  op.attributes["clamp_hi"] = hi;
}

// A block layer's two formats (format.name; format.weights or the same), which must have the same block size:
// the first operand's and the second's, named `first` and `second` in the error.
std::pair<BlockFormat, BlockFormat> block_formats(Lowering& cx, const Node& n, const LayerQuantConfig& c,
                                                  const std::string& first, const std::string& second) {
  BlockFormat af, wf;
  try {
    af = parse_block_format(c.block_format, c.block_size);
    wf = parse_block_format(c.block_weight_format.empty() ? c.block_format : c.block_weight_format, c.block_size);
  } catch (const InputError& e) {
    cx.cannot(n, e.what());
  }
  if (af.block_size != wf.block_size)
    cx.cannot(n, "its " + first + " (" + af.name + ", block " + std::to_string(af.block_size) + ") and " + second +
                     " (" + wf.name + ", block " + std::to_string(wf.block_size) +
                     ") blocks must line up: set format.block_size");
  return {af, wf};
}

// A product of two activations (attention): matmul_mac of both codes, then a per-tensor MulShift with
// S = s_a · s_b / s_y (a scaling such as 1/√d folded into the operands' scales by the float graph).
void lower_matmul_activations(Lowering& cx, const Node& n) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string a = n.inputs.at(0), b = n.inputs.at(1);
  cx.require_quantized(a, n);
  cx.require_quantized(b, n);
  const Shape sa = cx.shape_of(a), sb = cx.shape_of(b);
  if (sa.size() < 2 || sa.size() != sb.size())
    cx.cannot(n, "both operands must be matrices (or stacks of them) of the same rank");
  for (size_t d = 0; d + 2 < sa.size(); ++d)
    if (sa[d] != sb[d])
      cx.cannot(n, "operand shapes " + shape_to_string(sa) + " and " + shape_to_string(sb) +
                       " differ outside the last two axes (no broadcasting)");
  const Node* act = cx.fusable_activation(n.outputs[0]);
  const std::string y = act ? act->outputs[0] : n.outputs[0];
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  if (c.block_format != "int") {  // both operands converted at run time (docs/numerics.md §15)
    if (c.sparsity.m > 0) cx.cannot(n, "N:M sparsity is for constant weights");
    const auto [af, bf] = block_formats(cx, n, c, "first operand", "second operand");
    Node mac = cx.op("block_matmul", n.name + ".block_matmul", {a, b}, {y});
    mac.attributes["source"] = n.name;
    block_attributes(cx, mac, c, af, bf, cx.int_graph.values.at(a).quant.scale, yq.scale, act, yq);
    mac.attributes["b_scale_bits"] = int64_t{float32_bits(static_cast<float>(cx.int_graph.values.at(b).quant.scale))};
    cx.int_graph.ops.push_back(std::move(mac));
    if (cx.layer_inputs_enabled())
      for (int operand : {0, 1}) cx.convert_block_input(n, cx.int_graph.ops.size() - 1, operand);
    return;
  }
  const std::string acc = n.name + ".acc";
  cx.add_accumulator(acc, n.outputs[0], c);
  Node mac = cx.op("matmul_mac", n.name + ".mac", {a, b}, {acc});
  mac.attributes["source"] = n.name;
  cx.set_accumulator_attrs(mac, c);
  cx.int_graph.ops.push_back(std::move(mac));
  const double scale =
      cx.mac_scale(cx.int_graph.values.at(a).quant.scale, cx.int_graph.values.at(b).quant.scale, yq.scale, c);
  cx.add_mulshift(n.name + ".requant", acc, y, {scale}, c, cx.clamp_for(act, yq));
}

// A 2-D tensor transposed (float or integer).
Tensor transposed(const Tensor& t) {
  const int64_t rows = t.shape.at(0), cols = t.shape.at(1);
  Tensor r = Tensor::zeros(t.dtype, {cols, rows});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t o = 0; o < cols; ++o) {
      if (t.is_float())
        r.floats[o * rows + i] = t.floats[i * cols + o];
      else
        r.ints[o * rows + i] = t.ints[i * cols + o];
    }
  return r;
}

// A MatMul's bias: an Add that is the MatMul output's only reader and adds a constant [N] vector
// (how PyTorch exports nn.Linear on inputs of rank > 2). Returns the Add and the bias input index.
std::pair<const Node*, size_t> matmul_bias(Lowering& cx, const Node& matmul, int64_t out_features) {
  const auto it = cx.consumers.find(matmul.outputs[0]);
  if (it == cx.consumers.end() || it->second.size() != 1) return {nullptr, 0};
  const Node& add = cx.graph.nodes[it->second[0]];
  if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) return {nullptr, 0};
  for (const auto& o : cx.graph.outputs)
    if (o.name == matmul.outputs[0]) return {nullptr, 0};
  const size_t i = add.inputs[0] == matmul.outputs[0] ? 1 : 0;
  const auto b = cx.graph.initializers.find(add.inputs[i]);
  if (b == cx.graph.initializers.end() || !b->second.is_float() || b->second.numel() != out_features ||
      b->second.rank() != 1)
    return {nullptr, 0};
  cx.consumed[it->second[0]] = true;
  return {&add, i};
}

AdaRoundParams adaround_params(const LayerQuantConfig& c) {
  return AdaRoundParams{c.adaround_iterations, c.adaround_regularization, c.adaround_beta_start,
                        c.adaround_beta_end,   c.adaround_warmup,         c.adaround_learning_rate};
}

// The rows of each group (output channels sharing their inputs) and the moments of its inputs.
template <class PerGroup>
void for_each_group(const Node& n, const RealMatrix& w, const std::vector<LayerInputMoments>& moments, PerGroup f) {
  const int64_t groups = static_cast<int64_t>(moments.size()), per_group = w.rows() / groups;
  for (int64_t grp = 0; grp < groups; ++grp) {
    const LayerInputMoments& m = moments[static_cast<size_t>(grp)];
    if (w.cols() != m.float_sum.size())
      throw std::logic_error(n.name + ": the weights and the moments of the layer's inputs disagree");
    f(grp * per_group, per_group, m);
  }
}

// The codes of each group of rows (output channels sharing their inputs) from its calibration moments.
Lowering::WeightChooser weight_chooser(const Node& n, const LayerQuantConfig& c,
                                       const std::vector<LayerInputMoments>& moments) {
  return [&n, &c, &moments](const RealMatrix& w, const std::vector<CodeGrid>& grids) {
    CodeMatrix codes(w.rows(), w.cols());
    for_each_group(n, w, moments, [&](int64_t first, int64_t count, const LayerInputMoments& m) {
      const RealMatrix rows = w.middleRows(first, count);
      const std::vector<CodeGrid> row_grids(grids.begin() + first, grids.begin() + first + count);
      if (c.weight_algorithm == "gptq")
        codes.middleRows(first, count) = gptq_codes(rows, row_grids, m.quantized_gram,
                                                    GptqParams{c.gptq_block_size, c.gptq_damping, c.gptq_act_order});
      else if (c.weight_algorithm == "adaround")
        codes.middleRows(first, count) = adaround_codes(rows, row_grids, m, adaround_params(c)).codes;
      else
        codes.middleRows(first, count) = nearest_codes(rows, row_grids);
    });
    return codes;
  };
}

// Empirical bias correction: each output channel's bias plus the mean, over the calibration inputs, of the
// float layer's output minus the quantized one's, (W·Σx − Ŵ·Σx̂) / n (the outputs are linear in the inputs,
// so their means are the weights times the inputs' means).
void correct_bias(Tensor& bias, const Tensor& w, const RealMatrix& w_hat,
                  const std::vector<LayerInputMoments>& moments) {
  const int64_t rows = w.shape.at(0), per = w.numel() / rows, per_group = rows / static_cast<int64_t>(moments.size());
  for (int64_t r = 0; r < rows; ++r) {
    const LayerInputMoments& m = moments[static_cast<size_t>(r / per_group)];
    if (m.rows <= 0) continue;
    double shift = 0;
    for (int64_t i = 0; i < per; ++i)
      shift += static_cast<double>(w.floats[static_cast<size_t>(r * per + i)]) * m.float_sum(i) -
               w_hat(r, i) * m.quantized_sum(i);
    bias.floats[static_cast<size_t>(r)] = static_cast<float>(bias.floats[static_cast<size_t>(r)] + shift / m.rows);
  }
}

// The quantized graph's copy of a lowered layer: its weights and bias as the reals of their codes, in the
// float layout (an [in, out] matrix transposed back), so that the next layers' inputs are the quantized
// network's. A MatMul without a bias keeps none (its corrected bias, if any, only reaches the IntGraph).
void record_quantized_layer(Lowering& cx, const Node& n, const Node& bias_node, size_t bias_input, int64_t out_axis,
                            double s_x, const std::vector<double>& s_w, const LayerQuantConfig& c) {
  const std::string name = n.name + ".weight";
  Tensor codes = cx.int_graph.constants.at(name);
  if (c.sparsity.m > 0 && c.sparsity_on_codes) prune_nm(codes, c.sparsity);  // as compress_weights will
  const RealMatrix w = Lowering::dequantized(codes, cx.int_graph.weights.at(name));
  Tensor reals = Tensor::zeros(DType::float32, out_axis == 1 ? Shape{w.cols(), w.rows()} : codes.shape);
  for (int64_t r = 0; r < w.rows(); ++r)
    for (int64_t i = 0; i < w.cols(); ++i)
      reals.floats[static_cast<size_t>(out_axis == 1 ? i * w.rows() + r : r * w.cols() + i)] =
          static_cast<float>(w(r, i));
  cx.set_quantized_input(n, 1, std::move(reals));
  const auto bias = cx.int_graph.constants.find(n.name + ".bias");
  if (bias == cx.int_graph.constants.end() || (bias_node.op_type == "MatMul" && !bias_node.has_input(bias_input)))
    return;
  Tensor b = Tensor::zeros(DType::float32, {static_cast<int64_t>(s_w.size())});
  for (size_t ch = 0; ch < s_w.size(); ++ch)
    b.floats[ch] = static_cast<float>(static_cast<double>(bias->second.ints.at(ch)) * s_x * s_w[ch]);
  cx.set_quantized_input(bias_node, bias_input, std::move(b));
}

enum class MacKind { conv, gemm, matmul };

// AdaRound on a block layer's weights, w [M, taps · C/G] in the float layout (channel-major, taps inside):
// each element keeps the scale its float block gave it (`scales`, [M, taps, blocks]) and rounds down or up
// to the element values around it under that scale, chosen from the layer's calibration inputs as for
// uniform codes; `codes` [M, taps, C/G] receives the chosen element codes.
void adaround_block_weights(const Node& n, const LayerQuantConfig& c, const BlockFormat& wf, const RealMatrix& w,
                            int64_t taps, const Tensor& scales, const std::vector<LayerInputMoments>& moments,
                            Tensor& codes) {
  const int64_t M = w.rows(), cg = w.cols() / taps, bs = wf.block_size, blocks = (cg + bs - 1) / bs;
  const ElementValues elements(wf);
  RoundingNeighbours nb(M, w.cols());
  const auto at = [&](int64_t m, int64_t j) { return static_cast<size_t>((m * taps + j % taps) * cg + j / taps); };
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < w.cols(); ++j) {
      const auto scale =
          static_cast<uint32_t>(scales.ints[static_cast<size_t>((m * taps + j % taps) * blocks + j / taps / bs)]);
      const auto code = static_cast<uint32_t>(codes.ints[at(m, j)]);
      if (scale == wf.scale_nan_code()) {
        // a block holding a NaN or an infinity: no choice to make; the others are chosen as if it were exact
        nb.down_code(m, j) = nb.up_code(m, j) = code;
        nb.down(m, j) = nb.up(m, j) = std::isfinite(w(m, j)) ? w(m, j) : 0.0;
        nb.fraction(m, j) = 0;
        continue;
      }
      const int exponent = static_cast<int>(scale) - wf.scale_bias();
      const double v = std::ldexp(w(m, j), -exponent);  // in element units, exactly
      const auto [down, up] = elements.around(v);
      nb.down_code(m, j) = elements.code(down), nb.up_code(m, j) = elements.code(up);
      nb.down(m, j) = std::ldexp(elements.value(down), exponent);
      nb.up(m, j) = std::ldexp(elements.value(up), exponent);
      nb.fraction(m, j) = up == down ? 0 : (v - elements.value(down)) / (elements.value(up) - elements.value(down));
    }
  for_each_group(n, w, moments, [&](int64_t first, int64_t count, const LayerInputMoments& m) {
    RoundingNeighbours part(count, w.cols());
    part.down = nb.down.middleRows(first, count), part.up = nb.up.middleRows(first, count);
    part.fraction = nb.fraction.middleRows(first, count);
    part.down_code = nb.down_code.middleRows(first, count), part.up_code = nb.up_code.middleRows(first, count);
    const CodeMatrix chosen = adaround_codes(w.middleRows(first, count), part, m, adaround_params(c)).codes;
    for (int64_t r = 0; r < count; ++r)
      for (int64_t j = 0; j < w.cols(); ++j) codes.ints[at(first + r, j)] = chosen(r, j);
  });
}

// A MAC layer in a block format (docs/numerics.md §15): one block_mac op from the codes of its input to the
// codes of its output, the weights converted here to block codes (blocks along the input channels of each
// kernel tap), the bias kept as float32, the activation after it fused into the output clamp.
void lower_block_mac(Lowering& cx, const Node& n, const LayerQuantConfig& c, bool conv, Tensor w, const Tensor* bias,
                     const std::string& mac_output, int64_t out_axis) {
  const std::string x = n.inputs.at(0);
  if (c.sparsity.m > 0) cx.cannot(n, "N:M sparsity is not supported with block formats");
  const auto [af, wf] = block_formats(cx, n, c, "activation", "weight");
  const Node* act = cx.fusable_activation(mac_output);
  const std::string y = act ? act->outputs[0] : mac_output;
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  // The weights as [M, taps, C/G] float32 rows, each row cut into blocks along its input channels.
  const int64_t M = w.shape.at(0), taps = conv ? w.shape.at(2) * w.shape.at(3) : 1, cg = w.shape.at(1);
  std::vector<uint32_t> rows(static_cast<size_t>(M * taps * cg));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t ch = 0; ch < cg; ++ch)
        rows[static_cast<size_t>((m * taps + t) * cg + ch)] =
            float32_bits(w.floats[static_cast<size_t>(conv ? (m * cg + ch) * taps + t : m * cg + ch)]);
  const int64_t bs = wf.block_size, blocks = (cg + bs - 1) / bs;
  Shape code_shape = conv ? Shape{M, w.shape[2], w.shape[3], cg} : Shape{M, cg};
  Shape scale_shape = conv ? Shape{M, w.shape[2], w.shape[3], blocks} : Shape{M, blocks};
  Tensor codes = Tensor::zeros(DType::int64, code_shape), scales = Tensor::zeros(DType::int64, scale_shape);
  BlockRounding rounding;
  rounding.rounding = c.block_rounding == "stochastic" ? Rounding{RoundingMode::half_even, true}
                                                       : Rounding{parse_rounding_mode(c.block_rounding), false};
  rounding.seed = static_cast<uint64_t>(c.block_seed);
  rounding.shared_exponent = c.block_shared_exponent;
  std::vector<uint32_t> block_codes(static_cast<size_t>(bs));
  for (int64_t row = 0; row < M * taps; ++row)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * bs, count = std::min(bs, cg - first);
      uint32_t scale = 0;
      quantize_block(wf, &rows[static_cast<size_t>(row * cg + first)], count, rounding,
                     static_cast<uint64_t>(row * cg + first), scale, block_codes.data());
      for (int64_t i = 0; i < count; ++i) codes.ints[static_cast<size_t>(row * cg + first + i)] = block_codes[i];
      scales.ints[static_cast<size_t>(row * blocks + b)] = scale;
    }
  const std::string codes_name = n.name + ".weight.codes";
  cx.add_constant(codes_name, std::move(codes));
  cx.add_constant(n.name + ".weight.scales", std::move(scales));
  Node mac = cx.op("block_mac", n.name + ".block_mac", {x, n.name + ".weight.codes", n.name + ".weight.scales"}, {y});
  if (bias) {
    Tensor b = Tensor::zeros(DType::int64, {M});
    for (int64_t m = 0; m < M; ++m)
      b.ints[static_cast<size_t>(m)] = float32_bits(bias->floats.at(static_cast<size_t>(m)));
    cx.add_constant(n.name + ".bias.float32", std::move(b));
    mac.inputs.push_back(n.name + ".bias.float32");
  }
  mac.attributes["source"] = n.name;
  mac.attributes["kind"] = std::string(conv ? "conv" : "linear");
  block_attributes(cx, mac, c, af, wf, cx.int_graph.values.at(x).quant.scale, yq.scale, act, yq);
  if (conv) {
    mac.attributes["strides"] = n.get_ints("strides", std::vector<int64_t>{1, 1});
    mac.attributes["pads"] = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
    mac.attributes["dilations"] = n.get_ints("dilations", std::vector<int64_t>{1, 1});
    mac.attributes["group"] = n.get_int("group", 1);
  }
  cx.int_graph.ops.push_back(std::move(mac));
  if (!cx.layer_inputs_enabled()) return;
  // The quantized graph: the layer reads its input converted, and (after AdaRound) its weights' values.
  const size_t op = cx.int_graph.ops.size() - 1;
  cx.convert_block_input(n, op, 0);
  if (c.weight_algorithm == "adaround") {
    const RealMatrix w_rows = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                                  w.floats.data(), M, taps * cg)
                                  .cast<double>();
    const std::vector<LayerInputMoments> moments =
        cx.layer_input_moments(n, conv ? MacInputGeometry::of_conv(n, w.shape) : MacInputGeometry::of_linear(cg));
    adaround_block_weights(n, c, wf, w_rows, taps, cx.int_graph.constants.at(n.name + ".weight.scales"), moments,
                           cx.int_graph.constants.at(codes_name));
  }
  Tensor values = ops::block_mac_float_weights(cx.int_graph, cx.int_graph.ops[op]).first;
  cx.set_quantized_input(n, 1, out_axis == 1 ? transposed(values) : std::move(values));
}

void lower_mac(Lowering& cx, const Node& n, MacKind kind) {
  const bool conv = kind == MacKind::conv;
  LayerQuantConfig c = cx.config.for_node(n.name);
  if (cx.ignore_sparsity) c.sparsity = kernels::NmPattern{0, 0};
  const std::string x = n.inputs.at(0);
  cx.require_quantized(x, n);
  const QuantizedConstant* given_w = cx.given_codes(n, 1);
  if (!given_w && (!n.has_input(1) || !cx.graph.initializers.count(n.inputs[1])))
    cx.cannot(n, "its second input must be constant weights");
  Tensor w = given_w ? given_w->codes : cx.initializer(n, 1);
  int64_t out_axis = 0;           // the weight axis that indexes output channels
  if (kind == MacKind::matmul) {  // [in, out] → [out, in]
    if (w.rank() != 2) cx.cannot(n, "its weights must be 2-D");
    w = transposed(w), out_axis = 1;
  } else if (!conv) {  // Gemm: weights must end up [out, in]
    if (n.get_int("transA", 0) != 0 || n.get_float("alpha", 1.0f) != 1.0f || n.get_float("beta", 1.0f) != 1.0f)
      cx.cannot(n, "only Gemm with transA = 0, alpha = beta = 1 is supported");
    if (w.rank() != 2) cx.cannot(n, "its weights must be 2-D");
    if (n.get_int("transB", 0) == 0) w = transposed(w), out_axis = 1;  // [in, out] → [out, in]
  } else {
    if (w.rank() != 4) cx.cannot(n, "only 2-D convolutions are supported");
    if (n.get_string("auto_pad", std::string("NOTSET")) != "NOTSET")
      cx.cannot(n, "auto_pad is not supported; export with explicit pads");
  }
  const Tensor* bias = n.has_input(2) ? &cx.initializer(n, 2) : nullptr;
  const Node* bias_add = nullptr;
  std::string mac_output = n.outputs[0];
  const Node* bias_node = &n;  // the node whose input holds the bias (given codes are looked up there)
  size_t bias_input = 2;
  if (kind == MacKind::matmul) {
    std::tie(bias_add, bias_input) = matmul_bias(cx, n, w.shape.at(0));
    if (bias_add)
      bias = &cx.initializer(*bias_add, bias_input), mac_output = bias_add->outputs[0], bias_node = bias_add;
  }
  if (c.block_format != "int") {
    if (given_w) cx.cannot(n, "its weights are pre-quantized codes, which a block format cannot take");
    if (c.weight_algorithm == "gptq" || c.bias_correction)
      cx.cannot(n,
                std::string(c.bias_correction ? "weights.bias_correction" : "weights.algorithm gptq") +
                    " chooses uniform integer codes; a block format (" + c.block_format +
                    ") converts its weights by its own rounding (format.rounding), or by weights.algorithm adaround");
    lower_block_mac(cx, n, c, conv, std::move(w), bias, mac_output, out_axis);
    if (bias_add) cx.int_graph.ops.back().attributes["bias_source"] = bias_add->name;  // the Add holding the bias
    return;
  }
  // A pre-quantized model that leaves the last MAC's output in float: its accumulators end the network.
  const bool float_tail =
      cx.prequantized && cx.is_graph_output(mac_output) && !cx.prequantized->activations.count(mac_output);
  const Node* act = float_tail ? nullptr : cx.fusable_activation(mac_output);
  const std::string y = act ? act->outputs[0] : mac_output;
  const QuantParams yq = float_tail ? QuantParams{} : cx.params_for(y, c);
  if (!float_tail) cx.add_value(y, yq);
  const double s_x = cx.int_graph.values.at(x).quant.scale;
  if (c.sparsity.m > 0 && !c.sparsity_on_codes) {
    if (given_w) cx.cannot(n, "its weights are pre-quantized codes: prune them with sparsity.stage: codes");
    prune_nm(w, c.sparsity);  // before quantization: the per-channel scales come from the kept weights
  }
  // The layer's calibration inputs, when its rounding or its bias correction reads them.
  std::vector<LayerInputMoments> moments;
  const bool from_inputs = c.weight_algorithm != "nearest" || c.bias_correction;
  if (from_inputs && given_w)
    cx.cannot(n,
              "its weights are pre-quantized codes: weights.algorithm and "
              "weights.bias_correction apply to float weights");
  if (from_inputs && c.sparsity.m > 0)
    cx.cannot(n, (c.weight_algorithm != "nearest" ? "weights.algorithm " + c.weight_algorithm
                                                  : std::string("weights.bias_correction")) +
                     " is not supported with N:M sparsity (sparse layers take nearest rounding without bias "
                     "correction)");
  if (from_inputs && cx.layer_inputs_enabled())
    moments = cx.layer_input_moments(
        n, conv ? MacInputGeometry::of_conv(n, w.shape) : MacInputGeometry::of_linear(w.shape.at(1)));
  const std::vector<double> s_w =
      given_w ? cx.take_weights(n, *given_w, w, given_w->axis == out_axis, n.name + ".weight")
              : cx.quantize_weights(w, c, n.name + ".weight",
                                    moments.empty() ? Lowering::WeightChooser{} : weight_chooser(n, c, moments));
  Tensor corrected_bias;
  if (c.bias_correction && !moments.empty()) {
    corrected_bias = bias ? *bias : Tensor::zeros(DType::float32, {w.shape.at(0)});
    correct_bias(corrected_bias, w, cx.dequantized_weights(n.name + ".weight"), moments);
    bias = &corrected_bias;
  }
  cx.quantize_bias(*bias_node, bias_input, bias, s_x, s_w, c, n.name + ".bias");
  if (cx.layer_inputs_enabled()) record_quantized_layer(cx, n, *bias_node, bias_input, out_axis, s_x, s_w, c);
  if (c.sparsity.m > 0) cx.compress_weights(n, n.name + ".weight", c, given_w ? 0 : c.weight_bits);
  const std::string acc = n.name + ".acc";
  cx.add_accumulator(acc, n.outputs[0], c);
  Node mac = cx.op(conv ? "conv_mac" : "linear_mac", n.name + ".mac", {x, n.name + ".weight"}, {acc});
  mac.attributes["source"] = n.name;  // the float node it lowers (reports, the dual-path check)
  if (bias_add) mac.attributes["bias_source"] = bias_add->name;  // the Add that holds a MatMul's bias
  if (bias) mac.inputs.push_back(n.name + ".bias");
  if (conv) {
    mac.attributes["strides"] = n.get_ints("strides", std::vector<int64_t>{1, 1});
    mac.attributes["pads"] = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
    mac.attributes["dilations"] = n.get_ints("dilations", std::vector<int64_t>{1, 1});
    mac.attributes["group"] = n.get_int("group", 1);
  }
  cx.set_accumulator_attrs(mac, c);
  cx.int_graph.ops.push_back(std::move(mac));
  // Output channels: axis 1 of a convolution, the last axis of a matrix product.
  const int64_t channel_axis =
      conv ? 1 : std::max<int64_t>(1, static_cast<int64_t>(cx.shape_of(n.outputs[0]).size()) - 1);
  if (float_tail) {
    // The bias's scale, fl(s_x · s_w[c]) in float32 (ONNX Runtime's): the real value of one accumulator unit.
    std::vector<float> units(s_w.size());
    for (size_t i = 0; i < s_w.size(); ++i) units[i] = static_cast<float>(s_x) * static_cast<float>(s_w[i]);
    cx.float_tail = Lowering::FloatTail{acc, units, channel_axis};
    return;
  }
  std::vector<double> scales(s_w.size());
  for (size_t i = 0; i < s_w.size(); ++i) scales[i] = cx.mac_scale(s_x, s_w[i], yq.scale, c);
  cx.add_mulshift(n.name + ".requant", acc, y, scales, c, cx.clamp_for(act, yq), channel_axis);
}

// MatMulInteger and ConvInteger output raw int32 sums: no output quantization says which codes follow
// (ONNX Runtime's dynamic quantization scales them in float afterwards, per input).
void refuse_raw_accumulators(Lowering& cx, const Node& n) {
  cx.cannot(n,
            "it outputs raw int32 sums without an output quantization, which an integer network must round to; "
            "the nearest supported form: QLinearConv / QLinearMatMul, or a QDQ model (QuantizeLinear after the "
            "float op)");
}

}  // namespace

std::vector<ConfigKey> block_format_config_keys() {
  using C = LayerQuantConfig;
  const auto format_key = [](const char* field, std::string C::*member, const char* meaning) {
    ConfigKey k{"format", field, ConfigKey::Kind::text, 0, 0, {}, "`int` or a block format", meaning,
                {},       {},    "mxfp4_e2m1"};
    const bool weights = std::string(field) == "weights";
    k.set = [member, weights](C& c, const ConfigValue& v) {
      // `name`: int or a block format; `weights`: a block format, or empty for the same as `name`.
      if (weights ? v.text == "int" : v.text.empty())
        throw InputError(weights ? "format.weights takes a block format (uniform integer weights go with "
                                   "format.name: int)"
                                 : "format.name takes int or a block format");
      if (v.text != "int" && !v.text.empty()) parse_block_format(v.text);  // InputError listing the names
      c.*member = v.text;
    };
    k.show = [member](const C& c) { return c.*member; };
    return k;
  };
  ConfigKey weights = format_key("weights", &C::block_weight_format,
                                 "the weights' block format when it differs from `format.name` (empty: the same); "
                                 "for a MatMul of two activations (attention), the second operand's");
  weights.values = "a block format, or empty";
  const ConfigKey block_size = integer_key("format", "block_size", 0, 4096, &C::block_size,
                                           "elements per block along the reduction axis, the same for both operands; "
                                           "0: the format's own (32 for MX, 16 for bfp<N>)");
  return {
      format_key("name", &C::block_format,
                 "a MAC layer's input activations and weights, or both operands of a MatMul of two activations: "
                 "`int` (uniform integer codes, the other sections) or "
                 "a block format (docs/numerics.md §15): mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4_e2m1, "
                 "mxint8, bfp<N> (bfp12, bfp16); the layer's output stays in the activations' uniform codes"),
      weights,
      block_size,
      choice_key(
          "format", "accumulation", fixed_choices({"exact", "fp32"}),
          [](C& c, const std::string& v) { c.block_accumulation = parse_block_accumulation(v); },
          [](const C& c) { return std::string(to_string(c.block_accumulation)); },
          "across blocks: one exact sum rounded once at the output, or an FP32 running sum of the blocks' exact "
          "sums (each rounded half even)"),
      choice_key(
          "format", "rounding",
          fixed_choices({"half_away", "half_even", "half_up", "floor", "toward_zero", "stochastic"}),
          [](C& c, const std::string& v) { c.block_rounding = v; }, [](const C& c) { return c.block_rounding; },
          "conversion of the weights and the input activations into the block format (the MX reference code's "
          "`nearest` is half_away, its `floor` toward_zero)"),
      integer_key("format", "seed", 0, 999999999, &C::block_seed, "stochastic rounding's seed"),
      choice_key(
          "format", "shared_exponent", fixed_choices({"floor", "ceil"}),
          [](C& c, const std::string& v) { c.block_shared_exponent = parse_shared_exponent(v); },
          [](const C& c) { return std::string(to_string(c.block_shared_exponent)); },
          "each block's scale, for the weights and the input activations: `floor` is the OCP spec's "
          "floor(log2 amax) − emax_elem (a block maximum above the largest element saturates to it); `ceil` the "
          "smallest scale that holds the block maximum (NVIDIA's RCEIL, compared exactly)"),
  };
}

std::vector<LoweringRule> mac_lowering_rules() {
  return {
      {"", "Conv", [](Lowering& cx, const Node& n) { lower_mac(cx, n, MacKind::conv); }},
      {"", "Gemm", [](Lowering& cx, const Node& n) { lower_mac(cx, n, MacKind::gemm); }},
      {"", "MatMul",
       [](Lowering& cx, const Node& n) {
         if (cx.given_codes(n, 1) || cx.graph.initializers.count(n.inputs.at(1)))
           lower_mac(cx, n, MacKind::matmul);
         else
           lower_matmul_activations(cx, n);
       }},
      {"", "MatMulInteger", refuse_raw_accumulators, true},
      {"", "ConvInteger", refuse_raw_accumulators, true},
  };
}

}  // namespace chipref
