// libsystemc.so defines main() and references sc_main; chipref's programs have their own main() and
// run SystemC through SystemCEngine, so this is never called. It resolves the library's reference. It
// is compiled into every program that links chipref_systemc (an INTERFACE source): as a member of the
// static library it would only be linked when something else pulled it in. Visible by default: the Python
// module is compiled with hidden symbols, and libsystemc.so must still find this one.
#include <cstdio>

extern "C" __attribute__((visibility("default"))) int sc_main(int, char*[]) {  // SystemC declares it extern "C"
  std::fprintf(stderr, "chipref: sc_main is not an entry point\n");
  return 1;
}
