// A whole-matrix systolic multiplier with the interface common in open-source accelerator prototypes,
// written for chipref's tutorial and tests of the whole_matrix protocol (docs/cosim.md): C = A x B for
// N x N unsigned 8-bit matrices on two packed ports, taken with a one-cycle valid pulse; 32-bit sums on one packed
// port, flagged by a one-cycle valid after 3N - 2 cycles of systolic flow; asynchronous active-high reset.
//   A[i][k] at a_in[(i*N + k)*8 +: 8], B[k][j] at b_in[(k*N + j)*8 +: 8], C[i][j] at c_out[(i*N + j)*32 +: 32]
// Output-stationary: row i of A enters PE row i from the left i cycles late, column j of B enters PE
// column j from the top j cycles late, and PE (i, j) adds A[i][k] * B[k][j] at step i + j + k.
// accumulate high with valid_in keeps the sums and adds this product to them (K chunks summed in the
// design); low (or unconnected) starts from zero. BUG = 1 sticks bit 3 of PE (1, 2)'s accumulator at 1
// after every step (the fault the tests inject). B_COLUMN_MAJOR = 1 takes B transposed on its port:
// B[k][j] at b_in[(j*N + k)*8 +: 8]. B_BITS narrows B's elements (a 4-bit weight datapath: B_BITS = 4, B[k][j] at
// b_in[(k*N + j)*B_BITS +: B_BITS]).
module systolic_mm #(
    parameter int N = 16,
    parameter int BUG = 0,
    parameter int B_COLUMN_MAJOR = 0,
    parameter int B_BITS = 8
) (
    input  logic              clk,
    input  logic              rst,
    input  logic              valid_in,
    input  logic              accumulate,
    input  logic [N*N*8-1:0]  a_in,
    input  logic [N*N*B_BITS-1:0] b_in,
    output logic              valid_out,
    output logic [N*N*32-1:0] c_out
);
  localparam int STEPS = 3 * N - 2;
  localparam int STEP_BITS = $clog2(STEPS + 1);
  logic [N*N*8-1:0] a_q;
  logic [N*N*B_BITS-1:0] b_q;
  // What each PE hands right (A) and down (B), and its sum: PE (i, j) at lane i*N + j.
  logic [N*N*8-1:0] a_pass, a_pass_next;
  logic [N*N*B_BITS-1:0] b_pass, b_pass_next;
  logic [N*N*32-1:0] acc, acc_next;
  logic busy;
  logic [STEP_BITS-1:0] step;

  // The skewed edges: A[i][step - i] enters row i, B[step - j][j] enters column j, zeros outside.
  function automatic logic [7:0] a_edge(int i, logic [STEP_BITS-1:0] t);
    int k = int'(t) - i;
    return (k >= 0 && k < N) ? a_q[(i*N + k)*8 +: 8] : 8'd0;
  endfunction
  function automatic logic [B_BITS-1:0] b_edge(int j, logic [STEP_BITS-1:0] t);
    int k = int'(t) - j;
    int lane = B_COLUMN_MAJOR != 0 ? j*N + k : k*N + j;
    return (k >= 0 && k < N) ? b_q[lane*B_BITS +: B_BITS] : '0;
  endfunction

  always_comb begin
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) begin
        logic [7:0] a;
        logic [B_BITS-1:0] b;
        logic [31:0] sum;
        a = (j == 0) ? a_edge(i, step) : a_pass[(i*N + j - 1)*8 +: 8];
        b = (i == 0) ? b_edge(j, step) : b_pass[((i - 1)*N + j)*B_BITS +: B_BITS];
        sum = acc[(i*N + j)*32 +: 32] + 32'({24'd0, a}) * 32'(b);
        acc_next[(i*N + j)*32 +: 32] = (BUG == 1 && i == 1 && j == 2) ? (sum | 32'd8) : sum;
        a_pass_next[(i*N + j)*8 +: 8] = a;
        b_pass_next[(i*N + j)*B_BITS +: B_BITS] = b;
      end
  end

  always_ff @(posedge clk or posedge rst) begin
    if (rst) begin
      busy <= 1'b0;
      step <= '0;
      valid_out <= 1'b0;
    end else begin
      valid_out <= 1'b0;
      if (valid_in) begin
        a_q <= a_in;
        b_q <= b_in;
        busy <= 1'b1;
        step <= '0;
      end else if (busy) begin
        step <= step + 1'b1;
        if (int'(step) == STEPS - 1) begin
          busy <= 1'b0;
          valid_out <= 1'b1;
        end
      end
    end
  end

  always_ff @(posedge clk) begin
    if (valid_in) begin
      if (!accumulate) acc <= '0;
      a_pass <= '0;
      b_pass <= '0;
    end else if (busy) begin
      acc <= acc_next;
      a_pass <= a_pass_next;
      b_pass <= b_pass_next;
    end
  end

  assign c_out = acc;
endmodule
