#include "numerics/accumulator.hpp"

#include "numerics/enum_names.hpp"

namespace chipref {

namespace {
constexpr enum_names::Entry<OverflowPolicy> kPolicyNames[] = {
    {OverflowPolicy::wrap, "wrap"}, {OverflowPolicy::saturate, "saturate"}, {OverflowPolicy::error, "error"}};
}

std::string_view to_string(OverflowPolicy policy) { return enum_names::name_of(policy, kPolicyNames); }
OverflowPolicy parse_overflow_policy(std::string_view name) {
  return enum_names::parse("overflow policy", name, kPolicyNames);
}

}  // namespace chipref
