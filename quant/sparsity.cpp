#include "quant/sparsity.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "quant/config_keys.hpp"

namespace chipref {

kernels::NmPattern parse_nm_pattern(const std::string& text) {
  const size_t colon = text.find(':');
  kernels::NmPattern p{0, 0};
  try {
    size_t used_n = 0, used_m = 0;
    if (colon != std::string::npos) {
      p.n = std::stoi(text.substr(0, colon), &used_n);
      p.m = std::stoi(text.substr(colon + 1), &used_m);
    }
    if (colon == std::string::npos || used_n != colon || used_m != text.size() - colon - 1) p = {0, 0};
  } catch (const std::exception&) {
    p = {0, 0};
  }
  if (!p.valid())
    throw InputError("sparsity pattern '" + text + "' is not N:M with 1 <= N <= M and 2 <= M <= 256 (e.g. \"2:4\")");
  return p;
}

std::string to_string(kernels::NmPattern p) { return std::to_string(p.n) + ":" + std::to_string(p.m); }

namespace {
double magnitude(const Tensor& t, int64_t i) {
  return t.is_float() ? std::fabs(static_cast<double>(t.floats[i])) : std::fabs(static_cast<double>(t.ints[i]));
}
bool nonzero(const Tensor& t, int64_t i) { return t.is_float() ? t.floats[i] != 0.0f : t.ints[i] != 0; }
}  // namespace

int64_t prune_nm(Tensor& w, kernels::NmPattern p) {
  if (!p.valid() || w.rank() < 1 || w.shape[0] < 1)
    throw InputError("prune_nm: an N:M pattern and weights [out, ...] are required");
  const int64_t rows = w.shape[0], k = w.numel() / rows;
  int64_t zeroed = 0;
  std::vector<int64_t> order;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t start = 0; start < k; start += p.m) {
      const int64_t size = std::min<int64_t>(p.m, k - start), base = r * k + start;
      order.resize(static_cast<size_t>(size));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return magnitude(w, base + a) > magnitude(w, base + b); });
      for (int64_t j = p.n; j < size; ++j) {
        const int64_t i = base + order[j];
        zeroed += nonzero(w, i);
        if (w.is_float())
          w.floats[i] = 0.0f;
        else
          w.ints[i] = 0;
      }
    }
  return zeroed;
}

bool is_nm_sparse(const Tensor& w, kernels::NmPattern p) {
  const int64_t rows = w.shape.at(0), k = w.numel() / rows;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t start = 0; start < k; start += p.m) {
      int64_t kept = 0;
      for (int64_t i = start; i < std::min<int64_t>(start + p.m, k); ++i) kept += nonzero(w, r * k + i);
      if (kept > p.n) return false;
    }
  return true;
}

std::vector<ConfigKey> sparsity_config_keys() {
  using C = LayerQuantConfig;
  ConfigKey pattern{"sparsity",
                    "pattern",
                    ConfigKey::Kind::text,
                    0,
                    0,
                    {},
                    "`\"N:M\"` (1 ≤ N ≤ M, 2 ≤ M ≤ 256) or `dense`",
                    "prune a Conv / Gemm / MatMul's weights to N:M along the reduction axis and store them compressed, "
                    "docs/numerics.md §13 (quote "
                    "it: `\"2:4\"`)",
                    {},
                    {},
                    "3:8"};
  pattern.set = [](C& c, const ConfigValue& v) {
    c.sparsity = v.text == "dense" ? kernels::NmPattern{0, 0} : parse_nm_pattern(v.text);
  };
  pattern.show = [](const C& c) { return c.sparsity.m == 0 ? std::string("dense") : to_string(c.sparsity); };
  return {
      pattern,
      choice_key(
          "sparsity", "stage", fixed_choices({"float", "codes"}),
          [](C& c, const std::string& v) { c.sparsity_on_codes = v == "codes"; },
          [](const C& c) { return std::string(c.sparsity_on_codes ? "codes" : "float"); },
          "prune the float weights before calibration, or the integer codes after quantization (the only choice for "
          "pre-quantized weights)"),
  };
}

}  // namespace chipref
