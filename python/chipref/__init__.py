"""chipref from Python: import an ONNX model, quantize it into an integer-only IntGraph, run it
bit-accurately, write golden vectors, sweep bit widths and co-simulate RTL, with numpy arrays in and out.

The functions mirror the CLI's commands and call the same C++ library (docs/python.md):

    import chipref
    model = chipref.import_onnx("examples/fmnist_cnn.onnx")
    graph = chipref.quantize(model, config="configs/w8a8.yaml", calib=calibration_inputs)
    y, values, overflows = graph.run(x, trace=True)
    graph.save("q"); chipref.vectors(graph, x, "vec"); chipref.verify("vec")

Errors are chipref.InputError (also a ValueError), chipref.Unsupported (an InputError) and
chipref.VerificationMismatch, each a chipref.Error whose exit_code is the CLI's for it.
"""
import os as _os

from ._core import (  # noqa: F401  (the public API)
    Error,
    FloatModel,
    InputError,
    IntGraph,
    Unsupported,
    VerificationMismatch,
    __version__,
    compare_with_reference,
    cosim,
    import_onnx,
    load,
    quantize,
    sweep,
    verify,
    vectors,
)

# An installed chipref keeps its data files (shipped configs, reference RTL and adapters) in
# <prefix>/share/chipref; this package is in <prefix>/lib/python3.X/dist-packages/chipref. A build-tree
# module reads them from its source tree, and CHIPREF_DATA_DIR, when set, wins over both.
_share = _os.path.join(_os.path.dirname(__file__), "..", "..", "..", "..", "share", "chipref")
if "CHIPREF_DATA_DIR" not in _os.environ and _os.path.isdir(_share):
    _os.environ["CHIPREF_DATA_DIR"] = _os.path.realpath(_share)

__all__ = [
    "Error", "InputError", "Unsupported", "VerificationMismatch", "FloatModel", "IntGraph", "import_onnx",
    "quantize", "load", "vectors", "verify", "sweep", "cosim", "compare_with_reference", "__version__",
]
