#include "kernels/amx.hpp"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) && defined(__AMX_INT8__)
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernels/avx512.hpp"

namespace chipref::kernels::amx {

namespace {
// The tiles: C accumulators 0..3 (tile 2·i + j: row block i, column panel j), A (weights) 4 and 5, B
// (packed columns) 6 and 7; every one 16 rows of 64 bytes, so one configuration serves every call.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};
constexpr int64_t kTileRows = 16, kTileBytes = 64;

// Where one block's operands lie. A: 16-row tiles of 64 bytes, `lda` bytes from row to row (row block i at
// a + 16·i·lda). B: for each group of four reduction bytes, a 64-byte tile row, `b_group` bytes from group to
// group (panel j at b + j·b_panel). Bias: a 16 × 16 int32 tile to start each accumulator from, at bias +
// i·bias_block + j·bias_panel.
struct TileOperands {
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t b_group = 0, b_panel = 0;
  const int32_t* bias = nullptr;
  int64_t bias_block = 0, bias_panel = 0;
};

// BLOCKS × 16 rows of C by PANELS × 16 columns over the whole padded reduction kp: the accumulators start
// at the bias tiles, then one dot-product instruction per tile pair and 64 bytes of reduction: TDPBSUD (A
// signed, B unsigned: a convolution's weights × its packed input) or TDPBUSD (A unsigned, B signed: a
// linear layer's activations × its weight panels). valid_rows × valid_cols of C are stored; the rest
// (another group's channels, the zero rows after the last, outputs past the last) was computed and is
// dropped.
template <int BLOCKS, int PANELS, bool kSignedA>
void tile_block(const TileOperands& o, int64_t kp, int64_t valid_rows, int64_t valid_cols, int32_t* c, int64_t ldc) {
  const auto* a = static_cast<const uint8_t*>(o.a);
  const auto* b = static_cast<const uint8_t*>(o.b);
  _tile_loadd(0, o.bias, kTileBytes);
  if constexpr (PANELS == 2) _tile_loadd(1, o.bias + o.bias_panel, kTileBytes);
  if constexpr (BLOCKS == 2) {
    _tile_loadd(2, o.bias + o.bias_block, kTileBytes);
    if constexpr (PANELS == 2) _tile_loadd(3, o.bias + o.bias_block + o.bias_panel, kTileBytes);
  }
  // (GCC's tile intrinsics paste the tile number into the assembly: every tile is named literally)
  for (int64_t k = 0; k < kp; k += kTileBytes) {
    const uint8_t* bk = b + k / 4 * o.b_group;
    _tile_loadd(4, a + k, o.lda);
    _tile_loadd(6, bk, o.b_group);
    if constexpr (PANELS == 2) _tile_loadd(7, bk + o.b_panel, o.b_group);
    // the second row block's A loaded after the first block's products are issued, as they overlap
    if constexpr (kSignedA) {
      _tile_dpbsud(0, 4, 6);
      if constexpr (PANELS == 2) _tile_dpbsud(1, 4, 7);
    } else {
      _tile_dpbusd(0, 4, 6);
      if constexpr (PANELS == 2) _tile_dpbusd(1, 4, 7);
    }
    if constexpr (BLOCKS == 2) {
      _tile_loadd(5, a + kTileRows * o.lda + k, o.lda);
      if constexpr (kSignedA) {
        _tile_dpbsud(2, 5, 6);
        if constexpr (PANELS == 2) _tile_dpbsud(3, 5, 7);
      } else {
        _tile_dpbusd(2, 5, 6);
        if constexpr (PANELS == 2) _tile_dpbusd(3, 5, 7);
      }
    }
  }
  alignas(64) int32_t partial[kTileRows * 16];
  // a tile into C: straight when all of it is wanted, else through `partial`
  auto store = [&](int64_t block, int64_t panel, auto store_tile) {
    int32_t* to = c + block * kTileRows * ldc + panel * 16;
    const int64_t rows = std::min<int64_t>(kTileRows, valid_rows - block * kTileRows);
    const int64_t cols = std::min<int64_t>(16, valid_cols - panel * 16);
    if (rows == kTileRows && cols == 16) {
      store_tile(to, ldc * static_cast<int64_t>(sizeof(int32_t)));
      return;
    }
    store_tile(partial, kTileBytes);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(to + r * ldc, partial + r * 16, static_cast<size_t>(cols) * sizeof(int32_t));
  };
  store(0, 0, [](int32_t* to, int64_t stride) { _tile_stored(0, to, stride); });
  if constexpr (PANELS == 2) store(0, 1, [](int32_t* to, int64_t stride) { _tile_stored(1, to, stride); });
  if constexpr (BLOCKS == 2) {
    store(1, 0, [](int32_t* to, int64_t stride) { _tile_stored(2, to, stride); });
    if constexpr (PANELS == 2) store(1, 1, [](int32_t* to, int64_t stride) { _tile_stored(3, to, stride); });
  }
}

// tile_block for up to 2 × 16 valid rows and 2 × 16 valid columns: the instantiation that covers them.
template <bool kSignedA>
void tile_block(const TileOperands& o, int64_t kp, int64_t valid_rows, int64_t valid_cols, int32_t* c, int64_t ldc) {
  if (valid_rows > kTileRows) {
    if (valid_cols > 16)
      tile_block<2, 2, kSignedA>(o, kp, valid_rows, valid_cols, c, ldc);
    else
      tile_block<2, 1, kSignedA>(o, kp, valid_rows, valid_cols, c, ldc);
  } else if (valid_cols > 16) {
    tile_block<1, 2, kSignedA>(o, kp, valid_rows, valid_cols, c, ldc);
  } else {
    tile_block<1, 1, kSignedA>(o, kp, valid_rows, valid_cols, c, ldc);
  }
}

void load_tile_config() {
  TileConfig config;
  for (int t = 0; t < 8; ++t) config.rows[t] = kTileRows, config.bytes_per_row[t] = kTileBytes;
  _tile_loadconfig(&config);
}
}  // namespace

bool request_tile_state() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtileData = 18;  // asm/prctl.h, the kernel's xstate docs
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtileData) == 0;
#else
  return false;
#endif
}

std::vector<int8_t> pack_weights(const int8_t* packed8, int64_t out_channels, int64_t kq) {
  const int64_t kp = padded_k(kq);
  std::vector<int8_t> out(static_cast<size_t>((out_channels + kTileRows - 1) * kp), 0);
  for (int64_t m = 0; m < out_channels; ++m) std::copy(packed8 + m * kq, packed8 + (m + 1) * kq, out.data() + m * kp);
  return out;
}

void gemm_u8s8(const int8_t* a, const uint8_t* const* b_rows, int64_t rows, int64_t kq, int64_t np, const int32_t* bias,
               int32_t* c, int64_t ldc) {
  const int64_t kp = padded_k(kq);
  load_tile_config();
  // B: two 16-column panels interleaved per group of four reduction rows (the groups from kq/4 to kp/4 meet
  // zero weights, whatever they hold); the bias as 16-wide rows, zero past `rows` up to the next 32
  thread_local std::vector<uint8_t> packed;
  thread_local std::vector<int32_t> bias_rows;
  if (packed.size() < static_cast<size_t>(kp / 4 * 2 * kTileBytes))
    packed.resize(static_cast<size_t>(kp / 4 * 2 * kTileBytes));
  const int64_t padded_rows = (rows + 31) / 32 * 32;
  bias_rows.assign(static_cast<size_t>(padded_rows * 16), 0);
  if (bias)
    for (int64_t m = 0; m < rows; ++m) std::fill_n(bias_rows.data() + m * 16, 16, bias[m]);
  for (int64_t p0 = 0; p0 < np; p0 += 32) {
    const int panels = p0 + 32 <= np ? 2 : 1;
    for (int j = 0; j < panels; ++j)
      avx512::pack_quads(b_rows, p0 + 16 * j, kq, packed.data() + kTileBytes * j, kTileBytes * panels);
    for (int64_t m = 0; m < rows; m += 2 * kTileRows) {
      // weights × packed input; the bias tiles differ by row block, not by panel
      TileOperands o;
      o.a = a + m * kp, o.lda = kp, o.b = packed.data(), o.b_group = kTileBytes * panels, o.b_panel = kTileBytes;
      o.bias = bias_rows.data() + m * 16, o.bias_block = kTileRows * 16, o.bias_panel = 0;
      tile_block<true>(o, kp, std::min<int64_t>(2 * kTileRows, rows - m), 16 * panels, c + m * ldc + p0, ldc);
    }
  }
  _tile_release();
}

std::vector<int8_t> pack_weight_panels(const int8_t* packed8, int64_t out, int64_t kq) {
  const int64_t kp = padded_k(kq), panel_bytes = kp * 16;
  std::vector<int8_t> panels(static_cast<size_t>((out + 15) / 16 * panel_bytes), 0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < kq; ++k)
      panels[o / 16 * panel_bytes + k / 4 * kTileBytes + o % 16 * 4 + k % 4] = packed8[o * kq + k];
  return panels;
}

void linear_u8s8(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* w_panels, int64_t kq, int64_t o0,
                 int64_t o1, const int32_t* bias, int32_t* c, int64_t ldc) {
  const int64_t kp = padded_k(kq), panel_bytes = kp * 16;
  load_tile_config();
  thread_local std::vector<int32_t> bias_tiles;  // per panel: 16 rows of its 16 outputs' biases
  const int64_t panels = (o1 - o0 + 15) / 16;
  bias_tiles.assign(static_cast<size_t>(panels * kTileRows * 16), 0);
  if (bias)
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t r = 0; r < kTileRows; ++r)
        bias_tiles[((o - o0) / 16 * kTileRows + r) * 16 + (o - o0) % 16] = bias[o];
  for (int64_t p = 0; p < panels; p += 2) {
    const int64_t o = o0 + 16 * p;
    for (int64_t r = 0; r < rows; r += 2 * kTileRows) {
      // activations × weight panels; the bias tiles differ by panel, not by row block
      TileOperands operands;
      operands.a = a + r * lda, operands.lda = lda;
      operands.b = w_panels + o / 16 * panel_bytes, operands.b_group = kTileBytes, operands.b_panel = panel_bytes;
      operands.bias = bias_tiles.data() + p * kTileRows * 16, operands.bias_block = 0;
      operands.bias_panel = kTileRows * 16;
      tile_block<false>(operands, kp, std::min<int64_t>(2 * kTileRows, rows - r), std::min<int64_t>(32, o1 - o),
                        c + r * ldc + o, ldc);
    }
  }
  _tile_release();
}

}  // namespace chipref::kernels::amx

#else  // no AMX in this build: cpu_supports(amx_int8) is false, so nothing here is called

namespace chipref::kernels::amx {
bool request_tile_state() { return false; }
std::vector<int8_t> pack_weights(const int8_t*, int64_t, int64_t) { return {}; }
void gemm_u8s8(const int8_t*, const uint8_t* const*, int64_t, int64_t, int64_t, const int32_t*, int32_t*, int64_t) {}
std::vector<int8_t> pack_weight_panels(const int8_t*, int64_t, int64_t) { return {}; }
void linear_u8s8(const uint8_t*, int64_t, int64_t, const int8_t*, int64_t, int64_t, int64_t, const int32_t*, int32_t*,
                 int64_t) {}
}  // namespace chipref::kernels::amx

#endif
