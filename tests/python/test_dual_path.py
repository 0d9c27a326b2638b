"""examples/pytorch_dual_path.py, run as a user runs it: a PyTorch LSQ quantizer trained for a few steps,
exported as QONNX and as QDQ. Both must lower to one IntGraph, and the integer codes must agree with
PyTorch's own fake-quant computation (an independent float implementation) wherever the arithmetic is the
same: every MAC and pooling layer, in isolation, exactly but for float32 rounding ties."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

import chipref

from conftest import SOURCE


def test_the_dual_path_example(tmp_path):
    out = tmp_path / "dual"
    run = subprocess.run([sys.executable, str(SOURCE / "examples" / "pytorch_dual_path.py"), "--out", str(out),
                          "--steps", "30", "--images", "300"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "QONNX and QDQ exports lower to the same IntGraph: yes" in run.stdout
    qonnx = {n.op_type for n in onnx.load(str(out / "cnn_qonnx.onnx")).graph.node}
    qdq = {n.op_type for n in onnx.load(str(out / "cnn_qdq.onnx")).graph.node}
    assert "Quant" in qonnx and "QuantizeLinear" not in qonnx
    assert {"QuantizeLinear", "DequantizeLinear"} <= qdq and "Quant" not in qdq

    # A QONNX model keeps its own parameters: calibration inputs given anyway are ignored, with a warning.
    with pytest.warns(UserWarning, match="calib is ignored"):
        chipref.quantize(str(out / "cnn_qonnx.onnx"), config={}, calib=np.zeros((2, 1, 28, 28), np.float32))

    report = json.loads((out / "dual_path.json").read_text())
    assert report["identical_int_graphs"]
    layers = {layer["value"]: layer for layer in report["layers"]}
    assert len(layers) == 9  # the input and the eight quantized activations of QuantCnn
    for layer in layers.values():
        assert layer["elements"] > 0
        assert layer["within_one"] == layer["elements"], layer  # isolated: never more than 1 LSB apart
        if "Add" not in layer["producer"]:
            # The same real arithmetic in both (integer bias at s_x * s_w, one rounding): only float32
            # ties of PyTorch's convolution may differ.
            assert layer["differing"] <= 1e-4 * layer["elements"], layer
    # The residual Add is where they differ: chipref rescales each input to the output's scale and rounds
    # each (docs/numerics.md §5, residual add), PyTorch adds floats and rounds once.
    add = next(layer for layer in layers.values() if "Add" in layer["producer"])
    assert 0 < add["differing"] < 0.2 * add["elements"]
    assert abs(report["integer_top1"] - report["fake_quant_top1"]) <= 0.02
