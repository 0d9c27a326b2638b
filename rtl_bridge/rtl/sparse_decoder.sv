// N:M sparse-weight decoder (docs/numerics.md §13, docs/cosim.md): one group a handshake. A group's N
// kept values (W-bit signed lanes) arrive with their positions in the group (IW-bit unsigned lanes,
// strictly ascending, each < M); out comes the dense group of M values, the kept values at their
// positions and 0 elsewhere. chipref unpacks the positions from the layer's packed index stream.
// Streaming: in_* with in_valid/in_ready, out_dense with out_valid/out_ready; a one-deep output
// register (in_ready = !out_valid || out_ready).
// MUTATION selects a deliberately wrong variant for cosim's self-test (0 = correct):
//   1 reverses the ⌈log2 M⌉ bits of every position (swapped index bits: 2:4 exchanges 1 and 2).
module sparse_decoder #(
    parameter int N = 2,
    parameter int M = 4,
    parameter int W = 16,
    parameter int IW = 8,
    parameter int MUTATION = 0
) (
    input  logic            clk,
    input  logic            rst_n,
    input  logic            in_valid,
    output logic            in_ready,
    input  logic [N*W-1:0]  in_values,
    input  logic [N*IW-1:0] in_index,
    output logic            out_valid,
    input  logic            out_ready,
    output logic [M*W-1:0]  out_dense
);
  localparam int B = (M > 1) ? $clog2(M) : 1;
  logic [M*W-1:0] dense;

  always_comb begin
    dense = '0;
    for (int j = 0; j < N; j++) begin
      logic [IW-1:0] position;
      position = in_index[j*IW +: IW];
      if (MUTATION == 1)
        for (int b = 0; b < B; b++) position[b] = in_index[j*IW + B - 1 - b];
      for (int p = 0; p < M; p++)
        if (position == IW'(p)) dense[p*W +: W] = in_values[j*W +: W];
    end
  end

  assign in_ready = !out_valid || out_ready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      out_valid <= 1'b0;
      out_dense <= '0;
    end else if (in_ready) begin
      out_valid <= in_valid;
      if (in_valid) out_dense <= dense;
    end
  end
endmodule
