// Output-stationary MAC array of ROWS x COLS processing elements (docs/cosim.md, docs/systemc.md "Tile
// streams"): PE (r, c) keeps the accumulator of output position r and channel c of the current tile.
// One reduction step per input beat: ROWS activation codes and COLS weight codes arrive together, and
//   acc[r][c] <= (in_first ? bias[c] : acc[r][c]) + (act[r] − za) · (weight[c] − zw)
// in ACC_W-bit two's complement (the `wrap` accumulator of docs/numerics.md §5 at 32 bits). The beat
// with in_last ends the tile: the array then drains one PE row per output beat (ROWS beats of COLS
// accumulators) and accepts no input until the last row has left. Buses are packed, lane i in bits
// [i·W, (i+1)·W).
// MUTATION selects a deliberately wrong variant for cosim's self-test (0 = correct):
//   1 ignores the activation zero point, 2 keeps only 16 accumulator bits (sign-extended),
//   3 starts each tile from 0 instead of the bias.
module mac_array #(
    parameter int ROWS = 16,
    parameter int COLS = 16,
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
  logic signed [ACC_W-1:0] acc [ROWS][COLS];
  logic signed [ACC_W-1:0] next [ROWS][COLS];
  logic                    draining;
  logic [ROW_BITS-1:0]     drain_row;

  assign in_ready = !draining;
  assign out_valid = draining;

  always_comb begin
    for (int r = 0; r < ROWS; r++) begin
      for (int c = 0; c < COLS; c++) begin
        logic signed [A_W:0]   a;
        logic signed [W_W:0]   w;
        logic signed [ACC_W-1:0] start, sum;
        a = (MUTATION == 1) ? (A_W + 1)'($signed(in_act[r*A_W +: A_W]))
                            : (A_W + 1)'($signed(in_act[r*A_W +: A_W])) - (A_W + 1)'(cfg_act_zero_point);
        w = (W_W + 1)'($signed(in_weight[c*W_W +: W_W])) - (W_W + 1)'(cfg_weight_zero_point);
        start = in_first ? ((MUTATION == 3) ? '0 : $signed(in_bias[c*ACC_W +: ACC_W])) : acc[r][c];
        sum = start + ACC_W'(a * w);
        next[r][c] = (MUTATION == 2) ? ACC_W'($signed(sum[15:0])) : sum;
      end
    end
  end

  always_comb begin
    for (int c = 0; c < COLS; c++) out_acc[c*ACC_W +: ACC_W] = acc[drain_row][c];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      draining <= 1'b0;
      drain_row <= '0;
    end else if (draining) begin
      if (out_ready) begin
        if (drain_row == ROW_BITS'(ROWS - 1)) begin
          draining <= 1'b0;
          drain_row <= '0;
        end else begin
          drain_row <= drain_row + 1'b1;
        end
      end
    end else if (in_valid) begin
      for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) acc[r][c] <= next[r][c];
      if (in_last) draining <= 1'b1;
    end
  end
endmodule
