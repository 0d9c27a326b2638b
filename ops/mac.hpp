#pragma once
// The MAC ops (conv_mac, linear_mac, matmul_mac): their definitions, and the parameters other parts of
// chipref read from them (the SystemC tile streams, cosim's MAC-array stimulus).

#include "kernels/mac.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

const OpDef& conv_mac_op_def();
const OpDef& linear_mac_op_def();
const OpDef& matmul_mac_op_def();

// A conv_mac's window geometry on input `x` with weights of `weights` shape [M, C/G, KH, KW] (InputError
// naming the op if they do not fit).
kernels::ConvGeometry conv_geometry(const Node& conv_mac, const Shape& x, const Shape& weights);

}  // namespace chipref::ops
