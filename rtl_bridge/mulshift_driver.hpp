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
  auto tick = [&] {
    unit.clk = 0;
    unit.eval();
    unit.clk = 1;
    unit.eval();
    ++r.cycles;
  };
  unit.cfg_multiplier_bits = static_cast<uint8_t>(s.multiplier_bits & 31);
  unit.cfg_round_half_up = s.round_half_up;
  unit.cfg_zero_point = static_cast<uint32_t>(s.zero_point);
  unit.cfg_out_min = static_cast<uint32_t>(s.out_min);
  unit.cfg_out_max = static_cast<uint32_t>(s.out_max);
  unit.cfg_clamp_lo = static_cast<uint32_t>(s.clamp_lo);
  unit.cfg_clamp_hi = static_cast<uint32_t>(s.clamp_hi);
  unit.in_valid = 0;
  unit.out_ready = 1;
  unit.rst_n = 0;
  tick();
  tick();
  unit.rst_n = 1;
  const size_t n = s.accumulators.size();
  size_t sent = 0, received = 0;
  int64_t last_handshake = r.cycles;
  std::string last = "none";
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
      const int32_t got = static_cast<int32_t>(unit.out_code), want = s.expected[received];
      ++r.compared;
      if (got != want) {
        if (!r.has_mismatch) {
          r.has_mismatch = true;
          r.first = FirstMismatch{s.input, static_cast<int64_t>(received), r.cycles, coordinates_of(s.shape, static_cast<int64_t>(received)), got, want};
        }
        ++r.mismatches;
      }
      ++received;
      last_handshake = r.cycles, last = "output element " + std::to_string(received - 1);
    }
    if (in_fire) ++sent, last_handshake = r.cycles, last = "input element " + std::to_string(sent - 1);
    unit.clk = 1;
    unit.eval();
    ++r.cycles;
    if (r.cycles - last_handshake > watchdog_cycles) {
      r.hung = true;
      r.hang = "no handshake for " + std::to_string(watchdog_cycles) + " cycles at cycle " + std::to_string(r.cycles) + " (input " + std::to_string(s.input) +
               "; " + std::to_string(sent) + " of " + std::to_string(n) + " elements sent, " + std::to_string(received) + " received; last handshake: " + last +
               " at cycle " + std::to_string(last_handshake) + ")";
      break;
    }
  }
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace chipref::cosim
