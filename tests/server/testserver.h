/* testserver.h: in-process loopback HTTP test server (libmicrohttpd) plus a raw-socket fault port. */
#ifndef TESTSERVER_H
#define TESTSERVER_H

#include <stddef.h>
#include <stdint.h>

/* HTTP port routes (GET unless noted; every route honours ?delay=MS):
 *   / /hello  /delay/MS  /status/CODE  /bytes/N[?chunked=1]  /binary/N  /utf8
 *   /text/REST  /redirect/N  /redirect-loop  /redirect-to?url=U  /echo (any method)
 *   /drip?bytes=N&interval_ms=M  /gzip?bytes=N  /headers?count=N&size=S
 *   /set-header?name=X&value=Y  /close-mid-body?bytes=N  /count  (else 404)
 *   /version (the request line's HTTP version, e.g. "HTTP/1.0")
 *   /echo/ANY (as /echo: the path shows the target as sent)
 * Auth routes (USER, PASS: 1..63 bytes, no '/'): 200 {"user":USER} or 401
 * with the scheme's challenge:
 *   /basic-auth/USER/PASS  /digest-auth/USER/PASS (MD5)  /bearer/TOKEN
 * /headers sends fewer headers when count * (size + 24) would exceed 360 KiB.
 *
 * Retry and concurrency routes (KEY/NAME: 1..127 bytes, no '/'; at most 4096
 * of each per server, 507 beyond):
 *   /flaky/KEY?fail=N&status=S&retry_after=V
 *       the first N (default 1) requests for KEY answer S (default 503) with
 *       body "fail I" (I = 1..N) and, when retry_after is given, the header
 *       "Retry-After: V" (V verbatim, except "date+K": the IMF-fixdate of
 *       now + K seconds); later requests answer 200 "ok after N".
 *   /flaky-count/KEY         requests seen for KEY so far, as decimal text
 *   /flaky-gap/KEY           ms from KEY's first request to its latest one
 *   /concurrency/NAME?ms=M   holds the request M ms (default 0) while
 *                            counting it in flight for NAME; answers
 *                            200 "held M" once no longer counted
 *   /concurrency-max/NAME    most requests in flight at once for NAME
 *   /concurrency-reset/NAME  forget that maximum (it restarts from the
 *                            number in flight now, 0 when idle); returns it
 *
 * Capacity and cooldown routes (politeness, issue 18; NAME as above, at most
 * 256 /cap names and 4096 /cooldown names, 507 beyond):
 *   /cap/NAME?c=C&ms=MS&mode=queue|shed[&sched=T1:C1,T2:C2][&ra=S]
 *       a resource serving at most C (default 1, up to 100000) requests at
 *       once, each held MS ms (default 0), then 200 "ok". mode=queue
 *       (default): those beyond C wait in FIFO order for a slot, at most
 *       30 s, then 503 "queue timeout"; mode=shed: those beyond C answer
 *       429 "busy" at once, with "Retry-After: S" when ra= is given (S
 *       verbatim, "date+K" as for /flaky). sched= sets the capacity to C1
 *       from T1 seconds after NAME's first request (T: up to 3 decimals,
 *       increasing; up to 16 steps), C2 from T2, ... The c= and sched= of
 *       NAME's latest request apply.
 *   /cap-stats/NAME   {"served":N,"shed":N,"max_inflight":N,"starts":[...]}
 *                     served: 200s; shed: 429s and queue timeouts;
 *                     starts[i]: requests that arrived in second i after
 *                     NAME's first one (up to its last busy second, at most
 *                     600 seconds)
 *   /cap-reset/NAME   clear those (the schedule restarts at the next
 *                     request; those in flight stay counted), "reset"
 *   /cooldown/NAME?after=K&secs=S[&date=1][&ms=MS]
 *       each request is held MS ms (default 0), then: the first K
 *       (default 0) answer 200 "ok"; the (K+1)th answers 429 "cooling
 *       down" with "Retry-After: S" (default 1), or with date=1 the
 *       IMF-fixdate S seconds ahead, and opens a window that long (with
 *       date=1: to that date's second) in which every request answers 429
 *       with Retry-After the rest of the window (whole seconds, rounded
 *       up, or the same date); after it, 200 "ok" again (one window per
 *       NAME until reset)
 *   /cooldown-stats/NAME  {"ok":N,"rejected":N,"in_window":N}: rejected
 *                     counts every 429, in_window those after the first
 *   /cooldown-reset/NAME  forget NAME's counts and window, "reset"
 *
 * Typed bodies (batch-out: JSON records, saved names):
 *   /json/N   application/json {"id":N,"name":"item N","tags":["a","b"],
 *             "price":{"amount":N.5,"currency":"EUR"}}; status 404 when
 *             N % 7 == 6, else 200
 *   /typed[/ANY]?type=T&body=B&disposition=D&status=S
 *             body B (default empty) with Content-Type T and
 *             Content-Disposition D when given, status S (default 200)
 *
 * Raw fault port (always plain TCP): /reset /close /garbage /hang
 * /slow-headers /one-name-repeated (30,000 "X-A: v" lines) (else 404). */

typedef struct ts_server ts_server;

typedef struct ts_options {
  unsigned latency_ms;   /* added to every request on the HTTP port before answering (0 = none) */
  const char *bind;      /* "127.0.0.1" (default when NULL) or "::1" */
  uint16_t port;         /* 0 = ephemeral */
  /* PEM files: with both set the HTTP port serves HTTPS only (and ts_url
   * gives https:// URLs); NULL (the default) for plain HTTP */
  const char *tls_cert_file;
  const char *tls_key_file;
} ts_options;

ts_server *ts_start(const ts_options *opts);   /* opts may be NULL; NULL on failure (prints why to stderr) */
uint16_t ts_port(const ts_server *s);          /* HTTP port */
uint16_t ts_raw_port(const ts_server *s);      /* raw-socket fault port */
unsigned long ts_connections(const ts_server *s); /* TCP connections accepted on the HTTP port so far */
long ts_open_connections(const ts_server *s);     /* of those, the ones not closed yet (never reset) */
/* body bytes produced so far by the streamed routes (/bytes, /binary, /drip,
 * /close-mid-body): what the server sent or queued, whatever the client read
 * (never reset) */
unsigned long long ts_bytes_streamed(const ts_server *s);
unsigned long ts_requests(const ts_server *s);    /* requests answered on the HTTP port so far
                                                      (counted before the reply is sent, so a client
                                                      that has its reply already sees it counted) */
void ts_reset_counters(ts_server *s);
void ts_stop(ts_server *s);                    /* stops threads, closes sockets, frees everything; NULL ok */
/* Convenience: snprintf "http://127.0.0.1:PORT<path>" into buf ("http://[::1]:PORT<path>"
 * when bound to ::1; "https://..." when started with a certificate); returns buf */
char *ts_url(const ts_server *s, const char *path, char *buf, size_t size);

#endif
