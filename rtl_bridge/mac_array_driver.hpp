#pragma once
// Drives a Verilated mac_array (rtl/mac_array.sv, 16-bit activation and weight lanes, 32-bit
// accumulators; any geometry or MUTATION variant) with a layer's tile streams and scoreboards every
// drained accumulator that is not padding.

#include <chrono>
#include <string>
#include <type_traits>

#include "rtl_bridge/cosim.hpp"

namespace chipref::cosim {

namespace detail {
// Lane `i` of `width` bits (16 or 32) of a packed Verilator bus: an integer up to 64 bits wide, or
// 32-bit words beyond.
template <class Bus>
void set_lane(Bus& bus, int64_t i, int width, int32_t value) {
  const int64_t bit = i * width;
  const uint64_t mask = width == 32 ? 0xFFFFFFFFull : ((1ull << width) - 1);
  if constexpr (std::is_integral_v<Bus>) {
    const unsigned shift = static_cast<unsigned>(bit);
    bus = static_cast<Bus>((static_cast<uint64_t>(bus) & ~(mask << shift)) |
                           ((static_cast<uint64_t>(static_cast<uint32_t>(value)) & mask) << shift));
  } else {
    const unsigned shift = static_cast<unsigned>(bit % 32);
    auto& word = bus[static_cast<size_t>(bit / 32)];
    word = static_cast<uint32_t>((word & ~(mask << shift)) |
                                 ((static_cast<uint64_t>(static_cast<uint32_t>(value)) & mask) << shift));
  }
}
// Lanes 0..n−1 of 16 bits: two a word where the bus has 32-bit words (the per-beat hot path).
template <class Bus>
void set_lanes16(Bus& bus, const int32_t* values, int64_t n) {
  if constexpr (std::is_integral_v<Bus>) {
    for (int64_t i = 0; i < n; ++i) set_lane(bus, i, 16, values[i]);
  } else {
    for (int64_t i = 0; i + 1 < n; i += 2)
      bus[static_cast<size_t>(i / 2)] =
          (static_cast<uint32_t>(values[i]) & 0xFFFFu) | (static_cast<uint32_t>(values[i + 1]) << 16);
    if (n % 2) set_lane(bus, n - 1, 16, values[n - 1]);
  }
}
}  // namespace detail

template <class Unit>
void drive_mac_array(Unit& unit, const MacArrayStimulus& s, CosimResult& r, int64_t watchdog_cycles) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t R = s.rows, C = s.cols, K = s.reduction, beats = s.tiles * K, rows_out = s.tiles * R;
  unit.cfg_act_zero_point = static_cast<uint16_t>(s.act_zero_point);
  unit.cfg_weight_zero_point = static_cast<uint16_t>(s.weight_zero_point);
  reset_block(unit, r);
  int64_t sent = 0, drained = 0;
  Watchdog watchdog(watchdog_cycles, r.cycles);
  while (drained < rows_out) {
    unit.in_valid = sent < beats;
    if (sent < beats) {
      const int64_t tile = sent / K, k = sent % K;
      unit.in_first = k == 0;
      unit.in_last = k == K - 1;
      detail::set_lanes16(unit.in_act, &s.activations[static_cast<size_t>(sent * R)], R);
      detail::set_lanes16(unit.in_weight, &s.weights[static_cast<size_t>(sent * C)], C);
      if (k == 0)  // the array reads the bias on a tile's first beat only
        for (int64_t c = 0; c < C; ++c)
          detail::set_lane(unit.in_bias, c, 32, s.bias[static_cast<size_t>(tile * C + c)]);
    }
    unit.clk = 0;
    unit.eval();
    const bool in_fire = unit.in_valid && unit.in_ready, out_fire = unit.out_valid && unit.out_ready;
    if (out_fire) {
      for (int64_t c = 0; c < C; ++c) {
        const size_t slot = static_cast<size_t>(drained * C + c);
        if (s.index[slot] >= 0)  // else padding of a partial tile
          score(r, s.input, s.index[slot], s.shape, static_cast<int32_t>(unit.out_acc[static_cast<size_t>(c)]),
                s.expected[slot]);
      }
      watchdog.saw(r.cycles, "output row " + std::to_string(drained++));
    }
    if (in_fire) watchdog.saw(r.cycles, "input beat " + std::to_string(sent++));
    unit.clk = 1;
    unit.eval();
    ++r.cycles;
    if (watchdog.expired(r.cycles)) {
      r.hung = true;
      r.hang = watchdog.describe(r.cycles, "input " + std::to_string(s.input) + "; " + std::to_string(sent) + " of " +
                                               std::to_string(beats) + " beats sent, " + std::to_string(drained) +
                                               " of " + std::to_string(rows_out) + " rows drained");
      break;
    }
  }
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace chipref::cosim
