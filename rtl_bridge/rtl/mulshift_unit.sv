// MulShift unit: chipref's `single` requantization (docs/numerics.md §3.2, §5), one element a cycle.
//   code = clamp(sat(zero_point + R(acc · M / 2^(B − shift))), clamp_lo, clamp_hi)
// R is round-half-to-even (cfg_round_half_up = 0) or round-half-up (1); a negative B − shift is an
// exact left shift. acc · M is exact in 64 bits (|acc| < 2^31, M < 2^31) and is shifted in 96, so
// nothing is lost before the saturation to [cfg_out_min, cfg_out_max] (the output format).
// Streaming: in_* with in_valid/in_ready, out_code with out_valid/out_ready; a one-deep output
// register (in_ready = !out_valid || out_ready). The multiplier and shift of the element's channel
// travel with it; the layer's constants are cfg_* inputs, held stable during a layer.
// MUTATION selects a deliberately wrong variant for cosim's self-test (0 = correct):
//   1 truncates (floor) instead of rounding, 2 neither saturates nor clamps (the low 32 bits),
//   3 drops accumulator bit 0, 4 never accepts an input (a hung block, for the watchdog).
module mulshift_unit #(
    parameter int MUTATION = 0
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic               in_valid,
    output logic               in_ready,
    input  logic signed [31:0] in_acc,
    input  logic        [31:0] in_multiplier,
    input  logic signed [7:0]  in_shift,
    input  logic        [4:0]  cfg_multiplier_bits,  // B: 8..31 (0 stands for 32, unused)
    input  logic               cfg_round_half_up,
    input  logic signed [31:0] cfg_zero_point,
    input  logic signed [31:0] cfg_out_min,
    input  logic signed [31:0] cfg_out_max,
    input  logic signed [31:0] cfg_clamp_lo,
    input  logic signed [31:0] cfg_clamp_hi,
    output logic               out_valid,
    input  logic               out_ready,
    output logic signed [31:0] out_code
);
  logic signed [31:0] acc;
  logic signed [63:0] product;
  logic signed [95:0] wide, quotient, remainder, half, biased, saturated;
  logic signed [31:0] clamped;  // within [clamp_lo, clamp_hi]: 32 bits
  logic signed [8:0]  right;  // B − shift
  logic               up;

  always_comb begin
    acc = (MUTATION == 3) ? {in_acc[31:1], 1'b0} : in_acc;
    product = 64'(acc) * $signed({32'd0, in_multiplier});
    wide = 96'(product);
    right = $signed({4'd0, cfg_multiplier_bits}) - 9'(in_shift);
    quotient = wide;
    remainder = '0;
    half = '0;
    up = 1'b0;
    if (right <= 0) begin
      quotient = wide <<< (-right);
    end else begin
      quotient = wide >>> right;  // floor
      remainder = wide - (quotient <<< right);
      half = 96'sd1 <<< (right - 9'sd1);
      if (MUTATION == 1) up = 1'b0;
      else if (cfg_round_half_up) up = remainder >= half;
      else up = remainder > half || (remainder == half && quotient[0]);
    end
    biased = quotient + 96'(up) + 96'(cfg_zero_point);
    if (biased < 96'(cfg_out_min)) saturated = 96'(cfg_out_min);
    else if (biased > 96'(cfg_out_max)) saturated = 96'(cfg_out_max);
    else saturated = biased;
    if (saturated < 96'(cfg_clamp_lo)) clamped = cfg_clamp_lo;
    else if (saturated > 96'(cfg_clamp_hi)) clamped = cfg_clamp_hi;
    else clamped = saturated[31:0];
    if (MUTATION == 2) clamped = biased[31:0];
  end

  assign in_ready = (MUTATION == 4) ? 1'b0 : (!out_valid || out_ready);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      out_valid <= 1'b0;
      out_code  <= '0;
    end else if (in_ready) begin
      out_valid <= in_valid;
      if (in_valid) out_code <= clamped;
    end
  end
endmodule
