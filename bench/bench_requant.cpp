// Requantization throughput per flavour, in values/s, with the `single` flavour as the 1.0 baseline
// measured in the same run. Per-channel parameters (64 channels), int8 output, 4 M accumulators per pass;
// each flavour takes the best of several passes so that a noisy neighbour affects all alike.
//   bench_requant [--values N] [--repeats R]

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "numerics/requant.hpp"

using namespace chipref;

namespace {
struct Result {
  const char* name;
  double values_per_second;
  int64_t checksum;  // consumed so the compiler cannot drop the work
};

Result measure(const char* name, const Requantizer& rq, const std::vector<int32_t>& accs,
               const std::vector<RequantChannel>& channels, int repeats) {
  const size_t n_channels = channels.size();
  std::vector<int8_t> out(accs.size());
  double best = 1e300;
  int64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < accs.size(); ++i) out[i] = static_cast<int8_t>(rq.apply(accs[i], channels[i % n_channels]));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, dt);
    for (size_t i = 0; i < out.size(); i += 4099) checksum += out[i];
  }
  return {name, static_cast<double>(accs.size()) / best, checksum};
}
}  // namespace

int main(int argc, char** argv) {
  size_t values = 4u << 20;
  int repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--values"))
      values = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--repeats"))
      repeats = std::atoi(argv[i + 1]);
  }
  std::mt19937_64 rng(5);
  std::vector<int32_t> accs(values);
  for (int32_t& a : accs) a = static_cast<int32_t>(rng() % 200001) - 100000;
  std::vector<double> scales(64);
  std::uniform_real_distribution<double> log2_scale(-14.0, -6.0);
  for (double& s : scales) s = std::exp2(log2_scale(rng));
  const auto channels = make_requant_channels(scales, 31);
  const auto out = IntFormat::int_bits(8);

  const Result baseline =
      measure("single/half_even", Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out, -3), accs,
              channels, repeats);
  std::vector<Result> results = {
      baseline,
      measure("single/floor", Requantizer::make(RequantFlavour::single, RoundingMode::floor, out, -3), accs, channels,
              repeats),
      measure("gemmlowp", Requantizer::make(RequantFlavour::gemmlowp, RoundingMode::half_away, out, -3), accs, channels,
              repeats),
      measure("float", Requantizer::make(RequantFlavour::float32, RoundingMode::half_even, out, -3), accs, channels,
              repeats),
  };
  fmt::print("requant throughput: {} int32 accumulators -> int8, 64 channels, best of {} passes, 1 thread\n", values,
             repeats);
  fmt::print("{:<18} {:>14} {:>10}   {}\n", "flavour", "Mvalues/s", "vs single", "checksum");
  for (const Result& r : results)
    fmt::print("{:<18} {:>14.1f} {:>10.2f}   {}\n", r.name, r.values_per_second / 1e6,
               r.values_per_second / baseline.values_per_second, r.checksum);
  return 0;
}
