#pragma once
// Co-simulation of RTL blocks against golden vectors (docs/cosim.md): the stimulus of one layer read
// from a vectors directory, driven into a Verilated block through its valid/ready interface, every
// output scoreboarded against the golden one. The report names the first mismatch: layer, tensor,
// input, coordinates, element, cycle, got and expected; a watchdog ends a hung block.

#include <cstdint>
#include <string>
#include <vector>

#include "model/tensor.hpp"

namespace chipref::cosim {

struct FirstMismatch {
  int64_t input = 0, index = 0, cycle = 0;
  Shape coordinates;
  int64_t got = 0, expected = 0;
};

struct CosimResult {
  std::string block, layer, tensor;
  int64_t inputs = 0, compared = 0, mismatches = 0, cycles = 0;
  double seconds = 0;
  bool has_mismatch = false;
  FirstMismatch first;
  bool hung = false;
  std::string hang;  // what the watchdog saw: cycle, last handshake
  bool passed() const { return !hung && mismatches == 0; }
};

// The report printed by `chipref cosim`: PASS with the values compared, or the first mismatch / hang.
std::string format_report(const CosimResult& r);

// A MulShift layer's stimulus for one input (docs/cosim.md): per element of the accumulator tensor its
// channel's multiplier and shift, and the golden output code.
struct MulShiftStimulus {
  std::string layer, tensor;  // the op and its output tensor
  int64_t input = 0;
  Shape shape;
  std::vector<int32_t> accumulators, multipliers, expected;
  std::vector<int8_t> shifts;
  int multiplier_bits = 31;
  bool round_half_up = false;
  int32_t zero_point = 0, out_min = 0, out_max = 0, clamp_lo = 0, clamp_hi = 0;
};

// Every input's stimulus for the mulshift op `layer` of the vectors in `dir` (the IntGraph the
// manifest names gives the op's attributes). InputError if the layer is not a mulshift op of the
// `single` flavour with half_even or half_up rounding (what the reference unit implements), or its
// vectors are missing (write them with accumulators and without --layers excluding it).
std::vector<MulShiftStimulus> mulshift_stimulus(const std::string& dir, const std::string& layer);

// Row-major coordinates of element `index` of `shape`.
Shape coordinates_of(const Shape& shape, int64_t index);

}  // namespace chipref::cosim
