#pragma once
// A user's design loaded at run time (built by dut_build.hpp): the shared library's C interface, one
// simulation instance of it, and its ports as pins that chipref's protocol drivers write and read by
// name, in lanes of any width, signed or not.

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "rtl_bridge/dut_build.hpp"

namespace chipref::cosim {

// Bumped whenever the generated wrapper's C interface changes (it is part of the build cache's hash).
inline constexpr int kDutAbiVersion = 1;

// A port's storage inside the Verilated model: a little-endian bit field of `port.width()` bits in
// `port.bytes` bytes (Verilator's CData/SData/IData/QData integers and VlWide word arrays alike, on
// the little-endian hosts chipref runs on).
class Pin {
 public:
  Pin() = default;
  Pin(const DutPort* port, uint8_t* data)
      : port_(port),
        data_(data),
        width_(port->width()),
        bytes_(port->bytes),
        whole_(width_ < 64 && bytes_ <= 8 ? width_ : -1) {}
  explicit operator bool() const { return data_ != nullptr; }
  const DutPort& port() const { return *port_; }

  // Bits [lane·width, (lane+1)·width) of the port, width ≤ 64. A handle: writes the model, not the Pin.
  // The common cases (a whole port of one integer: flags, the clock; a lane of 8, 16, 32 or 64 bits at a byte
  // offset) inline here: they are most of a cycle's writes and reads, which the cosim harness does per beat.
  [[gnu::always_inline]] void set_lane(int64_t lane, int width, int64_t value) const {
    if (lane == 0 && width == whole_) {
      const uint64_t mask = (uint64_t{1} << width) - 1;  // the storage's bits above the port stay as they are
      return store_whole((load_whole() & ~mask) | (static_cast<uint64_t>(value) & mask));
    }
    if (byte_lane(lane, width)) return store_bytes(lane * width / 8, width / 8, static_cast<uint64_t>(value));
    set_lane_bits(lane, width, value);
  }
  [[gnu::always_inline]] int64_t lane(int64_t lane, int width, bool is_signed) const {
    uint64_t raw;
    if (lane == 0 && width == whole_)
      raw = load_whole() & ((uint64_t{1} << width) - 1);
    else if (byte_lane(lane, width))
      raw = load_bytes(lane * width / 8, width / 8);
    else
      raw = lane_bits(lane, width);
    if (is_signed && width < 64 && (raw >> (width - 1)) & 1) return static_cast<int64_t>(raw | (~uint64_t{0} << width));
    return static_cast<int64_t>(raw);
  }
  // Lanes 0..n−1 of `width` bits: values[i] − offset each (a bus's beat in one call), each in [lo, hi]. On
  // the first value out of range, returns false with the lanes before its block of 16 written.
  bool set_lanes(int width, const int32_t* values, int64_t n, int64_t offset, int64_t lo, int64_t hi) const {
    if (n > 0 && byte_lane(n - 1, width)) return narrow_lanes(width, values, n, offset, lo, hi, data_);
    return set_lanes_bits(width, values, n, offset, lo, hi);
  }
  // Whether lanes 0..n−1 of `width` bits are whole bytes of the storage: their bus is then n·width/8 bytes
  // from the storage's start, which narrow_lanes() writes and set_bytes() copies in.
  bool byte_lanes(int width, int64_t n) const { return n > 0 && byte_lane(n - 1, width); }
  [[gnu::always_inline]] void set_bytes(const uint8_t* bytes, size_t count) const {
    size_t i = 0;  // in words of 8 bytes, inline: a bus is tens of bytes, too few for a library call
    for (; i + 8 <= count; i += 8) std::memcpy(data_ + i, bytes + i, 8);
    if (i < count) std::memcpy(data_ + i, bytes + i, count - i);
  }
  // values[i] − offset as little-endian lanes of `width` bits (8, 16, 32 or 64) at `out`; false on the first
  // value out of [lo, hi], with the lanes before its block of 16 written.
  static bool narrow_lanes(int width, const int32_t* values, int64_t n, int64_t offset, int64_t lo, int64_t hi,
                           uint8_t* out);
  void set(int64_t value) const { set_lane(0, width_ < 64 ? width_ : 64, value); }
  bool high() const { return lane(0, 1, false) != 0; }

 private:
  bool byte_lane(int64_t lane, int width) const {
    return (width == 8 || width == 16 || width == 32 || width == 64) && (lane + 1) * width <= 8 * bytes_;
  }
  // Copies of a constant size, so they compile to one load or store.
  template <class Copy>
  [[gnu::always_inline]] static void sized(int bytes, Copy copy) {
    switch (bytes) {
      case 1:
        return copy(std::integral_constant<size_t, 1>{});
      case 2:
        return copy(std::integral_constant<size_t, 2>{});
      case 4:
        return copy(std::integral_constant<size_t, 4>{});
      default:
        return copy(std::integral_constant<size_t, 8>{});
    }
  }
  // Little-endian host: an integer's low bytes come first.
  [[gnu::always_inline]] void store_bytes(int64_t first, int bytes, uint64_t value) const {
    sized(bytes, [&](auto n) { std::memcpy(data_ + first, &value, n); });
  }
  [[gnu::always_inline]] uint64_t load_bytes(int64_t first, int bytes) const {
    uint64_t raw = 0;
    sized(bytes, [&](auto n) { std::memcpy(&raw, data_ + first, n); });
    return raw;
  }
  [[gnu::always_inline]] void store_whole(uint64_t value) const { store_bytes(0, bytes_, value); }
  [[gnu::always_inline]] uint64_t load_whole() const { return load_bytes(0, bytes_); }
  void set_lane_bits(int64_t lane, int width, int64_t value) const;
  bool set_lanes_bits(int width, const int32_t* values, int64_t n, int64_t offset, int64_t lo, int64_t hi) const;
  uint64_t lane_bits(int64_t lane, int width) const;

  const DutPort* port_ = nullptr;
  uint8_t* data_ = nullptr;
  // The port's width and storage bytes, kept here: the harness writes and reads pins several times a
  // cycle, and these decide each access's path.
  int width_ = 0, bytes_ = 0;
  int whole_ = -1;  // the width when the port is one integer of < 64 bits (flags, the clock), else −1
};

// One simulation instance of a design, whatever made it: a user's design loaded at run time
// (DutInstance) or a reference block linked into chipref (linked_design.hpp). The Harness drives both.
class DesignInstance {
 public:
  virtual ~DesignInstance() = default;
  virtual const std::vector<DutPort>& ports() const = 0;
  virtual Pin pin(const std::string& port_name) const = 0;  // InputError if the design has no such port
  virtual void eval() = 0;
  // Writes an FST waveform from now on to `path` (the instance must have been created traced).
  virtual void open_trace(const std::string& path) = 0;
  virtual void dump(uint64_t time) = 0;
};

// Makes a fresh instance (traced: able to write a waveform).
using DesignMaker = std::function<std::unique_ptr<DesignInstance>(bool traced)>;

class DutLibrary;

// One instance of a built design: its own Verilator context, so instances never share state.
class DutInstance final : public DesignInstance {
 public:
  DutInstance(std::shared_ptr<const DutLibrary> library, bool traced);
  ~DutInstance() override;
  DutInstance(const DutInstance&) = delete;
  DutInstance& operator=(const DutInstance&) = delete;

  const std::vector<DutPort>& ports() const override;
  Pin pin(const std::string& port_name) const override;
  void eval() override;
  void open_trace(const std::string& path) override;
  void dump(uint64_t time) override;

 private:
  std::shared_ptr<const DutLibrary> library_;
  void* handle_ = nullptr;
  bool tracing_ = false;
};

// The loaded shared library of a built design.
class DutLibrary {
 public:
  explicit DutLibrary(const BuiltDut& built);
  ~DutLibrary();
  DutLibrary(const DutLibrary&) = delete;
  DutLibrary& operator=(const DutLibrary&) = delete;
  const std::vector<DutPort>& ports() const { return built_.ports; }
  const BuiltDut& built() const { return built_; }

 private:
  friend class DutInstance;
  BuiltDut built_;
  void* handle_ = nullptr;
  void* (*create_)(int) = nullptr;
  void (*destroy_)(void*) = nullptr;
  void (*eval_)(void*) = nullptr;
  int (*trace_open_)(void*, const char*) = nullptr;
  void (*trace_dump_)(void*, uint64_t) = nullptr;
  void* (*port_)(void*, int) = nullptr;
};

}  // namespace chipref::cosim
