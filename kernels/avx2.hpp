#pragma once
// AVX2 implementations of the hot kernels, for SimdLevel::avx2 (kernels/simd.hpp). Internal to
// kernels/: callers decide when these compute exactly what the spec path computes (see mac.cpp,
// requant.cpp); every function here is cross-checked against that path in tests/sim/test_simd.cpp.
// Compiled with -mavx2 in a file of its own; call only when cpu_supports(SimdLevel::avx2).

#include <cstdint>

#include "kernels/gemm_f64.hpp"
#include "kernels/quantize.hpp"
#include "kernels/requant.hpp"

namespace chipref::kernels::avx2 {

// C[m][p] = bias[m] + Σ_k A[m][k] · B_k[p] for m < rows, p < np, in int32 lanes with vpmaddwd (pairs of
// int16 products summed exactly in int32). A is [rows][kp] int16, kp even, zero beyond the real K; B_k is
// b_rows[k], np readable int16 values each (np a multiple of 16; rows past the real K point at zeros).
// C has row stride ldc >= np. Exact when every partial sum, in any order, fits int32 and no pair is
// (−2^15)·(−2^15) twice: the caller proves both. bias may be null.
void gemm_s16(const int16_t* a, const int16_t* const* b_rows, int64_t rows, int64_t kp, int64_t np, const int32_t* bias,
              int32_t* c, int64_t ldc);

// One output channel of a group with a single channel (depthwise): out[oy][ox] = bias + Σ_k a[k]·B_k[oy·row_w + ox]
// for oy < rows, ox < cols, in gemm_s16's int32 pair sums (the same exactness argument: the caller proves
// every partial sum fits int32). a holds kp int16 weights (kp even, zero beyond the real K); each B_k is
// readable for rows·row_w + 16 values past any ox < cols. out is [rows][cols].
void depthwise_s16(const int16_t* a, const int16_t* const* b_rows, int64_t kp, int32_t bias, int64_t rows,
                   int64_t row_w, int64_t cols, int32_t* out);

// avx512::gemm_f64's contract with AVX2 fused multiply-adds; call only when supports_fma() as well.
void gemm_f64(const double* a, int64_t lda, int64_t rows, int64_t k, const double* panels, int64_t cols, double* c,
              int64_t ldc);
bool supports_fma();

// dst[i] = src[i] − zp as int16; the caller proves that every value fits.
void offset_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* dst);

// dst[i] = src[i] − base as a byte; the caller proves that every value lies in [0, 255].
void offset_to_uint8(const int32_t* src, int32_t base, int64_t n, uint8_t* dst);

// even[i] = src[2i] − zp and odd[i] = src[2i + 1] − zp as int16, for the n values of src (stride-2
// convolutions split each input row into its two column phases).
void deinterleave_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* even, int16_t* odd);

// The smallest and largest of n int32 values (n >= 1).
void min_max(const int32_t* x, int64_t n, int32_t& lo, int32_t& hi);

// y[i] = clamp(sat_out(zp + R(x[i] · S)), lo, hi) for one channel, 8 lanes at a time; the same integers
// as Requantizer::apply. Returns false (and writes nothing) where there is no vector form: the gemmlowp
// flavour, and `single` with a left shift (scale >= 2^bits / 2^bits, i.e. bits − shift < 0).
bool mulshift_channel(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                      int64_t n, int32_t* y);

// mulshift of an [outer, channels] tensor with one channel per element of the last axis (a matrix
// product's output), 8 channels per vector with their own multipliers and shifts; the same integers as
// Requantizer::apply. False (writing nothing) for gemmlowp and for a `single` channel that shifts left.
bool mulshift_last_axis(const Requantizer& rq, const RequantChannel* ch, int64_t channels, int64_t lo, int64_t hi,
                        const int32_t* x, int64_t outer, int32_t* y);

// add_requant over n elements, 8 lanes at a time; false (writing nothing) for gemmlowp, a `single` left
// shift, and a `float` add whose terms could leave int32 lanes (a scale >= 2^13, codes wider than 16 bits).
bool add_requant(const AddRequant& p, const int32_t* a, const int32_t* b, int64_t n, int32_t* y);

// quantize_floats, 8 lanes at a time, from the start of x: returns how many leading elements it wrote (it
// stops before the first group of 8 holding a non-finite value, and at the last whole group); 0 when the
// format's range does not fit float32's exact integers.
int64_t quantize_floats(const FloatQuantize& p, const float* x, int64_t n, int32_t* y);

}  // namespace chipref::kernels::avx2
