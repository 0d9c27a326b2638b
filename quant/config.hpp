#pragma once
// The quantization config: global defaults plus per-layer overrides selected by node-name glob or regex.
// Parsed from YAML (yaml-cpp stays inside config.cpp); every key is documented in docs/config.md.
// Validation happens here, at the boundary: a bad key, type or value is an InputError naming
// file:line:column and the valid choices.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/block_dot.hpp"
#include "kernels/sparse.hpp"
#include "model/int_graph.hpp"
#include "numerics/accumulator.hpp"
#include "numerics/requant.hpp"
#include "quant/lut.hpp"

namespace chipref {

struct LayerQuantConfig {
  int weight_bits = 8;
  bool weight_per_channel = true;
  bool weight_signed = true;     // unsigned: codes 0..2^b−1 (a symmetric layer's zero point is 2^(b−1))
  bool weight_symmetric = true;  // narrow range around the zero point; else a zero point per slice from [min, max]
  std::string weight_calibrator = "minmax";
  // How the weights are rounded onto the calibrator's grid (quant/weight_rounding.hpp): nearest, gptq or
  // adaround; and the empirical bias correction after it.
  std::string weight_algorithm = "nearest";
  bool bias_correction = false;
  bool cross_layer_equalization = false;   // of this layer's output channels with the next MAC layer's inputs
  bool equalization_through_clip = false;  // a ReLU6 between the two becomes a ReLU
  int gptq_block_size = 128;
  double gptq_damping = 0.01;
  bool gptq_act_order = false;
  int adaround_iterations = 10000;
  double adaround_regularization = 0.01;
  double adaround_beta_start = 20, adaround_beta_end = 2;
  double adaround_warmup = 0.2;
  double adaround_learning_rate = 1e-3;
  int activation_bits = 8;
  bool activation_signed = false;
  bool activation_symmetric = false;
  std::string activation_calibrator = "minmax";
  bool smoothquant = false;  // this linear layer's input channels balanced against its weight rows
  double smoothquant_alpha = 0.5;
  double activation_percentile = 99.99;  // the share the `percentile` calibrator keeps
  RequantFlavour requant_flavour = RequantFlavour::single;
  RoundingMode requant_rounding = RoundingMode::half_even;
  int multiplier_bits = 31;
  int bias_bits = 32;
  int accumulator_bits = 32;
  OverflowPolicy accumulator_overflow = OverflowPolicy::wrap;
  int lut_table_bits = 0;        // elementwise non-linears: 0 = one table entry per input code
  bool lut_interpolate = false;  // with a reduced table: interpolate between entries (else the nearest)
  NonLinearMethod nonlinear_method = NonLinearMethod::lut;  // GELU and softmax's exp: table or I-BERT polynomial
  kernels::NmPattern sparsity{0, 0};                        // N:M weight pruning of a MAC layer; m = 0: dense
  bool sparsity_on_codes = false;  // prune the integer codes after quantization, not the float weights before
  // A MAC layer in a block format (docs/numerics.md §15): its weights and its input activations; "int" for
  // the uniform integer codes above. `block_weight_format` empty: the same as the activations'.
  std::string block_format = "int";
  std::string block_weight_format;
  int block_size = 0;  // 0: the format's own (32 for MX, 16 for bfp<N>)
  BlockAccumulation block_accumulation = BlockAccumulation::exact;
  std::string block_rounding = "half_away";  // a rounding mode, or "stochastic"
  int64_t block_seed = 0;
  SharedExponent block_shared_exponent = SharedExponent::floor;
};

struct LayerOverride {
  std::string pattern;                // glob over node names (fnmatch), e.g. "/head/*", or a POSIX extended regex
  std::shared_ptr<const void> regex;  // the compiled regex (an RE2, kept opaque here), null for a glob
  std::string where;                  // file:line:column of the pattern, for warnings
  // One setter per key the override names; the keys it does not name keep what earlier entries gave.
  std::vector<std::function<void(LayerQuantConfig&)>> setters;
  LayerQuantConfig config;  // the defaults with this override's setters applied (for validation)

  // A glob matches as fnmatch does; a regex must match the whole node name.
  bool matches(const std::string& node_name) const;
};

struct QuantConfig {
  std::string source;  // the file it was read from
  LayerQuantConfig defaults;
  std::vector<LayerOverride> overrides;  // later overrides win
  int calibration_images = 1000;
  HardwareConfig hardware;  // the `hardware:` section: what the SystemC engine models

  // The config for one node: defaults, then every matching override in order.
  LayerQuantConfig for_node(const std::string& node_name) const;
};

// The overrides whose pattern matches none of `node_names` (a typo in a config is otherwise silent).
std::vector<const LayerOverride*> unmatched_overrides(const QuantConfig& config,
                                                      const std::vector<std::string>& node_names);
// "layer patterns match no node of MODEL: 'PATTERN' (FILE:LINE:COLUMN), ..." for the overrides that match
// no node of `graph` (MODEL: its source file), or "" when each matches one: the CLI's warning (an error
// with --strict) and the Python module's.
std::string unmatched_overrides_message(const QuantConfig& config, const Graph& graph);

QuantConfig load_quant_config(const std::string& path);
QuantConfig parse_quant_config(const std::string& yaml_text, const std::string& source_name);

}  // namespace chipref
