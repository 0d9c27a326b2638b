#pragma once
// The definition of each IntGraph op, in one place: its name and arity, the reading and checking of its
// parameters from graph.json (the only code that reads an integer op's attributes), the call of its
// kernel, and the traits the rest of chipref asks about (is it a MAC, which SystemC module models it,
// which role its output plays in golden vectors, how it exports to ONNX QDQ). Each op is one file in
// ops/ (ops/README.md says how to add one); the engines, SystemC, vectors, cosim, sweeps, inspect and
// export look ops up here and never compare op names.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/mac.hpp"
#include "kernels/requant.hpp"
#include "kernels/sparse.hpp"
#include "model/int_graph.hpp"
#include "numerics/accumulator.hpp"

namespace chipref {

// An integer tensor at run time: codes (or accumulators) in int32.
struct CodeTensor {
  CodeTensor() = default;
  CodeTensor(Shape shape_, std::vector<int32_t> data_) : shape(std::move(shape_)), data(std::move(data_)) {}
  Shape shape;
  std::vector<int32_t> data;
  // Or, when in_bytes, the codes at their code width (data unused): code = bytes[i] + byte_base. The DirectEngine
  // stores a requantized MAC output so when its clamp spans at most 256 codes and only steps that read bytes
  // (PreparedOp::reads_bytes) read it; nothing else ever sees one (docs/numerics.md §5, "Activations in bytes").
  bool in_bytes = false;
  std::vector<uint8_t> bytes;
  int32_t byte_base = 0;
  // Bounds its op's own clamp put every code in (set by the op from its parameters, never from the values;
  // unset when unknown): a MAC reading the tensor takes its range from them instead of a scan. Engines run
  // ops through PreparedOp, which clears them before each run.
  std::optional<kernels::CodeRange> known_range;
};

// The weights a MAC op multiplies: dense codes, and, to compute from the kept values only, the N:M
// compressed form (null: dense kernels).
struct MacWeightSource {
  const Tensor* dense = nullptr;
  std::shared_ptr<const kernels::NmWeights> skip_zero;
};

// One op made ready to run: parameters read and checked once, and a call of the op's kernel on its
// run-time inputs. Both engines run ops through this (the DirectEngine in a loop, the SystemC engine
// inside its modules), so they cannot differ in any integer.
struct PreparedOp {
  const Node* node = nullptr;
  // The tensors read at run time, in the order `run` takes them (constants are captured in `run`).
  std::vector<std::string> inputs;
  // False if the op may mix images of a batch (a reshape, transpose, concat, slice or gather touching
  // axis 0): then a batch cannot be split into chunks around it.
  bool images_independent = true;
  // Computes the op: sets out.shape and fills out.data (resized here; its old contents are ignored).
  // MAC ops add their accumulator overflow events to `overflow`.
  std::function<void(const std::vector<const CodeTensor*>& inputs, CodeTensor& out, OverflowCounter& overflow)> run;
  // Engines may run a MAC and the mulshift that alone reads its accumulators as one step, the codes written
  // as the accumulators leave the kernel (no int32 tensor in between): same integers as run + run.
  // The MAC side (conv_mac; empty for others): `run` followed by `stage` on the output's axis 1; with
  // bytes_out, the codes stored in bytes (byte_base: the stage's clamped low end, which the caller proved
  // within 255 of the high end).
  std::function<void(const std::vector<const CodeTensor*>& inputs, CodeTensor& out, OverflowCounter& overflow,
                     const kernels::MulShift& stage, bool bytes_out)>
      run_requantized;
  // True when `run`, `run_requantized` and `run_bytes_out` take any of their inputs stored in bytes
  // (CodeTensor::in_bytes).
  bool reads_bytes = false;
  // Steps that can store their own codes in bytes: `run` with the output in bytes. The engine calls it when every
  // reader reads bytes and the codes fit: those of the op's clamp, bytes_out_range, when it spans at most 256
  // codes; or, with bytes_out_range unset, those of its first input when that input is stored in bytes (max
  // pooling, whose maxima are input codes: the same base).
  std::function<void(const std::vector<const CodeTensor*>& inputs, CodeTensor& out, OverflowCounter& overflow)>
      run_bytes_out;
  std::optional<kernels::CodeRange> bytes_out_range;
  // The mulshift side: its parameters, set when its channels lie on axis 1 (one per conv output channel).
  std::shared_ptr<const kernels::MulShift> fusable_stage;
};

namespace ops {

// Where an op stands in a graph.
enum class OpRole {
  input_boundary,   // float input → codes; the single first op
  output_boundary,  // codes → float output; the single last op
  constant,         // computes a constant from constants once, before any run (N:M weight decoding)
  compute,          // everything else: runs on every input
};

// What a MAC op's second operand is: constant weights [out, ...] (conv_mac, linear_mac; possibly
// decoded by a `constant` op) or a second activation (matmul_mac).
enum class MacOperand { none, weights, activation };

// Which files golden vectors write for the op's output (docs/vectors.md).
enum class VectorRole { output, accumulator, weight_dense };

// How docs/intgraph.md's ONNX QDQ export writes the op.
enum class QdqForm {
  none,            // no QDQ form: the export fails naming the op
  with_producer,   // written together with the op that feeds it (a MAC's or a window sum's requantization)
  mac,             // Conv / Gemm / MatMul with DequantizeLinear weights, then its requantization's clamp
  activation_mac,  // MatMul of two activations
  average_pool,    // AveragePool / GlobalAveragePool, then its requantization's clamp
  add,
  mul,
  max_pool,
  lookup_table,
  softmax,
  transpose,
  concat,
  reshape,
  clamp,
  resize_linear,    // Resize, mode linear, with the model's coordinate mode and scales or sizes
  batch_broadcast,  // the dequantized constant, Expand-ed to the batch of the other input
  layernorm,        // LayerNormalization's formula in opset-13 ops, γ, β and ε recovered from the integers
  slice,
  gather,
};

// A MAC op as G matrix products X_g [P, K] · W_gᵀ [K, M] → A_g [P, M] over one transaction's row-major
// tensors (conv: X_g is the im2col view of the input; linear: the input rows; matmul: one product per
// leading index, W_g the second operand transposed). What the SystemC tile streams walk, and the MAC
// count: G·P·K·M products.
struct MacMatrixView {
  int64_t groups = 1, positions = 0, reduction = 0, channels = 0;
  // The element of the input holding X_g[p][k] (−1: a padded position, which reads the input zero
  // point), of the second operand holding W_g[m][k], of the accumulators holding A_g[p][m].
  std::function<int64_t(int64_t g, int64_t p, int64_t k)> input_index;
  std::function<int64_t(int64_t g, int64_t m, int64_t k)> second_index;
  std::function<int64_t(int64_t g, int64_t p, int64_t m)> accumulator_index;
  int64_t products() const { return groups * positions * reduction * channels; }
};

// A MAC layer in a block format (block_mac): what sweeps and reports count. Element widths exclude the
// shared scale, which every `block_size` elements of both operands carry (`scale_bits`).
struct BlockMacFacts {
  int activation_bits = 0, weight_bits = 0, block_size = 1, scale_bits = 8;
  int64_t reduction = 0;         // products per output (kernel taps × input channels per group)
  int64_t weight_elements = 0;   // element codes stored
  int64_t weight_blocks = 0;     // scale codes stored
  bool constant_weights = true;  // false: both operands are activations (block_matmul), nothing stored
};

// An operand a block op converts at run time: element codes and scale codes (blocks along the last axis), named
// `<op>.<name>.codes` / `.scales` in golden vectors.
struct BlockOperandCodes {
  std::string name;    // "input" (block_mac), "a", "b" (block_matmul)
  std::string format;  // its block format
  int bits = 8;        // element bits
  Tensor codes, scales;
};

struct OpDef {
  std::string name;
  size_t least_inputs = 1, most_inputs = 1;  // most = kAnyCount: no upper bound
  OpRole role = OpRole::compute;
  MacOperand mac = MacOperand::none;      // not none: a MAC array op, whose output is int32 accumulators
  bool requantizes_accumulators = false;  // turns a MAC's (or window sum's) accumulators into codes
  // The input holding the codes of a float constant of the source model (batch_broadcast: a class token
  // or position embedding), which the dual-path check dequantizes; -1 for none.
  int constant_codes_input = -1;
  bool moves_codes = false;    // only moves or copies codes (reshape, transpose, ...): nothing to measure
  std::string systemc_module;  // the SystemC module kind that models it (docs/systemc.md)
  VectorRole vector_role = VectorRole::output;
  QdqForm qdq = QdqForm::none;
  // Reads and checks the op's parameters (InputError naming the op) and returns it ready to run. Null
  // for the boundaries and constant ops, which the engines run themselves (ops/boundaries.hpp).
  std::function<PreparedOp(const IntGraph&, const Node&, const MacWeightSource&)> prepare;
  // MAC ops: the op as matrix products, given the shapes of one transaction's input, weights (or
  // second activation) and accumulators.
  std::function<MacMatrixView(const Node&, const Shape& input, const Shape& second, const Shape& accumulators)>
      matrix_view;
  // Non-linear ops: the function it approximates ("sigmoid", "exp (softmax)"); empty for the others.
  std::function<std::string(const Node&)> approximates;
  // Block-format MAC layers: their formats and sizes (null for the other ops).
  std::function<BlockMacFacts(const IntGraph&, const Node&)> block_facts;
  // ... and the operands they convert at run time, as their datapath receives them, from the op's input codes
  // (one per op input, null where a run holds none: constants): golden vectors write these. InputError if an
  // operand it converts is null.
  std::function<std::vector<BlockOperandCodes>(const IntGraph&, const Node&, const std::vector<const CodeTensor*>&)>
      block_operands;

  bool is_mac() const { return mac != MacOperand::none; }
  static constexpr size_t kAnyCount = SIZE_MAX;
};

// Every op, in the order ops/CMakeLists.txt lists them.
const std::vector<const OpDef*>& all_op_defs();
// The definition of an op type, or null.
const OpDef* find_op_def(const std::string& op_type);
// The definition of `op`'s type; InputError naming the op if it is none.
const OpDef& op_def(const Node& op);
// `op`'s definition has `role`/is a MAC/... : shorthands for the common questions.
inline bool has_role(const Node& op, OpRole role) {
  const OpDef* d = find_op_def(op.op_type);
  return d && d->role == role;
}
inline bool is_mac(const Node& op) {
  const OpDef* d = find_op_def(op.op_type);
  return d && d->is_mac();
}

// `op` (a MAC op; else an InputError) as matrix products over tensors of these shapes.
MacMatrixView mac_matrix_view(const Node& op, const Shape& input, const Shape& second, const Shape& accumulators);
// The multiply-accumulates of MAC op `op` given its tensors' shapes (0 for an op that is not a MAC): the
// one formula inspect, SystemC statistics and sweeps use.
int64_t mac_count(const Node& op, const Shape& input, const Shape& second, const Shape& accumulators);

}  // namespace ops

// Fails (InputError listing every offence) if a float tensor or a non-integer op lies between the
// boundaries, if an op has other input/output counts than its definition, or if an op reads a tensor
// nobody defines.
void check_integer_only(const IntGraph& graph);

// Reads DIR (read_int_graph, model/int_graph.hpp) and checks it (check_integer_only): how everything
// reads an IntGraph directory.
IntGraph load_int_graph(const std::string& dir);

// Prepares `op` (a compute op) with its definition. `weights` is consulted for MACs with constant
// weights only.
PreparedOp prepare_int_op(const IntGraph& graph, const Node& op, const MacWeightSource& weights = {});

}  // namespace chipref
