// matmul_mac: codes a [.., m, k], codes b [.., k, n] → int32 accumulators [.., m, n]: the product of two
// activations (attention), docs/numerics.md §4. Attributes: acc_bits, overflow.
#include "ops/common.hpp"
#include "ops/mac.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0), op.inputs.at(1)};
  const AccumulatorSpec acc = accumulator_of(op);
  const int32_t za = input_zero_point(g, op, 0), zb = input_zero_point(g, op, 1);
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter& overflow) {
    const CodeTensor& a = *in[0];
    const CodeTensor& b = *in[1];
    const MatmulShape s = matmul_shape(op, a.shape, b.shape);
    shape_output(y, s.output);
    kernels::matmul_mac(s.batch, s.m, s.k, s.n, a.data.data(), za, b.data.data(), zb, acc, overflow, y.data.data(),
                        range_of(a), range_of(b));
  };
  return p;
}

// One product per leading index g: X_g = a[g] [P, K], W_g[n][k] = b[g][k][n], A_g = y[g] [P, N].
MacMatrixView matrix_view(const Node& op, const Shape& a, const Shape&, const Shape& y) {
  const size_t r = a.size();
  if (r < 2 || y.size() != r)
    throw InputError(op.describe() + ": cannot view " + shape_to_string(a) + " → " + shape_to_string(y) +
                     " as matrix products");
  MacMatrixView v;
  const int64_t p = a[r - 2], k = a[r - 1], n = y[r - 1];
  v.positions = p, v.reduction = k, v.channels = n;
  v.groups = element_count(y) / std::max<int64_t>(p * n, 1);
  v.input_index = [=](int64_t g, int64_t i, int64_t j) { return (g * p + i) * k + j; };
  v.second_index = [=](int64_t g, int64_t o, int64_t j) { return (g * k + j) * n + o; };
  v.accumulator_index = [=](int64_t g, int64_t i, int64_t o) { return (g * p + i) * n + o; };
  return v;
}

}  // namespace

const OpDef& matmul_mac_op_def() {
  return define_op([](OpDef& d) {
    d.name = "matmul_mac";
    d.least_inputs = 2, d.most_inputs = 2;
    d.mac = MacOperand::activation;
    d.systemc_module = "MacArray";
    d.vector_role = VectorRole::accumulator;
    d.qdq = QdqForm::activation_mac;
    d.prepare = prepare;
    d.matrix_view = matrix_view;
  });
}

}  // namespace chipref::ops
