#pragma once
// The reference blocks as chipref links them in (Verilated at build time, rtl_bridge/CMakeLists.txt):
// a DesignInstance over a Verilated class, so the Harness and the protocols drive them exactly as they
// drive a user's design. Templates over the Verilated class: a block's MUTATION variants are distinct
// classes with the same ports.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "rtl_bridge/design_cosim.hpp"
#include "rtl_bridge/dut_adapter.hpp"
#include "rtl_bridge/dut_runtime.hpp"

namespace chipref::cosim {

// A port of a Verilated class with its storage.
struct LinkedPort {
  DutPort port;
  uint8_t* data;
};

template <class Storage>
LinkedPort linked_port(const char* name, bool input, int64_t width, Storage& storage) {
  return {DutPort{name, input, static_cast<int>(width - 1), 0, static_cast<int>(sizeof(Storage))},
          reinterpret_cast<uint8_t*>(&storage)};
}

// One instance of the Verilated class Model (its own, or `borrowed`, which must outlive it: a benchmark's
// model that it also drives bare); `list_ports(model)` gives its ports (the port lists below).
template <class Model>
class LinkedDesign final : public DesignInstance {
 public:
  template <class ListPorts>
  explicit LinkedDesign(const ListPorts& list_ports, Model* borrowed = nullptr)
      : owned_(borrowed ? nullptr : std::make_unique<Model>()), model_(borrowed ? *borrowed : *owned_) {
    for (const LinkedPort& p : list_ports(model_)) ports_.push_back(p.port), data_.push_back(p.data);
  }
  const std::vector<DutPort>& ports() const override { return ports_; }
  Pin pin(const std::string& port_name) const override {
    for (size_t i = 0; i < ports_.size(); ++i)
      if (ports_[i].name == port_name) return Pin(&ports_[i], data_[i]);
    throw InputError("the reference block has no port '" + port_name + "'");
  }
  void eval() override { model_.eval(); }
  void open_trace(const std::string& path) override {
    throw InputError(path +
                     ": the linked-in reference blocks are Verilated without waveforms; `chipref cosim --block "
                     "--trace` builds the block as a design to get one");
  }
  void dump(uint64_t) override {}

 private:
  std::unique_ptr<Model> owned_;
  Model& model_;
  std::vector<DutPort> ports_;
  std::vector<uint8_t*> data_;
};

// A Design of the reference `block` Verilated as Model, through its identity adapter.
template <class Model, class ListPorts>
Design linked_design(const std::string& block, ListPorts list_ports, int64_t rows = 0, int64_t cols = 0, int64_t n = 0,
                     int64_t m = 0, int64_t block_lanes = 0) {
  const LinkedDesign<Model> probe(list_ports);
  return Design{block, identity_adapter(block, probe.ports(), rows, cols, n, m, block_lanes),
                [list_ports](bool) { return std::make_unique<LinkedDesign<Model>>(list_ports); }};
}

// The ports of the reference RTL (rtl_bridge/rtl/*.sv) as Verilated, widths at the given parameters. A
// test checks each list against the ports Verilator reports for the same source.
template <class Model>
Design linked_mulshift() {
  return linked_design<Model>("mulshift", [](Model& v) {
    return std::vector<LinkedPort>{
        linked_port("clk", true, 1, v.clk),
        linked_port("rst_n", true, 1, v.rst_n),
        linked_port("in_valid", true, 1, v.in_valid),
        linked_port("in_ready", false, 1, v.in_ready),
        linked_port("in_acc", true, 32, v.in_acc),
        linked_port("in_multiplier", true, 32, v.in_multiplier),
        linked_port("in_shift", true, 8, v.in_shift),
        linked_port("cfg_multiplier_bits", true, 5, v.cfg_multiplier_bits),
        linked_port("cfg_round_half_up", true, 1, v.cfg_round_half_up),
        linked_port("cfg_zero_point", true, 32, v.cfg_zero_point),
        linked_port("cfg_out_min", true, 32, v.cfg_out_min),
        linked_port("cfg_out_max", true, 32, v.cfg_out_max),
        linked_port("cfg_clamp_lo", true, 32, v.cfg_clamp_lo),
        linked_port("cfg_clamp_hi", true, 32, v.cfg_clamp_hi),
        linked_port("out_valid", false, 1, v.out_valid),
        linked_port("out_ready", true, 1, v.out_ready),
        linked_port("out_code", false, 32, v.out_code),
    };
  });
}

template <class Model>
Design linked_lut(int64_t depth) {
  Design d = linked_design<Model>("lut", [](Model& v) {
    return std::vector<LinkedPort>{
        linked_port("clk", true, 1, v.clk),
        linked_port("rst_n", true, 1, v.rst_n),
        linked_port("tbl_we", true, 1, v.tbl_we),
        linked_port("tbl_addr", true, 16, v.tbl_addr),
        linked_port("tbl_data", true, 32, v.tbl_data),
        linked_port("cfg_entries", true, 17, v.cfg_entries),
        linked_port("cfg_in_min", true, 32, v.cfg_in_min),
        linked_port("cfg_shift", true, 5, v.cfg_shift),
        linked_port("cfg_interpolate", true, 1, v.cfg_interpolate),
        linked_port("cfg_out_min", true, 32, v.cfg_out_min),
        linked_port("cfg_out_max", true, 32, v.cfg_out_max),
        linked_port("in_valid", true, 1, v.in_valid),
        linked_port("in_ready", false, 1, v.in_ready),
        linked_port("in_code", true, 32, v.in_code),
        linked_port("out_valid", false, 1, v.out_valid),
        linked_port("out_ready", true, 1, v.out_ready),
        linked_port("out_code", false, 32, v.out_code),
    };
  });
  d.lut_depth = depth;
  return d;
}

// The ports of mac_array.sv Verilated with ROWS = rows, COLS = cols (16-bit activation and weight lanes,
// 32-bit accumulators).
template <class Model>
auto mac_array_ports(int64_t rows, int64_t cols) {
  return [rows, cols](Model& v) {
    return std::vector<LinkedPort>{
        linked_port("clk", true, 1, v.clk),
        linked_port("rst_n", true, 1, v.rst_n),
        linked_port("in_valid", true, 1, v.in_valid),
        linked_port("in_ready", false, 1, v.in_ready),
        linked_port("in_first", true, 1, v.in_first),
        linked_port("in_last", true, 1, v.in_last),
        linked_port("in_act", true, rows * 16, v.in_act),
        linked_port("in_weight", true, cols * 16, v.in_weight),
        linked_port("in_bias", true, cols * 32, v.in_bias),
        linked_port("cfg_act_zero_point", true, 16, v.cfg_act_zero_point),
        linked_port("cfg_weight_zero_point", true, 16, v.cfg_weight_zero_point),
        linked_port("out_valid", false, 1, v.out_valid),
        linked_port("out_ready", true, 1, v.out_ready),
        linked_port("out_acc", false, cols * 32, v.out_acc),
    };
  };
}

template <class Model>
Design linked_mac_array(int64_t rows, int64_t cols) {
  return linked_design<Model>("mac_array", mac_array_ports<Model>(rows, cols), rows, cols);
}

// Verilated with K = lanes (8-bit element lanes), multiplying `activation_format` by `weight_format`.
template <class Model>
Design linked_mx_dot(int64_t lanes, const std::string& activation_format, const std::string& weight_format) {
  Design d = linked_design<Model>(
      "mx_dot",
      [lanes](Model& v) {
        return std::vector<LinkedPort>{
            linked_port("clk", true, 1, v.clk),
            linked_port("rst_n", true, 1, v.rst_n),
            linked_port("in_valid", true, 1, v.in_valid),
            linked_port("in_ready", false, 1, v.in_ready),
            linked_port("in_a", true, lanes * 8, v.in_a),
            linked_port("in_a_scale", true, 8, v.in_a_scale),
            linked_port("in_w", true, lanes * 8, v.in_w),
            linked_port("in_w_scale", true, 8, v.in_w_scale),
            linked_port("out_valid", false, 1, v.out_valid),
            linked_port("out_ready", true, 1, v.out_ready),
            linked_port("out_sum", false, 64, v.out_sum),
            linked_port("out_exponent", false, 16, v.out_exponent),
            linked_port("out_nan", false, 1, v.out_nan),
        };
      },
      0, 0, 0, 0, lanes);
  d.adapter.activation_format = activation_format, d.adapter.weight_format = weight_format;
  return d;
}

// Verilated with N = n, M = m (16-bit values, 8-bit positions).
template <class Model>
Design linked_sparse(int64_t n, int64_t m) {
  return linked_design<Model>(
      "sparse",
      [n, m](Model& v) {
        return std::vector<LinkedPort>{
            linked_port("clk", true, 1, v.clk),
            linked_port("rst_n", true, 1, v.rst_n),
            linked_port("in_valid", true, 1, v.in_valid),
            linked_port("in_ready", false, 1, v.in_ready),
            linked_port("in_values", true, n * 16, v.in_values),
            linked_port("in_index", true, n * 8, v.in_index),
            linked_port("out_valid", false, 1, v.out_valid),
            linked_port("out_ready", true, 1, v.out_ready),
            linked_port("out_dense", false, m * 16, v.out_dense),
        };
      },
      0, 0, n, m);
}

}  // namespace chipref::cosim
