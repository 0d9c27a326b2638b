// Float reference executor throughput on the shipped examples, single thread, in images/s. Ratios are
// against the CNN at batch 1 measured in the same run.
//   bench_float_executor [--images N] [--examples DIR]

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "model/executor.hpp"
#include "model/io/idx.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"

using namespace chipref;

namespace {
struct Result {
  std::string name;
  int64_t batch;
  double images_per_second;
};

Result measure(const std::string& path, const std::string& name, int64_t batch, int64_t images) {
  const Graph g = import_onnx(path);
  const FloatExecutor exec(g);
  const LabelledImages data = load_fashion_mnist("t10k", images, read_sidecar_preprocess(path).value_or(Preprocess{}));
  const int64_t image_size = 28 * 28;
  exec.run({{"input", Tensor::of_floats({1, 1, 28, 28},
                                        std::vector<float>(data.images.floats.begin(),
                                                           data.images.floats.begin() + image_size))}});  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t start = 0; start + batch <= images; start += batch) {
    Tensor x = Tensor::of_floats({batch, 1, 28, 28},
                                 std::vector<float>(data.images.floats.begin() + start * image_size,
                                                    data.images.floats.begin() + (start + batch) * image_size));
    exec.run({{"input", std::move(x)}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {name, batch, static_cast<double>(images / batch * batch) / seconds};
}
}  // namespace

int main(int argc, char** argv) {
  int64_t images = 2000;
  std::string dir = CHIPREF_SOURCE_DIR "/examples";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--images"))
      images = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--examples"))
      dir = argv[i + 1];
  }
  std::vector<Result> results;
  for (const char* model : {"fmnist_cnn", "fmnist_vit"})
    for (int64_t batch : {1, 100}) results.push_back(measure(dir + "/" + model + ".onnx", model, batch, images));
  const double baseline = results.front().images_per_second;
  fmt::print("float executor, 1 thread, {} Fashion-MNIST test images per run\n", images);
  fmt::print("{:<12} {:>6} {:>12} {:>14}\n", "model", "batch", "images/s", "vs cnn/b1");
  for (const auto& r : results)
    fmt::print("{:<12} {:>6} {:>12.0f} {:>14.2f}\n", r.name, r.batch, r.images_per_second,
               r.images_per_second / baseline);
  return 0;
}
