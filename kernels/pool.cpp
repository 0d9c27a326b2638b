#include "kernels/pool.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/error.hpp"

namespace chipref::kernels {

namespace {
// A window's reduction, taken separably: for each output row, the rows of its windows reduced element by
// element into one padded row (positions outside the input hold the identity), then the kernel_w entries of
// that row a window covers, for the window starting at each column. Sums and maxima are exact in any order, so
// this is the same integer as the window's positions taken one by one.
// In: int32 codes, or bytes (then `offset` is minus their base: byte − offset is the code). Out: int32, or bytes
// when the reduction of bytes is a byte (a maximum).
template <class Acc, class In, class Out, class Reduce>
void for_each_window(const ConvGeometry& g, const In* x, Out* out, Acc identity, int32_t offset, Reduce reduce) {
  if (!g.valid()) throw InputError("invalid pooling geometry (window larger than the padded input)");
  const int64_t oh = g.out_h(), ow = g.out_w();
  // A global pool (one window covering each whole plane, no padding): the plane reduced as one run.
  if (g.kernel_h == g.in_h && g.kernel_w == g.in_w && g.dilation_h == 1 && g.dilation_w == 1 && g.pad_top == 0 &&
      g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0) {
    const int64_t size = g.in_h * g.in_w;
    for (int64_t p = 0; p < g.batch * g.in_channels; ++p) {
      const In* plane = x + p * size;
      Acc v = identity;
      for (int64_t i = 0; i < size; ++i) v = reduce(v, static_cast<Acc>(plane[i]) - offset);
      out[p] = static_cast<Out>(v);
    }
    return;
  }
  // Windows that tile the planes exactly (no padding or dilation, stride = window, every row and column in
  // one window): all planes' rows reduced as one run in groups of kernel_h, then their columns in groups of
  // kernel_w, in blocks of rows that stay in L1, with no per-row setup (planes of 7–14 columns leave the
  // separable loop below mostly setup).
  if (g.pad_top == 0 && g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0 && g.dilation_h == 1 &&
      g.dilation_w == 1 && g.stride_h == g.kernel_h && g.stride_w == g.kernel_w && oh * g.kernel_h == g.in_h &&
      ow * g.kernel_w == g.in_w) {
    const int64_t rows = g.batch * g.in_channels * oh, width = g.in_w, kh = g.kernel_h, kw = g.kernel_w;
    const int64_t block = std::max<int64_t>(1, 2048 / width);  // output rows a block: 8 KB of sums
    thread_local std::vector<Acc> columns;
    columns.resize(static_cast<size_t>(block * width));
    for (int64_t first = 0; first < rows; first += block) {
      const int64_t count = std::min(block, rows - first), n = count * width;
      Acc* c = columns.data();
      for (int64_t r = 0; r < count; ++r) {
        const In* in = x + (first + r) * kh * width;
        Acc* col = c + r * width;
        for (int64_t i = 0; i < width; ++i) col[i] = reduce(identity, static_cast<Acc>(in[i]) - offset);
        for (int64_t ky = 1; ky < kh; ++ky)
          for (int64_t i = 0; i < width; ++i) col[i] = reduce(col[i], static_cast<Acc>(in[ky * width + i]) - offset);
      }
      Out* o = out + first * ow;
      const int64_t outputs = n / kw;
      if (kw == 2) {
        for (int64_t j = 0; j < outputs; ++j) o[j] = static_cast<Out>(reduce(c[2 * j], c[2 * j + 1]));
      } else {
        for (int64_t j = 0; j < outputs; ++j) {
          Acc v = c[j * kw];
          for (int64_t kx = 1; kx < kw; ++kx) v = reduce(v, c[j * kw + kx]);
          o[j] = static_cast<Out>(v);
        }
      }
    }
    return;
  }
  // the padded row spans every column a window reads: from −pad_left to the last window's last tap
  const int64_t span = (ow - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1;
  const int64_t starts = (ow - 1) * g.stride_w + 1;
  thread_local std::vector<Acc> row, window;
  row.assign(static_cast<size_t>(span), identity);
  if (window.size() < static_cast<size_t>(starts)) window.resize(static_cast<size_t>(starts));
  const int64_t first_col = g.pad_left, last_col = std::min(span, g.pad_left + g.in_w);  // input columns in `row`
  for (int64_t p = 0; p < g.batch * g.in_channels; ++p) {
    const In* plane = x + p * g.in_h * g.in_w;
    for (int64_t oy = 0; oy < oh; ++oy) {
      std::fill(row.begin() + first_col, row.begin() + last_col, identity);
      for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
        const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
        if (iy < 0 || iy >= g.in_h) continue;
        const In* in = plane + iy * g.in_w - g.pad_left;
        Acc* r = row.data();
        for (int64_t c = first_col; c < last_col; ++c) r[c] = reduce(r[c], static_cast<Acc>(in[c]) - offset);
      }
      // the window starting at every column up to the last window's start (contiguous, so the loops run on
      // vectors even where the windows are strided), then the strided windows' values
      Acc* t = window.data();
      const Acc* r = row.data();
      std::copy(r, r + starts, t);
      for (int64_t kx = 1; kx < g.kernel_w; ++kx) {
        const Acc* tap = r + kx * g.dilation_w;
        for (int64_t c = 0; c < starts; ++c) t[c] = reduce(t[c], tap[c]);
      }
      Out* o = out + (p * oh + oy) * ow;
      for (int64_t ox = 0; ox < ow; ++ox) o[ox] = static_cast<Out>(t[ox * g.stride_w]);
    }
  }
}
}  // namespace

void window_sum(const ConvGeometry& g, const int32_t* x, int32_t zero_point, int32_t* out) {
  // Summed modulo 2^32: the int32 output is the exact sum of the x − zp whenever it fits (|x − zp| < 2^17
  // for 16-bit codes, and windows of fewer than 2^14 elements), and any order of additions gives it; unsigned
  // lanes are twice as many per vector as int64 ones, and wrap without undefined behaviour.
  for_each_window<uint32_t>(g, x, out, 0u, zero_point, [](uint32_t s, uint32_t v) { return s + v; });
}

void window_max(const ConvGeometry& g, const int32_t* x, int32_t* out) {
  for_each_window<int32_t>(g, x, out, std::numeric_limits<int32_t>::min(), 0,
                           [](int32_t m, int32_t v) { return std::max(m, v); });
}

void window_max(const ConvGeometry& g, const uint8_t* x, int32_t base, int32_t* out) {
  for_each_window<int32_t>(g, x, out, std::numeric_limits<int32_t>::min(), -base,
                           [](int32_t m, int32_t v) { return std::max(m, v); });
}

bool every_window_reaches_input(const ConvGeometry& g) {
  return std::max(g.pad_top, g.pad_bottom) < (g.kernel_h - 1) * g.dilation_h + 1 &&
         std::max(g.pad_left, g.pad_right) < (g.kernel_w - 1) * g.dilation_w + 1;
}

void window_max(const ConvGeometry& g, const uint8_t* x, uint8_t* out) {
  // byte 0 is the least code: as the identity it never changes a maximum over at least one input element
  if (!every_window_reaches_input(g))
    throw std::logic_error("window_max in bytes: a window lies wholly in the padding (its maximum has no code)");
  for_each_window<uint8_t>(g, x, out, uint8_t{0}, 0, [](uint8_t m, uint8_t v) { return std::max(m, v); });
}

}  // namespace chipref::kernels
