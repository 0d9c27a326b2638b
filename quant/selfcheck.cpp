#include "quant/selfcheck.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "numerics/error_bounds.hpp"

namespace chipref {

namespace {
struct SampleGroup {
  const char* label;
  double scale;
  IntFormat out;
  int64_t zero_point;
  std::vector<int32_t> accs;
};

// Chosen to show the modes apart: exact ties of both signs, a scale >= 1 (left shift), saturation of
// the output, and the int32 extremes.
std::vector<SampleGroup> sample_groups() {
  return {
      {"ties", 0.5, IntFormat::int_bits(8), 0, {-5, -3, -1, 1, 3, 5}},
      {"quarter ties", 0.25, IntFormat::int_bits(8), 0, {-6, -2, 2, 6, -7, 7}},
      {"typical conv", 0.0123456789, IntFormat::int_bits(8), -3, {0, 1000, -1000, 4051, -4051, 20000}},
      {"scale >= 1", 1.75, IntFormat::int_bits(16), 0, {-1001, 777, 12345, -3}},
      {"int32 extremes", 1.0 / 65536, IntFormat::int_bits(32), 0, {INT32_MIN, INT32_MAX, -32768, 32768}},
  };
}
}  // namespace

SelfCheckReport run_numerics_self_check(int multiplier_bits) {
  SelfCheckReport report;
  report.column_names = {"gemmlowp", "float"};
  for (RoundingMode m : kAllRoundingModes) report.column_names.push_back("single/" + std::string(to_string(m)));

  for (const SampleGroup& g : sample_groups()) {
    const RequantChannel ch = make_requant_channel(g.scale, multiplier_bits);
    for (int32_t acc : g.accs) {
      SelfCheckCase c{g.label,
                      g.scale,
                      ch.fixed,
                      g.out,
                      g.zero_point,
                      acc,
                      static_cast<double>(g.zero_point) + static_cast<double>(acc) * g.scale,
                      {},
                      {}};
      const double clamped_exact =
          std::clamp(c.exact, static_cast<double>(g.out.min()), static_cast<double>(g.out.max()));
      auto check = [&](RequantFlavour flavour, RoundingMode rounding) {
        const Requantizer rq = Requantizer::make(flavour, rounding, g.out, g.zero_point);
        const int64_t y = rq.apply(acc, ch);
        const double bound = requant_error_bound(flavour, rounding, acc, ch, g.scale);
        const bool ok = std::fabs(static_cast<double>(y) - clamped_exact) <= bound;
        c.results.push_back(y);
        c.within_bound.push_back(ok);
        report.failures += ok ? 0 : 1;
      };
      check(RequantFlavour::gemmlowp, RoundingMode::half_away);
      check(RequantFlavour::float32, RoundingMode::half_even);
      for (RoundingMode m : kAllRoundingModes) check(RequantFlavour::single, m);
      report.cases.push_back(std::move(c));
    }
  }
  return report;
}

}  // namespace chipref
