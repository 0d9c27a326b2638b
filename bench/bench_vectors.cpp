// Golden-vector writing throughput: `write_vectors` for the shipped CNN (w8a8) over 100 test images in
// every format (mem, bin, npy, h) — running the engine with a trace, encoding, hashing, writing each
// file atomically, the manifest last — against a plain fwrite of the same bytes to the same kind of
// directory tree, the 1.0 baseline measured in the same run. MB/s of file bytes; best of three passes.
//   bench_vectors [--images N]

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/files.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "vectors/vectors.hpp"

using namespace chipref;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  int64_t images = 100;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--images")) images = std::max<int64_t>(1, std::atoll(argv[i + 1]));
  const std::string model = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Preprocess norm = read_sidecar_preprocess(model).value_or(Preprocess{});
  const Graph graph = import_onnx(model);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 300, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, model, norm});
  const fs::path root = fs::temp_directory_path() / "chipref_bench_vectors";
  fs::remove_all(root);
  save_int_graph(q, (root / "model").string());
  const Tensor inputs = load_fashion_mnist("t10k", images, norm).images;
  vectors::Options options;
  options.formats = {vectors::Format::mem, vectors::Format::bin, vectors::Format::npy, vectors::Format::h};

  double write_best = 1e300, fwrite_best = 1e300;
  std::map<std::string, std::string> files;
  DirectEngine engine(q);
  for (int pass = 0; pass < 3; ++pass) {
    fs::remove_all(root / "v");
    const auto t0 = std::chrono::steady_clock::now();
    vectors::write_vectors(q, (root / "model").string(), inputs, vectors::InputSource{"fashion-mnist", "", images, ""},
                           (root / "v").string(), options, engine);
    write_best = std::min(write_best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& e : fs::recursive_directory_iterator(root / "v"))
    if (e.is_regular_file()) files[fs::relative(e.path(), root / "v").string()] = read_file_bytes(e.path().string());
  int64_t bytes = 0;
  for (const auto& [name, content] : files) bytes += static_cast<int64_t>(content.size());
  for (int pass = 0; pass < 3; ++pass) {
    fs::remove_all(root / "plain");
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& [name, content] : files) {
      const fs::path path = root / "plain" / name;
      fs::create_directories(path.parent_path());
      FILE* f = std::fopen(path.c_str(), "wb");
      if (!f || std::fwrite(content.data(), 1, content.size(), f) != content.size() || std::fclose(f) != 0) {
        fmt::print(stderr, "bench_vectors: cannot write {}\n", path.string());
        return 1;
      }
    }
    fwrite_best = std::min(fwrite_best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  fs::remove_all(root);
  fmt::print("fmnist_cnn w8a8, {} images, formats mem+bin+npy+h: {} files, {:.1f} MB\n", images, files.size(),
             bytes / 1e6);
  fmt::print("{:<52} {:>8} {:>10} {:>8}\n", "writer", "s", "MB/s", "vs fwrite");
  fmt::print("{:<52} {:>8.3f} {:>10.1f} {:>8.2f}\n", "fwrite of the same bytes (baseline)", fwrite_best,
             bytes / 1e6 / fwrite_best, 1.0);
  fmt::print("{:<52} {:>8.3f} {:>10.1f} {:>8.2f}\n", "write_vectors (engine, encode, SHA-256, atomic files)",
             write_best, bytes / 1e6 / write_best, fwrite_best / write_best);
  return 0;
}
