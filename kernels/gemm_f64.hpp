#pragma once
// A double GEMM for the fast form of the exact block MAC (kernels/block_mac.cpp): C = A · Bᵀ with one fused
// multiply-add per product, on AVX-512 or AVX2 + FMA. Its sums are exact only where the caller proves every
// partial sum, in any order, is a double (block_mac.cpp's bit ranges); then the order and the fusing do not
// matter.

#include <cstdint>
#include <vector>

namespace chipref::kernels {

inline constexpr int64_t kF64PanelWidth = 16;  // columns of B per packed panel

// B [cols, k] row-major as panels of kF64PanelWidth columns, each k-major ([k][16]), the last one zero padded.
std::vector<double> pack_f64_panels(const double* b, int64_t cols, int64_t k);

// C[r][j] = Σ_i A[r·lda + i] · B[j][i] for r < rows, j < cols (C row-major, stride ldc), B packed. False, doing
// nothing, when the active kernel level has no such kernel (below avx2, or a CPU without FMA).
bool gemm_f64(const double* a, int64_t lda, int64_t rows, int64_t k, const double* panels, int64_t cols, double* c,
              int64_t ldc);

}  // namespace chipref::kernels
