#pragma once
// Drives a Verilated mulshift_unit (rtl/mulshift_unit.sv; any MUTATION variant) with a layer's
// stimulus and scoreboards its outputs. A template over the Verilated class: the variants are
// distinct classes with the same ports.

#include <chrono>
#include <string>

#include "rtl_bridge/cosim.hpp"

namespace chipref::cosim {

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
  const size_t n = s.accumulators.size();
  size_t sent = 0, received = 0;
  Watchdog watchdog(watchdog_cycles, r.cycles);
  while (received < n) {
    unit.in_valid = sent < n;
    if (sent < n) {
      unit.in_acc = static_cast<uint32_t>(s.accumulators[sent]);
      unit.in_multiplier = static_cast<uint32_t>(s.multipliers[sent]);
      unit.in_shift = static_cast<uint8_t>(s.shifts[sent]);
    }
    unit.clk = 0;
    unit.eval();  // the handshakes of this cycle, sampled before its rising edge
    const bool in_fire = unit.in_valid && unit.in_ready, out_fire = unit.out_valid && unit.out_ready;
    if (out_fire) {
      score(r, s.input, static_cast<int64_t>(received), s.shape, static_cast<int32_t>(unit.out_code), s.expected[received]);
      watchdog.saw(r.cycles, "output element " + std::to_string(received++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input element " + std::to_string(sent++));
    unit.clk = 1;
    unit.eval();
    ++r.cycles;
    if (watchdog.expired(r.cycles)) {
      r.hung = true;
      r.hang = watchdog.describe(r.cycles, "input " + std::to_string(s.input) + "; " + std::to_string(sent) + " of " + std::to_string(n) +
                                               " elements sent, " + std::to_string(received) + " received");
      break;
    }
  }
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace chipref::cosim
