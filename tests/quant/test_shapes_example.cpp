// The colour example end to end from an image folder, as a user with their own photos runs it: the folder
// drawn by examples/train_shapes.py (JPEG and PNG), the float model evaluated with the preprocessing of its
// sidecar (the same top-1 and top-5 PyTorch measured on the same files, recorded in the sidecar when the
// model was trained), quantized with calibration images from the folder, and evaluated integer-only.
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "model/evaluate.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

using namespace chipref;
namespace fs = std::filesystem;

TEST_CASE("Examples/the shapes CNN from an image folder: PyTorch's accuracy, then quantized within 2 %",
          "[examples][data]") {
  const fs::path dir = fs::temp_directory_path() / ("chipref_test_shapes_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string command =
      "/usr/bin/python3 " CHIPREF_SOURCE_DIR "/examples/train_shapes.py data " + dir.string() + " >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  const std::string model = CHIPREF_SOURCE_DIR "/examples/shapes_cnn.onnx";
  const YAML::Node sidecar = YAML::LoadFile(sidecar_path(model));
  const Preprocess preprocess = *read_sidecar_preprocess(model);
  CHECK(preprocess.mean.size() == 3);

  DataRequest request;
  request.preprocess = preprocess;
  request.threads = 2;
  const auto test = open_dataset("imagefolder:" + (dir / "test").string(), request);
  REQUIRE(test->count() >= 200);
  CHECK(test->class_names() == std::vector<std::string>{"circle", "cross", "square", "triangle"});
  const Graph graph = import_onnx(model);
  int64_t batch = 64;
  const ClassificationResult fp32 = evaluate_classifier(float_graph_runner(graph, *test, batch), *test, batch, model);
  // The preprocessing is torchvision's to the bit and the float executor follows PyTorch to float32
  // rounding: the counts are PyTorch's, not near them.
  CHECK(fp32.top1 == sidecar["pytorch_test_top1"].as<int64_t>());
  CHECK(fp32.top5 == sidecar["pytorch_test_top5"].as<int64_t>());
  CHECK(fp32.count == test->count());

  request.split = DataSplit::train;
  request.limit = 200;  // spread over the classes of the sorted folder
  const auto calibration = open_dataset("imagefolder:" + (dir / "train").string(), request);
  int64_t per_class[4] = {};
  for (const int64_t label : calibration->labels()) ++per_class[label];
  CHECK(per_class[0] == 50);
  CHECK(per_class[3] == 50);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  QuantizeInputs inputs{&graph, &config, nullptr, model, preprocess};
  inputs.calibration_samples = calibration.get();
  const IntGraph q = quantize(inputs);
  CHECK(q.preprocess == preprocess);
  const DirectEngine engine(q);
  const ClassificationResult integer =
      evaluate_classifier([&](const Tensor& x) { return engine.run(x); }, *test, 64, "IntGraph");
  INFO("float " << fp32.top1 << ", integer " << integer.top1 << " of " << integer.count);
  CHECK(integer.top1 >= fp32.top1 - integer.count / 50);
  fs::remove_all(dir);
}
