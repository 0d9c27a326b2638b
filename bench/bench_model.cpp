// One ONNX model through chipref's DirectEngine, for bench/bench_zoo_vs_ort.sh to set against ONNX Runtime
// on the same inputs: quantizes MODEL with CONFIG on the first 8 inputs of IN.npy, writes the IntGraph's QDQ
// export (what ORT runs as int8) to QDQ.onnx, then times DirectEngine runs over IN.npy at BATCH (the best
// of three passes, one thread) and prints, one per line:
//   images_per_second N
//   gmacs <op kind> <GMAC/s> <share of the run's time>   for each MAC op kind (conv_mac: split into
//       depthwise / 1x1 / kxk), from each op's time between the engine's observer calls
//   bench_model MODEL.onnx CONFIG.yaml IN.npy BATCH QDQ.onnx

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

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
// Multiply-accumulates of one op for one run of `images` images, and the kind it is counted under.
std::pair<std::string, int64_t> mac_kind(const IntGraph& q, const Node& op, const CodeTensor& out) {
  const int64_t outputs = static_cast<int64_t>(out.data.size());
  if (op.op_type == "matmul_mac") {
    const Shape& a = q.values.at(op.inputs.at(0)).shape;
    return {"matmul (activations)", outputs * a.back()};
  }
  const auto w = q.constants.find(op.inputs.at(1));
  if (w == q.constants.end() || w->second.shape.empty()) return {op.op_type, 0};
  const Shape& ws = w->second.shape;
  const int64_t per_output = w->second.numel() / ws[0];
  if (op.op_type != "conv_mac") return {op.op_type, outputs * per_output};
  const int64_t groups = op.get_int("group", 1);
  const bool pointwise = ws.size() == 4 && ws[2] == 1 && ws[3] == 1;
  return {groups > 1 && groups == ws[0] ? "conv depthwise" : pointwise ? "conv 1x1" : "conv kxk", outputs * per_output};
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
    const DirectEngine engine(q);
    engine.run(rows_of(images, 0, batch));  // warm-up: first-run allocations out of the timing

    double best = 0;
    std::map<std::string, std::pair<double, int64_t>> kinds;  // seconds and MACs per kind, of the best pass
    double best_total = 0;
    for (int pass = 0; pass < 3; ++pass) {
      std::map<std::string, std::pair<double, int64_t>> pass_kinds;
      auto last = std::chrono::steady_clock::now();
      const DirectEngine::OpObserver observe = [&](const Node& op, const CodeTensor& out, const OverflowCounter&,
                                                   int64_t, int64_t) {
        const auto now = std::chrono::steady_clock::now();
        if (ops::is_mac(op)) {
          const auto [kind, macs] = mac_kind(q, op, out);
          auto& k = pass_kinds[kind];
          k.first += std::chrono::duration<double>(now - last).count(), k.second += macs;
        }
        last = std::chrono::steady_clock::now();  // the observer's own time is not the next op's
      };
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t s = 0; s < n; s += batch) {
        last = std::chrono::steady_clock::now();
        engine.run(rows_of(images, s, batch), observe);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (static_cast<double>(n) / seconds > best)
        best = static_cast<double>(n) / seconds, kinds = pass_kinds, best_total = seconds;
    }
    fmt::print("images_per_second {:.2f}\n", best);
    for (const auto& [kind, k] : kinds)
      fmt::print("gmacs {} {:.1f} {:.3f}\n", kind, static_cast<double>(k.second) / k.first / 1e9, k.first / best_total);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_model: {}\n", e.what());
    return 1;
  }
}
