// window_sum: codes [N, C, H, W] → int32 sums of (code − zero point) over each window (average pooling's
// first half; a mulshift divides). Attributes: kernel, strides, pads, or global = 1 for all positions.
#include "kernels/pool.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const std::vector<int64_t> kernel = window_of(op);
  const int32_t zp = input_zero_point(g, op, 0);
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& x = *in[0];
    const kernels::ConvGeometry geo = window_geometry(op, x.shape, kernel);
    shape_output(y, {geo.batch, geo.in_channels, geo.out_h(), geo.out_w()});
    kernels::window_sum(geo, x.data.data(), zp, y.data.data());
  };
  return p;
}
}  // namespace

const OpDef& window_sum_op_def() {
  return define_op([](OpDef& d) {
    d.name = "window_sum";
    d.systemc_module = "Pool";
    d.qdq = QdqForm::average_pool;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
