#include "rtl_bridge/reference_blocks.hpp"

#include "Vlut_unit_m0.h"
#include "Vmac_array_16x16.h"
#include "Vmulshift_unit_m0.h"
#include "core/error.hpp"
#include "rtl_bridge/mac_array_driver.hpp"
#include "rtl_bridge/elementwise_drivers.hpp"

namespace chipref::cosim {

CosimResult cosim_reference_block(const std::string& block, const std::string& vectors_dir, const std::string& layer, int64_t watchdog_cycles) {
  CosimResult r;
  r.block = block, r.layer = layer;
  if (block == "mulshift") {
    for (const MulShiftStimulus& s : mulshift_stimulus(vectors_dir, layer)) {
      Vmulshift_unit_m0 unit;  // a fresh block per input, out of reset
      r.tensor = s.tensor;
      drive_mulshift(unit, s, r, watchdog_cycles);
      ++r.inputs;
      if (r.hung) break;
    }
  } else if (block == "mac_array") {
    for (const MacArrayStimulus& s : mac_array_stimulus(vectors_dir, layer, kReferenceArrayRows, kReferenceArrayCols)) {
      Vmac_array_16x16 unit;
      r.tensor = s.tensor;
      drive_mac_array(unit, s, r, watchdog_cycles);
      ++r.inputs;
      if (r.hung) break;
    }
  } else if (block == "lut") {
    for (const LutStimulus& s : lut_stimulus(vectors_dir, layer, kReferenceLutDepth)) {
      Vlut_unit_m0 unit;
      r.tensor = s.tensor;
      drive_lut(unit, s, r, watchdog_cycles);
      ++r.inputs;
      if (r.hung) break;
    }
  } else {
    throw InputError("cosim: unknown block '" + block + "'; expected mulshift, mac_array or lut");
  }
  return r;
}

}  // namespace chipref::cosim
