#include "kernels/gemm_f64.hpp"

#include "kernels/avx2.hpp"
#include "kernels/avx512.hpp"
#include "kernels/simd.hpp"

namespace chipref::kernels {

std::vector<double> pack_f64_panels(const double* b, int64_t cols, int64_t k) {
  const int64_t panels = (cols + kF64PanelWidth - 1) / kF64PanelWidth;
  std::vector<double> packed(static_cast<size_t>(panels * kF64PanelWidth * k), 0.0);
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < k; ++i)
      packed[static_cast<size_t>(((j / kF64PanelWidth) * k + i) * kF64PanelWidth + j % kF64PanelWidth)] = b[j * k + i];
  return packed;
}

bool gemm_f64(const double* a, int64_t lda, int64_t rows, int64_t k, const double* panels, int64_t cols, double* c,
              int64_t ldc) {
  if (simd_at_least(SimdLevel::avx512_vnni)) {
    avx512::gemm_f64(a, lda, rows, k, panels, cols, c, ldc);
    return true;
  }
  static const bool fma = avx2::supports_fma();
  if (!simd_at_least(SimdLevel::avx2) || !fma) return false;
  avx2::gemm_f64(a, lda, rows, k, panels, cols, c, ldc);
  return true;
}

}  // namespace chipref::kernels
