"""test_responses.py: what a Response holds: errors and their codes,
POST bodies and JSON, headers both ways, retries with Retry-After, and
the options' bad values."""

from __future__ import annotations

import json
import urllib.request

import pytest

import fetchpool


@pytest.fixture(scope="module")
def pool():
    with fetchpool.Pool(threads=8, timeout=10.0) as p:
        yield p


def test_http_error_status_does_not_raise(server, pool):
    r = pool.submit(server.url("/status/404")).result(timeout=20)
    assert r.status == 404 and not r.ok
    assert r.error is not None and r.error.code == "http" and r.error.status == 404
    with pytest.raises(fetchpool.FetchError) as e:
        r.raise_for_status()
    assert e.value.code == "http" and e.value.response is r
    assert pool.submit(server.url("/")).result().raise_for_status() is None


@pytest.mark.parametrize("path_or_url, code", [
    ("raw:/reset", "network"),
    ("raw:/garbage", "protocol"),
    ("/redirect-loop", "too_many_redirects"),
    ("/delay/3000", "timeout"),
    ("/bytes/5000", "body_too_large"),
    ("http://127.0.0.1:1/", "connect"),
    ("ftp://127.0.0.1/x", "unsupported_protocol"),
    ("http://bad host/", "invalid_url"),
])
def test_transfer_errors_have_the_cli_codes(server, path_or_url, code):
    if path_or_url.startswith("raw:"):
        url = server.raw + path_or_url[4:]
    elif path_or_url.startswith("/"):
        url = server.url(path_or_url)
    else:
        url = path_or_url
    with fetchpool.Pool(threads=1, timeout=1.0, max_body=1000, max_redirs=3) as p:
        r = p.submit(url).result(timeout=30)
    assert not r.ok
    assert r.error is not None and r.error.code == code, r.error
    assert r.error.message
    with pytest.raises(fetchpool.FetchError):
        r.raise_for_status()


def test_post_json_and_body(server, pool):
    req = fetchpool.Request(server.url("/echo"), method="POST", json={"a": [1, "é"]},
                            headers={"X-A": "1"}, id=7, timeout=5.0)
    r = pool.submit(req).result(timeout=20)
    echo = r.json()
    assert r.id == 7
    assert echo["method"] == "POST"
    assert echo["headers"]["Content-Type"] == "application/json"
    assert echo["headers"]["X-A"] == "1"
    assert fetchpool.Request(server.url("/"), json={"a": [1, "é"]}).body == \
        '{"a":[1,"\\u00e9"]}'.encode()
    body = bytes(range(256)) * 4
    r = pool.submit(fetchpool.Request(server.url("/echo"), method="PUT", body=body)).result()
    assert r.json()["body_length"] == len(body) and r.json()["method"] == "PUT"
    r = pool.submit(fetchpool.Request(server.url("/echo"), method="POST", body="text é")).result()
    assert r.json()["body"] == "text é"


def test_request_headers_pool_and_job(server):
    with fetchpool.Pool(threads=1, headers={"X-Pool": "p", "X-Both": "pool"},
                        user_agent="ua-test/1") as p:
        req = fetchpool.Request(server.url("/echo"), headers={"x-both": "job"})
        h = p.submit(req).result(timeout=20).json()["headers"]
    assert h["X-Pool"] == "p"
    assert h["User-Agent"] == "ua-test/1"
    both = {k: v for k, v in h.items() if k.lower() == "x-both"}
    assert list(both.values()) == ["job"]  # the job's replaced the pool's


def test_response_headers(server, pool):
    r = pool.submit(server.url("/set-header?name=X-Thing&value=v1")).result(timeout=20)
    assert r.headers["x-thing"] == "v1" and r.headers["X-THING"] == "v1"
    assert "x-thing" in r.headers and "nope" not in r.headers
    assert r.headers.get("nope") is None
    # repeated names joined as in the records; Set-Cookie one by one
    r = pool.submit(server.raw + "/repeated-headers").result(timeout=20)
    assert r.text == "ok"
    assert r.headers["vary"] == "Accept, Origin"
    assert r.headers.get_all("set-cookie") == ["a=1; Path=/", "b=2"]
    assert r.headers["X-Latin1-\xe9"] == "caf\xe9"
    assert list(r.headers).count("Vary") == 1


def test_response_fields(server, pool):
    r = pool.submit(server.url("/redirect/2")).result(timeout=20)
    assert r.ok and r.status == 200
    assert r.url == server.url("/redirect/2")
    assert r.effective_url != r.url and r.effective_url.startswith(server.base)
    assert r.elapsed > 0 and r.attempts == 1
    r = pool.submit(server.url("/utf8")).result(timeout=20)
    assert r.text == r.content.decode("utf-8")
    assert "<Response 200" in repr(r)


def test_retries_with_retry_after(server):
    with fetchpool.Pool(threads=2, retries=3, retry_max_wait=5.0) as p:
        r = p.submit(server.url("/flaky/pyra?fail=2&status=503&retry_after=1")).result(60)
        assert r.ok and r.attempts == 3 and r.text == "ok after 2"
        assert r.elapsed >= 1.8  # waited the server's 1 s twice
        # 429 is retried by default; retry_on narrows the statuses
    with fetchpool.Pool(threads=1, retries=3, retry_on=[500], retry_base=0.01) as p:
        r = p.submit(server.url("/flaky/pyrb?fail=1&status=500")).result(60)
        assert r.ok and r.attempts == 2
        r = p.submit(server.url("/flaky/pyrc?fail=1&status=503")).result(60)
        assert r.status == 503 and r.attempts == 1 and r.error.code == "http"


def test_rate_and_per_host(server):
    server.number("/concurrency-reset/pyph")
    with fetchpool.Pool(threads=8, per_host=2, rate=200.0) as p:
        rs = p.fetch_all([server.url("/concurrency/pyph?ms=40")] * 12)
    assert all(r.ok for r in rs)
    assert server.number("/concurrency-max/pyph") <= 2


def test_per_host_rate_and_cooldown(server):
    # 6 starts at 20 a second to one host: 250 ms at least from first to last
    with fetchpool.Pool(threads=4, per_host_rate=20.0, max_parked=10) as p:
        rs = p.fetch_all([server.url("/flaky/pyphr?fail=0")] * 6)
    assert all(r.ok for r in rs)
    assert server.number("/flaky-gap/pyphr") >= 230
    # a 429 with Retry-After: 1 pauses the host before the next request
    with fetchpool.Pool(threads=2) as p:
        r = p.submit(server.url("/flaky/pycool?fail=1&status=429&retry_after=1")).result(60)
        assert r.status == 429
        assert p.submit(server.url("/flaky/pycool")).result(60).ok
    assert server.number("/flaky-gap/pycool") >= 950
    with fetchpool.Pool(threads=2, host_cooldown=False) as p:
        r = p.submit(server.url("/flaky/pynocool?fail=1&status=429&retry_after=5")).result(60)
        assert r.status == 429
        assert p.submit(server.url("/flaky/pynocool")).result(60).ok
    assert server.number("/flaky-gap/pynocool") < 4000


def test_threads_auto_and_hosts(server):
    # An API that serves 4 at once in 50 ms and queues the rest: the limit
    # grows from 2 (slow start), meets the queue and comes back near 4.
    urllib.request.urlopen(server.url("/cap-reset/pyauto"), timeout=10).read()
    with fetchpool.Pool(threads="auto", max_threads=32) as p:
        assert p.threads == 32
        assert p.hosts() == []
        rs = p.fetch_all([server.url("/cap/pyauto?c=4&ms=50")] * 80)
        hosts = p.hosts()
    assert [r.status for r in rs] == [200] * 80
    assert len(hosts) == 1
    h = hosts[0]
    assert isinstance(h, fetchpool.HostInfo)
    assert h.host == f"127.0.0.1:{server.port}"
    assert (h.done, h.active, h.parked, h.overloads) == (80, 0, 0, 0)
    assert 2 <= h.limit <= 12, h
    assert h.cooldown_left == 0.0 and h.cooldown_total == 0.0
    with urllib.request.urlopen(server.url("/cap-stats/pyauto"), timeout=10) as r:
        stats = json.loads(r.read())
    assert stats["served"] == 80 and stats["shed"] == 0


def test_hosts_reports_cooldown_and_per_host(server):
    with fetchpool.Pool(threads=4, per_host=3) as p:
        r = p.submit(server.url("/flaky/pyhosts?fail=1&status=503&retry_after=3")).result(60)
        assert r.status == 503
        (h,) = p.hosts()
        assert (h.limit, h.done, h.overloads) == (3, 1, 1)
        assert 1.0 < h.cooldown_left <= 3.0
    with fetchpool.Pool(threads=2, host_cooldown=False) as p:
        assert p.submit(server.url("/hello")).result(60).ok
        assert p.hosts() == []


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"threads": "many"}, TypeError, "threads"),
    ({"threads": "auto", "max_threads": -1}, ValueError, "max_threads"),
    ({"threads": 4, "max_threads": 8}, ValueError, "max_threads"),
    ({"threads": -1}, ValueError, "threads"),
    ({"threads": "4"}, TypeError, "threads"),
    ({"engine": "fibers"}, ValueError, "engine"),
    ({"timeout": -1}, ValueError, "timeout"),
    ({"rate": "fast"}, TypeError, "rate"),
    ({"per_host_rate": -1}, ValueError, "per_host_rate"),
    ({"max_parked": -1}, ValueError, "max_parked"),
    ({"retries": 1.5}, TypeError, "retries"),
    ({"retry_on": [700]}, ValueError, "retry_on"),
    ({"headers": {"Bad\nName": "x"}}, ValueError, "header"),
    ({"headers": {"X": 1}}, TypeError, "header value"),
    ({"cacert": "/nonexistent/ca.pem"}, ValueError, "cacert"),
    ({"engine": "hybrid", "loops": 100000, "threads": 2}, None, None),
])
def test_bad_values(kwargs, exc, text):
    if exc is None:  # accepted: the library caps loops at threads
        fetchpool.Pool(**kwargs).shutdown()
        return
    with pytest.raises(exc, match=text):
        fetchpool.Pool(**kwargs)


def test_bad_jobs(server, pool):
    with pytest.raises(TypeError):
        pool.submit(42)
    with pytest.raises(ValueError, match="NUL"):
        pool.submit("http://127.0.0.1/\0x")
    with pytest.raises(ValueError, match="method"):
        pool.submit(fetchpool.Request(server.url("/"), method="GET ME"))
    with pytest.raises(TypeError):
        fetchpool.Request(server.url("/"), body=1)
    with pytest.raises(ValueError):
        fetchpool.Request(server.url("/"), timeout=-2)


def test_engines(server):
    for engine in ("threads", "multi", "hybrid"):
        with fetchpool.Pool(threads=4, engine=engine) as p:
            rs = p.fetch_all([server.url(f"/text/{engine}{i}") for i in range(20)])
        assert [r.text for r in rs] == [f"{engine}{i}" for i in range(20)]


@pytest.mark.parametrize("where", ["pool", "request"])
def test_attempt_timeout_limits_each_attempt(server, where):
    url = server.url("/delay/3000")
    pool_kw = {"attempt_timeout": 0.3} if where == "pool" else {}
    with fetchpool.Pool(threads=1, retries=1, retry_base=0.01, **pool_kw) as p:
        job = url if where == "pool" else fetchpool.Request(url, attempt_timeout=0.3)
        r = p.submit(job).result(timeout=30)
    assert r.error is not None and r.error.code == "timeout", r.error
    assert r.attempts == 2
    assert r.elapsed < 2.5  # two attempts of 0.3 s, not one of 3 s


def test_attempt_timeout_is_checked():
    with pytest.raises(ValueError, match="attempt_timeout"):
        fetchpool.Pool(attempt_timeout=-1)
    with pytest.raises(TypeError, match="attempt_timeout"):
        fetchpool.Request("http://127.0.0.1/", attempt_timeout="1")


@pytest.mark.parametrize("engine", ["threads", "multi", "hybrid"])
def test_http_version_is_asked_and_reported(server, engine):
    # the test server (libmicrohttpd) answers HTTP/1.1 to either request
    # line; /version says which one it was sent
    for asked, sent in (("1.0", b"HTTP/1.0"), ("1.1", b"HTTP/1.1"), (None, b"HTTP/1.1")):
        with fetchpool.Pool(threads=2, engine=engine, http_version=asked) as p:
            r = p.submit(server.url("/version")).result(timeout=20)
        assert (r.status, r.content, r.http_version) == (200, sent, "1.1"), asked
    with fetchpool.Pool(threads=1, engine=engine) as p:
        r = p.submit("http://127.0.0.1:1/").result(timeout=20)
    assert r.error is not None and r.http_version is None


def test_http_version_bad_values():
    with pytest.raises(ValueError, match="http_version must be one of"):
        fetchpool.Pool(http_version="3")
