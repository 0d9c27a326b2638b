#pragma once
// Dot products of block-format vectors (MX, BFP): the one definition of a block MAC. Blocks run along the
// reduction axis and line up in both operands (same block size). Within a block the element products are
// summed exactly (mantissa products aligned to the block's smallest exponent, in 128 bits); across blocks one
// of two accumulation models, because hardware builds both. Spec: docs/numerics.md §15.

#include <cstdint>

#include "numerics/block_format.hpp"
#include "numerics/wide_accumulator.hpp"

namespace chipref {

enum class BlockAccumulation {
  exact,  // every block's sum × its two scales into one exact (Kulisch) accumulator: no rounding at all
  fp32,   // each block's exact sum × scales rounded to FP32 (half even), then added to an FP32 running sum in
          // block order, each addition rounded half even (IEEE binary32 addition, subnormals kept)
};

std::string_view to_string(BlockAccumulation accumulation);
BlockAccumulation parse_block_accumulation(std::string_view name);  // throws InputError

// One operand: `length` element codes and ceil(length / block_size) scale codes.
struct BlockVector {
  const BlockFormat* format;
  const uint32_t* scales;
  const uint32_t* codes;
};

// One dot product's sum across blocks, in either model: the blocks' exact sums added in order (a bias or
// another exact value may come first). What block_dot and the block MAC layers (block_mac.hpp) share.
class BlockAccumulator {
 public:
  explicit BlockAccumulator(BlockAccumulation model) : model_(model) {}
  // + sum × 2^exponent, one block's exact integer sum.
  void add_block(__int128 sum, int exponent);
  // + a finite exact value (exact model), or the value rounded into FP32 and added (fp32 model).
  void add_value(const ExactValue& v);
  // A block that is NaN or infinite (a NaN scale or element, an infinity times an element).
  void add_special(const ExactValue& v);
  // exact: the exact sum (64-bit window and sticky bit); fp32: the FP32 running sum's value.
  ExactValue result() const;

 private:
  void add_fp32(uint32_t code);
  void flush() const;
  BlockAccumulation model_;
  // exact model: block sums near the first one's exponent gather in 128 bits at `base_` (an exact integer
  // sum, moved into the wide register every kFlushEvery terms and at the end: the same exact value, without a
  // 768-bit addition per block).
  static constexpr int kFlushEvery = 64, kBelowFirst = 24, kAboveBase = 40;
  mutable WideAccumulator exact_;
  mutable __int128 near_ = 0;
  mutable int near_terms_ = 0;
  int base_ = 0;
  bool has_base_ = false;
  mutable bool wide_used_ = false;  // exact_ holds something (else the sum is near_ alone)
  uint32_t running_ = 0;            // fp32 model: +0
  bool nan_ = false, plus_infinity_ = false, minus_infinity_ = false;
};

// Σ a_i × b_i over i < length. exact: the exact sum (a 64-bit window and a sticky bit: round it with
// round_to_float or quantize_block); fp32: the FP32 running sum's value. A NaN scale or element, or an
// infinity times zero, or infinities of both signs, give NaN; an infinity otherwise gives that infinity.
// Throws InputError when the two formats' block sizes differ.
ExactValue block_dot(const BlockVector& a, const BlockVector& b, int64_t length, BlockAccumulation accumulation);

}  // namespace chipref
