#include "quant/lowering/lowering.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "model/executor.hpp"
#include "model/ops/ops.hpp"
#include "ops/mac.hpp"
#include "quant/config_keys.hpp"
#include "quant/quantize.hpp"
#include "quant/quantizer.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

Lowering::Lowering(const Graph& g, const QuantConfig& cfg, std::map<std::string, Range> ranges_,
                   const PrequantizedModel* pre, IntGraph& out, bool ignore_sparsity_)
    : graph(g),
      config(cfg),
      ranges(std::move(ranges_)),
      prequantized(pre),
      int_graph(out),
      ignore_sparsity(ignore_sparsity_) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i].inputs) consumers[in].push_back(i);
  if (!prequantized) share_concat_quantization();
}

QuantParams Lowering::input_params() const {
  const ValueInfo& input = graph.inputs.at(0);
  if (input.dtype == DType::float32) return params_for(input.name, config.defaults);
  // Codes of a pre-quantized model (a QOperator model's uint8 image): the quantization its
  // DequantizeLinear gives them.
  if (prequantized) return params_for(input.name, config.defaults);
  // Integers (token ids) are exact: their values are their codes, in the narrowest format of their type
  // (int64 ids run as int32 codes; an id past int32 is refused at run time, naming it).
  const bool is_signed = input.dtype != DType::uint8 && input.dtype != DType::uint16;
  const int bits = input.dtype == DType::int8 || input.dtype == DType::uint8     ? 8
                   : input.dtype == DType::int16 || input.dtype == DType::uint16 ? 16
                                                                                 : 32;
  return QuantParams{IntFormat::make(bits, is_signed), 0, 1.0};
}

void Lowering::run() {
  const ValueInfo& input = graph.inputs.at(0);
  const QuantParams in_q = input_params();
  add_value(input.name, in_q);
  if (input.dtype != DType::float32 && !prequantized) exact_integers.insert(input.name);
  Node q = op("quantize", "input_quantize", {int_graph.input_name}, {input.name});
  q.attributes["scale"] = static_cast<float>(in_q.scale);
  int_graph.ops.push_back(q);
  consumed.assign(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (!consumed[i]) lower(graph.nodes[i]);
  // A rescaled tensor has no codes of its own: its readers read the codes it rescales.
  for (Node& o : int_graph.ops)
    for (auto& in : o.inputs)
      if (const auto a = aliases.find(in); a != aliases.end()) in = a->second;
  for (const auto& [alias, codes] : aliases) int_graph.values.erase(alias);
  const std::string result = graph.outputs.at(0).name;
  if (float_tail) {
    Node dq = op("dequantize", "output_dequantize", {float_tail->accumulators}, {int_graph.output_name});
    dq.attributes["scales"] = float_tail->scales;
    dq.attributes["axis"] = float_tail->channel_axis;
    int_graph.ops.push_back(dq);
    return;
  }
  require_quantized(result, graph.nodes.back());
  Node dq = op("dequantize", "output_dequantize", {result}, {int_graph.output_name});
  dq.attributes["scale"] = static_cast<float>(int_graph.values.at(result).quant.scale);
  int_graph.ops.push_back(dq);
}

bool Lowering::is_graph_output(const std::string& tensor) const {
  return std::any_of(graph.outputs.begin(), graph.outputs.end(), [&](const ValueInfo& o) { return o.name == tensor; });
}

std::vector<LoweringOutcome> Lowering::survey() {
  add_value(graph.inputs.at(0).name, input_params());
  if (graph.inputs[0].dtype != DType::float32 && !prequantized) exact_integers.insert(graph.inputs[0].name);
  consumed.assign(graph.nodes.size(), false);
  std::vector<LoweringOutcome> outcomes(graph.nodes.size());
  std::map<std::string, std::string> failed_by;  // a tensor no integer op computes → the node that refused
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    LoweringOutcome& o = outcomes[i];
    o.node = n.name, o.op_type = n.domain.empty() ? n.op_type : n.domain + "::" + n.op_type;
    if (consumed[i]) continue;  // fused_into was set by the node that consumed it
    const std::vector<bool> before = consumed;
    const size_t first_op = int_graph.ops.size();
    std::string blocked;
    for (const auto& in : n.inputs)
      if (const auto f = failed_by.find(in); f != failed_by.end() && blocked.empty()) blocked = f->second;
    try {
      if (!blocked.empty()) cannot(n, "it reads what '" + blocked + "' computes, which does not lower");
      lower(n);
    } catch (const InputError& e) {
      const std::string what = e.what(), marker = "cannot be lowered to integer ops: ";
      const size_t at = what.find(marker);
      o.refused = at == std::string::npos ? what : what.substr(at + marker.size());
      int_graph.ops.resize(first_op);
      consumed = before;
      for (const auto& out : n.outputs) failed_by[out] = blocked.empty() ? n.name : blocked;
      continue;
    }
    for (size_t k = first_op; k < int_graph.ops.size(); ++k) o.int_ops.push_back(int_graph.ops[k].op_type);
    if (o.int_ops.empty() && !n.outputs.empty()) {
      const auto mask = additive_masks.find(n.outputs[0]);
      o.no_op = mask == additive_masks.end()  ? "its input's codes, rescaled or recast"
                : mask->second.scores.empty() ? "an attention mask: the softmax reads its mask codes"
                                              : "a mask added to scores: the softmax reads both";
    }
    for (size_t j = 0; j < consumed.size(); ++j)
      if (consumed[j] && !before[j]) outcomes[j].fused_into = n.name;
  }
  return outcomes;
}

Node Lowering::op(const std::string& type, const std::string& name, std::vector<std::string> ins,
                  std::vector<std::string> outs) {
  Node n;
  n.name = name, n.op_type = type, n.domain = kIntDomain, n.inputs = std::move(ins), n.outputs = std::move(outs);
  return n;
}

void Lowering::cannot(const Node& n, const std::string& why) const {
  throw InputError(graph.source + ": " + n.describe() + ": cannot be lowered to integer ops: " + why);
}

Shape Lowering::shape_of(const std::string& name) const {
  const Shape* s = graph.known_shape(name);
  return s ? *s : Shape{};
}

void Lowering::share_concat_quantization() {
  std::map<std::string, const Node*> producer;
  for (const Node& n : graph.nodes)
    for (const auto& o : n.outputs) producer[o] = &n;
  const std::set<std::string> movement = {"Reshape", "Transpose", "Flatten", "Slice", "Gather"};
  for (const Node& n : graph.nodes) {
    if (n.op_type != "Concat" || !n.domain.empty()) continue;
    for (std::string t : n.inputs)
      for (;;) {
        concat_range_of[t] = n.outputs[0];
        const auto p = producer.find(t);
        if (p == producer.end() || !p->second->domain.empty() || !movement.count(p->second->op_type)) break;
        t = p->second->inputs.at(0);
        if (graph.initializers.count(t)) break;
      }
  }
}

std::string Lowering::range_source(std::string tensor) const {
  for (auto it = concat_range_of.find(tensor); it != concat_range_of.end() && it->second != tensor;
       it = concat_range_of.find(tensor))
    tensor = it->second;
  return tensor;
}

QuantParams Lowering::params_for(const std::string& name, const LayerQuantConfig& c) const {
  const std::string tensor = prequantized ? name : range_source(name);
  if (prequantized) {
    const auto it = prequantized->activations.find(tensor);
    if (it == prequantized->activations.end())
      throw InputError(graph.source + ": tensor '" + tensor +
                       "' is not quantized: in a pre-quantized model every tensor the integer network "
                       "computes needs a QuantizeLinear / DequantizeLinear pair (or a QONNX Quant)");
    return it->second;
  }
  const auto it = ranges.find(tensor);
  if (it == ranges.end())
    throw InputError(graph.source + ": tensor '" + tensor + "' was never computed during calibration");
  const ActivationFormat f{c.activation_bits, c.activation_signed, c.activation_symmetric, c.activation_percentile};
  const auto [lo, hi] = activation_calibrator(c.activation_calibrator)
                            .choose(it->second.lo, it->second.hi, it->second.histogram.get(), f);
  return activation_params(lo, hi, f.bits, f.is_signed, f.symmetric);
}

void Lowering::add_value(const std::string& name, const QuantParams& q) {
  int_graph.values[name] = IntValue{shape_of(name), q};
}

void Lowering::require_quantized(const std::string& name, const Node& n) const {
  if (additive_masks.count(name))
    cannot(n, "its input '" + name +
                  "' holds an attention mask's −inf; only a Softmax (over the scores the mask was added to) reads it");
  if (!int_graph.values.count(name))
    cannot(n, "its input '" + name + "' is not an integer value (produced by an op that was not lowered)");
}

const Tensor& Lowering::initializer(const Node& n, size_t i) const {
  const auto it = n.has_input(i) ? graph.initializers.find(n.inputs[i]) : graph.initializers.end();
  if (it == graph.initializers.end() || !it->second.is_float())
    cannot(n, "input " + std::to_string(i) + " must be a constant float tensor");
  return it->second;
}

const Node* Lowering::fusable_activation(const std::string& tensor) {
  const auto it = consumers.find(tensor);
  if (it == consumers.end() || it->second.size() != 1) return nullptr;
  const Node& n = graph.nodes[it->second[0]];
  if (!n.domain.empty() || (n.op_type != "Relu" && n.op_type != "Clip")) return nullptr;
  for (const auto& o : graph.outputs)
    if (o.name == tensor) return nullptr;
  // A pre-quantized model that rounds the producer's output itself (its own QuantizeLinear before the
  // activation) keeps that rounding, unless rounding once is provably the same: the activation's input
  // and output share one quantization and its table over every code is a clamp (docs/numerics.md §7).
  if (prequantized) {
    const auto in = prequantized->activations.find(tensor), out = prequantized->activations.find(n.outputs.at(0));
    if (in != prequantized->activations.end()) {
      if (out == prequantized->activations.end() || !same_quantization(in->second, out->second) ||
          !as_clamp(qdq_table(n, in->second, in->second), in->second))
        return nullptr;
    }
  }
  consumed[it->second[0]] = true;
  return &n;
}

std::pair<int64_t, int64_t> Lowering::clamp_for(const Node* act, const QuantParams& q) const {
  int64_t lo = q.format.min(), hi = q.format.max();
  if (!act) return {lo, hi};
  if (prequantized) {
    const auto bounds = as_clamp(qdq_table(*act, q, q), q);
    if (!bounds) cannot(*act, "on the codes of its quantization it is no clamp");
    return *bounds;
  }
  auto code = [&](double real) {
    return q.format.saturate(q.zero_point +
                             static_cast<int64_t>(round_to_integer(real / q.scale, RoundingMode::half_even)));
  };
  if (act->op_type == "Relu") return {std::max(lo, q.zero_point), hi};
  const double mn = act->has_input(1) ? initializer(*act, 1).floats.at(0) : -std::numeric_limits<double>::infinity();
  const double mx = act->has_input(2) ? initializer(*act, 2).floats.at(0) : std::numeric_limits<double>::infinity();
  if (std::isfinite(mn)) lo = std::max(lo, code(mn));
  if (std::isfinite(mx)) hi = std::min(hi, code(mx));
  return {lo, hi};
}

std::vector<int64_t> Lowering::qdq_table(const Node& n, const QuantParams& in, const QuantParams& out) const {
  if (in.format.bits() > 16) cannot(n, "its input is " + in.format.name() + "; a table takes at most 16 bits");
  const int64_t first = in.format.min(), count = in.format.max() - first + 1;
  Tensor x = Tensor::zeros(DType::float32, {count});
  for (int64_t i = 0; i < count; ++i)
    x.floats[i] = static_cast<float>(first + i - in.zero_point) * static_cast<float>(in.scale);
  std::vector<const Tensor*> inputs{&x};
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (n.inputs[i].empty()) {
      inputs.push_back(nullptr);
      continue;
    }
    const auto c = graph.initializers.find(n.inputs[i]);
    if (c == graph.initializers.end())
      cannot(n, "input " + std::to_string(i) + " must be a constant (an elementwise op of one activation)");
    inputs.push_back(&c->second);
  }
  Node one = n;
  one.outputs.resize(1);
  const Tensor y = run_node(one, graph.opset, inputs).at(0);
  if (!y.is_float() || y.numel() != count)
    cannot(n, "it is not elementwise on its input's codes (a table needs one output per code)");
  std::vector<int64_t> table(static_cast<size_t>(count));
  const float s = static_cast<float>(out.scale);
  for (int64_t i = 0; i < count; ++i) {
    const float v = y.floats[i] / s;
    if (std::isnan(v))
      cannot(n, "it gives NaN for input code " + std::to_string(first + i) + ", which QuantizeLinear cannot round");
    table[i] = out.format.saturate(
        static_cast<int64_t>(std::clamp(round_to_integer(v, RoundingMode::half_even), -1e15, 1e15)) + out.zero_point);
  }
  return table;
}

std::optional<std::pair<int64_t, int64_t>> Lowering::as_clamp(const std::vector<int64_t>& t, const QuantParams& q) {
  if (t.empty()) return std::nullopt;
  const int64_t first = q.format.min(), lo = t.front(), hi = t.back();
  if (lo > hi) return std::nullopt;
  for (size_t i = 0; i < t.size(); ++i)
    if (t[i] != std::clamp(first + static_cast<int64_t>(i), lo, hi)) return std::nullopt;
  return std::make_pair(lo, hi);
}

void Lowering::add_constant(const std::string& name, Tensor t) { int_graph.constants[name] = std::move(t); }

Tensor Lowering::codes_of(const Tensor& t, const QuantParams& q) { return TensorQuantizer::per_tensor(q).codes(t); }

std::string Lowering::constant_operand(const Node& n, size_t i, const std::string& other, const LayerQuantConfig& c) {
  if (prequantized) cannot(n, "adding a constant is lowered for calibrated models only");
  const Tensor& t = initializer(n, i);
  const Shape other_shape = int_graph.values.at(other).shape;
  Shape padded = t.shape, want = other_shape;
  while (padded.size() < want.size()) padded.insert(padded.begin(), 1);
  if (!want.empty()) want[0] = 1;
  // A constant broadcast over some axes of the other operand (Swin's attention mask, one per window, added
  // to every head) is written out to its full shape: the add op takes operands of one shape.
  bool broadcasts = padded.size() == want.size() && t.numel() > 0 && t.is_float();
  for (size_t d = 0; broadcasts && d < want.size(); ++d) broadcasts = padded[d] == want[d] || padded[d] == 1;
  if (!broadcasts || std::any_of(want.begin(), want.end(), [](int64_t d) { return d < 0; }))
    cannot(n, "its constant operand " + shape_to_string(t.shape) +
                  " must broadcast to the shape of the other operand " + shape_to_string(other_shape) +
                  " with a batch of 1");
  Tensor full = t;
  if (padded != want) {
    full = Tensor::zeros(DType::float32, want);
    ops::for_each_broadcast(want, {ops::broadcast_strides(padded, want)},
                            [&](int64_t e, const int64_t* from) { full.floats[e] = t.floats[from[0]]; });
  }
  const auto [lo, hi] = std::minmax_element(full.floats.begin(), full.floats.end());
  const QuantParams q = activation_params(*lo, *hi, c.activation_bits, c.activation_signed, c.activation_symmetric);
  Tensor codes = codes_of(full, q);
  codes.shape = want;
  const std::string name = n.name + ".constant";
  add_constant(name + ".codes", std::move(codes));
  int_graph.values[name] = IntValue{other_shape, q};
  Node b = op("batch_broadcast", name, {name + ".codes", other}, {name});
  b.attributes["source"] = n.name, b.attributes["source_input"] = static_cast<int64_t>(i);
  int_graph.ops.push_back(std::move(b));
  return name;
}

const Tensor& Lowering::int_constant(const Node& n, size_t i, const char* what) const {
  const auto it = n.has_input(i) ? graph.initializers.find(n.inputs[i]) : graph.initializers.end();
  if (it == graph.initializers.end() || it->second.is_float())
    cannot(n, std::string("its ") + what + " must be constant integers");
  return it->second;
}

int64_t Lowering::static_axis(const Node& n, const Shape& xs, int64_t axis) const {
  const int64_t rank = static_cast<int64_t>(xs.size());
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) cannot(n, "axis " + std::to_string(axis) + " is outside its input " + shape_to_string(xs));
  if (xs[a] < 0)
    cannot(n, "it indexes axis " + std::to_string(a) + " of " + shape_to_string(xs) +
                  ", whose size is not static (the batch)");
  return a;
}

const QuantizedConstant* Lowering::given_codes(const Node& n, size_t i) const {
  if (!prequantized || !n.has_input(i)) return nullptr;
  const auto it = prequantized->constants.find(n.inputs[i]);
  return it == prequantized->constants.end() ? nullptr : &it->second;
}

std::vector<double> Lowering::take_weights(const Node& n, const QuantizedConstant& given, Tensor codes,
                                           bool out_axis_ok, const std::string& name) {
  const int64_t channels = codes.shape.at(0);
  if (given.scales.size() != 1 && (!out_axis_ok || static_cast<int64_t>(given.scales.size()) != channels))
    cannot(n, "its weights (" + given.producer + ") must be quantized per tensor or per output channel");
  WeightQuant record;
  record.format = given.format;
  record.scales.assign(static_cast<size_t>(channels), given.scales[0]);
  if (given.scales.size() != 1) record.scales = given.scales;
  record.zero_points = given.zero_points;
  for (int64_t v : codes.ints)
    if (!record.format.contains(v))
      cannot(n, "its weights (" + given.producer + ") hold code " + std::to_string(v) + ", outside " +
                    record.format.name());
  add_constant(name, std::move(codes));
  int_graph.weights[name] = record;
  return record.scales;
}

std::vector<double> Lowering::quantize_weights(const Tensor& w, const LayerQuantConfig& c, const std::string& name,
                                               const WeightChooser& choose) {
  const int64_t channels = w.shape.at(0), per = w.numel() / channels;
  const int b = c.weight_bits;
  const WeightCalibrator& calibrator = weight_calibrator(c.weight_calibrator);
  const auto min_max = [](const float* x, int64_t n) {
    const auto [lo, hi] = std::minmax_element(x, x + n);
    return std::pair<double, double>{*lo, *hi};
  };
  // The clip and the range of each slice: the channel's, or the tensor's for every channel.
  const bool one_slice = !c.weight_per_channel;
  const double tensor_clip = one_slice ? calibrator.clip(w.floats.data(), w.numel(), b) : 0.0;
  const auto tensor_range =
      one_slice && !c.weight_symmetric ? min_max(w.floats.data(), w.numel()) : std::pair<double, double>{0, 0};
  WeightQuant record;
  record.format = IntFormat::make(b, c.weight_signed);
  record.zero_points.clear();
  std::vector<QuantParams> params;
  std::vector<CodeGrid> grids;
  bool narrow = false;
  for (int64_t ch = 0; ch < channels; ++ch) {
    const float* row = w.floats.data() + ch * per;
    const double clip = c.weight_per_channel ? calibrator.clip(row, per, b) : tensor_clip;
    QuantParams q;
    if (c.weight_symmetric) {
      // Narrow range [−(2^(b−1)−1), 2^(b−1)−1] around zero point 0, or around 2^(b−1) for unsigned codes (the
      // signed codes sent as w + 2^(b−1)): negating a weight stays in range either way.
      const int64_t qmax = (int64_t{1} << (b - 1)) - 1;
      q = QuantParams{record.format, c.weight_signed ? 0 : qmax + 1, clip > 0 ? clip / static_cast<double>(qmax) : 1.0};
      narrow = true;
    } else {
      // The channel's [min, max] (widened to hold 0, so that 0 is a code), each tail cut at the calibrator's clip.
      const auto [lo, hi] = c.weight_per_channel ? min_max(row, per) : tensor_range;
      q = activation_params(std::max(lo, -clip), std::min(hi, clip), b, c.weight_signed, false);
    }
    params.push_back(q);
    grids.push_back(CodeGrid{q.scale, q.zero_point, q.format.min() + (narrow ? 1 : 0), q.format.max()});
    record.scales.push_back(q.scale);
    record.zero_points.push_back(q.zero_point);
  }
  if (!c.weight_per_channel) record.zero_points.resize(1);  // one per tensor: all equal
  const DType container =
      b <= 8 ? (c.weight_signed ? DType::int8 : DType::uint8) : (c.weight_signed ? DType::int16 : DType::uint16);
  if (choose) {
    const RealMatrix reals = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                                 w.floats.data(), channels, per)
                                 .cast<double>();
    const CodeMatrix chosen = choose(reals, grids);
    Tensor codes = Tensor::zeros(container, w.shape);
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t i = 0; i < per; ++i) {
        const int64_t code = chosen(ch, i);
        if (code < grids[static_cast<size_t>(ch)].lo || code > grids[static_cast<size_t>(ch)].hi)
          throw std::logic_error("a weight rounding chose a code outside its grid");
        codes.ints[static_cast<size_t>(ch * per + i)] = code;
      }
    add_constant(name, std::move(codes));
  } else {
    TensorQuantizer quantizer = TensorQuantizer::per_channel(std::move(params));
    if (narrow) quantizer.narrow_range();
    add_constant(name, quantizer.codes(w, container));
  }
  int_graph.weights[name] = record;
  return record.scales;
}

RealMatrix Lowering::dequantized_weights(const std::string& name) const {
  return dequantized(int_graph.constants.at(name), int_graph.weights.at(name));
}

RealMatrix Lowering::dequantized(const Tensor& codes, const WeightQuant& record) {
  const int64_t rows = codes.shape.at(0), per = codes.numel() / rows;
  RealMatrix w(rows, per);
  for (int64_t r = 0; r < rows; ++r) {
    const double scale = record.scales.at(record.scales.size() == 1 ? 0 : static_cast<size_t>(r));
    for (int64_t i = 0; i < per; ++i)
      w(r, i) = scale * static_cast<double>(codes.ints[static_cast<size_t>(r * per + i)] - record.zero_point(r));
  }
  return w;
}

void Lowering::enable_layer_inputs(const SampleSource* images) {
  if (!images || prequantized) return;
  const auto from_inputs = [](const LayerQuantConfig& c) {
    return c.weight_algorithm != "nearest" || c.bias_correction;
  };
  bool wanted = false;
  for (const Node& n : graph.nodes) wanted = wanted || from_inputs(config.for_node(n.name));
  if (!wanted) return;
  quantized_graph = std::make_unique<Graph>(graph);
  quantized_position.resize(graph.nodes.size());
  std::iota(quantized_position.begin(), quantized_position.end(), size_t{0});
  layer_input_images = images;
}

namespace {
size_t node_index(const Graph& g, const Node& n) {
  const size_t index = static_cast<size_t>(&n - g.nodes.data());
  if (index >= g.nodes.size()) throw std::logic_error("lowering: a node outside the graph");
  return index;
}
}  // namespace

void Lowering::convert_block_input(const Node& n, size_t op, int operand) {
  const size_t index = node_index(graph, n), at = quantized_position.at(index);
  Node copy;
  copy.name = n.name + ".block_input" + std::to_string(operand), copy.op_type = "Identity";
  copy.inputs = {n.inputs.at(static_cast<size_t>(operand))}, copy.outputs = {copy.name};
  quantized_graph->nodes.at(at).inputs.at(static_cast<size_t>(operand)) = copy.name;
  block_input_copies[copy.name] = {op, operand};
  quantized_graph->nodes.insert(quantized_graph->nodes.begin() + static_cast<std::ptrdiff_t>(at), std::move(copy));
  for (size_t i = index; i < quantized_position.size(); ++i) ++quantized_position[i];
}

std::vector<LayerInputMoments> Lowering::layer_input_moments(const Node& n, const MacInputGeometry& g) const {
  const size_t index = node_index(graph, n), at = quantized_position.at(index);
  // What the integer network computes before this layer: each tensor it holds as codes, as the reals of the
  // codes (masks and exact integers keep their values), and each block layer's input as it converts it.
  const auto fake_quantize = [this](const std::string& name, Tensor& t) {
    if (const auto copy = block_input_copies.find(name); copy != block_input_copies.end())
      return ops::block_fake_convert(int_graph, int_graph.ops.at(copy->second.first), copy->second.second, t);
    const auto v = int_graph.values.find(name);
    if (!t.is_float() || v == int_graph.values.end() || exact_integers.count(name) || additive_masks.count(name))
      return;
    const QuantParams& q = v->second.quant;
    if (!(q.scale > 0)) return;  // accumulators and other values without a real scale
    for (float& x : t.floats)
      if (std::isfinite(x)) x = static_cast<float>(q.scale * static_cast<double>(code_of(x, q) - q.zero_point));
  };
  const std::string input = graph.inputs.at(0).name;
  return collect_layer_moments(
      graph, *quantized_graph, GraphPrefix{index, n.inputs.at(0)},
      GraphPrefix{at, quantized_graph->nodes.at(at).inputs.at(0)}, g, *layer_input_images,
      [&](Tensor& x) { fake_quantize(input, x); }, fake_quantize, "inputs of " + n.name);
}

void Lowering::set_quantized_input(const Node& n, size_t input, Tensor value) {
  Node& copy = quantized_graph->nodes.at(quantized_position.at(node_index(graph, n)));
  std::string name = input < copy.inputs.size() ? copy.inputs[input] : "";
  if (name.empty()) {  // a bias the float layer did not have (bias correction made one)
    name = n.name + ".quantized_input." + std::to_string(input);
    copy.inputs.resize(std::max(copy.inputs.size(), input + 1));
    copy.inputs[input] = name;
  }
  quantized_graph->initializers[name] = std::move(value);
}

void Lowering::quantize_bias(const Node& n, size_t input, const Tensor* b, double s_x, const std::vector<double>& s_w,
                             const LayerQuantConfig& c, const std::string& name) {
  if (!b) return;
  if (const QuantizedConstant* given = given_codes(n, input)) {
    for (size_t ch = 0; ch < s_w.size(); ++ch) {
      const double expected = static_cast<float>(static_cast<float>(s_x) * static_cast<float>(s_w[ch]));
      const double got = given->scales[given->scales.size() == 1 ? 0 : ch];
      if (std::fabs(got - expected) > 1e-6 * expected || given->zero_points[given->scales.size() == 1 ? 0 : ch] != 0)
        cannot(n, "its bias (" + given->producer + ") is not quantized at x_scale·w_scale with zero point 0 (channel " +
                      std::to_string(ch) + ")");
    }
    Tensor q = given->codes;
    q.dtype = DType::int32;
    add_constant(name, std::move(q));
    return;
  }
  const IntFormat f = IntFormat::make(c.bias_bits, true);
  Tensor q = Tensor::zeros(DType::int32, {static_cast<int64_t>(s_w.size())});
  for (size_t ch = 0; ch < s_w.size(); ++ch) {
    const double r = round_to_integer(b->floats.at(ch) / (s_x * s_w[ch]), RoundingMode::half_even);
    if (r < static_cast<double>(f.min()) || r > static_cast<double>(f.max()))
      cannot(n, "bias of channel " + std::to_string(ch) + " needs more than " + std::to_string(c.bias_bits) + " bits");
    q.ints[ch] = static_cast<int64_t>(r);
  }
  add_constant(name, std::move(q));
}

FixedMultiplier Lowering::stored_multiplier(double scale, const LayerQuantConfig& c, const std::string& where) const {
  const int bits = stored_multiplier_bits(c.requant_flavour, c.multiplier_bits);
  const double s =
      c.requant_flavour == RequantFlavour::float32 ? static_cast<double>(static_cast<float>(scale)) : scale;
  try {
    return derive_multiplier(s, bits);
  } catch (const InputError& e) {
    throw InputError(graph.source + ": " + where + ": " + e.what());
  }
}

void Lowering::add_mulshift(const std::string& name, const std::string& acc, const std::string& out,
                            const std::vector<double>& scales, const LayerQuantConfig& c,
                            std::pair<int64_t, int64_t> clamp, int64_t channel_axis) {
  Tensor m = Tensor::zeros(DType::int32, {static_cast<int64_t>(scales.size())}), s = m;
  for (size_t i = 0; i < scales.size(); ++i) {
    const FixedMultiplier f = stored_multiplier(scales[i], c, name + " (channel " + std::to_string(i) + ")");
    m.ints[i] = f.multiplier, s.ints[i] = f.shift;
  }
  add_constant(name + ".multiplier", std::move(m));
  add_constant(name + ".shift", std::move(s));
  Node ms = op("mulshift", name, {acc, name + ".multiplier", name + ".shift"}, {out});
  set_requant_attrs(ms, c);
  ms.attributes["clamp_lo"] = clamp.first;
  ms.attributes["clamp_hi"] = clamp.second;
  if (channel_axis != 1) ms.attributes["axis"] = channel_axis;
  int_graph.ops.push_back(std::move(ms));
}

void Lowering::compress_weights(const Node& n, const std::string& name, const LayerQuantConfig& c, int bits) {
  const auto record = int_graph.weights.find(name);
  if (record != int_graph.weights.end() && !record->second.zero_is_code_0())
    cannot(n,
           "N:M sparsity keeps the nonzero codes, so a pruned weight must be code 0: its weights need zero point 0 "
           "(weights.signed: true, weights.symmetric: true)");
  Tensor codes = std::move(int_graph.constants.at(name));
  int_graph.constants.erase(name);
  if (c.sparsity_on_codes) prune_nm(codes, c.sparsity);
  const int64_t rows = codes.shape.at(0), k = codes.numel() / rows;
  kernels::NmWeights nm;
  try {
    nm = kernels::compress_nm(c.sparsity, rows, k, std::vector<int32_t>(codes.ints.begin(), codes.ints.end()),
                              n.describe());
  } catch (const InputError& e) {
    cannot(n, e.what());
  }
  add_constant(name + ".values", Tensor::of_ints(codes.dtype, {rows, nm.groups() * c.sparsity.n},
                                                 std::vector<int64_t>(nm.values.begin(), nm.values.end())));
  add_constant(name + ".indices", Tensor::of_ints(DType::int64, {nm.words()},
                                                  std::vector<int64_t>(nm.index_words.begin(), nm.index_words.end())));
  int_graph.values[name] = IntValue{
      codes.shape, QuantParams{IntFormat::make(bits > 0 ? bits : (codes.dtype == DType::int8 ? 8 : 16), true), 0, 0.0}};
  Node decode = op("sparse_decode", name + ".decode", {name + ".values", name + ".indices"}, {name});
  decode.attributes["n"] = int64_t{c.sparsity.n}, decode.attributes["m"] = int64_t{c.sparsity.m};
  decode.attributes["shape"] = codes.shape;
  decode.attributes["stage"] = std::string(c.sparsity_on_codes ? "codes" : "float");  // where it was pruned (reports)
  int_graph.ops.push_back(std::move(decode));
}

void Lowering::set_requant_attrs(Node& n, const LayerQuantConfig& c) {
  n.attributes["flavour"] = std::string(to_string(c.requant_flavour));
  n.attributes["rounding"] = std::string(to_string(c.requant_rounding));
  n.attributes["multiplier_bits"] = int64_t{stored_multiplier_bits(c.requant_flavour, c.multiplier_bits)};
}

void Lowering::add_accumulator(const std::string& name, const std::string& like, const LayerQuantConfig& c) {
  int_graph.values[name] = IntValue{shape_of(like), QuantParams{IntFormat::make(c.accumulator_bits, true), 0, 0.0}};
}

void Lowering::set_accumulator_attrs(Node& n, const LayerQuantConfig& c) {
  n.attributes["acc_bits"] = int64_t{c.accumulator_bits};
  n.attributes["overflow"] = std::string(to_string(c.accumulator_overflow));
}

double Lowering::mac_scale(double s_x, double s_w, double s_y, const LayerQuantConfig& c) const {
  if (prequantized && c.requant_flavour == RequantFlavour::float32)
    return static_cast<float>(static_cast<float>(static_cast<float>(s_x) * static_cast<float>(s_w)) /
                              static_cast<float>(s_y));
  return s_x * s_w / s_y;
}

void Lowering::lower_data_movement(const Node& n, const std::string& type,
                                   std::map<std::string, AttributeValue> attrs) {
  require_quantized(n.inputs.at(0), n);
  const QuantParams& in_q = int_graph.values.at(n.inputs[0]).quant;
  if (prequantized) {
    const auto given = prequantized->activations.find(n.outputs[0]);
    if (given != prequantized->activations.end() &&
        (given->second.scale != in_q.scale || given->second.zero_point != in_q.zero_point ||
         !(given->second.format == in_q.format)))
      cannot(n,
             "it moves data, but the model quantizes its output with other parameters than its input (a requantizing " +
                 n.op_type + " is not supported)");
  }
  int_graph.values[n.outputs[0]] = IntValue{shape_of(n.outputs[0]), in_q};
  if (exact_integers.count(n.inputs[0])) exact_integers.insert(n.outputs[0]);
  Node m = op(type, n.name, {n.inputs[0]}, {n.outputs[0]});
  m.attributes = std::move(attrs);
  int_graph.ops.push_back(std::move(m));
}

void Lowering::lower(const Node& n) {
  if (const LoweringRule* rule = find_lowering_rule(n.domain, n.op_type)) return rule->lower(*this, n);
  if (!n.domain.empty())
    cannot(n,
           "custom-domain ops are not lowered (QONNX Quant nodes are read as quantization parameters; other custom ops "
           "are not supported)");
  std::vector<std::string> lowered;
  for (const LoweringRule& r : lowering_rules())
    if (!r.refusal) lowered.push_back(r.domain.empty() ? r.op_type : r.domain + "::" + r.op_type);
  std::sort(lowered.begin(), lowered.end());
  lowered.erase(std::unique(lowered.begin(), lowered.end()), lowered.end());
  std::string list;
  for (const std::string& t : lowered) list += (list.empty() ? "" : ", ") + t;
  cannot(n, "no integer lowering for " + n.op_type + " yet (lowered: " + list +
                "; docs/numerics.md §6 says how each lowers)");
}

// Written by quant/CMakeLists.txt from its family list: every family file's rules.
std::vector<LoweringRule> listed_lowering_rules();

const std::vector<LoweringRule>& lowering_rules() {
  static const std::vector<LoweringRule> rules = listed_lowering_rules();
  return rules;
}

const LoweringRule* find_lowering_rule(const std::string& domain, const std::string& op_type) {
  static const std::map<std::pair<std::string, std::string>, const LoweringRule*> by_type = [] {
    std::map<std::pair<std::string, std::string>, const LoweringRule*> m;
    for (const LoweringRule& r : lowering_rules())
      if (!m.emplace(std::make_pair(r.domain, r.op_type), &r).second)
        throw std::logic_error("two lowering rules for " + r.op_type);
    return m;
  }();
  const auto it = by_type.find({domain, op_type});
  return it == by_type.end() ? nullptr : it->second;
}

std::vector<ConfigKey> lowering_config_keys() {
  using C = LayerQuantConfig;
  return {
      integer_key("weights", "bits", 2, 16, &C::weight_bits, "width of the weight codes"),
      boolean_key("weights", "signed", &C::weight_signed,
                  "signed codes, or unsigned ones (symmetric: the signed codes + 2^(b−1), zero point 2^(b−1))"),
      boolean_key("weights", "symmetric", &C::weight_symmetric,
                  "symmetric: narrow range [−(2^(b−1)−1), 2^(b−1)−1] around the zero point, scale = clip / "
                  "(2^(b−1)−1); asymmetric: the slice's [min, max] (each tail cut at the clip, 0 included) over the "
                  "whole format, with a zero point per slice"),
      choice_key(
          "weights", "granularity", fixed_choices({"per_channel", "per_tensor"}),
          [](C& c, const std::string& v) { c.weight_per_channel = v == "per_channel"; },
          [](const C& c) { return std::string(c.weight_per_channel ? "per_channel" : "per_tensor"); },
          "one scale per output channel, or one per tensor"),
      integer_key("activations", "bits", 2, 16, &C::activation_bits,
                  "width of the activation codes a layer **outputs**"),
      boolean_key("activations", "signed", &C::activation_signed, "signed or unsigned codes (asymmetric activations)"),
      boolean_key("activations", "symmetric", &C::activation_symmetric,
                  "symmetric: signed codes, zero point 0, scale = max\\|x\\| / (2^(b−1)−1)"),
      choice_key(
          "requant", "flavour", fixed_choices({"gemmlowp", "single", "float"}),
          [](C& c, const std::string& v) { c.requant_flavour = parse_requant_flavour(v); },
          [](const C& c) { return std::string(to_string(c.requant_flavour)); },
          "docs/numerics.md §3.2; `float` is ONNX Runtime's float32 requantization (its scale is stored exactly as a "
          "24-bit multiplier)"),
      choice_key(
          "requant", "rounding", fixed_choices({"half_even", "half_away", "half_up", "floor", "toward_zero"}),
          [](C& c, const std::string& v) { c.requant_rounding = parse_rounding_mode(v); },
          [](const C& c) { return std::string(to_string(c.requant_rounding)); },
          "the rounding of the `single` flavour (gemmlowp's is fixed)"),
      integer_key("requant", "multiplier_bits", kMinMultiplierBits, kMaxMultiplierBits, &C::multiplier_bits,
                  "width of the integer multiplier, docs/numerics.md §3.1 (not used by `float`, which stores 24 bits)"),
      integer_key("bias", "bits", 8, 32, &C::bias_bits,
                  "bias codes at scale s_x·s_w; a bias that does not fit is an error naming the layer"),
      integer_key("accumulator", "bits", AccumulatorSpec::kMinBits, 32, &C::accumulator_bits,
                  "MAC accumulator width (wider accumulators come with a narrowing step later)"),
      choice_key(
          "accumulator", "overflow", fixed_choices({"wrap", "saturate", "error"}),
          [](C& c, const std::string& v) { c.accumulator_overflow = parse_overflow_policy(v); },
          [](const C& c) { return std::string(to_string(c.accumulator_overflow)); }, "docs/numerics.md §4"),
  };
}

}  // namespace chipref
