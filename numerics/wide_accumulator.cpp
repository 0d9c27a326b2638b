#include "numerics/wide_accumulator.hpp"

#include <stdexcept>
#include <string>

namespace chipref {

void WideAccumulator::add(bool negative, unsigned __int128 magnitude, int exponent) {
  if (magnitude == 0) return;
  const int64_t offset = int64_t{exponent} - kLsbExponent;  // bit position of the magnitude's bit 0
  const int width =
      128 - (static_cast<uint64_t>(magnitude >> 64) != 0 ? __builtin_clzll(static_cast<uint64_t>(magnitude >> 64))
                                                         : 64 + __builtin_clzll(static_cast<uint64_t>(magnitude)));
  // The top limb's top bit is the sign: a term may reach one bit below it.
  if (offset < 0 || offset + width > 64 * kLimbs - 2)
    throw std::out_of_range("wide accumulator: a term of 2^" + std::to_string(exponent) + " × " +
                            std::to_string(width) + " bits lies outside its 2^" + std::to_string(kLsbExponent) +
                            "..2^" + std::to_string(kLsbExponent + 64 * kLimbs - 2) + " range");
  // The term as three limbs starting at limb `first`, shifted by `shift` bits.
  const int first = static_cast<int>(offset / 64), shift = static_cast<int>(offset % 64);
  const uint64_t lo = static_cast<uint64_t>(magnitude), hi = static_cast<uint64_t>(magnitude >> 64);
  const uint64_t term[3] = {lo << shift, shift ? (hi << shift) | (lo >> (64 - shift)) : hi,
                            shift ? hi >> (64 - shift) : 0};
  if (!negative) {
    unsigned carry = 0;
    for (int i = first; i < kLimbs; ++i) {
      const uint64_t t = i - first < 3 ? term[i - first] : 0;
      if (i - first >= 3 && carry == 0) break;
      const unsigned __int128 sum = static_cast<unsigned __int128>(limbs_[static_cast<size_t>(i)]) + t + carry;
      limbs_[static_cast<size_t>(i)] = static_cast<uint64_t>(sum);
      carry = static_cast<unsigned>(sum >> 64);
    }
  } else {
    unsigned borrow = 0;
    for (int i = first; i < kLimbs; ++i) {
      const uint64_t t = i - first < 3 ? term[i - first] : 0;
      if (i - first >= 3 && borrow == 0) break;
      const uint64_t a = limbs_[static_cast<size_t>(i)];
      const uint64_t d = a - t - borrow;
      borrow = (a < t || (a == t && borrow)) ? 1 : 0;
      limbs_[static_cast<size_t>(i)] = d;
    }
  }
}

void WideAccumulator::add(const ExactValue& v) {
  if (v.kind != ExactValue::Kind::finite || v.sticky)
    throw std::logic_error("wide accumulator: only exact finite values can be added");
  add(v.negative, v.significand, v.exponent);
}

bool WideAccumulator::is_zero() const {
  for (uint64_t limb : limbs_)
    if (limb) return false;
  return true;
}

ExactValue WideAccumulator::value() const {
  ExactValue v;
  std::array<uint64_t, kLimbs> m = limbs_;
  v.negative = (m[kLimbs - 1] >> 63) != 0;
  if (v.negative) {  // magnitude = two's complement negation
    unsigned carry = 1;
    for (uint64_t& limb : m) {
      const unsigned __int128 sum = static_cast<unsigned __int128>(~limb) + carry;
      limb = static_cast<uint64_t>(sum);
      carry = static_cast<unsigned>(sum >> 64);
    }
  }
  int top = kLimbs - 1;
  while (top >= 0 && m[static_cast<size_t>(top)] == 0) --top;
  if (top < 0) return ExactValue{};  // zero, positive
  const int lead = __builtin_clzll(m[static_cast<size_t>(top)]);
  const uint64_t below = top > 0 ? m[static_cast<size_t>(top - 1)] : 0;
  v.significand = lead ? (m[static_cast<size_t>(top)] << lead) | (below >> (64 - lead)) : m[static_cast<size_t>(top)];
  v.exponent = kLsbExponent + 64 * top - lead;  // weight of the window's bit 0
  bool sticky = lead ? (below << lead) != 0 : below != 0;
  for (int i = top - 2; i >= 0 && !sticky; --i) sticky = m[static_cast<size_t>(i)] != 0;
  v.sticky = sticky;
  return v;
}

}  // namespace chipref
