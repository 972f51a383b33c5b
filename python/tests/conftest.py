"""conftest.py: the loopback test server (build/fp-testserver) on an
ephemeral port for the whole session, and helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from typing import Iterator

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("FP_TEST_BUILD", "build"))

# Tests run against this checkout's library unless told otherwise.
os.environ.setdefault("FETCHPOOL_LIBRARY", os.path.join(BUILD, "libfetchpool.so.1"))
sys.path.insert(0, os.path.join(ROOT, "python"))

#: Factor for the few generous time bounds (as tests/testutil.h).
TIME_SCALE = max(1.0, float(os.environ.get("FP_TEST_TIME_SCALE", "1") or 1))


class Server:
    """The running fp-testserver: base URL of its HTTP port and raw port."""

    def __init__(self, port: int, raw_port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.raw = f"http://127.0.0.1:{raw_port}"
        self.port = port

    def url(self, path: str) -> str:
        return self.base + path

    def number(self, path: str) -> int:
        """The number a counter route (/flaky-count/KEY, ...) answers."""
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return int(r.read().decode())


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    exe = os.path.join(BUILD, "fp-testserver")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} is missing: run `make build-tests` first")
    p = subprocess.Popen([exe, "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline().split()
    if len(line) != 2:
        p.kill()
        pytest.fail("fp-testserver did not print its ports")
    yield Server(int(line[0]), int(line[1]))
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def child_env() -> dict:
    """Environment for a child Python that imports this checkout's package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", "")
    return env
