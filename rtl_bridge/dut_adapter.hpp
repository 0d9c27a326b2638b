#pragma once
// The YAML adapter of `chipref cosim --dut` (docs/cosim.md "Bring your own DUT"): which of chipref's
// blocks a user's design implements, the protocol it speaks, its clock and reset, and which of its
// ports plays each role. Roles are the reference blocks' own port names (in_acc, out_code, in_act,
// cfg_zero_point, ...), so a design can be described as "the reference block, with these names".

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rtl_bridge/dut_build.hpp"

namespace chipref::cosim {

// One role bound to a port: lanes of `lane_width` bits (one lane unless the role is a vector of the
// array's rows or columns), read or written signed or not.
struct RoleBinding {
  std::string role, port, where;  // `where`: FILE:LINE:COLUMN of the binding in the adapter
  // `ports: [...]`: the lanes split over several ports in order (a port per row or column of a matrix),
  // each carrying lanes / ports.size() consecutive lanes; `port` is then the first. Empty: one port.
  std::vector<std::string> ports;
  int lane_width = 0;
  int64_t lanes = 1;
  bool is_signed = true;
  int64_t lanes_per_port() const { return ports.empty() ? lanes : lanes / static_cast<int64_t>(ports.size()); }
};

// The whole_matrix protocol's keys (a MAC array taking whole matrices; docs/cosim.md).
enum class MatrixLayout { row_major, column_major };
struct WholeMatrixKeys {
  int64_t depth = 0;                   // K of one block: in_a is rows × depth, in_b depth × cols
  bool accumulate_in_dut = false;      // `accumulate: dut`: the design sums a tile's K chunks (harness: chipref does)
  int64_t a_offset = 0, b_offset = 0;  // added to every activation / weight code sent (e.g. 128: s8 sent as u8)
  MatrixLayout a_layout = MatrixLayout::row_major, b_layout = MatrixLayout::row_major,
               c_layout = MatrixLayout::row_major;
};

struct DutAdapter {
  std::string path;
  std::string block;           // mulshift | lut | mac_array | sparse | mx_dot
  std::string protocol;        // a name in dut_protocols() (rtl_bridge/dut_protocol.hpp)
  int64_t rows = 0, cols = 0;  // mac_array: the array's size
  int64_t n = 0, m = 0;        // sparse: the N:M pattern
  // mx_dot: the elements of one block it takes (the lanes of in_a and in_w), and the formats it multiplies
  int64_t block_lanes = 0;
  std::string activation_format, weight_format;
  int64_t latency = 0;     // protocols that take it (fixed_latency): rising edges from the in_valid pulse to the output
  WholeMatrixKeys matrix;  // the whole_matrix protocol's
  std::string clock, where_clock;
  std::string reset;  // empty: no reset port
  bool reset_active_high = false;
  int64_t reset_cycles = 2;
  std::map<std::string, std::string> parameters;  // top-level parameters (Verilator -G), part of the build
  std::map<std::string, RoleBinding> roles;
  bool has(const std::string& role) const { return roles.count(role) != 0; }
};

// Reads and checks an adapter file: every error names FILE:LINE:COLUMN, the key and what was expected
// (the roles of the block and protocol, the protocols of the block, ...).
DutAdapter load_dut_adapter(const std::string& path);

// The adapter of a design whose ports carry the roles' own names (the reference blocks): `block` on its
// first protocol (valid_ready; matrix_tiles for a mac_array), clock `clk`, reset `rst_n` active low for
// two cycles, every role of the block and protocol bound to the port of its name where the design has
// one, then bound as bind_dut_ports does. rtl_bridge/adapters/<block>.yaml says the same in YAML.
DutAdapter identity_adapter(const std::string& block, const std::vector<DutPort>& ports, int64_t rows = 0,
                            int64_t cols = 0, int64_t n = 0, int64_t m = 0, int64_t block_lanes = 0);

// Checks the adapter against the design's ports (each bound port exists, has the role's direction, and
// its width holds the lanes; clock and reset are 1-bit inputs) and fills in lane widths the adapter left
// out (the port's width over the lanes). InputError at the binding's line otherwise.
void bind_dut_ports(DutAdapter& adapter, const std::vector<DutPort>& ports);

}  // namespace chipref::cosim
