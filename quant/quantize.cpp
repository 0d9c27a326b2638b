#include "quant/quantize.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>

#include "core/progress.hpp"
#include "model/executor.hpp"
#include "model/fold.hpp"
#include "model/ops/ops.hpp"
#include "ops/op_def.hpp"
#include "quant/calibrators.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/passes.hpp"
#include "quant/prequantized.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

int64_t code_of(double real, const QuantParams& q) {
  const double r = round_to_integer(real / q.scale, RoundingMode::half_even) + static_cast<double>(q.zero_point);
  return static_cast<int64_t>(std::clamp(r, static_cast<double>(q.format.min()), static_cast<double>(q.format.max())));
}

QuantParams activation_params(double lo, double hi, int bits, bool is_signed, bool symmetric) {
  lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (symmetric) {
    const IntFormat f = IntFormat::make(bits, true);  // symmetric activations are signed, zero point 0
    const double m = std::max(-lo, hi);
    return QuantParams{f, 0, m > 0 ? m / static_cast<double>(f.max()) : 1.0};
  }
  const IntFormat f = IntFormat::make(bits, is_signed);
  const double scale = hi > lo ? (hi - lo) / static_cast<double>(f.max() - f.min()) : 1.0;
  const double zp = round_to_integer(static_cast<double>(f.min()) - lo / scale, RoundingMode::half_even);
  return QuantParams{f, static_cast<int64_t>(std::clamp(zp, static_cast<double>(f.min()), static_cast<double>(f.max()))), scale};
}

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  std::shared_ptr<Histogram> histogram;  // when a histogram calibrator is configured anywhere
};

constexpr size_t kHistogramBins = 2048;

// Runs the float graph over the calibration images in batches of 100, calling `visit(name, tensor)` for
// every float tensor of every batch. With `threads` > 1 the batches run concurrently and the visits are
// serialized; the batches are the same either way, and what calibration gathers from them (minima, maxima,
// histogram counts) does not depend on their order, so the results are identical.
template <class Visit>
void for_each_calibration_tensor(const Graph& g, const Tensor& images, const char* label, int threads, Visit visit) {
  const FloatExecutor exec(g);
  const int64_t n = images.shape.at(0), per = images.numel() / std::max<int64_t>(n, 1), batch = 100;
  const int64_t batches = (n + batch - 1) / batch;
  ProgressBar progress(label, n);
  std::mutex mutex;
  std::atomic<int64_t> next{0}, done{0};
  std::exception_ptr failure;
  auto worker = [&] {
    try {
      for (int64_t i = next++; i < batches; i = next++) {
        const int64_t start = i * batch, b = std::min(batch, n - start);
        Shape shape = images.shape;
        shape[0] = b;
        Tensor x = Tensor::of_floats(shape, std::vector<float>(images.floats.begin() + start * per, images.floats.begin() + (start + b) * per));
        TensorMap values = exec.run({{g.inputs.at(0).name, x}}, true);
        values[g.inputs[0].name] = std::move(x);
        const std::lock_guard<std::mutex> lock(mutex);
        for (const auto& [name, t] : values)
          if (t.is_float() && !t.floats.empty()) visit(name, t);
        progress.update(done += b);
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = std::current_exception();
      next = batches;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int64_t>(threads, batches); ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

bool any_histogram_calibrator(const QuantConfig& c) {
  if (activation_calibrator(c.defaults.activation_calibrator).needs_histogram()) return true;
  for (const auto& o : c.overrides)
    if (activation_calibrator(o.config.activation_calibrator).needs_histogram()) return true;
  return false;
}

// Pass 1: the range of every tensor. Pass 2, only if a configured calibrator needs one: histograms over
// those ranges.
std::map<std::string, Range> calibrate(const Graph& g, const Tensor& images, const QuantConfig& config, int threads) {
  std::map<std::string, Range> ranges;
  for_each_calibration_tensor(g, images, "calibrate", threads, [&](const std::string& name, const Tensor& t) {
    const auto [mn, mx] = std::minmax_element(t.floats.begin(), t.floats.end());
    Range& r = ranges[name];
    r.lo = std::min<double>(r.lo, *mn), r.hi = std::max<double>(r.hi, *mx);
  });
  if (!any_histogram_calibrator(config)) return ranges;
  for (auto& [name, r] : ranges) r.histogram = std::make_shared<Histogram>(r.lo, r.hi, kHistogramBins);
  for_each_calibration_tensor(g, images, "histograms", threads, [&](const std::string& name, const Tensor& t) {
    ranges.at(name).histogram->add(t.floats.data(), t.floats.size());
  });
  return ranges;
}

// Lowers the prepared float graph. Quantization parameters come from calibrated ranges, or, for a
// pre-quantized model, from its quantizers (`pre`), taken as they are.
class Lowering {
 public:
  Lowering(const Graph& g, const QuantConfig& cfg, std::map<std::string, Range> ranges, const PrequantizedModel* pre, IntGraph& out,
           bool ignore_sparsity)
      : g_(g), cfg_(cfg), ranges_(std::move(ranges)), pre_(pre), out_(out), ignore_sparsity_(ignore_sparsity) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (const auto& in : g.nodes[i].inputs) consumers_[in].push_back(i);
    if (!pre_) share_concat_quantization();
  }

  void run() {
    const ValueInfo& input = g_.inputs.at(0);
    const QuantParams in_q = params_for(input.name, cfg_.defaults);
    add_value(input.name, in_q);
    Node q = op("quantize", "input_quantize", {out_.input_name}, {input.name});
    q.attributes["scale"] = static_cast<float>(in_q.scale);
    out_.ops.push_back(q);
    consumed_.assign(g_.nodes.size(), false);
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (!consumed_[i]) lower(i);
    // A rescaled tensor has no codes of its own: its readers read the codes it rescales.
    for (Node& o : out_.ops)
      for (auto& in : o.inputs)
        if (const auto a = aliases_.find(in); a != aliases_.end()) in = a->second;
    for (const auto& [alias, codes] : aliases_) out_.values.erase(alias);
    const std::string result = g_.outputs.at(0).name;
    require_quantized(result, g_.nodes.back());
    Node dq = op("dequantize", "output_dequantize", {result}, {out_.output_name});
    dq.attributes["scale"] = static_cast<float>(out_.values.at(result).quant.scale);
    out_.ops.push_back(dq);
  }

 private:
  static Node op(const std::string& type, const std::string& name, std::vector<std::string> ins, std::vector<std::string> outs) {
    Node n;
    n.name = name, n.op_type = type, n.domain = kIntDomain, n.inputs = std::move(ins), n.outputs = std::move(outs);
    return n;
  }

  [[noreturn]] void cannot(const Node& n, const std::string& why) const {
    throw InputError(g_.source + ": " + n.describe() + ": cannot be lowered to integer ops: " + why);
  }

  Shape shape_of(const std::string& name) const {
    const Shape* s = g_.known_shape(name);
    return s ? *s : Shape{};
  }

  // Concat moves codes, so its inputs must have its output's quantization: each input, and the chain of
  // data movement that produced it, is quantized from the output's calibrated range (as TFLite does).
  void share_concat_quantization() {
    std::map<std::string, const Node*> producer;
    for (const Node& n : g_.nodes)
      for (const auto& o : n.outputs) producer[o] = &n;
    const std::set<std::string> movement = {"Reshape", "Transpose", "Flatten", "Slice", "Gather"};
    for (const Node& n : g_.nodes) {
      if (n.op_type != "Concat" || !n.domain.empty()) continue;
      for (std::string t : n.inputs)
        for (;;) {
          shared_[t] = n.outputs[0];
          const auto p = producer.find(t);
          if (p == producer.end() || !p->second->domain.empty() || !movement.count(p->second->op_type)) break;
          t = p->second->inputs.at(0);
          if (g_.initializers.count(t)) break;
        }
    }
  }

  // The tensor whose calibrated range quantizes `tensor` (itself unless a Concat shares its own).
  std::string range_source(std::string tensor) const {
    for (auto it = shared_.find(tensor); it != shared_.end() && it->second != tensor; it = shared_.find(tensor)) tensor = it->second;
    return tensor;
  }

  QuantParams params_for(const std::string& name, const LayerQuantConfig& c) const {
    const std::string tensor = pre_ ? name : range_source(name);
    if (pre_) {
      const auto it = pre_->activations.find(tensor);
      if (it == pre_->activations.end())
        throw InputError(g_.source + ": tensor '" + tensor + "' is not quantized: in a pre-quantized model every tensor the integer network "
                         "computes needs a QuantizeLinear / DequantizeLinear pair (or a QONNX Quant)");
      return it->second;
    }
    const auto it = ranges_.find(tensor);
    if (it == ranges_.end()) throw InputError(g_.source + ": tensor '" + tensor + "' was never computed during calibration");
    const ActivationFormat f{c.activation_bits, c.activation_signed, c.activation_symmetric, c.activation_percentile};
    const auto [lo, hi] = activation_calibrator(c.activation_calibrator).choose(it->second.lo, it->second.hi, it->second.histogram.get(), f);
    return activation_params(lo, hi, f.bits, f.is_signed, f.symmetric);
  }

  void add_value(const std::string& name, const QuantParams& q) { out_.values[name] = IntValue{shape_of(name), q}; }

  void require_quantized(const std::string& name, const Node& n) const {
    if (!out_.values.count(name)) cannot(n, "its input '" + name + "' is not an integer value (produced by an op that was not lowered)");
  }

  const Tensor& initializer(const Node& n, size_t i) const {
    const auto it = n.has_input(i) ? g_.initializers.find(n.inputs[i]) : g_.initializers.end();
    if (it == g_.initializers.end() || !it->second.is_float()) cannot(n, "input " + std::to_string(i) + " must be a constant float tensor");
    return it->second;
  }

  // A Relu or Clip that is the only reader of `tensor`: fused into the preceding op's clamp.
  const Node* fusable_activation(const std::string& tensor) {
    const auto it = consumers_.find(tensor);
    if (it == consumers_.end() || it->second.size() != 1) return nullptr;
    const Node& n = g_.nodes[it->second[0]];
    if (!n.domain.empty() || (n.op_type != "Relu" && n.op_type != "Clip")) return nullptr;
    for (const auto& o : g_.outputs)
      if (o.name == tensor) return nullptr;
    consumed_[it->second[0]] = true;
    return &n;
  }

  // [lo, hi] codes of the output format that the activation allows.
  std::pair<int64_t, int64_t> clamp_for(const Node* act, const QuantParams& q) const {
    int64_t lo = q.format.min(), hi = q.format.max();
    if (!act) return {lo, hi};
    auto code = [&](double real) {
      return q.format.saturate(q.zero_point + static_cast<int64_t>(round_to_integer(real / q.scale, RoundingMode::half_even)));
    };
    if (act->op_type == "Relu") return {std::max(lo, q.zero_point), hi};
    const double mn = act->has_input(1) ? initializer(*act, 1).floats.at(0) : -std::numeric_limits<double>::infinity();
    const double mx = act->has_input(2) ? initializer(*act, 2).floats.at(0) : std::numeric_limits<double>::infinity();
    if (std::isfinite(mn)) lo = std::max(lo, code(mn));
    if (std::isfinite(mx)) hi = std::min(hi, code(mx));
    return {lo, hi};
  }

  void add_constant(const std::string& name, Tensor t) { out_.constants[name] = std::move(t); }

  // A float constant's codes (code_of each element).
  static Tensor codes_of(const Tensor& t, const QuantParams& q) {
    Tensor codes = Tensor::zeros(DType::int32, t.shape);
    for (int64_t i = 0; i < t.numel(); ++i) codes.ints[i] = code_of(t.floats[i], q);
    return codes;
  }

  // The BatchBroadcast that dynamic-batch folding left for a constant an export expanded to the batch
  // (a class token): its codes at its output's quantization, repeated to the batch.
  void lower_batch_broadcast(const Node& n) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    require_quantized(n.inputs.at(1), n);
    const QuantParams q = params_for(n.outputs.at(0), c);
    add_constant(n.name + ".codes", codes_of(initializer(n, 0), q));
    add_value(n.outputs[0], q);
    Node b = op("batch_broadcast", n.name, {n.name + ".codes", n.inputs[1]}, {n.outputs[0]});
    b.attributes["source"] = n.name, b.attributes["source_input"] = int64_t{0};  // the float constant (the dual-path check)
    out_.ops.push_back(std::move(b));
  }

  // A constant operand of an Add (a position embedding): its codes at its own per-tensor quantization,
  // repeated to the batch of the other operand. Returns the name of the repeated codes.
  std::string constant_operand(const Node& n, size_t i, const std::string& other, const LayerQuantConfig& c) {
    if (pre_) cannot(n, "adding a constant is lowered for calibrated models only");
    const Tensor& t = initializer(n, i);
    const Shape other_shape = out_.values.at(other).shape;
    Shape padded = t.shape, want = other_shape;
    while (padded.size() < want.size()) padded.insert(padded.begin(), 1);
    if (!want.empty()) want[0] = 1;
    if (padded != want || t.numel() == 0)
      cannot(n, "its constant operand " + shape_to_string(t.shape) + " must have the shape of the other operand " + shape_to_string(other_shape) +
                    " with a batch of 1");
    const auto [lo, hi] = std::minmax_element(t.floats.begin(), t.floats.end());
    const QuantParams q = activation_params(*lo, *hi, c.activation_bits, c.activation_signed, c.activation_symmetric);
    Tensor codes = codes_of(t, q);
    codes.shape = padded;
    const std::string name = n.name + ".constant";
    add_constant(name + ".codes", std::move(codes));
    out_.values[name] = IntValue{other_shape, q};
    Node b = op("batch_broadcast", name, {name + ".codes", other}, {name});
    b.attributes["source"] = n.name, b.attributes["source_input"] = static_cast<int64_t>(i);
    out_.ops.push_back(std::move(b));
    return name;
  }

  // Mul or Div by a positive constant scalar (attention's 1/√d): the codes stay and the scale changes, so
  // the readers read the input's codes and the factor lands in their requantization multiplier.
  void lower_scaling(const Node& n) {
    const bool div = n.op_type == "Div";
    const size_t k = !div && g_.initializers.count(n.inputs.at(0)) ? 0 : 1;
    const auto it = g_.initializers.find(n.inputs.at(k));
    if (it == g_.initializers.end() || !it->second.is_float() || it->second.numel() != 1)
      cannot(n, std::string("only a ") + (div ? "division" : "multiplication") + " by a constant scalar is lowered (an elementwise product of activations is not)");
    const double factor = it->second.floats[0];
    if (!(factor > 0) || !std::isfinite(factor)) cannot(n, "its constant " + std::to_string(factor) + " must be positive and finite (it rescales the codes)");
    const std::string x = n.inputs.at(1 - k), y = n.outputs.at(0);
    require_quantized(x, n);
    for (const auto& o : g_.outputs)
      if (o.name == y) cannot(n, "a rescaling cannot produce the graph output");
    if (pre_) cannot(n, "rescaling by a constant is lowered for calibrated models only");
    QuantParams q = out_.values.at(x).quant;
    q.scale = div ? q.scale / factor : q.scale * factor;
    out_.values[y] = IntValue{shape_of(y), q};
    const auto a = aliases_.find(x);
    aliases_[y] = a == aliases_.end() ? x : a->second;
  }

  // A constant integer input of n (Slice's starts, Gather's indices).
  const Tensor& int_constant(const Node& n, size_t i, const char* what) const {
    const auto it = n.has_input(i) ? g_.initializers.find(n.inputs[i]) : g_.initializers.end();
    if (it == g_.initializers.end() || it->second.is_float()) cannot(n, std::string("its ") + what + " must be constant integers");
    return it->second;
  }

  // A static axis of x for n, normalized to [0, rank).
  int64_t static_axis(const Node& n, const Shape& xs, int64_t axis) const {
    const int64_t rank = static_cast<int64_t>(xs.size());
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) cannot(n, "axis " + std::to_string(axis) + " is outside its input " + shape_to_string(xs));
    if (xs[a] < 0) cannot(n, "it indexes axis " + std::to_string(a) + " of " + shape_to_string(xs) + ", whose size is not static (the batch)");
    return a;
  }

  void lower_slice(const Node& n) {
    const Shape xs = shape_of(n.inputs.at(0));
    const std::vector<int64_t> starts = int_constant(n, 1, "starts").ints, ends = int_constant(n, 2, "ends").ints;
    std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1), begins, counts;
    std::iota(axes.begin(), axes.end(), 0);
    if (n.has_input(3)) axes = int_constant(n, 3, "axes").ints;
    if (n.has_input(4)) steps = int_constant(n, 4, "steps").ints;
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      cannot(n, "starts, ends, axes and steps must have the same length");
    for (size_t i = 0; i < axes.size(); ++i) {
      axes[i] = static_axis(n, xs, axes[i]);
      if (steps[i] == 0) cannot(n, "step 0 on axis " + std::to_string(axes[i]));
      const ops::SliceRange r = ops::slice_range(starts[i], ends[i], steps[i], xs[axes[i]]);
      begins.push_back(r.begin), counts.push_back(r.count);
    }
    lower_data_movement(n, "slice", {{"axes", axes}, {"starts", begins}, {"steps", steps}, {"counts", counts}});
  }

  void lower_gather(const Node& n) {
    const Shape xs = shape_of(n.inputs.at(0));
    const Tensor& idx = int_constant(n, 1, "indices");
    if (idx.rank() > 1) cannot(n, "only a scalar or a vector of indices is lowered");
    const int64_t axis = static_axis(n, xs, n.get_int("axis", 0));
    std::vector<int64_t> indices;
    for (int64_t j : idx.ints) {
      if (j < -xs[axis] || j >= xs[axis]) cannot(n, "index " + std::to_string(j) + " is outside axis " + std::to_string(axis) + " of " + shape_to_string(xs));
      indices.push_back(j < 0 ? j + xs[axis] : j);
    }
    lower_data_movement(n, "gather", {{"axis", axis}, {"indices", indices}, {"drop_axis", int64_t{idx.rank() == 0}}});
  }

  // A constant's codes from a pre-quantized model, or nullptr.
  const QuantizedConstant* given_codes(const Node& n, size_t i) const {
    if (!pre_ || !n.has_input(i)) return nullptr;
    const auto it = pre_->constants.find(n.inputs[i]);
    return it == pre_->constants.end() ? nullptr : &it->second;
  }

  // A pre-quantized weight as it is: symmetric codes (zero point 0) with one scale per tensor or per
  // output channel. `codes` is already laid out [out, ...]; returns the per-channel scales.
  std::vector<double> take_weights(const Node& n, const QuantizedConstant& given, Tensor codes, bool out_axis_ok, const std::string& name) {
    const int64_t channels = codes.shape.at(0);
    for (int64_t z : given.zero_points)
      if (z != 0) cannot(n, "its weights (" + given.producer + ") have zero point " + std::to_string(z) + "; the MAC array takes symmetric weights (zero point 0)");
    if (given.scales.size() != 1 && (!out_axis_ok || static_cast<int64_t>(given.scales.size()) != channels))
      cannot(n, "its weights (" + given.producer + ") must be quantized per tensor or per output channel");
    std::vector<double> scales(static_cast<size_t>(channels), given.scales[0]);
    if (given.scales.size() != 1) scales = given.scales;
    codes.dtype = codes.dtype == DType::uint8 || codes.dtype == DType::int8 ? DType::int8 : DType::int16;
    for (int64_t v : codes.ints)
      if (v < dtype_min(codes.dtype) || v > dtype_max(codes.dtype)) cannot(n, "its weights (" + given.producer + ") are unsigned codes above the signed range");
    add_constant(name, std::move(codes));
    out_.weight_scales[name] = scales;
    return scales;
  }

  // Symmetric narrow-range weight codes, per output channel (or per tensor); returns the scales.
  std::vector<double> quantize_weights(const Tensor& w, const LayerQuantConfig& c, const std::string& name) {
    const int64_t channels = w.shape.at(0), per = w.numel() / channels;
    const int64_t qmax = (int64_t{1} << (c.weight_bits - 1)) - 1;
    std::vector<double> scales(static_cast<size_t>(channels));
    const WeightCalibrator& calibrator = weight_calibrator(c.weight_calibrator);
    const double tensor_clip = c.weight_per_channel ? 0.0 : calibrator.clip(w.floats.data(), w.numel(), c.weight_bits);
    DType dtype = c.weight_bits <= 8 ? DType::int8 : DType::int16;
    Tensor q = Tensor::zeros(dtype, w.shape);
    for (int64_t ch = 0; ch < channels; ++ch) {
      const double m = c.weight_per_channel ? calibrator.clip(w.floats.data() + ch * per, per, c.weight_bits) : tensor_clip;
      scales[ch] = m > 0 ? m / static_cast<double>(qmax) : 1.0;
      for (int64_t k = 0; k < per; ++k) {
        const double r = round_to_integer(w.floats[ch * per + k] / scales[ch], RoundingMode::half_even);
        q.ints[ch * per + k] = std::clamp<int64_t>(static_cast<int64_t>(r), -qmax, qmax);
      }
    }
    add_constant(name, std::move(q));
    out_.weight_scales[name] = scales;
    return scales;
  }

  // Bias at scale s_x·s_w[c], rounded half to even; an InputError if it does not fit bias_bits. A
  // pre-quantized bias keeps its codes when its scale is s_x·s_w[c] (as float32, ONNX Runtime's rule).
  void quantize_bias(const Node& n, size_t input, const Tensor* b, double s_x, const std::vector<double>& s_w, const LayerQuantConfig& c,
                     const std::string& name) {
    if (!b) return;
    if (const QuantizedConstant* given = given_codes(n, input)) {
      for (size_t ch = 0; ch < s_w.size(); ++ch) {
        const double expected = static_cast<float>(static_cast<float>(s_x) * static_cast<float>(s_w[ch]));
        const double got = given->scales[given->scales.size() == 1 ? 0 : ch];
        if (std::fabs(got - expected) > 1e-6 * expected || given->zero_points[given->scales.size() == 1 ? 0 : ch] != 0)
          cannot(n, "its bias (" + given->producer + ") is not quantized at x_scale·w_scale with zero point 0 (channel " + std::to_string(ch) + ")");
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

  // The (multiplier, shift) a layer stores for a real scale. The float flavour multiplies by the float32
  // nearest the scale, as ONNX Runtime does, and stores it exactly as a 24-bit multiplier.
  FixedMultiplier stored_multiplier(double scale, const LayerQuantConfig& c, const std::string& where) const {
    const int bits = stored_multiplier_bits(c.requant_flavour, c.multiplier_bits);
    const double s = c.requant_flavour == RequantFlavour::float32 ? static_cast<double>(static_cast<float>(scale)) : scale;
    try {
      return derive_multiplier(s, bits);
    } catch (const InputError& e) {
      throw InputError(g_.source + ": " + where + ": " + e.what());
    }
  }

  void add_mulshift(const std::string& name, const std::string& acc, const std::string& out, const std::vector<double>& scales,
                    const LayerQuantConfig& c, std::pair<int64_t, int64_t> clamp, int64_t channel_axis = 1) {
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
    out_.ops.push_back(std::move(ms));
  }

  // The layer's weight codes N:M-compressed (§13): the kept values and the packed indices replace the
  // dense constant, and a sparse_decode op rebuilds it in front of the MAC. Pruned here first when the
  // config prunes codes. `bits` 0: the codes' dtype width (pre-quantized weights).
  void compress_weights(const Node& n, const std::string& name, const LayerQuantConfig& c, int bits) {
    Tensor codes = std::move(out_.constants.at(name));
    out_.constants.erase(name);
    if (c.sparsity_on_codes) prune_nm(codes, c.sparsity);
    const int64_t rows = codes.shape.at(0), k = codes.numel() / rows;
    kernels::NmWeights nm;
    try {
      nm = kernels::compress_nm(c.sparsity, rows, k, std::vector<int32_t>(codes.ints.begin(), codes.ints.end()), n.describe());
    } catch (const InputError& e) {
      cannot(n, e.what());
    }
    add_constant(name + ".values", Tensor::of_ints(codes.dtype, {rows, nm.groups() * c.sparsity.n}, std::vector<int64_t>(nm.values.begin(), nm.values.end())));
    add_constant(name + ".indices", Tensor::of_ints(DType::int64, {nm.words()}, std::vector<int64_t>(nm.index_words.begin(), nm.index_words.end())));
    out_.values[name] = IntValue{codes.shape, QuantParams{IntFormat::make(bits > 0 ? bits : (codes.dtype == DType::int8 ? 8 : 16), true), 0, 0.0}};
    Node decode = op("sparse_decode", name + ".decode", {name + ".values", name + ".indices"}, {name});
    decode.attributes["n"] = int64_t{c.sparsity.n}, decode.attributes["m"] = int64_t{c.sparsity.m};
    decode.attributes["shape"] = codes.shape;
    decode.attributes["stage"] = std::string(c.sparsity_on_codes ? "codes" : "float");  // where it was pruned (reports)
    out_.ops.push_back(std::move(decode));
  }

  static void set_requant_attrs(Node& n, const LayerQuantConfig& c) {
    n.attributes["flavour"] = std::string(to_string(c.requant_flavour));
    n.attributes["rounding"] = std::string(to_string(c.requant_rounding));
    n.attributes["multiplier_bits"] = int64_t{stored_multiplier_bits(c.requant_flavour, c.multiplier_bits)};
  }

  void add_accumulator(const std::string& name, const std::string& like, const LayerQuantConfig& c) {
    out_.values[name] = IntValue{shape_of(like), QuantParams{IntFormat::make(c.accumulator_bits, true), 0, 0.0}};
  }

  static void set_accumulator_attrs(Node& n, const LayerQuantConfig& c) {
    n.attributes["acc_bits"] = int64_t{c.accumulator_bits};
    n.attributes["overflow"] = std::string(to_string(c.accumulator_overflow));
  }

  // A product of two activations (attention): matmul_mac of both codes, then a per-tensor MulShift with
  // S = s_a · s_b / s_y (a scaling such as 1/√d folded into the operands' scales by the float graph).
  void lower_matmul_activations(const Node& n) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    const std::string a = n.inputs.at(0), b = n.inputs.at(1);
    require_quantized(a, n);
    require_quantized(b, n);
    const Shape sa = shape_of(a), sb = shape_of(b);
    if (sa.size() < 2 || sa.size() != sb.size()) cannot(n, "both operands must be matrices (or stacks of them) of the same rank");
    for (size_t d = 0; d + 2 < sa.size(); ++d)
      if (sa[d] != sb[d]) cannot(n, "operand shapes " + shape_to_string(sa) + " and " + shape_to_string(sb) + " differ outside the last two axes (no broadcasting)");
    const Node* act = fusable_activation(n.outputs[0]);
    const std::string y = act ? act->outputs[0] : n.outputs[0];
    const QuantParams yq = params_for(y, c);
    add_value(y, yq);
    const std::string acc = n.name + ".acc";
    add_accumulator(acc, n.outputs[0], c);
    Node mac = op("matmul_mac", n.name + ".mac", {a, b}, {acc});
    mac.attributes["source"] = n.name;
    set_accumulator_attrs(mac, c);
    out_.ops.push_back(std::move(mac));
    const double scale = mac_scale(out_.values.at(a).quant.scale, out_.values.at(b).quant.scale, yq.scale, c);
    add_mulshift(n.name + ".requant", acc, y, {scale}, c, clamp_for(act, yq));
  }

  // A 2-D tensor transposed (float or integer).
  static Tensor transposed(const Tensor& t) {
    const int64_t rows = t.shape.at(0), cols = t.shape.at(1);
    Tensor r = Tensor::zeros(t.dtype, {cols, rows});
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t o = 0; o < cols; ++o) {
        if (t.is_float()) r.floats[o * rows + i] = t.floats[i * cols + o];
        else r.ints[o * rows + i] = t.ints[i * cols + o];
      }
    return r;
  }

  // S = s_x·s_w / s_y. For a pre-quantized model in the float flavour, in float32 and in ONNX Runtime's
  // order, fl(fl(s_x·s_w) / s_y), so that the result equals ORT's QLinearConv bit for bit.
  double mac_scale(double s_x, double s_w, double s_y, const LayerQuantConfig& c) const {
    if (pre_ && c.requant_flavour == RequantFlavour::float32)
      return static_cast<float>(static_cast<float>(static_cast<float>(s_x) * static_cast<float>(s_w)) / static_cast<float>(s_y));
    return s_x * s_w / s_y;
  }

  // A MatMul's bias: an Add that is the MatMul output's only reader and adds a constant [N] vector
  // (how PyTorch exports nn.Linear on inputs of rank > 2). Returns the Add and the bias input index.
  std::pair<const Node*, size_t> matmul_bias(const Node& matmul, int64_t out_features) {
    const auto it = consumers_.find(matmul.outputs[0]);
    if (it == consumers_.end() || it->second.size() != 1) return {nullptr, 0};
    const Node& add = g_.nodes[it->second[0]];
    if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) return {nullptr, 0};
    for (const auto& o : g_.outputs)
      if (o.name == matmul.outputs[0]) return {nullptr, 0};
    const size_t i = add.inputs[0] == matmul.outputs[0] ? 1 : 0;
    const auto b = g_.initializers.find(add.inputs[i]);
    if (b == g_.initializers.end() || !b->second.is_float() || b->second.numel() != out_features || b->second.rank() != 1) return {nullptr, 0};
    consumed_[it->second[0]] = true;
    return {&add, i};
  }

  enum class MacKind { conv, gemm, matmul };

  void lower_mac(const Node& n, MacKind kind) {
    const bool conv = kind == MacKind::conv;
    LayerQuantConfig c = cfg_.for_node(n.name);
    if (ignore_sparsity_) c.sparsity = kernels::NmPattern{0, 0};
    const std::string x = n.inputs.at(0);
    require_quantized(x, n);
    const QuantizedConstant* given_w = given_codes(n, 1);
    if (!given_w && (!n.has_input(1) || !g_.initializers.count(n.inputs[1])))
      cannot(n, "its second input must be constant weights");
    Tensor w = given_w ? given_w->codes : initializer(n, 1);
    int64_t out_axis = 0;  // the weight axis that indexes output channels
    if (kind == MacKind::matmul) {  // [in, out] → [out, in]
      if (w.rank() != 2) cannot(n, "its weights must be 2-D");
      w = transposed(w), out_axis = 1;
    } else if (!conv) {  // Gemm: weights must end up [out, in]
      if (n.get_int("transA", 0) != 0 || n.get_float("alpha", 1.0f) != 1.0f || n.get_float("beta", 1.0f) != 1.0f)
        cannot(n, "only Gemm with transA = 0, alpha = beta = 1 is supported");
      if (w.rank() != 2) cannot(n, "its weights must be 2-D");
      if (n.get_int("transB", 0) == 0) w = transposed(w), out_axis = 1;  // [in, out] → [out, in]
    } else {
      if (w.rank() != 4) cannot(n, "only 2-D convolutions are supported");
      if (n.get_string("auto_pad", std::string("NOTSET")) != "NOTSET") cannot(n, "auto_pad is not supported; export with explicit pads");
    }
    const Tensor* bias = n.has_input(2) ? &initializer(n, 2) : nullptr;
    const Node* bias_add = nullptr;
    std::string mac_output = n.outputs[0];
    const Node* bias_node = &n;  // the node whose input holds the bias (given codes are looked up there)
    size_t bias_input = 2;
    if (kind == MacKind::matmul) {
      std::tie(bias_add, bias_input) = matmul_bias(n, w.shape.at(0));
      if (bias_add) bias = &initializer(*bias_add, bias_input), mac_output = bias_add->outputs[0], bias_node = bias_add;
    }
    const Node* act = fusable_activation(mac_output);
    const std::string y = act ? act->outputs[0] : mac_output;
    const QuantParams yq = params_for(y, c);
    add_value(y, yq);
    const double s_x = out_.values.at(x).quant.scale;
    if (c.sparsity.m > 0 && !c.sparsity_on_codes) {
      if (given_w) cannot(n, "its weights are pre-quantized codes: prune them with sparsity.stage: codes");
      prune_nm(w, c.sparsity);  // before quantization: the per-channel scales come from the kept weights
    }
    const std::vector<double> s_w = given_w ? take_weights(n, *given_w, w, given_w->axis == out_axis, n.name + ".weight")
                                            : quantize_weights(w, c, n.name + ".weight");
    quantize_bias(*bias_node, bias_input, bias, s_x, s_w, c, n.name + ".bias");
    if (c.sparsity.m > 0) compress_weights(n, n.name + ".weight", c, given_w ? 0 : c.weight_bits);
    const std::string acc = n.name + ".acc";
    add_accumulator(acc, n.outputs[0], c);
    Node mac = op(conv ? "conv_mac" : "linear_mac", n.name + ".mac", {x, n.name + ".weight"}, {acc});
    mac.attributes["source"] = n.name;  // the float node it lowers (reports, the dual-path check)
    if (bias_add) mac.attributes["bias_source"] = bias_add->name;  // the Add that holds a MatMul's bias
    if (bias) mac.inputs.push_back(n.name + ".bias");
    if (conv) {
      mac.attributes["strides"] = n.get_ints("strides", std::vector<int64_t>{1, 1});
      mac.attributes["pads"] = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
      mac.attributes["dilations"] = n.get_ints("dilations", std::vector<int64_t>{1, 1});
      mac.attributes["group"] = n.get_int("group", 1);
    }
    set_accumulator_attrs(mac, c);
    out_.ops.push_back(std::move(mac));
    std::vector<double> scales(s_w.size());
    for (size_t i = 0; i < s_w.size(); ++i) scales[i] = mac_scale(s_x, s_w[i], yq.scale, c);
    // Output channels: axis 1 of a convolution, the last axis of a matrix product.
    const int64_t channel_axis = conv ? 1 : std::max<int64_t>(1, static_cast<int64_t>(shape_of(n.outputs[0]).size()) - 1);
    add_mulshift(n.name + ".requant", acc, y, scales, c, clamp_for(act, yq), channel_axis);
  }

  void lower_add(const Node& n) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    std::string a = n.inputs.at(0), b = n.inputs.at(1);
    if (g_.initializers.count(a)) a = constant_operand(n, 0, b, c);
    else if (g_.initializers.count(b)) b = constant_operand(n, 1, a, c);
    require_quantized(a, n);
    require_quantized(b, n);
    if (out_.values.at(a).shape != out_.values.at(b).shape)
      cannot(n, "only same-shape adds (a residual) and adds of a constant repeated over the batch are supported");
    const Node* act = fusable_activation(n.outputs[0]);
    const std::string y = act ? act->outputs[0] : n.outputs[0];
    const QuantParams yq = params_for(y, c);
    add_value(y, yq);
    const FixedMultiplier ma = stored_multiplier(out_.values.at(a).quant.scale / yq.scale, c, n.name + " (input a)");
    const FixedMultiplier mb = stored_multiplier(out_.values.at(b).quant.scale / yq.scale, c, n.name + " (input b)");
    Node add = op("add", n.name, {a, b}, {y});
    set_requant_attrs(add, c);
    add.attributes["multiplier_a"] = int64_t{ma.multiplier}, add.attributes["shift_a"] = int64_t{ma.shift};
    add.attributes["multiplier_b"] = int64_t{mb.multiplier}, add.attributes["shift_b"] = int64_t{mb.shift};
    const auto clamp = clamp_for(act, yq);
    add.attributes["clamp_lo"] = clamp.first, add.attributes["clamp_hi"] = clamp.second;
    out_.ops.push_back(std::move(add));
  }

  void lower_average_pool(const Node& n, bool global) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    const std::string x = n.inputs.at(0), y = n.outputs.at(0);
    require_quantized(x, n);
    const Shape xs = shape_of(x);
    if (xs.size() != 4 || xs[2] < 0 || xs[3] < 0) cannot(n, "needs a 2-D input with static spatial size");
    Node sum = op("window_sum", n.name + ".sum", {x}, {n.name + ".sum"});
    int64_t count = xs[2] * xs[3];
    if (global) {
      sum.attributes["global"] = int64_t{1};
    } else {
      const auto pads = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
      if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }) || n.get_int("ceil_mode", 0) != 0)
        cannot(n, "padding and ceil_mode change the window count per position; not supported yet");
      const auto k = n.get_ints("kernel_shape");
      count = k.at(0) * k.at(1);
      sum.attributes["kernel"] = k;
      sum.attributes["strides"] = n.get_ints("strides", std::vector<int64_t>{1, 1});
    }
    out_.values[n.name + ".sum"] = IntValue{shape_of(y), QuantParams{IntFormat::int_bits(32), 0, 0.0}};
    out_.ops.push_back(std::move(sum));
    const QuantParams yq = params_for(y, c);
    add_value(y, yq);
    add_mulshift(n.name + ".requant", n.name + ".sum", y, {out_.values.at(x).quant.scale / (static_cast<double>(count) * yq.scale)}, c,
                 clamp_for(nullptr, yq));
  }

  // Ops that move codes without changing them: the output keeps the input's quantization.
  void lower_data_movement(const Node& n, const std::string& type, std::map<std::string, AttributeValue> attrs) {
    require_quantized(n.inputs.at(0), n);
    const QuantParams& in_q = out_.values.at(n.inputs[0]).quant;
    if (pre_) {
      const auto given = pre_->activations.find(n.outputs[0]);
      if (given != pre_->activations.end() &&
          (given->second.scale != in_q.scale || given->second.zero_point != in_q.zero_point || !(given->second.format == in_q.format)))
        cannot(n, "it moves data, but the model quantizes its output with other parameters than its input (a requantizing " + n.op_type + " is not supported)");
    }
    out_.values[n.outputs[0]] = IntValue{shape_of(n.outputs[0]), in_q};
    Node m = op(type, n.name, {n.inputs[0]}, {n.outputs[0]});
    m.attributes = std::move(attrs);
    out_.ops.push_back(std::move(m));
  }

  // A ReLU or Clip that no requantization absorbed (its input has other readers, or its producer has no
  // requantization): a clamp of the codes, its output keeping the input's quantization, so that clamping
  // codes clamps reals exactly (the bounds rounded to codes as a fused clamp rounds them).
  void lower_clamp(const Node& n) {
    require_quantized(n.inputs.at(0), n);
    const auto [lo, hi] = clamp_for(&n, out_.values.at(n.inputs[0]).quant);
    if (lo > hi) cannot(n, "its bounds leave no code of the input's format (min above max after rounding to codes)");
    lower_data_movement(n, "clamp", {{"clamp_lo", lo}, {"clamp_hi", hi}});
  }

  // Concatenation moves codes when every input already has the output's quantization (one scale and
  // zero point for all); anything else would need a requantization per input, not lowered yet.
  void lower_concat(const Node& n) {
    for (const auto& in : n.inputs) require_quantized(in, n);
    const QuantParams& q0 = out_.values.at(n.inputs[0]).quant;
    for (const auto& in : n.inputs) {
      const QuantParams& q = out_.values.at(in).quant;
      if (q.scale != q0.scale || q.zero_point != q0.zero_point || !(q.format == q0.format))
        cannot(n, "its inputs '" + n.inputs[0] + "' and '" + in + "' have different quantization; a requantizing Concat is not lowered yet");
    }
    if (pre_) {
      const auto given = pre_->activations.find(n.outputs[0]);
      if (given != pre_->activations.end() && (given->second.scale != q0.scale || given->second.zero_point != q0.zero_point))
        cannot(n, "the model quantizes its output with other parameters than its inputs (a requantizing Concat is not supported)");
    }
    out_.values[n.outputs[0]] = IntValue{shape_of(n.outputs[0]), q0};
    Node m = op("concat", n.name, n.inputs, {n.outputs[0]});
    m.attributes["axis"] = n.get_int("axis");
    out_.ops.push_back(std::move(m));
  }

  // The error of a non-linear's table against its float function over every input code, measured once
  // here (where the table's input scale is known, also behind a folded rescaling) for reports: in units
  // of `lsb` (the output LSB; softmax: its exp table's 2^-15), as integers of 10^-6 LSB (an IntGraph op
  // carries no float attribute).
  static void set_error_attrs(Node& n, const LutError& e, double lsb) {
    n.attributes["error_max_micro_lsb"] = static_cast<int64_t>(std::llround(e.max_abs / lsb * 1e6));
    n.attributes["error_mean_micro_lsb"] = static_cast<int64_t>(std::llround(e.mean_abs / lsb * 1e6));
    n.attributes["error_codes"] = e.codes;
    n.attributes["error_saturated_codes"] = e.saturated;
    n.attributes["error_within_bound"] = int64_t{e.worst_bound_ratio <= 1.0};
  }

  // An elementwise non-linear as a lookup table from the input's codes to the output's (§8).
  void lower_lut(const Node& n, NonLinear f) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    const std::string x = n.inputs.at(0), y = n.outputs.at(0);
    require_quantized(x, n);
    LutSpec spec;
    spec.function = f, spec.in = out_.values.at(x).quant, spec.out = params_for(y, c);
    spec.table_bits = std::min(c.lut_table_bits, spec.in.format.bits()), spec.interpolate = c.lut_interpolate, spec.method = c.nonlinear_method;
    if (spec.in.format.bits() > 16) cannot(n, "its input is " + spec.in.format.name() + "; a lookup table takes at most 16 bits");
    kernels::Lut table;
    try {
      table = build_lut(spec);
    } catch (const InputError& e) {
      cannot(n, e.what());
    }
    add_value(y, spec.out);
    add_constant(n.name + ".table", Tensor::of_ints(DType::int32, {static_cast<int64_t>(table.table.size())},
                                                    std::vector<int64_t>(table.table.begin(), table.table.end())));
    Node l = op("lut", n.name, {x, n.name + ".table"}, {y});
    l.attributes["function"] = std::string(to_string(f));
    l.attributes["in_min"] = table.in_min;
    l.attributes["shift"] = int64_t{table.shift};
    l.attributes["interpolate"] = int64_t{table.interpolate};
    l.attributes["method"] = std::string(to_string(spec.method));  // how the entries were made (reports)
    set_error_attrs(l, measure_lut_error(spec, table), spec.out.scale);
    out_.ops.push_back(std::move(l));
  }

  // Softmax over the last axis (§9): output codes at scale 1/M for an integer M — 2^bits when calibrated,
  // the model's own when pre-quantized (which must then be 1/M).
  void lower_softmax(const Node& n) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    const std::string x = n.inputs.at(0), y = n.outputs.at(0);
    require_quantized(x, n);
    const int64_t rank = static_cast<int64_t>(shape_of(x).size());
    const int64_t axis = n.get_int("axis", -1);
    if (rank == 0 || (axis != -1 && axis != rank - 1)) cannot(n, "only a softmax over the last axis is lowered");
    const QuantParams& in = out_.values.at(x).quant;
    if (in.format.bits() > 16) cannot(n, "its input is " + in.format.name() + "; the exp table takes at most 16 bits");
    QuantParams out;
    if (pre_) {
      out = params_for(y, c);
    } else {
      const int bits = std::min(c.activation_bits, 16);
      out = QuantParams{IntFormat::make(bits, false), 0, std::ldexp(1.0, -bits)};
    }
    const double m = 1.0 / out.scale;
    const int64_t one = static_cast<int64_t>(std::llround(m));
    if (one < 2 || std::fabs(m - static_cast<double>(one)) > 1e-6 * m)
      cannot(n, "its output scale " + std::to_string(out.scale) + " is not 1/M for an integer M; integer softmax writes probabilities in units of 1/M");
    kernels::Softmax k;
    try {
      k = build_softmax(in.scale, in.format.bits(), 15, out.format.bits(), c.nonlinear_method);
    } catch (const InputError& e) {
      cannot(n, e.what());
    }
    add_value(y, out);
    add_constant(n.name + ".exp_table", Tensor::of_ints(DType::int32, {static_cast<int64_t>(k.exp_table.size())},
                                                        std::vector<int64_t>(k.exp_table.begin(), k.exp_table.end())));
    Node sm = op("softmax", n.name, {x, n.name + ".exp_table"}, {y});
    sm.attributes["one_over_scale"] = one;
    sm.attributes["method"] = std::string(to_string(c.nonlinear_method));
    set_error_attrs(sm, measure_softmax_exp_error(in.scale, in.format.bits(), 15, c.nonlinear_method, k.exp_table), std::ldexp(1.0, -15));
    out_.ops.push_back(std::move(sm));
  }

  // LayerNormalization over the last axis (§10), its γ and β constant.
  void lower_layer_norm(const Node& n) {
    const LayerQuantConfig c = cfg_.for_node(n.name);
    const std::string x = n.inputs.at(0), y = n.outputs.at(0);
    require_quantized(x, n);
    const Shape shape = shape_of(x);
    const int64_t axis = n.get_int("axis", -1);
    if (shape.empty() || (axis != -1 && axis != static_cast<int64_t>(shape.size()) - 1)) cannot(n, "only a LayerNorm over the last axis is lowered");
    const Tensor& gamma = initializer(n, 1);
    const Tensor beta = n.has_input(2) ? initializer(n, 2) : Tensor::of_floats({gamma.numel()}, std::vector<float>(static_cast<size_t>(gamma.numel()), 0.0f));
    if (gamma.rank() != 1 || beta.numel() != gamma.numel() || (shape.back() >= 0 && shape.back() != gamma.numel()))
      cannot(n, "its scale and bias must be vectors over the last axis");
    const QuantParams yq = params_for(y, c);
    add_value(y, yq);
    kernels::LayerNorm k;
    try {
      k = build_layernorm(out_.values.at(x).quant, gamma.floats, beta.floats, n.get_float("epsilon", 1e-5f), yq, c.multiplier_bits);
    } catch (const InputError& e) {
      cannot(n, e.what());
    }
    const int64_t len = gamma.numel();
    Tensor m = Tensor::zeros(DType::int32, {len}), sh = m, neg = m, b = m;
    for (int64_t j = 0; j < len; ++j)
      m.ints[j] = k.gamma[j].fixed.multiplier, sh.ints[j] = k.gamma[j].fixed.shift, neg.ints[j] = k.gamma_negative[j], b.ints[j] = k.beta[j];
    for (auto& [suffix, t] : std::vector<std::pair<std::string, Tensor*>>{{".gamma_multiplier", &m}, {".gamma_shift", &sh}, {".gamma_negative", &neg}, {".beta", &b}})
      add_constant(n.name + suffix, std::move(*t));
    Node ln = op("layernorm", n.name, {x, n.name + ".gamma_multiplier", n.name + ".gamma_shift", n.name + ".gamma_negative", n.name + ".beta"}, {y});
    ln.attributes["epsilon_units"] = static_cast<int64_t>(std::min<uint64_t>(k.epsilon, INT64_MAX));
    ln.attributes["extra_bits"] = int64_t{k.extra_bits};
    ln.attributes["multiplier_bits"] = int64_t{c.multiplier_bits};
    out_.ops.push_back(std::move(ln));
  }

  void lower(size_t i) {
    const Node& n = g_.nodes[i];
    if (n.domain == kChiprefDomain && n.op_type == kBatchBroadcastOp) return lower_batch_broadcast(n);
    if (n.domain == kChiprefDomain && n.op_type == kSiluOp) return lower_lut(n, NonLinear::silu);
    if (!n.domain.empty()) cannot(n, "custom-domain ops are not lowered (QONNX Quant nodes are read as quantization parameters; other custom ops are not supported)");
    const std::string& t = n.op_type;
    if (t == "Conv") return lower_mac(n, MacKind::conv);
    if (t == "Gemm") return lower_mac(n, MacKind::gemm);
    if (t == "MatMul") return given_codes(n, 1) || g_.initializers.count(n.inputs.at(1)) ? lower_mac(n, MacKind::matmul) : lower_matmul_activations(n);
    if (t == "Relu" || t == "Clip") return lower_clamp(n);  // an activation no MAC or Add absorbed
    if (t == "Sigmoid") return lower_lut(n, NonLinear::sigmoid);
    if (t == "Gelu") return lower_lut(n, n.get_string("approximate", std::string("none")) == "tanh" ? NonLinear::gelu_tanh : NonLinear::gelu_erf);
    if (t == "Tanh") return lower_lut(n, NonLinear::tanh);
    if (t == "Exp") return lower_lut(n, NonLinear::exp);
    if (t == "Reciprocal") return lower_lut(n, NonLinear::reciprocal);
    if (t == "Softmax") return lower_softmax(n);
    if (t == "LayerNormalization") return lower_layer_norm(n);
    if (t == "Transpose") return lower_data_movement(n, "transpose", {{"perm", n.get_ints("perm", std::vector<int64_t>{})}});
    if (t == "Concat") return lower_concat(n);
    if (t == "Slice") return lower_slice(n);
    if (t == "Gather" && g_.initializers.count(n.inputs.at(1))) return lower_gather(n);
    if (t == "Mul" || t == "Div") return lower_scaling(n);
    if (t == "Add") return lower_add(n);
    if (t == "AveragePool") return lower_average_pool(n, false);
    if (t == "GlobalAveragePool") return lower_average_pool(n, true);
    if (t == "MaxPool") {
      if (n.get_int("ceil_mode", 0) != 0) cannot(n, "ceil_mode is not supported yet");
      return lower_data_movement(n, "window_max", {{"kernel", n.get_ints("kernel_shape")}, {"strides", n.get_ints("strides", std::vector<int64_t>{1, 1})},
                                                   {"pads", n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0})},
                                                   {"dilations", n.get_ints("dilations", std::vector<int64_t>{1, 1})}});
    }
    if (t == "Flatten") {
      if (n.get_int("axis", 1) != 1) cannot(n, "only Flatten with axis 1 is supported");
      return lower_data_movement(n, "reshape", {{"shape", std::vector<int64_t>{0, -1}}});
    }
    if (t == "Reshape") {
      const auto it = g_.initializers.find(n.inputs.at(1));
      if (it == g_.initializers.end()) cannot(n, "the target shape must be constant (fix the batch size when importing)");
      return lower_data_movement(n, "reshape", {{"shape", it->second.ints}});
    }
    if (t == "Shape" || t == "Gather" || t == "Unsqueeze" || t == "Concat" || t == "ConstantOfShape" || t == "Expand")
      cannot(n, "the model computes shapes at run time (shape arithmetic on its dynamic batch dimension), which is not lowered yet");
    cannot(n, "no integer lowering for " + t + " yet (supported: Conv, Gemm, MatMul (constant weights [+ Add bias], or two activations), Add (of two activations, or "
              "of a constant), Mul/Div by a constant scalar, Relu/Clip (fused into the requantization before them, else a clamp of the codes), AveragePool, GlobalAveragePool, MaxPool, Flatten, Reshape, Transpose, Concat, "
              "Slice, Gather (constant indices); Sigmoid, Tanh, Exp, Reciprocal, Gelu (the erf form fused first), SiLU (x·Sigmoid(x), fused first) as lookup tables; Softmax and LayerNormalization over the last axis)");
  }

  const Graph& g_;
  const QuantConfig& cfg_;
  std::map<std::string, Range> ranges_;
  const PrequantizedModel* pre_;
  IntGraph& out_;
  std::map<std::string, std::vector<size_t>> consumers_;
  std::vector<bool> consumed_;
  std::map<std::string, std::string> shared_;   // tensor → the Concat output whose range quantizes it
  std::map<std::string, std::string> aliases_;  // rescaled tensor → the tensor holding its codes
  bool ignore_sparsity_;
};

}  // namespace

namespace {
Graph prepare(const Graph& graph, PrequantizedModel* pre) {
  Graph g = graph;
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    throw InputError(g.source + ": quantization supports one graph input and one output, found " + std::to_string(g.inputs.size()) +
                     " and " + std::to_string(g.outputs.size()));
  // Constant nodes (e.g. a Pad's pads) become initializers the next passes read; a pre-quantized model
  // keeps its quantizers, whose integer side is the point.
  const std::function<bool(const Node&)> keep = is_prequantized(g) ? is_quantizer_node : std::function<bool(const Node&)>{};
  fold_constants(g, keep);
  fold_dynamic_batch(g, keep);
  remove_identities(g);
  fold_batch_norm(g);
  fuse_layer_norm(g);
  fuse_gelu(g);
  fuse_silu(g);
  if (is_prequantized(g)) {
    PrequantizedModel extracted = extract_prequantized(g);
    if (pre) *pre = std::move(extracted);
  }
  return g;
}
}  // namespace

Graph prepare_for_quantization(const Graph& graph) { return prepare(graph, nullptr); }

namespace {
// N:M pruning of the float weights of every MAC layer configured for it (stage float), before
// calibration, so that the activation ranges are those of the pruned network. The reduction axis is a
// row of [out, ...] weights: Conv and Gemm with transB as stored, [in, out] MatMul / Gemm weights
// transposed for the pruning and back.
void prune_float_weights(Graph& g, const QuantConfig& config) {
  for (const Node& n : g.nodes) {
    if (!n.domain.empty() || (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul") || n.inputs.size() < 2) continue;
    const LayerQuantConfig c = config.for_node(n.name);
    const auto w = g.initializers.find(n.inputs[1]);
    if (c.sparsity.m == 0 || c.sparsity_on_codes || w == g.initializers.end() || !w->second.is_float()) continue;
    const bool in_out = n.op_type == "MatMul" || (n.op_type == "Gemm" && n.get_int("transB", 0) == 0);
    if (!in_out) {
      prune_nm(w->second, c.sparsity);
      continue;
    }
    Tensor& t = w->second;
    if (t.rank() != 2) continue;  // the lowering reports it
    const int64_t rows = t.shape[0], cols = t.shape[1];
    Tensor rows_out = Tensor::zeros(DType::float32, {cols, rows});
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t o = 0; o < cols; ++o) rows_out.floats[o * rows + i] = t.floats[i * cols + o];
    prune_nm(rows_out, c.sparsity);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t o = 0; o < cols; ++o) t.floats[i * cols + o] = rows_out.floats[o * rows + i];
  }
}
}  // namespace

struct CalibrationCache::Impl {
  std::mutex mutex;
  std::map<std::string, std::shared_future<std::map<std::string, Range>>> entries;
  int64_t computed = 0;
};
CalibrationCache::CalibrationCache() : impl(std::make_unique<Impl>()) {}
CalibrationCache::~CalibrationCache() = default;
int64_t CalibrationCache::computed() const {
  const std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->computed;
}

namespace {
// What calibration's results depend on besides the (fixed) images: every float weight of the graph as
// calibrated, and whether histograms are collected. The bytes themselves, not a hash: equal keys must
// mean equal calibrations.
std::string calibration_key(const Graph& g, const QuantConfig& config) {
  std::string bytes = any_histogram_calibrator(config) ? "histograms;" : "ranges;";
  for (const auto& [name, t] : g.initializers) {
    bytes += name + ":";
    if (t.is_float()) bytes.append(reinterpret_cast<const char*>(t.floats.data()), t.floats.size() * sizeof(float));
  }
  return bytes;
}

std::map<std::string, Range> cached_calibration(const Graph& g, const Tensor& images, const QuantConfig& config, CalibrationCache* cache, int threads) {
  if (!cache) return calibrate(g, images, config, threads);
  const std::string key = calibration_key(g, config);
  std::promise<std::map<std::string, Range>> promise;
  std::shared_future<std::map<std::string, Range>> future;
  bool mine = false;
  {
    const std::lock_guard<std::mutex> lock(cache->impl->mutex);
    auto it = cache->impl->entries.find(key);
    if (it == cache->impl->entries.end()) {
      it = cache->impl->entries.emplace(key, promise.get_future().share()).first;
      mine = true;
      ++cache->impl->computed;
    }
    future = it->second;
  }
  if (mine) {
    try {
      promise.set_value(calibrate(g, images, config, threads));
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
  }
  return future.get();
}
}  // namespace

IntGraph quantize(const QuantizeInputs& in) {
  if (!in.graph || !in.config) throw InputError("quantize: a graph and a config are required");
  const bool given_params = is_prequantized(*in.graph);
  if (!given_params && !in.calibration) throw InputError(in.graph->source + ": a float model needs calibration data");
  PrequantizedModel pre;
  Graph g = prepare(*in.graph, &pre);
  if (!in.ignore_sparsity && !given_params) prune_float_weights(g, *in.config);
  IntGraph out;
  out.source_model = in.model_name;
  out.config_name = in.config->source;
  out.hardware = in.config->hardware;
  // The float boundary tensors get their own names; the integer codes keep the float graph's names.
  out.input_name = g.inputs[0].name + ":float";
  out.output_name = g.outputs[0].name + ":float";
  out.preprocess = in.preprocess;
  out.input_shape = g.inputs[0].shape;
  out.output_shape = g.outputs[0].shape;
  Lowering(g, *in.config, given_params ? std::map<std::string, Range>{} : cached_calibration(g, *in.calibration, *in.config, in.calibration_cache, in.calibration_threads),
           given_params ? &pre : nullptr, out, in.ignore_sparsity)
      .run();
  check_integer_only(out);
  return out;
}

}  // namespace chipref
