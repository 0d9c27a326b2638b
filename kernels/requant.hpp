#pragma once
// MulShift and the integer ops built on it: the output stage of every MAC, residual Add, and average
// pooling. Spec: docs/numerics.md §5. All arithmetic is numerics' Requantizer; these kernels only
// walk tensors and apply the fused activation clamp.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "numerics/requant.hpp"

namespace chipref::kernels {

// A tensor's codes as int32 (`wide`), or at their code width as bytes: code = bytes[i] + base, for a tensor
// whose codes span at most 256 values (read only by ops that take bytes: docs/numerics.md §5, "Activations in
// bytes"). Exactly one of the two pointers is set.
struct CodesIn {
  const int32_t* wide = nullptr;
  const uint8_t* bytes = nullptr;
  int32_t base = 0;
};
struct CodesOut {
  int32_t* wide = nullptr;
  uint8_t* bytes = nullptr;
  int32_t base = 0;
};

// y = clamp(sat_out(zp_out + R(x · S_c)), lo, hi), channel c along axis 1 of an [outer, channels, inner]
// tensor; [lo, hi] lies inside the output format and carries a fused ReLU / ReLU6 / Clip.
struct MulShift {
  Requantizer requantizer;
  std::vector<RequantChannel> channels;  // 1 (per-tensor) or one per channel
  int64_t clamp_lo, clamp_hi;
};
void mulshift(const MulShift& p, const int32_t* x, int64_t outer, int64_t channels, int64_t inner, int32_t* y);
// mulshift of n elements of one channel (index into p.channels, or 0 when there is one); y may be x.
void mulshift_row(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, int32_t* y);
// The same codes stored as bytes y[i] = code − base; p's clamp lies within [base, base + 255].
void mulshift_row(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, uint8_t* y, int32_t base);
// Several rows of n elements of one channel in one call: row r read at x + r·x_stride and written at
// y + r·y_stride (a plane's rows out of a buffer with a wider pitch), checked and dispatched once.
struct RowSteps {
  int64_t count = 1, x_stride = 0, y_stride = 0;
};
void mulshift_rows(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, int32_t* y, const RowSteps& rows);
void mulshift_rows(const MulShift& p, int64_t channel, const int32_t* x, int64_t n, uint8_t* y, int32_t base,
                   const RowSteps& rows);

// Residual add of two quantized tensors of the same shape, each rescaled to the output scale by its own
// multiplier: y = clamp(sat_out(zp_y + R((a − zp_a)·S_a) ± R((b − zp_b)·S_b)), lo, hi) (− for a Sub).
// `requantizer` gives the flavour, rounding, output format and zp_y.
struct AddRequant {
  Requantizer requantizer;
  RequantChannel scale_a, scale_b;
  int32_t zero_point_a, zero_point_b;
  int64_t clamp_lo, clamp_hi;
  bool subtract = false;  // a − b: the rescaled b is subtracted (ONNX Sub)
};
void add_requant(const AddRequant& p, const int32_t* a, const int32_t* b, int64_t count, int32_t* y);
// The same with either operand or the output in bytes (an output in bytes: the clamp [lo, hi], narrowed to the
// output format, lies within [y.base, y.base + 255]).
void add_requant(const AddRequant& p, CodesIn a, CodesIn b, int64_t count, CodesOut y);

// A pre-quantized QDQ graph's Add (or Sub) as its own float ops compute it, rounded once:
// y = clamp(sat_out(zp_y + RNE(fl(fl(da ± db) / s_y))), lo, hi) with da = fl(fl(a − zp_a)·s_a) and db likewise,
// every step in float32 (DequantizeLinear, Add, QuantizeLinear). The Add of two operand roundings above
// rounds twice and may differ by a code; this is the graph's arithmetic, for the `float32` flavour.
struct QdqAdd {
  float scale_a, scale_b, scale_y;
  int32_t zero_point_a, zero_point_b, zero_point_y;
  IntFormat output_format;
  int64_t clamp_lo, clamp_hi;
  bool subtract = false;
};
void qdq_add(const QdqAdd& p, const int32_t* a, const int32_t* b, int64_t count, int32_t* y);

// One quantized tensor in another quantization (a requantizing Concat's inputs):
// y = clamp(sat_out(zp_y + R((x − zp_x)·S)), lo, hi), the Add's rounding of one operand.
struct Rescale {
  Requantizer requantizer;
  RequantChannel scale;
  int32_t zero_point_x;
  int64_t clamp_lo, clamp_hi;
};
void rescale(const Rescale& p, const int32_t* x, int64_t count, int32_t* y);

// The product of two quantized values (a gate: squeeze-excitation, gating units):
// y = clamp(sat_out(zp_y + R((a − zp_a)·(b − zp_b)·S)), lo, hi). The product is exact in int32 when the
// two operands' formats have at most 30 bits together (the op checks).
struct MulRequant {
  Requantizer requantizer;
  RequantChannel scale;
  int32_t zero_point_a, zero_point_b;
  int64_t clamp_lo, clamp_hi;
};
inline int32_t mul_requant(const MulRequant& p, int32_t a, int32_t b) {
  const int32_t product = (a - p.zero_point_a) * (b - p.zero_point_b);
  return static_cast<int32_t>(std::clamp(p.requantizer.apply(product, p.scale), p.clamp_lo, p.clamp_hi));
}

}  // namespace chipref::kernels
