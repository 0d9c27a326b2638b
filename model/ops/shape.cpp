// Data movement and shape arithmetic: Flatten, Reshape, Transpose, Concat, Slice, Split, Gather, Squeeze,
// Unsqueeze, Shape, Constant, ConstantOfShape, Expand, Pad, Cast, Equal, and the integer arithmetic of
// shape computations: Mod, Not, Range, ScatterND (Swin's window padding and attention mask). Each works on
// every dtype it is defined for.

#include <algorithm>
#include <cmath>

#include "model/executor.hpp"
#include "model/ops/ops.hpp"

namespace chipref::ops {

namespace {

// out[i] = src[offsets[i]], any dtype.
Tensor pick(const Tensor& src, Shape out_shape, const std::vector<int64_t>& offsets) {
  Tensor out = Tensor::zeros(src.dtype, std::move(out_shape));
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (src.is_float())
      out.floats[i] = src.floats[offsets[i]];
    else
      out.ints[i] = src.ints[offsets[i]];
  }
  return out;
}

// Offsets into `src` for an output of `out_shape` read through per-axis strides (0 = broadcast) + base.
std::vector<int64_t> strided_offsets(const Shape& out_shape, const std::vector<int64_t>& strides, int64_t base = 0) {
  std::vector<int64_t> offsets(static_cast<size_t>(element_count(out_shape)));
  for_each_broadcast(out_shape, {strides}, [&](int64_t i, const int64_t* off) { offsets[i] = base + off[0]; });
  return offsets;
}

Tensor reshaped(const Tensor& x, Shape shape) {
  Tensor y = x;
  y.shape = std::move(shape);
  return y;
}

std::vector<int64_t> int_input(const OpContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (t.is_float()) ctx.fail("input " + std::to_string(i) + " must be an integer tensor");
  return t.ints;
}

void flatten(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = ctx.node.get_int("axis", 1);
  const int64_t a = axis < 0 ? axis + x.rank() : axis;
  if (a < 0 || a > x.rank())
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(x.rank()));
  int64_t outer = 1;
  for (int64_t d = 0; d < a; ++d) outer *= x.shape[d];
  ctx.outputs[0] = reshaped(x, {outer, outer ? x.numel() / outer : 0});
}

void reshape(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape shape = int_input(ctx, 1);
  const bool allow_zero = ctx.node.get_int("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 && !allow_zero) {
      if (d >= x.shape.size()) ctx.fail("shape entry 0 at " + std::to_string(d) + " has no input dimension to copy");
      shape[d] = x.shape[d];
    }
    if (shape[d] == -1) {
      if (infer >= 0) ctx.fail("shape " + shape_to_string(shape) + " has more than one -1");
      infer = static_cast<int64_t>(d);
    } else if (shape[d] < 0) {
      ctx.fail("shape " + shape_to_string(shape) + " has a negative entry");
    } else {
      known *= shape[d];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known)
      ctx.fail("cannot infer the -1 in " + shape_to_string(shape) + " for " + shape_to_string(x.shape));
    shape[infer] = x.numel() / known;
  }
  if (element_count(shape) != x.numel())
    ctx.fail("cannot reshape " + shape_to_string(x.shape) + " to " + shape_to_string(shape));
  ctx.outputs[0] = reshaped(x, shape);
}

void transpose(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> perm(x.shape.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(perm.size() - 1 - i);
  perm = ctx.node.get_ints("perm", perm);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted.size() != x.shape.size() || sorted[i] != static_cast<int64_t>(i))
      ctx.fail("perm is not a permutation of the input's axes");
  const auto in_strides = strides_of(x.shape);
  Shape out_shape(perm.size());
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out_shape[i] = x.shape[perm[i]], strides[i] = in_strides[perm[i]];
  ctx.outputs[0] = pick(x, out_shape, strided_offsets(out_shape, strides));
}

void concat(OpContext& ctx) {
  const Tensor& first = ctx.input(0);
  const int64_t axis = normalize_axis(ctx, ctx.node.get_int("axis"), first.rank());
  Shape out_shape = first.shape;
  out_shape[axis] = 0;
  for (size_t k = 0; k < ctx.input_count(); ++k) {
    const Tensor& t = ctx.input(k);
    bool ok = t.rank() == first.rank() && t.dtype == first.dtype;
    for (int64_t d = 0; ok && d < t.rank(); ++d) ok = d == axis || t.shape[d] == first.shape[d];
    if (!ok)
      ctx.fail("input " + std::to_string(k) + " of shape " + shape_to_string(t.shape) + " does not match " +
               shape_to_string(first.shape));
    out_shape[axis] += t.shape[axis];
  }
  Tensor out = Tensor::zeros(first.dtype, out_shape);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out_shape[d];
  const int64_t out_block = out.numel() / std::max<int64_t>(outer, 1);
  int64_t offset = 0;
  for (size_t k = 0; k < ctx.input_count(); ++k) {
    const Tensor& t = ctx.input(k);
    const int64_t block = t.numel() / std::max<int64_t>(outer, 1);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < block; ++i) {
        if (t.is_float())
          out.floats[o * out_block + offset + i] = t.floats[o * block + i];
        else
          out.ints[o * out_block + offset + i] = t.ints[o * block + i];
      }
    offset += block;
  }
  ctx.outputs[0] = std::move(out);
}

void slice(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (ctx.opset < 10) ctx.unsupported("Slice before opset 10 is not supported");
  const auto starts = int_input(ctx, 1), ends = int_input(ctx, 2);
  std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1);
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  if (ctx.has_input(3)) axes = int_input(ctx, 3);
  if (ctx.has_input(4)) steps = int_input(ctx, 4);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    ctx.fail("starts, ends, axes and steps must have the same length");
  std::vector<int64_t> begin(x.shape.size(), 0), step(x.shape.size(), 1);
  Shape out_shape = x.shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = normalize_axis(ctx, axes[i], x.rank()), dim = x.shape[a], s = steps[i];
    if (s == 0) ctx.fail("step 0 on axis " + std::to_string(a));
    const SliceRange r = slice_range(starts[i], ends[i], s, dim);
    begin[a] = r.begin, step[a] = s, out_shape[a] = r.count;
  }
  const auto in_strides = strides_of(x.shape);
  int64_t base = 0;
  std::vector<int64_t> strides(x.shape.size());
  for (size_t d = 0; d < x.shape.size(); ++d) base += begin[d] * in_strides[d], strides[d] = step[d] * in_strides[d];
  ctx.outputs[0] =
      pick(x, out_shape, element_count(out_shape) ? strided_offsets(out_shape, strides, base) : std::vector<int64_t>{});
}

// Split: consecutive parts along `axis`, sizes from the `split` input (opset ≥ 13) or attribute.
void split(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = normalize_axis(ctx, ctx.node.get_int("axis", 0), x.rank());
  std::vector<int64_t> given;
  if (ctx.node.has("split")) given = ctx.node.get_ints("split");
  if (ctx.has_input(1)) given = int_input(ctx, 1);
  std::string error;
  const std::vector<int64_t> sizes =
      split_sizes(x.shape[static_cast<size_t>(axis)], static_cast<int64_t>(ctx.outputs.size()), given, &error);
  if (!error.empty()) ctx.fail(error);
  const auto in_strides = strides_of(x.shape);
  int64_t begin = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape out_shape = x.shape;
    out_shape[static_cast<size_t>(axis)] = sizes[k];
    ctx.outputs[k] = pick(x, out_shape,
                          element_count(out_shape) ? strided_offsets(out_shape, in_strides, begin * in_strides[axis])
                                                   : std::vector<int64_t>{});
    begin += sizes[k];
  }
}

}  // namespace

std::vector<int64_t> split_sizes(int64_t dim, int64_t outputs, const std::vector<int64_t>& given, std::string* error) {
  if (outputs < 1) {
    *error = "Split needs at least one output";
    return {};
  }
  if (given.empty()) {
    const int64_t part = (dim + outputs - 1) / outputs;
    std::vector<int64_t> sizes;
    for (int64_t k = 0, left = dim; k < outputs; ++k, left -= part) sizes.push_back(std::clamp<int64_t>(left, 0, part));
    return sizes;
  }
  int64_t sum = 0;
  for (int64_t v : given) sum += v;
  if (static_cast<int64_t>(given.size()) != outputs || sum != dim ||
      std::any_of(given.begin(), given.end(), [](int64_t v) { return v < 0; })) {
    *error = "split sizes " + shape_to_string(given) + " do not divide an axis of " + std::to_string(dim) + " into " +
             std::to_string(outputs) + " parts";
    return {};
  }
  return given;
}

// ONNX: negative indices count from the end; starts clamp to [0, dim] (step > 0) or [0, dim-1]
// (step < 0); ends clamp to [0, dim] or [-1, dim-1].
SliceRange slice_range(int64_t start, int64_t end, int64_t step, int64_t dim) {
  if (dim == 0) return {0, 0};
  auto from_end = [dim](int64_t v) { return v < 0 ? v + dim : v; };
  const int64_t b =
      step > 0 ? std::clamp<int64_t>(from_end(start), 0, dim) : std::clamp<int64_t>(from_end(start), 0, dim - 1);
  const int64_t e =
      step > 0 ? std::clamp<int64_t>(from_end(end), 0, dim) : std::clamp<int64_t>(from_end(end), -1, dim - 1);
  const int64_t count =
      step > 0 ? std::max<int64_t>(0, (e - b + step - 1) / step) : std::max<int64_t>(0, (b - e - step - 1) / (-step));
  return {b, count};
}

namespace {

void gather(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const auto indices = int_input(ctx, 1);
  const Shape& index_shape = ctx.input(1).shape;
  const int64_t axis = normalize_axis(ctx, ctx.node.get_int("axis", 0), data.rank());
  const int64_t dim = data.shape[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data.shape[d];
  for (int64_t d = axis + 1; d < data.rank(); ++d) inner *= data.shape[d];
  Shape out_shape(data.shape.begin(), data.shape.begin() + axis);
  out_shape.insert(out_shape.end(), index_shape.begin(), index_shape.end());
  out_shape.insert(out_shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  std::vector<int64_t> offsets;
  offsets.reserve(static_cast<size_t>(element_count(out_shape)));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t idx : indices) {
      const int64_t j = idx < 0 ? idx + dim : idx;
      if (j < 0 || j >= dim)
        ctx.fail("index " + std::to_string(idx) + " is out of range for axis of size " + std::to_string(dim));
      for (int64_t i = 0; i < inner; ++i) offsets.push_back((o * dim + j) * inner + i);
    }
  ctx.outputs[0] = pick(data, out_shape, offsets);
}

std::vector<int64_t> axes_from(const OpContext& ctx, size_t input_index) {
  if (ctx.opset >= 13) return ctx.has_input(input_index) ? int_input(ctx, input_index) : std::vector<int64_t>{};
  return ctx.node.get_ints("axes", std::vector<int64_t>{});
}

void squeeze(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const auto axes = axes_from(ctx, 1);
  std::vector<bool> drop(x.shape.size(), false);
  if (axes.empty())
    for (size_t d = 0; d < x.shape.size(); ++d) drop[d] = x.shape[d] == 1;
  for (int64_t a : axes) {
    const int64_t d = normalize_axis(ctx, a, x.rank());
    if (x.shape[d] != 1)
      ctx.fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x.shape[d]));
    drop[d] = true;
  }
  Shape out;
  for (size_t d = 0; d < x.shape.size(); ++d)
    if (!drop[d]) out.push_back(x.shape[d]);
  ctx.outputs[0] = reshaped(x, out);
}

void unsqueeze(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const auto axes = axes_from(ctx, 1);
  const int64_t rank = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    const int64_t d = normalize_axis(ctx, a, rank);
    if (inserted[d]) ctx.fail("axis " + std::to_string(a) + " is repeated");
    inserted[d] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) out.push_back(inserted[d] ? 1 : x.shape[next++]);
  ctx.outputs[0] = reshaped(x, out);
}

void shape_op(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t start = ctx.node.get_int("start", 0), end = ctx.node.get_int("end", x.rank());
  if (start < 0) start += x.rank();
  if (end < 0) end += x.rank();
  start = std::clamp<int64_t>(start, 0, x.rank()), end = std::clamp<int64_t>(end, start, x.rank());
  std::vector<int64_t> dims(x.shape.begin() + start, x.shape.begin() + end);
  ctx.outputs[0] = Tensor::of_ints(DType::int64, {static_cast<int64_t>(dims.size())}, dims);
}

void constant(OpContext& ctx) {
  const Node& n = ctx.node;
  if (n.has("value"))
    ctx.outputs[0] = n.get_tensor("value");
  else if (n.has("value_float"))
    ctx.outputs[0] = Tensor::of_floats({}, {n.get_float("value_float")});
  else if (n.has("value_floats")) {
    auto v = n.get_floats("value_floats");
    ctx.outputs[0] = Tensor::of_floats({static_cast<int64_t>(v.size())}, v);
  } else if (n.has("value_int"))
    ctx.outputs[0] = Tensor::of_ints(DType::int64, {}, {n.get_int("value_int")});
  else if (n.has("value_ints")) {
    auto v = n.get_ints("value_ints");
    ctx.outputs[0] = Tensor::of_ints(DType::int64, {static_cast<int64_t>(v.size())}, v);
  } else
    ctx.fail("has no value attribute chipref supports (value, value_float(s), value_int(s))");
}

void constant_of_shape(OpContext& ctx) {
  const Shape shape = int_input(ctx, 0);
  for (int64_t d : shape)
    if (d < 0) ctx.fail("negative dimension in " + shape_to_string(shape));
  const Tensor value = ctx.node.has("value") ? ctx.node.get_tensor("value") : Tensor::of_floats({1}, {0.0f});
  if (value.numel() != 1) ctx.fail("value must hold exactly one element");
  Tensor out = Tensor::zeros(value.dtype, shape);
  if (value.is_float())
    std::fill(out.floats.begin(), out.floats.end(), value.floats[0]);
  else
    std::fill(out.ints.begin(), out.ints.end(), value.ints[0]);
  ctx.outputs[0] = std::move(out);
}

void expand(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Shape out_shape = broadcast_shapes(ctx, x.shape, int_input(ctx, 1));
  ctx.outputs[0] = pick(x, out_shape, strided_offsets(out_shape, broadcast_strides(x.shape, out_shape)));
}

// chipref's own (domain "chipref"): x [1, ...] repeated along axis 0 to the batch of `like` (axis 0).
// Dynamic-batch folding (model/fold.hpp) leaves it where an export expanded a constant to the batch.
void batch_broadcast(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& like = ctx.input(1);
  if (x.rank() == 0 || x.shape[0] != 1 || like.rank() == 0)
    ctx.fail("expects x of shape [1, ...] and a batched `like`");
  Shape out_shape = x.shape;
  out_shape[0] = like.shape[0];
  ctx.outputs[0] = pick(x, out_shape, strided_offsets(out_shape, broadcast_strides(x.shape, out_shape)));
}

// Resize: nearest and linear (separable: one axis after another), the coordinate modes of opsets 11–17
// but tf_crop_and_resize; computed in double, rounded to float32 once per axis.
void resize(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    if (!ctx.input(2).is_float()) ctx.fail("scales must be float");
    scales = ctx.input(2).floats;
  }
  if (ctx.has_input(3) && ctx.input(3).numel() > 0) sizes = int_input(ctx, 3);
  std::string unsupported, error;
  const std::vector<ResizeAxis> plan = resize_plan(ctx.node, x.shape, scales, sizes, &unsupported, &error);
  if (!unsupported.empty()) ctx.unsupported(unsupported);
  if (!error.empty()) ctx.fail(error);
  const bool linear = ctx.node.get_string("mode", std::string("nearest")) == "linear";
  if (linear && !x.is_float()) ctx.unsupported("linear resize of integer tensors is not supported");
  Tensor cur = x;
  for (size_t d = 0; d < plan.size(); ++d) {
    const ResizeAxis& a = plan[d];
    if (a.identity()) continue;
    Shape shape = cur.shape;
    const int64_t in = shape[d];
    shape[d] = a.out;
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < d; ++k) outer *= shape[k];
    for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
    Tensor next = Tensor::zeros(cur.dtype, shape);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < a.out; ++i)
        for (int64_t j = 0; j < inner; ++j) {
          const int64_t at = (o * a.out + i) * inner + j, lo = (o * in + a.lo[i]) * inner + j,
                        hi = (o * in + a.hi[i]) * inner + j;
          if (!cur.is_float()) {
            next.ints[at] = cur.ints[lo];
            continue;
          }
          const double w = a.weight_hi[i];
          next.floats[at] = static_cast<float>(w == 0 ? cur.floats[lo] : (1 - w) * cur.floats[lo] + w * cur.floats[hi]);
        }
    cur = std::move(next);
  }
  ctx.outputs[0] = std::move(cur);
}

// chipref::Dilate: zeros between neighbours along the axes from 2 on (strides attribute).
void dilate(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> strides = ctx.node.get_ints("strides");
  if (x.rank() < 2 || strides.size() != static_cast<size_t>(x.rank() - 2))
    ctx.fail("expects one stride per axis from 2 on of " + shape_to_string(x.shape));
  Shape shape = x.shape;
  std::vector<int64_t> full(2, 1);
  full.insert(full.end(), strides.begin(), strides.end());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (full[d] < 1) ctx.fail("strides must be ≥ 1");
    shape[d] = x.shape[d] == 0 ? 0 : (x.shape[d] - 1) * full[d] + 1;
  }
  Tensor y = Tensor::zeros(x.dtype, shape);
  const std::vector<int64_t> ys = strides_of(shape);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t e = 0; e < x.numel(); ++e) {
    int64_t at = 0;
    for (size_t d = 0; d < shape.size(); ++d) at += index[d] * full[d] * ys[d];
    if (x.is_float())
      y.floats[at] = x.floats[e];
    else
      y.ints[at] = x.ints[e];
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < x.shape[d]) break;
      index[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(y);
}

// Pad: constant (the value input, 0 by default), edge (the nearest element) or reflect (mirrored about
// the edge element, repeatedly for pads longer than the axis, as numpy.pad; an axis of 1 repeats it).
void pad(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string mode = ctx.node.get_string("mode", std::string("constant"));
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    ctx.unsupported("mode '" + mode + "' is not supported; expected constant, edge or reflect");
  const auto pads = int_input(ctx, 1);
  const size_t r = x.shape.size();
  if (pads.size() != 2 * r)
    ctx.fail("pads has " + std::to_string(pads.size()) + " values; expected " + std::to_string(2 * r));
  if (ctx.has_input(3)) ctx.unsupported("the axes input is not supported");
  Shape out_shape = x.shape;
  for (size_t d = 0; d < r; ++d) {
    if (pads[d] < 0 || pads[d + r] < 0) ctx.unsupported("negative pads (cropping) are not supported");
    if (mode != "constant" && x.shape[d] == 0 && pads[d] + pads[d + r] > 0)
      ctx.fail("cannot " + mode + "-pad the empty axis " + std::to_string(d));
    out_shape[d] += pads[d] + pads[d + r];
  }
  // The input index along axis d that output index i reads; −1 for the constant.
  auto source = [&](size_t d, int64_t i) -> int64_t {
    const int64_t dim = x.shape[d], j = i - pads[d];
    if (j >= 0 && j < dim) return j;
    if (mode == "constant") return -1;
    if (mode == "edge" || dim == 1) return j < 0 ? 0 : dim - 1;
    const int64_t period = 2 * (dim - 1), k = ((j % period) + period) % period;
    return k < dim ? k : period - k;
  };
  const double fill = ctx.has_input(2) && ctx.input(2).numel() ? ctx.input(2).value(0) : 0.0;
  Tensor out = Tensor::zeros(x.dtype, out_shape);
  const auto in_strides = strides_of(x.shape);
  std::vector<int64_t> index(r, 0);
  for (int64_t e = 0; e < out.numel(); ++e) {
    int64_t offset = 0;
    bool inside = true;
    for (size_t d = 0; d < r && inside; ++d) {
      const int64_t j = source(d, index[d]);
      inside = j >= 0, offset += j * in_strides[d];
    }
    if (out.is_float())
      out.floats[e] = inside ? x.floats[offset] : static_cast<float>(fill);
    else
      out.ints[e] = inside ? x.ints[offset] : static_cast<int64_t>(fill);
    for (size_t d = r; d-- > 0;) {
      if (++index[d] < out_shape[d]) break;
      index[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(out);
}

void cast(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  static const std::pair<int64_t, DType> kTypes[] = {{1, DType::float32}, {2, DType::uint8},  {3, DType::int8},
                                                     {4, DType::uint16},  {5, DType::int16},  {6, DType::int32},
                                                     {7, DType::int64},   {9, DType::boolean}};
  const int64_t to = ctx.node.get_int("to");
  const auto it = std::find_if(std::begin(kTypes), std::end(kTypes), [to](const auto& p) { return p.first == to; });
  if (it == std::end(kTypes)) ctx.unsupported("cast to ONNX type " + std::to_string(to) + " is not supported");
  const DType dtype = it->second;
  Tensor out = Tensor::zeros(dtype, x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (dtype == DType::float32)
      out.floats[i] = x.is_float() ? x.floats[i] : static_cast<float>(x.ints[i]);
    else if (dtype == DType::boolean)
      out.ints[i] = x.value(i) != 0;
    else if (x.is_float()) {
      if (!std::isfinite(x.floats[i])) ctx.fail("cannot cast a non-finite float to an integer type");
      out.ints[i] = static_cast<int64_t>(x.floats[i]);  // truncation toward zero, as C and numpy
    } else {
      out.ints[i] = x.ints[i];  // same or wider integer types; narrowing keeps the value modulo 2^bits
      if (dtype != DType::int64 && (out.ints[i] < dtype_min(dtype) || out.ints[i] > dtype_max(dtype))) {
        const int64_t span = dtype_max(dtype) - dtype_min(dtype) + 1;  // at most 2^32: no overflow
        out.ints[i] = ((out.ints[i] - dtype_min(dtype)) % span + span) % span + dtype_min(dtype);
      }
    }
  }
  ctx.outputs[0] = std::move(out);
}

// Equal, Less, Greater, LessOrEqual, GreaterOrEqual: bool, numpy broadcasting; integers compared as
// int64 (exact past 2^53), floats as floats.
template <class Relation>
void comparison(OpContext& ctx, Relation holds) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype != b.dtype) ctx.fail("operand types differ");
  const Shape out_shape = broadcast_shapes(ctx, a.shape, b.shape);
  Tensor out = Tensor::zeros(DType::boolean, out_shape);
  for_each_broadcast(out_shape, {broadcast_strides(a.shape, out_shape), broadcast_strides(b.shape, out_shape)},
                     [&](int64_t i, const int64_t* off) {
                       out.ints[i] = a.is_float() ? holds(a.floats[off[0]], b.floats[off[1]])
                                                  : holds(a.ints[off[0]], b.ints[off[1]]);
                     });
  ctx.outputs[0] = std::move(out);
}

// Mod: fmod 0 (integers only) takes the divisor's sign, as Python's %; fmod 1 the dividend's, as C's fmod.
void mod(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype != b.dtype) ctx.fail("operand types differ");
  const bool fmod = ctx.node.get_int("fmod", 0) != 0;
  if (a.is_float() && !fmod) ctx.fail("Mod of float operands requires fmod = 1");
  const Shape out_shape = broadcast_shapes(ctx, a.shape, b.shape);
  Tensor out = Tensor::zeros(a.dtype, out_shape);
  for_each_broadcast(out_shape, {broadcast_strides(a.shape, out_shape), broadcast_strides(b.shape, out_shape)},
                     [&](int64_t i, const int64_t* off) {
                       if (a.is_float()) {
                         out.floats[i] = std::fmod(a.floats[off[0]], b.floats[off[1]]);
                         return;
                       }
                       const int64_t x = a.ints[off[0]], d = b.ints[off[1]];
                       if (d == 0) ctx.fail("integer Mod by zero");
                       int64_t r = d == -1 ? 0 : x % d;  // C's %: the dividend's sign (−1: INT64_MIN % −1 traps)
                       if (!fmod && r != 0 && ((r < 0) != (d < 0))) r += d;
                       out.ints[i] = r;
                     });
  ctx.outputs[0] = std::move(out);
}

void not_op(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype != DType::boolean) ctx.fail("Not takes a bool tensor, got " + std::string(to_string(x.dtype)));
  Tensor out = x;
  for (int64_t& v : out.ints) v = v == 0;
  ctx.outputs[0] = std::move(out);
}

// Range: max(ceil((limit − start) / delta), 0) elements start + i·delta, of start's type.
void range(OpContext& ctx) {
  const Tensor& start = ctx.input(0);
  const Tensor& limit = ctx.input(1);
  const Tensor& delta = ctx.input(2);
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1)
    ctx.fail("start, limit and delta must be scalars");
  if (start.dtype != limit.dtype || start.dtype != delta.dtype) ctx.fail("start, limit and delta types differ");
  if (delta.value(0) == 0) ctx.fail("delta is zero");
  const double count = std::ceil((limit.value(0) - start.value(0)) / delta.value(0));
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor out = Tensor::zeros(start.dtype, {n});  // checked_element_count: a huge range is an error, not a crash
  for (int64_t i = 0; i < n; ++i) {
    if (out.is_float())
      out.floats[i] = start.floats[0] + static_cast<float>(i) * delta.floats[0];
    else
      out.ints[i] = start.ints[0] + i * delta.ints[0];
  }
  ctx.outputs[0] = std::move(out);
}

// ScatterND: a copy of data with the slices that indices [..., k] name replaced by (reduction "none"),
// added to ("add") or multiplied by ("mul") updates, in the order of the index tuples.
void scatter_nd(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  const std::string reduction = ctx.node.get_string("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul")
    ctx.unsupported("reduction '" + reduction + "' is not supported (none, add, mul are)");
  if (indices.is_float() || indices.rank() < 1) ctx.fail("indices must be integers of rank >= 1");
  if (updates.dtype != data.dtype) ctx.fail("updates and data types differ");
  const int64_t k = indices.shape.back();
  if (k < 1 || k > data.rank())
    ctx.fail("the last axis of indices (" + std::to_string(k) + ") must be in [1, rank of data]");
  Shape want(indices.shape.begin(), indices.shape.end() - 1);
  want.insert(want.end(), data.shape.begin() + k, data.shape.end());
  if (updates.shape != want)
    ctx.fail("updates are " + shape_to_string(updates.shape) + "; expected " + shape_to_string(want));
  const std::vector<int64_t> strides = strides_of(data.shape);
  const int64_t slice = k < data.rank() ? strides[static_cast<size_t>(k - 1)] : 1;
  const int64_t tuples = indices.numel() / k;
  Tensor out = data;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t base = 0;
    for (int64_t d = 0; d < k; ++d) {
      int64_t j = indices.ints[t * k + d];
      const int64_t dim = data.shape[d];
      if (j < -dim || j >= dim)
        ctx.fail("index " + std::to_string(j) + " is outside axis " + std::to_string(d) + " of size " +
                 std::to_string(dim));
      base += (j < 0 ? j + dim : j) * strides[d];
    }
    for (int64_t e = 0; e < slice; ++e) {
      const int64_t at = base + e, from = t * slice + e;
      if (out.is_float()) {
        float& v = out.floats[at];
        v = reduction == "add"   ? v + updates.floats[from]
            : reduction == "mul" ? v * updates.floats[from]
                                 : updates.floats[from];
      } else {
        int64_t& v = out.ints[at];
        v = reduction == "add"   ? v + updates.ints[from]
            : reduction == "mul" ? v * updates.ints[from]
                                 : updates.ints[from];
      }
    }
  }
  ctx.outputs[0] = std::move(out);
}

}  // namespace

void register_shape(OpTable& t) {
  t["Flatten"] = flatten;
  t["Reshape"] = reshape;
  t["Transpose"] = transpose;
  t["Concat"] = concat;
  t["Slice"] = slice;
  t["Gather"] = gather;
  t["Squeeze"] = squeeze;
  t["Unsqueeze"] = unsqueeze;
  t["Shape"] = shape_op;
  t["Constant"] = constant;
  t["ConstantOfShape"] = constant_of_shape;
  t["Expand"] = expand;
  t["Pad"] = pad;
  t["Resize"] = resize;
  t[std::string(kBatchBroadcastKey)] = batch_broadcast;
  t[std::string(kDilateKey)] = dilate;
  t["Cast"] = cast;
  t["Equal"] = [](OpContext& ctx) { comparison(ctx, [](auto x, auto y) { return x == y; }); };
  t["Less"] = [](OpContext& ctx) { comparison(ctx, [](auto x, auto y) { return x < y; }); };
  t["Greater"] = [](OpContext& ctx) { comparison(ctx, [](auto x, auto y) { return x > y; }); };
  t["LessOrEqual"] = [](OpContext& ctx) { comparison(ctx, [](auto x, auto y) { return x <= y; }); };
  t["GreaterOrEqual"] = [](OpContext& ctx) { comparison(ctx, [](auto x, auto y) { return x >= y; }); };
  t["Mod"] = mod;
  t["Not"] = not_op;
  t["Range"] = range;
  t["ScatterND"] = scatter_nd;
  t["Split"] = split;
}

}  // namespace chipref::ops
