"""test_map.py: Pool.map and Pool.fetch_all: input order, the window bound
(in flight and on the lazy input), timeouts, and asyncio's pool.fetch."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import itertools

import pytest

import fetchpool


def test_map_keeps_input_order(server):
    delays = [300, 0, 150, 0, 60, 0]
    with fetchpool.Pool(threads=6) as pool:
        urls = [server.url(f"/text/{i}?delay={d}") for i, d in enumerate(delays)]
        got = [r.text for r in pool.map(urls)]
    assert got == [str(i) for i in range(len(delays))]


def test_map_window_bounds_in_flight_and_input(server):
    # 8 threads but a window of 3: never more than 3 transfers at once,
    # and the lazy input is read at most 3 ahead of what was yielded
    name = "mapwin"
    server.number(f"/concurrency-reset/{name}")
    pulled = 0

    def urls():
        nonlocal pulled
        for i in range(30):
            pulled += 1
            yield server.url(f"/concurrency/{name}?ms=30&i={i}")

    yielded = 0
    with fetchpool.Pool(threads=8) as pool:
        for r in pool.map(urls(), window=3):
            assert r.ok
            yielded += 1
            assert pulled <= yielded + 3
    assert yielded == 30
    assert 1 <= server.number(f"/concurrency-max/{name}") <= 3


def test_map_requests_and_ids(server):
    reqs = [fetchpool.Request(server.url(f"/text/r{i}"), id=("job", i)) for i in range(10)]
    with fetchpool.Pool(threads=4) as pool:
        rs = list(pool.map(iter(reqs), window=4))
    assert [r.id for r in rs] == [("job", i) for i in range(10)]
    assert [r.text for r in rs] == [f"r{i}" for i in range(10)]


def test_map_stopped_early_cancels_the_window(server):
    with fetchpool.Pool(threads=1) as pool:
        it = pool.map((server.url(f"/text/s{i}?delay=20") for i in itertools.count()), window=50)
        assert next(it).text == "s0"
        it.close()  # the rest of the window is cancelled, the input not read on
        pool.shutdown(wait=True)


def test_map_timeout(server):
    with fetchpool.Pool(threads=1) as pool:
        with pytest.raises(cf.TimeoutError):
            list(pool.map([server.url("/delay/1200"), server.url("/")], timeout=0.3))


def test_fetch_all_generator_in_order(server):
    with fetchpool.Pool(threads=16) as pool:
        rs = pool.fetch_all(server.url(f"/text/{i}") for i in range(2000))
    assert [r.text for r in rs] == [str(i) for i in range(2000)]
    assert all(r.ok and r.attempts == 1 for r in rs)


def test_fetch_all_small_window_and_empty(server):
    with fetchpool.Pool(threads=2) as pool:
        assert pool.fetch_all([]) == []
        rs = pool.fetch_all([server.url(f"/text/{i}") for i in range(20)], window=1)
    assert [r.text for r in rs] == [str(i) for i in range(20)]


def test_asyncio_gather_1000(server):
    with fetchpool.Pool(threads=32) as pool:
        async def main():
            return await asyncio.gather(*(pool.fetch(server.url(f"/text/{i}"))
                                          for i in range(1000)))
        rs = asyncio.run(main())
    assert [r.text for r in rs] == [str(i) for i in range(1000)]


def test_asyncio_full_queue_does_not_block_the_loop(server):
    ticks = 0

    async def ticker(stop):
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    with fetchpool.Pool(threads=2, queue_capacity=2) as pool:
        async def main():
            stop = asyncio.Event()
            t = asyncio.create_task(ticker(stop))
            rs = await asyncio.gather(*(pool.fetch(server.url(f"/text/{i}?delay=20"))
                                        for i in range(60)))
            stop.set()
            await t
            return rs
        rs = asyncio.run(main())
    assert [r.text for r in rs] == [str(i) for i in range(60)]
    assert ticks >= 5  # the loop ran while fetches waited for queue room


def test_asyncio_cancel_cancels_queued_job(server):
    with fetchpool.Pool(threads=1) as pool:
        async def main():
            busy = asyncio.ensure_future(pool.fetch(server.url("/delay/500")))
            queued = asyncio.ensure_future(pool.fetch(server.url("/text/never")))
            await asyncio.sleep(0.1)
            queued.cancel()
            with pytest.raises(asyncio.CancelledError):
                await queued
            return await busy
        assert asyncio.run(main()).ok
