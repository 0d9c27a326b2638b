#pragma once
// Block formats: a block of elements sharing one power-of-two scale. OCP Microscaling v1.0 (MXFP8 E4M3/E5M2,
// MXFP6 E3M2/E2M3, MXFP4 E2M1, MXINT8: 32 elements and an E8M0 scale) and block floating point (a shared
// 8-bit exponent over N-bit two's-complement mantissas, any block size). Conversion from float32 follows
// the spec's §6.3 algorithm on integer fields: the shared exponent from the exponent bits of the block's
// largest magnitude, each element rounded by the one procedure of minifloat.hpp. Spec: docs/numerics.md §15.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "numerics/minifloat.hpp"

namespace chipref {

struct BlockFormat {
  enum class Element { floating, integer };
  std::string name;  // "mxfp8_e4m3", "mxint8", "bfp16", ...
  Element element = Element::floating;
  FloatFormat fp = kFp8E4M3;  // the element format when floating
  int int_bits = 8;           // when integer: two's complement with an implicit 2^-(int_bits - 2)
  int block_size = 32;
  int scale_bits = 8;  // E8M0 for 8: code c means 2^(c − 127), all ones is NaN

  int element_bits() const { return element == Element::floating ? fp.bits() : int_bits; }
  // The exponent of the element format's largest normal (emax_elem in the spec): 0 for integers.
  int element_max_exponent() const;
  // The exponent of the element format's least significant bit (its smallest subnormal, or the integer
  // quantum 2^-(int_bits - 2)): every element is an integer multiple of it.
  int element_lsb() const {
    return element == Element::floating ? fp.min_exponent() - fp.mantissa_bits : -(int_bits - 2);
  }
  int scale_bias() const { return (1 << (scale_bits - 1)) - 1; }  // also the largest scale exponent
  uint32_t scale_nan_code() const { return (uint32_t{1} << scale_bits) - 1; }
  // Bits per element including the block's share of its scale (the sweep's cost proxy).
  double bits_per_element() const { return element_bits() + static_cast<double>(scale_bits) / block_size; }
};

// "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1" (or "mxfp4"), "mxint8": the OCP
// formats, block 32. "bfp<N>" (N = 9..24): 8-bit shared exponent and (N − 8)-bit mantissas, block 16
// (bfp12 = 4-bit, bfp16 = 8-bit mantissas). `block_size` > 0 replaces the default. Throws InputError.
BlockFormat parse_block_format(std::string_view name, int block_size = 0);
std::string block_format_names();  // for messages and --help

// One element's value: the element code's value times 2^(scale code − bias); NaN when the scale is NaN.
ExactValue block_element_value(const BlockFormat& format, uint32_t scale_code, uint32_t element_code);
// The element code's value alone (no scale).
ExactValue element_value(const BlockFormat& format, uint32_t element_code);

// The finite values a block's elements can be converted to, in element units (before the block's scale),
// in increasing order with one code each (+0 for zero; MX integers without −2^(N−1), which the conversion
// never produces). For choosing between the neighbours of a value (weight rounding).
class ElementValues {
 public:
  explicit ElementValues(const BlockFormat& format);
  // Indices of the largest value ≤ v and of the smallest ≥ v (the same where v is one); beyond the last
  // value on either side, both that value's (the conversion saturates there).
  std::pair<size_t, size_t> around(double v) const;
  double value(size_t i) const { return values_[i].first; }
  uint32_t code(size_t i) const { return values_[i].second; }

 private:
  std::vector<std::pair<double, uint32_t>> values_;
};

// How a block's shared exponent follows from its largest magnitude amax (docs/numerics.md §15).
enum class SharedExponent {
  floor,  // OCP MX v1.0 §6.3: floor(log2 amax) − emax_elem; elements above the largest normal saturate to it
  ceil,   // the smallest exponent e with amax ≤ largest element × 2^e, compared exactly: nothing saturates
          // below the largest scale, 2^127, where it stays (NVIDIA's "RCEIL" with satfinite, which gets there
          // through an FP32 division amax / largest element)
};
std::string_view to_string(SharedExponent rule);
SharedExponent parse_shared_exponent(std::string_view name);  // throws InputError

struct BlockRounding {
  Rounding rounding{RoundingMode::half_away, false};  // the MX reference code's default ("nearest")
  uint64_t seed = 0;                                  // stochastic rounding only
  SharedExponent shared_exponent = SharedExponent::floor;
};

// Converts one block of `count` float32 values (given as their bit patterns; count <= block_size, a short
// last block is as if padded with zeros) into `scale_code` and `codes[0..count)`, the shared exponent by
// r.shared_exponent. Elements saturate to the largest finite element; a block holding a NaN or an infinity
// gets the NaN scale, and its elements the element NaN where the format has one (else zero). `first_index`
// numbers the elements for stochastic rounding (the element's position in its tensor), so the words do not
// depend on how blocks are split.
void quantize_block(const BlockFormat& format, const uint32_t* float_bits, int64_t count, const BlockRounding& r,
                    uint64_t first_index, uint32_t& scale_code, uint32_t* codes);

// The same from exact values (a block dot product's outputs going into the next layer's format, without
// passing through FP32). NaN and infinite values as above.
void quantize_block(const BlockFormat& format, const ExactValue* values, int64_t count, const BlockRounding& r,
                    uint64_t first_index, uint32_t& scale_code, uint32_t* codes);

}  // namespace chipref
