// The DirectEngine's observed runs (an OpObserver per op, chunked) against its traced run of the whole
// batch at once, the path with no chunking: every op's output seen chunk by chunk, put back together,
// must be the traced tensor, and the overflow counts must add up to the traced ones.
#include <catch2/catch.hpp>

#include <map>

#include "kernels/simd.hpp"
#include "sim/direct_engine.hpp"
#include "support/shipped_examples.hpp"

using namespace chipref;
using chipref::testing::quantize_example;
using chipref::testing::shipped_config;

namespace {

struct Observed {
  std::map<std::string, CodeTensor> joined;         // each op's output, chunks appended in order
  std::map<std::string, uint64_t> overflows;        // per op
  std::vector<std::pair<int64_t, int64_t>> chunks;  // (first image, images) as seen by the first op
};

void require_observed_equals_traced(const IntGraph& q, int64_t images,
                                    const std::vector<std::pair<int64_t, int64_t>>& expected_chunks) {
  const DirectEngine engine(q);
  const Tensor x = load_fashion_mnist("t10k", images, q.preprocess).images;
  RunTrace trace;
  const Tensor y_traced = engine.run(x, &trace);
  Observed seen;
  const Tensor y_observed = engine.run(
      x, [&](const Node& op, const CodeTensor& y, const OverflowCounter& overflow, int64_t first, int64_t count) {
        if (&op == &q.ops.front()) seen.chunks.emplace_back(first, count);
        CodeTensor& joined = seen.joined[op.outputs.at(0)];
        if (first == 0) {
          joined = y;
        } else {
          REQUIRE(joined.shape.at(0) == first);  // chunks come in image order, none missed
          joined.data.insert(joined.data.end(), y.data.begin(), y.data.end());
          joined.shape[0] += y.shape.at(0);
        }
        seen.overflows[op.name] += overflow.events;
      });
  CHECK(seen.chunks == expected_chunks);
  CHECK(y_observed.floats == y_traced.floats);
  testing::check_same_tensors(trace.values, seen.joined);
  for (const auto& [name, o] : trace.overflows) {
    INFO(name);
    CHECK(seen.overflows.at(name) == o.events);
  }
}

}  // namespace

TEST_CASE("DirectEngine/an observed run is the traced run, chunk by chunk", "[sim]") {
  SECTION("CNN w8a8: 20 images in chunks of 8, 8 and 4") {
    require_observed_equals_traced(quantize_example("fmnist_cnn.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml"), 20,
                                   {{0, 8}, {8, 8}, {16, 4}});
  }
  SECTION("CNN with 14-bit saturating accumulators: the overflow events of each chunk add up") {
    std::string config = shipped_config("w8a8.yaml");
    const std::string wide = "accumulator: {bits: 32, overflow: wrap}";
    const size_t at = config.find(wide);
    REQUIRE(at != std::string::npos);
    config.replace(at, wide.size(), "accumulator: {bits: 14, overflow: saturate}");
    const IntGraph q = quantize_example("fmnist_cnn.onnx", config, "w8a8 with 14-bit accumulators");
    RunTrace trace;
    DirectEngine(q).run(load_fashion_mnist("t10k", 20, q.preprocess).images, &trace);
    uint64_t events = 0;
    for (const auto& [name, o] : trace.overflows) events += o.events;
    REQUIRE(events > 0);  // otherwise this section would prove nothing about the counts
    require_observed_equals_traced(q, 20, {{0, 8}, {8, 8}, {16, 4}});
  }
  SECTION("CNN 2:4 sparse") {
    require_observed_equals_traced(
        quantize_example("fmnist_cnn.onnx", shipped_config("w8a8-2of4.yaml"), "w8a8-2of4.yaml"), 17,
        {{0, 8}, {8, 8}, {16, 1}});
  }
  SECTION("ViT: an op mixes the images of a batch, so the batch is one chunk") {
    require_observed_equals_traced(quantize_example("fmnist_vit.onnx", shipped_config("w8a8.yaml"), "w8a8.yaml"), 12,
                                   {{0, 12}});
  }
}

TEST_CASE("DirectEngine/a conv_mac run with its mulshift gives the separate ops' integers, every flavour and level",
          "[sim]") {
  // An untraced run requantizes each conv_mac's accumulators as they leave the kernel; a traced run runs
  // the two ops one after the other. Every intermediate code feeds the logits, so any difference in a
  // fused layer shows in the outputs. The 14-bit saturating accumulators put channels on the spec path.
  const std::string base = shipped_config("w8a8.yaml");
  auto with = [&](std::string config, const std::string& from, const std::string& to) {
    const size_t at = config.find(from);
    REQUIRE(at != std::string::npos);
    return config.replace(at, from.size(), to);
  };
  const std::string flavour = "requant: {flavour: single, rounding: half_even, multiplier_bits: 31}";
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"single half_even", base},
      {"single half_away 16-bit multipliers",
       with(base, flavour, "requant: {flavour: single, rounding: half_away, multiplier_bits: 16}")},
      {"gemmlowp", with(base, flavour, "requant: {flavour: gemmlowp, rounding: half_even, multiplier_bits: 31}")},
      {"float", with(base, flavour, "requant: {flavour: float, rounding: half_even, multiplier_bits: 31}")},
      {"14-bit saturating accumulators",
       with(base, "accumulator: {bits: 32, overflow: wrap}", "accumulator: {bits: 14, overflow: saturate}")},
      {"per-tensor weights", with(base, "granularity: per_channel", "granularity: per_tensor")},
      {"9-bit codes out of the stem",
       with(base, "layers:\n", "layers:\n  - match: \"/stem/*\"\n    activations: {bits: 9}\n")}};
  const kernels::SimdLevel saved = kernels::simd_level();
  for (const auto& [name, config] : configs) {
    const IntGraph q = quantize_example("fmnist_cnn.onnx", config, name);
    const Tensor x = load_fashion_mnist("t10k", 20, q.preprocess).images;
    for (kernels::SimdLevel level : kernels::kSimdLevels) {
      if (!kernels::cpu_supports(level)) continue;
      kernels::set_simd_level(level);
      const DirectEngine engine(q);
      INFO(name << ", level " << kernels::to_string(level));
      CHECK(engine.requantized_macs() >= 2);  // both convolutions of the CNN
      // Codes in bytes: the stem's (read by `down` only; 9-bit codes span too many values), `down`'s (read by
      // the depthwise conv and the residual add), the depthwise conv's (read by `pw`) and `pw`'s (read by the
      // add). The add's output feeds a Pad, conv3's the pool: those stay int32.
      CHECK(engine.steps_writing_bytes() == (name == "9-bit codes out of the stem" ? 3 : 4));
      RunTrace trace;
      const Tensor separate = engine.run(x, &trace);
      CHECK(engine.run(x).floats == separate.floats);
      if (name == "9-bit codes out of the stem") {  // codes a byte could not hold: the case means something
        const std::vector<int32_t>& stem = trace.values.at("/stem/stem.2/Relu_output_0").data;
        CHECK(*std::max_element(stem.begin(), stem.end()) - *std::min_element(stem.begin(), stem.end()) > 255);
      }
    }
  }
  kernels::set_simd_level(saved);
}

TEST_CASE("DirectEngine/the range an op declares for its output holds every code it computed, fused or not", "[sim]") {
  // A MAC trusts its input's known range (CodeTensor::known_range) instead of scanning the codes; a range
  // narrower than the codes would make its byte GEMM wrap. Each op that declares one (the input quantize, a
  // mulshift, an add, a conv_mac with its mulshift, a reshape or max pool passing it on) must hold to it.
  struct Case {
    const char* model;
    const char* config;
    const char* flavour;  // replaces w8a8.yaml's requant flavour when set
  };
  for (const Case c : {Case{"fmnist_cnn.onnx", "w8a8.yaml", nullptr}, Case{"fmnist_cnn.onnx", "w4a8.yaml", nullptr},
                       Case{"fmnist_cnn.onnx", "mixed.yaml", nullptr}, Case{"fmnist_cnn.onnx", "w8a8.yaml", "gemmlowp"},
                       Case{"fmnist_cnn.onnx", "w8a8.yaml", "float"}, Case{"fmnist_vit.onnx", "w8a8.yaml", nullptr}}) {
    INFO(c.model << " with " << c.config << (c.flavour ? std::string(", flavour ") + c.flavour : ""));
    std::string config = shipped_config(c.config);
    if (c.flavour) {
      const std::string single = "flavour: single";
      const size_t at = config.find(single);
      REQUIRE(at != std::string::npos);
      config.replace(at, single.size(), std::string("flavour: ") + c.flavour);
    }
    const IntGraph q = quantize_example(c.model, config, std::string(c.config) + (c.flavour ? c.flavour : ""));
    const DirectEngine engine(q);
    const Tensor x = load_fashion_mnist("t10k", 12, q.preprocess).images;
    int64_t ranged = 0, outside = 0;
    auto check = [&](const CodeTensor& y) {
      if (!y.known_range) return;
      ++ranged;
      for (int32_t v : y.data) outside += v < y.known_range->lo || v > y.known_range->hi;
    };
    engine.run(x, [&](const Node&, const CodeTensor& y, const OverflowCounter&, int64_t, int64_t) { check(y); });
    // the fused step the untraced runs take: each conv_mac with the mulshift after it, on the traced input
    RunTrace trace;
    engine.run(x, &trace);
    int64_t fused = 0;
    for (size_t i = 0; i + 1 < q.ops.size(); ++i) {
      if (q.ops[i].op_type != "conv_mac" || q.ops[i + 1].op_type != "mulshift" ||
          q.ops[i + 1].inputs.at(0) != q.ops[i].outputs.at(0))
        continue;
      const PreparedOp mac = prepare_int_op(q, q.ops[i]), requant = prepare_int_op(q, q.ops[i + 1]);
      if (!mac.run_requantized || !requant.fusable_stage) continue;
      CodeTensor y;
      y.known_range = kernels::CodeRange{0, 0};  // a reused buffer's stale range: the step must replace it
      OverflowCounter overflow;
      mac.run_requantized({&trace.values.at(q.ops[i].inputs.at(0))}, y, overflow, *requant.fusable_stage, false);
      REQUIRE(y.known_range);
      check(y);
      CHECK(y.data == trace.values.at(q.ops[i + 1].outputs.at(0)).data);
      ++fused;
    }
    CHECK(fused >= (std::string(c.model) == "fmnist_cnn.onnx" ? 4 : 1));
    CHECK(ranged >= 5);
    CHECK(outside == 0);
  }
}
