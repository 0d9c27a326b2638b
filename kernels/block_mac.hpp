#pragma once
// MAC layers in block formats (MX, BFP): a fully connected layer or a convolution whose input activations
// and weights are block-format values. The input arrives as codes of a uniform integer format (the previous
// layer's output) and is converted to the activation block format here, blocks along the input channels
// (at each position of a convolution); the weights are block-format codes, blocks along the input
// channels of each kernel tap. Each output is the bias plus the block dot products over taps and blocks
// (block_dot.hpp's arithmetic and accumulation models), rounded once into the output's uniform codes:
// y = clamp(round_half_even(V / s_y) + z_y). Spec: docs/numerics.md §15.

#include <cstdint>
#include <vector>

#include "kernels/block_dot.hpp"
#include "kernels/mac.hpp"

namespace chipref::kernels {

struct BlockMacParams {
  BlockFormat activation_format, weight_format;  // same block size
  BlockAccumulation accumulation = BlockAccumulation::exact;
  BlockRounding activation_rounding;  // the run-time conversion of the input
  ExactValue input_scale;             // s_x: the input code x is worth (x − z_x) · s_x
  int32_t input_zero_point = 0;
  int64_t input_lo = 0, input_hi = -1;  // the input format's codes (hi < lo: not known; no conversion table)
  ExactValue output_scale;              // s_y (at most 24 significant bits: a float32)
  int32_t output_zero_point = 0;
  int64_t output_lo = 0, output_hi = 0;  // the output format's range, narrowed by a fused clamp
};

// The weights [M, taps, group channels] as block codes: for each output channel and tap, blocks_per_tap
// blocks of the group's input channels (the last one short when block size does not divide them).
struct BlockWeights {
  int64_t out_channels = 0, taps = 1, group_channels = 0;
  int64_t groups = 1;            // a convolution's: output channels [g·M/G, (g+1)·M/G) read group g's inputs
  std::vector<uint32_t> codes;   // [M, taps, group_channels]
  std::vector<uint32_t> scales;  // [M, taps, blocks_per_tap]
  std::vector<ExactValue> bias;  // [M] (a float32's value each) or empty
  int64_t blocks_per_tap(int64_t block_size) const { return (group_channels + block_size - 1) / block_size; }
};

// A block-format operand as aligned integers, each element worth elements[i] × 2^exponent of its block (the
// element format's least significant bit plus the block's scale): block dot products become integer dot
// products. Block b holds its elements at [b · stride, (b + 1) · stride), zero padded.
struct AlignedBlocks {
  int64_t block_size = 0;
  int64_t stride = 0;  // elements stored per block: min(block size, channels), so short vectors are not padded
  std::vector<int64_t> elements;
  std::vector<int32_t> exponents;
  std::vector<uint8_t> special;  // 1: the block's scale or an element is NaN or infinite (the sum is not finite)
};

// Every code of an element format as an aligned integer (value / 2^lsb), which codes are NaN or infinite, and
// the largest magnitude.
struct ElementTable {
  std::vector<int64_t> aligned;
  std::vector<uint8_t> special;
  int64_t largest = 0;
};

// The run-time conversion of the input as tables (docs/numerics.md §15, "Speed"): for an input whose codes
// span few values and a deterministic rounding. A block's scale depends only on its largest |x − z_x| and an
// element only on its own x − z_x and the scale, so quantize_block itself fills the tables.
struct InputTable {
  int64_t d_lo = 0, d_hi = -1;     // the x − z_x covered
  std::vector<uint16_t> row_of;    // [largest |x − z_x| of a block] → row
  std::vector<int32_t> exponents;  // [row]: the block's exponent (the element lsb plus its scale)
  std::vector<double> values;      // [row, x − z_x − d_lo]: the element's value, scale included
  std::vector<int32_t> low, high;  // [row, x − z_x − d_lo]: its lowest set bit and top bit (zero: empty)
  std::vector<int32_t> bits;       // the same two as int16 halves, low and −high (one load serves both)
  bool usable() const { return d_hi >= d_lo; }
};

// What a layer computes once, before any input: its weights as aligned blocks ([M, taps, blocks_per_tap]
// blocks), the activation format's table, and whether a block's sum of products can leave 64 bits. For the
// fast form of the exact model (docs/numerics.md §15, "Speed"; not at SimdLevel::per_addition), also the
// weights as doubles of their values, [M, taps · blocks_per_tap · stride] zero padded as `blocks` is, each
// channel's bit range, and the input table.
struct PreparedBlockWeights {
  AlignedBlocks blocks;
  ElementTable activation_table;
  bool wide_sums = false;
  bool fast = false;  // the exact model with finite weights: the fast form may run
  std::vector<double> weight_values;
  std::vector<double> weight_panels;  // weight_values packed for gemm_f64, each group's channels on their own
  int64_t group_panel_values = 0;     // the values of one group's panels
  std::vector<int32_t> weight_low, weight_high;  // [M]: the lowest set bit and the top bit over the row
  std::vector<int32_t> bias_low, bias_high;      // [M] (empty rows: low > high)
  std::vector<double> bias_values;               // [M]
  InputTable input_table;
};

// How many outputs the calling thread's block MAC layers have computed in the fast form and by the spec loops
// (running totals; tests compare them before and after a call to see which ran).
struct BlockMacCounts {
  int64_t fast = 0, spec = 0;
};
BlockMacCounts& block_mac_counts();

// Checks the weights against the params (sizes, codes in range, block sizes equal); InputError naming `what`.
void check_block_weights(const BlockMacParams& p, const BlockWeights& w, const std::string& what);
PreparedBlockWeights prepare_block_weights(const BlockMacParams& p, const BlockWeights& w);

// The input as a layer converts it (what a block-format datapath receives): element codes and scale codes
// of the activation format. Linear: codes [rows, K], scales [rows, blocks]; convolution: codes
// [N, G, H, W, C/G] (the group's channels at each position), scales [N, G, H, W, blocks].
struct BlockCodes {
  std::vector<uint32_t> codes, scales;
};
BlockCodes block_linear_input(int64_t rows, int64_t in_features, const int32_t* x, const BlockMacParams& p);
BlockCodes block_conv_input(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p);

// The output code of one exact sum (bias included): clamp(round_half_even(sum / s_y) + z_y, lo, hi); a NaN sum
// is an InputError, an infinite one the nearer end of the range.
int32_t block_output_code(const ExactValue& sum, const BlockMacParams& p);

// x [rows, in], out [rows, M] (int32 codes of the output format).
void block_linear_mac(int64_t rows, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                      const PreparedBlockWeights& prepared, int32_t* out);
// x [N, C, H, W], out [N, M, OH, OW]; padded positions contribute nothing (a zero value).
void block_conv_mac(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                    const PreparedBlockWeights& prepared, int32_t* out);

// An activation × activation matmul in block formats (attention's products): A [batch, M, K] and B
// [batch, K, N], both uniform codes converted at run time, A's rows and B's columns in blocks along K; each
// output is the sum of the block dot products in the accumulation model, rounded once into the output
// codes. `a` holds A's format (activation_format), scale and zero point, the rounding and the output's;
// B's format, scale, zero point and code range are the b_ fields (weight_format is unused). B's stochastic
// rounding uses seed + 1.
struct BlockMatmulParams {
  BlockMacParams a;
  BlockFormat b_format;
  ExactValue b_scale;
  int32_t b_zero_point = 0;
  int64_t b_lo = 0, b_hi = -1;
};
void block_matmul(int64_t batch, int64_t M, int64_t K, int64_t N, const int32_t* a, const int32_t* b,
                  const BlockMatmulParams& p, int32_t* out);
// B's side as the parameters of an input conversion (what block_linear_input takes).
BlockMacParams block_matmul_b_side(const BlockMatmulParams& p);
// B [batch, K, N] as the matmul converts it: its columns' element codes [batch, N, K] and scales [batch, N,
// blocks] (A's rows: block_linear_input with the A side).
BlockCodes block_matmul_b_input(int64_t batch, int64_t K, int64_t N, const int32_t* b, const BlockMatmulParams& p);

}  // namespace chipref::kernels
