#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "model/ops/ops.hpp"

namespace chipref::ops {

Shape broadcast_shapes(const OpContext& ctx, const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      ctx.fail("shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = stride;
    stride *= shape[i];
  }
  return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  const auto own = strides_of(in);
  const size_t offset = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[offset + i] = in[i] == 1 ? 0 : own[i];
  return s;
}

void for_each_broadcast(const Shape& out, const std::vector<std::vector<int64_t>>& strides,
                        const std::function<void(int64_t, const int64_t*)>& f) {
  const int64_t n = element_count(out);
  const size_t k = strides.size(), rank = out.size();
  std::vector<int64_t> index(rank, 0), offsets(k, 0);
  for (int64_t i = 0; i < n; ++i) {
    f(i, offsets.data());
    for (size_t d = rank; d-- > 0;) {  // odometer step, updating each input's offset incrementally
      if (++index[d] < out[d]) {
        for (size_t j = 0; j < k; ++j) offsets[j] += strides[j][d];
        break;
      }
      for (size_t j = 0; j < k; ++j) offsets[j] -= strides[j][d] * (out[d] - 1);
      index[d] = 0;
    }
  }
}

int64_t normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

double checked_scale(const OpContext& ctx, double scale, const char* what) {
  if (!(std::isfinite(scale) && scale > 0))
    ctx.fail(std::string(what) + " " + std::to_string(scale) + " is invalid; expected a finite value > 0");
  return scale;
}

int64_t spatial_rank(const OpContext& ctx, const Tensor& x) {
  const int64_t r = x.rank() - 2;
  if (r != 1 && r != 2)
    ctx.unsupported("input of shape " + shape_to_string(x.shape) + " has " + std::to_string(r) +
                    " spatial dimensions, which is not supported; expected 1 or 2");
  return r;
}

Window2d window_geometry(const OpContext& ctx, const Shape& shape, int64_t kh, int64_t kw, bool ceil_mode) {
  const Node& n = ctx.node;
  const bool one_d = shape.size() == 3;
  const int64_t spatial = one_d ? 1 : 2;
  auto per_axis = [&](const char* attr, int64_t fallback) {
    std::vector<int64_t> v = n.get_ints(attr, std::vector<int64_t>(spatial, fallback));
    if (static_cast<int64_t>(v.size()) != spatial)
      ctx.fail(std::string("attribute '") + attr + "' has " + std::to_string(v.size()) + " values; expected " +
               std::to_string(spatial));
    if (one_d) v.insert(v.begin(), 1);
    return v;
  };
  const auto strides = per_axis("strides", 1), dilations = per_axis("dilations", 1);
  Window2d w{};
  w.kh = kh, w.kw = kw, w.sh = strides[0], w.sw = strides[1], w.dh = dilations[0], w.dw = dilations[1];
  w.in_h = one_d ? 1 : shape[2];
  w.in_w = one_d ? shape[2] : shape[3];
  if (w.sh < 1 || w.sw < 1 || w.dh < 1 || w.dw < 1 || kh < 1 || kw < 1)
    ctx.fail("strides, dilations and kernel must be >= 1");
  const std::string auto_pad = n.get_string("auto_pad", std::string("NOTSET"));
  const int64_t eff_h = (kh - 1) * w.dh + 1, eff_w = (kw - 1) * w.dw + 1;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    auto same = [&](int64_t in, int64_t stride, int64_t eff, int64_t& begin, int64_t& end, int64_t& out) {
      out = (in + stride - 1) / stride;
      const int64_t total = std::max<int64_t>(0, (out - 1) * stride + eff - in);
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    };
    same(w.in_h, w.sh, eff_h, w.pad_top, w.pad_bottom, w.out_h);
    same(w.in_w, w.sw, eff_w, w.pad_left, w.pad_right, w.out_w);
    return w;
  }
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    ctx.fail("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  if (auto_pad == "NOTSET") {
    std::vector<int64_t> pads = n.get_ints("pads", std::vector<int64_t>(2 * spatial, 0));
    if (static_cast<int64_t>(pads.size()) != 2 * spatial)
      ctx.fail("attribute 'pads' has " + std::to_string(pads.size()) + " values; expected " +
               std::to_string(2 * spatial));
    if (one_d) pads = {0, pads[0], 0, pads[1]};
    w.pad_top = pads[0], w.pad_left = pads[1], w.pad_bottom = pads[2], w.pad_right = pads[3];
  }
  auto out_size = [&](int64_t in, int64_t pad_begin, int64_t pad_end, int64_t eff, int64_t stride) {
    const int64_t span = in + pad_begin + pad_end - eff;
    if (span < 0)
      ctx.fail("kernel of extent " + std::to_string(eff) + " is larger than the padded input " +
               std::to_string(in + pad_begin + pad_end));
    int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    // With ceil_mode, a last window that would start inside the end padding is dropped (PyTorch and
    // ONNX Runtime do the same).
    if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
    return out;
  };
  w.out_h = out_size(w.in_h, w.pad_top, w.pad_bottom, eff_h, w.sh);
  w.out_w = out_size(w.in_w, w.pad_left, w.pad_right, eff_w, w.sw);
  return w;
}

}  // namespace chipref::ops

namespace chipref::ops {

bool ResizeAxis::identity() const {
  for (size_t i = 0; i < lo.size(); ++i)
    if (lo[i] != static_cast<int64_t>(i) || weight_hi[i] != 0) return false;
  return out == in;
}

std::vector<ResizeAxis> resize_plan(const Node& node, const Shape& in, const std::vector<float>& scales,
                                    const std::vector<int64_t>& sizes, std::string* unsupported, std::string* error) {
  const std::string mode = node.get_string("mode", std::string("nearest"));
  const std::string coordinates = node.get_string("coordinate_transformation_mode", std::string("half_pixel"));
  const std::string nearest = node.get_string("nearest_mode", std::string("round_prefer_floor"));
  if (mode != "nearest" && mode != "linear") {
    *unsupported = "mode '" + mode + "' is not supported; expected nearest or linear";
    return {};
  }
  static const std::set<std::string> transforms = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                                   "tf_half_pixel_for_nn"};
  if (!transforms.count(coordinates)) {
    *unsupported = "coordinate_transformation_mode '" + coordinates + "' is not supported";
    return {};
  }
  if (nearest != "round_prefer_floor" && nearest != "round_prefer_ceil" && nearest != "floor" && nearest != "ceil") {
    *error = "nearest_mode '" + nearest + "' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil";
    return {};
  }
  const size_t rank = in.size();
  if ((scales.empty() == sizes.empty()) || (!scales.empty() && scales.size() != rank) ||
      (!sizes.empty() && sizes.size() != rank)) {
    *error = "give exactly one of scales and sizes, one value per axis of " + shape_to_string(in);
    return {};
  }
  std::vector<ResizeAxis> plan(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = in[d];
    ResizeAxis& a = plan[d];
    a.in = n;
    const double scale = scales.empty() ? static_cast<double>(sizes[d]) / static_cast<double>(n) : scales[d];
    a.out = scales.empty() ? sizes[d] : static_cast<int64_t>(std::floor(static_cast<double>(n) * scale));
    if (!(scale > 0) || n < 1 || a.out < 1) {
      *error = "axis " + std::to_string(d) + " of " + shape_to_string(in) + " resizes to " + std::to_string(a.out);
      return {};
    }
    // The resized length the coordinate modes divide by: the exact product in·scale, not its floor (the
    // ONNX reference), or the given size.
    const double resized = scales.empty() ? static_cast<double>(sizes[d]) : static_cast<double>(n) * scale;
    for (int64_t i = 0; i < a.out; ++i) {
      const double x = static_cast<double>(i);
      double original = 0;
      if (coordinates == "half_pixel") original = (x + 0.5) / scale - 0.5;
      if (coordinates == "pytorch_half_pixel") original = resized > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
      if (coordinates == "align_corners")
        original = resized == 1 ? 0.0 : x * static_cast<double>(n - 1) / (resized - 1);
      if (coordinates == "asymmetric") original = x / scale;
      if (coordinates == "tf_half_pixel_for_nn") original = (x + 0.5) / scale;
      auto clamped = [&](int64_t k) { return std::clamp<int64_t>(k, 0, n - 1); };
      if (mode == "nearest") {
        const double f = std::floor(original), frac = original - f;
        int64_t k = static_cast<int64_t>(f);
        if (nearest == "ceil") k = static_cast<int64_t>(std::ceil(original));
        if (nearest == "round_prefer_floor") k += frac > 0.5;
        if (nearest == "round_prefer_ceil") k += frac >= 0.5;
        a.lo.push_back(clamped(k)), a.hi.push_back(clamped(k)), a.weight_hi.push_back(0.0);
      } else {
        const double f = std::floor(original);
        const int64_t k = static_cast<int64_t>(f);
        a.lo.push_back(clamped(k)), a.hi.push_back(clamped(k + 1)), a.weight_hi.push_back(original - f);
      }
    }
  }
  return plan;
}

}  // namespace chipref::ops

namespace chipref::ops {

TransposedConvGeometry conv_transpose_geometry(const Node& node, const Shape& x, const Shape& w, std::string* error) {
  const size_t spatial = x.size() >= 2 ? x.size() - 2 : 0;
  if ((spatial != 1 && spatial != 2) || w.size() != x.size()) {
    *error = "input " + shape_to_string(x) + " and weight " + shape_to_string(w) + " must be 1-D or 2-D convolutions";
    return {};
  }
  TransposedConvGeometry g;
  g.group = node.get_int("group", 1);
  if (g.group < 1 || x[1] != w[0] || x[1] % g.group) {
    *error = "input channels " + std::to_string(x[1]) + ", weight " + shape_to_string(w) + " and group " +
             std::to_string(g.group) + " are inconsistent (weight [C, M/group, kH, kW])";
    return {};
  }
  const std::vector<int64_t> ones(spatial, 1), zeros(spatial, 0);
  const std::vector<int64_t> strides = node.get_ints("strides", ones), dilations = node.get_ints("dilations", ones);
  const std::vector<int64_t> output_padding = node.get_ints("output_padding", zeros);
  std::vector<int64_t> pads = node.get_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  const std::vector<int64_t> output_shape = node.get_ints("output_shape", std::vector<int64_t>{});
  const std::string auto_pad = node.get_string("auto_pad", std::string("NOTSET"));
  if (strides.size() != spatial || dilations.size() != spatial || output_padding.size() != spatial ||
      pads.size() != 2 * spatial || (!output_shape.empty() && output_shape.size() != spatial)) {
    *error = "strides, dilations, output_padding, pads and output_shape must have one value per spatial axis";
    return {};
  }
  for (size_t a = 0; a < spatial; ++a) {
    const int64_t in = x[2 + a], k = w[2 + a],
                  full = strides[a] * (in - 1) + output_padding[a] + (k - 1) * dilations[a] + 1;
    // The padding that gives the requested size, split as ONNX's reference splits it (floor division: a
    // negative total, an output larger than the convolution makes, adds output positions no input reaches).
    std::optional<int64_t> total;
    if (!output_shape.empty())
      total = full - output_shape[a];
    else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")
      total = full - in * strides[a];
    else if (auto_pad == "VALID")
      total = 0;
    if (total) {
      const int64_t half = *total >= 0 ? *total / 2 : -((-*total + 1) / 2);
      const bool upper = auto_pad == "SAME_UPPER";
      pads[a] = upper ? half : *total - half;
      pads[a + spatial] = *total - pads[a];
    }
  }
  const bool derived = !output_shape.empty() || auto_pad != "NOTSET";
  if (spatial == 1) g.axes.push_back(TransposedAxis{1, 1, 1, 1, 0, 0, 0, 1});
  for (size_t a = 0; a < spatial; ++a) {
    TransposedAxis t{x[2 + a], w[2 + a], strides[a], dilations[a], pads[a], pads[a + spatial], output_padding[a], 0};
    t.out = t.stride * (t.in - 1) + t.output_padding + (t.kernel - 1) * t.dilation + 1 - t.pad_start - t.pad_end;
    if (t.stride < 1 || t.dilation < 1 || (!derived && (t.pad_start < 0 || t.pad_end < 0)) || t.output_padding < 0 ||
        t.out < 1) {
      *error = "strides and dilations must be ≥ 1, pads and output_padding ≥ 0, and the output not empty";
      return {};
    }
    g.axes.push_back(t);
  }
  return g;
}

}  // namespace chipref::ops
