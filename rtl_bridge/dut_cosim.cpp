#include "rtl_bridge/dut_cosim.hpp"

#include <cstdio>
#include <memory>

#include "core/data_files.hpp"
#include "rtl_bridge/design_cosim.hpp"
#include "rtl_bridge/dut_runtime.hpp"
#include "rtl_bridge/reference_blocks.hpp"

namespace chipref::cosim {

CosimResult cosim_dut(const DutCosimOptions& o) {
  DutAdapter adapter = load_dut_adapter(o.adapter);
  DutDesign design{o.sources, o.top, adapter.parameters};
  const std::string root = o.build_dir.empty() ? default_dut_cache_root() : o.build_dir;
  const BuiltDut built = build_dut(design, root);
  std::fprintf(stderr, "cosim: design %s %s %s\n", o.top.c_str(),
               built.from_cache ? "from the build cache" : "built into", built.directory.c_str());
  bind_dut_ports(adapter, built.ports);
  const auto library = std::make_shared<const DutLibrary>(built);
  Design dut{"dut " + adapter.block, std::move(adapter),
             [library](bool traced) { return std::make_unique<DutInstance>(library, traced); }};
  DesignRun run(o.layer, o.watchdog);
  run.trace = o.trace, run.trace_window = o.trace_window;
  return cosim_design(dut, o.vectors_dir, run);
}

std::string reference_top(const std::string& block) {
  return block == "mulshift" ? "mulshift_unit"
         : block == "lut"    ? "lut_unit"
         : block == "sparse" ? "sparse_decoder"
         : block == "mx_dot" ? "mx_dot_unit"
                             : block;
}
std::string reference_rtl_path(const std::string& block) {
  return chipref_data_file("rtl_bridge/rtl/" + reference_top(block) + ".sv", CHIPREF_SOURCE_DIR);
}
std::string reference_adapter_path(const std::string& block) {
  return chipref_data_file("rtl_bridge/adapters/" + block + ".yaml", CHIPREF_SOURCE_DIR);
}

CosimResult cosim_block_or_dut(const std::string& block, DutCosimOptions dut) {
  if (dut.sources.empty() == block.empty())
    throw InputError("cosim: give either --block (a reference block) or --dut with --top and --adapter (your design)");
  if (!dut.sources.empty() && (dut.top.empty() || dut.adapter.empty()))
    throw InputError("cosim --dut needs --top (the top module) and --adapter (a YAML file)");
  if (dut.sources.empty() && (!dut.top.empty() || !dut.adapter.empty()))
    throw InputError("cosim: --top and --adapter go with --dut");
  if (!dut.sources.empty()) return cosim_dut(dut);
  if (dut.trace.empty()) return cosim_reference_block(block, dut.vectors_dir, dut.layer, dut.watchdog);
  // The reference blocks linked into chipref carry no tracing: build the same RTL as a design with its
  // identity adapter, which does.
  dut.sources = {reference_rtl_path(block)};
  dut.top = reference_top(block);
  dut.adapter = reference_adapter_path(block);
  CosimResult r = cosim_dut(dut);
  r.block = block;
  return r;
}

}  // namespace chipref::cosim
