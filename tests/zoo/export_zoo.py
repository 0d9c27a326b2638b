#!/usr/bin/python3
"""Export the model zoo of tests/zoo (issue 25): torchvision-style networks with random weights.

Every model is built with a fixed seed (no downloads: random initialisation), put in eval mode and
exported with torch.onnx.export's defaults (a fixed batch of 1, constant folding on), as a user would:
    /usr/bin/python3 tests/zoo/export_zoo.py --out DIR [--opset 13] [--only resnet18,vit] [--keep-newer-than F]
Writes DIR/<model>_opset<N>.onnx and prints one line per model. Run with Debian's Python and PyTorch
(apt-get install python3-torch python3-torchvision python3-onnx); chipref itself never needs Python.
"""
import argparse
import math
import os
import sys

import torch
import torchvision


class BertStyleEncoder(torch.nn.Module):
    """A BERT-shaped encoder from torch.nn: token + position embeddings, LayerNorm, a TransformerEncoder
    with an attention mask from the padding token, and a tanh pooler over the first token."""

    def __init__(self, vocab=1000, length=128, width=128, heads=4, layers=2, classes=2):
        super().__init__()
        self.tokens = torch.nn.Embedding(vocab, width)
        self.positions = torch.nn.Parameter(torch.randn(1, length, width) * 0.02)
        self.norm = torch.nn.LayerNorm(width)
        layer = torch.nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu",
                                                 batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pooler = torch.nn.Linear(width, width)
        self.classifier = torch.nn.Linear(width, classes)

    def forward(self, ids):
        x = self.norm(self.tokens(ids) + self.positions)
        x = self.encoder(x, src_key_padding_mask=ids == 0)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))


def vit():
    # ViT-B/16-shaped (16x16 patches of a 224x224 image, width 768, 12 heads, MLP 3072), 2 layers deep
    model = torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=2, num_heads=12,
                                                 hidden_dim=768, mlp_dim=3072, num_classes=1000)
    # torchvision starts the head and the class token at zero, which training moves away from: untrained,
    # every logit is 0, and the class token's row (position embedding only, std 0.02) is 1/60 of a patch
    # row (std ~1.2), below one step of the 8-bit activations it shares a tensor with, so the logits read
    # quantization noise. Random values of a patch row's scale instead, as a trained network has.
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    torch.nn.init.normal_(model.heads.head.bias, std=0.02)
    torch.nn.init.normal_(model.class_token, std=1.0)
    return model


MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    "regnet_x_400mf": lambda: torchvision.models.regnet_x_400mf(),
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(),
    "vit": vit,
    "swin_t": lambda: torchvision.models.swin_t(),
    "bert_encoder": BertStyleEncoder,
}


def example_input(name):
    if name == "bert_encoder":
        return torch.randint(1, 1000, (1, 128), dtype=torch.int64)
    return torch.zeros(1, 3, 224, 224)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    ap.add_argument("--keep-newer-than", default="", metavar="FILE",
                    help="keep a model file already newer than FILE (the export is deterministic)")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        path = os.path.join(args.out, f"{name}_opset{args.opset}.onnx")
        if args.keep_newer_than and os.path.exists(path) and \
                os.path.getmtime(path) > os.path.getmtime(args.keep_newer_than):
            print(f"{name}: kept {path}", flush=True)
            continue
        torch.manual_seed(0)
        model = MODELS[name]().eval()
        # Not under torch.no_grad(): there nn.MultiheadAttention takes a fused fast path that the exporter
        # of torch 1.13 cannot write.
        torch.onnx.export(model, example_input(name), path, opset_version=args.opset, input_names=["input"],
                          output_names=["logits"])
        print(f"{name}: {os.path.getsize(path)} bytes -> {path}", flush=True)


if __name__ == "__main__":
    main()
