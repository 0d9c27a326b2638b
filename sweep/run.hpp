#pragma once
// Running a sweep (docs/sweep.md): what every point shares is loaded once (the imported model, the
// calibration images, the evaluation images and the FP32 reference tensors of the detail images); each
// point is quantized and run on the DirectEngine; its results are cached as DIR/points/<id>.json, so a
// re-run, or another shard, skips what is done.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/executor.hpp"
#include "model/graph.hpp"
#include "model/io/idx.hpp"
#include "quant/quantize.hpp"
#include "sweep/spec.hpp"

namespace chipref::sweep {

// One MAC layer of a point.
struct LayerResult {
  std::string layer;    // the MAC op
  int weight_bits = 0;  // the narrowest signed width holding its weight codes (0: activations × activations)
  int act_bits = 0;     // its input's format
  int64_t macs = 0;     // per image
  int64_t weight_memory_bits = 0;  // dense codes, or N:M kept values + index metadata
  double sqnr_db = 0;              // of the requantized output against FP32, on the detail images (inf: exact)
  int acc_bits = 0;                // configured
  int acc_worst_bits = 0;          // what any input could need: Σ|w − z_w| · max|x − z_x| + |bias|, signed
  int acc_observed_bits = 0;       // what the evaluation images needed, signed
  int64_t overflow_events = 0;
  // A block-format layer (MX, BFP): its weight_bits and act_bits are the element widths, and each element
  // of both operands also carries this share of its block's scale (scale bits / block size) in the cost.
  double scale_bits_per_element = 0;
};

struct PointResult {
  std::string id;
  size_t index = 0;
  std::vector<std::string> values;  // per axis
  std::string error;                // non-empty: the point could not be quantized or run
  int64_t correct = 0, count = 0;   // top-1 correct of count (0 when the data has no labels)
  int64_t top5_correct = 0;
  std::string metric = "top1";  // the sweep's accuracy axis (sweep_metrics()): what accuracy() is
  // The integer network's outputs against the float model's on the evaluation images (as `eval --against
  // float` measures them): for the metrics sqnr, cosine and agreement only.
  bool against_float = false;
  double output_sqnr_db = 0, output_cosine = 0, output_agreement = 0, output_max_abs_error = 0;
  int64_t macs = 0;  // per image
  double cost = 0;   // Σ MACs · weight bits · activation bits, per image
  int64_t weight_memory_bits = 0;
  int64_t overflow_events = 0;
  double min_sqnr_db = 0;
  std::vector<LayerResult> layers;
  double top1() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0; }
  double top5() const { return count ? static_cast<double>(top5_correct) / static_cast<double>(count) : 0.0; }
  double accuracy() const {
    if (metric == "top5") return top5();
    if (metric == "sqnr") return output_sqnr_db;
    if (metric == "cosine") return output_cosine;
    if (metric == "agreement") return output_agreement;
    return top1();
  }
};

// What every point shares.
struct SweepData {
  Graph graph;          // imported
  Preprocess norm;      // the model's sidecar (else 0 / 1)
  Tensor calibration;   // the first calibration_images training images
  LabelledImages eval;  // the first eval_images test images (no labels when the metric needs none)
  Tensor eval_fp32;     // the float model's output on them, for a metric that compares with it
  TensorMap fp32;       // every FP32 tensor of the first detail_images test images
  std::string salt;     // what point ids hash besides the config: model bytes, data settings, version
  std::shared_ptr<CalibrationCache> calibrations;  // shared by points whose calibration is the same
  int jobs = 1;
};
// `jobs` threads compute the FP32 references.
SweepData load_sweep_data(const SweepSpec& spec, int jobs = 1);
std::string sweep_salt(const SweepSpec& spec);
// The sweep file's content hash as 16 hex digits: what ties run directories (shards) to one sweep file.
std::string sweep_file_hash(const std::string& sweep_path);

PointResult evaluate_point(const SweepSpec& spec, const SweepData& data, const Point& point);

struct RunOptions {
  int jobs = 1;
  int64_t shard = 0, shards = 1;  // run the points whose index ≡ shard (mod shards)
};

// The sweep file's `sensitivity`: the base config, then each MAC layer alone at the value.
struct SensitivityResult {
  std::string key, value;
  PointResult baseline;
  std::vector<std::pair<std::string, PointResult>> layers;  // float node name → its point
};

// The sweep file's `search`: each step lowers one layer one value; `config_yaml` is the final point's
// config (base + one override per MAC layer), `reached` whether the start met the target at all.
struct SearchResult {
  std::string key;
  double target = 0;                // of the sweep's metric
  std::vector<std::string> layers;  // float node names
  PointResult start;
  struct Step {
    std::string layer, value;
    PointResult result;
  };
  std::vector<Step> steps;
  std::vector<std::string> final_values;  // per layer
  std::string config_yaml;
  bool reached = false;
  int64_t evaluated = 0;  // candidate points tried
};

struct Analyses {
  std::optional<SensitivityResult> sensitivity;
  std::optional<SearchResult> search;
};

struct RunSummary {
  std::vector<PointResult> results;  // this run's points (this shard), in sweep order
  int64_t computed = 0, cached = 0, failed = 0;
  Analyses analyses;  // run by shard 0 only
};

// The MAC layers a sensitivity or search varies: the float model's Conv, Gemm and MatMul nodes with
// constant weights (after BN folding), in graph order.
std::vector<std::string> mac_layer_names(const SweepSpec& spec);

// Runs (or finds in OUT/points) every point of this shard with `jobs` threads and a progress bar, and
// writes OUT: sweep.json (the sweep file and its hash), points/<id>.json, the report (write_outputs) and
// finished.json (the sweep hash, shard i/N, points, failed) last. OUT is built beside the old one and
// swapped in at the end (core/staged_output.hpp): a crash or a failed write leaves the old OUT whole
// and no finished.json claiming the new run; the points a dead run finished are the next run's cache.
RunSummary run_sweep(const SweepSpec& spec, const std::string& out_dir, const RunOptions& options);

// Combines the points of several run directories of one sweep (shards, or runs on other machines) into
// `out_dir`: InputError if they ran different sweep files. `missing` counts the sweep's points no
// directory has.
struct MergeSummary {
  SweepSpec spec;
  std::vector<PointResult> results;
  int64_t missing = 0;
};
// Writes OUT's points, sweep.json and the report (write_outputs). new_directory: OUT is built beside and
// swapped in, as run_sweep does; in_place: OUT is a --slurm run's directory, holding the shards merged.
enum class MergeInto { new_directory, in_place };
MergeSummary merge_sweeps(const std::vector<std::string>& dirs, const std::string& out_dir,
                          MergeInto into = MergeInto::new_directory);

std::string result_json(const PointResult& r);
PointResult parse_result_json(const std::string& text, const std::string& source);

}  // namespace chipref::sweep
