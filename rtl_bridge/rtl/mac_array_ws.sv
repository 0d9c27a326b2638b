// Weight-stationary systolic MAC array (docs/cosim.md): the same ports, tile streams and results as the
// output-stationary mac_array.sv, so the same matrix_tiles protocol drives it, but another dataflow.
// A tile's K input beats are buffered (activation and weight codes less their zero points, KMAX beats
// at most); then the reduction is cut into chunks of DEPTH steps. Per chunk the weights are preloaded
// into a DEPTH x COLS grid of PEs, where they stay, and the tile's ROWS activation rows stream through
// it: activations move right along a PE row (the reduction step d of the chunk), partial sums move down
// a PE column (the output channel c), each hop a register:
//   a_reg[d][c] <= a_in;  p_reg[d][c] <= p_in + a_in · w[d][c]
// with row i's step d entering PE (d, 0) at stream cycle i + d. Row i's chunk sum for channel c leaves
// the bottom of column c at cycle i + c + DEPTH and is added to acc[i][c], which starts at the bias.
// After the last chunk the array drains one row of COLS accumulators per output beat, row 0 first.
// Everything is ACC_W-bit two's complement (the `wrap` accumulator of docs/numerics.md §5 at 32 bits).
// MUTATION selects a deliberately wrong variant for cosim's self-test (0 = correct):
//   1 PE (1, 2) misses every weight preload but a tile's first (it keeps chunk 0's weight),
//   2 PE (DEPTH−1, 0) drops the partial sum from above (adds only its own product),
//   3 the accumulators restart from the bias at every chunk (only the last chunk's products are kept).
module mac_array_ws #(
    parameter int ROWS = 16,
    parameter int COLS = 16,
    parameter int DEPTH = 16,
    parameter int KMAX = 4096,
    parameter int A_W = 16,
    parameter int W_W = 16,
    parameter int ACC_W = 32,
    parameter int MUTATION = 0
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      in_valid,
    output logic                      in_ready,
    input  logic                      in_first,
    input  logic                      in_last,
    input  logic [ROWS*A_W-1:0]       in_act,
    input  logic [COLS*W_W-1:0]       in_weight,
    input  logic [COLS*ACC_W-1:0]     in_bias,
    input  logic signed [A_W-1:0]     cfg_act_zero_point,
    input  logic signed [W_W-1:0]     cfg_weight_zero_point,
    output logic                      out_valid,
    input  logic                      out_ready,
    output logic [COLS*ACC_W-1:0]     out_acc
);
  localparam int ROW_BITS = (ROWS > 1) ? $clog2(ROWS) : 1;
  localparam int K_BITS = $clog2(KMAX + DEPTH + 1);
  localparam int LAST_CYCLE = ROWS + COLS + DEPTH - 2;  // row ROWS−1 leaves column COLS−1's bottom
  localparam int T_BITS = $clog2(LAST_CYCLE + 1);
  localparam logic [1:0] LOAD = 2'd0, PRELOAD = 2'd1, STREAM = 2'd2, DRAIN = 2'd3;

  logic [1:0]               state;
  logic signed [A_W:0]      act_buf [KMAX][ROWS];
  logic signed [W_W:0]      w_buf [KMAX][COLS];
  logic signed [ACC_W-1:0]  bias_buf [COLS];
  logic signed [ACC_W-1:0]  acc [ROWS][COLS];
  logic signed [W_W:0]      pe_w [DEPTH][COLS];
  logic signed [A_W:0]      a_reg [DEPTH][COLS];
  logic signed [ACC_W-1:0]  p_reg [DEPTH][COLS];
  logic signed [A_W:0]      a_in [DEPTH][COLS];
  logic signed [ACC_W-1:0]  p_in [DEPTH][COLS];
  logic [K_BITS-1:0]        k_count;  // beats of the tile buffered
  logic [K_BITS-1:0]        k0;       // the chunk's first reduction step
  logic [T_BITS-1:0]        t;        // stream cycle within the chunk
  logic [ROW_BITS-1:0]      drain_row;

  assign in_ready = (state == LOAD);
  assign out_valid = (state == DRAIN);
  // The unused first flag: a tile starts with the first beat after in_last (or reset).
  logic unused_first;
  assign unused_first = in_first;

  // What enters each PE this cycle: from the left neighbour (column 0: the buffered activation of row
  // t − d, zero outside the tile or past K) and from the PE above (row 0: zero).
  always_comb begin
    for (int d = 0; d < DEPTH; d++) begin
      for (int c = 0; c < COLS; c++) begin
        if (c == 0) begin
          if (int'(t) >= d && int'(t) - d < ROWS && int'(k0) + d < int'(k_count))
            a_in[d][c] = act_buf[int'(k0) + d][int'(t) - d];
          else
            a_in[d][c] = '0;
        end else begin
          a_in[d][c] = a_reg[d][c-1];
        end
        p_in[d][c] = (d == 0 || (MUTATION == 2 && d == DEPTH - 1 && c == 0)) ? '0 : p_reg[d > 0 ? d - 1 : 0][c];
      end
    end
  end

  always_comb begin
    for (int c = 0; c < COLS; c++) out_acc[c*ACC_W +: ACC_W] = acc[drain_row][c];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= LOAD;
      k_count <= '0;
      k0 <= '0;
      t <= '0;
      drain_row <= '0;
    end else begin
      case (state)
        LOAD: if (in_valid) begin
          for (int r = 0; r < ROWS; r++)
            act_buf[int'(k_count)][r] <= (A_W + 1)'($signed(in_act[r*A_W +: A_W])) - (A_W + 1)'(cfg_act_zero_point);
          for (int c = 0; c < COLS; c++)
            w_buf[int'(k_count)][c] <= (W_W + 1)'($signed(in_weight[c*W_W +: W_W])) - (W_W + 1)'(cfg_weight_zero_point);
          if (k_count == '0)
            for (int c = 0; c < COLS; c++) bias_buf[c] <= $signed(in_bias[c*ACC_W +: ACC_W]);
          k_count <= k_count + 1'b1;
          if (in_last) begin
            k0 <= '0;
            state <= PRELOAD;
          end
        end
        PRELOAD: begin
          for (int d = 0; d < DEPTH; d++)
            for (int c = 0; c < COLS; c++) begin
              if (!(MUTATION == 1 && d == 1 && c == 2 && k0 != '0))
                pe_w[d][c] <= (int'(k0) + d < int'(k_count)) ? w_buf[int'(k0) + d][c] : '0;
              a_reg[d][c] <= '0;
              p_reg[d][c] <= '0;
            end
          if (k0 == '0 || MUTATION == 3)
            for (int r = 0; r < ROWS; r++)
              for (int c = 0; c < COLS; c++) acc[r][c] <= bias_buf[c];
          t <= '0;
          state <= STREAM;
        end
        STREAM: begin
          for (int d = 0; d < DEPTH; d++)
            for (int c = 0; c < COLS; c++) begin
              a_reg[d][c] <= a_in[d][c];
              p_reg[d][c] <= p_in[d][c] + ACC_W'(a_in[d][c] * pe_w[d][c]);
            end
          for (int c = 0; c < COLS; c++)
            if (int'(t) - c - DEPTH >= 0 && int'(t) - c - DEPTH < ROWS)
              acc[int'(t) - c - DEPTH][c] <= acc[int'(t) - c - DEPTH][c] + p_reg[DEPTH-1][c];
          t <= t + 1'b1;
          if (int'(t) == LAST_CYCLE) begin
            if (int'(k0) + DEPTH >= int'(k_count)) begin
              k_count <= '0;
              state <= DRAIN;
            end else begin
              k0 <= k0 + K_BITS'(DEPTH);
              state <= PRELOAD;
            end
          end
        end
        default: if (out_ready) begin  // DRAIN
          if (drain_row == ROW_BITS'(ROWS - 1)) begin
            drain_row <= '0;
            state <= LOAD;
          end else begin
            drain_row <= drain_row + 1'b1;
          end
        end
      endcase
    end
  end
endmodule
