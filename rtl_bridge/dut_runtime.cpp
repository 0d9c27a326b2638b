#include "rtl_bridge/dut_runtime.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/error.hpp"

namespace chipref::cosim {

namespace {
using Window = unsigned __int128;  // a lane of ≤ 64 bits at any bit offset spans at most 9 bytes

// The bytes [first, first + count) of a port's storage as an integer, clipped to its size.
Window load(const uint8_t* data, int bytes, int64_t first, int64_t count) {
  Window w = 0;
  for (int64_t i = std::min<int64_t>(first + count, bytes) - 1; i >= first; --i) w = (w << 8) | data[i];
  return w;
}
void store(uint8_t* data, int bytes, int64_t first, int64_t count, Window w) {
  for (int64_t i = first; i < std::min<int64_t>(first + count, bytes); ++i, w >>= 8) data[i] = static_cast<uint8_t>(w);
}

}  // namespace

// The general lane: any width up to 64 at any bit offset, through a bit window, the port's other bits kept.
void Pin::set_lane_bits(int64_t lane, int width, int64_t value) const {
  const int64_t bit = lane * width, first = bit / 8, shift = bit % 8;
  const Window mask = ((Window{1} << width) - 1) << shift;
  Window w = load(data_, port_->bytes, first, 9);
  w = (w & ~mask) | ((static_cast<Window>(static_cast<uint64_t>(value)) << shift) & mask);
  store(data_, port_->bytes, first, 9, w);
}

uint64_t Pin::lane_bits(int64_t lane, int width) const {
  const int64_t bit = lane * width, first = bit / 8, shift = bit % 8;
  return static_cast<uint64_t>((load(data_, port_->bytes, first, 9) >> shift) & ((Window{1} << width) - 1));
}

namespace {
// values[i] − offset in [lo, hi] ⇔ values[i] in [lo + offset, hi + offset], compared in 32 bits; false if
// no int32 value is in range.
bool value_range(int64_t offset, int64_t lo, int64_t hi, int32_t& lo32, int32_t& hi32) {
  const __int128 low = static_cast<__int128>(lo) + offset, high = static_cast<__int128>(hi) + offset;
  if (low > INT32_MAX || high < INT32_MIN) return false;
  lo32 = static_cast<int32_t>(std::max<__int128>(low, INT32_MIN));
  hi32 = static_cast<int32_t>(std::min<__int128>(high, INT32_MAX));
  return true;
}
}  // namespace

bool Pin::narrow_lanes(int width, const int32_t* values, int64_t n, int64_t offset, int64_t lo, int64_t hi,
                       uint8_t* out) {
  int32_t lo32 = 0, hi32 = 0;
  if (!value_range(offset, lo, hi, lo32, hi32)) return n == 0;
  const auto in_range = [&](int32_t v) { return (v >= lo32) & (v <= hi32); };
  bool ok = true;
  sized(width / 8, [&](auto bytes) {
    using Lane =
        std::conditional_t<bytes == 1, int8_t,
                           std::conditional_t<bytes == 2, int16_t, std::conditional_t<bytes == 4, int32_t, int64_t>>>;
    // Blocks of 16 lanes checked and narrowed in registers (loops of known length, which the compiler
    // vectorizes: a beat is one pass over its values) and stored with one copy each; the rest one by one.
    int64_t i = 0;
    for (; i + 16 <= n && ok; i += 16) {
      Lane block[16];
      int good = 1;
      for (int j = 0; j < 16; ++j) {
        good &= in_range(values[i + j]);
        block[j] = static_cast<Lane>(values[i + j] - offset);
      }
      if (!good) return void(ok = false);
      std::memcpy(out + i * static_cast<int64_t>(bytes), block, sizeof block);
    }
    for (; i < n && ok; ++i) {
      if (!in_range(values[i])) return void(ok = false);
      const auto value = static_cast<Lane>(values[i] - offset);
      std::memcpy(out + i * static_cast<int64_t>(bytes), &value, bytes);
    }
  });
  return ok;
}

bool Pin::set_lanes_bits(int width, const int32_t* values, int64_t n, int64_t offset, int64_t lo, int64_t hi) const {
  int32_t lo32 = 0, hi32 = 0;
  if (!value_range(offset, lo, hi, lo32, hi32)) return n == 0;
  for (int64_t i = 0; i < n; ++i) {
    if (values[i] < lo32 || values[i] > hi32) return false;
    set_lane(i, width, values[i] - offset);
  }
  return true;
}

DutLibrary::DutLibrary(const BuiltDut& built) : built_(built) {
  // RTLD_LOCAL: the design's copy of the Verilator runtime stays its own (the library is linked
  // -Bsymbolic with hidden symbols), apart from the one chipref's reference blocks use.
  handle_ = dlopen(built_.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) throw InputError(built_.library + ": cannot load the built design: " + dlerror());
  auto symbol = [&](auto& fn, const char* name) {
    void* s = dlsym(handle_, name);
    if (!s)
      throw InputError(built_.library + ": not a chipref DUT library (no " + name + "); delete " + built_.directory +
                       " to rebuild it");
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(s);
  };
  int (*abi)() = nullptr;
  symbol(abi, "chipref_dut_abi");
  if (abi() != kDutAbiVersion)
    throw InputError(built_.library + ": built for DUT interface " + std::to_string(abi()) + ", this chipref loads " +
                     std::to_string(kDutAbiVersion) + "; delete " + built_.directory + " to rebuild it");
  symbol(create_, "chipref_dut_create");
  symbol(destroy_, "chipref_dut_destroy");
  symbol(eval_, "chipref_dut_eval");
  symbol(trace_open_, "chipref_dut_trace_open");
  symbol(trace_dump_, "chipref_dut_trace_dump");
  symbol(port_, "chipref_dut_port");
}

DutLibrary::~DutLibrary() {
  if (handle_) dlclose(handle_);
}

DutInstance::DutInstance(std::shared_ptr<const DutLibrary> library, bool traced) : library_(std::move(library)) {
  handle_ = library_->create_(traced ? 1 : 0);
}

DutInstance::~DutInstance() { library_->destroy_(handle_); }

const std::vector<DutPort>& DutInstance::ports() const { return library_->ports(); }

Pin DutInstance::pin(const std::string& port_name) const {
  const std::vector<DutPort>& ports = library_->ports();
  for (size_t i = 0; i < ports.size(); ++i)
    if (ports[i].name == port_name)
      return Pin(&ports[i], static_cast<uint8_t*>(library_->port_(handle_, static_cast<int>(i))));
  throw InputError("the design has no port '" + port_name + "'");
}

void DutInstance::eval() { library_->eval_(handle_); }

void DutInstance::open_trace(const std::string& path) {
  if (!library_->trace_open_(handle_, path.c_str())) throw InputError(path + ": cannot write the FST trace");
  tracing_ = true;
}

void DutInstance::dump(uint64_t time) {
  if (tracing_) library_->trace_dump_(handle_, time);
}

}  // namespace chipref::cosim
