#pragma once
// Comparison of exact integer codes with a constant (spec: docs/numerics.md §5): y = 1 where the relation
// holds, else 0. Integers compared as integers: no rounding anywhere.

#include <cstdint>
#include <string>

namespace chipref::kernels {

enum class Relation { equal, not_equal, less, greater, less_or_equal, greater_or_equal };

// InputError listing the names for anything else.
Relation parse_relation(const std::string& name);

void compare(Relation relation, int64_t value, const int32_t* x, int64_t n, int32_t* y);

}  // namespace chipref::kernels
