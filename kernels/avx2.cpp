#include "kernels/avx2.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace chipref::kernels::avx2 {

namespace {

constexpr int64_t kBlockRows = 6;

// ROWS output channels × 16 pixels. B rows k and k+1 are interleaved on the fly (unpack), which puts
// pixels {0–3, 8–11} in the first accumulator and {4–7, 12–15} in the second; the store undoes it.
template <int ROWS>
void block(const int16_t* a, const int16_t* const* b_rows, int64_t p0, int64_t kp, const int32_t* bias, int32_t* c,
           int64_t ldc) {
  // Unrolled over the rows so that the 2·ROWS accumulators stay in registers (GCC at -O2 keeps a rolled
  // loop's array on the stack): 12 accumulators, two B vectors and the broadcast weight fill 15 of AVX2's 16.
  __m256i acc[ROWS][2];
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = _mm256_set1_epi32(bias ? bias[r] : 0);
  for (int64_t k = 0; k < kp; k += 2) {
    const __m256i r0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b_rows[k] + p0));
    const __m256i r1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b_rows[k + 1] + p0));
    const __m256i lo = _mm256_unpacklo_epi16(r0, r1), hi = _mm256_unpackhi_epi16(r0, r1);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * kp + k, sizeof pair);  // A[r][k] in the low half, A[r][k+1] in the high half
      const __m256i w = _mm256_set1_epi32(pair);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(lo, w));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(hi, w));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < ROWS; ++r) {
    const __m256i first = _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x20);   // pixels 0–7
    const __m256i second = _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x31);  // pixels 8–15
    int32_t* out = c + r * ldc + p0;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), first);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), second);
  }
}

// Round-shift of 4 int64 lanes p (|p| < 2^62) right by r in [0, 62] (per lane) in `mode`. AVX2 has no 64-bit
// arithmetic shift: p + 2^62 is non-negative, so a logical shift and a subtraction give floor(p / 2^r);
// the remainder decides the rounding as in rounding_shift_right (docs/numerics.md §2.1).
struct ShiftConstants {
  __m256i offset, offset_shifted, mask, half, one, zero;
  __m256i count;  // per lane
  RoundingMode mode;
};

// The constants for right shifts r[0..3] in [0, 62], one per lane (r = 0: no shift, no rounding; `half`
// is then 1 so that the zero remainder is neither above nor a tie).
ShiftConstants shift_constants(const int (&r)[4], RoundingMode mode) {
  const int64_t offset = int64_t{1} << 62;
  auto lanes = [&](auto f) { return _mm256_setr_epi64x(f(r[0]), f(r[1]), f(r[2]), f(r[3])); };
  return ShiftConstants{_mm256_set1_epi64x(offset),
                        lanes([&](int s) { return offset >> s; }),
                        lanes([](int s) { return (int64_t{1} << s) - 1; }),
                        lanes([](int s) { return s > 0 ? int64_t{1} << (s - 1) : int64_t{1}; }),
                        _mm256_set1_epi64x(1),
                        _mm256_setzero_si256(),
                        lanes([](int s) { return int64_t{s}; }),
                        mode};
}
ShiftConstants shift_constants(int r, RoundingMode mode) { return shift_constants({r, r, r, r}, mode); }

inline __attribute__((always_inline)) __m256i round_shift(__m256i p, const ShiftConstants& k) {
  const __m256i biased = _mm256_add_epi64(p, k.offset);
  const __m256i q = _mm256_sub_epi64(_mm256_srlv_epi64(biased, k.count), k.offset_shifted);
  const __m256i rem = _mm256_and_si256(biased, k.mask);
  const __m256i above = _mm256_cmpgt_epi64(rem, k.half), tie = _mm256_cmpeq_epi64(rem, k.half);
  __m256i up = _mm256_setzero_si256();  // all-ones where q must go up by one
  switch (k.mode) {
    case RoundingMode::half_even:
      up = _mm256_or_si256(above, _mm256_and_si256(tie, _mm256_cmpeq_epi64(_mm256_and_si256(q, k.one), k.one)));
      break;
    case RoundingMode::half_away:
      up = _mm256_or_si256(above, _mm256_andnot_si256(_mm256_cmpgt_epi64(k.zero, p), tie));
      break;
    case RoundingMode::half_up:
      up = _mm256_or_si256(above, tie);
      break;
    case RoundingMode::floor:
      break;
    case RoundingMode::toward_zero:
      up = _mm256_andnot_si256(_mm256_cmpeq_epi64(rem, k.zero), _mm256_cmpgt_epi64(k.zero, p));
      break;
  }
  return _mm256_sub_epi64(q, up);
}

// R(x · S) for 8 int32 lanes, as two vectors of 4 int64: lanes 0,2,4,6 and lanes 1,3,5,7.
struct Scaled {
  __m256i even, odd;
};

class SingleScaler {
 public:
  SingleScaler(const Requantizer& rq, const RequantChannel& ch)
      : right_(ch.fixed.bits - ch.fixed.shift),
        multiplier_(_mm256_set1_epi32(ch.fixed.multiplier)),
        k_(right_ > 0 && right_ <= 62 ? shift_constants(right_, rq.rounding()) : ShiftConstants{}) {}
  bool ok() const { return right_ >= 0 && right_ <= 62; }
  __attribute__((always_inline)) Scaled operator()(__m256i x) const {
    Scaled s{_mm256_mul_epi32(x, multiplier_),
             _mm256_mul_epi32(_mm256_srli_epi64(x, 32), multiplier_)};  // |x·M| < 2^62
    if (right_ > 0) s.even = round_shift(s.even, k_), s.odd = round_shift(s.odd, k_);
    return s;
  }

 private:
  int right_;
  __m256i multiplier_;
  ShiftConstants k_;
};

// zp + s clamped to [lo, hi] (which lies inside the output format), packed back to 8 int32 lanes.
inline __attribute__((always_inline)) __m256i clamp_pack(Scaled s, __m256i zp, __m256i lo, __m256i hi) {
  auto clamp = [&](__m256i v) {
    v = _mm256_add_epi64(v, zp);
    v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
    return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
  };
  return _mm256_blend_epi32(clamp(s.even), _mm256_slli_epi64(clamp(s.odd), 32), 0xAA);
}

// R(x · S_c) for 8 consecutive channels c, one per int32 lane (the `single` flavour): the multipliers and
// right shifts vary by lane. ok() is false if a channel shifts left (a scale >= 1 at its width).
class ChannelScaler {
 public:
  ChannelScaler(const Requantizer& rq, const RequantChannel* ch) {
    int32_t m[8];
    int even[4], odd[4];
    for (int l = 0; l < 8; ++l) {
      const int right = ch[l].fixed.bits - ch[l].fixed.shift;
      ok_ = ok_ && right >= 0 && right <= 62;
      m[l] = ch[l].fixed.multiplier;
      // (an if, not a conditional array: GCC 12's sanitizer build misreads the latter as uninitialised)
      if (l % 2)
        odd[l / 2] = std::clamp(right, 0, 62);
      else
        even[l / 2] = std::clamp(right, 0, 62);
    }
    multipliers_ = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m));
    even_ = shift_constants(even, rq.rounding()), odd_ = shift_constants(odd, rq.rounding());
  }
  bool ok() const { return ok_; }
  __attribute__((always_inline)) Scaled operator()(__m256i x) const {
    const Scaled s{_mm256_mul_epi32(x, multipliers_),  // |x·M| < 2^62
                   _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(multipliers_, 32))};
    return Scaled{round_shift(s.even, even_), round_shift(s.odd, odd_)};
  }

 private:
  bool ok_ = true;
  __m256i multipliers_;
  ShiftConstants even_, odd_;
};

// The float32 flavour: fl(fl(x) · s), clamped to [lo − zp, hi − zp] in float (integer bounds: clamping
// before or after rounding gives the same integer), rounded half to even by the conversion (MXCSR's
// default), plus zp.
inline __attribute__((always_inline)) __m256i float32_lanes(__m256i x, __m256 scale, __m256 lo, __m256 hi, __m256i zp) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(x), scale);
  v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
}

}  // namespace

void depthwise_s16(const int16_t* a, const int16_t* const* b_rows, int64_t kp, int32_t bias, int64_t rows,
                   int64_t row_w, int64_t cols, int32_t* out) {
  for (int64_t oy = 0; oy < rows; ++oy)
    for (int64_t ox = 0; ox < cols; ox += 16) {
      const int64_t p = oy * row_w + ox;
      __m256i acc0 = _mm256_set1_epi32(bias), acc1 = acc0;
      for (int64_t k = 0; k < kp; k += 2) {
        const __m256i r0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b_rows[k] + p));
        const __m256i r1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b_rows[k + 1] + p));
        int32_t pair;
        std::memcpy(&pair, a + k, sizeof pair);  // a[k] in the low half, a[k + 1] in the high half
        const __m256i w = _mm256_set1_epi32(pair);
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(r0, r1), w));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(r0, r1), w));
      }
      // as in block(): acc0 holds pixels {0–3, 8–11}, acc1 {4–7, 12–15}
      const __m256i first = _mm256_permute2x128_si256(acc0, acc1, 0x20),
                    second = _mm256_permute2x128_si256(acc0, acc1, 0x31);
      int32_t* dst = out + oy * cols + ox;
      if (ox + 16 <= cols) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), first);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8), second);
      } else {  // the row's last pixels, masked (a copy through memory cost 5 % of a run on 14- and 28-wide rows)
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i left = _mm256_set1_epi32(static_cast<int32_t>(cols - ox));
        _mm256_maskstore_epi32(dst, _mm256_cmpgt_epi32(left, lane), first);
        _mm256_maskstore_epi32(dst + 8, _mm256_cmpgt_epi32(_mm256_sub_epi32(left, _mm256_set1_epi32(8)), lane), second);
      }
    }
}

void offset_to_uint8(const int32_t* src, int32_t base, int64_t n, uint8_t* dst) {
  const __m256i b = _mm256_set1_epi32(base);
  // the two packs work within 128-bit lanes: dword d of the result holds v[d % 4]'s elements 4·(d / 4)..+3,
  // and this permutation puts them back in order
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto load = [&](int64_t i) {
    return _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)), b);
  };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i words01 = _mm256_packs_epi32(load(i), load(i + 8)),
                  words23 = _mm256_packs_epi32(load(i + 16), load(i + 24));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_permutevar8x32_epi32(_mm256_packus_epi16(words01, words23), order));
  }
  for (; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i] - base);
}

void offset_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* dst) {
  const __m256i zp_v = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 8));
    // packs interleaves 128-bit lanes (a0 b0 a1 b1); the permute puts them back in order
    const __m256i packed = _mm256_packs_epi32(_mm256_sub_epi32(a, zp_v), _mm256_sub_epi32(b, zp_v));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_permute4x64_epi64(packed, 0xD8));
  }
  for (; i < n; ++i) dst[i] = static_cast<int16_t>(src[i] - zp);
}

void deinterleave_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* even, int16_t* odd) {
  const __m256i zp_v = _mm256_set1_epi32(zp);
  const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // evens to the low half, odds to the high half
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)), split);
    const __m256i b =
        _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 8)), split);
    const __m256i evens = _mm256_sub_epi32(_mm256_permute2x128_si256(a, b, 0x20), zp_v);
    const __m256i odds = _mm256_sub_epi32(_mm256_permute2x128_si256(a, b, 0x31), zp_v);
    // packs gives (e0..3 o0..3 | e4..7 o4..7) as int16; the permute gathers e0..7 in the low 128 bits, o0..7 in the
    // high
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(evens, odds), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(even + i / 2), _mm256_castsi256_si128(packed));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(odd + i / 2), _mm256_extracti128_si256(packed, 1));
  }
  for (; i + 1 < n; i += 2) {
    even[i / 2] = static_cast<int16_t>(src[i] - zp);
    odd[i / 2] = static_cast<int16_t>(src[i + 1] - zp);
  }
  if (i < n) even[i / 2] = static_cast<int16_t>(src[i] - zp);
}

void min_max(const int32_t* x, int64_t n, int32_t& lo, int32_t& hi) {
  __m256i vlo = _mm256_set1_epi32(x[0]), vhi = vlo;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    vlo = _mm256_min_epi32(vlo, v), vhi = _mm256_max_epi32(vhi, v);
  }
  alignas(32) int32_t l[8], h[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(l), vlo);
  _mm256_store_si256(reinterpret_cast<__m256i*>(h), vhi);
  lo = *std::min_element(l, l + 8), hi = *std::max_element(h, h + 8);
  for (; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
}

void gemm_s16(const int16_t* a, const int16_t* const* b_rows, int64_t rows, int64_t kp, int64_t np, const int32_t* bias,
              int32_t* c, int64_t ldc) {
  for (int64_t p0 = 0; p0 < np; p0 += 16)  // the 16-column panel of B stays in L1 across the row blocks
    for (int64_t m = 0; m < rows; m += kBlockRows) {
      const int32_t* bm = bias ? bias + m : nullptr;
      const int16_t* am = a + m * kp;
      int32_t* cm = c + m * ldc;
      switch (std::min<int64_t>(kBlockRows, rows - m)) {
        case 6:
          block<6>(am, b_rows, p0, kp, bm, cm, ldc);
          break;
        case 5:
          block<5>(am, b_rows, p0, kp, bm, cm, ldc);
          break;
        case 4:
          block<4>(am, b_rows, p0, kp, bm, cm, ldc);
          break;
        case 3:
          block<3>(am, b_rows, p0, kp, bm, cm, ldc);
          break;
        case 2:
          block<2>(am, b_rows, p0, kp, bm, cm, ldc);
          break;
        default:
          block<1>(am, b_rows, p0, kp, bm, cm, ldc);
          break;
      }
    }
}

bool mulshift_channel(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                      int64_t n, int32_t* y) {
  const int64_t zp = rq.zero_point();
  lo = std::max(lo, rq.output_format().min()), hi = std::min(hi, rq.output_format().max());
  const int64_t vec_end = n / 8 * 8;
  if (rq.flavour() == RequantFlavour::float32) {
    const __m256 scale = _mm256_set1_ps(ch.scale_f32);
    const __m256 lo_f = _mm256_set1_ps(static_cast<float>(lo - zp)), hi_f = _mm256_set1_ps(static_cast<float>(hi - zp));
    const __m256i zp_v = _mm256_set1_epi32(static_cast<int32_t>(zp));
    for (int64_t i = 0; i < vec_end; i += 8)
      _mm256_storeu_si256(
          reinterpret_cast<__m256i*>(y + i),
          float32_lanes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), scale, lo_f, hi_f, zp_v));
  } else {
    if (rq.flavour() != RequantFlavour::single) return false;
    const SingleScaler scaler(rq, ch);
    if (!scaler.ok()) return false;
    const __m256i zp_v = _mm256_set1_epi64x(zp), lo_v = _mm256_set1_epi64x(lo), hi_v = _mm256_set1_epi64x(hi);
    for (int64_t i = 0; i < vec_end; i += 8)
      _mm256_storeu_si256(
          reinterpret_cast<__m256i*>(y + i),
          clamp_pack(scaler(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))), zp_v, lo_v, hi_v));
  }
  for (int64_t i = vec_end; i < n; ++i) y[i] = static_cast<int32_t>(std::clamp(rq.apply(x[i], ch), lo, hi));
  return true;
}

bool mulshift_last_axis(const Requantizer& rq, const RequantChannel* ch, int64_t channels, int64_t lo, int64_t hi,
                        const int32_t* x, int64_t outer, int32_t* y) {
  const int64_t zp = rq.zero_point();
  lo = std::max(lo, rq.output_format().min()), hi = std::min(hi, rq.output_format().max());
  const int64_t groups = channels / 8;
  if (rq.flavour() == RequantFlavour::float32) {
    std::vector<float> scales(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) scales[c] = ch[c].scale_f32;
    const __m256 lo_f = _mm256_set1_ps(static_cast<float>(lo - zp)), hi_f = _mm256_set1_ps(static_cast<float>(hi - zp));
    const __m256i zp_v = _mm256_set1_epi32(static_cast<int32_t>(zp));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t i = o * channels + g * 8;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                            float32_lanes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)),
                                          _mm256_loadu_ps(scales.data() + g * 8), lo_f, hi_f, zp_v));
      }
  } else {
    if (rq.flavour() != RequantFlavour::single) return false;
    std::vector<ChannelScaler> scalers;
    scalers.reserve(static_cast<size_t>(groups));
    for (int64_t g = 0; g < groups; ++g) {
      scalers.emplace_back(rq, ch + g * 8);
      if (!scalers.back().ok()) return false;
    }
    for (int64_t c = groups * 8; c < channels; ++c)  // the scalar tail must not shift left either
      if (ch[c].fixed.bits - ch[c].fixed.shift < 0) return false;
    const __m256i zp_v = _mm256_set1_epi64x(zp), lo_v = _mm256_set1_epi64x(lo), hi_v = _mm256_set1_epi64x(hi);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t i = o * channels + g * 8;
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(y + i),
            clamp_pack(scalers[g](_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))), zp_v, lo_v, hi_v));
      }
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = groups * 8; c < channels; ++c)
      y[o * channels + c] = static_cast<int32_t>(std::clamp(rq.apply(x[o * channels + c], ch[c]), lo, hi));
  return true;
}

int64_t quantize_floats(const FloatQuantize& p, const float* x, int64_t n, int32_t* y) {
  // Clamping the quotient to [lo − zp − 1, hi − zp + 1] before rounding changes no code (rounding is monotone
  // and those bounds are integers that already saturate), and keeps the rounded value exact in int32 lanes.
  // The bounds must be exact floats: integers below 2^24.
  const int64_t below = p.lo - p.zero_point - 1, above = p.hi - p.zero_point + 1;
  constexpr int64_t kExact = int64_t{1} << 24;
  if (std::max({std::abs(below), std::abs(above), std::abs(p.zero_point), std::abs(p.lo), std::abs(p.hi)}) >= kExact)
    return 0;
  const __m256 scale = _mm256_set1_ps(p.scale), below_v = _mm256_set1_ps(static_cast<float>(below)),
               above_v = _mm256_set1_ps(static_cast<float>(above));
  const __m256 largest_finite = _mm256_set1_ps(std::numeric_limits<float>::max());
  const __m256 magnitude_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i zp = _mm256_set1_epi32(static_cast<int32_t>(p.zero_point)),
                lo = _mm256_set1_epi32(static_cast<int32_t>(p.lo)), hi = _mm256_set1_epi32(static_cast<int32_t>(p.hi));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // |v| <= FLT_MAX is false for infinities and (ordered compare) NaN
    if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, magnitude_mask), largest_finite, _CMP_LE_OQ)) != 0xff) break;
    const __m256 q = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v, scale), below_v), above_v);
    const __m256i r = _mm256_cvtps_epi32(_mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(r, zp), lo), hi));
  }
  return i;
}

bool add_requant(const AddRequant& p, const int32_t* a, const int32_t* b, int64_t n, int32_t* y) {
  const Requantizer& rq = p.requantizer;
  const int64_t lo = std::max(p.clamp_lo, rq.output_format().min()),
                hi = std::min(p.clamp_hi, rq.output_format().max());
  const __m256i zpa = _mm256_set1_epi32(p.zero_point_a), zpb = _mm256_set1_epi32(p.zero_point_b);
  const int64_t vec_end = n / 8 * 8;
  if (rq.flavour() == RequantFlavour::float32) {
    // Each input's R(x·S) is round_half_even(fl(fl(x)·S)); converted in int32 lanes, which holds it when
    // |x| < 2^17 (codes of at most 16 bits) and S < 2^13, so that |x·S| < 2^30 and the sum fits too.
    if (!(p.scale_a.scale_f32 < 8192.0f) || !(p.scale_b.scale_f32 < 8192.0f) || rq.output_format().bits() > 16)
      return false;
    for (int64_t i = 0; i < n; ++i)
      if (std::abs(int64_t{a[i]} - p.zero_point_a) >= (1 << 17) ||
          std::abs(int64_t{b[i]} - p.zero_point_b) >= (1 << 17))
        return false;
    const __m256 sa = _mm256_set1_ps(p.scale_a.scale_f32), sb = _mm256_set1_ps(p.scale_b.scale_f32);
    const __m256i zp = _mm256_set1_epi32(static_cast<int32_t>(rq.zero_point()));
    const __m256i lo_v = _mm256_set1_epi32(static_cast<int32_t>(lo)),
                  hi_v = _mm256_set1_epi32(static_cast<int32_t>(hi));
    for (int64_t i = 0; i < vec_end; i += 8) {
      const __m256i xa = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)), zpa);
      const __m256i xb = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)), zpb);
      const __m256i ra = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(xa), sa));
      const __m256i rb = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(xb), sb));
      const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(ra, rb), zp);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_min_epi32(_mm256_max_epi32(sum, lo_v), hi_v));
    }
  } else {
    if (rq.flavour() != RequantFlavour::single) return false;
    const SingleScaler sa(rq, p.scale_a), sb(rq, p.scale_b);
    if (!sa.ok() || !sb.ok()) return false;
    const __m256i zp_v = _mm256_set1_epi64x(rq.zero_point()), lo_v = _mm256_set1_epi64x(lo),
                  hi_v = _mm256_set1_epi64x(hi);
    for (int64_t i = 0; i < vec_end; i += 8) {
      // (a − zp_a) fits int32 for every format of at most 31 bits, as in the scalar kernel
      const Scaled ra = sa(_mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)), zpa));
      const Scaled rb = sb(_mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)), zpb));
      _mm256_storeu_si256(
          reinterpret_cast<__m256i*>(y + i),
          clamp_pack(Scaled{_mm256_add_epi64(ra.even, rb.even), _mm256_add_epi64(ra.odd, rb.odd)}, zp_v, lo_v, hi_v));
    }
  }
  for (int64_t i = vec_end; i < n; ++i) {
    const int64_t sum = rq.zero_point() + rq.scale_only(a[i] - p.zero_point_a, p.scale_a) +
                        rq.scale_only(b[i] - p.zero_point_b, p.scale_b);
    y[i] = static_cast<int32_t>(std::clamp(rq.output_format().saturate(sum), p.clamp_lo, p.clamp_hi));
  }
  return true;
}

namespace {
// ROWS rows of A × 8 columns of a panel (half of it): 2·ROWS accumulators (12 at ROWS = 6).
template <int ROWS>
__attribute__((target("avx2,fma"))) void f64_block(const double* a, int64_t lda, int64_t k, const double* panel,
                                                   int64_t width, double* c, int64_t ldc) {
  __m256d acc[ROWS][2];
#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_pd();
  for (int64_t i = 0; i < k; ++i) {
    const __m256d b0 = _mm256_loadu_pd(panel + i * kF64PanelWidth),
                  b1 = _mm256_loadu_pd(panel + i * kF64PanelWidth + 4);
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      const __m256d x = _mm256_broadcast_sd(a + r * lda + i);
      acc[r][0] = _mm256_fmadd_pd(x, b0, acc[r][0]), acc[r][1] = _mm256_fmadd_pd(x, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) {
    alignas(32) double row[8];
    _mm256_store_pd(row, acc[r][0]), _mm256_store_pd(row + 4, acc[r][1]);
    std::copy_n(row, std::min<int64_t>(width, 8), c + r * ldc);
  }
}

template <int... R>
constexpr auto f64_blocks(std::integer_sequence<int, R...>) {
  return std::array{&f64_block<R + 1>...};
}
}  // namespace

bool supports_fma() { return __builtin_cpu_supports("fma"); }

void gemm_f64(const double* a, int64_t lda, int64_t rows, int64_t k, const double* panels, int64_t cols, double* c,
              int64_t ldc) {
  constexpr int64_t kRows = 6;
  static constexpr auto blocks = f64_blocks(std::make_integer_sequence<int, kRows>{});
  for (int64_t col = 0; col < cols; col += 8) {
    const double* panel = panels + (col / kF64PanelWidth) * kF64PanelWidth * k + col % kF64PanelWidth;
    const int64_t width = std::min<int64_t>(8, cols - col);
    for (int64_t r = 0; r < rows; r += kRows)
      blocks[static_cast<size_t>(std::min(kRows, rows - r) - 1)](a + r * lda, lda, k, panel, width, c + r * ldc + col,
                                                                 ldc);
  }
}

}  // namespace chipref::kernels::avx2

#else  // not x86-64: never called (cpu_supports(avx2) is false)

namespace chipref::kernels::avx2 {
bool supports_fma() { return false; }
void gemm_f64(const double*, int64_t, int64_t, int64_t, const double*, int64_t, double*, int64_t) {}
void offset_to_int16(const int32_t*, int32_t, int64_t, int16_t*) {}
void deinterleave_to_int16(const int32_t*, int32_t, int64_t, int16_t*, int16_t*) {}
void min_max(const int32_t*, int64_t, int32_t&, int32_t&) {}
void gemm_s16(const int16_t*, const int16_t* const*, int64_t, int64_t, int64_t, const int32_t*, int32_t*, int64_t) {}
bool mulshift_channel(const Requantizer&, const RequantChannel&, int64_t, int64_t, const int32_t*, int64_t, int32_t*) {
  return false;
}
bool add_requant(const AddRequant&, const int32_t*, const int32_t*, int64_t, int32_t*) { return false; }
int64_t quantize_floats(const FloatQuantize&, const float*, int64_t, int32_t*) { return 0; }
void offset_to_uint8(const int32_t*, int32_t, int64_t, uint8_t*) {}
void depthwise_s16(const int16_t*, const int16_t* const*, int64_t, int32_t, int64_t, int64_t, int64_t, int32_t*) {}
bool mulshift_last_axis(const Requantizer&, const RequantChannel*, int64_t, int64_t, int64_t, const int32_t*, int64_t,
                        int32_t*) {
  return false;
}
}  // namespace chipref::kernels::avx2

#endif
