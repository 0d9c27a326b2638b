#include "quant/quantizer.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "numerics/rounding.hpp"

namespace chipref {

int64_t code_of(double real, double scale, int64_t zero_point, int64_t lo, int64_t hi) {
  const double r = round_to_integer(real / scale, RoundingMode::half_even) + static_cast<double>(zero_point);
  return static_cast<int64_t>(std::clamp(r, static_cast<double>(lo), static_cast<double>(hi)));
}

int64_t code_of(double real, const QuantParams& q) {
  return code_of(real, q.scale, q.zero_point, q.format.min(), q.format.max());
}

double UniformQuantizer::fake_quantize(double x) const {
  const double s = params.scale;
  const double lo = s * static_cast<double>(params.format.min() - params.zero_point);
  const double hi = s * static_cast<double>(params.format.max() - params.zero_point);
  return std::clamp(s * round_to_integer(x / s, RoundingMode::half_even), lo, hi);
}

TensorQuantizer TensorQuantizer::per_tensor(const QuantParams& q) {
  TensorQuantizer t;
  t.params_ = {q};
  return t;
}

TensorQuantizer TensorQuantizer::per_channel(std::vector<QuantParams> channels) {
  TensorQuantizer t;
  t.granularity_ = Granularity::per_channel, t.params_ = std::move(channels);
  return t;
}

TensorQuantizer TensorQuantizer::per_group(std::vector<QuantParams> groups, int64_t group_size) {
  if (group_size < 1)
    throw InputError("a quantization group needs at least one element, not " + std::to_string(group_size));
  TensorQuantizer t;
  t.granularity_ = Granularity::per_group, t.params_ = std::move(groups), t.group_size_ = group_size;
  return t;
}

size_t TensorQuantizer::slices_for(const Shape& shape, int64_t& row) const {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  const int64_t channels = shape.empty() ? 1 : shape[0];
  row = channels > 0 ? numel / channels : 0;
  const int64_t want = granularity_ == Granularity::per_tensor    ? 1
                       : granularity_ == Granularity::per_channel ? channels
                                                                  : channels * ((row + group_size_ - 1) / group_size_);
  if (static_cast<int64_t>(params_.size()) != want)
    throw InputError("a tensor of shape " + shape_to_string(shape) + " needs " + std::to_string(want) +
                     " quantization parameter sets for its granularity; the quantizer has " +
                     std::to_string(params_.size()));
  return static_cast<size_t>(want);
}

const QuantParams& TensorQuantizer::params_of(int64_t index, const Shape& shape) const {
  int64_t row = 0;
  slices_for(shape, row);
  if (granularity_ == Granularity::per_tensor) return params_[0];
  const int64_t channel = index / row;
  if (granularity_ == Granularity::per_channel) return params_[static_cast<size_t>(channel)];
  const int64_t groups_per_channel = (row + group_size_ - 1) / group_size_;
  return params_[static_cast<size_t>(channel * groups_per_channel + (index % row) / group_size_)];
}

Tensor TensorQuantizer::codes(const Tensor& reals, DType dtype) const {
  int64_t row = 0;
  slices_for(reals.shape, row);
  const int64_t groups_per_channel = granularity_ == Granularity::per_group ? (row + group_size_ - 1) / group_size_ : 1;
  Tensor out = Tensor::zeros(dtype, reals.shape);
  for (int64_t i = 0; i < reals.numel(); ++i) {
    const QuantParams& q = granularity_ == Granularity::per_tensor ? params_[0]
                           : granularity_ == Granularity::per_channel
                               ? params_[static_cast<size_t>(i / row)]
                               : params_[static_cast<size_t>(i / row * groups_per_channel + (i % row) / group_size_)];
    int64_t c = code_of(reals.floats[static_cast<size_t>(i)], q);
    if (narrow_) c = std::max(c, q.format.min() + 1);
    if (c < dtype_min(dtype) || c > dtype_max(dtype))
      throw InputError("code " + std::to_string(c) + " of element " + std::to_string(i) + " does not fit " +
                       std::string(to_string(dtype)));
    out.ints[static_cast<size_t>(i)] = c;
  }
  return out;
}

}  // namespace chipref
