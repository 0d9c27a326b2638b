// chipref's golden model for SystemVerilog testbenches (docs/cosim.md, "DPI-C golden model"): the DPI-C
// functions of libchipref_dpi.so, and wrappers that stop the simulation with chipref's message when a
// call fails (a bad vectors directory, layer or parameter) instead of returning a silent 0.
//   `include "chipref_dpi.svh"   then   import chipref_dpi::*;
// Every value is a 32-bit int. Arrays are open arrays (any bounds), row-major.
`ifndef CHIPREF_DPI_SVH
`define CHIPREF_DPI_SVH
package chipref_dpi;
  // The message of the last failed call ("" if none failed).
  import "DPI-C" function string chipref_last_error();
  // y = clamp(sat_out(zero_point + R(acc · multiplier · 2^-shift)), clamp_lo, clamp_hi) (docs/numerics.md
  // §5): flavour "single" | "gemmlowp" | "float32", rounding "half_even" | "half_up" | ... (single only),
  // output format out_bits wide, signed or not.
  import "DPI-C" function int chipref_mulshift(input int acc, input int multiplier, input int shift,
      input int multiplier_bits, input string flavour, input string rounding, input int zero_point,
      input int out_bits, input bit out_signed, input int clamp_lo, input int clamp_hi);
  // The same over a vector: code[i] for acc[i] (code as long as acc).
  import "DPI-C" function void chipref_mulshift_vector(input int acc[], output int code[], input int multiplier,
      input int shift, input int multiplier_bits, input string flavour, input string rounding, input int zero_point,
      input int out_bits, input bit out_signed, input int clamp_lo, input int clamp_hi);
  // A MAC tile: c[i][j] = bias[j] + Σ_k (a[i][k] − a_zero_point)(b[k][j] − b_zero_point), 32-bit wrap
  // (docs/numerics.md §4); a is rows × depth, b depth × cols, c rows × cols.
  import "DPI-C" function void chipref_mac_tile(input int rows, input int cols, input int depth, input int a[],
      input int b[], input int a_zero_point, input int b_zero_point, input int bias[], output int c[]);
  // A table lookup (docs/numerics.md §8): direct (shift 0), nearest entry, or interpolated.
  import "DPI-C" function int chipref_lut(input int x, input int entries[], input int in_min, input int shift,
      input bit interpolate, input int out_bits, input bit out_signed);
  // Golden vectors (a `chipref vectors` directory): element `element` (row-major) of the tensor playing
  // `role` ("input", "output", "accumulator", "weight", "bias", "multiplier", "shift") for layer `layer`
  // (as chipref inspect names it) and input `input`; constants answer every input. Files are read once.
  import "DPI-C" function int chipref_expected(input string vectors_dir, input string layer, input string role,
      input int input_index, input int element);
  import "DPI-C" function int chipref_expected_count(input string vectors_dir, input string layer,
      input string role, input int input_index);

  function automatic void check(string what);
    string e = chipref_last_error();
    if (e != "") $fatal(1, "%s: %s", what, e);
  endfunction
  // The wrappers a scoreboard calls: the DPI function, then check(). The functions taking arrays have none
  // (a wrapper's array argument would be a dynamic array, which Verilator 5.006 cannot pass to an open
  // array): call them, then check("what").
  function automatic int expected(string vectors_dir, string layer, string role, int input_index, int element);
    expected = chipref_expected(vectors_dir, layer, role, input_index, element);
    check("chipref_dpi::expected");
  endfunction
  function automatic int expected_count(string vectors_dir, string layer, string role, int input_index);
    expected_count = chipref_expected_count(vectors_dir, layer, role, input_index);
    check("chipref_dpi::expected_count");
  endfunction
  function automatic int mulshift(int acc, int multiplier, int shift, int multiplier_bits, string flavour,
                                  string rounding, int zero_point, int out_bits, bit out_signed, int clamp_lo,
                                  int clamp_hi);
    mulshift = chipref_mulshift(acc, multiplier, shift, multiplier_bits, flavour, rounding, zero_point, out_bits,
                                out_signed, clamp_lo, clamp_hi);
    check("chipref_dpi::mulshift");
  endfunction
endpackage
`endif
