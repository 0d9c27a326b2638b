// ONNX import from bytes: a Graph or an InputError, for any bytes.
#include "fuzz/harness.hpp"
#include "model/onnx_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return chipref::fuzz::only_chipref_errors(
      [&] { chipref::import_onnx_bytes(chipref::fuzz::bytes_of(data, size), "fuzz.onnx"); });
}
