#pragma once
// The float reference executor: runs any imported Graph node by node, following the ONNX operator
// specification (float32 arithmetic; the quantized ONNX ops produce exact integers, round half to even,
// saturating). It is the reference the integer network is compared against, not a fast engine.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/graph.hpp"

namespace chipref {

using TensorMap = std::map<std::string, Tensor>;

// Float-graph ops of chipref's own, created by its passes (never read from a file): BatchBroadcast(x,
// like) repeats x [1, ...] along axis 0 to like's batch; Silu(x) = x / (1 + e^−x); Dilate below.
inline constexpr const char* kChiprefDomain = "chipref";
inline constexpr const char* kBatchBroadcastOp = "BatchBroadcast";
inline constexpr const char* kBatchBroadcastKey = "chipref::BatchBroadcast";
inline constexpr const char* kSiluOp = "Silu";
inline constexpr const char* kSiluKey = "chipref::Silu";
// Dilate(x) (attribute strides, one per axis from 2 on): x with s − 1 zeros between neighbours along each
// axis; a transposed convolution's input for the convolution that computes it.
inline constexpr const char* kDilateOp = "Dilate";
inline constexpr const char* kDilateKey = "chipref::Dilate";

// What one op implementation sees: its node, the graph's opset, the inputs (nullptr where an optional
// input is omitted), and the outputs to fill (one per node output).
struct OpContext {
  const Node& node;
  int64_t opset;
  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;

  size_t input_count() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(size_t i) const;                           // InputError naming the node if missing
  [[noreturn]] void fail(const std::string& what) const;         // InputError "node 'n' (Op): what"
  [[noreturn]] void unsupported(const std::string& what) const;  // Unsupported, same form
};

using OpFunction = void (*)(OpContext&);

bool is_supported_op(const std::string& domain, const std::string& op_type);
// "Conv", "qonnx.custom_op.general::Quant", ... sorted.
std::vector<std::string> supported_ops();

// Runs one node on the given inputs (nullptr for omitted optional inputs); returns its outputs.
std::vector<Tensor> run_node(const Node& node, int64_t opset, const std::vector<const Tensor*>& inputs);

// Called with each tensor a node produces, before any later node reads it; may change it in place
// (the fake-quantization of the dual-path check does).
using OutputHook = std::function<void(const std::string& name, Tensor& value)>;

class FloatExecutor {
 public:
  explicit FloatExecutor(const Graph& graph);
  // Runs the graph on `inputs` (by graph input name); returns the graph outputs, or every tensor
  // computed when `keep_intermediates` is set. A graph with one input exported with a fixed batch B
  // (torch.onnx.export's default, B = 1; its constants, a Reshape to [1, -1], hold B) runs N = k·B
  // inputs as k runs of B: every tensor returned is the k runs' tensors stacked along axis 0 (a scalar
  // is the first run's). N not a multiple of B is an InputError. `hook` sees each run's tensors.
  TensorMap run(const TensorMap& inputs, bool keep_intermediates = false, const OutputHook& hook = nullptr) const;

 private:
  int64_t fixed_batch_runs(const TensorMap& inputs) const;  // k above, 1 when the inputs fit as they are
  TensorMap run_batch(const TensorMap& inputs, bool keep_intermediates, const OutputHook& hook) const;
  const Graph& graph_;
  std::vector<OpFunction> kernels_;         // one per node
  std::map<std::string, size_t> last_use_;  // tensor name → index of the last node that reads it
};

}  // namespace chipref
