#pragma once
// Drivers of the element-wise reference blocks (rtl/mulshift_unit.sv, rtl/lut_unit.sv; any MUTATION
// variant): one element a handshake in, one code a handshake out, scoreboarded in order. Templates
// over the Verilated class: the variants are distinct classes with the same ports.

#include <chrono>
#include <string>
#include <vector>

#include "rtl_bridge/cosim.hpp"

namespace chipref::cosim {

// Streams elements 0..n−1 (`set_input(unit, i)` puts element i on the input ports) through a block with
// in_valid/in_ready and out_code/out_valid/out_ready, and scores each output against `expected`.
template <class Unit, class SetInput>
void stream_elements(Unit& unit, CosimResult& r, int64_t input, const Shape& shape, const std::vector<int32_t>& expected, int64_t watchdog_cycles,
                     SetInput set_input) {
  const size_t n = expected.size();
  size_t sent = 0, received = 0;
  Watchdog watchdog(watchdog_cycles, r.cycles);
  while (received < n) {
    unit.in_valid = sent < n;
    if (sent < n) set_input(unit, sent);
    unit.clk = 0;
    unit.eval();  // the handshakes of this cycle, sampled before its rising edge
    const bool in_fire = unit.in_valid && unit.in_ready, out_fire = unit.out_valid && unit.out_ready;
    if (out_fire) {
      score(r, input, static_cast<int64_t>(received), shape, static_cast<int32_t>(unit.out_code), expected[received]);
      watchdog.saw(r.cycles, "output element " + std::to_string(received++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input element " + std::to_string(sent++));
    unit.clk = 1;
    unit.eval();
    ++r.cycles;
    if (watchdog.expired(r.cycles)) {
      r.hung = true;
      r.hang = watchdog.describe(r.cycles, "input " + std::to_string(input) + "; " + std::to_string(sent) + " of " + std::to_string(n) + " elements sent, " +
                                               std::to_string(received) + " received");
      break;
    }
  }
}

template <class Unit>
void drive_mulshift(Unit& unit, const MulShiftStimulus& s, CosimResult& r, int64_t watchdog_cycles) {
  const auto t0 = std::chrono::steady_clock::now();
  unit.cfg_multiplier_bits = static_cast<uint8_t>(s.multiplier_bits & 31);
  unit.cfg_round_half_up = s.round_half_up;
  unit.cfg_zero_point = static_cast<uint32_t>(s.zero_point);
  unit.cfg_out_min = static_cast<uint32_t>(s.out_min);
  unit.cfg_out_max = static_cast<uint32_t>(s.out_max);
  unit.cfg_clamp_lo = static_cast<uint32_t>(s.clamp_lo);
  unit.cfg_clamp_hi = static_cast<uint32_t>(s.clamp_hi);
  reset_block(unit, r);
  stream_elements(unit, r, s.input, s.shape, s.expected, watchdog_cycles, [&s](Unit& u, size_t i) {
    u.in_acc = static_cast<uint32_t>(s.accumulators[i]);
    u.in_multiplier = static_cast<uint32_t>(s.multipliers[i]);
    u.in_shift = static_cast<uint8_t>(s.shifts[i]);
  });
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The table is written one entry a cycle before the layer's codes stream in, followed by one zero entry
// (never read by a correct unit; it makes what an off-by-one address reads past the table defined).
template <class Unit>
void drive_lut(Unit& unit, const LutStimulus& s, CosimResult& r, int64_t watchdog_cycles) {
  const auto t0 = std::chrono::steady_clock::now();
  unit.cfg_entries = static_cast<uint32_t>(s.table.size());
  unit.cfg_in_min = static_cast<uint32_t>(s.in_min);
  unit.cfg_shift = static_cast<uint8_t>(s.shift);
  unit.cfg_interpolate = s.interpolate;
  unit.cfg_out_min = static_cast<uint32_t>(s.out_min);
  unit.cfg_out_max = static_cast<uint32_t>(s.out_max);
  unit.tbl_we = 0;
  reset_block(unit, r);
  for (size_t a = 0; a <= s.table.size(); ++a) {
    unit.tbl_we = 1;
    unit.tbl_addr = static_cast<uint16_t>(a);
    unit.tbl_data = a < s.table.size() ? static_cast<uint32_t>(s.table[a]) : 0u;
    clock_cycle(unit, r);
  }
  unit.tbl_we = 0;
  stream_elements(unit, r, s.input, s.shape, s.expected, watchdog_cycles,
                  [&s](Unit& u, size_t i) { u.in_code = static_cast<uint32_t>(s.codes[i]); });
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace chipref::cosim
