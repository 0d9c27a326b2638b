#include "sweep/run.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "analysis/agreement.hpp"
#include "analysis/metrics.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "core/version.hpp"
#include "kernels/mac.hpp"
#include "model/evaluate.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/op_def.hpp"
#include "ops/sparse_decode.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sweep/report.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace chipref::sweep {

namespace {

constexpr int64_t kBatch = 100;

// What evaluate_point gathers per MAC op before the run.
struct MacLayer {
  const Node* op = nullptr;
  LayerResult result;
  std::string output;  // the requantized value its SQNR is measured on (empty: none)
  int64_t reduction = 0;
  int64_t acc_min = std::numeric_limits<int64_t>::max(), acc_max = std::numeric_limits<int64_t>::min();
  SqnrSum sqnr = {};
};

void static_layer_facts(const IntGraph& q, MacLayer& m) {
  const Node& op = *m.op;
  LayerResult& r = m.result;
  r.layer = op.name;
  r.acc_bits = static_cast<int>(op.get_int("acc_bits"));
  const QuantParams& in = q.values.at(op.inputs.at(0)).quant;
  r.act_bits = in.format.bits();
  const int64_t max_x = max_abs_offset(in.format, in.zero_point);
  for (const Node& n : q.ops)
    if (ops::op_def(n).requantizes_accumulators && n.inputs.at(0) == op.outputs.at(0)) m.output = n.outputs.at(0);
  if (ops::op_def(op).mac == ops::MacOperand::activation) {  // two activations: no weights to store
    const QuantParams& y = q.values.at(op.inputs.at(1)).quant;
    const int64_t max_y = max_abs_offset(y.format, y.zero_point);
    const Shape& xs = q.values.at(op.inputs[0]).shape;
    m.reduction = xs.empty() ? 1 : xs.back();
    r.acc_worst_bits = signed_bits(-m.reduction * max_x * max_y, m.reduction * max_x * max_y);
    return;
  }
  const Tensor w = mac_weight_codes(q, op.inputs.at(1));
  const int64_t channels = w.shape.at(0), k = w.numel() / channels;
  m.reduction = k;
  int64_t w_lo = 0, w_hi = 0, worst = 0;
  std::vector<int64_t> bias(static_cast<size_t>(channels), 0);
  if (op.inputs.size() > 2 && q.constants.count(op.inputs[2])) bias = q.constants.at(op.inputs[2]).ints;
  for (int64_t c = 0; c < channels; ++c) {
    int64_t sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t v = w.ints[static_cast<size_t>(c * k + i)];
      w_lo = std::min(w_lo, v), w_hi = std::max(w_hi, v), sum += std::abs(v);
    }
    worst = std::max(worst, kernels::accumulator_bound(bias.at(static_cast<size_t>(c)), max_x, sum));
  }
  r.weight_bits = signed_bits(w_lo, w_hi);
  r.acc_worst_bits = signed_bits(-worst, worst);
  r.weight_memory_bits = w.numel() * r.weight_bits;
  if (const Node* decoder =
          sparse_decoder_of(q, op.inputs[1])) {  // N:M weights: the kept values and their index metadata
    const kernels::NmWeights nm = nm_weights_of(q, *decoder);
    r.weight_memory_bits = nm.index_count() * (r.weight_bits + nm.pattern.index_bits());
  }
}

double db_of(const json& j) { return j.is_string() ? INFINITY : j.get<double>(); }
json db_json(double db) { return std::isfinite(db) ? json(db) : json("inf"); }

json layer_json(const LayerResult& l) {
  return {{"layer", l.layer},
          {"weight_bits", l.weight_bits},
          {"act_bits", l.act_bits},
          {"macs", l.macs},
          {"weight_memory_bits", l.weight_memory_bits},
          {"sqnr_db", db_json(l.sqnr_db)},
          {"acc_bits", l.acc_bits},
          {"acc_worst_bits", l.acc_worst_bits},
          {"acc_observed_bits", l.acc_observed_bits},
          {"overflow_events", l.overflow_events},
          {"scale_bits_per_element", l.scale_bits_per_element}};
}

// The tensors of `graph` (all of them, or its outputs only) on the first `count` rows of `images`, run in
// slices of a fixed size on `jobs` threads: the float kernels' rounding may depend on the batch size, and
// no result may depend on -j.
TensorMap float_tensors(const Graph& graph, const Tensor& images, int64_t count, int jobs, bool all) {
  constexpr int64_t kSlice = 25;
  const FloatExecutor fp32(graph);
  const std::string input = graph.inputs.at(0).name;
  const int64_t slices = (count + kSlice - 1) / kSlice;
  std::vector<TensorMap> parts(static_cast<size_t>(slices));
  for_each_index_in_parallel(slices, jobs, [&](int64_t i) {
    const int64_t first = i * kSlice;
    parts[static_cast<size_t>(i)] = fp32.run({{input, rows_of(images, first, std::min(kSlice, count - first))}}, all);
  });
  TensorMap joined;
  if (parts.empty()) return joined;
  for (auto& [name, first] : parts[0]) {
    if (!first.is_float() || first.shape.empty()) continue;
    Tensor& all_rows = joined[name] = std::move(first);
    for (size_t i = 1; i < parts.size(); ++i) {
      const Tensor& more = parts[i].at(name);
      all_rows.floats.insert(all_rows.floats.end(), more.floats.begin(), more.floats.end());
      all_rows.shape[0] += more.shape.at(0);
    }
  }
  return joined;
}

}  // namespace

SweepData load_sweep_data(const SweepSpec& spec, int jobs) {
  SweepData d;
  d.graph = import_onnx(spec.model);
  d.norm = choose_normalisation(spec.model, spec.normalisation, spec.path).norm;
  DataRequest request;
  request.preprocess = d.norm;
  request.threads = std::max(1, jobs);
  request.split = DataSplit::train;
  request.limit = spec.calibration_images;
  const std::unique_ptr<Dataset> calibration = open_dataset(spec.data_source, request);
  d.calibration = calibration->rows(0, calibration->count());
  request.split = DataSplit::test;
  request.limit = spec.eval_images;
  const std::unique_ptr<Dataset> eval = open_dataset(spec.data_source, request);
  if (metric_needs_labels(spec.metric) && !eval->has_labels())
    throw InputError(spec.path + ": data: source " + spec.data_source + " has no labels; the metric " + spec.metric +
                     " counts them (metric: sqnr, cosine or agreement compares with the float model instead)");
  d.eval = LabelledImages{eval->rows(0, eval->count()), eval->labels()};
  // The FP32 references (the serial part of a sweep): every tensor of the detail images, as the prepared
  // graph names them, and the float model's output on every evaluation image for a metric against it.
  if (spec.detail_images > 0)
    d.fp32 = float_tensors(prepare_for_quantization(d.graph), d.eval.images, spec.detail_images, jobs, true);
  if (!metric_needs_labels(spec.metric)) {
    if (d.graph.outputs.empty()) throw InputError(spec.model + ": the model has no outputs");
    d.eval_fp32 =
        float_tensors(d.graph, d.eval.images, d.eval.images.shape.at(0), jobs, false).at(d.graph.outputs[0].name);
  }
  d.salt = sweep_salt(spec);
  d.calibrations = std::make_shared<CalibrationCache>();
  d.jobs = std::max(1, jobs);
  return d;
}

std::string sweep_file_hash(const std::string& path) {
  return fmt::format("{:016x}", content_hash(read_file_bytes(path)));
}

std::string sweep_salt(const SweepSpec& spec) {
  const Preprocess norm = choose_normalisation(spec.model, spec.normalisation, spec.path).norm;
  // A mean/std pair keeps the text it had before preprocessing pipelines, so existing caches stay valid.
  const nlohmann::json pipeline = preprocess_to_json(norm);
  const std::string normalisation =
      pipeline.size() == 2 ? fmt::format("{} {}", norm.mean[0], norm.std[0]) : pipeline.dump();
  // Fashion-MNIST, the only source sweeps read before `data: source`, adds nothing: its caches stay valid.
  const std::string source = (spec.data_source == "fashion-mnist" ? "" : "; source " + spec.data_source) +
                             (spec.metric == "top1" ? "" : "; metric " + spec.metric);
  return fmt::format("chipref {}; model {:x} {}; data {} {} {}; normalisation {}{}", kVersion,
                     content_hash(read_file_bytes(spec.model)), fs::file_size(spec.model), spec.eval_images,
                     spec.calibration_images, spec.detail_images, normalisation, source);
}

PointResult evaluate_point(const SweepSpec& spec, const SweepData& data, const Point& point) {
  PointResult r;
  r.id = point.id, r.index = point.index, r.metric = spec.metric;
  for (size_t a = 0; a < spec.axes.size(); ++a) r.values.push_back(value_of(spec, point, a));
  try {
    QuantizeInputs inputs{&data.graph, &point.config, &data.calibration, spec.model, data.norm};
    inputs.calibration_cache = data.calibrations.get();
    inputs.calibration_threads = data.jobs;  // one point calibrates while the others wait for it
    const IntGraph q = quantize(inputs);
    std::vector<MacLayer> macs;
    for (const Node& op : q.ops) {
      if (ops::is_mac(op)) {
        macs.push_back(MacLayer{&op, {}, {}, 0});
        static_layer_facts(q, macs.back());
      } else if (const auto& block_facts = ops::op_def(op).block_facts) {
        // A block-format layer: element and scale bits, its output codes measured directly.
        const ops::BlockMacFacts f = block_facts(q, op);
        macs.push_back(MacLayer{&op, {}, op.outputs.at(0), f.reduction});
        LayerResult& l = macs.back().result;
        l.layer = op.name, l.weight_bits = f.weight_bits, l.act_bits = f.activation_bits;
        l.scale_bits_per_element = static_cast<double>(f.scale_bits) / f.block_size;
        l.weight_memory_bits = f.weight_elements * f.weight_bits + f.weight_blocks * f.scale_bits;
      }
    }
    // The statistics are gathered from each op's output as the engine computes it, chunk by chunk (in
    // image order, so the sums do not depend on the chunking), instead of tracing every tensor.
    std::map<const Node*, MacLayer*> layer_of_mac;
    std::map<std::string, MacLayer*> layer_of_output;
    for (MacLayer& m : macs) {
      layer_of_mac[m.op] = &m;
      if (!m.output.empty() && data.fp32.count(m.output)) layer_of_output[m.output] = &m;
    }
    int64_t batch_start = 0;
    auto observe = [&](const Node& op, const CodeTensor& y, const OverflowCounter& overflow, int64_t first_in_batch,
                       int64_t images) {
      const int64_t first = batch_start + first_in_batch;
      const auto mac = layer_of_mac.find(&op);
      if (mac != layer_of_mac.end() && mac->second->output == op.outputs.at(0)) {
        // A block-format layer writes its codes itself: its MACs here, its SQNR below.
        if (first == 0)
          mac->second->result.macs = static_cast<int64_t>(y.data.size()) / images * mac->second->reduction;
      } else if (mac != layer_of_mac.end()) {
        MacLayer& m = *mac->second;
        if (!y.data.empty()) {
          int32_t lo = 0, hi = 0;
          kernels::min_max(y.data.data(), static_cast<int64_t>(y.data.size()), lo, hi);
          m.acc_min = std::min<int64_t>(m.acc_min, lo), m.acc_max = std::max<int64_t>(m.acc_max, hi);
        }
        if (first == 0) m.result.macs = static_cast<int64_t>(y.data.size()) / images * m.reduction;
        m.result.overflow_events += overflow.events;
        return;
      }
      // SQNR of a MAC layer's requantized output on the detail images (the first images of the run).
      const auto requant = layer_of_output.find(op.outputs.at(0));
      if (requant == layer_of_output.end() || first >= spec.detail_images) return;
      MacLayer& m = *requant->second;
      const QuantParams& qp = q.values.at(m.output).quant;
      const std::vector<float>& want = data.fp32.at(m.output).floats;
      const size_t per = y.data.size() / static_cast<size_t>(images);
      const size_t rows = static_cast<size_t>(std::min(images, spec.detail_images - first)),
                   offset = static_cast<size_t>(first) * per;
      for (size_t i = 0; i < rows * per; ++i) {
        const double real = qp.scale * static_cast<double>(y.data[i] - qp.zero_point), ref = want[offset + i];
        m.sqnr.add(ref, real);
      }
    };
    const DirectEngine engine(q);
    const int64_t n = data.eval.images.shape.at(0);
    ClassificationResult accuracy;
    OutputAgreement against_float;
    // Batches bound the memory of a model whose ops mix the images of a batch (the ViT runs each batch
    // whole); the engine chunks the others further.
    for (batch_start = 0; batch_start < n; batch_start += kBatch) {
      const int64_t b = std::min(kBatch, n - batch_start);
      const Tensor outputs = engine.run(rows_of(data.eval.images, batch_start, b), observe);
      if (!data.eval.labels.empty()) accuracy.add(outputs, b, data.eval.labels, batch_start, spec.model);
      if (!data.eval_fp32.shape.empty())
        against_float.add(rows_of(data.eval_fp32, batch_start, b), outputs, batch_start);
    }
    r.correct = accuracy.top1, r.top5_correct = accuracy.top5, r.count = n;
    if (!data.eval_fp32.shape.empty()) {
      r.against_float = true;
      r.output_sqnr_db = against_float.sqnr.db(), r.output_cosine = against_float.cosine();
      r.output_agreement = against_float.top1_agreement(), r.output_max_abs_error = against_float.max_abs_error;
    }
    r.min_sqnr_db = INFINITY;
    for (MacLayer& m : macs) {
      LayerResult& l = m.result;
      l.acc_observed_bits = m.acc_min <= m.acc_max ? signed_bits(m.acc_min, m.acc_max) : 0;
      l.sqnr_db = m.sqnr.db();
      if (!m.output.empty() && data.fp32.count(m.output) && spec.detail_images > 0)
        r.min_sqnr_db = std::min(r.min_sqnr_db, l.sqnr_db);
      r.macs += l.macs;
      const double s = l.scale_bits_per_element;
      r.cost += static_cast<double>(l.macs) * (l.act_bits + s) * ((l.weight_bits ? l.weight_bits : l.act_bits) + s);
      r.weight_memory_bits += l.weight_memory_bits;
      r.overflow_events += l.overflow_events;
      r.layers.push_back(l);
    }
  } catch (const InputError& e) {
    r.error = e.what();
  }
  return r;
}

namespace {
// An existing OUT that is not a sweep's output is never replaced (it may be the user's own directory).
void refuse_foreign_directory(const fs::path& target) {
  std::error_code error;
  if (fs::exists(target, error) && !fs::is_directory(target, error))
    throw InputError(target.string() + ": exists and is not a directory");
  if (fs::is_directory(target, error) && !fs::is_empty(target, error) && !is_existing_file(target / "sweep.json"))
    throw InputError(target.string() +
                     ": exists and is not a sweep output directory (no sweep.json); refusing to replace it");
}

// The finished points of OUT and of what dead runs left beside it: a rerun starts from them.
std::map<std::string, std::string> cached_points_of(const fs::path& dir) {
  std::map<std::string, std::string> points;
  std::error_code error;
  for (fs::directory_iterator it(dir / "points", error), end; !error && it != end; it.increment(error))
    if (it->path().extension() == ".json" && it->path().filename().string()[0] != '.')
      points[it->path().filename().string()] = read_file_bytes(it->path().string());
  return points;
}

void write_cached_points(const fs::path& dir, const std::map<std::string, std::string>& points) {
  fs::create_directories(dir / "points");
  for (const auto& [file, text] : points) write_file_atomically((dir / "points" / file).string(), text);
}
}  // namespace

MergeSummary merge_sweeps(const std::vector<std::string>& dirs, const std::string& out_dir, MergeInto into) {
  if (dirs.empty()) throw InputError("sweep merge: no directories given");
  std::string sweep_path, sweep_hash;
  for (const std::string& dir : dirs) {
    const std::string meta = (fs::path(dir) / "sweep.json").string();
    if (!fs::is_regular_file(meta)) throw InputError(dir + ": not a sweep run directory (no sweep.json)");
    json j;
    try {
      j = json::parse(read_file_bytes(meta));
    } catch (const json::exception& e) {
      throw InputError(meta + ": " + e.what());
    }
    const std::string path = j.value("sweep", ""), hash = j.value("sweep_hash", "");
    if (sweep_path.empty()) sweep_path = path, sweep_hash = hash;
    if (hash != sweep_hash)
      throw InputError(dir + " ran " + path + " (hash " + hash + "), but " + dirs[0] + " ran " + sweep_path +
                       " (hash " + sweep_hash + ")");
  }
  if (sweep_file_hash(sweep_path) != sweep_hash)
    throw InputError(sweep_path + " changed since the runs being merged; merge needs the sweep file they ran");
  MergeSummary m;
  m.spec = load_sweep(sweep_path);
  // A new directory is built beside OUT and swapped in; a Slurm run's OUT, which holds the shards being
  // merged, is written in place (each file atomically, the report last).
  std::optional<StagedOutput> staged;
  if (into == MergeInto::new_directory) {
    refuse_foreign_directory(output_target(out_dir));
    staged.emplace(output_target(out_dir), StagedOutput::Kind::directory);
  }
  const fs::path dir = staged ? staged->staging() : fs::path(out_dir);
  fs::create_directories(dir / "points");
  for (const Point& p : make_points(m.spec, sweep_salt(m.spec))) {
    bool found = false;
    for (const std::string& source : dirs) {
      const fs::path file = fs::path(source) / "points" / (p.id + ".json");
      if (!fs::is_regular_file(file)) continue;
      const std::string text = read_file_bytes(file.string());
      m.results.push_back(parse_result_json(text, file.string()));
      write_file_atomically((dir / "points" / (p.id + ".json")).string(), text);
      found = true;
      break;
    }
    m.missing += !found;
  }
  write_file_atomically(
      (dir / "sweep.json").string(),
      json{{"sweep", sweep_path}, {"sweep_hash", sweep_hash}, {"shard", 0}, {"shards", 1}, {"merged_from", dirs}}.dump(
          1) +
          "\n");
  try {
    write_outputs(m.spec, m.results, dir.string());
  } catch (const InputError& e) {
    throw InputError(staged ? staged->as_target(e.what()) : std::string(e.what()));
  }
  if (staged) staged->commit();
  return m;
}

std::string result_json(const PointResult& r) {
  json layers = json::array();
  for (const LayerResult& l : r.layers) layers.push_back(layer_json(l));
  json j = {{"id", r.id},
            {"index", r.index},
            {"values", r.values},
            {"error", r.error},
            {"correct", r.correct},
            {"count", r.count},
            {"top1", r.top1()},
            {"top5_correct", r.top5_correct},
            {"top5", r.top5()},
            {"metric", r.metric},
            {"macs", r.macs},
            {"cost", r.cost},
            {"weight_memory_bits", r.weight_memory_bits},
            {"overflow_events", r.overflow_events},
            {"min_sqnr_db", db_json(r.min_sqnr_db)},
            {"layers", layers}};
  if (r.against_float) {
    j["output_sqnr_db"] = db_json(r.output_sqnr_db);
    j["output_cosine"] = r.output_cosine;
    j["output_agreement"] = r.output_agreement;
    j["output_max_abs_error"] = r.output_max_abs_error;
  }
  return j.dump(1) + "\n";
}

PointResult parse_result_json(const std::string& text, const std::string& source) {
  try {
    const json j = json::parse(text);
    PointResult r;
    r.id = j.at("id"), r.index = j.at("index"), r.values = j.at("values").get<std::vector<std::string>>(),
    r.error = j.at("error");
    r.correct = j.at("correct"), r.count = j.at("count"), r.macs = j.at("macs"), r.cost = j.at("cost");
    // results written before top-5 existed have neither; their sweeps measured top-1
    r.top5_correct = j.value("top5_correct", int64_t{0}), r.metric = j.value("metric", std::string("top1"));
    r.weight_memory_bits = j.at("weight_memory_bits"), r.overflow_events = j.at("overflow_events"),
    r.min_sqnr_db = db_of(j.at("min_sqnr_db"));
    if (j.contains("output_sqnr_db")) {
      r.against_float = true;
      r.output_sqnr_db = db_of(j.at("output_sqnr_db")), r.output_cosine = j.at("output_cosine");
      r.output_agreement = j.at("output_agreement"), r.output_max_abs_error = j.at("output_max_abs_error");
    }
    for (const json& l : j.at("layers"))
      r.layers.push_back(LayerResult{l.at("layer"), l.at("weight_bits"), l.at("act_bits"), l.at("macs"),
                                     l.at("weight_memory_bits"), db_of(l.at("sqnr_db")), l.at("acc_bits"),
                                     l.at("acc_worst_bits"), l.at("acc_observed_bits"), l.at("overflow_events"),
                                     l.value("scale_bits_per_element", 0.0)});
    return r;
  } catch (const json::exception& e) {
    throw InputError(source + ": not a sweep point result: " + e.what());
  }
}

namespace {

// Evaluates points with the cache in DIR/points and `jobs` threads; the shared data is loaded on first
// need (a run whose points are all cached never loads it).
class Evaluator {
 public:
  Evaluator(const SweepSpec& spec, std::string out_dir, int jobs)
      : spec_(spec), out_dir_(std::move(out_dir)), jobs_(std::max(1, jobs)) {}
  int64_t computed = 0, cached = 0;

  std::vector<PointResult> run(const std::vector<const Point*>& points, const std::string& label) {
    std::vector<PointResult> results(points.size());
    std::vector<size_t> todo;
    for (size_t i = 0; i < points.size(); ++i) {
      const std::string file = (fs::path(out_dir_) / "points" / (points[i]->id + ".json")).string();
      if (fs::is_regular_file(file)) {
        results[i] = parse_result_json(read_file_bytes(file), file);
        results[i].index = points[i]->index;  // the same config may be another point of another analysis
        ++cached;
      } else {
        todo.push_back(i);
      }
    }
    if (todo.empty()) return results;
    if (!data_) data_ = load_sweep_data(spec_, jobs_);
    ProgressBar progress(fmt::format("{} ({} of {} points cached)", label, points.size() - todo.size(), points.size()),
                         static_cast<int64_t>(todo.size()));
    std::atomic<size_t> next{0};
    std::atomic<int64_t> done{0};
    std::mutex mutex;
    std::exception_ptr failure;
    auto worker = [&] {
      const bool was_silenced = progress_bars_silenced;
      progress_bars_silenced = true;  // the points' own calibration bars would garble this one
      try {
        for (size_t t = next++; t < todo.size(); t = next++) {
          const size_t i = todo[t];
          PointResult r = evaluate_point(spec_, *data_, *points[i]);
          write_file_atomically((fs::path(out_dir_) / "points" / (r.id + ".json")).string(), result_json(r));
          results[i] = std::move(r);
          const std::lock_guard<std::mutex> lock(mutex);
          progress.update(++done);
        }
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        next = todo.size();
      }
      progress_bars_silenced = was_silenced;
    };
    std::vector<std::thread> threads;
    for (int j = 1; j < jobs_; ++j) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();
    progress.finish();
    if (failure) std::rethrow_exception(failure);
    computed += static_cast<int64_t>(todo.size());
    return results;
  }

 private:
  const SweepSpec& spec_;
  std::string out_dir_;
  int jobs_;
  std::optional<SweepData> data_;
};

SensitivityResult run_sensitivity(const SweepSpec& spec, const std::string& salt, Evaluator& evaluator) {
  const Sensitivity& sens = *spec.sensitivity;
  SensitivityResult out;
  out.key = sens.key, out.value = sens.value;
  const std::vector<std::string> layers = mac_layer_names(spec);
  std::vector<Point> points = {make_point(spec, salt, {}, 0, "the sensitivity baseline")};
  for (size_t l = 0; l < layers.size(); ++l)
    points.push_back(make_point(spec, salt, {{sens.key, exact_pattern(layers[l]), sens.value}}, l + 1,
                                "sensitivity of " + layers[l]));
  std::vector<const Point*> refs;
  for (const Point& p : points) refs.push_back(&p);
  const std::vector<PointResult> results = evaluator.run(refs, "sensitivity");
  out.baseline = results[0];
  for (size_t l = 0; l < layers.size(); ++l) out.layers.emplace_back(layers[l], results[l + 1]);
  return out;
}

SearchResult run_search(const SweepSpec& spec, const std::string& salt, Evaluator& evaluator) {
  const Search& search = *spec.search;
  SearchResult out;
  out.key = search.key, out.target = search.target;
  out.layers = mac_layer_names(spec);
  std::vector<size_t> level(out.layers.size(), 0);
  auto point_of = [&](const std::vector<size_t>& levels, size_t index, const std::string& what) {
    std::vector<Assignment> assignments;
    for (size_t l = 0; l < out.layers.size(); ++l)
      assignments.push_back({search.key, exact_pattern(out.layers[l]), search.values[levels[l]]});
    return make_point(spec, salt, assignments, index, what);
  };
  Point current_point = point_of(level, 0, "the search's start");
  PointResult current = evaluator.run({&current_point}, "search start").at(0);
  out.start = current;
  out.reached = current.error.empty() && current.accuracy() >= search.target;
  ++out.evaluated;
  for (size_t round = 1; out.reached; ++round) {
    // Every layer one value lower, all at once; keep the candidate meeting the target that saves the
    // most cost per accuracy lost (a loss under one image counts as one image).
    std::vector<Point> candidates;
    std::vector<size_t> lowered;
    for (size_t l = 0; l < out.layers.size(); ++l) {
      if (level[l] + 1 >= search.values.size()) continue;
      std::vector<size_t> next = level;
      ++next[l];
      candidates.push_back(point_of(next, round * 1000 + l, "search round " + std::to_string(round)));
      lowered.push_back(l);
    }
    if (candidates.empty()) break;
    std::vector<const Point*> refs;
    for (const Point& p : candidates) refs.push_back(&p);
    const std::vector<PointResult> results = evaluator.run(refs, fmt::format("search round {}", round));
    out.evaluated += static_cast<int64_t>(results.size());
    std::optional<size_t> best;
    double best_score = 0;
    for (size_t c = 0; c < results.size(); ++c) {
      const PointResult& r = results[c];
      if (!r.error.empty() || r.accuracy() < search.target) continue;
      const double loss =
          std::max(current.accuracy() - r.accuracy(), 1.0 / static_cast<double>(std::max<int64_t>(r.count, 1)));
      const double score = (current.cost - r.cost) / loss;
      if (!best || score > best_score) best = c, best_score = score;
    }
    if (!best) break;
    ++level[lowered[*best]];
    current = results[*best];
    out.steps.push_back({out.layers[lowered[*best]], search.values[level[lowered[*best]]], current});
    current_point = candidates[*best];
  }
  for (size_t l = 0; l < out.layers.size(); ++l) out.final_values.push_back(search.values[level[l]]);
  out.config_yaml = current_point.config_yaml;
  return out;
}

}  // namespace

std::vector<std::string> mac_layer_names(const SweepSpec& spec) {
  const Graph g = prepare_for_quantization(import_onnx(spec.model));
  std::set<std::string> constants;
  for (const auto& [name, t] : g.initializers) constants.insert(name);
  std::vector<std::string> names;
  for (const Node& n : g.nodes)
    if ((n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") && n.inputs.size() > 1 &&
        constants.count(n.inputs[1]))
      names.push_back(n.name);
  return names;
}

RunSummary run_sweep(const SweepSpec& spec, const std::string& out_dir, const RunOptions& o) {
  if (o.shards < 1 || o.shard < 0 || o.shard >= o.shards)
    throw InputError(fmt::format("--shard {}/{}: expected i/N with 0 <= i < N", o.shard, o.shards));
  const std::string salt = sweep_salt(spec);
  const std::vector<Point> all = make_points(spec, salt);
  std::vector<const Point*> mine;
  for (const Point& p : all)
    if (static_cast<int64_t>(p.index) % o.shards == o.shard) mine.push_back(&p);
  // The run builds a new OUT beside the old one and swaps it in at the end (core/staged_output.hpp):
  // until then OUT is the earlier run's complete output, and a run that dies leaves its finished points
  // for the next one.
  const fs::path target = output_target(out_dir);
  refuse_foreign_directory(target);
  std::map<std::string, std::string> cache;
  StagedOutput staged(target, StagedOutput::Kind::directory,
                      [&](const fs::path& left) { cache.merge(cached_points_of(left)); });
  cache.merge(cached_points_of(target));
  const fs::path dir = staged.staging();
  RunSummary summary;
  try {
    write_cached_points(dir, cache);
    const std::string sweep_hash = sweep_file_hash(spec.path);  // the file this run read, in both records
    write_file_atomically((dir / "sweep.json").string(),
                          json{{"sweep", fs::absolute(spec.path).lexically_normal().string()},
                               {"sweep_hash", sweep_hash},
                               {"shard", o.shard},
                               {"shards", o.shards}}
                                  .dump(1) +
                              "\n");
    Evaluator evaluator(spec, dir.string(), o.jobs);
    summary.results = evaluator.run(mine, "sweep");
    if (o.shard == 0 && spec.sensitivity) summary.analyses.sensitivity = run_sensitivity(spec, salt, evaluator);
    if (o.shard == 0 && spec.search) summary.analyses.search = run_search(spec, salt, evaluator);
    summary.computed = evaluator.computed, summary.cached = evaluator.cached;
    for (const PointResult& r : summary.results) summary.failed += !r.error.empty();
    write_outputs(spec, summary.results, dir.string(), summary.analyses);
    // The completion marker is the last file: a failed write above leaves none (and no swap).
    write_file_atomically((dir / "finished.json").string(), json{{"sweep_hash", sweep_hash},
                                                                 {"shard", o.shard},
                                                                 {"shards", o.shards},
                                                                 {"points", summary.results.size()},
                                                                 {"failed", summary.failed}}
                                                                    .dump(1) +
                                                                "\n");
  } catch (const fs::filesystem_error& e) {
    throw InputError(staged.as_target(describe_filesystem_error(e)));
  } catch (const InputError& e) {
    throw InputError(staged.as_target(e.what()));
  }
  staged.commit();
  return summary;
}

}  // namespace chipref::sweep
