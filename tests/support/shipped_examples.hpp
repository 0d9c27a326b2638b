#pragma once
// The shipped example models quantized the way the engine tests use them, and the check that two runs
// computed the same integer tensors. Needs CHIPREF_SOURCE_DIR and Catch2.

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "model/int_graph.hpp"
#include "model/io/idx.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"

namespace chipref::testing {

// The text of configs/NAME.
inline std::string shipped_config(const std::string& name) {
  std::ifstream in(std::string(CHIPREF_SOURCE_DIR "/configs/") + name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// examples/MODEL quantized with the config text, calibrated on the first 200 training images.
inline IntGraph quantize_example(const std::string& model, const std::string& config_text,
                                 const std::string& config_name) {
  const std::string path = std::string(CHIPREF_SOURCE_DIR "/examples/") + model;
  const Preprocess norm = *read_sidecar_preprocess(path);
  const Graph graph = import_onnx(path);
  const QuantConfig config = parse_quant_config(config_text, config_name);
  const Tensor calibration = load_fashion_mnist("train", 200, norm).images;
  return quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
}

// `got` holds exactly the tensors of `want`, each with the same shape and integers.
inline void check_same_tensors(const std::map<std::string, CodeTensor>& want,
                               const std::map<std::string, CodeTensor>& got) {
  REQUIRE(got.size() == want.size());
  for (const auto& [name, t] : want) {
    INFO(name);
    REQUIRE(got.count(name));
    CHECK(got.at(name).shape == t.shape);
    CHECK(got.at(name).data == t.data);
  }
}

}  // namespace chipref::testing
