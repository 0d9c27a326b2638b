#include "sim/systemc/engine.hpp"

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "ops/boundaries.hpp"
#include "sim/systemc/modules.hpp"

namespace chipref {

namespace {

// Makes `context` SystemC's current simulation context for a scope. Every engine elaborates and runs in
// its own context: SystemC allows one elaboration per context, and an engine is built per model.
class ContextScope {
 public:
  explicit ContextScope(sc_core::sc_simcontext* context)
      : current_(sc_core::sc_curr_simcontext), global_(sc_core::sc_default_global_context) {
    sc_core::sc_curr_simcontext = context;
    sc_core::sc_default_global_context = context;
  }
  ~ContextScope() {
    sc_core::sc_curr_simcontext = current_;
    sc_core::sc_default_global_context = global_;
  }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  sc_core::sc_simcontext* current_;
  sc_core::sc_simcontext* global_;
};

sc_core::sc_simcontext* new_context() {
  setenv("SYSC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);  // its banner would go to stdout, into --json output
  return new sc_core::sc_simcontext();
}

// SystemC's current context is a process-wide global: one engine touches SystemC at a time.
std::mutex& systemc_mutex() {
  static std::mutex m;
  return m;
}

// Every SystemC call of an engine runs on a thread of the engine's own. SystemC switches between its
// processes' stacks (QuickThreads) without telling AddressSanitizer, which then misjudges the stack of
// the thread that did it: an exception thrown later on that thread is reported as a stack overflow
// (google/sanitizers#189). So the simulation never runs on the caller's thread, and the work done on
// this one throws nothing once a simulation has run (errors come back as values and are thrown by the
// caller).
class SimulationThread {
 public:
  SimulationThread() : thread_([this] { loop(); }) {}
  ~SimulationThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  SimulationThread(const SimulationThread&) = delete;
  SimulationThread& operator=(const SimulationThread&) = delete;

  // Runs `f` there, holding the SystemC lock, and waits; what `f` throws is rethrown on the caller.
  void call(const std::function<void()>& f) {
    std::exception_ptr error;
    std::unique_lock<std::mutex> lock(mutex_);
    task_ = [&] {
      try {
        std::lock_guard<std::mutex> systemc(systemc_mutex());
        f();
      } catch (...) {
        error = std::current_exception();
      }
    };
    pending_ = true;
    wake_.notify_all();
    done_.wait(lock, [&] { return !pending_; });
    lock.unlock();
    if (error) std::rethrow_exception(error);
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || pending_; });
      if (pending_) {
        const std::function<void()> task = std::move(task_);
        lock.unlock();
        task();
        lock.lock();
        pending_ = false;
        done_.notify_all();
      } else if (stop_) {
        return;
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::function<void()> task_;
  bool pending_ = false, stop_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

}  // namespace

struct SystemCEngine::Impl {
  Impl(const IntGraph& g, const HardwareConfig& h) : graph(g), hw(h) {
    thread.call([this] { context = new_context(); });
  }
  ~Impl() {
    thread.call([this] {
      ContextScope scope(context);
      modules.clear();
      decoders.clear();
      sink.reset();
      source.reset();
      fifos.clear();
      delete context;
    });
  }
  const IntGraph& graph;
  HardwareConfig hw;
  std::shared_ptr<const systemc::ModuleFactory> replace;
  SimulationThread thread;
  sc_core::sc_simcontext* context = nullptr;
  systemc::NetlistContext shared;
  std::vector<std::unique_ptr<sc_core::sc_fifo<systemc::Packet>>> fifos;
  std::unique_ptr<systemc::Source> source;
  std::unique_ptr<systemc::Sink> sink;
  std::vector<std::unique_ptr<systemc::SparseDecoder>> decoders;
  std::vector<std::unique_ptr<systemc::IntOpModule>> modules;
  std::vector<const ModuleStats*> order;  // every module's monitors, in graph order
  bool images_independent = true;
  bool failed = false;

  void build();
  sc_core::sc_fifo<systemc::Packet>& new_fifo() {
    fifos.push_back(std::make_unique<sc_core::sc_fifo<systemc::Packet>>(
        ("fifo_" + std::to_string(fifos.size())).c_str(), static_cast<int>(hw.fifo_depth)));
    return *fifos.back();
  }
};

void SystemCEngine::Impl::build() {
  check_integer_only(graph);
  // The hardware first: a geometry that cannot map a layer fails before anything is built.
  if (hw.fifo_depth < 1)
    throw InputError("hardware.fifo_depth is " + std::to_string(hw.fifo_depth) + "; expected at least 1");
  for (const Node& op : graph.ops)
    if (ops::is_mac(op)) systemc::MacArray::check_geometry(op, hw);
  const Node& q = graph.ops.front();
  const Node& dq = graph.ops.back();
  source = std::make_unique<systemc::Source>("source");
  // Who writes each activation value: the source, or a module's output port.
  std::map<std::string, systemc::PacketOut*> writer{{q.outputs.at(0), &source->out}};
  std::map<std::string, systemc::SparseDecoder*> decoder_of;
  for (size_t index = 0; index < graph.ops.size(); ++index) {
    const Node& op = graph.ops[index];
    const ops::OpDef& def = ops::op_def(op);
    if (def.role == ops::OpRole::input_boundary || def.role == ops::OpRole::output_boundary) continue;
    const std::string name = "op_" + std::to_string(index);
    if (def.role == ops::OpRole::constant) {
      decoders.push_back(std::make_unique<systemc::SparseDecoder>(name.c_str(), graph, op, shared));
      decoder_of[op.outputs.at(0)] = decoders.back().get();
      order.push_back(&decoders.back()->stats());
      continue;
    }
    std::unique_ptr<systemc::IntOpModule> m;
    if (def.is_mac()) {
      const bool sparse_fed = def.mac == ops::MacOperand::weights && decoder_of.count(op.inputs.at(1));
      auto array = std::make_unique<systemc::MacArray>(name.c_str(), graph, op, hw, sparse_fed, shared);
      if (sparse_fed) {
        auto& fifo = new_fifo();
        decoder_of.at(op.inputs[1])->out.bind(fifo);
        array->weights_in.bind(fifo);
      }
      m = std::move(array);
    } else {
      if (replace) m = replace->make(name, graph, op, shared);
      if (!m) m = std::make_unique<systemc::IntOpModule>(name.c_str(), graph, op, def.systemc_module, shared);
    }
    m->prepare();
    // Activation inputs, in input order: the values some module or the source writes (constants and
    // decoded weights are not streamed through `in`).
    for (const std::string& input : op.inputs) {
      const auto it = writer.find(input);
      if (it == writer.end()) continue;
      auto& fifo = new_fifo();
      it->second->bind(fifo);
      m->in.bind(fifo);
    }
    images_independent = images_independent && m->images_independent();
    writer[op.outputs.at(0)] = &m->out;
    order.push_back(&m->stats());
    modules.push_back(std::move(m));
  }
  sink = std::make_unique<systemc::Sink>("sink");
  const auto it = writer.find(dq.inputs.at(0));
  if (it == writer.end()) throw InputError(dq.describe() + ": reads '" + dq.inputs[0] + "', which no op computes");
  auto& fifo = new_fifo();
  it->second->bind(fifo);
  sink->in.bind(fifo);
}

SystemCEngine::SystemCEngine(const IntGraph& graph) : SystemCEngine(graph, graph.hardware) {}

SystemCEngine::SystemCEngine(const IntGraph& graph, const HardwareConfig& hardware)
    : SystemCEngine(graph, hardware, nullptr) {}

SystemCEngine::SystemCEngine(const IntGraph& graph, const HardwareConfig& hardware,
                             std::shared_ptr<const systemc::ModuleFactory> replace)
    : impl_(std::make_unique<Impl>(graph, hardware)) {
  impl_->replace = std::move(replace);
  // Before any simulation: a throw from here is on a thread that has not switched stacks yet. If it
  // throws, ~Impl tears down what was built.
  impl_->thread.call([this] {
    ContextScope scope(impl_->context);
    impl_->build();
  });
}

SystemCEngine::~SystemCEngine() = default;

Tensor SystemCEngine::run(const Tensor& input, RunTrace* trace) {
  Impl& d = *impl_;
  if (d.failed) throw InputError("the SystemC engine stopped after an earlier error; build a new engine");
  const int64_t n = input.rank() > 0 ? input.shape[0] : 0;
  // A graph exported with a fixed batch runs that many images per transaction (its constants hold it);
  // a trace is kept per transaction, so a traced run of several is several runs.
  const int64_t fixed = fixed_batch(d.graph), chunk_size = fixed > 0 ? fixed : DirectEngine::kChunk;
  if (fixed > 0 && n != fixed && (trace || n % fixed))
    return run_fixed_batches(d.graph, input, trace, [this](const Tensor& x, RunTrace* t) { return run(x, t); });
  CodeTensor codes = quantize_input(d.graph, input);
  std::vector<std::shared_ptr<const CodeTensor>> chunks;
  if (trace || (fixed == 0 && !d.images_independent) || n <= chunk_size) {
    if (trace) trace->values[d.graph.ops.front().outputs.at(0)] = codes;
    chunks.push_back(std::make_shared<const CodeTensor>(std::move(codes)));
  } else {
    const int64_t per = static_cast<int64_t>(codes.data.size()) / n;
    for (int64_t start = 0; start < n; start += chunk_size) {
      const int64_t count = std::min(chunk_size, n - start);
      auto chunk = std::make_shared<CodeTensor>();
      chunk->shape = codes.shape;
      chunk->shape[0] = count;
      chunk->data.assign(codes.data.begin() + start * per, codes.data.begin() + (start + count) * per);
      chunks.push_back(std::move(chunk));
    }
  }
  const size_t expected = chunks.size();
  d.thread.call([&] {  // throws nothing: a module's error is kept in d.shared.error
    ContextScope scope(d.context);
    d.shared.trace = trace;
    d.sink->received.clear();
    d.source->queue(std::move(chunks));
    sc_core::sc_start();
    d.shared.trace = nullptr;
  });
  if (d.shared.error) {
    d.failed = true;
    std::rethrow_exception(d.shared.error);
  }
  if (d.sink->received.size() != expected) {
    d.failed = true;
    throw InputError("the SystemC netlist stalled: " + std::to_string(d.sink->received.size()) + " of " +
                     std::to_string(expected) + " transactions reached the output");
  }
  CodeTensor out;
  for (const auto& t : d.sink->received) {
    if (out.shape.empty())
      out.shape = t->shape;
    else
      out.shape[0] += t->shape.at(0);
    out.data.insert(out.data.end(), t->data.begin(), t->data.end());
  }
  d.sink->received.clear();
  return dequantize_output(d.graph, out);
}

std::vector<ModuleStats> SystemCEngine::stats() const {
  std::vector<ModuleStats> all;
  for (const ModuleStats* s : impl_->order) all.push_back(*s);
  return all;
}

const HardwareConfig& SystemCEngine::hardware() const { return impl_->hw; }
size_t SystemCEngine::module_count() const { return impl_->modules.size() + impl_->decoders.size(); }

std::unique_ptr<Engine> make_engine_by_name(const IntGraph& graph, const std::string& name) {
  if (name == "direct") return std::make_unique<DirectEngine>(graph);
  if (name == "systemc") return std::make_unique<SystemCEngine>(graph);
  throw InputError("engine '" + name + "'; expected direct or systemc");
}

}  // namespace chipref
