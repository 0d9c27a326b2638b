// Vector files (.mem, .bin, .npy, docs/vectors.md) and the .npy reader for inputs: the first four bytes
// choose the format, the element width and signedness and the element count the manifest would give;
// the rest is the file. Values, or an InputError naming the element.
#include "fuzz/harness.hpp"
#include "model/io/npy.hpp"
#include "vectors/encoding.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chipref;
  if (size < 4) return 0;
  const vectors::Format format = vectors::kAllFormats[data[0] % 3];  // mem, bin, npy: the formats read back
  vectors::ElementType type;
  type.bits = 1 + data[1] % 64;
  type.is_signed = (data[2] & 1) != 0;
  const int64_t count = data[3];
  const std::string file = fuzz::bytes_of(data + 4, size - 4);
  fuzz::only_chipref_errors([&] { vectors::decode(file, type, format, count, "fuzz.vec"); });
  return fuzz::only_chipref_errors([&] { parse_npy(file, "fuzz.npy"); });
}
