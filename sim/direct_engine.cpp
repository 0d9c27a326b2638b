#include "sim/direct_engine.hpp"

#include <algorithm>
#include <memory>

#include "quant/numerics/requant.hpp"
#include "quant/numerics/rounding.hpp"
#include "sim/kernels/layernorm.hpp"
#include "sim/kernels/lut.hpp"
#include "sim/kernels/mac.hpp"
#include "sim/kernels/movement.hpp"
#include "sim/kernels/pool.hpp"
#include "sim/kernels/softmax.hpp"
#include "sim/kernels/requant.hpp"

namespace chipref {

namespace {

std::vector<int32_t> as_int32(const Tensor& t) { return std::vector<int32_t>(t.ints.begin(), t.ints.end()); }

const CodeTensor& get(std::map<std::string, CodeTensor>& env, const Node& op, size_t i) {
  const auto it = env.find(op.inputs.at(i));
  if (it == env.end()) throw InputError(op.describe() + ": input '" + op.inputs[i] + "' has not been computed");
  return it->second;
}

const Tensor& constant(const IntGraph& g, const Node& op, size_t i) {
  const auto it = g.constants.find(op.inputs.at(i));
  if (it == g.constants.end()) throw InputError(op.describe() + ": constant '" + op.inputs[i] + "' is missing");
  return it->second;
}

const IntValue& value(const IntGraph& g, const std::string& name, const Node& op) {
  const auto it = g.values.find(name);
  if (it == g.values.end()) throw InputError(op.describe() + ": value '" + name + "' has no integer format");
  return it->second;
}

std::vector<int64_t> pair_attr(const Node& op, const char* key, std::vector<int64_t> fallback) {
  return op.get_ints(key, std::move(fallback));
}

kernels::ConvGeometry geometry(const Node& op, const Shape& x, int64_t out_channels, int64_t kh, int64_t kw) {
  if (x.size() != 4) throw InputError(op.describe() + ": expects an NCHW input, got " + shape_to_string(x));
  kernels::ConvGeometry g;
  g.batch = x[0], g.in_channels = x[1], g.in_h = x[2], g.in_w = x[3];
  g.out_channels = out_channels, g.kernel_h = kh, g.kernel_w = kw;
  const auto strides = pair_attr(op, "strides", {1, 1}), dilations = pair_attr(op, "dilations", {1, 1});
  const auto pads = pair_attr(op, "pads", {0, 0, 0, 0});
  g.stride_h = strides.at(0), g.stride_w = strides.at(1), g.dilation_h = dilations.at(0), g.dilation_w = dilations.at(1);
  g.pad_top = pads.at(0), g.pad_left = pads.at(1), g.pad_bottom = pads.at(2), g.pad_right = pads.at(3);
  g.groups = op.get_int("group", 1);
  if (!g.valid()) throw InputError(op.describe() + ": invalid geometry for input " + shape_to_string(x));
  return g;
}

Requantizer requantizer_of(const Node& op, const IntValue& out) {
  return Requantizer::make(parse_requant_flavour(op.get_string("flavour")), parse_rounding_mode(op.get_string("rounding")),
                           out.quant.format, out.quant.zero_point);
}

RequantChannel channel(const Node& op, int64_t multiplier, int64_t shift) {
  const FixedMultiplier fixed{static_cast<int32_t>(multiplier), static_cast<int>(shift), static_cast<int>(op.get_int("multiplier_bits"))};
  try {
    return requant_channel_of(fixed, parse_requant_flavour(op.get_string("flavour")));
  } catch (const InputError& e) {
    throw InputError(op.describe() + ": " + e.what());
  }
}

AccumulatorSpec accumulator_of(const Node& op) {
  return AccumulatorSpec::make(static_cast<int>(op.get_int("acc_bits")), parse_overflow_policy(op.get_string("overflow")));
}

// Output buffers come from a per-thread pool and go back to it when a run ends: a network's tensors are
// the same sizes run after run, so after the first run no op allocates (or page-faults) any more.
std::vector<std::vector<int32_t>>& buffer_pool() {
  thread_local std::vector<std::vector<int32_t>> pool;
  return pool;
}

// A tensor of `shape` with every element to be written by the op (the contents are not cleared).
CodeTensor output_tensor(Shape shape) {
  auto& pool = buffer_pool();
  std::vector<int32_t> data;
  if (!pool.empty()) {
    data = std::move(pool.back());
    pool.pop_back();
  }
  data.resize(static_cast<size_t>(element_count(shape)));
  return CodeTensor{std::move(shape), std::move(data)};
}

void return_buffers(std::map<std::string, CodeTensor>& env) {
  auto& pool = buffer_pool();
  for (auto& [name, t] : env)
    if (pool.size() < 256) pool.push_back(std::move(t.data));
  env.clear();
}

void record(RunTrace* trace, const std::string& name, const CodeTensor& t) {
  if (trace) trace->values[name] = t;
}

// A step running kernel(x, rows, cols, y) over the rows of x's last axis (softmax, LayerNorm).
template <class Kernel>
std::function<void(std::map<std::string, CodeTensor>&, RunTrace*)> last_axis_step(const Node& op, std::string out_name, Kernel kernel) {
  return [&op, out_name, kernel](std::map<std::string, CodeTensor>& env, RunTrace* trace) {
    const CodeTensor& x = get(env, op, 0);
    const int64_t cols = x.shape.empty() ? 1 : x.shape.back();
    CodeTensor y = output_tensor(x.shape);
    kernel(x.data.data(), static_cast<int64_t>(x.data.size()) / std::max<int64_t>(cols, 1), cols, y.data.data());
    record(trace, out_name, y);
    env[out_name] = std::move(y);
  };
}

}  // namespace

kernels::NmWeights nm_weights_of(const IntGraph& g, const Node& op) {
  const Tensor& values = constant(g, op, 0);
  const Tensor& words = constant(g, op, 1);
  const Shape shape = op.get_ints("shape");
  kernels::NmWeights w;
  w.pattern = kernels::NmPattern{static_cast<int>(op.get_int("n")), static_cast<int>(op.get_int("m"))};
  if (shape.empty() || shape[0] < 1 || element_count(shape) % shape[0] != 0) throw InputError(op.describe() + ": invalid dense shape " + shape_to_string(shape));
  w.rows = shape[0], w.k = element_count(shape) / shape[0];
  w.values = as_int32(values);
  for (int64_t v : words.ints) {
    if (v < 0 || v > 0xFFFFFFFFLL) throw InputError(op.describe() + ": index word " + std::to_string(v) + " is not a 32-bit word");
    w.index_words.push_back(static_cast<uint32_t>(v));
  }
  kernels::validate_nm(w, op.describe());
  return w;
}

Tensor mac_weight_codes(const IntGraph& g, const std::string& name) {
  if (const auto it = g.constants.find(name); it != g.constants.end()) return it->second;
  for (const Node& op : g.ops)
    if (op.op_type == "sparse_decode" && op.outputs.at(0) == name) {
      const kernels::NmWeights w = nm_weights_of(g, op);
      const std::vector<int32_t> dense = kernels::decode_nm(w, op.describe());
      return Tensor::of_ints(constant(g, op, 0).dtype, op.get_ints("shape"), std::vector<int64_t>(dense.begin(), dense.end()));
    }
  throw InputError("weights '" + name + "' are neither a constant nor decoded by a sparse_decode op");
}

DirectEngine::DirectEngine(const IntGraph& graph, SparseKernel sparse) : graph_(graph) {
  check_integer_only(graph);
  const IntGraph& g = graph_;
  // A MAC's weights: a constant, or decoded once from an N:M-compressed pair.
  auto weights_of = [&](const Node& op) -> const Tensor& {
    const auto it = decoded_.find(op.inputs.at(1));
    return it != decoded_.end() ? it->second : constant(g, op, 1);
  };
  auto skip_zero = [&](const Node& op) -> std::shared_ptr<const kernels::NmWeights> {
    const auto it = compressed_.find(op.inputs.at(1));
    return sparse == SparseKernel::skip_zero && it != compressed_.end() ? it->second : nullptr;
  };
  for (const Node& op : g.ops) {
    const std::string out_name = op.outputs.at(0);
    if (op.op_type == "quantize" || op.op_type == "dequantize") continue;  // boundary ops run in run()
    if (op.op_type == "sparse_decode") {  // constant: decoded here once, no step
      auto w = std::make_shared<const kernels::NmWeights>(nm_weights_of(g, op));
      const std::vector<int32_t> dense = kernels::decode_nm(*w, op.describe());
      decoded_[out_name] = Tensor::of_ints(DType::int32, op.get_ints("shape"), std::vector<int64_t>(dense.begin(), dense.end()));
      compressed_[out_name] = std::move(w);
      continue;
    }
    if (op.op_type == "conv_mac") {
      const Tensor& w = weights_of(op);
      const auto nm = skip_zero(op);
      auto codes = std::make_shared<std::vector<int32_t>>(as_int32(w));
      if (w.rank() != 4) throw InputError(op.describe() + ": weights must be [M, C/G, KH, KW], got " + shape_to_string(w.shape));
      auto weights = std::make_shared<kernels::MacWeights>(kernels::MacWeights::prepare(codes->data(), w.shape[0], w.numel() / std::max<int64_t>(w.shape[0], 1)));
      auto bias = std::make_shared<std::vector<int32_t>>(op.inputs.size() > 2 ? as_int32(constant(g, op, 2)) : std::vector<int32_t>{});
      const AccumulatorSpec acc = accumulator_of(op);
      const int32_t zp = static_cast<int32_t>(value(g, op.inputs[0], op).quant.zero_point);
      const Shape w_shape = w.shape;
      steps_.push_back({op.name, [=, &op, codes = codes](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          const kernels::ConvGeometry geo = geometry(op, x.shape, w_shape[0], w_shape[2], w_shape[3]);
                          CodeTensor y = output_tensor({geo.batch, geo.out_channels, geo.out_h(), geo.out_w()});
                          OverflowCounter overflow;
                          if (nm) kernels::conv_mac_skip_zero(geo, x.data.data(), zp, *nm, *bias, acc, overflow, y.data.data());
                          else kernels::conv_mac(geo, x.data.data(), zp, *weights, *bias, acc, overflow, y.data.data());
                          if (trace) trace->overflows[op.name].events += overflow.events;
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "linear_mac") {
      const Tensor& w = weights_of(op);
      const auto nm = skip_zero(op);
      auto codes = std::make_shared<std::vector<int32_t>>(as_int32(w));
      const int64_t out_features = w.shape.at(0), in_features = w.shape.at(1);
      auto weights = std::make_shared<kernels::MacWeights>(kernels::MacWeights::prepare(codes->data(), out_features, in_features));
      auto bias = std::make_shared<std::vector<int32_t>>(op.inputs.size() > 2 ? as_int32(constant(g, op, 2)) : std::vector<int32_t>{});
      const AccumulatorSpec acc = accumulator_of(op);
      const int32_t zp = static_cast<int32_t>(value(g, op.inputs[0], op).quant.zero_point);
      steps_.push_back({op.name, [=, &op, codes = codes](Env& env, RunTrace* trace) {
                          const CodeTensor& a = get(env, op, 0);
                          if (a.shape.empty() || a.shape.back() != in_features)
                            throw InputError(op.describe() + ": input " + shape_to_string(a.shape) + " does not end in " + std::to_string(in_features));
                          const int64_t rows = static_cast<int64_t>(a.data.size()) / in_features;
                          Shape shape = a.shape;
                          shape.back() = out_features;
                          CodeTensor y = output_tensor(shape);
                          OverflowCounter overflow;
                          if (nm) kernels::linear_mac_skip_zero(rows, a.data.data(), zp, *nm, *bias, acc, overflow, y.data.data());
                          else kernels::linear_mac(rows, in_features, out_features, a.data.data(), zp, *weights, *bias, acc, overflow, y.data.data());
                          if (trace) trace->overflows[op.name].events += overflow.events;
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "matmul_mac") {
      const AccumulatorSpec acc = accumulator_of(op);
      const int32_t za = static_cast<int32_t>(value(g, op.inputs.at(0), op).quant.zero_point);
      const int32_t zb = static_cast<int32_t>(value(g, op.inputs.at(1), op).quant.zero_point);
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& a = get(env, op, 0);
                          const CodeTensor& b = get(env, op, 1);
                          const size_t rank = a.shape.size();
                          bool ok = rank >= 2 && b.shape.size() == rank && a.shape[rank - 1] == b.shape[rank - 2];
                          for (size_t d = 0; ok && d + 2 < rank; ++d) ok = a.shape[d] == b.shape[d];
                          if (!ok) throw InputError(op.describe() + ": cannot multiply " + shape_to_string(a.shape) + " by " + shape_to_string(b.shape));
                          const int64_t m = a.shape[rank - 2], k = a.shape[rank - 1], n = b.shape[rank - 1];
                          const int64_t batch = static_cast<int64_t>(a.data.size()) / std::max<int64_t>(m * k, 1);
                          Shape shape = a.shape;
                          shape[rank - 1] = n;
                          CodeTensor y = output_tensor(shape);
                          OverflowCounter overflow;
                          kernels::matmul_mac(batch, m, k, n, a.data.data(), za, b.data.data(), zb, acc, overflow, y.data.data());
                          if (trace) trace->overflows[op.name].events += overflow.events;
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "mulshift") {
      const IntValue& out = value(g, out_name, op);
      const Tensor& m = constant(g, op, 1);
      const Tensor& s = constant(g, op, 2);
      std::vector<RequantChannel> channels;
      for (int64_t c = 0; c < m.numel(); ++c) channels.push_back(channel(op, m.ints[c], s.ints[c]));
      auto params = std::make_shared<kernels::MulShift>(kernels::MulShift{requantizer_of(op, out), channels, op.get_int("clamp_lo"), op.get_int("clamp_hi")});
      const int64_t axis = op.get_int("axis", 1);  // the channel axis: 1 (NCHW), or the last for a matrix product
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          const int64_t rank = static_cast<int64_t>(x.shape.size());
                          if (axis < 0 || axis >= std::max<int64_t>(rank, 2))
                            throw InputError(op.describe() + ": channel axis " + std::to_string(axis) + " is outside " + shape_to_string(x.shape));
                          int64_t outer = 1, inner = 1;
                          for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
                          for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[d];
                          const int64_t c = axis < rank ? x.shape[axis] : 1;
                          if (params->channels.size() != 1 && static_cast<int64_t>(params->channels.size()) != c)
                            throw InputError(op.describe() + ": " + std::to_string(params->channels.size()) + " multipliers for " + std::to_string(c) + " channels");
                          CodeTensor y = output_tensor(x.shape);
                          kernels::mulshift(*params, x.data.data(), outer, c, inner, y.data.data());
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "add") {
      const IntValue& out = value(g, out_name, op);
      auto params = std::make_shared<kernels::AddRequant>(kernels::AddRequant{
          requantizer_of(op, out), channel(op, op.get_int("multiplier_a"), op.get_int("shift_a")),
          channel(op, op.get_int("multiplier_b"), op.get_int("shift_b")),
          static_cast<int32_t>(value(g, op.inputs.at(0), op).quant.zero_point),
          static_cast<int32_t>(value(g, op.inputs.at(1), op).quant.zero_point), op.get_int("clamp_lo"), op.get_int("clamp_hi")});
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& a = get(env, op, 0);
                          const CodeTensor& b = get(env, op, 1);
                          if (a.shape != b.shape) throw InputError(op.describe() + ": operand shapes differ: " + shape_to_string(a.shape) + " and " + shape_to_string(b.shape));
                          CodeTensor y = output_tensor(a.shape);
                          kernels::add_requant(*params, a.data.data(), b.data.data(), static_cast<int64_t>(a.data.size()), y.data.data());
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "window_sum" || op.op_type == "window_max") {
      const bool sum = op.op_type == "window_sum";
      const bool global = op.get_int("global", 0) != 0;
      const int32_t zp = static_cast<int32_t>(value(g, op.inputs.at(0), op).quant.zero_point);
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          const auto kernel = global ? std::vector<int64_t>{x.shape.at(2), x.shape.at(3)} : op.get_ints("kernel");
                          const kernels::ConvGeometry geo = geometry(op, x.shape, x.shape.at(1), kernel.at(0), kernel.at(1));
                          CodeTensor y = output_tensor({geo.batch, geo.in_channels, geo.out_h(), geo.out_w()});
                          if (sum) kernels::window_sum(geo, x.data.data(), zp, y.data.data());
                          else kernels::window_max(geo, x.data.data(), y.data.data());
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "lut") {
      const Tensor& table = constant(g, op, 1);
      auto params = std::make_shared<kernels::Lut>();
      params->table.assign(table.ints.begin(), table.ints.end());
      params->in_min = op.get_int("in_min");
      params->shift = static_cast<int>(op.get_int("shift"));
      params->interpolate = op.get_int("interpolate") != 0;
      params->out = value(g, out_name, op).quant.format;
      const int64_t needed = (value(g, op.inputs[0], op).quant.format.max() - params->in_min) >> params->shift;
      if (params->shift < 0 || params->shift > 16 || static_cast<int64_t>(params->table.size()) < needed + 1)
        throw InputError(op.describe() + ": the table has " + std::to_string(params->table.size()) + " entries; its input format needs " + std::to_string(needed + 1));
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          CodeTensor y = output_tensor(x.shape);
                          kernels::lut(*params, x.data.data(), static_cast<int64_t>(x.data.size()), y.data.data());
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "layernorm") {
      const IntValue& out = value(g, out_name, op);
      auto params = std::make_shared<kernels::LayerNorm>();
      params->in_zero_point = value(g, op.inputs.at(0), op).quant.zero_point;
      params->extra_bits = static_cast<int>(op.get_int("extra_bits"));
      params->epsilon = static_cast<uint64_t>(op.get_int("epsilon_units"));
      params->requantizer = Requantizer::make(RequantFlavour::single, RoundingMode::half_even, out.quant.format, out.quant.zero_point);
      const Tensor& m = constant(g, op, 1), &sh = constant(g, op, 2), &neg = constant(g, op, 3), &b = constant(g, op, 4);
      const int bits = static_cast<int>(op.get_int("multiplier_bits"));
      for (int64_t j = 0; j < m.numel(); ++j) {
        params->gamma.push_back(RequantChannel{FixedMultiplier{static_cast<int32_t>(m.ints[j]), static_cast<int>(sh.ints.at(j)), bits}, 0.0f});
        params->gamma_negative.push_back(neg.ints.at(j) != 0);
        params->beta.push_back(b.ints.at(j));
      }
      if (params->extra_bits < 0 || params->extra_bits > 16) throw InputError(op.describe() + ": extra_bits must be 0..16");
      steps_.push_back({op.name, last_axis_step(op, out_name, [params](const int32_t* x, int64_t rows, int64_t cols, int32_t* y) {
                          kernels::layernorm(*params, x, rows, cols, y);
                        })});
    } else if (op.op_type == "softmax") {
      const Tensor& table = constant(g, op, 1);
      auto params = std::make_shared<kernels::Softmax>();
      params->exp_table.assign(table.ints.begin(), table.ints.end());
      params->one_over_scale = op.get_int("one_over_scale");
      const IntValue& out = value(g, out_name, op);
      params->zero_point = out.quant.zero_point;
      params->out = out.quant.format;
      if (params->exp_table.empty() || params->one_over_scale < 1) throw InputError(op.describe() + ": empty exp table or output scale");
      steps_.push_back({op.name, last_axis_step(op, out_name, [params](const int32_t* x, int64_t rows, int64_t cols, int32_t* y) {
                          kernels::softmax(*params, x, rows, cols, y);
                        })});
    } else if (op.op_type == "transpose") {
      const std::vector<int64_t> perm = op.get_ints("perm");
      if (perm.empty() || perm[0] != 0) images_independent_ = false;
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          CodeTensor y = output_tensor({});
                          kernels::transpose(x.shape, x.data.data(), perm, y.shape, y.data);
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "concat") {
      const int64_t axis = op.get_int("axis");
      if (axis <= 0) images_independent_ = false;  // axis 0, or a negative axis that might be it
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          std::vector<const Shape*> shapes;
                          std::vector<const int32_t*> inputs;
                          for (size_t i = 0; i < op.inputs.size(); ++i) {
                            const CodeTensor& x = get(env, op, i);
                            shapes.push_back(&x.shape), inputs.push_back(x.data.data());
                          }
                          CodeTensor y = output_tensor({});
                          kernels::concat(shapes, inputs, axis, y.shape, y.data);
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "slice") {
      const auto axes = op.get_ints("axes"), starts = op.get_ints("starts"), steps = op.get_ints("steps"), counts = op.get_ints("counts");
      if (std::find(axes.begin(), axes.end(), 0) != axes.end()) images_independent_ = false;
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          CodeTensor y = output_tensor({});
                          try {
                            kernels::slice(x.shape, x.data.data(), axes, starts, steps, counts, y.shape, y.data);
                          } catch (const InputError& e) {
                            throw InputError(op.describe() + ": " + e.what());
                          }
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "gather") {
      const int64_t axis = op.get_int("axis");
      const auto indices = op.get_ints("indices");
      const bool drop_axis = op.get_int("drop_axis") != 0;
      if (axis == 0) images_independent_ = false;
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& x = get(env, op, 0);
                          CodeTensor y = output_tensor({});
                          try {
                            kernels::gather(x.shape, x.data.data(), axis, indices, drop_axis, y.shape, y.data);
                          } catch (const InputError& e) {
                            throw InputError(op.describe() + ": " + e.what());
                          }
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "batch_broadcast") {
      const Tensor& c = constant(g, op, 0);
      auto codes = std::make_shared<std::vector<int32_t>>(as_int32(c));
      const Shape c_shape = c.shape;
      if (c_shape.empty() || c_shape[0] != 1) throw InputError(op.describe() + ": its constant must be [1, ...], got " + shape_to_string(c_shape));
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          const CodeTensor& like = get(env, op, 1);
                          CodeTensor y = output_tensor({});
                          kernels::batch_broadcast(c_shape, codes->data(), like.shape.empty() ? 1 : like.shape[0], y.shape, y.data);
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else if (op.op_type == "reshape") {
      const std::vector<int64_t> target = op.get_ints("shape");
      if (target.empty() || target[0] != 0) images_independent_ = false;
      steps_.push_back({op.name, [=, &op](Env& env, RunTrace* trace) {
                          CodeTensor y = get(env, op, 0);
                          Shape shape = op.get_ints("shape");
                          int64_t known = 1, infer = -1;
                          for (size_t d = 0; d < shape.size(); ++d) {
                            if (shape[d] == 0) shape[d] = y.shape.at(d);
                            if (shape[d] == -1) infer = static_cast<int64_t>(d);
                            else known *= shape[d];
                          }
                          if (infer >= 0) shape[infer] = static_cast<int64_t>(y.data.size()) / std::max<int64_t>(known, 1);
                          if (element_count(shape) != static_cast<int64_t>(y.data.size()))
                            throw InputError(op.describe() + ": cannot reshape " + shape_to_string(y.shape) + " to " + shape_to_string(shape));
                          y.shape = shape;
                          record(trace, out_name, y);
                          env[out_name] = std::move(y);
                        }});
    } else {
      throw InputError(op.describe() + ": the DirectEngine has no kernel for this op");
    }
  }
}

Tensor DirectEngine::run(const Tensor& input, RunTrace* trace) const {
  const int64_t n = input.rank() > 0 ? input.shape[0] : 0;
  if (trace || !images_independent_ || n <= kChunk || !input.is_float()) return run_whole(input, trace);
  const int64_t per = input.numel() / n;
  Tensor out;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t count = std::min(kChunk, n - start);
    Shape shape = input.shape;
    shape[0] = count;
    const Tensor y = run_whole(Tensor::of_floats(shape, std::vector<float>(input.floats.begin() + start * per, input.floats.begin() + (start + count) * per)), nullptr);
    if (start == 0) {
      out = y;
      out.shape[0] = n;
      out.floats.reserve(static_cast<size_t>(y.numel() / count * n));
    } else {
      out.floats.insert(out.floats.end(), y.floats.begin(), y.floats.end());
    }
  }
  return out;
}

Tensor DirectEngine::run_whole(const Tensor& input, RunTrace* trace) const {
  const Node& q = graph_.ops.front();
  const Node& dq = graph_.ops.back();
  if (!input.is_float() || input.rank() != static_cast<int64_t>(graph_.input_shape.size()))
    throw InputError("input is " + std::string(to_string(input.dtype)) + shape_to_string(input.shape) + "; the IntGraph expects float32" +
                     shape_to_string(graph_.input_shape));
  // Input boundary: sat(round_half_even(x / scale) + zp), the division in float32 as ONNX QuantizeLinear.
  const IntValue& in_value = graph_.values.at(q.outputs.at(0));
  const float in_scale = q.get_float("scale");
  CodeTensor codes = output_tensor(input.shape);
  for (size_t i = 0; i < input.floats.size(); ++i) {
    const float v = input.floats[i] / in_scale;
    if (std::isnan(v)) throw InputError("input element " + std::to_string(i) + " is NaN");
    const double r = std::clamp(round_to_integer(v, RoundingMode::half_even) + static_cast<double>(in_value.quant.zero_point),
                                static_cast<double>(in_value.quant.format.min()), static_cast<double>(in_value.quant.format.max()));
    codes.data[i] = static_cast<int32_t>(r);
  }
  Env env;
  record(trace, q.outputs[0], codes);
  env[q.outputs[0]] = std::move(codes);
  for (const Step& s : steps_) s.run(env, trace);
  // Output boundary: scale · (code − zp) in float32.
  const CodeTensor& out = env.at(dq.inputs.at(0));
  const IntValue& out_value = graph_.values.at(dq.inputs[0]);
  const float out_scale = dq.get_float("scale");
  Tensor y = Tensor::zeros(DType::float32, out.shape);
  for (size_t i = 0; i < out.data.size(); ++i)
    y.floats[i] = static_cast<float>(out.data[i] - out_value.quant.zero_point) * out_scale;
  return_buffers(env);
  return y;
}

}  // namespace chipref
