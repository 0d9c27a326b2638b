#include "kernels/block_dot.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "numerics/wide_accumulator.hpp"

namespace chipref {

namespace {
constexpr Rounding kHalfEven{RoundingMode::half_even, false};

// ±magnitude × 2^exponent as an ExactValue: its top 64 bits (bit 63 set) and a sticky bit for the rest.
ExactValue from_wide(bool negative, unsigned __int128 magnitude, int exponent) {
  ExactValue v;
  v.negative = negative;
  const auto hi = static_cast<uint64_t>(magnitude >> 64);
  if (hi == 0) {  // normalized as WideAccumulator::value() gives it: the top bit at bit 63
    const auto lo = static_cast<uint64_t>(magnitude);
    const int up = lo == 0 ? 0 : __builtin_clzll(lo);
    v.significand = lo << up, v.exponent = lo == 0 ? 0 : exponent - up;
    return v;
  }
  const int drop = 64 - __builtin_clzll(hi);  // bits below the top 64
  v.significand = static_cast<uint64_t>(magnitude >> drop);
  v.sticky = (magnitude & ((static_cast<unsigned __int128>(1) << drop) - 1)) != 0;
  v.exponent = exponent + drop;
  return v;
}

ExactValue special(ExactValue::Kind kind, bool negative = false) {
  ExactValue v;
  v.kind = kind, v.negative = negative;
  return v;
}

uint32_t special_fp32(bool nan, bool negative) {
  return nan ? encode_nan(kFp32, false) : (negative ? kFp32.sign_bit() : 0) | kFp32.infinity_code();
}

// IEEE binary32 addition rounded half to even, finite operands (x + (−x) = +0; −0 + −0 = −0).
uint32_t fp32_add(uint32_t x, uint32_t y) {
  const ExactValue a = decode(kFp32, x), b = decode(kFp32, y);
  if (a.kind != ExactValue::Kind::finite || b.kind != ExactValue::Kind::finite) {
    const bool nan =
        a.kind == ExactValue::Kind::nan || b.kind == ExactValue::Kind::nan ||
        (a.kind == ExactValue::Kind::infinity && b.kind == ExactValue::Kind::infinity && a.negative != b.negative);
    const bool negative = a.kind == ExactValue::Kind::infinity ? a.negative : b.negative;
    return special_fp32(nan, negative);
  }
  if (a.is_zero() && b.is_zero()) return a.negative && b.negative ? kFp32.sign_bit() : 0;
  WideAccumulator sum;
  sum.add(a), sum.add(b);
  return round_to_float(kFp32, sum.value(), kHalfEven, Overflow::ieee);
}
}  // namespace

std::string_view to_string(BlockAccumulation accumulation) {
  return accumulation == BlockAccumulation::exact ? "exact" : "fp32";
}

BlockAccumulation parse_block_accumulation(std::string_view name) {
  if (name == "exact") return BlockAccumulation::exact;
  if (name == "fp32") return BlockAccumulation::fp32;
  throw InputError("unknown block accumulation '" + std::string(name) + "'; expected one of: exact, fp32");
}

void BlockAccumulator::add_fp32(uint32_t code) { running_ = fp32_add(running_, code); }

void BlockAccumulator::flush() const {
  if (near_ != 0) exact_.add(near_ < 0, static_cast<unsigned __int128>(near_ < 0 ? -near_ : near_), base_);
  if (near_ != 0) wide_used_ = true;
  near_ = 0, near_terms_ = 0;
}

void BlockAccumulator::add_block(__int128 sum, int exponent) {
  if (sum == 0) return;
  const bool negative = sum < 0;
  const auto magnitude = static_cast<unsigned __int128>(negative ? -sum : sum);
  if (model_ == BlockAccumulation::exact) {
    if (!has_base_) base_ = exponent - kBelowFirst, has_base_ = true;
    // |sum| < 2^80 shifted by at most kAboveBase stays below 2^120; kFlushEvery = 64 of them below 2^126.
    const int shift = exponent - base_;
    if (shift >= 0 && shift <= kAboveBase && (magnitude >> 80) == 0) {
      near_ += sum * (static_cast<__int128>(1) << shift);
      if (++near_terms_ == kFlushEvery) flush();
    } else {
      exact_.add(negative, magnitude, exponent);
      wide_used_ = true;
    }
  } else
    add_fp32(round_to_float(kFp32, from_wide(negative, magnitude, exponent), kHalfEven, Overflow::ieee));
}

void BlockAccumulator::add_value(const ExactValue& v) {
  if (model_ == BlockAccumulation::exact) {
    exact_.add(v);
    wide_used_ = wide_used_ || !v.is_zero();
  } else
    add_fp32(round_to_float(kFp32, v, kHalfEven, Overflow::ieee));
}

void BlockAccumulator::add_special(const ExactValue& v) {
  if (v.kind == ExactValue::Kind::nan) nan_ = true;
  if (v.kind == ExactValue::Kind::infinity) (v.negative ? minus_infinity_ : plus_infinity_) = true;
  if (model_ == BlockAccumulation::fp32 && v.kind != ExactValue::Kind::finite)
    add_fp32(special_fp32(v.kind == ExactValue::Kind::nan, v.negative));
}

ExactValue BlockAccumulator::result() const {
  if (model_ == BlockAccumulation::fp32) return decode(kFp32, running_);
  if (nan_ || (plus_infinity_ && minus_infinity_)) return special(ExactValue::Kind::nan);
  if (plus_infinity_ || minus_infinity_) return special(ExactValue::Kind::infinity, minus_infinity_);
  if (!wide_used_) return from_wide(near_ < 0, static_cast<unsigned __int128>(near_ < 0 ? -near_ : near_), base_);
  flush();
  return exact_.value();
}

ExactValue block_dot(const BlockVector& a, const BlockVector& b, int64_t length, BlockAccumulation accumulation) {
  const BlockFormat &fa = *a.format, &fb = *b.format;
  if (fa.block_size != fb.block_size)
    throw InputError("block dot product of " + fa.name + " (block " + std::to_string(fa.block_size) + ") and " +
                     fb.name + " (block " + std::to_string(fb.block_size) + "): the blocks must line up");
  const int64_t block = fa.block_size;
  const int lsb_a = fa.element_lsb(), lsb_b = fb.element_lsb();
  BlockAccumulator sum(accumulation);
  for (int64_t start = 0, index = 0; start < length; start += block, ++index) {
    const uint32_t scale_a = a.scales[index], scale_b = b.scales[index];
    bool nan = scale_a == fa.scale_nan_code() || scale_b == fb.scale_nan_code();
    bool plus_infinity = false, minus_infinity = false;
    __int128 partial = 0;  // Σ products in units of 2^(lsb_a + lsb_b)
    for (int64_t i = start; i < std::min(length, start + block); ++i) {
      const ExactValue x = element_value(fa, a.codes[i]), y = element_value(fb, b.codes[i]);
      if (x.kind != ExactValue::Kind::finite || y.kind != ExactValue::Kind::finite) {
        const bool zero_times_infinity = (x.kind == ExactValue::Kind::infinity && y.is_zero()) ||
                                         (y.kind == ExactValue::Kind::infinity && x.is_zero());
        if (x.kind == ExactValue::Kind::nan || y.kind == ExactValue::Kind::nan || zero_times_infinity)
          nan = true;
        else
          (x.negative != y.negative ? minus_infinity : plus_infinity) = true;
        continue;
      }
      // Element products stay below 2^76 for blocks of up to 4096 (docs/numerics.md §15): 128 bits hold the sum.
      const __int128 product = static_cast<__int128>(x.significand * y.significand)
                               << ((x.exponent - lsb_a) + (y.exponent - lsb_b));
      partial += x.negative != y.negative ? -product : product;
    }
    if (nan || (plus_infinity && minus_infinity)) {
      sum.add_special(special(ExactValue::Kind::nan));
    } else if (plus_infinity || minus_infinity) {
      sum.add_special(special(ExactValue::Kind::infinity, minus_infinity));
    } else {
      sum.add_block(partial, lsb_a + lsb_b + static_cast<int>(scale_a) - fa.scale_bias() + static_cast<int>(scale_b) -
                                 fb.scale_bias());
    }
  }
  return sum.result();
}

}  // namespace chipref
