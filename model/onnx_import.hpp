#pragma once
// ONNX → Graph. Uses ONNX's own protobuf parser, checker and shape inference (libonnx); every failure is
// an InputError of one line naming the file, and where there is one the node and its op type.

#include <string>

#include "model/graph.hpp"

namespace onnx {
class TensorProto;
}

namespace chipref {

inline constexpr int64_t kMinOnnxOpset = 11;
inline constexpr int64_t kMaxOnnxOpset = 17;
// QONNX's custom-op domain (Brevitas / FINN exports); its `Quant` node is kept as a quantizer node.
inline constexpr const char* kQonnxDomain = "qonnx.custom_op.general";
// ONNX Runtime's contrib domain. Its QuantizeLinear / DequantizeLinear carry 16-bit codes before opset 21
// (ORT's own quantizer writes 16-bit QDQ models this way; chipref export does too).
inline constexpr const char* kMicrosoftDomain = "com.microsoft";

struct ImportOptions {
  // Fix a symbolic (dynamic) first dimension of every graph input to this size before shape inference,
  // so that every shape becomes static (inspect, constant folding). 0 keeps it dynamic.
  int64_t batch_size = 0;
};

Graph import_onnx(const std::string& path, const ImportOptions& options = {});
Graph import_onnx_bytes(const std::string& bytes, const std::string& source_name, const ImportOptions& options = {});

// A TensorProto (initializer, Constant attribute, or a backend-test .pb file) as a Tensor.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& context);
Tensor read_tensor_pb(const std::string& path);

}  // namespace chipref
