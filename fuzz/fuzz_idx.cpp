// IDX files (the Fashion-MNIST reader), whole and limited to a prefix of records.
#include "fuzz/harness.hpp"
#include "model/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = chipref::fuzz::write_scratch("data.idx", chipref::fuzz::bytes_of(data, size));
  chipref::fuzz::only_chipref_errors([&] { chipref::read_idx(path); });
  return chipref::fuzz::only_chipref_errors([&] { chipref::read_idx(path, 2); });
}
