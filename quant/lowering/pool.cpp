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
    // Padding counted in the divisor (count_include_pad = 1, torch's AvgPool2d default) keeps one divisor,
    // the kernel's area: the window sum skips the pads, which is adding real zeros. Without it, or with
    // ceil_mode, the divisor changes per position.
    const auto pads = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
    const bool padded = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; });
    if (n.get_int("ceil_mode", 0) != 0)
      cx.cannot(n, "ceil_mode changes the window count per position; not supported yet (export with ceil_mode 0)");
    if (padded && n.get_int("count_include_pad", 0) == 0)
      cx.cannot(n,
                "padding without count_include_pad divides each position by its own count; not supported yet "
                "(the nearest supported form: count_include_pad = 1, torch.nn.AvgPool2d's default)");
    if (n.has("auto_pad") && n.get_string("auto_pad") != "NOTSET")
      cx.cannot(n, "auto_pad is not lowered (explicit pads are)");
    const auto k = n.get_ints("kernel_shape");
    count = k.at(0) * k.at(1);
    sum.attributes["kernel"] = k;
    sum.attributes["strides"] = n.get_ints("strides", std::vector<int64_t>{1, 1});
    if (padded) sum.attributes["pads"] = pads;
  }
  cx.int_graph.values[n.name + ".sum"] = IntValue{cx.shape_of(y), QuantParams{IntFormat::int_bits(32), 0, 0.0}};
  cx.int_graph.ops.push_back(std::move(sum));
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  cx.add_mulshift(n.name + ".requant", n.name + ".sum", y,
                  {cx.int_graph.values.at(x).quant.scale / (static_cast<double>(count) * yq.scale)}, c,
                  cx.clamp_for(nullptr, yq));
}

// MaxPool: the largest code of each window (codes order as reals do). ceil_mode's extra last window is
// the same window over more end padding, which the max skips: the pads grow at the end by what makes
// the floor formula give ONNX's ceil count (a last window that would start in the end padding is dropped,
// as ONNX defines).
void lower_max_pool(Lowering& cx, const Node& n) {
  const std::vector<int64_t> kernel = n.get_ints("kernel_shape");
  const std::vector<int64_t> strides = n.get_ints("strides", std::vector<int64_t>(kernel.size(), 1));
  const std::vector<int64_t> dilations = n.get_ints("dilations", std::vector<int64_t>(kernel.size(), 1));
  std::vector<int64_t> pads = n.get_ints("pads", std::vector<int64_t>(2 * kernel.size(), 0));
  if (n.get_int("ceil_mode", 0) != 0) {
    const Shape xs = cx.shape_of(n.inputs.at(0));
    const size_t dims = kernel.size();
    if (xs.size() != dims + 2 || pads.size() != 2 * dims || strides.size() != dims || dilations.size() != dims)
      cx.cannot(n, "ceil_mode needs the input's spatial size and one kernel, stride, dilation and two pads per axis");
    for (size_t d = 0; d < dims; ++d) {
      const int64_t in = xs[d + 2];
      if (in < 0) cx.cannot(n, "ceil_mode needs a static spatial size");
      const int64_t span = in + pads[d] + pads[d + dims] - dilations[d] * (kernel[d] - 1) - 1;
      if (span < 0) continue;  // no window at all: the geometry check names it
      int64_t out = (span + strides[d] - 1) / strides[d] + 1;
      if ((out - 1) * strides[d] >= in + pads[d]) --out;  // a last window starting in the end padding
      pads[d + dims] += std::max<int64_t>(0, (out - 1) * strides[d] - span);
    }
  }
  cx.lower_data_movement(n, "window_max",
                         {{"kernel", kernel}, {"strides", strides}, {"pads", pads}, {"dilations", dilations}});
}

}  // namespace

std::vector<LoweringRule> pool_lowering_rules() {
  return {
      {"", "AveragePool", [](Lowering& cx, const Node& n) { lower_average_pool(cx, n, false); }},
      {"", "GlobalAveragePool", [](Lowering& cx, const Node& n) { lower_average_pool(cx, n, true); }},
      {"", "MaxPool", lower_max_pool},
  };
}

}  // namespace chipref
