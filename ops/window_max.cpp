// window_max: codes [N, C, H, W] → the largest code of each window (max pooling). Attributes: kernel,
// strides, pads, dilations.
#include "kernels/pool.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph&, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const std::vector<int64_t> kernel = window_of(op);
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const kernels::ConvGeometry geo = window_geometry(op, x.shape, kernel);
    shape_output(y, {geo.batch, geo.in_channels, geo.out_h(), geo.out_w()});
    if (x.in_bytes)
      kernels::window_max(geo, x.bytes.data(), x.byte_base, y.data.data());
    else
      kernels::window_max(geo, x.data.data(), y.data.data());
    // each maximum is one of the input's codes when every window reaches the input (a pad narrower than the
    // dilated window on every side); a window wholly in the padding would give the reduction's identity
    const int64_t extent_h = (geo.kernel_h - 1) * geo.dilation_h + 1,
                  extent_w = (geo.kernel_w - 1) * geo.dilation_w + 1;
    if (std::max(geo.pad_top, geo.pad_bottom) < extent_h && std::max(geo.pad_left, geo.pad_right) < extent_w)
      y.known_range = x.known_range;
  };
  p.reads_bytes = true;
  return p;
}
}  // namespace

const OpDef& window_max_op_def() {
  return define_op([](OpDef& d) {
    d.name = "window_max";
    d.systemc_module = "Pool";
    d.qdq = QdqForm::max_pool;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
