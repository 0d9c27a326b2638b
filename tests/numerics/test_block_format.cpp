// MX and BFP conversion against an independent reference written from the OCP MX v1.0 spec's §6.3
// pseudocode in double arithmetic (shared exponent from frexp, V / X by ldexp, the element quantized by
// scaling its mantissa to an integer and rounding it, as the spec and the MX reference library describe;
// every step is exact in double for float32 inputs), on random blocks (CHIPREF_MX_BLOCKS, default 10^7 over
// all formats and modes, split over the machine's threads) and on the edge cases the issue lists.

#include <catch2/catch.hpp>

#include <cfenv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "kernels/block_dot.hpp"
#include "numerics/block_format.hpp"

using namespace chipref;

namespace {

// floor(log2 |x|) for finite x != 0, from frexp's exponent (x = f × 2^e with f in [0.5, 1)).
int frexp_floor_log2(double x) {
  int e = 0;
  std::frexp(x, &e);
  return e - 1;
}

double round_scaled(double x, RoundingMode mode) {  // x already scaled so the quantum is 1
  switch (mode) {
    case RoundingMode::half_away:
      return std::copysign(std::floor(std::fabs(x) + 0.5), x);
    case RoundingMode::half_even:
      return std::nearbyint(x);  // the default environment rounds to nearest even
    case RoundingMode::half_up:
      return std::floor(x + 0.5);
    case RoundingMode::floor:
      return std::floor(x);
    case RoundingMode::toward_zero:
      return std::trunc(x);
  }
  return x;
}

struct Parameters {  // the spec's per-format table (v1.0 table 1 and §5.3), not read from chipref
  int ebits, mbits_with_sign_and_implicit, emax;
  double max_norm;
  bool has_nan;
};
Parameters spec_parameters(const std::string& name) {
  if (name == "mxfp8_e4m3") return {4, 5, 8, 448, true};
  if (name == "mxfp8_e5m2") return {5, 4, 15, 57344, true};
  if (name == "mxfp6_e3m2") return {3, 4, 4, 28, false};
  if (name == "mxfp6_e2m3") return {2, 5, 2, 7.5, false};
  if (name == "mxfp4_e2m1") return {2, 3, 2, 6, false};
  if (name == "mxint8") return {0, 8, 0, 127.0 / 64, false};
  if (name == "bfp12") return {0, 4, 0, 7.0 / 4, false};
  if (name == "bfp16") return {0, 8, 0, 127.0 / 64, false};
  FAIL("no parameters for " << name);
  return {};
}

struct ReferenceBlock {
  bool nan_scale = false;
  int shared = 0;
  std::vector<double> elements;  // the element values (P_i), before the scale
};

// The spec's conversion (§6.3): X = 2^(floor(log2(max|V_i|)) − emax_elem), P_i = quantize(V_i / X), saturating.
// `ceil`: X doubled once when max|V_i| / X exceeds the largest element (never past 2^127).
ReferenceBlock reference_quantize(const std::string& name, const std::vector<float>& v, RoundingMode mode,
                                  SharedExponent rule = SharedExponent::floor) {
  const Parameters p = spec_parameters(name);
  ReferenceBlock r;
  double largest = 0;
  for (const float x : v) {
    if (!std::isfinite(x)) r.nan_scale = true;
    largest = std::max(largest, std::fabs(static_cast<double>(x)));
  }
  if (r.nan_scale) return r;
  const int shared_exponent = (largest == 0 ? -126 : frexp_floor_log2(largest)) - p.emax;
  r.shared = std::max(shared_exponent, -127);
  if (rule == SharedExponent::ceil && largest > std::ldexp(p.max_norm, r.shared) && r.shared < 127) ++r.shared;
  for (const float x : v) {
    const double scaled = std::ldexp(static_cast<double>(x), -r.shared);
    double q;
    if (p.ebits == 0) {  // integer elements: mantissa bits − 2 fraction bits
      q = std::ldexp(round_scaled(std::ldexp(scaled, p.mbits_with_sign_and_implicit - 2), mode),
                     -(p.mbits_with_sign_and_implicit - 2));
    } else {
      const int min_exponent = 2 - (1 << (p.ebits - 1));
      const int private_exponent = scaled == 0 ? min_exponent : std::max(frexp_floor_log2(scaled), min_exponent);
      const int fraction_bits = p.mbits_with_sign_and_implicit - 2;
      q = std::ldexp(round_scaled(std::ldexp(scaled, fraction_bits - private_exponent), mode),
                     private_exponent - fraction_bits);
    }
    r.elements.push_back(std::copysign(std::min(std::fabs(q), p.max_norm), x));
  }
  return r;
}

// Random blocks that exercise a format: magnitudes within a few binades of each other (else everything
// flushes to zero), zeros, float32 subnormals, ties at element midpoints, mixed signs.
std::vector<float> random_block(std::mt19937_64& rng, int size, const BlockFormat& f) {
  std::vector<float> v(static_cast<size_t>(size));
  const int kind = static_cast<int>(rng() % 8);
  const int top = kind == 0 ? -140 + static_cast<int>(rng() % 20)  // subnormal-only (and near)
                            : (kind == 1 ? 120 + static_cast<int>(rng() % 8) : static_cast<int>(rng() % 80) - 40);
  for (float& x : v) {
    const int spread = static_cast<int>(rng() % 14);
    uint32_t bits = 0;
    if (kind == 2 && rng() % 2) {
      bits = 0;  // zeros among values
    } else if (kind == 3) {
      // a midpoint of the element grid: an element value plus half its quantum, at the block's scale
      const uint32_t code = static_cast<uint32_t>(rng() % (1u << (f.element_bits() - 1)));
      const ExactValue e = element_value(f, code);
      double d = to_double(e);
      const int quantum = f.element == BlockFormat::Element::floating
                              ? std::max(e.significand ? floor_log2(e) : 0, f.fp.min_exponent()) - f.fp.mantissa_bits
                              : -(f.int_bits - 2);
      d += std::ldexp(1.0, quantum - 1);
      x = static_cast<float>(std::ldexp(d, top - f.element_max_exponent()));
      if (rng() % 2) x = -x;
      continue;
    } else {
      const int exponent = std::clamp(top - spread, -149, 127);
      if (exponent < -126)
        bits = static_cast<uint32_t>(rng() & 0x7FFFFF) >> (-126 - exponent);  // subnormal
      else
        bits = (static_cast<uint32_t>(exponent + 127) << 23) | static_cast<uint32_t>(rng() & 0x7FFFFF);
      if (kind == 4) bits &= ~0xFFFFu;  // few mantissa bits: more exact ties
    }
    if (rng() % 2) bits |= 0x80000000u;
    x = float32_from_bits(bits);
  }
  if (kind == 5) v[rng() % v.size()] = std::ldexp(1.0f, top);  // the maximum exactly a power of two
  return v;
}

const char* const kFormats[] = {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3",
                                "mxfp4_e2m1", "mxint8",     "bfp12",      "bfp16"};
const RoundingMode kModes[] = {RoundingMode::half_away, RoundingMode::half_even, RoundingMode::toward_zero,
                               RoundingMode::floor};

// Compares chipref with the reference on one block; returns a description of the first difference.
std::string compare_block(const BlockFormat& f, const std::vector<float>& v, RoundingMode mode,
                          SharedExponent rule = SharedExponent::floor) {
  std::vector<uint32_t> bits(v.size()), codes(v.size());
  for (size_t i = 0; i < v.size(); ++i) bits[i] = float32_bits(v[i]);
  uint32_t scale = 0;
  quantize_block(f, bits.data(), static_cast<int64_t>(v.size()), BlockRounding{Rounding{mode, false}, 0, rule}, 0,
                 scale, codes.data());
  const ReferenceBlock r = reference_quantize(f.name, v, mode, rule);
  if (r.nan_scale != (scale == f.scale_nan_code())) return "NaN scale differs";
  if (r.nan_scale) return "";
  if (static_cast<int>(scale) - f.scale_bias() != r.shared)
    return "shared exponent " + std::to_string(static_cast<int>(scale) - 127) + " vs " + std::to_string(r.shared);
  for (size_t i = 0; i < v.size(); ++i) {
    const double got = to_double(element_value(f, codes[i]));
    // Two's-complement elements have no −0; a floating element keeps the sign of a value that rounds to zero.
    const bool sign_differs =
        f.element == BlockFormat::Element::floating && std::signbit(got) != std::signbit(r.elements[i]);
    if (got != r.elements[i] || sign_differs)
      return "element " + std::to_string(i) + " of value " + std::to_string(v[i]) + ": " + std::to_string(got) +
             " vs " + std::to_string(r.elements[i]);
  }
  return "";
}
}  // namespace

TEST_CASE("MX and BFP conversion equals the spec's algorithm on random blocks in every format and rounding mode") {
  const char* env = std::getenv("CHIPREF_MX_BLOCKS");
  const int64_t total = env ? std::atoll(env) : 10'000'000;
  const int64_t per_case = std::max<int64_t>(1, total / static_cast<int64_t>(std::size(kFormats) * std::size(kModes)));
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  int64_t checked = 0;
  for (const char* name : kFormats) {
    const BlockFormat f = parse_block_format(name);
    for (const RoundingMode mode : kModes) {
      std::vector<std::string> failures(threads);
      std::vector<int64_t> counts(threads);
      std::vector<std::thread> pool;
      for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          std::fesetround(FE_TONEAREST);
          std::mt19937_64 rng(1000 * t + static_cast<uint64_t>(mode) * 17 + std::hash<std::string>()(name));
          for (int64_t i = t; i < per_case && failures[t].empty(); i += threads) {
            const auto v = random_block(rng, f.block_size, f);
            // Every other block under each shared-exponent rule.
            failures[t] = compare_block(f, v, mode, i % 2 ? SharedExponent::ceil : SharedExponent::floor);
            ++counts[t];
          }
        });
      for (auto& th : pool) th.join();
      for (unsigned t = 0; t < threads; ++t) {
        INFO(name << " " << to_string(mode));
        CHECK(failures[t] == "");
        checked += counts[t];
      }
    }
  }
  CHECK(checked >= per_case * static_cast<int64_t>(std::size(kFormats) * std::size(kModes)));
}

TEST_CASE("MX conversion edge cases: all zero, largest exponent, subnormal-only, NaN and infinity, short blocks") {
  for (const char* name : kFormats) {
    const BlockFormat f = parse_block_format(name);
    INFO(name);
    std::vector<float> zeros(static_cast<size_t>(f.block_size), 0.0f);
    CHECK(compare_block(f, zeros, RoundingMode::half_away) == "");
    std::vector<float> huge(static_cast<size_t>(f.block_size), 3.4e38f);
    huge[1] = -3.0e38f, huge[2] = 1e30f;
    CHECK(compare_block(f, huge, RoundingMode::half_even) == "");
    std::vector<float> tiny(static_cast<size_t>(f.block_size));
    for (size_t i = 0; i < tiny.size(); ++i)
      tiny[i] = float32_from_bits(static_cast<uint32_t>(i * 997 + 1)) * (i % 2 ? -1 : 1);
    for (const RoundingMode mode : kModes) CHECK(compare_block(f, tiny, mode) == "");
    std::vector<float> with_nan(static_cast<size_t>(f.block_size), 1.0f);
    with_nan[3] = NAN;
    CHECK(compare_block(f, with_nan, RoundingMode::half_away) == "");
    std::vector<float> with_inf(static_cast<size_t>(f.block_size), 1.0f);
    with_inf[0] = -INFINITY;
    CHECK(compare_block(f, with_inf, RoundingMode::half_away) == "");
    std::vector<float> short_block = {1.5f, -0.25f, 3.0f};
    CHECK(compare_block(f, short_block, RoundingMode::half_even) == "");
    // −0 keeps its sign bit (or is +0 in two's-complement integer elements, which have no −0).
    uint32_t scale = 0, code = 0;
    const uint32_t minus_zero = 0x80000000u;
    quantize_block(f, &minus_zero, 1, BlockRounding{}, 0, scale, &code);
    CHECK(to_double(element_value(f, code)) == 0);
  }
  // The spec's pitfall: the largest float below 2^3 has floor(log2) = 2, although float32 log2 returns 3.0.
  const BlockFormat e4m3 = parse_block_format("mxfp8_e4m3");
  const uint32_t below_eight = float32_bits(std::nextafter(8.0f, 0.0f));
  uint32_t scale = 0, code = 0;
  quantize_block(e4m3, &below_eight, 1, BlockRounding{}, 0, scale, &code);
  CHECK(static_cast<int>(scale) - 127 == 2 - 8);
}

TEST_CASE("shared exponent ceil: the block maximum never saturates below the largest scale") {
  for (const char* name : kFormats) {
    const BlockFormat f = parse_block_format(name);
    const double max_norm = spec_parameters(name).max_norm;
    INFO(name);
    // At the largest element exactly both rules agree; just above it ceil takes the next scale and the
    // maximum survives to the element's precision, where floor saturates it.
    for (const int k : {-20, 0, 7}) {
      const auto at = static_cast<float>(std::ldexp(max_norm, k));
      // The top of the largest element's binade, above it (E4M3: 511.5 · 2^k against 448 · 2^k).
      const float above = std::nextafter(at, INFINITY),
                  twice = static_cast<float>(std::ldexp(0.999, f.element_max_exponent() + 1 + k));
      for (const float top : {at, above, twice}) {
        const std::vector<float> v = {top, -top / 3, top / 1000, 0.0f};
        for (const SharedExponent rule : {SharedExponent::floor, SharedExponent::ceil})
          CHECK(compare_block(f, v, RoundingMode::half_even, rule) == "");
        uint32_t floor_scale = 0, ceil_scale = 0;
        std::vector<uint32_t> codes(v.size());
        std::vector<uint32_t> bits = {float32_bits(v[0]), float32_bits(v[1]), float32_bits(v[2]), 0};
        quantize_block(f, bits.data(), 4, BlockRounding{}, 0, floor_scale, codes.data());
        quantize_block(f, bits.data(), 4, BlockRounding{{}, 0, SharedExponent::ceil}, 0, ceil_scale, codes.data());
        CHECK(ceil_scale == floor_scale + (top > at ? 1 : 0));
        if (top == twice) {  // near the top of the binade: saturation costs more than the coarser grid
          std::vector<uint32_t> floor_codes(v.size());
          quantize_block(f, bits.data(), 4, BlockRounding{}, 0, floor_scale, floor_codes.data());
          const double ceil_error = std::fabs(to_double(block_element_value(f, ceil_scale, codes[0])) - top);
          const double floor_error = std::fabs(to_double(block_element_value(f, floor_scale, floor_codes[0])) - top);
          CHECK(ceil_error < floor_error);
        }
      }
    }
    // Beyond the largest scale's reach ceil stays at 2^127 and saturates, as floor does.
    const std::vector<float> huge = {3.4e38f, 1.0f};
    CHECK(compare_block(f, huge, RoundingMode::half_away, SharedExponent::ceil) == "");
  }
  CHECK(parse_shared_exponent("ceil") == SharedExponent::ceil);
  CHECK_THROWS_WITH(parse_shared_exponent("round"), Catch::Contains("floor, ceil"));
}

TEST_CASE("MXINT8 never produces -128, and a NaN block keeps element NaNs where the format has them") {
  const BlockFormat f = parse_block_format("mxint8");
  std::vector<uint32_t> bits = {float32_bits(-1.999f), float32_bits(1.0f)}, codes(2);
  uint32_t scale = 0;
  quantize_block(f, bits.data(), 2, BlockRounding{}, 0, scale, codes.data());
  CHECK(codes[0] == (static_cast<uint32_t>(-127) & 0xFF));
  const BlockFormat e5m2 = parse_block_format("mxfp8_e5m2");
  bits = {float32_bits(NAN), float32_bits(1.0f)};
  quantize_block(e5m2, bits.data(), 2, BlockRounding{}, 0, scale, codes.data());
  CHECK(scale == 0xFF);
  CHECK(decode(kFp8E5M2, codes[1]).kind == ExactValue::Kind::nan);
  CHECK(block_element_value(e5m2, scale, codes[1]).kind == ExactValue::Kind::nan);
}

TEST_CASE("stochastic block rounding is deterministic per seed and element index, whatever the block split") {
  const BlockFormat f = parse_block_format("mxfp4_e2m1");
  std::mt19937_64 rng(9);
  const auto v = random_block(rng, 32, f);
  std::vector<uint32_t> bits(32), whole(32), halves(32);
  for (size_t i = 0; i < 32; ++i) bits[i] = float32_bits(v[i]);
  BlockRounding r{Rounding{RoundingMode::half_even, true}, 1234};
  uint32_t scale = 0;
  quantize_block(f, bits.data(), 32, r, 64, scale, whole.data());
  // The same elements' codes from the same indices, as if this block were converted elsewhere with the same scale.
  uint32_t again_scale = 0;
  quantize_block(f, bits.data(), 32, r, 64, again_scale, halves.data());
  CHECK(whole == halves);
  r.seed = 1235;
  quantize_block(f, bits.data(), 32, r, 64, again_scale, halves.data());
  CHECK(whole != halves);  // 32 random words: the chance that no code moves is negligible for this block
}

TEST_CASE("block format names, sizes and the cost in bits per element") {
  CHECK(parse_block_format("mxfp4").name == "mxfp4_e2m1");
  CHECK(parse_block_format("bfp12").int_bits == 4);
  CHECK(parse_block_format("bfp16", 32).block_size == 32);
  CHECK(parse_block_format("mxfp8_e4m3").bits_per_element() == 8.25);
  CHECK_THROWS_WITH(parse_block_format("bfp30"), Catch::Contains("N = 9..24"));
  CHECK_THROWS_WITH(parse_block_format("mxfp5"), Catch::Contains("mxfp8_e4m3"));
  CHECK_THROWS_WITH(parse_block_format("mxint8", 5000), Catch::Contains("1..4096"));
}

TEST_CASE("the element values around a value: the conversion's floor and nearest roundings land on them") {
  // Two independent routes to the same neighbours: ElementValues sorts the decoded codes and searches them;
  // quantize_block rounds each element on its integer fields. Rounding toward −inf must give the value at or
  // below (`down`), nearest rounding the nearer of the two, and every element value must be a neighbour.
  std::mt19937_64 rng(31);
  for (const char* name : {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1", "mxint8", "bfp12"}) {
    INFO(name);
    const BlockFormat f = parse_block_format(name);
    const ElementValues elements(f);
    // Brute force over the codes: each finite code's value is one of the listed values, each listed once.
    for (uint32_t c = 0; c < (1u << f.element_bits()); ++c) {
      const ExactValue e = element_value(f, c);
      if (e.kind != ExactValue::Kind::finite) continue;
      const auto [down, up] = elements.around(to_double(e));
      if (f.element == BlockFormat::Element::integer && c == 1u << (f.int_bits - 1)) {
        CHECK(elements.value(down) == -to_double(element_value(f, c - 1)));  // −2^(N−1), never produced: saturates
        continue;
      }
      CHECK(down == up);
      CHECK(elements.value(down) == to_double(e));
    }
    int64_t between = 0;
    for (int trial = 0; trial < 2000; ++trial) {
      const auto v = random_block(rng, f.block_size, f);
      std::vector<uint32_t> bits(v.size()), floor_codes(v.size()), nearest_codes(v.size());
      for (size_t i = 0; i < v.size(); ++i) bits[i] = float32_bits(v[i]);
      uint32_t scale = 0, nearest_scale = 0;
      quantize_block(f, bits.data(), static_cast<int64_t>(v.size()), BlockRounding{{RoundingMode::floor, false}}, 0,
                     scale, floor_codes.data());
      quantize_block(f, bits.data(), static_cast<int64_t>(v.size()), BlockRounding{{RoundingMode::half_even, false}}, 0,
                     nearest_scale, nearest_codes.data());
      REQUIRE(scale == nearest_scale);  // the shared exponent does not depend on the element rounding
      if (scale == f.scale_nan_code()) continue;
      const int exponent = static_cast<int>(scale) - f.scale_bias();
      for (size_t i = 0; i < v.size(); ++i) {
        const double x = std::ldexp(static_cast<double>(v[i]), -exponent);
        const auto [down, up] = elements.around(x);
        const double lo = elements.value(down), hi = elements.value(up);
        INFO("value " << v[i] << " = " << x << " × 2^" << exponent << ", neighbours " << lo << ", " << hi);
        CHECK(lo <= hi);
        if (down != up) CHECK((lo < x && x < hi));
        between += down != up;
        CHECK(to_double(element_value(f, floor_codes[i])) == lo);
        const double nearest = to_double(element_value(f, nearest_codes[i]));
        CHECK((nearest == lo || nearest == hi));
        if (down != up && x - lo != hi - x) CHECK(nearest == (x - lo < hi - x ? lo : hi));
      }
    }
    CHECK(between > 1000);  // most random values lie between two element values
  }
}
