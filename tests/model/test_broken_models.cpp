// A corpus of broken models, written by this test from the shipped CNN: each must give an InputError
// whose one-line message names the file (and, where there is one, the node and its op type) and what
// was expected. Never an abort, a crash or a hang.

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/files.hpp"
#include "model/executor.hpp"
#include "model/fold.hpp"
#include "model/onnx_import.hpp"

using namespace chipref;

namespace {
const char* kModel = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";

std::string good_bytes() { return read_file_bytes(kModel); }

std::string mutated(const std::function<void(onnx::ModelProto&)>& mutate) {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(good_bytes()));
  mutate(m);
  std::string out;
  m.SerializeToString(&out);
  return out;
}

onnx::NodeProto* node_named(onnx::ModelProto& m, const std::string& name) {
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.name() == name) return &n;
  FAIL("no node " << name);
  return nullptr;
}

std::string import_error(const std::string& bytes) {
  try {
    import_onnx_bytes(bytes, "broken.onnx");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

struct BrokenCase {
  const char* what;
  std::function<std::string()> make;
  std::vector<std::string> message_must_contain;
};
}  // namespace

TEST_CASE("BrokenModels/each broken model gives one clear line", "[model][onnx][errors]") {
  const std::vector<BrokenCase> cases = {
      {"empty file", [] { return std::string(); }, {"broken.onnx", "empty file"}},
      {"not ONNX at all",
       [] { return std::string("this is a text file, not a protobuf\n"); },
       {"broken.onnx", "not an ONNX model"}},
      {"truncated protobuf",
       [] {
         const auto b = good_bytes();
         return b.substr(0, b.size() / 2);
       },
       {"broken.onnx", "truncated or corrupt"}},
      {"corrupt protobuf",
       [] {
         auto b = good_bytes();
         for (size_t i = 100; i < 200; ++i) b[i] = '\xff';
         return b;
       },
       {"broken.onnx"}},
      {"unknown op",
       [] { return mutated([](onnx::ModelProto& m) { node_named(m, "/Relu")->set_op_type("FancyRelu"); }); },
       {"broken.onnx", "node '/Relu' (FancyRelu)", "not supported"}},
      {"missing initializer",
       [] {
         return mutated([](onnx::ModelProto& m) {
           auto* inits = m.mutable_graph()->mutable_initializer();
           for (int i = 0; i < inits->size(); ++i)
             if (inits->Get(i).name() == node_named(m, "/pw/pw.0/Conv")->input(1)) {
               inits->DeleteSubrange(i, 1);
               break;
             }
         });
       },
       {"broken.onnx", "/pw/pw.0/Conv"}},
      {"inconsistent shapes",
       [] {
         return mutated([](onnx::ModelProto& m) {
           const std::string w = node_named(m, "/head/Gemm")->input(1);
           for (auto& init : *m.mutable_graph()->mutable_initializer())
             if (init.name() == w) {  // a [10, 47] weight (with data to match) where the features are 48
               init.set_dims(1, 47);
               init.set_raw_data(init.raw_data().substr(0, 10 * 47 * 4));
             }
         });
       },
       {"broken.onnx", "inconsistent shapes", "Gemm"}},
      {"opset too old",
       [] { return mutated([](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(9); }); },
       {"broken.onnx", "opset 9 is not supported", "11..17"}},
      {"opset too new",
       [] { return mutated([](onnx::ModelProto& m) { m.mutable_opset_import(0)->set_version(18); }); },
       {"broken.onnx", "opset 18", "11..17"}},
      {"no graph", [] { return mutated([](onnx::ModelProto& m) { m.clear_graph(); }); }, {"broken.onnx", "no graph"}},
      {"raw data of the wrong size",
       [] {
         return mutated([](onnx::ModelProto& m) {
           auto& init = *m.mutable_graph()->mutable_initializer(0);
           init.set_raw_data(init.raw_data().substr(4));
         });
       },
       {"broken.onnx", "initializer", "bytes"}},
  };
  for (const auto& c : cases) {
    const std::string message = import_error(c.make());
    INFO(c.what << ": " << message);
    CHECK(message != "no error");
    CHECK(message.find('\n') == std::string::npos);
    for (const auto& part : c.message_must_contain) CHECK(message.find(part) != std::string::npos);
  }
}

TEST_CASE("BrokenModels/a wrong input at run time names the graph input", "[model][onnx][errors]") {
  const Graph g = import_onnx(kModel);
  const FloatExecutor exec(g);
  CHECK_THROWS_WITH(exec.run({{"input", Tensor::zeros(DType::float32, {1, 1, 27, 28})}}),
                    Catch::Contains("graph input 'input'") && Catch::Contains("[-1,1,28,28]"));
  CHECK_THROWS_WITH(exec.run({}), Catch::Contains("no data given for graph input 'input'"));
}

TEST_CASE("BrokenModels/absurd shapes are refused before anything is allocated", "[model][onnx][errors]") {
  // x [1] + ConstantOfShape([100000, 100000, 100]): folding would allocate 10^12 floats.
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto& g = *m.mutable_graph();
  g.set_name("huge");
  auto add_value = [](onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) v->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  };
  add_value(g.add_input(), "x", {1});
  add_value(g.add_output(), "y", {100000, 100000, 100});
  onnx::TensorProto& shape = *g.add_initializer();
  shape.set_name("shape"), shape.set_data_type(onnx::TensorProto::INT64), shape.add_dims(3);
  for (int64_t d : {100000, 100000, 100}) shape.add_int64_data(d);
  onnx::NodeProto& fill = *g.add_node();
  fill.set_name("fill"), fill.set_op_type("ConstantOfShape"), fill.add_input("shape"), fill.add_output("big");
  onnx::NodeProto& add = *g.add_node();
  add.set_name("add"), add.set_op_type("Add"), add.add_input("x"), add.add_input("big"), add.add_output("y");
  std::string bytes;
  m.SerializeToString(&bytes);
  Graph graph = import_onnx_bytes(bytes, "huge.onnx");
  CHECK_THROWS_WITH(fold_constants(graph), Catch::Contains("huge.onnx: node 'fill' (ConstantOfShape)") &&
                                               Catch::Contains("[100000,100000,100]") &&
                                               Catch::Contains("more than the 2^30 elements"));

  // A graph input of [1, 1, 10^8, 10^8]: the trial run on zeros would allocate 10^16 floats.
  onnx::ModelProto wide;
  wide.set_ir_version(8);
  wide.add_opset_import()->set_version(13);
  wide.mutable_graph()->set_name("wide");
  add_value(wide.mutable_graph()->add_input(), "x", {1, 1, 100000000, 100000000});
  add_value(wide.mutable_graph()->add_output(), "y", {1, 1, 100000000, 100000000});
  onnx::NodeProto& relu = *wide.mutable_graph()->add_node();
  relu.set_name("relu"), relu.set_op_type("Relu"), relu.add_input("x"), relu.add_output("y");
  wide.SerializeToString(&bytes);
  Graph wide_graph = import_onnx_bytes(bytes, "wide.onnx");
  CHECK_THROWS_WITH(
      measure_unknown_shapes(wide_graph),
      Catch::Contains("wide.onnx: graph input 'x' has shape [1,1,100000000,100000000]: more than the 2^30"));
  // A negative or overflowing shape never reaches an allocation either.
  CHECK_THROWS_WITH(Tensor::zeros(DType::float32, {4, -1}), Catch::Contains("negative dimension"));
  CHECK_THROWS_WITH(Tensor::zeros(DType::int64, {int64_t{1} << 40, int64_t{1} << 40}),
                    Catch::Contains("more than the 2^30 elements"));
  CHECK(Tensor::zeros(DType::float32, {1024, 1024}).numel() == 1 << 20);
}
