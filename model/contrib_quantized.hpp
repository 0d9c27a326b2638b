#pragma once
// ONNX Runtime's com.microsoft quantized operators, as its QOperator quantizer writes them (QLinearAdd,
// QLinearMul, QLinearConcat, QLinearGlobalAveragePool, QLinearAveragePool, QLinearLeakyRelu,
// QLinearSigmoid, QLinearSoftmax, QLinearReduceMean, QLinearWhere, QGemm, com.microsoft QLinearConv).
// Each is defined by its schema as: dequantize the integer inputs, apply one float operator, quantize the
// result. The import replaces each node by exactly that subgraph, so that the float executor, shape
// inference and the pre-quantized lowering see standard ONNX with its QuantizeLinear roundings.

#include <string>

namespace onnx {
class ModelProto;
}

namespace chipref {

// Rewrites every com.microsoft quantized operator of `model` in place; returns how many were rewritten. A
// form the rewrite cannot express (NHWC layout, a scale that is not a constant) is an InputError naming
// `source`, the node and the reason.
int expand_contrib_quantized_ops(onnx::ModelProto& model, const std::string& source);

// Whether `op_type` in the com.microsoft domain is one of the operators above.
bool is_contrib_quantized_op(const std::string& op_type);

}  // namespace chipref
