#pragma once
// Float-graph passes run before quantization, each its own tested unit.

#include "model/graph.hpp"

namespace chipref {

// Conv → BatchNormalization (the Conv's only consumer, constant parameters) becomes one Conv with
// w' = w·γ/√(σ²+ε) and b' = (b − μ)·γ/√(σ²+ε) + β per output channel (docs/numerics.md §6), computed
// in double and rounded to float32 once. Returns how many BNs were folded.
int fold_batch_norm(Graph& graph);

// Removes nodes that compute the identity at inference: Identity, Dropout, Pad whose pads are all zero,
// and a Mul or Div by a constant 1 that broadcasts nothing. Returns how many were removed.
int remove_identities(Graph& graph);

// The LayerNorm that PyTorch exports below opset 17, decomposed over the last axis,
//   m = ReduceMean(x); d = x − m; v = ReduceMean(d^2); y = d / Sqrt(v + ε) · γ + β
// (γ, β, ε constant; every intermediate read only inside the pattern), becomes one
// LayerNormalization(x, γ, β, axis −1, epsilon ε). Returns how many were fused.
int fuse_layer_norm(Graph& graph);

// The erf GELU as PyTorch exports it, x · (1 + erf(x / √2)) · 0.5 (Div by the constant √2, Erf, Add of
// 1, Mul by x, Mul by 0.5; either operand order; intermediates read only inside the pattern), becomes
// one Gelu(x) node (approximate "none"). Returns how many were fused.
int fuse_gelu(Graph& graph);

// x times a gate of x, as PyTorch exports these activations, becomes one node (each gate op read only
// by the next, either Mul operand order), lowered to one lookup table: x · Sigmoid(x) (nn.SiLU) → a
// chipref-domain Silu(x) (float executor: x / (1 + e^−x) in double); x · Tanh(Softplus(x)) (nn.Mish
// below opset 18) → Mish(x); x · HardSigmoid(x) with alpha 1/6, beta 1/2 (nn.Hardswish below opset 14)
// → HardSwish(x). Returns how many were fused.
int fuse_gated_activations(Graph& graph);

// A per-channel affine map that no Conv absorbed — BatchNormalization after anything but a Conv
// (DenseNet's pre-activation order, a BN after a Concat), or a Mul, Add, Sub or Div by a constant with
// one value per channel (ConvNeXt's layer scale, an input normalisation) on an [N, C, H, W] tensor —
// becomes a depthwise Conv with 1 × 1 kernels (weight w_c, bias b_c, computed in
// double and rounded to float32 once), lowered like any other Conv. Returns how many were rewritten.
int channel_affine_to_depthwise(Graph& graph);

// ReduceMean over the spatial axes of an [N, C, H, W] tensor (squeeze-excitation's pooling as some
// exports write it) is a GlobalAveragePool (then a Flatten to [N, C] without keepdims); a ReduceSum
// there is that mean times H·W (a Mul by a constant scalar). Returns how many were rewritten.
int reduce_mean_to_pool(Graph& graph);

// A 2-D ConvTranspose with constant weights W [C, M/g, kh, kw] becomes the convolution that computes it:
// chipref's Dilate (s − 1 zeros between the input's neighbours; none for stride 1), then a Conv with W
// transposed per group and flipped in space, dilation d, stride 1, pads d·(k − 1) − pad (the end's plus
// output_padding). Where a pad would be negative the node stays (the lowering refuses it). Returns how many.
int conv_transposes_to_convs(Graph& graph);

// a / b with b an activation (computed at run time, not a constant) is a · Reciprocal(b): the reciprocal a
// lookup table of b's codes, the product the `mul` of two activations. Returns how many were rewritten.
int divisions_to_reciprocals(Graph& graph);

}  // namespace chipref
