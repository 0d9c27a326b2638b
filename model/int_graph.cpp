#include "model/int_graph.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/files.hpp"
#include "core/json_integers.hpp"
#include "core/version.hpp"
#include "model/io/npy.hpp"

namespace chipref {

namespace {}  // namespace

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {
ordered_json attribute_to_json(const AttributeValue& v) {
  return std::visit(
      [](const auto& x) -> ordered_json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>)
          return {{"int", x}};
        else if constexpr (std::is_same_v<T, float>)
          return {{"float", static_cast<double>(x)}};
        else if constexpr (std::is_same_v<T, std::string>)
          return {{"string", x}};
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
          return {{"ints", x}};
        else if constexpr (std::is_same_v<T, std::vector<float>>)
          return {{"floats", std::vector<double>(x.begin(), x.end())}};
        else if constexpr (std::is_same_v<T, std::vector<std::string>>)
          return {{"strings", x}};
        else
          throw InputError("tensor-valued attributes are not stored in an IntGraph; use a constant");
      },
      v);
}

AttributeValue attribute_from_json(const ordered_json& j, const std::string& where) {
  if (!j.is_object() || j.size() != 1) throw InputError(where + ": an attribute must be an object with one type key");
  const auto entry = j.begin();
  const std::string type = entry.key();
  const ordered_json& value = entry.value();
  if (type == "int") return json_integer(value, where);
  if (type == "float") return static_cast<float>(value.get<double>());
  if (type == "string") return value.get<std::string>();
  if (type == "ints") return json_integers(value, where);
  if (type == "floats") {
    const auto d = value.get<std::vector<double>>();
    return std::vector<float>(d.begin(), d.end());
  }
  if (type == "strings") return value.get<std::vector<std::string>>();
  throw InputError(where + ": unknown attribute type '" + type +
                   "'; expected int, float, string, ints, floats or strings");
}

// A file name for a constant: its index in sorted order plus its name with anything unsafe replaced.
std::string constant_file(size_t index, const std::string& name) {
  std::string safe;
  for (char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%04zu_", index);
  return std::string("tensors/") + prefix + safe.substr(0, 80) + ".npy";
}

}  // namespace

const char* to_string(Dataflow d) {
  return d == Dataflow::weight_stationary ? "weight_stationary" : "output_stationary";
}

Dataflow parse_dataflow(const std::string& text) {
  if (text == "weight_stationary") return Dataflow::weight_stationary;
  if (text == "output_stationary") return Dataflow::output_stationary;
  throw InputError("unknown dataflow '" + text + "'; expected weight_stationary or output_stationary");
}

void save_int_graph(const IntGraph& g, const std::string& dir) {
  ordered_json j;
  j["format"] = "chipref-intgraph";
  j["version"] = kIntGraphVersion;
  j["tool_version"] = kVersion;
  j["source_model"] = g.source_model;
  j["config"] = g.config_name;
  j["input"] = {{"name", g.input_name}, {"shape", g.input_shape}};
  if (g.input_dtype != DType::float32) j["input"]["dtype"] = std::string(to_string(g.input_dtype));
  j["preprocess"] = ordered_json(preprocess_to_json(g.preprocess));
  j["output"] = {{"name", g.output_name}, {"shape", g.output_shape}};
  ordered_json values = ordered_json::object();
  for (const auto& [name, v] : g.values)
    values[name] = {{"shape", v.shape},
                    {"bits", v.quant.format.bits()},
                    {"signed", v.quant.format.is_signed()},
                    {"zero_point", v.quant.zero_point},
                    {"scale", v.quant.scale}};
  j["values"] = values;
  ordered_json constants = ordered_json::object();
  size_t index = 0;
  for (const auto& [name, t] : g.constants)
    constants[name] = {
        {"file", constant_file(index++, name)}, {"dtype", std::string(to_string(t.dtype))}, {"shape", t.shape}};
  j["constants"] = constants;
  ordered_json weights = ordered_json::object();
  for (const auto& [name, w] : g.weights)
    weights[name] = {{"bits", w.format.bits()},
                     {"signed", w.format.is_signed()},
                     {"zero_points", w.zero_points},
                     {"scales", w.scales}};
  j["weights"] = weights;
  j["hardware"] = {{"mac_rows", g.hardware.mac_rows},
                   {"mac_cols", g.hardware.mac_cols},
                   {"dataflow", to_string(g.hardware.dataflow)},
                   {"fifo_depth", g.hardware.fifo_depth}};
  ordered_json ops = ordered_json::array();
  for (const Node& op : g.ops) {
    ordered_json attrs = ordered_json::object();
    for (const auto& [key, value] : op.attributes) attrs[key] = attribute_to_json(value);  // std::map: sorted
    ops.push_back(
        {{"name", op.name}, {"op", op.op_type}, {"inputs", op.inputs}, {"outputs", op.outputs}, {"attributes", attrs}});
  }
  j["ops"] = ops;
  if (!g.rescalings.empty()) {  // absent from graphs without them, which stay as they were written before
    ordered_json rescalings = ordered_json::array();
    for (const ChannelRescaling& r : g.rescalings) {
      rescalings.push_back({{"pass", r.pass},
                            {"producer", r.producer},
                            {"readers", r.readers},
                            {"factors", r.factors},
                            {"renamed", r.renamed}});
      if (!r.unclipped.empty()) rescalings.back()["unclipped"] = r.unclipped;
    }
    j["rescalings"] = rescalings;
  }

  // What load_int_graph would refuse is never written (JSON cannot even hold NaN or infinity).
  preprocess_from_json(preprocess_to_json(g.preprocess), "the input preprocessing");  // checks it
  for (const auto& [name, v] : g.values)
    if (!std::isfinite(v.quant.scale))
      throw InputError("value '" + name + "' has a scale of " + std::to_string(v.quant.scale) +
                       "; scales must be finite");
  // Built beside the target, then swapped in (core/staged_output.hpp): a reader, a crash or a second
  // writer never sees a half-written IntGraph, and the old one stays until the new one is complete.
  const fs::path target = output_target(dir);
  if (fs::exists(target) && !is_int_graph_dir(target.string()))
    throw InputError(target.string() + ": exists and is not an IntGraph directory; refusing to replace it");
  StagedOutput staged(target, StagedOutput::Kind::directory);
  const fs::path& staging = staged.staging();
  try {
    fs::create_directories(staging / "tensors");
    index = 0;
    for (const auto& [name, t] : g.constants) write_npy((staging / constant_file(index++, name)).string(), t);
    write_file_atomically((staging / "graph.json").string(), j.dump(2) + "\n");
  } catch (const fs::filesystem_error& e) {  // a full disk, a file size limit: named as the user asked for it
    throw InputError(staged.as_target(describe_filesystem_error(e)));
  } catch (const InputError& e) {
    throw InputError(staged.as_target(e.what()));
  }
  staged.commit();
}

bool is_int_graph_dir(const std::string& path) { return fs::is_regular_file(fs::path(path) / "graph.json"); }

std::string int_graph_json_path(const std::string& dir) { return (fs::path(dir) / "graph.json").string(); }

namespace {
WeightQuant weight_quant_from_json(const ordered_json& w, const std::string& name, const fs::path& json_path) {
  try {
    WeightQuant q;
    q.format = IntFormat::make(json_integer<int>(w.at("bits"), "bits"), w.at("signed").get<bool>());
    q.zero_points = json_integers(w.at("zero_points"), "zero_points");
    if (q.zero_points.empty()) throw InputError("zero_points: expected one per tensor or one per output channel");
    for (int64_t z : q.zero_points)
      if (!q.format.contains(z)) throw InputError("zero point " + std::to_string(z) + " is outside " + q.format.name());
    for (const auto& x : w.at("scales")) q.scales.push_back(json_finite(x, "scales"));
    return q;
  } catch (const InputError& e) {
    throw InputError(json_path.string() + ": weights: '" + name + "': " + e.what());
  } catch (const ordered_json::exception& e) {
    throw InputError(json_path.string() + ": weights: '" + name + "': " + e.what());
  }
}

ChannelRescaling rescaling_from_json(const ordered_json& r, const fs::path& json_path) {
  const std::string where = json_path.string() + ": rescalings: ";
  try {
    ChannelRescaling c;
    c.pass = r.at("pass").get<std::string>();
    if (c.pass != "equalization" && c.pass != "smoothquant")
      throw InputError("pass '" + c.pass + "': expected equalization or smoothquant");
    c.producer = r.at("producer").get<std::string>();
    c.readers = r.at("readers").get<std::vector<std::string>>();
    for (const auto& x : r.at("factors")) {
      c.factors.push_back(json_finite(x, "factors"));
      if (!(c.factors.back() > 0)) throw InputError("factors: expected positive numbers");
    }
    c.renamed = r.at("renamed").get<std::vector<std::string>>();
    if (r.contains("unclipped")) c.unclipped = r.at("unclipped").get<std::vector<std::string>>();
    return c;
  } catch (const InputError& e) {
    throw InputError(where + e.what());
  } catch (const ordered_json::exception& e) {
    throw InputError(where + e.what());
  }
}
}  // namespace

IntGraph read_int_graph(const std::string& dir) {
  const fs::path json_path = int_graph_json_path(dir);
  std::ifstream in(json_path);
  if (!in) throw InputError(json_path.string() + ": cannot open file: " + std::strerror(errno));
  ordered_json j;
  try {
    j = ordered_json::parse(in);
    if (j.value("format", "") != "chipref-intgraph")
      throw InputError(json_path.string() + ": not a chipref IntGraph (format key)");
    if (json_integer<int>(j.at("version"), json_path.string() + ": version") != kIntGraphVersion)
      throw InputError(json_path.string() + ": IntGraph version " + j.at("version").dump() +
                       " is not supported; expected " + std::to_string(kIntGraphVersion));
    IntGraph g;
    g.source_model = j.at("source_model").get<std::string>();
    g.config_name = j.at("config").get<std::string>();
    g.input_name = j.at("input").at("name").get<std::string>();
    g.input_shape = json_integers(j.at("input").at("shape"), json_path.string() + ": input: shape");
    if (j.at("input").contains("dtype")) {
      const std::string dtype = j["input"]["dtype"].get<std::string>();
      bool known = false;
      for (DType d :
           {DType::float32, DType::int8, DType::uint8, DType::int16, DType::uint16, DType::int32, DType::int64})
        if (to_string(d) == dtype) g.input_dtype = d, known = true;
      if (!known)
        throw InputError(json_path.string() + ": input: dtype '" + dtype +
                         "' is not one of float32, int8, uint8, int16, uint16, int32, int64");
    }
    g.preprocess = preprocess_from_json(j.at("preprocess"), json_path.string() + ": preprocess");
    g.output_name = j.at("output").at("name").get<std::string>();
    g.output_shape = json_integers(j.at("output").at("shape"), json_path.string() + ": output: shape");
    for (const auto& [name, v] : j.at("values").items()) {
      try {
        const IntFormat format = IntFormat::make(json_integer<int>(v.at("bits"), "bits"), v.at("signed").get<bool>());
        const int64_t zero_point = json_integer(v.at("zero_point"), "zero point");
        if (!format.contains(zero_point))  // the kernels take zero points as int32 codes of the value's format
          throw InputError("zero point " + std::to_string(zero_point) + " is outside " + format.name() + " [" +
                           std::to_string(format.min()) + ", " + std::to_string(format.max()) + "]");
        g.values[name] = IntValue{json_integers(v.at("shape"), "shape"),
                                  QuantParams{format, zero_point, json_finite(v.at("scale"), "scale")}};
      } catch (const InputError& e) {
        throw InputError(json_path.string() + ": value '" + name + "': " + e.what());
      }
    }
    for (const auto& [name, c] : j.at("constants").items()) {
      const std::string file = c.at("file").get<std::string>();
      if (file.find("..") != std::string::npos || file.empty() || file[0] == '/')
        throw InputError(json_path.string() + ": constant '" + name + "' points outside the IntGraph directory");
      Tensor t = read_npy((fs::path(dir) / file).string());
      const Shape declared = json_integers(c.at("shape"), json_path.string() + ": constant '" + name + "': shape");
      if (t.shape != declared || std::string(to_string(t.dtype)) != c.at("dtype").get<std::string>())
        throw InputError((fs::path(dir) / file).string() + ": holds " + std::string(to_string(t.dtype)) +
                         shape_to_string(t.shape) + "; graph.json declares " + c.at("dtype").get<std::string>() +
                         shape_to_string(declared));
      g.constants[name] = std::move(t);
    }
    if (j.contains("hardware")) {  // graphs written before the SystemC engine have the defaults
      const auto& h = j.at("hardware");
      g.hardware.mac_rows = json_integer(h.at("mac_rows"), json_path.string() + ": hardware: mac_rows");
      g.hardware.mac_cols = json_integer(h.at("mac_cols"), json_path.string() + ": hardware: mac_cols");
      try {
        g.hardware.dataflow = parse_dataflow(h.at("dataflow").get<std::string>());
      } catch (const InputError& e) {
        throw InputError(json_path.string() + ": hardware: " + e.what());
      }
      g.hardware.fifo_depth = json_integer(h.at("fifo_depth"), json_path.string() + ": hardware: fifo_depth");
    }
    if (j.contains("weights"))
      for (const auto& [name, w] : j.at("weights").items())
        g.weights[name] = weight_quant_from_json(w, name, json_path);
    if (j.contains("rescalings"))
      for (const auto& r : j.at("rescalings")) g.rescalings.push_back(rescaling_from_json(r, json_path));
    if (j.contains("weight_scales"))  // graphs written before weight formats: signed symmetric codes of their dtype
      for (const auto& [name, scales] : j.at("weight_scales").items()) {
        if (!scales.is_array())
          throw InputError(json_path.string() + ": weight_scales: '" + name + "': expected a list of numbers");
        WeightQuant& w = g.weights[name];
        const auto c = g.constants.find(name);
        const auto v = g.values.find(name);  // N:M weights: the sparse_decode output's format
        if (c != g.constants.end() && c->second.dtype == DType::int16) w.format = IntFormat::int_bits(16);
        if (v != g.values.end()) w.format = v->second.quant.format;
        for (const auto& x : scales)
          w.scales.push_back(json_finite(x, json_path.string() + ": weight_scales: '" + name + "'"));
      }
    for (const auto& o : j.at("ops")) {
      Node n;
      n.name = o.at("name").get<std::string>();
      n.op_type = o.at("op").get<std::string>();
      n.domain = kIntDomain;
      n.inputs = o.at("inputs").get<std::vector<std::string>>();
      n.outputs = o.at("outputs").get<std::vector<std::string>>();
      for (const auto& [key, value] : o.at("attributes").items())
        n.attributes[key] =
            attribute_from_json(value, json_path.string() + ": op '" + n.name + "' attribute '" + key + "'");
      g.ops.push_back(std::move(n));
    }
    return g;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(json_path.string() + ": malformed IntGraph: " + e.what());
  }
}

}  // namespace chipref
