// ONNX backend node-test conformance: every case in Debian's libonnx-testdata whose ops the executor
// declares supported is run; float outputs must be within 1e-5 absolute + 1e-5 relative, integer
// outputs bit-exact. Prints ran / passed / unsupported-configuration counts per op, and fails if any
// case fails or if a declared-supported ONNX op has no passing case (no silent skips).

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "model/executor.hpp"
#include "model/onnx_import.hpp"

namespace fs = std::filesystem;
using namespace chipref;

namespace {
const char* kNodeTests = "/usr/share/libonnx-testdata/data/node";

struct OpTally {
  int ran = 0, passed = 0, unsupported = 0;
};

// Ops whose ONNX node tests all use element types chipref does not support, covered by chipref's own
// unit tests instead (named here so that the exemption is visible and reviewed).
const std::map<std::string, std::string> kCoveredByUnitTests = {
    {"Cast", "tests/model/test_ops.cpp 'Ops/Cast ...' (the node tests only cover float16/double/bfloat16/string)"},
    {"Gelu", "tests/model/test_ops.cpp 'Ops/Gelu ...' (opset 20: Debian's node tests predate it)"},
    {"Mish",
     "tests/model/test_ops.cpp 'Ops/Mish ...' (opset 18; at 11..17 only the fusion of x·tanh(softplus(x)) creates it)"},
};

struct CaseInfo {
  std::set<std::string> ops;  // "Op" or "domain::Op"
  int64_t opset = -1;
  std::string model_bytes;  // the model, with its opset lifted to kMinOnnxOpset where that is sound
  bool lifted = false;
};

// Backend node tests declare the opset in which their op was introduced (e.g. QLinearConv: 10). Such a
// case is a valid test of opset `kMinOnnxOpset` too when every node's operator definition is the same
// schema version in both opsets; ONNX's schema registry decides.
bool same_definition_at(const onnx::ModelProto& model, int64_t from, int64_t to) {
  for (const auto& n : model.graph().node()) {
    const auto* a = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(from), n.domain());
    const auto* b = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(to), n.domain());
    if (!a || !b || a->since_version() != b->since_version()) return false;
  }
  return true;
}

CaseInfo read_case_info(const fs::path& model_path) {
  onnx::ModelProto model;
  std::ifstream in(model_path, std::ios::binary);
  CaseInfo info;
  if (!model.ParseFromIstream(&in)) return info;
  for (auto& o : *model.mutable_opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") {
      info.opset = o.version();
      if (info.opset < kMinOnnxOpset && same_definition_at(model, info.opset, kMaxOnnxOpset)) {
        o.set_version(kMinOnnxOpset);
        info.opset = kMinOnnxOpset;
        info.lifted = true;
      }
    }
  for (const auto& n : model.graph().node())
    info.ops.insert(n.domain().empty() ? n.op_type() : n.domain() + "::" + n.op_type());
  model.SerializeToString(&info.model_bytes);
  return info;
}

// Empty string when equal; otherwise the first difference.
std::string compare(const Tensor& got, const Tensor& want) {
  if (got.shape != want.shape)
    return "shape " + shape_to_string(got.shape) + " vs expected " + shape_to_string(want.shape);
  if (got.is_float() != want.is_float())
    return "dtype " + std::string(to_string(got.dtype)) + " vs " + std::string(to_string(want.dtype));
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (want.is_float()) {
      const double g = got.floats[i], w = want.floats[i];
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && g == w) continue;
      if (!(std::fabs(g - w) <= 1e-5 + 1e-5 * std::fabs(w))) {
        std::ostringstream s;
        s << std::setprecision(9) << "element " << i << ": " << g << " vs expected " << w;
        return s.str();
      }
    } else if (got.ints[i] != want.ints[i]) {
      return "element " + std::to_string(i) + ": " + std::to_string(got.ints[i]) + " vs expected " +
             std::to_string(want.ints[i]);
    }
  }
  return "";
}

// Runs every data set of one case. Returns "" on success, "unsupported: ..." or the failure.
std::string run_case(const fs::path& dir, const CaseInfo& info) {
  Graph graph;
  try {
    graph = import_onnx_bytes(info.model_bytes, (dir / "model.onnx").string());
  } catch (const Unsupported& e) {
    return std::string("unsupported: ") + e.what();
  } catch (const InputError& e) {
    return std::string("import failed: ") + e.what();
  }
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(entry.path());
  if (sets.empty()) return "no test_data_set_* directory";
  const FloatExecutor exec(graph);
  for (const auto& set : sets) {
    TensorMap inputs;
    try {
      for (size_t i = 0; i < graph.inputs.size(); ++i)
        inputs[graph.inputs[i].name] = read_tensor_pb((set / ("input_" + std::to_string(i) + ".pb")).string());
      const TensorMap outputs = exec.run(inputs);
      for (size_t i = 0; i < graph.outputs.size(); ++i) {
        const Tensor want = read_tensor_pb((set / ("output_" + std::to_string(i) + ".pb")).string());
        const std::string diff = compare(outputs.at(graph.outputs[i].name), want);
        if (!diff.empty()) return set.filename().string() + " output '" + graph.outputs[i].name + "': " + diff;
      }
    } catch (const Unsupported& e) {
      return std::string("unsupported: ") + e.what();
    } catch (const InputError& e) {
      return set.filename().string() + ": " + e.what();
    }
  }
  return "";
}
}  // namespace

TEST_CASE("OnnxConformance/backend node tests of every supported op", "[model][onnx][conformance]") {
  REQUIRE(fs::is_directory(kNodeTests));
  std::set<std::string> supported;
  for (const auto& op : supported_ops()) supported.insert(op);
  std::map<std::string, OpTally> tally;
  std::vector<std::string> failures, unsupported_cases;
  int cases_run = 0, cases_lifted = 0;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(kNodeTests)) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    const CaseInfo info = read_case_info(dir / "model.onnx");
    if (info.ops.empty() || info.opset < kMinOnnxOpset || info.opset > kMaxOnnxOpset) continue;
    if (!std::all_of(info.ops.begin(), info.ops.end(), [&](const std::string& op) { return supported.count(op); }))
      continue;
    ++cases_run;
    cases_lifted += info.lifted;
    const std::string result = run_case(dir, info);
    const bool is_unsupported = result.rfind("unsupported: ", 0) == 0;
    for (const auto& op : info.ops) {
      OpTally& t = tally[op];
      if (is_unsupported)
        ++t.unsupported;
      else
        ++t.ran, t.passed += result.empty();
    }
    if (is_unsupported)
      unsupported_cases.push_back(dir.filename().string() + ": " + result.substr(13));
    else if (!result.empty())
      failures.push_back(dir.filename().string() + ": " + result);
  }

  std::cout << "ONNX backend node tests (" << kNodeTests << "), opsets " << kMinOnnxOpset << ".." << kMaxOnnxOpset
            << ":\n";
  std::cout << std::left << std::setw(24) << "op" << std::right << std::setw(6) << "ran" << std::setw(8) << "passed"
            << std::setw(13) << "unsupported"
            << "\n";
  int total_ran = 0, total_passed = 0;
  std::vector<std::string> never_run;
  for (const auto& op : supported) {
    if (op.find("::") != std::string::npos) continue;  // custom domains have no ONNX node tests (unit-tested instead)
    const OpTally t = tally.count(op) ? tally[op] : OpTally{};
    std::cout << std::left << std::setw(24) << op << std::right << std::setw(6) << t.ran << std::setw(8) << t.passed
              << std::setw(13) << t.unsupported << "\n";
    if (t.passed == 0 && !kCoveredByUnitTests.count(op)) never_run.push_back(op);
  }
  for (const auto& f : failures) std::cout << "FAILED " << f << "\n";
  for (const auto& u : unsupported_cases) std::cout << "not run (unsupported configuration) " << u << "\n";
  for (const auto& [op, where] : kCoveredByUnitTests)
    std::cout << "no applicable node test for " << op << "; covered by " << where << "\n";
  total_ran = cases_run - static_cast<int>(unsupported_cases.size());
  total_passed = total_ran - static_cast<int>(failures.size());
  std::cout << "cases: " << cases_run << " with only supported ops; " << total_ran << " ran, " << total_passed
            << " passed, " << failures.size() << " failed, " << unsupported_cases.size()
            << " unsupported configurations; " << cases_lifted
            << " declared an older opset whose op definitions are unchanged at " << kMaxOnnxOpset << "\n";
  INFO(failures.size() << " failing cases; see the log");
  CHECK(failures.empty());
  INFO("supported ops with no passing case: " << never_run.size());
  for (const auto& op : never_run) std::cout << "NO PASSING CASE for supported op " << op << "\n";
  CHECK(never_run.empty());
}
