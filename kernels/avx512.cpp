#include "kernels/avx512.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace chipref::kernels::avx512 {

namespace {

constexpr int64_t kBlockRows = 12;  // 24 accumulators, two B vectors and the broadcast weight: 27 of 32 registers

inline int32_t weight_pair(const int16_t* a, int64_t k) {
  int32_t pair;
  std::memcpy(&pair, a + k, sizeof pair);  // A[r][k] in the low half, A[r][k+1] in the high half
  return pair;
}

// ROWS output channels × 32 pixels. As in the AVX2 block, rows k and k+1 of B are interleaved per 128-bit
// lane, which puts pixels {0–3, 8–11, 16–19, 24–27} in the first accumulator and {4–7, 12–15, 20–23, 28–31}
// in the second; the two-source permutes at the store put them back in order.
template <int ROWS>
void block32(const int16_t* a, const int16_t* const* b_rows, int64_t p0, int64_t kp, const int32_t* bias, int32_t* c,
             int64_t ldc) {
  __m512i acc[ROWS][2];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = _mm512_set1_epi32(bias ? bias[r] : 0);
  for (int64_t k = 0; k < kp; k += 2) {
    const __m512i r0 = _mm512_loadu_si512(b_rows[k] + p0), r1 = _mm512_loadu_si512(b_rows[k + 1] + p0);
    const __m512i lo = _mm512_unpacklo_epi16(r0, r1), hi = _mm512_unpackhi_epi16(r0, r1);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      const __m512i w = _mm512_set1_epi32(weight_pair(a + r * kp, k));
      acc[r][0] = _mm512_dpwssd_epi32(acc[r][0], lo, w);
      acc[r][1] = _mm512_dpwssd_epi32(acc[r][1], hi, w);
    }
  }
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) {
    int32_t* out = c + r * ldc + p0;
    _mm512_storeu_si512(out, _mm512_permutex2var_epi32(acc[r][0], first, acc[r][1]));
    _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi32(acc[r][0], second, acc[r][1]));
  }
}

// ROWS × 16 pixels (the last panel when np is an odd multiple of 16), with the 256-bit form of vpdpwssd.
template <int ROWS>
void block16(const int16_t* a, const int16_t* const* b_rows, int64_t p0, int64_t kp, const int32_t* bias, int32_t* c,
             int64_t ldc) {
  __m256i acc[ROWS][2];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = _mm256_set1_epi32(bias ? bias[r] : 0);
  for (int64_t k = 0; k < kp; k += 2) {
    const __m256i r0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b_rows[k] + p0));
    const __m256i r1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b_rows[k + 1] + p0));
    const __m256i lo = _mm256_unpacklo_epi16(r0, r1), hi = _mm256_unpackhi_epi16(r0, r1);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      const __m256i w = _mm256_set1_epi32(weight_pair(a + r * kp, k));
      acc[r][0] = _mm256_dpwssd_epi32(acc[r][0], lo, w);
      acc[r][1] = _mm256_dpwssd_epi32(acc[r][1], hi, w);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) {
    int32_t* out = c + r * ldc + p0;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x31));
  }
}

using BlockFn = void (*)(const int16_t*, const int16_t* const*, int64_t, int64_t, const int32_t*, int32_t*, int64_t);

template <int... R>
constexpr std::array<BlockFn, sizeof...(R)> blocks32(std::integer_sequence<int, R...>) {
  return {&block32<R + 1>...};
}
template <int... R>
constexpr std::array<BlockFn, sizeof...(R)> blocks16(std::integer_sequence<int, R...>) {
  return {&block16<R + 1>...};
}

}  // namespace

void gemm_s16(const int16_t* a, const int16_t* const* b_rows, int64_t rows, int64_t kp, int64_t np, const int32_t* bias,
              int32_t* c, int64_t ldc) {
  // by the number of rows of the block, 1 to kBlockRows
  static constexpr auto wide = blocks32(std::make_integer_sequence<int, kBlockRows>{});
  static constexpr auto narrow = blocks16(std::make_integer_sequence<int, kBlockRows>{});
  for (int64_t p0 = 0; p0 < np;) {  // the B panel stays in L1 across the row blocks
    const bool full = p0 + 32 <= np;
    for (int64_t m = 0; m < rows; m += kBlockRows) {
      const int64_t block_rows = std::min(kBlockRows, rows - m);
      (full ? wide : narrow)[block_rows - 1](a + m * kp, b_rows, p0, kp, bias ? bias + m : nullptr, c + m * ldc, ldc);
    }
    p0 += full ? 32 : 16;
  }
}

}  // namespace chipref::kernels::avx512

#else  // not x86-64: never called (cpu_supports(avx512_vnni) is false)

namespace chipref::kernels::avx512 {
void gemm_s16(const int16_t*, const int16_t* const*, int64_t, int64_t, int64_t, const int32_t*, int32_t*, int64_t) {}
}  // namespace chipref::kernels::avx512

#endif
