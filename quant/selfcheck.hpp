#pragma once
// The numerics self-check run by `chipref demo`: sample accumulators requantized in every flavour and
// rounding mode, each result checked against the exact product and its documented error bound.

#include <string>
#include <vector>

#include "numerics/requant.hpp"

namespace chipref {

struct SelfCheckCase {
  std::string label;
  double scale;
  FixedMultiplier multiplier;
  IntFormat out;
  int64_t zero_point;
  int32_t acc;
  double exact;  // zero_point + acc·scale, unsaturated
  // results in order: gemmlowp, float, then single in each of kAllRoundingModes
  std::vector<int64_t> results;
  std::vector<bool> within_bound;
};

struct SelfCheckReport {
  std::vector<std::string> column_names;  // names of `results` columns
  std::vector<SelfCheckCase> cases;
  int failures = 0;
};

SelfCheckReport run_numerics_self_check(int multiplier_bits = 31);

}  // namespace chipref
