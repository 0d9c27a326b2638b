#pragma once
// nlohmann::json reads a float as an integer with a plain cast (undefined behaviour outside the target
// type's range, a silent truncation inside it: 8.5 bits would read as 8) and wraps an unsigned number past
// int64. The integers of the JSON files chipref reads back (graph.json, manifest.json) go through these
// instead: an integer of the JSON type that fits T, or an InputError saying where.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace chipref {

template <class T = int64_t, class Json>
T json_integer(const Json& v, const std::string& where) {
  constexpr int64_t lo = std::numeric_limits<T>::min();
  constexpr uint64_t hi = static_cast<uint64_t>(std::numeric_limits<T>::max());
  bool fits = false;
  if (v.is_number_unsigned())
    fits = v.template get<uint64_t>() <= hi;
  else if (v.is_number_integer())
    fits = v.template get<int64_t>() >= lo &&
           (v.template get<int64_t>() < 0 || static_cast<uint64_t>(v.template get<int64_t>()) <= hi);
  if (!fits) {
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    throw InputError(where + ": " + text + " is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "]");
  }
  return static_cast<T>(v.template get<int64_t>());
}

template <class Json>
std::vector<int64_t> json_integers(const Json& v, const std::string& where) {
  if (!v.is_array()) throw InputError(where + ": expected a list of integers");
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (const auto& x : v) out.push_back(json_integer(x, where));
  return out;
}

// A finite number (JSON has no NaN or infinity: nlohmann writes them as null, and a hand edit may put
// anything there), or an InputError saying where.
template <class Json>
double json_finite(const Json& v, const std::string& where) {
  if (!v.is_number()) {
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    throw InputError(where + ": " + text + " is not a finite number");
  }
  return v.template get<double>();
}

}  // namespace chipref
