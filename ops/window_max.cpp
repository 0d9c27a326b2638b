// window_max: codes [N, C, H, W] → the largest code of each window (max pooling). Attributes: kernel,
// strides, pads, dilations.
#include "kernels/pool.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
// kernels::every_window_reaches_input from the attributes alone (pads and window do not depend on the input; a
// global pool's one window is the whole plane: reached unless padded, which is not decided here)
bool windows_reach_input(const Node& op, const std::vector<int64_t>& kernel) {
  const auto pads = ints_of_length(op, "pads", 4, std::vector<int64_t>{0, 0, 0, 0}),
             dilations = ints_of_length(op, "dilations", 2, std::vector<int64_t>{1, 1});
  if (kernel.empty()) return pads == std::vector<int64_t>{0, 0, 0, 0};
  kernels::ConvGeometry g;
  g.kernel_h = kernel[0], g.kernel_w = kernel[1], g.dilation_h = dilations[0], g.dilation_w = dilations[1];
  g.pad_top = pads[0], g.pad_left = pads[1], g.pad_bottom = pads[2], g.pad_right = pads[3];
  return kernels::every_window_reaches_input(g);
}

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
    // each maximum is one of the input's codes when every window reaches the input; a window wholly in the
    // padding would give the reduction's identity
    if (kernels::every_window_reaches_input(geo)) y.known_range = x.known_range;
  };
  p.reads_bytes = true;
  if (windows_reach_input(op, kernel))
    p.run_bytes_out = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
      const CodeTensor& x = *in[0];
      if (!x.in_bytes) throw std::logic_error(op.describe() + ": asked for bytes out of an input not in bytes");
      const kernels::ConvGeometry geo = window_geometry(op, x.shape, kernel);
      shape_byte_output(y, {geo.batch, geo.in_channels, geo.out_h(), geo.out_w()}, x.byte_base);
      kernels::window_max(geo, x.bytes.data(), y.bytes.data());
      y.known_range = x.known_range;
    };
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
