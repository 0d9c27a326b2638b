// Exact integers: token ids and what a model computes from them. An embedding lookup (Gather of a constant
// table by run-time ids), comparisons with a constant (a padding mask), casts that keep the values, and
// the additive attention mask Where(mask, −∞, 0) that only a Softmax reads (docs/numerics.md §9).
#include <algorithm>
#include <cmath>

#include "quant/lowering/lowering.hpp"
#include "quant/quantize.hpp"

namespace chipref {

namespace {

void require_exact_integer(Lowering& cx, const Node& n, const std::string& tensor, const char* role) {
  cx.require_quantized(tensor, n);
  if (!cx.exact_integers.count(tensor))
    cx.cannot(n, std::string("its ") + role + " '" + tensor +
                     "' is a quantized real, not exact integers (token ids, or what the model computes from them); "
                     "the nearest supported form: integers from the graph's integer input");
}

// Gather(table, ids): the table's rows at the ids. The table's codes are quantized at its own range, which
// holds every row a run can pick (a calibration sees only some ids).
void lower_embedding(Lowering& cx, const Node& n) {
  const Tensor& table = cx.initializer(n, 0);
  if (n.get_int("axis", 0) != 0 && n.get_int("axis", 0) != -table.rank())
    cx.cannot(n, "an embedding lookup gathers rows (axis 0) of its table");
  if (table.rank() < 1 || table.numel() == 0)
    cx.cannot(n, "its table " + shape_to_string(table.shape) + " has no rows");
  require_exact_integer(cx, n, n.inputs.at(1), "indices");
  if (cx.prequantized) cx.cannot(n, "an embedding lookup is lowered for calibrated models only");
  const LayerQuantConfig c = cx.config.for_node(n.name);
  const auto [lo, hi] = std::minmax_element(table.floats.begin(), table.floats.end());
  const QuantParams q = activation_params(*lo, *hi, c.activation_bits, c.activation_signed, c.activation_symmetric);
  const std::string codes = n.name + ".table";
  cx.add_constant(codes, cx.codes_of(table, q));
  cx.add_value(n.outputs.at(0), q);
  Node e = cx.op("embedding", n.name, {n.inputs[1], codes}, {n.outputs[0]});
  e.attributes["source"] = n.name, e.attributes["source_input"] = int64_t{0};  // the float table (dual path)
  cx.int_graph.ops.push_back(std::move(e));
}

// A comparison of exact integers with a constant integer: 1 where it holds, else 0.
void lower_comparison(Lowering& cx, const Node& n) {
  static const std::map<std::string, std::pair<std::string, std::string>> relations = {
      // op type → (relation as written, relation with the operands swapped)
      {"Equal", {"equal", "equal"}},
      {"Less", {"less", "greater"}},
      {"Greater", {"greater", "less"}},
      {"LessOrEqual", {"less_or_equal", "greater_or_equal"}},
      {"GreaterOrEqual", {"greater_or_equal", "less_or_equal"}},
  };
  const bool constant_first = cx.graph.initializers.count(n.inputs.at(0)) != 0;
  const size_t x = constant_first ? 1 : 0;
  const auto c = cx.graph.initializers.find(n.inputs.at(1 - x));
  if (c == cx.graph.initializers.end() || c->second.is_float() || c->second.numel() != 1)
    cx.cannot(n, "only a comparison with one constant integer is lowered");
  require_exact_integer(cx, n, n.inputs[x], "operand");
  const auto& [as_written, swapped] = relations.at(n.op_type);
  const std::string y = n.outputs.at(0);
  cx.int_graph.values[y] = IntValue{cx.shape_of(y), QuantParams{IntFormat::make(8, false), 0, 1.0}};
  cx.exact_integers.insert(y);
  Node cmp = cx.op("compare", n.name, {n.inputs[x]}, {y});
  cmp.attributes["relation"] = constant_first ? swapped : as_written;
  cmp.attributes["value"] = c->second.ints.at(0);
  cx.int_graph.ops.push_back(std::move(cmp));
}

// Casts of exact integers that keep every value: to a type that holds the codes' format (the codes are
// read as they are), to bool (x ≠ 0), or to float (the same integers as reals, scale 1).
void lower_cast(Lowering& cx, const Node& n) {
  const std::string x = n.inputs.at(0), y = n.outputs.at(0);
  require_exact_integer(cx, n, x, "input");
  const int64_t to = n.get_int("to");
  const QuantParams q = cx.int_graph.values.at(x).quant;
  auto alias = [&](bool exact) {
    cx.int_graph.values[y] = IntValue{cx.shape_of(y), q};
    if (exact) cx.exact_integers.insert(y);
    const auto a = cx.aliases.find(x);
    cx.aliases[y] = a == cx.aliases.end() ? x : a->second;
  };
  // ONNX TensorProto data types: FLOAT 1, UINT8 2, INT8 3, UINT16 4, INT16 5, INT32 6, INT64 7, BOOL 9.
  static const std::map<int64_t, IntFormat> holds = {
      {2, IntFormat::make(8, false)}, {3, IntFormat::make(8, true)},  {4, IntFormat::make(16, false)},
      {5, IntFormat::make(16, true)}, {6, IntFormat::make(32, true)}, {7, IntFormat::make(32, true)},
  };
  if (to == 1) return alias(false);
  if (to == 9) {
    cx.int_graph.values[y] = IntValue{cx.shape_of(y), QuantParams{IntFormat::make(8, false), 0, 1.0}};
    cx.exact_integers.insert(y);
    Node cmp = cx.op("compare", n.name, {x}, {y});
    cmp.attributes["relation"] = std::string("not_equal");
    cmp.attributes["value"] = int64_t{0};
    cx.int_graph.ops.push_back(std::move(cmp));
    return;
  }
  const auto h = holds.find(to);
  if (h == holds.end() || h->second.min() > q.format.min() || h->second.max() < q.format.max())
    cx.cannot(n, "it casts " + q.format.name() + " codes to ONNX type " + std::to_string(to) +
                     ", which may not hold them; casts to float, bool and integer types that hold every code are "
                     "lowered");
  alias(true);
}

bool all_equal(const Tensor& t, double v) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t.value(i) != v) return false;
  return t.numel() > 0;
}

// Where(mask, −∞, 0) or Where(mask, 0, −∞): an additive attention mask. It has no codes of its own: the
// Add that applies it to scores, and the Softmax after, take the mask's codes (docs/numerics.md §9).
void lower_where(Lowering& cx, const Node& n) {
  const auto a = cx.graph.initializers.find(n.inputs.at(1)), b = cx.graph.initializers.find(n.inputs.at(2));
  const double inf = std::numeric_limits<double>::infinity();
  const bool constants = a != cx.graph.initializers.end() && b != cx.graph.initializers.end() && a->second.is_float() &&
                         b->second.is_float();
  const bool masks_true = constants && all_equal(a->second, -inf) && all_equal(b->second, 0.0);
  const bool masks_false = constants && all_equal(a->second, 0.0) && all_equal(b->second, -inf);
  if (!masks_true && !masks_false)
    cx.cannot(n,
              "only an additive attention mask, Where(mask, −inf, 0) or Where(mask, 0, −inf) read by a Softmax "
              "after an Add, is lowered (the nearest supported form)");
  require_exact_integer(cx, n, n.inputs[0], "condition");
  for (const size_t k : {size_t{1}, size_t{2}}) {
    const Shape& cs = cx.graph.initializers.at(n.inputs[k]).shape;
    const Shape* ms = cx.graph.known_shape(n.inputs[0]);
    if (ms && element_count(cs) > 1 && cs != *ms)
      cx.cannot(n, "its branch " + shape_to_string(cs) + " would broadcast its condition " + shape_to_string(*ms) +
                       "; a mask's branches are scalars or of its shape");
  }
  cx.additive_masks[n.outputs.at(0)] = Lowering::AdditiveMask{n.inputs[0], masks_true ? 1 : 0, ""};
}

}  // namespace

std::vector<LoweringRule> integers_lowering_rules() {
  return {
      {"", "Equal", lower_comparison},
      {"", "Less", lower_comparison},
      {"", "Greater", lower_comparison},
      {"", "LessOrEqual", lower_comparison},
      {"", "GreaterOrEqual", lower_comparison},
      {"", "Cast", lower_cast},
      {"", "Where", lower_where},
  };
}

void lower_embedding_lookup(Lowering& cx, const Node& n) { lower_embedding(cx, n); }

void apply_additive_mask(Lowering& cx, const Node& n, const std::string& mask, const std::string& scores) {
  const Lowering::AdditiveMask m = cx.additive_masks.at(mask);
  if (!m.scores.empty()) cx.cannot(n, "it adds two attention masks; one additive mask per Softmax is lowered");
  cx.require_quantized(scores, n);
  const Shape* ss = cx.graph.known_shape(scores);
  const Shape* os = cx.graph.known_shape(n.outputs.at(0));
  if (!ss || !os || *ss != *os)
    cx.cannot(n, "its mask must broadcast into the scores it masks (the output has the scores' shape)");
  cx.additive_masks[n.outputs[0]] = Lowering::AdditiveMask{m.codes, m.masked_code, scores};
}

}  // namespace chipref
