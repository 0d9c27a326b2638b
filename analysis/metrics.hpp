#pragma once
// The per-layer figures chipref reports, one formula each, shared by the dual-path check, sweeps and
// inspect: SQNR of an integer path against its float reference, and the bits a range of integers
// needs. (A MAC layer's MAC count is ops::mac_count; the worst-case accumulator bound is
// kernels::accumulator_bound, which the kernels themselves use to prove a fast path exact.)

#include <cstdint>

#include "numerics/int_format.hpp"

namespace chipref {

// Σ reference², Σ (reference − measured)² over the elements of a layer, and the SQNR in dB they give
// (+∞ when the integer path has no error).
struct SqnrSum {
  double signal = 0, noise = 0;
  void add(double reference, double measured) {
    signal += reference * reference;
    noise += (reference - measured) * (reference - measured);
  }
  double db() const;
};

// The narrowest two's-complement width holding every integer of [lo, hi] (1..64).
int signed_bits(int64_t lo, int64_t hi);

// The largest |code − zero_point| over a format's codes: the activation factor of a MAC's bound.
int64_t max_abs_offset(IntFormat format, int64_t zero_point);

}  // namespace chipref
