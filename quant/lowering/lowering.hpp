#pragma once
// Lowering a prepared float graph to an IntGraph (docs/numerics.md §6). `Lowering` holds what every rule
// shares: the graph, the config, the calibrated ranges (or a pre-quantized model's parameters), the
// IntGraph being built, and the helpers that choose quantization parameters, quantize weights and biases
// and add requantizations. The rules are one file per op family (quant/lowering/<family>.cpp), each
// registering the ONNX op types it lowers (`LoweringRule`); quant/CMakeLists.txt lists the families.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/graph.hpp"
#include "model/int_graph.hpp"
#include "model/io/samples.hpp"
#include "quant/calibrators.hpp"
#include "quant/config.hpp"
#include "quant/layer_inputs.hpp"
#include "quant/prequantized.hpp"
#include "quant/weight_rounding.hpp"

namespace chipref {

// A float tensor's calibrated range (and histogram, when a histogram calibrator is configured anywhere).
struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  std::shared_ptr<Histogram> histogram;  // when a histogram calibrator is configured anywhere
};

// What the lowering did with one node of the prepared float graph (`chipref inspect --lowering`).
struct LoweringOutcome {
  std::string node, op_type;
  std::vector<std::string> int_ops;  // the integer ops it became, in order
  std::string fused_into;            // or: the node whose lowering absorbed it (an activation after a MAC)
  std::string refused;               // or: why it does not lower (empty when it did)
  std::string no_op;                 // or: why it lowered to no op (a rescaling, an attention mask)
};

inline bool same_quantization(const QuantParams& a, const QuantParams& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point && a.format == b.format;
}

// Lowers the prepared float graph. Quantization parameters come from calibrated ranges, or, for a
// pre-quantized model, from its quantizers (`pre`), taken as they are.
class Lowering {
 public:
  Lowering(const Graph& g, const QuantConfig& cfg, std::map<std::string, Range> ranges, const PrequantizedModel* pre,
           IntGraph& out, bool ignore_sparsity);
  // Lowers every node (in order, each once: a rule may consume the activation after it), then the
  // boundaries.
  void run();
  // Every node tried, whatever fails: an outcome per node instead of the first error (a node after one
  // that does not lower is refused naming it). No boundaries, no checks of the result.
  std::vector<LoweringOutcome> survey();
  static Node op(const std::string& type, const std::string& name, std::vector<std::string> ins,
                 std::vector<std::string> outs);
  [[noreturn]] void cannot(const Node& n, const std::string& why) const;
  Shape shape_of(const std::string& name) const;
  // Concat moves codes, so its inputs must have its output's quantization: each input, and the chain of
  // data movement that produced it, is quantized from the output's calibrated range (as TFLite does).
  void share_concat_quantization();
  // The tensor whose calibrated range quantizes `tensor` (itself unless a Concat shares its own).
  std::string range_source(std::string tensor) const;
  QuantParams params_for(const std::string& name, const LayerQuantConfig& c) const;
  // The graph input's: calibrated for a float input; for integers (token ids) their values as codes.
  QuantParams input_params() const;
  void add_value(const std::string& name, const QuantParams& q);
  void require_quantized(const std::string& name, const Node& n) const;
  const Tensor& initializer(const Node& n, size_t i) const;
  // A Relu or Clip that is the only reader of `tensor`: fused into the preceding op's clamp.
  const Node* fusable_activation(const std::string& tensor);
  // [lo, hi] codes of the output format that the activation allows. In a pre-quantized model, the bounds
  // of its qdq_table, which must be a clamp.
  std::pair<int64_t, int64_t> clamp_for(const Node* act, const QuantParams& q) const;
  // Pre-quantized models: elementwise node `n` as the QDQ graph defines it on every code c of `in`:
  // DequantizeLinear (fl(fl(c − z) · s) in float32), the node in the float executor, QuantizeLinear to
  // `out` (sat(round_half_even(fl(y / s)) + z)). Entry i is the output code of input code min_in + i.
  std::vector<int64_t> qdq_table(const Node& n, const QuantParams& in, const QuantParams& out) const;
  // [lo, hi] when table t (over the codes of q) is the clamp t[c] = min(max(c, lo), hi), else nullopt.
  static std::optional<std::pair<int64_t, int64_t>> as_clamp(const std::vector<int64_t>& t, const QuantParams& q);
  void add_constant(const std::string& name, Tensor t);
  // A float constant's codes (code_of each element).
  static Tensor codes_of(const Tensor& t, const QuantParams& q);
  // A constant operand of an Add (a position embedding): its codes at its own per-tensor quantization,
  // repeated to the batch of the other operand. Returns the name of the repeated codes.
  std::string constant_operand(const Node& n, size_t i, const std::string& other, const LayerQuantConfig& c);
  // A constant integer input of n (Slice's starts, Gather's indices).
  const Tensor& int_constant(const Node& n, size_t i, const char* what) const;
  // A static axis of x for n, normalized to [0, rank).
  int64_t static_axis(const Node& n, const Shape& xs, int64_t axis) const;
  // A constant's codes from a pre-quantized model, or nullptr.
  const QuantizedConstant* given_codes(const Node& n, size_t i) const;
  // A pre-quantized weight as it is: its codes, format and zero points, one scale (and zero point) per tensor or per
  // output channel. `codes` is already laid out [out, ...]; returns the per-channel scales.
  std::vector<double> take_weights(const Node& n, const QuantizedConstant& given, Tensor codes, bool out_axis_ok,
                                   const std::string& name);
  // Weight codes as the config says (signed or unsigned, symmetric or with zero points), per output channel or
  // per tensor; records the IntGraph's WeightQuant and returns the scales. The codes are the nearest ones
  // (code_of), or what `choose` picks on the same grids (weights [out, everything else], a grid per row).
  using WeightChooser = std::function<CodeMatrix(const RealMatrix& w, const std::vector<CodeGrid>& grids)>;
  std::vector<double> quantize_weights(const Tensor& w, const LayerQuantConfig& c, const std::string& name,
                                       const WeightChooser& choose = {});
  // A MAC layer's weight codes (the constant `name`, [out, ...]) as reals, [out, everything else].
  RealMatrix dequantized_weights(const std::string& name) const;
  static RealMatrix dequantized(const Tensor& codes, const WeightQuant& record);
  // Rounding from calibration inputs (GPTQ, AdaRound, bias correction): quantize() enables it when a layer
  // of the config asks for it. `quantized_graph` is then the float graph with each MAC layer lowered so far
  // holding its dequantized codes, the network quantized up to the next layer.
  void enable_layer_inputs(const SampleSource* images);
  bool layer_inputs_enabled() const { return quantized_graph != nullptr; }
  // The moments (per group) of node n's input over the calibration images: from the float network and
  // from the quantized one, whose tensors are fake-quantized with the parameters lowered so far (there,
  // a block-format layer reads its input as convert_block_input made it).
  std::vector<LayerInputMoments> layer_input_moments(const Node& n, const MacInputGeometry& g) const;
  // Makes block-format layer n (lowered as int_graph.ops[op]) read, in the quantized graph, its input
  // `operand` as its block conversion makes it: a copy of the input that only n reads, converted as the hook
  // sees it (the input's other readers keep its uniform codes).
  void convert_block_input(const Node& n, size_t op, int operand);
  // Replaces (or adds) a constant input of node n in the quantized graph.
  void set_quantized_input(const Node& n, size_t input, Tensor value);
  // Bias at scale s_x·s_w[c], rounded half to even; an InputError if it does not fit bias_bits. A
  // pre-quantized bias keeps its codes when its scale is s_x·s_w[c] (as float32, ONNX Runtime's rule).
  void quantize_bias(const Node& n, size_t input, const Tensor* b, double s_x, const std::vector<double>& s_w,
                     const LayerQuantConfig& c, const std::string& name);
  // The (multiplier, shift) a layer stores for a real scale. The float flavour multiplies by the float32
  // nearest the scale, as ONNX Runtime does, and stores it exactly as a 24-bit multiplier.
  FixedMultiplier stored_multiplier(double scale, const LayerQuantConfig& c, const std::string& where) const;
  void add_mulshift(const std::string& name, const std::string& acc, const std::string& out,
                    const std::vector<double>& scales, const LayerQuantConfig& c, std::pair<int64_t, int64_t> clamp,
                    int64_t channel_axis = 1);
  // The layer's weight codes N:M-compressed (§13): the kept values and the packed indices replace the
  // dense constant, and a sparse_decode op rebuilds it in front of the MAC. Pruned here first when the
  // config prunes codes. `bits` 0: the codes' dtype width (pre-quantized weights).
  void compress_weights(const Node& n, const std::string& name, const LayerQuantConfig& c, int bits);
  static void set_requant_attrs(Node& n, const LayerQuantConfig& c);
  void add_accumulator(const std::string& name, const std::string& like, const LayerQuantConfig& c);
  static void set_accumulator_attrs(Node& n, const LayerQuantConfig& c);
  // S = s_x·s_w / s_y. For a pre-quantized model in the float flavour, in float32 and in ONNX Runtime's
  // order, fl(fl(s_x·s_w) / s_y), so that the result equals ORT's QLinearConv bit for bit.
  double mac_scale(double s_x, double s_w, double s_y, const LayerQuantConfig& c) const;
  // Ops that move codes without changing them: the output keeps the input's quantization.
  void lower_data_movement(const Node& n, const std::string& type, std::map<std::string, AttributeValue> attrs);
  // Lowers `n` with the rule registered for its op type; InputError naming it if there is none.
  void lower(const Node& n);

  const Graph& graph;
  const QuantConfig& config;
  std::map<std::string, Range> ranges;
  const PrequantizedModel* prequantized;
  IntGraph& int_graph;
  std::map<std::string, std::vector<size_t>> consumers;
  std::vector<bool> consumed;
  std::map<std::string, std::string> concat_range_of;  // tensor → the Concat output whose range quantizes it
  std::map<std::string, std::string> aliases;          // rescaled tensor → the tensor holding its codes
  // Values that are exact integers, not quantized reals (token ids, comparisons, masks, and data moved
  // from them): scale 1, zero point 0, and the float graph holds integers or bools there.
  std::set<std::string> exact_integers;
  // An additive attention mask: a tensor that is −∞ where the mask codes equal `masked_code`, 0 elsewhere
  // (ONNX Where(mask, −inf, 0)), and the scores such a mask was added to. Neither has codes of its own:
  // only a Softmax reads them (docs/numerics.md §9).
  struct AdditiveMask {
    std::string codes;  // the exact-integer mask value
    int64_t masked_code = 1;
    std::string scores;  // for masked scores: the value the mask was added to; empty for the mask itself
  };
  std::map<std::string, AdditiveMask> additive_masks;
  // A pre-quantized model whose last MAC's output stays float (no QuantizeLinear after it: a float tail):
  // its accumulators end the integer network, dequantized per output channel at s_x·s_w[c].
  struct FloatTail {
    std::string accumulators;
    std::vector<float> scales;
    int64_t channel_axis = 1;
  };
  std::optional<FloatTail> float_tail;
  bool is_graph_output(const std::string& tensor) const;
  bool ignore_sparsity;
  std::unique_ptr<Graph> quantized_graph;
  const SampleSource* layer_input_images = nullptr;
  // Where each node of `graph` is in the quantized graph, which may hold more (block conversions).
  std::vector<size_t> quantized_position;
  // The quantized graph's copies of block-format layers' inputs: copy → the IntGraph op that converts it
  // (its index in int_graph.ops) and which of its operands the copy is.
  std::map<std::string, std::pair<size_t, int>> block_input_copies;
};

// How one ONNX op type (of `domain`; "" is ONNX's own) lowers. `lower` may refuse with Lowering::cannot.
// `refusal`: registered only to explain why the op is not lowered (it is then not listed as supported).
struct LoweringRule {
  std::string domain, op_type;
  std::function<void(Lowering&, const Node&)> lower;
  bool refusal = false;
};

// Rules shared across families: Gather of a constant table by run-time ids (an embedding), and an Add
// that applies an additive attention mask to scores (recorded for the Softmax that reads it).
void lower_embedding_lookup(Lowering& cx, const Node& n);
// Pre-quantized models: elementwise `n` as a `lut` of its qdq_table from `in` to `out` codes (`function`
// names it in reports).
void lower_qdq_table(Lowering& cx, const Node& n, const QuantParams& in, const QuantParams& out,
                     const std::string& function);
void apply_additive_mask(Lowering& cx, const Node& n, const std::string& mask, const std::string& scores);

// Every rule of every family, in the order quant/CMakeLists.txt lists the families; null if none lowers
// (domain, op_type).
const std::vector<LoweringRule>& lowering_rules();
const LoweringRule* find_lowering_rule(const std::string& domain, const std::string& op_type);

}  // namespace chipref
