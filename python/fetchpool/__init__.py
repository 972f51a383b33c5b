"""fetchpool: fetch many HTTP(S) URLs from Python on libfetchpool's C pool.

A :class:`Pool` runs jobs (URLs or :class:`Request` objects) on C threads
(or libcurl event loops), with retries, rate and per-host limits, and gives
them back the ways Python code already waits for work:

- ``pool.submit(url)``: a :class:`concurrent.futures.Future` (for ``wait``,
  ``as_completed``, ``add_done_callback``, ``asyncio.wrap_future``);
- ``pool.map(urls, window=...)``: responses in input order, lazily, with
  bounded memory; ``pool.fetch_all(urls)``: the same as a list, the fastest
  path;
- ``await pool.fetch(url)``: asyncio, no thread per call.

Each result is a :class:`Response`; a transfer error or an HTTP error status
is in ``Response.error`` (a :class:`FetchError` whose ``code`` is the
command line's error code name), never raised by ``result()``.

The package is pure Python over libfetchpool.so.1 through cffi in ABI mode
(no compiler needed to install or import it). It loads the library from
$FETCHPOOL_LIBRARY, else from next to this file (``make python`` copies it
there), else from the system's loader path. cffi rather than ctypes: a
completion measured at about 45 us of CPU over the library's own cost with
cffi callbacks and 105 us with ctypes callbacks (64 threads; 16 vs 48 us
with 4), and cffi calls are cheaper too; see python/README.md.
"""

from ._models import FetchError, Headers, HostInfo, Request, Response
from ._pool import Future, Pool

__all__ = ["Pool", "Future", "Request", "Response", "Headers", "FetchError", "HostInfo",
           "__version__"]

#: The package's version, the library's (FP_VERSION).
__version__ = "0.3.0"
