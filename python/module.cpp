// The `chipref` Python module (its native part, chipref._core): the CLI's commands as functions, numpy in
// and out. Every function calls the same library code as the CLI; docs/python.md is the user's guide and
// python/chipref/_core.pyi the typed signatures. Long calls release the GIL and draw chipref's progress bars
// on stderr (when it is a terminal), as the CLI does.

#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/dual_path.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/version.hpp"
#include "model/executor.hpp"
#include "model/inspect.hpp"
#include "model/io/datasets.hpp"
#include "model/io/npy.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/op_def.hpp"
#include "python/arrays.hpp"
#include "quant/prequantized.hpp"
#include "quant/quantize.hpp"
#include "rtl_bridge/dut_cosim.hpp"
#include "rtl_bridge/systemc_blocks.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"
#include "sweep/run.hpp"
#include "sweep/spec.hpp"
#include "vectors/encoding.hpp"
#include "vectors/vectors.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace chipref::python {

namespace {

// A float model imported from ONNX, shared with the IntGraphs quantized from it.
struct FloatModel {
  std::shared_ptr<const Graph> graph;
  std::string path;
};

// An IntGraph, and the directory it was loaded from or saved to (golden vectors record it).
struct PyIntGraph {
  std::shared_ptr<const IntGraph> graph;
  std::string dir;
};

// The exceptions of docs/python.md: chipref.Error (exit_code), InputError (also a ValueError; exit code
// 1), Unsupported (an InputError), VerificationMismatch (exit code 3).
struct Exceptions {
  py::object error, input_error, unsupported, mismatch;
};
Exceptions& exceptions() {
  static Exceptions e;
  return e;
}

py::object new_exception(py::module_& m, const char* name, const char* doc, py::object bases, int exit_code) {
  const std::string qualified = std::string("chipref.") + name;
  py::object type =
      py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr));
  if (!type) throw py::error_already_set();
  type.attr("exit_code") = exit_code;
  m.attr(name) = type;
  return type;
}

void register_exceptions(py::module_& m) {
  Exceptions& e = exceptions();
  e.error = new_exception(m, "Error", "Base of every error chipref reports; exit_code is the CLI's for it.",
                          py::reinterpret_borrow<py::object>(PyExc_Exception), 1);
  e.input_error =
      new_exception(m, "InputError",
                    "Bad input: a file, a config value, a model, an argument out of range (the CLI's exit code 1). The "
                    "message names what was wrong and what was expected.",
                    py::make_tuple(e.error, py::reinterpret_borrow<py::object>(PyExc_ValueError)), 1);
  e.unsupported = new_exception(m, "Unsupported",
                                "Valid input chipref does not implement (an ONNX op configuration, an element type).",
                                py::make_tuple(e.input_error), 1);
  e.mismatch = new_exception(m, "VerificationMismatch",
                             "A checked result differs from its golden reference (verify, cosim: exit code 3).",
                             py::make_tuple(e.error), 3);
  py::register_exception_translator([](std::exception_ptr p) {
    const Exceptions& ex = exceptions();
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Unsupported& u) {
      PyErr_SetString(ex.unsupported.ptr(), u.what());
    } catch (const InputError& i) {
      PyErr_SetString(ex.input_error.ptr(), i.what());
    } catch (const VerificationMismatch& v) {
      PyErr_SetString(ex.mismatch.ptr(), v.what());
    } catch (const std::filesystem::filesystem_error& f) {
      PyErr_SetString(ex.input_error.ptr(), describe_filesystem_error(f).c_str());
    }
  });
}

std::string path_text(const py::object& path) { return py::str(py::module_::import("os").attr("fspath")(path)); }

py::list value_infos(const std::vector<ValueInfo>& infos) {
  py::list out;
  for (const ValueInfo& v : infos)
    out.append(py::dict("name"_a = v.name, "shape"_a = v.shape_known ? py::cast(v.shape) : py::none(),
                        "dtype"_a = std::string(to_string(v.dtype))));
  return out;
}

FloatModel import_model(const py::object& path, int64_t batch_size) {
  const std::string file = path_text(path);
  ImportOptions options;
  options.batch_size = batch_size;
  std::shared_ptr<Graph> graph;
  {
    py::gil_scoped_release unlocked;
    graph = std::make_shared<Graph>(import_onnx(file, options));
  }
  return {std::move(graph), file};
}

py::object run_float(const FloatModel& m, const py::array& x, bool intermediates) {
  if (m.graph->inputs.size() != 1)
    throw InputError(m.path + ": run takes models with one input; this one has " +
                     std::to_string(m.graph->inputs.size()));
  Tensor input = tensor_from_array(x, "input");
  if (input.is_float()) require_finite(input, "input");
  TensorMap outputs;
  {
    py::gil_scoped_release unlocked;
    const FloatExecutor executor(*m.graph);
    outputs = executor.run({{m.graph->inputs[0].name, std::move(input)}}, intermediates);
  }
  if (!intermediates) return array_from_tensor(std::move(outputs.at(m.graph->outputs.at(0).name)));
  py::dict all;
  for (auto& [name, t] : outputs) all[py::str(name)] = array_from_tensor(std::move(t));
  return std::move(all);
}

py::list summary(const FloatModel& m) {
  const GraphSummary s = summarize(*m.graph);
  py::list out;
  for (const NodeSummary& n : s.nodes)
    out.append(py::dict("name"_a = n.name, "op_type"_a = n.op_type, "input_shapes"_a = n.input_shapes,
                        "output_shapes"_a = n.output_shapes, "params"_a = n.params, "macs"_a = n.macs));
  return out;
}

// A config given as a dict becomes YAML through JSON (a YAML document too), indented so that an error's
// line and column point at one key.
QuantConfig config_from(const py::object& config) {
  if (py::isinstance<py::dict>(config)) {
    const std::string text = py::str(py::module_::import("json").attr("dumps")(config, "indent"_a = 1));
    return parse_quant_config(text, "config dict");
  }
  return load_quant_config(path_text(config));
}

PyIntGraph quantize_model(const py::object& model, const py::object& config, const py::object& calib,
                          int64_t calib_count, const py::object& preprocess, std::optional<float> mean,
                          std::optional<float> std_dev, bool strict, int threads) {
  const FloatModel m = py::isinstance<FloatModel>(model) ? model.cast<FloatModel>() : import_model(model, 0);
  const QuantConfig cfg = config_from(config);
  const Graph& graph = *m.graph;
  const bool integer_input = !graph.inputs.empty() && graph.inputs[0].dtype != DType::float32;
  if (!preprocess.is_none() && mean) throw InputError("quantize: give either preprocess or mean/std, not both");
  if (mean.has_value() != std_dev.has_value()) throw InputError("quantize: give mean and std together");
  std::optional<Preprocess> given;
  if (!preprocess.is_none()) given = read_preprocess_file(path_text(preprocess));
  if (mean) given = Preprocess(Normalisation{*mean, *std_dev});
  const Preprocess norm =
      integer_input
          ? Preprocess{}
          : choose_normalisation(m.path, given, preprocess.is_none() ? "arguments" : path_text(preprocess)).norm;
  if (threads < 1) throw InputError("quantize: threads must be >= 1");
  if (const std::string unmatched = unmatched_overrides_message(cfg, graph); !unmatched.empty()) {
    if (strict) throw InputError(unmatched);
    if (PyErr_WarnEx(PyExc_UserWarning, unmatched.c_str(), 1) != 0) throw py::error_already_set();
  }
  const bool given_params = is_prequantized(graph);
  if (given_params && !calib.is_none()) {
    const std::string message =
        m.path + " is already quantized (QDQ / QONNX); its own parameters are used and calib is ignored";
    if (PyErr_WarnEx(PyExc_UserWarning, message.c_str(), 1) != 0) throw py::error_already_set();
  }
  QuantizeInputs inputs{&graph, &cfg, nullptr, m.path, norm};
  inputs.calibration_threads = threads;
  std::optional<Tensor> calibration_tensor;
  std::unique_ptr<Dataset> dataset;
  if (!given_params) {
    if (calib.is_none())
      throw InputError("quantize: " + m.path +
                       " is a float model: give calib (an array of model inputs, or a data spec such as "
                       "'fashion-mnist')");
    if (py::isinstance<py::array>(calib)) {
      calibration_tensor = tensor_from_array(calib.cast<py::array>(), "calib");
      if (calibration_tensor->is_float()) require_finite(*calibration_tensor, "calib");
      if (calib_count > 0) *calibration_tensor = rows_of(*calibration_tensor, 0, calib_count);
      inputs.calibration = &*calibration_tensor;
    } else {
      DataRequest request;
      request.split = DataSplit::train;
      request.limit = calib_count > 0 ? calib_count : cfg.calibration_images;
      request.preprocess = norm;
      dataset = open_dataset(py::str(calib), request);
      inputs.calibration_samples = dataset.get();
    }
  }
  auto q = std::make_shared<IntGraph>();
  {
    py::gil_scoped_release unlocked;
    *q = quantize(inputs);
  }
  return {std::move(q), ""};
}

PyIntGraph load_graph(const py::object& dir) {
  const std::string path = path_text(dir);
  if (!is_int_graph_dir(path))
    throw InputError(path + ": not an IntGraph directory (no graph.json); write one with quantize(...).save(dir)");
  return {std::make_shared<IntGraph>(load_int_graph(path)), std::filesystem::absolute(path).string()};
}

void save_graph(PyIntGraph& g, const py::object& dir) {
  const std::string path = path_text(dir);
  save_int_graph(*g.graph, path);
  g.dir = std::filesystem::absolute(path).string();
}

std::unique_ptr<Engine> make_engine(const IntGraph& graph, const std::string& engine, int jobs,
                                    const std::vector<std::string>& rtl) {
  if (engine != "direct" && engine != "systemc")
    throw InputError("engine '" + engine + "': expected 'direct' or 'systemc'");
  if (jobs < 1) throw InputError("jobs " + std::to_string(jobs) + ": expected 1 or more");
  if (!rtl.empty() && engine != "systemc")
    throw InputError("rtl runs blocks inside the SystemC netlist: add engine='systemc'");
  if (engine == "systemc") {
    if (jobs > 1) throw InputError("jobs applies to the direct engine; the SystemC engine runs on one thread");
    if (rtl.empty()) return std::make_unique<SystemCEngine>(graph);
    const std::vector<std::string> known = cosim::systemc_rtl_blocks();
    for (const std::string& block : rtl)
      if (std::find(known.begin(), known.end(), block) == known.end())
        throw InputError("rtl block '" + block + "': expected one of " + fmt::format("{}", fmt::join(known, ", ")));
    return std::make_unique<SystemCEngine>(graph, graph.hardware, cosim::rtl_module_factory(rtl));
  }
  auto direct = std::make_unique<DirectEngine>(graph);
  direct->set_jobs(jobs);
  return direct;
}

// The dtype golden vectors write a value in (docs/vectors.md): its format's width, narrowest first.
DType value_dtype(const IntGraph& g, const std::string& name) {
  const auto v = g.values.find(name);
  if (v == g.values.end()) return DType::int32;
  return vectors::npy_dtype({v->second.quant.format.bits(), v->second.quant.format.is_signed()});
}

py::object run_graph(const PyIntGraph& g, const py::array& x, const std::string& engine, bool trace, int jobs,
                     const std::vector<std::string>& rtl) {
  Tensor input = tensor_from_array(x, "input");
  if (input.is_float()) require_finite(input, "input");
  Tensor y;
  RunTrace run_trace;
  run_trace.with_tile_streams = false;
  {
    py::gil_scoped_release unlocked;
    const std::unique_ptr<Engine> e = make_engine(*g.graph, engine, jobs, rtl);
    y = e->run(input, trace ? &run_trace : nullptr);
  }
  py::array out = array_from_tensor(std::move(y));
  if (!trace) return std::move(out);
  py::dict values;
  for (auto& [name, codes] : run_trace.values)
    values[py::str(name)] = array_from_codes(std::move(codes), value_dtype(*g.graph, name));
  py::dict overflows;
  for (const auto& [op, counter] : run_trace.overflows) overflows[py::str(op)] = counter.events;
  return py::make_tuple(out, values, overflows);
}

py::list graph_ops(const PyIntGraph& g) {
  py::list out;
  for (const Node& op : g.graph->ops)
    out.append(
        py::dict("name"_a = op.name, "op_type"_a = op.op_type, "inputs"_a = op.inputs, "outputs"_a = op.outputs));
  return out;
}

py::dict graph_values(const PyIntGraph& g) {
  py::dict out;
  for (const auto& [name, v] : g.graph->values)
    out[py::str(name)] =
        py::dict("shape"_a = v.shape, "format"_a = v.quant.format.name(), "scale"_a = v.quant.scale,
                 "zero_point"_a = v.quant.zero_point, "dtype"_a = std::string(to_string(value_dtype(*g.graph, name))));
  return out;
}

py::dict write_vectors(const PyIntGraph& g, const py::object& inputs, const py::object& out_dir, int64_t count,
                       const std::vector<std::string>& formats, const std::string& layers, const std::string& layout,
                       int word_bits, const std::string& bit_order, const py::object& layout_config, bool accumulators,
                       const std::string& engine, int jobs, const py::object& input_file) {
  if (g.dir.empty())
    throw InputError(
        "vectors: the manifest names the IntGraph's directory, and this IntGraph has none: save it first "
        "(graph.save(dir)) or load it (chipref.load(dir))");
  const std::string out = path_text(out_dir);
  vectors::InputSource source;
  Tensor x;
  if (py::isinstance<py::array>(inputs)) {
    if (count > 0) throw InputError("vectors: count applies to a data spec; every row of an array is written");
    x = tensor_from_array(inputs.cast<py::array>(), "inputs");
    // verify regenerates every file from the inputs the manifest names: an array is kept beside the directory.
    const std::string file = input_file.is_none()
                                 ? std::filesystem::path(out).lexically_normal().string() + ".inputs.npy"
                                 : path_text(input_file);
    write_npy(file, x);
    source = {"npy", std::filesystem::absolute(file).string(), x.rank() > 0 ? x.shape[0] : 0, ""};
  } else {
    const std::string spec = path_text(inputs);
    if (!input_file.is_none()) throw InputError("vectors: input_file applies to an array of inputs");
    if (spec.size() > 4 && spec.substr(spec.size() - 4) == ".npy" && spec.find(':') == std::string::npos) {
      if (count > 0) throw InputError("vectors: count applies to a data spec; every input of " + spec + " is written");
      x = read_npy(spec);
      source = {"npy", std::filesystem::absolute(spec).string(), x.rank() > 0 ? x.shape[0] : 0, ""};
    } else {
      if (count < 1) throw InputError("vectors: a data spec needs count >= 1");
      DataRequest request;
      request.split = DataSplit::test;
      request.limit = count;
      request.preprocess = g.graph->preprocess;
      request.threads = jobs;
      const std::unique_ptr<Dataset> data = open_dataset(spec, request);
      source = vectors::data_input_source(spec, data->count());
      x = data->rows(0, data->count());
    }
  }
  if (x.is_float()) require_finite(x, "inputs");
  vectors::Options options;
  options.formats.clear();
  for (const std::string& f : formats) {
    const vectors::Format parsed = vectors::parse_format(f);
    if (std::find(options.formats.begin(), options.formats.end(), parsed) == options.formats.end())
      options.formats.push_back(parsed);
  }
  if (options.formats.empty()) throw InputError("vectors: give at least one of the formats mem, bin, npy, h");
  if (bit_order != "lsb-first" && bit_order != "msb-first")
    throw InputError("vectors: bit_order '" + bit_order + "': expected 'lsb-first' or 'msb-first'");
  options.layers = layers, options.accumulators = accumulators, options.word_bits = word_bits;
  options.layout = vectors::parse_layout(layout);
  options.layout.msb_first = bit_order == "msb-first";
  if (!layout_config.is_none()) options.layer_layouts = vectors::load_layer_layouts(path_text(layout_config));
  options.engine = engine;
  vectors::Manifest manifest;
  {
    py::gil_scoped_release unlocked;
    const std::unique_ptr<Engine> e = make_engine(*g.graph, engine, jobs, {});
    manifest = vectors::write_vectors(*g.graph, g.dir, x, source, out, options, *e, jobs);
  }
  std::set<std::string> files;
  int64_t bytes = 0;
  for (const auto& e : manifest.entries)
    if (files.insert(e.file).second) bytes += e.bytes;
  return py::dict("dir"_a = out, "inputs"_a = source.count, "files"_a = files.size(), "bytes"_a = bytes,
                  "entries"_a = manifest.entries.size(), "input_source"_a = source.path);
}

int64_t verify(const py::object& dir) {
  const std::string path = path_text(dir);
  py::gil_scoped_release unlocked;
  return vectors::verify_vectors(path, make_engine_by_name);
}

py::dict point_dict(const sweep::SweepSpec& spec, const sweep::PointResult& r) {
  py::dict values;
  for (size_t a = 0; a < spec.axes.size() && a < r.values.size(); ++a) values[py::str(spec.axes[a].name)] = r.values[a];
  py::list layers;
  for (const sweep::LayerResult& l : r.layers)
    layers.append(py::dict("layer"_a = l.layer, "weight_bits"_a = l.weight_bits, "act_bits"_a = l.act_bits,
                           "macs"_a = l.macs, "weight_memory_bits"_a = l.weight_memory_bits, "sqnr_db"_a = l.sqnr_db,
                           "acc_bits"_a = l.acc_bits, "acc_worst_bits"_a = l.acc_worst_bits,
                           "acc_observed_bits"_a = l.acc_observed_bits, "overflow_events"_a = l.overflow_events));
  return py::dict("id"_a = r.id, "index"_a = r.index, "values"_a = values, "error"_a = r.error, "metric"_a = r.metric,
                  "accuracy"_a = r.accuracy(), "top1"_a = r.top1(), "top5"_a = r.top5(), "correct"_a = r.correct,
                  "count"_a = r.count, "macs"_a = r.macs, "cost"_a = r.cost,
                  "weight_memory_bits"_a = r.weight_memory_bits, "overflow_events"_a = r.overflow_events,
                  "min_sqnr_db"_a = r.min_sqnr_db, "layers"_a = layers);
}

py::list run_sweep(const py::object& sweep_file, const py::object& out_dir, int jobs, std::optional<int64_t> shard,
                   int64_t shards) {
  const sweep::SweepSpec spec = sweep::load_sweep(path_text(sweep_file));
  sweep::RunOptions options;
  options.jobs = jobs;
  if (jobs < 1) throw InputError("sweep: jobs must be >= 1");
  if (shards < 1) throw InputError("sweep: shards must be >= 1");
  if (shards > 1 && !shard) throw InputError("sweep: with shards > 1, give shard (0 .. shards - 1)");
  if (shard && (*shard < 0 || *shard >= shards))
    throw InputError(fmt::format("sweep: shard {} of {}: expected 0 <= shard < shards", *shard, shards));
  options.shard = shard.value_or(0), options.shards = shards;
  sweep::RunSummary summary;
  const std::string out = path_text(out_dir);
  {
    py::gil_scoped_release unlocked;
    summary = sweep::run_sweep(spec, out, options);
  }
  py::list points;
  for (const sweep::PointResult& r : summary.results) points.append(point_dict(spec, r));
  return points;
}

py::dict run_cosim(const py::object& vectors_dir, const std::string& layer, const std::string& block,
                   const py::object& dut, const std::string& top, const py::object& adapter,
                   const py::object& build_dir, int64_t watchdog, const py::object& trace, int64_t trace_window) {
  cosim::DutCosimOptions o;
  o.vectors_dir = path_text(vectors_dir), o.layer = layer, o.top = top, o.watchdog = watchdog;
  o.trace_window = trace_window;
  if (watchdog < 1) throw InputError("cosim: watchdog must be >= 1 cycle");
  if (!dut.is_none()) {
    if (py::isinstance<py::str>(dut) || !py::isinstance<py::sequence>(dut))
      o.sources = {path_text(dut)};
    else
      for (const py::handle source : dut) o.sources.push_back(path_text(py::reinterpret_borrow<py::object>(source)));
  }
  if (!adapter.is_none()) o.adapter = path_text(adapter);
  if (!build_dir.is_none()) o.build_dir = path_text(build_dir);
  if (!trace.is_none()) o.trace = path_text(trace);
  cosim::CosimResult r;
  {
    py::gil_scoped_release unlocked;
    r = cosim::cosim_block_or_dut(block, o);
  }
  py::dict result("passed"_a = r.passed(), "block"_a = r.block, "layer"_a = r.layer, "tensor"_a = r.tensor,
                  "inputs"_a = r.inputs, "compared"_a = r.compared, "mismatches"_a = r.mismatches,
                  "cycles"_a = r.cycles, "matrices"_a = r.matrices, "seconds"_a = r.seconds, "hung"_a = r.hung,
                  "hang"_a = r.hang, "trace"_a = r.trace, "report"_a = cosim::format_report(r));
  if (r.has_mismatch)
    result["first_mismatch"] =
        py::dict("input"_a = r.first.input, "index"_a = r.first.index, "cycle"_a = r.first.cycle,
                 "coordinates"_a = r.first.coordinates, "got"_a = r.first.got, "expected"_a = r.first.expected);
  else
    result["first_mismatch"] = py::none();
  return result;
}

py::dict compare_reference(const PyIntGraph& g, const py::dict& codes, const py::dict& reference) {
  std::map<std::string, CodeTensor> run;
  for (const auto& [name, array] : codes) {
    const std::string key = py::str(name);
    if (!reference.contains(name)) continue;  // only what is compared is converted
    const Tensor t = tensor_from_array(py::reinterpret_borrow<py::array>(array), "codes['" + key + "']");
    if (t.is_float()) throw InputError("codes['" + key + "']: expected integer codes (a traced run's)");
    run[key] = CodeTensor{t.shape, std::vector<int32_t>(t.ints.begin(), t.ints.end())};
  }
  std::map<std::string, Tensor> fake;
  for (const auto& [name, array] : reference) {
    const std::string key = py::str(name);
    fake[key] = tensor_from_array(py::reinterpret_borrow<py::array>(array), "reference['" + key + "']");
  }
  const std::vector<LayerComparison> layers = compare_with_reference(*g.graph, run, fake);
  py::list out;
  for (const LayerComparison& l : layers)
    out.append(py::dict("value"_a = l.value, "producer"_a = l.producer, "format"_a = l.format,
                        "elements"_a = l.elements, "differing"_a = l.differing, "within_one"_a = l.within_one,
                        "max_abs_lsb"_a = l.max_abs_lsb, "sqnr_db"_a = l.sqnr_db()));
  return py::dict("layers"_a = out, "table"_a = layer_table_markdown(layers));
}

}  // namespace

}  // namespace chipref::python

PYBIND11_MODULE(_core, m) {
  using namespace chipref;
  using namespace chipref::python;
  m.doc() = "chipref's native module: import, quantize, run, golden vectors, sweeps and cosim (docs/python.md).";
  m.attr("__version__") = kVersion;
  register_exceptions(m);

  py::class_<FloatModel>(m, "FloatModel", "A float ONNX model as chipref imported it.")
      .def_property_readonly(
          "path", [](const FloatModel& f) { return f.path; }, "The ONNX file.")
      .def_property_readonly(
          "inputs", [](const FloatModel& f) { return value_infos(f.graph->inputs); },
          "The graph inputs: dicts of name, shape (None when the model gives none; -1 for a dynamic axis) and dtype.")
      .def_property_readonly(
          "outputs", [](const FloatModel& f) { return value_infos(f.graph->outputs); }, "The graph outputs, as inputs.")
      .def("run", &run_float, "x"_a, "intermediates"_a = false,
           "Runs the float graph (chipref's float executor) on x [N, ...]: the first output, or with "
           "intermediates=True a dict of every tensor computed.")
      .def("summary", &summary,
           "Per node: name, op_type, input and output shapes, parameters and multiply-accumulates (chipref inspect).")
      .def("__repr__", [](const FloatModel& f) {
        return fmt::format("<chipref.FloatModel '{}': {} nodes>", f.path, f.graph->nodes.size());
      });

  py::class_<PyIntGraph>(m, "IntGraph", "An integer-only network (chipref quantize's output).")
      .def_static("load", &load_graph, "dir"_a, "Reads an IntGraph directory and checks every op.")
      .def("save", &save_graph, "dir"_a,
           "Writes graph.json and its tensors to dir (deterministic bytes); the graph then knows its directory.")
      .def_property_readonly(
          "dir", [](const PyIntGraph& g) { return g.dir.empty() ? py::none() : py::cast(g.dir); },
          "The directory it was loaded from or saved to, or None.")
      .def("run", &run_graph, "x"_a, "engine"_a = "direct", "trace"_a = false, "jobs"_a = 1,
           "rtl"_a = std::vector<std::string>{},
           "Runs x [N, ...] (float32, normalised; or token ids) bit-accurately. engine: 'direct' or 'systemc' (rtl: "
           "blocks run as Verilated RTL inside it). Returns the float output; with trace=True a tuple (output, "
           "values, overflows): every integer tensor by name, in the dtype golden vectors write it in, and each "
           "MAC's accumulator overflow count.")
      .def_property_readonly("ops", &graph_ops, "The ops in order: dicts of name, op_type, inputs, outputs.")
      .def_property_readonly("values", &graph_values,
                             "Every integer tensor: shape, format ('int8'), scale, zero_point, dtype of its arrays.")
      .def_property_readonly(
          "input_name", [](const PyIntGraph& g) { return g.graph->input_name; }, "The float input's name.")
      .def_property_readonly(
          "input_shape", [](const PyIntGraph& g) { return g.graph->input_shape; }, "The input shape, batch -1.")
      .def_property_readonly(
          "output_shape", [](const PyIntGraph& g) { return g.graph->output_shape; }, "The output shape, batch -1.")
      .def("__repr__", [](const PyIntGraph& g) {
        return fmt::format("<chipref.IntGraph of '{}': {} ops{}>", g.graph->source_model, g.graph->ops.size(),
                           g.dir.empty() ? "" : ", in " + g.dir);
      });

  m.def("import_onnx", &import_model, "path"_a, "batch_size"_a = 0,
        "Imports an ONNX model (float, QDQ or QONNX). batch_size fixes a dynamic first axis (0: keep it).");
  m.def("quantize", &quantize_model, "model"_a, "config"_a, "calib"_a = py::none(), "calib_count"_a = 0,
        "preprocess"_a = py::none(), "mean"_a = py::none(), "std"_a = py::none(), "strict"_a = false, "threads"_a = 1,
        "Quantizes a FloatModel (or an ONNX path) with config (a dict or a YAML path, docs/config.md) into an "
        "IntGraph. calib: an array of normalised model inputs, or a data spec read from its training split "
        "(docs/data.md); not needed for a QDQ or QONNX model, whose own parameters are used. calib_count: the "
        "first rows only (0: the config's calibration.images for a data spec, all rows of an array). The input "
        "normalisation recorded in the IntGraph: preprocess (a YAML file), mean/std, or the model's sidecar.");
  m.def("load", &load_graph, "dir"_a, "Reads an IntGraph directory (IntGraph.load).");
  m.def("vectors", &write_vectors, "graph"_a, "inputs"_a, "out_dir"_a, "count"_a = 0,
        "formats"_a = std::vector<std::string>{"mem"}, "layers"_a = "*", "layout"_a = "nchw", "word_bits"_a = 0,
        "bit_order"_a = "lsb-first", "layout_config"_a = py::none(), "accumulators"_a = true, "engine"_a = "direct",
        "jobs"_a = 1, "input_file"_a = py::none(),
        "Writes golden vectors and manifest.json for a saved IntGraph (chipref vectors). inputs: an array (kept in "
        "input_file, default OUT_DIR.inputs.npy, so that verify can regenerate), an .npy path, or a data spec with "
        "count. Returns a summary dict.");
  m.def("verify", &verify, "dir"_a,
        "Re-hashes every file of a vectors directory against its manifest; raises VerificationMismatch naming the "
        "first differing element. Returns the number of files checked.");
  m.def("sweep", &run_sweep, "sweep_file"_a, "out_dir"_a, "jobs"_a = 1, "shard"_a = py::none(), "shards"_a = 1,
        "Runs a sweep file (chipref sweep): writes out_dir's results and report, returns one dict per point.");
  m.def("cosim", &run_cosim, "vectors"_a, "layer"_a, "block"_a = "", "dut"_a = py::none(), "top"_a = "",
        "adapter"_a = py::none(), "build_dir"_a = py::none(), "watchdog"_a = 1000, "trace"_a = py::none(),
        "trace_window"_a = 100,
        "Drives a layer's golden vectors through RTL: a reference block, or your design (dut sources, top, adapter "
        "YAML). Returns a dict with passed, mismatches, the first mismatch and the CLI's report text; a mismatch is "
        "a result, not an exception.");
  m.def("compare_with_reference", &compare_reference, "graph"_a, "codes"_a, "reference"_a,
        "Per layer: the integer codes of a traced run (codes: its values dict) against fake-quantized float tensors "
        "computed elsewhere (reference: by IntGraph value name), in LSBs at each value's own scale and zero point, "
        "and the SQNR of the dequantized codes against the reference. Returns {'layers': one dict per compared "
        "tensor, 'table': the same as Markdown, as chipref quantize --report prints it}.");
}
