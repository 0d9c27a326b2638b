#pragma once
// N:M pruning by magnitude along a layer's reduction axis (docs/numerics.md §13): weights [out, ...]
// are rows of k = numel / out consecutive positions (a convolution's (c, ky, kx) in that order, a
// linear layer's input features), cut into groups of M from position 0; in each group the N largest
// |w| stay (ties: the lower position), the rest become 0. When M does not divide k the last group has
// fewer than M positions (conceptually padded with zeros, which are never kept over a real weight).

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/sparse.hpp"
#include "model/tensor.hpp"

namespace chipref {

// Parses "N:M" (1 <= N <= M, 2 <= M <= 256); InputError otherwise.
kernels::NmPattern parse_nm_pattern(const std::string& text);
std::string to_string(kernels::NmPattern p);

// Zeroes all but the N largest |w| of every group, in place (float or integer tensors). Returns how
// many weights it zeroed.
int64_t prune_nm(Tensor& weights, kernels::NmPattern pattern);

// True when every group of every row has at most N non-zeros.
bool is_nm_sparse(const Tensor& weights, kernels::NmPattern pattern);

}  // namespace chipref
