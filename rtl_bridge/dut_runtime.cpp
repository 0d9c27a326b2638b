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

// Lanes of 8, 16, 32 or 64 bits at a byte offset (the usual buses) are copied as they are, the low bytes
// of the value first (little-endian host), in copies of a constant size (the per-beat hot path); any other
// lane goes through a bit window.
bool whole_bytes(int64_t bit, int width, int64_t port_bytes) {
  return bit % 8 == 0 && (width == 8 || width == 16 || width == 32 || width == 64) && bit / 8 + width / 8 <= port_bytes;
}
template <class Copy>
void with_constant_size(int width, Copy copy) {
  switch (width) {
    case 8:
      return copy(std::integral_constant<size_t, 1>{});
    case 16:
      return copy(std::integral_constant<size_t, 2>{});
    case 32:
      return copy(std::integral_constant<size_t, 4>{});
    default:
      return copy(std::integral_constant<size_t, 8>{});
  }
}

}  // namespace

void Pin::set_lane(int64_t lane, int width, int64_t value) const {
  const int64_t bit = lane * width, first = bit / 8, shift = bit % 8;
  if (whole_bytes(bit, width, port_->bytes))
    return with_constant_size(width, [&](auto bytes) { std::memcpy(data_ + first, &value, bytes); });
  if (bit == 0 && width < 64 && port_->bytes <= 8) {  // a port of one integer (flags, narrow fields)
    return with_constant_size(8 * port_->bytes, [&](auto bytes) {
      uint64_t word = 0;
      std::memcpy(&word, data_, bytes);
      const uint64_t mask = (uint64_t{1} << width) - 1;
      word = (word & ~mask) | (static_cast<uint64_t>(value) & mask);
      std::memcpy(data_, &word, bytes);
    });
  }
  const Window mask = ((Window{1} << width) - 1) << shift;
  Window w = load(data_, port_->bytes, first, 9);
  w = (w & ~mask) | ((static_cast<Window>(static_cast<uint64_t>(value)) << shift) & mask);
  store(data_, port_->bytes, first, 9, w);
}

void Pin::set_lanes(int width, const int32_t* values, int64_t n, int64_t offset) const {
  if (n > 0 && whole_bytes((n - 1) * width, width, port_->bytes)) {
    with_constant_size(width, [&](auto bytes) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t value = values[i] - offset;
        std::memcpy(data_ + i * static_cast<int64_t>(bytes), &value, bytes);
      }
    });
    return;
  }
  for (int64_t i = 0; i < n; ++i) set_lane(i, width, values[i] - offset);
}

int64_t Pin::lane(int64_t lane, int width, bool is_signed) const {
  const int64_t bit = lane * width, first = bit / 8, shift = bit % 8;
  uint64_t raw = 0;
  if (whole_bytes(bit, width, port_->bytes))
    with_constant_size(width, [&](auto bytes) { std::memcpy(&raw, data_ + first, bytes); });
  else if (bit == 0 && width < 64 && port_->bytes <= 8)  // a port of one integer (flags, narrow fields)
    with_constant_size(8 * port_->bytes, [&](auto bytes) {
      std::memcpy(&raw, data_, bytes);
      raw &= (uint64_t{1} << width) - 1;
    });
  else
    raw = static_cast<uint64_t>((load(data_, port_->bytes, first, 9) >> shift) & ((Window{1} << width) - 1));
  if (is_signed && width < 64 && (raw >> (width - 1)) & 1) return static_cast<int64_t>(raw | (~uint64_t{0} << width));
  return static_cast<int64_t>(raw);
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
