#pragma once
// The protocols `chipref cosim --dut` speaks to a design (docs/cosim.md, "Bring your own DUT"), as
// classes: a DutProtocol drives one input's golden stimulus through the Harness — the design with its
// adapter's roles bound to pins — and scores every output. valid_ready, fixed_latency, matrix_tiles
// (dut_protocol.cpp) and whole_matrix (whole_matrix_protocol.cpp) are built in; a protocol of your own
// is a subclass in a plugin (protocol_plugin.hpp) loaded by `chipref cosim --protocol-plugin`.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rtl_bridge/cosim.hpp"
#include "rtl_bridge/dut_adapter.hpp"
#include "rtl_bridge/dut_runtime.hpp"

namespace chipref::cosim {

// One instance of a design with the adapter's roles bound to pins: values go in and out by role, each
// range-checked against its lanes, and the clock is driven here (with an optional waveform window).
// User designs and the linked-in reference blocks run through it alike.
class Harness {
 public:
  // A role bound to its pin, looked up once (what a protocol's per-beat loop holds).
  struct Role {
    Pin pin;
    const RoleBinding* binding = nullptr;
    int64_t lo = 0, hi = 0;  // what a lane can carry
    std::vector<Pin> split;  // a role over several ports (binding->ports): lane i on split[i / per_pin]
    int64_t per_pin = 0;
    // The pin of `lane`, which becomes the lane's index on it.
    const Pin& pin_of(int64_t& lane) const {
      if (split.empty()) return pin;
      const Pin& p = split[static_cast<size_t>(lane / per_pin)];
      lane %= per_pin;
      return p;
    }
  };

  Harness(std::unique_ptr<DesignInstance> design, const DutAdapter& adapter, const std::string& layer);

  const DutAdapter& adapter() const { return adapter_; }
  bool has(const std::string& role) const { return roles_.count(role) != 0; }
  const Role& role(const std::string& name) const { return roles_.at(name); }
  const Role* find(const std::string& name) const;  // null if the adapter leaves the role unbound
  // Lane `lane` of a role (InputError naming the role, port and range if `value` does not fit).
  [[gnu::always_inline]] void put(const Role& role, int64_t value, int64_t lane = 0) const {
    if (value < role.lo || value > role.hi) out_of_range(role, value);
    role.pin_of(lane).set_lane(lane, role.binding->lane_width, value);
  }
  void put(const std::string& name, int64_t value, int64_t lane = 0) const { put(role(name), value, lane); }
  // Lanes 0..n−1 of a role: values[i] − offset each.
  void put_lanes(const Role& role, const int32_t* values, int64_t n, int64_t offset = 0) const {
    const int width = role.binding->lane_width;
    bool ok = true;
    if (role.split.empty())
      ok = role.pin.set_lanes(width, values, n, offset, role.lo, role.hi);
    else
      for (int64_t first = 0; first < n && ok; first += role.per_pin)
        ok = role.split[static_cast<size_t>(first / role.per_pin)].set_lanes(
            width, values + first, std::min(role.per_pin, n - first), offset, role.lo, role.hi);
    if (!ok) check_lanes(role, values, n, offset);
  }
  // InputError naming the role, port and range at the first of values[i] − offset a lane cannot carry.
  void check_lanes(const Role& role, const int32_t* values, int64_t n, int64_t offset = 0) const {
    for (int64_t i = 0; i < n; ++i)
      if (values[i] - offset < role.lo || values[i] - offset > role.hi) out_of_range(role, values[i] - offset);
  }
  void put_if(const std::string& name, int64_t value) const {
    if (const Role* r = find(name)) put(*r, value);
  }
  // Sign-extended if the role is signed.
  int64_t get(const Role& role, int64_t lane = 0) const {
    return role.pin_of(lane).lane(lane, role.binding->lane_width, role.binding->is_signed);
  }
  int64_t get(const std::string& name, int64_t lane = 0) const { return get(role(name), lane); }
  bool high(const Role& role) const { return role.pin.high(); }
  bool high(const std::string& name) const { return high(role(name)); }

  // The halves of a clock cycle: inputs set before falling() are sampled at the rising edge; between
  // the two, outputs show the state after the previous rising edge (sample handshakes there).
  void falling(CosimResult& r) {
    clock_.set(0);
    design_->eval();
    dump(2 * static_cast<uint64_t>(r.cycles), r.cycles);
  }
  void rising(CosimResult& r) {  // counts the cycle
    clock_.set(1);
    design_->eval();
    dump(2 * static_cast<uint64_t>(r.cycles) + 1, r.cycles);
    ++r.cycles;
  }
  void cycle(CosimResult& r) { falling(r), rising(r); }
  // The adapter's reset cycles with in_valid low and out_ready high (roles bound).
  void reset(CosimResult& r);
  // From now on, a waveform of cycles [from, to] to `path`.
  void trace(const std::string& path, int64_t from, int64_t to);

 private:
  [[noreturn]] void out_of_range(const Role& role, int64_t value) const;
  void dump(uint64_t time, int64_t cycle) {
    if (cycle >= trace_from_ && cycle <= trace_to_) design_->dump(time);
  }
  const DutAdapter& adapter_;
  std::string layer_;
  std::unique_ptr<DesignInstance> design_;
  Pin clock_, reset_;
  std::map<std::string, Role> roles_;
  int64_t trace_from_ = 1, trace_to_ = 0;
};

// A role's lanes for a run of beats (beat b: values[b·n, b·n + n) − offset), range-checked and narrowed once
// before the first cycle, so that a beat's bus is one copy into the design (InputError as Harness::put_lanes
// on a value its lanes cannot carry). A role whose lanes are not whole bytes of one port is written lane by
// lane each beat.
class PackedLanes {
 public:
  PackedLanes(const Harness& h, const Harness::Role& role, const int32_t* values, int64_t beats, int64_t n,
              int64_t offset = 0)
      : h_(h), role_(role), values_(values), n_(n), offset_(offset) {
    const int width = role.binding->lane_width;
    if (!role.split.empty() || !role.pin.byte_lanes(width, n)) return;
    stride_ = static_cast<size_t>(n * width / 8);
    bytes_.resize(stride_ * static_cast<size_t>(beats));
    if (!Pin::narrow_lanes(width, values, beats * n, offset, role.lo, role.hi, bytes_.data()))
      h.check_lanes(role, values, beats * n, offset);
  }
  void put(int64_t beat) const {
    if (stride_ != 0) return role_.pin.set_bytes(&bytes_[static_cast<size_t>(beat) * stride_], stride_);
    h_.put_lanes(role_, values_ + beat * n_, n_, offset_);
  }

 private:
  const Harness& h_;
  const Harness::Role& role_;
  const int32_t* values_;
  int64_t n_, offset_;
  size_t stride_ = 0;
  std::vector<uint8_t> bytes_;
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

// What every element-wise protocol does first: the layer's constants on their roles, the reset, and the
// table through tbl_* if the design has one.
void start_elements(Harness& h, const ElementStream& s, CosimResult& r);
// The stream's input roles, looked up once: (role, a value per element) for a protocol's per-element loop.
std::vector<std::pair<const Harness::Role*, const std::vector<int32_t>*>> element_inputs(const Harness& h,
                                                                                         const ElementStream& s);

// A handshake role a protocol binds (beside the block's data and configuration roles).
struct HandshakeRole {
  std::string name;
  bool input = true, required = false;
};

// A data role of a protocol that moves a block's data its own way (whole matrices instead of beats).
struct DataRole {
  std::string name;
  bool input = true;
  int64_t lanes = 1;
  bool is_signed = true, required = true;
};

class DutProtocol {
 public:
  virtual ~DutProtocol() = default;
  // The blocks it can drive: mulshift and lut through elements(), mac_array through tiles(), sparse
  // through groups(), mx_dot through block_dots().
  virtual std::vector<std::string> blocks() const = 0;
  virtual std::vector<HandshakeRole> handshake_roles(const DutAdapter& adapter) const = 0;
  virtual bool takes_latency() const { return false; }  // the adapter's `latency` key
  // The roles carrying the block's data and configuration; empty: the block's own (the reference
  // block's ports).
  virtual std::vector<DataRole> data_roles(const DutAdapter&) const { return {}; }
  virtual bool takes_matrix_keys() const { return false; }  // the adapter's whole_matrix keys (WholeMatrixKeys)
  // One input from reset on; score() every output; on a stall, mark r hung (see hang()).
  virtual void elements(Harness& h, const ElementStream& s, CosimResult& r, int64_t watchdog_cycles) const;
  virtual void tiles(Harness& h, const MacArrayStimulus& s, CosimResult& r, int64_t watchdog_cycles) const;
  virtual void groups(Harness& h, const SparseStimulus& s, CosimResult& r, int64_t watchdog_cycles) const;     // sparse
  virtual void block_dots(Harness& h, const MxDotStimulus& s, CosimResult& r, int64_t watchdog_cycles) const;  // mx_dot
};

// An MX dot-product unit's result roles, looked up once: out_sum, out_exponent, out_nan (null if unbound).
struct BlockDotResult {
  explicit BlockDotResult(const Harness& h)
      : sum(h.role("out_sum")), exponent(h.role("out_exponent")), nan(h.find("out_nan")) {}
  const Harness::Role &sum, &exponent;
  const Harness::Role* nan;
};
// Scores the unit's result for one pair of blocks of the stimulus: one compared value, the exact dot product
// (a NaN's sum and exponent are not compared).
void score_block_dot(const Harness& h, const BlockDotResult& result, const MxDotStimulus& s, const MxDotPair& pair,
                     CosimResult& r);

// Ends a run at the watchdog: r.hung with what it saw.
void hang(CosimResult& r, const Watchdog& watchdog, const std::string& progress);

// Every protocol by name: the built-ins, then those of the plugins loaded (load_protocol_plugin).
const std::vector<std::pair<std::string, std::unique_ptr<DutProtocol>>>& dut_protocols();
const DutProtocol* find_dut_protocol(const std::string& name);  // null if none

}  // namespace chipref::cosim
