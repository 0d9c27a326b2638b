#pragma once
// Co-simulation of RTL blocks against golden vectors (docs/cosim.md): the stimulus of one layer read
// from a vectors directory, driven into a Verilated design through its protocol (design_cosim.hpp),
// every output scoreboarded against the golden one. The report names the first mismatch: layer, tensor,
// input, coordinates, element, cycle, got and expected; a watchdog ends a hung block.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/int_graph.hpp"
#include "model/tensor.hpp"

namespace chipref::cosim {

struct FirstMismatch {
  int64_t input = 0, index = 0, cycle = 0;
  Shape coordinates;
  int64_t got = 0, expected = 0;
  int64_t input_start_cycle = 0;  // the cycle its input started at (a waveform of it replays from there)
  std::string detail = {};        // what got and expected stand for, when a value is more than one number
};

struct CosimResult {
  std::string block, layer, tensor;
  int64_t inputs = 0, compared = 0, mismatches = 0, cycles = 0;
  int64_t matrices = 0;  // MAC array operations done: a tile drained (matrix_tiles), a block multiplied (whole_matrix)
  double seconds = 0;
  bool has_mismatch = false;
  FirstMismatch first;   // the earliest in time (its output handshake's cycle)
  FirstMismatch lowest;  // the lowest (input, row-major index): where a designer reads the tensor from

  bool hung = false;
  std::string hang;               // what the watchdog saw: cycle, last handshake
  int64_t input_start_cycle = 0;  // of the input being driven
  std::string trace;              // the FST waveform written around the first mismatch or the hang, if asked for
  bool passed() const { return !hung && mismatches == 0; }
};

// Records a mismatch: the first in time and the one at the lowest (input, index); `detail` (if any) says
// what the values are.
void record_mismatch(CosimResult& r, int64_t input, int64_t index, const Shape& shape, int64_t got, int64_t expected,
                     const std::string& detail = "");
// Scores one output value against the golden one. Inline: a MAC array's harness scores a whole row of
// outputs every cycle, and the call cost as much as the comparison.
inline void score(CosimResult& r, int64_t input, int64_t index, const Shape& shape, int64_t got, int64_t expected) {
  ++r.compared;
  if (got != expected) record_mismatch(r, input, index, shape, got, expected);
}

// A driver loop's watchdog: ends the run after `limit` cycles without a handshake.
class Watchdog {
 public:
  Watchdog(int64_t limit, int64_t cycle) : limit_(limit), last_cycle_(cycle) {}
  // A handshake at `cycle`, "<event> <noun> <index>" ("input beat 7"): kept as its parts and formatted only
  // when the watchdog fires, since a string built every beat costs a good part of the beat itself.
  void saw(int64_t cycle, const char* event, const char* noun, int64_t index) {
    last_cycle_ = cycle, event_ = event, noun_ = noun, index_ = index;
  }
  void saw(int64_t cycle, std::string what) { last_cycle_ = cycle, event_ = nullptr, last_ = std::move(what); }
  bool expired(int64_t cycle) const { return cycle - last_cycle_ > limit_; }
  // "no handshake for N cycles at cycle C (<progress>; last handshake: <what> at cycle L)"
  std::string describe(int64_t cycle, const std::string& progress) const;

 private:
  int64_t limit_, last_cycle_;
  const char* event_ = nullptr;  // with noun_ and index_, the last handshake; else last_ says it
  const char* noun_ = "";
  int64_t index_ = 0;
  std::string last_ = "none";
};

// Every input of a layer, `run(stimulus, r)` each (which drives it through a fresh block out of reset),
// until one hangs.
template <class Stimulus, class Run>
CosimResult cosim_each_input(const std::string& block, const std::string& layer, const std::vector<Stimulus>& inputs,
                             Run run) {
  CosimResult r;
  r.block = block, r.layer = layer;
  for (const Stimulus& s : inputs) {
    r.tensor = s.tensor;
    r.input_start_cycle = r.cycles;
    run(s, r);
    ++r.inputs;
    if (r.hung) break;
  }
  return r;
}

// The report printed by `chipref cosim`: PASS with the values compared, or the first mismatch / hang.
std::string format_report(const CosimResult& r);

// A mulshift op's constants as the reference unit takes them, and where its channel axis is. InputError
// unless the op is of the `single` flavour with half_even or half_up rounding (what the unit implements).
struct MulShiftSettings {
  int multiplier_bits = 31;
  bool round_half_up = false;
  int32_t zero_point = 0, out_min = 0, out_max = 0, clamp_lo = 0, clamp_hi = 0;
  int64_t axis = 1;
};
MulShiftSettings mulshift_settings(const IntGraph& graph, const Node& op);

// A MulShift layer's stimulus for one input (docs/cosim.md): per element of the accumulator tensor its
// channel's multiplier and shift, and the golden output code.
struct MulShiftStimulus {
  std::string layer, tensor;  // the op and its output tensor
  int64_t input = 0;
  Shape shape;
  std::vector<int32_t> accumulators, multipliers, expected;
  std::vector<int8_t> shifts;
  MulShiftSettings settings;  // the layer's constants
};

// The multiplier / shift index of each element of a tensor of `shape`: its channel along `axis`, or 0
// when there is one per tensor. InputError naming `op` if `count` is neither 1 nor the channels.
std::vector<size_t> channel_of_elements(const Node& op, const Shape& shape, int64_t axis, size_t count);

// Every input's stimulus for the mulshift op `layer` of the vectors in `dir` (the IntGraph the
// manifest names gives the op's attributes). InputError if the layer is not a mulshift op of the
// `single` flavour with half_even or half_up rounding (what the reference unit implements), or its
// vectors are missing (write them with accumulators and without --layers excluding it).
std::vector<MulShiftStimulus> mulshift_stimulus(const std::string& dir, const std::string& layer);

// A lut layer's stimulus for one input: its input codes in row-major order, the table, and the golden
// output codes (rtl/lut_unit.sv).
struct LutStimulus {
  std::string layer, tensor;
  int64_t input = 0;
  Shape shape;
  std::vector<int32_t> codes, table, expected;
  int32_t in_min = 0, out_min = 0, out_max = 0;
  int shift = 0;
  bool interpolate = false;
};

// InputError if `layer` is not a lut op or its table exceeds `max_entries` (the unit's DEPTH).
std::vector<LutStimulus> lut_stimulus(const std::string& dir, const std::string& layer, int64_t max_entries);

// A conv_mac or linear_mac layer's stimulus for one input on an output-stationary array of rows × cols
// (rtl/mac_array.sv): per tile its K beats of activations [rows] and weights [cols], the tile's bias
// [cols], and the expected accumulators [rows][cols] with each slot's row-major index in the layer's
// accumulator tensor (−1 for the padding of a partial tile, not compared). The streams are the SystemC
// MacArray's tile streams (docs/systemc.md), made from the layer's golden input, weights and
// accumulators.
struct MacArrayStimulus {
  std::string layer, tensor;
  int64_t input = 0, rows = 0, cols = 0, tiles = 0, reduction = 0;
  Shape shape;  // of the accumulator tensor
  std::vector<int32_t> activations, weights, bias, expected;
  std::vector<int64_t> index;
  int32_t act_zero_point = 0;
  // The weight codes' zero point of each tile column, like the bias (past the last channel, the group's first
  // channel's): all the same for weights quantized per tensor.
  std::vector<int32_t> weight_zero_points;
};

// InputError if `layer` is not a conv_mac / linear_mac with constant (dense) weights and 32-bit wrapping
// accumulators, or its codes do not fit the array's 16-bit lanes.
std::vector<MacArrayStimulus> mac_array_stimulus(const std::string& dir, const std::string& layer, int64_t rows,
                                                 int64_t cols);

// A sparse_decode layer's stimulus (rtl/sparse_decoder.sv): per (row, group) of the N:M weights, in the
// order of the compressed format (docs/numerics.md §13), its N kept values and their positions in the
// group (unpacked from the index stream), and the M golden dense weights with each one's row-major index
// in the dense tensor (−1 for padding past a row's end, not compared). Weights are constants: one
// "input".
struct SparseStimulus {
  std::string layer, tensor;  // the op and its dense output
  int64_t input = 0, n = 0, m = 0;
  Shape shape;  // of the dense weights
  std::vector<int32_t> values, positions, expected;
  std::vector<int64_t> index;
};

// InputError if `layer` is not a sparse_decode op, or its pattern is not the reference decoder's (2:4)
// or its values do not fit 16-bit lanes.
std::vector<SparseStimulus> sparse_stimulus(const std::string& dir, const std::string& layer, int n, int m);

// A block_mac layer's stimulus for one input on an MX block dot-product unit (rtl/mx_dot_unit.sv): per beat
// one pair of blocks, `lanes` element codes of the input as the layer converts it and its scale code, the
// same of the weights (a short block's lanes past its end hold code 0, zero in every format); each output's
// pairs in the layer's reduction order (taps row-major, then blocks; a tap in the padding has none). Expected:
// the pair's exact dot product expected_sum × 2^expected_exponent, elements counted in units of their
// format's least significant bit, or NaN. `index`: the pair's row-major index in `shape`, the layer's output
// shape with the pairs of one output last (tensor "<layer>.block_sums").
// A stimulus holds only the input's converted codes and scales; its pairs are enumerated on demand
// (MxDotPairs), so memory is the vectors' own size whatever the number of pairs.
struct MxDotLayer;  // the layer's weights, formats and geometry, shared by its inputs (cosim.cpp)
struct MxDotStimulus {
  std::string layer, tensor;
  int64_t input = 0, lanes = 0;
  int64_t pairs = 0;  // beats
  Shape shape;
  std::shared_ptr<const MxDotLayer> layer_data;
  std::vector<int32_t> codes, scales;  // the input as the layer converts it: [vectors, cg], [vectors, blocks]
};

// One pair of blocks and the unit's expected result.
struct MxDotPair {
  std::vector<int32_t> a, w;  // [lanes]
  int32_t a_scale = 0, w_scale = 0;
  int64_t expected_sum = 0;
  int32_t expected_exponent = 0;
  bool expected_nan = false;
  int64_t index = 0;
};

// The pairs of a stimulus in the order the unit receives them, one at a time. A sender and a scoreboard
// each walk their own, so nothing but the current pair is held.
class MxDotPairs {
 public:
  explicit MxDotPairs(const MxDotStimulus& s);
  // Pair `i` (0-based): i must not be below the last one asked for; the walk only moves forward.
  const MxDotPair& at(size_t i);

  // The walk by outputs (every output, even one whose taps all fall in the padding, which has no pairs).
  bool next_output();                               // false after the last output
  bool next_pair();                                 // within the current output; false after its last pair
  int64_t output() const { return output_index_; }  // row-major in the layer's output
  int64_t channel() const { return channel_; }      // its output channel
  const MxDotPair& pair() const { return pair_; }

 private:
  const MxDotStimulus& s_;
  const MxDotLayer& l_;
  int64_t next_output_ = 0, output_index_ = -1, channel_ = 0, tap_ = 0, block_ = 0;
  std::vector<int64_t> tap_vectors_;  // per tap: the input vector it reads, -1 in the padding
  MxDotPair pair_;
  size_t at_ = SIZE_MAX;  // the pair index pair_ holds
};

// Every input's stimulus for the block_mac op `layer` of the vectors in `dir`. Before it returns, the
// expected sums of each output, with the bias, in the layer's accumulation model and output rounding, are
// checked to give the golden output codes (else the vectors are not this layer's: InputError). InputError if
// the layer is not a block_mac, its formats are not `activation_format` and `weight_format` (the unit's), its
// blocks are longer than `lanes`, or a block's sum does not fit 64 bits.
std::vector<MxDotStimulus> mx_dot_stimulus(const std::string& dir, const std::string& layer, int64_t lanes,
                                           const std::string& activation_format, const std::string& weight_format);

// Row-major coordinates of element `index` of `shape`.
Shape coordinates_of(const Shape& shape, int64_t index);

}  // namespace chipref::cosim
