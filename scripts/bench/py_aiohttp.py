#!/usr/bin/python3
"""Baselines on asyncio + aiohttp, one ClientSession (keep-alive pool of
TCPConnector(limit=N)).
usage: py_aiohttp.py pool|chunked N URLFILE   prints "ok OK total TOTAL".
  pool     N worker coroutines pull the next URL as soon as they finish one
           (equivalent to a semaphore of N): every slot stays busy.
  chunked  split the list into chunks of N and asyncio.gather each chunk,
           waiting for the chunk's slowest request before starting the next.
HTTPS: FP_BENCH_CACERT names the CA to verify servers with (aiohttp speaks
HTTP/1.1 only, whatever FP_BENCH_HTTP asks)."""
import asyncio
import os
import ssl
import sys

import aiohttp

mode, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path) as f:
    urls = [line.strip() for line in f if line.strip()]


async def fetch(session, url):
    try:
        async with session.get(url) as r:
            await r.read()
            return r.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


async def main():
    timeout = aiohttp.ClientTimeout(total=60)
    cacert = os.environ.get("FP_BENCH_CACERT")
    ctx = ssl.create_default_context(cafile=cacert) if cacert else None
    conn = aiohttp.TCPConnector(limit=n, limit_per_host=0, ssl=ctx)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        ok = 0
        if mode == "chunked":
            for i in range(0, len(urls), n):
                res = await asyncio.gather(*(fetch(session, u) for u in urls[i:i + n]))
                ok += sum(res)
        else:
            it = iter(urls)
            counts = []

            async def worker():
                c = 0
                for u in it:
                    c += await fetch(session, u)
                counts.append(c)

            await asyncio.gather(*(worker() for _ in range(min(n, len(urls)))))
            ok = sum(counts)
    return ok


print("ok", asyncio.run(main()), "total", len(urls))
