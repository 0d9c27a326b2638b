#pragma once
// MAC kernels: the one implementation of convolution and matrix products on integers (spec:
// docs/numerics.md §5). Inputs are integer codes with a zero point; weights are symmetric codes (zero
// point 0, the form chipref quantizes to); every product is exact and accumulates through an
// AccumulatorSpec, one addition at a time, in the documented reduction order, so that `saturate`
// and the overflow counters mean what a MAC array would do.

#include <cstdint>
#include <vector>

#include "kernels/requant.hpp"
#include "numerics/accumulator.hpp"

namespace chipref::kernels {

inline constexpr int64_t kMaxWindowExtent = int64_t{1} << 20;

// NCHW convolution geometry (1-D convolutions use height 1).
struct ConvGeometry {
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t groups = 1;
  int64_t out_h() const { return (in_h + pad_top + pad_bottom - (kernel_h - 1) * dilation_h - 1) / stride_h + 1; }
  int64_t out_w() const { return (in_w + pad_left + pad_right - (kernel_w - 1) * dilation_w - 1) / stride_w + 1; }
  int64_t reduction_length() const { return in_channels / groups * kernel_h * kernel_w; }
  // Every extent >= 1, kernel, stride, dilation and padding at most kMaxWindowExtent (so that the
  // arithmetic above stays far inside int64), groups dividing both channel counts, and the dilated
  // kernel within the padded input.
  bool valid() const;
};

// Bounds every code of a MAC's input is known to lie in, from the clamp of the op that computed it (never from
// its values). A MAC given them takes the range its fast paths need from them instead of scanning the input,
// unless they are too wide to prove every output in range; then it scans as without them.
struct CodeRange {
  int32_t lo, hi;
};

// The smallest and largest of n >= 1 codes.
void min_max(const int32_t* x, int64_t n, int32_t& lo, int32_t& hi);
// Largest |x − zp| over n codes: with Σ|w| per output it bounds every partial sum of a MAC.
int64_t max_abs_offset(const int32_t* x, int64_t n, int32_t zp);
// The worst |partial sum| of a MAC output: |b| + max|x − zp| · Σ|w| (< 2^62 for 16-bit codes and a
// reduction below 2^28). The one formula of the bound; sweeps report its bits.
int64_t accumulator_bound(int64_t bias, int64_t max_abs_x, int64_t abs_sum);
// True when no partial sum of an output can leave the accumulator: accumulator_bound fits. Then
// an unchecked int64 sum in any order is exactly what the checked one computes, with no overflow events.
bool provably_in_range(const AccumulatorSpec& acc, int64_t bias, int64_t max_abs_x, int64_t abs_sum);

// Which kernel a MacWeights feeds: the AMX level lays int8 weights out differently for each (amx.hpp).
enum class MacLayout { convolution, linear };

// Constant weights [out_channels, k] with what every call would otherwise recompute from them: Σ|w| per
// output (the overflow proof) and, when every code fits int16, the int16 copy the avx2 level multiplies
// (rows padded to an even length). Prepared once per layer; `codes` must outlive it.
struct MacWeights {
  const int32_t* codes = nullptr;
  int64_t out_channels = 0, k = 0, kp = 0;
  std::vector<int64_t> abs_sum;
  std::vector<int16_t> packed;  // [out_channels][kp], empty when some |w| > 32767
  int64_t kq = 0;               // k rounded up to a multiple of 4
  std::vector<int8_t> packed8;  // [out_channels][kq], empty when some w is outside int8
  std::vector<int64_t> sum;     // Σ_k w[m][k] (the zero-point correction of the u8 × s8 GEMM)
  // packed8 laid out for the AMX kernels when the CPU has them: amx::pack_weights for a convolution,
  // amx::pack_weight_panels for a linear layer
  MacLayout layout = MacLayout::convolution;
  std::vector<int8_t> packed_amx;
  // packed8 in panels of 16 output channels, as avx512::linear_u8s8 reads it: a linear layer's, and a
  // convolution's of 32 output channels or more (conv_mac's pixel-rows path)
  std::vector<int8_t> panels8;
  static MacWeights prepare(const int32_t* codes, int64_t out_channels, int64_t k, MacLayout layout);
};

// acc[n][m][oy][ox] = bias[m] + Σ_{c, ky, kx} (x[n][g·C/G + c][iy][ix] − x_zero_point) · w[m][c][ky][kx]
// Reduction order: the bias first, then c, ky, kx ascending. A padded position holds x_zero_point, so
// it contributes exactly 0. `bias` may be empty (no bias). Output: [N, M, OH, OW] int32 accumulators
// (the accumulator width is at most 32 bits wherever a MulShift follows; wider widths keep int64 in
// `conv_mac_wide` later).
// With `output_stage`, out receives mulshift(output_stage, acc) instead, channel m along axis 1 (one
// multiplier, or one per output channel): the same integers as the two ops one after the other, each
// row requantized as it leaves the GEMM instead of a second pass over an int32 tensor.
void conv_mac(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const MacWeights& w,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, int32_t* out,
              const MulShift* output_stage = nullptr, const CodeRange* x_range = nullptr);

// conv_mac with its input or output in either form: the same integers as the int32 form. Input bytes need
// x_range (bounds of the codes, within [base, base + 255]); output bytes need output_stage, whose clamp lies
// within [out.base, out.base + 255]. The avx512_vnni u8 × s8 GEMM and the int16 GEMM and depthwise paths read
// and write the bytes as they fill their planes and requantize their rows; every other path (a lower level,
// a range that does not prove every output, an int32 tensor scan) widens the input and narrows the output
// around the int32 form.
void conv_mac(const ConvGeometry& g, CodesIn x, int32_t x_zero_point, const MacWeights& w,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, CodesOut out,
              const MulShift* output_stage, const CodeRange* x_range);
// The same, preparing the weights [out_channels, reduction_length] for this one call.
void conv_mac(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const int32_t* w,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, int32_t* out);

// Fully connected / matmul with constant weights: acc[r][n] = bias[n] + Σ_k (a[r][k] − a_zero_point) · w[n][k]
// for r < rows, n < out_features, k ascending. Weights are stored [out_features, in_features] (the
// Gemm transB layout PyTorch exports).
void linear_mac(int64_t rows, int64_t in_features, int64_t out_features, const int32_t* a, int32_t a_zero_point,
                const MacWeights& w, const std::vector<int32_t>& bias, const AccumulatorSpec& acc,
                OverflowCounter& overflow, int32_t* out, const CodeRange* a_range = nullptr);
// The same, preparing the weights for this one call.
void linear_mac(int64_t rows, int64_t in_features, int64_t out_features, const int32_t* a, int32_t a_zero_point,
                const int32_t* w, const std::vector<int32_t>& bias, const AccumulatorSpec& acc,
                OverflowCounter& overflow, int32_t* out);

// Product of two activations (attention's Q·Kᵀ and weights·V): for each of `batch` matrices,
// acc[b][i][j] = Σ_k (a[b][i][k] − a_zero_point) · (c[b][k][j] − c_zero_point), k ascending, a [batch, m, k],
// c [batch, k, n], through the accumulator like the other MACs (an unchecked int64 sum where every
// partial sum provably fits).
void matmul_mac(int64_t batch, int64_t m, int64_t k, int64_t n, const int32_t* a, int32_t a_zero_point,
                const int32_t* c, int32_t c_zero_point, const AccumulatorSpec& acc, OverflowCounter& overflow,
                int32_t* out, const CodeRange* a_range = nullptr, const CodeRange* c_range = nullptr);

}  // namespace chipref::kernels
