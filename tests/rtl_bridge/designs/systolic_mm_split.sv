// examples/cosim/systolic_mm.sv at N = 4 behind ports split the way some designs split them: A a port
// per row, B a port per column (B[k][j] at b_col<j>[k*8 +: 8]), C a port per row. For the whole_matrix
// protocol's `ports: [...]` lists (tests/rtl_bridge/test_dut_cosim.cpp).
module systolic_mm_split (
    input  logic         clk,
    input  logic         rst,
    input  logic         valid_in,
    input  logic [31:0]  a_row0, a_row1, a_row2, a_row3,
    input  logic [31:0]  b_col0, b_col1, b_col2, b_col3,
    output logic         valid_out,
    output logic [127:0] c_row0, c_row1, c_row2, c_row3
);
  logic [511:0] c_out;
  systolic_mm #(.N(4), .B_COLUMN_MAJOR(1)) array (
      .clk(clk), .rst(rst), .valid_in(valid_in), .accumulate(1'b0),
      .a_in({a_row3, a_row2, a_row1, a_row0}), .b_in({b_col3, b_col2, b_col1, b_col0}),
      .valid_out(valid_out), .c_out(c_out));
  assign {c_row3, c_row2, c_row1, c_row0} = c_out;
endmodule
