#include "kernels/avx512.hpp"

#include "numerics/rounding.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

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

// ROWS output channels × PANELS·16 pixels from packed quads (panel j's group q at packed + (q·PANELS + j)·64).
template <int ROWS, int PANELS>
void block_u8s8(const int8_t* a, const uint8_t* packed, int64_t kq, const int32_t* bias, int32_t* c, int64_t ldc) {
  __m512i acc[ROWS][PANELS];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < PANELS; ++j) acc[r][j] = _mm512_set1_epi32(bias ? bias[r] : 0);
  for (int64_t k = 0; k < kq; k += 4, packed += 64 * PANELS) {
    __m512i b[PANELS];
#pragma GCC unroll 2
    for (int j = 0; j < PANELS; ++j) b[j] = _mm512_loadu_si512(packed + 64 * j);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      int32_t quad;
      std::memcpy(&quad, a + r * kq + k, sizeof quad);
      const __m512i w = _mm512_set1_epi32(quad);
#pragma GCC unroll 2
      for (int j = 0; j < PANELS; ++j) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], b[j], w);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 2
    for (int j = 0; j < PANELS; ++j) _mm512_storeu_si512(c + r * ldc + 16 * j, acc[r][j]);
}

using BlockU8Fn = void (*)(const int8_t*, const uint8_t*, int64_t, const int32_t*, int32_t*, int64_t);

template <int PANELS, int... R>
constexpr std::array<BlockU8Fn, sizeof...(R)> blocks_u8s8(std::integer_sequence<int, R...>) {
  return {&block_u8s8<R + 1, PANELS>...};
}

}  // namespace

namespace {
inline __mmask16 first_lanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1);
}
}  // namespace

namespace {
// The lanes' low bytes or low halves stored at dst (truncation: the callers prove every value fits).
template <class T>
inline void store_narrowed(T* dst, __mmask16 lanes, __m512i v) {
  if constexpr (sizeof(T) == 1)
    _mm512_mask_cvtepi32_storeu_epi8(dst, lanes, v);
  else
    _mm512_mask_cvtepi32_storeu_epi16(dst, lanes, v);
}

// 16 codes from int32 or from bytes (zero-extended: the byte's base is in the caller's offset)
inline __m512i load_codes(const int32_t* src, __mmask16 lanes) { return _mm512_maskz_loadu_epi32(lanes, src); }
inline __m512i load_codes(const uint8_t* src, __mmask16 lanes) {  // (the maskz form: GCC 12 warns on the plain one)
  return _mm512_maskz_cvtepu8_epi32(lanes, _mm_maskz_loadu_epi8(lanes, src));
}

// dst[i] = src[i] − offset, 16 values a step, the last step masked
template <class T, class S>
void offset_narrowed(const S* src, int32_t offset, int64_t n, T* dst) {
  const __m512i o = _mm512_set1_epi32(offset);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 lanes = first_lanes(n - i);
    store_narrowed(dst + i, lanes, _mm512_sub_epi32(load_codes(src + i, lanes), o));
  }
}

// even[i] = src[2i] − offset, odd[i] = src[2i + 1] − offset: src[i..i+31] a step, 16 even and 16 odd columns
template <class T, class S>
void deinterleave_narrowed(const S* src, int32_t offset, int64_t n, T* even, T* odd) {
  const __m512i o = _mm512_set1_epi32(offset);
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int64_t i = 0; i < n; i += 32) {
    const int64_t left = n - i;
    const __m512i lo = load_codes(src + i, first_lanes(left));
    const __m512i hi = load_codes(src + i + 16, first_lanes(std::max<int64_t>(0, left - 16)));
    store_narrowed(even + i / 2, first_lanes((left + 1) / 2),
                   _mm512_sub_epi32(_mm512_permutex2var_epi32(lo, evens, hi), o));
    store_narrowed(odd + i / 2, first_lanes(left / 2), _mm512_sub_epi32(_mm512_permutex2var_epi32(lo, odds, hi), o));
  }
}
}  // namespace

void offset_to_uint8(const int32_t* src, int32_t base, int64_t n, uint8_t* dst) { offset_narrowed(src, base, n, dst); }
void offset_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* dst) { offset_narrowed(src, zp, n, dst); }
void deinterleave_to_uint8(const int32_t* src, int32_t base, int64_t n, uint8_t* even, uint8_t* odd) {
  deinterleave_narrowed(src, base, n, even, odd);
}
void deinterleave_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* even, int16_t* odd) {
  deinterleave_narrowed(src, zp, n, even, odd);
}
// from bytes: code − offset = byte − (offset − base), which the int32 lanes hold exactly
void offset_to_uint8(const uint8_t* src, int32_t base, int32_t offset, int64_t n, uint8_t* dst) {
  // bytes to bytes: byte − (offset − base) modulo 256 is the result, which the caller proves lies in [0, 255]
  const __m512i delta = _mm512_set1_epi8(static_cast<char>(offset - base));
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 lanes = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    _mm512_mask_storeu_epi8(dst + i, lanes, _mm512_sub_epi8(_mm512_maskz_loadu_epi8(lanes, src + i), delta));
  }
}
void deinterleave_to_uint8(const uint8_t* src, int32_t base, int32_t offset, int64_t n, uint8_t* even, uint8_t* odd) {
  deinterleave_narrowed(src, offset - base, n, even, odd);
}
void offset_to_int16(const uint8_t* src, int32_t base, int32_t offset, int64_t n, int16_t* dst) {
  offset_narrowed(src, offset - base, n, dst);
}
void deinterleave_to_int16(const uint8_t* src, int32_t base, int32_t offset, int64_t n, int16_t* even, int16_t* odd) {
  deinterleave_narrowed(src, offset - base, n, even, odd);
}

#if defined(__GNUC__) && !defined(__clang__)  // as for mulshift_channel: GCC 12's false positive in its headers
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
void depthwise_u8s8(const uint8_t* plane, int64_t pitch, const int8_t* w, int64_t kh, int64_t kw, int64_t stride,
                    int64_t dilation_h, int32_t bias, int64_t q_count, int32_t* out) {
  // the kernel rows' tap quads as dwords (w[4c..4c+3] of row ky, zero past kw); on the stack for kernels up to
  // 16 × 16 (a call per channel and image: a heap buffer each time cost more than a small layer's sums)
  const int64_t chunks = (kw + 3) / 4, count = kh * chunks;
  int32_t on_stack[64];
  std::vector<int32_t> on_heap;
  int32_t* quads = on_stack;
  if (count > 64) on_heap.resize(static_cast<size_t>(count)), quads = on_heap.data();
  std::fill(quads, quads + count, 0);
  for (int64_t ky = 0; ky < kh; ++ky)
    for (int64_t kx = 0; kx < kw; ++kx)
      reinterpret_cast<int8_t*>(quads + ky * chunks + kx / 4)[kx % 4] = w[ky * kw + kx];
  const __m512i bias_v = _mm512_set1_epi32(bias);
  auto load = [](const uint8_t* p) { return _mm512_loadu_si512(p); };
  if (stride == 1) {
    // a load at byte offset r holds the quads of q = 4i + r in lane i
    for (int64_t q = 0; q < q_count; q += 64) {
      __m512i a0 = bias_v, a1 = bias_v, a2 = bias_v, a3 = bias_v;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const uint8_t* row = plane + q + ky * dilation_h * pitch;
        for (int64_t c = 0; c < chunks; ++c, row += 4) {
          const __m512i wq = _mm512_set1_epi32(quads[ky * chunks + c]);
          a0 = _mm512_dpbusd_epi32(a0, load(row), wq);
          a1 = _mm512_dpbusd_epi32(a1, load(row + 1), wq);
          a2 = _mm512_dpbusd_epi32(a2, load(row + 2), wq);
          a3 = _mm512_dpbusd_epi32(a3, load(row + 3), wq);
        }
      }
      // 128-bit lane L of a_r holds q = 16L + 4j + r (j < 4): interleave to 16L + 0..15, then gather lanes
      const __m512i t0 = _mm512_unpacklo_epi32(a0, a1), t1 = _mm512_unpackhi_epi32(a0, a1);
      const __m512i t2 = _mm512_unpacklo_epi32(a2, a3), t3 = _mm512_unpackhi_epi32(a2, a3);
      const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);  // 16L+0..3, +4..7
      const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);  // +8..11, +12..15
      const __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u2, u3, 0x44);
      const __m512i v2 = _mm512_shuffle_i32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
      _mm512_storeu_si512(out + q, _mm512_shuffle_i32x4(v0, v1, 0x88));
      _mm512_storeu_si512(out + q + 16, _mm512_shuffle_i32x4(v0, v1, 0xDD));
      _mm512_storeu_si512(out + q + 32, _mm512_shuffle_i32x4(v2, v3, 0x88));
      _mm512_storeu_si512(out + q + 48, _mm512_shuffle_i32x4(v2, v3, 0xDD));
    }
    return;
  }
  // stride 2: the quad of q starts at byte 2q; loads at offsets 0 and 2 hold q = 2i and 2i + 1 in lane i
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11),
                second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  for (int64_t q = 0; q < q_count; q += 32) {
    __m512i even = bias_v, odd = bias_v;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const uint8_t* row = plane + 2 * q + ky * dilation_h * pitch;
      for (int64_t c = 0; c < chunks; ++c, row += 4) {
        const __m512i wq = _mm512_set1_epi32(quads[ky * chunks + c]);
        even = _mm512_dpbusd_epi32(even, load(row), wq);
        odd = _mm512_dpbusd_epi32(odd, load(row + 2), wq);
      }
    }
    // 128-bit lane L: unpacklo gives q = 8L + 0..3, unpackhi 8L + 4..7
    const __m512i lo = _mm512_unpacklo_epi32(even, odd), hi = _mm512_unpackhi_epi32(even, odd);
    _mm512_storeu_si512(out + q, _mm512_permutex2var_epi64(lo, first, hi));
    _mm512_storeu_si512(out + q + 16, _mm512_permutex2var_epi64(lo, second, hi));
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void pack_quads(const uint8_t* const* b_rows, int64_t p0, int64_t kq, uint8_t* out, int64_t stride) {
  for (int64_t k = 0; k < kq; k += 4, out += stride) {
    const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b_rows[k] + p0));
    const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b_rows[k + 1] + p0));
    const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b_rows[k + 2] + p0));
    const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b_rows[k + 3] + p0));
    const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);  // pixels 0–7, 8–15
    const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi16(lo01, lo23));       // pixels 0–3
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_unpackhi_epi16(lo01, lo23));  // 4–7
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), _mm_unpacklo_epi16(hi01, hi23));  // 8–11
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), _mm_unpackhi_epi16(hi01, hi23));  // 12–15
  }
}

void transpose_columns(const uint8_t* const* b_rows, int64_t k16, int64_t np, const int32_t* rows_of_columns,
                       uint8_t* a, int64_t lda) {
  const auto load = [](const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); };
  for (int64_t q0 = 0; q0 < np; q0 += 16)
    for (int64_t k0 = 0; k0 < k16; k0 += 16) {
      // rows k0.. (bytes q0..q0 + 15 each) → columns: bytes, then pairs, quads and halves of rows interleaved
      __m128i r[16], t[16];
      for (int i = 0; i < 16; ++i) r[i] = load(b_rows[k0 + i] + q0);
      // t[i]: rows i, i + 1 interleaved at columns 0–7; t[i + 1]: at columns 8–15
      for (int i = 0; i < 16; i += 2) {
        t[i] = _mm_unpacklo_epi8(r[i], r[i + 1]);
        t[i + 1] = _mm_unpackhi_epi8(r[i], r[i + 1]);
      }
      // r[i], r[i + 1], r[i + 2], r[i + 3]: rows i..i + 3 at columns 0–3, 4–7, 8–11, 12–15
      for (int i = 0; i < 16; i += 4) {
        r[i] = _mm_unpacklo_epi16(t[i], t[i + 2]);
        r[i + 1] = _mm_unpackhi_epi16(t[i], t[i + 2]);
        r[i + 2] = _mm_unpacklo_epi16(t[i + 1], t[i + 3]);
        r[i + 3] = _mm_unpackhi_epi16(t[i + 1], t[i + 3]);
      }
      // t[h + 2j], t[h + 2j + 1]: rows h..h + 7 at columns 4j, 4j + 1 and at 4j + 2, 4j + 3
      for (int h = 0; h < 16; h += 8)
        for (int j = 0; j < 4; ++j) {
          t[h + 2 * j] = _mm_unpacklo_epi32(r[h + j], r[h + 4 + j]);
          t[h + 2 * j + 1] = _mm_unpackhi_epi32(r[h + j], r[h + 4 + j]);
        }
      for (int j = 0; j < 8; ++j) {  // columns 2j and 2j + 1: rows 0–7 from t[j], rows 8–15 from t[8 + j]
        const int32_t even = rows_of_columns[q0 + 2 * j], odd = rows_of_columns[q0 + 2 * j + 1];
        if (even >= 0)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(a + even * lda + k0), _mm_unpacklo_epi64(t[j], t[8 + j]));
        if (odd >= 0)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(a + odd * lda + k0), _mm_unpackhi_epi64(t[j], t[8 + j]));
      }
    }
}

void gemm_u8s8(const int8_t* a, const uint8_t* const* b_rows, int64_t rows, int64_t kq, int64_t np, const int32_t* bias,
               int32_t* c, int64_t ldc) {
  static constexpr auto two = blocks_u8s8<2>(std::make_integer_sequence<int, kBlockRows>{});
  static constexpr auto one = blocks_u8s8<1>(std::make_integer_sequence<int, kBlockRows>{});
  thread_local std::vector<uint8_t> packed;
  if (packed.size() < static_cast<size_t>(kq * 32)) packed.resize(static_cast<size_t>(kq * 32));
  for (int64_t p0 = 0; p0 < np;) {
    const int panels = p0 + 32 <= np ? 2 : 1;
    for (int j = 0; j < panels; ++j)  // the panels interleaved per group of four rows
      pack_quads(b_rows, p0 + 16 * j, kq, packed.data() + 64 * j, 64 * panels);
    for (int64_t m = 0; m < rows; m += kBlockRows) {
      const int64_t block_rows = std::min(kBlockRows, rows - m);
      (panels == 2 ? two : one)[block_rows - 1](a + m * kq, packed.data(), kq, bias ? bias + m : nullptr,
                                                c + m * ldc + p0, ldc);
    }
    p0 += 16 * panels;
  }
}

namespace {
constexpr int64_t kLinearRows = 12;  // 24 accumulators, two weight vectors and the broadcast quad: 27 of 32
// ROWS activation rows × PANELS panels of 16 output channels: a quad of each row broadcast, a panel's 16
// weight quads a vector, vpdpbusd (u8 first, s8 second); the sums stored as they are. The caller adds the
// bias: with any other use of the sums than a plain store (a bias added or a masked store), GCC 12 copies
// every accumulator on each step of the loop.
template <int ROWS, int PANELS>
void linear_block(const uint8_t* a, int64_t lda, const int8_t* panels, int64_t kq, int32_t* c, int64_t ldc) {
  __m512i acc[ROWS][PANELS];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < PANELS; ++j) acc[r][j] = _mm512_setzero_si512();
  const int64_t panel_bytes = 16 * kq;
  for (int64_t k = 0; k < kq; k += 4, panels += 64) {
    __m512i w[PANELS];
#pragma GCC unroll 4
    for (int j = 0; j < PANELS; ++j) w[j] = _mm512_loadu_si512(panels + j * panel_bytes);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      int32_t quad;
      std::memcpy(&quad, a + r * lda + k, sizeof quad);
      const __m512i x = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
      for (int j = 0; j < PANELS; ++j) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], x, w[j]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < PANELS; ++j) _mm512_storeu_si512(c + r * ldc + 16 * j, acc[r][j]);
}

using LinearBlockFn = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, int32_t*, int64_t);
template <int PANELS, int... R>
constexpr std::array<LinearBlockFn, sizeof...(R)> linear_blocks(std::integer_sequence<int, R...>) {
  return {&linear_block<R + 1, PANELS>...};
}
}  // namespace

std::vector<int8_t> pack_linear_panels(const int8_t* w, int64_t m, int64_t kq) {
  const int64_t panels = (m + 15) / 16;
  std::vector<int8_t> out(static_cast<size_t>(panels * 16 * kq), 0);
  for (int64_t o = 0; o < m; ++o)
    for (int64_t k = 0; k < kq; ++k)
      out[static_cast<size_t>(((o / 16) * kq + k / 4 * 4) * 16 + o % 16 * 4 + k % 4)] = w[o * kq + k];
  return out;
}

void linear_u8s8(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t kq, int64_t o0, int64_t o1,
                 const int32_t* bias, int32_t* c, int64_t ldc) {
  static constexpr auto two = linear_blocks<2>(std::make_integer_sequence<int, kLinearRows>{});
  static constexpr auto one = linear_blocks<1>(std::make_integer_sequence<int, kLinearRows>{});
  alignas(64) int32_t partial[kLinearRows * 16];  // a last panel of fewer than 16 channels
  for (int64_t o = o0; o < o1;) {
    const int64_t left = o1 - o;
    const int count = left >= 32 ? 2 : 1;
    const int8_t* p = panels + (o / 16) * 16 * kq;
    for (int64_t r = 0; r < rows; r += kLinearRows) {
      const int64_t block = std::min(kLinearRows, rows - r);
      // the block's sums in place (or in `partial`), then the bias added as they go out (masked to the panel)
      const bool whole = left >= 16;
      int32_t* sums = whole ? c + r * ldc + o : partial;
      const int64_t stride = whole ? ldc : 16;
      (count == 2 ? two : one)[block - 1](a + r * lda, lda, p, kq, sums, stride);
      for (int j = 0; j < count; ++j) {
        const __mmask16 lanes = first_lanes(left - 16 * j);
        const __m512i b = _mm512_maskz_loadu_epi32(lanes, bias + o + 16 * j);
        for (int64_t i = 0; i < block; ++i)
          _mm512_mask_storeu_epi32(c + (r + i) * ldc + o + 16 * j, lanes,
                                   _mm512_add_epi32(_mm512_loadu_si512(sums + i * stride + 16 * j), b));
      }
    }
    o += std::min<int64_t>(left, 16 * count);
  }
}

// GCC 12 warns inside its own AVX-512 headers, whose unmasked forms pass an undefined vector as the
// masked-off source (a known false positive of -Wmaybe-uninitialized).
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning (and refuses to ignore an unknown one)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace {
// R(p / 2^right) for right >= 1 as one addition before the arithmetic (floor) shift: p + bias, where bias
// is 2^(right−1) − 1 plus, per mode, what decides a tie or a remainder:
//   floor: 0 (bias 0 overall); half_up: 2^(right−1); half_even: 2^(right−1) − 1 + bit `right` of p (a tie
//   rounds up exactly when the floor quotient is odd); toward_zero: 2^right − 1 when p < 0;
//   half_away: 2^(right−1), less 1 when p < 0.
// Each is rounding_shift_right's decision (numerics/rounding.hpp): with p = q·2^right + r, 0 <= r < 2^right,
// the sum carries into q + 1 exactly when r reaches the mode's threshold.
// `rounding_bias` is that bias plus `offset`, a multiple of 2^right, which the shift then adds to the
// quotient exactly (floor((p + b + z·2^right) / 2^right) = floor((p + b) / 2^right) + z); `shift_right` is the
// shift by `right` (half_even reads bit `right` of p with it).
template <RoundingMode kMode, class ShiftRight>
inline __attribute__((always_inline)) __m512i rounding_bias(__m512i p, __m512i half, __m512i one, __m512i offset,
                                                            ShiftRight shift_right) {
  const __m512i below = _mm512_sub_epi64(half, one);  // 2^(right−1) − 1
  if constexpr (kMode == RoundingMode::floor) {
    return offset;
  } else if constexpr (kMode == RoundingMode::half_up) {
    return _mm512_add_epi64(half, offset);
  } else if constexpr (kMode == RoundingMode::half_even) {
    return _mm512_add_epi64(_mm512_add_epi64(below, offset), _mm512_and_si512(shift_right(p), one));
  } else if constexpr (kMode == RoundingMode::toward_zero) {  // 2^right − 1 when p < 0
    return _mm512_mask_add_epi64(offset, _mm512_movepi64_mask(p), offset, _mm512_add_epi64(below, half));
  } else {  // half_away
    return _mm512_add_epi64(_mm512_mask_sub_epi64(half, _mm512_movepi64_mask(p), half, one), offset);
  }
}
template <RoundingMode kMode, class ShiftRight>
inline __attribute__((always_inline)) __m512i round_shift(__m512i p, __m512i half, __m512i one,
                                                          ShiftRight shift_right) {
  if constexpr (kMode == RoundingMode::floor) return shift_right(p);
  return shift_right(_mm512_add_epi64(p, rounding_bias<kMode>(p, half, one, _mm512_setzero_si512(), shift_right)));
}

// f(std::integral_constant<RoundingMode, mode>{}): the lanes' kernel instantiated for the requantizer's
// run-time rounding mode.
template <class F>
void with_rounding(RoundingMode mode, F f) {
  switch (mode) {
    case RoundingMode::floor:
      return f(std::integral_constant<RoundingMode, RoundingMode::floor>{});
    case RoundingMode::toward_zero:
      return f(std::integral_constant<RoundingMode, RoundingMode::toward_zero>{});
    case RoundingMode::half_up:
      return f(std::integral_constant<RoundingMode, RoundingMode::half_up>{});
    case RoundingMode::half_away:
      return f(std::integral_constant<RoundingMode, RoundingMode::half_away>{});
    case RoundingMode::half_even:
      return f(std::integral_constant<RoundingMode, RoundingMode::half_even>{});
  }
}

// The output clamp [lo, hi] narrowed to the output format; false when the result is not a range inside int32
// (the lanes narrow to int32 before they clamp).
bool int32_output_range(const Requantizer& rq, int64_t& lo, int64_t& hi) {
  lo = std::max(lo, rq.output_format().min()), hi = std::min(hi, rq.output_format().max());
  return lo >= INT32_MIN && hi <= INT32_MAX && lo <= hi;
}

// 16 values already less their base, stored as int32 or as bytes (the caller's clamp keeps them in [0, 255]).
inline void store_less_base(int32_t* y, __mmask16 lanes, __m512i values) { _mm512_mask_storeu_epi32(y, lanes, values); }
inline void store_less_base(uint8_t* y, __mmask16 lanes, __m512i values) {
  _mm512_mask_cvtepi32_storeu_epi8(y, lanes, values);
}
// 16 codes stored as int32, or as bytes code − base (the caller's clamp keeps them within [base, base + 255]).
inline void store_codes(int32_t* y, __mmask16 lanes, __m512i codes, __m512i) { store_less_base(y, lanes, codes); }
inline void store_codes(uint8_t* y, __mmask16 lanes, __m512i codes, __m512i base) {
  store_less_base(y, lanes, _mm512_sub_epi32(codes, base));
}

// MulShift's common case, right >= 32 and |zp − base|·2^right < 2^61 with |zp − base| < 2^30: zp − base folded
// into the rounding bias, and the odd elements' results computed in the high halves of their 64-bit lanes
// (shifted right by right − 32, so the quotient lands in bits 32..63 above the remainder), blended with the even
// elements' low halves: no narrowing and no permutation. Every quotient fits int32 as it is (|x·M| < 2^62 and
// right >= 32 bound the rounded quotient by 2^30, and |zp − base| < 2^30), so zp − base + q needs no saturation
// and the clamp to [lo − base, hi − base] (inside int32) is made on the 16 int32 lanes: the same integers as
// mulshift_lanes below, less the base. half_even's tie bit (bit `right` of the product) is a mask test and a
// masked add of one.
template <RoundingMode kMode, class Out>
void mulshift_lanes_high(int64_t multiplier_value, int right, int64_t zero_point, int64_t lo, int64_t hi,
                         const int32_t* x, int64_t n, Out* y, int32_t base, const RowSteps& rows) {
  const __m512i multiplier = _mm512_set1_epi64(multiplier_value), one = _mm512_set1_epi64(1),
                half = _mm512_set1_epi64(int64_t{1} << (right - 1));
  const __m512i offset = _mm512_set1_epi64((zero_point - base) * (int64_t{1} << right));
  // half_even's bias but the tie bit: 2^(right−1) − 1 + (zp − base)·2^right
  const __m512i even_bias = _mm512_add_epi64(_mm512_sub_epi64(half, one), offset);
  const __m512i tie_bit = _mm512_set1_epi64(int64_t{1} << right);
  const __m512i lo_v = _mm512_set1_epi32(static_cast<int32_t>(lo - base)),
                hi_v = _mm512_set1_epi32(static_cast<int32_t>(hi - base));
  const __m128i count = _mm_cvtsi64_si128(right), count_odd = _mm_cvtsi64_si128(right - 32);
  const auto shift_right = [count](__m512i p) { return _mm512_sra_epi64(p, count); };
  // p + the mode's bias (p's bit `right` decides half_even's ties)
  const auto biased = [&](__m512i p) {
    if constexpr (kMode == RoundingMode::half_even) {
      const __m512i below_tie = _mm512_add_epi64(p, even_bias);
      return _mm512_mask_add_epi64(below_tie, _mm512_test_epi64_mask(p, tie_bit), below_tie, one);
    } else {
      return _mm512_add_epi64(p, rounding_bias<kMode>(p, half, one, offset, shift_right));
    }
  };
  for (int64_t r = 0; r < rows.count; ++r, x += rows.x_stride, y += rows.y_stride)
    for (int64_t i = 0; i < n; i += 16) {
      const auto lanes = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
      const __m512i v = _mm512_maskz_loadu_epi32(lanes, x + i);
      const __m512i p_even = _mm512_mul_epi32(v, multiplier),
                    p_odd = _mm512_mul_epi32(_mm512_srli_epi64(v, 32), multiplier);
      const __m512i both = _mm512_mask_blend_epi32(0xAAAA, _mm512_sra_epi64(biased(p_even), count),
                                                   _mm512_sra_epi64(biased(p_odd), count_odd));
      store_less_base(y + i, lanes, _mm512_min_epi32(_mm512_max_epi32(both, lo_v), hi_v));
    }
}

template <RoundingMode kMode, class Out>
void mulshift_lanes(int64_t multiplier_value, int right, int64_t zero_point, int64_t lo, int64_t hi, const int32_t* x,
                    int64_t n, Out* y, int32_t base, const RowSteps& rows) {
  const __m512i base_v = _mm512_set1_epi32(base);
  const __m512i multiplier = _mm512_set1_epi64(multiplier_value), zp = _mm512_set1_epi64(zero_point),
                one = _mm512_set1_epi64(1), half = _mm512_set1_epi64(int64_t{1} << (right - 1));
  const __m512i lo_v = _mm512_set1_epi32(static_cast<int32_t>(lo)), hi_v = _mm512_set1_epi32(static_cast<int32_t>(hi));
  const __m128i count = _mm_cvtsi64_si128(right);
  // the 16 results in order from the even lanes' eight (elements 0, 2, ...) and the odd lanes' eight
  const __m512i order = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  // a last step of fewer than 16 masked (rows of 7, 14, 28 or 56 outputs would otherwise leave most of
  // theirs to a scalar loop)
  for (int64_t r = 0; r < rows.count; ++r, x += rows.x_stride, y += rows.y_stride)
    for (int64_t i = 0; i < n; i += 16) {
      const auto lanes = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
      const __m512i v = _mm512_maskz_loadu_epi32(lanes, x + i);
      // x·M from the low 32 bits of each 64-bit lane, sign-extended (|x·M| < 2^62), then zp + R(x·M / 2^right)
      // saturated to int32 (lo and hi lie within it, so the clamp below gives the same result)
      const auto shift_right = [count](__m512i p) { return _mm512_sra_epi64(p, count); };
      const __m512i even =
          _mm512_add_epi64(zp, round_shift<kMode>(_mm512_mul_epi32(v, multiplier), half, one, shift_right));
      const __m512i odd = _mm512_add_epi64(
          zp, round_shift<kMode>(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), multiplier), half, one, shift_right));
      const __m512i both = _mm512_permutex2var_epi32(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(even)), order,
                                                     _mm512_castsi256_si512(_mm512_cvtsepi64_epi32(odd)));
      store_codes(y + i, lanes, _mm512_min_epi32(_mm512_max_epi32(both, lo_v), hi_v), base_v);
    }
}
// Channels on the last axis: 8 elements a step, each lane with its channel's multiplier and right shift.
template <RoundingMode kMode>
void mulshift_last_axis_lanes(const int64_t* multipliers, const int64_t* rights, int64_t channels, int64_t zero_point,
                              int64_t lo, int64_t hi, const int32_t* x, int64_t outer, int32_t* y) {
  const __m512i zp = _mm512_set1_epi64(zero_point), one = _mm512_set1_epi64(1);
  const __m256i lo_v = _mm256_set1_epi32(static_cast<int32_t>(lo)), hi_v = _mm256_set1_epi32(static_cast<int32_t>(hi));
  for (int64_t o = 0; o < outer; ++o) {
    const int32_t* row = x + o * channels;
    int32_t* out = y + o * channels;
    for (int64_t c = 0; c < channels; c += 8) {
      const auto lanes = static_cast<__mmask8>(channels - c >= 8 ? 0xFF : (1u << (channels - c)) - 1);
      const __m512i counts = _mm512_maskz_loadu_epi64(lanes, rights + c);
      const __m512i half = _mm512_sllv_epi64(one, _mm512_sub_epi64(counts, one));
      const auto shift_right = [counts](__m512i p) { return _mm512_srav_epi64(p, counts); };
      const __m512i p = _mm512_mul_epi32(_mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(lanes, row + c)),
                                         _mm512_maskz_loadu_epi64(lanes, multipliers + c));
      const __m256i v = _mm512_cvtsepi64_epi32(_mm512_add_epi64(zp, round_shift<kMode>(p, half, one, shift_right)));
      _mm256_mask_storeu_epi32(out + c, lanes, _mm256_min_epi32(_mm256_max_epi32(v, lo_v), hi_v));
    }
  }
}
}  // namespace

bool mulshift_last_axis(const Requantizer& rq, const RequantChannel* ch, int64_t channels, int64_t lo, int64_t hi,
                        const int32_t* x, int64_t outer, int32_t* y) {
  if (rq.flavour() != RequantFlavour::single || channels < 1) return false;
  if (!int32_output_range(rq, lo, hi)) return false;
  thread_local std::vector<int64_t> multipliers, rights;
  multipliers.resize(static_cast<size_t>(channels)), rights.resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    multipliers[c] = ch[c].fixed.multiplier, rights[c] = ch[c].fixed.bits - ch[c].fixed.shift;
    if (rights[c] < 1 || rights[c] > 62) return false;
  }
  const int64_t* m = multipliers.data();  // by address: the names are this thread's
  const int64_t* r = rights.data();
  const int64_t zp = rq.zero_point();
  with_rounding(rq.rounding(), [&](auto mode) {
    mulshift_last_axis_lanes<decltype(mode)::value>(m, r, channels, zp, lo, hi, x, outer, y);
  });
  return true;
}

namespace {
template <class Out>
bool mulshift_channel_into(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                           int64_t n, Out* y, int32_t base, const RowSteps& rows) {
  const int right = ch.fixed.bits - ch.fixed.shift;
  if (rq.flavour() != RequantFlavour::single || right < 1 || right > 62) return false;
  if (!int32_output_range(rq, lo, hi)) return false;
  const int64_t m = ch.fixed.multiplier, zp = rq.zero_point();
  // |p| < 2^62 and |(zp − base)·2^right| < 2^61 keep p + bias + (zp − base)·2^right inside int64 (base: 0 for
  // int32 codes)
  const int64_t zp_less_base = zp - base;
  const bool high = right >= 32 && (zp_less_base == 0 || (std::abs(zp_less_base) < (int64_t{1} << 30) &&
                                                          std::abs(zp_less_base) < (int64_t{1} << (61 - right))));
  with_rounding(rq.rounding(), [&](auto mode) {
    if (high)
      mulshift_lanes_high<decltype(mode)::value>(m, right, zp, lo, hi, x, n, y, base, rows);
    else
      mulshift_lanes<decltype(mode)::value>(m, right, zp, lo, hi, x, n, y, base, rows);
  });
  return true;
}
}  // namespace

bool mulshift_channel(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                      int64_t n, int32_t* y, const RowSteps& rows) {
  return mulshift_channel_into(rq, ch, lo, hi, x, n, y, 0, rows);
}
bool mulshift_channel(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                      int64_t n, uint8_t* y, int32_t base, const RowSteps& rows) {
  return mulshift_channel_into(rq, ch, lo, hi, x, n, y, base, rows);
}
namespace {
// One input of a residual add in 8 lanes (the low or high halves' int32 values sign-extended in the 64-bit
// lanes): R(v·M / 2^right), or v·M when right is 0, as Requantizer::scale_only's `single` flavour.
template <RoundingMode kMode>
inline __attribute__((always_inline)) __m512i scale_lanes(__m512i v, __m512i multiplier, int right, __m512i half,
                                                          __m128i count) {
  const __m512i p = _mm512_mul_epi32(v, multiplier);  // |v·M| < 2^62
  if (right == 0) return p;
  return round_shift<kMode>(p, half, _mm512_set1_epi64(1), [count](__m512i q) { return _mm512_sra_epi64(q, count); });
}

// Operands as int32 codes or as bytes (then x − zp is byte − (zp − base), computed modulo 2^32 as the int32 form's
// x − zp: the true difference fits int32 either way), the output as int32 codes or as bytes less y_base.
template <RoundingMode kMode, class A, class B, class Out>
void add_lanes(const AddRequant& p, int64_t lo, int64_t hi, const A* a, int32_t a_base, const B* b, int32_t b_base,
               int64_t n, Out* y, int32_t y_base) {
  const int right_a = p.scale_a.fixed.bits - p.scale_a.fixed.shift,
            right_b = p.scale_b.fixed.bits - p.scale_b.fixed.shift;
  const __m512i ma = _mm512_set1_epi64(p.scale_a.fixed.multiplier), mb = _mm512_set1_epi64(p.scale_b.fixed.multiplier);
  const __m512i half_a = _mm512_set1_epi64(right_a > 0 ? int64_t{1} << (right_a - 1) : 0),
                half_b = _mm512_set1_epi64(right_b > 0 ? int64_t{1} << (right_b - 1) : 0);
  const __m128i count_a = _mm_cvtsi64_si128(right_a), count_b = _mm_cvtsi64_si128(right_b);
  const auto less = [](int32_t zero_point, int32_t base) {
    return static_cast<int32_t>(static_cast<uint32_t>(zero_point) - static_cast<uint32_t>(base));
  };
  const __m512i zpa = _mm512_set1_epi32(less(p.zero_point_a, a_base)),
                zpb = _mm512_set1_epi32(less(p.zero_point_b, b_base)), base_v = _mm512_set1_epi32(y_base);
  const __m512i zp = _mm512_set1_epi64(p.requantizer.zero_point());
  const __m512i lo_v = _mm512_set1_epi32(static_cast<int32_t>(lo)), hi_v = _mm512_set1_epi32(static_cast<int32_t>(hi));
  const __m512i order = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  for (int64_t i = 0; i < n; i += 16) {  // the last step masked, as in mulshift_lanes
    const auto lanes = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    // (x − zp_x) fits int32 for every format of at most 31 bits, as in the scalar kernel
    const __m512i va = _mm512_sub_epi32(load_codes(a + i, lanes), zpa),
                  vb = _mm512_sub_epi32(load_codes(b + i, lanes), zpb);
    const __m512i even = _mm512_add_epi64(zp, _mm512_add_epi64(scale_lanes<kMode>(va, ma, right_a, half_a, count_a),
                                                               scale_lanes<kMode>(vb, mb, right_b, half_b, count_b)));
    const __m512i odd = _mm512_add_epi64(
        zp, _mm512_add_epi64(scale_lanes<kMode>(_mm512_srli_epi64(va, 32), ma, right_a, half_a, count_a),
                             scale_lanes<kMode>(_mm512_srli_epi64(vb, 32), mb, right_b, half_b, count_b)));
    // saturated to int32 by the narrowing (lo and hi lie within it, so the clamp gives the same result)
    const __m512i both = _mm512_permutex2var_epi32(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(even)), order,
                                                   _mm512_castsi256_si512(_mm512_cvtsepi64_epi32(odd)));
    store_codes(y + i, lanes, _mm512_min_epi32(_mm512_max_epi32(both, lo_v), hi_v), base_v);
  }
}

// f(pointer, base) with the codes' own pointer type
template <class F>
void with_codes(CodesIn x, F f) {
  if (x.bytes) return f(x.bytes, x.base);
  f(x.wide, 0);
}
}  // namespace

bool add_requant(const AddRequant& p, CodesIn a, CodesIn b, int64_t n, CodesOut y) {
  const Requantizer& rq = p.requantizer;
  if (p.subtract || rq.flavour() != RequantFlavour::single) return false;
  for (const RequantChannel* ch : {&p.scale_a, &p.scale_b})
    if (const int right = ch->fixed.bits - ch->fixed.shift; right < 0 || right > 62) return false;
  int64_t lo = p.clamp_lo, hi = p.clamp_hi;
  if (!int32_output_range(rq, lo, hi)) return false;
  with_rounding(rq.rounding(), [&](auto mode) {
    with_codes(a, [&](auto* a_codes, int32_t a_base) {
      with_codes(b, [&](auto* b_codes, int32_t b_base) {
        if (y.bytes)
          add_lanes<decltype(mode)::value>(p, lo, hi, a_codes, a_base, b_codes, b_base, n, y.bytes, y.base);
        else
          add_lanes<decltype(mode)::value>(p, lo, hi, a_codes, a_base, b_codes, b_base, n, y.wide, 0);
      });
    });
  });
  return true;
}
bool add_requant(const AddRequant& p, const int32_t* a, const int32_t* b, int64_t n, int32_t* y) {
  return avx512::add_requant(p, CodesIn{a}, CodesIn{b}, n, CodesOut{y});
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace {
// R_even(n / d) in 8 lanes (d >= 1), given `approx` ≈ n / d in double: the floor of the estimate, one
// correction step on the remainder n − q·d (exact in 64 bits), then ties to the even quotient. One step is
// enough when the exact quotient is below 2^30 (the estimate's relative error is under 2^−51, so its floor is
// within one of ⌊n/d⌋): LayerNorm's and softmax's callers ensure it (docs/numerics.md §5).
inline __attribute__((always_inline)) __m512i divide_half_even(__m512i n, __m512d approx, __m512i d) {
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512();
  __m512i q = _mm512_cvtpd_epi64(_mm512_roundscale_pd(approx, _MM_FROUND_TO_NEG_INF));
  __m512i r = _mm512_sub_epi64(n, _mm512_mullo_epi64(q, d));
  const __mmask8 over = _mm512_cmpge_epi64_mask(r, d), under = _mm512_cmplt_epi64_mask(r, zero);
  q = _mm512_mask_sub_epi64(_mm512_mask_add_epi64(q, over, q, one), under, q, one);
  r = _mm512_mask_add_epi64(_mm512_mask_sub_epi64(r, over, r, d), under, r, d);
  const __m512i twice = _mm512_add_epi64(r, r);
  const __mmask8 up =
      _mm512_cmpgt_epi64_mask(twice, d) | (_mm512_cmpeq_epi64_mask(twice, d) & _mm512_test_epi64_mask(q, one));
  return _mm512_mask_add_epi64(q, up, q, one);
}
}  // namespace

#if defined(__GNUC__) && !defined(__clang__)  // as for mulshift_channel: GCC 12's false positive in its headers
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
void layernorm_outputs(const int32_t* c, int64_t n, int64_t s, int z_shift, const int64_t* multiplier,
                       const int64_t* right, const uint8_t* negative, const int64_t* beta, int64_t zero_point,
                       int64_t out_min, int64_t out_max, int32_t* y) {
  const __m512d per_unit = _mm512_set1_pd(std::ldexp(1.0 / static_cast<double>(s), z_shift));
  const __m512i divisor = _mm512_set1_epi64(s), one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512(),
                zp = _mm512_set1_epi64(zero_point), lo = _mm512_set1_epi64(out_min), hi = _mm512_set1_epi64(out_max);
  const __m128i shift = _mm_cvtsi32_si128(z_shift);
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 lanes = n - i >= 8 ? 0xFF : static_cast<__mmask8>((1u << (n - i)) - 1);
    const __m256i c32 = _mm256_maskz_loadu_epi32(lanes, c + i);
    // z = R_even(a / s), a = c · 2^z_shift
    const __m512i a = _mm512_sll_epi64(_mm512_cvtepi32_epi64(c32), shift);
    const __m512i z = divide_half_even(a, _mm512_mul_pd(_mm512_cvtepi32_pd(c32), per_unit), divisor);
    // R_even(z · M / 2^right) per element (|z| < 2^30, M < 2^31: the product is exact in 64 bits)
    const __m512i counts = _mm512_maskz_loadu_epi64(lanes, right + i);
    const __m512i product = _mm512_mul_epi32(z, _mm512_maskz_loadu_epi64(lanes, multiplier + i));
    const __m512i floor_q = _mm512_srav_epi64(product, counts);
    const __m512i rem = _mm512_and_si512(product, _mm512_sub_epi64(_mm512_sllv_epi64(one, counts), one));
    // half = 2^(right − 1); right = 0 leaves no remainder, and half 1 then never rounds up
    const __m512i half = _mm512_max_epi64(_mm512_srlv_epi64(_mm512_sllv_epi64(one, counts), one), one);
    const __mmask8 round_up = _mm512_cmpgt_epi64_mask(rem, half) |
                              (_mm512_cmpeq_epi64_mask(rem, half) & _mm512_test_epi64_mask(floor_q, one));
    __m512i scaled = _mm512_mask_add_epi64(floor_q, round_up, floor_q, one);
    const __m128i sign_bytes = _mm_maskz_loadu_epi8(lanes, negative + i);
    scaled = _mm512_mask_sub_epi64(scaled, _mm512_test_epi64_mask(_mm512_cvtepu8_epi64(sign_bytes), one) & lanes, zero,
                                   scaled);
    const __m512i out = _mm512_add_epi64(_mm512_add_epi64(zp, _mm512_maskz_loadu_epi64(lanes, beta + i)), scaled);
    _mm512_mask_cvtepi64_storeu_epi32(y + i, lanes, _mm512_min_epi64(_mm512_max_epi64(out, lo), hi));
  }
}
bool lut_nearest(const int32_t* table, int64_t entries, int64_t in_min, int shift, int64_t span, int64_t out_min,
                 int64_t out_max, const int32_t* x, int64_t n, int32_t* y) {
  // offsets in [0, span] fit int32 when span does; the domain test is on 64-bit offsets
  if (span > INT32_MAX || entries < 1 || entries > INT32_MAX || out_min < INT32_MIN || out_max > INT32_MAX)
    return false;
  const __m512i lower = _mm512_set1_epi64(in_min), upper = _mm512_set1_epi64(in_min + span);
  const __m512i round = _mm512_set1_epi32(shift > 0 ? 1 << (shift - 1) : 0),
                last = _mm512_set1_epi32(static_cast<int32_t>(entries - 1)),
                lo = _mm512_set1_epi32(static_cast<int32_t>(out_min)),
                hi = _mm512_set1_epi32(static_cast<int32_t>(out_max)),
                base = _mm512_set1_epi32(static_cast<int32_t>(in_min));
  const __m128i count = _mm_cvtsi32_si128(shift);
  for (int64_t i = 0; i < n; i += 16) {
    const auto lanes = static_cast<__mmask16>(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
    const __m512i v = _mm512_maskz_loadu_epi32(lanes, x + i);
    const __m512i v_lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                  v_hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    const auto outside =
        static_cast<__mmask16>((_mm512_cmplt_epi64_mask(v_lo, lower) | _mm512_cmpgt_epi64_mask(v_lo, upper)) |
                               ((_mm512_cmplt_epi64_mask(v_hi, lower) | _mm512_cmpgt_epi64_mask(v_hi, upper)) << 8));
    if (outside & lanes) return false;
    // x − in_min in [0, span] ⊂ int32 (wrapping subtraction gives it exactly), + round < 2^31 + 2^30: unsigned
    const __m512i offset = _mm512_add_epi32(_mm512_sub_epi32(v, base), round);
    const __m512i index = _mm512_min_epu32(_mm512_srl_epi32(offset, count), last);
    const __m512i value = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), lanes, index, table, 4);
    _mm512_mask_storeu_epi32(y + i, lanes, _mm512_min_epi32(_mm512_max_epi32(value, lo), hi));
  }
  return true;
}

bool softmax_row(const int32_t* table, int64_t table_size, int64_t one_over_scale, int64_t zero_point, int64_t out_min,
                 int64_t out_max, const int32_t* x, int64_t cols, int32_t* t, int32_t* y) {
  if (cols < 1 || one_over_scale < 0 || one_over_scale >= (int64_t{1} << 30) || table_size > INT32_MAX) return false;
  auto tail = [cols](int64_t i, int width) {
    return cols - i >= width ? (width == 16 ? 0xFFFFu : 0xFFu) : (1u << (cols - i)) - 1;
  };
  __m512i high = _mm512_set1_epi32(INT32_MIN), low = _mm512_set1_epi32(INT32_MAX);
  for (int64_t i = 0; i < cols; i += 16) {
    const auto lanes = static_cast<__mmask16>(tail(i, 16));
    const __m512i v = _mm512_maskz_loadu_epi32(lanes, x + i);
    high = _mm512_mask_max_epi32(high, lanes, high, v), low = _mm512_mask_min_epi32(low, lanes, low, v);
  }
  const int32_t m = _mm512_reduce_max_epi32(high);
  if (int64_t{m} - _mm512_reduce_min_epi32(low) > INT32_MAX) return false;
  // T_i and S (T_i <= table entries < 2^31; S < cols · 2^31 in 64 bits)
  const __m512i top = _mm512_set1_epi32(m), size = _mm512_set1_epi32(static_cast<int32_t>(table_size));
  __m512i sum = _mm512_setzero_si512();
  for (int64_t i = 0; i < cols; i += 16) {
    const auto lanes = static_cast<__mmask16>(tail(i, 16));
    const __m512i d = _mm512_sub_epi32(top, _mm512_maskz_loadu_epi32(lanes, x + i));
    const __mmask16 inside = _mm512_cmplt_epi32_mask(d, size) & lanes;
    const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), inside, d, table, 4);
    _mm512_mask_storeu_epi32(t + i, lanes, v);
    sum = _mm512_add_epi64(sum, _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                                                 _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1))));
  }
  const int64_t total = _mm512_reduce_add_epi64(sum);
  const __m512i lo = _mm512_set1_epi64(out_min), hi = _mm512_set1_epi64(out_max), zp = _mm512_set1_epi64(zero_point);
  if (total == 0) {
    std::fill(y, y + cols, static_cast<int32_t>(std::clamp(zero_point, out_min, out_max)));
    return true;
  }
  const __m512d per_unit = _mm512_set1_pd(static_cast<double>(one_over_scale) / static_cast<double>(total));
  const __m512i divisor = _mm512_set1_epi64(total), scale = _mm512_set1_epi64(one_over_scale);
  for (int64_t i = 0; i < cols; i += 8) {
    const auto lanes = static_cast<__mmask8>(tail(i, 8));
    const __m256i t32 = _mm256_maskz_loadu_epi32(lanes, t + i);
    const __m512i numerator = _mm512_mul_epi32(_mm512_cvtepi32_epi64(t32), scale);
    const __m512i out =
        _mm512_add_epi64(zp, divide_half_even(numerator, _mm512_mul_pd(_mm512_cvtepi32_pd(t32), per_unit), divisor));
    _mm512_mask_cvtepi64_storeu_epi32(y + i, lanes, _mm512_min_epi64(_mm512_max_epi64(out, lo), hi));
  }
  return true;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

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

namespace {
// ROWS rows of A × one panel of 16 columns: 2·ROWS accumulators (16 at ROWS = 8), two B vectors and the
// broadcast element.
template <int ROWS>
void f64_block(const double* a, int64_t lda, int64_t k, const double* panel, int64_t width, double* c, int64_t ldc) {
  __m512d acc[ROWS][2];
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_pd();
  for (int64_t i = 0; i < k; ++i) {
    const __m512d b0 = _mm512_loadu_pd(panel + i * kF64PanelWidth),
                  b1 = _mm512_loadu_pd(panel + i * kF64PanelWidth + 8);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) {
      const __m512d x = _mm512_set1_pd(a[r * lda + i]);
      acc[r][0] = _mm512_fmadd_pd(x, b0, acc[r][0]), acc[r][1] = _mm512_fmadd_pd(x, b1, acc[r][1]);
    }
  }
  const __mmask8 m0 = width >= 8 ? 0xFF : static_cast<__mmask8>((1u << width) - 1);
  const __mmask8 m1 = width >= 16 ? 0xFF : width <= 8 ? 0 : static_cast<__mmask8>((1u << (width - 8)) - 1);
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r)
    _mm512_mask_storeu_pd(c + r * ldc, m0, acc[r][0]), _mm512_mask_storeu_pd(c + r * ldc + 8, m1, acc[r][1]);
}

template <int... R>
constexpr auto f64_blocks(std::integer_sequence<int, R...>) {
  return std::array{&f64_block<R + 1>...};
}
}  // namespace

void gemm_f64(const double* a, int64_t lda, int64_t rows, int64_t k, const double* panels, int64_t cols, double* c,
              int64_t ldc) {
  constexpr int64_t kRows = 8;
  static constexpr auto blocks = f64_blocks(std::make_integer_sequence<int, kRows>{});
  for (int64_t col = 0; col < cols; col += kF64PanelWidth) {  // the panel stays in L1 across the rows
    const double* panel = panels + col * k;
    const int64_t width = std::min(kF64PanelWidth, cols - col);
    for (int64_t r = 0; r < rows; r += kRows)
      blocks[static_cast<size_t>(std::min(kRows, rows - r) - 1)](a + r * lda, lda, k, panel, width, c + r * ldc + col,
                                                                 ldc);
  }
}

#if defined(__GNUC__) && !defined(__clang__)  // as for mulshift_channel: GCC 12's false positive in its headers
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
bool table_elements(const int32_t* x, int64_t plane, int64_t count, int32_t zero_point, const int32_t* base,
                    const double* table_values, const int32_t* table_bits, int64_t vector_stride, double* values,
                    int32_t* low, int32_t* high) {
  if ((plane + 16) * vector_stride >= INT32_MAX) return false;  // scatter indices are int32
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i stride = _mm512_set1_epi32(static_cast<int32_t>(vector_stride)), z = _mm512_set1_epi32(zero_point);
  for (int64_t pos = 0; pos < plane; pos += 16) {
    const __mmask16 m = plane - pos >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (plane - pos)) - 1);
    const __m512i b = _mm512_maskz_loadu_epi32(m, base + pos);
    const __m512i at =
        _mm512_mullo_epi32(_mm512_add_epi32(lanes, _mm512_set1_epi32(static_cast<int32_t>(pos))), stride);
    __m512i bits = _mm512_set1_epi32(INT32_MAX & ~0x8000);  // both int16 halves 0x7FFF: empty
    for (int64_t c = 0; c < count; ++c) {
      const __m512i e = _mm512_sub_epi32(_mm512_add_epi32(b, _mm512_maskz_loadu_epi32(m, x + c * plane + pos)), z);
      const __m512d v0 = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), static_cast<__mmask8>(m),
                                                  _mm512_castsi512_si256(e), table_values, 8);
      const __m512d v1 = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), static_cast<__mmask8>(m >> 8),
                                                  _mm512_extracti64x4_epi64(e, 1), table_values, 8);
      const __m512i where = _mm512_add_epi32(at, _mm512_set1_epi32(static_cast<int32_t>(c)));
      _mm512_mask_i32scatter_pd(values, static_cast<__mmask8>(m), _mm512_castsi512_si256(where), v0, 8);
      _mm512_mask_i32scatter_pd(values, static_cast<__mmask8>(m >> 8), _mm512_extracti64x4_epi64(where, 1), v1, 8);
      bits = _mm512_min_epi16(bits, _mm512_mask_i32gather_epi32(bits, m, e, table_bits, 4));
    }
    // low = the low halves' minimum, high = −(the high halves' minimum).
    const __m512i lo = _mm512_srai_epi32(_mm512_slli_epi32(bits, 16), 16);
    const __m512i hi = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_srai_epi32(bits, 16));
    _mm512_mask_storeu_epi32(low + pos, m, _mm512_min_epi32(lo, _mm512_maskz_loadu_epi32(m, low + pos)));
    _mm512_mask_storeu_epi32(high + pos, m, _mm512_max_epi32(hi, _mm512_maskz_loadu_epi32(m, high + pos)));
  }
  return true;
}

namespace {
// CH output channels at once: each tap's 8 plane values loaded once for all of them.
template <int CH>
void plane_conv_channels(const PlaneConv& g, const double* plane, const double* weights, double* sums) {
  const int64_t taps = g.kernel_h * g.kernel_w, outputs = g.out_h * g.out_w;
  for (int64_t oy = 0; oy < g.out_h; ++oy) {
    const double* row = plane + oy * g.stride_h * g.width;
    for (int64_t ox = 0; ox < g.out_w; ox += 8) {
      const __mmask8 m = g.out_w - ox >= 8 ? 0xFF : static_cast<__mmask8>((1u << (g.out_w - ox)) - 1);
      __m512d acc[CH];
#pragma GCC unroll 8
      for (int c = 0; c < CH; ++c) acc[c] = _mm512_setzero_pd();
      for (int64_t ky = 0, t = 0; ky < g.kernel_h; ++ky)
        for (int64_t kx = 0; kx < g.kernel_w; ++kx, ++t) {
          const __m512d v = _mm512_maskz_loadu_pd(m, row + ky * g.dilation_h * g.width + kx * g.dilation_w + ox);
#pragma GCC unroll 8
          for (int c = 0; c < CH; ++c) acc[c] = _mm512_fmadd_pd(_mm512_set1_pd(weights[c * taps + t]), v, acc[c]);
        }
#pragma GCC unroll 8
      for (int c = 0; c < CH; ++c) _mm512_mask_storeu_pd(sums + c * outputs + oy * g.out_w + ox, m, acc[c]);
    }
  }
}
}  // namespace

bool plane_conv(const PlaneConv& g, const double* plane, const double* weights, int64_t channels, double* sums) {
  if (g.stride_w != 1) return false;
  const int64_t taps = g.kernel_h * g.kernel_w, outputs = g.out_h * g.out_w;
  for (int64_t c = 0; c < channels;) {
    const int64_t left = channels - c;
    const int64_t step = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    (step == 8   ? plane_conv_channels<8>
     : step == 4 ? plane_conv_channels<4>
     : step == 2 ? plane_conv_channels<2>
                 : plane_conv_channels<1>)(g, plane, weights + c * taps, sums + c * outputs);
    c += step;
  }
  return true;
}

bool plane_ranges(const PlaneConv& g, const int32_t* low_plane, const int32_t* high_plane, int32_t* low,
                  int32_t* high) {
  if (g.stride_w != 1) return false;
  const __m512i none_low = _mm512_set1_epi32(INT32_MAX), none_high = _mm512_set1_epi32(INT32_MIN);
  for (int64_t oy = 0; oy < g.out_h; ++oy) {
    const int64_t first = oy * g.stride_h * g.width;
    for (int64_t ox = 0; ox < g.out_w; ox += 16) {
      const __mmask16 m = g.out_w - ox >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (g.out_w - ox)) - 1);
      __m512i lo = none_low, hi = none_high;
      for (int64_t ky = 0; ky < g.kernel_h; ++ky)
        for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
          const int64_t at = first + ky * g.dilation_h * g.width + kx * g.dilation_w + ox;
          lo = _mm512_min_epi32(lo, _mm512_mask_loadu_epi32(none_low, m, low_plane + at));
          hi = _mm512_max_epi32(hi, _mm512_mask_loadu_epi32(none_high, m, high_plane + at));
        }
      _mm512_mask_storeu_epi32(low + oy * g.out_w + ox, m, lo);
      _mm512_mask_storeu_epi32(high + oy * g.out_w + ox, m, hi);
    }
  }
  return true;
}

int64_t block_outputs(const BlockOutputs& o, const double* sums, const int32_t* low, const int32_t* high, int64_t n,
                      int32_t* y) {
  // The exactness test of each lane in int32 (bit exponents are within ±2^15), the rounding in double.
  const __m256i weight_low = _mm256_set1_epi32(o.weight_low),
                weight_high = _mm256_set1_epi32(o.weight_high + 2 + o.log2_terms);
  const __m256i bias_low = _mm256_set1_epi32(o.bias_low), bias_high = _mm256_set1_epi32(o.bias_high + 1);
  const __m256i limit = _mm256_set1_epi32(53 - 1);  // high + 1 − low <= 53
  const __m512d bias = _mm512_set1_pd(o.bias), reciprocal = _mm512_set1_pd(o.reciprocal);
  const __m512d magic = _mm512_set1_pd(0x1.8p52), half = _mm512_set1_pd(0.5), tie_margin = _mm512_set1_pd(0x1p-50);
  const __m512d largest = _mm512_set1_pd(0x1p40), zero_point = _mm512_set1_pd(static_cast<double>(o.zero_point));
  const __m512d lo = _mm512_set1_pd(static_cast<double>(o.lo)), hi = _mm512_set1_pd(static_cast<double>(o.hi));
  const __m512d sign = _mm512_set1_pd(-0.0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i a_low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(low + i));
    const __m256i a_high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(high + i));
    const __m256i l = _mm256_min_epi32(_mm256_add_epi32(a_low, weight_low), bias_low);
    const __m256i h = _mm256_max_epi32(_mm256_add_epi32(a_high, weight_high), bias_high);
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(_mm256_sub_epi32(h, l), limit)) != 0) break;
    const __m512d q = _mm512_mul_pd(_mm512_add_pd(_mm512_loadu_pd(sums + i), bias), reciprocal);
    const __m512d abs_q = _mm512_andnot_pd(sign, q);
    const __m512d rounded = _mm512_sub_pd(_mm512_add_pd(q, magic), magic);  // half even: the addition's own rounding
    const __m512d distance = _mm512_abs_pd(_mm512_sub_pd(_mm512_andnot_pd(sign, _mm512_sub_pd(q, rounded)), half));
    const __mmask8 fine = _mm512_cmp_pd_mask(abs_q, largest, _CMP_LT_OQ) &
                          _mm512_cmp_pd_mask(distance, _mm512_mul_pd(abs_q, tie_margin), _CMP_GT_OQ);
    if (fine != 0xFF) break;
    const __m512d code = _mm512_min_pd(_mm512_max_pd(_mm512_add_pd(rounded, zero_point), lo), hi);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvttpd_epi32(code));
  }
  return i;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace chipref::kernels::avx512

#else  // not x86-64: never called (cpu_supports(avx512_vnni) is false)

namespace chipref::kernels::avx512 {
void gemm_f64(const double*, int64_t, int64_t, int64_t, const double*, int64_t, double*, int64_t) {}
int64_t block_outputs(const BlockOutputs&, const double*, const int32_t*, const int32_t*, int64_t, int32_t*) {
  return 0;
}
void gemm_s16(const int16_t*, const int16_t* const*, int64_t, int64_t, int64_t, const int32_t*, int32_t*, int64_t) {}
void gemm_u8s8(const int8_t*, const uint8_t* const*, int64_t, int64_t, int64_t, const int32_t*, int32_t*, int64_t) {}
void pack_quads(const uint8_t* const*, int64_t, int64_t, uint8_t*, int64_t) {}
void transpose_columns(const uint8_t* const*, int64_t, int64_t, const int32_t*, uint8_t*, int64_t) {}
std::vector<int8_t> pack_linear_panels(const int8_t*, int64_t, int64_t) { return {}; }
void linear_u8s8(const uint8_t*, int64_t, int64_t, const int8_t*, int64_t, int64_t, int64_t, const int32_t*, int32_t*,
                 int64_t) {}
void depthwise_u8s8(const uint8_t*, int64_t, const int8_t*, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t,
                    int32_t*) {}
void offset_to_uint8(const int32_t*, int32_t, int64_t, uint8_t*) {}
void deinterleave_to_uint8(const int32_t*, int32_t, int64_t, uint8_t*, uint8_t*) {}
void offset_to_int16(const int32_t*, int32_t, int64_t, int16_t*) {}
void deinterleave_to_int16(const int32_t*, int32_t, int64_t, int16_t*, int16_t*) {}
void offset_to_uint8(const uint8_t*, int32_t, int32_t, int64_t, uint8_t*) {}
void deinterleave_to_uint8(const uint8_t*, int32_t, int32_t, int64_t, uint8_t*, uint8_t*) {}
void offset_to_int16(const uint8_t*, int32_t, int32_t, int64_t, int16_t*) {}
void deinterleave_to_int16(const uint8_t*, int32_t, int32_t, int64_t, int16_t*, int16_t*) {}
bool mulshift_channel(const Requantizer&, const RequantChannel&, int64_t, int64_t, const int32_t*, int64_t, int32_t*,
                      const RowSteps&) {
  return false;
}
bool mulshift_channel(const Requantizer&, const RequantChannel&, int64_t, int64_t, const int32_t*, int64_t, uint8_t*,
                      int32_t, const RowSteps&) {
  return false;
}
bool add_requant(const AddRequant&, const int32_t*, const int32_t*, int64_t, int32_t*) { return false; }
bool add_requant(const AddRequant&, CodesIn, CodesIn, int64_t, CodesOut) { return false; }
void layernorm_outputs(const int32_t*, int64_t, int64_t, int, const int64_t*, const int64_t*, const uint8_t*,
                       const int64_t*, int64_t, int64_t, int64_t, int32_t*) {}
bool softmax_row(const int32_t*, int64_t, int64_t, int64_t, int64_t, int64_t, const int32_t*, int64_t, int32_t*,
                 int32_t*) {
  return false;
}
bool lut_nearest(const int32_t*, int64_t, int64_t, int, int64_t, int64_t, int64_t, const int32_t*, int64_t, int32_t*) {
  return false;
}
bool mulshift_last_axis(const Requantizer&, const RequantChannel*, int64_t, int64_t, int64_t, const int32_t*, int64_t,
                        int32_t*) {
  return false;
}
}  // namespace chipref::kernels::avx512

#endif
