#include "rtl_bridge/dut_adapter.hpp"

#include <algorithm>

#include "core/yaml_reader.hpp"
#include "numerics/block_format.hpp"
#include "rtl_bridge/dut_protocol.hpp"

namespace chipref::cosim {

namespace {

// kept: N of an N:M pattern, group: M; fixed: `fixed_lanes` (a protocol's own data roles)
enum class Lanes { one, rows, cols, kept, group, block, fixed };

struct RoleSpec {
  std::string name;
  bool input;
  Lanes lanes;
  bool is_signed;
  bool required;
  int64_t fixed_lanes = 0;
};

// The roles of each block: the reference block's data and configuration ports (rtl/*.sv).
const std::map<std::string, std::vector<RoleSpec>>& block_roles() {
  static const std::map<std::string, std::vector<RoleSpec>> roles = {
      {"mulshift",
       {{"in_acc", true, Lanes::one, true, true},
        {"in_multiplier", true, Lanes::one, false, true},
        {"in_shift", true, Lanes::one, true, true},
        {"cfg_multiplier_bits", true, Lanes::one, false, false},
        {"cfg_round_half_up", true, Lanes::one, false, false},
        {"cfg_zero_point", true, Lanes::one, true, false},
        {"cfg_out_min", true, Lanes::one, true, false},
        {"cfg_out_max", true, Lanes::one, true, false},
        {"cfg_clamp_lo", true, Lanes::one, true, false},
        {"cfg_clamp_hi", true, Lanes::one, true, false},
        {"out_code", false, Lanes::one, true, true}}},
      {"lut",
       {{"in_code", true, Lanes::one, true, true},
        {"tbl_we", true, Lanes::one, false, false},
        {"tbl_addr", true, Lanes::one, false, false},
        {"tbl_data", true, Lanes::one, true, false},
        {"cfg_entries", true, Lanes::one, false, false},
        {"cfg_in_min", true, Lanes::one, true, false},
        {"cfg_shift", true, Lanes::one, false, false},
        {"cfg_interpolate", true, Lanes::one, false, false},
        {"cfg_out_min", true, Lanes::one, true, false},
        {"cfg_out_max", true, Lanes::one, true, false},
        {"out_code", false, Lanes::one, true, true}}},
      {"mac_array",
       {{"in_act", true, Lanes::rows, true, true},
        {"in_weight", true, Lanes::cols, true, true},
        {"in_bias", true, Lanes::cols, true, false},
        {"in_first", true, Lanes::one, false, false},
        {"in_last", true, Lanes::one, false, true},
        {"cfg_act_zero_point", true, Lanes::one, true, false},
        {"cfg_weight_zero_point", true, Lanes::one, true, false},
        {"out_acc", false, Lanes::cols, true, true}}},
      {"sparse",
       {{"in_values", true, Lanes::kept, true, true},
        {"in_index", true, Lanes::kept, false, true},
        {"out_dense", false, Lanes::group, true, true}}},
      {"mx_dot",
       {{"in_a", true, Lanes::block, false, true},
        {"in_a_scale", true, Lanes::one, false, true},
        {"in_w", true, Lanes::block, false, true},
        {"in_w_scale", true, Lanes::one, false, true},
        {"out_sum", false, Lanes::one, true, true},
        {"out_exponent", false, Lanes::one, true, true},
        {"out_nan", false, Lanes::one, false, false}}},
  };
  return roles;
}

// The protocols that drive `block`, in dut_protocols() order.
std::vector<std::string> protocols_for(const std::string& block) {
  std::vector<std::string> names;
  for (const auto& [name, p] : dut_protocols()) {
    const std::vector<std::string> blocks = p->blocks();
    if (std::find(blocks.begin(), blocks.end(), block) != blocks.end()) names.push_back(name);
  }
  return names;
}

std::vector<RoleSpec> roles_of(const DutAdapter& a) {
  const DutProtocol& protocol = *find_dut_protocol(a.protocol);
  std::vector<RoleSpec> all;
  for (const DataRole& d : protocol.data_roles(a))
    all.push_back(RoleSpec{d.name, d.input, Lanes::fixed, d.is_signed, d.required, d.lanes});
  if (all.empty()) all = block_roles().at(a.block);
  for (const HandshakeRole& h : protocol.handshake_roles(a))
    all.push_back(RoleSpec{h.name, h.input, Lanes::one, false, h.required});
  return all;
}

// A role's binding before its port is known: signedness and lanes from the block.
RoleBinding binding_of(const DutAdapter& a, const RoleSpec& spec, const std::string& where) {
  RoleBinding b;
  b.role = spec.name, b.where = where, b.is_signed = spec.is_signed;
  b.lanes = spec.lanes == Lanes::rows    ? a.rows
            : spec.lanes == Lanes::cols  ? a.cols
            : spec.lanes == Lanes::kept  ? a.n
            : spec.lanes == Lanes::group ? a.m
            : spec.lanes == Lanes::block ? a.block_lanes
            : spec.lanes == Lanes::fixed ? spec.fixed_lanes
                                         : 1;
  return b;
}

std::string role_names(const std::vector<RoleSpec>& specs) {
  std::string s;
  for (const RoleSpec& r : specs) s += (s.empty() ? "" : ", ") + r.name;
  return s;
}

}  // namespace

namespace {
DutAdapter read_adapter_document(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "adapter file");
  const YamlReader r(path);
  r.expect_map(
      root, "the adapter",
      {"block", "protocol", "rows", "cols", "pattern", "latency", "clock", "reset", "parameters", "ports", "depth",
       "accumulate", "a_offset", "b_offset", "layout", "block_size", "activation_format", "weight_format"});
  for (const char* key : {"block", "protocol", "clock", "ports"})
    if (!root[key]) throw InputError(path + ": the adapter needs '" + key + "' (docs/cosim.md, Bring your own DUT)");
  DutAdapter a;
  a.path = path;
  a.block = r.choice(root["block"], "block", {"mulshift", "lut", "mac_array", "sparse", "mx_dot"});
  const std::vector<std::string> protocols = protocols_for(a.block);
  if (root["protocol"].IsScalar() && !find_dut_protocol(root["protocol"].Scalar()))
    r.fail(root["protocol"], "'protocol' is '" + root["protocol"].Scalar() + "'; expected one of: " +
                                 r.join(protocols) + " (or one of your own: load its plugin with --protocol-plugin)");
  a.protocol = r.choice(root["protocol"], "protocol", protocols);
  if (a.block == "mac_array") {
    for (const char* key : {"rows", "cols"})
      if (!root[key])
        throw InputError(path + ": a mac_array block needs '" + key + "' (the array's size: the tiles chipref feeds)");
    a.rows = r.integer(root["rows"], "rows", 1, 4096), a.cols = r.integer(root["cols"], "cols", 1, 4096);
  } else {
    for (const char* key : {"rows", "cols"})
      if (root[key]) r.fail(root[key], std::string("'") + key + "' is for a mac_array block only");
  }
  if (a.block == "sparse") {
    if (!root["pattern"])
      throw InputError(path + ": a sparse block needs 'pattern' (\"N:M\", the lanes of its groups)");
    const std::string pattern = r.text(root["pattern"], "pattern");
    const size_t colon = pattern.find(':');
    try {
      a.n = std::stoi(pattern.substr(0, colon)), a.m = std::stoi(pattern.substr(colon + 1));
    } catch (const std::exception&) {
      a.n = a.m = 0;
    }
    if (colon == std::string::npos || a.n < 1 || a.m < 2 || a.n > a.m || a.m > 256)
      r.fail(root["pattern"], "'pattern' is '" + pattern + "'; expected \"N:M\" with 1 <= N <= M, 2 <= M <= 256");
  } else if (root["pattern"]) {
    r.fail(root["pattern"], "'pattern' is for a sparse block only");
  }
  if (a.block == "mx_dot") {
    for (const char* key : {"block_size", "activation_format"})
      if (!root[key])
        throw InputError(path + ": an mx_dot block needs '" + key +
                         "' (the elements of a block it takes; the block format it multiplies)");
    a.block_lanes = r.integer(root["block_size"], "block_size", 1, 4096);
    const auto format = [&](const YAML::Node& node, const char* key) {
      try {
        return parse_block_format(r.text(node, key)).name;
      } catch (const InputError& e) {
        r.fail(node, e.what());
      }
    };
    a.activation_format = format(root["activation_format"], "activation_format");
    a.weight_format = root["weight_format"] ? format(root["weight_format"], "weight_format") : a.activation_format;
  } else {
    for (const char* key : {"block_size", "activation_format", "weight_format"})
      if (root[key]) r.fail(root[key], std::string("'") + key + "' is for an mx_dot block only");
  }
  if (root["latency"]) {
    if (!find_dut_protocol(a.protocol)->takes_latency())
      r.fail(root["latency"], "'latency' is not a key of the " + a.protocol + " protocol");
    a.latency = r.integer(root["latency"], "latency", 1, 1 << 20);
  }
  if (find_dut_protocol(a.protocol)->takes_matrix_keys()) {
    if (!root["depth"])
      throw InputError(path + ": the " + a.protocol +
                       " protocol needs 'depth' (K of one block: in_a is rows x depth, in_b depth x cols)");
    a.matrix.depth = r.integer(root["depth"], "depth", 1, 4096);
    if (root["accumulate"])
      a.matrix.accumulate_in_dut = r.choice(root["accumulate"], "accumulate", {"harness", "dut"}) == "dut";
    if (root["a_offset"]) a.matrix.a_offset = r.integer(root["a_offset"], "a_offset", -(1 << 16), 1 << 16);
    if (root["b_offset"]) a.matrix.b_offset = r.integer(root["b_offset"], "b_offset", -(1 << 16), 1 << 16);
    if (const YAML::Node layout = root["layout"]) {
      r.expect_map(layout, "layout", {"in_a", "in_b", "out_c"});
      const auto order = [&](const char* key, MatrixLayout& out) {
        if (layout[key])
          out = r.choice(layout[key], key, {"row_major", "column_major"}) == "row_major" ? MatrixLayout::row_major
                                                                                         : MatrixLayout::column_major;
      };
      order("in_a", a.matrix.a_layout), order("in_b", a.matrix.b_layout), order("out_c", a.matrix.c_layout);
    }
  } else {
    for (const char* key : {"depth", "accumulate", "a_offset", "b_offset", "layout"})
      if (root[key]) r.fail(root[key], std::string("'") + key + "' is a key of the whole_matrix protocol only");
  }
  a.clock = r.text(root["clock"], "clock");
  a.where_clock = r.at(root["clock"]);
  if (const YAML::Node reset = root["reset"]) {
    r.expect_map(reset, "reset", {"port", "active", "cycles"});
    if (!reset["port"]) r.fail(reset, "reset needs 'port'");
    a.reset = r.text(reset["port"], "port");
    if (reset["active"]) a.reset_active_high = r.choice(reset["active"], "active", {"high", "low"}) == "high";
    if (reset["cycles"]) a.reset_cycles = r.integer(reset["cycles"], "cycles", 1, 1 << 20);
  }
  if (const YAML::Node params = root["parameters"]) {
    if (!params.IsMap()) r.fail(params, "'parameters' must map parameter names to values");
    for (const auto& kv : params) {
      const std::string name = r.text(kv.first, "parameter");
      a.parameters[name] = r.text(kv.second, name);
    }
  }

  const std::vector<RoleSpec> specs = roles_of(a);
  const YAML::Node ports = root["ports"];
  if (!ports.IsMap())
    r.fail(ports,
           "'ports' must map roles to the design's ports; the roles of " + a.block + " here: " + role_names(specs));
  for (const auto& kv : ports) {
    const std::string role = r.text(kv.first, "role");
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const RoleSpec& s) { return role == s.name; });
    if (spec == specs.end())
      r.fail(kv.first, "unknown role '" + role + "' for a " + a.block +
                           " block on this protocol; expected one of: " + role_names(specs));
    RoleBinding b = binding_of(a, *spec, r.at(kv.second));
    if (kv.second.IsScalar()) {
      b.port = kv.second.as<std::string>();
    } else {
      r.expect_map(kv.second, "role " + role, {"port", "ports", "width", "signed"});
      if (!kv.second["port"] == !kv.second["ports"])
        r.fail(kv.second, "role " + role + " needs 'port' (one port) or 'ports' (a list: its lanes split over them)");
      if (const YAML::Node list = kv.second["ports"]) {
        if (!list.IsSequence() || list.size() == 0) r.fail(list, "'ports' must be a list of port names");
        for (const YAML::Node& port : list) b.ports.push_back(r.text(port, "port"));
        if (b.lanes % static_cast<int64_t>(b.ports.size()) != 0)
          r.fail(list, "role " + role + " has " + std::to_string(b.lanes) + " lanes, which " +
                           std::to_string(b.ports.size()) + " ports cannot carry in equal parts");
        b.port = b.ports.front();
      } else {
        b.port = r.text(kv.second["port"], "port");
      }
      if (kv.second["width"]) b.lane_width = r.integer(kv.second["width"], "width", 1, 64);
      if (kv.second["signed"]) b.is_signed = r.boolean(kv.second["signed"], "signed");
    }
    a.roles[role] = b;
  }
  for (const RoleSpec& s : specs)
    if (s.required && !a.has(s.name))
      r.fail(
          ports,
          std::string("role ") + s.name + " is required for a " + a.block + " block on this protocol" +
              (s.name == "out_valid" && find_dut_protocol(a.protocol)->takes_latency() ? " (or give 'latency')" : ""));
  const int tables = a.has("tbl_we") + a.has("tbl_addr") + a.has("tbl_data");
  if (tables != 0 && tables != 3) r.fail(ports, "the table write roles tbl_we, tbl_addr and tbl_data go together");
  return a;
}

}  // namespace

DutAdapter load_dut_adapter(const std::string& path) {
  return read_yaml_document(path, [&] { return read_adapter_document(path); });
}

DutAdapter identity_adapter(const std::string& block, const std::vector<DutPort>& ports, int64_t rows, int64_t cols,
                            int64_t n, int64_t m, int64_t block_lanes) {
  DutAdapter a;
  a.path = "the reference " + block + " block";
  a.block = block;
  a.protocol = protocols_for(block).at(0);
  a.rows = rows, a.cols = cols, a.n = n, a.m = m, a.block_lanes = block_lanes;
  a.clock = "clk", a.where_clock = a.path;
  a.reset = "rst_n", a.reset_active_high = false, a.reset_cycles = 2;
  for (const RoleSpec& spec : roles_of(a)) {
    const bool present = std::any_of(ports.begin(), ports.end(), [&](const DutPort& p) { return p.name == spec.name; });
    if (!present) continue;
    RoleBinding b = binding_of(a, spec, a.path);
    b.port = spec.name;
    a.roles[spec.name] = b;
  }
  bind_dut_ports(a, ports);
  return a;
}

void bind_dut_ports(DutAdapter& a, const std::vector<DutPort>& ports) {
  auto find = [&](const std::string& name, const std::string& where, const std::string& role) -> const DutPort& {
    const auto it = std::find_if(ports.begin(), ports.end(), [&](const DutPort& p) { return p.name == name; });
    if (it != ports.end()) return *it;
    std::string names;
    for (const DutPort& p : ports) names += (names.empty() ? "" : ", ") + p.name;
    throw InputError(where + ": " + role + " names port '" + name +
                     "', which the design does not have; its ports: " + names);
  };
  auto one_bit_input = [&](const std::string& name, const std::string& where, const std::string& what) {
    const DutPort& p = find(name, where, what);
    if (!p.input) throw InputError(where + ": " + what + " port '" + name + "' is an output of the design");
  };
  one_bit_input(a.clock, a.where_clock, "the clock");
  if (!a.reset.empty()) one_bit_input(a.reset, a.path, "the reset");
  const std::vector<RoleSpec> specs = roles_of(a);
  for (auto& [role, b] : a.roles) {
    const std::string& name = role;  // C++17 lambdas cannot capture a structured binding
    const RoleSpec& spec = *std::find_if(specs.begin(), specs.end(), [&](const RoleSpec& s) { return name == s.name; });
    const int64_t lanes = b.lanes_per_port();  // on each port
    for (const std::string& port : b.ports.empty() ? std::vector<std::string>{b.port} : b.ports) {
      const DutPort& p = find(port, b.where, "role " + role);
      if (spec.input != p.input)
        throw InputError(b.where + ": role " + role + " is an " + (spec.input ? "input" : "output") +
                         " of the block, but port '" + port + "' is an " + (p.input ? "input" : "output") +
                         " of the design");
      if (b.lane_width == 0) {
        if (p.width() % lanes != 0)
          throw InputError(b.where + ": port '" + port + "' has " + std::to_string(p.width()) +
                           " bits, not a multiple of the " + std::to_string(lanes) + " lanes of role " + role +
                           (b.ports.empty() ? "" : " it carries") + "; give its lane 'width'");
        b.lane_width = static_cast<int>(p.width() / lanes);
      }
      if (b.lane_width > 64)
        throw InputError(b.where + ": role " + role + " has lanes of " + std::to_string(b.lane_width) +
                         " bits; at most 64 are supported");
      if (b.lane_width * lanes > p.width())
        throw InputError(b.where + ": role " + role + " needs " + std::to_string(lanes) + " lane(s) of " +
                         std::to_string(b.lane_width) + " bits, but port '" + port + "' has " +
                         std::to_string(p.width()));
    }
  }
}

}  // namespace chipref::cosim
