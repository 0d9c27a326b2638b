#pragma once
// How far a float pass moved a graph's function: both graphs on the float executor, the largest change of
// the graph output over its largest magnitude (the passes that rescale channels promise 1e-5).

#include <algorithm>
#include <cmath>

#include "model/executor.hpp"

namespace chipref::testing {

inline double relative_output_change(const Graph& before, const Graph& after, const Tensor& inputs) {
  const std::string in = before.inputs.at(0).name, out = before.outputs.at(0).name;
  const Tensor a = FloatExecutor(before).run({{in, inputs}}).at(out);
  const Tensor b = FloatExecutor(after).run({{in, inputs}}).at(out);
  double largest = 0, difference = 0;
  for (size_t i = 0; i < a.floats.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::fabs(a.floats[i])));
    difference = std::max(difference, static_cast<double>(std::fabs(a.floats[i] - b.floats[i])));
  }
  return difference / largest;
}

}  // namespace chipref::testing
