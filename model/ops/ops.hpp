#pragma once
// Registration of the float executor's op implementations, one file per family, plus the helpers
// they share (numpy broadcasting, axis normalisation, window geometry for convolution and pooling).

#include <functional>
#include <map>
#include <string>

#include "model/executor.hpp"

namespace chipref::ops {

using OpTable = std::map<std::string, OpFunction>;  // key: "Op" or "domain::Op"

void register_elementwise(OpTable& table);
void register_linear(OpTable& table);
void register_pool_norm(OpTable& table);
void register_shape(OpTable& table);
void register_quantize(OpTable& table);

// numpy-style broadcast of shapes; throws (via ctx) on incompatible shapes.
Shape broadcast_shapes(const OpContext& ctx, const Shape& a, const Shape& b);
// Strides of `in` laid over `out` (right-aligned), 0 along broadcast dimensions.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Calls f(out_index, offsets) for every element of `out`, with offsets[k] the element of input k.
void for_each_broadcast(const Shape& out, const std::vector<std::vector<int64_t>>& strides,
                        const std::function<void(int64_t, const int64_t*)>& f);
// Axis in [-rank, rank) → [0, rank); InputError naming the node otherwise.
int64_t normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank);
// A quantization scale must be finite and > 0 (ONNX requires positive scales); InputError otherwise.
double checked_scale(const OpContext& ctx, double scale, const char* what);
// Slice of an axis of size dim by ONNX's rules (negative from the end, clamped): the first index taken
// and how many are taken with `step` (≠ 0). Shared by the Slice op and its integer lowering.
struct SliceRange {
  int64_t begin, count;
};
SliceRange slice_range(int64_t start, int64_t end, int64_t step, int64_t dim);
// Split's part sizes along an axis of size `dim` into `outputs` parts: `given` (the split input or
// attribute) if not empty, which must have one size per output, each ≥ 0, summing to dim; else equal
// parts of ⌈dim / outputs⌉ with a smaller last one (opset 18's rule; it is the equal split where the
// earlier opsets require dim to divide). Empty with *error set when they do not fit.
std::vector<int64_t> split_sizes(int64_t dim, int64_t outputs, const std::vector<int64_t>& given, std::string* error);
// Resize along one axis (ONNX Resize, opsets 11–17): for each output index, the input indices it reads
// (lo, hi) and hi's weight (1 − weight for lo): nearest takes one index (weight 0), linear two. Shared by
// the Resize op and its integer lowering.
struct ResizeAxis {
  int64_t in = 0, out = 0;
  std::vector<int64_t> lo, hi;
  std::vector<double> weight_hi;
  bool identity() const;  // every output index reads its own input index alone
};
// The plan of `node` (a Resize: mode, coordinate_transformation_mode, nearest_mode) for an input of
// shape `in`, given its scales (empty if absent) or sizes (empty if absent). Empty with *unsupported
// set for what is not supported (cubic, tf_crop_and_resize, other modes), *error for a bad input.
std::vector<ResizeAxis> resize_plan(const Node& node, const Shape& in, const std::vector<float>& scales,
                                    const std::vector<int64_t>& sizes, std::string* unsupported, std::string* error);
// ConvTranspose's geometry per spatial axis (1-D as H = 1): kernel, stride, dilation, the pads at the
// start and end (explicit, or from output_shape / auto_pad as ONNX defines them), and the output size
// s·(in − 1) + output_padding + (k − 1)·d + 1 − pad_start − pad_end. Shared by the op and its lowering;
// *error set (and the result empty) for inconsistent attributes.
struct TransposedAxis {
  int64_t in, kernel, stride, dilation, pad_start, pad_end, output_padding, out;
};
struct TransposedConvGeometry {
  int64_t group = 1;
  std::vector<TransposedAxis> axes;  // H then W; H is 1 for a 1-D input
};
TransposedConvGeometry conv_transpose_geometry(const Node& node, const Shape& x, const Shape& w, std::string* error);
// Row-major strides of a shape.
std::vector<int64_t> strides_of(const Shape& shape);

// 2-D sliding-window geometry shared by Conv, ConvInteger, QLinearConv, MaxPool and AveragePool.
// 1-D ops run as 2-D with a height of 1.
struct Window2d {
  int64_t kh, kw, sh, sw, dh, dw;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t in_h, in_w, out_h, out_w;
};
Window2d window_geometry(const OpContext& ctx, const Shape& input_shape, int64_t kh, int64_t kw, bool ceil_mode);
// Spatial rank of an NC... input; 1 and 2 are supported.
int64_t spatial_rank(const OpContext& ctx, const Tensor& x);

}  // namespace chipref::ops
