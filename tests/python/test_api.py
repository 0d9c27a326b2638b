"""chipref's Python API against the CLI and the library it wraps: dtypes and shapes, traces byte for byte
equal to the CLI's golden vectors, both engines, errors mapped to exceptions, and no leaks."""
import json
import os
import pathlib
import resource
import subprocess

import numpy as np
import pytest

import chipref
from conftest import CNN, SOURCE, W8A8


def test_float_model_matches_its_own_intermediates(images):
    model = chipref.import_onnx(str(CNN))
    assert model.inputs == [{"name": "input", "shape": [-1, 1, 28, 28], "dtype": "float32"}]
    y = model.run(images)
    assert y.dtype == np.float32 and y.shape == (16, 10)
    every = model.run(images, intermediates=True)
    np.testing.assert_array_equal(every["logits"], y)
    assert any(s["op_type"] == "Conv" and s["macs"] > 0 for s in chipref.import_onnx(str(CNN), batch_size=1).summary())


def test_run_matches_the_cli(cnn_graph, images, tmp_path, chipref_bin):
    x_file, y_file = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x_file, images)
    subprocess.run([chipref_bin, "run", cnn_graph.dir, "--input", str(x_file), "-o", str(y_file)], check=True,
                   capture_output=True)
    y = cnn_graph.run(images)
    assert y.dtype == np.float32 and y.shape == (16, 10)
    assert y.tobytes() == np.load(y_file).tobytes()


def test_both_engines_and_jobs_agree(cnn_graph, images):
    direct = cnn_graph.run(images)
    np.testing.assert_array_equal(cnn_graph.run(images, jobs=2), direct)
    np.testing.assert_array_equal(cnn_graph.run(images[:2], engine="systemc"), direct[:2])


def test_trace_dtypes_follow_the_value_formats(cnn_graph, images):
    y, values, overflows = cnn_graph.run(images, trace=True)
    described = cnn_graph.values
    assert set(values) == set(described)
    for name, codes in values.items():
        info = described[name]
        assert codes.dtype == np.dtype(info["dtype"]), name
        assert codes.shape[0] == 16 and list(codes.shape[1:]) == info["shape"][1:], name
        bits = int(info["format"].lstrip("uint"))
        lo, hi = (0, 2**bits - 1) if info["format"].startswith("u") else (-(2**(bits - 1)), 2**(bits - 1) - 1)
        assert codes.min() >= lo and codes.max() <= hi, name
    macs = [op["name"] for op in cnn_graph.ops if op["op_type"] in ("conv_mac", "linear_mac")]
    assert sorted(overflows) == sorted(macs) and all(v == 0 for v in overflows.values())


def test_trace_equals_the_cli_vectors_byte_for_byte(cnn_graph, images, tmp_path, chipref_bin):
    x_file = tmp_path / "x.npy"
    np.save(x_file, images[:3])
    out = tmp_path / "vec"
    subprocess.run([chipref_bin, "vectors", cnn_graph.dir, "--input", str(x_file), "--format", "npy", "-o", str(out)],
                   check=True, capture_output=True)
    _, values, _ = cnn_graph.run(images[:3], trace=True)
    manifest = json.loads((out / "manifest.json").read_text())
    compared = 0
    for entry in manifest["entries"]:
        if entry.get("input") is None or entry["role"] not in ("input", "output", "accumulator"):
            continue
        stored = np.load(out / entry["file"])
        mine = values[entry["tensor"]][entry["input"]]
        assert stored.dtype == mine.dtype, entry["file"]
        assert stored.tobytes() == np.ascontiguousarray(mine).tobytes(), entry["file"]
        compared += 1
    assert compared >= 3 * len(cnn_graph.ops) - 3  # every op's output for every input, at least


def test_vectors_and_verify_from_python(cnn_graph, images, tmp_path):
    out = tmp_path / "pyvec"
    summary = chipref.vectors(cnn_graph, images[:2], str(out), formats=["mem", "npy"])
    assert summary["inputs"] == 2 and summary["files"] > 0
    assert pathlib.Path(summary["input_source"]) == (tmp_path / "pyvec.inputs.npy").resolve()
    assert chipref.verify(str(out)) == summary["files"]
    victim = next(p for p in sorted(out.rglob("*.mem")) if "input_0001" in str(p))
    text = victim.read_text().splitlines()
    text[0] = "ff" if text[0] != "ff" else "00"
    victim.write_text("\n".join(text) + "\n")
    with pytest.raises(chipref.VerificationMismatch) as e:
        chipref.verify(str(out))
    assert e.value.exit_code == 3 and victim.name in str(e.value)


def test_save_load_round_trip(cnn_graph, images, tmp_path):
    loaded = chipref.load(cnn_graph.dir)
    np.testing.assert_array_equal(loaded.run(images), cnn_graph.run(images))
    loaded.save(str(tmp_path / "again"))
    a = pathlib.Path(cnn_graph.dir) / "graph.json"
    assert (tmp_path / "again" / "graph.json").read_bytes() == a.read_bytes()


def test_config_as_a_dict_equals_the_yaml_file(cnn_graph, images, tmp_path):
    w8a8 = {  # configs/w8a8.yaml, written out
        "calibration": {"images": 1000},
        "defaults": {
            "weights": {"bits": 8, "granularity": "per_channel", "calibrator": "minmax"},
            "activations": {"bits": 8, "signed": False, "symmetric": False, "calibrator": "minmax"},
            "requant": {"flavour": "single", "rounding": "half_even", "multiplier_bits": 31},
            "bias": {"bits": 32},
            "accumulator": {"bits": 32, "overflow": "wrap"},
        },
        "layers": [{"match": "/head/*", "activations": {"bits": 16, "signed": True}}],
    }
    from_dict = chipref.quantize(chipref.import_onnx(str(CNN)), config=w8a8, calib=images)
    from_dict.save(str(tmp_path / "d"))
    a = json.loads((tmp_path / "d" / "graph.json").read_text())
    b = json.loads((pathlib.Path(cnn_graph.dir) / "graph.json").read_text())
    assert a.pop("config") == "config dict"
    b.pop("config")
    assert a == b
    with pytest.warns(UserWarning, match="/nothing/"):
        chipref.quantize(str(CNN), config={**w8a8, "layers": [{"match": "/nothing/*", "weights": {"bits": 4}}]},
                         calib=images)
    with pytest.raises(chipref.InputError, match="/nothing/"):
        chipref.quantize(str(CNN), config={**w8a8, "layers": [{"match": "/nothing/*", "weights": {"bits": 4}}]},
                         calib=images, strict=True)


def test_errors_are_exceptions_with_the_cli_exit_codes(cnn_graph, images, tmp_path):
    with pytest.raises(chipref.InputError) as e:
        chipref.import_onnx(str(tmp_path / "missing.onnx"))
    assert e.value.exit_code == 1 and "missing.onnx" in str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, chipref.Error)
    with pytest.raises(chipref.InputError, match="float64"):
        cnn_graph.run(images.astype(np.float64))
    with pytest.raises(chipref.InputError, match="engine 'verilog'"):
        cnn_graph.run(images, engine="verilog")
    with pytest.raises(chipref.InputError, match="99"):
        chipref.quantize(str(CNN), config={"defaults": {"weights": {"bits": 99}}}, calib=images)
    with pytest.raises(chipref.InputError, match="calib"):
        chipref.quantize(str(CNN), config=str(W8A8))
    bad = images.copy()
    bad[3, 0, 5, 7] = np.nan
    with pytest.raises(chipref.InputError, match="NaN|nan|finite"):
        cnn_graph.run(bad)
    with pytest.raises(chipref.InputError, match="IntGraph"):
        chipref.load(str(tmp_path))
    unsaved = chipref.quantize(str(CNN), config=str(W8A8), calib=images)
    with pytest.raises(chipref.InputError, match="save it first"):
        chipref.vectors(unsaved, images, str(tmp_path / "v"))
    with pytest.raises(TypeError):
        cnn_graph.run("not an array")


def test_strided_and_integer_views_are_read_in_c_order(cnn_graph, images):
    wide = np.zeros((16, 1, 28, 56), np.float32)
    wide[..., ::2] = images
    np.testing.assert_array_equal(cnn_graph.run(wide[..., ::2]), cnn_graph.run(images))


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def test_repeated_runs_and_reference_cycles_do_not_leak(cnn_graph):
    import gc
    import weakref
    big = np.random.default_rng(1).standard_normal((256, 1, 28, 28)).astype(np.float32)  # traces: 42 MB a run

    def once():
        y, values, _ = cnn_graph.run(big, trace=True)
        holder = {"values": values, "y": y}
        holder["self"] = holder  # a reference cycle holding every array
        return weakref.ref(y), weakref.ref(values[cnn_graph.ops[1]["outputs"][0]])

    for _ in range(5):
        once()
        gc.collect()
    before = _rss_mb()
    for _ in range(100):
        refs = once()
        gc.collect()  # the cycle is garbage: collecting it must free every array and the storage under it
        assert all(r() is None for r in refs)
    grown = _rss_mb() - before
    assert grown < 20, f"RSS grew {grown:.1f} MB over 100 traced runs of 256 images"


def test_sweep_returns_every_point(tmp_path):
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(f"""model: {CNN}
base: {W8A8}
data: {{eval_images: 200, calibration_images: 50, detail_images: 20}}
sampling: grid
axes:
  weight_bits: {{key: weights.bits, values: [3, 8]}}
""")
    points = chipref.sweep(str(sweep_file), str(tmp_path / "out"), jobs=2)
    assert [p["values"] for p in points] == [{"weight_bits": "3"}, {"weight_bits": "8"}]
    assert all(p["error"] == "" and p["count"] == 200 for p in points)
    assert points[1]["top1"] > 0.8 and points[0]["cost"] < points[1]["cost"]
    csv = (tmp_path / "out" / "results.csv").read_text()
    assert f"{points[1]['top1']:.4f}"[:5] in csv
    with pytest.raises(chipref.InputError, match="shard"):
        chipref.sweep(str(sweep_file), str(tmp_path / "out2"), shards=2)


def test_cosim_of_a_reference_block(cnn_graph, images, tmp_path):
    out = tmp_path / "vec"
    chipref.vectors(cnn_graph, images[:1], str(out))
    layer = next(op["name"] for op in cnn_graph.ops if op["op_type"] == "mulshift")
    passed = chipref.cosim(str(out), layer, block="mulshift")
    assert passed["passed"] and passed["mismatches"] == 0 and passed["compared"] > 0
    assert passed["first_mismatch"] is None and "PASS" in passed["report"]
    # A design that rounds down (the reference RTL's mutation 1): a mismatch is a result, not an exception.
    buggy = tmp_path / "mulshift_round_down.sv"
    buggy.write_text((SOURCE / "rtl_bridge" / "rtl" / "mulshift_unit.sv").read_text()
                     .replace("parameter int MUTATION = 0", "parameter int MUTATION = 1"))
    failed = chipref.cosim(str(out), layer, dut=[buggy], top="mulshift_unit",
                           adapter=SOURCE / "rtl_bridge" / "adapters" / "mulshift.yaml", build_dir=tmp_path / "cache")
    assert not failed["passed"] and 0 < failed["mismatches"] < failed["compared"]
    first = failed["first_mismatch"]
    assert first["input"] == 0 and first["got"] == first["expected"] - 1  # rounded down instead of to nearest
    # Golden files changed after the manifest was written: the vectors themselves are refused.
    manifest = json.loads((out / "manifest.json").read_text())
    golden = out / next(e["file"] for e in manifest["entries"] if e["op"] == layer and e["role"] == "output")
    golden.write_text(golden.read_text() + "00\n")
    with pytest.raises(chipref.VerificationMismatch) as e:
        chipref.cosim(str(out), layer, block="mulshift")
    assert e.value.exit_code == 3
    with pytest.raises(chipref.InputError, match="either"):
        chipref.cosim(str(out), layer)
