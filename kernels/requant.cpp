#include "kernels/requant.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/avx2.hpp"
#include "kernels/avx512.hpp"
#include "kernels/simd.hpp"

namespace chipref::kernels {

void mulshift(const MulShift& p, const int32_t* x, int64_t outer, int64_t channels, int64_t inner, int32_t* y) {
  const bool per_channel = p.channels.size() > 1, vector = simd_at_least(SimdLevel::avx2);
  // channels on the last axis (a matrix product's output): a vector holds 8 channels
  if (vector && per_channel && inner == 1 &&
      ((simd_at_least(SimdLevel::avx512_vnni) &&
        avx512::mulshift_last_axis(p.requantizer, p.channels.data(), channels, p.clamp_lo, p.clamp_hi, x, outer, y)) ||
       avx2::mulshift_last_axis(p.requantizer, p.channels.data(), channels, p.clamp_lo, p.clamp_hi, x, outer, y)))
    return;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      mulshift_row(p, per_channel ? c : 0, x + base, inner, y + base);
    }
}

void mulshift_row(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, int32_t* y) {
  const RequantChannel& ch = p.channels[static_cast<size_t>(channel)];
  if (simd_at_least(SimdLevel::avx512_vnni) &&
      avx512::mulshift_channel(p.requantizer, ch, p.clamp_lo, p.clamp_hi, x, n, y))
    return;
  if (simd_at_least(SimdLevel::avx2) && avx2::mulshift_channel(p.requantizer, ch, p.clamp_lo, p.clamp_hi, x, n, y))
    return;
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<int32_t>(std::clamp(p.requantizer.apply(x[i], ch), p.clamp_lo, p.clamp_hi));
}

void mulshift_row(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, uint8_t* y, int32_t base) {
  const RequantChannel& ch = p.channels[static_cast<size_t>(channel)];
  if (simd_at_least(SimdLevel::avx512_vnni) &&
      avx512::mulshift_channel(p.requantizer, ch, p.clamp_lo, p.clamp_hi, x, n, y, base))
    return;
  // the int32 codes a block at a time, then their bytes
  constexpr int64_t kBlock = 256;
  int32_t codes[kBlock];
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    mulshift_row(p, channel, x + i, m, codes);
    for (int64_t j = 0; j < m; ++j) y[i + j] = static_cast<uint8_t>(codes[j] - base);
  }
}

void add_requant(const AddRequant& p, const int32_t* a, const int32_t* b, int64_t count, int32_t* y) {
  if (!p.subtract && simd_at_least(SimdLevel::avx512_vnni) && avx512::add_requant(p, a, b, count, y)) return;
  if (!p.subtract && simd_at_least(SimdLevel::avx2) && avx2::add_requant(p, a, b, count, y)) return;
  const Requantizer& rq = p.requantizer;
  for (int64_t i = 0; i < count; ++i) {
    // (a − zp_a) fits int32 for every format of at most 31 bits
    const int64_t rescaled_b = rq.scale_only(b[i] - p.zero_point_b, p.scale_b);
    const int64_t sum =
        rq.zero_point() + rq.scale_only(a[i] - p.zero_point_a, p.scale_a) + (p.subtract ? -rescaled_b : rescaled_b);
    y[i] = static_cast<int32_t>(std::clamp(rq.output_format().saturate(sum), p.clamp_lo, p.clamp_hi));
  }
}

void mulshift_rows(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, int32_t* y, const RowSteps& rows) {
  if (simd_at_least(SimdLevel::avx512_vnni) &&
      avx512::mulshift_channel(p.requantizer, p.channels[static_cast<size_t>(channel)], p.clamp_lo, p.clamp_hi, x, n, y,
                               rows))
    return;
  for (int64_t r = 0; r < rows.count; ++r) mulshift_row(p, channel, x + r * rows.x_stride, n, y + r * rows.y_stride);
}

void mulshift_rows(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, uint8_t* y, int32_t base,
                   const RowSteps& rows) {
  if (simd_at_least(SimdLevel::avx512_vnni) &&
      avx512::mulshift_channel(p.requantizer, p.channels[static_cast<size_t>(channel)], p.clamp_lo, p.clamp_hi, x, n, y,
                               base, rows))
    return;
  for (int64_t r = 0; r < rows.count; ++r)
    mulshift_row(p, channel, x + r * rows.x_stride, n, y + r * rows.y_stride, base);
}

void add_requant(const AddRequant& p, CodesIn a, CodesIn b, int64_t count, CodesOut y) {
  if (!a.bytes && !b.bytes && !y.bytes) return add_requant(p, a.wide, b.wide, count, y.wide);
  if (!p.subtract && simd_at_least(SimdLevel::avx512_vnni) && avx512::add_requant(p, a, b, count, y)) return;
  // a block at a time: the operands widened to int32, added, the codes narrowed to bytes
  constexpr int64_t kBlock = 256;
  int32_t wide_a[kBlock], wide_b[kBlock], codes[kBlock];
  const auto widened = [](CodesIn x, int64_t at, int64_t n, int32_t* block) {
    if (!x.bytes) return x.wide + at;
    for (int64_t j = 0; j < n; ++j) block[j] = x.bytes[at + j] + x.base;
    return static_cast<const int32_t*>(block);
  };
  for (int64_t i = 0; i < count; i += kBlock) {
    const int64_t n = std::min(kBlock, count - i);
    int32_t* out = y.bytes ? codes : y.wide + i;
    add_requant(p, widened(a, i, n, wide_a), widened(b, i, n, wide_b), n, out);
    if (y.bytes)
      for (int64_t j = 0; j < n; ++j) y.bytes[i + j] = static_cast<uint8_t>(codes[j] - y.base);
  }
}

void qdq_add(const QdqAdd& p, const int32_t* a, const int32_t* b, int64_t count, int32_t* y) {
  constexpr double kLimit = 4611686018427387904.0;  // 2^62: outside every format, so saturation is unchanged
  for (int64_t i = 0; i < count; ++i) {
    // Separate float32 statements: ISO C++ mode contracts no multiply-add, so each step rounds as ONNX's ops.
    const float da = static_cast<float>(a[i] - p.zero_point_a) * p.scale_a;
    const float db = static_cast<float>(b[i] - p.zero_point_b) * p.scale_b;
    const float sum = p.subtract ? da - db : da + db;
    const float scaled = sum / p.scale_y;
    const double rounded =
        round_to_integer(std::fmax(-kLimit, std::fmin(kLimit, static_cast<double>(scaled))), RoundingMode::half_even);
    const int64_t code = p.output_format.saturate(static_cast<int64_t>(rounded) + p.zero_point_y);
    y[i] = static_cast<int32_t>(std::clamp(code, p.clamp_lo, p.clamp_hi));
  }
}

void rescale(const Rescale& p, const int32_t* x, int64_t count, int32_t* y) {
  const Requantizer& rq = p.requantizer;
  for (int64_t i = 0; i < count; ++i)  // (x − zp_x) fits int32 for every format of at most 31 bits
    y[i] = static_cast<int32_t>(std::clamp(rq.apply(x[i] - p.zero_point_x, p.scale), p.clamp_lo, p.clamp_hi));
}

}  // namespace chipref::kernels
