#include "rtl_bridge/systemc_blocks.hpp"

#include <algorithm>

#include "Vmulshift_unit_sc.h"
#include "core/error.hpp"
#include "ops/mulshift.hpp"
#include "rtl_bridge/cosim.hpp"
#include "sim/systemc/modules.hpp"

namespace chipref::cosim {

namespace {

using sc_core::sc_signal;

// The MulShift op as rtl/mulshift_unit.sv: each transaction's accumulators stream through the unit one
// element a cycle (with their channel's multiplier and shift), the codes stream back into the output.
// The adapter drives the clock itself — a falling edge, the handshakes sampled, a rising edge, 1 ns
// each — so the netlist has no free-running clock and the simulation still ends when the data does.
class RtlMulShift : public systemc::IntOpModule {
 public:
  // `name` must live until the constructor returns: it keeps this module the parent of the unit.
  RtlMulShift(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op,
              systemc::NetlistContext& context, int64_t watchdog_cycles)
      : IntOpModule(name, graph, op, "MulShift (RTL)", context), unit_("rtl"), watchdog_cycles_(watchdog_cycles) {
    settings_ = mulshift_settings(graph, op);  // refuses what the unit does not implement, at elaboration
    for (const std::string& constant : {op.inputs.at(1), op.inputs.at(2)})
      if (!graph.constants.count(constant))
        throw InputError(op.describe() + ": its multipliers and shifts must be constants to run on the RTL unit");
    for (int64_t v : graph.constants.at(op.inputs[1]).ints) multipliers_.push_back(static_cast<uint32_t>(v));
    for (int64_t v : graph.constants.at(op.inputs[2]).ints)
      shifts_.push_back(static_cast<uint32_t>(static_cast<uint8_t>(v)));
    unit_.clk(clk_), unit_.rst_n(rst_n_), unit_.in_valid(in_valid_), unit_.in_ready(in_ready_), unit_.in_acc(in_acc_);
    unit_.in_multiplier(in_multiplier_), unit_.in_shift(in_shift_), unit_.cfg_multiplier_bits(cfg_multiplier_bits_);
    unit_.cfg_round_half_up(cfg_round_half_up_), unit_.cfg_zero_point(cfg_zero_point_), unit_.cfg_out_min(cfg_out_min_),
        unit_.cfg_out_max(cfg_out_max_);
    unit_.cfg_clamp_lo(cfg_clamp_lo_), unit_.cfg_clamp_hi(cfg_clamp_hi_), unit_.out_valid(out_valid_),
        unit_.out_ready(out_ready_), unit_.out_code(out_code_);
  }

 protected:
  void start() override {
    cfg_multiplier_bits_.write(static_cast<uint32_t>(settings_.multiplier_bits & 31));
    cfg_round_half_up_.write(settings_.round_half_up);
    cfg_zero_point_.write(static_cast<uint32_t>(settings_.zero_point));
    cfg_out_min_.write(static_cast<uint32_t>(settings_.out_min)),
        cfg_out_max_.write(static_cast<uint32_t>(settings_.out_max));
    cfg_clamp_lo_.write(static_cast<uint32_t>(settings_.clamp_lo)),
        cfg_clamp_hi_.write(static_cast<uint32_t>(settings_.clamp_hi));
    out_ready_.write(true);
    in_valid_.write(false);
    rst_n_.write(false);
    cycle(), cycle();
    rst_n_.write(true);
  }

  void compute(const std::vector<const CodeTensor*>& inputs, CodeTensor& output, OverflowCounter&) override {
    const CodeTensor& acc = *inputs.at(0);
    const std::vector<size_t> channel = channel_of_elements(op_, acc.shape, settings_.axis, multipliers_.size());
    output.shape = acc.shape;
    output.data.assign(acc.data.size(), 0);
    const size_t n = acc.data.size();
    size_t sent = 0, received = 0;
    int64_t idle = 0;
    while (received < n) {
      in_valid_.write(sent < n);
      if (sent < n) {
        in_acc_.write(static_cast<uint32_t>(acc.data[sent]));
        in_multiplier_.write(multipliers_[channel[sent]]);
        in_shift_.write(shifts_[channel[sent]]);
      }
      clk_.write(false);
      wait(1, sc_core::SC_NS);  // the inputs and the falling edge settle: this cycle's handshakes are visible
      const bool in_fire = sent < n && in_ready_.read(), out_fire = out_valid_.read();
      if (out_fire) output.data[received++] = static_cast<int32_t>(out_code_.read());
      if (in_fire) ++sent;
      idle = in_fire || out_fire ? 0 : idle + 1;
      if (idle > watchdog_cycles_)
        throw InputError(op_.describe() + ": the RTL MulShift unit made no handshake for " +
                         std::to_string(watchdog_cycles_) + " cycles (" + std::to_string(sent) + " of " +
                         std::to_string(n) + " elements sent, " + std::to_string(received) + " received)");
      clk_.write(true);
      wait(1, sc_core::SC_NS);
    }
    in_valid_.write(false);
  }

 private:
  void cycle() {
    clk_.write(false);
    wait(1, sc_core::SC_NS);
    clk_.write(true);
    wait(1, sc_core::SC_NS);
  }

  Vmulshift_unit_sc unit_;
  int64_t watchdog_cycles_;
  MulShiftSettings settings_;
  std::vector<uint32_t> multipliers_, shifts_;
  sc_signal<bool> clk_, rst_n_, in_valid_, in_ready_, cfg_round_half_up_, out_valid_, out_ready_;
  sc_signal<uint32_t> in_acc_, in_multiplier_, in_shift_, cfg_multiplier_bits_, cfg_zero_point_, cfg_out_min_,
      cfg_out_max_, cfg_clamp_lo_, cfg_clamp_hi_, out_code_;
};

class RtlFactory : public systemc::ModuleFactory {
 public:
  RtlFactory(std::vector<std::string> blocks, int64_t watchdog_cycles)
      : blocks_(std::move(blocks)), watchdog_cycles_(watchdog_cycles) {}
  std::unique_ptr<systemc::IntOpModule> make(const std::string& name, const IntGraph& graph, const Node& op,
                                             systemc::NetlistContext& context) const override {
    if (&ops::op_def(op) == &ops::mulshift_op_def() && std::count(blocks_.begin(), blocks_.end(), "mulshift"))
      return std::make_unique<RtlMulShift>(sc_core::sc_module_name(name.c_str()), graph, op, context, watchdog_cycles_);
    return nullptr;
  }

 private:
  std::vector<std::string> blocks_;
  int64_t watchdog_cycles_;
};

}  // namespace

const std::vector<std::string>& systemc_rtl_blocks() {
  static const std::vector<std::string> blocks = {"mulshift"};
  return blocks;
}

std::shared_ptr<const systemc::ModuleFactory> rtl_module_factory(const std::vector<std::string>& blocks,
                                                                 int64_t watchdog_cycles) {
  for (const std::string& b : blocks)
    if (std::find(systemc_rtl_blocks().begin(), systemc_rtl_blocks().end(), b) == systemc_rtl_blocks().end())
      throw InputError("--rtl: '" + b + "' cannot run as RTL in the SystemC netlist; available: mulshift");
  return std::make_shared<RtlFactory>(blocks, watchdog_cycles);
}

}  // namespace chipref::cosim
