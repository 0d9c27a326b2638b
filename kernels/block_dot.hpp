#pragma once
// Dot products of block-format vectors (MX, BFP): the one definition of a block MAC. Blocks run along the
// reduction axis and line up in both operands (same block size). Within a block the element products are
// summed exactly (mantissa products aligned to the block's smallest exponent, in 128 bits); across blocks one
// of two accumulation models, because hardware builds both. Spec: docs/numerics.md §15.

#include <cstdint>

#include "numerics/block_format.hpp"

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

// Σ a_i × b_i over i < length. exact: the exact sum (a 64-bit window and a sticky bit: round it with
// round_to_float or quantize_block); fp32: the FP32 running sum's value. A NaN scale or element, or an
// infinity times zero, or infinities of both signs, give NaN; an infinity otherwise gives that infinity.
// Throws InputError when the two formats' block sizes differ.
ExactValue block_dot(const BlockVector& a, const BlockVector& b, int64_t length, BlockAccumulation accumulation);

}  // namespace chipref
