#include "quant/layer_inputs.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/progress.hpp"

namespace chipref {

MacInputGeometry MacInputGeometry::of_conv(const Node& conv, const Shape& weights) {
  MacInputGeometry g;
  g.conv = true;
  g.groups = conv.get_int("group", 1);
  g.kernel_h = weights.at(2), g.kernel_w = weights.at(3);
  const std::vector<int64_t> strides = conv.get_ints("strides", std::vector<int64_t>{1, 1}),
                             dilations = conv.get_ints("dilations", std::vector<int64_t>{1, 1}),
                             pads = conv.get_ints("pads", std::vector<int64_t>{0, 0, 0, 0});
  g.stride_h = strides.at(0), g.stride_w = strides.at(1);
  g.dilation_h = dilations.at(0), g.dilation_w = dilations.at(1);
  g.pad_top = pads.at(0), g.pad_left = pads.at(1), g.pad_bottom = pads.at(2), g.pad_right = pads.at(3);
  return g;
}

MacInputGeometry MacInputGeometry::of_linear(int64_t in_features) {
  MacInputGeometry g;
  g.features = in_features;
  return g;
}

int64_t MacInputGeometry::columns(int64_t channels) const {
  return conv ? channels / groups * kernel_h * kernel_w : features;
}

namespace {
// Rows of input columns are added this many at a time (bounded scratch whatever the image size).
constexpr int64_t kChunkRows = 2048;

void add_chunk(const RealMatrix& x, const RealMatrix& x_hat, int64_t rows, LayerInputMoments& m) {
  const auto a = x.topRows(rows), b = x_hat.topRows(rows);
  m.float_gram.noalias() += a.transpose() * a;
  m.cross.noalias() += a.transpose() * b;
  m.quantized_gram.noalias() += b.transpose() * b;
  m.float_sum += a.colwise().sum().transpose();
  m.quantized_sum += b.colwise().sum().transpose();
  m.rows += static_cast<double>(rows);
}
}  // namespace

void accumulate_moments(const Tensor& x, const Tensor& x_hat, const MacInputGeometry& g,
                        std::vector<LayerInputMoments>& groups) {
  if (x.shape != x_hat.shape || !x.is_float() || !x_hat.is_float())
    throw std::logic_error("accumulate_moments: the float and quantized inputs differ in shape or type");
  if (!g.conv) {
    const int64_t d = g.features, rows = x.numel() / d;
    RealMatrix a(kChunkRows, d), b(kChunkRows, d);
    for (int64_t first = 0; first < rows; first += kChunkRows) {
      const int64_t count = std::min(kChunkRows, rows - first);
      for (int64_t r = 0; r < count; ++r)
        for (int64_t j = 0; j < d; ++j) {
          const size_t i = static_cast<size_t>((first + r) * d + j);
          a(r, j) = x.floats[i], b(r, j) = x_hat.floats[i];
        }
      add_chunk(a, b, count, groups.at(0));
    }
    return;
  }
  if (x.rank() != 4) throw std::logic_error("accumulate_moments: a convolution's input must be [N, C, H, W]");
  const int64_t n = x.shape[0], channels = x.shape[1], height = x.shape[2], width = x.shape[3];
  const int64_t per_group = channels / g.groups, d = g.columns(channels);
  const int64_t out_h = (height + g.pad_top + g.pad_bottom - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1,
                out_w = (width + g.pad_left + g.pad_right - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  const int64_t positions = out_h * out_w;
  RealMatrix a(kChunkRows, d), b(kChunkRows, d);
  for (int64_t image = 0; image < n; ++image)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      for (int64_t first = 0; first < positions; first += kChunkRows) {
        const int64_t count = std::min(kChunkRows, positions - first);
        for (int64_t r = 0; r < count; ++r) {
          const int64_t oy = (first + r) / out_w, ox = (first + r) % out_w;
          int64_t j = 0;
          for (int64_t c = 0; c < per_group; ++c) {
            const size_t plane = static_cast<size_t>(((image * channels) + grp * per_group + c) * height * width);
            for (int64_t ky = 0; ky < g.kernel_h; ++ky)
              for (int64_t kx = 0; kx < g.kernel_w; ++kx, ++j) {
                const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h,
                              ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
                const bool in = iy >= 0 && iy < height && ix >= 0 && ix < width;
                const size_t at = plane + static_cast<size_t>(iy * width + ix);
                a(r, j) = in ? x.floats[at] : 0.0, b(r, j) = in ? x_hat.floats[at] : 0.0;
              }
          }
        }
        add_chunk(a, b, count, groups.at(static_cast<size_t>(grp)));
      }
}

namespace {
// The first `node_count` nodes of g, with `output` its only output.
Graph prefix_of(const Graph& g, size_t node_count, const std::string& output) {
  Graph prefix;
  prefix.name = g.name, prefix.source = g.source, prefix.opset = g.opset;
  prefix.inputs = g.inputs;
  prefix.initializers = g.initializers;
  prefix.value_info = g.value_info;
  prefix.nodes.assign(g.nodes.begin(), g.nodes.begin() + static_cast<std::ptrdiff_t>(node_count));
  ValueInfo out;
  out.name = output;
  prefix.outputs = {out};
  return prefix;
}
}  // namespace

std::vector<LayerInputMoments> collect_layer_moments(const Graph& float_graph, const Graph& quantized_graph,
                                                     const GraphPrefix& in_float, const GraphPrefix& in_quantized,
                                                     const MacInputGeometry& g, const SampleSource& images,
                                                     const std::function<void(Tensor&)>& quantize_input,
                                                     const OutputHook& quantized_hook, const std::string& label) {
  const Graph float_prefix = prefix_of(float_graph, in_float.nodes, in_float.tensor),
              quantized_prefix = prefix_of(quantized_graph, in_quantized.nodes, in_quantized.tensor);
  const FloatExecutor float_run(float_prefix), quantized_run(quantized_prefix);
  const std::string& graph_input = float_graph.inputs.at(0).name;
  const int64_t count = images.count(), batch = rows_per_batch(images.shape(), images.dtype(), 100);
  std::vector<LayerInputMoments> moments;
  ProgressBar progress(label, count);
  for (int64_t first = 0; first < count; first += batch) {
    const int64_t b = std::min(batch, count - first);
    Tensor x = images.rows(first, b);
    Tensor x_hat = x;
    if (quantize_input && x_hat.is_float()) quantize_input(x_hat);
    const Tensor x_float = float_run.run({{graph_input, std::move(x)}}).at(in_float.tensor);
    const Tensor x_quantized =
        quantized_run.run({{graph_input, std::move(x_hat)}}, false, quantized_hook).at(in_quantized.tensor);
    if (!x_float.is_float())
      throw InputError(float_graph.source + ": the input '" + in_float.tensor + "' of a MAC layer is not float32");
    if (moments.empty()) {
      const int64_t channels = g.conv ? x_float.shape.at(1) : g.features;
      moments.assign(static_cast<size_t>(g.conv ? g.groups : 1), LayerInputMoments(g.columns(channels)));
    }
    accumulate_moments(x_float, x_quantized, g, moments);
    progress.update(first + b);
  }
  return moments;
}

}  // namespace chipref
