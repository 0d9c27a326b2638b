#include "sweep/spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "core/files.hpp"
#include "core/yaml_reader.hpp"
#include "model/io/datasets.hpp"
#include "quant/config_keys.hpp"

namespace fs = std::filesystem;

namespace chipref::sweep {

namespace {

// The config keys an axis may sweep: every key the components declare (quant/config_keys.hpp), by section.
const std::map<std::string, std::vector<std::string>>& sweepable_keys() {
  static const std::map<std::string, std::vector<std::string>> keys = [] {
    std::map<std::string, std::vector<std::string>> k;
    for (const std::string& section : config_sections()) k[section] = config_fields(section);
    return k;
  }();
  return keys;
}

std::string all_keys() {
  std::string s;
  for (const auto& [section, fields] : sweepable_keys())
    for (const std::string& f : fields) s += (s.empty() ? "" : ", ") + section + "." + f;
  return s;
}

uint64_t fnv1a(uint64_t h, const std::string& bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;
}

std::string resolve(const std::string& sweep_path, const std::string& file) {
  const fs::path p(file);
  return p.is_absolute() ? file : (fs::path(sweep_path).parent_path() / p).lexically_normal().string();
}

}  // namespace

std::string metric_label(const std::string& metric) {
  if (metric == "top5") return "top-5";
  if (metric == "sqnr") return "output SQNR (dB)";
  if (metric == "cosine") return "output cosine";
  if (metric == "agreement") return "top-1 agreement with float";
  return "top-1";
}

bool Axis::numeric() const {
  return std::all_of(values.begin(), values.end(), [](const std::string& v) {
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    return !v.empty() && end && *end == '\0';
  });
}

namespace {
SweepSpec read_sweep_document(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "sweep file");
  const YamlReader r(path);
  r.expect_map(
      root, "the sweep",
      {"model", "base", "data", "metric", "sampling", "samples", "seed", "axes", "points", "sensitivity", "search"});
  for (const char* key : {"model", "base"})
    if (!root[key]) throw InputError(path + ": the sweep needs '" + key + "' (docs/sweep.md)");
  if (!root["axes"] && !root["sensitivity"] && !root["search"])
    throw InputError(path + ": the sweep needs 'axes', 'sensitivity' or 'search' (docs/sweep.md)");
  SweepSpec s;
  s.path = path;
  s.model = resolve(path, r.text(root["model"], "model"));
  s.base = resolve(path, r.text(root["base"], "base"));
  if (!is_existing_file(s.model)) r.fail(root["model"], "no model file " + s.model);
  if (!is_existing_file(s.base)) r.fail(root["base"], "no base config " + s.base);
  if (const YAML::Node data = root["data"]) {
    r.expect_map(data, "data",
                 {"source", "eval_images", "calibration_images", "detail_images", "mean", "std", "preprocess"});
    if (static_cast<bool>(data["mean"]) != static_cast<bool>(data["std"]))
      r.fail(data, "'mean' and 'std' go together (the input normalisation)");
    if (data["preprocess"] && data["mean"])
      r.fail(data, "give either 'preprocess' (the whole pipeline) or 'mean' and 'std', not both");
    if (data["preprocess"]) s.normalisation = parse_preprocess(data["preprocess"], r);
    if (data["source"]) {
      const std::string source = r.text(data["source"], "source");
      try {
        s.data_source = absolute_data_spec(source, fs::path(path).parent_path().string());
      } catch (const InputError& e) {
        r.fail(data["source"], e.what());
      }
    }
    if (data["mean"]) {
      const double huge = 1e30;
      s.normalisation = Normalisation{static_cast<float>(r.number(data["mean"], "mean", -huge, huge)),
                                      static_cast<float>(r.number(data["std"], "std", 1e-30, huge))};
    }
    if (data["eval_images"]) s.eval_images = r.integer(data["eval_images"], "eval_images", 1, 10000);
    if (data["calibration_images"])
      s.calibration_images = r.integer(data["calibration_images"], "calibration_images", 1, 60000);
    if (data["detail_images"]) s.detail_images = r.integer(data["detail_images"], "detail_images", 0, 10000);
  }
  s.detail_images = std::min(s.detail_images, s.eval_images);
  if (root["sampling"]) s.sampling = r.choice(root["sampling"], "sampling", {"grid", "list", "random"});
  if (root["metric"]) s.metric = r.choice(root["metric"], "metric", sweep_metrics());

  auto check_key = [&](const YAML::Node& node) {
    const std::string key = r.text(node, "key");
    const size_t dot = key.find('.');
    const auto section = sweepable_keys().find(dot == std::string::npos ? key : key.substr(0, dot));
    if (section == sweepable_keys().end() || dot == std::string::npos ||
        std::find(section->second.begin(), section->second.end(), key.substr(dot + 1)) == section->second.end())
      r.fail(node, "'" + key + "' is not a config key a sweep can vary; expected one of: " + all_keys());
    return key;
  };
  if (const YAML::Node sens = root["sensitivity"]) {
    r.expect_map(sens, "sensitivity", {"key", "value"});
    if (!sens["key"] || !sens["value"])
      r.fail(sens, "sensitivity needs 'key' and 'value' (each MAC layer alone at that value)");
    s.sensitivity = Sensitivity{check_key(sens["key"]), r.text(sens["value"], "value")};
  }
  if (const YAML::Node search = root["search"]) {
    r.expect_map(search, "search", {"key", "values", "target", "target_top1"});
    // target_top1, the key of sweeps from before `metric:`, is the target of a top-1 sweep
    const YAML::Node target = search["target"] ? search["target"] : search["target_top1"];
    if (!search["key"] || !search["values"] || !target)
      r.fail(search, "search needs 'key', 'values' (highest first) and 'target' (of the sweep's metric)");
    if (search["target"] && search["target_top1"])
      r.fail(search["target_top1"], "give 'target' or 'target_top1', not both");
    if (search["target_top1"] && s.metric != "top1")
      r.fail(search["target_top1"],
             "'target_top1' is a top-1 target; this sweep's metric is " + s.metric + ": write 'target'");
    Search x;
    x.key = check_key(search["key"]);
    if (!search["values"].IsSequence() || search["values"].size() < 2)
      r.fail(search["values"], "'values' must list at least two values, highest first");
    for (const YAML::Node& v : search["values"]) x.values.push_back(r.text(v, "value"));
    x.target = s.metric == "sqnr" ? r.number(target, "target", -1000.0, 1000.0) : r.number(target, "target", 0.0, 1.0);
    s.search = x;
  }
  const YAML::Node axes = root["axes"];
  if (axes && (!axes.IsMap() || axes.size() == 0))
    r.fail(axes, "'axes' must map axis names to {key, values[, layers]}");
  for (const auto& kv : axes ? axes : YAML::Node(YAML::NodeType::Map)) {
    Axis a;
    a.name = r.text(kv.first, "axis name");
    const YAML::Node& spec = kv.second;
    r.expect_map(spec, "axis " + a.name, {"key", "values", "layers"});
    if (!spec["key"] || !spec["values"]) r.fail(spec, "axis " + a.name + " needs 'key' and 'values'");
    a.key = check_key(spec["key"]);
    if (spec["layers"]) a.layers = r.text(spec["layers"], "layers");
    if (!spec["values"].IsSequence() || spec["values"].size() == 0)
      r.fail(spec["values"], "'values' must be a non-empty list");
    for (const YAML::Node& v : spec["values"]) {
      a.values.push_back(r.text(v, "value"));
      a.where.push_back(r.at(v));
    }
    for (const Axis& other : s.axes)
      if (other.name == a.name) r.fail(kv.first, "axis '" + a.name + "' appears twice");
    s.axes.push_back(std::move(a));
  }

  if (s.sampling == "random") {
    if (!root["samples"]) r.fail(root["sampling"], "random sampling needs 'samples' (how many points)");
    s.samples = r.integer(root["samples"], "samples", 1, 1000000);
    if (root["seed"]) s.seed = static_cast<uint64_t>(r.integer(root["seed"], "seed", 0, 2147483647));
  } else {
    for (const char* key : {"samples", "seed"})
      if (root[key]) r.fail(root[key], std::string("'") + key + "' is for random sampling only");
  }
  if (s.sampling == "grid" && grid_size(s) > kMaxPoints)
    r.fail(axes, (grid_size(s) == SIZE_MAX ? std::string("the grid has 2^64 points or more")
                                           : fmt::format("the grid has {} points", grid_size(s))) +
                     fmt::format(", more than the {} a sweep may have: sample it (sampling: random, samples: N)",
                                 kMaxPoints));
  if (s.sampling == "list") {
    const YAML::Node points = root["points"];
    if (!points || !points.IsSequence() || points.size() == 0)
      r.fail(points ? points : root["sampling"], "list sampling needs 'points': a list of {axis: value}");
    for (const YAML::Node& p : points) {
      if (!p.IsMap()) r.fail(p, "each point maps every axis to one of its values");
      std::vector<size_t> choice;
      for (const Axis& a : s.axes) {
        if (!p[a.name]) r.fail(p, "this point gives no value for axis '" + a.name + "'");
        const std::string v = r.text(p[a.name], a.name);
        const auto it = std::find(a.values.begin(), a.values.end(), v);
        if (it == a.values.end()) r.fail(p[a.name], "'" + v + "' is not one of axis " + a.name + "'s values");
        choice.push_back(static_cast<size_t>(it - a.values.begin()));
      }
      for (const auto& kv : p)
        if (const std::string name = r.text(kv.first, "axis name");
            std::none_of(s.axes.begin(), s.axes.end(), [&](const Axis& a) { return a.name == name; }))
          r.fail(kv.first, "no axis '" + name + "'");
      s.listed.push_back(std::move(choice));
    }
  } else if (root["points"]) {
    r.fail(root["points"], "'points' is for list sampling only");
  }
  return s;
}
}  // namespace

SweepSpec load_sweep(const std::string& path) {
  return read_yaml_document(path, [&] { return read_sweep_document(path); });
}

size_t grid_size(const SweepSpec& spec) {
  size_t grid = 1;
  for (const Axis& a : spec.axes)
    grid = a.values.size() != 0 && grid > SIZE_MAX / a.values.size() ? SIZE_MAX : grid * a.values.size();
  return grid;
}

size_t point_count(const SweepSpec& spec) {
  if (spec.axes.empty()) return 0;
  if (spec.sampling == "list") return spec.listed.size();
  if (spec.sampling == "random") return std::min(grid_size(spec), static_cast<size_t>(spec.samples));
  return grid_size(spec);
}

uint64_t content_hash(const std::string& bytes) { return fnv1a(0xcbf29ce484222325ull, bytes); }

const std::string& value_of(const SweepSpec& spec, const Point& p, size_t axis) {
  return spec.axes.at(axis).values.at(p.choice.at(axis));
}

namespace {

YAML::Node load_base(const SweepSpec& spec) { return load_yaml_file(spec.base, "base config"); }

// The base config with `assignments` written in, as YAML text.
std::string config_text(const YAML::Node& base, const std::vector<Assignment>& assignments) {
  YAML::Node config = YAML::Clone(base);
  for (const Assignment& as : assignments) {
    const size_t dot = as.key.find('.');
    const std::string section = as.key.substr(0, dot), field = as.key.substr(dot + 1);
    if (as.layers.empty()) {
      config["defaults"][section][field] = YAML::Load(as.value);
    } else {
      YAML::Node entry;
      entry["match"] = as.layers;
      entry[section][field] = YAML::Load(as.value);
      config["layers"].push_back(entry);
    }
  }
  YAML::Emitter out;
  out << config;
  return std::string(out.c_str()) + "\n";
}

// What the config parser says about generated text, without its FILE:LINE:COLUMN (which points into it).
std::string parser_complaint(const std::string& text) {
  try {
    parse_quant_config(text, "@");
  } catch (const InputError& e) {
    std::string what = e.what();
    if (what.rfind("@:", 0) == 0) {
      size_t cut = 0;
      for (int colons = 0; colons < 3 && cut != std::string::npos; ++colons) cut = what.find(':', cut + 1);
      if (cut != std::string::npos) what = what.substr(cut + 2);
    }
    return what;
  }
  return "";
}

Point finish_point(std::string config_yaml, const std::string& salt, size_t index, const std::string& name,
                   const std::string& what) {
  Point p;
  p.index = index;
  p.config_yaml = std::move(config_yaml);
  try {
    p.config = parse_quant_config(p.config_yaml, name);
  } catch (const InputError& e) {
    throw InputError(what + " is not a valid config: " + e.what());
  }
  p.id = fmt::format("{:016x}", fnv1a(fnv1a(0xcbf29ce484222325ull, salt), p.config_yaml));
  return p;
}

}  // namespace

std::string exact_pattern(const std::string& node_name) {
  std::string p;
  for (char c : node_name) p += std::string(c == '*' || c == '?' || c == '[' || c == '\\' ? 1 : 0, '\\') + c;
  return p;
}

Point make_point(const SweepSpec& spec, const std::string& salt, const std::vector<Assignment>& assignments,
                 size_t index, const std::string& what) {
  return finish_point(config_text(load_base(spec), assignments), salt, index, fmt::format("{} {}", spec.path, what),
                      spec.path + ": " + what);
}

std::vector<Point> make_points(const SweepSpec& spec, const std::string& salt) {
  if (spec.axes.empty()) return {};
  // The choices, in order: the grid row-major (first axis slowest), the list as written, or a random
  // subset of the grid (without repeats, in grid order).
  std::vector<std::vector<size_t>> choices;
  if (spec.sampling == "list") {
    choices = spec.listed;
  } else {
    const size_t grid = grid_size(spec);
    std::vector<size_t> indices;
    if (grid <= kMaxPoints) {
      indices.resize(grid);
      for (size_t i = 0; i < grid; ++i) indices[i] = i;
      if (spec.sampling == "random" && static_cast<size_t>(spec.samples) < grid) {
        std::mt19937_64 rng(spec.seed);
        for (size_t i = 0; i < static_cast<size_t>(spec.samples); ++i)
          std::swap(indices[i], indices[i + rng() % (grid - i)]);
        indices.resize(static_cast<size_t>(spec.samples));
        std::sort(indices.begin(), indices.end());
      }
    } else {  // random sampling of a grid too large to list (load_sweep refuses such a grid otherwise)
      std::mt19937_64 rng(spec.seed);
      std::set<size_t> drawn;
      while (drawn.size() < static_cast<size_t>(spec.samples))
        drawn.insert(grid == SIZE_MAX ? static_cast<size_t>(rng()) : static_cast<size_t>(rng() % grid));
      indices.assign(drawn.begin(), drawn.end());
    }
    for (size_t flat : indices) {
      std::vector<size_t> c(spec.axes.size());
      for (size_t a = spec.axes.size(); a-- > 0;)
        c[a] = flat % spec.axes[a].values.size(), flat /= spec.axes[a].values.size();
      choices.push_back(std::move(c));
    }
  }
  const YAML::Node base = load_base(spec);
  auto assignment = [&](size_t a, size_t v) {
    return Assignment{spec.axes[a].key, spec.axes[a].layers, spec.axes[a].values[v]};
  };
  // Each value alone first, so that a bad one is reported at its line in the sweep file.
  for (size_t a = 0; a < spec.axes.size(); ++a)
    for (size_t v = 0; v < spec.axes[a].values.size(); ++v) {
      const std::string complaint = parser_complaint(config_text(base, {assignment(a, v)}));
      if (!complaint.empty())
        throw InputError(spec.axes[a].where[v] + ": axis " + spec.axes[a].name + " value '" + spec.axes[a].values[v] +
                         "' makes an invalid config: " + complaint);
    }
  std::vector<Point> points;
  for (size_t i = 0; i < choices.size(); ++i) {
    std::vector<Assignment> values;
    std::string described;
    for (size_t a = 0; a < spec.axes.size(); ++a) {
      values.push_back(assignment(a, choices[i][a]));
      described += (a ? ", " : "") + spec.axes[a].name + "=" + spec.axes[a].values[choices[i][a]];
    }
    Point p = finish_point(config_text(base, values), salt, i, fmt::format("{} point {}", spec.path, i),
                           fmt::format("{}: sweep point {} ({})", spec.path, i, described));
    p.choice = choices[i];
    points.push_back(std::move(p));
  }
  return points;
}

}  // namespace chipref::sweep
