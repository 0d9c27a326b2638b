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
    kernels::window_max(geo, x.data.data(), y.data.data());
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
