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

// A MAC layer's weight codes, per output channel c (axis 0): real = scales[c] · (code − zero_points[c]).
// `format` is the hardware's element (4-bit weights are kept in int8 tensors but are int4 here: vectors
// write them 4 bits wide); the engines multiply code − zero point (docs/numerics.md §4); the scales are
// metadata for reports, QDQ export and the dual-path check. One zero point (per tensor) or one per channel.
struct WeightQuant {
  IntFormat format = IntFormat::int_bits(8);
  std::vector<int64_t> zero_points{0};
  std::vector<double> scales;
  int64_t zero_point(int64_t channel) const {
    return zero_points.size() == 1 ? zero_points[0] : zero_points.at(static_cast<size_t>(channel));
  }
  // Every zero point 0 (signed symmetric weights; unsigned symmetric ones have zero point 2^(b−1)).
  bool zero_is_code_0() const {
    for (int64_t z : zero_points)
      if (z != 0) return false;
    return true;
  }
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

// A float pass quantize ran before calibration that rescaled channels without changing the float function
// (cross-layer equalization, SmoothQuant): output channel j of `producer` divided by factors[j], input channel j
// of each reader multiplied by it, and the tensors in between renamed. Recorded so that a tool comparing
// against the float model (the dual path) rebuilds the float graph the IntGraph was lowered from
// (quant/channel_views.hpp replays it).
struct ChannelRescaling {
  std::string pass;  // "equalization" or "smoothquant"
  std::string producer;
  std::vector<std::string> readers;
  std::vector<double> factors;
  std::vector<std::string> renamed;    // the old names; each becomes NAME + "." + the pass's suffix
  std::vector<std::string> unclipped;  // Clip nodes (from 0) between producer and readers made Relus
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
  // How each MAC layer's weights are coded (the constant, or the value a sparse_decode op produces).
  std::map<std::string, WeightQuant> weights;
  std::vector<Node> ops;                     // topological order
  HardwareConfig hardware;                   // what the SystemC engine models (the DirectEngine ignores it)
  std::vector<ChannelRescaling> rescalings;  // in the order quantize applied them
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
