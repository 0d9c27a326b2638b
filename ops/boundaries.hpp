#pragma once
// The float boundaries of an IntGraph, which every engine runs itself around its integer ops: the input
// quantize and the output dequantize.

#include "ops/op_def.hpp"

namespace chipref {

// Input: sat(round_half_even(x / scale) + zp), the division in float32 as ONNX QuantizeLinear; `input`
// must be float32 of the graph's input shape (any batch size) and finite, else an InputError
// (check_input: the one check of every engine). Output: scale · (code − zp) in float32.
void check_input(const IntGraph& graph, const Tensor& input);
CodeTensor quantize_input(const IntGraph& graph, const Tensor& input);
// The same into `codes`, reusing its buffer (an engine's pooled tensor).
void quantize_input(const IntGraph& graph, const Tensor& input, CodeTensor& codes);
Tensor dequantize_output(const IntGraph& graph, const CodeTensor& codes);

}  // namespace chipref
