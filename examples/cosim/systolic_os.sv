// An output-stationary systolic array written as a user's own design for the cosim tutorial
// (docs/cosim.md, "Bring your own DUT"): not one of chipref's reference blocks, with port names,
// widths, reset and handshake of its own.
//
// ROWS x COLS processing elements. Activations enter at the west edge (row i delayed i cycles),
// weights at the north edge (column j delayed j cycles); PE (i, j) passes activations east and weights
// south, so the k-th beat of a tile meets in PE (i, j) i + j cycles after it was accepted, where
//   acc <= (first beat of the tile ? 0 : acc) + (a − a_zero) · b      (32-bit two's complement)
// After the beat with s_last, the array stops accepting, lets the last beat reach PE (ROWS−1, COLS−1),
// then shows one PE row per cycle on m_c with m_valid (row 0 first; no backpressure) and accepts the
// next tile. There is no bias input: the accumulators start from 0.
// BUG = 1 makes PE (1, 2) forget the activation zero point: the tutorial's deliberately broken DUT.
module systolic_os #(
    parameter int ROWS = 4,
    parameter int COLS = 4,
    parameter int BUG = 0
) (
    input  logic                 i_clk,
    input  logic                 i_rst,    // synchronous, active high
    input  logic [7:0]           a_zero,   // activation zero point (unsigned, like the codes)
    input  logic                 s_valid,
    output logic                 s_ready,
    input  logic                 s_last,   // the last beat of a tile's reduction
    input  logic [ROWS*8-1:0]    s_a,      // unsigned activation codes, row i in bits [8i, 8i + 8)
    input  logic [COLS*8-1:0]    s_b,      // signed weight codes, column j in bits [8j, 8j + 8)
    output logic                 m_valid,
    output logic [COLS*32-1:0]   m_c       // the accumulators of one PE row, column j in bits [32j, 32j + 32)
);
  localparam int FLUSH = ROWS + COLS - 2;  // cycles after s_last until PE (ROWS−1, COLS−1) has its last beat
  localparam int ROW_BITS = (ROWS > 1) ? $clog2(ROWS) : 1;
  localparam int COUNT_BITS = $clog2(FLUSH + 2);

  typedef enum logic [1:0] {FEED, FLUSHING, DRAIN} state_t;
  state_t state;
  logic [COUNT_BITS-1:0] count;
  logic [ROW_BITS-1:0] drain_row;
  logic starts_tile;  // the next accepted beat is a tile's first
  logic fire;

  // Delay lines of the skewed edges: index d holds what was offered d + 1 cycles ago.
  logic [7:0]        a_delay [ROWS][ROWS];
  logic              v_delay [ROWS][ROWS], f_delay [ROWS][ROWS];
  logic signed [7:0] b_delay [COLS][COLS];
  // Each PE's registers: what it passes east (activation, valid, first) and south (weight), its accumulator.
  logic [7:0]         pe_a [ROWS][COLS];
  logic               pe_v [ROWS][COLS], pe_f [ROWS][COLS];
  logic signed [7:0]  pe_b [ROWS][COLS];
  logic signed [31:0] acc  [ROWS][COLS];

  assign s_ready = state == FEED;
  assign fire = s_valid && s_ready;
  assign m_valid = state == DRAIN;
  always_comb
    for (int j = 0; j < COLS; j++) m_c[32*j +: 32] = acc[drain_row][j];

  always_ff @(posedge i_clk) begin
    if (i_rst) begin
      state <= FEED;
      count <= '0;
      drain_row <= '0;
      starts_tile <= 1'b1;
      for (int i = 0; i < ROWS; i++)
        for (int d = 0; d < ROWS; d++) begin
          v_delay[i][d] <= 1'b0;
          f_delay[i][d] <= 1'b0;
        end
      for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++) pe_v[i][j] <= 1'b0;
    end else begin
      // The west and north edges, skewed.
      for (int i = 0; i < ROWS; i++) begin
        a_delay[i][0] <= s_a[8*i +: 8];
        v_delay[i][0] <= fire;
        f_delay[i][0] <= fire && starts_tile;
        for (int d = 1; d < ROWS; d++) begin
          a_delay[i][d] <= a_delay[i][d-1];
          v_delay[i][d] <= v_delay[i][d-1];
          f_delay[i][d] <= f_delay[i][d-1];
        end
      end
      for (int j = 0; j < COLS; j++) begin
        b_delay[j][0] <= $signed(s_b[8*j +: 8]);
        for (int d = 1; d < COLS; d++) b_delay[j][d] <= b_delay[j][d-1];
      end
      // The processing elements.
      for (int i = 0; i < ROWS; i++) begin
        for (int j = 0; j < COLS; j++) begin
          logic [7:0]        a_in;
          logic              v_in, f_in;
          logic signed [7:0] b_in;
          logic signed [8:0] centred;
          if (j == 0) begin
            a_in = (i == 0) ? s_a[7:0] : a_delay[i][i-1];
            v_in = (i == 0) ? fire : v_delay[i][i-1];
            f_in = (i == 0) ? fire && starts_tile : f_delay[i][i-1];
          end else begin
            a_in = pe_a[i][j-1];
            v_in = pe_v[i][j-1];
            f_in = pe_f[i][j-1];
          end
          if (i == 0) b_in = (j == 0) ? $signed(s_b[7:0]) : b_delay[j][j-1];
          else b_in = pe_b[i-1][j];
          centred = (BUG == 1 && i == 1 && j == 2) ? $signed({1'b0, a_in}) : $signed({1'b0, a_in}) - $signed({1'b0, a_zero});
          pe_a[i][j] <= a_in;
          pe_v[i][j] <= v_in;
          pe_f[i][j] <= f_in;
          pe_b[i][j] <= b_in;
          if (v_in) acc[i][j] <= (f_in ? 32'sd0 : acc[i][j]) + 32'(centred * b_in);
        end
      end
      // The tile's control: feed until s_last, flush the skew, drain the rows.
      if (fire) starts_tile <= s_last;
      case (state)
        FEED:
          if (fire && s_last) begin
            state <= FLUSHING;
            count <= '0;
          end
        FLUSHING:
          if (count == COUNT_BITS'(FLUSH)) state <= DRAIN;
          else count <= count + 1'b1;
        DRAIN:
          if (drain_row == ROW_BITS'(ROWS - 1)) begin
            state <= FEED;
            drain_row <= '0;
          end else begin
            drain_row <= drain_row + 1'b1;
          end
        default: state <= FEED;
      endcase
    end
  end
endmodule
