// The DirectEngine (bit-accurate integer network) against the float reference executor on the shipped
// CNN quantized with configs/w8a8.yaml: images/s, single thread, same inputs, in one process. The float
// executor at batch 100 is the 1.0 baseline.
//   bench_engines [--images N]

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "model/executor.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

using namespace chipref;

namespace {
template <class Run>
double images_per_second(const Tensor& images, int64_t batch, Run run) {
  const int64_t n = images.shape[0], per = images.numel() / n;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s + batch <= n; s += batch)
    run(Tensor::of_floats({batch, 1, 28, 28}, std::vector<float>(images.floats.begin() + s * per, images.floats.begin() + (s + batch) * per)));
  return static_cast<double>(n / batch * batch) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  int64_t images = 2000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--images")) images = std::atoll(argv[i + 1]);
  const std::string model = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Normalisation norm = read_sidecar_normalisation(model).value_or(Normalisation{});
  const Graph graph = import_onnx(model);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 500, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
  const Tensor test = load_fashion_mnist("t10k", images, norm).images;
  const FloatExecutor fp32(graph);
  const DirectEngine engine(q);
  const double base = images_per_second(test, 100, [&](const Tensor& x) { fp32.run({{"input", x}}); });
  const double fp32_b1 = images_per_second(test, 1, [&](const Tensor& x) { fp32.run({{"input", x}}); });
  const double int_b100 = images_per_second(test, 100, [&](const Tensor& x) { engine.run(x); });
  const double int_b1 = images_per_second(test, 1, [&](const Tensor& x) { engine.run(x); });
  fmt::print("fmnist_cnn, w8a8, 1 thread, {} test images per run\n", images);
  fmt::print("{:<28} {:>10} {:>10}\n", "engine", "images/s", "vs float/b100");
  fmt::print("{:<28} {:>10.0f} {:>10.2f}\n", "float executor, batch 100", base, 1.0);
  fmt::print("{:<28} {:>10.0f} {:>10.2f}\n", "float executor, batch 1", fp32_b1, fp32_b1 / base);
  fmt::print("{:<28} {:>10.0f} {:>10.2f}\n", "DirectEngine, batch 100", int_b100, int_b100 / base);
  fmt::print("{:<28} {:>10.0f} {:>10.2f}\n", "DirectEngine, batch 1", int_b1, int_b1 / base);
  return 0;
}
