#include "rtl_bridge/reference_blocks.hpp"

#include "Vlut_unit_m0.h"
#include "Vmac_array_16x16.h"
#include "Vmulshift_unit_m0.h"
#include "Vsparse_decoder_m0.h"
#include "core/error.hpp"
#include "rtl_bridge/elementwise_drivers.hpp"
#include "rtl_bridge/mac_array_driver.hpp"

namespace chipref::cosim {

CosimResult cosim_reference_block(const std::string& block, const std::string& vectors_dir, const std::string& layer,
                                  int64_t watchdog_cycles) {
  if (block == "mulshift")
    return cosim_inputs<Vmulshift_unit_m0>(block, layer, mulshift_stimulus(vectors_dir, layer), watchdog_cycles,
                                           drive_mulshift<Vmulshift_unit_m0>);
  if (block == "mac_array")
    return cosim_inputs<Vmac_array_16x16>(
        block, layer, mac_array_stimulus(vectors_dir, layer, kReferenceArrayRows, kReferenceArrayCols), watchdog_cycles,
        drive_mac_array<Vmac_array_16x16>);
  if (block == "lut")
    return cosim_inputs<Vlut_unit_m0>(block, layer, lut_stimulus(vectors_dir, layer, kReferenceLutDepth),
                                      watchdog_cycles, drive_lut<Vlut_unit_m0>);
  if (block == "sparse")
    return cosim_inputs<Vsparse_decoder_m0>(block, layer,
                                            sparse_stimulus(vectors_dir, layer, kReferenceSparseN, kReferenceSparseM),
                                            watchdog_cycles, drive_sparse<Vsparse_decoder_m0>);
  throw InputError("cosim: unknown block '" + block + "'; expected mulshift, mac_array, lut or sparse");
}

}  // namespace chipref::cosim
