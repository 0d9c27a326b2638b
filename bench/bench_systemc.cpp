// The SystemC engine against the DirectEngine, same process, same inputs: the shipped CNN quantized
// with configs/w8a8.yaml over N test images (default 1000) at batch 100, best of three passes each;
// and the time to build the netlist of a synthetic 100-op IntGraph (50 linear_mac + mulshift pairs).
//   bench_systemc [--images N]
// Issue 9's targets: SystemC time / DirectEngine time <= 1.5; netlist construction < 1 s.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "sim/systemc/engine.hpp"

using namespace chipref;

namespace {

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class Run>
double best_seconds(const Tensor& images, Run run) {
  const int64_t n = images.shape[0], per = images.numel() / n, batch = 100;
  double best = 1e30;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < n; s += batch) {
      const int64_t b = std::min(batch, n - s);
      run(Tensor::of_floats(
          {b, 1, 28, 28}, std::vector<float>(images.floats.begin() + s * per, images.floats.begin() + (s + b) * per)));
    }
    best = std::min(best, seconds(t0));
  }
  return best;
}

// quantize → 50 × (linear_mac [64 → 64], mulshift) → dequantize, with valid integer parameters.
IntGraph synthetic_chain(int pairs) {
  IntGraph g;
  g.input_name = "input:float", g.output_name = "output:float";
  g.input_shape = {-1, 64}, g.output_shape = {-1, 64};
  const QuantParams codes{IntFormat::make(8, false), 128, 1.0 / 64};
  const QuantParams acc{IntFormat::make(32, true), 0, 1.0};
  g.values["x0"] = IntValue{{-1, 64}, codes};
  Node q{"quantize", "quantize", "chipref", {g.input_name}, {"x0"}, {}};
  q.attributes["scale"] = 1.0f / 64;
  g.ops.push_back(q);
  const FixedMultiplier m = derive_multiplier(1.0 / 900, 31);
  for (int i = 0; i < pairs; ++i) {
    const std::string x = "x" + std::to_string(i), a = "acc" + std::to_string(i), y = "x" + std::to_string(i + 1),
                      l = "layer" + std::to_string(i);
    std::vector<int64_t> w(64 * 64);
    for (size_t j = 0; j < w.size(); ++j) w[j] = static_cast<int64_t>((j * 37 + i * 11) % 255) - 127;
    g.constants[l + ".w"] = Tensor::of_ints(DType::int8, {64, 64}, w);
    g.constants[l + ".b"] = Tensor::of_ints(DType::int32, {64}, std::vector<int64_t>(64, 0));
    g.constants[l + ".m"] = Tensor::of_ints(DType::int32, {1}, {m.multiplier});
    g.constants[l + ".s"] = Tensor::of_ints(DType::int32, {1}, {m.shift});
    g.values[a] = IntValue{{-1, 64}, acc};
    g.values[y] = IntValue{{-1, 64}, codes};
    Node mac{l + ".mac", "linear_mac", "chipref", {x, l + ".w", l + ".b"}, {a}, {}};
    mac.attributes["acc_bits"] = int64_t{32};
    mac.attributes["overflow"] = std::string("wrap");
    Node rq{l + ".requant", "mulshift", "chipref", {a, l + ".m", l + ".s"}, {y}, {}};
    rq.attributes["flavour"] = std::string("single");
    rq.attributes["rounding"] = std::string("half_even");
    rq.attributes["multiplier_bits"] = int64_t{31};
    rq.attributes["clamp_lo"] = int64_t{0};
    rq.attributes["clamp_hi"] = int64_t{255};
    rq.attributes["axis"] = int64_t{1};
    g.ops.push_back(mac);
    g.ops.push_back(rq);
  }
  Node dq{"dequantize", "dequantize", "chipref", {"x" + std::to_string(pairs)}, {g.output_name}, {}};
  dq.attributes["scale"] = 1.0f / 64;
  g.ops.push_back(dq);
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t images = 1000;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--images") == 0 && i + 1 < argc) images = std::atoll(argv[++i]);
  const std::string model = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(model);
  const Graph graph = import_onnx(model);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 500, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", norm});
  const Tensor test = load_fashion_mnist("t10k", images, norm).images;

  const DirectEngine direct(q);
  SystemCEngine systemc(q);
  const double direct_s = best_seconds(test, [&](const Tensor& x) { direct.run(x); });
  const double systemc_s = best_seconds(test, [&](const Tensor& x) { systemc.run(x); });
  fmt::print("fmnist_cnn, w8a8, {} test images at batch 100, 1 thread, best of 3\n", test.shape[0]);
  fmt::print("{:<34} {:>9} {:>10}\n", "engine", "seconds", "vs direct");
  fmt::print("{:<34} {:>9.3f} {:>10.2f}\n", "DirectEngine", direct_s, 1.0);
  fmt::print("{:<34} {:>9.3f} {:>10.2f}   (target <= 1.5)\n", "SystemC engine (18 modules)", systemc_s,
             systemc_s / direct_s);

  const IntGraph chain = synthetic_chain(50);
  double build_s = 1e30;
  size_t modules = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    SystemCEngine e(chain);
    e.run(Tensor::zeros(DType::float32, {2, 64}));  // SystemC elaborates at the first run: counted
    build_s = std::min(build_s, seconds(t0));
    modules = e.module_count();
  }
  fmt::print(
      "netlist of a synthetic {}-op IntGraph built, elaborated and run on 2 inputs: {:.3f} s, {} modules (target < 1 "
      "s)\n",
      chain.ops.size() - 2, build_s, modules);
  return 0;
}
