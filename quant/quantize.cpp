#include "quant/quantize.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "core/progress.hpp"
#include "model/executor.hpp"
#include "model/fold.hpp"
#include "model/ops/ops.hpp"
#include "ops/op_def.hpp"
#include "quant/calibrators.hpp"
#include "quant/equalization.hpp"
#include "quant/lowering/lowering.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/passes.hpp"
#include "quant/prequantized.hpp"
#include "quant/qoperator.hpp"
#include "quant/smoothing.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

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
  return QuantParams{
      f, static_cast<int64_t>(std::clamp(zp, static_cast<double>(f.min()), static_cast<double>(f.max()))), scale};
}

namespace {

constexpr size_t kHistogramBins = 2048;

// Runs the float graph over the calibration images batch by batch, calling `visit(name, tensor)` for every
// float tensor of every batch as soon as it is computed; the executor frees each tensor after its last
// reader, so memory does not grow with the number of images. With `threads` > 1 batches run concurrently
// and the visits are serialized; what calibration gathers (minima, maxima, histogram counts) does not depend
// on the order of batches or on their size, so the results are identical.
template <class Visit>
void for_each_calibration_tensor(const Graph& g, const SampleSource& images, const char* label, int threads,
                                 Visit visit) {
  const FloatExecutor exec(g);
  const int64_t n = images.count(), batch = rows_per_batch(images.shape(), images.dtype(), 100);
  const int64_t batches = (n + batch - 1) / batch;
  ProgressBar progress(label, n);
  std::mutex mutex;
  std::atomic<int64_t> next{0}, done{0};
  std::exception_ptr failure;
  const std::string& input = g.inputs.at(0).name;
  auto worker = [&] {
    try {
      for (int64_t i = next++; i < batches; i = next++) {
        const int64_t start = i * batch, b = std::min(batch, n - start);
        Tensor x = images.rows(start, b);
        require_finite(x, images.name() + " (inputs " + std::to_string(start) + " to " + std::to_string(start + b - 1) +
                              "; the first coordinate counts from input " + std::to_string(start) + ")");
        {
          const std::lock_guard<std::mutex> lock(mutex);
          if (x.is_float() && !x.floats.empty()) visit(input, x);
        }
        exec.run({{input, std::move(x)}}, false, [&](const std::string& name, Tensor& t) {
          const std::lock_guard<std::mutex> lock(mutex);
          if (t.is_float() && !t.floats.empty()) visit(name, t);
        });
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

// SmoothQuant's pre-pass: the largest |x| of each channel (the last axis) of the named tensors.
std::vector<std::vector<double>> channel_ranges(const Graph& g, const SampleSource& images,
                                                const std::vector<std::string>& tensors,
                                                const std::vector<int64_t>& channels, int threads) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < tensors.size(); ++i) index[tensors[i]] = i;
  std::vector<std::vector<double>> ranges(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) ranges[i].assign(static_cast<size_t>(channels[i]), 0.0);
  for_each_calibration_tensor(g, images, "smoothing", threads, [&](const std::string& name, const Tensor& t) {
    const auto i = index.find(name);
    if (i == index.end()) return;
    std::vector<double>& r = ranges[i->second];
    if (t.shape.empty() || t.shape.back() != static_cast<int64_t>(r.size()))
      throw std::logic_error("SmoothQuant: tensor '" + name + "' has " + shape_to_string(t.shape) + ", not " +
                             std::to_string(r.size()) + " channels last");
    for (size_t e = 0; e < t.floats.size(); ++e)
      if (std::isfinite(t.floats[e]))
        r[e % r.size()] = std::max(r[e % r.size()], static_cast<double>(std::fabs(t.floats[e])));
  });
  return ranges;
}

bool any_histogram_calibrator(const QuantConfig& c) {
  if (activation_calibrator(c.defaults.activation_calibrator).needs_histogram()) return true;
  for (const auto& o : c.overrides)
    if (activation_calibrator(o.config.activation_calibrator).needs_histogram()) return true;
  return false;
}

// Pass 1: the range of every tensor. Pass 2, only if a configured calibrator needs one: histograms over
// those ranges.
std::map<std::string, Range> calibrate(const Graph& g, const SampleSource& images, const QuantConfig& config,
                                       int threads) {
  std::map<std::string, Range> ranges;
  for_each_calibration_tensor(g, images, "calibrate", threads, [&](const std::string& name, const Tensor& t) {
    // Over the finite values: an additive attention mask holds −∞, which no integer value carries (the
    // masked softmax takes the mask's codes instead, docs/numerics.md §9).
    float mn = std::numeric_limits<float>::infinity(), mx = -mn;
    for (float v : t.floats)
      if (std::isfinite(v)) mn = std::min(mn, v), mx = std::max(mx, v);
    if (mn > mx) return;
    Range& r = ranges[name];
    r.lo = std::min<double>(r.lo, mn), r.hi = std::max<double>(r.hi, mx);
  });
  if (!any_histogram_calibrator(config)) return ranges;
  for (auto& [name, r] : ranges) r.histogram = std::make_shared<Histogram>(r.lo, r.hi, kHistogramBins);
  for_each_calibration_tensor(g, images, "histograms", threads, [&](const std::string& name, const Tensor& t) {
    if (const auto r = ranges.find(name); r != ranges.end()) r->second.histogram->add(t.floats.data(), t.floats.size());
  });
  return ranges;
}

Graph prepare(const Graph& graph, PrequantizedModel* pre) {
  Graph g = graph;
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    throw InputError(g.source + ": quantization supports one graph input and one output, found " +
                     std::to_string(g.inputs.size()) + " and " + std::to_string(g.outputs.size()));
  if (g.inputs[0].dtype == DType::boolean)
    throw InputError(g.source + ": graph input '" + g.inputs[0].name + "' is bool" +
                     shape_to_string(g.inputs[0].shape) +
                     ": quantization takes a float32 input or integers (token ids); the nearest supported form: the "
                     "same input as uint8 0/1");
  qoperator_to_qdq(g);  // QLinearConv / QLinearMatMul as Q/DQ around float ops: then a pre-quantized model
  // Constant nodes (e.g. a Pad's pads) become initializers the next passes read; a pre-quantized model
  // keeps its quantizers, whose integer side is the point.
  const std::function<bool(const Node&)> keep =
      is_prequantized(g) ? is_quantizer_node : std::function<bool(const Node&)>{};
  fold_constants(g, keep);
  fold_dynamic_batch(g, keep);
  remove_identities(g);
  fold_batch_norm(g);
  fuse_layer_norm(g);
  fuse_gelu(g);
  fuse_gated_activations(g);
  if (!is_prequantized(g)) channel_affine_to_depthwise(g);  // after the fusions, whose patterns hold constants
  conv_transposes_to_convs(g);
  reduce_mean_to_pool(g);
  if (!is_prequantized(g)) divisions_to_reciprocals(g);  // after the fusions, whose patterns hold Divs
  if (is_prequantized(g)) {
    PrequantizedModel extracted = extract_prequantized(g);
    if (pre) *pre = std::move(extracted);
  }
  return g;
}
}  // namespace

Graph prepare_for_quantization(const Graph& graph) { return prepare(graph, nullptr); }

namespace {
// Calibration inputs of the graph input's kind: float32 for a float input, integers for token ids.
void require_calibration_type(const Graph& g, const SampleSource* calibration) {
  const ValueInfo& input = g.inputs.at(0);
  if (!calibration || (calibration->dtype() == DType::float32) == (input.dtype == DType::float32)) return;
  throw InputError(g.source + ": graph input '" + input.name + "' is " + std::string(to_string(input.dtype)) +
                   shape_to_string(input.shape) + "; the calibration inputs are " +
                   std::string(to_string(calibration->dtype())) + shape_to_string(calibration->shape()) +
                   " (expected " + (input.dtype == DType::float32 ? "float32" : "integers") + ")");
}

// The streamed calibration inputs, or a view of the tensor given in memory (null for none).
std::unique_ptr<const SampleSource> calibration_source(const QuantizeInputs& in) {
  if (in.calibration_samples || !in.calibration) return nullptr;
  return std::make_unique<TensorSamples>(*in.calibration, "calibration inputs");
}
}  // namespace

namespace {
// N:M pruning of the float weights of every MAC layer configured for it (stage float), before
// calibration, so that the activation ranges are those of the pruned network. The reduction axis is a
// row of [out, ...] weights: Conv and Gemm with transB as stored, [in, out] MatMul / Gemm weights
// transposed for the pruning and back.
void prune_float_weights(Graph& g, const QuantConfig& config) {
  for (const Node& n : g.nodes) {
    if (!n.domain.empty() || (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul") ||
        n.inputs.size() < 2)
      continue;
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

std::map<std::string, Range> cached_calibration(const Graph& g, const SampleSource& images, const QuantConfig& config,
                                                CalibrationCache* cache, int threads) {
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

std::vector<LoweringOutcome> survey_lowering(const QuantizeInputs& in) {
  if (!in.graph || !in.config) throw InputError("quantize: a graph and a config are required");
  const bool given_params = is_prequantized(*in.graph);
  const std::unique_ptr<const SampleSource> held = calibration_source(in);
  const SampleSource* images = in.calibration_samples ? in.calibration_samples : held.get();
  if (!given_params && !images) throw InputError(in.graph->source + ": a float model needs calibration data");
  PrequantizedModel pre;
  Graph g = prepare(*in.graph, &pre);
  require_calibration_type(g, images);
  IntGraph out;
  out.input_name = g.inputs[0].name + (g.inputs[0].dtype == DType::float32 ? ":float" : ":int");
  out.input_dtype = g.inputs[0].dtype;
  return Lowering(
             g, *in.config,
             given_params ? std::map<std::string, Range>{} : calibrate(g, *images, *in.config, in.calibration_threads),
             given_params ? &pre : nullptr, out, in.ignore_sparsity)
      .survey();
}

IntGraph quantize(const QuantizeInputs& in) {
  if (!in.graph || !in.config) throw InputError("quantize: a graph and a config are required");
  const bool given_params = is_prequantized(*in.graph);
  const std::unique_ptr<const SampleSource> held = calibration_source(in);
  const SampleSource* images = in.calibration_samples ? in.calibration_samples : held.get();
  if (!given_params && !images) throw InputError(in.graph->source + ": a float model needs calibration data");
  PrequantizedModel pre;
  Graph g = prepare(*in.graph, &pre);
  require_calibration_type(g, images);
  std::vector<ChannelRescaling> rescalings;
  if (!given_params) {
    for (const EqualizedPair& p : equalize_cross_layer(g, [&](const std::string& node) {
           const LayerQuantConfig c = in.config->for_node(node);
           return EqualizationChoice{c.cross_layer_equalization, c.equalization_through_clip};
         }))
      rescalings.push_back(p.rescaling());
    const std::vector<SmoothedTensor> smoothed = smooth_activations(
        g,
        [&](const std::string& node) {
          const LayerQuantConfig c = in.config->for_node(node);
          return c.smoothquant ? std::optional<double>(c.smoothquant_alpha) : std::nullopt;
        },
        [&](const std::vector<std::string>& tensors, const std::vector<int64_t>& channels) {
          return channel_ranges(g, *images, tensors, channels, in.calibration_threads);
        });
    for (const SmoothedTensor& t : smoothed) rescalings.push_back(t.rescaling());
  }
  if (!in.ignore_sparsity && !given_params) prune_float_weights(g, *in.config);
  IntGraph out;
  out.source_model = in.model_name;
  out.config_name = in.config->source;
  out.hardware = in.config->hardware;
  out.rescalings = std::move(rescalings);
  // The float boundary tensors get their own names; the integer codes keep the float graph's names.
  out.input_name = g.inputs[0].name + (g.inputs[0].dtype == DType::float32 ? ":float" : ":int");
  out.input_dtype = g.inputs[0].dtype;
  out.output_name = g.outputs[0].name + ":float";
  out.preprocess = in.preprocess;
  out.input_shape = g.inputs[0].shape;
  out.output_shape = g.outputs[0].shape;
  Lowering lowering(g, *in.config,
                    given_params
                        ? std::map<std::string, Range>{}
                        : cached_calibration(g, *images, *in.config, in.calibration_cache, in.calibration_threads),
                    given_params ? &pre : nullptr, out, in.ignore_sparsity);
  lowering.enable_layer_inputs(given_params ? nullptr : images);
  lowering.run();
  check_integer_only(out);
  return out;
}

}  // namespace chipref
