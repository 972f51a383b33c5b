#!/usr/bin/python3
"""Baseline: concurrent.futures.ThreadPoolExecutor(N) + requests, one
requests.Session per worker thread (keep-alive on each thread's connection).
usage: py_threads.py N URLFILE   prints "ok OK total TOTAL" on stdout."""
import concurrent.futures
import sys
import threading

import requests

n = int(sys.argv[1])
with open(sys.argv[2]) as f:
    urls = [line.strip() for line in f if line.strip()]
local = threading.local()


def fetch(url):
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
    try:
        r = s.get(url, timeout=60)
        r.content
        return r.status_code == 200
    except requests.RequestException:
        return False


with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
    ok = sum(ex.map(fetch, urls))
print("ok", ok, "total", len(urls))
