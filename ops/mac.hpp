#pragma once
// The MAC ops (conv_mac, linear_mac, matmul_mac): their definitions, and the parameters other parts of
// chipref read from them (the SystemC tile streams, cosim's MAC-array stimulus).

#include "kernels/block_mac.hpp"
#include "kernels/mac.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

const OpDef& conv_mac_op_def();
const OpDef& linear_mac_op_def();
const OpDef& matmul_mac_op_def();
const OpDef& block_mac_op_def();

// A conv_mac's window geometry on input `x` with weights of `weights` shape [M, C/G, KH, KW] (InputError
// naming the op if they do not fit).
kernels::ConvGeometry conv_geometry(const Node& conv_mac, const Shape& x, const Shape& weights);

// Per output channel (axis 0 of `codes`), the zero point a conv_mac / linear_mac subtracts from its weight
// codes: the IntGraph's `weights` record of op input 1, all 0 without one (symmetric codes). InputError naming
// the op if the record has neither one zero point nor one per channel, or a code lies outside its format.
std::vector<int32_t> weight_zero_points(const IntGraph& g, const Node& mac, const Tensor& codes);
// codes − their channel's zero point: what the MAC multiplies (docs/numerics.md §4).
std::vector<int32_t> offset_weights(const IntGraph& g, const Node& mac, const Tensor& codes);

// A block_mac's parameters as its kernel takes them (formats, scales, zero points, clamp), checked. A
// block_matmul's are read by the same attributes (its A side and output; B's: block_matmul.cpp).
kernels::BlockMacParams block_mac_params(const IntGraph& g, const Node& block_mac);
// The float32 bit pattern in attribute `attr` of a block op as a positive finite value (InputError otherwise).
ExactValue float32_attribute(const Node& op, const std::string& attr);
// Rounds the float values of x into a block format and back, in vectors of `channels` values `plane` apart
// (a convolution's group channels at each position: plane = H · W; a row: plane 1; a matmul's B columns:
// plane = N): what a block layer's input conversion makes of them, for the dual path's fake-quant graph.
void fake_convert_vectors(const BlockFormat& format, const BlockRounding& rounding, Tensor& x, int64_t channels,
                          int64_t plane);
// A block_matmul's operand (0: A [.., M, K], rows along K; 1: B [.., K, N], columns along K) converted so.
void block_matmul_fake_convert(const IntGraph& g, const Node& block_matmul, int operand, Tensor& x);
// A block_mac's weights and bias as the float values its codes stand for (exact in float32: every MX and BFP
// value is a float32): weights [M, C/G, KH, KW] for a convolution, [M, K] for a linear layer; bias [M] or
// empty. For the dual-path check's fake-quant graph.
std::pair<Tensor, Tensor> block_mac_float_weights(const IntGraph& g, const Node& block_mac);
// The float values of a block_mac's input (NCHW, or [.., K]) replaced by what its block conversion makes of
// them: blocks along the input channels of each group at each position (along K), each value the float32
// of its element × scale. The fake-quant side of the dual-path check; the integer path converts exactly.
void block_mac_fake_convert(const IntGraph& g, const Node& block_mac, Tensor& input);
// Operand `operand` of a block op (block_mac: 0, its input; block_matmul: 0 or 1) converted as above.
void block_fake_convert(const IntGraph& g, const Node& block_op, int operand, Tensor& x);
// A block_mac's input codes as the layer converts them, what a block-format datapath receives: element codes
// and E8M0 scale codes (int64 tensors; shapes as kernels::block_linear_input / block_conv_input say).
std::pair<Tensor, Tensor> block_mac_input_codes(const IntGraph& g, const Node& block_mac, const CodeTensor& input);

}  // namespace chipref::ops
