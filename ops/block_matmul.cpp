// block_matmul: codes a [.., M, K], codes b [.., K, N] → codes [.., M, N] of the output value: the product of
// two activations (attention) in block formats (docs/numerics.md §15). A's rows and B's columns are converted
// at run time into blocks along K; the exact block dot products are summed in the accumulation model and
// rounded once into the output codes. Attributes: activation_format (A), weight_format (B), block_size,
// accumulation, activation_rounding, seed, shared_exponent, input_scale_bits (A), b_scale_bits (B),
// output_scale_bits, clamp_lo, clamp_hi.
#include "kernels/block_mac.hpp"
#include "ops/common.hpp"
#include "ops/mac.hpp"

namespace chipref::ops {

namespace {
kernels::BlockMatmulParams read_params(const IntGraph& g, const Node& op) {
  kernels::BlockMatmulParams p;
  p.a = block_mac_params(g, op);
  p.b_format = p.a.weight_format;
  p.b_scale = float32_attribute(op, "b_scale_bits");
  p.b_zero_point = input_zero_point(g, op, 1);
  const IntFormat& b = value(g, op.inputs.at(1), op).quant.format;
  p.b_lo = b.min(), p.b_hi = b.max();
  if (p.a.activation_format.block_size != p.b_format.block_size)
    throw InputError(op.describe() + ": its two operands' blocks do not line up");
  return p;
}

PreparedOp prepare(const IntGraph& g, const Node& op, const MacWeightSource&) {
  PreparedOp p;
  p.inputs = {op.inputs.at(0), op.inputs.at(1)};
  const kernels::BlockMatmulParams params = read_params(g, op);
  p.run = [params, &op](const Inputs& in, CodeTensor& y, OverflowCounter&) {
    const CodeTensor& a = *in[0];
    const CodeTensor& b = *in[1];
    const MatmulShape s = matmul_shape(op, a.shape, b.shape);
    shape_output(y, s.output);
    naming(op,
           [&] { kernels::block_matmul(s.batch, s.m, s.k, s.n, a.data.data(), b.data.data(), params, y.data.data()); });
  };
  return p;
}

// The sweep's and inspect's view: element and scale bits of both operands, K products an output, no constants.
BlockMacFacts facts(const IntGraph& g, const Node& op) {
  const kernels::BlockMatmulParams p = read_params(g, op);
  BlockMacFacts f;
  f.activation_bits = p.a.activation_format.element_bits(), f.weight_bits = p.b_format.element_bits();
  f.block_size = p.b_format.block_size, f.scale_bits = p.b_format.scale_bits;
  f.constant_weights = false;
  const IntValue& a = value(g, op.inputs.at(0), op);
  f.reduction = a.shape.empty() ? 0 : a.shape.back();
  return f;
}
}  // namespace

void block_matmul_fake_convert(const IntGraph& g, const Node& op, int operand, Tensor& x) {
  const kernels::BlockMatmulParams p = read_params(g, op);
  if (!x.is_float() || x.rank() < 2)
    throw InputError(op.describe() + ": the fake-quant operand " + shape_to_string(x.shape) + " is not its layer's");
  if (operand == 0) return fake_convert_vectors(p.a.activation_format, p.a.activation_rounding, x, x.shape.back(), 1);
  const kernels::BlockMacParams b = kernels::block_matmul_b_side(p);
  fake_convert_vectors(p.b_format, b.activation_rounding, x, x.shape[x.rank() - 2], x.shape.back());
}

const OpDef& block_matmul_op_def() {
  return define_op([](OpDef& d) {
    d.name = "block_matmul";
    d.least_inputs = 2, d.most_inputs = 2;
    d.systemc_module = "BlockMatmul";
    d.prepare = prepare;
    d.block_facts = facts;
    d.block_operands = [](const IntGraph& g, const Node& op, const std::vector<const CodeTensor*>& inputs) {
      const kernels::BlockMatmulParams p = read_params(g, op);
      for (size_t i : {0, 1})
        if (!inputs.at(i)) throw InputError(op.describe() + ": no codes of its input '" + op.inputs.at(i) + "'");
      const CodeTensor &a = *inputs[0], &b = *inputs[1];
      const MatmulShape s = matmul_shape(op, a.shape, b.shape);
      const int64_t m = s.m, k = s.k, n = s.n, batch = s.batch;
      const int64_t blocks = (k + p.b_format.block_size - 1) / p.b_format.block_size;
      // As tensors: A's rows [.., M, K] and [.., M, blocks]; B's columns [.., N, K] and [.., N, blocks].
      auto tensors = [&](const kernels::BlockCodes& c, int64_t rows) {
        Shape codes_shape(a.shape.begin(), a.shape.end() - 2), scales_shape = codes_shape;
        codes_shape.insert(codes_shape.end(), {rows, k}), scales_shape.insert(scales_shape.end(), {rows, blocks});
        Tensor codes = Tensor::zeros(DType::int64, codes_shape), scales = Tensor::zeros(DType::int64, scales_shape);
        std::copy(c.codes.begin(), c.codes.end(), codes.ints.begin());
        std::copy(c.scales.begin(), c.scales.end(), scales.ints.begin());
        return std::pair{std::move(codes), std::move(scales)};
      };
      auto [a_codes, a_scales] = tensors(kernels::block_linear_input(batch * m, k, a.data.data(), p.a), m);
      auto [b_codes, b_scales] = tensors(kernels::block_matmul_b_input(batch, k, n, b.data.data(), p), n);
      return std::vector<BlockOperandCodes>{
          {"a", p.a.activation_format.name, p.a.activation_format.element_bits(), std::move(a_codes),
           std::move(a_scales)},
          {"b", p.b_format.name, p.b_format.element_bits(), std::move(b_codes), std::move(b_scales)}};
    };
  });
}

}  // namespace chipref::ops
