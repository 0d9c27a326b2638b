// A protocol chipref does not have built in, as a plugin: a fully pipelined MulShift unit (one element a
// cycle, no backpressure) whose output shows a fixed `latency` of rising edges after its input's.
// valid_ready would also drive such a unit, but through its out_valid; this protocol checks the timing
// itself: a unit that is late or early by a cycle scores the neighbouring element's code, a mismatch.
#include <fmt/format.h>

#include "rtl_bridge/protocol_plugin.hpp"

using namespace chipref::cosim;

namespace {

class Pipelined : public DutProtocol {
 public:
  std::vector<std::string> blocks() const override { return {"mulshift"}; }
  // in_valid is high with every element; out_ready, if the design has one, is held high (Harness::reset).
  std::vector<HandshakeRole> handshake_roles(const DutAdapter&) const override {
    return {{"in_valid", true, true}, {"out_ready", true, false}};
  }
  bool takes_latency() const override { return true; }

  void elements(Harness& h, const ElementStream& s, CosimResult& r, int64_t watchdog_cycles) const override {
    const int64_t latency = h.adapter().latency;
    if (latency < 1) throw chipref::InputError(h.adapter().path + ": the pipelined protocol needs 'latency' (>= 1)");
    start_elements(h, s, r);  // the layer's constants, the reset
    const auto inputs = element_inputs(h, s);
    const Harness::Role &in_valid = h.role("in_valid"), &out_code = h.role("out_code");
    const auto n = static_cast<int64_t>(s.expected->size());
    Watchdog watchdog(watchdog_cycles, r.cycles);
    // Element i goes in at the rising edge of step i; its code is read between the falling and the
    // rising edge of step i + latency, after `latency` rising edges.
    for (int64_t step = 0; step < n + latency; ++step) {
      h.put(in_valid, step < n);
      if (step < n)
        for (const auto& [role, values] : inputs) h.put(*role, (*values)[static_cast<size_t>(step)]);
      h.falling(r);
      if (const int64_t i = step - latency; i >= 0) {
        score(r, s.input, i, s.shape, static_cast<int32_t>(h.get(out_code)), (*s.expected)[static_cast<size_t>(i)]);
        watchdog.saw(r.cycles, "output", "element", i);
      }
      h.rising(r);
    }
  }
};

}  // namespace

CHIPREF_PROTOCOL_PLUGIN(registry) { registry.add("pipelined", std::make_unique<Pipelined>()); }
