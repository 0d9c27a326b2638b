#include "model/evaluate.hpp"

#include <algorithm>

#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "model/executor.hpp"

namespace chipref {

void count_top1(const Tensor& logits, int64_t rows, const std::vector<int64_t>& labels, int64_t first,
                const std::string& what, Top1Result& result) {
  if (logits.rank() != 2 || logits.shape[0] != rows || !logits.is_float())
    throw InputError(what + ": output is " + shape_to_string(logits.shape) + "; expected float logits [" +
                     std::to_string(rows) + ", classes]");
  const int64_t classes = logits.shape[1];
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = logits.floats.data() + i * classes;
    const int64_t predicted = std::max_element(row, row + classes) - row;  // first maximum on ties
    result.correct += predicted == labels.at(first + i);
    ++result.count;
  }
}

Top1Result evaluate_top1(const BatchRunner& run, const LabelledImages& data, int64_t batch_size,
                         const std::string& what) {
  const int64_t n = data.images.shape.at(0);
  if (batch_size < 1) throw InputError(what + ": batch size must be >= 1");
  Top1Result result;
  ProgressBar progress("eval", n);
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t b = std::min(batch_size, n - start);
    const Tensor logits = run(rows_of(data.images, start, b));
    count_top1(logits, b, data.labels, start, what, result);
    progress.update(start + b);
  }
  return result;
}

Top1Result evaluate_top1(const Graph& graph, const LabelledImages& data, int64_t batch_size) {
  if (graph.inputs.size() != 1)
    throw InputError(graph.source + ": expected one graph input (an image batch), found " +
                     std::to_string(graph.inputs.size()));
  const ValueInfo& in = graph.inputs[0];
  const Shape image_shape(data.images.shape.begin() + 1, data.images.shape.end());
  if (in.shape.size() != data.images.shape.size() ||
      !std::equal(image_shape.begin(), image_shape.end(), in.shape.begin() + 1,
                  [](int64_t a, int64_t b) { return b < 0 || a == b; }))
    throw InputError(graph.source + ": graph input '" + in.name + "' has shape " + shape_to_string(in.shape) +
                     "; the data's images are " + shape_to_string(image_shape));
  if (in.shape[0] > 0) {  // a static batch dimension
    batch_size = in.shape[0];
    if (data.images.shape.at(0) % batch_size)
      throw InputError(graph.source + ": the model's static batch of " + std::to_string(batch_size) +
                       " does not divide " + std::to_string(data.images.shape[0]) + " images");
  }
  const FloatExecutor exec(graph);
  const std::string output = graph.outputs.at(0).name;
  return evaluate_top1(
      [&](const Tensor& x) {
        return exec.run({{in.name, x}}).at(output);
      },
      data, std::min<int64_t>(batch_size, std::max<int64_t>(data.images.shape.at(0), 1)), graph.source);
}

void ClassificationResult::add(const Tensor& logits, int64_t rows, const std::vector<int64_t>& labels, int64_t first,
                               const std::string& what) {
  if (logits.rank() != 2 || logits.shape[0] != rows || !logits.is_float())
    throw InputError(what + ": output is " + shape_to_string(logits.shape) + "; expected float scores [" +
                     std::to_string(rows) + ", classes]");
  const int64_t classes = logits.shape[1];
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t label = labels.at(first + i);
    if (label >= classes)
      throw InputError(what + ": input " + std::to_string(first + i) + " has label " + std::to_string(label) +
                       ", but the model scores " + std::to_string(classes) + " classes");
    const float* row = logits.floats.data() + i * classes;
    int64_t rank = 0;  // how many classes rank before the label
    for (int64_t c = 0; c < classes; ++c) rank += row[c] > row[label] || (row[c] == row[label] && c < label);
    if (static_cast<int64_t>(per_class_count.size()) <= label) {
      per_class_count.resize(label + 1, 0);
      per_class_top1.resize(label + 1, 0);
    }
    ++count;
    ++per_class_count[label];
    top1 += rank == 0;
    per_class_top1[label] += rank == 0;
    top5 += rank < 5;
  }
}

ClassificationResult evaluate_classifier(const BatchRunner& run, const Dataset& data, int64_t batch_size,
                                         const std::string& what, int64_t threads) {
  if (!data.has_labels())
    throw InputError(data.name() +
                     ": these inputs have no labels, so accuracy cannot be measured (give labels, "
                     "or compare with the float model: eval --against float)");
  if (batch_size < 1) throw InputError(what + ": batch size must be >= 1");
  const int64_t n = data.count();
  ClassificationResult result;
  ProgressBar progress("eval", n);
  for_each_batch_in_order(
      n, batch_size, threads, [&](int64_t first, int64_t rows) { return run(data.rows(first, rows)); },
      [&](int64_t first, int64_t rows, const Tensor& scores) {
        result.add(scores, rows, data.labels(), first, what);
        progress.update(first + rows);
      });
  return result;
}

BatchRunner float_graph_runner(const Graph& graph, const SampleSource& data, int64_t& batch_size) {
  if (graph.inputs.size() != 1)
    throw InputError(graph.source + ": expected one graph input, found " + std::to_string(graph.inputs.size()));
  const ValueInfo& in = graph.inputs[0];
  const Shape shape = data.shape();
  const Shape sample(shape.begin() + 1, shape.end());
  if (in.shape.size() != shape.size() || !std::equal(sample.begin(), sample.end(), in.shape.begin() + 1,
                                                     [](int64_t a, int64_t b) { return b < 0 || a == b; }))
    throw InputError(graph.source + ": graph input '" + in.name + "' has shape " + shape_to_string(in.shape) +
                     "; the inputs of " + data.name() + " are " + shape_to_string(sample) +
                     " (is the preprocessing's size or layout the model's?)");
  if (in.shape[0] > 0) {  // a static batch dimension
    batch_size = in.shape[0];
    if (shape[0] % batch_size)
      throw InputError(graph.source + ": the model's static batch of " + std::to_string(batch_size) +
                       " does not divide " + std::to_string(shape[0]) + " inputs");
  }
  auto exec = std::make_shared<FloatExecutor>(graph);
  const std::string input = in.name, output = graph.outputs.at(0).name;
  return [exec, input, output](const Tensor& x) { return exec->run({{input, x}}).at(output); };
}

}  // namespace chipref
