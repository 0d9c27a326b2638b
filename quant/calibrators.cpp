#include "quant/calibrators.hpp"

#include <algorithm>
#include <cmath>

#include "numerics/rounding.hpp"
#include "quant/config_keys.hpp"
#include "quant/quantize.hpp"

namespace chipref {

void Histogram::add(const float* data, size_t n) {
  const double width = (hi - lo) / static_cast<double>(counts.size());
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) continue;  // an attention mask's −∞: never quantized (docs/numerics.md §9)
    const double b = width > 0 ? (data[i] - lo) / width : 0;
    counts[static_cast<size_t>(std::clamp(b, 0.0, static_cast<double>(counts.size() - 1)))]++;
  }
}

uint64_t Histogram::total() const {
  uint64_t t = 0;
  for (uint64_t c : counts) t += c;
  return t;
}

namespace {

// ---- activation calibrators ----

class MinMax final : public ActivationCalibrator {
 public:
  bool needs_histogram() const override { return false; }
  std::pair<double, double> choose(double lo, double hi, const Histogram*, const ActivationFormat&) const override {
    return {lo, hi};
  }
};

// The central p % of the observed values ((100 − p) / 2 % cut from each tail; p = 99.99 by default).
class Percentile final : public ActivationCalibrator {
 public:
  bool needs_histogram() const override { return true; }
  std::pair<double, double> choose(double lo, double hi, const Histogram* h, const ActivationFormat& f) const override {
    const double cut = static_cast<double>(h->total()) * (100.0 - f.percentile) / 200.0;
    double seen = 0, new_lo = lo, new_hi = hi;
    for (size_t i = 0; i < h->counts.size(); ++i) {
      seen += static_cast<double>(h->counts[i]);
      if (seen > cut) {
        new_lo = std::max(lo, h->bin_center(i) - 0.5 * (h->hi - h->lo) / static_cast<double>(h->counts.size()));
        break;
      }
    }
    seen = 0;
    for (size_t i = h->counts.size(); i-- > 0;) {
      seen += static_cast<double>(h->counts[i]);
      if (seen > cut) {
        new_hi = std::min(hi, h->bin_center(i) + 0.5 * (h->hi - h->lo) / static_cast<double>(h->counts.size()));
        break;
      }
    }
    return {new_lo, new_hi};
  }
};

// The clipping range [f·lo, f·hi], f = k/128, that minimises the quantization MSE over the histogram.
class MseActivation final : public ActivationCalibrator {
 public:
  bool needs_histogram() const override { return true; }
  std::pair<double, double> choose(double lo, double hi, const Histogram* h, const ActivationFormat& f) const override {
    double best_error = INFINITY;
    std::pair<double, double> best = {lo, hi};
    for (int k = 128; k >= 1; --k) {
      const double frac = k / 128.0;
      const UniformQuantizer q{activation_params(lo * frac, hi * frac, f.bits, f.is_signed, f.symmetric)};
      double error = 0;
      for (size_t i = 0; i < h->counts.size(); ++i)
        if (h->counts[i]) {
          const double x = h->bin_center(i), d = x - q.fake_quantize(x);
          error += static_cast<double>(h->counts[i]) * d * d;
        }
      if (error < best_error) best_error = error, best = {lo * frac, hi * frac};
    }
    return best;
  }
};

// ---- weight calibrators (symmetric clipping magnitude) ----

double max_abs(const float* w, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(w[i])));
  return m;
}

class WeightMinMax final : public WeightCalibrator {
 public:
  double clip(const float* w, int64_t n, int) const override { return max_abs(w, n); }
};

// The clip f·max|w|, f = k/100, minimising Σ (w − fake_quant(w))² over the weights themselves.
class WeightMse final : public WeightCalibrator {
 public:
  double clip(const float* w, int64_t n, int bits) const override {
    const double m = max_abs(w, n);
    if (m == 0) return 0;
    const int64_t qmax = (int64_t{1} << (bits - 1)) - 1;
    double best_error = INFINITY, best = m;
    for (int k = 100; k >= 1; --k) {
      const double c = m * k / 100.0, s = c / static_cast<double>(qmax);
      double error = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double q = std::clamp(round_to_integer(w[i] / s, RoundingMode::half_even), -static_cast<double>(qmax),
                                    static_cast<double>(qmax));
        error += (w[i] - q * s) * (w[i] - q * s);
      }
      if (error < best_error) best_error = error, best = c;
    }
    return best;
  }
};

// SAWB (Choi et al., "Bridging the accuracy gap for 2-bit quantized neural networks", 2018): the clip
// c1·√E[w²] − c2·E[|w|] with coefficients fitted per bit width; published for 2, 4 and 5 bits.
class WeightSawb final : public WeightCalibrator {
 public:
  double clip(const float* w, int64_t n, int bits) const override {
    double c1 = 0, c2 = 0;
    switch (bits) {
      case 2:
        c1 = 3.212, c2 = 2.178;
        break;
      case 4:
        c1 = 12.68, c2 = 12.80;
        break;
      case 5:
        c1 = 17.74, c2 = 18.64;
        break;
      default:
        throw InputError("the sawb calibrator has coefficients for 2, 4 and 5-bit weights only, not " +
                         std::to_string(bits) + "; choose minmax or mse for this layer");
    }
    double sum_abs = 0, sum_sq = 0;
    for (int64_t i = 0; i < n; ++i)
      sum_abs += std::fabs(static_cast<double>(w[i])), sum_sq += static_cast<double>(w[i]) * w[i];
    const double clip =
        std::fabs(c1 * std::sqrt(sum_sq / static_cast<double>(n)) - c2 * sum_abs / static_cast<double>(n));
    return std::min(clip, max_abs(w, n));  // never beyond the largest weight
  }
};

template <class Map>
const typename Map::mapped_type::element_type& find_named(const Map& registry, const std::string& name,
                                                          const char* what) {
  const auto it = registry.find(name);
  if (it != registry.end()) return *it->second;
  std::string names;
  for (const auto& entry : registry) names += (names.empty() ? "" : ", ") + entry.first;
  throw InputError(std::string("unknown ") + what + " '" + name + "'; registered: " + names);
}

}  // namespace

const std::map<std::string, std::shared_ptr<const ActivationCalibrator>>& activation_calibrators() {
  static const std::map<std::string, std::shared_ptr<const ActivationCalibrator>> registry = {
      {"minmax", std::make_shared<MinMax>()},
      {"percentile", std::make_shared<Percentile>()},
      {"mse", std::make_shared<MseActivation>()}};
  return registry;
}

const std::map<std::string, std::shared_ptr<const WeightCalibrator>>& weight_calibrators() {
  static const std::map<std::string, std::shared_ptr<const WeightCalibrator>> registry = {
      {"minmax", std::make_shared<WeightMinMax>()},
      {"mse", std::make_shared<WeightMse>()},
      {"sawb", std::make_shared<WeightSawb>()}};
  return registry;
}

const ActivationCalibrator& activation_calibrator(const std::string& name) {
  return find_named(activation_calibrators(), name, "activation calibrator");
}
const WeightCalibrator& weight_calibrator(const std::string& name) {
  return find_named(weight_calibrators(), name, "weight calibrator");
}

std::vector<ConfigKey> calibrator_config_keys() {
  using C = LayerQuantConfig;
  auto names = [](const auto& registry) {
    return [&registry] {
      std::vector<std::string> n;
      for (const auto& entry : registry()) n.push_back(entry.first);
      return n;
    };
  };
  const ConfigKey percentile = number_key("activations", "percentile", 50.0, 100.0, &C::activation_percentile,
                                          "the share of values the `percentile` calibrator keeps");
  return {
      choice_key(
          "weights", "calibrator", names(weight_calibrators),
          [](C& c, const std::string& v) { c.weight_calibrator = v; }, [](const C& c) { return c.weight_calibrator; },
          "the clip c per channel (or tensor), scale = c / (2^(b−1)−1): `minmax` c = max\\|w\\|; `mse` the c = "
          "k/100·max\\|w\\| minimising "
          "Σ(w − fake_quant(w))²; `sawb` c = c1·√E[w²] − c2·E\\|w\\| (Choi et al. 2018; 2, 4, 5 bits only)"),
      choice_key(
          "activations", "calibrator", names(activation_calibrators),
          [](C& c, const std::string& v) { c.activation_calibrator = v; },
          [](const C& c) { return c.activation_calibrator; },
          "`minmax` the observed [min, max]; `percentile` the central `activations.percentile` % ((100 − p)/2 % cut "
          "per tail, 2048-bin "
          "histogram); `mse` the range f·[min, max], f = k/128, minimising the histogram's quantization MSE. Every "
          "range is then widened to "
          "include 0"),
      percentile,
  };
}

}  // namespace chipref
