#include "analysis/agreement.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/parallel.hpp"
#include "core/progress.hpp"

namespace chipref {

void OutputAgreement::add(const Tensor& reference, const Tensor& measured, int64_t first_input) {
  if (reference.shape != measured.shape || !reference.is_float() || !measured.is_float())
    throw InputError(name + ": the float model's output is " + shape_to_string(reference.shape) +
                     " and the integer network's " + shape_to_string(measured.shape) + "; they must be the same");
  const int64_t batch = reference.shape.empty() ? 1 : reference.shape[0];
  const int64_t per_input = batch ? element_count(reference.shape) / batch : 0;
  const Shape one(reference.shape.begin() + (reference.shape.empty() ? 0 : 1), reference.shape.end());
  for (int64_t i = 0; i < batch * per_input; ++i) {
    const double r = reference.floats[i], m = measured.floats[i], error = std::fabs(r - m);
    sqnr.add(r, m);
    dot += r * m;
    measured_squares += m * m;
    const int64_t input = first_input + i / std::max<int64_t>(per_input, 1);
    if (max_error_at.input < 0 || error > max_abs_error) {  // the first of equal errors
      max_abs_error = error;
      max_error_at = {input, index_to_string(one, i % per_input), r, m};
    }
    if (!first_difference && error > tolerance)
      first_difference = ElementAt{input, index_to_string(one, i % per_input), r, m};
    ++elements;
  }
  const int64_t last = reference.shape.empty() ? 1 : reference.shape.back();
  if (last > 1)
    for (int64_t row = 0; row < batch * per_input / last; ++row) {
      const float* r = reference.floats.data() + row * last;
      const float* m = measured.floats.data() + row * last;
      top1_agree += (std::max_element(r, r + last) - r) == (std::max_element(m, m + last) - m);
      ++rows;
    }
}

double OutputAgreement::cosine() const {
  if (sqnr.signal == 0 && measured_squares == 0) return 1.0;  // both all zero: the same
  if (sqnr.signal == 0 || measured_squares == 0) return 0.0;
  return dot / std::sqrt(sqnr.signal * measured_squares);
}

OutputAgreement compare_outputs(const BatchRunner& reference, const BatchRunner& measured, const SampleSource& data,
                                int64_t batch_size, double tolerance, const std::string& output_name, int64_t threads) {
  OutputAgreement a;
  a.name = output_name;
  a.tolerance = tolerance;
  const int64_t n = data.count();
  ProgressBar progress("eval", n);
  for_each_batch_in_order(
      n, batch_size, threads,
      [&](int64_t first, int64_t rows) {
        const Tensor x = data.rows(first, rows);
        return std::make_pair(reference(x), measured(x));
      },
      [&](int64_t first, int64_t rows, const std::pair<Tensor, Tensor>& outputs) {
        a.add(outputs.first, outputs.second, first);
        progress.update(first + rows);
      });
  return a;
}

}  // namespace chipref
