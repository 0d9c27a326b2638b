// Cosim throughput on the 16 x 16 reference MAC array (rtl/mac_array.sv, Verilated -O3): chipref's
// harness (stimulus → the matrix_tiles protocol through the Harness, as for a user's design → scoreboard;
// rtl_bridge/design_cosim.hpp, linked_design.hpp) against a bare
// Verilator loop that feeds the same beats, pre-packed into the bus words, and only toggles the clock
// and collects the outputs. Same binary, same flags, same run; passes alternate, best of five each. Layer:
// the shipped CNN's conv3 (K = 288, 48 channels, 49 positions) for IMAGES test images (default 32: about
// 0.1 s a pass, long enough that timer and cache noise stay small), configs/w8a8.yaml.
//   bench_cosim [IMAGES] [bare|harness]
// The second argument times one side only (for a profiler). Prints the wall-time ratio and the thread-CPU-time
// ratio (a VM's stolen time is in the first only). Issue 28's target: harness time / bare time <= 1.10.

#include <fmt/format.h>

#include <alloca.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <type_traits>

#include "Vmac_array_16x16.h"
#include "model/onnx_import.hpp"
#include "model/sidecar.hpp"
#include "quant/quantize.hpp"
#include "rtl_bridge/linked_design.hpp"
#include "sim/direct_engine.hpp"
#include "vectors/vectors.hpp"

using namespace chipref;

namespace {
double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The bare loop's inputs: every beat's buses, packed once before timing.
using ActBus = std::remove_reference_t<decltype(Vmac_array_16x16::in_act)>;
using WeightBus = std::remove_reference_t<decltype(Vmac_array_16x16::in_weight)>;
using BiasBus = std::remove_reference_t<decltype(Vmac_array_16x16::in_bias)>;
template <class Bus>
Bus zeroed() {
  Bus b;
  std::memset(static_cast<void*>(&b), 0, sizeof b);
  return b;
}

struct PackedBeats {
  std::vector<ActBus> act;
  std::vector<WeightBus> weight;
  std::vector<BiasBus> bias;
  std::vector<uint8_t> first, last;
};

// Lane `i` of `width` bits of a bus (the Harness's own pin writer, on a bus outside the model).
template <class Bus>
void set_lane(Bus& bus, int64_t i, int width, int32_t value) {
  const cosim::DutPort port{"bus", true, static_cast<int>(8 * sizeof(Bus) - 1), 0, static_cast<int>(sizeof(Bus))};
  cosim::Pin(&port, reinterpret_cast<uint8_t*>(&bus)).set_lane(i, width, value);
}

PackedBeats pack(const cosim::MacArrayStimulus& s) {
  PackedBeats p;
  const int64_t K = s.reduction;
  for (int64_t beat = 0; beat < s.tiles * K; ++beat) {
    ActBus act = zeroed<ActBus>();
    WeightBus weight = zeroed<WeightBus>();
    BiasBus bias = zeroed<BiasBus>();
    for (int64_t i = 0; i < s.rows; ++i) set_lane(act, i, 16, s.activations[static_cast<size_t>(beat * s.rows + i)]);
    for (int64_t c = 0; c < s.cols; ++c) set_lane(weight, c, 16, s.weights[static_cast<size_t>(beat * s.cols + c)]);
    for (int64_t c = 0; c < s.cols; ++c) set_lane(bias, c, 32, s.bias[static_cast<size_t>(beat / K * s.cols + c)]);
    p.act.push_back(act), p.weight.push_back(weight), p.bias.push_back(bias);
    p.first.push_back(beat % K == 0), p.last.push_back(beat % K == K - 1);
  }
  return p;
}

// A Verilated model's speed depends on where its state lies against the stack frame of its eval (this
// array's eval spills 800 bytes; at some relative page offsets the loads wait on false 4K-aliasing
// dependencies, and the same loop runs up to 2x slower). Both loops therefore evaluate with the stack moved
// by a different multiple of 64 bytes each call, every offset in a page in turn, so each side is timed over
// the same spread of placements rather than at one the heap and the call depth happened to give it.
__attribute__((noinline)) void eval_at_stack_offset(Vmac_array_16x16& unit, int64_t call) {
  auto* pad = static_cast<volatile char*>(alloca(static_cast<size_t>(call % 64) * 64 + 1));
  pad[0] = 0;
  unit.eval();
}

class SweptDesign final : public cosim::DesignInstance {
 public:
  SweptDesign() : model_(std::make_unique<Vmac_array_16x16>()) {
    design_ = std::make_unique<cosim::LinkedDesign<Vmac_array_16x16>>(cosim::mac_array_ports<Vmac_array_16x16>(16, 16),
                                                                      model_.get());
  }
  const std::vector<cosim::DutPort>& ports() const override { return design_->ports(); }
  cosim::Pin pin(const std::string& name) const override { return design_->pin(name); }
  void eval() override { eval_at_stack_offset(*model_, calls_++); }
  void open_trace(const std::string& path) override { design_->open_trace(path); }
  void dump(uint64_t time) override { design_->dump(time); }

 private:
  std::unique_ptr<Vmac_array_16x16> model_;
  std::unique_ptr<cosim::DesignInstance> design_;
  int64_t calls_ = 0;
};

// Feeds every beat and drains every row; returns the cycles and a checksum (so nothing is optimised away).
std::pair<int64_t, uint64_t> bare_loop(const PackedBeats& p, const cosim::MacArrayStimulus& s) {
  Vmac_array_16x16 unit;
  int64_t calls = 0;
  unit.cfg_act_zero_point = static_cast<uint16_t>(s.act_zero_point);
  unit.out_ready = 1;
  unit.rst_n = 0;
  for (int i = 0; i < 2; ++i)
    unit.clk = 0, eval_at_stack_offset(unit, calls++), unit.clk = 1, eval_at_stack_offset(unit, calls++);
  unit.rst_n = 1;
  const size_t beats = p.act.size();
  const int64_t rows_out = s.tiles * s.rows;
  size_t sent = 0;
  int64_t drained = 0, cycles = 0;
  uint64_t sum = 0;
  while (drained < rows_out) {
    unit.in_valid = sent < beats;
    if (sent < beats) {
      unit.in_act = p.act[sent], unit.in_weight = p.weight[sent], unit.in_bias = p.bias[sent];
      unit.in_first = p.first[sent], unit.in_last = p.last[sent];
    }
    unit.clk = 0;
    eval_at_stack_offset(unit, calls++);
    const bool in_fire = unit.in_valid && unit.in_ready;
    if (unit.out_valid) sum += unit.out_acc[0], ++drained;
    if (in_fire) ++sent;
    unit.clk = 1;
    eval_at_stack_offset(unit, calls++);
    ++cycles;
  }
  return {cycles, sum};
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t images = argc > 1 ? std::max(1, std::atoi(argv[1])) : 32;
  const std::string model = CHIPREF_SOURCE_DIR "/examples/fmnist_cnn.onnx";
  const Preprocess norm = *read_sidecar_preprocess(model);
  const Graph graph = import_onnx(model);
  const QuantConfig config = load_quant_config(CHIPREF_SOURCE_DIR "/configs/w8a8.yaml");
  const Tensor calibration = load_fashion_mnist("train", 200, norm).images;
  const IntGraph q = quantize(QuantizeInputs{&graph, &config, &calibration, "fmnist_cnn.onnx", norm});
  const std::filesystem::path root = std::filesystem::temp_directory_path() / "chipref_bench_cosim";
  std::filesystem::remove_all(root);
  save_int_graph(q, (root / "model").string());
  vectors::Options options;
  options.layers = "/conv3/*";
  DirectEngine engine(q);
  vectors::write_vectors(q, (root / "model").string(), load_fashion_mnist("t10k", images, norm).images,
                         vectors::InputSource{"fashion-mnist", "", images, ""}, (root / "vectors").string(), options,
                         engine);
  const auto inputs = cosim::mac_array_stimulus((root / "vectors").string(), "/conv3/conv3.0/Conv.mac", 16, 16);
  std::vector<PackedBeats> packed;
  for (const auto& s : inputs) packed.push_back(pack(s));
  cosim::Design design = cosim::linked_mac_array<Vmac_array_16x16>(16, 16);
  design.make = [](bool) { return std::make_unique<SweptDesign>(); };

  double bare = 1e30, harness = 1e30, bare_cpu = 1e30, harness_cpu = 1e30;
  int64_t bare_cycles = 0, harness_cycles = 0, compared = 0;
  uint64_t checksum = 0;
  const std::string only = argc > 2 ? argv[2] : "";
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_now();
    int64_t cycles = 0;
    for (size_t i = 0; i < inputs.size() && only != "harness"; ++i) {
      const auto [c, sum] = bare_loop(packed[i], inputs[i]);
      cycles += c, checksum += sum;
    }
    bare = std::min(bare, seconds(t0)), bare_cycles = cycles, bare_cpu = std::min(bare_cpu, cpu_now() - c0);
    t0 = std::chrono::steady_clock::now();
    c0 = cpu_now();
    if (only == "bare") continue;
    const cosim::CosimResult r = cosim::cosim_design(design, inputs, cosim::DesignRun{"/conv3/conv3.0/Conv.mac"});
    harness = std::min(harness, seconds(t0)), harness_cycles = r.cycles, compared = r.compared;
    harness_cpu = std::min(harness_cpu, cpu_now() - c0);
    if (!r.passed()) return fmt::print("{}", cosim::format_report(r)), 3;
  }
  fmt::print("16 x 16 reference MAC array, /conv3/conv3.0/Conv.mac of the CNN, {} images, best of 5 (checksum {})\n",
             inputs.size(), checksum % 1000);
  fmt::print("{:<40} {:>10} {:>14} {:>8}\n", "loop", "cycles", "cycles/s", "ratio");
  fmt::print("{:<40} {:>10} {:>14.3g} {:>8.2f}\n", "bare Verilator loop (pre-packed beats)", bare_cycles,
             bare_cycles / bare, 1.0);
  fmt::print("{:<40} {:>10} {:>14.3g} {:>8.2f}   (target <= 1.10; {} values scoreboarded)\n",
             "chipref harness (pack + drive + score)", harness_cycles, harness_cycles / harness, harness / bare,
             compared);
  fmt::print("thread CPU time ratio {:.2f}\n", harness_cpu / bare_cpu);
  std::filesystem::remove_all(root);
  return 0;
}
