#!/usr/bin/python3
"""Train chipref's two Fashion-MNIST example models and export them to ONNX (opset 13).

Run with Debian's Python and PyTorch (scripts/setup does not install them; chipref never needs Python):
    apt-get install python3-torch python3-onnx dataset-fashion-mnist
    /usr/bin/python3 examples/train_fmnist.py [--out examples] [--epochs-cnn 6] [--epochs-vit 10]

Writes, per model, NAME.onnx and NAME.yaml (the input normalisation chipref eval applies, and the top-1
accuracy PyTorch measured on the 10 000 test images). Deterministic: fixed seeds, 2 threads.
"""
import argparse
import gzip
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # of the training images scaled to [0, 1]


def load_idx(path):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        ndim = magic & 0xFF
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def load(split):
    x = load_idx(os.path.join(DATA, f"{split}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = load_idx(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x - MEAN) / STD
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class ConvBnAct(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=nn.ReLU):
        super().__init__(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), act())


class FmnistCnn(nn.Module):
    """Conv+BN+ReLU stem, a depthwise-separable block with ReLU6 and a residual Add, average pooling,
    a Linear head."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBnAct(1, 16, 3)                      # 28x28
        self.down = ConvBnAct(16, 32, 3, stride=2)           # 14x14
        self.dw = ConvBnAct(32, 32, 3, groups=32, act=nn.ReLU6)
        self.pw = nn.Sequential(nn.Conv2d(32, 32, 1, bias=False), nn.BatchNorm2d(32))
        self.pool = nn.AvgPool2d(2)                          # 7x7
        self.conv3 = ConvBnAct(32, 48, 3)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(48, 10)

    def forward(self, x):
        x = self.down(self.stem(x))
        x = F.relu(x + self.pw(self.dw(x)))                  # residual Add
        x = self.conv3(self.pool(x))
        return self.head(torch.flatten(self.gap(x), 1))


class FmnistVit(nn.Module):
    """Patch Conv (7x7 patches → 16 tokens), class token, learned position embedding, two pre-norm
    Transformer encoder layers (multi-head attention, LayerNorm, GELU MLP), a Linear head."""

    def __init__(self, dim=48, heads=4, depth=2, mlp=96):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, 7, 7)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)        # [B, 16, dim]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def train(model, epochs, lr, xtr, ytr, xte, yte):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(xtr) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    g = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr) - 127, 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"  epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, test top-1 {evaluate(model, xte, yte):.4f}", flush=True)
    return evaluate(model, xte, yte)


def export(model, name, out, accuracy):
    model.eval()
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    with open(os.path.join(out, name + ".yaml"), "w") as f:
        f.write(f"# Written by examples/train_fmnist.py; read by chipref eval for the input normalisation.\n"
                f"model: {name}.onnx\n"
                f"dataset: fashion-mnist\n"
                f"input_scale: 1/255   # pixels to [0, 1] first\n"
                f"mean: {MEAN}\nstd: {STD}\n"
                f"pytorch_test_top1: {accuracy:.4f}   # on the 10000 test images\n")
    print(f"{name}: test top-1 {accuracy:.4f}, {os.path.getsize(path)} bytes -> {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--epochs-cnn", type=int, default=6)
    ap.add_argument("--epochs-vit", type=int, default=10)
    ap.add_argument("--only", choices=["cnn", "vit"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    if args.only in (None, "cnn"):
        torch.manual_seed(0)
        cnn = FmnistCnn()
        export(cnn, "fmnist_cnn", args.out, train(cnn, args.epochs_cnn, 3e-3, xtr, ytr, xte, yte))
    if args.only in (None, "vit"):
        torch.manual_seed(0)
        vit = FmnistVit()
        export(vit, "fmnist_vit", args.out, train(vit, args.epochs_vit, 2e-3, xtr, ytr, xte, yte))


if __name__ == "__main__":
    main()
