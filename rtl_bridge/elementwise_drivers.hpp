#pragma once
// Drivers of the element-wise reference blocks (rtl/mulshift_unit.sv, rtl/lut_unit.sv; any MUTATION
// variant): one element a handshake in, one code a handshake out, scoreboarded in order. Templates
// over the Verilated class: the variants are distinct classes with the same ports.

#include <chrono>
#include <string>
#include <vector>

#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/mac_array_driver.hpp"

namespace chipref::cosim {

// Streams items 0..n−1 (`set_input(unit, i)` puts item i on the input ports) through a block with
// in_valid/in_ready and out_valid/out_ready; `score_output(unit, i)` scores the i-th output.
template <class Unit, class SetInput, class ScoreOutput>
void stream_items(Unit& unit, CosimResult& r, int64_t input, size_t n, int64_t watchdog_cycles, SetInput set_input,
                  ScoreOutput score_output) {
  size_t sent = 0, received = 0;
  Watchdog watchdog(watchdog_cycles, r.cycles);
  while (received < n) {
    unit.in_valid = sent < n;
    if (sent < n) set_input(unit, sent);
    unit.clk = 0;
    unit.eval();  // the handshakes of this cycle, sampled before its rising edge
    const bool in_fire = unit.in_valid && unit.in_ready, out_fire = unit.out_valid && unit.out_ready;
    if (out_fire) {
      score_output(unit, received);
      watchdog.saw(r.cycles, "output element " + std::to_string(received++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input element " + std::to_string(sent++));
    unit.clk = 1;
    unit.eval();
    ++r.cycles;
    if (watchdog.expired(r.cycles)) {
      r.hung = true;
      r.hang = watchdog.describe(r.cycles, "input " + std::to_string(input) + "; " + std::to_string(sent) + " of " +
                                               std::to_string(n) + " elements sent, " + std::to_string(received) +
                                               " received");
      break;
    }
  }
}

// Elements 0..n−1 with one code out each (out_code), scored against `expected`.
template <class Unit, class SetInput>
void stream_elements(Unit& unit, CosimResult& r, int64_t input, const Shape& shape,
                     const std::vector<int32_t>& expected, int64_t watchdog_cycles, SetInput set_input) {
  stream_items(unit, r, input, expected.size(), watchdog_cycles, set_input, [&](Unit& u, size_t i) {
    score(r, input, static_cast<int64_t>(i), shape, static_cast<int32_t>(u.out_code), expected[i]);
  });
}

template <class Unit>
void drive_mulshift(Unit& unit, const MulShiftStimulus& s, CosimResult& r, int64_t watchdog_cycles) {
  const auto t0 = std::chrono::steady_clock::now();
  unit.cfg_multiplier_bits = static_cast<uint8_t>(s.settings.multiplier_bits & 31);
  unit.cfg_round_half_up = s.settings.round_half_up;
  unit.cfg_zero_point = static_cast<uint32_t>(s.settings.zero_point);
  unit.cfg_out_min = static_cast<uint32_t>(s.settings.out_min);
  unit.cfg_out_max = static_cast<uint32_t>(s.settings.out_max);
  unit.cfg_clamp_lo = static_cast<uint32_t>(s.settings.clamp_lo);
  unit.cfg_clamp_hi = static_cast<uint32_t>(s.settings.clamp_hi);
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

// One N:M group a handshake (rtl/sparse_decoder.sv): N values and positions in, M dense lanes out,
// each lane that is not padding scored against the golden dense weights.
template <class Unit>
void drive_sparse(Unit& unit, const SparseStimulus& s, CosimResult& r, int64_t watchdog_cycles) {
  const auto t0 = std::chrono::steady_clock::now();
  reset_block(unit, r);
  const auto N = static_cast<size_t>(s.n), M = static_cast<size_t>(s.m);
  stream_items(
      unit, r, s.input, s.index.size() / M, watchdog_cycles,
      [&](Unit& u, size_t group) {
        for (size_t j = 0; j < N; ++j) {
          detail::set_lane(u.in_values, static_cast<int64_t>(j), 16, s.values[group * N + j]);
          detail::set_lane(u.in_index, static_cast<int64_t>(j), 8, s.positions[group * N + j]);
        }
      },
      [&](Unit& u, size_t group) {
        for (size_t p = 0; p < M; ++p) {
          const size_t lane = group * M + p;
          if (s.index[lane] < 0) continue;  // padding past the row's end
          const auto got = static_cast<int16_t>(static_cast<uint16_t>(u.out_dense >> (16 * p)));
          score(r, s.input, s.index[lane], s.shape, got, s.expected[lane]);
        }
      });
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace chipref::cosim
