// The reference MulShift unit behind a fixed-latency interface with port names of its own, for the
// fixed_latency protocol of `chipref cosim --dut` (tests/rtl_bridge/test_dut_cosim.cpp): `go` pulses
// with the operands; LATENCY rising edges later (the pulse's own edge counts) `result` holds the code
// and `done` is high for one cycle. MUTATION is passed to the unit inside.
module requant_pipe #(
    parameter int LATENCY = 3,
    parameter int MUTATION = 0
) (
    input  logic               clock,
    input  logic               reset_n,
    input  logic               go,
    input  logic signed [31:0] acc,
    input  logic        [31:0] mult,
    input  logic signed [7:0]  sh,
    input  logic signed [31:0] zp,
    input  logic signed [31:0] lo,
    input  logic signed [31:0] hi,
    output logic               done,
    output logic signed [15:0] result
);
  logic               unit_valid, unit_ready;
  logic signed [31:0] unit_code;  // codes of up to 16 bits: its upper half is a copy of the sign
  logic               stage_valid [LATENCY];
  logic signed [15:0] stage_code [LATENCY];

  mulshift_unit #(.MUTATION(MUTATION)) unit (
      .clk(clock), .rst_n(reset_n), .in_valid(go), .in_ready(unit_ready), .in_acc(acc), .in_multiplier(mult), .in_shift(sh),
      .cfg_multiplier_bits(5'd31), .cfg_round_half_up(1'b0), .cfg_zero_point(zp), .cfg_out_min(lo), .cfg_out_max(hi),
      .cfg_clamp_lo(lo), .cfg_clamp_hi(hi), .out_valid(unit_valid), .out_ready(1'b1), .out_code(unit_code));

  // The unit's own register is the first edge; LATENCY − 1 more stages follow.
  always_comb begin
    stage_valid[0] = unit_valid;
    stage_code[0] = unit_code[15:0];
  end
  always_ff @(posedge clock)
    for (int i = 1; i < LATENCY; i++) begin
      stage_valid[i] <= reset_n ? stage_valid[i-1] : 1'b0;
      stage_code[i] <= stage_code[i-1];
    end
  assign done = stage_valid[LATENCY-1];
  wire unused = &{1'b0, unit_ready, unit_code[31:16]};
  assign result = stage_code[LATENCY-1];
endmodule
