// The golden vectors' manifest.json: a Manifest or an InputError.
#include "fuzz/harness.hpp"
#include "vectors/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  chipref::fuzz::write_scratch("manifest.json", chipref::fuzz::bytes_of(data, size));
  return chipref::fuzz::only_chipref_errors(
      [&] { chipref::vectors::read_manifest(chipref::fuzz::scratch_dir().string()); });
}
