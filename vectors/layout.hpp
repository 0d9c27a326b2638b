#pragma once
// Where each element of a tensor goes in a vector file (docs/vectors.md): the element order (layout)
// and how elements share a word (packing).
//   nchw   the tensor's own row-major order (for activations, NCHW)
//   nhwc   4-D tensors [N, C, H, W] stored [N, H, W, C]; others row-major
//   tiled  the tensor as a matrix [A, B] (B its last axis, A the product of the others), cut into tiles
//          of R rows × C columns, zero-padded to whole tiles; tiles in row-major order over the tile grid,
//          the elements of a tile row-major
// Packing: `per_word` consecutive stored elements form one word of per_word · bits bits (at most 64);
// element j of a word sits at bits [j·bits, (j+1)·bits) (lsb-first) or [W − (j+1)·bits, W − j·bits)
// (msb-first); the last word's unused slots are 0.

#include <cstdint>
#include <string>
#include <vector>

#include "model/tensor.hpp"
#include "vectors/encoding.hpp"

namespace chipref::vectors {

struct Layout {
  enum class Kind { nchw, nhwc, tiled } kind = Kind::nchw;
  int64_t tile_rows = 0, tile_cols = 0;  // tiled only
  int per_word = 1;
  bool msb_first = false;
};

// "nchw", "nhwc" or "tiled:RxC" (R, C >= 1); InputError otherwise.
Layout parse_layout(const std::string& text);
// How a manifest names the element order of a tensor of `shape` ("NCHW", "NHWC", "row-major",
// "tiled 4x8 over [A, B]").
std::string layout_name(const Layout& layout, const Shape& shape);

// The stored order of a tensor's row-major values (tiled: zero padding included), and back.
std::vector<int64_t> to_stored(const Layout& layout, const Shape& shape, const std::vector<int64_t>& values);
std::vector<int64_t> from_stored(const Layout& layout, const Shape& shape, const std::vector<int64_t>& stored);
int64_t stored_count(const Layout& layout, const Shape& shape);

// Words of per_word elements, and back (InputError if per_word · bits > 64).
ElementType word_type(const Layout& layout, ElementType element);
std::vector<int64_t> pack(const Layout& layout, ElementType element, const std::vector<int64_t>& stored);
std::vector<int64_t> unpack(const Layout& layout, ElementType element, const std::vector<int64_t>& words,
                            int64_t count);

}  // namespace chipref::vectors
