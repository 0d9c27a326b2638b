#pragma once
// Verilated RTL inside the SystemC netlist (docs/cosim.md, "RTL in the SystemC netlist"): a reference
// block Verilated in SystemC mode replaces its model module, behind an adapter that turns each
// transaction into pin activity (a clocked valid/ready stream) and the pins' outputs back into a
// transaction. Everything else in the netlist stays the model.

#include <memory>
#include <string>
#include <vector>

namespace chipref::systemc {
class ModuleFactory;
}

namespace chipref::cosim {

// The blocks that can run as RTL in the netlist.
const std::vector<std::string>& systemc_rtl_blocks();

// A factory for SystemCEngine that builds every op of the listed kinds ("mulshift") as its Verilated
// RTL behind an adapter. InputError for an unknown kind. An op the block cannot compute (another
// requantization flavour or rounding) is an InputError naming it when the netlist is built.
// `watchdog_cycles`: a block that makes no handshake for that long ends the run with an error.
std::shared_ptr<const systemc::ModuleFactory> rtl_module_factory(const std::vector<std::string>& blocks,
                                                                 int64_t watchdog_cycles = 1000);

}  // namespace chipref::cosim
