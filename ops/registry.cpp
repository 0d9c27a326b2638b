#include <map>
#include <set>
#include <stdexcept>

#include "ops/op_def.hpp"

namespace chipref {

namespace ops {

// Written by ops/CMakeLists.txt from its op list: every op file's definition, in list order.
std::vector<const OpDef*> listed_op_defs();

const std::vector<const OpDef*>& all_op_defs() {
  static const std::vector<const OpDef*> defs = listed_op_defs();
  return defs;
}

const OpDef* find_op_def(const std::string& op_type) {
  static const std::map<std::string, const OpDef*> by_name = [] {
    std::map<std::string, const OpDef*> m;
    for (const OpDef* d : all_op_defs())
      if (!m.emplace(d->name, d).second) throw std::logic_error("two integer op definitions are named " + d->name);
    return m;
  }();
  const auto it = by_name.find(op_type);
  return it == by_name.end() ? nullptr : it->second;
}

const OpDef& op_def(const Node& op) {
  if (const OpDef* d = find_op_def(op.op_type)) return *d;
  std::string names;
  for (const OpDef* d : all_op_defs()) names += (names.empty() ? "" : ", ") + d->name;
  throw InputError(op.describe() + " is not an integer op (the integer ops: " + names + ")");
}

MacMatrixView mac_matrix_view(const Node& op, const Shape& input, const Shape& second, const Shape& accumulators) {
  const OpDef& def = op_def(op);
  if (!def.is_mac()) throw InputError(op.describe() + " is not a MAC op");
  return def.matrix_view(op, input, second, accumulators);
}

int64_t mac_count(const Node& op, const Shape& input, const Shape& second, const Shape& accumulators) {
  return op_def(op).is_mac() ? mac_matrix_view(op, input, second, accumulators).products() : 0;
}

}  // namespace ops

void check_integer_only(const IntGraph& g) {
  std::vector<std::string> offences;
  std::set<std::string> defined = {g.input_name};
  for (const auto& [name, t] : g.constants) {
    if (t.is_float()) offences.push_back("constant '" + name + "' is float32");
    defined.insert(name);
  }
  bool seen_input_boundary = false, ends_in_output_boundary = false;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Node& op = g.ops[i];
    const bool first = i == 0, last = i + 1 == g.ops.size();
    const ops::OpDef* def = ops::find_op_def(op.op_type);
    if (!def) {
      offences.push_back(op.describe() + " is not an integer op");
    } else if (op.inputs.size() < def->least_inputs || op.inputs.size() > def->most_inputs || op.outputs.size() != 1) {
      const size_t least = def->least_inputs, most = def->most_inputs;
      const std::string expected = least == most ? std::to_string(least)
                                   : most == ops::OpDef::kAnyCount
                                       ? std::to_string(least) + " or more"
                                       : std::to_string(least) + " or " + std::to_string(most);
      offences.push_back(op.describe() + " has " + std::to_string(op.inputs.size()) + " inputs and " +
                         std::to_string(op.outputs.size()) + " outputs; expected " + expected + " inputs and 1 output");
    }
    const ops::OpRole role = def ? def->role : ops::OpRole::compute;
    const bool boundary = role == ops::OpRole::input_boundary || role == ops::OpRole::output_boundary;
    if (role == ops::OpRole::input_boundary) {
      if (!first || seen_input_boundary) offences.push_back(op.describe() + " is not the single first op");
      seen_input_boundary = true;
    } else if (role == ops::OpRole::output_boundary && !last) {
      offences.push_back(op.describe() + " is not the last op");
    }
    if (last) ends_in_output_boundary = role == ops::OpRole::output_boundary;
    for (const auto& in : op.inputs)
      if (!defined.count(in)) offences.push_back(op.describe() + " reads '" + in + "', which nothing defines");
    for (const auto& out : op.outputs) {
      defined.insert(out);
      if (role != ops::OpRole::output_boundary && !g.values.count(out))
        offences.push_back(op.describe() + " writes '" + out + "', which is not an integer value");
    }
    for (const auto& [key, value] : op.attributes)
      if ((std::holds_alternative<float>(value) || std::holds_alternative<std::vector<float>>(value)) && !boundary)
        offences.push_back(op.describe() + " has the float attribute '" + key + "'");
  }
  if (!seen_input_boundary) offences.push_back("no quantize op at the input");
  if (!ends_in_output_boundary) offences.push_back("no dequantize op at the output");
  if (!offences.empty()) {
    std::string message = "IntGraph is not integer-only: " + std::to_string(offences.size()) + " problem(s): ";
    for (size_t i = 0; i < offences.size(); ++i) message += (i ? "; " : "") + offences[i];
    throw InputError(message);
  }
}

IntGraph load_int_graph(const std::string& dir) {
  IntGraph g = read_int_graph(dir);
  try {
    check_integer_only(g);
  } catch (const InputError& e) {
    throw InputError(int_graph_json_path(dir) + ": " + e.what());
  }
  return g;
}

PreparedOp prepare_int_op(const IntGraph& graph, const Node& op, const MacWeightSource& weights) {
  const ops::OpDef& def = ops::op_def(op);
  if (!def.prepare)
    throw InputError(op.describe() + ": a " + def.name +
                     " op is run by the engine around the integer ops, not prepared as one");
  PreparedOp p = def.prepare(graph, op, weights);
  p.node = &op;
  // an output buffer reused from another op must not carry that op's range into this one's; an input in bytes
  // reaches only an op that reads them (the engine's choice: a slip would read an empty int32 tensor)
  const auto check_inputs = [&op, reads_bytes = p.reads_bytes](const std::vector<const CodeTensor*>& in) {
    for (const CodeTensor* x : in)
      if (x->in_bytes && !reads_bytes) throw std::logic_error(op.describe() + ": given an input stored in bytes");
  };
  if (p.run)
    p.run = [run = std::move(p.run), check_inputs](const std::vector<const CodeTensor*>& in, CodeTensor& y,
                                                   OverflowCounter& o) {
      check_inputs(in);
      y.known_range.reset();
      run(in, y, o);
    };
  if (p.run_bytes_out)
    p.run_bytes_out = [run = std::move(p.run_bytes_out), check_inputs](const std::vector<const CodeTensor*>& in,
                                                                       CodeTensor& y, OverflowCounter& o) {
      check_inputs(in);
      y.known_range.reset();
      run(in, y, o);
    };
  if (p.run_requantized)
    p.run_requantized = [run = std::move(p.run_requantized), check_inputs](
                            const std::vector<const CodeTensor*>& in, CodeTensor& y, OverflowCounter& o,
                            const kernels::MulShift& stage, bool bytes_out) {
      check_inputs(in);
      y.known_range.reset();
      run(in, y, o, stage, bytes_out);
    };
  return p;
}

}  // namespace chipref
