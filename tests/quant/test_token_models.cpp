// Models whose input is token ids (issue 25: the BERT-style encoder): the integer input boundary, the
// embedding lookup, the padding mask's comparison, expand and cast, and the additive −∞ mask the softmax
// takes. Oracles: the table's codes recomputed here from the float table and the output's quantization
// (round half to even, as ONNX QuantizeLinear); the exact softmax over the unmasked scores, from the
// scores' codes, within docs/numerics.md §9's bound; masked probabilities exactly 0.

#include <catch2/catch.hpp>
#include <cmath>

#include "model/onnx_import.hpp"
#include "quant/quantize.hpp"
#include "sim/direct_engine.hpp"
#include "support/onnx_builder.hpp"

using namespace chipref;
using namespace chipref::testing;

namespace {
const QuantConfig& a8() {
  static const QuantConfig config =
      parse_quant_config("defaults:\n  activations: {bits: 8, signed: true}\n", "a8.yaml");
  return config;
}

IntGraph quantize_tokens(bool expand_mask) {
  const Graph graph = import_onnx_bytes(token_attention_model(expand_mask, -INFINITY), "tokens.onnx");
  const Tensor calibration = padded_token_ids(50, 1);
  return quantize(QuantizeInputs{&graph, &a8(), &calibration, "tokens.onnx", {}});
}
}  // namespace

TEST_CASE("Tokens/ids → embedding → scores with a padding mask → softmax: masked keys 0, the rest within §9",
          "[quant][lowering][tokens]") {
  for (const bool expand_mask : {false, true}) {
    INFO((expand_mask ? "mask expanded in the model" : "mask broadcast into the scores"));
    const IntGraph q = quantize_tokens(expand_mask);
    CHECK(q.input_dtype == DType::int64);
    std::map<std::string, int> kinds;
    for (const Node& op : q.ops) kinds[op.op_type]++;
    CHECK(kinds["embedding"] == 1);
    CHECK(kinds["compare"] == 2);  // Equal(ids, 0), and the Cast to bool (≠ 0)
    CHECK(kinds["expand"] == 1);   // in the model, or widening the mask to the scores for the softmax
    CHECK(kinds["softmax"] == 1);

    const Graph graph = import_onnx_bytes(token_attention_model(expand_mask, -INFINITY), "tokens.onnx");
    const Tensor& table = graph.initializers.at("table");
    const Tensor ids = padded_token_ids(70, 2);
    RunTrace trace;
    DirectEngine(q).run(ids, &trace);

    // The embedding: each row the table's codes at the output's quantization.
    const QuantParams& eq = q.values.at("e").quant;
    const CodeTensor& e = trace.values.at("e");
    REQUIRE(e.shape == Shape{70, 6, 4});
    int64_t wrong_codes = 0;
    for (int64_t t = 0; t < 70 * 6; ++t)
      for (int64_t k = 0; k < 4; ++k) {
        const double v =
            std::nearbyint(table.floats[ids.ints[t] * 4 + k] / eq.scale) + static_cast<double>(eq.zero_point);
        const int64_t code = static_cast<int64_t>(std::clamp(v, -128.0, 127.0));
        wrong_codes += e.data[t * 4 + k] != code;
      }
    CHECK(wrong_codes == 0);

    // The softmax: over each query's unmasked keys only.
    const CodeTensor &s = trace.values.at("s"), &y = trace.values.at("y");
    const double s_x = q.values.at("s").quant.scale, bound = 0.5 / 256 + 7.0 / std::ldexp(1.0, 16);
    int64_t masked_nonzero = 0, over = 0, fully_masked_rows = 0, nonzero_in_fully_masked = 0;
    for (int64_t b = 0; b < 70; ++b)
      for (int64_t r = 0; r < 6; ++r) {
        const int64_t row = (b * 6 + r) * 6;
        double denominator = 0;
        for (int64_t c = 0; c < 6; ++c)
          if (ids.ints[b * 6 + c] != 0) denominator += std::exp(s_x * s.data[row + c]);
        if (denominator == 0) {
          ++fully_masked_rows;
          for (int64_t c = 0; c < 6; ++c) nonzero_in_fully_masked += y.data[row + c] != 0;
          continue;
        }
        for (int64_t c = 0; c < 6; ++c) {
          if (ids.ints[b * 6 + c] == 0) {
            masked_nonzero += y.data[row + c] != 0;
            continue;
          }
          const double exact = std::exp(s_x * s.data[row + c]) / denominator;
          if (exact * 256 > 255.5) continue;  // not representable in uint8 at 1/256: saturates
          over += std::fabs(y.data[row + c] / 256.0 - exact) > bound;
        }
      }
    CHECK(fully_masked_rows == 10 * 6);  // the rows of all padding (docs/numerics.md §9: float gives NaN)
    CHECK(nonzero_in_fully_masked == 0);
    CHECK(masked_nonzero == 0);
    CHECK(over == 0);
  }
}

TEST_CASE("Tokens/negative ids count from the table's end and ids outside it or float inputs are errors",
          "[quant][lowering][tokens]") {
  const IntGraph q = quantize_tokens(false);
  const DirectEngine engine(q);
  Tensor ids = padded_token_ids(1, 3);
  ids.ints = {-1, 9, 3, 0, 0, 0};
  RunTrace trace;
  engine.run(ids, &trace);
  const CodeTensor& e = trace.values.at("e");
  for (int64_t k = 0; k < 4; ++k) CHECK(e.data[k] == e.data[4 + k]);  // −1 is row 9

  ids.ints = {1, 2, 3, 10, 0, 0};
  CHECK_THROWS_WITH(engine.run(ids), Catch::Contains("/embed") && Catch::Contains("id 10 at [0,3]") &&
                                         Catch::Contains("outside the table's 10 rows (valid: -10 to 9)"));
  ids.ints = {1, 2, 3, int64_t{1} << 40, 0, 0};
  CHECK_THROWS_WITH(engine.run(ids),
                    Catch::Contains("input element 3 [0,3] is 1099511627776, outside the input's int32"));
  CHECK_THROWS_WITH(engine.run(Tensor::zeros(DType::float32, {1, 6})),
                    Catch::Contains("input is float32[1,6]; the IntGraph expects int64[N,6]"));
}

TEST_CASE("Tokens/a Where that is no −inf/0 attention mask and float calibration inputs for ids are refused",
          "[quant][lowering][tokens]") {
  const Graph graph = import_onnx_bytes(token_attention_model(false, 5.0f), "tokens_where5.onnx");
  const Tensor calibration = padded_token_ids(20, 1);
  CHECK_THROWS_WITH(
      quantize(QuantizeInputs{&graph, &a8(), &calibration, "tokens_where5.onnx", {}}),
      Catch::Contains("node '/additive_mask' (Where)") && Catch::Contains("only an additive attention mask"));
  const Tensor floats = Tensor::zeros(DType::float32, {20, 6});
  const Graph tokens = import_onnx_bytes(token_attention_model(false, -INFINITY), "tokens.onnx");
  CHECK_THROWS_WITH(quantize(QuantizeInputs{&tokens, &a8(), &floats, "tokens.onnx", {}}),
                    Catch::Contains("graph input 'ids' is int64[1,6]; the calibration inputs are float32[20,6] "
                                    "(expected integers)"));
}
