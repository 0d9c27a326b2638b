#pragma once
// Golden vectors of a shipped model for the cosim tests (test_cosim, test_dut_cosim).

#include <filesystem>
#include <string>

#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "vectors/vectors.hpp"

namespace chipref {

// A shipped model (examples/MODEL) quantized with 8-bit activations, weights as `weights` says (8-bit signed
// symmetric by default) and `extra_lines` in its defaults; golden vectors of 2 test images.
inline std::string write_example_vectors(const std::string& model_file, const std::string& name,
                                         const std::string& extra_lines, const std::string& weights = "{bits: 8}") {
  const std::string model = std::string(CHIPREF_SOURCE_DIR "/examples/") + model_file;
  const Preprocess norm = *read_sidecar_preprocess(model);
  const Graph graph = import_onnx(model);
  const QuantConfig config = parse_quant_config(
      "defaults:\n  weights: " + weights + "\n  activations: {bits: 8}\n" + extra_lines, name + ".yaml");
  const Tensor calibration = load_fashion_mnist("train", 100, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, model_file, norm});
  const std::filesystem::path root = std::filesystem::temp_directory_path() / ("chipref_test_cosim_" + name);
  std::filesystem::remove_all(root);
  save_int_graph(q, (root / "model").string());
  DirectEngine engine(q);
  vectors::write_vectors(q, (root / "model").string(), load_fashion_mnist("t10k", 2, norm).images,
                         vectors::InputSource{"fashion-mnist", "", 2, ""}, (root / "vectors").string(),
                         vectors::Options{}, engine);
  return (root / "vectors").string();
}

}  // namespace chipref
