#include "kernels/simd.hpp"

#include <atomic>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "kernels/amx.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace chipref::kernels {

namespace {
#if defined(__x86_64__)
// AMX-TILE and AMX-INT8 (CPUID leaf 7, EDX bits 24 and 25), the OS saving the tile state (XCR0 bits 17 and
// 18, read after checking OSXSAVE), and Linux's leave to use it in this process: asked once.
bool amx_usable() {
  static const bool usable = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) return false;
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & (3u << 17)) != (3u << 17)) return false;
    return amx::request_tile_state();
  }();
  return usable;
}
#endif

SimdLevel best_level() {
  for (SimdLevel l : {SimdLevel::amx_int8, SimdLevel::avx512_vnni, SimdLevel::avx2})
    if (cpu_supports(l)) return l;
  return SimdLevel::portable;
}

SimdLevel initial_level() {
  const char* env = std::getenv("CHIPREF_SIMD");
  if (!env || !*env) return best_level();
  for (SimdLevel l : kSimdLevels)
    if (to_string(l) == env) {
      if (!cpu_supports(l)) throw InputError("CHIPREF_SIMD=" + std::string(env) + ": this CPU does not support it");
      return l;
    }
  throw InputError("CHIPREF_SIMD='" + std::string(env) +
                   "' is not a kernel level; expected per_addition, portable, avx2, avx512_vnni or amx_int8");
}

std::atomic<SimdLevel>& active() {
  static std::atomic<SimdLevel> level{initial_level()};
  return level;
}
}  // namespace

std::string_view to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::per_addition:
      return "per_addition";
    case SimdLevel::portable:
      return "portable";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::avx512_vnni:
      return "avx512_vnni";
    case SimdLevel::amx_int8:
      return "amx_int8";
  }
  return "?";
}

bool cpu_supports(SimdLevel level) {
  if (level < SimdLevel::avx2) return true;
#if defined(__x86_64__)
  if (level == SimdLevel::avx2) return __builtin_cpu_supports("avx2");
  if (level == SimdLevel::amx_int8 && !amx_usable()) return false;  // its non-GEMM kernels are avx512_vnni's
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

SimdLevel simd_level() { return active().load(std::memory_order_relaxed); }

void set_simd_level(SimdLevel level) {
  if (!cpu_supports(level))
    throw InputError("kernel level " + std::string(to_string(level)) + " is not supported by this CPU");
  active().store(level, std::memory_order_relaxed);
}

}  // namespace chipref::kernels
