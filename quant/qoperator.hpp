#pragma once
// QOperator models (ONNX's QLinearConv and QLinearMatMul, as ONNX Runtime's quantizer writes them with
// quant_format QOperator) rewritten into their QDQ form, which the pre-quantized path lowers.

#include "model/graph.hpp"

namespace chipref {

// Each QLinearConv / QLinearMatMul becomes DequantizeLinear nodes for its inputs (x, w, and the int32 bias
// at x_scale·w_scale, the float32 product ONNX Runtime computes), the float Conv / MatMul with the same
// attributes, and a QuantizeLinear with its y_scale and y_zero_point writing the original output. The two
// forms define the same integers: the exact sum of (x − z_x)(w − z_w) plus the bias, scaled by
// x_scale·w_scale / y_scale, rounded half to even, saturated (docs/numerics.md §7). An op that only moves
// integer codes (Reshape, Transpose, MaxPool, Slice, Gather, nearest Resize, ...) on the output of a
// QuantizeLinear or QOperator node becomes the op on their dequantized values, quantized back with the same
// parameters: the same codes. Returns how many nodes were rewritten.
int qoperator_to_qdq(Graph& graph);

}  // namespace chipref
