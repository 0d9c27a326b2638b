#pragma once
// MAC accumulators of 8..48 bits with an explicit overflow policy, applied after every addition (so
// `saturate` depends on the order of the partial sums: the MAC array's reduction order defines it).
// Spec: docs/numerics.md §4.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "numerics/int_format.hpp"

namespace chipref {

enum class OverflowPolicy {
  wrap,      // two's-complement wrap-around, as a plain adder register does
  saturate,  // clamp every partial sum to [min, max]
  error,     // stop with AccumulatorOverflow (where the hardware is claimed to never overflow)
};
inline constexpr OverflowPolicy kAllOverflowPolicies[] = {OverflowPolicy::wrap, OverflowPolicy::saturate,
                                                          OverflowPolicy::error};
std::string_view to_string(OverflowPolicy policy);
OverflowPolicy parse_overflow_policy(std::string_view name);  // throws InputError

// Thrown under OverflowPolicy::error. Kernels rethrow it with the layer and output index added.
class AccumulatorOverflow : public InputError {
 public:
  AccumulatorOverflow(int bits, int64_t partial_sum, int64_t term)
      : InputError("int" + std::to_string(bits) + " accumulator overflow: " + std::to_string(partial_sum) + " + " +
                   std::to_string(term) + " leaves [" + std::to_string(bits_detail::min_of(bits, true)) + ", " +
                   std::to_string(bits_detail::max_of(bits, true)) + "]") {}
};

// Counts overflow events (additions whose exact result left the range), whatever the policy.
struct OverflowCounter {
  uint64_t events = 0;
};

class AccumulatorSpec {
 public:
  static constexpr int kMinBits = 8;
  static constexpr int kMaxBits = 48;
  static AccumulatorSpec make(int bits, OverflowPolicy policy) {
    if (bits < kMinBits || bits > kMaxBits)
      throw InputError("accumulator width " + std::to_string(bits) + " is out of range; expected " +
                       std::to_string(kMinBits) + ".." + std::to_string(kMaxBits) + " bits");
    return AccumulatorSpec(bits, policy);
  }
  int bits() const { return bits_; }
  OverflowPolicy policy() const { return policy_; }
  int64_t min() const { return bits_detail::min_of(bits_, true); }
  int64_t max() const { return bits_detail::max_of(bits_, true); }

  // acc + term under the policy; acc must already be in range. Exact for every int64 term: a sum that
  // overflows int64 itself is far outside a <= 48-bit range, and wraps correctly through uint64.
  int64_t add(int64_t acc, int64_t term, OverflowCounter& counter) const {
    int64_t sum;
    const bool int64_overflow = __builtin_add_overflow(acc, term, &sum);
    if (!int64_overflow && sum >= min() && sum <= max()) return sum;
    ++counter.events;
    switch (policy_) {
      case OverflowPolicy::wrap:
        return bits_detail::wrap(static_cast<int64_t>(static_cast<uint64_t>(acc) + static_cast<uint64_t>(term)), bits_,
                                 true);
      case OverflowPolicy::saturate:
        if (int64_overflow) return term > 0 ? max() : min();
        return sum > max() ? max() : min();
      case OverflowPolicy::error:
        throw AccumulatorOverflow(bits_, acc, term);
    }
    return sum;
  }

 private:
  AccumulatorSpec(int bits, OverflowPolicy policy) : bits_(bits), policy_(policy) {}
  int bits_;
  OverflowPolicy policy_;
};

}  // namespace chipref
