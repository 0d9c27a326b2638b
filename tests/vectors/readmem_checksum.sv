// Loads a chipref .mem vector file with $readmemh and prints a checksum of its elements, which
// tests/vectors/test_testbench.cpp compares with the one it computes in C++: Σ e_i · (i + 1) mod 2^32,
// e_i element i's WIDTH-bit two's complement read as unsigned. A word holds PER_WORD elements (element 0
// in its low bits, or its high bits with MSB_FIRST); the last word's unused slots are not counted.
module readmem_checksum;
  parameter int DEPTH = 4;      // words
  parameter int WIDTH = 8;      // bits of one element
  parameter int PER_WORD = 1;   // elements a word
  parameter int COUNT = DEPTH;  // elements
  parameter int MSB_FIRST = 0;
  parameter FILE = "data.mem";  // untyped: Icarus 11 has no string parameters
  logic [WIDTH*PER_WORD-1:0] words [0:DEPTH-1];
  logic [WIDTH-1:0] element;
  longint unsigned sum;
  int slot;
  initial begin
    for (int i = 0; i < DEPTH; i++) words[i] = '0;
    $readmemh(FILE, words);
    sum = 0;
    for (int i = 0; i < COUNT; i++) begin
      slot = MSB_FIRST != 0 ? PER_WORD - 1 - i % PER_WORD : i % PER_WORD;
      element = words[i / PER_WORD][slot * WIDTH +: WIDTH];
      sum = (sum + longint'(element) * longint'(i + 1)) % 64'd4294967296;
    end
    $display("CHECKSUM %0d", sum);
    $finish;
  end
endmodule
