#include "rtl_bridge/cosim.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "model/int_graph.hpp"
#include "vectors/vectors.hpp"

namespace chipref::cosim {

Shape coordinates_of(const Shape& shape, int64_t index) {
  Shape c(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t extent = std::max<int64_t>(shape[d], 1);
    c[d] = index % extent;
    index /= extent;
  }
  return c;
}

std::string format_report(const CosimResult& r) {
  if (r.hung)
    return fmt::format("HUNG: {} on layer {}: the watchdog ended the run: {}; {} values compared before, {} mismatching\n", r.block, r.layer, r.hang,
                       r.compared, r.mismatches);
  const double rate = r.seconds > 0 ? static_cast<double>(r.cycles) / r.seconds : 0;
  if (r.passed())
    return fmt::format("PASS: {} on layer {}: {} values of '{}' compared over {} input(s), all equal ({} cycles, {:.3g} cycles/s)\n", r.block, r.layer,
                       r.compared, r.tensor, r.inputs, r.cycles, rate);
  const FirstMismatch& f = r.first;
  std::string coords;
  for (size_t d = 0; d < f.coordinates.size(); ++d) coords += (d ? ", " : "") + std::to_string(f.coordinates[d]);
  return fmt::format(
      "MISMATCH: {} on layer {}: {} of {} values differ\n"
      "  first: tensor '{}', input {}, element {} at [{}], cycle {}: got {} (0x{:08x}), expected {} (0x{:08x})\n",
      r.block, r.layer, r.mismatches, r.compared, r.tensor, f.input, f.index, coords, f.cycle, f.got, static_cast<uint32_t>(f.got), f.expected,
      static_cast<uint32_t>(f.expected));
}

namespace {

const vectors::Entry& entry_for(const vectors::Manifest& m, const std::string& dir, const Node& op, const std::string& tensor, int64_t input) {
  for (const vectors::Entry& e : m.entries)
    if (e.op == op.name && e.tensor == tensor && e.input == input) return e;
  throw InputError(dir + ": no vectors of '" + tensor + "' for " + op.describe() + (input >= 0 ? ", input " + std::to_string(input) : "") +
                   " (write them with `chipref vectors` covering this layer, accumulators included)");
}

std::vector<int32_t> as_int32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

}  // namespace

std::vector<MulShiftStimulus> mulshift_stimulus(const std::string& dir, const std::string& layer) {
  const vectors::Manifest m = vectors::read_manifest(dir);
  const IntGraph g = load_int_graph(m.model);
  const auto it = std::find_if(g.ops.begin(), g.ops.end(), [&](const Node& op) { return op.name == layer; });
  if (it == g.ops.end() || it->op_type != "mulshift") {
    std::string names;
    for (const Node& op : g.ops)
      if (op.op_type == "mulshift") names += (names.empty() ? "" : ", ") + op.name;
    throw InputError(dir + ": " + (it == g.ops.end() ? "no op '" + layer + "'" : it->describe() + " is not a mulshift op") +
                     " in the IntGraph of the vectors; its mulshift layers: " + names);
  }
  const Node& op = *it;
  const std::string flavour = op.get_string("flavour"), rounding = op.get_string("rounding");
  if (flavour != "single" || (rounding != "half_even" && rounding != "half_up"))
    throw InputError(op.describe() + ": the reference MulShift unit implements the single flavour with half_even or half_up rounding; this layer uses " +
                     flavour + " with " + rounding);
  const IntValue& out = g.values.at(op.outputs.at(0));
  const std::vector<int64_t> multipliers = vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(1), -1));
  const std::vector<int64_t> shifts = vectors::read_vector(dir, entry_for(m, dir, op, op.inputs.at(2), -1));
  const int64_t axis = op.get_int("axis", 1);
  std::vector<MulShiftStimulus> all;
  for (int64_t input = 0; input < m.inputs.count; ++input) {
    MulShiftStimulus s;
    s.layer = op.name, s.tensor = op.outputs[0], s.input = input;
    const vectors::Entry& acc = entry_for(m, dir, op, op.inputs[0], input);
    s.shape = acc.shape;
    s.accumulators = as_int32(vectors::read_vector(dir, acc));
    s.expected = as_int32(vectors::read_vector(dir, entry_for(m, dir, op, op.outputs[0], input)));
    int64_t inner = 1, channels = static_cast<int64_t>(s.shape.size()) > axis ? s.shape[axis] : 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < s.shape.size(); ++d) inner *= s.shape[d];
    if (multipliers.size() != 1 && static_cast<int64_t>(multipliers.size()) != channels)
      throw InputError(op.describe() + ": " + std::to_string(multipliers.size()) + " multipliers for " + std::to_string(channels) + " channels");
    for (size_t i = 0; i < s.accumulators.size(); ++i) {
      const size_t c = multipliers.size() == 1 ? 0 : static_cast<size_t>(static_cast<int64_t>(i) / inner % channels);
      s.multipliers.push_back(static_cast<int32_t>(multipliers[c]));
      s.shifts.push_back(static_cast<int8_t>(shifts[c]));
    }
    s.multiplier_bits = static_cast<int>(op.get_int("multiplier_bits"));
    s.round_half_up = rounding == "half_up";
    s.zero_point = static_cast<int32_t>(out.quant.zero_point);
    s.out_min = static_cast<int32_t>(out.quant.format.min()), s.out_max = static_cast<int32_t>(out.quant.format.max());
    s.clamp_lo = static_cast<int32_t>(op.get_int("clamp_lo")), s.clamp_hi = static_cast<int32_t>(op.get_int("clamp_hi"));
    all.push_back(std::move(s));
  }
  return all;
}

}  // namespace chipref::cosim
