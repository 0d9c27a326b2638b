#pragma once
// A sweep file (docs/sweep.md): a model, a base quantization config and axes — config keys, globally or
// for the layers a pattern matches, each with the values to try — sampled as a grid, a list or at
// random. Every point is the base config with its axis values written in, checked by the config
// parser before anything runs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/io/idx.hpp"
#include "quant/config.hpp"

namespace chipref::sweep {

struct Axis {
  std::string name;                 // as the sweep file names it (a CSV column)
  std::string key;                  // section.field of the quantization config, e.g. weights.bits
  std::string layers;               // empty: the defaults; else an override for this node pattern
  std::vector<std::string> values;  // as written (YAML scalars)
  std::vector<std::string> where;   // FILE:LINE:COLUMN of each value
  bool numeric() const;             // every value is a number (plots use it as an x axis)
};

// Lower one MAC layer at a time to `value` of `key`, the others at the base config.
struct Sensitivity {
  std::string key, value;
};

// Greedy mixed precision: every MAC layer starts at values[0] of `key`; each round lowers the one layer
// by one step that saves the most cost per accuracy lost, while the sweep's metric stays at or above the
// target (in the metric's unit: a fraction, or dB for sqnr).
struct Search {
  std::string key;
  std::vector<std::string> values;
  double target = 0;
};

// The accuracy axis a sweep can have (`metric:`). top1 and top5 count labels; the others compare the
// integer network's outputs with the float model's on the same inputs (eval --against float), so they
// need no labels: sqnr (dB), cosine, agreement (top-1 agreement along the last axis). Higher is better
// for each; the largest absolute error, lower-better, is recorded in every such point but is not an axis.
inline const std::vector<std::string>& sweep_metrics() {
  static const std::vector<std::string> metrics{"top1", "top5", "sqnr", "cosine", "agreement"};
  return metrics;
}
inline bool metric_needs_labels(const std::string& metric) { return metric == "top1" || metric == "top5"; }
// How plots, tables and messages name a metric.
std::string metric_label(const std::string& metric);

struct SweepSpec {
  std::string path;         // the sweep file
  std::string model, base;  // resolved against the sweep file's directory
  int64_t eval_images = 1000, calibration_images = 200, detail_images = 100;
  // data: {mean, std}: the model's input normalisation; else its sidecar, else none (a warning). The
  // one in effect is part of every point's identity (sweep_salt): a cached point never mixes them.
  std::optional<Preprocess> normalisation;
  // data: {source: SPEC}: calibration reads its training split, evaluation its test split (docs/data.md);
  // relative paths are taken from the sweep file's folder. Part of every point's identity too.
  std::string data_source = "fashion-mnist";
  std::string metric = "top1";    // the accuracy axis of plots, the Pareto front and the search (sweep_metrics)
  std::string sampling = "grid";  // grid | list | random
  int64_t samples = 0;
  uint64_t seed = 1;
  std::vector<Axis> axes;
  std::vector<std::vector<size_t>> listed;  // sampling list: per point, the index of its value on each axis
  std::optional<Sensitivity> sensitivity;
  std::optional<Search> search;
};

// One config key set to a value, in the defaults (layers empty) or for the nodes a pattern matches.
struct Assignment {
  std::string key, layers, value;
};

// One point: a value index per axis, the config it makes and its identity.
struct Point {
  size_t index = 0;            // position in the sweep's order
  std::vector<size_t> choice;  // per axis, the index of its value
  std::string config_yaml;     // the base config with the point's values written in
  QuantConfig config;
  std::string id;  // 16 hex digits: a hash of everything that determines its results
};

// InputError with FILE:LINE:COLUMN for anything malformed: unknown keys, a missing model, an axis key
// the config does not have, a sampling that does not fit the axes.
SweepSpec load_sweep(const std::string& path);

// At most this many points in a sweep: a larger grid must be sampled (sampling: random).
inline constexpr size_t kMaxPoints = 1000000;
// The product of the axes' sizes, saturating at SIZE_MAX; and how many points make_points returns.
size_t grid_size(const SweepSpec& spec);
size_t point_count(const SweepSpec& spec);

// Every point in sweep order, each config parsed (an invalid value is an InputError at its line in the
// sweep file). `salt` joins the id hash (the model's bytes, the data settings, the tool version).
std::vector<Point> make_points(const SweepSpec& spec, const std::string& salt);

// A stable 64-bit hash of bytes (FNV-1a): the same on every machine, so shards agree on point ids.
uint64_t content_hash(const std::string& bytes);

// A point outside the grid: the base config with `assignments` written in, in order. InputError naming
// `what` if the result is not a valid config.
Point make_point(const SweepSpec& spec, const std::string& salt, const std::vector<Assignment>& assignments,
                 size_t index, const std::string& what);

// A glob matching exactly `node_name` (fnmatch metacharacters escaped).
std::string exact_pattern(const std::string& node_name);

// The axis value of a point, as written.
const std::string& value_of(const SweepSpec& spec, const Point& p, size_t axis);

}  // namespace chipref::sweep
