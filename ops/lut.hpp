#pragma once
// lut: codes, table → codes (docs/numerics.md §8). Its parameters, read and checked once, are what the
// engines run and what cosim loads into a LUT unit.

#include "kernels/lut.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

const OpDef& lut_op_def();
// InputError naming the op if the table does not cover the input format or the shift is not 0..16.
// `channel`: the row of a per-channel table [C, E] (attribute axis: the channel axis of the input);
// −1 for a single table [E] (a per-channel table is then an error naming the op).
kernels::Lut read_lut(const IntGraph& graph, const Node& lut, int64_t channel = -1);
// How many tables the op holds: 1, or C for a per-channel table [C, E].
int64_t lut_channels(const IntGraph& graph, const Node& lut);

}  // namespace chipref::ops
