#pragma once
// How a tensor's reals become codes (docs/numerics.md §1): the affine map of a QuantParams, one per
// slice of the tensor — the whole tensor, each channel (axis 0), or each group of `group_size`
// consecutive elements within a channel (the reduction-axis blocks of block formats). Every code in
// the lowering comes from code_of, here: one rounding, one saturation.

#include <cstdint>
#include <vector>

#include "model/int_graph.hpp"
#include "model/tensor.hpp"

namespace chipref {

// sat(round_half_even(real / scale) + zero_point) to the format's range, in double.
int64_t code_of(double real, const QuantParams& q);
// The same to the codes [lo, hi] (a narrow range, a weight grid).
int64_t code_of(double real, double scale, int64_t zero_point, int64_t lo, int64_t hi);

// One real at a time, per tensor: integer path q = clamp(round_half_even(x / s) + z, min, max) (code_of),
// float path clamp(s·round_half_even(x / s), s·(min − z), s·(max − z)). They agree exactly (tested).
struct UniformQuantizer {
  QuantParams params;
  int64_t quantize(double x) const { return code_of(x, params); }
  double dequantize(int64_t q) const { return params.scale * static_cast<double>(q - params.zero_point); }
  double fake_quantize(double x) const;
};

// A whole tensor, in slices of one QuantParams each.
enum class Granularity { per_tensor, per_channel, per_group };

class TensorQuantizer {
 public:
  static TensorQuantizer per_tensor(const QuantParams& q);
  static TensorQuantizer per_channel(std::vector<QuantParams> channels);
  // groups[c · groups_per_channel + g] quantizes elements [g·size, (g+1)·size) of channel c's row (the
  // last group of a row may be shorter).
  static TensorQuantizer per_group(std::vector<QuantParams> groups, int64_t group_size);

  // Narrow range: never the format's lowest code, so that symmetric weights (signed around 0, or unsigned around
  // 2^(b−1)) lie in [z − (2^(b−1)−1), z + 2^(b−1)−1] and negating one stays in range.
  TensorQuantizer& narrow_range() {
    narrow_ = true;
    return *this;
  }

  Granularity granularity() const { return granularity_; }
  const std::vector<QuantParams>& params() const { return params_; }
  // The QuantParams of element `index` (row-major) of a tensor of `shape`. InputError if the tensor
  // does not have the channels or groups the quantizer was made for.
  const QuantParams& params_of(int64_t index, const Shape& shape) const;
  // Every element's code, as `dtype` (the codes must fit it).
  Tensor codes(const Tensor& reals, DType dtype = DType::int32) const;

 private:
  size_t slices_for(const Shape& shape, int64_t& row) const;  // checks the shape; row: elements per channel
  Granularity granularity_ = Granularity::per_tensor;
  std::vector<QuantParams> params_;
  int64_t group_size_ = 0;
  bool narrow_ = false;
};

}  // namespace chipref
