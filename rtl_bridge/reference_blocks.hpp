#pragma once
// The reference blocks as chipref runs them: `chipref cosim --block` and `chipref demo`.

#include <cstdint>
#include <string>

#include "rtl_bridge/cosim.hpp"

namespace chipref::cosim {

// The geometry the reference MAC array is Verilated with (rtl_bridge/CMakeLists.txt).
inline constexpr int64_t kReferenceArrayRows = 16, kReferenceArrayCols = 16;
inline constexpr int64_t kReferenceLutDepth = 4096;                 // rtl/lut_unit.sv's DEPTH
inline constexpr int64_t kReferenceWsMaxReduction = 4096;           // rtl/mac_array_ws.sv's KMAX
inline constexpr int kReferenceSparseN = 2, kReferenceSparseM = 4;  // rtl/sparse_decoder.sv as Verilated
inline constexpr int64_t kReferenceMxDotLanes = 32;                 // rtl/mx_dot_unit.sv's K as Verilated

// Every input of `layer` in the vectors at `vectors_dir` through the Verilated reference `block`
// (mulshift: rtl/mulshift_unit.sv; mac_array: rtl/mac_array.sv, 16 x 16 output-stationary;
// mac_array_ws: rtl/mac_array_ws.sv, 16 x 16 weight-stationary in 16-step chunks; lut:
// rtl/lut_unit.sv; sparse: rtl/sparse_decoder.sv, 2:4, for a sparse_decode layer; mx_dot:
// rtl/mx_dot_unit.sv, blocks of up to 32, for a block_mac layer in MXFP8 E4M3 or MXINT8).
CosimResult cosim_reference_block(const std::string& block, const std::string& vectors_dir, const std::string& layer,
                                  int64_t watchdog_cycles);

}  // namespace chipref::cosim
