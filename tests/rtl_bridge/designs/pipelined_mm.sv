// A whole-matrix multiplier that overlaps blocks, for the whole_matrix protocol's in_ready mode
// (tests/rtl_bridge/test_dut_cosim.cpp): C = A x B (N x N uint8, packed row-major, 32-bit sums) taken
// when valid_in and ready_out are high at a rising edge and delivered LATENCY edges later with a
// one-cycle valid_out, in order, while later blocks are taken. ready_out is low every GAP-th cycle
// (backpressure). accumulate high with a block adds its product to the previous block's sum (K chunks
// summed in the design). BUG = 1 hands out each C one cycle late but flags it on time (so the flag
// comes with the previous block's sums).
module pipelined_mm #(
    parameter int N = 4,
    parameter int LATENCY = 5,
    parameter int GAP = 3,
    parameter int BUG = 0
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic              valid_in,
    output logic              ready_out,
    input  logic              accumulate,
    input  logic [N*N*8-1:0]  a_in,
    input  logic [N*N*8-1:0]  b_in,
    output logic              valid_out,
    output logic [N*N*32-1:0] c_out
);
  logic [N*N*32-1:0] product, running;
  logic [N*N*32-1:0] c_pipe [LATENCY];
  logic              v_pipe [LATENCY];
  logic [N*N*32-1:0] c_late;
  logic [$clog2(GAP + 1)-1:0] phase;

  always_comb begin
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) begin
        logic [31:0] sum;
        sum = '0;
        for (int k = 0; k < N; k++) sum = sum + 32'(a_in[(i*N + k)*8 +: 8]) * 32'(b_in[(k*N + j)*8 +: 8]);
        product[(i*N + j)*32 +: 32] = sum;
      end
  end

  assign ready_out = (32'(phase) != GAP - 1);
  assign valid_out = v_pipe[LATENCY-1];
  assign c_out = (BUG == 1) ? c_late : c_pipe[LATENCY-1];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      phase <= '0;
      running <= '0;
      for (int s = 0; s < LATENCY; s++) v_pipe[s] <= 1'b0;
    end else begin
      phase <= (32'(phase) == GAP - 1) ? '0 : phase + 1'b1;
      v_pipe[0] <= valid_in && ready_out;
      if (valid_in && ready_out) begin
        for (int e = 0; e < N*N; e++)
          c_pipe[0][e*32 +: 32] <= (accumulate ? running[e*32 +: 32] : 32'd0) + product[e*32 +: 32];
        for (int e = 0; e < N*N; e++)
          running[e*32 +: 32] <= (accumulate ? running[e*32 +: 32] : 32'd0) + product[e*32 +: 32];
      end
      for (int s = 1; s < LATENCY; s++) begin
        v_pipe[s] <= v_pipe[s-1];
        c_pipe[s] <= c_pipe[s-1];
      end
      c_late <= c_pipe[LATENCY-1];
    end
  end
endmodule
