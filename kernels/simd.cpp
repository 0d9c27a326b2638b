#include "kernels/simd.hpp"

#include <atomic>
#include <cstdlib>
#include <string>

#include "core/error.hpp"

namespace chipref::kernels {

namespace {
SimdLevel best_level() {
  for (SimdLevel l : {SimdLevel::avx512_vnni, SimdLevel::avx2})
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
                   "' is not a kernel level; expected per_addition, portable, avx2 or avx512_vnni");
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
  }
  return "?";
}

bool cpu_supports(SimdLevel level) {
  if (level < SimdLevel::avx2) return true;
#if defined(__x86_64__)
  if (level == SimdLevel::avx2) return __builtin_cpu_supports("avx2");
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
