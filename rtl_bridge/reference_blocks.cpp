#include "rtl_bridge/reference_blocks.hpp"

#include "Vlut_unit_m0.h"
#include "Vmac_array_16x16.h"
#include "Vmac_array_ws_16x16.h"
#include "Vmulshift_unit_m0.h"
#include "Vsparse_decoder_m0.h"
#include "core/error.hpp"
#include "rtl_bridge/linked_design.hpp"

namespace chipref::cosim {

CosimResult cosim_reference_block(const std::string& block, const std::string& vectors_dir, const std::string& layer,
                                  int64_t watchdog_cycles) {
  const DesignRun run(layer, watchdog_cycles);
  if (block == "mulshift") return cosim_design(linked_mulshift<Vmulshift_unit_m0>(), vectors_dir, run);
  if (block == "mac_array")
    return cosim_design(linked_mac_array<Vmac_array_16x16>(kReferenceArrayRows, kReferenceArrayCols), vectors_dir, run);
  if (block == "mac_array_ws") {
    Design ws = linked_mac_array<Vmac_array_ws_16x16>(kReferenceArrayRows, kReferenceArrayCols);
    ws.name = "mac_array_ws";
    ws.max_reduction = kReferenceWsMaxReduction;
    return cosim_design(ws, vectors_dir, run);
  }
  if (block == "lut") return cosim_design(linked_lut<Vlut_unit_m0>(kReferenceLutDepth), vectors_dir, run);
  if (block == "sparse")
    return cosim_design(linked_sparse<Vsparse_decoder_m0>(kReferenceSparseN, kReferenceSparseM), vectors_dir, run);
  throw InputError("cosim: unknown block '" + block + "'; expected mulshift, mac_array, mac_array_ws, lut or sparse");
}

}  // namespace chipref::cosim
