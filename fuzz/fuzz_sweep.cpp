// The sweep file: a SweepSpec (every point's config checked) or an InputError. The sweep file is written
// beside base.yaml and model.onnx (a copy of the shipped CNN and w8a8 config, found through
// CHIPREF_SOURCE_DIR) so that inputs naming them get past the file checks into the axes and points.
#include "fuzz/harness.hpp"
#include "sweep/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const bool prepared = [] {
    fs::copy_file(CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx", chipref::fuzz::scratch_dir() / "model.onnx",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml", chipref::fuzz::scratch_dir() / "base.yaml",
                  fs::copy_options::overwrite_existing);
    return true;
  }();
  (void)prepared;
  const std::string path = chipref::fuzz::write_scratch("sweep.yaml", chipref::fuzz::bytes_of(data, size));
  return chipref::fuzz::only_chipref_errors([&] {
    const chipref::sweep::SweepSpec spec = chipref::sweep::load_sweep(path);
    if (chipref::sweep::point_count(spec) <= 64) chipref::sweep::make_points(spec, "fuzz");
  });
}
