"""_pool.py: Pool, the executor over libfetchpool, and its Future.

How completions reach Python: every job submitted with Pool.submit is
watched by the library's completion queue (fp_completions, a C callback
of the library's own), and one Python thread per pool, the completion
thread, takes the tags of done jobs in batches and completes their
Futures. The library's worker threads never run Python code, so they
never take the GIL: no GIL hand-off per job from 64 workers, no deadlock
when a done callback submits to a full queue (the workers go on
emptying it meanwhile), and nothing calls into an interpreter that is
shutting down. Every C call that can wait (submit, results, the queue)
is made through cffi in ABI mode, which releases the GIL for the call.
map() and fetch_all() need no Future at all: they wait on the library's
futures in input order, directly.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
import os
import threading
import time
import weakref
from typing import Any, Deque, Dict, Iterable, Iterator, List, NoReturn, Optional, Union

from ._ffi import (FP_ERR_INVALID_ARG, FP_ERR_NOMEM, FP_ERR_SHUTDOWN, FP_ERR_WAIT_TIMEOUT,
                   FP_ERR_WOULD_BLOCK, FP_FOREVER, FP_OK, ffi, lib, strerror)
from ._models import HostInfo, Request, Response, _check_int, _seconds

UrlOrRequest = Union[str, Request]

# Longest a thread stays inside one C wait: a Ctrl-C (whose Python handler
# runs only when the main thread is back in the interpreter) is seen at
# least this often.
_SLICE = 0.2
_BATCH = 256  # jobs per fp_executor_submit_many call in map and fetch_all
_BATCH = 512

_ENGINES = {"threads": 0, "multi": 1, "hybrid": 2}
# curl's --http1.0, --http1.1, --http2, --http2-prior-knowledge (fp_http_version)
_HTTP_VERSIONS = {"1.0": 1, "1.1": 2, "2": 3, "2-prior-knowledge": 4}


def _enc(name: str, s: str) -> bytes:
    if not isinstance(s, str):
        raise TypeError(f"{name} must be a str, not {type(s).__name__}")
    if "\0" in s:
        raise ValueError(f"{name} holds a NUL character")
    return s.encode()


def _check(what: str, rc: int) -> None:
    if rc == FP_ERR_NOMEM:
        raise MemoryError(f"{what}: {strerror(rc)}")
    if rc != FP_OK:
        raise ValueError(f"{what}: {strerror(rc)}")


def _decref_future(c: Any) -> None:
    lib.fp_future_decref(c)


class Future(cf.Future):  # type: ignore[type-arg]
    """A :class:`concurrent.futures.Future` for one job of a :class:`Pool`.

    It works with ``concurrent.futures.wait``, ``as_completed``,
    ``asyncio.wrap_future`` and ``add_done_callback`` as any Future does;
    its result is a :class:`Response` (transfer errors and HTTP error
    statuses are in it, they do not raise). :meth:`cancel` cancels the job
    in the library while it is still queued. Done callbacks run in the
    pool's completion thread (or at once, if the future is done)."""

    def __init__(self, core: "_Core", c: Any, url: str, id: Any) -> None:
        super().__init__()
        self._core = core
        self._c = c
        self._url = url
        self._id = id

    def cancel(self) -> bool:
        """Cancel the job if it is still queued (then True); False once it
        runs or is finished."""
        if self.done():
            return super().cancel()
        if lib.fp_future_cancel(self._c):
            return super().cancel()
        return False

    def running(self) -> bool:
        """True while a worker is running the job."""
        return not self.done() and bool(lib.fp_future_running(self._c))

    def result(self, timeout: Optional[float] = None) -> Any:
        """The job's :class:`Response`, waiting up to ``timeout`` seconds
        (TimeoutError past it, CancelledError if it was cancelled).
        Ctrl-C while waiting cancels every job still queued in the pool and
        raises KeyboardInterrupt. Called from a done callback (the
        completion thread), it goes on completing the pool's futures while
        it waits, so it cannot wait for itself."""
        try:
            self._core.wait_in_callback(self, timeout)
            return super().result(timeout)
        except KeyboardInterrupt:
            self._core.cancel_queued()
            raise

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """None for a job that finished (whatever its status), else as
        :meth:`concurrent.futures.Future.exception`; Ctrl-C as in :meth:`result`."""
        try:
            self._core.wait_in_callback(self, timeout)
            return super().exception(timeout)
        except KeyboardInterrupt:
            self._core.cancel_queued()
            raise


class _Core:
    """The executor, the completion queue and the completion thread; what
    a Pool's Futures and its finalizer hold (never the Pool itself)."""

    def __init__(self, ex: Any) -> None:
        self.ex = ex
        self.cq = lib.fp_completions_new()
        if self.cq == ffi.NULL:
            lib.fp_executor_free(ex)
            raise MemoryError("fetchpool: no memory for the completion queue")
        self.pending: Dict[int, Future] = {}
        self.tags = itertools.count(1)
        self.lock = threading.Condition(threading.Lock())
        self.users = 0          # threads inside a C call on ex
        self.closing = False    # shutdown called: no new jobs
        self.closed = False     # cq closed: the completion thread ends
        self.ex_freed = False
        self.finished = threading.Event()
        self.space: List[Any] = []  # asyncio futures waiting for queue room
        # the completion thread's: tags popped, futures not yet completed
        self.ready: Deque[int] = collections.deque()
        self.buf = ffi.new("uint64_t[]", _BATCH)
        self.n = ffi.new("size_t *")
        self.thread = threading.Thread(target=self._run, name="fetchpool-completions",
                                       daemon=True)
        self.thread.start()

    # -- using the executor from any thread ---------------------------------

    def enter(self) -> None:
        """Become a user of ex (ex is not freed until leave); RuntimeError
        after shutdown."""
        with self.lock:
            if self.closing:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self.users += 1

    def enter_any(self) -> bool:
        """As enter, also after shutdown; False once ex is freed."""
        with self.lock:
            if self.ex_freed:
                return False
            self.users += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.users -= 1
            if not self.users:
                self.lock.notify_all()
        self.maybe_close()

    def submit_c(self, req: Any, block: bool = True) -> Any:
        """Submit a C request (BORROWED), waiting for queue room in slices
        so Ctrl-C is seen. Returns the fp_future (NEW, collected by cffi),
        or None when not block and the queue is full. Caller is a user."""
        err = ffi.new("fp_error *")
        while True:
            f = lib.fp_executor_submit_timeout(self.ex, req, _SLICE if block else 0.0, err)
            if f != ffi.NULL:
                return ffi.gc(f, _decref_future)
            code = err.code
            if code == FP_ERR_WOULD_BLOCK:
                if not block:
                    return None
                err.code = FP_OK
                continue
            _raise_submit_error(code, err)

    def submit_many_c(self, reqs: List[Any]) -> List[Any]:
        """Submit C requests (BORROWED) in order with one lock round trip
        per chunk (fp_executor_submit_many), waiting for queue room in
        slices so Ctrl-C is seen. Returns their fp_futures (NEW, collected
        by cffi). Caller is a user."""
        n = len(reqs)
        arr = ffi.new("fp_request *[]", reqs)
        out = ffi.new("fp_future *[]", n)
        err = ffi.new("fp_error *")
        done = 0
        futures: List[Any] = []
        while done < n:
            err.code = FP_OK
            k = lib.fp_executor_submit_many(self.ex, arr + done, n - done, _SLICE,
                                            out + done, err)
            futures.extend(ffi.gc(out[i], _decref_future) for i in range(done, done + k))
            done += k
            code = err.code
            if done == n or code == FP_ERR_WOULD_BLOCK:
                continue
            _raise_submit_error(code, err)
        return futures

    def watch(self, c: Any, url: str, id: Any) -> Future:
        """A Future for C future c, completed by the completion thread."""
        fut = Future(self, c, url, id)
        tag = next(self.tags)
        self.pending[tag] = fut
        rc = lib.fp_completions_watch(self.cq, c, tag)
        if rc != FP_OK:
            del self.pending[tag]
            lib.fp_future_cancel(c)
            _check("watch", rc)
        return fut

    # -- the completion thread -----------------------------------------------

    def _deliver(self) -> None:
        """Complete the futures of the tags in self.ready. A done callback
        may wait on a future (result, shutdown) and so deliver the rest of
        the batch itself, nested: hence one shared deque, not a local list."""
        pending = self.pending
        ready = self.ready
        while ready:
            fut = pending.pop(ready.popleft(), None)
            if fut is None:
                continue
            c = fut._c
            if lib.fp_future_response(c) == ffi.NULL and lib.fp_future_cancelled(c):
                # as ThreadPoolExecutor's worker does for a cancelled item:
                # wait() and as_completed() learn of it here
                cf.Future.cancel(fut)
                fut.set_running_or_notify_cancel()
                continue
            try:
                fut.set_result(Response(c, fut._url, fut._id))
            except cf.InvalidStateError:
                pass
        if self.space:
            self._wake_space()

    def _pump(self, timeout: float) -> bool:
        """On the completion thread: wait up to timeout for done jobs and
        complete their futures. False once the queue is closed."""
        if not self.ready:
            n = self.n
            rc = lib.fp_completions_pop(self.cq, timeout, self.buf, _BATCH, n)
            if rc == FP_OK:
                self.ready.extend(ffi.unpack(self.buf, n[0]))
            elif rc != FP_ERR_WAIT_TIMEOUT:
                return False
        self._deliver()
        return True

    def _wake_space(self) -> None:
        with self.lock:
            waiters, self.space = self.space, []
        for w in waiters:
            loop = w.get_loop()
            loop.call_soon_threadsafe(_set_if_pending, w)

    def _run(self) -> None:
        while self._pump(FP_FOREVER):
            self.maybe_close()
        # every job submitted here is done and delivered; wait for the
        # threads still using ex, then free it (this also waits for the
        # jobs of map and fetch_all, which need no completion thread)
        with self.lock:
            while self.users:
                self.lock.wait()
            self.ex_freed = True
        lib.fp_executor_free(self.ex)
        lib.fp_completions_free(self.cq)
        self.finished.set()

    def maybe_close(self) -> None:
        """Close the queue once shut down, idle and every tag delivered: the
        completion thread then ends."""
        with self.lock:
            if self.closing and not self.closed and not self.users and not self.pending:
                self.closed = True
                lib.fp_completions_close(self.cq)

    def wait_in_callback(self, fut: Future, timeout: Optional[float]) -> None:
        """On the completion thread (in a done callback), complete other
        futures until fut is done or timeout passes."""
        if fut.done() or threading.current_thread() is not self.thread:
            return
        end = None if timeout is None else time.monotonic() + timeout
        while not fut.done():
            left = _SLICE if end is None else min(_SLICE, end - time.monotonic())
            if left <= 0 or not self._pump(left):
                return

    # -- shutdown ---------------------------------------------------------------

    def cancel_queued(self) -> None:
        """Cancel every job of this pool still queued (Ctrl-C)."""
        for fut in list(self.pending.values()):
            if not fut.done():
                lib.fp_future_cancel(fut._c)

    def shutdown(self, wait: bool, cancel_futures: bool, abort: bool = False) -> None:
        with self.lock:
            self.closing = True
        if self.enter_any():
            try:
                lib.fp_executor_shutdown(self.ex, False, cancel_futures)
                if abort:
                    lib.fp_executor_abort(self.ex)
            finally:
                self.leave()
        self.maybe_close()
        if not wait:
            return
        if threading.current_thread() is self.thread:
            # in a done callback: complete the rest here, then join the workers
            while self.pending and self._pump(_SLICE):
                pass
            self.maybe_close()
            if self.enter_any():
                try:
                    lib.fp_executor_shutdown(self.ex, True, False)
                finally:
                    self.leave()
            return
        while not self.finished.wait(_SLICE):
            pass


def _set_if_pending(w: Any) -> None:
    if not w.done():
        w.set_result(None)


_live: "weakref.WeakSet[_Core]" = weakref.WeakSet()


def _at_exit() -> None:
    # as concurrent.futures does for its executors: the jobs already
    # submitted finish before the interpreter goes away
    for core in list(_live):
        core.shutdown(wait=True, cancel_futures=False)


threading._register_atexit(_at_exit)  # type: ignore[attr-defined]


class Pool(cf.Executor):
    """A pool of C threads (or event loops) fetching URLs, with the
    concurrent.futures interface.

    Options (None or 0 keeps the library's default):

    - ``threads``: transfers at once (default min(32, CPUs + 4)), or
      ``"auto"``: each host's in-flight limit adapts between 1 and
      ``max_threads`` (default 256) to what it serves without queueing or
      429s (``per_host``, when given, caps each host); the "threads"
      engine starts its workers as the limits first need them.
      :meth:`hosts` reads each host's limit and state;
      ``engine``: "threads", "multi" or "hybrid" (``loops`` event loops);
      ``queue_capacity``: jobs that may wait (0: unbounded); when full,
      submit blocks;
    - ``retries``, ``retry_on`` (statuses, default 429, 502, 503, 504),
      ``retry_base`` (default 0.5 s, 0.1 s with ``threads="auto"``),
      ``retry_max_wait`` (seconds): retries with backoff or the server's
      Retry-After;
    - ``rate`` (attempts a second in all), ``per_host`` (transfers at once
      to one host:port), ``per_host_rate`` (request starts a second to each
      host:port, evenly paced); ``host_cooldown`` (default True): a 429 or
      503 with Retry-After pauses new requests to its host until then. A
      job waiting for its host is parked, holding no worker; with a
      ``queue_capacity``, ``max_parked`` (default 100,000) of them may wait
      before submit blocks;
    - ``timeout`` (a job's whole time, retries included),
      ``attempt_timeout`` (each attempt), ``connect_timeout``,
      ``stall_timeout`` (seconds),
      ``max_body`` (bytes), ``max_redirs``, ``headers`` (sent with every
      request), ``user_agent``, ``insecure``, ``cacert`` (a PEM file);
    - ``http_version``: "1.0", "1.1", "2" or "2-prior-knowledge", as curl's
      --http1.0 ... --http2-prior-knowledge (default: HTTP/2 over TLS when
      the server offers it, else 1.1; ``Response.http_version`` says which
      was used). The "multi" and "hybrid" engines multiplex HTTP/2 streams
      on one connection per host; "threads" opens one per worker.

    Bad values raise ValueError or TypeError with the library's message.
    Any number of threads may submit at once. Used as a context manager it
    shuts down with wait=True on exit, as Executor does; on Ctrl-C
    (KeyboardInterrupt) it cancels the queued jobs, stops those in flight
    and does not wait."""

    def __init__(self, threads: Union[int, str, None] = None, *, engine: str = "threads",
                 loops: Optional[int] = None, queue_capacity: Optional[int] = None,
                 retries: int = 0, retry_on: Optional[Iterable[int]] = None,
                 retry_base: Optional[float] = None, retry_max_wait: Optional[float] = None,
                 rate: Optional[float] = None, per_host: Optional[int] = None,
                 timeout: Optional[float] = None, connect_timeout: Optional[float] = None,
                 stall_timeout: Optional[float] = None, max_body: Optional[int] = None,
                 max_redirs: Optional[int] = None, headers: Optional[Dict[str, str]] = None,
                 user_agent: Optional[str] = None, insecure: bool = False,
                 cacert: Optional[str] = None,
                 attempt_timeout: Optional[float] = None,
                 http_version: Optional[str] = None,
                 per_host_rate: Optional[float] = None, max_parked: Optional[int] = None,
                 host_cooldown: bool = True, max_threads: Optional[int] = None) -> None:
        if retry_base is None and threads == "auto":
            retry_base = 0.1  # as the command line: the limit, not the backoff, spares the host
        self._timeout = _seconds("timeout", timeout)
        self._connect_timeout = _seconds("connect_timeout", connect_timeout)
        self._template = self._make_template(
            retries, retry_on, retry_base, retry_max_wait, stall_timeout, max_body,
            max_redirs, headers, user_agent, insecure, cacert, attempt_timeout,
            http_version)
        opts = ffi.new("fp_executor_options *")
        lib.fp_executor_options_init(opts)
        if threads == "auto":
            opts.threads_auto = True
            threads = None
        elif isinstance(threads, str):
            raise TypeError(f"threads must be an int or \"auto\", not {threads!r}")
        elif max_threads is not None:
            raise ValueError("max_threads is for threads=\"auto\"")
        for name, value in (("threads", threads), ("loops", loops), ("max_threads", max_threads),
                            ("queue_capacity", queue_capacity), ("per_host", per_host),
                            ("max_parked", max_parked)):
            if value is not None:
                _check_int(name, value)
                setattr(opts, name, value)
        if engine not in _ENGINES:
            raise ValueError(f"engine must be one of {', '.join(_ENGINES)}, not {engine!r}")
        opts.engine = _ENGINES[engine]
        if rate is not None:
            opts.rate = _seconds("rate", rate) or 0.0
        if per_host_rate is not None:
            opts.per_host_rate = _seconds("per_host_rate", per_host_rate) or 0.0
        opts.no_host_cooldown = not host_cooldown
        err = ffi.new("fp_error *")
        ex = lib.fp_executor_new(opts, err)
        if ex == ffi.NULL:
            text = ffi.string(err.text).decode("utf-8", "replace") or strerror(err.code)
            if err.code == FP_ERR_INVALID_ARG:
                raise ValueError(text)
            if err.code == FP_ERR_NOMEM:
                raise MemoryError(text)
            raise OSError(text)
        self._core = _Core(ex)
        _live.add(self._core)
        self._threads = lib.fp_executor_threads(ex)
        weakref.finalize(self, _Core.shutdown, self._core, False, False)

    @staticmethod
    def _make_template(retries: int, retry_on: Optional[Iterable[int]],
                       retry_base: Optional[float], retry_max_wait: Optional[float],
                       stall_timeout: Optional[float], max_body: Optional[int],
                       max_redirs: Optional[int], headers: Optional[Dict[str, str]],
                       user_agent: Optional[str], insecure: bool, cacert: Optional[str],
                       attempt_timeout: Optional[float], http_version: Optional[str]) -> Any:
        t = ffi.gc(lib.fp_request_new(b"http://127.0.0.1/"), lib.fp_request_decref)
        if t == ffi.NULL:
            raise MemoryError("fetchpool: out of memory")
        _check("keep headers", lib.fp_request_set_keep_headers(t, True))
        _check_int("retries", retries)
        base = _seconds("retry_base", retry_base) or 0.0
        max_wait = _seconds("retry_max_wait", retry_max_wait) or 0.0
        _check("retries", lib.fp_request_set_retries(t, retries, base, max_wait))
        if retry_on is not None:
            statuses = list(retry_on)
            for s in statuses:
                _check_int("retry_on", s)
            arr = ffi.new("int[]", statuses or [0])
            _check(f"retry_on {statuses}", lib.fp_request_set_retry_statuses(t, arr, len(statuses)))
        if stall_timeout is not None:
            _check("stall_timeout", lib.fp_request_set_stall_timeout(
                t, _seconds("stall_timeout", stall_timeout)))
        if attempt_timeout is not None:
            _check("attempt_timeout", lib.fp_request_set_attempt_timeout(
                t, _seconds("attempt_timeout", attempt_timeout)))
        if max_body is not None:
            _check_int("max_body", max_body)
            _check("max_body", lib.fp_request_set_max_body(t, max_body))
        if max_redirs is not None:
            _check_int("max_redirs", max_redirs)
            _check("max_redirs", lib.fp_request_set_redirects(t, True, max_redirs))
        for k, v in (headers or {}).items():
            _check(f"header {k!r}", lib.fp_request_add_header(t, _enc("header name", k),
                                                              _enc("header value", v)))
        if user_agent is not None:
            _check("user_agent", lib.fp_request_set_user_agent(t, _enc("user_agent", user_agent)))
        if not isinstance(insecure, bool):
            raise TypeError("insecure must be a bool")
        _check("insecure", lib.fp_request_set_insecure(t, insecure))
        if cacert is not None:
            if not isinstance(cacert, (str, os.PathLike)):
                raise TypeError("cacert must be a path")
            path = os.fspath(cacert)
            if not os.path.isfile(path):
                raise ValueError(f"cacert: no such file: {path}")
            _check("cacert", lib.fp_request_set_cacert(t, _enc("cacert", path)))
        if http_version is not None:
            if http_version not in _HTTP_VERSIONS:
                raise ValueError("http_version must be one of "
                                 f"{', '.join(_HTTP_VERSIONS)}, not {http_version!r}")
            _check("http_version", lib.fp_request_set_http_version(
                t, _HTTP_VERSIONS[http_version]))
        return t

    @property
    def threads(self) -> int:
        """Transfers this pool runs at once (with ``threads="auto"``: at
        most, all hosts together)."""
        return self._threads

    def hosts(self) -> List[HostInfo]:
        """Each host's state now (its in-flight limit, transfers in flight,
        parked jobs, cooldown, 429/503 answers, attempts done), busiest
        first. Empty when no per-host option is on (``per_host``,
        ``per_host_rate``, ``threads="auto"`` all unset and
        ``host_cooldown=False``) or before the first job. Thread-safe."""
        core = self._core
        if not core.enter_any():
            return []
        try:
            n = 64
            for _ in range(4):  # hosts may come meanwhile: a few tries, then the busiest n
                buf = ffi.new("fp_host_info[]", n)
                known = min(lib.fp_executor_hosts(core.ex, buf, n), n)
                if known < n:
                    break
                n *= 4
            return [HostInfo(ffi.string(h.host).decode("utf-8", "replace"), h.limit, h.active,
                             h.parked, h.cooldown_left, h.cooldown_total, h.overloads, h.done)
                    for h in buf[0:known]]
        finally:
            core.leave()

    def _request(self, job: UrlOrRequest) -> Any:
        """A C request for job (NEW, collected by cffi)."""
        t = self._template
        if type(job) is str:
            r = lib.fp_request_copy(t)
            if r == ffi.NULL:
                raise MemoryError("fetchpool: out of memory")
            r = ffi.gc(r, lib.fp_request_decref)
            if "\0" in job:
                raise ValueError("url holds a NUL character")
            _check(f"url {job!r}", lib.fp_request_set_url(r, job.encode()))
            if self._timeout is not None or self._connect_timeout is not None:
                _check("timeout", lib.fp_request_set_timeouts(
                    r, self._timeout or 0.0, self._connect_timeout or 0.0))
            return r
        if not isinstance(job, Request):
            raise TypeError(f"a job is a URL (str) or a fetchpool.Request, "
                            f"not {type(job).__name__}")
        r = self._request(job.url)
        if job.method != "GET":
            _check(f"method {job.method!r}", lib.fp_request_set_method(
                r, _enc("method", job.method)))
        for k, v in job.headers.items():
            _check(f"header {k!r}", lib.fp_request_add_header(r, _enc("header name", k),
                                                              _enc("header value", v)))
        if job.body is not None:
            _check("body", lib.fp_request_set_body(r, job.body, len(job.body)))
        if job.timeout is not None or job.connect_timeout is not None:
            total = job.timeout if job.timeout is not None else self._timeout
            conn = job.connect_timeout if job.connect_timeout is not None \
                else self._connect_timeout
            _check("timeout", lib.fp_request_set_timeouts(r, total or 0.0, conn or 0.0))
        if job.stall_timeout is not None:
            _check("stall_timeout", lib.fp_request_set_stall_timeout(r, job.stall_timeout))
        if job.attempt_timeout is not None:
            _check("attempt_timeout", lib.fp_request_set_attempt_timeout(
                r, job.attempt_timeout))
        if job.max_redirs is not None:
            _check("max_redirs", lib.fp_request_set_redirects(r, True, job.max_redirs))
        return r

    def submit(self, job: UrlOrRequest, /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        """Queue a job (a URL or a :class:`Request`) and return its
        :class:`Future`. Blocks while the queue is full (queue_capacity);
        RuntimeError after shutdown. Thread-safe."""
        if args or kwargs:
            raise TypeError("submit takes one URL or Request")
        req = self._request(job)
        core = self._core
        core.enter()
        try:
            c = core.submit_c(req)
            if isinstance(job, str):
                return core.watch(c, job, None)
            return core.watch(c, job.url, job.id)
        finally:
            core.leave()

    async def fetch(self, job: UrlOrRequest) -> Response:
        """``await pool.fetch(url)``: the job's :class:`Response` in
        asyncio, without a thread per call. When the queue is full it waits
        for room without blocking the event loop. Cancelling the awaiting
        task cancels a job that is still queued."""
        import asyncio
        req = self._request(job)
        core = self._core
        loop = asyncio.get_running_loop()
        while True:
            core.enter()
            try:
                c = core.submit_c(req, block=False)
                if c is not None:
                    fut = core.watch(c, job if isinstance(job, str) else job.url,
                                     None if isinstance(job, str) else job.id)
                    break
                room = loop.create_future()
                with core.lock:
                    core.space.append(room)
            finally:
                core.leave()
            # woken by the next batch of completions; jobs of map() have
            # none, so look again after a while in any case
            try:
                await asyncio.wait_for(room, 0.1)
            except asyncio.TimeoutError:
                pass
        return await asyncio.wrap_future(fut)  # type: ignore[no-any-return]

    def map(self, jobs: Iterable[UrlOrRequest], *, window: Optional[int] = None,  # type: ignore[override]
            timeout: Optional[float] = None) -> Iterator[Response]:
        """Fetch every job of an iterable (URLs or :class:`Request` objects,
        read lazily) and yield their :class:`Response` objects in input
        order, with at most ``window`` jobs submitted and not yet yielded
        (default 8 x threads, at least 1024): memory stays bounded whatever
        the input's length. ``timeout`` bounds the whole iteration
        (TimeoutError). Ctrl-C cancels what is queued and raises
        KeyboardInterrupt. The first window is submitted before this
        returns."""
        if window is None:
            # wide enough that the workers never run dry while this thread
            # waits for the head of the window (a narrow one costs a worker
            # wake-up per job: 8,500/s with all 20,000 jobs queued at
            # once, 5,000/s with 256, on the test server, 64 threads)
            window = max(1024, 8 * self._threads)
        _check_int("window", window)
        if window < 1:
            raise ValueError("window must be 1 or more")
        end = None if timeout is None else time.monotonic() + timeout
        it = iter(jobs)
        q: Deque[Any] = collections.deque()
        core = self._core
        core.enter()
        try:
            exhausted = self._fill(it, q, window)
        except KeyboardInterrupt:
            _cancel_all(q)
            core.cancel_queued()
            raise
        except BaseException:
            _cancel_all(q)
            raise
        finally:
            core.leave()
        return self._map_results(it, q, window, exhausted, end)

    def _fill(self, it: Iterator[UrlOrRequest], q: Deque[Any], window: int) -> bool:
        """Submit jobs from it until q holds window of them; True when it
        is exhausted. Caller is a user of ex."""
        submit_many = self._core.submit_many_c
        make = self._request
        exhausted = False
        while len(q) < window and not exhausted:
            # a batch per lock round trip of the queue (fp_executor_submit_many)
            batch: List[Any] = []
            keys: List[Any] = []
            try:
                while len(batch) < min(_BATCH, window - len(q)):
                    try:
                        job = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    batch.append(make(job))
                    if type(job) is str:
                        keys.append((job, None))
                    else:
                        keys.append((job.url, job.id))  # type: ignore[union-attr]
            finally:
                # what was made before a bad job still runs, in order
                if batch:
                    for c, (url, id_) in zip(submit_many(batch), keys):
                        q.append((c, url, id_))
        return exhausted

    def _map_results(self, it: Iterator[UrlOrRequest], q: Deque[Any], window: int,
                     exhausted: bool, end: Optional[float]) -> Iterator[Response]:
        core = self._core
        rp = ffi.new("fp_response **")
        result = lib.fp_future_result
        try:
            while q:
                c, url, id_ = q[0]
                while True:
                    left = _SLICE
                    if end is not None:
                        left = min(left, end - time.monotonic())
                        if left <= 0:
                            raise cf.TimeoutError()
                    rc = result(c, left, rp)
                    if rc != FP_ERR_WAIT_TIMEOUT:
                        break
                q.popleft()
                # top the window up a batch at a time: one submit_many call
                # per _BATCH jobs, not one per job yielded
                if not exhausted and len(q) <= window - min(_BATCH, max(1, window // 2)):
                    core.enter()
                    try:
                        exhausted = self._fill(it, q, window)
                    finally:
                        core.leave()
                yield Response(c, url, id_)
        except KeyboardInterrupt:
            _cancel_all(q)
            core.cancel_queued()
            raise
        finally:
            # GeneratorExit (the caller stopped early), TimeoutError, errors
            _cancel_all(q)

    def fetch_all(self, jobs: Iterable[UrlOrRequest], *, window: Optional[int] = None,
                  timeout: Optional[float] = None) -> List[Response]:
        """Fetch every job and return the list of :class:`Response` objects
        in input order: :meth:`map` collected into a list, the fast path (no
        Future per job; a window of at least 8192 by default: it holds
        every response anyway). Ctrl-C cancels what is queued and raises
        KeyboardInterrupt."""
        if window is None:
            window = max(8192, 16 * self._threads)
        return list(self.map(jobs, window=window, timeout=timeout))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """As Executor.shutdown: refuse new jobs; with cancel_futures,
        cancel the queued ones (their Futures are cancelled); with wait,
        return once every job is done and the workers have exited.
        Idempotent; callable from a done callback."""
        self._core.shutdown(wait, cancel_futures)

    def abort(self) -> None:
        """Stop every transfer in flight at once: each finishes with error
        "cancelled". Does not shut the pool down."""
        core = self._core
        if core.enter_any():
            try:
                lib.fp_executor_abort(core.ex)
            finally:
                core.leave()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            # KeyboardInterrupt, SystemExit: leave now, stop everything
            self._core.shutdown(wait=False, cancel_futures=True, abort=True)
        else:
            self.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"<fetchpool.Pool threads={self._threads}>"


def _raise_submit_error(code: int, err: Any) -> NoReturn:
    """Raise what Executor.submit raises for a submit the library refused."""
    text = ffi.string(err.text).decode("utf-8", "replace")
    if code == FP_ERR_SHUTDOWN:
        raise RuntimeError("cannot schedule new futures after shutdown")
    if code == FP_ERR_NOMEM:
        raise MemoryError(text)
    raise ValueError(text or strerror(code))


def _cancel_all(q: Deque[Any]) -> None:
    for c, _, _ in q:
        lib.fp_future_cancel(c)
    q.clear()
