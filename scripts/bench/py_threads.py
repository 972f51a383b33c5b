#!/usr/bin/python3
"""Baseline: concurrent.futures.ThreadPoolExecutor(N) + requests, one
requests.Session per worker thread (keep-alive on each thread's connection).
usage: py_threads.py N URLFILE   prints "ok OK total TOTAL" on stdout.
HTTPS: FP_BENCH_CACERT names the CA to verify servers with (requests speaks
HTTP/1.1 only, whatever FP_BENCH_HTTP asks)."""
import concurrent.futures
import os
import sys
import threading

import requests

n = int(sys.argv[1])
with open(sys.argv[2]) as f:
    urls = [line.strip() for line in f if line.strip()]
local = threading.local()
cacert = os.environ.get("FP_BENCH_CACERT")


def fetch(url):
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
    try:
        # per request: a Session's verify loses to REQUESTS_CA_BUNDLE
        r = s.get(url, timeout=60, verify=cacert or True)
        r.content
        return r.status_code == 200
    except requests.RequestException:
        return False


with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
    ok = sum(ex.map(fetch, urls))
print("ok", ok, "total", len(urls))
