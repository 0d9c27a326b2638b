// Modules the plugin loader must refuse, by the macro defined: STALE_version (built for another plugin
// interface version), STALE_headers (built against other chipref headers), STALE_none (a shared
// library with none of a plugin's entry points).
#include "rtl_bridge/protocol_plugin.hpp"

#if defined(STALE_version) || defined(STALE_headers)
extern "C" __attribute__((visibility("default"))) int chipref_protocol_plugin_version() {
#ifdef STALE_version
  return chipref::cosim::kProtocolPluginVersion + 1;
#else
  return chipref::cosim::kProtocolPluginVersion;
#endif
}
extern "C" __attribute__((visibility("default"))) const char* chipref_protocol_plugin_headers() {
  return "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
}
extern "C" __attribute__((visibility("default"))) void chipref_protocol_plugin_register(
    chipref::cosim::ProtocolRegistry&) {}
#else
extern "C" __attribute__((visibility("default"))) int not_a_plugin() { return 0; }
#endif
