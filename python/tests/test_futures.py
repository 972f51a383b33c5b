"""test_futures.py: Pool.submit's Futures with the standard functions:
as_completed, wait, cancel, shutdown, done callbacks, many submitters."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
import time

import pytest

import fetchpool
from conftest import TIME_SCALE


def test_submit_gives_real_futures(server):
    with fetchpool.Pool(threads=4) as pool:
        f = pool.submit(server.url("/text/hi"))
        assert isinstance(f, cf.Future)
        r = f.result(timeout=20)
        assert isinstance(r, fetchpool.Response)
        assert (r.status, r.ok, r.text, r.error) == (200, True, "hi", None)
        assert f.done() and not f.running() and not f.cancelled()
        assert f.exception() is None


def test_as_completed_order(server):
    # the slowest is submitted first; as_completed yields by completion
    delays = [600, 0, 300]
    with fetchpool.Pool(threads=3) as pool:
        fs = {pool.submit(server.url(f"/text/d{d}?delay={d}")): d for d in delays}
        got = [fs[f] for f in cf.as_completed(fs, timeout=30)]
    assert got == sorted(delays)


def test_wait_first_completed(server):
    with fetchpool.Pool(threads=2) as pool:
        slow = pool.submit(server.url("/delay/1000"))
        quick = pool.submit(server.url("/text/quick"))
        done, not_done = cf.wait([slow, quick], timeout=20, return_when=cf.FIRST_COMPLETED)
        assert done == {quick} and not_done == {slow}
        done, not_done = cf.wait([slow, quick], timeout=20)
        assert done == {slow, quick} and not not_done


def test_cancel_queued_job(server):
    with fetchpool.Pool(threads=1) as pool:
        busy = pool.submit(server.url("/delay/800"))
        queued = [pool.submit(server.url(f"/text/q{i}")) for i in range(5)]
        deadline = time.monotonic() + 10 * TIME_SCALE
        while not busy.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert busy.running()
        assert busy.cancel() is False  # running: cannot
        assert all(f.cancel() for f in queued)
        assert all(f.cancelled() for f in queued)
        # the standard functions see them done (cancelled) at once
        done, _ = cf.wait(queued, timeout=5)
        assert done == set(queued)
        assert set(cf.as_completed(queued, timeout=5)) == set(queued)
        with pytest.raises(cf.CancelledError):
            queued[0].result()
        assert busy.result(timeout=20).status == 200
        assert busy.cancel() is False  # finished: cannot


def test_shutdown_cancel_futures(server):
    pool = fetchpool.Pool(threads=1)
    first = pool.submit(server.url("/delay/500"))
    rest = [pool.submit(server.url(f"/text/r{i}")) for i in range(20)]
    time.sleep(0.1)
    pool.shutdown(wait=True, cancel_futures=True)
    assert first.result().ok  # was running: finished
    assert all(f.done() for f in rest)
    assert sum(f.cancelled() for f in rest) >= 19
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(server.url("/"))
    pool.shutdown()  # idempotent


def test_shutdown_wait_finishes_everything(server):
    pool = fetchpool.Pool(threads=4)
    fs = [pool.submit(server.url(f"/text/w{i}?delay=50")) for i in range(40)]
    pool.shutdown(wait=True)
    assert all(f.done() and f.result().ok for f in fs)


def test_add_done_callback_and_wrap_future(server):
    seen = []
    ev = threading.Event()
    with fetchpool.Pool(threads=2) as pool:
        f = pool.submit(server.url("/text/cb"))
        f.add_done_callback(lambda fut: (seen.append(fut.result().text), ev.set()))
        assert ev.wait(20)
        assert seen == ["cb"]

        async def main():
            return await asyncio.wrap_future(pool.submit(server.url("/text/wrapped")))
        assert asyncio.run(main()).text == "wrapped"


def test_done_callback_calls_back_into_the_pool(server):
    # callbacks that submit (to a full queue), wait on a result and shut
    # the pool down must not deadlock: the workers never wait for Python
    results = []
    finished = threading.Event()
    pool = fetchpool.Pool(threads=2, queue_capacity=2)

    def chain(fut):
        n = len(results)
        results.append(fut.result().text)
        if n < 20:
            nxt = [pool.submit(server.url(f"/text/c{n}-{k}")) for k in range(4)]
            nxt[0].add_done_callback(chain)
            # result() inside a callback completes other futures meanwhile
            assert nxt[-1].result(timeout=20).ok
        else:
            pool.shutdown(wait=True)
            finished.set()

    pool.submit(server.url("/text/start")).add_done_callback(chain)
    assert finished.wait(60 * TIME_SCALE)
    assert results[0] == "start" and len(results) == 21


def test_many_submitting_threads(server):
    n_threads, per_thread = 16, 200
    barrier = threading.Barrier(n_threads)
    out = [None] * n_threads
    with fetchpool.Pool(threads=8, queue_capacity=64) as pool:
        def submitter(t):
            barrier.wait()
            fs = [pool.submit(server.url(f"/text/{t}-{i}")) for i in range(per_thread)]
            out[t] = [f.result(timeout=60).text for f in fs]
        ths = [threading.Thread(target=submitter, args=(t,)) for t in range(n_threads)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(120)
    for t in range(n_threads):
        assert out[t] == [f"{t}-{i}" for i in range(per_thread)]


def test_context_manager_waits(server):
    with fetchpool.Pool(threads=2) as pool:
        fs = [pool.submit(server.url("/text/x?delay=100")) for _ in range(4)]
    assert all(f.done() and f.result().ok for f in fs)
