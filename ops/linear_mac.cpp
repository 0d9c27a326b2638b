// linear_mac: codes [rows.., in], weights [out, in], [bias [out]] → int32 accumulators [rows.., out]
// (docs/numerics.md §4). Attributes: acc_bits, overflow.
#include "ops/common.hpp"
#include "ops/mac.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource& source) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const Tensor& w = dense_weights(g, op, source);
  if (w.rank() != 2) throw InputError(op.describe() + ": weights must be [out, in], got " + shape_to_string(w.shape));
  const int64_t out_features = w.shape[0], in_features = w.shape[1];
  const auto weights = prepare_weights(g, op, w, out_features, source.skip_zero != nullptr, kernels::MacLayout::linear);
  const auto nm = source.skip_zero;
  const auto bias = bias_of(g, op);
  const AccumulatorSpec acc = accumulator_of(op);
  const int32_t zp = input_zero_point(g, op, 0);
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter& overflow) {
    const CodeTensor& a = *in[0];
    if (a.shape.empty() || a.shape.back() != in_features)
      throw InputError(op.describe() + ": input " + shape_to_string(a.shape) + " does not end in " +
                       std::to_string(in_features));
    const int64_t rows = static_cast<int64_t>(a.data.size()) / in_features;
    Shape shape = a.shape;
    shape.back() = out_features;
    shape_output(y, shape);
    if (nm)
      kernels::linear_mac_skip_zero(rows, a.data.data(), zp, *nm, *bias, acc, overflow, y.data.data());
    else
      kernels::linear_mac(rows, in_features, out_features, a.data.data(), zp, weights->mac, *bias, acc, overflow,
                          y.data.data(), range_of(a));
  };
  return p;
}

// One product: X[p][k] = input row p, W[m][k] = weights[m][k], A[p][m] = accumulator row p.
MacMatrixView matrix_view(const Node&, const Shape& x, const Shape&, const Shape& y) {
  MacMatrixView v;
  const int64_t k = x.empty() ? 0 : x.back(), m = y.empty() ? 0 : y.back();
  v.reduction = k, v.channels = m, v.positions = element_count(y) / std::max<int64_t>(m, 1);
  v.input_index = [=](int64_t, int64_t p, int64_t i) { return p * k + i; };
  v.second_index = [=](int64_t, int64_t o, int64_t i) { return o * k + i; };
  v.accumulator_index = [=](int64_t, int64_t p, int64_t o) { return p * m + o; };
  return v;
}

}  // namespace

const OpDef& linear_mac_op_def() {
  return define_op([](OpDef& d) {
    d.name = "linear_mac";
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
