#!/usr/bin/python3
"""Writes a small labelled image folder and what torchvision makes of it, for tests/data/test_datasets.cpp.

  torchvision_reference.py DIR

DIR/images/CLASS/...: JPEG (colour and greyscale) and PNG (RGB, RGBA, palette, greyscale 8- and 16-bit) files of
assorted sizes, some in a nested folder, some with upper-case extensions, plus a .txt file ImageFolder skips.
For each pipeline P below, DIR/P.yaml (chipref's --preprocess file), DIR/P.npy (torchvision's inputs, float32
[N, C, H, W] or NHWC) and DIR/labels.npy (int64). Deterministic: a fixed seed.
"""
import os
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms

out = sys.argv[1]
rng = np.random.default_rng(20261205)
root = os.path.join(out, "images")


def smooth(h, w, c):
    # Gradients plus noise: resampling differences show in smooth and in sharp regions alike.
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 255 // max(w - 1, 1) + y * 128 // max(h - 1, 1))[..., None] + np.arange(c) * 40
    noise = rng.integers(-30, 31, size=(h, w, c))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def save(path, array, mode=None, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path, **kw) if mode else Image.fromarray(array).save(path, **kw)


save(f"{root}/cat/a.jpg", smooth(300, 400, 3), quality=90)
save(f"{root}/cat/b.JPEG", smooth(257, 231, 3), quality=75)
save(f"{root}/cat/c_grey.jpg", smooth(180, 240, 1)[..., 0], "L", quality=85)
save(f"{root}/cat/nested/d.png", smooth(64, 97, 3))
save(f"{root}/dog/e.png", smooth(120, 120, 4), "RGBA")
Image.fromarray(smooth(99, 150, 3)).convert("P", palette=Image.ADAPTIVE, colors=64).save(f"{root}/dog/f_palette.png")
save(f"{root}/dog/g_grey.png", smooth(200, 100, 1)[..., 0], "L")
Image.fromarray((smooth(90, 70, 1)[..., 0].astype(np.uint16) * 3)).save(f"{root}/dog/h_grey16.png")
save(f"{root}/dog/i_small.jpg", smooth(20, 30, 3), quality=95)
with open(f"{root}/dog/notes.txt", "w") as f:
    f.write("not an image\n")
os.makedirs(f"{root}/empty_is_not_a_class_file", exist_ok=True)
save(f"{root}/empty_is_not_a_class_file/j.png", smooth(33, 33, 3))

mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
pipelines = {
    # torchvision's ImageNet evaluation transform
    "imagenet": (transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                     transforms.Normalize(mean, std)]),
                 f"resize: 256\ncenter_crop: 224\nmean: {mean}\nstd: {std}\n", False),
    # an exact size, an odd crop with padding (the 20x30 image is smaller), no normalisation
    "exact_odd": (transforms.Compose([transforms.Resize((37, 41)), transforms.CenterCrop((36, 45)),
                                      transforms.ToTensor()]),
                  "resize: [37, 41]\ncenter_crop: [36, 45]\n", False),
    # upscaling of the small images and an odd centre offset; BGR and NHWC done by hand after torchvision.
    # chipref's mean/std are in the output's (BGR) order: torchvision normalises the RGB planes with them
    # reversed, and the planes are reversed afterwards.
    "bgr_nhwc": (transforms.Compose([transforms.Resize(45), transforms.CenterCrop(31), transforms.ToTensor(),
                                     transforms.Normalize([0.3, 0.4, 0.5], [0.3, 0.25, 0.2])]),
                 "preprocess:\n  resize: 45\n  center_crop: 31\n  mean: [0.5, 0.4, 0.3]\n"
                 "  std: [0.2, 0.25, 0.3]\n  channel_order: bgr\n  layout: nhwc\n", True),
}
labels = None
for name, (transform, yaml, bgr_nhwc) in pipelines.items():
    data = datasets.ImageFolder(root, transform=transform)
    xs = torch.stack([x for x, _ in data]).numpy()
    if bgr_nhwc:
        xs = np.ascontiguousarray(xs[:, ::-1].transpose(0, 2, 3, 1))
    np.save(os.path.join(out, name + ".npy"), xs.astype(np.float32))
    with open(os.path.join(out, name + ".yaml"), "w") as f:
        f.write(yaml)
    labels = np.array([y for _, y in data.samples], dtype=np.int64)
np.save(os.path.join(out, "labels.npy"), labels)
with open(os.path.join(out, "classes.txt"), "w") as f:
    f.write("\n".join(datasets.ImageFolder(root).classes) + "\n")
