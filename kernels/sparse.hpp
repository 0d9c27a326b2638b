#pragma once
// N:M structured-sparse weights (spec: docs/numerics.md §13): a [rows, k] weight matrix whose reduction
// axis k is cut into groups of M consecutive positions (the last group padded with zeros to M when M
// does not divide k), of which at most N hold a non-zero weight. Stored as the N kept values of each
// group and their N positions in the group (strictly ascending, ⌈log2 M⌉ bits each), packed LSB-first
// into 32-bit words:
//   index j of group g of row r is bits [b·t, b·t + b) of the stream, t = (r·groups + g)·N + j,
//   bit s of the stream is bit (s mod 32) of word ⌊s / 32⌋ (an index may straddle two words).
// `decode_nm` is the SparseDecoder in front of the MAC array; `conv_mac_skip_zero` and
// `linear_mac_skip_zero` compute from the kept values only, bit-identical to the dense MACs on the
// decoded weights (a zero product changes neither a sum nor an overflow count).

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/mac.hpp"
#include "numerics/accumulator.hpp"

namespace chipref::kernels {

struct NmPattern {
  int n = 2, m = 4;
  int index_bits() const;  // ⌈log2 m⌉ (at least 1)
  bool valid() const { return m >= 2 && m <= 256 && n >= 1 && n <= m; }
};

struct NmWeights {
  NmPattern pattern;
  int64_t rows = 0, k = 0;            // the dense matrix [rows, k]
  std::vector<int32_t> values;        // [rows][groups][n]
  std::vector<uint32_t> index_words;  // the packed index stream
  int64_t groups() const { return (k + pattern.m - 1) / pattern.m; }
  int64_t index_count() const { return rows * groups() * pattern.n; }
  int64_t words() const { return (index_count() * pattern.index_bits() + 31) / 32; }
  uint32_t index(int64_t t) const;  // the t-th index of the stream
};

// Packs per-(row, group) kept positions (each in [0, m), ascending) and values into the format above.
NmWeights encode_nm(NmPattern pattern, int64_t rows, int64_t k, const std::vector<int32_t>& values,
                    const std::vector<uint32_t>& indices);

// The compressed form of dense [rows, k] codes that are N:M sparse: per group its non-zero positions,
// filled up to N with the lowest zero positions (padding included), ascending. InputError naming `what`,
// the row and the group if a group has more than N non-zeros.
NmWeights compress_nm(NmPattern pattern, int64_t rows, int64_t k, const std::vector<int32_t>& dense,
                      const std::string& what);

// Throws InputError naming `what`, the row and the group for invalid metadata: wrong lengths, an index
// outside [0, M), indices not strictly ascending (a duplicate), a kept position in the padding with a
// non-zero value.
void validate_nm(const NmWeights& w, const std::string& what);

// The dense [rows, k] matrix (validated first).
std::vector<int32_t> decode_nm(const NmWeights& w, const std::string& what);

// conv_mac / linear_mac (mac.hpp) from the kept values only: per output channel the bias first, then
// the kept positions of the reduction axis ascending, through the accumulator one addition at a time.
void conv_mac_skip_zero(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const NmWeights& w,
                        const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow,
                        int32_t* out);
void linear_mac_skip_zero(int64_t rows, const int32_t* a, int32_t a_zero_point, const NmWeights& w,
                          const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow,
                          int32_t* out);

}  // namespace chipref::kernels
