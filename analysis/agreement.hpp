#pragma once
// How closely an integer network's outputs follow its float model's on the same inputs, for any model,
// labelled or not (`chipref eval QDIR --against float`): SQNR, cosine similarity, the largest absolute
// error and where it is, top-1 agreement along the last axis, and the first element that differs by more
// than a tolerance.

#include <cstdint>
#include <optional>
#include <string>

#include "analysis/metrics.hpp"
#include "model/evaluate.hpp"

namespace chipref {

struct ElementAt {
  int64_t input = -1;  // which input of the data
  std::string index;   // the element's coordinates within that input's output, "[c,h,w]"
  double reference = 0, measured = 0;
};

struct OutputAgreement {
  std::string name;
  double tolerance = 0;
  int64_t elements = 0;
  SqnrSum sqnr;
  double dot = 0, measured_squares = 0;  // with sqnr.signal (Σ reference²), the cosine
  double max_abs_error = 0;
  ElementAt max_error_at;
  int64_t rows = 0, top1_agree = 0;           // rows along the last axis, and those whose first maximum agrees
  std::optional<ElementAt> first_difference;  // the first element with |error| > tolerance, in input order

  // Adds a batch: outputs [B, ...] of both, the batch's first input index.
  void add(const Tensor& reference, const Tensor& measured, int64_t first_input);
  double cosine() const;
  double top1_agreement() const { return rows ? static_cast<double>(top1_agree) / static_cast<double>(rows) : 0.0; }
};

// Runs both on `data` in batches of `batch_size`, `threads` batches side by side (both runners must be safe
// to call from several threads); the batches are added in input order, so every figure is the same for any
// `threads`. A progress bar on a terminal. InputError when the two outputs' shapes differ.
OutputAgreement compare_outputs(const BatchRunner& reference, const BatchRunner& measured, const SampleSource& data,
                                int64_t batch_size, double tolerance, const std::string& output_name,
                                int64_t threads = 1);

}  // namespace chipref
