#pragma once
// AVX-512 VNNI implementation of the int16 GEMM, for SimdLevel::avx512_vnni (kernels/simd.hpp). Internal
// to kernels/, like avx2.hpp; cross-checked against the spec path in tests/sim/test_simd.cpp. Compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni in a file of its own; call only when
// cpu_supports(SimdLevel::avx512_vnni).

#include <cstdint>

namespace chipref::kernels::avx512 {

// The same contract as avx2::gemm_s16 (avx2.hpp), computed with vpdpwssd: each instruction adds the
// exact int32 sum of two int16 products to an int32 lane, wrapping, which is vpmaddwd followed by
// vpaddd; the caller's proof that every partial sum fits int32 makes both exact.
void gemm_s16(const int16_t* a, const int16_t* const* b_rows, int64_t rows, int64_t kp, int64_t np, const int32_t* bias,
              int32_t* c, int64_t ldc);

// C[m][p] = bias[m] + Σ_k A[m][k] · B_k[p] with A int8 [rows][kq] (kq a multiple of 4, zero beyond the real
// K) and B_k = b_rows[k] uint8, np readable values each (np a multiple of 16), with vpdpbusd: four u8 × s8
// products (each within int16) summed into an int32 lane, wrapping. Every operation is addition or
// multiplication modulo 2^32, so C is exact whenever the exact result fits int32, whatever the partial
// sums do: the caller proves that. bias may be null.
void gemm_u8s8(const int8_t* a, const uint8_t* const* b_rows, int64_t rows, int64_t kq, int64_t np, const int32_t* bias,
               int32_t* c, int64_t ldc);

}  // namespace chipref::kernels::avx512
