#!/usr/bin/python3
"""Re-export the shipped ViT (examples/fmnist_vit.onnx, opset 13) at other opsets, same weights.

chipref must lower the attention subgraph as PyTorch exports nn.TransformerEncoderLayer /
nn.MultiheadAttention at opsets 13-17; the exports differ (opset 17 has a native LayerNormalization,
newer opsets take Slice / Unsqueeze / Squeeze arguments as inputs). This script loads the trained weights
from the opset-13 file by name into examples/train_fmnist.py's FmnistVit and writes
tests/data/fmnist_vit_opset{14,17}.onnx for tests/quant/test_vit.cpp. Run with Debian's Python and PyTorch
(apt-get install python3-torch python3-onnx); chipref never needs Python:
    /usr/bin/python3 examples/export_vit_opsets.py [--out tests/data]
Deterministic: the same weights and export settings give the same files.
"""
import argparse
import os
import sys

import onnx
import onnx.numpy_helper
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fmnist import FmnistVit  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(HERE, "..", "tests", "data")))
    args = ap.parse_args()
    source = onnx.load(os.path.join(HERE, "fmnist_vit.onnx"))
    weights = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in source.graph.initializer}
    model = FmnistVit()
    state = model.state_dict()
    missing = [k for k in state if k not in weights]
    if missing:
        sys.exit(f"fmnist_vit.onnx lacks weights {missing}")
    model.load_state_dict({k: weights[k] for k in state})
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    for opset in (14, 17):
        path = os.path.join(args.out, f"fmnist_vit_opset{opset}.onnx")
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=opset, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=False)
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        print(f"opset {opset}: {os.path.getsize(path)} bytes -> {path}; ops: {' '.join(ops)}")


if __name__ == "__main__":
    main()
