// N:M-compressed weights (kernels/sparse.hpp, docs/numerics.md §13):
// - decode(compress(w)) == w on random N:M-sparse weights for every pattern, rows and reduction lengths
//   that M does and does not divide; the index stream read back equals the indices written, bit by bit
//   against an independent reading of the stream here;
// - the skip-zero MACs equal the dense MACs on the decoded weights (outputs and overflow counts), for
//   convolutions (groups, depthwise with K = 9, strides, dilations, padding) and linear layers, wide and narrow
//   accumulators, at every kernel level;
// - invalid metadata (an index outside [0, M), a repeated or descending index, a kept padding position
//   holding a value, wrong lengths) is an error naming the row and the group.

#include <catch2/catch.hpp>
#include <random>

#include "core/error.hpp"
#include "kernels/mac.hpp"
#include "kernels/simd.hpp"
#include "kernels/sparse.hpp"

using namespace chipref;
using namespace chipref::kernels;

namespace {
const std::vector<NmPattern> kPatterns = {{1, 2}, {1, 4}, {2, 4}, {2, 8}, {4, 8}, {3, 5}, {1, 16}, {7, 8}};

// Random codes in [lo, hi] with at most N non-zeros in every group of M along each row (some groups
// with fewer, some rows all zero).
std::vector<int32_t> random_sparse(std::mt19937_64& rng, NmPattern p, int64_t rows, int64_t k, int lo, int hi) {
  std::uniform_int_distribution<int> value(lo, hi), coin(0, 9);
  std::vector<int32_t> w(static_cast<size_t>(rows * k), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t start = 0; start < k; start += p.m) {
      std::vector<int64_t> slots;
      for (int64_t i = start; i < std::min<int64_t>(start + p.m, k); ++i) slots.push_back(i);
      std::shuffle(slots.begin(), slots.end(), rng);
      const int keep = coin(rng) == 0 ? 0 : std::min<int>(p.n, static_cast<int>(slots.size()));
      for (int j = 0; j < keep; ++j) w[r * k + slots[j]] = value(rng);
    }
  return w;
}
}  // namespace

TEST_CASE("Sparse/decode(compress(w)) == w for every pattern, the stream holds the indices bit for bit",
          "[sim][sparse]") {
  std::mt19937_64 rng(41);
  for (const NmPattern& p : kPatterns)
    for (int64_t k : {int64_t{p.m}, int64_t{3 * p.m}, int64_t{3 * p.m + 1}, int64_t{9}, int64_t{50}}) {
      const int64_t rows = 1 + static_cast<int64_t>(rng() % 7);
      const std::vector<int32_t> w = random_sparse(rng, p, rows, k, -127, 127);
      const NmWeights nm = compress_nm(p, rows, k, w, "w");
      INFO(p.n << ":" << p.m << ", k " << k << ", rows " << rows);
      CHECK(nm.groups() == (k + p.m - 1) / p.m);
      CHECK(decode_nm(nm, "w") == w);
      // An independent reading of the stream: bit s is bit s mod 32 of word s / 32.
      bool same = true;
      for (int64_t t = 0; t < nm.index_count(); ++t) {
        uint32_t index = 0;
        for (int b = 0; b < p.index_bits(); ++b) {
          const int64_t s = t * p.index_bits() + b;
          index |= ((nm.index_words[s / 32] >> (s % 32)) & 1u) << b;
        }
        same = same && index == nm.index(t);
      }
      CHECK(same);
      // Every group keeps exactly N positions, ascending, and at most N non-zeros.
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < nm.groups(); ++g) {
          int nonzero = 0;
          for (int j = 0; j < p.n; ++j) {
            const int64_t t = (r * nm.groups() + g) * p.n + j;
            nonzero += nm.values[t] != 0;
            if (j > 0) CHECK(nm.index(t) > nm.index(t - 1));
          }
          CHECK(nonzero <= p.n);
        }
    }
  // The docs' example (docs/numerics.md §13): 2:4 groups keeping {0, 2} and {1, 3} pack as 11 01 10 00.
  const NmWeights example = compress_nm({2, 4}, 1, 8, {5, 0, 6, 0, 0, 7, 0, 8}, "example");
  CHECK(example.index_words == std::vector<uint32_t>{0xD8u});
  CHECK(example.values == std::vector<int32_t>{5, 6, 7, 8});
  // A dense row is not 2:4: the error names the row and the group.
  CHECK_THROWS_WITH(compress_nm({2, 4}, 1, 4, {1, 2, 3, 0}, "layer 'fc'"),
                    Catch::Contains("layer 'fc': row 0, group 0 has 3 non-zero weights; 2:4 allows 2"));
}

TEST_CASE("Sparse/skip-zero MACs equal the dense MACs on the decoded weights, outputs and overflow counts",
          "[sim][sparse]") {
  std::mt19937_64 rng(43);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  const SimdLevel saved = simd_level();
  int compared = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const NmPattern p = kPatterns[static_cast<size_t>(trial) % kPatterns.size()];
    ConvGeometry g;
    g.batch = 1 + pick(rng) % 2;
    const bool depthwise = trial % 4 == 0;
    g.groups = depthwise ? 4 : 1 + pick(rng) % 2;
    g.in_channels = depthwise ? 4 : g.groups * (1 + pick(rng) % 4);
    g.out_channels = depthwise ? 4 : g.groups * (1 + pick(rng) % 4);
    g.in_h = 4 + pick(rng) % 5, g.in_w = 4 + pick(rng) % 5;
    g.kernel_h = g.kernel_w = depthwise ? 3 : 1 + pick(rng) % 3;
    g.stride_h = g.stride_w = 1 + pick(rng) % 2;
    g.pad_top = g.pad_bottom = pick(rng) % 2, g.pad_left = pick(rng) % 3, g.pad_right = pick(rng) % 2;
    g.dilation_h = 1 + pick(rng) % 2, g.dilation_w = 1 + pick(rng) % 2;
    if (!g.valid()) g.dilation_h = g.dilation_w = 1;
    const int64_t k = g.reduction_length();
    const std::vector<int32_t> w = random_sparse(rng, p, g.out_channels, k, -127, 127);
    const NmWeights nm = compress_nm(p, g.out_channels, k, w, "conv");
    std::uniform_int_distribution<int> code(0, 255);
    std::vector<int32_t> x(static_cast<size_t>(g.batch * g.in_channels * g.in_h * g.in_w));
    for (auto& v : x) v = code(rng);
    std::vector<int32_t> bias(static_cast<size_t>(g.out_channels));
    for (auto& b : bias) b = pick(rng) % 2001 - 1000;
    const AccumulatorSpec acc =
        AccumulatorSpec::make(trial % 3 == 0 ? 16 : 32, trial % 2 ? OverflowPolicy::saturate : OverflowPolicy::wrap);
    const int64_t outputs = g.batch * g.out_channels * g.out_h() * g.out_w();
    for (SimdLevel level : kSimdLevels) {
      if (!cpu_supports(level)) continue;
      set_simd_level(level);
      std::vector<int32_t> dense(static_cast<size_t>(outputs)), sparse(dense.size());
      OverflowCounter dense_events, sparse_events;
      conv_mac(g, x.data(), 100, w.data(), bias, acc, dense_events, dense.data());
      conv_mac_skip_zero(g, x.data(), 100, nm, bias, acc, sparse_events, sparse.data());
      INFO("trial " << trial << " " << p.n << ":" << p.m << " k " << k << " level " << to_string(level));
      CHECK(sparse == dense);
      CHECK(sparse_events.events == dense_events.events);
      // The linear form on the same weights, rows of k inputs.
      const int64_t rows = 1 + pick(rng) % 9;
      std::vector<int32_t> a(static_cast<size_t>(rows * k));
      for (auto& v : a) v = code(rng);
      std::vector<int32_t> ld(static_cast<size_t>(rows * g.out_channels)), ls(ld.size());
      OverflowCounter lde, lse;
      linear_mac(rows, k, g.out_channels, a.data(), 100, w.data(), bias, acc, lde, ld.data());
      linear_mac_skip_zero(rows, a.data(), 100, nm, bias, acc, lse, ls.data());
      CHECK(ls == ld);
      CHECK(lse.events == lde.events);
      ++compared;
    }
  }
  set_simd_level(saved);
  CHECK(compared >= 240);
}

TEST_CASE("Sparse/invalid metadata is an error naming the row and the group", "[sim][sparse]") {
  std::mt19937_64 rng(47);
  const std::vector<int32_t> w = random_sparse(rng, {2, 5}, 3, 10, 1, 9);  // M = 5: 3-bit indices, 5..7 invalid
  const NmWeights good = compress_nm({2, 5}, 3, 10, w, "w");
  auto with_index = [&](int64_t t, uint32_t value) {
    std::vector<uint32_t> indices;
    for (int64_t i = 0; i < good.index_count(); ++i) indices.push_back(i == t ? value : good.index(i));
    return encode_nm(good.pattern, good.rows, good.k, good.values, indices);
  };
  // t = (row 1 · 2 groups + group 1) · 2 + 1 = 7: the second index of row 1, group 1.
  CHECK_THROWS_WITH(decode_nm(with_index(7, 6), "layer 'pw'"),
                    Catch::Contains("layer 'pw': row 1, group 1: index 6 is outside [0, 5)"));
  CHECK_THROWS_WITH(decode_nm(with_index(7, good.index(6)), "layer 'pw'"),
                    Catch::Contains("row 1, group 1: indices must ascend strictly") && Catch::Contains("repeats"));
  CHECK_THROWS_WITH(decode_nm(with_index(6, 4), "w"),
                    Catch::Contains("row 1, group 1"));  // 4 then a smaller one: descending
  NmWeights short_values = good;
  short_values.values.pop_back();
  CHECK_THROWS_WITH(decode_nm(short_values, "w"), Catch::Contains("kept values") && Catch::Contains("need 12"));
  NmWeights short_words = good;
  short_words.index_words.push_back(0);
  CHECK_THROWS_WITH(decode_nm(short_words, "w"), Catch::Contains("index words"));
  // k = 9 with M = 4: group 2 is position 8 plus three padding slots; a kept padding slot must hold 0.
  NmWeights padded = compress_nm({2, 4}, 1, 9, {1, 2, 0, 0, 3, 0, 4, 0, 5}, "dw");
  REQUIRE(padded.index(5) == 1);  // group 2 keeps position 8 (index 0) and padding index 1
  padded.values[5] = 7;
  CHECK_THROWS_WITH(decode_nm(padded, "dw"),
                    Catch::Contains("dw: row 0, group 2: index 1 is padding (position 9 >= 9) but holds 7"));
}
