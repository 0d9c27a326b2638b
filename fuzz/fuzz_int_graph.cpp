// The IntGraph directory: graph.json from the input, beside the tensors/ of a real quantized CNN (so that
// inputs naming its constants load them), read and prepared for the DirectEngine (the integer-only
// check and every op's parameters), then run on one all-zero image when the input shape is small: an
// IntGraph, an engine and an output, or an InputError.
#include <algorithm>
#include <cstdlib>

#include "fuzz/harness.hpp"
#include "ops/op_def.hpp"
#include "sim/direct_engine.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path dir = [] {
    const char* graph = std::getenv("CHIPREF_FUZZ_INTGRAPH");  // fuzz/run.sh quantizes one
    const fs::path d = chipref::fuzz::scratch_dir() / "graph";
    fs::create_directories(d / "tensors");
    if (graph && fs::is_directory(fs::path(graph) / "tensors"))
      fs::copy(fs::path(graph) / "tensors", d / "tensors",
               fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    return d;
  }();
  chipref::fuzz::write_scratch("graph/graph.json", chipref::fuzz::bytes_of(data, size));
  return chipref::fuzz::only_chipref_errors([&] {
    const chipref::IntGraph graph = chipref::load_int_graph(dir.string());
    const chipref::DirectEngine engine(graph);
    chipref::Shape shape = graph.input_shape;
    for (int64_t& d : shape) d = d < 0 ? 1 : d;  // the batch
    if (shape.empty() || shape.size() > 6 ||
        std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 1 || d > 4096; }) ||
        chipref::element_count(shape) > (1 << 16))
      return;  // the run's cost is the graph's, not a reader's: a large input only slows the fuzzer
    engine.run(chipref::Tensor::of_floats(
        shape, std::vector<float>(static_cast<size_t>(chipref::element_count(shape)), 0.0f)));
  });
}
