// LUT unit: chipref's table lookup for element-wise non-linears (docs/numerics.md §8), one element a
// cycle. With offset = x − in_min, i = offset >> shift, r = offset mod 2^shift:
//   shift = 0:          y = T[offset]
//   nearest entry:      y = T[min(entries − 1, (offset + 2^(shift−1)) >> shift)]
//   interpolated:       y = T[i] + R_half_even((T[i+1] − T[i]) · r / 2^shift)   (T[i] alone when r = 0)
// then saturated to [cfg_out_min, cfg_out_max]. The table (up to DEPTH entries) is written through the
// tbl_* port before a layer's elements stream in; codes outside the table's domain are the caller's
// error (chipref's kernel refuses them), here they read entry 0.
// Streaming: in_code with in_valid/in_ready, out_code with out_valid/out_ready, one-deep output register.
// MUTATION selects a deliberately wrong variant for cosim's self-test (0 = correct):
//   1 reads the entry after the right one (an off-by-one table address).
module lut_unit #(
    parameter int DEPTH = 4096,
    parameter int MUTATION = 0
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic               tbl_we,
    input  logic [15:0]        tbl_addr,
    input  logic signed [31:0] tbl_data,
    input  logic [16:0]        cfg_entries,
    input  logic signed [31:0] cfg_in_min,
    input  logic [4:0]         cfg_shift,
    input  logic               cfg_interpolate,
    input  logic signed [31:0] cfg_out_min,
    input  logic signed [31:0] cfg_out_max,
    input  logic               in_valid,
    output logic               in_ready,
    input  logic signed [31:0] in_code,
    output logic               out_valid,
    input  logic               out_ready,
    output logic signed [31:0] out_code
);
  localparam int AW = $clog2(DEPTH);
  logic signed [31:0] table_mem [DEPTH];
  logic signed [32:0] offset;
  logic [32:0]        index, next_index, nearest;
  logic signed [63:0] value, delta, scaled, remainder, half;
  logic [32:0]        r;
  logic signed [31:0] result;

  function automatic logic signed [31:0] entry(input logic [32:0] k);
    logic [32:0] a;
    a = (MUTATION == 1) ? k + 33'd1 : k;
    return (a < 33'(DEPTH)) ? table_mem[a[AW-1:0]] : 32'sd0;
  endfunction

  always_comb begin
    offset = 33'(in_code) - 33'(cfg_in_min);
    index = offset < 0 ? 33'd0 : 33'(offset) >> cfg_shift;
    r = offset < 0 ? 33'd0 : 33'(offset) - (index << cfg_shift);
    next_index = index + 33'd1;
    nearest = offset < 0 ? 33'd0 : (cfg_shift == 0 ? 33'(offset) : (33'(offset) + (33'd1 << (cfg_shift - 5'd1))) >> cfg_shift);
    if (nearest > 33'(cfg_entries) - 33'd1) nearest = 33'(cfg_entries) - 33'd1;
    delta = '0;
    scaled = '0;
    remainder = '0;
    half = '0;
    if (cfg_shift == 0) begin
      value = 64'(entry(33'(offset)));
    end else if (!cfg_interpolate) begin
      value = 64'(entry(nearest));
    end else begin
      value = 64'(entry(index));
      if (r != 0) begin
        delta = (64'(entry(next_index)) - value) * 64'(r);
        scaled = delta >>> cfg_shift;  // floor
        remainder = delta - (scaled <<< cfg_shift);
        half = 64'sd1 <<< (cfg_shift - 5'd1);
        if (remainder > half || (remainder == half && scaled[0])) scaled = scaled + 64'sd1;
        value = value + scaled;
      end
    end
    if (value < 64'(cfg_out_min)) result = cfg_out_min;
    else if (value > 64'(cfg_out_max)) result = cfg_out_max;
    else result = value[31:0];
  end

  assign in_ready = !out_valid || out_ready;

  always_ff @(posedge clk) begin
    if (tbl_we && 32'(tbl_addr) < 32'(DEPTH)) table_mem[tbl_addr[AW-1:0]] <= tbl_data;
    if (!rst_n) begin
      out_valid <= 1'b0;
      out_code  <= '0;
    end else if (in_ready) begin
      out_valid <= in_valid;
      if (in_valid) out_code <= result;
    end
  end
endmodule
