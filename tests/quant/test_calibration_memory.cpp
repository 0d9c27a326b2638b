// Calibration holds one batch at a time: the peak of live heap bytes during quantize() does not grow with
// the number of calibration inputs read from an .npy file. Its own executable, because it counts every
// allocation of the process: through a replaced global operator new, or AddressSanitizer's allocation
// hooks in the sanitizer build.
#include <malloc.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <new>
#include <random>

#include "core/files.hpp"
#include "model/io/npy.hpp"
#include "model/io/samples.hpp"
#include "model/onnx_import.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"
#include "support/onnx_builder.hpp"

namespace {
std::atomic<int64_t> live_bytes{0}, peak_bytes{0};

void count_allocation(int64_t n) {
  const int64_t now = live_bytes += n;
  for (int64_t peak = peak_bytes.load(); now > peak && !peak_bytes.compare_exchange_weak(peak, now);) {
  }
}
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer, whose allocator owns operator new, its allocation hooks count the same bytes
// (declared here from the sanitizer interface: GCC ships the runtime without its headers).
extern "C" size_t __sanitizer_get_allocated_size(const volatile void* p);
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void on_malloc(const volatile void*, size_t n) { count_allocation(static_cast<int64_t>(n)); }
void on_free(const volatile void* p) {
  if (p) live_bytes -= static_cast<int64_t>(__sanitizer_get_allocated_size(p));
}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}  // namespace
#else
namespace {
void* counted_alloc(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  count_allocation(static_cast<int64_t>(malloc_usable_size(p)));
  return p;
}
void counted_free(void* p) {
  if (!p) return;
  live_bytes -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return counted_alloc(n); }
void* operator new[](size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, size_t) noexcept { counted_free(p); }
void operator delete[](void* p, size_t) noexcept { counted_free(p); }
#endif

namespace chipref {
namespace {

using namespace chipref::testing;

// x [N, 8, 32, 32] → Conv 3×3 → Relu → GlobalAveragePool → Flatten → Gemm → y [N, 4]: 32 KiB of input a
// row, so that 400 rows held at once (12.5 MiB) would stand out against one batch.
std::string conv_model() {
  std::mt19937_64 rng(7);
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("calibration_memory");
  add_io(g->add_input(), "x", {-1, 8, 32, 32});
  add_io(g->add_output(), "y", {-1, 4});
  add_float(g, "w", {8, 8, 3, 3}, rng);
  add_float(g, "b", {8}, rng);
  add_float(g, "fc_w", {4, 8}, rng);
  add_float(g, "fc_b", {4}, rng);
  set_attr(add_node(g, "Conv", "/conv", {"x", "w", "b"}, "c"), "pads", {1, 1, 1, 1});
  add_node(g, "Relu", "/relu", {"c"}, "r");
  add_node(g, "GlobalAveragePool", "/pool", {"r"}, "p");
  set_attr(add_node(g, "Flatten", "/flatten", {"p"}, "f"), "axis", {1}, true);
  set_attr(add_node(g, "Gemm", "/fc", {"f", "fc_w", "fc_b"}, "y"), "transB", {1}, true);
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

Tensor random_rows(int64_t n) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor t = Tensor::zeros(DType::float32, {n, 8, 32, 32});
  for (float& v : t.floats) v = normal(rng);
  return t;
}

struct Calibrated {
  int64_t peak_bytes;
  std::string graph_json;
};

Calibrated quantize_from_file(const Graph& graph, const QuantConfig& config, const std::string& npy, int64_t count) {
  const NpySamples samples(npy, count);
  QuantizeInputs in{&graph, &config, nullptr, "calibration_memory", Normalisation{}};
  in.calibration_samples = &samples;
  const int64_t before = live_bytes.load();
  peak_bytes = before;
  const IntGraph q = quantize(in);
  const int64_t peak = peak_bytes.load() - before;
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("calibration_memory_" + std::to_string(count))).string();
  save_int_graph(q, dir);
  return Calibrated{peak, read_file_bytes(int_graph_json_path(dir))};
}

TEST_CASE("Calibration/peak heap of quantize() is the same for 100 and 400 inputs streamed from an npy file") {
  const Graph graph = import_onnx_bytes(conv_model(), "calibration_memory.onnx");
  const QuantConfig config = parse_quant_config(
      "defaults:\n  activations: {bits: 8, signed: false, calibrator: percentile, percentile: 99.9}\n", "inline.yaml");
  const Tensor all = random_rows(400);
  const std::string npy = (std::filesystem::temp_directory_path() / "calibration_memory_400.npy").string();
  write_npy(npy, all);

  const Calibrated hundred = quantize_from_file(graph, config, npy, 100);
  const Calibrated four_hundred = quantize_from_file(graph, config, npy, 400);
  const int64_t extra_inputs = 300 * 8 * 32 * 32 * 4;  // what holding the 300 extra rows would add
  INFO("peak live heap: " << hundred.peak_bytes << " bytes for 100 inputs, " << four_hundred.peak_bytes
                          << " for 400; 300 rows are " << extra_inputs);
  CHECK(std::abs(four_hundred.peak_bytes - hundred.peak_bytes) < extra_inputs / 100);

  // The streamed rows calibrate exactly as the same rows held in memory.
  QuantizeInputs held{&graph, &config, &all, "calibration_memory", Normalisation{}};
  const IntGraph from_memory = quantize(held);
  const std::string dir = (std::filesystem::temp_directory_path() / "calibration_memory_held").string();
  save_int_graph(from_memory, dir);
  CHECK(read_file_bytes(int_graph_json_path(dir)) == four_hundred.graph_json);
}

TEST_CASE("Calibration/a non-finite input in a streamed file names the file and its batch of inputs and the element") {
  const Graph graph = import_onnx_bytes(conv_model(), "calibration_memory.onnx");
  const QuantConfig config = parse_quant_config("defaults:\n  activations: {bits: 8}\n", "inline.yaml");
  Tensor rows = random_rows(150);
  rows.floats.at(120 * 8 * 32 * 32 + 5) = std::numeric_limits<float>::infinity();
  const std::string npy = (std::filesystem::temp_directory_path() / "calibration_infinite.npy").string();
  write_npy(npy, rows);
  const NpySamples samples(npy, 0);
  QuantizeInputs in{&graph, &config, nullptr, "calibration_memory", Normalisation{}};
  in.calibration_samples = &samples;
  CHECK_THROWS_WITH(quantize(in), Catch::Contains("calibration_infinite.npy (inputs 100 to 149") &&
                                      Catch::Contains("[20,0,0,5]") && Catch::Contains("+infinity"));
}

TEST_CASE(
    "Calibration/NpyRows reads the same rows as read_npy for every element type and refuses what read_npy refuses") {
  const std::string dir = std::filesystem::temp_directory_path().string();
  for (DType dtype : {DType::float32, DType::uint8, DType::int8, DType::int16, DType::int64}) {
    Tensor t = Tensor::zeros(dtype, {7, 3, 2});
    for (size_t i = 0; i < t.ints.size(); ++i)
      t.ints[i] = static_cast<int64_t>(i * 37 % 101) - (dtype == DType::uint8 ? 0 : 50);
    for (size_t i = 0; i < t.floats.size(); ++i) t.floats[i] = static_cast<float>(i) * 0.25f - 3.0f;
    const std::string path = dir + "/npy_rows_" + std::string(to_string(dtype)) + ".npy";
    write_npy(path, t);
    const NpyRows rows(path);
    CHECK(rows.dtype() == dtype);
    CHECK(rows.shape() == t.shape);
    for (int64_t first = 0; first < 7; ++first)
      for (int64_t n = 0; first + n <= 7; ++n) {
        const Tensor got = rows.rows(first, n), want = rows_of(t, first, n);
        CHECK(got.shape == want.shape);
        CHECK(got.floats == want.floats);
        CHECK(got.ints == want.ints);
      }
  }
  const std::string truncated = dir + "/npy_rows_truncated.npy";
  {
    std::string bytes = serialize_npy(Tensor::zeros(DType::float32, {4, 2}));
    bytes.resize(bytes.size() - 3);
    write_file_atomically(truncated, bytes);
  }
  CHECK_THROWS_WITH(NpyRows(truncated), Catch::Contains("npy_rows_truncated.npy") && Catch::Contains("needs 32"));
  CHECK_THROWS_WITH(NpyRows(dir + "/no_such.npy"), Catch::Contains("no_such.npy") && Catch::Contains("cannot open"));
}

}  // namespace
}  // namespace chipref
