// N:M pruning and the sparse IntGraph (quant/sparsity.hpp, docs/numerics.md §13):
// - pruning keeps, in every group of every row, the N largest magnitudes (every kept |w| >= every
//   pruned |w| of its group), lower positions first on ties, for float and integer weights and for
//   reduction lengths M does not divide; every produced group satisfies the N:M rule;
// - config errors name the file, line and what was expected;
// - the shipped CNN with 2:4 on its pointwise and linear layers: integer-only, the compressed values and
//   indices (and no dense copy) in the IntGraph files, save → load identical, the decoding and the
//   skip-zero engines give the same outputs, every layer within 1 LSB of its fake-quant twin.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "analysis/dual_path.hpp"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "ops/sparse_decode.hpp"
#include "quant/config.hpp"
#include "quant/quantize.hpp"
#include "quant/sparsity.hpp"
#include "sim/direct_engine.hpp"

#include <unistd.h>

using namespace chipref;

TEST_CASE("Sparsity/pruning keeps the N largest magnitudes of every group", "[quant][sparsity]") {
  std::mt19937_64 rng(53);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const char* text : {"1:2", "1:4", "2:4", "2:8", "4:8", "3:5"})
    for (int64_t k : {8, 9, 48, 147}) {
      const kernels::NmPattern p = parse_nm_pattern(text);
      Tensor w = Tensor::zeros(DType::float32, {6, k});
      for (float& v : w.floats) v = normal(rng);
      const Tensor original = w;
      const int64_t zeroed = prune_nm(w, p);
      INFO(text << ", k " << k);
      CHECK(is_nm_sparse(w, p));
      int64_t expected_zeroed = 0, violations = 0;
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t start = 0; start < k; start += p.m) {
          const int64_t end = std::min<int64_t>(start + p.m, k);
          expected_zeroed += std::max<int64_t>(0, end - start - p.n);
          double min_kept = INFINITY, max_pruned = 0;
          for (int64_t i = start; i < end; ++i) {
            const float before = original.floats[r * k + i], after = w.floats[r * k + i];
            if (after != 0) {
              violations += after != before;  // a kept weight keeps its value
              min_kept = std::min<double>(min_kept, std::fabs(before));
            } else {
              max_pruned = std::max<double>(max_pruned, std::fabs(before));
            }
          }
          violations += max_pruned > min_kept;
        }
      CHECK(violations == 0);
      CHECK(zeroed == expected_zeroed);
      CHECK(!is_nm_sparse(original, p));
    }
  // Ties go to the lower position; integer codes are pruned by |code|.
  Tensor codes = Tensor::of_ints(DType::int8, {2, 4}, {3, -3, 3, 1, 0, 0, 0, 0});
  prune_nm(codes, parse_nm_pattern("2:4"));
  CHECK(codes.ints == std::vector<int64_t>{3, -3, 0, 0, 0, 0, 0, 0});
  CHECK_THROWS_WITH(parse_nm_pattern("5:4"), Catch::Contains("'5:4' is not N:M with 1 <= N <= M"));
  CHECK_THROWS_WITH(parse_nm_pattern("2-4"), Catch::Contains("'2-4' is not N:M"));
  CHECK_THROWS_WITH(parse_quant_config("layers:\n  - match: \"/pw/*\"\n    sparsity: {pattern: \"4:2\"}\n", "bad.yaml"),
                    Catch::Contains("bad.yaml:3:25") && Catch::Contains("'4:2' is not N:M"));
  CHECK_THROWS_WITH(parse_quant_config("defaults:\n  sparsity: {pattern: \"2:4\", stage: later}\n", "bad.yaml"),
                    Catch::Contains("bad.yaml:2") && Catch::Contains("expected one of: float, codes"));
}

TEST_CASE("Sparsity/the CNN with 2:4 pointwise and linear layers: compressed in the file, two engines agree",
          "[quant][sparsity]") {
  const char* cnn = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(cnn);
  const Graph graph = import_onnx(cnn);
  const Tensor calibration = load_fashion_mnist("train", 300, norm).images;
  const LabelledImages test = load_fashion_mnist("t10k", 200, norm);
  for (const char* stage : {"float", "codes"}) {
    INFO("pruned at stage " << stage);
    const QuantConfig config =
        parse_quant_config(std::string("defaults:\n  weights: {bits: 8}\n  activations: {bits: 8}\nlayers:\n"
                                       "  - match_regex: \"/(pw|head)/.*\"\n    sparsity: {pattern: \"2:4\", stage: ") +
                               stage + "}\n",
                           "sparse.yaml");
    const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", norm});
    CHECK_NOTHROW(check_integer_only(q));
    int decoders = 0;
    for (const Node& op : q.ops) {
      if (op.op_type != "sparse_decode") continue;
      ++decoders;
      const std::string weights = op.outputs.at(0);
      CHECK(q.constants.count(weights) == 0);  // no dense copy
      CHECK(q.constants.count(weights + ".values") == 1);
      CHECK(q.constants.count(weights + ".indices") == 1);
      const Tensor dense = mac_weight_codes(q, weights);
      CHECK(is_nm_sparse(dense, kernels::NmPattern{2, 4}));
    }
    CHECK(decoders == 2);
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("chipref_test_sparsity_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    save_int_graph(q, dir.string());
    const IntGraph loaded = load_int_graph(dir.string());
    for (const auto& [name, t] : q.constants) CHECK(loaded.constants.at(name).ints == t.ints);
    std::filesystem::remove_all(dir);
    // A corrupted file: an index word whose first index repeats in its group → the engine names the
    // decoder op, the row and the group.
    IntGraph corrupted = loaded;
    Tensor& words = corrupted.constants.at("/pw/pw.0/Conv.weight.indices");
    words.ints[0] = (words.ints[0] & ~int64_t{0xF}) | 0x5;  // group 0 of row 0: indices 1, 1
    CHECK_THROWS_WITH(DirectEngine(corrupted),
                      Catch::Contains("node '/pw/pw.0/Conv.weight.decode' (sparse_decode)") &&
                          Catch::Contains("row 0, group 0: indices must ascend strictly; 1 repeats"));
    const Tensor a = DirectEngine(loaded, SparseKernel::decode).run(test.images);
    const Tensor b = DirectEngine(loaded, SparseKernel::skip_zero).run(test.images);
    CHECK(a.floats == b.floats);
    QuantizeInputs dense_inputs{&graph, &config, &calibration, "fmnist_cnn.onnx", norm};
    dense_inputs.ignore_sparsity = true;
    const IntGraph dense = quantize(dense_inputs);
    CHECK(
        std::none_of(dense.ops.begin(), dense.ops.end(), [](const Node& op) { return op.op_type == "sparse_decode"; }));
    const DualPathReport r = compare_paths(graph, q, test, 100, &dense);
    for (const auto& l : r.layers) {
      INFO(l.value << ": max " << l.max_abs_lsb << " LSB");
      CHECK(l.max_abs_lsb <= 1);
    }
    // Sizes by the format's arithmetic: the pointwise conv is 32 rows × 8 groups × 2 kept × (8 + 2) bits.
    REQUIRE(r.sparse_layers.size() == 2);
    CHECK(r.sparse_layers[0].layer == "/pw/pw.0/Conv.mac");
    CHECK(r.sparse_layers[0].dense_bits == 32 * 32 * 8);
    CHECK(r.sparse_layers[0].compressed_bits == 32 * 8 * 2 * (8 + 2));
    CHECK(r.sparse_layers[0].density() <= 0.5);
    CHECK(r.sparse_layers[1].compressed_bits == 10 * 12 * 2 * (8 + 2));  // the head: 48 inputs, 12 groups
    REQUIRE(r.dense_integer.has_value());
    CHECK(r.dense_integer->count == 200);
    CHECK(report_markdown(r).find("## N:M sparse layers") != std::string::npos);
  }
}
