#pragma once
// lut: codes, table → codes (docs/numerics.md §8). Its parameters, read and checked once, are what the
// engines run and what cosim loads into a LUT unit.

#include "kernels/lut.hpp"
#include "ops/op_def.hpp"

namespace chipref::ops {

const OpDef& lut_op_def();
// InputError naming the op if the table does not cover the input format or the shift is not 0..16.
kernels::Lut read_lut(const IntGraph& graph, const Node& lut);

}  // namespace chipref::ops
