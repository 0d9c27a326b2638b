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

// The explicit pads grown at the end so that the floor formula gives ONNX's ceil_mode output count (a last
// window that would start in the end padding is dropped, as ONNX defines). What the extra padding adds is
// nothing to a window's maximum and zero to its sum.
std::vector<int64_t> ceil_mode_pads(Lowering& cx, const Node& n, const std::vector<int64_t>& kernel,
                                    const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                                    std::vector<int64_t> pads) {
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
  return pads;
}

// How many of a window's taps along one axis the divisor counts, for each output position: those on the
// input, and with count_include_pad those on the explicit padding too (never the extra end padding of
// ceil_mode), as ONNX's AveragePool defines.
std::vector<int64_t> taps_counted(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                                  int64_t pad_end, int64_t grown_end, bool include_pad) {
  const int64_t out = (in + pad_begin + grown_end - dilation * (kernel - 1) - 1) / stride + 1;
  std::vector<int64_t> counts(static_cast<size_t>(std::max<int64_t>(out, 0)), 0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < kernel; ++k) {
      const int64_t i = o * stride - pad_begin + k * dilation;
      counts[o] += include_pad ? (i >= -pad_begin && i < in + pad_end) : (i >= 0 && i < in);
    }
  return counts;
}

// AveragePool: window_sum, then a mulshift dividing by the count. One divisor when every window counts as
// many taps (no padding, or padding counted without ceil_mode, torch.nn.AvgPool2d's default); otherwise one
// multiplier per output position (mulshift over the two spatial axes), each window's own count.
void lower_average_pool(Lowering& cx, const Node& n, bool global) {
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  cx.require_quantized(x, n);
  const Shape xs = cx.shape_of(x);
  if (xs.size() != 4 || xs[2] < 0 || xs[3] < 0) cx.cannot(n, "needs a 2-D input with static spatial size");
  Node sum = cx.op("window_sum", n.name + ".sum", {x}, {n.name + ".sum"});
  std::vector<int64_t> counts{xs[2] * xs[3]};
  if (global) {
    sum.attributes["global"] = int64_t{1};
  } else {
    if (n.has("auto_pad") && n.get_string("auto_pad") != "NOTSET")
      cx.cannot(n, "auto_pad is not lowered (explicit pads are)");
    const auto k = n.get_ints("kernel_shape");
    if (k.size() != 2) cx.cannot(n, "needs a 2-D kernel");
    const auto strides = n.get_ints("strides", std::vector<int64_t>{1, 1});
    const auto dilations = n.get_ints("dilations", std::vector<int64_t>{1, 1});
    const auto pads = n.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
    const bool ceil_mode = n.get_int("ceil_mode", 0) != 0, include_pad = n.get_int("count_include_pad", 0) != 0;
    const std::vector<int64_t> grown = ceil_mode ? ceil_mode_pads(cx, n, k, strides, dilations, pads) : pads;
    const std::vector<int64_t> rows = taps_counted(xs[2], k[0], strides[0], dilations[0], pads[0], pads[2], grown[2],
                                                   include_pad),
                               cols = taps_counted(xs[3], k[1], strides[1], dilations[1], pads[1], pads[3], grown[3],
                                                   include_pad);
    counts.clear();
    for (const int64_t r : rows)
      for (const int64_t col : cols) {
        if (r * col == 0) cx.cannot(n, "a window covers only padding, which ONNX averages as a division by zero");
        counts.push_back(r * col);
      }
    if (std::all_of(counts.begin(), counts.end(), [&](int64_t v) { return v == counts[0]; })) counts.resize(1);
    sum.attributes["kernel"] = k;
    sum.attributes["strides"] = strides;
    if (dilations != std::vector<int64_t>{1, 1}) sum.attributes["dilations"] = dilations;
    const bool padded = std::any_of(grown.begin(), grown.end(), [](int64_t p) { return p != 0; });
    if (padded) sum.attributes["pads"] = grown;
    // What the QDQ export writes back: the model's own pads and modes (without them: pads counted).
    if (grown != pads) sum.attributes["explicit_pads"] = pads;
    if (ceil_mode) sum.attributes["ceil_mode"] = int64_t{1};
    if (padded && !include_pad) sum.attributes["count_include_pad"] = int64_t{0};
  }
  cx.int_graph.values[n.name + ".sum"] = IntValue{cx.shape_of(y), QuantParams{IntFormat::int_bits(32), 0, 0.0}};
  cx.int_graph.ops.push_back(std::move(sum));
  const QuantParams yq = cx.params_for(y, c);
  cx.add_value(y, yq);
  std::vector<double> scales;
  for (const int64_t count : counts)
    scales.push_back(cx.int_graph.values.at(x).quant.scale / (static_cast<double>(count) * yq.scale));
  cx.add_mulshift(n.name + ".requant", n.name + ".sum", y, scales, c, cx.clamp_for(nullptr, yq),
                  counts.size() > 1 ? 2 : 1);
  if (counts.size() > 1) cx.int_graph.ops.back().attributes["channel_axes"] = int64_t{2};
}

// MaxPool: the largest code of each window (codes order as reals do), ceil_mode by grown end pads.
void lower_max_pool(Lowering& cx, const Node& n) {
  const std::vector<int64_t> kernel = n.get_ints("kernel_shape");
  const std::vector<int64_t> strides = n.get_ints("strides", std::vector<int64_t>(kernel.size(), 1));
  const std::vector<int64_t> dilations = n.get_ints("dilations", std::vector<int64_t>(kernel.size(), 1));
  std::vector<int64_t> pads = n.get_ints("pads", std::vector<int64_t>(2 * kernel.size(), 0));
  if (n.get_int("ceil_mode", 0) != 0) pads = ceil_mode_pads(cx, n, kernel, strides, dilations, pads);
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
