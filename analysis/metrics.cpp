#include "analysis/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace chipref {

double SqnrSum::db() const { return noise > 0 ? 10.0 * std::log10(signal / noise) : INFINITY; }

int signed_bits(int64_t lo, int64_t hi) {
  int b = 1;
  while (b < 64 && (lo < -(int64_t{1} << (b - 1)) || hi > (int64_t{1} << (b - 1)) - 1)) ++b;
  return b;
}

int64_t max_abs_offset(IntFormat format, int64_t zero_point) {
  return std::max(zero_point - format.min(), format.max() - zero_point);
}

}  // namespace chipref
