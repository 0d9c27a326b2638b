#include "kernels/mac.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "kernels/amx.hpp"
#include "kernels/avx2.hpp"
#include "kernels/avx512.hpp"
#include "kernels/mac_spec.hpp"
#include "kernels/simd.hpp"
#include "kernels/threads.hpp"

namespace chipref::kernels {

namespace {
// The MAC kernels hand int32 accumulators to MulShift; a wider accumulator has to be narrowed by a
// documented step first, which does not exist yet.
void require_int32_accumulator(const AccumulatorSpec& acc) {
  if (acc.bits() > 32)
    throw InputError("accumulator width " + std::to_string(acc.bits()) +
                     " is not supported by the MAC kernels yet; expected <= 32");
}
bool fits_int16(int64_t max_abs) { return max_abs <= 32767; }

// Output channels split over threads in multiples of the GEMMs' register blocks (6 rows on avx2, 12 on
// avx512), so that no thread runs a partial block where one thread would not.
constexpr int64_t kGemmRowAlignment = 12;
// The int32 tile a convolution's GEMM writes before its epilogue requantizes it into the output: small
// enough to stay in L2 between the two. CPUs with AVX-512 VNNI have 1 MB of L2 a core or more: half of it,
// which gives a layer of 960 channels 128-column panels instead of 32 (MobileNetV2 +7 % on an AMD EPYC,
// ResNet-18 and the CNN level); 128 KB below that level (AVX2 cores with 256 KB of L2).
constexpr int64_t kTileBytesAvx512 = 512 * 1024, kTileBytes = 128 * 1024;

// Output channels from which a convolution may take its pixel-rows path (conv_mac, u8 × s8).
constexpr int64_t kPixelRowsChannels = 32;
constexpr int64_t kPixelRowsBreakEven = 1000;  // see conv_mac

// The int16 GEMM of the avx2 tier (avx2.hpp), on 512-bit vectors where the level allows.
void gemm_s16(const int16_t* a, const int16_t* const* b_rows, int64_t rows, int64_t kp, int64_t np, const int32_t* bias,
              int32_t* c, int64_t ldc) {
  if (simd_at_least(SimdLevel::avx512_vnni))
    avx512::gemm_s16(a, b_rows, rows, kp, np, bias, c, ldc);
  else
    avx2::gemm_s16(a, b_rows, rows, kp, np, bias, c, ldc);
}

// The u8 × s8 GEMM of the avx512_vnni tier over the weights' rows from `first` on, on the AMX tile unit
// where the level allows.
void gemm_u8s8(const MacWeights& w, int64_t first, const uint8_t* const* b_rows, int64_t rows, int64_t np,
               const int32_t* bias, int32_t* c, int64_t ldc) {
  if (simd_at_least(SimdLevel::amx_int8) && w.layout == MacLayout::convolution && !w.packed_amx.empty())
    amx::gemm_u8s8(w.packed_amx.data() + first * amx::padded_k(w.kq), b_rows, rows, w.kq, np, bias, c, ldc);
  else
    avx512::gemm_u8s8(w.packed8.data() + first * w.kq, b_rows, rows, w.kq, np, bias, c, ldc);
}

// The u8 × s8 GEMMs' bias, whose B operand is x − base: b + (base − z_x)·Σ_k w for each output, modulo 2^32
// as the GEMM adds. In a per-thread buffer: pass helper threads its address, not the name.
const int32_t* u8_gemm_bias(const std::vector<int32_t>& bias, int64_t base_minus_zero_point, const MacWeights& w) {
  thread_local std::vector<int32_t> adjusted;
  adjusted.resize(static_cast<size_t>(w.out_channels));
  for (int64_t m = 0; m < w.out_channels; ++m)
    adjusted[m] = static_cast<int32_t>(
        static_cast<uint32_t>((bias.empty() ? 0 : int64_t{bias[m]}) + base_minus_zero_point * w.sum[m]));
  return adjusted.data();
}
}  // namespace

void min_max(const int32_t* x, int64_t n, int32_t& lo, int32_t& hi) {
  lo = x[0], hi = x[0];
  if (simd_at_least(SimdLevel::avx2)) {
    avx2::min_max(x, n, lo, hi);
  } else {
    for (int64_t i = 0; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  }
}

namespace {
// Largest |x − zp| over codes in [lo, hi].
int64_t max_abs_offset(int32_t lo, int32_t hi, int32_t zp) {
  return std::max(std::abs(int64_t{lo} - zp), std::abs(int64_t{hi} - zp));
}
}  // namespace

int64_t max_abs_offset(const int32_t* x, int64_t n, int32_t zp) {
  if (n == 0) return 0;
  int32_t lo = 0, hi = 0;
  min_max(x, n, lo, hi);
  return max_abs_offset(lo, hi, zp);
}

namespace {
// [lo, hi] of a MAC input's n codes with its zero point: the known range where `proves(max |x − zp|)` holds
// for it, else the values' own (a scan). Either way every code lies inside, which is all the fast paths'
// proofs use.
struct InputRange {
  int32_t lo, hi;
  int64_t max_abs;
};
template <class Proves>
InputRange input_range(const int32_t* x, int64_t n, int32_t zp, const CodeRange* known, Proves proves) {
  auto with = [zp](int32_t lo, int32_t hi) { return InputRange{lo, hi, max_abs_offset(lo, hi, zp)}; };
  if (known && known->lo <= known->hi) {
    const InputRange r = with(known->lo, known->hi);
    if (proves(r.max_abs)) return r;
  }
  int32_t lo = zp, hi = zp;
  if (n > 0) min_max(x, n, lo, hi);
  return with(lo, hi);
}
}  // namespace

int64_t accumulator_bound(int64_t bias, int64_t max_abs_x, int64_t abs_sum) {
  return std::abs(bias) + max_abs_x * abs_sum;
}

bool provably_in_range(const AccumulatorSpec& acc, int64_t bias, int64_t max_abs_x, int64_t abs_sum) {
  const int64_t bound = accumulator_bound(bias, max_abs_x, abs_sum);
  return bound <= acc.max() && -bound >= acc.min();
}

namespace {

// The im2col rows of (x − zp) for image n, group grp: row (c, ky, kx), column (oy, ox), into `col` with
// `row_stride` elements per row; a padded position holds zp and contributes 0. Columns past the image's
// pixels and rows past K are left as they are (the caller zeroes them once).
template <class T>
void fill_columns(const ConvGeometry& g, const int32_t* x, int32_t zp, int64_t n, int64_t grp, T* col,
                  int64_t row_stride) {
  const int64_t oh = g.out_h(), ow = g.out_w(), c_per_group = g.in_channels / g.groups;
  for (int64_t c = 0; c < c_per_group; ++c) {
    const int32_t* plane = x + ((n * g.in_channels) + grp * c_per_group + c) * g.in_h * g.in_w;
    for (int64_t ky = 0; ky < g.kernel_h; ++ky)
      for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
        T* row = col + ((c * g.kernel_h + ky) * g.kernel_w + kx) * row_stride;
        // ix = ox·stride + offset lies inside [0, in_w) exactly for ox in [ox_lo, ox_hi)
        const int64_t offset = kx * g.dilation_w - g.pad_left;
        const int64_t ox_lo = std::min(ow, offset >= 0 ? 0 : (-offset + g.stride_w - 1) / g.stride_w);
        const int64_t ox_hi =
            std::max(ox_lo, std::min(ow, g.in_w - offset <= 0 ? 0 : (g.in_w - offset + g.stride_w - 1) / g.stride_w));
        for (int64_t oy = 0; oy < oh; ++oy) {
          T* out = row + oy * ow;
          const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
          if (iy < 0 || iy >= g.in_h) {
            std::fill(out, out + ow, T{0});
            continue;
          }
          const int32_t* src = plane + iy * g.in_w + offset;
          std::fill(out, out + ox_lo, T{0});
          if (g.stride_w == 1)
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) out[ox] = static_cast<T>(src[ox] - zp);
          else
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) out[ox] = static_cast<T>(src[ox * g.stride_w] - zp);
          std::fill(out + ox_hi, out + ow, T{0});
        }
      }
  }
}

// The avx2 tier's B operand without im2col. A group's input channels, offset by zp, are laid out as
// int16 planes with their padding, split into stride phases (phase (a, b) holds padded rows a, a + sh,
// ... and columns b, b + sw, ...). Then for outputs numbered q = oy·SW + ox, the reduction row
// (c, ky, kx) is one contiguous slice of one phase plane, starting at (ky·dh / sh)·SW + kx·dw / sw.
// Columns ox >= OW are computed from whatever lies there and dropped.
// T = int16_t: x − zp, padding 0 (the vpmaddwd GEMM). T = uint8_t: x − base for a base the caller picks so
// that every value and the padding zp − base fit a byte (the vpdpbusd GEMM, which adds the base back).
template <class T>
class PhasePlanes {
 public:
  PhasePlanes(const ConvGeometry& g, T padding)
      : g_(g),
        c_(g.in_channels / g.groups),
        sh_(g.stride_h),
        sw_(g.stride_w),
        sub_h_((g.in_h + g.pad_top + g.pad_bottom + sh_ - 1) / sh_),
        sub_w_((g.in_w + g.pad_left + g.pad_right + sw_ - 1) / sw_),
        np_((g.out_h() * sub_w_ + 15) / 16 * 16) {
    const int64_t max_offset = ((g.kernel_h - 1) * g.dilation_h / sh_) * sub_w_ + (g.kernel_w - 1) * g.dilation_w / sw_;
    plane_ = std::max(sub_h_ * sub_w_, max_offset + np_) + 16;
    data_ = &scratch(g, static_cast<size_t>(c_ * sh_ * sw_ * plane_), padding);
    zeros_.assign(static_cast<size_t>(np_) + 64, 0);
    for (int64_t b = 0; b < sw_; ++b) {  // input column ix lies in phase (ix + pad_left) mod sw at (ix + pad_left) / sw
      first_ix_.push_back(((b - g.pad_left) % sw_ + sw_) % sw_);
      first_j_.push_back((first_ix_.back() + g.pad_left) / sw_);
    }
  }
  int64_t columns() const { return np_; }
  int64_t row_width() const { return sub_w_; }

  // kp row pointers: (c, ky, kx) in the reduction order, then zero rows up to kp.
  std::vector<const T*> rows(int64_t kp) {
    std::vector<const T*> r;
    for (int64_t c = 0; c < c_; ++c)
      for (int64_t ky = 0; ky < g_.kernel_h; ++ky)
        for (int64_t kx = 0; kx < g_.kernel_w; ++kx) {
          const int64_t ry = ky * g_.dilation_h, rx = kx * g_.dilation_w;
          r.push_back(phase(c, ry % sh_, rx % sw_) + (ry / sh_) * sub_w_ + rx / sw_);
        }
    while (static_cast<int64_t>(r.size()) < kp) r.push_back(zeros_.data());
    return r;
  }

  // One image's group of input channels into the planes: code − offset (int16: offset zp; bytes: the base the
  // caller picked), from int32 codes or from codes stored as bytes (those on avx512_vnni only).
  void fill(const CodesIn& x, int32_t offset, int64_t n, int64_t grp) {
    if (x.bytes)
      fill_from(x.bytes, x.base, offset, n, grp);
    else
      fill_from(x.wide, 0, offset, n, grp);
  }

 private:
  // S: int32 codes (source_base 0) or bytes (code = byte + source_base)
  template <class S>
  void fill_from(const S* x, int32_t source_base, int32_t offset, int64_t n, int64_t grp) {
    const bool avx512 = simd_at_least(SimdLevel::avx512_vnni);
    // locals: a byte store may alias anything, so members would be reloaded after every one
    const int64_t in_w = g_.in_w, sw = sw_;
    for (int64_t c = 0; c < c_; ++c) {
      const S* src = x + ((n * g_.in_channels) + grp * c_ + c) * g_.in_h * in_w;
      // padded row py = iy + pad_top lies in phase py mod sh at sub-row py / sh (kept incrementally: no division per
      // row)
      int64_t a = g_.pad_top % sh_, i = g_.pad_top / sh_;
      for (int64_t iy = 0; iy < g_.in_h; ++iy, src += in_w) {
        if (sw == 1) {
          offset_row(avx512, src, source_base, offset, in_w, phase(c, a, 0) + i * sub_w_ + first_j_[0]);
        } else if (sw == 2) {
          const int64_t even_phase = first_ix_[0] == 0 ? 0 : 1;  // the phase whose first input column is ix = 0
          deinterleave_row(avx512, src, source_base, offset, in_w,
                           phase(c, a, even_phase) + i * sub_w_ + first_j_[even_phase],
                           phase(c, a, 1 - even_phase) + i * sub_w_ + first_j_[1 - even_phase]);
        } else {
          for (int64_t b = 0; b < sw; ++b) {  // the columns of phase b: ix = first_ix[b], + sw, ...
            T* dst = phase(c, a, b) + i * sub_w_ + first_j_[b];
            for (int64_t ix = first_ix_[b]; ix < in_w; ix += sw)
              *dst++ = static_cast<T>(src[ix] + source_base - offset);
          }
        }
        if (++a == sh_) a = 0, ++i;
      }
    }
  }

  // A row's n codes less `offset` into int16 (the avx2 level's conversions below avx512_vnni) or bytes (the u8 ×
  // s8 GEMM's operand, which runs on avx512_vnni and above only), whole or split into its two column phases.
  static void offset_row(bool avx512, const int32_t* src, int32_t, int32_t offset, int64_t n, int16_t* dst) {
    if (avx512)
      avx512::offset_to_int16(src, offset, n, dst);
    else
      avx2::offset_to_int16(src, offset, n, dst);
  }
  static void offset_row(bool, const int32_t* src, int32_t, int32_t offset, int64_t n, uint8_t* dst) {
    avx512::offset_to_uint8(src, offset, n, dst);
  }
  template <class U>
  static void offset_row(bool, const uint8_t* src, int32_t base, int32_t offset, int64_t n, U* dst) {
    if constexpr (std::is_same_v<U, uint8_t>)
      avx512::offset_to_uint8(src, base, offset, n, dst);
    else
      avx512::offset_to_int16(src, base, offset, n, dst);
  }
  static void deinterleave_row(bool avx512, const int32_t* src, int32_t, int32_t offset, int64_t n, int16_t* even,
                               int16_t* odd) {
    if (avx512)
      avx512::deinterleave_to_int16(src, offset, n, even, odd);
    else
      avx2::deinterleave_to_int16(src, offset, n, even, odd);
  }
  static void deinterleave_row(bool, const int32_t* src, int32_t, int32_t offset, int64_t n, uint8_t* even,
                               uint8_t* odd) {
    avx512::deinterleave_to_uint8(src, offset, n, even, odd);
  }
  template <class U>
  static void deinterleave_row(bool, const uint8_t* src, int32_t base, int32_t offset, int64_t n, U* even, U* odd) {
    if constexpr (std::is_same_v<U, uint8_t>)
      avx512::deinterleave_to_uint8(src, base, offset, n, even, odd);
    else
      avx512::deinterleave_to_int16(src, base, offset, n, even, odd);
  }

  T* phase(int64_t c, int64_t a, int64_t b) { return data_->data() + ((c * sh_ + a) * sw_ + b) * plane_; }

  // Planes outlive the call, per thread, per input geometry and padding value: fill() writes the same
  // positions for every image of that geometry, so the padding, set when the planes were made, stays.
  static std::vector<T>& scratch(const ConvGeometry& g, size_t size, T padding) {
    using Key = std::array<int64_t, 14>;
    const Key key{g.in_channels / g.groups,
                  g.in_h,
                  g.in_w,
                  g.kernel_h,
                  g.kernel_w,
                  g.stride_h,
                  g.stride_w,
                  g.dilation_h,
                  g.dilation_w,
                  g.pad_top,
                  g.pad_left,
                  g.pad_bottom,
                  g.pad_right,
                  int64_t{padding}};
    thread_local std::map<Key, std::vector<T>> planes;
    if (planes.size() > 64) planes.clear();  // bounded: a network has a few dozen distinct input geometries
    std::vector<T>& p = planes[key];
    if (p.size() != size) p.assign(size, padding);
    return p;
  }

  const ConvGeometry& g_;
  int64_t c_, sh_, sw_, sub_h_, sub_w_, np_, plane_ = 0;
  std::vector<T>* data_ = nullptr;
  std::vector<T> zeros_;
  std::vector<int64_t> first_ix_, first_j_;  // per column phase b: the first input column in it, and its sub-column
};

void require_valid(const ConvGeometry& g) {
  if (!g.valid())
    throw InputError("invalid convolution geometry (kernel larger than the padded input, or inconsistent groups)");
}
}  // namespace

MacWeights MacWeights::prepare(const int32_t* codes, int64_t out_channels, int64_t k, MacLayout layout) {
  MacWeights w;
  w.layout = layout;
  w.codes = codes, w.out_channels = out_channels, w.k = k, w.kp = (k + 1) / 2 * 2;
  w.abs_sum.assign(static_cast<size_t>(out_channels), 0);
  int64_t max_abs = 0;
  for (int64_t m = 0; m < out_channels; ++m)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t a = std::abs(int64_t{codes[m * k + i]});
      w.abs_sum[m] += a, max_abs = std::max(max_abs, a);
    }
  if (fits_int16(max_abs)) {
    w.packed.assign(static_cast<size_t>(out_channels * w.kp), 0);
    for (int64_t m = 0; m < out_channels; ++m)
      for (int64_t i = 0; i < k; ++i) w.packed[m * w.kp + i] = static_cast<int16_t>(codes[m * k + i]);
  }
  w.kq = (k + 3) / 4 * 4;
  const bool int8 = std::all_of(codes, codes + out_channels * k, [](int32_t v) { return v >= -128 && v <= 127; });
  if (int8 && cpu_supports(SimdLevel::avx512_vnni)) {
    w.packed8.assign(static_cast<size_t>(out_channels * w.kq), 0);
    w.sum.assign(static_cast<size_t>(out_channels), 0);
    for (int64_t m = 0; m < out_channels; ++m)
      for (int64_t i = 0; i < k; ++i)
        w.packed8[m * w.kq + i] = static_cast<int8_t>(codes[m * k + i]), w.sum[m] += codes[m * k + i];
  }
  // (a convolution's too when it has channels enough for conv_mac's pixel-rows path)
  if (!w.packed8.empty() && (layout == MacLayout::linear || out_channels >= kPixelRowsChannels))
    w.panels8 = avx512::pack_linear_panels(w.packed8.data(), out_channels, w.kq);
  if (!w.packed8.empty() && cpu_supports(SimdLevel::amx_int8))
    w.packed_amx = layout == MacLayout::linear ? amx::pack_weight_panels(w.packed8.data(), out_channels, w.kq)
                                               : amx::pack_weights(w.packed8.data(), out_channels, w.kq);
  return w;
}

bool ConvGeometry::valid() const {
  for (int64_t v : {batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, dilation_h,
                    dilation_w, groups})
    if (v < 1) return false;
  if (pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0) return false;
  for (int64_t v :
       {kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, pad_bottom, pad_right})
    if (v > kMaxWindowExtent) return false;
  if (in_channels % groups || out_channels % groups) return false;
  return in_h + pad_top + pad_bottom >= (kernel_h - 1) * dilation_h + 1 &&
         in_w + pad_left + pad_right >= (kernel_w - 1) * dilation_w + 1;
}

void conv_mac(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const int32_t* w,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, int32_t* out) {
  require_valid(g);
  conv_mac(g, x, x_zero_point, MacWeights::prepare(w, g.out_channels, g.reduction_length(), MacLayout::convolution),
           bias, acc, overflow, out);
}

void conv_mac(const ConvGeometry& g, const int32_t* x, int32_t x_zero_point, const MacWeights& weights,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, int32_t* out,
              const MulShift* output_stage, const CodeRange* x_range) {
  conv_mac(g, CodesIn{x}, x_zero_point, weights, bias, acc, overflow, CodesOut{out}, output_stage, x_range);
}

void conv_mac(const ConvGeometry& g, CodesIn x, int32_t x_zero_point, const MacWeights& weights,
              const std::vector<int32_t>& bias, const AccumulatorSpec& acc, OverflowCounter& overflow, CodesOut out,
              const MulShift* output_stage, const CodeRange* x_range) {
  require_int32_accumulator(acc);
  if (output_stage && output_stage->channels.size() != 1 &&
      static_cast<int64_t>(output_stage->channels.size()) != g.out_channels)
    throw InputError("conv_mac: an output stage of " + std::to_string(output_stage->channels.size()) +
                     " channels for " + std::to_string(g.out_channels) + " output channels");
  if (x.bytes && !x_range) throw std::logic_error("conv_mac: an input in bytes comes with its codes' range");
  if (out.bytes && !output_stage) throw std::logic_error("conv_mac: only requantized codes are written as bytes");
  // output channel m's n values requantized in place (int32 codes)
  auto requantize = [&](int64_t m, int32_t* values, int64_t n) {
    if (output_stage) mulshift_row(*output_stage, output_stage->channels.size() > 1 ? m : 0, values, n, values);
  };
  // n int32 values (requantized: codes) into the output at element `at`
  auto copy_out = [&](const int32_t* values, int64_t n, int64_t at) {
    if (!out.bytes)
      std::copy(values, values + n, out.wide + at);
    else if (simd_at_least(SimdLevel::avx512_vnni))
      avx512::offset_to_uint8(values, out.base, n, out.bytes + at);
    else
      for (int64_t i = 0; i < n; ++i) out.bytes[at + i] = static_cast<uint8_t>(values[i] - out.base);
  };
  // output channel m's rows.count rows of n values (row r at values + r·x_stride) into the output at element
  // at + r·y_stride, requantized when there is an output stage (the GEMM paths: from their buffers)
  auto rows_out = [&](int64_t m, const int32_t* values, int64_t n, int64_t at, const RowSteps& rows) {
    const int64_t channel = output_stage && output_stage->channels.size() > 1 ? m : 0;
    if (output_stage && out.bytes)
      mulshift_rows(*output_stage, channel, values, n, out.bytes + at, out.base, rows);
    else if (output_stage)
      mulshift_rows(*output_stage, channel, values, n, out.wide + at, rows);
    else
      for (int64_t r = 0; r < rows.count; ++r) copy_out(values + r * rows.x_stride, n, at + r * rows.y_stride);
  };
  require_valid(g);
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t c_per_group = g.in_channels / g.groups, m_per_group = g.out_channels / g.groups;
  // The GEMM paths' columns q0..q1−1 (output position q = oy · sub_w + ox) of group grp's channels, image n,
  // from `tile` (channel m's row at tile + m · ldc, column q at index q − q0) into their planes of out,
  // requantized on the way. Columns ox >= ow are padding and stay behind.
  auto write_out = [&](int32_t* tile, int64_t ldc, int64_t n, int64_t grp, int64_t q0, int64_t q1, int64_t sub_w) {
    for (int64_t m = 0; m < m_per_group; ++m) {
      int32_t* row = tile + m * ldc - q0;
      const int64_t plane = (n * g.out_channels + grp * m_per_group + m) * oh * ow;
      if (sub_w == ow) {  // no padding columns: the row lies in the plane as it is
        const int64_t to = std::min(q1, oh * ow);
        if (to <= q0) continue;
        rows_out(grp * m_per_group + m, row + q0, to - q0, plane + q0, RowSteps{});
        continue;
      }
      // output row oy's columns [from, to) of the panel; a run of rows lying whole in it in one call
      for (int64_t oy = q0 / sub_w; oy < oh && oy * sub_w < q1;) {
        const int64_t start = oy * sub_w, from = std::max(q0, start), to = std::min(q1, start + ow);
        const int64_t rows = from == start && to == start + ow ? std::min(oh, (q1 - ow) / sub_w + 1) - oy : 1;
        if (from < to)
          rows_out(grp * m_per_group + m, row + from, to - from, plane + oy * ow + (from - start),
                   RowSteps{rows, sub_w, ow});
        oy += rows;
      }
    }
  };
  // gemm(q0, q1, tile, ldc) over columns q0..q1−1 of a thread's part of B in panels whose int32 tile of all the
  // group's channels stays in L2 (each written out before the next is computed: the int32 accumulators
  // never travel through memory as a whole tensor)
  auto in_panels = [&](int64_t q0, int64_t q1, int64_t n, int64_t grp, int64_t sub_w,
                       const std::function<void(int64_t, int64_t, int32_t*, int64_t)>& gemm) {
    const int64_t tile_bytes = simd_at_least(SimdLevel::avx512_vnni) ? kTileBytesAvx512 : kTileBytes;
    const int64_t panel = std::max<int64_t>(32, tile_bytes / (4 * m_per_group) / 32 * 32);
    thread_local std::vector<int32_t> tile;
    const int64_t ldc = std::min(panel, q1 - q0);
    if (tile.size() < static_cast<size_t>(m_per_group * ldc)) tile.resize(static_cast<size_t>(m_per_group * ldc));
    int32_t* const buffer = tile.data();  // by address: in a helper thread the name would mean the helper's own
    for (int64_t qa = q0; qa < q1; qa += panel) {
      const int64_t qb = std::min(q1, qa + panel);
      gemm(qa, qb, buffer, ldc);
      write_out(buffer, ldc, n, grp, qa, qb, sub_w);
    }
  };
  // f(q0, q1) over column blocks of the GEMMs' B (np columns, a multiple of 16), split over the threads
  // lent in whole 32-column panels: each thread packs only its own panels of B, and the register blocks
  // over output channels stay those of one thread.
  auto split_columns = [](int64_t np, int64_t macs_per_column, const std::function<void(int64_t, int64_t)>& f) {
    split_range(np / 16, macs_per_column * 16, 2, [&](int64_t u0, int64_t u1) { f(u0 * 16, u1 * 16); });
  };
  const int64_t k = c_per_group * g.kernel_h * g.kernel_w, pixels = oh * ow;
  if (weights.out_channels != g.out_channels || weights.k != k)
    throw InputError("conv_mac: weights are [" + std::to_string(weights.out_channels) + ", " +
                     std::to_string(weights.k) + "]; the geometry needs [" + std::to_string(g.out_channels) + ", " +
                     std::to_string(k) + "]");
  const int32_t* w = weights.codes;
  auto channel_in_range = [&](int64_t m, int64_t max_abs) {
    return provably_in_range(acc, bias.empty() ? 0 : bias[m], max_abs, weights.abs_sum[m]);
  };
  const int64_t input_size = g.batch * g.in_channels * g.in_h * g.in_w;
  // bytes are not scanned: their known range is taken as it is, and a range that proves too little sends them
  // to the int32 form below, which scans
  const auto [x_lo, x_hi, max_abs_x] = input_range(x.wide, input_size, x_zero_point, x_range, [&](int64_t max_abs) {
    if (x.bytes) return true;
    for (int64_t m = 0; m < g.out_channels; ++m)
      if (!channel_in_range(m, max_abs)) return false;
    return true;
  });

  // Fast paths for groups whose every channel is provably in range: every partial sum, in any order,
  // is bounded by Σ|terms| <= the proven bound <= 2^31 − 1, so int32 arithmetic in any order is exact and
  // equals the ordered per-addition sum (with no overflow events). Other groups take the per-addition
  // path below. `portable`: im2col of (x − zp), then an int32 GEMM. `avx2`, when x − zp and the weights
  // fit int16 (then no pair of products reaches 2^31): im2col in int16, then vpmaddwd (avx2.hpp).
  const SimdLevel level = simd_level();
  std::vector<bool> group_fast(static_cast<size_t>(g.groups), level != SimdLevel::per_addition);
  for (int64_t m = 0; m < g.out_channels; ++m)
    if (!channel_in_range(m, max_abs_x)) group_fast[m / m_per_group] = false;
  // avx512_vnni with int8 weights and activations spanning at most 256 codes (with the zero point): the
  // u8 × s8 GEMM on x − base, base = min(x, zp), whose padding zp − base and bias + (base − zp)·Σw make
  // every sum the same Σ (x − zp)·w (avx512.hpp: exact modulo 2^32, and the sum is proven in range).
  const int64_t base = std::min<int64_t>(x_lo, x_zero_point), top = std::max<int64_t>(x_hi, x_zero_point);
  // Its B operand is packed in quads of rows per panel, which pays only when several output channels share
  // it: a group of one output channel runs the depthwise kernel below, or the int16 GEMM, which reads its rows
  // as they lie.
  const bool u8_gemm =
      level >= SimdLevel::avx512_vnni && !weights.packed8.empty() && top - base <= 255 && m_per_group >= 4;
  // A depthwise layer (one input and one output channel a group) with the same stride, 1 or 2, both ways and no
  // width dilation: vpdpbusd on each kernel row's tap quads, read from a padded byte plane as they lie
  // (avx512::depthwise_u8s8), the same Σ (x − base)·w + bias_u8 as the GEMM's.
  const bool u8_depthwise = level >= SimdLevel::avx512_vnni && !weights.packed8.empty() && top - base <= 255 &&
                            m_per_group == 1 && c_per_group == 1 && g.stride_h == g.stride_w &&
                            (g.stride_w == 1 || g.stride_w == 2) && g.dilation_w == 1;
  const bool s16_gemm =
      !u8_gemm && !u8_depthwise && level >= SimdLevel::avx2 && fits_int16(max_abs_x) && !weights.packed.empty();
  // Bytes in or out: these three paths on avx512_vnni take them as they fill their planes and requantize their
  // rows when every group is fast; anything else runs on the int32 form, the input widened and the output
  // narrowed around it.
  if ((x.bytes || out.bytes) && !(level >= SimdLevel::avx512_vnni && (u8_gemm || u8_depthwise || s16_gemm) &&
                                  std::all_of(group_fast.begin(), group_fast.end(), [](bool fast) { return fast; }))) {
    std::vector<int32_t> wide_x, wide_out;
    if (x.bytes) {
      wide_x.resize(static_cast<size_t>(input_size));
      for (int64_t i = 0; i < input_size; ++i) wide_x[i] = x.bytes[i] + x.base;
    }
    const int64_t output_size = g.batch * g.out_channels * oh * ow;
    if (out.bytes) wide_out.resize(static_cast<size_t>(output_size));
    conv_mac(g, CodesIn{x.bytes ? wide_x.data() : x.wide}, x_zero_point, weights, bias, acc, overflow,
             CodesOut{out.bytes ? wide_out.data() : out.wide}, output_stage, x_range);
    if (out.bytes) copy_out(wide_out.data(), output_size, 0);
    return;
  }
  if (u8_depthwise) {
    const int64_t stride = g.stride_w, pitch = g.in_w + g.pad_left + g.pad_right;
    const int64_t q_count = (oh - 1) * pitch + ow, q_round = (q_count + 63) / 64 * 64;
    // every byte the kernel may read (avx512.hpp), the padding and what lies past it the padding value
    const size_t plane_size = static_cast<size_t>(std::max((g.in_h + g.pad_top + g.pad_bottom) * pitch,
                                                           stride * q_round + (g.kernel_h - 1) * g.dilation_h * pitch) +
                                                  g.kernel_w + 128);
    const auto padding = static_cast<uint8_t>(x_zero_point - base);
    const int32_t* const bias_u8 = u8_gemm_bias(bias, base - x_zero_point, weights);
    constexpr int64_t kDepthwiseCost = 4;  // GEMM MACs a depthwise MAC costs, for the split over threads
    for (int64_t n = 0; n < g.batch; ++n)
      split_range(g.groups, weights.kq * q_round * kDepthwiseCost, 1, [&](int64_t m0, int64_t m1) {
        thread_local std::vector<uint8_t> padded;
        thread_local std::vector<int32_t> sums;
        padded.assign(plane_size, padding);
        if (sums.size() < static_cast<size_t>(q_round)) sums.resize(static_cast<size_t>(q_round));
        for (int64_t m = m0; m < m1; ++m) {
          if (!group_fast[m]) continue;
          const int64_t channel = (n * g.in_channels + m) * g.in_h * g.in_w;
          for (int64_t iy = 0; iy < g.in_h; ++iy) {
            uint8_t* row = padded.data() + (iy + g.pad_top) * pitch + g.pad_left;
            if (x.bytes)
              avx512::offset_to_uint8(x.bytes + channel + iy * g.in_w, x.base, static_cast<int32_t>(base), g.in_w, row);
            else
              avx512::offset_to_uint8(x.wide + channel + iy * g.in_w, static_cast<int32_t>(base), g.in_w, row);
          }
          avx512::depthwise_u8s8(padded.data(), pitch, weights.packed8.data() + m * weights.kq, g.kernel_h, g.kernel_w,
                                 stride, g.dilation_h, bias_u8[m], q_count, sums.data());
          // output row oy lies at q = oy · pitch
          rows_out(m, sums.data(), ow, (n * g.out_channels + m) * pixels, RowSteps{oh, pitch, ow});
        }
      });
  } else if (u8_gemm) {
    const int64_t kq = weights.kq;
    PhasePlanes<uint8_t> planes(g, static_cast<uint8_t>(x_zero_point - base));
    const std::vector<const uint8_t*> rows = planes.rows(kq);
    const int64_t np = planes.columns(), sub_w = planes.row_width();
    const int32_t* const bias_u8 = u8_gemm_bias(bias, base - x_zero_point, weights);
    // A 1 × 1 convolution with stride 1 and no padding over codes stored in bytes with the GEMM's own base: its
    // planes would be copies of the input's channels, so B's rows are those channels as they lie (whole panels
    // only: np equal to the pixel count, so that no panel reads past a channel's last byte).
    const bool rows_in_place = x.bytes && x.base == base && g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 &&
                               g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 && g.pad_bottom == 0 &&
                               g.pad_right == 0 && np == g.in_h * g.in_w;
    std::vector<uint8_t> zero_row(rows_in_place ? static_cast<size_t>(np) : 0, 0);  // B's rows past K
    // Small planes waste GEMM columns: 7 × 7 outputs are 64 columns (7 × 9 with the planes' padding columns,
    // rounded to 16), 77 % of them kept. There the pixels can become the rows of linear_u8s8's A (one broadcast
    // quad each) and the output channels its vector lanes, so that no lane computes a dropped column: A is B
    // transposed (each kept column's reduction row, from the same planes) and the sums the same
    // Σ (x − base)·w + bias_u8, in [pixel][channel] order; each channel's column is requantized into its plane.
    // The transposes and the per-channel gathers cost about what 1000 MACs of the GEMM do per pixel and channel
    // (measured on ResNet-18's layer 4, MobileNetV2's 7 × 7 layers and the CNN's conv3): taken only where the
    // dropped columns' MACs per kept output, kq · (np − pixels) / pixels, exceed that (layer 4's 3 × 3 convs: 1410).
    const bool pixel_rows = g.groups == 1 && !weights.panels8.empty() && !rows_in_place &&
                            kq * (np - pixels) > kPixelRowsBreakEven * pixels;
    if (pixel_rows) {
      const int64_t k16 = (kq + 15) / 16 * 16, m = g.out_channels;
      const std::vector<const uint8_t*> rows16 = planes.rows(k16);
      std::vector<int32_t> row_of_column(static_cast<size_t>(np), -1);
      for (int64_t p = 0; p < pixels; ++p) row_of_column[(p / ow) * sub_w + p % ow] = static_cast<int32_t>(p);
      thread_local std::vector<uint8_t> a;
      thread_local std::vector<int32_t> sums;
      a.resize(static_cast<size_t>(pixels * k16)), sums.resize(static_cast<size_t>(pixels * m));
      uint8_t* const a_rows = a.data();  // by address: in a helper thread the names would mean its own
      int32_t* const all_sums = sums.data();
      for (int64_t n = 0; n < g.batch; ++n) {
        if (!group_fast[0]) continue;
        planes.fill(x, static_cast<int32_t>(base), n, 0);
        avx512::transpose_columns(rows16.data(), k16, np, row_of_column.data(), a_rows, k16);
        split_range(m, pixels * kq, 16, [&](int64_t o0, int64_t o1) {
          avx512::linear_u8s8(a_rows, k16, pixels, weights.panels8.data(), kq, o0, o1, bias_u8, all_sums, m);
          thread_local std::vector<int32_t> channel;
          channel.resize(static_cast<size_t>(pixels));
          for (int64_t o = o0; o < o1; ++o) {
            for (int64_t p = 0; p < pixels; ++p) channel[p] = all_sums[p * m + o];
            rows_out(o, channel.data(), pixels, (n * g.out_channels + o) * pixels, RowSteps{});
          }
        });
      }
    }
    for (int64_t n = 0; n < g.batch && !pixel_rows; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        if (!group_fast[grp]) continue;
        split_columns(np, m_per_group * kq, [&](int64_t q0, int64_t q1) {
          // B's rows: the input's channels in place, or the planes' rows (their zero rows are the planes', so
          // `own` lives as long as they are read)
          std::vector<const uint8_t*> from;
          std::optional<PhasePlanes<uint8_t>> own;
          if (rows_in_place) {
            from.assign(static_cast<size_t>(kq), zero_row.data());
            for (int64_t c = 0; c < c_per_group; ++c)
              from[c] = x.bytes + (n * g.in_channels + grp * c_per_group + c) * np;
          } else {
            // a thread given part of the columns fills planes of its own: sharing one thread's planes
            // made every fill wait for the other core's copies of their cache lines (fill 33 → 79 µs)
            PhasePlanes<uint8_t>& p =
                q1 - q0 == np ? planes : own.emplace(g, static_cast<uint8_t>(x_zero_point - base));
            p.fill(x, static_cast<int32_t>(base), n, grp);
            from = &p == &planes ? rows : p.rows(kq);
          }
          std::vector<const uint8_t*> block(from.size());
          in_panels(q0, q1, n, grp, sub_w, [&](int64_t qa, int64_t qb, int32_t* tile, int64_t ldc) {
            for (size_t r = 0; r < from.size(); ++r) block[r] = from[r] + qa;
            gemm_u8s8(weights, grp * m_per_group, block.data(), m_per_group, qb - qa, bias_u8 + grp * m_per_group, tile,
                      ldc);
          });
        });
      }
  } else if (s16_gemm) {
    const int64_t kp = weights.kp;
    const int16_t* a = weights.packed.data();
    PhasePlanes<int16_t> planes(g, 0);
    const std::vector<const int16_t*> rows = planes.rows(kp);
    const int64_t np = planes.columns(), sub_w = planes.row_width();
    for (int64_t n = 0; n < g.batch; ++n) {
      if (m_per_group == 1) {  // depthwise: one output channel a group, written straight into its plane
        // The groups split over threads, each filling planes of its own. A depthwise MAC costs about
        // kDepthwiseCost GEMM MACs (its kernel reaches 8–15 GMAC/s, the GEMMs 60–250).
        constexpr int64_t kDepthwiseCost = 16;
        split_range(g.groups, kp * np * kDepthwiseCost, 1, [&](int64_t grp0, int64_t grp1) {
          std::optional<PhasePlanes<int16_t>> own;  // as in the GEMM paths: the caller's planes when unsplit
          const bool whole = grp1 - grp0 == g.groups;
          PhasePlanes<int16_t>& p = whole ? planes : own.emplace(g, 0);
          const std::vector<const int16_t*> own_rows = whole ? std::vector<const int16_t*>{} : p.rows(kp);
          const std::vector<const int16_t*>& block_rows = whole ? rows : own_rows;
          // bytes out: each plane's accumulators in a buffer of this thread's, then requantized into the output
          thread_local std::vector<int32_t> accumulators;
          if (out.bytes && accumulators.size() < static_cast<size_t>(pixels))
            accumulators.resize(static_cast<size_t>(pixels));
          for (int64_t m = grp0; m < grp1; ++m) {
            if (!group_fast[m]) continue;
            p.fill(x, x_zero_point, n, m);
            const int64_t at = (n * g.out_channels + m) * pixels;
            int32_t* plane = out.bytes ? accumulators.data() : out.wide + at;
            avx2::depthwise_s16(a + m * kp, block_rows.data(), kp, bias.empty() ? 0 : bias[m], oh, sub_w, ow, plane);
            if (out.bytes)
              rows_out(m, plane, pixels, at, RowSteps{});
            else
              requantize(m, plane, pixels);
          }
        });
        continue;
      }
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        if (!group_fast[grp]) continue;
        split_columns(np, m_per_group * kp, [&](int64_t q0, int64_t q1) {
          std::optional<PhasePlanes<int16_t>> own;  // as in the u8 × s8 path
          PhasePlanes<int16_t>& p = q1 - q0 == np ? planes : own.emplace(g, 0);
          p.fill(x, x_zero_point, n, grp);
          const std::vector<const int16_t*> from = &p == &planes ? rows : p.rows(kp);
          std::vector<const int16_t*> block(from.size());
          in_panels(q0, q1, n, grp, sub_w, [&](int64_t qa, int64_t qb, int32_t* tile, int64_t ldc) {
            for (size_t r = 0; r < from.size(); ++r) block[r] = from[r] + qa;
            gemm_s16(a + grp * m_per_group * kp, block.data(), m_per_group, kp, qb - qa,
                     bias.empty() ? nullptr : bias.data() + grp * m_per_group, tile, ldc);
          });
        });
      }
    }
  } else if (level != SimdLevel::per_addition) {
    using IntMatrix = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    IntMatrix col(k, pixels);
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        if (!group_fast[grp]) continue;
        fill_columns(g, x.wide, x_zero_point, n, grp, col.data(), pixels);
        Eigen::Map<const IntMatrix> wg(w + grp * m_per_group * k, m_per_group, k);
        Eigen::Map<IntMatrix> yg(out.wide + (n * g.out_channels + grp * m_per_group) * pixels, m_per_group, pixels);
        yg.noalias() = wg * col;
        if (!bias.empty())
          for (int64_t m = 0; m < m_per_group; ++m) yg.row(m).array() += bias[grp * m_per_group + m];
        for (int64_t m = 0; m < m_per_group; ++m) requantize(grp * m_per_group + m, yg.row(m).data(), pixels);
      }
  }

  // The other groups: the spec, one accumulator addition at a time.
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t m = 0; m < g.out_channels; ++m)
      if (!group_fast[m / m_per_group]) {
        spec::conv_mac_channel(g, x.wide, x_zero_point, w, bias, acc, overflow, n, m, out.wide);
        requantize(m, out.wide + (n * g.out_channels + m) * pixels, pixels);
      }
}

void linear_mac(int64_t rows, int64_t in_features, int64_t out_features, const int32_t* a, int32_t a_zero_point,
                const int32_t* w, const std::vector<int32_t>& bias, const AccumulatorSpec& acc,
                OverflowCounter& overflow, int32_t* out) {
  linear_mac(rows, in_features, out_features, a, a_zero_point,
             MacWeights::prepare(w, out_features, in_features, MacLayout::linear), bias, acc, overflow, out);
}

void linear_mac(int64_t rows, int64_t in_features, int64_t out_features, const int32_t* a, int32_t a_zero_point,
                const MacWeights& weights, const std::vector<int32_t>& bias, const AccumulatorSpec& acc,
                OverflowCounter& overflow, int32_t* out, const CodeRange* a_range) {
  require_int32_accumulator(acc);
  if (weights.out_channels != out_features || weights.k != in_features)
    throw InputError("linear_mac: weights are [" + std::to_string(weights.out_channels) + ", " +
                     std::to_string(weights.k) + "]; expected [" + std::to_string(out_features) + ", " +
                     std::to_string(in_features) + "]");
  const SimdLevel level = simd_level();
  auto output_in_range = [&](int64_t o, int64_t max_abs) {
    return provably_in_range(acc, bias.empty() ? 0 : bias[o], max_abs, weights.abs_sum[o]);
  };
  const auto [a_lo, a_hi, max_abs_a] = input_range(a, rows * in_features, a_zero_point, a_range, [&](int64_t max_abs) {
    for (int64_t o = 0; o < out_features; ++o)
      if (!output_in_range(o, max_abs)) return false;
    return true;
  });
  std::vector<bool> unchecked(static_cast<size_t>(out_features));
  bool all_unchecked = true;
  for (int64_t o = 0; o < out_features; ++o) {
    unchecked[o] = level != SimdLevel::per_addition && output_in_range(o, max_abs_a);
    all_unchecked = all_unchecked && unchecked[o];
  }
  // Every output provably in range, int8 weights and activations spanning at most 256 codes: the u8 × s8
  // products of conv_mac's GEMM (exact modulo 2^32, see there) of (a − base) and the weights.
  const int64_t base = std::min<int64_t>(a_lo, a_zero_point), top = std::max<int64_t>(a_hi, a_zero_point);
  // On AMX the activations are the tiles' A operand as they lie, row by row ([rows][in] as bytes a − base),
  // and the result is C in its own layout: no transposes.
  if (level >= SimdLevel::amx_int8 && all_unchecked && weights.layout == MacLayout::linear &&
      !weights.packed_amx.empty() && top - base <= 255 && rows > 0) {
    const int64_t kp = amx::padded_k(weights.kq);
    thread_local std::vector<uint8_t> bytes;
    // rows 15 past the last are read by a partial tile, and the reduction padding meets zero weights:
    // neither needs clearing
    if (bytes.size() < static_cast<size_t>((rows + 15) * kp)) bytes.resize(static_cast<size_t>((rows + 15) * kp));
    for (int64_t r = 0; r < rows; ++r)
      avx512::offset_to_uint8(a + r * in_features, static_cast<int32_t>(base), in_features, bytes.data() + r * kp);
    const uint8_t* const a_bytes = bytes.data();  // by address: in a helper thread the names would mean its own
    const int32_t* const bias_u8 = u8_gemm_bias(bias, base - a_zero_point, weights);
    split_range(out_features, kp * rows, 32, [&](int64_t o0, int64_t o1) {
      amx::linear_u8s8(a_bytes, kp, rows, weights.packed_amx.data(), weights.kq, o0, o1, bias_u8, out, out_features);
    });
    return;
  }
  // On avx512_vnni the same, lanes over output channels: the activations as bytes a − base row by row (kq a
  // row; the columns past K meet zero weights, so whatever lies there needs no clearing), the outputs in their
  // own layout: no transposes.
  if (level >= SimdLevel::avx512_vnni && all_unchecked && !weights.panels8.empty() && top - base <= 255 && rows > 0) {
    const int64_t kq = weights.kq;
    thread_local std::vector<uint8_t> bytes;
    if (bytes.size() < static_cast<size_t>(rows * kq)) bytes.resize(static_cast<size_t>(rows * kq));
    for (int64_t r = 0; r < rows; ++r)
      avx512::offset_to_uint8(a + r * in_features, static_cast<int32_t>(base), in_features, bytes.data() + r * kq);
    const uint8_t* const a_bytes = bytes.data();  // by address: in a helper thread the names would mean its own
    const int32_t* const bias_u8 = u8_gemm_bias(bias, base - a_zero_point, weights);
    split_range(out_features, kq * rows, 16, [&](int64_t o0, int64_t o1) {
      avx512::linear_u8s8(a_bytes, kq, rows, weights.panels8.data(), kq, o0, o1, bias_u8, out, out_features);
    });
    return;
  }
  // Every output provably in range and both operands in int16: the int16 GEMM of conv_mac (exact in any
  // order, see there) on the weights × the activations transposed, [out][rows], transposed back.
  if (level >= SimdLevel::avx2 && all_unchecked && fits_int16(max_abs_a) && !weights.packed.empty() && rows > 0) {
    const int64_t kp = weights.kp, np = (rows + 15) / 16 * 16;
    thread_local std::vector<int16_t> columns;
    thread_local std::vector<int32_t> c;
    columns.assign(static_cast<size_t>(kp * np), 0);
    c.resize(static_cast<size_t>(out_features * np));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < in_features; ++k)
        columns[k * np + r] = static_cast<int16_t>(a[r * in_features + k] - a_zero_point);
    std::vector<const int16_t*> b_rows(static_cast<size_t>(kp));
    for (int64_t k = 0; k < kp; ++k) b_rows[k] = columns.data() + k * np;
    int32_t* const buffer = c.data();  // by address: in a helper thread the name would mean the helper's own
    split_range(out_features, kp * np, kGemmRowAlignment, [&](int64_t o0, int64_t o1) {
      gemm_s16(weights.packed.data() + o0 * kp, b_rows.data(), o1 - o0, kp, np,
               bias.empty() ? nullptr : bias.data() + o0, buffer + o0 * np, np);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = o0; o < o1; ++o) out[r * out_features + o] = buffer[o * np + r];
    });
    return;
  }
  for (int64_t o = 0; o < out_features; ++o) {
    const int32_t* wo = weights.codes + o * in_features;
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t* ar = a + r * in_features;
      int64_t sum;
      if (unchecked[o]) {
        sum = bias.empty() ? 0 : bias[o];
        for (int64_t k = 0; k < in_features; ++k) sum += (int64_t{ar[k]} - a_zero_point) * wo[k];
      } else {
        sum = spec::linear_mac_output(ar, a_zero_point, wo, in_features, bias.empty() ? nullptr : &bias[o], acc,
                                      overflow);
      }
      out[r * out_features + o] = static_cast<int32_t>(sum);
    }
  }
}

void matmul_mac(int64_t batch, int64_t m, int64_t k, int64_t n, const int32_t* a, int32_t a_zero_point,
                const int32_t* c, int32_t c_zero_point, const AccumulatorSpec& acc, OverflowCounter& overflow,
                int32_t* out, const CodeRange* a_range, const CodeRange* c_range) {
  require_int32_accumulator(acc);
  // the known ranges when both are given and prove every sum in range, else both operands scanned
  auto offset = [](const CodeRange& r, int32_t zp) { return max_abs_offset(r.lo, r.hi, zp); };
  const bool known = a_range && c_range && a_range->lo <= a_range->hi && c_range->lo <= c_range->hi &&
                     provably_in_range(acc, 0, offset(*a_range, a_zero_point), k * offset(*c_range, c_zero_point));
  const int64_t max_a = known ? offset(*a_range, a_zero_point) : max_abs_offset(a, batch * m * k, a_zero_point),
                max_c = known ? offset(*c_range, c_zero_point) : max_abs_offset(c, batch * k * n, c_zero_point);
  // every partial sum is bounded by k · max|a − za| · max|c − zc| (< 2^62 for 16-bit codes and k < 2^28)
  const bool unchecked = simd_level() != SimdLevel::per_addition && provably_in_range(acc, 0, max_a, k * max_c);
  // Both operands in int16 and every output provably in range: the int16 GEMM of conv_mac (exact in any
  // order, see there), A's rows as the weights and C's rows as the B rows, per matrix of the batch.
  if (simd_at_least(SimdLevel::avx2) && unchecked && fits_int16(max_a) && fits_int16(max_c) && m > 0 && n > 0 &&
      k > 0) {
    const int64_t kp = (k + 1) / 2 * 2, np = (n + 15) / 16 * 16;
    // the matrices of the batch (attention's heads) split over threads, each with its own buffers
    split_range(batch, m * kp * np, 1, [&](int64_t b0, int64_t b1) {
      thread_local std::vector<int16_t> a16, c16;
      thread_local std::vector<int32_t> product;
      a16.assign(static_cast<size_t>(m * kp), 0);
      c16.assign(static_cast<size_t>(kp * np), 0);
      if (product.size() < static_cast<size_t>(m * np)) product.resize(static_cast<size_t>(m * np));
      std::vector<const int16_t*> b_rows(static_cast<size_t>(kp));
      for (int64_t t = 0; t < kp; ++t) b_rows[t] = c16.data() + t * np;
      for (int64_t b = b0; b < b1; ++b) {
        const int32_t* ab = a + b * m * k;
        const int32_t* cb = c + b * k * n;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t t = 0; t < k; ++t) a16[i * kp + t] = static_cast<int16_t>(ab[i * k + t] - a_zero_point);
        for (int64_t t = 0; t < k; ++t) avx2::offset_to_int16(cb + t * n, c_zero_point, n, c16.data() + t * np);
        gemm_s16(a16.data(), b_rows.data(), m, kp, np, nullptr, product.data(), np);
        for (int64_t i = 0; i < m; ++i) std::copy_n(product.data() + i * np, n, out + b * m * n + i * n);
      }
    });
    return;
  }
  std::vector<int64_t> column(static_cast<size_t>(k));
  for (int64_t b = 0; b < batch; ++b) {
    const int32_t* ab = a + b * m * k;
    const int32_t* cb = c + b * k * n;
    int32_t* ob = out + b * m * n;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t t = 0; t < k; ++t) column[t] = int64_t{cb[t * n + j]} - c_zero_point;
      for (int64_t i = 0; i < m; ++i) {
        const int32_t* row = ab + i * k;
        int64_t sum = 0;
        if (unchecked)
          for (int64_t t = 0; t < k; ++t) sum += (int64_t{row[t]} - a_zero_point) * column[t];
        else
          sum = spec::matmul_mac_output(row, a_zero_point, column.data(), k, acc, overflow);
        ob[i * n + j] = static_cast<int32_t>(sum);
      }
    }
  }
}

}  // namespace chipref::kernels
