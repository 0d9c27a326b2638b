// conv_mac: codes [N, C, H, W], weights [M, C/G, KH, KW], [bias [M]] → int32 accumulators [N, M, OH, OW]
// (docs/numerics.md §4). Attributes: strides, pads, dilations, group, acc_bits, overflow.
#include "ops/common.hpp"
#include "ops/mac.hpp"

namespace chipref::ops {

kernels::ConvGeometry conv_geometry(const Node& op, const Shape& x, const Shape& w) {
  if (w.size() != 4) throw InputError(op.describe() + ": weights must be [M, C/G, KH, KW], got " + shape_to_string(w));
  return geometry(op, x, w[0], w[2], w[3]);
}

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource& source) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const Tensor& w = dense_weights(g, op, source);
  if (w.rank() != 4)
    throw InputError(op.describe() + ": weights must be [M, C/G, KH, KW], got " + shape_to_string(w.shape));
  const auto weights =
      prepare_weights(g, op, w, w.shape[0], source.skip_zero != nullptr, kernels::MacLayout::convolution);
  const auto nm = source.skip_zero;
  const auto bias = bias_of(g, op);
  const AccumulatorSpec acc = accumulator_of(op);
  const int32_t zp = input_zero_point(g, op, 0);
  const Shape w_shape = w.shape;
  auto run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter& overflow, const kernels::MulShift* stage,
                      bool bytes_out) {
    const CodeTensor& x = *in[0];
    const kernels::ConvGeometry geo = conv_geometry(op, x.shape, w_shape);
    const Shape shape{geo.batch, geo.out_channels, geo.out_h(), geo.out_w()};
    if (nm) {
      shape_output(y, shape);
      kernels::conv_mac_skip_zero(geo, x.data.data(), zp, *nm, *bias, acc, overflow, y.data.data());
      return;
    }
    const kernels::CodesIn codes =
        x.in_bytes ? kernels::CodesIn{nullptr, x.bytes.data(), x.byte_base} : kernels::CodesIn{x.data.data()};
    kernels::CodesOut out;
    if (bytes_out) {
      shape_byte_output(y, shape, clamped_range(*stage).lo);
      out = kernels::CodesOut{nullptr, y.bytes.data(), y.byte_base};
    } else {
      shape_output(y, shape);
      out = kernels::CodesOut{y.data.data()};
    }
    kernels::conv_mac(geo, codes, zp, weights->mac, *bias, acc, overflow, out, stage, range_of(x));
    if (stage) y.known_range = clamped_range(*stage);
  };
  p.run = [run](const Inputs& in, CodeTensor& y, OverflowCounter& overflow) { run(in, y, overflow, nullptr, false); };
  if (!nm) {
    p.run_requantized = [run](const Inputs& in, CodeTensor& y, OverflowCounter& overflow,
                              const kernels::MulShift& stage,
                              bool bytes_out) { run(in, y, overflow, &stage, bytes_out); };
    p.reads_bytes = true;  // (an input in bytes always carries its known range, which the kernel needs)
  }
  return p;
}

// X_g[p][k]: p = (n, oy, ox), k = (c, ky, kx) within group g; W_g[m][k] = weights[g·M/G + m][k];
// A_g[p][m] = accumulators[n][g·M/G + m][oy][ox].
MacMatrixView matrix_view(const Node& op, const Shape& x, const Shape& w, const Shape&) {
  const kernels::ConvGeometry geo = conv_geometry(op, x, w);
  const int64_t groups = geo.groups, cg = geo.in_channels / groups, mg = geo.out_channels / groups;
  const int64_t kh = geo.kernel_h, kw = geo.kernel_w, oh = geo.out_h(), ow = geo.out_w(), k_total = cg * kh * kw;
  MacMatrixView v;
  v.groups = groups, v.positions = geo.batch * oh * ow, v.reduction = k_total, v.channels = mg;
  v.input_index = [=](int64_t g, int64_t p, int64_t k) -> int64_t {
    const int64_t n = p / (oh * ow), oy = p / ow % oh, ox = p % ow, c = k / (kh * kw), ky = k / kw % kh, kx = k % kw;
    const int64_t iy = oy * geo.stride_h - geo.pad_top + ky * geo.dilation_h,
                  ix = ox * geo.stride_w - geo.pad_left + kx * geo.dilation_w;
    if (iy < 0 || iy >= geo.in_h || ix < 0 || ix >= geo.in_w) return -1;
    return ((n * geo.in_channels + g * cg + c) * geo.in_h + iy) * geo.in_w + ix;
  };
  v.second_index = [=](int64_t g, int64_t m, int64_t k) { return (g * mg + m) * k_total + k; };
  v.accumulator_index = [=](int64_t g, int64_t p, int64_t m) {
    return (p / (oh * ow) * geo.out_channels + g * mg + m) * oh * ow + p % (oh * ow);
  };
  return v;
}

}  // namespace

const OpDef& conv_mac_op_def() {
  return define_op([](OpDef& d) {
    d.name = "conv_mac";
    d.least_inputs = 2, d.most_inputs = 3;
    d.mac = MacOperand::weights;
    d.systemc_module = "MacArray";
    d.vector_role = VectorRole::accumulator;
    d.qdq = QdqForm::mac;
    d.prepare = prepare;
    d.matrix_view = matrix_view;
  });
}

}  // namespace chipref::ops
