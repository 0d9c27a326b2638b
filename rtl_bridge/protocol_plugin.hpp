#pragma once
// A cosim protocol of your own, compiled out of chipref's tree into a shared library and loaded by
// `chipref cosim --protocol-plugin lib.so` (docs/cosim.md, "Protocols as plugins"). Build it against an
// installed chipref (`cmake --install`, then `find_package(chipref)` and `chipref_add_protocol_plugin`):
//
//   #include "rtl_bridge/protocol_plugin.hpp"
//   class MyProtocol : public chipref::cosim::DutProtocol { ... };
//   CHIPREF_PROTOCOL_PLUGIN(registry) { registry.add("my_protocol", std::make_unique<MyProtocol>()); }
//
// The plugin calls into the chipref program that loads it (the Harness, score, hang) and shares its C++
// classes, so it must be built against the very headers of that program: the loader checks the
// interface version and a hash of every installed header, and refuses a plugin built against others
// instead of running it into a crash or a wrong report.

#include <memory>
#include <string>

#include "rtl_bridge/dut_protocol.hpp"
#include "rtl_bridge/plugin_interface.hpp"  // generated: kPluginHeadersHash

namespace chipref::cosim {

// The C entry points' version: bumped if their names or signatures ever change.
inline constexpr int kProtocolPluginVersion = 1;

// What a plugin's registration function adds its protocols to.
class ProtocolRegistry {
 public:
  virtual ~ProtocolRegistry() = default;
  // InputError if `name` is a built-in protocol's or another plugin's.
  virtual void add(const std::string& name, std::unique_ptr<DutProtocol> protocol) = 0;
};

// Loads a plugin and adds its protocols to dut_protocols(); InputError naming the file and what is wrong
// (not loadable, not a chipref protocol plugin, built against another chipref's headers). A plugin stays
// loaded for the life of the program.
void load_protocol_plugin(const std::string& path);

}  // namespace chipref::cosim

// Defines the plugin's entry points; the braces that follow are its registration function's body.
#define CHIPREF_PROTOCOL_PLUGIN(registry)                                                           \
  extern "C" __attribute__((visibility("default"))) int chipref_protocol_plugin_version() {         \
    return chipref::cosim::kProtocolPluginVersion;                                                  \
  }                                                                                                 \
  extern "C" __attribute__((visibility("default"))) const char* chipref_protocol_plugin_headers() { \
    return chipref::cosim::kPluginHeadersHash;                                                      \
  }                                                                                                 \
  extern "C" __attribute__((visibility("default"))) void chipref_protocol_plugin_register(          \
      chipref::cosim::ProtocolRegistry& registry)
