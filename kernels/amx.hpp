#pragma once
// The AMX kernel of SimdLevel::amx_int8 (kernels/simd.hpp): the u8 × s8 GEMM on the tile unit. Internal to
// kernels/, like avx512.hpp; cross-checked against the spec path in tests/sim/test_simd.cpp. Compiled with
// -mamx-tile -mamx-int8 in a file of its own; call only when cpu_supports(SimdLevel::amx_int8), which has
// asked the OS for the tile state.

#include <cstdint>
#include <vector>

namespace chipref::kernels::amx {

// Linux keeps the tile registers switched off in a process until it asks for them (arch_prctl
// ARCH_REQ_XCOMP_PERM): true when granted (once for the whole process, every thread), false elsewhere.
bool request_tile_state();

// The reduction length of the weights as gemm_u8s8 reads them: kq rounded up to the 64 bytes of a tile row.
inline int64_t padded_k(int64_t kq) { return (kq + 63) / 64 * 64; }
// Weights [out_channels][kq] int8 (MacWeights::packed8) laid out for gemm_u8s8: rows padded_k(kq) bytes long,
// zero beyond kq, and 15 zero rows after the last, so that a tile of 16 rows started at any channel stays
// inside the array.
std::vector<int8_t> pack_weights(const int8_t* packed8, int64_t out_channels, int64_t kq);

// avx512::gemm_u8s8's contract with A laid out by pack_weights (row stride padded_k(kq)), computed with
// TDPBSUD: for each output, four s8 × u8 products added to its int32 accumulator, wrapping (Intel's
// definition: c + t1 + t2 + t3 + t4 in 32 bits). Every operation is addition or multiplication modulo 2^32,
// so C is exact whenever the exact result fits int32: the caller proves that. The reduction padding adds
// products of zero weights. bias may be null.
void gemm_u8s8(const int8_t* a, const uint8_t* const* b_rows, int64_t rows, int64_t kq, int64_t np, const int32_t* bias,
               int32_t* c, int64_t ldc);

// Weights [out][kq] int8 (MacWeights::packed8 of a linear layer) as linear_u8s8's B tiles: per panel of 16
// outputs, per group of four reduction bytes, the 16 outputs × their 4 bytes; the reduction padded to
// padded_k(kq) and the outputs to whole panels, with zeros.
std::vector<int8_t> pack_weight_panels(const int8_t* packed8, int64_t out, int64_t kq);

// C[r][o] = bias[o] + Σ_k A[r][k] · W[o][k] for r < rows and o0 <= o < o1 (o0 a multiple of 16), C row-major
// with stride ldc: A uint8 rows lda >= padded_k(kq) bytes apart, readable for 15 rows past `rows` (rows past
// `rows` are computed and dropped), W by pack_weight_panels, with TDPBUSD: four u8 × s8 products added to
// each int32 accumulator, wrapping, so C is exact whenever the exact result fits int32 (the caller proves
// that), as gemm_u8s8. bias may be null.
void linear_u8s8(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* w_panels, int64_t kq, int64_t o0,
                 int64_t o1, const int32_t* bias, int32_t* c, int64_t ldc);

}  // namespace chipref::kernels::amx
