"""Shared fixtures of the Python module's tests: where the source tree and the chipref program are (set by
the ctest entry, tests/CMakeLists.txt), and one small quantized CNN."""
import os
import pathlib

import numpy as np
import pytest

import chipref

SOURCE = pathlib.Path(os.environ.get("CHIPREF_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CNN = SOURCE / "examples" / "fmnist_cnn.onnx"
W8A8 = SOURCE / "configs" / "w8a8.yaml"


@pytest.fixture(scope="session")
def chipref_bin():
    path = os.environ.get("CHIPREF_BIN")
    if not path:
        pytest.fail("CHIPREF_BIN is not set: run these tests through ctest (tests/CMakeLists.txt)")
    return path


@pytest.fixture(scope="session")
def images():
    """16 Fashion-MNIST test images, normalised as the CNN expects, from a fixed seed's noise: the
    tests check plumbing and exactness against other paths, not accuracy."""
    rng = np.random.default_rng(7)
    return rng.standard_normal((16, 1, 28, 28)).astype(np.float32)


@pytest.fixture(scope="session")
def cnn_graph(tmp_path_factory, images):
    graph = chipref.quantize(str(CNN), config=str(W8A8), calib=images)
    graph.save(str(tmp_path_factory.mktemp("q") / "cnn"))
    return graph
