/* fetchpool.h: the whole public API of fetchpool, a fixed pool of pthreads
 * that fetch HTTP(S) URLs with blocking libcurl transfers, behind an API
 * modelled on Python's concurrent.futures.
 *
 * Conventions (after jansson and libuv):
 *   - every name is fp_ / FP_; every type is opaque unless it is plain data;
 *   - functions that can fail return 0 (FP_OK) or a negative FP_ERR_* code,
 *     or NULL, and fill an optional caller-owned fp_error (first error wins);
 *   - ownership is stated on each function: NEW (caller must release it),
 *     BORROWED (valid while the owner lives), STEALS (takes the caller's ref);
 *   - timeouts are seconds as double; FP_FOREVER (any negative value) waits
 *     without limit, 0 polls;
 *   - the library never prints, never exits and has no global state except
 *     libcurl's one-time global init (done once, thread-safely);
 *   - misuse is an error, not a deadlock: a call that would block (a wait
 *     on a future not yet done, a submit to a full queue, a shutdown that
 *     waits, fp_executor_free) made from a worker thread of any executor
 *     or from inside a done callback returns FP_ERR_WORKER_THREAD instead
 *     of waiting, since it could be waiting for the thread it runs on.
 *     The same calls with timeout 0 (polls) are allowed there.
 */
#ifndef FETCHPOOL_H
#define FETCHPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* JSON values are jansson's (include <jansson.h> to build or read them);
 * the header only names the type, so a program that never touches JSON
 * does not need jansson's header. C11 and C++ allow the typedef twice. */
typedef struct json_t json_t;

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FP_EXTERN __attribute__((visibility("default")))
#else
#define FP_EXTERN
#endif

#define FP_VERSION "0.3.0"
#define FP_VERSION_NUM 0x000200

/* Wait without a time limit. */
#define FP_FOREVER (-1.0)

/* Library defaults, used when an option is left at 0. */
#define FP_DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024) /* 64 MiB of decoded body */
#define FP_DEFAULT_MAX_HEADERS ((size_t)256 * 1024)   /* 256 KiB of response headers */
/* Request headers: at most this many, and this many bytes of names and
 * values (the User-Agent included); more is FP_ERR_INVALID_REQUEST. */
#define FP_MAX_REQUEST_HEADERS 1000
#define FP_MAX_REQUEST_HEADER_BYTES ((size_t)256 * 1024)
#define FP_DEFAULT_MAX_REDIRS 10L
#define FP_DEFAULT_CONNECT_TIMEOUT 10.0 /* seconds */
#define FP_DEFAULT_USER_AGENT "fetchpool/" FP_VERSION
#define FP_DEFAULT_RETRY_BASE 0.5      /* seconds */
#define FP_DEFAULT_RETRY_MAX_WAIT 30.0 /* seconds */
/* Statuses retried by default (when retries are on). */
#define FP_DEFAULT_RETRY_STATUSES {429, 502, 503, 504}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Every code fetchpool returns or records. API errors come first; transfer
 * errors (kept in a response, distinct from its HTTP status) follow. Values
 * are stable; fp_code_name() gives the stable snake_case name used in JSON
 * records ("invalid_url", "timeout", ...). */
typedef enum fp_code {
  FP_OK = 0,
  /* API errors */
  FP_ERR_INVALID_ARG = -1,  /* a NULL or out-of-range argument */
  FP_ERR_NOMEM = -2,        /* allocation failed */
  FP_ERR_SHUTDOWN = -3,     /* the executor is shut down */
  FP_ERR_WAIT_TIMEOUT = -4, /* a wait ended before the condition held */
  FP_ERR_WOULD_BLOCK = -5,  /* the queue stayed full for the whole timeout */
  FP_ERR_CANCELLED = -6,    /* the future was cancelled before it ran */
  FP_ERR_EXHAUSTED = -7,    /* an iterator has nothing more to give */
  FP_ERR_INITIALIZER = -8,  /* a worker initializer reported failure */
  FP_ERR_SYSTEM = -9,       /* a thread or system call failed (see text) */
  FP_ERR_WORKER_THREAD = -10, /* call not allowed from a worker thread */
  /* request / input errors */
  FP_ERR_INVALID_URL = -20,
  FP_ERR_INVALID_JSON = -21,
  FP_ERR_INVALID_HEADER = -22,  /* CR, LF or NUL in a header, or no name */
  FP_ERR_INVALID_REQUEST = -23, /* a request field has a bad type or value */
  /* transfer errors */
  FP_ERR_UNSUPPORTED_PROTOCOL = -30, /* not http/https, also on redirect */
  FP_ERR_DNS = -31,
  FP_ERR_CONNECT = -32,
  FP_ERR_CONNECT_TIMEOUT = -33,
  FP_ERR_TIMEOUT = -34,         /* total transfer time exceeded */
  FP_ERR_STALL_TIMEOUT = -35,   /* too few bytes arrived for too long */
  FP_ERR_TLS = -36,
  FP_ERR_TOO_MANY_REDIRECTS = -37,
  FP_ERR_BODY_TOO_LARGE = -38,
  FP_ERR_HEADERS_TOO_LARGE = -39,
  FP_ERR_NETWORK = -40,         /* send/recv failure, reset, short body */
  FP_ERR_PROTOCOL = -41,        /* the server broke HTTP */
  FP_ERR_SINK_ABORTED = -42,    /* the caller's sink asked to stop */
  FP_ERR_HTTP = -43,            /* only in records: status >= 400 */
  FP_ERR_INTERNAL = -44,        /* anything libcurl reports that fits none */
  /* Deprecated: the old name of FP_ERR_SINK_ABORTED (same value, code
   * name "aborted"), kept for source compatibility. It is not what
   * fp_executor_abort produces: that is FP_ERR_CANCELLED. */
  FP_ERR_ABORTED = FP_ERR_SINK_ABORTED
} fp_code;

/* Human-readable text for a code ("operation timed out"). Never NULL;
 * unknown codes give "unknown error". Static storage. Thread-safe. */
FP_EXTERN const char *fp_strerror(int code);

/* Stable snake_case name of a code as used in records ("timeout",
 * "invalid_url", "ok" for FP_OK). Never NULL; static storage. Thread-safe. */
FP_EXTERN const char *fp_code_name(int code);

/* Details of a failed call, filled by functions that take an fp_error *.
 * Caller-owned; may be NULL wherever accepted. The first error wins: a
 * function only fills it when err->code is FP_OK, so initialise it with
 * fp_error_clear() or = {0}. */
typedef struct fp_error {
  int code;        /* an fp_code */
  char text[192];  /* what went wrong, naming the field or value */
} fp_error;

/* Reset *err to FP_OK with empty text. Accepts NULL. */
FP_EXTERN void fp_error_clear(fp_error *err);

/* ------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------ */

typedef struct fp_request fp_request;

/* Called from a worker thread with each piece of the decoded body when a
 * sink is set (the body is then not kept in memory). Return 0 to go on,
 * non-zero to abort the transfer with FP_ERR_SINK_ABORTED. Every attempt
 * starts with a call with data NULL and len 0: with retries, what an
 * earlier attempt delivered is to be discarded (the final attempt's body
 * is the job's body). */
typedef int (*fp_sink_fn)(void *userdata, const void *data, size_t len);

/* Create a GET request for url with the library defaults: redirects
 * followed (at most FP_DEFAULT_MAX_REDIRS), connect timeout
 * FP_DEFAULT_CONNECT_TIMEOUT, no total timeout, body cap
 * FP_DEFAULT_MAX_BODY, only http and https. The URL is copied and checked
 * when the request runs (a bad one gives FP_ERR_INVALID_URL there).
 * Returns a NEW reference (fp_request_decref), or NULL if url is NULL or
 * memory ran out. */
FP_EXTERN fp_request *fp_request_new(const char *url);

/* Deep copy of req (url, method, headers, body, limits, id, callbacks) with
 * a fresh reference count of 1. Returns NEW, or NULL on NULL/out of memory. */
FP_EXTERN fp_request *fp_request_copy(const fp_request *req);

/* Parse a JSON job object {"url": str, "method": str, "headers": {name:
 * value} or ["Name: value", ...], "body": str, "timeout": seconds,
 * "attempt_timeout": seconds, "connect_timeout": seconds,
 * "stall_timeout": seconds, "max_redirs": int,
 * "id": any, "proxy": str (as fp_request_set_net FP_NET_PROXY),
 * "user": "USER[:PASSWORD]", "auth": "basic"|"digest"|"ntlm"|"any",
 * "oauth2_bearer": str, "referer": str, "request_target": str,
 * "path_as_is": bool, "limit_rate": bytes per second}. A "json" value of
 * any type, or a "body" that is an object or an array, is sent serialized
 * (compact) with Content-Type: application/json unless the headers (of
 * obj or base) set one; "json" and "body" together are
 * FP_ERR_INVALID_REQUEST. Starts from a copy of base when base is not NULL
 * (headers of
 * obj replace base's headers of the same name, case-insensitively; the
 * timeouts given replace base's). Unknown keys are ignored. More than
 * FP_MAX_REQUEST_HEADERS headers, or FP_MAX_REQUEST_HEADER_BYTES of them,
 * after the merge is FP_ERR_INVALID_REQUEST, saying which.
 * Returns NEW, or NULL with err naming the field and why
 * (FP_ERR_INVALID_REQUEST, FP_ERR_INVALID_HEADER, FP_ERR_INVALID_URL for a
 * missing or non-string url). obj is BORROWED. Thread-safe for distinct
 * objects. */
FP_EXTERN fp_request *fp_request_from_json(const json_t *obj,
                                           const fp_request *base,
                                           fp_error *err);

/* Reference counting. Atomic, so any thread may call them. A request must
 * not be modified after it was submitted. decref of NULL does nothing. */
FP_EXTERN fp_request *fp_request_incref(fp_request *req);
FP_EXTERN void fp_request_decref(fp_request *req);

/* Setters. Each returns FP_OK or a negative code (FP_ERR_INVALID_ARG,
 * FP_ERR_NOMEM, FP_ERR_INVALID_HEADER). Strings and bytes are copied. Not
 * thread-safe on one request; call them before submitting it. */
FP_EXTERN int fp_request_set_url(fp_request *req, const char *url);
/* An HTTP method token ("GET", "POST", "HEAD", "PUT", ...). */
FP_EXTERN int fp_request_set_method(fp_request *req, const char *method);
/* Add a request header. name must be a non-empty token and neither part may
 * hold CR, LF or NUL (FP_ERR_INVALID_HEADER). A value of "" sends an empty
 * header; an existing header of the same name is replaced (found in
 * constant time: adding n headers costs O(n)). A header past
 * FP_MAX_REQUEST_HEADERS, or names and values (the User-Agent included)
 * past FP_MAX_REQUEST_HEADER_BYTES in all, is FP_ERR_INVALID_REQUEST. */
FP_EXTERN int fp_request_add_header(fp_request *req, const char *name,
                                    const char *value);
/* Same, from one "Name: value" line. */
FP_EXTERN int fp_request_add_header_line(fp_request *req, const char *line);
/* Request body (copied); len bytes, may hold NUL bytes. NULL clears it. */
FP_EXTERN int fp_request_set_body(fp_request *req, const void *data,
                                  size_t len);
/* Total and connect timeouts in seconds; 0 means no total limit and
 * FP_DEFAULT_CONNECT_TIMEOUT for connect. Negative values are invalid.
 * The total limit is the job's: it counts from the start of its first
 * attempt and spans every attempt and every wait for a retry. A retry
 * whose wait would end at or past it is not made (the job ends with the
 * last attempt's outcome), and each attempt gets only what is left, so a
 * job that runs out of time ends with FP_ERR_TIMEOUT within about
 * total_s of its start. The connect timeout bounds each connection. */
FP_EXTERN int fp_request_set_timeouts(fp_request *req, double total_s,
                                      double connect_s);
/* A time limit for each attempt on its own, in seconds (FP_ERR_TIMEOUT
 * when it runs out, and the attempt may be retried); 0 (the default)
 * means none. The total timeout still bounds the whole job. */
FP_EXTERN int fp_request_set_attempt_timeout(fp_request *req, double seconds);
/* Abort with FP_ERR_BODY_TOO_LARGE as soon as more than max_bytes of
 * decoded body arrived and is kept in memory (not with a sink: see
 * fp_request_set_max_filesize); 0 means FP_DEFAULT_MAX_BODY. */
FP_EXTERN int fp_request_set_max_body(fp_request *req, size_t max_bytes);
/* (batch-out) Abort with FP_ERR_BODY_TOO_LARGE as soon as more than
 * max_bytes of decoded body arrived, whether it is kept in memory or sent
 * to a sink (fp_request_set_sink), on every engine; 0 (the default) means
 * no limit. Unlike fp_request_set_max_body, which bounds only a body kept
 * in memory, this bounds what a sink writes (a file on disk), as curl's
 * --max-filesize does. */
FP_EXTERN int fp_request_set_max_filesize(fp_request *req, uint64_t max_bytes);
/* Follow redirects (at most max_redirs, FP_ERR_TOO_MANY_REDIRECTS past it)
 * or not (follow false: the 3xx response is the result). */
FP_EXTERN int fp_request_set_redirects(fp_request *req, bool follow,
                                       long max_redirs);
/* Keep response headers in the response (off by default). */
FP_EXTERN int fp_request_set_keep_headers(fp_request *req, bool keep);
/* User-Agent header value; NULL restores FP_DEFAULT_USER_AGENT. It counts
 * toward FP_MAX_REQUEST_HEADER_BYTES (FP_ERR_INVALID_REQUEST past it). */
FP_EXTERN int fp_request_set_user_agent(fp_request *req, const char *ua);
/* Skip TLS certificate and host name verification (off by default). */
FP_EXTERN int fp_request_set_insecure(fp_request *req, bool insecure);
/* Abort with FP_ERR_STALL_TIMEOUT when fewer than 1 byte a second moves
 * (response heads and bodies in, request body out) over the last seconds,
 * no byte at all included, once the request is under way (connecting is
 * bounded by the connect timeout); checked about once a second while
 * idle, so it may fire up to a second later. 0 (the default) turns it
 * off. */
FP_EXTERN int fp_request_set_stall_timeout(fp_request *req, double seconds);
/* Verify servers with the CA certificates in the PEM file at path instead
 * of the system's; NULL restores the system store. */
FP_EXTERN int fp_request_set_cacert(fp_request *req, const char *path);
/* Retry a failed attempt up to max_retries more times: after a transient
 * transport error (connect, connect_timeout, timeout, stall_timeout,
 * network) or a retryable status (FP_DEFAULT_RETRY_STATUSES
 * unless fp_request_set_retry_statuses). The wait before retry k (1-based)
 * is uniform in [0, min(max_wait, base * 2^(k-1))] (exponential backoff
 * with full jitter), or the server's Retry-After (seconds or HTTP-date)
 * when it sent one, capped by max_wait. A job waiting for its retry holds
 * no worker. base and max_wait in seconds; 0 means FP_DEFAULT_RETRY_BASE
 * and FP_DEFAULT_RETRY_MAX_WAIT. */
FP_EXTERN int fp_request_set_retries(fp_request *req, unsigned max_retries,
                                     double base, double max_wait);
/* The HTTP statuses that are retried (each 100..599); n == 0 retries no
 * status (transport errors only). Copied. */
FP_EXTERN int fp_request_set_retry_statuses(fp_request *req,
                                            const int *statuses, size_t n);
/* Send the body to sink instead of keeping it (see fp_sink_fn). */
FP_EXTERN int fp_request_set_sink(fp_request *req, fp_sink_fn sink,
                                  void *userdata);
/* A caller id copied into records as "id" (any JSON value; id is BORROWED:
 * the request keeps a deep copy, so the pool's threads never touch the
 * caller's value). NULL clears it. FP_ERR_NOMEM when the copy fails. */
FP_EXTERN int fp_request_set_id(fp_request *req, json_t *id);
/* Job number copied into records as "index". Unset by default (then the
 * record has no index). */
FP_EXTERN int fp_request_set_index(fp_request *req, uint64_t index);
/* Opaque pointer for the caller; fetchpool never touches it. */
FP_EXTERN void fp_request_set_userdata(fp_request *req, void *userdata);

/* ---- network options (curl's names and meanings): proxies, TLS, names
 * and addresses, HTTP versions ---- */

/* String options, set with fp_request_set_net. Each is copied; NULL
 * unsets it (libcurl's default). */
typedef enum fp_net_option {
  /* curl -x: scheme://[user:password@]host[:port], scheme http, https,
   * socks4, socks4a, socks5 or socks5h (the proxy resolves the name);
   * no scheme means http. "" means no proxy at all, the environment
   * ignored. Unset, libcurl reads http_proxy, https_proxy, all_proxy
   * and no_proxy (lower case; HTTPS_PROXY and ALL_PROXY too), as curl
   * does, on every engine. Never copied into records or errors. */
  FP_NET_PROXY = 0,
  FP_NET_PROXY_USER,   /* curl -U: user:password for the proxy */
  FP_NET_NOPROXY,      /* curl --noproxy: hosts, comma-separated, or "*" */
  FP_NET_PROXY_CACERT, /* curl --proxy-cacert: PEM CAs for an https proxy */
  FP_NET_CERT,         /* curl -E: client certificate file */
  FP_NET_CERT_TYPE,    /* curl --cert-type: PEM (default), DER or P12 */
  FP_NET_KEY,          /* curl --key: private key file */
  FP_NET_KEY_TYPE,     /* curl --key-type: PEM (default) or DER */
  FP_NET_KEY_PASSWORD, /* curl --pass: pass phrase of the key */
  FP_NET_CAPATH,       /* curl --capath: directory of hashed CA certificates */
  FP_NET_CIPHERS,      /* curl --ciphers: OpenSSL cipher list (TLS 1.2) */
  FP_NET_PINNED_PUBKEY, /* curl --pinnedpubkey: file or sha256//BASE64;... */
  FP_NET_CRLFILE,      /* curl --crlfile: PEM certificate revocation list */
  FP_NET_INTERFACE,    /* curl --interface: interface name, address or host */
  FP_NET_COOKIE,       /* curl -b STRING: a Cookie header "n=v; n2=v2" */
  FP_NET_DNS_SERVERS,  /* curl --dns-servers: only with a c-ares libcurl;
                        * FP_ERR_INVALID_ARG otherwise (Debian's) */
  FP_NET__COUNT
} fp_net_option;

/* Set string option opt to value (copied), or unset it with NULL.
 * Returns FP_OK, FP_ERR_NOMEM, or FP_ERR_INVALID_ARG for an unknown opt,
 * a value holding CR or LF, a proxy scheme libcurl does not take, or
 * FP_NET_DNS_SERVERS on a libcurl that cannot set them. The value is
 * never quoted in an error. Not thread-safe on one request. */
FP_EXTERN int fp_request_set_net(fp_request *req, fp_net_option opt,
                                 const char *value);
/* The string option opt (BORROWED), or NULL when unset. */
FP_EXTERN const char *fp_request_net(const fp_request *req, fp_net_option opt);
/* True when libcurl can do opt (false only for FP_NET_DNS_SERVERS on a
 * libcurl built without c-ares). Thread-safe. */
FP_EXTERN bool fp_net_supported(fp_net_option opt);
/* Add a curl --resolve entry, HOST:PORT:ADDR[,ADDR]... (copied; at most
 * 64): connections to HOST:PORT go to ADDR without asking DNS.
 * FP_ERR_INVALID_ARG when it has no two colons or holds CR/LF. As with
 * libcurl, an entry goes into the DNS cache, which the executor's
 * transfers share (share_dns): later jobs to HOST:PORT see it too. */
FP_EXTERN int fp_request_add_resolve(fp_request *req, const char *entry);
/* Add a curl --connect-to entry, HOST1:PORT1:HOST2:PORT2 (empty parts
 * match any): a request for HOST1:PORT1 connects to HOST2:PORT2 while the
 * URL, Host header and TLS name stay HOST1's. Same limits as above. */
FP_EXTERN int fp_request_add_connect_to(fp_request *req, const char *entry);
/* curl --proxy-insecure: do not verify an https proxy's certificate. */
FP_EXTERN int fp_request_set_proxy_insecure(fp_request *req, bool insecure);
/* curl -4 / -6: 4 or 6 uses only that IP version; 0 (default) either. */
FP_EXTERN int fp_request_set_ip_version(fp_request *req, int version);
/* curl --local-port PORT[-LAST]: bind the local end to a port in
 * [port, last] (last 0: just port); port 0 (default) lets the system pick. */
FP_EXTERN int fp_request_set_local_port(fp_request *req, unsigned port,
                                        unsigned last);

typedef enum fp_http_version {
  FP_HTTP_DEFAULT = 0, /* HTTP/2 over TLS when the server offers it, else 1.1 */
  FP_HTTP_1_0 = 1,     /* curl --http1.0 */
  FP_HTTP_1_1 = 2,     /* curl --http1.1 */
  FP_HTTP_2 = 3,       /* curl --http2: also asks cleartext servers to upgrade */
  FP_HTTP_2_PRIOR_KNOWLEDGE = 4 /* curl --http2-prior-knowledge: h2c at once */
} fp_http_version;
FP_EXTERN int fp_request_set_http_version(fp_request *req, fp_http_version v);

typedef enum fp_tls_version {
  FP_TLS_DEFAULT = 0, FP_TLS_1_0 = 1, FP_TLS_1_1 = 2, FP_TLS_1_2 = 3,
  FP_TLS_1_3 = 4
} fp_tls_version;
/* curl --tlsv1.2 / --tlsv1.3 (min) and --tls-max (max); FP_TLS_DEFAULT
 * leaves either to libcurl. min above max is FP_ERR_INVALID_ARG. */
FP_EXTERN int fp_request_set_tls_versions(fp_request *req, fp_tls_version min,
                                          fp_tls_version max);
/* ---- curl-style request options (auth, data, misc), as curl's
 * command line has them ---- */

/* HTTP authentication methods for fp_request_set_auth (a bit set). With
 * one method the credentials go with the first request (NTLM's first
 * message included); with several, libcurl asks without credentials first
 * and picks the safest method the server's 401 offers. FP_AUTH_ANY is
 * every method libcurl has (curl --anyauth). */
#define FP_AUTH_BASIC 1u
#define FP_AUTH_DIGEST 2u
#define FP_AUTH_NTLM 4u
#define FP_AUTH_ANY 0xffu

/* Credentials for HTTP authentication (curl -u USER:PASSWORD); password
 * NULL means empty (never a prompt). user NULL clears both. Copied; the
 * copies are wiped when the request is freed. Never written to records:
 * records show a URL's userinfo as "***" (fp_record_new). */
FP_EXTERN int fp_request_set_credentials(fp_request *req, const char *user,
                                         const char *password);
/* The methods the credentials may be sent with (FP_AUTH_*; 0 restores the
 * default, FP_AUTH_BASIC). Bits outside FP_AUTH_ANY are
 * FP_ERR_INVALID_ARG. */
FP_EXTERN int fp_request_set_auth(fp_request *req, unsigned methods);
/* An OAuth 2 bearer token sent as "Authorization: Bearer TOKEN" (curl
 * --oauth2-bearer); NULL clears it. CR or LF is FP_ERR_INVALID_HEADER. */
FP_EXTERN int fp_request_set_bearer(fp_request *req, const char *token);

/* How ~/.netrc (or file) is used for credentials, as curl --netrc,
 * --netrc-optional and --netrc-file: IGNORED (the default), OPTIONAL (the
 * URL's or fp_request_set_credentials' win), REQUIRED (the file's win; a
 * host missing from it is sent without). */
typedef enum fp_netrc { FP_NETRC_IGNORED, FP_NETRC_OPTIONAL, FP_NETRC_REQUIRED } fp_netrc;
/* file NULL: $HOME/.netrc. Copied. */
FP_EXTERN int fp_request_set_netrc(fp_request *req, fp_netrc mode, const char *file);
/* The Referer header (curl -e); with auto_referer, libcurl also sets it
 * on each redirect it follows (curl's ";auto"). referer may then be NULL
 * or "". NULL and false clear it. CR or LF is FP_ERR_INVALID_HEADER. */
FP_EXTERN int fp_request_set_referer(fp_request *req, const char *referer,
                                     bool auto_referer);
/* Send the URL's path as given, "/../" and "/./" included (curl
 * --path-as-is). Off by default (libcurl squashes them). */
FP_EXTERN int fp_request_set_path_as_is(fp_request *req, bool as_is);
/* Send target in the request line instead of the URL's path and query
 * (curl --request-target, e.g. "*" for OPTIONS); NULL restores the URL's.
 * Bytes below 0x21 and 0x7f are FP_ERR_INVALID_ARG. */
FP_EXTERN int fp_request_set_request_target(fp_request *req, const char *target);
/* Ask for every content encoding libcurl can decode, and decode it
 * (curl --compressed): on by default; false sends no Accept-Encoding. */
FP_EXTERN int fp_request_set_compressed(fp_request *req, bool compressed);
/* At most bytes_per_s bytes a second in each direction for this
 * transfer (curl --limit-rate); 0 (the default) means no limit. */
FP_EXTERN int fp_request_set_limit_rate(fp_request *req, uint64_t bytes_per_s);
/* Send the body as the URL's query instead (curl -G): appended after a
 * '?', or after '&' when the URL has a query; no body is sent and the
 * method stays what it was set to (GET by default). The body must hold
 * no NUL byte then (one ends the query). */
FP_EXTERN int fp_request_set_body_as_query(fp_request *req, bool as_query);
/* Add a part to a multipart/form-data body (curl -F): name, and either
 * len bytes of data, or the contents of the file at path (data NULL; read
 * when the request runs; one that cannot be read fails the job with
 * FP_ERR_INVALID_REQUEST), sent with its base name as file name. type
 * (Content-Type) and filename may be NULL. A request with parts sends
 * them as its body, in order, instead of any fp_request_set_body; its
 * method is POST unless set to something other than GET. Copied. */
FP_EXTERN int fp_request_add_form_part(fp_request *req, const char *name,
                                       const void *data, size_t len,
                                       const char *path, const char *type,
                                       const char *filename);

/* Getters: BORROWED strings valid while the request lives. */
FP_EXTERN const char *fp_request_url(const fp_request *req);
FP_EXTERN const char *fp_request_method(const fp_request *req);
FP_EXTERN json_t *fp_request_id(const fp_request *req); /* BORROWED or NULL */
/* True and *index set when an index was given. */
FP_EXTERN bool fp_request_index(const fp_request *req, uint64_t *index);
FP_EXTERN void *fp_request_userdata(const fp_request *req);

/* batch-in: reading a request's headers and body back (fetchpool
 * --dry-run shows what a job would send). Number of headers set. */
FP_EXTERN size_t fp_request_header_count(const fp_request *req);
/* Header i (0 <= i < count), in the order first set: 0 with *name and
 * *value BORROWED, or FP_ERR_INVALID_ARG when i is out of range. */
FP_EXTERN int fp_request_header_at(const fp_request *req, size_t i,
                                   const char **name, const char **value);
/* The value of header name (case-insensitive), BORROWED, or NULL. */
FP_EXTERN const char *fp_request_header(const fp_request *req,
                                        const char *name);
/* The body (BORROWED, *len its size), or NULL with *len 0 when none. */
FP_EXTERN const void *fp_request_body(const fp_request *req, size_t *len);

/* ------------------------------------------------------------------------
 * Responses (read-only; owned by their future)
 * ------------------------------------------------------------------------ */

typedef struct fp_response fp_response;

/* Phase times in seconds from the start of the last attempt (as libcurl's
 * CURLINFO_*_TIME_T); 0 for phases that did not happen. */
typedef struct fp_timings {
  double dns;        /* name resolved */
  double connect;    /* TCP connected */
  double tls;        /* TLS handshake done (0 for http) */
  double first_byte; /* first response byte */
  double total;      /* whole transfer, redirects included */
} fp_timings;

/* FP_OK when the transfer completed (whatever the HTTP status), else a
 * transfer error code. */
FP_EXTERN int fp_response_error(const fp_response *resp);
/* libcurl's own message for a transfer error ("" when none). BORROWED. */
FP_EXTERN const char *fp_response_error_message(const fp_response *resp);
/* Final HTTP status, or 0 when no response arrived. */
FP_EXTERN long fp_response_status(const fp_response *resp);
/* True when there is no transfer error and the status is below 400. */
FP_EXTERN bool fp_response_ok(const fp_response *resp);
/* URL of the last request made (after redirects); "" when none. */
FP_EXTERN const char *fp_response_effective_url(const fp_response *resp);
/* Body kept in memory (NUL-terminated for convenience; *len excludes the
 * NUL). NULL with *len 0 when a sink was used or nothing arrived. */
FP_EXTERN const char *fp_response_body(const fp_response *resp, size_t *len);
/* (batch-out) The final response's Content-Type as sent ("application/json;
 * charset=utf-8"), whether or not headers are kept; NULL when it sent none.
 * BORROWED. */
FP_EXTERN const char *fp_response_content_type(const fp_response *resp);
/* Decoded body bytes received (also counted when a sink was used). */
FP_EXTERN uint64_t fp_response_bytes(const fp_response *resp);
/* Number of response headers kept (0 unless fp_request_set_keep_headers),
 * from the final response only. */
FP_EXTERN size_t fp_response_header_count(const fp_response *resp);
/* Header i, in arrival order. BORROWED; FP_ERR_INVALID_ARG past the end. */
FP_EXTERN int fp_response_header_at(const fp_response *resp, size_t i,
                                    const char **name, const char **value);
/* First header named name (case-insensitive), or NULL. BORROWED. */
FP_EXTERN const char *fp_response_header(const fp_response *resp,
                                         const char *name);
FP_EXTERN fp_timings fp_response_timings(const fp_response *resp);
/* Wall time of the whole job in seconds, from its first attempt to its
 * end (all attempts and waits between them included). */
FP_EXTERN double fp_response_elapsed(const fp_response *resp);
/* Attempts made (1 unless retries ran; 0 for a cancelled job). */
FP_EXTERN unsigned fp_response_attempts(const fp_response *resp);
/* HTTP version of the final response: "1.0", "1.1", "2" or "3"; NULL
 * when no response arrived. Static storage. */
FP_EXTERN const char *fp_response_http_version(const fp_response *resp);

/* ------------------------------------------------------------------------
 * Records: a finished job as a JSON object
 * ------------------------------------------------------------------------ */

enum {
  FP_RECORD_BODY = 1 << 0,    /* add "body" (valid UTF-8) or "body_base64" */
  FP_RECORD_HEADERS = 1 << 1, /* add "headers": {name: value}; a repeated name
                               * joined with ", ", Set-Cookie an array */
  FP_RECORD_TIMINGS = 1 << 2, /* add "timings": {dns_ms, connect_ms, ...} */
  /* (batch-out) the body as a JSON value: with a Content-Type of
   * application/json or any type ending in +json (parameters ignored),
   * a body that parses as JSON (any value, not only objects) is added as
   * "json": <value> instead of "body"; a JSON-typed body that does not
   * parse is added as FP_RECORD_BODY adds it ("body" or "body_base64")
   * plus "json_error": "<why, with line and column>"; any other body as
   * FP_RECORD_BODY adds it. Implies FP_RECORD_BODY. */
  FP_RECORD_JSON = 1 << 3
};

/* The record of one job: {"index" (if set), "url", "id" (if set), "status"
 * (int or null), "ok", "error" (null or {"code", "message"}),
 * "effective_url", "elapsed_ms", "bytes", "attempts", "http_version" ("1.0",
 * "1.1", "2", or null when no response arrived)} plus what flags ask.
 * An HTTP status >= 400 with no transfer error gives error code "http".
 * "url" and "effective_url" show a URL's userinfo (between "://" and the
 * last '@' of the authority) as "***", so no credential reaches a record:
 * in "http://alice:s3cret@h/", "alice:s3cret" becomes "***".
 * req and resp are BORROWED. Returns NEW, or NULL on out of memory. */
FP_EXTERN json_t *fp_record_new(const fp_request *req,
                                const fp_response *resp, unsigned flags);

/* The record of an input that never became a request (a bad JSON line):
 * the same schema with status null, ok false and error {code, message}.
 * url may be NULL (then null; else redacted as above); id is BORROWED and
 * may be NULL. Returns NEW. */
FP_EXTERN json_t *fp_record_error(uint64_t index, const char *url,
                                  json_t *id, int code, const char *message);

/* ------------------------------------------------------------------------
 * Executor (concurrent.futures.ThreadPoolExecutor)
 * ------------------------------------------------------------------------ */

typedef struct fp_executor fp_executor;
typedef struct fp_future fp_future;

/* Called once in each worker thread before it takes any job, with the
 * worker's number (0..threads-1). Return 0 for success; any other value
 * makes fp_executor_new fail with FP_ERR_INITIALIZER. */
typedef int (*fp_initializer_fn)(void *arg, size_t worker_index);

/* Who runs the transfers. Everything above the transport (queue, futures,
 * records, retries, rate and per-host limits, cancel, abort) is the same. */
typedef enum fp_engine {
  FP_ENGINE_THREADS = 0, /* threads workers, each blocking in one transfer */
  FP_ENGINE_MULTI = 1,   /* one event-loop thread running threads transfers
                          * at once on libcurl's multi interface */
  FP_ENGINE_HYBRID = 2   /* loops event-loop threads sharing threads
                          * transfers between them */
} fp_engine;

typedef struct fp_executor_options {
  /* Transfers at once: worker threads for FP_ENGINE_THREADS, transfer
   * slots for the event-loop engines; 0 means min(32, CPUs + 4), as
   * Python's default. */
  size_t threads;
  fp_engine engine;
  /* FP_ENGINE_HYBRID: event-loop threads; 0 means one per CPU. */
  size_t loops;
  /* Jobs that may wait in the queue; 0 means unbounded. When full,
   * fp_executor_submit blocks, and resumes once the workers have taken
   * the queue down to half of this (so a producer that keeps it full wakes
   * once per capacity/2 jobs, not once per job). Jobs parked for their
   * host are not in the queue: max_parked bounds them. */
  size_t queue_capacity;
  /* Thread names are "<prefix>-<n>", cut to 15 bytes; NULL means "fp". */
  const char *thread_name_prefix;
  fp_initializer_fn initializer; /* may be NULL */
  void *initializer_arg;
  /* Share the DNS cache between workers (default true). Connections are
   * never shared: each worker keeps its own (libcurl forbids sharing a
   * connection cache between concurrent threads). */
  bool share_dns;
  /* Attempts started per second across all workers (a token bucket of
   * depth 1, so bursts never exceed the rate); 0 means no limit. */
  double rate;
  /* Concurrent transfers to one host (host:port of the job's URL); 0
   * means no limit. A job whose host is saturated waits aside, holding no
   * worker, so jobs for other hosts go on (no head-of-line blocking). */
  size_t per_host;
  /* ---- cookies and TLS sessions (curl-net) ----
   * TLS sessions are always shared between the transfers of every
   * engine (libcurl's share interface), so a new connection to a host
   * another transfer already met resumes its session instead of a full
   * handshake. */
  /* One cookie store for every transfer of the executor (curl's cookie
   * engine, shared under a lock): cookies a response sets are sent by any
   * later request they match. Off by default. */
  bool cookies;
  /* Load this Netscape-format (or Set-Cookie header) file into the store
   * at start; implies cookies. A file that cannot be read makes
   * fp_executor_new fail with FP_ERR_SYSTEM. */
  const char *cookie_file;
  /* curl -j: skip session cookies (no expiry) when loading cookie_file. */
  bool junk_session_cookies;
  /* ---- per-host politeness ----
   * Every job waits for its host (host:port of its URL) without holding a
   * worker: while the host is at its in-flight limit, cooling down, or
   * ahead of its rate, the job is parked aside and jobs for other hosts go
   * on. */
  /* Adapt each host's in-flight limit between 1 and max_threads (the
   * threads option is ignored: fp_executor_threads reports max_threads;
   * per_host, when set, caps each host). The thread engine starts its
   * workers as the limits first need them (a few at first, one more each
   * time every worker is busy), as ThreadPoolExecutor does, up to
   * max_threads; each new worker runs the initializer, and one whose
   * setup or initializer fails exits (the pool stays smaller). */
  bool threads_auto;
  /* Do not pause a host after a 429 or 503 with Retry-After (by default
   * new requests to it wait until then, capped by the request's
   * retry_max_wait; its other jobs park; transfers in flight finish). */
  bool no_host_cooldown;
  /* threads_auto: the most transfers at once, all hosts together; 0 means 256. */
  size_t max_threads;
  /* At most this many request starts a second to each host, paced
   * evenly (no burst at the start, hosts independent; with rate both
   * hold); 0 means no limit. */
  double per_host_rate;
  /* With a bounded queue (queue_capacity > 0): jobs that may wait parked
   * for their host (busy, cooling down, rate) before submit blocks; 0
   * means 100,000. Parked jobs do not count against queue_capacity (a
   * slow host's jobs never stop submit while other hosts could go on), so
   * at most about queue_capacity + max_parked jobs wait in memory. An
   * unbounded queue bounds neither. */
  size_t max_parked;
  /* Room for options later versions add without changing the size of
   * this struct (so without a new soname): zeroed by
   * fp_executor_options_init, never read. */
  void *reserved_[13]; /* 13: the two bools above fill padding */
} fp_executor_options;

/* Fill *opts with the defaults described above. */
FP_EXTERN void fp_executor_options_init(fp_executor_options *opts);

/* Start an executor: all worker threads are created (and their
 * initializers have run) before it returns. opts may be NULL for the
 * defaults and is copied. Returns NEW (free with fp_executor_free), or
 * NULL with err set (FP_ERR_NOMEM, FP_ERR_SYSTEM, FP_ERR_INITIALIZER,
 * FP_ERR_INVALID_ARG). Worker threads block every asynchronous signal, so
 * SIGINT/SIGTERM/SIGPIPE reach the application's own threads. */
FP_EXTERN fp_executor *fp_executor_new(const fp_executor_options *opts,
                                       fp_error *err);

/* Transfers it runs at once (the threads option after defaults, or
 * max_threads with threads_auto); for the thread engine this is also its
 * number of worker threads (with threads_auto: at most). Thread-safe. */
FP_EXTERN size_t fp_executor_threads(const fp_executor *ex);

/* One host's state, as fp_executor_hosts reports it. */
typedef struct fp_host_info {
  char host[256];        /* "host:port", lowercased (cut to 255 bytes) */
  size_t limit;          /* in-flight limit now (per_host, or the adaptive one; 0: none) */
  size_t active;         /* transfers in flight */
  size_t parked;         /* jobs parked for it */
  double cooldown_left;  /* seconds until it may be asked again; 0: not cooling down */
  double cooldown_total; /* seconds it spent cooling down so far */
  uint64_t overloads;    /* 429 and 503 answers so far */
  uint64_t done;         /* attempts finished */
} fp_host_info;

/* Fill out[0..n-1] (n may be 0, out then NULL) with the hosts ex knows,
 * busiest (most attempts done) first, ties by name; returns how many it
 * knows, which may exceed n. out is the caller's; nothing is kept. A host
 * stays known after it goes idle; beyond 4,096 idle hosts the least
 * recently used idle one is forgotten. Without a host table (per_host,
 * threads_auto and per_host_rate all unset and no_host_cooldown set)
 * it knows none: 0. Thread-safe; costs one pass over the hosts under
 * the host table's lock. */
FP_EXTERN size_t fp_executor_hosts(fp_executor *ex, fp_host_info *out, size_t n);

/* Queue req (BORROWED: the future takes its own reference) and return its
 * future (NEW reference: fp_future_decref). Blocks while the queue is full
 * (until it is down to half its capacity).
 * Returns NULL with err FP_ERR_SHUTDOWN after shutdown (also when shutdown
 * happens while blocked), FP_ERR_INVALID_ARG, FP_ERR_NOMEM, or
 * FP_ERR_WORKER_THREAD when the queue is full and the caller is a worker
 * thread or a done callback (an unbounded queue never refuses them: the
 * crawler pattern of submitting from a callback works). Thread-safe;
 * jobs start in submission order (FIFO). */
FP_EXTERN fp_future *fp_executor_submit(fp_executor *ex, fp_request *req,
                                        fp_error *err);

/* As fp_executor_submit, but gives up after timeout seconds of a full queue
 * with FP_ERR_WOULD_BLOCK (timeout 0: try once). Thread-safe. */
FP_EXTERN fp_future *fp_executor_submit_timeout(fp_executor *ex,
                                                fp_request *req,
                                                double timeout,
                                                fp_error *err);

/* Submit reqs[0..n-1] (each BORROWED; its future takes a reference) in
 * order, taking the queue's lock once per chunk of jobs instead of once per
 * job. Blocks while the queue is full, at most timeout seconds in all (< 0:
 * no limit; 0: take only what fits now). futures_out[0..k-1] get a NEW
 * future for each accepted request. Returns k: n when all were accepted,
 * else the length of the accepted prefix, with err saying why the rest
 * was not (FP_ERR_WOULD_BLOCK, FP_ERR_SHUTDOWN, FP_ERR_NOMEM). A NULL
 * executor, reqs or futures_out, or a NULL request among reqs, accepts
 * none (FP_ERR_INVALID_ARG). Thread-safe. */
FP_EXTERN size_t fp_executor_submit_many(fp_executor *ex,
                                         fp_request *const *reqs, size_t n,
                                         double timeout,
                                         fp_future **futures_out,
                                         fp_error *err);

/* Shorthand: submit a GET of url with the defaults. NEW, or NULL + err. */
FP_EXTERN fp_future *fp_executor_submit_url(fp_executor *ex, const char *url,
                                            fp_error *err);

/* Python's shutdown(wait, cancel_futures): refuse new submissions; with
 * cancel_futures, cancel every job not started yet (queued, or waiting
 * for its host (busy, cooling down, rate) or for a rate token: it ends
 * FP_CANCELLED, even when a worker had taken it from the queue; one whose
 * first attempt began a moment before the call runs), and start no
 * further attempt: a job waiting for its next retry finishes with
 * FP_ERR_CANCELLED and its attempts so far, and so does a running job
 * whose attempt ends wanting a retry, instead of waiting for it); with wait,
 * return only once every job already started or queued has finished and
 * every worker has exited. Idempotent, callable from any thread and
 * several at once. Returns FP_OK, or FP_ERR_WORKER_THREAD when wait is
 * true and it is called from a worker thread or a done callback (it could
 * wait for itself); without wait it may be called from anywhere. */
FP_EXTERN int fp_executor_shutdown(fp_executor *ex, bool wait,
                                   bool cancel_futures);

/* Stop every transfer in flight at once, with every engine (an idle
 * transfer too: the thread engine shuts its workers' sockets down rather
 * than wait for libcurl's once-a-second progress call; one still
 * resolving a host name stops within a second): each finishes with
 * FP_ERR_CANCELLED (its record says "cancelled"), except one whose
 * response had all arrived (its head, and its whole Content-Length or no
 * body), which finishes as it was. Jobs waiting for a retry are finished
 * as cancelled instead of retried, and so are jobs parked for their host
 * (busy, cooling down, or waiting for its rate). Meant for the end of a grace period
 * or a second Ctrl-C after a graceful shutdown. Does not shut the
 * executor down. Async-signal-unsafe; thread-safe. */
FP_EXTERN void fp_executor_abort(fp_executor *ex);

/* Write the cookie store to path in Netscape format (curl -c), through a
 * temporary file renamed over path, so path is never half-written.
 * Session cookies are written too. Returns FP_OK, FP_ERR_INVALID_ARG
 * (cookies off, or a NULL argument) or FP_ERR_SYSTEM (err says why).
 * Thread-safe; call it after the jobs whose cookies it must hold. */
FP_EXTERN int fp_executor_save_cookies(fp_executor *ex, const char *path,
                                       fp_error *err);

/* Shut down (wait, without cancelling), join every worker and free the
 * executor. Futures stay valid while references to them remain. Returns
 * FP_OK (also for NULL, which is ignored), or FP_ERR_WORKER_THREAD, freeing
 * nothing, when called from a worker thread or a done callback (it would
 * join, or free the executor under, itself). The return type was void
 * before 0.2.0; callers that ignore it are unaffected. */
FP_EXTERN int fp_executor_free(fp_executor *ex);

/* ------------------------------------------------------------------------
 * Futures (concurrent.futures.Future)
 * ------------------------------------------------------------------------ */

typedef enum fp_state {
  FP_PENDING = 0,  /* queued, or waiting for its host or a rate token */
  FP_RUNNING = 1,  /* its first attempt began (it stays running while it
                    * waits to retry) */
  FP_FINISHED = 2, /* has a response (which may hold a transfer error) */
  FP_CANCELLED = 3 /* cancelled before it ran; has no response */
} fp_state;

/* Called once when the future is finished or cancelled. See
 * fp_future_add_done_callback for the thread it runs on. f is BORROWED
 * for the duration of the call. */
typedef void (*fp_done_fn)(fp_future *f, void *userdata);

/* Reference counting, atomic. The queue holds its own reference, so the
 * caller may drop its reference at any time. decref of NULL is a no-op. */
FP_EXTERN fp_future *fp_future_incref(fp_future *f);
FP_EXTERN void fp_future_decref(fp_future *f);

/* Current state. Thread-safe. */
FP_EXTERN fp_state fp_future_state(fp_future *f);
/* True when finished or cancelled. */
FP_EXTERN bool fp_future_done(fp_future *f);
FP_EXTERN bool fp_future_running(fp_future *f);
FP_EXTERN bool fp_future_cancelled(fp_future *f);

/* Cancel: succeeds (returns true) only while pending, or if already
 * cancelled; then done callbacks run in this thread before it returns.
 * Returns false once the job is running or finished. Thread-safe. */
FP_EXTERN bool fp_future_cancel(fp_future *f);

/* Wait until done. FP_OK, FP_ERR_WAIT_TIMEOUT, or FP_ERR_WORKER_THREAD
 * (a blocking wait from a worker or a done callback). Thread-safe.
 *
 * Callback ordering (as in Python): a future is done, and fp_future_wait,
 * fp_future_result, fp_future_outcome, fp_wait and fp_as_completed_next
 * return, as soon as its state changes, which is BEFORE its done callbacks
 * have run in the completing thread. A caller that needs a callback's side
 * effects waits with fp_future_wait_callbacks, or fp_results_wait for the
 * result array (whose slots are filled by callbacks). */
FP_EXTERN int fp_future_wait(fp_future *f, double timeout);

/* Wait until f is done AND every done callback registered before it
 * became done has returned (callbacks added later run in the adding
 * thread before fp_future_add_done_callback returns). Returns FP_OK,
 * FP_ERR_WAIT_TIMEOUT, FP_ERR_INVALID_ARG, or FP_ERR_WORKER_THREAD when
 * called from one of f's own callbacks (it would wait for itself).
 * Thread-safe. */
FP_EXTERN int fp_future_wait_callbacks(fp_future *f, double timeout);

/* Wait until done and give the response (BORROWED, valid while the caller
 * holds a reference to f). Returns FP_OK (finished: check
 * fp_response_error for transfer errors), FP_ERR_CANCELLED (*resp NULL),
 * FP_ERR_WAIT_TIMEOUT or FP_ERR_WORKER_THREAD (*resp NULL). resp may be NULL. Thread-safe. */
FP_EXTERN int fp_future_result(fp_future *f, double timeout,
                               const fp_response **resp);

/* Python's Future.exception(timeout): wait until f is done and say whether
 * its job succeeded and, if not, why, with the codes and messages of the
 * records (fp_record_new). Returns FP_OK when it finished with no transfer
 * error and a status below 400; FP_ERR_HTTP for a status of 400 or more
 * (the library's fp_future_result is FP_OK there: the transfer worked);
 * the transfer's error code (FP_ERR_TIMEOUT, FP_ERR_DNS, ...);
 * FP_ERR_CANCELLED; FP_ERR_WAIT_TIMEOUT when f is not done within timeout
 * (< 0: no limit); FP_ERR_INVALID_ARG for a NULL f. err (may be NULL) is
 * reset, then gets the same code and the record's error.message ("" for
 * FP_OK). Thread-safe. */
FP_EXTERN int fp_future_outcome(fp_future *f, double timeout, fp_error *err);

/* Response of a finished future without waiting: BORROWED, or NULL when not
 * finished (pending, running or cancelled). */
FP_EXTERN const fp_response *fp_future_response(fp_future *f);

/* The request this future runs. BORROWED. */
FP_EXTERN fp_request *fp_future_request(fp_future *f);

/* Register cb. If f is not done, cb runs once it is, in the thread that
 * completes it (a worker, or the thread that cancels it), in the order the
 * callbacks were added, with no fetchpool lock held, after f's waiters
 * were woken (see fp_future_wait on ordering). If f is already done,
 * cb runs at once in the caller's thread before this returns. Returns
 * FP_OK, FP_ERR_INVALID_ARG or FP_ERR_NOMEM. Thread-safe. */
FP_EXTERN int fp_future_add_done_callback(fp_future *f, fp_done_fn cb,
                                          void *userdata);

/* The record (see fp_record_new) of a done future; a cancelled one gives
 * error "cancelled". Returns NEW, or NULL if f is not done. */
FP_EXTERN json_t *fp_future_record(fp_future *f, unsigned flags);

/* ------------------------------------------------------------------------
 * Waiting on many futures
 * ------------------------------------------------------------------------ */

typedef enum fp_return_when {
  FP_FIRST_COMPLETED = 0, /* any future done */
  FP_FIRST_EXCEPTION = 1, /* any finished with a transfer error, else all */
  FP_ALL_COMPLETED = 2    /* all done */
} fp_return_when;

/* Python's concurrent.futures.wait: wait until the condition holds for
 * fs[0..n-1] (BORROWED). When done_flags is not NULL, done_flags[i] tells
 * on return whether fs[i] is done. Returns FP_OK when the condition holds
 * (n == 0 holds at once), FP_ERR_WAIT_TIMEOUT otherwise (flags still
 * filled), FP_ERR_INVALID_ARG, FP_ERR_NOMEM, FP_ERR_WORKER_THREAD (it would
 * block a worker or a done callback). Thread-safe. */
FP_EXTERN int fp_wait(fp_future *const *fs, size_t n, double timeout,
                      fp_return_when return_when, bool *done_flags);

typedef struct fp_as_completed fp_as_completed;

/* Iterator over fs[0..n-1] yielding each future once, as it becomes done
 * (those already done first). Takes its own reference to each future.
 * Returns NEW (fp_as_completed_free), or NULL with err. */
FP_EXTERN fp_as_completed *fp_as_completed_new(fp_future *const *fs, size_t n,
                                               fp_error *err);

/* Next done future (BORROWED while the iterator lives) within timeout
 * seconds of this call. Returns FP_OK with *out set, FP_ERR_WAIT_TIMEOUT
 * (try again later), FP_ERR_EXHAUSTED when all were yielded, or
 * FP_ERR_WORKER_THREAD (it would block a worker or a done callback). One thread
 * at a time per iterator. */
FP_EXTERN int fp_as_completed_next(fp_as_completed *it, double timeout,
                                   fp_future **out);

/* Python's as_completed(fs, timeout): limit the whole iteration to timeout
 * seconds from this call (< 0: no limit, the default; call it right after
 * fp_as_completed_new for Python's meaning). Each fp_as_completed_next then
 * waits until the earlier of its own timeout and this deadline; past the
 * deadline it still yields a future that is already done, and returns
 * FP_ERR_WAIT_TIMEOUT at once when none is. Returns FP_OK or
 * FP_ERR_INVALID_ARG. One thread at a time per iterator. */
FP_EXTERN int fp_as_completed_set_timeout(fp_as_completed *it, double timeout);

/* Free the iterator and its references. NULL is ignored. */
FP_EXTERN void fp_as_completed_free(fp_as_completed *it);

typedef struct fp_map fp_map;

/* Python's Executor.map, bounded: runs reqs[0..n-1] (each BORROWED; the
 * futures take references) with at most max_in_flight submitted and not
 * yet consumed at any time (0 means the executor's thread count), and
 * yields them in input order. Submits the first window before returning.
 * Returns NEW (fp_map_free), or NULL with err (FP_ERR_SHUTDOWN, ...). */
FP_EXTERN fp_map *fp_executor_map(fp_executor *ex, fp_request *const *reqs,
                                  size_t n, size_t max_in_flight,
                                  fp_error *err);

/* Wait (up to timeout) for the next future in input order, then submit the
 * next request to keep the window full. *out is BORROWED until the next
 * call or fp_map_free; *index (may be NULL) is its position in reqs.
 * Returns FP_OK, FP_ERR_WAIT_TIMEOUT (call again: the same future is
 * waited for), FP_ERR_EXHAUSTED, FP_ERR_WORKER_THREAD (it would block a
 * worker or a done callback), or FP_ERR_SHUTDOWN if the executor shut
 * down before the rest could be submitted. One thread at a time. */
FP_EXTERN int fp_map_next(fp_map *m, double timeout, fp_future **out,
                          size_t *index);

/* Python's Executor.map(timeout=): limit the whole iteration to timeout
 * seconds from this call (< 0: no limit, the default). Each fp_map_next
 * then waits until the earlier of its own timeout and this deadline, and
 * past it returns FP_ERR_WAIT_TIMEOUT at once unless the next future in
 * input order is done. Returns FP_OK or FP_ERR_INVALID_ARG. One thread at
 * a time. */
FP_EXTERN int fp_map_set_timeout(fp_map *m, double timeout);

/* Cancel what is still pending and free the map. NULL is ignored. */
FP_EXTERN void fp_map_free(fp_map *m);

/* ------------------------------------------------------------------------
 * Result array: slot i filled when job i finishes
 * ------------------------------------------------------------------------ */

typedef struct fp_results fp_results;

/* An array of n empty slots. Returns NEW (fp_results_free) or NULL. */
FP_EXTERN fp_results *fp_results_new(size_t n);

/* Slot count. */
FP_EXTERN size_t fp_results_size(const fp_results *r);

/* Fill slot i with f when f is done (at once if it already is). The array
 * takes a reference to f. Returns FP_OK, FP_ERR_INVALID_ARG (i out of
 * range or slot already attached). Thread-safe. The array must outlive the
 * completion of every attached future (free it after they are done, or
 * after fp_executor_shutdown(wait=true)). */
FP_EXTERN int fp_results_attach(fp_results *r, size_t i, fp_future *f);

/* Submit req to ex and attach its future to slot i in one call. Returns
 * FP_OK or the error of either step (err filled). Thread-safe. */
FP_EXTERN int fp_results_submit(fp_results *r, size_t i, fp_executor *ex,
                                fp_request *req, fp_error *err);

/* Slots filled so far. Thread-safe, may be called while jobs run. */
FP_EXTERN size_t fp_results_done(fp_results *r);

/* The future in slot i once it is done (BORROWED while r lives), or NULL
 * while it is empty. Thread-safe. */
FP_EXTERN fp_future *fp_results_get(fp_results *r, size_t i);

/* Wait until at least count slots are filled. A slot is filled by the
 * future's done callback, so unlike fp_wait on the futures themselves, a
 * return here means those callbacks have published their slots
 * (fp_results_get sees them). FP_OK, FP_ERR_WAIT_TIMEOUT, or
 * FP_ERR_WORKER_THREAD (it would block a worker or a done callback).
 * Thread-safe. */
FP_EXTERN int fp_results_wait(fp_results *r, size_t count, double timeout);

/* JSON array of n records (fp_future_record with flags) in slot order, null
 * for slots not yet filled. Returns NEW or NULL. Thread-safe. */
FP_EXTERN json_t *fp_results_to_json(fp_results *r, unsigned flags);

/* Free the array and its references. NULL is ignored. */
FP_EXTERN void fp_results_free(fp_results *r);

/* ------------------------------------------------------------------------
 * Completion queue: tags of done futures for one consumer thread
 * ------------------------------------------------------------------------ */

/* For a caller that must not run its own code in the thread that completes
 * a future (a language binding that needs its interpreter's global lock,
 * an event loop): watched futures put a caller-chosen tag in the queue
 * when they are done, and the caller's own thread takes the tags in
 * batches. */
typedef struct fp_completions fp_completions;

/* An empty, open queue. Returns NEW (fp_completions_free), or NULL when
 * memory ran out. */
FP_EXTERN fp_completions *fp_completions_new(void);

/* Put tag in q once f is done (finished or cancelled; at once, in this
 * thread, if it already is). f is BORROWED: q keeps no reference to it.
 * Returns FP_OK, FP_ERR_INVALID_ARG (q or f NULL) or FP_ERR_NOMEM (then
 * the tag never comes). Thread-safe; also allowed after
 * fp_completions_close. */
FP_EXTERN int fp_completions_watch(fp_completions *q, fp_future *f,
                                   uint64_t tag);

/* Wait up to timeout seconds (FP_FOREVER: no limit) for a tag, then move
 * every tag present, at most max, oldest first, into tags[0..*n-1] (tags
 * is caller-owned, max entries). Returns FP_OK (*n >= 1),
 * FP_ERR_WAIT_TIMEOUT (*n 0), FP_ERR_SHUTDOWN when q is closed and empty
 * (*n 0), or FP_ERR_INVALID_ARG. Thread-safe; one consumer is the
 * intended use. */
FP_EXTERN int fp_completions_pop(fp_completions *q, double timeout,
                                 uint64_t *tags, size_t max, size_t *n);

/* Close q: every waiting and later fp_completions_pop returns the tags
 * left, then FP_ERR_SHUTDOWN instead of waiting. Idempotent. Thread-safe. */
FP_EXTERN void fp_completions_close(fp_completions *q);

/* Free q and the tags it still holds. Every watched future must be done
 * and its tag delivered to q first (popped or not), as for
 * fp_results_free. Not thread-safe with other calls on q. NULL is
 * ignored. */
FP_EXTERN void fp_completions_free(fp_completions *q);

#ifdef __cplusplus
}
#endif
#endif /* FETCHPOOL_H */
