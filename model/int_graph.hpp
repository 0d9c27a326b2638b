#pragma once
// The IntGraph: the integer-only fused network hardware runs. Between one `quantize` op at the graph
// input and one `dequantize` op at the output, every tensor is an integer code tensor and every op is
// one of the integer kernels of kernels/ (docs/numerics.md §5). Saved as a directory: graph.json
// (the ops, values and attributes; schema in docs/intgraph.md) plus one .npy per constant tensor.

#include <map>
#include <string>
#include <vector>

#include "model/graph.hpp"
#include "model/io/idx.hpp"
#include "numerics/int_format.hpp"

namespace chipref {

inline constexpr int kIntGraphVersion = 1;

// real = scale · (code − zero_point). Accumulator values carry a per-channel scale and set scale 0.
struct QuantParams {
  IntFormat format = IntFormat::int_bits(8);
  int64_t zero_point = 0;
  double scale = 0.0;
};

// An integer tensor between the boundaries. shape[0] is the batch (-1: any).
struct IntValue {
  Shape shape;
  QuantParams quant;
};

// Op types (Node::op_type, domain "chipref"): the definitions in ops/, one file each; docs/intgraph.md
// lists them with their inputs and attributes.
inline constexpr const char* kIntDomain = "chipref";

// The accelerator the SystemC engine models (docs/systemc.md): a MAC array of `mac_rows` × `mac_cols`
// processing elements (rows take the reduction axis, columns the output channels) with a dataflow,
// and the depth of the FIFOs between modules, in transactions. Set by the config's `hardware:` section.
enum class Dataflow { weight_stationary, output_stationary };
const char* to_string(Dataflow d);
Dataflow parse_dataflow(const std::string& text);  // InputError listing the choices
struct HardwareConfig {
  int64_t mac_rows = 16, mac_cols = 16;
  Dataflow dataflow = Dataflow::weight_stationary;
  int64_t fifo_depth = 2;
};

struct IntGraph {
  std::string source_model;             // the ONNX model it was built from
  std::string config_name;              // the quantization config it was built with
  std::string input_name, output_name;  // the float boundary tensors
  Preprocess preprocess;                // how images become its float input (before the input quantize)
  Shape input_shape, output_shape;      // boundary shapes, batch -1
  // float32, or an integer type: the input is exact integers (token ids) whose codes are their values
  // (scale 1, zero point 0), not quantized.
  DType input_dtype = DType::float32;
  std::map<std::string, IntValue> values;
  std::map<std::string, Tensor> constants;  // integer tensors: weights, biases, multipliers, shifts
  // Real scale of each weight constant's codes, per output channel: metadata for reports and the
  // dual-path check (the engine never reads it).
  std::map<std::string, std::vector<double>> weight_scales;
  std::vector<Node> ops;    // topological order
  HardwareConfig hardware;  // what the SystemC engine models (the DirectEngine ignores it)
};

// Writes DIR/graph.json and DIR/tensors/*.npy, deterministically (sorted keys, fixed formatting), so
// that save → load → save is byte-identical. Files appear complete or not at all.
void save_int_graph(const IntGraph& graph, const std::string& dir);
// Reads DIR without checking its ops against their definitions; load_int_graph (ops/op_def.hpp) reads
// and checks.
IntGraph read_int_graph(const std::string& dir);
std::string int_graph_json_path(const std::string& dir);
bool is_int_graph_dir(const std::string& path);

}  // namespace chipref
