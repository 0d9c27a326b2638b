#pragma once
// The AVX-512 kernels of SimdLevel::avx512_vnni (kernels/simd.hpp): the int16 and u8 × s8 GEMMs, MulShift,
// and the division loops of LayerNorm and softmax. Internal to kernels/, like avx2.hpp; cross-checked against
// the spec path in tests/sim/test_simd.cpp. Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq
// -mavx512vnni in a file of its own; call only when cpu_supports(SimdLevel::avx512_vnni).

#include <cstdint>
#include <vector>

#include "kernels/gemm_f64.hpp"
#include "kernels/requant.hpp"
#include "numerics/requant.hpp"

namespace chipref::kernels::avx512 {

// avx2::mulshift_channel's contract (the `single` flavour only), 16 lanes at a time with AVX-512's 64-bit
// arithmetic shift and mask compares: y[i] = clamp(sat_out(zp + R(x[i]·S)), lo, hi), the integers of
// Requantizer::apply. False (writing nothing) for another flavour or a left shift. `rows`: the same for each of
// rows.count rows of n elements (kernels::RowSteps).
bool mulshift_channel(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                      int64_t n, int32_t* y, const RowSteps& rows = {});
// The same codes stored as bytes y[i] = code − base ([lo, hi] lies within [base, base + 255]).
bool mulshift_channel(const Requantizer& rq, const RequantChannel& ch, int64_t lo, int64_t hi, const int32_t* x,
                      int64_t n, uint8_t* y, int32_t base, const RowSteps& rows = {});

// avx2::add_requant's contract for the `single` flavour (false, writing nothing, for another flavour, a Sub or
// a left shift), 16 lanes at a time with each input's rounding as in mulshift_channel.
bool add_requant(const AddRequant& p, const int32_t* a, const int32_t* b, int64_t n, int32_t* y);
// The same with either operand or the output in bytes (kernels::add_requant's form).
bool add_requant(const AddRequant& p, CodesIn a, CodesIn b, int64_t n, CodesOut y);

// avx2::mulshift_last_axis's contract (the `single` flavour, right shifts 1..62; false otherwise), 8 channels
// a step, each lane's rounding as in mulshift_channel.
bool mulshift_last_axis(const Requantizer& rq, const RequantChannel* ch, int64_t channels, int64_t lo, int64_t hi,
                        const int32_t* x, int64_t outer, int32_t* y);

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
// gemm_u8s8's B operand (and the AMX GEMM's B tiles) for one 16-column panel from column p0: for each group of
// four reduction rows, the 16 columns × their 4 bytes (64 bytes, column order; `stride` bytes apart from one
// group to the next), so that a kernel loads one vector, or one tile row, per group and panel.
void pack_quads(const uint8_t* const* b_rows, int64_t p0, int64_t kq, uint8_t* out, int64_t stride);

// B's columns as rows: for each column q < np with rows_of_columns[q] >= 0, the k16 bytes b_rows[k][q] (k < k16, a
// multiple of 16) into a + rows_of_columns[q]·lda, by 16 × 16 byte transposes. Every row readable np bytes.
void transpose_columns(const uint8_t* const* b_rows, int64_t k16, int64_t np, const int32_t* rows_of_columns,
                       uint8_t* a, int64_t lda);

// A linear layer's int8 weights [m][kq] (kq a multiple of 4) in the layout linear_u8s8 reads: panels of 16
// output channels, each the groups of four reduction columns in turn, 64 bytes a group (channel-major within
// it); channels past m are zero. ceil(m / 16) · 16 · kq bytes.
std::vector<int8_t> pack_linear_panels(const int8_t* w, int64_t m, int64_t kq);
// C[r][o] = bias[o] + Σ_k A[r][k] · W[o][k] for r < rows, o in [o0, o1) (o0 a multiple of 16), A uint8 rows of
// `lda` bytes (kq readable, whatever lies past the real K meets zero weights), W packed by pack_linear_panels,
// C row-major with stride ldc: the activations as they lie and the outputs in their own layout, lanes over
// output channels (vpdpbusd of a broadcast quad of A and a 16-channel panel). Exact under gemm_u8s8's
// conditions. bias: one per output channel.
void linear_u8s8(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t kq, int64_t o0, int64_t o1,
                 const int32_t* bias, int32_t* c, int64_t ldc);

// One depthwise output channel (one input channel, one output channel) on vpdpbusd, from its input as a padded
// plane of bytes (x − base, the padding zp − base, as gemm_u8s8's operand) with row pitch `pitch`:
//   out[q] = bias + Σ_{ky < kh, kx < kw} w[ky·kw + kx] · plane[stride·q + ky·dilation_h·pitch + kx]
// for q < q_count, q = oy·pitch + ox: output (oy, ox) for ox < out_w lies at q (the other q are computed from
// whatever lies there and dropped). stride 1 or 2 in both directions, no width dilation. Each tap quad of a
// kernel row is one vpdpbusd (taps past kw meet zero weights), four byte-shifted loads cover 64 consecutive q
// (two, 32, at stride 2), and a transpose puts them in order. Exact under gemm_u8s8's conditions (every sum
// provably in range). `out` holds q_count rounded up to 64; `plane` is readable up to
// stride·(that) + (kh − 1)·dilation_h·pitch + kw + 68 bytes.
void depthwise_u8s8(const uint8_t* plane, int64_t pitch, const int8_t* w, int64_t kh, int64_t kw, int64_t stride,
                    int64_t dilation_h, int32_t bias, int64_t q_count, int32_t* out);

// avx2::offset_to_uint8's contract, 16 values a step with the last step masked (rows as short as a 7-wide
// feature map stay on vectors).
void offset_to_uint8(const int32_t* src, int32_t base, int64_t n, uint8_t* dst);
// even[i] = src[2i] − base and odd[i] = src[2i + 1] − base as bytes, for the n values of src (a stride-2
// convolution's two column phases); the caller proves that every value lies in [0, 255].
void deinterleave_to_uint8(const int32_t* src, int32_t base, int64_t n, uint8_t* even, uint8_t* odd);
// avx2::offset_to_int16's and avx2::deinterleave_to_int16's contracts, the same way.
void offset_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* dst);
void deinterleave_to_int16(const int32_t* src, int32_t zp, int64_t n, int16_t* even, int16_t* odd);
// The four above from codes stored as bytes (CodesIn: code = src[i] + base): dst[i] = src[i] + base − offset.
void offset_to_uint8(const uint8_t* src, int32_t base, int32_t offset, int64_t n, uint8_t* dst);
void deinterleave_to_uint8(const uint8_t* src, int32_t base, int32_t offset, int64_t n, uint8_t* even, uint8_t* odd);
void offset_to_int16(const uint8_t* src, int32_t base, int32_t offset, int64_t n, int16_t* dst);
void deinterleave_to_int16(const uint8_t* src, int32_t base, int32_t offset, int64_t n, int16_t* even, int16_t* odd);

// C[r][j] = Σ_i A[r·lda + i] · B[j][i] for r < rows, j < cols (C row-major with stride ldc), with B packed by
// pack_f64_panels (kernels/gemm_f64.hpp) and one fused multiply-add per product. Exact whenever every partial
// sum, in any order, is a double (then each fused step is): the caller proves that.
void gemm_f64(const double* a, int64_t lda, int64_t rows, int64_t k, const double* panels, int64_t cols, double* c,
              int64_t ldc);

// One output channel of the block MAC's fast form (kernels/block_mac.cpp, docs/numerics.md §15 "Speed"): its
// weights' and bias's bit ranges, the number of terms as a power of two, the bias, the double nearest 1 / s_y,
// and the output's zero point and range.
struct BlockOutputs {
  int32_t weight_low = 0, weight_high = 0, bias_low = 0, bias_high = 0, log2_terms = 0;
  double bias = 0, reciprocal = 0;
  int64_t zero_point = 0, lo = 0, hi = 0;
};
// The codes of outputs i < n from their sums (bias not included) and their input rows' bit ranges, 8 at a
// time, as block_mac.cpp's scalar fast_output computes them: y = clamp(round_half_even((s + bias) · reciprocal)
// + zero_point, lo, hi) where the sum is provably exact in double and the quotient provably away from a tie
// and below 2^40. Stops before the first 8 holding an output that is not; returns how many it wrote.
int64_t block_outputs(const BlockOutputs& o, const double* sums, const int32_t* low, const int32_t* high, int64_t n,
                      int32_t* y);

// One block of a convolution's input through block_mac.cpp's conversion table, 16 positions at a time: for
// c < count and pos < plane, e = base[pos] + x[c · plane + pos] − zero_point (the caller proves it indexes the
// table), values[pos · vector_stride + c] = table_values[e], low[pos] = min(low[pos], L) and high[pos] =
// max(high[pos], H) with table_bits[e] holding L and −H as int16 halves. False, doing nothing, if the values'
// indices would pass int32.
bool table_elements(const int32_t* x, int64_t plane, int64_t count, int32_t zero_point, const int32_t* base,
                    const double* table_values, const int32_t* table_bits, int64_t vector_stride, double* values,
                    int32_t* low, int32_t* high);

// A convolution over one zero-padded plane of width `width` (block_mac.cpp's one-channel-per-group layers).
struct PlaneConv {
  int64_t width = 0, out_h = 0, out_w = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
};
// For each output channel c < channels: sums[c · out_h · out_w + oy · out_w + ox] = Σ_taps weights[c · taps + ky ·
// kernel_w + kx] · plane[(oy · stride_h + ky · dilation_h) · width + ox + kx · dilation_w], fused multiply-adds
// in tap order, 8 outputs of up to 8 channels at a time: exact when every partial sum is a double (the caller
// proves that). False, doing nothing, if stride_w is not 1.
bool plane_conv(const PlaneConv& g, const double* plane, const double* weights, int64_t channels, double* sums);
// low / high of each output: the min / max of the planes' entries over its taps, 16 at a time. False, doing
// nothing, if stride_w is not 1.
bool plane_ranges(const PlaneConv& g, const int32_t* low_plane, const int32_t* high_plane, int32_t* low, int32_t* high);

// LayerNorm's last step for one row (kernels/layernorm.hpp; docs/numerics.md §10), 8 elements at a time:
// y[i] = sat_out(zp_out + beta[i] ± R_even(z_i · multiplier[i] / 2^right[i])) with
// z_i = R_even(c[i] · 2^z_shift / s). The quotient comes from a double estimate floored, exact after one
// correction step because the caller guarantees |c[i]| · 2^z_shift / s < 2^30 (the estimate is then
// within one of the floor quotient), s >= 1 and every right[i] in [0, 62].
void layernorm_outputs(const int32_t* c, int64_t n, int64_t s, int z_shift, const int64_t* multiplier,
                       const int64_t* right, const uint8_t* negative, const int64_t* beta, int64_t zero_point,
                       int64_t out_min, int64_t out_max, int32_t* y);

// One unmasked row of the integer softmax (kernels/softmax.hpp; docs/numerics.md §9), 16 codes at a time:
// m = max x, T_i = table[m − x_i] (0 past its end), S = Σ T_i, y_i = sat(zero_point + R_even(T_i · M / S)),
// every y_i = sat(zero_point) when S = 0. The division comes from a floored double estimate with one exact
// correction step (T_i · M / S <= M < 2^30, so the estimate is within one of the floor quotient).
// `t` holds cols values of scratch. False, writing nothing, when the row's codes span 2^31 or more
// (m − x would not fit the gather's 32-bit index), or when M >= 2^30 or the table is longer than 2^31:
// the caller then runs the spec loop.
bool softmax_row(const int32_t* table, int64_t table_size, int64_t one_over_scale, int64_t zero_point, int64_t out_min,
                 int64_t out_max, const int32_t* x, int64_t cols, int32_t* t, int32_t* y);

// A lookup table without interpolation (kernels/lut.hpp): y = sat(T[(x − in_min + round) >> shift]) with
// round = 2^(shift−1) (0 for shift 0), the index capped at the last entry, 16 codes at a time (vpgatherdd).
// False, writing nothing further, at the first block holding a code outside [in_min, in_min + span]
// (x − in_min computed in 64 bits): the caller's spec loop then names it.
bool lut_nearest(const int32_t* table, int64_t entries, int64_t in_min, int shift, int64_t span, int64_t out_min,
                 int64_t out_max, const int32_t* x, int64_t n, int32_t* y);

}  // namespace chipref::kernels::avx512
