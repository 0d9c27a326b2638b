#!/usr/bin/python3
"""The dual path from PyTorch: your own quantizer, a few QAT steps, exported as QONNX and as QDQ, lowered
by chipref with the quantizer's own parameters, and compared layer by layer with PyTorch's fake-quant.

The quantizer is written here, as a user would write theirs: LSQ (Esser et al., "Learned Step Size
Quantization", ICLR 2020), a step size per tensor (activations) or per output channel (weights) learned
with the straight-through estimator and the paper's gradient scale 1/sqrt(elements * q_max). It is
attached to the shipped Fashion-MNIST CNN (examples/fmnist_cnn.onnx, its BatchNorms folded into the
convolutions), trained for a few steps, and exported twice:
  - QONNX: `Quant` nodes (qonnx.custom_op.general) with the step sizes and bit widths;
  - QDQ: QuantizeLinear/DequantizeLinear on the activations, int8 weight codes behind DequantizeLinear.
chipref lowers both to one IntGraph (checked), runs it on test images, and its integer codes are compared
with the codes of PyTorch's fake-quantized tensors, round(y / s) + z, per layer: exact, within 1 LSB, and
the SQNR of chipref's dequantized tensor against PyTorch's (docs/python.md explains the differences).

Run with Debian's Python and the module from a build tree (or an installed chipref):
    PYTHONPATH=build/default/python /usr/bin/python3 examples/pytorch_dual_path.py --out /tmp/dual
"""
import argparse
import filecmp
import json
import math
import os
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fmnist import MEAN, STD, FmnistCnn, load  # noqa: E402  (the shipped CNN's definition and data)

import chipref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
QONNX_DOMAIN = "qonnx.custom_op.general"


class RoundSte(torch.autograd.Function):
    """Round half to even (torch.round, as QuantizeLinear and QONNX's ROUND do); gradient passed straight
    through."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def scaled_gradient(x, factor):
    """x in the forward pass; its gradient multiplied by `factor` in the backward pass (LSQ's g)."""
    return (x - x * factor).detach() + x * factor


class QonnxQuant(torch.autograd.Function):
    """Fake quantization that exports as one QONNX Quant node."""

    @staticmethod
    def forward(ctx, x, scale, bits, signed):
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        return torch.clamp(torch.round(x / scale), qmin, qmax) * scale

    @staticmethod
    def symbolic(g, x, scale, bits, signed):
        zero = g.op("Constant", value_t=torch.zeros(scale.type().sizes() if scale.type().sizes() else [],
                                                    dtype=torch.float32))
        width = g.op("Constant", value_t=torch.tensor(float(bits)))
        return g.op(f"{QONNX_DOMAIN}::Quant", x, scale, zero, width, signed_i=int(signed), narrow_i=0,
                    rounding_mode_s="ROUND")


class QdqActivation(torch.autograd.Function):
    """Fake quantization that exports as QuantizeLinear -> DequantizeLinear (per tensor, zero point 0)."""

    @staticmethod
    def forward(ctx, x, scale, bits, signed):
        return QonnxQuant.forward(ctx, x, scale, bits, signed)

    @staticmethod
    def symbolic(g, x, scale, bits, signed):
        assert bits == 8, "ONNX QuantizeLinear takes 8-bit codes"
        zero = g.op("Constant", value_t=torch.zeros([], dtype=torch.int8 if signed else torch.uint8))
        return g.op("DequantizeLinear", g.op("QuantizeLinear", x, scale, zero), scale, zero)


class QdqWeight(torch.autograd.Function):
    """Integer weight codes and per-channel scales that export as DequantizeLinear (axis 0)."""

    @staticmethod
    def forward(ctx, codes, scale):
        return codes.float() * scale.view(-1, *([1] * (codes.dim() - 1)))

    @staticmethod
    def symbolic(g, codes, scale):
        zero = g.op("Constant", value_t=torch.zeros(scale.type().sizes(), dtype=torch.int8))
        return g.op("DequantizeLinear", codes, scale, zero, axis_i=0)


class LsqQuantizer(nn.Module):
    """LSQ fake quantization, symmetric (zero point 0): y = clamp(round(x / s), q_min, q_max) * s with a
    learned step s, one per tensor or, with `channels`, one per slice of axis 0 (weights)."""

    def __init__(self, bits, signed, channels=None):
        super().__init__()
        self.bits, self.signed = bits, signed
        self.qmin, self.qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        self.step = nn.Parameter(torch.ones(channels or 1))
        self.register_buffer("initialised", torch.tensor(False))
        self.export = None  # None (training), "qonnx" or "qdq"

    def shaped_step(self, x):
        return self.step.view(-1, *([1] * (x.dim() - 1))) if self.step.numel() > 1 else self.step.view([])

    def forward(self, x):
        if not self.initialised:
            with torch.no_grad():  # LSQ's initial step: 2 mean|x| / sqrt(q_max), per channel for weights
                dims = list(range(1, x.dim())) if self.step.numel() > 1 else list(range(x.dim()))
                self.step.copy_((2 * x.abs().mean(dim=dims) / math.sqrt(self.qmax)).clamp_min(1e-6).reshape(-1))
                self.initialised.fill_(True)
        if self.export is not None:
            function = QonnxQuant if self.export == "qonnx" else QdqActivation
            return function.apply(x, self.shaped_step(x).detach(), self.bits, self.signed)
        # The paper's gradient scale, 1 / sqrt(features * q_max), features per input (per channel: per slice).
        step = scaled_gradient(self.step, 1.0 / math.sqrt(x[0].numel() * self.qmax))
        step = step.view(-1, *([1] * (x.dim() - 1))) if self.step.numel() > 1 else step.view([])
        return torch.clamp(RoundSte.apply(x / step), self.qmin, self.qmax) * step

    def weight_codes(self, w):
        step = self.shaped_step(w)
        return torch.clamp(torch.round(w / step), self.qmin, self.qmax).to(torch.int8)


class QuantConv(nn.Module):
    """A convolution (or a linear layer) whose weights and bias come from the float model with the
    BatchNorm folded in: weights fake-quantized per output channel, the bias rounded to its accumulator's
    step s_x * s_w[c] (int32 in hardware, as Torch2Chip does: a float bias would be a difference between
    PyTorch and any integer datapath, and the dual path would show it)."""

    def __init__(self, weight, bias, bits, input_quant, stride=1, padding=0, groups=1, linear=False):
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight.clone()), nn.Parameter(bias.clone())
        self.stride, self.padding, self.groups, self.linear = stride, padding, groups, linear
        self.quant = LsqQuantizer(bits, True, channels=weight.shape[0])
        self.input_quant = [input_quant]  # in a list: not a submodule of this layer

    def quantized_bias(self):
        step = self.input_quant[0].step * self.quant.step
        return RoundSte.apply(self.bias / step) * step

    def forward(self, x):
        if self.quant.export == "qdq":  # the codes computed before the export: constants, not traced ops
            w = QdqWeight.apply(self.codes, self.quant.step.detach())
        elif self.quant.export == "qonnx":
            w = QonnxQuant.apply(self.weight, self.quant.shaped_step(self.weight).detach(), self.quant.bits, True)
        else:
            w = self.quant(self.weight)
        bias = self.exported_bias if self.quant.export else self.quantized_bias()
        if self.linear:
            return F.linear(x, w, bias)
        return F.conv2d(x, w, bias, self.stride, self.padding, 1, self.groups)


def folded(conv, bn):
    """A Conv2d's weight and bias with its BatchNorm folded in (eval mode)."""
    factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (conv.weight * factor.view(-1, 1, 1, 1)).detach(), (bn.bias - bn.running_mean * factor).detach()


class QuantCnn(nn.Module):
    """The shipped CNN's function with a quantizer on every tensor chipref's integer network holds: the
    input, each convolution's output after its activation, the residual branch, the pooled tensors."""

    def __init__(self, cnn, weight_bits=8):
        super().__init__()
        names = ["input", "stem", "down", "dw", "pw", "residual", "pool", "conv3", "gap"]
        self.act = nn.ModuleDict({n: LsqQuantizer(8, n in ("input", "pw")) for n in names})

        def qconv(block, source, **kw):
            return QuantConv(*folded(block[0], block[1]), weight_bits, self.act[source], **kw)
        self.stem = qconv(cnn.stem, "input", padding=1)
        self.down = qconv(cnn.down, "stem", stride=2, padding=1)
        self.dw = qconv(cnn.dw, "down", padding=1, groups=32)
        self.pw = qconv(cnn.pw, "dw")
        self.conv3 = qconv(cnn.conv3, "pool", padding=1)
        self.head = QuantConv(cnn.head.weight.detach(), cnn.head.bias.detach(), weight_bits, self.act["gap"],
                              linear=True)

    def forward(self, x):
        a = self.act
        x = a["input"](x)
        x = a["stem"](F.relu(self.stem(x)))
        x = a["down"](F.relu(self.down(x)))
        branch = a["pw"](self.pw(a["dw"](torch.clamp(self.dw(x), 0, 6))))
        x = a["residual"](F.relu(x + branch))
        x = a["pool"](F.avg_pool2d(x, 2))
        x = a["conv3"](F.relu(self.conv3(x)))
        x = a["gap"](F.adaptive_avg_pool2d(x, 1))
        return self.head(torch.flatten(x, 1))

    def quantizers(self):
        return [m for m in self.modules() if isinstance(m, LsqQuantizer)]


def shipped_cnn():
    """The shipped CNN with the weights of examples/fmnist_cnn.onnx (its parameter names are the module's)."""
    cnn = FmnistCnn()
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
               for t in onnx.load(os.path.join(HERE, "fmnist_cnn.onnx")).graph.initializer}
    cnn.load_state_dict({k: weights.get(k, v) for k, v in cnn.state_dict().items()})
    return cnn.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def export(model, kind, path):
    for q in model.quantizers():
        q.export = kind
    for layer in model.modules():
        if isinstance(layer, QuantConv):
            layer.register_buffer("codes", layer.quant.weight_codes(layer.weight).detach(), persistent=False)
            layer.register_buffer("exported_bias", layer.quantized_bias().detach(), persistent=False)
    model.eval()
    with warnings.catch_warnings():  # torch 1.13's notes on custom symbolic functions
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          custom_opsets={QONNX_DOMAIN: 1} if kind == "qonnx" else None)
    for q in model.quantizers():
        q.export = None


def quantized_tensors(path):
    """The tensor each activation quantizer of an exported model quantizes, in graph order: the name the
    IntGraph gives its codes."""
    m = onnx.load(path)
    constants = {t.name for t in m.graph.initializer} | {o for n in m.graph.node if n.op_type == "Constant"
                                                         for o in n.output}
    return [n.input[0] for n in m.graph.node
            if n.op_type in ("Quant", "QuantizeLinear") and n.input[0] not in constants]


def fake_quant_tensors(model, names, x, integer=None):
    """PyTorch's fake-quantized activations on x, by the IntGraph's names (the quantizers in call order).
    With `integer` (chipref's traced codes, and the IntGraph's values), each layer in isolation: every
    quantizer's output is replaced by chipref's codes, dequantized, before the next layer reads it, so that
    a layer's fake-quant computation starts from the integer path's input (as `chipref quantize --report`
    compares layers)."""
    outputs = []

    def hook(module, inputs, output):
        name = names[len(outputs)]
        outputs.append(output.detach().numpy())
        if integer is not None:
            codes, values = integer
            scale, zero = np.float32(values[name]["scale"]), values[name]["zero_point"]
            return torch.from_numpy((codes[name].astype(np.float32) - np.float32(zero)) * scale)

    hooks = [model.act[n].register_forward_hook(hook) for n in model.act]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    assert len(outputs) == len(names), f"{len(outputs)} quantizer calls, {len(names)} quantized tensors"
    return dict(zip(names, outputs))


def same_int_graph(a, b):
    """The two IntGraph directories hold the same network: graph.json equal but for the source model's
    name, every tensor file byte for byte."""
    ja, jb = (json.load(open(os.path.join(d, "graph.json"))) for d in (a, b))
    for j in (ja, jb):
        j.pop("source_model", None)
    tensors = sorted(os.listdir(os.path.join(a, "tensors")))
    return (ja == jb and tensors == sorted(os.listdir(os.path.join(b, "tensors")))
            and all(filecmp.cmp(os.path.join(a, "tensors", t), os.path.join(b, "tensors", t), shallow=False)
                    for t in tensors))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for the exported models and IntGraphs")
    ap.add_argument("--steps", type=int, default=200, help="QAT steps (batch 128)")
    ap.add_argument("--weight-bits", type=int, default=8, choices=[8],
                    help="weight width (QDQ's DequantizeLinear takes int8 codes)")
    ap.add_argument("--images", type=int, default=1000, help="test images to evaluate and compare on")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    xte, yte = xte[:args.images], yte[:args.images]

    float_cnn = shipped_cnn()
    model = QuantCnn(float_cnn, args.weight_bits)
    model.train()
    with torch.no_grad():
        model(xtr[:512])  # LSQ's step initialisation from one batch
    print(f"float CNN top-1 {accuracy(float_cnn, xte, yte):.4f}; fake-quant before QAT {accuracy(model, xte, yte):.4f}")
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    for step in range(args.steps):
        idx = torch.randint(0, len(xtr), (128,), generator=g)
        loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    fake_quant_top1 = accuracy(model, xte, yte)
    print(f"after {args.steps} QAT steps: loss {loss.item():.3f}, fake-quant top-1 {fake_quant_top1:.4f}")

    paths = {kind: os.path.join(args.out, f"cnn_{kind}.onnx") for kind in ("qonnx", "qdq")}
    graphs = {}
    config = {"defaults": {"requant": {"flavour": "single", "rounding": "half_even", "multiplier_bits": 31},
                           "bias": {"bits": 32}, "accumulator": {"bits": 32, "overflow": "wrap"}}}
    for kind, path in paths.items():
        export(model, kind, path)
        graphs[kind] = chipref.quantize(chipref.import_onnx(path), config=config, mean=MEAN, std=STD)
        graphs[kind].save(os.path.join(args.out, f"q_{kind}"))
    identical = same_int_graph(graphs["qonnx"].dir, graphs["qdq"].dir)
    print(f"QONNX and QDQ exports lower to the same IntGraph: {'yes' if identical else 'NO'}")

    graph = graphs["qonnx"]
    x = xte.numpy()
    logits, codes, _ = graph.run(x, trace=True)
    integer_top1 = float((logits.argmax(1) == yte.numpy()).mean())
    names = quantized_tensors(paths["qonnx"])
    isolated = chipref.compare_with_reference(graph, codes, fake_quant_tensors(model, names, xte, (codes, graph.values)))
    propagated = chipref.compare_with_reference(graph, codes, fake_quant_tensors(model, names, xte))
    print(f"\nchipref integer top-1 {integer_top1:.4f} vs PyTorch fake-quant {fake_quant_top1:.4f} "
          f"on {len(x)} test images\n")
    print("chipref's integer codes vs PyTorch's fake-quant codes, each layer in isolation (its PyTorch computation "
          "starts from chipref's input codes):\n")
    print(isolated["table"])
    print("The same, PyTorch's whole forward pass (differences propagated):\n")
    print(propagated["table"])
    summary = {"identical_int_graphs": identical, "fake_quant_top1": fake_quant_top1, "integer_top1": integer_top1,
               "layers": isolated["layers"], "propagated": propagated["layers"]}
    with open(os.path.join(args.out, "dual_path.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
