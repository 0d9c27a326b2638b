#pragma once
// An IntGraph written as an ONNX QDQ model (opset 13): float ops between QuantizeLinear /
// DequantizeLinear pairs that carry each activation's scale and zero point, weights as int8 codes with
// per-channel DequantizeLinear, biases as int32 codes at scale x_scale·w_scale. It is how ONNX Runtime
// (or any QDQ-aware runtime) runs a network chipref quantized, and it re-imports as the same IntGraph
// (docs/intgraph.md, "QDQ export").

#include <string>

#include "model/int_graph.hpp"

namespace chipref {

// The serialized ModelProto. Throws InputError for what QDQ cannot carry at opset 13: activations wider
// than 8 bits, weights wider than 8 bits, an IntGraph without weight scales.
std::string export_qdq_onnx(const IntGraph& graph);

}  // namespace chipref
