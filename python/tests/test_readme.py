"""test_readme.py: the fetchpool examples of README.md's "From Python"
section run as written (the server's port put in place of 8080)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, child_env


def _examples():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return [b for b in blocks if "import fetchpool" in b]


def test_there_are_examples():
    assert len(_examples()) >= 3


@pytest.mark.parametrize("i", range(len(_examples())))
def test_readme_example_runs(server, i):
    code = _examples()[i].replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=child_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
