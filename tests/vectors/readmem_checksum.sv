// Loads a chipref .mem vector file with $readmemh and prints a checksum of its words, which
// tests/vectors/test_testbench.cpp compares with the one it computes in C++: Σ word_i · (i + 1) mod 2^32,
// word_i the element's WIDTH-bit two's complement read as unsigned.
module readmem_checksum;
  parameter int DEPTH = 4;
  parameter int WIDTH = 8;
  parameter FILE = "data.mem";  // untyped: Icarus 11 has no string parameters
  logic [WIDTH-1:0] words [0:DEPTH-1];
  longint unsigned sum;
  initial begin
    for (int i = 0; i < DEPTH; i++) words[i] = '0;
    $readmemh(FILE, words);
    sum = 0;
    for (int i = 0; i < DEPTH; i++) sum = (sum + longint'(words[i]) * longint'(i + 1)) % 64'd4294967296;
    $display("CHECKSUM %0d", sum);
    $finish;
  end
endmodule
