// pad: codes → codes with pads around them. Attributes: pads (ONNX order: every axis's begin, then every
// axis's end), mode (constant, edge, reflect), fill (the constant's code, constant mode).
#include "kernels/movement.hpp"
#include "ops/common.hpp"

namespace chipref::ops {

namespace {
PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0)};
  const std::vector<int64_t> pads = op.get_ints("pads");
  const std::string mode_name = op.get_string("mode");
  const kernels::PadMode mode =
      mode_name == "constant" ? kernels::PadMode::constant
      : mode_name == "edge"   ? kernels::PadMode::edge
      : mode_name == "reflect"
          ? kernels::PadMode::reflect
          : throw InputError(op.describe() + ": mode '" + mode_name + "'; expected constant, edge or reflect");
  if (pads.size() % 2) throw InputError(op.describe() + ": pads must hold a begin and an end per axis");
  const std::vector<int64_t> begins(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(pads.size() / 2)),
      ends(pads.begin() + static_cast<std::ptrdiff_t>(pads.size() / 2), pads.end());
  const int32_t fill = narrow_to_int32(op, "fill", op.get_int("fill", 0));
  const QuantParams& q = value(g, op.inputs[0], op).quant;
  if (fill < q.format.min() || fill > q.format.max())
    throw InputError(op.describe() + ": fill " + std::to_string(fill) + " is not a code of " + q.format.name());
  p.images_independent = pads.empty() || (pads[0] == 0 && pads[pads.size() / 2] == 0);
  p.run = [=, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    naming(op, [&] { kernels::pad(in[0]->shape, in[0]->data.data(), begins, ends, mode, fill, y.shape, y.data); });
  };
  return p;
}
}  // namespace

const OpDef& pad_op_def() {
  return define_op([](OpDef& d) {
    d.name = "pad";
    d.systemc_module = "Movement";
    d.moves_codes = true;
    d.prepare = prepare;
  });
}

}  // namespace chipref::ops
