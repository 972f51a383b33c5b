"""test_process.py: what needs a child process: Ctrl-C (SIGINT) during
fetch_all, map and a result() wait; the memory bound of map over 200,000
URLs; how the package finds its library."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT, TIME_SCALE, child_env

CTRL_C_CHILD = textwrap.dedent("""
    import sys, time, concurrent.futures as cf, fetchpool
    mode, base, key = sys.argv[1], sys.argv[2], sys.argv[3]
    urls = [f"{base}/flaky/{key}?fail=0&delay=1500&i={i}" for i in range(200)]
    pool = fetchpool.Pool(threads=2)
    futs = []
    print("start", flush=True)
    try:
        if mode == "fetch_all":
            pool.fetch_all(urls)
        elif mode == "map":
            for r in pool.map(urls, window=100):
                pass
        else:
            futs = [pool.submit(u) for u in urls]
            futs[-1].result()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    if futs:
        cf.wait(futs, timeout=10)
        print("cancelled", sum(f.cancelled() for f in futs), flush=True)
    pool.shutdown(wait=True)
    print("exit", flush=True)
""")


@pytest.mark.parametrize("mode", ["fetch_all", "map", "result"])
def test_ctrl_c_cancels_queued_and_interrupts(server, mode):
    key = f"ctrlc-{mode}"
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD, mode, server.base, key],
                         stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "start"
        time.sleep(0.5)  # two transfers running, the rest queued
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        assert p.stdout.readline().strip() == "interrupted"
        took = time.monotonic() - t0
        assert took < 1.0 * TIME_SCALE, f"KeyboardInterrupt after {took:.2f} s"
        rest = p.stdout.read()
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rest.splitlines()[-1] == "exit"
    if mode == "result":
        assert int(rest.split()[1]) >= 190  # "cancelled N"
    # the server saw the running few, not the 200
    assert server.number(f"/flaky-count/{key}") <= 6


MEMORY_CHILD = textwrap.dedent("""
    import sys, fetchpool
    base, n = sys.argv[1], int(sys.argv[2])
    def rss_kib():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    ok = done = 0
    early = None
    with fetchpool.Pool(threads=32) as pool:
        for r in pool.map((f"{base}/?i={i}" for i in range(n)), window=1000):
            ok += r.ok
            done += 1
            if done == n // 10:
                early = rss_kib()
    print(done, ok, early, rss_kib())
""")


def test_map_200k_urls_bounded_memory(server):
    n = 200_000
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, server.base, str(n)],
                         capture_output=True, text=True, env=child_env(), timeout=300)
    assert out.returncode == 0, out.stderr
    done, ok, early, peak = map(int, out.stdout.split())
    assert done == ok == n
    assert peak < 100 * 1024, f"peak RSS {peak} KiB"
    # flat after the first 10%: no per-job leak (a leak of 100 bytes a job
    # would add 17 MiB over the last 180,000)
    assert peak - early < 8 * 1024, f"peak RSS grew from {early} to {peak} KiB"


def test_library_lookup(tmp_path):
    lib = os.environ["FETCHPOOL_LIBRARY"]
    code = "import fetchpool, fetchpool._ffi as f; print(f.find_library())"
    # 1. $FETCHPOOL_LIBRARY first; a bad one fails with what to do
    env = child_env()
    env["FETCHPOOL_LIBRARY"] = "/nonexistent/libfetchpool.so.1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode != 0
    assert "cannot load /nonexistent/libfetchpool.so.1" in out.stderr
    assert "make python" in out.stderr
    # 2. else the copy next to the package
    pkg = tmp_path / "fetchpool"
    shutil.copytree(os.path.join(ROOT, "python", "fetchpool"), pkg,
                    ignore=shutil.ignore_patterns("*.so*", "__pycache__"))
    shutil.copy(lib, pkg / "libfetchpool.so.1")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    del env["FETCHPOOL_LIBRARY"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60, cwd=tmp_path)
    assert out.stdout.strip() == str(pkg / "libfetchpool.so.1"), out.stderr
    # 3. else the system's loader path
    os.remove(pkg / "libfetchpool.so.1")
    env["LD_LIBRARY_PATH"] = os.path.dirname(lib)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60, cwd=tmp_path)
    assert out.stdout.strip() == "libfetchpool.so.1", out.stderr
