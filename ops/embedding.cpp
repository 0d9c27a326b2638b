// embedding: run-time ids, constant table codes [rows, ...] → the table's rows at the ids (ONNX Gather of a
// constant table by token ids). The ids are exact integers (scale 1, zero point 0); the table's codes are
// the output's.
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const Tensor& t = constant(g, op, 1);
  const auto table = std::make_shared<const std::vector<int32_t>>(as_int32(t));
  const Shape table_shape = t.shape;
  if (table_shape.empty() || table_shape[0] < 1)
    throw InputError(op.describe() + ": its table must have at least one row, got " + shape_to_string(table_shape));
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op,
           [&] { kernels::take_rows(table_shape, table->data(), in[0]->shape, in[0]->data.data(), y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& embedding_op_def() {
  return define_op([](OpDef& d) {
    d.name = "embedding";
    d.least_inputs = 2, d.most_inputs = 2;
    d.constant_codes_input = 1;
    d.systemc_module = "Movement";
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
