/* transfer.c: one request on one reused curl easy handle; the only file of
 * the thread engine that includes curl.
 *
 * The handle is curl_easy_reset before each job, so no option of one job
 * leaks into the next, while its connection cache survives (keep-alive).
 * Body and header caps are enforced in the callbacks because libcurl
 * 7.88's CURLOPT_MAXFILESIZE does not stop bodies of unknown length, and
 * the body is counted after decoding (a gzip bomb is a body too). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transfer.h"
#include "clock.h"
#include "error.h"
#include "model.h"
#include "policy.h"

struct fp__share {
  CURLSH *handle;
  bool cookies; /* the share holds a cookie store */
  pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* A stall window of SEC seen in steps of SEC / 16. */
#define STALL_SAMPLES 17

/* Sockets one easy handle may hold at once: its cached connection, a new
 * one, and happy eyeballs' second attempt, with room to spare. A socket
 * past this is not tracked, and an abort then reaches its transfer at
 * libcurl's next tick instead. */
#define MAX_SOCKETS 8

struct fp__transfer {
  CURL *easy;
  fp__share *share;
  const atomic_bool *abort; /* the executor's abort flag, or NULL */
  /* with track_sockets: the handle's open sockets, for interrupt */
  pthread_mutex_t sock_mu;
  size_t nsocks;
  curl_socket_t socks[MAX_SOCKETS];
  bool track_sockets;
  atomic_bool interrupted; /* its sockets were shut down (abort) */
  /* per-job state, valid during fp__transfer_run */
  bool in_head; /* between a status line and the blank line ending its head */
  bool head_location; /* the latest head had a Location */
  int abort_code; /* why a callback stopped the transfer */
  const fp_request *req;
  fp_response *resp;
  double limit; /* this attempt's time limit in seconds, 0 = none */
  size_t header_bytes;
  long head_status; /* status of the latest head (0 before one) */
  long head_sent;   /* request bytes sent when it arrived */
  curl_off_t head_bytes; /* bytes of every response head, for the stall check */
  curl_off_t io_last, io_base; /* curl's dlnow + ulnow as last seen, and the
                                  sum of earlier requests' (curl restarts
                                  them at each redirect) */
  curl_off_t moved;  /* head, body and upload bytes, as last seen */
  double last_moved; /* monotonic time they last changed */
  struct {
    double at;
    curl_off_t moved;
  } samples[STALL_SAMPLES]; /* ring: moved at times stall_timeout / 16 apart */
  size_t nsamples, next_sample;
  struct curl_slist *headers; /* request headers, freed at the end */
  struct curl_slist *resolve, *connect_to; /* --resolve, --connect-to */
  curl_mime *mime;            /* form parts (-F), freed at the end */
  char errbuf[CURL_ERROR_SIZE];
};

/* ---- global init and share ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_ALL); }

int fp__transfer_global_init(void) {
  pthread_once(&global_once, global_init);
  return global_rc == CURLE_OK ? FP_OK : FP_ERR_INTERNAL;
}

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access,
                       void *userptr) {
  fp__share *share = userptr;
  pthread_mutex_lock(&share->locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *userptr) {
  fp__share *share = userptr;
  pthread_mutex_unlock(&share->locks[data]);
}

fp__share *fp__share_new(bool dns, bool cookies, fp_error *err) {
  fp__share *share = calloc(1, sizeof *share);
  if (!share) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&share->locks[i], NULL);
  share->handle = curl_share_init();
  if (!share->handle ||
      curl_share_setopt(share->handle, CURLSHOPT_LOCKFUNC, share_lock) ||
      curl_share_setopt(share->handle, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
      curl_share_setopt(share->handle, CURLSHOPT_USERDATA, share) ||
      (dns && curl_share_setopt(share->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS)) ||
      /* a worker's new connection resumes a session another one made */
      curl_share_setopt(share->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) ||
      (cookies && curl_share_setopt(share->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE))) {
    fp__fail(err, FP_ERR_INTERNAL, "curl share handle setup failed");
    fp__share_free(share);
    return NULL;
  }
  share->cookies = cookies;
  return share;
}

/* ---- the shared cookie store ---- */

/* An easy handle that only reaches the share's store (it makes no
 * transfer), or NULL. */
static CURL *store_handle(fp__share *share) {
  CURL *e = curl_easy_init();
  if (e && curl_easy_setopt(e, CURLOPT_SHARE, share->handle) != CURLE_OK) {
    curl_easy_cleanup(e);
    return NULL;
  }
  return e;
}

int fp__share_load_cookies(fp__share *share, const char *path, bool junk, fp_error *err) {
  if (!share || !share->cookies || !path)
    return fp__fail(err, FP_ERR_INVALID_ARG, "no cookie store to load into");
  /* libcurl skips a file it cannot open without a word: say so here */
  FILE *f = fopen(path, "r");
  if (!f)
    return fp__fail(err, FP_ERR_SYSTEM, "cannot read cookie file: %s", strerror(errno));
  fclose(f);
  CURL *e = store_handle(share);
  if (!e)
    return fp__fail(err, FP_ERR_NOMEM, "out of memory");
  int rc = FP_OK;
  /* RELOAD reads the COOKIEFILE list into the store now, once, rather
   * than at every transfer's start (which would undo later Set-Cookies) */
  if (curl_easy_setopt(e, CURLOPT_COOKIESESSION, junk ? 1L : 0L) ||
      curl_easy_setopt(e, CURLOPT_COOKIEFILE, path) ||
      curl_easy_setopt(e, CURLOPT_COOKIELIST, "RELOAD"))
    rc = fp__fail(err, FP_ERR_NOMEM, "out of memory");
  curl_easy_cleanup(e);
  return rc;
}

int fp__share_save_cookies(fp__share *share, const char *path, fp_error *err) {
  if (!share || !share->cookies || !path)
    return fp__fail(err, FP_ERR_INVALID_ARG, "cookies are off: no cookie store to save");
  CURL *e = store_handle(share);
  struct curl_slist *list = NULL;
  if (!e || curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list) != CURLE_OK) {
    curl_easy_cleanup(e);
    return fp__fail(err, FP_ERR_NOMEM, "out of memory");
  }
  curl_easy_cleanup(e);
  size_t n = strlen(path) + 5;
  char *tmp = malloc(n);
  if (!tmp) {
    curl_slist_free_all(list);
    return fp__fail(err, FP_ERR_NOMEM, "out of memory");
  }
  snprintf(tmp, n, "%s.tmp", path);
  int rc = FP_OK;
  FILE *f = fopen(tmp, "w");
  if (!f) {
    rc = fp__fail(err, FP_ERR_SYSTEM, "cannot write cookie jar: %s", strerror(errno));
    goto done;
  }
  /* the header curl writes, so curl and browsers' tools take the file
   * (written with fwrite: the library writes files, never prints) */
  static const char head[] = "# Netscape HTTP Cookie File\n"
                             "# https://curl.se/docs/http-cookies.html\n"
                             "# This file was generated by fetchpool! Edit at your own risk.\n\n";
  fwrite(head, 1, sizeof head - 1, f);
  for (struct curl_slist *c = list; c; c = c->next) {
    fwrite(c->data, 1, strlen(c->data), f);
    fwrite("\n", 1, 1, f);
  }
  if (ferror(f) | (fclose(f) != 0)) {
    rc = fp__fail(err, FP_ERR_SYSTEM, "cannot write cookie jar: %s", strerror(errno));
    unlink(tmp);
  } else if (rename(tmp, path) != 0) {
    rc = fp__fail(err, FP_ERR_SYSTEM, "cannot write cookie jar: %s", strerror(errno));
    unlink(tmp);
  }
done:
  free(tmp);
  curl_slist_free_all(list);
  return rc;
}

static pthread_once_t dns_servers_once = PTHREAD_ONCE_INIT;
static bool dns_servers_ok;

static void probe_dns_servers(void) {
  fp__transfer_global_init();
  CURL *e = curl_easy_init();
  dns_servers_ok = e && curl_easy_setopt(e, CURLOPT_DNS_SERVERS, "127.0.0.1") == CURLE_OK;
  curl_easy_cleanup(e);
}

bool fp__transfer_can_set_dns_servers(void) {
  pthread_once(&dns_servers_once, probe_dns_servers);
  return dns_servers_ok;
}

void fp__share_free(fp__share *share) {
  if (!share)
    return;
  if (share->handle)
    curl_share_cleanup(share->handle);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&share->locks[i]);
  free(share);
}

/* ---- handle ---- */

fp__transfer *fp__transfer_new(fp__share *share, const atomic_bool *abort,
                               bool track_sockets, fp_error *err) {
  fp__transfer *t = calloc(1, sizeof *t);
  if (!t) {
    fp__fail(err, FP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  t->easy = curl_easy_init();
  if (!t->easy) {
    free(t);
    fp__fail(err, FP_ERR_INTERNAL, "curl_easy_init failed");
    return NULL;
  }
  t->share = share;
  t->abort = abort;
  t->track_sockets = track_sockets;
  pthread_mutex_init(&t->sock_mu, NULL);
  atomic_init(&t->interrupted, false);
  return t;
}

void fp__transfer_free(fp__transfer *t) {
  if (!t)
    return;
  /* Without NOSIGNAL (an easy handle that never ran a job, or one reset
   * since) curl_easy_cleanup calls sigaction twice, and sigaction takes a
   * lock shared by every thread of the process: 4,000 idle workers of
   * 10,000 exiting together spent over half the run's CPU spinning on it. */
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_cleanup(t->easy); /* closes its connections: uses t */
  pthread_mutex_destroy(&t->sock_mu);
  free(t);
}

/* ---- sockets, so that an abort can wake a blocked transfer ---- */

/* curl_easy_perform waits in poll() on the transfer's sockets, up to a
 * second at a time, through a multi handle of its own that nobody else
 * can reach (curl_multi_wakeup needs it). Shutting the sockets down ends
 * that wait at once. Sockets are tracked from open to close under a lock,
 * so a descriptor is never shut down after curl closed it (and the number
 * perhaps went to another file). A connection keeps the callbacks it was
 * opened with, and lives in this handle's cache, so t outlives them. */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose,
                                    struct curl_sockaddr *addr) {
  fp__transfer *t = userp;
  curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd == CURL_SOCKET_BAD)
    return fd;
  pthread_mutex_lock(&t->sock_mu);
  /* an abort that came before this socket existed could not shut it */
  if (t->abort && atomic_load(t->abort)) {
    pthread_mutex_unlock(&t->sock_mu);
    close(fd);
    if (t->req) /* the transfer in flight is what opens sockets */
      t->abort_code = FP_ERR_CANCELLED;
    return CURL_SOCKET_BAD;
  }
  if (t->nsocks < MAX_SOCKETS)
    t->socks[t->nsocks++] = fd;
  pthread_mutex_unlock(&t->sock_mu);
  return fd;
}

static int on_close_socket(void *userp, curl_socket_t fd) {
  fp__transfer *t = userp;
  pthread_mutex_lock(&t->sock_mu);
  for (size_t i = 0; i < t->nsocks; i++) {
    if (t->socks[i] == fd) {
      t->socks[i] = t->socks[--t->nsocks];
      break;
    }
  }
  pthread_mutex_unlock(&t->sock_mu);
  return close(fd);
}

void fp__transfer_interrupt(fp__transfer *t) {
  if (!t->track_sockets)
    return;
  pthread_mutex_lock(&t->sock_mu);
  atomic_store(&t->interrupted, true);
  for (size_t i = 0; i < t->nsocks; i++)
    shutdown(t->socks[i], SHUT_RDWR);
  pthread_mutex_unlock(&t->sock_mu);
}

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
  fp__transfer *t = userp;
  size_t len = size * nmemb;
  fp_response *resp = t->resp;
  /* max_filesize bounds every body; max_body only one kept in memory (a
   * sink streams it elsewhere, as --save does to disk) */
  if ((t->req->max_filesize && resp->bytes + len > t->req->max_filesize) ||
      (!t->req->sink && resp->bytes + len > t->req->max_body)) {
    t->abort_code = FP_ERR_BODY_TOO_LARGE;
    return CURL_WRITEFUNC_ERROR;
  }
  resp->bytes += len;
  if (t->req->sink) {
    if (t->req->sink(t->req->sink_userdata, data, len)) {
      t->abort_code = FP_ERR_SINK_ABORTED;
      return CURL_WRITEFUNC_ERROR;
    }
    return len;
  }
  if (fp__response_append_body(resp, data, len)) {
    t->abort_code = FP_ERR_NOMEM;
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

/* True when the latest head is a redirect curl was about to follow and
 * no request went out since (a request sent after it means curl followed
 * it, and what failed is the next response). */
static bool following_redirect(fp__transfer *t) {
  long sent = 0;
  curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent);
  return t->req->follow_redirects && t->head_location && t->head_status >= 300 &&
         t->head_status < 400 && t->head_status != 304 && sent == t->head_sent;
}

/* True when the final response has all arrived: its head is over, it is
 * not a redirect to follow, and it has no body (HEAD, 204, 304) or all
 * of its Content-Length. (A body of unknown length cannot be told
 * complete before libcurl says so.) */
static bool response_complete(fp__transfer *t) {
  if (t->in_head || t->head_status < 200 || following_redirect(t))
    return false;
  if (strcmp(t->req->method, "HEAD") == 0 || t->head_status == 204 || t->head_status == 304)
    return true;
  curl_off_t length = -1, got = 0;
  curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  curl_easy_getinfo(t->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
  return length >= 0 && got >= length;
}

/* The stall rule: fewer than one byte a second moved over the last
 * stall_timeout seconds, heads, bodies and uploads counted (a trickle
 * that keeps a connection open without making progress), or no byte at
 * all for that long. The window is exact to a 16th of it. */
static bool stalled(fp__transfer *t, curl_off_t moved, double now) {
  double limit = t->req->stall_timeout;
  if (moved != t->moved) {
    t->moved = moved;
    t->last_moved = now;
  } else if (now - t->last_moved >= limit) {
    return true;
  }
  size_t newest = (t->next_sample + STALL_SAMPLES - 1) % STALL_SAMPLES;
  if (!t->nsamples || now - t->samples[newest].at >= limit / (STALL_SAMPLES - 1)) {
    t->samples[t->next_sample].at = now;
    t->samples[t->next_sample].moved = moved;
    t->next_sample = (t->next_sample + 1) % STALL_SAMPLES;
    if (t->nsamples < STALL_SAMPLES)
      t->nsamples++;
  }
  for (size_t k = 0; k < t->nsamples; k++) { /* newest first */
    size_t i = (t->next_sample + STALL_SAMPLES - 1 - k) % STALL_SAMPLES;
    if (now - t->samples[i].at >= limit)
      return (double)(moved - t->samples[i].moved) < limit;
  }
  return false; /* not watched for a whole window yet */
}

/* Called by curl at least once a second, and more often while data
 * flows: the way to stop a transfer in flight when the executor aborts,
 * and to notice a stall. Not CURLOPT_LOW_SPEED_*: libcurl 7.88 samples
 * its speed only when the clock's whole second changes, so with a limit
 * of a few seconds a transfer that starts late in a second and gets its
 * first byte a moment later reads as 0 bytes/s for too long and is cut
 * off while data flows. The stall clock starts once the request is about
 * to go out (connecting has its own timeout). */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
  fp__transfer *t = userp;
  if (t->abort && atomic_load(t->abort)) {
    /* curl calls back once more after the last byte of a response, and
     * again as it wraps up: a response that has all arrived is not
     * thrown away as cancelled */
    if (response_complete(t))
      return 0;
    t->abort_code = FP_ERR_CANCELLED;
    return 1;
  }
  if (t->req->stall_timeout > 0) {
    double now = fp__now();
    curl_off_t pretransfer = 0;
    curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    /* curl counts each request of a redirect chain from 0 again: keep a
     * total that never goes back, or a drop would read as a stall */
    if (dlnow + ulnow < t->io_last)
      t->io_base += t->io_last;
    t->io_last = dlnow + ulnow;
    curl_off_t moved = t->io_base + t->io_last + t->head_bytes;
    if (pretransfer == 0) { /* not sending yet: the clock starts later */
      t->moved = moved;
      t->last_moved = now;
      t->nsamples = 0;
    } else if (stalled(t, moved, now)) {
      t->abort_code = FP_ERR_STALL_TIMEOUT;
      return 1;
    }
  }
  return 0;
}

static bool has_prefix_ci(const char *s, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && strncasecmp(s, prefix, n) == 0;
}

static size_t trim_len(const char *s, size_t n) {
  while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  return n;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp) {
  fp__transfer *t = userp;
  size_t len = size * nmemb;
  /* Each response of a redirect chain (and a 100 Continue) starts with a
   * status line: keep only the final response's headers, and cap each.
   * Only the first line of a head is one: a header line that merely starts
   * with "HTTP/" must not reset the count. */
  bool status_line = !t->in_head && len >= 5 && memcmp(line, "HTTP/", 5) == 0;
  if (status_line) {
    const char *sp = memchr(line, ' ', len); /* "HTTP/1.1 302 ..." */
    t->head_status = 0;
    if (sp && line + len - sp > 3 && strspn(sp + 1, "0123456789") >= 3)
      t->head_status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
    t->head_location = false;
    t->head_sent = 0;
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &t->head_sent);
    t->header_bytes = 0;
    t->resp->retry_after = -1;
    fp__response_clear_headers(t->resp);
  }
  t->in_head = !(len <= 2 && (line[0] == '\r' || line[0] == '\n'));
  t->header_bytes += len;
  t->head_bytes += (curl_off_t)len;
  if (t->header_bytes > FP_DEFAULT_MAX_HEADERS) {
    t->abort_code = FP_ERR_HEADERS_TOO_LARGE;
    return 0;
  }
  if (has_prefix_ci(line, len, "Location:"))
    t->head_location = true;
  if (has_prefix_ci(line, len, "Retry-After:")) {
    char value[128];
    size_t vlen = trim_len(line, len) - strlen("Retry-After:");
    if (vlen < sizeof value) {
      memcpy(value, line + strlen("Retry-After:"), vlen);
      value[vlen] = '\0';
      double seconds;
      if (fp__parse_retry_after(value, time(NULL), &seconds) == FP_OK)
        t->resp->retry_after = seconds;
    }
  }
  if (!t->req->keep_headers)
    return len;
  const char *colon = memchr(line, ':', len);
  if (!colon || status_line)
    return len;
  const char *value = colon + 1;
  const char *end = line + trim_len(line, len);
  while (value < end && (*value == ' ' || *value == '\t'))
    value++;
  if (value > end)
    value = end;
  if (fp__response_add_header(t->resp, line, (size_t)(colon - line), value,
                              (size_t)(end - value))) {
    t->abort_code = FP_ERR_NOMEM;
    return 0;
  }
  return len;
}

/* ---- request -> handle ---- */

/* The length of url's scheme (RFC 3986: ALPHA *(ALPHA / DIGIT / "+" /
 * "-" / ".") ":"), or 0 when it has none. "host:8080/..." is a host and a
 * port, not a scheme. curl_url refuses a scheme it was not built with
 * ("Unsupported URL scheme") and cannot parse "mailto:" or "data:" at
 * all, so the scheme is found here, to call ws:, mailto:, data:, gopher:
 * and javascript: URLs what they are: another protocol. */
static size_t scheme_len(const char *url) {
  size_t n = 0;
  if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
    return 0;
  while (url[n] && (strchr("+-.", url[n]) || (url[n] >= '0' && url[n] <= '9') ||
                    (url[n] >= 'a' && url[n] <= 'z') || (url[n] >= 'A' && url[n] <= 'Z')))
    n++;
  if (url[n] != ':')
    return 0;
  size_t digits = strspn(url + n + 1, "0123456789");
  if (digits > 0 && (url[n + 1 + digits] == '\0' || url[n + 1 + digits] == '/'))
    return 0; /* host:port */
  return n;
}

/* libcurl 7.88 builds the request head (request line and headers) in a
 * buffer of at most 1 MiB and fails with "out of memory" past it. What
 * it adds of its own (method, version, Host, Accept, Accept-Encoding,
 * Expect, line ends) fits in the slack. */
#define MAX_REQUEST_HEAD ((size_t)1024 * 1024)
#define REQUEST_HEAD_SLACK ((size_t)1024)
#define MAX_URL_LEN (MAX_REQUEST_HEAD - REQUEST_HEAD_SLACK)

/* Check the URL before curl sees it, so a bad one gets a precise code. */
static int check_url(const char *url, char *msg, size_t msgsize) {
  size_t slen = scheme_len(url);
  if (slen && !(slen == 4 && strncasecmp(url, "http", 4) == 0) &&
      !(slen == 5 && strncasecmp(url, "https", 5) == 0)) {
    snprintf(msg, msgsize, "scheme '%.*s' is not allowed (only http and https)",
             (int)(slen < 20 ? slen : 20), url);
    return FP_ERR_UNSUPPORTED_PROTOCOL;
  }
  if (strlen(url) > MAX_URL_LEN) {
    snprintf(msg, msgsize, "URL longer than %zu bytes (libcurl's request head is "
                           "at most 1 MiB)", MAX_URL_LEN);
    return FP_ERR_INVALID_URL;
  }
  CURLU *u = curl_url();
  char *scheme = NULL;
  int rc = FP_OK;
  if (!u)
    return FP_ERR_NOMEM;
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc) {
    snprintf(msg, msgsize, "%s", curl_url_strerror(uc));
    rc = FP_ERR_INVALID_URL;
  } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || !scheme) {
    snprintf(msg, msgsize, "URL has no scheme");
    rc = FP_ERR_INVALID_URL;
  } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
    snprintf(msg, msgsize, "scheme '%.20s' is not allowed (only http and https)", scheme);
    rc = FP_ERR_UNSUPPORTED_PROTOCOL;
  }
  curl_free(scheme);
  curl_url_cleanup(u);
  return rc;
}

static long to_ms(double seconds) { return (long)(seconds * 1000.0 + 0.5); }

/* A list of the n strings v as a curl_slist in *out (NULL when n is 0).
 * CURLE_OK or CURLE_OUT_OF_MEMORY. */
static CURLcode slist_of(char *const *v, size_t n, struct curl_slist **out) {
  *out = NULL;
  for (size_t i = 0; i < n; i++) {
    struct curl_slist *l = curl_slist_append(*out, v[i]);
    if (!l) {
      curl_slist_free_all(*out);
      *out = NULL;
      return CURLE_OUT_OF_MEMORY;
    }
    *out = l;
  }
  return CURLE_OK;
}

/* In the configure functions below: set an option on their easy handle
 * e, returning the first failure (rc holds it). */
#define SET(opt, val)                                                          \
  do {                                                                         \
    if ((rc = curl_easy_setopt(e, opt, val)) != CURLE_OK)                      \
      return rc;                                                               \
  } while (0)

/* The request's network options (fp__net): proxies, TLS, names and
 * addresses, HTTP version. The --resolve and --connect-to lists live in
 * t until the transfer ends (curl keeps pointers to them). */
static CURLcode configure_net(fp__transfer *t, const fp_request *req) {
  CURL *e = t->easy;
  const fp__net *net = req->net;
  CURLcode rc = CURLE_OK;
  if (!net)
    return CURLE_OK; /* libcurl's defaults: HTTP/2 over TLS, any IP version */
  static const CURLoption str_opt[FP_NET__COUNT] = {
      [FP_NET_PROXY] = CURLOPT_PROXY,
      [FP_NET_PROXY_USER] = CURLOPT_PROXYUSERPWD,
      [FP_NET_NOPROXY] = CURLOPT_NOPROXY,
      [FP_NET_PROXY_CACERT] = CURLOPT_PROXY_CAINFO,
      [FP_NET_CERT] = CURLOPT_SSLCERT,
      [FP_NET_CERT_TYPE] = CURLOPT_SSLCERTTYPE,
      [FP_NET_KEY] = CURLOPT_SSLKEY,
      [FP_NET_KEY_TYPE] = CURLOPT_SSLKEYTYPE,
      [FP_NET_KEY_PASSWORD] = CURLOPT_KEYPASSWD,
      [FP_NET_CAPATH] = CURLOPT_CAPATH,
      [FP_NET_CIPHERS] = CURLOPT_SSL_CIPHER_LIST,
      [FP_NET_PINNED_PUBKEY] = CURLOPT_PINNEDPUBLICKEY,
      [FP_NET_CRLFILE] = CURLOPT_CRLFILE,
      [FP_NET_INTERFACE] = CURLOPT_INTERFACE,
      [FP_NET_COOKIE] = CURLOPT_COOKIE,
      [FP_NET_DNS_SERVERS] = CURLOPT_DNS_SERVERS,
  };
  for (int i = 0; i < FP_NET__COUNT; i++)
    if (net->str[i])
      SET(str_opt[i], net->str[i]);
  /* a proxy's own CAs for --proxy-cacert, and --cacert's for the server */
  if (net->proxy_insecure) {
    SET(CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
    SET(CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
  }
  if (net->ip_version)
    SET(CURLOPT_IPRESOLVE, net->ip_version == 4 ? (long)CURL_IPRESOLVE_V4
                                                : (long)CURL_IPRESOLVE_V6);
  if (net->local_port) {
    SET(CURLOPT_LOCALPORT, (long)net->local_port);
    if (net->local_port_last)
      SET(CURLOPT_LOCALPORTRANGE, (long)(net->local_port_last - net->local_port + 1));
  }
  static const long http_versions[] = {
      [FP_HTTP_DEFAULT] = CURL_HTTP_VERSION_2TLS, [FP_HTTP_1_0] = CURL_HTTP_VERSION_1_0,
      [FP_HTTP_1_1] = CURL_HTTP_VERSION_1_1, [FP_HTTP_2] = CURL_HTTP_VERSION_2_0,
      [FP_HTTP_2_PRIOR_KNOWLEDGE] = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE};
  SET(CURLOPT_HTTP_VERSION, http_versions[net->http_version]);
  static const long tls_min[] = {
      [FP_TLS_DEFAULT] = CURL_SSLVERSION_DEFAULT, [FP_TLS_1_0] = CURL_SSLVERSION_TLSv1_0,
      [FP_TLS_1_1] = CURL_SSLVERSION_TLSv1_1, [FP_TLS_1_2] = CURL_SSLVERSION_TLSv1_2,
      [FP_TLS_1_3] = CURL_SSLVERSION_TLSv1_3};
  static const long tls_max[] = {
      [FP_TLS_DEFAULT] = CURL_SSLVERSION_MAX_DEFAULT,
      [FP_TLS_1_0] = CURL_SSLVERSION_MAX_TLSv1_0, [FP_TLS_1_1] = CURL_SSLVERSION_MAX_TLSv1_1,
      [FP_TLS_1_2] = CURL_SSLVERSION_MAX_TLSv1_2, [FP_TLS_1_3] = CURL_SSLVERSION_MAX_TLSv1_3};
  if (net->tls_min || net->tls_max)
    SET(CURLOPT_SSLVERSION, tls_min[net->tls_min] | tls_max[net->tls_max]);
  if ((rc = slist_of(net->resolve, net->nresolve, &t->resolve)) ||
      (rc = slist_of(net->connect_to, net->nconnect_to, &t->connect_to)))
    return rc;
  if (t->resolve)
    SET(CURLOPT_RESOLVE, t->resolve);
  if (t->connect_to)
    SET(CURLOPT_CONNECT_TO, t->connect_to);
  return CURLE_OK;
}

/* req's URL with its body appended to the query (curl -G), for
 * curl_free; NULL when out of memory or when curl cannot parse the URL
 * (check_url passed it, so only memory). */
static char *with_query(const fp_request *req) {
  CURLU *u = curl_url();
  char *url = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, req->url, 0) == CURLUE_OK &&
      (req->body_len == 0 ||
       curl_url_set(u, CURLUPART_QUERY, req->body, CURLU_APPENDQUERY) == CURLUE_OK))
    curl_url_get(u, CURLUPART_URL, &url, 0);
  curl_url_cleanup(u);
  return url;
}

/* The multipart body of req's form parts into t->mime. A file that cannot
 * be read fails the job as an invalid request, naming the file. */
static CURLcode configure_form(fp__transfer *t, const fp_request *req) {
  curl_mime *mime = t->mime = curl_mime_init(t->easy);
  if (!mime)
    return CURLE_OUT_OF_MEMORY;
  for (size_t i = 0; i < req->nparts; i++) {
    const fp__form_part *p = &req->parts[i];
    curl_mimepart *part = curl_mime_addpart(mime);
    if (!part || curl_mime_name(part, p->name))
      return CURLE_OUT_OF_MEMORY;
    if (p->path) {
      if (curl_mime_filedata(part, p->path) != CURLE_OK) {
        t->abort_code = FP_ERR_INVALID_REQUEST;
        snprintf(t->errbuf, sizeof t->errbuf, "form file '%.200s' cannot be read", p->path);
        return CURLE_READ_ERROR;
      }
    } else if (curl_mime_data(part, p->data, p->len)) {
      return CURLE_OUT_OF_MEMORY;
    }
    if ((p->type && curl_mime_type(part, p->type)) ||
        (p->filename && curl_mime_filename(part, p->filename)))
      return CURLE_OUT_OF_MEMORY;
  }
  return curl_easy_setopt(t->easy, CURLOPT_MIMEPOST, mime);
}

/* The curl-style options: auth, netrc, referer, request target, rate,
 * form. */
static CURLcode configure_curl_options(fp__transfer *t, const fp_request *req) {
  CURL *e = t->easy;
  CURLcode rc = CURLE_OK;
  if (req->username) {
    SET(CURLOPT_USERNAME, req->username);
    SET(CURLOPT_PASSWORD, req->password ? req->password : "");
  }
  unsigned long methods = 0;
  if (req->auth == FP_AUTH_ANY) {
    methods = CURLAUTH_ANY;
  } else {
    if (req->auth & FP_AUTH_BASIC)
      methods |= CURLAUTH_BASIC;
    if (req->auth & FP_AUTH_DIGEST)
      methods |= CURLAUTH_DIGEST;
    if (req->auth & FP_AUTH_NTLM)
      methods |= CURLAUTH_NTLM;
  }
  if (req->bearer) {
    SET(CURLOPT_XOAUTH2_BEARER, req->bearer);
    methods |= CURLAUTH_BEARER; /* as curl --oauth2-bearer does */
  }
  if (methods)
    SET(CURLOPT_HTTPAUTH, methods);
  if (req->netrc != FP_NETRC_IGNORED) {
    SET(CURLOPT_NETRC, req->netrc == FP_NETRC_REQUIRED ? (long)CURL_NETRC_REQUIRED
                                                        : (long)CURL_NETRC_OPTIONAL);
    if (req->netrc_file)
      SET(CURLOPT_NETRC_FILE, req->netrc_file);
  }
  if (req->referer)
    SET(CURLOPT_REFERER, req->referer);
  if (req->auto_referer)
    SET(CURLOPT_AUTOREFERER, 1L);
  if (req->path_as_is)
    SET(CURLOPT_PATH_AS_IS, 1L);
  if (req->request_target)
    SET(CURLOPT_REQUEST_TARGET, req->request_target);
  if (req->limit_rate) {
    SET(CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)req->limit_rate);
    SET(CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)req->limit_rate);
  }
  if (req->nparts)
    return configure_form(t, req);
  return CURLE_OK;
}

static CURLcode configure(fp__transfer *t, const fp_request *req,
                          struct curl_slist **headers) {
  CURL *e = t->easy;
  CURLcode rc = CURLE_OK;
  if (req->body_as_query && req->has_body) {
    /* curl -G: the body goes after the URL's query */
    char *url = with_query(req);
    if (!url)
      return CURLE_OUT_OF_MEMORY;
    rc = curl_easy_setopt(e, CURLOPT_URL, url);
    curl_free(url);
    if (rc)
      return rc;
  } else {
    SET(CURLOPT_URL, req->url);
  }
  SET(CURLOPT_NOSIGNAL, 1L);
  /* keep one idle connection, to the host served last, not curl's five:
   * over many hosts a worker then holds one socket, as the open-files
   * budget assumes (the multi engine sets its pool's size instead) */
  SET(CURLOPT_MAXCONNECTS, 1L);
  SET(CURLOPT_ERRORBUFFER, t->errbuf);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, t);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, t);
  if (!req->identity)
    SET(CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode */
  SET(CURLOPT_USERAGENT, req->user_agent ? req->user_agent : FP_DEFAULT_USER_AGENT);
  SET(CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
  SET(CURLOPT_MAXREDIRS, req->max_redirs);
  SET(CURLOPT_CONNECTTIMEOUT_MS,
      to_ms(req->connect_timeout > 0 ? req->connect_timeout : FP_DEFAULT_CONNECT_TIMEOUT));
  /* The attempt's limit: what is left of the job's timeout (it spans all
   * attempts and the waits between them), or the attempt timeout. */
  if (t->limit > 0)
    SET(CURLOPT_TIMEOUT_MS, to_ms(t->limit) > 0 ? to_ms(t->limit) : 1L);
  if (t->share) {
    SET(CURLOPT_SHARE, t->share->handle);
    /* the cookie engine on, reading no file (fp__transfer_end drops
     * the file list again) */
    if (t->share->cookies)
      SET(CURLOPT_COOKIEFILE, "");
  }
  SET(CURLOPT_NOPROGRESS, 0L);
  SET(CURLOPT_XFERINFOFUNCTION, on_progress);
  SET(CURLOPT_XFERINFODATA, t);
  if (t->track_sockets) {
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, t);
    SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    SET(CURLOPT_CLOSESOCKETDATA, t);
  }
  if (req->cacert)
    SET(CURLOPT_CAINFO, req->cacert);
  if (req->insecure) {
    SET(CURLOPT_SSL_VERIFYPEER, 0L);
    SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if ((rc = configure_curl_options(t, req)) != CURLE_OK)
    return rc;
  /* Method and body: POST uses curl's own POST so redirects behave as
   * browsers do; HEAD must not wait for a body; other methods are custom.
   * Form parts are the body when there are any (see
   * fp_request_add_form_part). */
  const char *m = req->method;
  bool has_body = req->has_body && !req->body_as_query && !req->nparts;
  if (req->nparts) {
    if (strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0)
      SET(CURLOPT_CUSTOMREQUEST, m);
  } else if (has_body) {
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
  }
  if (strcmp(m, "HEAD") == 0) {
    SET(CURLOPT_NOBODY, 1L);
  } else if (req->nparts) {
    /* the method was set with the parts */
  } else if (strcmp(m, "POST") == 0) {
    if (!has_body) {
      SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
      SET(CURLOPT_POSTFIELDS, "");
    }
  } else if (strcmp(m, "GET") != 0 || has_body) {
    SET(CURLOPT_CUSTOMREQUEST, m);
  }
  /* Headers; "Expect:" off so a large body does not wait for 100-continue.
   * curl_slist_append walks the whole list to find its end, so each line
   * is made a one-node list and linked behind the tail: O(n), not O(n^2)
   * (curl_slist_free_all frees nodes however they were linked). */
  struct curl_slist *list = curl_slist_append(NULL, "Expect:"), *tail = list;
  for (size_t i = 0; list && i < req->nheaders; i++) {
    size_t n = strlen(req->headers[i].name) + strlen(req->headers[i].value) + 3;
    char *line = malloc(n);
    if (!line) {
      /* Never send the request with some of its headers missing. */
      curl_slist_free_all(list);
      list = NULL;
      break;
    }
    /* "Name;" is curl's way to send a header with an empty value. */
    if (*req->headers[i].value)
      snprintf(line, n, "%s: %s", req->headers[i].name, req->headers[i].value);
    else
      snprintf(line, n, "%s;", req->headers[i].name);
    struct curl_slist *node = curl_slist_append(NULL, line);
    free(line);
    if (!node) {
      curl_slist_free_all(list);
      list = NULL;
      break;
    }
    tail->next = node;
    tail = node;
  }
  *headers = list;
  if (!list)
    return CURLE_OUT_OF_MEMORY;
  SET(CURLOPT_HTTPHEADER, list);
  return configure_net(t, req);
}
#undef SET

/* ---- handle -> response ---- */

/* curl says "unsupported protocol" when a redirect leads to a scheme
 * other than http(s): with the new URL as the effective one when curl
 * knows the scheme (ftp:), with the old one when it cannot even parse the
 * new URL (ws:, data:, javascript:, mailto:). It says the same when a
 * server answers without an HTTP/1.x status line ("HTTP/0.9", refused),
 * which is the server breaking HTTP. The start URL was checked already. */
static int map_unsupported(fp__transfer *t) {
  char *eff = NULL, msg[160];
  if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &eff) != CURLE_OK || !eff ||
      check_url(eff, msg, sizeof msg) == FP_ERR_UNSUPPORTED_PROTOCOL || following_redirect(t))
    return FP_ERR_UNSUPPORTED_PROTOCOL;
  return FP_ERR_PROTOCOL;
}

/* libcurl 7.88 reports a response header line longer than it accepts
 * (CURL_MAX_HTTP_HEADER, 100 KiB; 64 KiB for a trailer) as "out of
 * memory", as it does a real allocation failure. Our own callbacks name
 * their failures in abort_code; once the request has gone out, what
 * libcurl still allocates is for the response, so an over-long line is by
 * far the likely cause. */
static int map_out_of_memory(fp__transfer *t) {
  curl_off_t sent = 0;
  long request_size = 0;
  if (t->abort_code)
    return t->abort_code;
  curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
  return request_size > 0 || sent > 0 ? FP_ERR_HEADERS_TOO_LARGE : FP_ERR_NOMEM;
}

/* curl has one code for both limits. Its connect timeout only runs while
 * connecting, and its total timeout is measured like TOTAL_TIME, so when
 * the total limit was not reached it was the connect limit. (The connect
 * time cannot tell: it is 0 on a reused connection.) */
static int map_timeout(fp__transfer *t) {
  double limit = t->limit;
  curl_off_t total_us = 0;
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
  /* 5 ms of slack: curl compares in whole milliseconds */
  if (limit > 0 && (double)total_us / 1e6 + 0.005 >= limit)
    return FP_ERR_TIMEOUT;
  return FP_ERR_CONNECT_TIMEOUT;
}

static int map_code(CURLcode rc, fp__transfer *t) {
  /* an abort shut the sockets down: whatever error followed is that */
  if (rc != CURLE_OK && !t->abort_code && atomic_load(&t->interrupted))
    return FP_ERR_CANCELLED;
  switch (rc) {
  case CURLE_OK:
    return FP_OK;
  case CURLE_UNSUPPORTED_PROTOCOL:
    return map_unsupported(t);
  case CURLE_URL_MALFORMAT:
    /* the start URL was checked, so a redirect's Location is bad */
    return following_redirect(t) ? FP_ERR_PROTOCOL : FP_ERR_INVALID_URL;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return FP_ERR_DNS;
  case CURLE_COULDNT_CONNECT:
  case CURLE_INTERFACE_FAILED: /* --interface or --local-port cannot bind */
  case CURLE_PROXY: /* a proxy from the environment refused the tunnel */
    return FP_ERR_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return map_timeout(t);
  case CURLE_OUT_OF_MEMORY:
    return map_out_of_memory(t);
  case CURLE_TOO_MANY_REDIRECTS:
    return FP_ERR_TOO_MANY_REDIRECTS;
  case CURLE_FILESIZE_EXCEEDED:
    return FP_ERR_BODY_TOO_LARGE;
  case CURLE_WRITE_ERROR:
    return t->abort_code ? t->abort_code : FP_ERR_INTERNAL;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT:
  case CURLE_USE_SSL_FAILED:
    return FP_ERR_TLS;
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
    return FP_ERR_NETWORK;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_BAD_CONTENT_ENCODING:
    return FP_ERR_PROTOCOL;
  case CURLE_ABORTED_BY_CALLBACK:
    return t->abort_code ? t->abort_code : FP_ERR_CANCELLED;
  default:
    /* The header callback returning short also lands here in 7.88. */
    return t->abort_code ? t->abort_code : FP_ERR_INTERNAL;
  }
}

static double seconds_info(CURL *e, CURLINFO info) {
  curl_off_t us = 0;
  curl_easy_getinfo(e, info, &us);
  return (double)us / 1e6;
}

/* True when msg quotes a credential of req: libcurl's messages about a
 * proxy it cannot parse quote the proxy URL whole, user:password and all,
 * and records must never show one. */
static bool quotes_secret(const char *msg, const fp_request *req) {
  if (!req->net)
    return false;
  const char *proxy = req->net->str[FP_NET_PROXY];
  if (proxy) {
    const char *start = strstr(proxy, "://");
    start = start ? start + 3 : proxy;
    const char *at = strrchr(start, '@');
    if (at && at > start && memmem(msg, strlen(msg), start, (size_t)(at - start)))
      return true;
  }
  const char *user = req->net->str[FP_NET_PROXY_USER];
  const char *pass = req->net->str[FP_NET_KEY_PASSWORD];
  return (user && *user && strstr(msg, user)) || (pass && *pass && strstr(msg, pass));
}

static void collect(fp__transfer *t, CURLcode rc) {
  fp_response *resp = t->resp;
  CURL *e = t->easy;
  long status = 0;
  char *eff = NULL;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  resp->status = status;
  if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) {
    free(resp->effective_url);
    resp->effective_url = strdup(eff);
  }
  char *ctype = NULL; /* the record's "json" needs it, headers kept or not */
  free(resp->content_type);
  resp->content_type = curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype
                           ? strdup(ctype) : NULL;
  resp->timings.dns = seconds_info(e, CURLINFO_NAMELOOKUP_TIME_T);
  resp->timings.connect = seconds_info(e, CURLINFO_CONNECT_TIME_T);
  resp->timings.tls = seconds_info(e, CURLINFO_APPCONNECT_TIME_T);
  resp->timings.first_byte = seconds_info(e, CURLINFO_STARTTRANSFER_TIME_T);
  resp->timings.total = seconds_info(e, CURLINFO_TOTAL_TIME_T);
  long version = 0;
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
  resp->http_version = !status                           ? NULL
                       : version == CURL_HTTP_VERSION_1_0 ? "1.0"
                       : version == CURL_HTTP_VERSION_2_0 ? "2"
                       : version == CURL_HTTP_VERSION_3   ? "3"
                                                          : "1.1";
  /* A response with no connect time came over a reused connection: curl
   * still reports a name lookup time, but neither phase happened, so both
   * are 0 (as documented, and keeping dns <= connect <= first_byte). */
  if (resp->timings.connect == 0 && resp->timings.first_byte > 0)
    resp->timings.dns = 0;
  if (rc != CURLE_OK) {
    int code = map_code(rc, t);
    const char *msg = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
    if (quotes_secret(msg, t->req))
      msg = curl_easy_strerror(rc);
    if (code == FP_ERR_STALL_TIMEOUT)
      msg = "transfer stalled: no data moved for the stall timeout";
    else if (code == FP_ERR_BODY_TOO_LARGE)
      msg = "response body exceeds the size limit";
    else if (code == FP_ERR_HEADERS_TOO_LARGE && rc == CURLE_OUT_OF_MEMORY)
      msg = "a response header line is longer than libcurl accepts (100 KiB)";
    else if (code == FP_ERR_HEADERS_TOO_LARGE)
      msg = "response headers exceed the size limit";
    fp__response_set_error(resp, code, msg);
  }
}

bool fp__transfer_begin(fp__transfer *t, const fp_request *req, double limit,
                        fp_response **out) {
  fp_response *resp = *out = fp__response_new();
  if (!resp)
    return false;
  char msg[160];
  int rc = check_url(req->url, msg, sizeof msg);
  if (rc) {
    fp__response_set_error(resp, rc, msg);
    return false;
  }
  /* a URL and headers each within their limits may still not fit
   * together: say so, rather than libcurl's "out of memory" */
  size_t head = strlen(req->url) + strlen(req->method) + req->header_bytes + 4 * req->nheaders +
                (req->user_agent ? strlen(req->user_agent) : 0) + REQUEST_HEAD_SLACK;
  if (head > MAX_REQUEST_HEAD) {
    fp__response_set_error(resp, FP_ERR_INVALID_REQUEST,
                           "URL and headers together over libcurl's 1 MiB request head");
    return false;
  }
  curl_easy_reset(t->easy);
  t->req = req;
  t->resp = resp;
  t->limit = limit;
  t->header_bytes = 0;
  t->in_head = false;
  t->head_status = 0;
  t->head_location = false;
  t->head_sent = 0;
  t->head_bytes = 0;
  t->io_last = t->io_base = 0;
  t->moved = 0;
  t->last_moved = fp__now();
  t->nsamples = 0;
  t->next_sample = 0;
  t->abort_code = 0;
  t->errbuf[0] = '\0';
  t->headers = NULL;
  t->mime = NULL;
  /* The attempt boundary a sink needs to drop an earlier attempt's body. */
  if (req->sink && req->sink(req->sink_userdata, NULL, 0)) {
    fp__response_set_error(resp, FP_ERR_SINK_ABORTED, "the body sink refused a new attempt");
    t->req = NULL;
    t->resp = NULL;
    return false;
  }
  CURLcode crc = configure(t, req, &t->headers);
  if (crc != CURLE_OK) {
    fp__transfer_end(t, crc);
    return false;
  }
  return true;
}

fp_response *fp__transfer_end(fp__transfer *t, int curl_code) {
  fp_response *resp = t->resp;
  collect(t, (CURLcode)curl_code);
  /* The handle keeps pointers to the list and to req; drop them now. */
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  /* the handle must not point at freed lists (resolve's entries stay in
   * the DNS cache, as fetchpool.h says); only when set: these setopts on
   * every job grew the Python 200k-URL test's RSS by 10 MiB */
  if (t->resolve)
    curl_easy_setopt(t->easy, CURLOPT_RESOLVE, NULL);
  if (t->connect_to)
    curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, NULL);
  curl_slist_free_all(t->resolve);
  curl_slist_free_all(t->connect_to);
  t->resolve = t->connect_to = NULL;
  /* libcurl 7.88 keeps CURLOPT_COOKIEFILE's list after loading it, and
   * curl_easy_reset forgets it unfreed (ASan saw the leak): free it now.
   * With a shared store this leaves the store's cookies alone. */
  if (t->share && t->share->cookies)
    curl_easy_setopt(t->easy, CURLOPT_COOKIEFILE, NULL);
  curl_easy_setopt(t->easy, CURLOPT_MIMEPOST, NULL);
  curl_mime_free(t->mime);
  t->mime = NULL;
  t->req = NULL;
  t->resp = NULL;
  return resp;
}

void *fp__transfer_easy(fp__transfer *t) { return t->easy; }

fp_response *fp__transfer_run(fp__transfer *t, const fp_request *req, double limit) {
  fp_response *resp;
  if (!fp__transfer_begin(t, req, limit, &resp))
    return resp;
  return fp__transfer_end(t, curl_easy_perform(t->easy));
}
