#pragma once
// The protocols `chipref cosim --dut` speaks to a design (docs/cosim.md, "Bring your own DUT"), as
// classes: a DutProtocol drives one input's golden stimulus through the Harness — the design with its
// adapter's roles bound to pins — and scores every output. valid_ready, fixed_latency and matrix_tiles
// are built in (dut_protocol.cpp); a protocol of your own is a subclass added to dut_protocols().

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/dut_adapter.hpp"
#include "rtl_bridge/dut_runtime.hpp"

namespace chipref::cosim {

// One instance of the design with the adapter's roles bound to pins: values go in and out by role,
// each range-checked against its lanes, and the clock is driven here (with an optional waveform window).
class Harness {
 public:
  Harness(std::shared_ptr<const DutLibrary> library, const DutAdapter& adapter, const std::string& layer, bool traced);

  const DutAdapter& adapter() const { return adapter_; }
  bool has(const std::string& role) const { return pins_.count(role) != 0; }
  // Lane `lane` of `role` (InputError naming the role, port and range if `value` does not fit).
  void put(const std::string& role, int64_t value, int64_t lane = 0);
  void put_if(const std::string& role, int64_t value) {
    if (has(role)) put(role, value);
  }
  int64_t get(const std::string& role, int64_t lane = 0) const;  // sign-extended if the role is signed
  bool high(const std::string& role) const;

  // The halves of a clock cycle: inputs set before falling() are sampled at the rising edge; between
  // the two, outputs show the state after the previous rising edge (sample handshakes there).
  void falling(CosimResult& r);
  void rising(CosimResult& r);  // counts the cycle
  void cycle(CosimResult& r) { falling(r), rising(r); }
  // The adapter's reset cycles with in_valid low and out_ready high (roles bound).
  void reset(CosimResult& r);
  // From now on, a waveform of cycles [from, to] to `path`.
  void trace(const std::string& path, int64_t from, int64_t to);

 private:
  void dump(uint64_t time, int64_t cycle);
  struct Bound {
    Pin pin;
    const RoleBinding* binding;
  };
  const DutAdapter& adapter_;
  std::string layer_;
  DutInstance dut_;
  Pin clock_, reset_;
  std::map<std::string, Bound> pins_;
  int64_t trace_from_ = 1, trace_to_ = 0;
};

// An element-wise block's stimulus for one input (mulshift, lut), by role.
struct ElementStream {
  int64_t input = 0;
  Shape shape;
  std::vector<std::pair<std::string, const std::vector<int32_t>*>> inputs;  // role → a value per element
  std::vector<std::pair<std::string, int64_t>> config;                      // role → the layer's constant
  const std::vector<int32_t>* table = nullptr;  // lut: written through tbl_* first, if bound
  const std::vector<int32_t>* expected = nullptr;
};

// A handshake role a protocol binds (beside the block's data and configuration roles).
struct HandshakeRole {
  std::string name;
  bool input = true, required = false;
};

class DutProtocol {
 public:
  virtual ~DutProtocol() = default;
  // The blocks it can drive: mulshift and lut through elements(), mac_array through tiles(), sparse
  // through groups().
  virtual std::vector<std::string> blocks() const = 0;
  virtual std::vector<HandshakeRole> handshake_roles(const DutAdapter& adapter) const = 0;
  virtual bool takes_latency() const { return false; }  // the adapter's `latency` key
  // One input from reset on; score() every output; on a stall, mark r hung (see hang()).
  virtual void elements(Harness& h, const ElementStream& s, CosimResult& r, int64_t watchdog_cycles) const;
  virtual void tiles(Harness& h, const MacArrayStimulus& s, CosimResult& r, int64_t watchdog_cycles) const;
  virtual void groups(Harness& h, const SparseStimulus& s, CosimResult& r, int64_t watchdog_cycles) const;  // sparse
};

// Ends a run at the watchdog: r.hung with what it saw.
void hang(CosimResult& r, const Watchdog& watchdog, const std::string& progress);

// Every protocol by name, built-ins first; a protocol of your own goes into this table (dut_protocol.cpp).
const std::vector<std::pair<std::string, std::unique_ptr<DutProtocol>>>& dut_protocols();
const DutProtocol* find_dut_protocol(const std::string& name);  // null if none

}  // namespace chipref::cosim
