#include "rtl_bridge/reference_blocks.hpp"

#include <algorithm>

#include "Vlut_unit_m0.h"
#include "Vmac_array_16x16.h"
#include "Vmac_array_ws_16x16.h"
#include "Vmulshift_unit_m0.h"
#include "Vmx_dot_unit_e4m3_m0.h"
#include "Vmx_dot_unit_int8.h"
#include "Vsparse_decoder_m0.h"
#include "core/error.hpp"
#include "model/int_graph.hpp"
#include "ops/op_def.hpp"
#include "rtl_bridge/linked_design.hpp"
#include "vectors/manifest.hpp"

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
  if (block == "mx_dot") {
    // The unit Verilated for the layer's formats (the stimulus checks them again, and the layer's kind).
    const IntGraph g = load_int_graph(vectors::read_manifest(vectors_dir).model);
    const auto op = std::find_if(g.ops.begin(), g.ops.end(), [&](const Node& n) { return n.name == layer; });
    const bool int8 = op != g.ops.end() && ops::op_def(*op).block_facts &&
                      op->get_string("activation_format") == "mxint8" && op->get_string("weight_format") == "mxint8";
    if (int8)
      return cosim_design(linked_mx_dot<Vmx_dot_unit_int8>(kReferenceMxDotLanes, "mxint8", "mxint8"), vectors_dir, run);
    return cosim_design(linked_mx_dot<Vmx_dot_unit_e4m3_m0>(kReferenceMxDotLanes, "mxfp8_e4m3", "mxfp8_e4m3"),
                        vectors_dir, run);
  }
  throw InputError("cosim: unknown block '" + block +
                   "'; expected mulshift, mac_array, mac_array_ws, lut, sparse or mx_dot");
}

}  // namespace chipref::cosim
