#pragma once
// Calibrators: how a clipping range is chosen. The extension point for user methods: implement one of
// the two interfaces in its own .cpp and add one line to the registry in calibrators.cpp; YAML names it
// (`weights.calibrator`, `activations.calibrator`). The quantizer itself is the uniform affine one
// (quant/quantizer.hpp), with an integer path and a float (fake-quant) path that are tested to agree.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/int_graph.hpp"
#include "quant/quantizer.hpp"

namespace chipref {

// Counts of a tensor's values over [lo, hi] in equal bins, from a second calibration pass.
struct Histogram {
  double lo = 0, hi = 0;
  std::vector<uint64_t> counts;
  Histogram(double lo_, double hi_, size_t bins) : lo(lo_), hi(hi_), counts(bins, 0) {}
  void add(const float* data, size_t n);
  double bin_center(size_t i) const {
    return lo + (static_cast<double>(i) + 0.5) * (hi - lo) / static_cast<double>(counts.size());
  }
  uint64_t total() const;
};

// What an activation calibrator is told about the tensor's target: its integer format, and the share of
// values the `percentile` calibrator keeps (`activations.percentile`).
struct ActivationFormat {
  int bits;
  bool is_signed, symmetric;
  double percentile = 99.99;
};

class ActivationCalibrator {
 public:
  virtual ~ActivationCalibrator() = default;
  virtual bool needs_histogram() const = 0;
  // The clipping range for a tensor whose observed range is [lo, hi] (histogram when asked for).
  virtual std::pair<double, double> choose(double lo, double hi, const Histogram* histogram,
                                           const ActivationFormat& f) const = 0;
};

class WeightCalibrator {
 public:
  virtual ~WeightCalibrator() = default;
  // The symmetric clipping magnitude for one channel's (or the tensor's) weights and a bit width.
  virtual double clip(const float* w, int64_t n, int bits) const = 0;
};

// Registries: name → instance. Unknown names are an InputError listing the registered ones.
const std::map<std::string, std::shared_ptr<const ActivationCalibrator>>& activation_calibrators();
const std::map<std::string, std::shared_ptr<const WeightCalibrator>>& weight_calibrators();
const ActivationCalibrator& activation_calibrator(const std::string& name);
const WeightCalibrator& weight_calibrator(const std::string& name);

}  // namespace chipref
