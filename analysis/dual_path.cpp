#include "analysis/dual_path.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "analysis/metrics.hpp"
#include "core/progress.hpp"
#include "model/executor.hpp"
#include "model/io/samples.hpp"
#include "numerics/rounding.hpp"
#include "ops/mac.hpp"
#include "ops/op_def.hpp"
#include "ops/sparse_decode.hpp"
#include "quant/channel_views.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

namespace chipref {

int AccumulatorUse::bits_used() const { return signed_bits(min, max); }

namespace {

// An input of a block-format layer that the fake path converts: the op and which operand.
struct BlockOperand {
  const Node* op = nullptr;
  int operand = 0;
  void convert(const IntGraph& q, Tensor& t) const { ops::block_fake_convert(q, *op, operand, t); }
};

// The float graph of the fake-quant path: the prepared (BN-folded) graph with weights and biases
// replaced by their dequantized codes.
// `block_inputs`: for each block-format layer, the name of each copy of an input that the fake path converts
// into the layer's format (an Identity inserted before the layer's float node), with the op and the operand.
Graph fake_quant_graph(const Graph& prepared, const IntGraph& q, std::map<std::string, BlockOperand>& block_inputs) {
  Graph g = prepared;
  for (const Node& op : q.ops) {
    const ops::OpDef& def = ops::op_def(op);
    if (def.mac != ops::MacOperand::weights && def.constant_codes_input < 0 && !def.block_facts) continue;
    const std::string node_name = op.get_string("source");
    auto node = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == node_name; });
    if (node == g.nodes.end())
      throw InputError(q.source_model + ": IntGraph op '" + op.name + "' has no float node '" + node_name + "'");
    if (def.block_facts && !def.block_facts(q, op).constant_weights) {  // both operands converted (attention)
      for (int operand = 1; operand >= 0; --operand) {
        Node copy;
        copy.name = op.name + ".fake_block_input" + std::to_string(operand), copy.op_type = "Identity";
        copy.inputs = {node->inputs.at(static_cast<size_t>(operand))}, copy.outputs = {copy.name};
        node->inputs[static_cast<size_t>(operand)] = copy.name;
        block_inputs[copy.name] = BlockOperand{&op, operand};
        node = g.nodes.insert(node, std::move(copy)) + 1;
      }
      continue;
    }
    if (def.block_facts) {  // a block-format layer: its weights' and bias's values, and its input converted
      auto [w, b] = ops::block_mac_float_weights(q, op);
      if ((node->op_type == "Gemm" && node->get_int("transB", 0) == 0) || node->op_type == "MatMul") {
        Tensor t = Tensor::zeros(DType::float32, {w.shape[1], w.shape[0]});
        for (int64_t o = 0; o < w.shape[0]; ++o)
          for (int64_t i = 0; i < w.shape[1]; ++i) t.floats[i * w.shape[0] + o] = w.floats[o * w.shape[1] + i];
        w = std::move(t);
      }
      g.initializers[node->inputs[1] + ".fake_quant"] = std::move(w);
      node->inputs[1] += ".fake_quant";
      if (!b.shape.empty() && node->has_input(2)) {
        g.initializers[node->inputs[2] + ".fake_quant"] = std::move(b);
        node->inputs[2] += ".fake_quant";
      }
      // The input's other readers see its uniform values: the layer reads a copy, converted by the hooks.
      Node copy;
      copy.name = op.name + ".fake_block_input", copy.op_type = "Identity";
      copy.inputs = {node->inputs.at(0)}, copy.outputs = {copy.name};
      node->inputs[0] = copy.name;
      block_inputs[copy.name] = BlockOperand{&op, 0};
      g.nodes.insert(node, std::move(copy));
      continue;
    }
    if (def.constant_codes_input >= 0) {  // a constant activation operand (class token, position embedding)
      const Tensor& codes = q.constants.at(op.inputs.at(static_cast<size_t>(def.constant_codes_input)));
      const QuantParams& qp = q.values.at(op.outputs[0]).quant;
      std::string& name = node->inputs.at(static_cast<size_t>(op.get_int("source_input")));
      // The codes' shape: the constant as the float graph has it, or written out to the shape of the
      // operand it is added to (it broadcast there, so the float node computes the same either way).
      Tensor c = Tensor::zeros(DType::float32, codes.shape);
      for (int64_t i = 0; i < c.numel(); ++i)
        c.floats[i] = static_cast<float>(qp.scale * static_cast<double>(codes.ints[i] - qp.zero_point));
      g.initializers[name + ".fake_quant"] = std::move(c);
      name += ".fake_quant";
      continue;
    }
    const Tensor codes = mac_weight_codes(q, op.inputs[1]);  // N:M-compressed weights decoded
    const auto record = q.weights.find(op.inputs[1]);
    if (record == q.weights.end() || record->second.scales.empty())
      throw InputError(q.source_model + ": the IntGraph records no weight scales for '" + op.inputs[1] +
                       "'; re-run quantize");
    const std::vector<double>& s_w = record->second.scales;
    const int64_t channels = codes.shape.at(0), per = codes.numel() / channels;
    Tensor w = Tensor::zeros(DType::float32, codes.shape);
    for (int64_t i = 0; i < codes.numel(); ++i)
      w.floats[i] =
          static_cast<float>(static_cast<double>(codes.ints[i] - record->second.zero_point(i / per)) * s_w[i / per]);
    if ((node->op_type == "Gemm" && node->get_int("transB", 0) == 0) ||
        node->op_type == "MatMul") {  // back to the float graph's [in, out]
      Tensor t = Tensor::zeros(DType::float32, {codes.shape[1], codes.shape[0]});
      for (int64_t o = 0; o < channels; ++o)
        for (int64_t i = 0; i < per; ++i) t.floats[i * channels + o] = w.floats[o * per + i];
      w = std::move(t);
    }
    g.initializers[node->inputs[1] + ".fake_quant"] = std::move(w);
    node->inputs[1] += ".fake_quant";
    if (op.inputs.size() > 2) {
      const Tensor& b_codes = q.constants.at(op.inputs[2]);
      const double s_x = q.values.at(op.inputs[0]).quant.scale;
      Tensor b = Tensor::zeros(DType::float32, {channels});
      for (int64_t c = 0; c < channels; ++c)
        b.floats[c] = static_cast<float>(static_cast<double>(b_codes.ints[c]) * s_x * s_w[c]);
      // The bias input: a Conv's / Gemm's third input, or the constant input of a MatMul's Add.
      Node* holder = &*node;
      size_t index = 2;
      if (op.has("bias_source")) {
        const std::string add_name = op.get_string("bias_source");
        const auto add =
            std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == add_name; });
        if (add == g.nodes.end())
          throw InputError(q.source_model + ": IntGraph op '" + op.name + "' has no float node '" + add_name + "'");
        holder = &*add;
        index = g.initializers.count(add->inputs.at(1)) ? 1 : 0;
      }
      g.initializers[holder->inputs.at(index) + ".fake_quant"] = std::move(b);
      holder->inputs[index] += ".fake_quant";
    }
  }
  return g;
}

}  // namespace

DualPathReport compare_paths(const Graph& float_graph, const IntGraph& q, const LabelledImages& data,
                             int64_t batch_size, const IntGraph* dense) {
  DualPathReport r;
  r.model = q.source_model, r.config = q.config_name;
  const Graph fp32_graph = prepare_for_quantization(float_graph);
  // The fake-quant path starts from the float graph the IntGraph was lowered from: with the channel
  // rescalings quantize applied (a SmoothQuant LayerNorm's γ and β are float in that path).
  Graph lowered_from = fp32_graph;
  for (const ChannelRescaling& r : q.rescalings) apply_rescaling(lowered_from, r);
  std::map<std::string, BlockOperand> block_inputs;
  const Graph fake_graph = fake_quant_graph(lowered_from, q, block_inputs);
  const FloatExecutor fp32(fp32_graph), fake(fake_graph);
  // The per-layer FP32 references of a rescaled network are the rescaled float graph's tensors (the same
  // function; a smoothed LayerNorm's output is the FP32 one divided channel by channel). Top-1 stays the
  // model's own.
  std::optional<FloatExecutor> rescaled_fp32;
  if (!q.rescalings.empty()) rescaled_fp32.emplace(lowered_from);
  const DirectEngine engine(q);
  const std::string input = fp32_graph.inputs.at(0).name, output = fp32_graph.outputs.at(0).name;
  // A model exported with a fixed batch runs that many inputs at a time: the hooks below index one run's
  // tensors by the trace of the same inputs.
  if (const int64_t fixed = fixed_batch(q); fixed > 0)
    batch_size = fixed;
  else  // a batch's trace and float tensors stay alive together: bounded by the input's size
    batch_size = rows_per_batch(data.images.shape, data.images.dtype, batch_size);

  // Activation values (scale > 0) in execution order, and the accumulators of the MAC ops.
  std::set<std::string>
      float_tensors;  // an IntGraph value without a float counterpart (a constant's codes) has no reference
  for (const Node& n : lowered_from.nodes) float_tensors.insert(n.outputs.begin(), n.outputs.end());
  for (const auto& in : lowered_from.inputs) float_tensors.insert(in.name);
  for (const Node& op : q.ops)
    for (const auto& out : op.outputs) {
      const auto v = q.values.find(out);
      if (v == q.values.end() || (v->second.quant.scale > 0 && !float_tensors.count(out))) continue;
      if (v->second.quant.scale > 0) {
        r.layers.push_back(LayerComparison{out, op.name, v->second.quant.format.name()});
      } else if (ops::is_mac(op)) {
        r.accumulators.push_back(
            AccumulatorUse{out, op.name, static_cast<int>(op.get_int("acc_bits")), INT64_MAX, INT64_MIN, 0});
      }
    }

  for (const Node& op : q.ops)
    if (op.has("error_max_micro_lsb"))
      r.nonlinears.push_back(NonLinearError{
          op.name, ops::op_def(op).approximates ? ops::op_def(op).approximates(op) : op.name,
          op.get_string("method", std::string("lut")), 1e-6 * static_cast<double>(op.get_int("error_max_micro_lsb")),
          1e-6 * static_cast<double>(op.get_int("error_mean_micro_lsb")), op.get_int("error_codes"),
          op.get_int("error_saturated_codes"), op.get_int("error_within_bound") != 0});

  for (const Node& op : q.ops) {
    if (!ops::has_role(op, ops::OpRole::constant)) continue;
    const kernels::NmWeights w = nm_weights_of(q, op);
    SparseLayer s;
    for (const Node& mac : q.ops)
      if (mac.inputs.size() > 1 && mac.inputs[1] == op.outputs.at(0)) s.layer = mac.name;
    s.pattern = std::to_string(w.pattern.n) + ":" + std::to_string(w.pattern.m),
    s.stage = op.get_string("stage", std::string("float"));
    const int64_t bits = q.values.at(op.outputs[0]).quant.format.bits();
    s.weights = w.rows * w.k;
    for (int32_t v : w.values) s.nonzero += v != 0;
    s.dense_bits = s.weights * bits;
    s.compressed_bits = w.index_count() * (bits + w.pattern.index_bits());
    r.sparse_layers.push_back(s);
  }
  std::optional<DirectEngine> dense_engine;
  if (dense) dense_engine.emplace(*dense), r.dense_integer = Top1Result{};

  const int64_t n = data.images.shape.at(0);
  ProgressBar progress("dual path", n);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t b = std::min(batch_size, n - start);
    const Tensor x = rows_of(data.images, start, b);

    RunTrace trace;
    count_top1(engine.run(x, &trace), b, data.labels, start, q.source_model, r.integer);
    if (dense_engine) count_top1(dense_engine->run(x), b, data.labels, start, q.source_model, *r.dense_integer);
    TensorMap fp32_values = (rescaled_fp32 ? *rescaled_fp32 : fp32).run({{input, x}}, true);
    fp32_values[input] = x;
    count_top1(rescaled_fp32 ? fp32.run({{input, x}}).at(output) : fp32_values.at(output), b, data.labels, start,
               fp32_graph.source, r.fp32);
    // Exact integers (token ids, comparisons, masks) are no quantized reals: nothing to compare.
    if (start == 0)
      r.layers.erase(std::remove_if(r.layers.begin(), r.layers.end(),
                                    [&](const LayerComparison& l) { return !fp32_values.at(l.value).is_float(); }),
                     r.layers.end());

    // Fake-quant path for accuracy: the input and every quantized tensor rounded to its codes and back.
    auto fake_quantize = [&](const std::string& name, Tensor& t) {
      const auto v = q.values.find(name);
      if (const auto block = block_inputs.find(name); block != block_inputs.end()) return block->second.convert(q, t);
      if (v == q.values.end() || v->second.quant.scale <= 0 || !t.is_float()) return;
      for (float& f : t.floats)
        f = static_cast<float>(v->second.quant.scale *
                               static_cast<double>(code_of(f, v->second.quant) - v->second.quant.zero_point));
    };
    Tensor fake_input = x;
    fake_quantize(input, fake_input);
    count_top1(fake.run({{input, fake_input}}, false, fake_quantize).at(output), b, data.labels, start,
               fake_graph.source, r.fake_quant);

    // Per-layer comparison in isolation: each layer of the fake-quant path computes from exactly the
    // integer path's input codes (dequantized), so a difference is that layer's own, not one inherited.
    std::map<std::string, std::vector<int64_t>> fake_codes;
    auto force_integer_inputs = [&](const std::string& name, Tensor& t) {
      if (const auto block = block_inputs.find(name); block != block_inputs.end()) return block->second.convert(q, t);
      const auto v = q.values.find(name);
      if (v == q.values.end() || v->second.quant.scale <= 0 || !t.is_float()) return;
      const QuantParams& qp = v->second.quant;
      const auto& ints = trace.values.at(name).data;
      std::vector<int64_t>& codes = fake_codes[name];
      codes.resize(t.floats.size());
      for (size_t i = 0; i < t.floats.size(); ++i) {
        codes[i] = code_of(t.floats[i], qp);
        t.floats[i] = static_cast<float>(qp.scale * static_cast<double>(ints[i] - qp.zero_point));
      }
    };
    Tensor forced_input = x;
    force_integer_inputs(input, forced_input);
    fake.run({{input, forced_input}}, false, force_integer_inputs);

    for (auto& layer : r.layers) {
      const auto& ints = trace.values.at(layer.value).data;
      const auto& fakes = fake_codes.at(layer.value);
      const Tensor& reference = fp32_values.at(layer.value);
      const QuantParams& qp = q.values.at(layer.value).quant;
      for (size_t i = 0; i < ints.size(); ++i) {
        const int64_t d = std::abs(int64_t{ints[i]} - fakes[i]);
        layer.differing += d != 0, layer.within_one += d <= 1, layer.max_abs_lsb = std::max(layer.max_abs_lsb, d);
        const double real = qp.scale * static_cast<double>(ints[i] - qp.zero_point), ref = reference.floats[i];
        layer.sqnr.add(ref, real);
      }
      layer.elements += static_cast<int64_t>(ints.size());
    }
    for (auto& acc : r.accumulators) {
      for (int32_t v : trace.values.at(acc.value).data)
        acc.min = std::min<int64_t>(acc.min, v), acc.max = std::max<int64_t>(acc.max, v);
      acc.overflow_events += trace.overflows[acc.producer].events;
    }
    progress.update(start + b);
  }
  return r;
}

std::string layer_table_markdown(const std::vector<LayerComparison>& layers) {
  std::ostringstream md;
  auto pct = [](double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; };
  md << "| value | produced by | format | elements | differing | within 1 LSB | max \\|diff\\| LSB | SQNR dB "
        "|\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& l : layers)
    md << "| `" << l.value << "` | `" << l.producer << "` | " << l.format << " | " << l.elements << " | "
       << pct(l.differing, l.elements) << " % | " << pct(l.within_one, l.elements) << " % | " << l.max_abs_lsb << " | "
       << l.sqnr_db() << " |\n";
  return md.str();
}

std::vector<LayerComparison> compare_with_reference(const IntGraph& q, const std::map<std::string, CodeTensor>& codes,
                                                    const std::map<std::string, Tensor>& reference) {
  for (const auto& [name, y] : reference) {
    const auto v = q.values.find(name);
    if (v == q.values.end() || q.constants.count(name))
      throw InputError("reference tensor '" + name +
                       "' is not an integer value of the IntGraph (its values are named " +
                       "after the ONNX tensors a quantizer quantized)");
    if (!y.is_float()) throw InputError("reference tensor '" + name + "': expected float32 fake-quantized values");
  }
  std::vector<LayerComparison> layers;
  for (const Node& op : q.ops)
    for (const std::string& out : op.outputs) {
      const auto y = reference.find(out);
      if (y == reference.end()) continue;
      const auto run = codes.find(out);
      if (run == codes.end()) throw InputError("reference tensor '" + out + "': the traced run has no such tensor");
      if (run->second.shape != y->second.shape)
        throw InputError("reference tensor '" + out + "' is " + shape_to_string(y->second.shape) +
                         "; the integer network's is " + shape_to_string(run->second.shape));
      const QuantParams& p = q.values.at(out).quant;
      LayerComparison layer{out, op.name, p.format.name()};
      layer.elements = static_cast<int64_t>(run->second.data.size());
      for (size_t i = 0; i < run->second.data.size(); ++i) {
        const double fake = y->second.floats[i];
        const int64_t expected = static_cast<int64_t>(std::nearbyint(fake / p.scale)) + p.zero_point;
        const int64_t got = run->second.data[i], d = std::abs(got - expected);
        layer.differing += d != 0, layer.within_one += d <= 1, layer.max_abs_lsb = std::max(layer.max_abs_lsb, d);
        layer.sqnr.add(fake, p.scale * static_cast<double>(got - p.zero_point));
      }
      layers.push_back(std::move(layer));
    }
  return layers;
}

std::string report_markdown(const DualPathReport& r) {
  std::ostringstream md;
  auto pct = [](double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; };
  md << "# chipref quantization report\n\nModel `" << r.model << "`, config `" << r.config << "`, " << r.integer.count
     << " Fashion-MNIST test images.\n\n";
  md << "| path | top-1 |\n|---|---|\n";
  md << "| FP32 (float executor) | " << pct(r.fp32.correct, r.fp32.count) << " % |\n";
  md << "| fake-quant (float simulation of the quantized network) | " << pct(r.fake_quant.correct, r.fake_quant.count)
     << " % |\n";
  md << "| integer (DirectEngine, bit-accurate) | " << pct(r.integer.correct, r.integer.count) << " % |\n";
  if (r.dense_integer)
    md << "| integer, the same config without sparsity | " << pct(r.dense_integer->correct, r.dense_integer->count)
       << " % |\n";
  md << "\n";
  if (!r.sparse_layers.empty()) {
    md << "## N:M sparse layers\n\nWeights pruned by magnitude along the reduction axis and stored compressed "
          "(docs/numerics.md §13): kept values plus "
          "⌈log2 M⌉-bit indices; sizes in bits, metadata included.\n\n"
          "| layer | pattern | pruned on | weights | non-zero | density | dense bits | compressed bits | ratio "
          "|\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& sl : r.sparse_layers)
      md << "| `" << sl.layer << "` | " << sl.pattern << " | " << sl.stage << " | " << sl.weights << " | " << sl.nonzero
         << " | " << 100.0 * sl.density() << " % | " << sl.dense_bits << " | " << sl.compressed_bits << " | "
         << static_cast<double>(sl.compressed_bits) / static_cast<double>(std::max<int64_t>(sl.dense_bits, 1))
         << " |\n";
    md << "\n";
  }
  md << "## Integer vs fake-quant, per layer (in output LSBs), and SQNR vs FP32\n\n"
        "Each layer is compared in isolation: its fake-quant computation starts from the integer path's input codes. "
        "SQNR compares the integer tensor (dequantized) with the FP32 network's, errors propagated.\n\n";
  md << layer_table_markdown(r.layers);
  if (!r.nonlinears.empty()) {
    md << "\n## Non-linear approximations, over every input code\n\n"
          "Each table against its float function (docs/numerics.md §8; `poly`: I-BERT's integer polynomial, §12), in "
          "output LSBs "
          "(softmax: its exp table, in units of 2^-15), codes whose output saturates excluded.\n\n"
          "| op | function | method | max error LSB | mean error LSB | saturated codes | within documented bound "
          "|\n|---|---|---|---|---|---|---|\n";
    for (const auto& nl : r.nonlinears)
      md << "| `" << nl.op << "` | " << nl.function << " | " << nl.method << " | " << nl.max_lsb << " | " << nl.mean_lsb
         << " | " << nl.saturated << " of " << nl.codes << " | " << (nl.within_bound ? "yes" : "**no**") << " |\n";
  }
  md << "\n## Accumulators\n\n| accumulator | produced by | configured bits | observed range | bits used | overflow "
        "events |\n|---|---|---|---|---|---|\n";
  for (const auto& a : r.accumulators)
    md << "| `" << a.value << "` | `" << a.producer << "` | " << a.configured_bits << " | [" << a.min << ", " << a.max
       << "] | " << a.bits_used() << " | " << a.overflow_events << " |\n";
  md << "\nDifferences between the integer and fake-quant paths come from the multiplier's relative error, the two "
        "roundings of a "
        "residual add, and float32 rounding in the fake-quant path (docs/numerics.md §6).\n";
  return md.str();
}

std::string report_json(const DualPathReport& r) {
  nlohmann::ordered_json j;
  j["model"] = r.model, j["config"] = r.config, j["images"] = r.integer.count;
  j["top1"] = {{"fp32", r.fp32.top1()}, {"fake_quant", r.fake_quant.top1()}, {"integer", r.integer.top1()}};
  for (const auto& l : r.layers)
    j["layers"].push_back({{"value", l.value},
                           {"producer", l.producer},
                           {"format", l.format},
                           {"elements", l.elements},
                           {"differing", l.differing},
                           {"within_one_lsb", l.within_one},
                           {"max_abs_lsb", l.max_abs_lsb},
                           {"sqnr_db", std::isfinite(l.sqnr_db()) ? nlohmann::ordered_json(l.sqnr_db())
                                                                  : nlohmann::ordered_json(nullptr)}});
  if (r.dense_integer) j["top1"]["integer_without_sparsity"] = r.dense_integer->top1();
  for (const auto& sl : r.sparse_layers)
    j["sparse_layers"].push_back({{"layer", sl.layer},
                                  {"pattern", sl.pattern},
                                  {"stage", sl.stage},
                                  {"weights", sl.weights},
                                  {"nonzero", sl.nonzero},
                                  {"density", sl.density()},
                                  {"dense_bits", sl.dense_bits},
                                  {"compressed_bits", sl.compressed_bits}});
  for (const auto& nl : r.nonlinears)
    j["nonlinears"].push_back({{"op", nl.op},
                               {"function", nl.function},
                               {"method", nl.method},
                               {"max_error_lsb", nl.max_lsb},
                               {"mean_error_lsb", nl.mean_lsb},
                               {"codes", nl.codes},
                               {"saturated_codes", nl.saturated},
                               {"within_bound", nl.within_bound}});
  for (const auto& a : r.accumulators)
    j["accumulators"].push_back({{"value", a.value},
                                 {"producer", a.producer},
                                 {"configured_bits", a.configured_bits},
                                 {"min", a.min},
                                 {"max", a.max},
                                 {"bits_used", a.bits_used()},
                                 {"overflow_events", a.overflow_events}});
  return j.dump(2) + "\n";
}

}  // namespace chipref
