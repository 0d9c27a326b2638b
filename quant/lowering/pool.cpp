// Pooling: AveragePool / GlobalAveragePool (window_sum + mulshift, 1/count in the scale), MaxPool
// (window_max on codes).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/executor.hpp"
#include "quant/lowering/lowering.hpp"
#include "quant/lut.hpp"
#include "quant/normalization.hpp"
#include "quant/quantize.hpp"
#include "quant/sparsity.hpp"

namespace chipref {

namespace {

void lower_average_pool(Lowering& cx, const Node& n, bool global) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  const Shape xs = cx.shape_of(x);
  if (xs.size() != 4 || xs[2] < 0 || xs[3] < 0) cx.cannot(n, "needs a 2-D input with static spatial size");
  Node sum = cx.op("window_sum", n.name + ".sum", {x}, {n.name + ".sum"});
  int64_t count = xs[2] * xs[3];
  if (global) {
    sum.attributes["global"] = int64_t{1};
  } else {
    const auto pads = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
    if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }) || n.get_int("ceil_mode", 0) != 0)
      cx.cannot(n, "padding and ceil_mode change the window count per position; not supported yet");
    const auto k = n.get_ints("kernel_shape");
    count = k.at(0) * k.at(1);
    sum.attributes["kernel"] = k;
    sum.attributes["strides"] = n.get_ints("strides", std::vector<int64_t>{1, 1});
  }
  cx.int_graph.values[n.name + ".sum"] = IntValue{cx.shape_of(y), QuantParams{IntFormat::int_bits(32), 0, 0.0}};
  cx.int_graph.ops.push_back(std::move(sum));
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  cx.add_mulshift(n.name + ".requant", n.name + ".sum", y,
                  {cx.int_graph.values.at(x).quant.scale / (static_cast<double>(count) * yq.scale)}, c,
                  cx.clamp_for(nullptr, yq));
}

}  // namespace

std::vector<LoweringRule> pool_lowering_rules() {
  return {
      {"", "AveragePool", [](Lowering& cx, const Node& n) { lower_average_pool(cx, n, false); }},
      {"", "GlobalAveragePool", [](Lowering& cx, const Node& n) { lower_average_pool(cx, n, true); }},
      {"", "MaxPool",
       [](Lowering& cx, const Node& n) {
         if (n.get_int("ceil_mode", 0) != 0) cx.cannot(n, "ceil_mode is not supported yet");
         cx.lower_data_movement(n, "window_max",
                                {{"kernel", n.get_ints("kernel_shape")},
                                 {"strides", n.get_ints("strides", std::vector<int64_t>{1, 1})},
                                 {"pads", n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0})},
                                 {"dilations", n.get_ints("dilations", std::vector<int64_t>{1, 1})}});
       }},
  };
}

}  // namespace chipref
