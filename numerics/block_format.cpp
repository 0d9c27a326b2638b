#include "numerics/block_format.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "core/error.hpp"

namespace chipref {

namespace {
constexpr int kFp32MinNormalExponent = -126;  // a block of zeros takes its exponent from FP32's smallest normal

BlockFormat floating(std::string name, const FloatFormat& fp) {
  BlockFormat f;
  f.name = std::move(name), f.element = BlockFormat::Element::floating, f.fp = fp;
  return f;
}
BlockFormat integer(std::string name, int bits, int block_size) {
  BlockFormat f;
  f.name = std::move(name), f.element = BlockFormat::Element::integer, f.int_bits = bits, f.block_size = block_size;
  return f;
}

// The largest finite element magnitude.
ExactValue largest_element(const BlockFormat& f) {
  if (f.element == BlockFormat::Element::floating) return decode(f.fp, f.fp.max_finite_code());
  ExactValue v;
  v.significand = (uint64_t{1} << (f.int_bits - 1)) - 1;
  v.exponent = -(f.int_bits - 2);
  return v;
}

// |v| > |limit| for two nonzero finite values in the same binade (equal floor_log2): their significands
// compared with the leading ones lined up; v's sticky bit breaks a tie upward.
bool exceeds_in_binade(const ExactValue& v, const ExactValue& limit) {
  const auto normalized = [](uint64_t s) { return s << __builtin_clzll(s); };
  const uint64_t a = normalized(v.significand), b = normalized(limit.significand);
  return a > b || (a == b && v.sticky);
}

uint32_t nan_element(const BlockFormat& f, bool negative) {
  return f.element == BlockFormat::Element::floating && f.fp.specials != FloatSpecials::none
             ? encode_nan(f.fp, negative)
             : 0;
}
}  // namespace

int BlockFormat::element_max_exponent() const {
  return element == Element::floating ? floor_log2(decode(fp, fp.max_finite_code())) : 0;
}

std::string block_format_names() {
  return "mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4_e2m1 (mxfp4), mxint8, bfp<N> (N = 9..24: 8-bit "
         "shared exponent, N-8-bit mantissas; bfp12, bfp16)";
}

BlockFormat parse_block_format(std::string_view name, int block_size) {
  BlockFormat f;
  if (name == "mxfp8_e4m3")
    f = floating("mxfp8_e4m3", kFp8E4M3);
  else if (name == "mxfp8_e5m2")
    f = floating("mxfp8_e5m2", kFp8E5M2);
  else if (name == "mxfp6_e3m2")
    f = floating("mxfp6_e3m2", kFp6E3M2);
  else if (name == "mxfp6_e2m3")
    f = floating("mxfp6_e2m3", kFp6E2M3);
  else if (name == "mxfp4_e2m1" || name == "mxfp4")
    f = floating("mxfp4_e2m1", kFp4E2M1);
  else if (name == "mxint8")
    f = integer("mxint8", 8, 32);
  else if (name.substr(0, 3) == "bfp") {
    int total = 0;
    const std::string_view digits = name.substr(3);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), total);
    if (error != std::errc() || end != digits.data() + digits.size() || total < 9 || total > 24)
      throw InputError("block format '" + std::string(name) + "': bfp<N> needs N = 9..24 (an 8-bit exponent and " +
                       "N-8-bit mantissas); expected one of: " + block_format_names());
    f = integer(std::string(name), total - 8, 16);
  } else {
    throw InputError("unknown block format '" + std::string(name) + "'; expected one of: " + block_format_names());
  }
  if (block_size < 0 || block_size > 4096)
    throw InputError("block format " + f.name + ": block_size " + std::to_string(block_size) +
                     " is out of range; expected 1..4096");
  if (block_size > 0) f.block_size = block_size;
  return f;
}

std::string_view to_string(SharedExponent rule) { return rule == SharedExponent::floor ? "floor" : "ceil"; }

SharedExponent parse_shared_exponent(std::string_view name) {
  if (name == "floor") return SharedExponent::floor;
  if (name == "ceil") return SharedExponent::ceil;
  throw InputError("unknown shared exponent rule '" + std::string(name) + "'; expected one of: floor, ceil");
}

ExactValue element_value(const BlockFormat& f, uint32_t code) {
  if (f.element == BlockFormat::Element::floating) return decode(f.fp, code);
  ExactValue v;
  const uint32_t mask = (uint32_t{1} << f.int_bits) - 1, sign = uint32_t{1} << (f.int_bits - 1);
  code &= mask;
  v.negative = (code & sign) != 0;
  v.significand = v.negative ? ((~code + 1) & mask) : code;  // −2^(N−1) reads as the magnitude 2^(N−1)
  v.exponent = -(f.int_bits - 2);
  return v;
}

ElementValues::ElementValues(const BlockFormat& f) {
  const uint32_t codes = uint32_t{1} << f.element_bits();
  for (uint32_t c = 0; c < codes; ++c) {
    const ExactValue v = element_value(f, c);
    const bool most_negative_integer = f.element == BlockFormat::Element::integer && c == codes / 2;
    if (v.kind == ExactValue::Kind::finite && !most_negative_integer) values_.emplace_back(to_double(v), c);
  }
  // by value, then code: the first of equal values (the two zeros) is the smaller code, +0
  std::sort(values_.begin(), values_.end());
  values_.erase(
      std::unique(values_.begin(), values_.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
      values_.end());
}

std::pair<size_t, size_t> ElementValues::around(double v) const {
  const auto above = std::lower_bound(values_.begin(), values_.end(), v,
                                      [](const std::pair<double, uint32_t>& e, double x) { return e.first < x; });
  if (above == values_.end()) return {values_.size() - 1, values_.size() - 1};
  const auto up = static_cast<size_t>(above - values_.begin());
  if (above->first == v || up == 0) return {up, up};
  return {up - 1, up};
}

ExactValue block_element_value(const BlockFormat& f, uint32_t scale_code, uint32_t element_code) {
  ExactValue v = element_value(f, element_code);
  if (scale_code == f.scale_nan_code()) v.kind = ExactValue::Kind::nan;
  if (v.kind == ExactValue::Kind::finite) v.exponent += static_cast<int>(scale_code) - f.scale_bias();
  return v;
}

void quantize_block(const BlockFormat& f, const ExactValue* values, int64_t count, const BlockRounding& r,
                    uint64_t first_index, uint32_t& scale_code, uint32_t* codes) {
  bool special = false;
  int largest = kFp32MinNormalExponent;
  bool any_nonzero = false;
  for (int64_t i = 0; i < count; ++i) {
    if (values[i].kind != ExactValue::Kind::finite) {
      special = true;
    } else if (values[i].significand != 0) {
      const int e = floor_log2(values[i]);
      largest = any_nonzero ? std::max(largest, e) : e;
      any_nonzero = true;
    }
  }
  int shared = largest - f.element_max_exponent();
  if (r.shared_exponent == SharedExponent::ceil && any_nonzero && !special && shared < f.scale_bias()) {
    // amax / 2^shared lies in [2^emax_elem, 2^(emax_elem + 1)); one step up when it exceeds the largest element.
    // At the largest scale there is no step up: the block saturates as under floor (NVIDIA's satfinite).
    const ExactValue limit = largest_element(f);
    for (int64_t i = 0; i < count; ++i)
      if (values[i].significand != 0 && floor_log2(values[i]) == largest && exceeds_in_binade(values[i], limit)) {
        ++shared;
        break;
      }
  }
  if (shared > f.scale_bias()) special = true;  // beyond the scale's range: the spec's NaN
  if (special) {
    scale_code = f.scale_nan_code();
    for (int64_t i = 0; i < count; ++i) codes[i] = nan_element(f, values[i].negative);
    return;
  }
  shared = std::max(shared, -f.scale_bias());  // underflow: the smallest scale; small elements flush to zero
  scale_code = static_cast<uint32_t>(shared + f.scale_bias());
  for (int64_t i = 0; i < count; ++i) {
    ExactValue scaled = values[i];
    scaled.exponent -= shared;  // V / X, exactly
    const uint32_t random = r.rounding.stochastic ? stochastic_word(r.seed, first_index + static_cast<uint64_t>(i)) : 0;
    if (f.element == BlockFormat::Element::floating) {
      codes[i] = round_to_float(f.fp, scaled, r.rounding, Overflow::saturate, random);
    } else {  // clamp to ±(2^(N−1) − 1): symmetric, as the MX reference code (−2^(N−1) is never produced)
      const uint64_t largest_code = (uint64_t{1} << (f.int_bits - 1)) - 1;
      const uint64_t q = std::min(round_to_quantum(scaled, -(f.int_bits - 2), r.rounding, random), largest_code);
      const uint32_t mask = (uint32_t{1} << f.int_bits) - 1;
      codes[i] = static_cast<uint32_t>(scaled.negative ? (0 - q) : q) & mask;
    }
  }
}

void quantize_block(const BlockFormat& f, const uint32_t* float_bits, int64_t count, const BlockRounding& r,
                    uint64_t first_index, uint32_t& scale_code, uint32_t* codes) {
  thread_local std::vector<ExactValue> values;
  values.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[static_cast<size_t>(i)] = decode(kFp32, float_bits[i]);
  quantize_block(f, values.data(), count, r, first_index, scale_code, codes);
}

}  // namespace chipref
