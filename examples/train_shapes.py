#!/usr/bin/python3
"""A colour example beyond Fashion-MNIST: a CIFAR-10-shaped (3 x 32 x 32) CNN on rendered shapes.

No Debian package ships a colour image dataset, so this script draws one: four classes (circle, square,
triangle, cross), each shape of a random colour, size and place on a random background, with noise, saved
as PNG and JPEG files in torchvision's ImageFolder layout. Deterministic: fixed seeds, 2 threads.

    /usr/bin/python3 examples/train_shapes.py data DIR       # DIR/train/CLASS/*, DIR/test/CLASS/*
    /usr/bin/python3 examples/train_shapes.py train [--out examples]

`train` draws the folder in a temporary directory, trains on DIR/train and writes shapes_cnn.onnx (opset 13,
dynamic batch) and shapes_cnn.yaml: the preprocessing (per-channel mean/std of the training images, as
docs/data.md reads it) and PyTorch's top-1/top-5 on the test images, which tests/model/test_shapes_example.cpp
checks chipref's evaluation against.
"""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, ImageDraw
from torchvision import datasets, transforms

CLASSES = ["circle", "cross", "square", "triangle"]
TRAIN_PER_CLASS, TEST_PER_CLASS = 250, 60


def draw(kind, rng):
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    colour = tuple(int(v) for v in (np.array(background) + rng.integers(80, 176, 3)) % 256)
    image = Image.new("RGB", (32, 32), background)
    d = ImageDraw.Draw(image)
    r = int(rng.integers(6, 13))
    cx, cy = (int(v) for v in rng.integers(r, 32 - r, 2))
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        w = max(2, r // 3)
        d.rectangle([cx - r, cy - w, cx + r, cy + w], fill=colour)
        d.rectangle([cx - w, cy - r, cx + w, cy + r], fill=colour)
    pixels = np.asarray(image).astype(np.int16) + rng.integers(-12, 13, (32, 32, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_data(root):
    rng = np.random.default_rng(1205)
    for split, count in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        for kind in CLASSES:
            os.makedirs(os.path.join(root, split, kind), exist_ok=True)
            for i in range(count):
                # every third file a JPEG, so both decoders are on the path
                name = os.path.join(root, split, kind, f"{i:04d}." + ("jpg" if i % 3 == 2 else "png"))
                draw(kind, rng).save(name, quality=92) if name.endswith("jpg") else draw(kind, rng).save(name)


class ShapesCnn(nn.Sequential):
    def __init__(self):
        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        super().__init__(*block(3, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 32),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, len(CLASSES)))


def train(out):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as root:
        make_data(root)
        raw = datasets.ImageFolder(os.path.join(root, "train"), transform=transforms.ToTensor())
        assert raw.classes == CLASSES
        x = torch.stack([t for t, _ in raw])
        mean = [round(float(v), 4) for v in x.mean(dim=(0, 2, 3))]
        std = [round(float(v), 4) for v in x.std(dim=(0, 2, 3))]
        prep = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
        train_set = datasets.ImageFolder(os.path.join(root, "train"), transform=prep)
        test_set = datasets.ImageFolder(os.path.join(root, "test"), transform=prep)
        model = ShapesCnn()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        loader = torch.utils.data.DataLoader(train_set, batch_size=50, shuffle=True,
                                             generator=torch.Generator().manual_seed(0))
        for epoch in range(12):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(model(xb), yb).backward()
                opt.step()
        model.eval()
        xt = torch.stack([t for t, _ in test_set])
        yt = torch.tensor([y for _, y in test_set])
        with torch.no_grad():
            logits = model(xt)
        top1 = int((logits.argmax(1) == yt).sum())
        top5 = int((logits.topk(min(5, len(CLASSES)), 1).indices == yt[:, None]).any(1).sum())
        print(f"PyTorch: top-1 {top1}/{len(yt)}, top-5 {top5}/{len(yt)}")
        onnx_path = os.path.join(out, "shapes_cnn.onnx")
        torch.onnx.export(model, xt[:1], onnx_path, opset_version=13, input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    with open(os.path.join(out, "shapes_cnn.yaml"), "w") as f:
        f.write("# Written by examples/train_shapes.py; read by chipref eval and quantize for the preprocessing.\n"
                "model: shapes_cnn.onnx\n"
                "dataset: examples/train_shapes.py data DIR (DIR/train, DIR/test)\n"
                f"mean: {mean}\nstd: {std}\n"
                f"pytorch_test_top1: {top1}   # of {len(yt)} test images\n"
                f"pytorch_test_top5: {top5}\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("data")
    d.add_argument("dir")
    t = sub.add_parser("train")
    t.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = p.parse_args()
    make_data(a.dir) if a.command == "data" else train(a.out)
