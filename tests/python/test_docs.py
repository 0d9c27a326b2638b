"""docs/python.md's session, run literally: the first ```python block after the `python tutorial` marker,
in a scratch directory beside the source tree's examples/ and configs/ (as a user runs it from a clone)."""
import os
import re

from conftest import SOURCE


def test_the_session_in_docs_python_md_runs_as_written(tmp_path, capsys):
    text = (SOURCE / "docs" / "python.md").read_text()
    marker = text.index("<!-- python tutorial -->")
    block = re.search(r"```python\n(.*?)```", text[marker:], re.S)
    assert block, "docs/python.md: no ```python block after the tutorial marker"
    for folder in ("examples", "configs"):
        os.symlink(SOURCE / folder, tmp_path / folder)
    os.chdir(tmp_path)
    exec(compile(block.group(1), "docs/python.md", "exec"), {})
    out = capsys.readouterr().out
    assert "[{'name': 'input', 'shape': [-1, 1, 28, 28], 'dtype': 'float32'}]" in out
    assert out.strip().splitlines()[-1].startswith("1 ")  # the InputError's exit code, then its message
    assert (tmp_path / "q" / "graph.json").is_file() and (tmp_path / "vec" / "manifest.json").is_file()
