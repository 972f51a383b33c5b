#!/usr/bin/python3
"""The fetchpool Python package (python/) on the bench's URL lists, three
ways a Python user would call it, Pool(threads=N) each:
usage: py_fetchpool.py submit|all|async N URLFILE   prints "ok OK total TOTAL".
  submit  pool.submit per URL, then concurrent.futures.as_completed
  all     pool.fetch_all(urls): the list, in input order (no Future per job)
  async   asyncio.gather of await pool.fetch(url) per URL
The library is the build's (FETCHPOOL_LIBRARY, PYTHONPATH set by run.sh).
HTTPS: FP_BENCH_CACERT names the CA (Pool(cacert=)); FP_BENCH_HTTP=2 asks
for HTTP/2 through Pool(http_version="2"): a binding without that
parameter exits 3 with "n/a: ..." on stderr rather than measure something
else (1.1 is asked the same way when the binding has it; without it the
bench's HTTP/1.1 port speaks nothing else)."""
import asyncio
import concurrent.futures as cf
import inspect
import os
import sys

import fetchpool

mode, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path) as f:
    urls = [line.strip() for line in f if line.strip()]

kw = {}
if os.environ.get("FP_BENCH_CACERT"):
    kw["cacert"] = os.environ["FP_BENCH_CACERT"]
http = os.environ.get("FP_BENCH_HTTP")
if http:
    if "http_version" in inspect.signature(fetchpool.Pool).parameters:
        kw["http_version"] = http
    elif http != "1.1":
        print("n/a: option missing in this build: fetchpool.Pool(http_version=)", file=sys.stderr)
        sys.exit(3)

with fetchpool.Pool(threads=n, timeout=60.0, **kw) as pool:
    if mode == "submit":
        ok = sum(f.result().status == 200 for f in cf.as_completed([pool.submit(u) for u in urls]))
    elif mode == "all":
        ok = sum(r.status == 200 for r in pool.fetch_all(urls))
    else:
        async def main():
            rs = await asyncio.gather(*(pool.fetch(u) for u in urls))
            return sum(r.status == 200 for r in rs)
        ok = asyncio.run(main())
print("ok", ok, "total", len(urls))
