// chipref's golden model as SystemVerilog DPI-C functions (dpi/chipref_dpi.svh, docs/cosim.md "DPI-C
// golden model"): a testbench's scoreboard calls chipref's own kernels — the same code every engine runs
// — and reads golden vectors through chipref's own reader, instead of parsing files itself.
// A C function cannot throw into a simulator: each catches chipref's errors, keeps the message for
// chipref_last_error() (the package's wrappers stop the simulation with it) and returns 0.
#include <svdpi.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "kernels/lut.hpp"
#include "kernels/mac_spec.hpp"
#include "kernels/requant.hpp"
#include "numerics/rounding.hpp"
#include "vectors/manifest.hpp"

using namespace chipref;

namespace {

std::string last_error;

template <class F>
auto guarded(const char* function, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    last_error = std::string(function) + ": " + e.what();
    std::fprintf(stderr, "chipref_dpi: %s\n", last_error.c_str());
    return decltype(f())();
  }
}

// An open array's elements (any declared bounds), as int32.
std::vector<int32_t> ints_of(const svOpenArrayHandle h) {
  std::vector<int32_t> v;
  for (int i = svLow(h, 1); i <= svHigh(h, 1); ++i) v.push_back(*static_cast<const int32_t*>(svGetArrElemPtr1(h, i)));
  return v;
}

void store(const svOpenArrayHandle h, const std::vector<int32_t>& v) {
  if (svSize(h, 1) != static_cast<int>(v.size()))
    throw InputError("the output array has " + std::to_string(svSize(h, 1)) + " elements; expected " +
                     std::to_string(v.size()));
  for (int i = 0; i < static_cast<int>(v.size()); ++i)
    *static_cast<int32_t*>(svGetArrElemPtr1(h, svLow(h, 1) + i)) = v[static_cast<size_t>(i)];
}

kernels::MulShift mulshift_params(int multiplier, int shift, int multiplier_bits, const char* flavour,
                                  const char* rounding, int zero_point, int out_bits, svBit out_signed, int clamp_lo,
                                  int clamp_hi) {
  const IntFormat out = IntFormat::make(out_bits, out_signed != 0);
  const RequantFlavour f = parse_requant_flavour(flavour);
  const FixedMultiplier fixed{multiplier, shift, multiplier_bits};
  if (clamp_lo > clamp_hi || clamp_lo < out.min() || clamp_hi > out.max())
    throw InputError("clamp [" + std::to_string(clamp_lo) + ", " + std::to_string(clamp_hi) +
                     "] must lie inside the output format's range");
  return kernels::MulShift{Requantizer::make(f, parse_rounding_mode(rounding), out, zero_point),
                           {requant_channel_of(fixed, f)},
                           clamp_lo,
                           clamp_hi};
}

// Golden tensors read once per (directory, layer, role, input).
std::vector<int64_t>& golden(const std::string& dir, const std::string& layer, const std::string& role, int input) {
  static std::map<std::string, vectors::Manifest> manifests;
  static std::map<std::tuple<std::string, std::string, std::string, int>, std::vector<int64_t>> tensors;
  const auto key = std::make_tuple(dir, layer, role, input);
  if (const auto it = tensors.find(key); it != tensors.end()) return it->second;
  auto m = manifests.find(dir);
  if (m == manifests.end()) m = manifests.emplace(dir, vectors::read_manifest(dir)).first;
  std::string roles;
  for (const vectors::Entry& e : m->second.entries) {
    if (e.op != layer) continue;
    if (e.role == role && (e.input == input || e.input == -1)) return tensors[key] = vectors::read_vector(dir, e);
    if (roles.find(e.role) == std::string::npos) roles += (roles.empty() ? "" : ", ") + e.role;
  }
  throw InputError(dir + ": no " + role + " of layer '" + layer + "' for input " + std::to_string(input) +
                   (roles.empty() ? " (no such layer in the manifest)" : " (its roles: " + roles + ")"));
}

}  // namespace

// The DPI-C entry points: the only symbols the library exports (CMake hides everything else).
#define CHIPREF_DPI extern "C" __attribute__((visibility("default")))

CHIPREF_DPI const char* chipref_last_error() { return last_error.c_str(); }

CHIPREF_DPI int chipref_mulshift(int acc, int multiplier, int shift, int multiplier_bits, const char* flavour,
                                 const char* rounding, int zero_point, int out_bits, svBit out_signed, int clamp_lo,
                                 int clamp_hi) {
  return guarded("chipref_mulshift", [&] {
    const kernels::MulShift p = mulshift_params(multiplier, shift, multiplier_bits, flavour, rounding, zero_point,
                                                out_bits, out_signed, clamp_lo, clamp_hi);
    int32_t y = 0;
    kernels::mulshift_row(p, 0, &acc, 1, &y);
    return static_cast<int>(y);
  });
}

CHIPREF_DPI void chipref_mulshift_vector(const svOpenArrayHandle acc, const svOpenArrayHandle code, int multiplier,
                                         int shift, int multiplier_bits, const char* flavour, const char* rounding,
                                         int zero_point, int out_bits, svBit out_signed, int clamp_lo, int clamp_hi) {
  guarded("chipref_mulshift_vector", [&] {
    const kernels::MulShift p = mulshift_params(multiplier, shift, multiplier_bits, flavour, rounding, zero_point,
                                                out_bits, out_signed, clamp_lo, clamp_hi);
    const std::vector<int32_t> x = ints_of(acc);
    std::vector<int32_t> y(x.size());
    kernels::mulshift_row(p, 0, x.data(), static_cast<int64_t>(x.size()), y.data());
    store(code, y);
    return 0;
  });
}

CHIPREF_DPI void chipref_mac_tile(int rows, int cols, int depth, const svOpenArrayHandle a, const svOpenArrayHandle b,
                                  int a_zero_point, int b_zero_point, const svOpenArrayHandle bias,
                                  const svOpenArrayHandle c) {
  guarded("chipref_mac_tile", [&] {
    const std::vector<int32_t> av = ints_of(a), bv = ints_of(b), biasv = ints_of(bias);
    if (rows < 1 || cols < 1 || depth < 1 || av.size() != static_cast<size_t>(rows) * depth ||
        bv.size() != static_cast<size_t>(depth) * cols || biasv.size() != static_cast<size_t>(cols))
      throw InputError("a must hold rows x depth, b depth x cols and bias cols elements (rows " + std::to_string(rows) +
                       ", cols " + std::to_string(cols) + ", depth " + std::to_string(depth) + "; got " +
                       std::to_string(av.size()) + ", " + std::to_string(bv.size()) + ", " +
                       std::to_string(biasv.size()) + ")");
    const AccumulatorSpec acc = AccumulatorSpec::make(32, OverflowPolicy::wrap);
    OverflowCounter overflow;
    std::vector<int32_t> column(static_cast<size_t>(depth)), out(static_cast<size_t>(rows) * cols);
    for (int j = 0; j < cols; ++j) {
      for (int k = 0; k < depth; ++k)
        column[static_cast<size_t>(k)] = bv[static_cast<size_t>(k) * cols + j] - b_zero_point;
      for (int i = 0; i < rows; ++i)
        out[static_cast<size_t>(i) * cols + j] = static_cast<int32_t>(
            kernels::spec::linear_mac_output(&av[static_cast<size_t>(i) * depth], a_zero_point, column.data(), depth,
                                             &biasv[static_cast<size_t>(j)], acc, overflow));
    }
    store(c, out);
    return 0;
  });
}

CHIPREF_DPI int chipref_lut(int x, const svOpenArrayHandle table, int in_min, int shift, svBit interpolate,
                            int out_bits, svBit out_signed) {
  return guarded("chipref_lut", [&] {
    const kernels::Lut p{ints_of(table), in_min, shift, interpolate != 0, IntFormat::make(out_bits, out_signed != 0)};
    int32_t y = 0;
    kernels::lut(p, &x, 1, &y);
    return static_cast<int>(y);
  });
}

CHIPREF_DPI int chipref_expected_count(const char* vectors_dir, const char* layer, const char* role, int input) {
  return guarded("chipref_expected_count",
                 [&] { return static_cast<int>(golden(vectors_dir, layer, role, input).size()); });
}

CHIPREF_DPI int chipref_expected(const char* vectors_dir, const char* layer, const char* role, int input, int element) {
  return guarded("chipref_expected", [&] {
    const std::vector<int64_t>& t = golden(vectors_dir, layer, role, input);
    if (element < 0 || static_cast<size_t>(element) >= t.size())
      throw InputError(std::string(role) + " of layer '" + layer + "' has " + std::to_string(t.size()) +
                       " elements; element " + std::to_string(element) + " asked for");
    return static_cast<int>(t[static_cast<size_t>(element)]);
  });
}
