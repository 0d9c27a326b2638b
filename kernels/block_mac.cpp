#include "kernels/block_mac.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "kernels/avx512.hpp"
#include "kernels/gemm_f64.hpp"
#include "kernels/simd.hpp"

namespace chipref::kernels {

namespace {
ElementTable element_table(const BlockFormat& f) {
  ElementTable t;
  const uint32_t codes = uint32_t{1} << f.element_bits();
  t.aligned.resize(codes), t.special.resize(codes);
  const int lsb = f.element_lsb();
  for (uint32_t c = 0; c < codes; ++c) {
    const ExactValue v = element_value(f, c);
    if (v.kind != ExactValue::Kind::finite) {
      t.special[c] = 1;
      continue;
    }
    const auto magnitude = static_cast<int64_t>(v.significand << (v.exponent - lsb));
    t.aligned[c] = v.negative ? -magnitude : magnitude;
    t.largest = std::max(t.largest, magnitude);
  }
  return t;
}

// One block's codes and scale as aligned integers into `out` (`stride` entries, zero padded).
void align_block(const BlockFormat& f, const ElementTable& table, const uint32_t* codes, int64_t count, int64_t stride,
                 uint32_t scale, int64_t* out, int32_t& exponent, uint8_t& special) {
  special = scale == f.scale_nan_code();
  for (int64_t i = 0; i < count; ++i) {
    out[i] = table.aligned[codes[i]];
    special |= table.special[codes[i]];
  }
  std::fill(out + count, out + stride, 0);
  exponent = f.element_lsb() + static_cast<int>(scale) - f.scale_bias();
}

// Σ a_i · w_i over one block, exactly: in 64 bits when the formats' largest products allow it.
template <class Sum>
__int128 block_sum(const int64_t* a, const int64_t* w, int64_t n) {
  Sum s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<Sum>(a[i]) * w[i];
  return s;
}

// The real value d · s_x of an input code x = d + z_x, exactly.
ExactValue input_value(int64_t d, const BlockMacParams& p) {
  ExactValue v;
  v.negative = d < 0;
  v.significand = static_cast<uint64_t>(d < 0 ? -d : d) * p.input_scale.significand;  // < 2^33 · 2^24
  v.exponent = p.input_scale.exponent;
  return v;
}

// The input's real values (x − z_x) · s_x, exactly, for one block's worth of channels at `stride`.
void input_values(const int32_t* x, int64_t count, int64_t stride, const BlockMacParams& p, ExactValue* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = input_value(int64_t{x[i * stride]} - p.input_zero_point, p);
}

// Converts the channel vectors of the input (`vectors` of `channels` codes each, element c of vector v at
// x[base(v) + c · stride]) into aligned blocks, blocks_per_vector blocks each; `codes_out`, if given, gets
// the element codes [vectors, channels] and scale codes [vectors, blocks].
template <class Base>
AlignedBlocks convert_input(const int32_t* x, int64_t vectors, int64_t channels, int64_t stride, Base base,
                            const BlockMacParams& p, const ElementTable& table, BlockCodes* codes_out = nullptr) {
  const BlockFormat& f = p.activation_format;
  const int64_t bs = f.block_size, blocks = (channels + bs - 1) / bs;
  AlignedBlocks a;
  a.block_size = bs, a.stride = std::min(bs, channels);
  a.elements.resize(static_cast<size_t>(vectors * blocks * a.stride));
  a.exponents.resize(static_cast<size_t>(vectors * blocks));
  a.special.resize(static_cast<size_t>(vectors * blocks));
  std::vector<ExactValue> values(static_cast<size_t>(bs));
  std::vector<uint32_t> codes(static_cast<size_t>(bs));
  for (int64_t v = 0; v < vectors; ++v) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * bs, count = std::min(bs, channels - first);
      input_values(x + base(v) + first * stride, count, stride, p, values.data());
      uint32_t scale = 0;
      // Element indices for stochastic rounding: the element's position in the (vectors × channels) tensor.
      quantize_block(f, values.data(), count, p.activation_rounding, static_cast<uint64_t>(v * channels + first), scale,
                     codes.data());
      const size_t at = static_cast<size_t>(v * blocks + b);
      align_block(f, table, codes.data(), count, a.stride, scale, &a.elements[at * static_cast<size_t>(a.stride)],
                  a.exponents[at], a.special[at]);
      if (codes_out) {
        codes_out->scales.push_back(scale);
        codes_out->codes.insert(codes_out->codes.end(), codes.begin(), codes.begin() + count);
      }
    }
  }
  return a;
}

// The conv's input vectors: v = ((n · G + g) · H + h) · W + w, the group's channels at one position.
auto conv_vector_base(const ConvGeometry& geo) {
  const int64_t G = geo.groups, C = geo.in_channels, Cg = C / G, plane = geo.in_h * geo.in_w;
  return [=](int64_t v) {
    const int64_t position = v % plane, ng = v / plane;
    return (ng / G * C + ng % G * Cg) * plane + position;
  };
}

}  // namespace

int32_t block_output_code(const ExactValue& sum, const BlockMacParams& p) {
  if (sum.kind == ExactValue::Kind::nan)
    throw InputError("block MAC: an output is NaN (a NaN scale or element, or infinities of both signs)");
  int64_t q = 0;
  if (sum.kind == ExactValue::Kind::infinity)
    q = sum.negative ? p.output_lo : p.output_hi;
  else
    q = round_quotient(sum, p.output_scale, RoundingMode::half_even) + p.output_zero_point;
  return static_cast<int32_t>(std::clamp(q, p.output_lo, p.output_hi));
}

namespace {

// Adds one block pair to `sum`.
inline void accumulate(BlockAccumulator& sum, const AlignedBlocks& a, size_t ia, const AlignedBlocks& w, size_t iw,
                       bool wide) {
  if (a.special[ia] || w.special[iw]) return sum.add_special(ExactValue{ExactValue::Kind::nan});
  const int64_t n = a.stride;
  const int64_t* pa = &a.elements[ia * static_cast<size_t>(n)];
  const int64_t* pw = &w.elements[iw * static_cast<size_t>(n)];
  sum.add_block(wide ? block_sum<__int128>(pa, pw, n) : block_sum<int64_t>(pa, pw, n),
                a.exponents[ia] + w.exponents[iw]);
}

// Whether a block's sum of products can leave int64.
bool needs_wide_sums(const ElementTable& a, const ElementTable& w, int64_t block_size) {
  const auto bound = static_cast<unsigned __int128>(a.largest) * static_cast<unsigned __int128>(w.largest) *
                     static_cast<unsigned __int128>(block_size);
  return bound >> 62 != 0;
}

// ---- The fast form of the exact model (docs/numerics.md §15, "Speed") ----
// Every element and weight is held as the double of its value (scale included: exact, the element
// significands have at most 16 bits and the values lie between 2^-150 and 2^150), and a layer is one double
// GEMM per group over its whole reduction (taps, blocks and padding in the weights' layout). A dot product
// computed in any order is exact when all its partial sums are multiples of 2^low below 2^high with
// high − low ≤ 53: `low` from the lowest set bits of the two rows, `high` from their top bits and the number
// of terms. Each output checks that before it uses the GEMM's sum (else the layer runs the spec loops), and
// rounds the exact sum in double only where the quotient is provably away from a tie (else exactly).

constexpr int32_t kNoBits = 1 << 14;  // the low end of an empty bit range (its high end is −kNoBits)
constexpr int64_t kMaxTableCodes = 4096;

// The exponents of the top bit and of the lowest set bit of a nonzero normal double.
inline void bit_range(double v, int32_t& low, int32_t& high) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  high = static_cast<int32_t>((bits >> 52) & 0x7FF) - 1023;
  const uint64_t significand = (bits & ((uint64_t{1} << 52) - 1)) | (uint64_t{1} << 52);
  low = high - 52 + __builtin_ctzll(significand);
}

// A double's value as an ExactValue.
ExactValue exact_of_double(double v) {
  ExactValue e;
  if (v == 0) return e;
  int32_t low = 0, high = 0;
  bit_range(v, low, high);
  e.negative = v < 0;
  e.significand = static_cast<uint64_t>(std::ldexp(std::fabs(v), -low));
  e.exponent = low;
  return e;
}

int32_t ceil_log2(int64_t n) {
  int32_t bits = 0;
  while ((int64_t{1} << bits) < n) ++bits;
  return bits;
}

// Whether `terms` products of a row in [alow, ahigh] and one in [wlow, whigh] (bit exponents), summed in any
// order, plus a value in [blow, bhigh], are exact in double.
inline bool exact_in_double(int32_t alow, int32_t ahigh, int32_t wlow, int32_t whigh, int32_t blow, int32_t bhigh,
                            int32_t log2_terms) {
  const int32_t low = std::min(alow + wlow, blow);
  const int32_t high = std::max(ahigh + whigh + 2 + log2_terms, bhigh + 1) + 1;
  return high - low <= 53;
}

// The output code of an exact sum held in a double, `reciprocal` the double nearest 1 / s_y.
inline int32_t output_code_of_double(double v, double reciprocal, const BlockMacParams& p) {
  const double q = v * reciprocal;  // two roundings: within 2^-52 |q| of the exact quotient v / s_y
  if (std::fabs(q) < 0x1p40) {
    // q rounded half even: below 2^51 the addition's own rounding (to nearest even, the default mode) drops
    // the fraction (nearbyint is a library call without SSE4.1).
    const double n = (q + 0x1.8p52) - 0x1.8p52;
    if (std::fabs(std::fabs(q - n) - 0.5) > std::fabs(q) * 0x1p-50)  // no tie within the error: n is exact
      return static_cast<int32_t>(std::clamp(static_cast<int64_t>(n) + p.output_zero_point, p.output_lo, p.output_hi));
  }
  return block_output_code(exact_of_double(v), p);
}

InputTable build_input_table(const BlockMacParams& p, const ElementTable& table) {
  InputTable t;
  if (p.activation_rounding.rounding.stochastic || p.input_hi < p.input_lo) return t;
  const int64_t lo = p.input_lo - p.input_zero_point, hi = p.input_hi - p.input_zero_point;
  if (hi - lo + 1 > kMaxTableCodes) return t;
  const BlockFormat& f = p.activation_format;
  const int64_t top = std::max(std::abs(lo), std::abs(hi)), codes = hi - lo + 1;
  std::vector<uint32_t> scale_of(static_cast<size_t>(top + 1));
  std::vector<int64_t> row_top;
  t.row_of.resize(static_cast<size_t>(top + 1));
  for (int64_t m = 0; m <= top; ++m) {
    const ExactValue v = input_value(m, p);
    uint32_t code = 0;
    quantize_block(f, &v, 1, p.activation_rounding, 0, scale_of[static_cast<size_t>(m)], &code);
    if (scale_of[static_cast<size_t>(m)] == f.scale_nan_code()) return {};
    if (m == 0 || scale_of[static_cast<size_t>(m)] != scale_of[static_cast<size_t>(m - 1)]) {
      row_top.push_back(m);
      t.exponents.push_back(f.element_lsb() + static_cast<int>(scale_of[static_cast<size_t>(m)]) - f.scale_bias());
    }
    row_top.back() = m;
    t.row_of[static_cast<size_t>(m)] = static_cast<uint16_t>(row_top.size() - 1);
  }
  t.values.assign(row_top.size() * static_cast<size_t>(codes), 0.0);
  t.low.assign(t.values.size(), kNoBits), t.high.assign(t.values.size(), -kNoBits);
  for (size_t row = 0; row < row_top.size(); ++row) {
    for (int64_t d = lo; d <= hi; ++d) {
      if (std::abs(d) > row_top[row]) continue;  // no block of this scale holds it
      // d in a block whose largest magnitude gives this row's scale.
      const ExactValue pair[2] = {input_value(row_top[row], p), input_value(d, p)};
      uint32_t scale = 0, pair_codes[2] = {0, 0};
      quantize_block(f, pair, 2, p.activation_rounding, 0, scale, pair_codes);
      if (scale != scale_of[static_cast<size_t>(row_top[row])] || table.special[pair_codes[1]]) return {};
      const size_t at = row * static_cast<size_t>(codes) + static_cast<size_t>(d - lo);
      t.values[at] = std::ldexp(static_cast<double>(table.aligned[pair_codes[1]]), t.exponents[row]);
      if (t.values[at] == 0) continue;
      int32_t l = 0, h = 0;
      bit_range(t.values[at], l, h);
      t.low[at] = l, t.high[at] = h;
    }
  }
  t.bits.resize(t.low.size());
  for (size_t i = 0; i < t.bits.size(); ++i)  // bit exponents are within ±kNoBits = ±2^14: both fit int16
    t.bits[i] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(t.low[i])) |
                                     static_cast<uint32_t>(static_cast<uint16_t>(-t.high[i])) << 16);
  t.d_lo = lo, t.d_hi = hi;
  return t;
}

// An operand's blocks as doubles: values [vectors, blocks, stride] (zero padded), each block's bit range.
struct DoubleBlocks {
  int64_t blocks = 0, stride = 0;  // blocks per vector, values stored per block
  std::vector<double> values;
  std::vector<int32_t> low, high;
  // Widens [low, high] to hold the bit range of every block of vector v.
  void widen_by_vector(int64_t v, int32_t& lo, int32_t& hi) const {
    for (size_t b = static_cast<size_t>(v * blocks); b < static_cast<size_t>((v + 1) * blocks); ++b)
      lo = std::min(lo, low[b]), hi = std::max(hi, high[b]);
  }
};

void block_bits(const double* v, int64_t n, int32_t& low, int32_t& high) {
  low = kNoBits, high = -kNoBits;
  for (int64_t i = 0; i < n; ++i)
    if (v[i] != 0) {
      int32_t l = 0, h = 0;
      bit_range(v[i], l, h);
      low = std::min(low, l), high = std::max(high, h);
    }
}

// Aligned blocks as doubles; false if a block is NaN or infinite.
bool to_doubles(const AlignedBlocks& a, DoubleBlocks& out) {
  const size_t count = a.exponents.size(), stride = static_cast<size_t>(a.stride);
  out.stride = a.stride, out.values.resize(a.elements.size()), out.low.resize(count), out.high.resize(count);
  for (size_t b = 0; b < count; ++b) {
    if (a.special[b]) return false;
    for (size_t i = b * stride; i < (b + 1) * stride; ++i)
      out.values[i] = std::ldexp(static_cast<double>(a.elements[i]), a.exponents[b]);
    block_bits(&out.values[b * stride], a.stride, out.low[b], out.high[b]);
  }
  return true;
}

// The input converted through the table (see convert_input for the arguments); false if a code is outside
// the table, or the layer has none (then the spec conversion's blocks, as doubles).
template <class Base>
bool convert_input_fast(const int32_t* x, int64_t vectors, int64_t channels, int64_t stride, Base base,
                        const BlockMacParams& p, const PreparedBlockWeights& prepared, DoubleBlocks& out) {
  const InputTable& t = prepared.input_table;
  const int64_t bs = p.activation_format.block_size, blocks = (channels + bs - 1) / bs;
  out.blocks = blocks;
  if (!t.usable()) {
    const AlignedBlocks a = convert_input(x, vectors, channels, stride, base, p, prepared.activation_table);
    return to_doubles(a, out);
  }
  out.stride = std::min(bs, channels);
  out.values.assign(static_cast<size_t>(vectors * blocks * out.stride), 0.0);
  out.low.resize(static_cast<size_t>(vectors * blocks)), out.high.resize(static_cast<size_t>(vectors * blocks));
  const int64_t codes = t.d_hi - t.d_lo + 1;
  for (int64_t v = 0; v < vectors; ++v) {
    const int32_t* xv = x + base(v);
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * bs, count = std::min(bs, channels - first);
      int64_t largest = 0;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t d = int64_t{xv[(first + i) * stride]} - p.input_zero_point;
        if (d < t.d_lo || d > t.d_hi) return false;
        largest = std::max(largest, d < 0 ? -d : d);
      }
      const size_t row = static_cast<size_t>(t.row_of[static_cast<size_t>(largest)]) * static_cast<size_t>(codes);
      const double* values = &t.values[row];
      const int32_t *lows = &t.low[row], *highs = &t.high[row];
      const size_t at = static_cast<size_t>(v * blocks + b);
      double* o = &out.values[at * static_cast<size_t>(out.stride)];
      int32_t lo = kNoBits, hi = -kNoBits;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t e = int64_t{xv[(first + i) * stride]} - p.input_zero_point - t.d_lo;
        o[i] = values[e];
        lo = std::min<int32_t>(lo, lows[e]), hi = std::max<int32_t>(hi, highs[e]);
      }
      out.low[at] = lo, out.high[at] = hi;
    }
  }
  return true;
}

// convert_input_fast for a convolution's input [N, C, H, W] through the table: a (batch, group) at a time,
// each block channel by channel over all positions (contiguous loads, loops the compiler vectorizes) instead
// of each position's channels a plane apart. False if a code is outside the table.
bool convert_planes_fast(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p, const InputTable& t,
                         DoubleBlocks& out) {
  const int64_t G = geo.groups, C = geo.in_channels, Cg = C / G, plane = geo.in_h * geo.in_w;
  const int64_t bs = p.activation_format.block_size, blocks = (Cg + bs - 1) / bs, sets = geo.batch * G;
  out.blocks = blocks, out.stride = std::min(bs, Cg);
  const auto size = static_cast<size_t>(sets * plane * blocks * out.stride);
  if (Cg % out.stride == 0)
    out.values.resize(size);  // every entry is written below
  else
    out.values.assign(size, 0.0);  // the last block's lanes past the channels stay zero
  out.low.resize(static_cast<size_t>(sets * plane * blocks)), out.high.resize(out.low.size());
  const int64_t codes = t.d_hi - t.d_lo + 1;
  const int32_t zero_point = p.input_zero_point;
  const auto d_lo = static_cast<int32_t>(t.d_lo), d_hi = static_cast<int32_t>(t.d_hi);
  std::vector<int32_t> largest(static_cast<size_t>(plane)), base(static_cast<size_t>(plane));
  std::vector<int32_t> lo(static_cast<size_t>(plane)), hi(static_cast<size_t>(plane));
  for (int64_t set = 0; set < sets; ++set) {
    const int32_t* xs = x + (set / G * C + set % G * Cg) * plane;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * bs, count = std::min(bs, Cg - first);
      // Each position's largest |x − z_x| in the block, and whether every code is in the table.
      std::fill(largest.begin(), largest.end(), 0);
      int32_t smallest_d = d_lo, largest_d = d_hi;
      for (int64_t c = first; c < first + count; ++c) {
        const int32_t* __restrict xc = xs + c * plane;
        int32_t* __restrict top = largest.data();
        for (int64_t pos = 0; pos < plane; ++pos) {
          const int32_t d = xc[pos] - zero_point;
          smallest_d = std::min(smallest_d, d), largest_d = std::max(largest_d, d);
          top[pos] = std::max(top[pos], d < 0 ? -d : d);
        }
      }
      if (smallest_d < d_lo || largest_d > d_hi) return false;
      // The table row of each position's block, as the index of its entry for x − z_x = 0.
      for (int64_t pos = 0; pos < plane; ++pos)
        base[static_cast<size_t>(pos)] =
            static_cast<int32_t>(t.row_of[static_cast<size_t>(largest[static_cast<size_t>(pos)])] * codes - t.d_lo);
      std::fill(lo.begin(), lo.end(), kNoBits), std::fill(hi.begin(), hi.end(), -kNoBits);
      double* values = &out.values[static_cast<size_t>(set * plane * blocks + b) * static_cast<size_t>(out.stride)];
      const int64_t vector_stride = blocks * out.stride;
      int64_t count_done = 0;
      if (simd_at_least(SimdLevel::avx512_vnni) &&
          avx512::table_elements(xs + first * plane, plane, count, zero_point, base.data(), t.values.data(),
                                 t.bits.data(), vector_stride, values, lo.data(), hi.data()))
        count_done = count;
      for (int64_t c = first + count_done; c < first + count; ++c) {
        const int32_t* xc = xs + c * plane;
        double* column = values + (c - first);
        for (int64_t pos = 0; pos < plane; ++pos) {
          const auto e = static_cast<size_t>(base[static_cast<size_t>(pos)] + xc[pos] - zero_point);
          column[pos * vector_stride] = t.values[e];
          lo[static_cast<size_t>(pos)] = std::min<int32_t>(lo[static_cast<size_t>(pos)], t.low[e]);
          hi[static_cast<size_t>(pos)] = std::max<int32_t>(hi[static_cast<size_t>(pos)], t.high[e]);
        }
      }
      for (int64_t pos = 0; pos < plane; ++pos) {
        const auto at = static_cast<size_t>((set * plane + pos) * blocks + b);
        out.low[at] = lo[static_cast<size_t>(pos)], out.high[at] = hi[static_cast<size_t>(pos)];
      }
    }
  }
  return true;
}

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Output (row, m) of the GEMM S with the bias: its code, or false if the sum may not be exact.
// One output channel's constants, held in registers across its outputs (the output stores could alias the
// weights' vectors, so the compiler would reload them).
struct ChannelConstants {
  int32_t weight_low, weight_high, bias_low, bias_high;
  double bias;
  ChannelConstants(const PreparedBlockWeights& w, int64_t m)
      : weight_low(w.weight_low[static_cast<size_t>(m)]),
        weight_high(w.weight_high[static_cast<size_t>(m)]),
        bias_low(w.bias_low[static_cast<size_t>(m)]),
        bias_high(w.bias_high[static_cast<size_t>(m)]),
        bias(w.bias_values[static_cast<size_t>(m)]) {}
  // A column of a block matmul: its bit range, no bias.
  ChannelConstants(int32_t low, int32_t high)
      : weight_low(low), weight_high(high), bias_low(kNoBits), bias_high(-kNoBits), bias(0) {}
};

inline __attribute__((always_inline)) bool fast_output(double sum, int32_t alow, int32_t ahigh, int32_t log2_terms,
                                                       const ChannelConstants& c, double reciprocal,
                                                       const BlockMacParams& p, int32_t& code) {
  if (!exact_in_double(alow, ahigh, c.weight_low, c.weight_high, c.bias_low, c.bias_high, log2_terms)) return false;
  code = output_code_of_double(sum + c.bias, reciprocal, p);
  return true;
}

bool fast_linear(int64_t rows, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                 const PreparedBlockWeights& prepared, int32_t* out) {
  const int64_t K = w.group_channels, M = w.out_channels;
  DoubleBlocks a;
  if (!convert_input_fast(
          x, rows, K, 1, [K](int64_t r) { return r * K; }, p, prepared, a))
    return false;
  const int64_t row_length = a.blocks * a.stride;
  const Eigen::Map<const RowMatrix> A(a.values.data(), rows, row_length);
  const Eigen::Map<const RowMatrix> W(prepared.weight_values.data(), M, row_length);
  RowMatrix s(rows, M);
  if (prepared.weight_panels.empty() ||
      !gemm_f64(a.values.data(), row_length, rows, row_length, prepared.weight_panels.data(), M, s.data(), M))
    s.noalias() = A * W.transpose();
  const double reciprocal = 1.0 / to_double(p.output_scale);
  const int32_t log2_terms = ceil_log2(row_length);
  for (int64_t r = 0; r < rows; ++r) {
    int32_t low = kNoBits, high = -kNoBits;
    a.widen_by_vector(r, low, high);
    for (int64_t m = 0; m < M; ++m)
      if (!fast_output(s(r, m), low, high, log2_terms, ChannelConstants(prepared, m), reciprocal, p, out[r * M + m]))
        return false;
  }
  return true;
}

// A convolution with one input channel per group (a stem on one image channel, a depthwise layer): each tap
// holds one element, so the convolution runs directly on the group's input, held with its bit ranges in
// planes with the padding as zeros (an empty range): every tap of every output is a load without a bounds
// test, and no im2col matrix or GEMM.
class PaddedPlane {
 public:
  explicit PaddedPlane(const ConvGeometry& geo)
      : geo_(geo),
        width_(geo.in_w + geo.pad_left + geo.pad_right),
        values_(static_cast<size_t>((geo.in_h + geo.pad_top + geo.pad_bottom) * width_)),
        low_(values_.size()),
        high_(values_.size()) {
    kernel_.width = width_, kernel_.out_h = geo.out_h(), kernel_.out_w = geo.out_w();
    kernel_.kernel_h = geo.kernel_h, kernel_.kernel_w = geo.kernel_w, kernel_.stride_h = geo.stride_h;
    kernel_.stride_w = geo.stride_w, kernel_.dilation_h = geo.dilation_h, kernel_.dilation_w = geo.dilation_w;
  }
  // The input vectors [first, first + H·W) (one element and one block each).
  void fill(const DoubleBlocks& a, int64_t first) {
    std::fill(values_.begin(), values_.end(), 0.0);
    std::fill(low_.begin(), low_.end(), kNoBits), std::fill(high_.begin(), high_.end(), -kNoBits);
    for (int64_t iy = 0; iy < geo_.in_h; ++iy) {
      const size_t from = static_cast<size_t>(first + iy * geo_.in_w);
      const size_t to = static_cast<size_t>((iy + geo_.pad_top) * width_ + geo_.pad_left);
      const auto count = static_cast<size_t>(geo_.in_w);
      std::copy_n(&a.values[from], count, &values_[to]);
      std::copy_n(&a.low[from], count, &low_[to]), std::copy_n(&a.high[from], count, &high_[to]);
    }
  }
  // Each output position's bit range over its taps (tap by tap over a row of outputs: loops the compiler
  // vectorizes at stride 1).
  void ranges(int32_t* low, int32_t* high) const {
    if (simd_at_least(SimdLevel::avx512_vnni) && avx512::plane_ranges(kernel_, low_.data(), high_.data(), low, high))
      return;
    const int64_t OW = geo_.out_w();
    for (int64_t oy = 0; oy < geo_.out_h(); ++oy) {
      int32_t* __restrict lo = low + oy * OW;
      int32_t* __restrict hi = high + oy * OW;
      std::fill(lo, lo + OW, kNoBits), std::fill(hi, hi + OW, -kNoBits);
      for (int64_t ky = 0; ky < geo_.kernel_h; ++ky)
        for (int64_t kx = 0; kx < geo_.kernel_w; ++kx) {
          const int64_t first = (oy * geo_.stride_h + ky * geo_.dilation_h) * width_ + kx * geo_.dilation_w;
          const int32_t* __restrict l = &low_[static_cast<size_t>(first)];
          const int32_t* __restrict h = &high_[static_cast<size_t>(first)];
          if (geo_.stride_w == 1)
            for (int64_t ox = 0; ox < OW; ++ox) lo[ox] = std::min(lo[ox], l[ox]), hi[ox] = std::max(hi[ox], h[ox]);
          else
            for (int64_t ox = 0; ox < OW; ++ox)
              lo[ox] = std::min(lo[ox], l[ox * geo_.stride_w]), hi[ox] = std::max(hi[ox], h[ox * geo_.stride_w]);
        }
    }
  }
  // Each output channel's sums [channels, out_h · out_w] from its tap weights [channels, taps] (the same order of
  // loops).
  void conv(const double* weights, int64_t channels, double* sums) const {
    if (simd_at_least(SimdLevel::avx512_vnni) && avx512::plane_conv(kernel_, values_.data(), weights, channels, sums))
      return;
    const int64_t OW = geo_.out_w(), taps = geo_.kernel_h * geo_.kernel_w;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t oy = 0; oy < geo_.out_h(); ++oy) {
        double* __restrict row = sums + (c * geo_.out_h() + oy) * OW;
        std::fill(row, row + OW, 0.0);
        for (int64_t ky = 0, t = 0; ky < geo_.kernel_h; ++ky)
          for (int64_t kx = 0; kx < geo_.kernel_w; ++kx, ++t) {
            const double weight = weights[c * taps + t];
            const double* __restrict v = &values_[static_cast<size_t>(
                (oy * geo_.stride_h + ky * geo_.dilation_h) * width_ + kx * geo_.dilation_w)];
            if (geo_.stride_w == 1)
              for (int64_t ox = 0; ox < OW; ++ox) row[ox] += weight * v[ox];
            else
              for (int64_t ox = 0; ox < OW; ++ox) row[ox] += weight * v[ox * geo_.stride_w];
          }
      }
  }

 private:
  const ConvGeometry& geo_;
  int64_t width_;
  std::vector<double> values_;
  std::vector<int32_t> low_, high_;
  avx512::PlaneConv kernel_;
};

// The outputs of one output channel from its sums s[row · stride]; false if one may not be exact (the layer
// then runs the spec loops).
bool channel_outputs(const double* s, int64_t stride, int64_t rows, const int32_t* low, const int32_t* high,
                     int32_t log2_terms, const ChannelConstants& channel, double reciprocal, const BlockMacParams& p,
                     int32_t* y) {
  const BlockMacParams local = p;  // the output's zero point and range in registers too
  int64_t row = 0;
  const bool vectors = stride == 1 && simd_at_least(SimdLevel::avx512_vnni);
  avx512::BlockOutputs o;
  if (vectors)
    o.weight_low = channel.weight_low, o.weight_high = channel.weight_high, o.bias_low = channel.bias_low,
    o.bias_high = channel.bias_high, o.log2_terms = log2_terms, o.bias = channel.bias, o.reciprocal = reciprocal,
    o.zero_point = p.output_zero_point, o.lo = p.output_lo, o.hi = p.output_hi;
  while (row < rows) {
    // Eight at a time while they are plainly exact and away from ties; the output it stops at here.
    if (vectors) row += avx512::block_outputs(o, s + row, low + row, high + row, rows - row, y + row);
    if (row == rows) break;
    if (!fast_output(s[row * stride], low[row], high[row], log2_terms, channel, reciprocal, local, y[row]))
      return false;
    ++row;
  }
  return true;
}

bool fast_conv(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
               const PreparedBlockWeights& prepared, int32_t* out) {
  const int64_t G = geo.groups, Cg = geo.in_channels / G, M = geo.out_channels, Mg = M / G;
  const int64_t H = geo.in_h, W = geo.in_w, OH = geo.out_h(), OW = geo.out_w(), plane = H * W, P = OH * OW;
  // Scratch kept per thread between calls: the layers of a run reuse it instead of fresh pages each call.
  thread_local DoubleBlocks a;
  const bool converted = prepared.input_table.usable() ? convert_planes_fast(geo, x, p, prepared.input_table, a)
                                                       : convert_input_fast(x, geo.batch * G * plane, Cg, plane,
                                                                            conv_vector_base(geo), p, prepared, a);
  if (!converted) return false;
  const int64_t tap_length = a.blocks * a.stride, row_length = w.taps * tap_length;
  thread_local RowMatrix im2col, s;
  thread_local std::vector<int32_t> low, high;
  if (tap_length != 1) im2col.resize(P, row_length), s.resize(P, Mg);
  low.resize(static_cast<size_t>(P)), high.resize(static_cast<size_t>(P));
  const double reciprocal = 1.0 / to_double(p.output_scale);
  const int32_t log2_terms = ceil_log2(row_length);
  std::optional<PaddedPlane> padded;
  thread_local std::vector<double> channel_sums, channel_major;
  if (tap_length == 1) padded.emplace(geo), channel_sums.resize(static_cast<size_t>(Mg * P));
  for (int64_t n = 0; n < geo.batch; ++n)
    for (int64_t g = 0; g < G; ++g) {
      const double* weights = &prepared.weight_values[static_cast<size_t>(g * Mg * row_length)];
      if (padded) {
        padded->fill(a, (n * G + g) * plane);
        padded->ranges(low.data(), high.data());
        padded->conv(weights, Mg, channel_sums.data());
        for (int64_t mm = 0; mm < Mg; ++mm) {
          if (!channel_outputs(channel_sums.data() + mm * P, 1, P, low.data(), high.data(), log2_terms,
                               ChannelConstants(prepared, g * Mg + mm), reciprocal, p, out + (n * M + g * Mg + mm) * P))
            return false;
        }
        continue;
      }
      {
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox) {
            const int64_t row = oy * OW + ox;
            double* dst = &im2col(row, 0);
            int32_t lo = kNoBits, hi = -kNoBits;
            for (int64_t ky = 0; ky < geo.kernel_h; ++ky) {
              const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dilation_h;
              for (int64_t kx = 0; kx < geo.kernel_w; ++kx, dst += tap_length) {
                const int64_t ix = ox * geo.stride_w - geo.pad_left + kx * geo.dilation_w;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                  std::fill(dst, dst + tap_length, 0.0);
                  continue;
                }
                const size_t vector = static_cast<size_t>((n * G + g) * plane + iy * W + ix);
                const size_t first_block = vector * static_cast<size_t>(a.blocks);
                const double* __restrict src = &a.values[first_block * static_cast<size_t>(a.stride)];
                for (int64_t i = 0; i < tap_length; ++i) dst[i] = src[i];  // inline: a library call per tap costs more
                a.widen_by_vector(static_cast<int64_t>(vector), lo, hi);
              }
            }
            low[static_cast<size_t>(row)] = lo, high[static_cast<size_t>(row)] = hi;
          }
      }
      const bool packed = w.groups == G && !prepared.weight_panels.empty();
      if (Mg * 4 <= kF64PanelWidth && row_length <= 64) {
        // A few channels (a depthwise layer's one): dot products of the rows, not a panel mostly padding.
        for (int64_t row = 0; row < P; ++row)
          for (int64_t mm = 0; mm < Mg; ++mm) {
            double sum = 0;
            for (int64_t i = 0; i < row_length; ++i) sum += im2col(row, i) * weights[mm * row_length + i];
            s(row, mm) = sum;
          }
      } else if (!packed || !gemm_f64(im2col.data(), row_length, P, row_length,
                                      &prepared.weight_panels[static_cast<size_t>(g * prepared.group_panel_values)], Mg,
                                      s.data(), Mg)) {
        s.noalias() = im2col * Eigen::Map<const RowMatrix>(weights, Mg, row_length).transpose();
      }
      const double* sums = s.data();
      int64_t stride = Mg;
      if (Mg > 1) {  // each channel's sums in a row of their own: the outputs' loop reads them contiguously
        channel_major.resize(static_cast<size_t>(Mg * P));
        for (int64_t row = 0; row < P; ++row)
          for (int64_t mm = 0; mm < Mg; ++mm) channel_major[static_cast<size_t>(mm * P + row)] = s(row, mm);
        sums = channel_major.data(), stride = 1;
      }
      for (int64_t mm = 0; mm < Mg; ++mm)
        if (!channel_outputs(stride == 1 ? sums + mm * P : sums + mm, stride, P, low.data(), high.data(), log2_terms,
                             ChannelConstants(prepared, g * Mg + mm), reciprocal, p, out + (n * M + g * Mg + mm) * P))
          return false;
    }
  return true;
}
}  // namespace

BlockMacCounts& block_mac_counts() {
  thread_local BlockMacCounts counts;
  return counts;
}

void check_block_weights(const BlockMacParams& p, const BlockWeights& w, const std::string& what) {
  const BlockFormat &fa = p.activation_format, &fw = p.weight_format;
  if (fa.block_size != fw.block_size)
    throw InputError(what + ": activation blocks of " + std::to_string(fa.block_size) + " and weight blocks of " +
                     std::to_string(fw.block_size) + " do not line up");
  const int64_t bpt = w.blocks_per_tap(fw.block_size);
  const auto expect = [&](size_t got, int64_t want, const char* name) {
    if (static_cast<int64_t>(got) != want)
      throw InputError(what + ": " + name + " has " + std::to_string(got) + " entries, expected " +
                       std::to_string(want));
  };
  expect(w.codes.size(), w.out_channels * w.taps * w.group_channels, "the weight codes");
  expect(w.scales.size(), w.out_channels * w.taps * bpt, "the weight scales");
  if (!w.bias.empty()) expect(w.bias.size(), w.out_channels, "the bias");
  const uint32_t code_limit = uint32_t{1} << fw.element_bits(), scale_limit = uint32_t{1} << fw.scale_bits;
  for (uint32_t c : w.codes)
    if (c >= code_limit)
      throw InputError(what + ": weight code " + std::to_string(c) + " is not a " + fw.name + " element code");
  for (uint32_t s : w.scales)
    if (s >= scale_limit) throw InputError(what + ": weight scale " + std::to_string(s) + " is not a scale code");
  if (p.output_scale.kind != ExactValue::Kind::finite || p.output_scale.significand == 0 || p.output_scale.negative ||
      p.output_scale.significand >= (uint64_t{1} << 24))
    throw InputError(what + ": the output scale must be a positive finite float32");
}

PreparedBlockWeights prepare_block_weights(const BlockMacParams& p, const BlockWeights& w) {
  const BlockFormat& f = p.weight_format;
  const ElementTable table = element_table(f);
  const int64_t bs = f.block_size, bpt = w.blocks_per_tap(bs), vectors = w.out_channels * w.taps;
  AlignedBlocks a;
  a.block_size = bs, a.stride = std::min(bs, w.group_channels);
  a.elements.resize(static_cast<size_t>(vectors * bpt * a.stride));
  a.exponents.resize(static_cast<size_t>(vectors * bpt));
  a.special.resize(static_cast<size_t>(vectors * bpt));
  for (int64_t v = 0; v < vectors; ++v)
    for (int64_t b = 0; b < bpt; ++b) {
      const int64_t first = b * bs, count = std::min(bs, w.group_channels - first);
      const size_t at = static_cast<size_t>(v * bpt + b);
      align_block(f, table, &w.codes[static_cast<size_t>(v * w.group_channels + first)], count, a.stride, w.scales[at],
                  &a.elements[at * static_cast<size_t>(a.stride)], a.exponents[at], a.special[at]);
    }
  PreparedBlockWeights prepared;
  prepared.activation_table = element_table(p.activation_format);
  prepared.wide_sums = needs_wide_sums(prepared.activation_table, table, bs);
  DoubleBlocks doubles;
  prepared.fast = p.accumulation == BlockAccumulation::exact && to_doubles(a, doubles);
  if (prepared.fast) {
    const size_t M = static_cast<size_t>(w.out_channels), per_row = static_cast<size_t>(w.taps * bpt);
    prepared.weight_values = std::move(doubles.values);
    prepared.weight_low.assign(M, kNoBits), prepared.weight_high.assign(M, -kNoBits);
    prepared.bias_low.assign(M, kNoBits), prepared.bias_high.assign(M, -kNoBits), prepared.bias_values.assign(M, 0.0);
    for (size_t m = 0; m < M; ++m) {
      for (size_t b = m * per_row; b < (m + 1) * per_row; ++b)
        prepared.weight_low[m] = std::min(prepared.weight_low[m], doubles.low[b]),
        prepared.weight_high[m] = std::max(prepared.weight_high[m], doubles.high[b]);
      if (w.bias.empty() || w.bias[m].is_zero()) continue;
      prepared.bias_values[m] = to_double(w.bias[m]);
      bit_range(prepared.bias_values[m], prepared.bias_low[m], prepared.bias_high[m]);
    }
    prepared.input_table = build_input_table(p, prepared.activation_table);
    if (w.groups >= 1 && w.out_channels % w.groups == 0) {
      const int64_t Mg = w.out_channels / w.groups, row_length = w.taps * bpt * doubles.stride;
      for (int64_t g = 0; g < w.groups; ++g) {
        const std::vector<double> panels =
            pack_f64_panels(&prepared.weight_values[static_cast<size_t>(g * Mg * row_length)], Mg, row_length);
        prepared.group_panel_values = static_cast<int64_t>(panels.size());
        prepared.weight_panels.insert(prepared.weight_panels.end(), panels.begin(), panels.end());
      }
    }
  }
  prepared.blocks = std::move(a);
  return prepared;
}

void block_linear_mac(int64_t rows, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                      const PreparedBlockWeights& prepared, int32_t* out) {
  const int64_t outputs = rows * w.out_channels;
  if (prepared.fast && simd_at_least(SimdLevel::portable) && fast_linear(rows, x, p, w, prepared, out)) {
    block_mac_counts().fast += outputs;
    return;
  }
  block_mac_counts().spec += outputs;
  const AlignedBlocks& aw = prepared.blocks;
  const ElementTable& at = prepared.activation_table;
  const bool wide = prepared.wide_sums;
  const int64_t K = w.group_channels, M = w.out_channels, bpt = w.blocks_per_tap(p.weight_format.block_size);
  const AlignedBlocks a = convert_input(
      x, rows, K, 1, [K](int64_t r) { return r * K; }, p, at);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t m = 0; m < M; ++m) {
      BlockAccumulator sum(p.accumulation);
      if (!w.bias.empty()) sum.add_value(w.bias[static_cast<size_t>(m)]);
      for (int64_t b = 0; b < bpt; ++b)
        accumulate(sum, a, static_cast<size_t>(r * bpt + b), aw, static_cast<size_t>(m * bpt + b), wide);
      out[r * M + m] = block_output_code(sum.result(), p);
    }
}

void block_conv_mac(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p, const BlockWeights& w,
                    const PreparedBlockWeights& prepared, int32_t* out) {
  const int64_t outputs = geo.batch * geo.out_channels * geo.out_h() * geo.out_w();
  if (prepared.fast && simd_at_least(SimdLevel::portable) && fast_conv(geo, x, p, w, prepared, out)) {
    block_mac_counts().fast += outputs;
    return;
  }
  block_mac_counts().spec += outputs;
  const AlignedBlocks& aw = prepared.blocks;
  const ElementTable& at = prepared.activation_table;
  const bool wide = prepared.wide_sums;
  const int64_t G = geo.groups, C = geo.in_channels, Cg = C / G, M = geo.out_channels, Mg = M / G;
  const int64_t H = geo.in_h, W = geo.in_w, OH = geo.out_h(), OW = geo.out_w(), KH = geo.kernel_h, KW = geo.kernel_w;
  const int64_t bpt = w.blocks_per_tap(p.weight_format.block_size), plane = H * W;
  const AlignedBlocks a = convert_input(x, geo.batch * G * plane, Cg, plane, conv_vector_base(geo), p, at);
  for (int64_t n = 0; n < geo.batch; ++n)
    for (int64_t m = 0; m < M; ++m) {
      const int64_t g = m / Mg;
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          BlockAccumulator sum(p.accumulation);
          if (!w.bias.empty()) sum.add_value(w.bias[static_cast<size_t>(m)]);
          for (int64_t ky = 0; ky < KH; ++ky) {
            const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dilation_h;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < KW; ++kx) {
              const int64_t ix = ox * geo.stride_w - geo.pad_left + kx * geo.dilation_w;
              if (ix < 0 || ix >= W) continue;
              const int64_t vector = (n * G + g) * plane + iy * W + ix, tap = ky * KW + kx;
              for (int64_t b = 0; b < bpt; ++b)
                accumulate(sum, a, static_cast<size_t>(vector * bpt + b), aw,
                           static_cast<size_t>((m * w.taps + tap) * bpt + b), wide);
            }
          }
          out[((n * M + m) * OH + oy) * OW + ox] = block_output_code(sum.result(), p);
        }
    }
}

BlockCodes block_linear_input(int64_t rows, int64_t in_features, const int32_t* x, const BlockMacParams& p) {
  BlockCodes c;
  convert_input(
      x, rows, in_features, 1, [in_features](int64_t r) { return r * in_features; }, p,
      element_table(p.activation_format), &c);
  return c;
}

BlockCodes block_conv_input(const ConvGeometry& geo, const int32_t* x, const BlockMacParams& p) {
  BlockCodes c;
  convert_input(x, geo.batch * geo.groups * geo.in_h * geo.in_w, geo.in_channels / geo.groups, geo.in_h * geo.in_w,
                conv_vector_base(geo), p, element_table(p.activation_format), &c);
  return c;
}

BlockMacParams block_matmul_b_side(const BlockMatmulParams& p) {
  BlockMacParams b = p.a;
  b.activation_format = p.b_format;
  b.input_scale = p.b_scale, b.input_zero_point = p.b_zero_point, b.input_lo = p.b_lo, b.input_hi = p.b_hi;
  b.activation_rounding.seed = p.a.activation_rounding.seed + 1;
  return b;
}

// B's columns: vector v = (batch, column n), its K codes N apart.
auto column_base(int64_t K, int64_t N) {
  return [K, N](int64_t v) { return v / N * K * N + v % N; };
}

BlockCodes block_matmul_b_input(int64_t batch, int64_t K, int64_t N, const int32_t* b, const BlockMatmulParams& p) {
  BlockCodes c;
  const BlockMacParams pb = block_matmul_b_side(p);
  convert_input(b, batch * N, K, N, column_base(K, N), pb, element_table(p.b_format), &c);
  return c;
}

namespace {
// The fast form of a block matmul (the exact model): both operands' blocks as doubles, one GEMM a batch
// (B's columns are the converted vectors, so A · Bᵀ of two row-major matrices), each output checked exact from
// its row's and column's bit ranges; false if a block is NaN or infinite or a sum may not be exact.
bool fast_matmul(int64_t batch, int64_t M, int64_t N, const AlignedBlocks& aa, const AlignedBlocks& ab,
                 const BlockMacParams& p, int32_t* out) {
  DoubleBlocks da, db;
  if (!to_doubles(aa, da) || !to_doubles(ab, db)) return false;
  const int64_t blocks = static_cast<int64_t>(aa.exponents.size()) / (batch * M), row_length = blocks * aa.stride;
  da.blocks = db.blocks = blocks;
  const auto ranges = [](const DoubleBlocks& d, int64_t vectors, std::vector<int32_t>& low,
                         std::vector<int32_t>& high) {
    low.assign(static_cast<size_t>(vectors), kNoBits), high.assign(static_cast<size_t>(vectors), -kNoBits);
    for (int64_t v = 0; v < vectors; ++v)
      d.widen_by_vector(v, low[static_cast<size_t>(v)], high[static_cast<size_t>(v)]);
  };
  std::vector<int32_t> a_low, a_high, b_low, b_high;
  ranges(da, batch * M, a_low, a_high), ranges(db, batch * N, b_low, b_high);
  const double reciprocal = 1.0 / to_double(p.output_scale);
  const int32_t log2_terms = ceil_log2(row_length);
  RowMatrix s(M, N);
  for (int64_t t = 0; t < batch; ++t) {
    const double* at = &da.values[static_cast<size_t>(t * M * row_length)];
    const double* bt = &db.values[static_cast<size_t>(t * N * row_length)];
    const std::vector<double> panels = pack_f64_panels(bt, N, row_length);
    if (!gemm_f64(at, row_length, M, row_length, panels.data(), N, s.data(), N))
      s.noalias() =
          Eigen::Map<const RowMatrix>(at, M, row_length) * Eigen::Map<const RowMatrix>(bt, N, row_length).transpose();
    for (int64_t n = 0; n < N; ++n) {
      const size_t column = static_cast<size_t>(t * N + n);
      const ChannelConstants c(b_low[column], b_high[column]);
      for (int64_t m = 0; m < M; ++m) {
        const size_t row = static_cast<size_t>(t * M + m);
        if (!fast_output(s(m, n), a_low[row], a_high[row], log2_terms, c, reciprocal, p, out[(t * M + m) * N + n]))
          return false;
      }
    }
  }
  return true;
}
}  // namespace

void block_matmul(int64_t batch, int64_t M, int64_t K, int64_t N, const int32_t* a, const int32_t* b,
                  const BlockMatmulParams& p, int32_t* out) {
  if (p.a.activation_format.block_size != p.b_format.block_size)
    throw InputError("block matmul: blocks of " + std::to_string(p.a.activation_format.block_size) + " and " +
                     std::to_string(p.b_format.block_size) + " do not line up");
  const BlockMacParams pb = block_matmul_b_side(p);
  const ElementTable ta = element_table(p.a.activation_format), tb = element_table(p.b_format);
  const AlignedBlocks aa = convert_input(
      a, batch * M, K, 1, [K](int64_t v) { return v * K; }, p.a, ta);
  const AlignedBlocks ab = convert_input(b, batch * N, K, N, column_base(K, N), pb, tb);
  const int64_t outputs = batch * M * N;
  if (p.a.accumulation == BlockAccumulation::exact && simd_at_least(SimdLevel::portable) &&
      fast_matmul(batch, M, N, aa, ab, p.a, out)) {
    block_mac_counts().fast += outputs;
    return;
  }
  block_mac_counts().spec += outputs;
  const bool wide = needs_wide_sums(ta, tb, p.a.activation_format.block_size);
  const int64_t blocks = (K + p.a.activation_format.block_size - 1) / p.a.activation_format.block_size;
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        BlockAccumulator sum(p.a.accumulation);
        for (int64_t blk = 0; blk < blocks; ++blk)
          accumulate(sum, aa, static_cast<size_t>((t * M + m) * blocks + blk), ab,
                     static_cast<size_t>((t * N + n) * blocks + blk), wide);
        out[(t * M + m) * N + n] = block_output_code(sum.result(), p.a);
      }
}

}  // namespace chipref::kernels
