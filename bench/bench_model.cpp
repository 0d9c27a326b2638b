// One ONNX model through chipref's DirectEngine, for bench/bench_zoo_vs_ort.sh to set against ONNX Runtime
// on the same inputs: quantizes MODEL with CONFIG on the first 8 inputs of IN.npy, writes the IntGraph's QDQ
// export (what ORT runs as int8) to QDQ.onnx, then times DirectEngine runs over IN.npy at BATCH on one and
// on two threads (`-j 2`: chunks of a batch, or inside the layers of a batch of one chunk), passes of the
// two alternating, the best of three each, and prints, one per line:
//   images_per_second N
//   images_per_second_2_threads N
//   gmacs <op kind> <GMAC/s> <share of the run's time>   for each MAC op kind (conv_mac: split into
//       depthwise / 1x1 / kxk), from each op's time between the engine's observer calls (a pass in
//       which every op runs on its own: a MAC's requantization is then the mulshift's share)
//   share <op> <share of the run's time>     for every other op kind (the input quantize included)
//   layer <op name> <kind> <GMAC/s> <share>  for each MAC op, when CHIPREF_BENCH_LAYERS is set
//   bench_model MODEL.onnx CONFIG.yaml IN.npy BATCH QDQ.onnx

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "core/files.hpp"
#include "model/io/npy.hpp"
#include "model/onnx_import.hpp"
#include "ops/op_def.hpp"
#include "ops/qdq_export.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"

using namespace chipref;

namespace {
// Multiply-accumulates of one MAC op per image, from the shapes the IntGraph records, and the kind it is
// counted under.
std::pair<std::string, int64_t> mac_kind(const IntGraph& q, const Node& op) {
  auto shape_of = [&](const std::string& name) {  // a dynamic batch (−1) counted as one image
    Shape s = q.constants.count(name) ? q.constants.at(name).shape : q.values.at(name).shape;
    if (!s.empty() && s[0] < 0) s[0] = 1;
    return s;
  };
  const Shape input = shape_of(op.inputs.at(0)), second = shape_of(op.inputs.at(1));
  const Shape out = shape_of(op.outputs.at(0));
  const ops::MacMatrixView view = ops::mac_matrix_view(op, input, second, out);
  // the shapes are those of one run of the graph's batch (1 when dynamic), whatever their axis 0 holds
  const int64_t recorded_images = std::max<int64_t>(q.input_shape.empty() ? 1 : q.input_shape[0], 1);
  const int64_t per_image = view.products() / recorded_images;
  if (ops::op_def(op).mac == ops::MacOperand::activation)  // the view is one matrix of the batch of them
    return {"matmul (activations)", element_count(out) * input.back() / recorded_images};
  if (second.size() != 4) return {"linear", per_image};
  if (view.groups > 1 && view.channels == 1) return {"conv depthwise", per_image};
  return {second[2] == 1 && second[3] == 1 ? "conv 1x1" : "conv kxk", per_image};
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    fmt::print(stderr, "usage: bench_model MODEL.onnx CONFIG.yaml IN.npy BATCH QDQ.onnx\n");
    return 2;
  }
  try {
    const Graph graph = import_onnx(argv[1]);
    const QuantConfig config = load_quant_config(argv[2]);
    const Tensor images = read_npy(argv[3]);
    const int64_t batch = std::stoll(argv[4]), n = images.shape.at(0) / batch * batch;
    const Tensor calibration = rows_of(images, 0, std::min<int64_t>(8, images.shape[0]));
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, argv[1], Normalisation{}});
    try {  // a graph with an op that has no QDQ form is still timed; ORT then has nothing to run
      write_output_file(argv[5], export_qdq_onnx(q));
    } catch (const InputError& e) {
      fmt::print(stderr, "no ORT int8 model: {}\n", e.what());
    }
    DirectEngine engine(q);
    engine.run(rows_of(images, 0, batch));  // warm-up: first-run allocations out of the timing

    // images/s from plain runs (the engine's fused steps included); the split by op kind from one more
    // pass with an observer, which runs every op on its own and times the gap between its calls
    double best = 0, best_2_threads = 0;
    for (int pass = 0; pass < 6; ++pass) {
      const int jobs = 1 + pass % 2;
      engine.set_jobs(jobs);
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t s = 0; s < n; s += batch) engine.run(rows_of(images, s, batch));
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double& b = jobs == 1 ? best : best_2_threads;
      b = std::max(b, static_cast<double>(n) / seconds);
    }
    engine.set_jobs(1);
    std::map<std::string, std::pair<double, int64_t>> kinds;  // seconds and MACs per MAC kind
    std::map<std::string, double> others;                     // seconds per other op kind
    // per MAC op, in run order: name, kind, seconds and MACs over the pass
    std::vector<std::tuple<std::string, std::string, double, int64_t>> layers;
    std::map<std::string, size_t> layer_index;
    auto last = std::chrono::steady_clock::now();
    const DirectEngine::OpObserver observe = [&](const Node& op, const CodeTensor&, const OverflowCounter&, int64_t,
                                                 int64_t images) {
      const auto now = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(now - last).count();
      if (ops::is_mac(op)) {
        const auto [kind, macs] = mac_kind(q, op);
        auto& k = kinds[kind];
        k.first += seconds, k.second += macs * images;
        const auto [at, added] = layer_index.emplace(op.name, layers.size());
        if (added) layers.emplace_back(op.name, kind, 0.0, 0);
        std::get<2>(layers[at->second]) += seconds, std::get<3>(layers[at->second]) += macs * images;
      } else {
        others[op.op_type] += seconds;
      }
      last = std::chrono::steady_clock::now();  // the observer's own time is not the next op's
    };
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < n; s += batch) {
      const Tensor x = rows_of(images, s, batch);
      last = std::chrono::steady_clock::now();
      engine.run(x, observe);
    }
    const double best_total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("images_per_second {:.2f}\nimages_per_second_2_threads {:.2f}\n", best, best_2_threads);
    for (const auto& [kind, k] : kinds)
      fmt::print("gmacs {} {:.1f} {:.3f}\n", kind, static_cast<double>(k.second) / k.first / 1e9, k.first / best_total);
    for (const auto& [kind, seconds] : others) fmt::print("share {} {:.3f}\n", kind, seconds / best_total);
    if (std::getenv("CHIPREF_BENCH_LAYERS"))
      for (const auto& [name, kind, seconds, macs] : layers)
        fmt::print("layer {} {} {:.1f} {:.3f}\n", name, kind, static_cast<double>(macs) / seconds / 1e9,
                   seconds / best_total);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_model: {}\n", e.what());
    return 1;
  }
}
