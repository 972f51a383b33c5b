"""_models.py: Request (what to fetch), Response (what came back, read
from the library's response), Headers, FetchError and HostInfo."""

from __future__ import annotations

import json as _json
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union

from ._ffi import FP_ERR_CANCELLED, FP_OK, code_name, ffi, lib, strerror

HeadersArg = Union[Mapping[str, str], None]
Body = Union[bytes, bytearray, memoryview, str, None]

_MISSING: Any = object()


class FetchError(Exception):
    """A failed job: a transfer error, or an HTTP status of 400 or more.

    ``code`` is the error code name the command line writes in its records
    ("timeout", "connect", "dns", "http", "cancelled", ...; see
    ``fetchpool --help``), ``message`` says what happened, ``status`` is
    the HTTP status (None when no response arrived) and ``response`` the
    :class:`Response` it came from (None when it was never made)."""

    code: str
    message: str
    status: Optional[int]
    response: Optional["Response"]

    def __init__(self, code: str, message: str, status: Optional[int] = None,
                 response: Optional["Response"] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.response = response


class Headers(Mapping[str, str]):
    """Response headers: a read-only, case-insensitive mapping.

    A name sent more than once maps to its values joined with ", ", as in
    the records; :meth:`get_all` gives them one by one (use it for
    Set-Cookie, which the records keep as an array because its values
    cannot be joined). Iteration gives each name once, spelt as it first
    arrived."""

    __slots__ = ("_values", "_spelt")

    def __init__(self, pairs: List[Tuple[str, str]] = []) -> None:  # noqa: B006 (never mutated)
        self._values: Dict[str, List[str]] = {}
        self._spelt: Dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            if key not in self._values:
                self._values[key] = []
                self._spelt[key] = name
            self._values[key].append(value)

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._values[name.lower()])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._spelt.values())

    def __len__(self) -> int:
        return len(self._values)

    def get_all(self, name: str) -> List[str]:
        """Every value of header ``name`` in arrival order ([] when absent)."""
        return list(self._values.get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class Request:
    """One job: a URL and how to fetch it.

    ``method`` is any HTTP method token; ``headers`` are added to (and
    replace, by name) the pool's; ``body`` is bytes, or str sent as UTF-8;
    ``json`` is serialized as the body with ``Content-Type:
    application/json`` unless the headers set one; ``timeout`` (total),
    ``attempt_timeout`` (per attempt), ``connect_timeout``,
    ``stall_timeout`` (seconds) and ``max_redirs``
    replace the pool's for this job; ``id`` is any value, handed back as
    ``Response.id``."""

    __slots__ = {
        "url": "The URL to fetch (http or https).",
        "method": "The HTTP method (\"GET\" by default).",
        "headers": "Headers added to the pool's, replacing those of the same name.",
        "body": "The request body as bytes, or None.",
        "timeout": "Total seconds for this job (None: the pool's).",
        "attempt_timeout": "Seconds for each attempt of this job (None: the pool's).",
        "connect_timeout": "Seconds to connect for this job (None: the pool's).",
        "stall_timeout": "Seconds under 1 byte/s before giving up (None: the pool's).",
        "max_redirs": "Redirects followed at most for this job (None: the pool's).",
        "id": "Any value, handed back as Response.id.",
    }

    url: str
    method: str
    headers: Dict[str, str]
    body: Optional[bytes]
    timeout: Optional[float]
    attempt_timeout: Optional[float]
    connect_timeout: Optional[float]
    stall_timeout: Optional[float]
    max_redirs: Optional[int]
    id: Any

    def __init__(self, url: str, method: str = "GET", headers: HeadersArg = None,
                 body: Body = None, json: Any = _MISSING, timeout: Optional[float] = None,
                 connect_timeout: Optional[float] = None,
                 stall_timeout: Optional[float] = None, max_redirs: Optional[int] = None,
                 id: Any = None, attempt_timeout: Optional[float] = None) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        if not isinstance(method, str):
            raise TypeError(f"method must be a str, not {type(method).__name__}")
        self.url = url
        self.method = method
        self.headers = dict(headers) if headers else {}
        for k, v in self.headers.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("header names and values must be str")
        if json is not _MISSING:
            if body is not None:
                raise TypeError("give body or json, not both")
            body = _json.dumps(json, separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k in self.headers):
                self.headers["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        elif body is not None and not isinstance(body, bytes):
            raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
        self.body = body
        self.timeout = _seconds("timeout", timeout)
        self.attempt_timeout = _seconds("attempt_timeout", attempt_timeout)
        self.connect_timeout = _seconds("connect_timeout", connect_timeout)
        self.stall_timeout = _seconds("stall_timeout", stall_timeout)
        if max_redirs is not None:
            _check_int("max_redirs", max_redirs)
        self.max_redirs = max_redirs
        self.id = id

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url!r})"


class HostInfo(NamedTuple):
    """One host's state, as :meth:`Pool.hosts` reports it."""

    #: "host:port", lowercased
    host: str
    #: in-flight limit now (``per_host``, or the adaptive one of
    #: ``threads="auto"``; 0: none)
    limit: int
    #: transfers in flight
    active: int
    #: jobs parked for it (waiting for a slot, a cooldown or a rate token)
    parked: int
    #: seconds until it may be asked again; 0: not cooling down
    cooldown_left: float
    #: seconds it spent cooling down so far
    cooldown_total: float
    #: 429 and 503 answers so far
    overloads: int
    #: attempts finished
    done: int


def _check_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")


def _seconds(name: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{name} must be 0 or more seconds, not {value}")
    return float(value)


def _text(p: Any) -> str:
    return ffi.string(p).decode("utf-8", "replace") if p != ffi.NULL else ""


class Response:
    """The outcome of one job, as in the command line's records.

    A transfer error or an HTTP error status does not raise: look at
    ``ok`` and ``error``, or call :meth:`raise_for_status`. The fields are
    read from the library's response when first used; the response's
    memory is freed with the last reference to this object."""

    __slots__ = {
        "_c": None, "_resp": None, "_code": None, "_content": None, "_headers": None,
        "_error": None,
        "url": "The URL as submitted.",
        "id": "The Request's id (None for a plain URL).",
        "status": "The final HTTP status, or None when no response arrived.",
    }

    url: str
    id: Any
    status: Optional[int]

    def __init__(self, c: Any, url: str, id: Any) -> None:
        # c: the job's fp_future (cdata that drops its reference when
        # collected); the response is BORROWED from it
        self._c = c
        self.url = url
        self.id = id
        resp = lib.fp_future_response(c)
        self._resp = resp
        if resp == ffi.NULL:  # cancelled before it ran
            self.status = None
            self._code = FP_ERR_CANCELLED
        else:
            self.status = lib.fp_response_status(resp) or None
            self._code = lib.fp_response_error(resp)
        self._content: Optional[bytes] = None
        self._headers: Optional[Headers] = None
        self._error: Any = _MISSING

    @property
    def ok(self) -> bool:
        """True when there was no transfer error and the status is below 400."""
        return self._code == FP_OK and self.status is not None and self.status < 400

    @property
    def error(self) -> Optional[FetchError]:
        """None, or the :class:`FetchError` of a transfer error (code
        "timeout", "connect", ...) or of a status >= 400 (code "http")."""
        if self._error is _MISSING:
            err: Optional[FetchError] = None
            if self._code != FP_OK:
                msg = _text(lib.fp_response_error_message(self._resp)) \
                    if self._resp != ffi.NULL else ""
                err = FetchError(code_name(self._code), msg or strerror(self._code),
                                 self.status, self)
            elif self.status is not None and self.status >= 400:
                err = FetchError("http", f"HTTP status {self.status}", self.status, self)
            self._error = err
        return self._error  # type: ignore[no-any-return]

    @property
    def effective_url(self) -> str:
        """The URL of the last request made, after redirects ("" when none)."""
        if self._resp == ffi.NULL:
            return ""
        return _text(lib.fp_response_effective_url(self._resp))

    @property
    def http_version(self) -> Optional[str]:
        """The HTTP version of the final response ("1.0", "1.1", "2"), or
        None when no response arrived."""
        if self._resp == ffi.NULL:
            return None
        v = lib.fp_response_http_version(self._resp)
        return _text(v) if v != ffi.NULL else None

    @property
    def content(self) -> bytes:
        """The body as bytes (b"" when none arrived)."""
        if self._content is None:
            body = b""
            if self._resp != ffi.NULL:
                n = ffi.new("size_t *")
                p = lib.fp_response_body(self._resp, n)
                if p != ffi.NULL:
                    body = ffi.unpack(p, n[0])
            self._content = body
        return self._content

    @property
    def text(self) -> str:
        """The body decoded with the charset of Content-Type (UTF-8 when
        none is given), undecodable bytes replaced."""
        charset = "utf-8"
        ctype = self.headers.get("Content-Type", "")
        for part in ctype.split(";")[1:]:
            k, _, v = part.strip().partition("=")
            if k.lower() == "charset" and v:
                charset = v.strip('"\' ')
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (``json.loads``); raises ValueError when
        it is not JSON."""
        return _json.loads(self.content, **kwargs)

    @property
    def headers(self) -> Headers:
        """The final response's headers (case-insensitive, see :class:`Headers`)."""
        if self._headers is None:
            pairs = []
            if self._resp != ffi.NULL:
                name = ffi.new("const char **")
                value = ffi.new("const char **")
                for i in range(lib.fp_response_header_count(self._resp)):
                    if lib.fp_response_header_at(self._resp, i, name, value) == FP_OK:
                        pairs.append((ffi.string(name[0]).decode("latin-1"),
                                      ffi.string(value[0]).decode("latin-1")))
            self._headers = Headers(pairs)
        return self._headers

    @property
    def elapsed(self) -> float:
        """Seconds from the job's first attempt to its end, waits between
        retries included (0.0 for a job cancelled before it ran)."""
        return lib.fp_response_elapsed(self._resp) if self._resp != ffi.NULL else 0.0

    @property
    def attempts(self) -> int:
        """Attempts made: 1 unless retries ran, 0 when it never ran."""
        return lib.fp_response_attempts(self._resp) if self._resp != ffi.NULL else 0

    def raise_for_status(self) -> None:
        """Raise :attr:`error` (a :class:`FetchError`) if there is one."""
        err = self.error
        if err is not None:
            raise err

    def __repr__(self) -> str:
        err = self.error
        return f"<Response {self.status} {self.url!r}{' ' + err.code if err else ''}>"
