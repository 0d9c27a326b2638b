// MX block dot-product unit (OCP Microscaling v1.0; docs/numerics.md §15, docs/cosim.md): one pair of
// blocks a handshake. K element codes of A (in 8-bit lanes, the format's bits in the low ones) and their
// E8M0 scale, the same of W; out comes their dot product, exactly, as out_sum × 2^out_exponent:
// out_sum = Σ a_i · w_i with each element an integer in units of its format's least significant bit
// (a subnormal's quantum; 2^-(N-2) for an N-bit integer), out_exponent = lsb_a + lsb_w + (scale_a − 127)
// + (scale_w − 127). out_nan: a NaN scale (255) or a NaN or infinite element (then out_sum is 0).
// Element formats by parameter: EBITS exponent bits, MBITS mantissa bits, BIAS, NAN_MODE (0 none: FP6, FP4;
// 1 only S.1..1.1..1: FP8 E4M3; 2 IEEE, a top exponent is infinite or NaN: FP8 E5M2); EBITS = 0 is an
// (MBITS + 1)-bit two's-complement integer (MXINT8: MBITS 7). The sum must fit 64 bits (every MX pair but
// E5M2 × E5M2 at K = 32).
// Streaming: in_* with in_valid/in_ready, out_* with out_valid/out_ready; a one-deep output register
// (in_ready = !out_valid || out_ready).
// MUTATION selects a deliberately wrong variant for cosim's self-test (0 = correct):
//   1 takes W's shared exponent as scale_w − 128 (a wrong scale bias: every block a factor 2 off);
//   2 decodes A's subnormal elements with the implicit leading one (only blocks holding one differ).
module mx_dot_unit #(
    parameter int K = 32,
    parameter int A_EBITS = 4,
    parameter int A_MBITS = 3,
    parameter int A_BIAS = 7,
    parameter int A_NAN_MODE = 1,
    parameter int W_EBITS = 4,
    parameter int W_MBITS = 3,
    parameter int W_BIAS = 7,
    parameter int W_NAN_MODE = 1,
    parameter int MUTATION = 0
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic               in_valid,
    output logic               in_ready,
    input  logic [K*8-1:0]     in_a,
    input  logic [7:0]         in_a_scale,
    input  logic [K*8-1:0]     in_w,
    input  logic [7:0]         in_w_scale,
    output logic               out_valid,
    input  logic               out_ready,
    output logic signed [63:0] out_sum,
    output logic signed [15:0] out_exponent,
    output logic               out_nan
);
  // An element's magnitude in units of its lsb spans MBITS + 1 + (2^EBITS − 2) bits (an integer: MBITS + 1).
  localparam int A_WIDTH = A_EBITS == 0 ? A_MBITS + 1 : A_MBITS + (1 << A_EBITS);
  localparam int W_WIDTH = W_EBITS == 0 ? W_MBITS + 1 : W_MBITS + (1 << W_EBITS);
  localparam int A_LSB = A_EBITS == 0 ? -(A_MBITS - 1) : 1 - A_BIAS - A_MBITS;
  localparam int W_LSB = W_EBITS == 0 ? -(W_MBITS - 1) : 1 - W_BIAS - W_MBITS;
  localparam int SUM_BITS = A_WIDTH + W_WIDTH + 2 + $clog2(K);
  initial if (SUM_BITS > 64) $fatal(1, "mx_dot_unit: the element formats' sum needs %0d bits; out_sum has 64", SUM_BITS);

  // One element as a signed integer in units of its lsb.
  function automatic logic signed [63:0] element(input logic [7:0] code, input int ebits, input int mbits,
                                                 input bit subnormal_gets_one);
    logic [7:0] field_mask, exponent, mantissa, raw;
    logic [63:0] magnitude;
    if (ebits == 0) begin  // two's complement of mbits + 1 bits
      field_mask = 8'((9'd1 << (mbits + 1)) - 9'd1);
      raw = code & field_mask;
      magnitude = {56'd0, raw};
      return code[mbits] ? $signed(magnitude) - $signed(64'd1 << (mbits + 1)) : $signed(magnitude);
    end
    field_mask = 8'((9'd1 << ebits) - 9'd1);
    exponent = (code >> mbits) & field_mask;
    mantissa = code & 8'((9'd1 << mbits) - 9'd1);
    if (exponent == 8'd0)
      magnitude = {56'd0, mantissa} | (subnormal_gets_one ? 64'd1 << mbits : 64'd0);
    else
      magnitude = ({56'd0, mantissa} | (64'd1 << mbits)) << (exponent - 8'd1);
    return code[ebits+mbits] ? -$signed(magnitude) : $signed(magnitude);
  endfunction

  // Whether an element is NaN or infinite.
  function automatic logic special(input logic [7:0] code, input int ebits, input int mbits, input int nan_mode);
    logic [7:0] field_mask, mantissa_mask;
    field_mask = 8'((9'd1 << ebits) - 9'd1);
    mantissa_mask = 8'((9'd1 << mbits) - 9'd1);
    if (ebits == 0 || nan_mode == 0) return 1'b0;
    if (((code >> mbits) & field_mask) != field_mask) return 1'b0;
    return nan_mode == 2 || (code & mantissa_mask) == mantissa_mask;
  endfunction

  logic signed [63:0] sum;
  logic signed [15:0] exponent;
  logic nan;
  always_comb begin
    sum = '0;
    nan = in_a_scale == 8'hFF || in_w_scale == 8'hFF;
    for (int i = 0; i < K; i++) begin
      nan = nan | special(in_a[i*8+:8], A_EBITS, A_MBITS, A_NAN_MODE) | special(in_w[i*8+:8], W_EBITS, W_MBITS, W_NAN_MODE);
      sum = sum + element(in_a[i*8+:8], A_EBITS, A_MBITS, MUTATION == 2) * element(in_w[i*8+:8], W_EBITS, W_MBITS, 1'b0);
    end
    exponent = 16'(A_LSB + W_LSB) + ($signed({8'd0, in_a_scale}) - 16'sd127) +
               ($signed({8'd0, in_w_scale}) - (MUTATION == 1 ? 16'sd128 : 16'sd127));
    if (nan) sum = '0;
  end

  assign in_ready = !out_valid || out_ready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      out_valid <= 1'b0;
      out_sum <= '0;
      out_exponent <= '0;
      out_nan <= 1'b0;
    end else if (in_ready) begin
      out_valid <= in_valid;
      if (in_valid) begin
        out_sum <= sum;
        out_exponent <= exponent;
        out_nan <= nan;
      end
    end
  end
endmodule
