#pragma once
// Which implementation of the integer kernels runs. All of them compute the same integers (the spec is
// the per-addition path: docs/numerics.md §5); the faster ones are used only where they provably do,
// and tests/sim/test_simd.cpp cross-checks each against it.
//   per_addition  every MAC through AccumulatorSpec::add, one by one; scalar requantization
//   portable      int32 GEMM (Eigen) for channels provably within the accumulator; scalar requantization
//   avx2          int16 pair-product GEMM (vpmaddwd) for those channels, and 8-lane requantization
//   avx512_vnni   avx2, with the GEMM on vpdpwssd over 512-bit vectors (the same int16 pair products), the
//                 u8 × s8 GEMM (vpdpbusd), 16-lane MulShift, and LayerNorm's and softmax's divisions 8 lanes
//                 at a time (AVX-512 F/BW/VL/DQ + VNNI)
//   amx_int8      avx512_vnni, with the u8 × s8 GEMM on the AMX tile unit (TDPBSUD; AMX-TILE + AMX-INT8, and
//                 the OS's leave to use the tile state)
// The levels are ordered: each uses every fast path of the ones before it. The default is the best the
// CPU has; CHIPREF_SIMD=per_addition|portable|avx2|avx512_vnni|amx_int8 overrides it (a level the CPU lacks
// is an InputError).

#include <string_view>

namespace chipref::kernels {

enum class SimdLevel { per_addition, portable, avx2, avx512_vnni, amx_int8 };
inline constexpr SimdLevel kSimdLevels[] = {SimdLevel::per_addition, SimdLevel::portable, SimdLevel::avx2,
                                            SimdLevel::avx512_vnni, SimdLevel::amx_int8};

std::string_view to_string(SimdLevel level);
bool cpu_supports(SimdLevel level);
SimdLevel simd_level();  // the active level
inline bool simd_at_least(SimdLevel level) { return simd_level() >= level; }
void set_simd_level(SimdLevel level);  // throws InputError if the CPU lacks it (tests and benchmarks)

}  // namespace chipref::kernels
