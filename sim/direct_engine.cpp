#include "sim/direct_engine.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "core/parallel.hpp"
#include "kernels/simd.hpp"
#include "kernels/threads.hpp"
#include "ops/boundaries.hpp"
#include "ops/common.hpp"
#include "ops/sparse_decode.hpp"

namespace chipref {

namespace {

// Output buffers come from a per-thread pool and go back to it as soon as their last reader has run: a
// network's tensors are the same sizes run after run, so after the first run ops rarely allocate (or
// page-fault) any more, and a run holds only the tensors still to be read, not all of them. Int32 tensors and
// tensors in bytes have a pool each.
template <class T>
std::vector<std::vector<T>>& buffer_pool() {
  thread_local std::vector<std::vector<T>> pool;
  return pool;
}

// The pooled buffer whose size holds `elements` most tightly, else the one whose capacity does, else the largest:
// the op's resize then shrinks it, which neither reallocates nor zero-fills (a buffer keeps the size it was
// given back with, so a run's sizes, which repeat from image to image, find their own buffers again).
template <class T>
std::vector<T> pooled_buffer(size_t elements) {
  auto& pool = buffer_pool<T>();
  if (pool.empty()) return {};
  // (1 when the size holds them, 2 when only the capacity does, 3 otherwise; then the tighter, or the larger)
  const auto rank = [elements](const std::vector<T>& b) {
    return b.size() >= elements       ? std::make_pair(1, b.size())
           : b.capacity() >= elements ? std::make_pair(2, b.capacity())
                                      : std::make_pair(3, SIZE_MAX - b.capacity());
  };
  size_t best = 0;
  for (size_t i = 1; i < pool.size(); ++i)
    if (rank(pool[i]) < rank(pool[best])) best = i;
  std::vector<T> buffer = std::move(pool[best]);
  if (best + 1 != pool.size()) pool[best] = std::move(pool.back());
  pool.pop_back();
  return buffer;
}

CodeTensor pooled_tensor(size_t elements) {
  CodeTensor t;
  t.data = pooled_buffer<int32_t>(elements);
  return t;
}

CodeTensor pooled_byte_tensor(size_t elements) {
  CodeTensor t;
  t.bytes = pooled_buffer<uint8_t>(elements);
  return t;
}

template <class T>
void give_back(std::vector<T>& buffer) {
  auto& pool = buffer_pool<T>();
  if (pool.size() < 256 && buffer.capacity() > 0) pool.push_back(std::move(buffer));
}

void return_buffer(CodeTensor& t) {
  give_back(t.data);
  give_back(t.bytes);
}

// The named tensors (those present) back to the pool.
void release(std::map<std::string, CodeTensor>& env, const std::vector<std::string>& names) {
  for (const std::string& name : names)
    if (const auto it = env.find(name); it != env.end()) {
      return_buffer(it->second);
      env.erase(it);
    }
}

void return_buffers(std::map<std::string, CodeTensor>& env) {
  for (auto& [name, t] : env) return_buffer(t);
  env.clear();
}

// Elements of an op's output for `images` images, from the shape the IntGraph records for one batch.
size_t expected_elements(const IntGraph& graph, const std::string& value, int64_t images) {
  const auto it = graph.values.find(value);
  if (it == graph.values.end() || it->second.shape.empty()) return 0;
  int64_t n = images;
  for (size_t d = 1; d < it->second.shape.size(); ++d) n *= std::max<int64_t>(it->second.shape[d], 0);
  return static_cast<size_t>(n);
}

}  // namespace

DirectEngine::DirectEngine(const IntGraph& graph, SparseKernel sparse) : graph_(graph) {
  check_integer_only(graph);
  std::map<std::string, std::shared_ptr<const kernels::NmWeights>> compressed;
  for (const Node& op : graph.ops) {
    const ops::OpDef& def = ops::op_def(op);
    if (def.role == ops::OpRole::input_boundary || def.role == ops::OpRole::output_boundary) continue;  // run in run()
    if (def.role == ops::OpRole::constant) {  // N:M weights: decoded here once, no step
      decoded_[op.outputs.at(0)] = decoded_weights(graph, op);
      compressed[op.outputs.at(0)] = std::make_shared<const kernels::NmWeights>(nm_weights_of(graph, op));
      continue;
    }
    MacWeightSource weights;
    if (def.mac == ops::MacOperand::weights) {
      if (const auto it = decoded_.find(op.inputs[1]); it != decoded_.end()) weights.dense = &it->second;
      if (const auto it = compressed.find(op.inputs[1]); sparse == SparseKernel::skip_zero && it != compressed.end())
        weights.skip_zero = it->second;
    }
    steps_.push_back(prepare_int_op(graph, op, weights));
    images_independent_ = images_independent_ && steps_.back().images_independent;
  }
  // Each tensor is freed after the last step that reads it; the output boundary's input never is.
  std::map<std::string, size_t> last_reader;
  for (size_t i = 0; i < steps_.size(); ++i)
    for (const std::string& name : steps_[i].inputs) last_reader[name] = i;
  // A MAC whose accumulators only the next step reads, a mulshift on its output channels, runs with it
  // as one step in untraced runs (the accumulators are never a tensor). Read counts, not last readers:
  // the output boundary and a later step must not read the accumulators either.
  std::map<std::string, int> readers;
  for (const PreparedOp& step : steps_)
    for (const std::string& name : step.inputs) ++readers[name];
  ++readers[graph.ops.back().inputs.at(0)];
  requantized_by_next_.assign(steps_.size(), false);
  for (size_t i = 0; i + 1 < steps_.size(); ++i) {
    const std::string& acc = steps_[i].node->outputs.at(0);
    requantized_by_next_[i] = steps_[i].run_requantized && steps_[i + 1].fusable_stage &&
                              steps_[i + 1].inputs == std::vector<std::string>{acc} && readers[acc] == 1;
  }
  // Which steps store their codes in bytes (docs/numerics.md §5, "Activations in bytes"): those whose every reader
  // reads bytes (the output boundary never does) and whose codes fit them: a fused MAC + mulshift's or a step's
  // own clamp spanning at most 256 codes, or a max pool's input stored in bytes (its maxima keep their base).
  std::map<std::string, bool> read_as_bytes;
  for (const PreparedOp& step : steps_)
    for (const std::string& name : step.inputs) {
      const auto [it, first] = read_as_bytes.emplace(name, true);
      it->second = it->second && step.reads_bytes;
    }
  read_as_bytes[graph.ops.back().inputs.at(0)] = false;
  const auto read_only_as_bytes = [&read_as_bytes](const std::string& name) {
    const auto it = read_as_bytes.find(name);
    return it != read_as_bytes.end() && it->second;
  };
  const auto fits_bytes = [](const kernels::CodeRange& codes) { return int64_t{codes.hi} - codes.lo <= 255; };
  std::set<std::string> stored_in_bytes;
  bytes_out_.assign(steps_.size(), false);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const PreparedOp& step = steps_[i];
    if (requantized_by_next_[i]) {  // the pair's codes are the mulshift's output
      const std::string& codes = steps_[i + 1].node->outputs.at(0);
      bytes_out_[i] = fits_bytes(ops::clamped_range(*steps_[i + 1].fusable_stage)) && read_only_as_bytes(codes);
      if (bytes_out_[i]) stored_in_bytes.insert(codes);
      ++i;
      continue;
    }
    if (!step.run_bytes_out) continue;
    const std::string& codes = step.node->outputs.at(0);
    const bool fit = step.bytes_out_range ? fits_bytes(*step.bytes_out_range)
                                          : !step.inputs.empty() && stored_in_bytes.count(step.inputs[0]) > 0;
    bytes_out_[i] = fit && read_only_as_bytes(codes);
    if (bytes_out_[i]) stored_in_bytes.insert(codes);
  }
  last_reader.erase(graph.ops.back().inputs.at(0));
  free_after_.resize(steps_.size());
  for (const auto& [name, step] : last_reader) free_after_[step].push_back(name);
}

Tensor DirectEngine::run(const Tensor& input, RunTrace* trace) const {
  const int64_t fixed = fixed_batch(graph_);
  if (trace && fixed > 0 && input.rank() > 0 && input.shape[0] != fixed)
    return run_fixed_batches(graph_, input, trace, [this](const Tensor& x, RunTrace* t) { return run_whole(x, t); });
  if (trace) return run_whole(input, trace);
  return run_chunked(input, nullptr);
}

Tensor DirectEngine::run(const Tensor& input, const OpObserver& observe) const { return run_chunked(input, &observe); }

Tensor DirectEngine::run_chunked(const Tensor& input, const OpObserver* observe) const {
  const int64_t n = input.rank() > 0 ? input.shape[0] : 0;
  // A graph exported with a fixed batch runs that many images at a time (its constants hold the batch).
  const int64_t fixed = fixed_batch(graph_), chunk = fixed > 0 ? fixed : kChunk;
  require_multiple_of_fixed_batch(graph_, n);
  // The threads not taken by chunks go inside the ops (kernels/threads.hpp): a batch of one chunk runs
  // each large layer on all of them. Either way every integer is what one thread computes.
  const int64_t jobs = observe ? 1 : jobs_;
  if ((fixed == 0 && !images_independent_) || n <= chunk) {
    const kernels::IntraOpThreads lend(jobs);
    return run_whole(input, nullptr, observe, 0);
  }
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<Tensor> outputs(static_cast<size_t>(chunks));
  auto run_chunk = [&](int64_t i) {
    const kernels::IntraOpThreads lend(jobs / std::min(chunks, jobs));
    const int64_t start = i * chunk;
    outputs[i] = run_whole(rows_of(input, start, std::min(chunk, n - start)), nullptr, observe, start);
  };
  // Chunks on several threads (never with an observer, which sees the ops in order), outputs stacked in
  // chunk order.
  for_each_index_in_parallel(chunks, jobs, run_chunk);
  Tensor out;
  for (Tensor& t : outputs) append_rows(out, t), t = Tensor{};
  return out;
}

Tensor DirectEngine::run_whole(const Tensor& input, RunTrace* trace, const OpObserver* observe,
                               int64_t first_image) const {
  std::map<std::string, CodeTensor> env;
  const int64_t images = input.rank() > 0 ? input.shape[0] : 1;
  const std::string& input_codes = graph_.ops.front().outputs.at(0);
  CodeTensor& codes = env[input_codes] = pooled_tensor(static_cast<size_t>(input.numel()));
  quantize_input(graph_, input, codes);
  if (trace) trace->values[input_codes] = env[input_codes];
  if (observe) (*observe)(graph_.ops.front(), env[input_codes], OverflowCounter{}, first_image, images);
  std::vector<const CodeTensor*> inputs;
  // traced and observed runs see every tensor, so they run each op on its own
  const bool fuse = !trace && !observe, bytes_level = kernels::simd_at_least(kernels::SimdLevel::avx512_vnni);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const PreparedOp& step = steps_[i];
    const Node& op = *step.node;
    inputs.clear();
    for (const std::string& name : step.inputs) {
      const auto it = env.find(name);
      if (it == env.end()) throw InputError(op.describe() + ": input '" + name + "' has not been computed");
      inputs.push_back(&it->second);
    }
    OverflowCounter overflow;
    if (fuse && requantized_by_next_[i]) {  // this MAC and the next step's mulshift: the mulshift's output
      const Node& requant = *steps_[i + 1].node;
      // (below avx512_vnni the kernels would only widen bytes again: int32 there)
      const bool bytes = bytes_out_[i] && bytes_level;
      const size_t elements = expected_elements(graph_, requant.outputs.at(0), images);
      CodeTensor y = bytes ? pooled_byte_tensor(elements) : pooled_tensor(elements);
      step.run_requantized(inputs, y, overflow, *steps_[i + 1].fusable_stage, bytes);
      env[requant.outputs.at(0)] = std::move(y);
      release(env, free_after_[i]);
      ++i;  // the accumulators, the mulshift's one input, were never stored
      release(env, free_after_[i]);
      continue;
    }
    // (traced and observed runs, and levels below avx512_vnni, store no tensor in bytes: nor do this step's inputs)
    const bool bytes = fuse && bytes_level && bytes_out_[i];
    const size_t elements = expected_elements(graph_, op.outputs.at(0), images);
    CodeTensor y = bytes ? pooled_byte_tensor(elements) : pooled_tensor(elements);
    (bytes ? step.run_bytes_out : step.run)(inputs, y, overflow);
    if (trace) {
      if (ops::is_mac(op)) trace->overflows[op.name].events += overflow.events;
      trace->values[op.outputs.at(0)] = y;
    }
    if (observe) (*observe)(op, y, overflow, first_image, images);
    env[op.outputs.at(0)] = std::move(y);
    release(env, free_after_[i]);
  }
  const Tensor y = dequantize_output(graph_, env.at(graph_.ops.back().inputs.at(0)));
  return_buffers(env);
  return y;
}

}  // namespace chipref
