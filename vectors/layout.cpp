#include "vectors/layout.hpp"

#include "core/error.hpp"

namespace chipref::vectors {

namespace {
// The matrix view of a tiled tensor: [A, B].
std::pair<int64_t, int64_t> matrix_of(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  const int64_t b = shape.back();
  return {b > 0 ? element_count(shape) / b : 0, b};
}
int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// stored index of each row-major element (a permutation, or an embedding into the padded tiles)
std::vector<int64_t> stored_index(const Layout& layout, const Shape& shape) {
  const int64_t n = element_count(shape);
  std::vector<int64_t> index(static_cast<size_t>(n));
  if (layout.kind == Layout::Kind::nhwc && shape.size() == 4) {
    const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
    for (int64_t b = 0; b < N; ++b)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
          for (int64_t x = 0; x < W; ++x) index[((b * C + c) * H + y) * W + x] = ((b * H + y) * W + x) * C + c;
  } else if (layout.kind == Layout::Kind::tiled) {
    const auto [a, b] = matrix_of(shape);
    const int64_t tiles_per_row = round_up(b, layout.tile_cols) / layout.tile_cols,
                  tile = layout.tile_rows * layout.tile_cols;
    for (int64_t i = 0; i < a; ++i)
      for (int64_t j = 0; j < b; ++j) {
        const int64_t t = (i / layout.tile_rows) * tiles_per_row + j / layout.tile_cols;
        index[i * b + j] = t * tile + (i % layout.tile_rows) * layout.tile_cols + j % layout.tile_cols;
      }
  } else {
    for (int64_t i = 0; i < n; ++i) index[i] = i;
  }
  return index;
}
}  // namespace

Layout parse_layout(const std::string& text) {
  Layout l;
  if (text == "nchw") return l;
  if (text == "nhwc") {
    l.kind = Layout::Kind::nhwc;
    return l;
  }
  const size_t x = text.find('x');
  if (text.rfind("tiled:", 0) == 0 && x != std::string::npos) {
    try {
      size_t r_used = 0, c_used = 0;
      l.tile_rows = std::stoll(text.substr(6, x - 6), &r_used);
      l.tile_cols = std::stoll(text.substr(x + 1), &c_used);
      if (r_used == x - 6 && c_used == text.size() - x - 1 && l.tile_rows >= 1 && l.tile_cols >= 1 &&
          l.tile_rows <= 4096 && l.tile_cols <= 4096) {
        l.kind = Layout::Kind::tiled;
        return l;
      }
    } catch (const std::exception&) {
    }
  }
  throw InputError("layout '" + text + "' is not one of: nchw, nhwc, tiled:RxC (R, C in 1..4096, e.g. tiled:16x16)");
}

std::string layout_name(const Layout& layout, const Shape& shape) {
  if (layout.kind == Layout::Kind::tiled) {
    const auto [a, b] = matrix_of(shape);
    return "tiled " + std::to_string(layout.tile_rows) + "x" + std::to_string(layout.tile_cols) + " over [" +
           std::to_string(a) + ", " + std::to_string(b) + "]";
  }
  if (shape.size() == 4) return layout.kind == Layout::Kind::nhwc ? "NHWC" : "NCHW";
  return "row-major";
}

int64_t stored_count(const Layout& layout, const Shape& shape) {
  if (layout.kind != Layout::Kind::tiled) return element_count(shape);
  const auto [a, b] = matrix_of(shape);
  return round_up(a, layout.tile_rows) * round_up(b, layout.tile_cols);
}

std::vector<int64_t> to_stored(const Layout& layout, const Shape& shape, const std::vector<int64_t>& values) {
  const std::vector<int64_t> index = stored_index(layout, shape);
  std::vector<int64_t> stored(static_cast<size_t>(stored_count(layout, shape)), 0);
  for (size_t i = 0; i < values.size(); ++i) stored[index[i]] = values[i];
  return stored;
}

std::vector<int64_t> from_stored(const Layout& layout, const Shape& shape, const std::vector<int64_t>& stored) {
  const std::vector<int64_t> index = stored_index(layout, shape);
  if (static_cast<int64_t>(stored.size()) != stored_count(layout, shape))
    throw InputError("vectors: " + std::to_string(stored.size()) + " stored elements; the layout needs " +
                     std::to_string(stored_count(layout, shape)));
  std::vector<int64_t> values(index.size());
  for (size_t i = 0; i < index.size(); ++i) values[i] = stored[index[i]];
  return values;
}

ElementType word_type(const Layout& layout, ElementType element) {
  if (layout.per_word < 1) throw InputError("vectors: elements per word must be >= 1");
  if (layout.per_word == 1) return element;
  const int bits = layout.per_word * element.bits;
  if (bits > 64)
    throw InputError("vectors: " + std::to_string(layout.per_word) + " elements of " + std::to_string(element.bits) +
                     " bits make a " + std::to_string(bits) + "-bit word; words are at most 64 bits");
  return ElementType{bits, bits == 64};  // a 64-bit word is written as its two's complement bit pattern
}

std::vector<int64_t> pack(const Layout& layout, ElementType element, const std::vector<int64_t>& stored) {
  if (layout.per_word == 1) return stored;
  const ElementType word = word_type(layout, element);
  const uint64_t mask = element.bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << element.bits) - 1;
  std::vector<int64_t> words((stored.size() + layout.per_word - 1) / layout.per_word, 0);
  for (size_t i = 0; i < stored.size(); ++i) {
    const int j = static_cast<int>(i % layout.per_word);
    const int shift = layout.msb_first ? word.bits - (j + 1) * element.bits : j * element.bits;
    words[i / layout.per_word] = static_cast<int64_t>(static_cast<uint64_t>(words[i / layout.per_word]) |
                                                      (static_cast<uint64_t>(stored[i]) & mask) << shift);
  }
  return words;
}

std::vector<int64_t> unpack(const Layout& layout, ElementType element, const std::vector<int64_t>& words,
                            int64_t count) {
  if (layout.per_word == 1) return words;
  const ElementType word = word_type(layout, element);
  const uint64_t mask = (uint64_t{1} << element.bits) - 1;  // element.bits < 64 when packed
  std::vector<int64_t> stored(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int j = static_cast<int>(i % layout.per_word);
    const int shift = layout.msb_first ? word.bits - (j + 1) * element.bits : j * element.bits;
    const uint64_t u = static_cast<uint64_t>(words.at(static_cast<size_t>(i / layout.per_word))) >> shift & mask;
    stored[i] =
        element.is_signed && (u >> (element.bits - 1)) & 1 ? static_cast<int64_t>(u | ~mask) : static_cast<int64_t>(u);
  }
  return stored;
}

}  // namespace chipref::vectors
