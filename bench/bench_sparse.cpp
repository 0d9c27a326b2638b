// The skip-zero MAC kernels (computing from the kept values of N:M-compressed weights) against the dense
// kernels on the same weights decoded, on two 2:4 layers: a 1×1 convolution (128 → 128 channels, 14×14,
// 8 images) and a linear layer (512 → 512, 256 rows). The dense kernel at the default level is the 1.0
// baseline; also shown: the dense kernel at `per_addition` (one addition at a time, like skip-zero's
// inner loop). Same inputs and outputs checked equal; each figure the best of three passes.
//   bench_sparse [--repeats R] [--pattern N:M]

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

#include "kernels/mac.hpp"
#include "kernels/simd.hpp"
#include "kernels/sparse.hpp"
#include "quant/sparsity.hpp"

using namespace chipref;
using namespace chipref::kernels;

namespace {
template <class Run>
double best_seconds(int repeats, Run run) {
  double best = 1e300;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) run();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::vector<int32_t> pruned_weights(std::mt19937_64& rng, int64_t rows, int64_t k, NmPattern p) {
  std::uniform_int_distribution<int> code(-127, 127);
  Tensor w = Tensor::zeros(DType::int8, {rows, k});
  for (auto& v : w.ints) v = code(rng);
  prune_nm(w, p);
  return std::vector<int32_t>(w.ints.begin(), w.ints.end());
}

void row(const char* kernel, double seconds, double base, int64_t macs) {
  fmt::print("{:<40} {:>10.3f} {:>12.2f} {:>8.2f}\n", kernel, 1e3 * seconds, static_cast<double>(macs) / seconds / 1e9,
             base / seconds);
}
}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  std::string pattern_text = "2:4";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::max(1, std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--pattern")) pattern_text = argv[i + 1];
  }
  const NmPattern p = parse_nm_pattern(pattern_text);
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> code(0, 255);
  const AccumulatorSpec acc = AccumulatorSpec::make(32, OverflowPolicy::wrap);
  const SimdLevel level = simd_level();

  ConvGeometry g;
  g.batch = 8, g.in_channels = 128, g.out_channels = 128, g.in_h = g.in_w = 14;
  const std::vector<int32_t> cw = pruned_weights(rng, g.out_channels, g.reduction_length(), p);
  const NmWeights cnm = compress_nm(p, g.out_channels, g.reduction_length(), cw, "conv");
  std::vector<int32_t> x(static_cast<size_t>(g.batch * g.in_channels * g.in_h * g.in_w)),
      bias(static_cast<size_t>(g.out_channels), 0);
  for (auto& v : x) v = code(rng);
  const MacWeights prepared =
      MacWeights::prepare(cw.data(), g.out_channels, g.reduction_length(), MacLayout::convolution);
  std::vector<int32_t> dense(static_cast<size_t>(g.batch * g.out_channels * g.out_h() * g.out_w())),
      sparse(dense.size());
  OverflowCounter events;
  const int64_t conv_macs = static_cast<int64_t>(dense.size()) * g.reduction_length() * repeats;

  const int64_t rows = 256, k = 512, out = 512;
  const std::vector<int32_t> lw = pruned_weights(rng, out, k, p);
  const NmWeights lnm = compress_nm(p, out, k, lw, "linear");
  const MacWeights lprepared = MacWeights::prepare(lw.data(), out, k, MacLayout::linear);
  std::vector<int32_t> a(static_cast<size_t>(rows * k)), lbias(static_cast<size_t>(out), 0),
      ldense(static_cast<size_t>(rows * out)), lsparse(ldense.size());
  for (auto& v : a) v = code(rng);
  const int64_t linear_macs = rows * k * out * repeats;

  fmt::print("{} weights, 1 thread, {} repeats; GMAC/s counts the dense MACs; vs dense = dense time / time\n",
             to_string(p), repeats);
  fmt::print("{:<40} {:>10} {:>12} {:>8}\n", "kernel", "ms", "GMAC/s", "vs dense");
  for (const auto& [name, macs] : {std::pair<const char*, int64_t>{"conv 1x1 128->128, 14x14, batch 8", conv_macs},
                                   {"linear 512->512, 256 rows", linear_macs}}) {
    const bool conv = macs == conv_macs;
    auto run_dense = [&] {
      if (conv)
        conv_mac(g, x.data(), 100, prepared, bias, acc, events, dense.data());
      else
        linear_mac(rows, k, out, a.data(), 100, lprepared, lbias, acc, events, ldense.data());
    };
    auto run_sparse = [&] {
      if (conv)
        conv_mac_skip_zero(g, x.data(), 100, cnm, bias, acc, events, sparse.data());
      else
        linear_mac_skip_zero(rows, a.data(), 100, lnm, lbias, acc, events, lsparse.data());
    };
    const double base = best_seconds(repeats, run_dense);
    set_simd_level(SimdLevel::per_addition);
    const double per_addition = best_seconds(repeats, run_dense);
    set_simd_level(level);
    const double skip = best_seconds(repeats, run_sparse);
    if ((conv && dense != sparse) || (!conv && ldense != lsparse)) {
      fmt::print(stderr, "bench_sparse: skip-zero and dense outputs differ on {}\n", name);
      return 1;
    }
    fmt::print("{}\n", name);
    row(fmt::format("  dense, decoded weights ({})", to_string(level)).c_str(), base, base, macs);
    row("  dense, per_addition", per_addition, base, macs);
    row("  skip-zero, kept values only", skip, base, macs);
  }
  return 0;
}
