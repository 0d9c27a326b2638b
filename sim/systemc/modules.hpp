#pragma once
// The SystemC modules of the netlist (docs/systemc.md). One module per IntGraph op; a transaction is a
// whole tensor for one chunk of images, shared (never copied) between the readers of a FIFO fan-out.

#include <systemc>

#include <exception>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/op_def.hpp"
#include "sim/systemc/engine.hpp"

namespace chipref::systemc {

struct Packet {
  std::shared_ptr<const CodeTensor> tensor;
};
std::ostream& operator<<(std::ostream& os, const Packet& p);  // for sc_fifo's print/dump

using PacketIn = sc_core::sc_port<sc_core::sc_fifo_in_if<Packet>, 0>;
using PacketOut = sc_core::sc_port<sc_core::sc_fifo_out_if<Packet>, 0, sc_core::SC_ZERO_OR_MORE_BOUND>;

// What every module of a netlist shares: the first error a process hit (a SystemC process must not
// throw; the engine rethrows it after the simulation returns), and the trace being recorded, if any.
struct NetlistContext {
  std::exception_ptr error;
  RunTrace* trace = nullptr;
};

// An IntGraph op as a module: reads one transaction from each input port, computes it with the op's
// prepared kernel, writes the result to every reader. Monitors count both sides.
class IntOpModule : public sc_core::sc_module {
 public:
  PacketIn in;    // bound in the order of PreparedOp::inputs
  PacketOut out;  // one binding per reader
  SC_HAS_PROCESS(IntOpModule);
  IntOpModule(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op, std::string kind,
              NetlistContext& context);
  const ModuleStats& stats() const { return stats_; }
  const Node& node() const { return op_; }
  bool images_independent() const { return prepared_.node == nullptr || prepared_.images_independent; }
  // Reads and checks the op's parameters (at elaboration, so that bad parameters fail there).
  virtual void prepare();

 protected:
  virtual void start() {}  // inside the process, before the first transaction
  // Computes one transaction: the op's prepared kernel, or (an RTL block behind an adapter) whatever
  // the subclass drives; it may wait() on SystemC time.
  virtual void compute(const std::vector<const CodeTensor*>& inputs, CodeTensor& output, OverflowCounter& overflow) {
    prepared_.run(inputs, output, overflow);
  }
  virtual void account(const std::vector<const CodeTensor*>& inputs, const CodeTensor& output);
  // While a trace is recorded: what the module adds to it beyond its output tensor.
  virtual void traced(const std::vector<const CodeTensor*>&, const CodeTensor&) {}
  int bits_of(const std::string& value) const;
  const IntGraph& graph_;
  const Node& op_;
  NetlistContext& context_;
  PreparedOp prepared_;
  ModuleStats stats_;

 private:
  void process();
  std::shared_ptr<CodeTensor> output_buffer();
  std::vector<std::shared_ptr<CodeTensor>> buffers_;  // recycled once no reader holds them
  std::vector<Packet> packets_;                       // the transaction being computed
  std::vector<const CodeTensor*> inputs_;
  std::shared_ptr<CodeTensor> current_;
};

// A MAC array of hw.mac_rows × hw.mac_cols PEs running conv_mac, linear_mac or matmul_mac. The weights
// are stationary constants, or arrive once from a SparseDecoder on `weights_in`.
class MacArray : public IntOpModule {
 public:
  sc_core::sc_port<sc_core::sc_fifo_in_if<Packet>, 1, sc_core::SC_ZERO_OR_MORE_BOUND> weights_in;
  MacArray(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op, const HardwareConfig& hw,
           bool sparse_fed, NetlistContext& context);
  void prepare() override;
  // InputError naming the layer if the array cannot map it.
  static void check_geometry(const Node& op, const HardwareConfig& hw);

 protected:
  void start() override;
  void account(const std::vector<const CodeTensor*>& inputs, const CodeTensor& output) override;
  void traced(const std::vector<const CodeTensor*>& inputs, const CodeTensor& output) override;  // its tile streams

 private:
  bool second_is_activation() const;  // matmul_mac: both operands stream in
  HardwareConfig hw_;
  bool sparse_fed_;
  Tensor decoded_;           // weights from the SparseDecoder
  CodeTensor weight_codes_;  // conv / linear weights as the tile streams read them (made on first use)
  int weight_bits_ = 32;
};

// The N:M decoder in front of a MacArray: decodes the compressed weights (kernels::decode_nm) once and
// sends the dense matrix to the array.
class SparseDecoder : public sc_core::sc_module {
 public:
  PacketOut out;
  SC_HAS_PROCESS(SparseDecoder);
  SparseDecoder(const sc_core::sc_module_name& name, const IntGraph& graph, const Node& op, NetlistContext& context);
  const ModuleStats& stats() const { return stats_; }

 private:
  void process();
  const IntGraph& graph_;
  const Node& op_;
  NetlistContext& context_;
  ModuleStats stats_;
};

// The input boundary: sends the chunks run() queued, on `start`.
class Source : public sc_core::sc_module {
 public:
  PacketOut out;
  SC_HAS_PROCESS(Source);
  explicit Source(const sc_core::sc_module_name& name);
  void queue(std::vector<std::shared_ptr<const CodeTensor>> chunks);

 private:
  void process();
  sc_core::sc_event start_;
  std::vector<std::shared_ptr<const CodeTensor>> pending_;
};

// The output boundary: collects every transaction that reaches it.
class Sink : public sc_core::sc_module {
 public:
  PacketIn in;
  SC_HAS_PROCESS(Sink);
  explicit Sink(const sc_core::sc_module_name& name);
  std::vector<std::shared_ptr<const CodeTensor>> received;

 private:
  void process();
};

// Builds the module of an op in place of the model module, or returns null to keep the model (an RTL
// block behind an adapter: rtl_bridge/systemc_blocks.hpp). Called inside the netlist's SystemC context.
class ModuleFactory {
 public:
  virtual ~ModuleFactory() = default;
  virtual std::unique_ptr<IntOpModule> make(const std::string& name, const IntGraph& graph, const Node& op,
                                            NetlistContext& context) const = 0;
};

// Bits per element of a constant's storage type.
int storage_bits(DType t);

}  // namespace chipref::systemc
