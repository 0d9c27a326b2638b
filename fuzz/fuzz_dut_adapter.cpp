// The DUT adapter YAML (cosim --adapter): a DutAdapter or an InputError at FILE:LINE:COLUMN.
#include "fuzz/harness.hpp"
#include "rtl_bridge/dut_adapter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = chipref::fuzz::write_scratch("adapter.yaml", chipref::fuzz::bytes_of(data, size));
  return chipref::fuzz::only_chipref_errors([&] { chipref::cosim::load_dut_adapter(path); });
}
