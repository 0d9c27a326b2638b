// The YAML quantization config: a QuantConfig or an InputError (at FILE:LINE:COLUMN), for any text.
#include "fuzz/harness.hpp"
#include "quant/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return chipref::fuzz::only_chipref_errors(
      [&] { chipref::parse_quant_config(chipref::fuzz::bytes_of(data, size), "fuzz.yaml"); });
}
