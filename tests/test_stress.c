/* test_stress.c: the fetchpool program on 100,000 jobs and 256 threads
 * against the in-process loopback server, with about 1% of the input lines
 * faults of every kind the program can meet: HTTP error statuses, redirect
 * loops and chains too long, bodies over --max-body (plain and gzip), a
 * body cut short, a connection reset, closed or answered with garbage, a
 * server that never answers and one that answers too late, a refused
 * connection, a name that cannot resolve, a scheme that is not allowed
 * (directly and through a redirect), a line that is no URL, a line of
 * broken JSON, and JSON jobs with a bad header or a bad field; and two
 * that --retries 1 must heal: a 503 once, and a 429 with Retry-After: 1
 * once (ok after two attempts, the second a second later). The faults
 * that fail are retried too and must keep their error codes.
 *
 * The input is made from a fixed seed (FP_STRESS_SEED to change it), so a
 * failure repeats. The checks: exactly one record per index 0..N-1, each
 * a whole line of JSON; each fault got its exact error code (and status),
 * each normal job is ok with its status and body length; and the counts
 * of --stats-json (jobs, ok, failed, per error code, per status class)
 * are the counts of the records.
 *
 * Under the sanitizers and valgrind (FP_TEST_TIME_SCALE > 1, set by
 * scripts/run-tests.sh) the run is scaled down to SLOW_JOBS jobs and the
 * time limits stretched; FP_STRESS_JOBS sets the number of jobs. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

extern char **environ;

#define FULL_JOBS 100000
#define SLOW_JOBS 10000          /* under sanitizers or valgrind */
#define THREADS "256"
#define FAULT_PERCENT 1
#define DEFAULT_SEED 0x5eed2024u
#define MAX_BODY "64K"           /* --max-body */
#define OVER_MAX_BODY 100000u    /* a body past it */
#define SLOW_TIMEOUT_FACTOR 20.0 /* --timeout is this * FP_TEST_TIME_SCALE when > 1 */
#define CHILD_SECONDS 120        /* the program is killed after this */
#define CHILD_SECONDS_SLOW 400   /* ... under sanitizers or valgrind */
#define STRESS_WATCHDOG 600      /* seconds, the whole test */
#define STRESS_RSS_KIB (64 * 1024) /* peak RSS bound, a plain build (issue #3) */

/* What a line is. Normal kinds succeed; fault kinds fail in one way. */
enum kind {
  /* normal */
  K_HELLO,
  K_TEXT,
  K_BYTES,
  K_GZIP,
  K_REDIRECT,
  K_DELAY,
  K_STATUS,
  NORMAL_KINDS,
  /* faults */
  F_STATUS_4XX = NORMAL_KINDS,
  F_STATUS_5XX,
  F_REDIRECT_LOOP,
  F_REDIRECT_CHAIN,
  F_REDIRECT_FILE,
  F_BODY_TOO_LARGE,
  F_GZIP_TOO_LARGE,
  F_HEADERS_TOO_LARGE,
  F_CLOSE_MID_BODY,
  F_RESET,
  F_CLOSE,
  F_GARBAGE,
  F_HANG,
  F_DELAY_TIMEOUT,
  F_STALL,           /* a drip slower than the job's stall timeout */
  F_CONNECT_TIMEOUT, /* a listener whose accept queue is full */
  F_TLS,             /* an HTTPS server whose certificate no CA vouches for */
  F_CONNECT,
  F_DNS,
  F_FILE,
  F_INVALID_URL,
  F_INVALID_JSON,
  F_INVALID_HEADER,
  F_INVALID_REQUEST,
  F_FLAKY,     /* 503 once: ok on the retry */
  F_THROTTLED, /* 429 with Retry-After: 1 once: ok a second later */
  KINDS
};
#define FAULT_KINDS (KINDS - NORMAL_KINDS)

/* The error code each fault must give ("ok" for normal jobs). */
static const char *const fault_code[FAULT_KINDS] = {
    [F_STATUS_4XX - NORMAL_KINDS] = "http",
    [F_STATUS_5XX - NORMAL_KINDS] = "http",
    [F_REDIRECT_LOOP - NORMAL_KINDS] = "too_many_redirects",
    [F_REDIRECT_CHAIN - NORMAL_KINDS] = "too_many_redirects",
    [F_REDIRECT_FILE - NORMAL_KINDS] = "unsupported_protocol",
    [F_BODY_TOO_LARGE - NORMAL_KINDS] = "body_too_large",
    [F_GZIP_TOO_LARGE - NORMAL_KINDS] = "body_too_large",
    [F_HEADERS_TOO_LARGE - NORMAL_KINDS] = "headers_too_large",
    [F_CLOSE_MID_BODY - NORMAL_KINDS] = "network",
    [F_RESET - NORMAL_KINDS] = "network",
    [F_CLOSE - NORMAL_KINDS] = "network",
    [F_GARBAGE - NORMAL_KINDS] = "protocol",
    [F_HANG - NORMAL_KINDS] = "timeout",
    [F_DELAY_TIMEOUT - NORMAL_KINDS] = "timeout",
    [F_STALL - NORMAL_KINDS] = "stall_timeout",
    [F_CONNECT_TIMEOUT - NORMAL_KINDS] = "connect_timeout",
    [F_TLS - NORMAL_KINDS] = "tls",
    [F_CONNECT - NORMAL_KINDS] = "connect",
    [F_DNS - NORMAL_KINDS] = "dns",
    [F_FILE - NORMAL_KINDS] = "unsupported_protocol",
    [F_INVALID_URL - NORMAL_KINDS] = "invalid_url",
    [F_INVALID_JSON - NORMAL_KINDS] = "invalid_json",
    [F_INVALID_HEADER - NORMAL_KINDS] = "invalid_header",
    [F_INVALID_REQUEST - NORMAL_KINDS] = "invalid_request",
    [F_FLAKY - NORMAL_KINDS] = "ok",
    [F_THROTTLED - NORMAL_KINDS] = "ok",
};

/* What job i must come to. */
typedef struct expect {
  uint8_t kind;
  bool json;       /* a JSON job line with "id": i */
  uint16_t status; /* the HTTP status, 0 for none or any */
  uint32_t bytes;  /* body length of a job that succeeds */
  uint8_t attempts; /* the attempts it must take, 0 for any */
} expect;

static char *tmpdir;

/* What the test owns, freed by its teardown even when a check fails
 * (a failed check leaves the test function at once). */
static struct {
  expect *ex;
  char *input, *output, *stats_path, *rss_path, *err, *text, *stext;
  uint8_t *seen;
  json_t *rec, *stats;
  int full_fd, full_filler; /* the full listener of F_CONNECT_TIMEOUT (0: none) */
  ts_server *tls;            /* the HTTPS server of F_TLS */
} own;

/* ------------------------------------------------------------ helpers */

/* xorshift64*: deterministic and the same everywhere. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)(rng_next(s) >> 33) % n; }

static const char *program(void) {
  static char path[512];
  const char *build = getenv("FP_TEST_BUILD");
  snprintf(path, sizeof path, "%s/fetchpool", build && *build ? build : "build");
  return path;
}

static size_t job_count(void) {
  const char *env = getenv("FP_STRESS_JOBS");
  if (env && *env)
    return (size_t)strtoul(env, NULL, 10);
  return tu_time_scale() > 1 ? SLOW_JOBS : FULL_JOBS;
}

static uint64_t seed(void) {
  const char *env = getenv("FP_STRESS_SEED");
  return env && *env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
}

/* A loopback port with nothing listening (connection refused). */
static unsigned closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

static char *tmp_path(const char *name) {
  char *p;
  assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
  return p;
}

static char *read_all(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    fail_msg("cannot read %s: %s", path, strerror(errno));
  char *buf = malloc((size_t)st.st_size + 1);
  assert_non_null(buf);
  size_t n = 0;
  while (n < (size_t)st.st_size) {
    ssize_t got = read(fd, buf + n, (size_t)st.st_size - n);
    if (got < 0 && errno == EINTR)
      continue;
    assert_true(got > 0);
    n += (size_t)got;
  }
  close(fd);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static void write_all(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------ input */

typedef struct urls {
  char http[64];  /* "http://127.0.0.1:PORT" */
  char raw[64];   /* the raw fault port */
  char dead[64];  /* a closed port */
  char full[64];  /* a listener that accepts no connection */
  char tls[64];   /* "https://127.0.0.1:PORT", self-signed */
  double hang_timeout; /* job timeout of /hang lines, 0 for --timeout's */
} urls;

/* Append one line for job i of kind k to f and fill *e. */
static void write_line(FILE *f, const urls *u, uint64_t *rng, size_t i, enum kind k,
                       expect *e) {
  char url[256];
  const char *h = u->http;
  e->kind = (uint8_t)k;
  e->status = 0;
  e->bytes = 0;
  e->attempts = 0;
  e->json = false;
  switch (k) {
  case K_HELLO:
    snprintf(url, sizeof url, "%s/hello", h);
    e->status = 200, e->bytes = 5;
    break;
  case K_TEXT: {
    char text[48];
    uint32_t n = 1 + rng_below(rng, 40);
    for (uint32_t j = 0; j < n; j++)
      text[j] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng_below(rng, 36)];
    text[n] = '\0';
    snprintf(url, sizeof url, "%s/text/%s", h, text);
    e->status = 200, e->bytes = n;
    break;
  }
  case K_BYTES:
    e->bytes = rng_below(rng, 4097);
    snprintf(url, sizeof url, "%s/bytes/%u", h, e->bytes);
    e->status = 200;
    break;
  case K_GZIP:
    e->bytes = 1 + rng_below(rng, 4096);
    snprintf(url, sizeof url, "%s/gzip?bytes=%u", h, e->bytes);
    e->status = 200;
    break;
  case K_REDIRECT:
    snprintf(url, sizeof url, "%s/redirect/%u", h, 1 + rng_below(rng, 3));
    e->status = 200, e->bytes = 10; /* "redirected" */
    break;
  case K_DELAY: {
    uint32_t ms = rng_below(rng, 21);
    snprintf(url, sizeof url, "%s/delay/%u", h, ms);
    e->status = 200, e->bytes = (uint32_t)snprintf(NULL, 0, "delayed %u", ms);
    break;
  }
  case K_STATUS: {
    static const uint16_t ok_statuses[] = {200, 201, 203, 302};
    e->status = ok_statuses[rng_below(rng, 4)];
    snprintf(url, sizeof url, "%s/status/%u", h, e->status);
    e->bytes = 10; /* "status NNN" */
    break;
  }
  case F_STATUS_4XX: {
    static const uint16_t s4[] = {400, 403, 404, 429};
    e->status = s4[rng_below(rng, 4)];
    snprintf(url, sizeof url, "%s/status/%u", h, e->status);
    break;
  }
  case F_STATUS_5XX: {
    static const uint16_t s5[] = {500, 502, 503, 504};
    e->status = s5[rng_below(rng, 4)];
    snprintf(url, sizeof url, "%s/status/%u", h, e->status);
    break;
  }
  case F_REDIRECT_LOOP:
    snprintf(url, sizeof url, "%s/redirect-loop", h);
    break;
  case F_REDIRECT_CHAIN: /* one more than the default limit of 10 */
    snprintf(url, sizeof url, "%s/redirect/11", h);
    break;
  case F_REDIRECT_FILE:
    snprintf(url, sizeof url, "%s/redirect-to?url=file:///etc/hostname", h);
    break;
  case F_BODY_TOO_LARGE:
    snprintf(url, sizeof url, "%s/bytes/%u", h, OVER_MAX_BODY);
    break;
  case F_GZIP_TOO_LARGE: /* small on the wire, too large decoded */
    snprintf(url, sizeof url, "%s/gzip?bytes=%u", h, OVER_MAX_BODY);
    break;
  case F_HEADERS_TOO_LARGE: /* 360 KiB of headers, past the 256 KiB cap */
    snprintf(url, sizeof url, "%s/headers?count=20000&size=20", h);
    break;
  case F_CLOSE_MID_BODY:
    snprintf(url, sizeof url, "%s/close-mid-body?bytes=%u", h, 1 + rng_below(rng, 2000));
    break;
  case F_RESET:
    snprintf(url, sizeof url, "%s/reset", u->raw);
    break;
  case F_CLOSE:
    snprintf(url, sizeof url, "%s/close", u->raw);
    break;
  case F_GARBAGE:
    snprintf(url, sizeof url, "%s/garbage", u->raw);
    break;
  case F_HANG:
    if (u->hang_timeout <= 0) { /* cut by --timeout */
      snprintf(url, sizeof url, "%s/hang", u->raw);
      break;
    }
    /* --timeout is long in slow runs: cut by a job timeout instead */
    fprintf(f, "{\"url\":\"%s/hang\",\"timeout\":%g,\"id\":%zu}\n", u->raw,
            u->hang_timeout, i);
    e->json = true;
    return;
  case F_DELAY_TIMEOUT: /* a job timeout shorter than the answer */
    fprintf(f, "{\"url\":\"%s/delay/5000\",\"timeout\":0.3,\"id\":%zu}\n", h, i);
    e->json = true;
    return;
  case F_STALL: /* headers, then a byte every 2 s: under 1 byte/s */
    /* --timeout spans the job's attempts, and a stall is seen about 1 s
     * in: two stalled attempts need more than the 2 s of a fast run */
    fprintf(f, "{\"url\":\"%s/drip?bytes=100&interval_ms=2000\",\"stall_timeout\":0.5,"
               "%s\"id\":%zu}\n", h, u->hang_timeout <= 0 ? "\"timeout\":5," : "", i);
    e->json = true;
    return;
  case F_CONNECT_TIMEOUT:
    fprintf(f, "{\"url\":\"%s/\",\"connect_timeout\":0.3,\"id\":%zu}\n", u->full, i);
    e->json = true;
    return;
  case F_TLS:
    snprintf(url, sizeof url, "%s/hello", u->tls);
    break;
  case F_CONNECT:
    snprintf(url, sizeof url, "%s/", u->dead);
    break;
  case F_DNS: /* a 64-byte label: refused by the resolver, no query sent */
    snprintf(url, sizeof url, "http://%s%zu.invalid/",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i % 10);
    break;
  case F_FILE:
    snprintf(url, sizeof url, "file:///etc/hostname");
    break;
  case F_INVALID_URL:
    snprintf(url, sizeof url, "not a url %zu", i);
    break;
  case F_INVALID_JSON:
    fprintf(f, "{\"url\":\"%s/hello\",\"id\":%zu,\n", h, i);
    return;
  case F_INVALID_HEADER:
    fprintf(f, "{\"url\":\"%s/hello\",\"headers\":[\"NoColon\"],\"id\":%zu}\n", h, i);
    e->json = true;
    return;
  case F_INVALID_REQUEST:
    fprintf(f, "{\"url\":\"%s/hello\",\"method\":7,\"id\":%zu}\n", h, i);
    e->json = true;
    return;
  case F_FLAKY: /* a key per job: the server fails each one once */
    snprintf(url, sizeof url, "%s/flaky/st%zu?fail=1", h, i);
    e->status = 200, e->bytes = 10, e->attempts = 2; /* "ok after 1" */
    break;
  case F_THROTTLED:
    snprintf(url, sizeof url, "%s/flaky/st%zu?fail=1&status=429&retry_after=1", h, i);
    e->status = 200, e->bytes = 10, e->attempts = 2;
    break;
  case KINDS:
    fail_msg("no such kind");
  }
  /* a fifth of the jobs that can be are JSON jobs, with an id and a header */
  if (k < NORMAL_KINDS && rng_below(rng, 5) == 0) {
    fprintf(f, "{\"url\":\"%s\",\"headers\":{\"X-Stress\":\"%zu\"},\"id\":%zu}\n", url, i, i);
    e->json = true;
  } else {
    fprintf(f, "%s\n", url);
  }
}

/* Write n job lines to path: about FAULT_PERCENT% faults (every kind in
 * turn, at places drawn from the seed), the rest normal jobs. */
static expect *make_input(const char *path, size_t n, uint64_t seed_value,
                          double hang_timeout) {
  expect *ex = calloc(n, sizeof *ex);
  uint8_t *is_fault = calloc(n, 1);
  own.ex = ex;
  assert_non_null(ex);
  assert_non_null(is_fault);
  urls u;
  snprintf(u.http, sizeof u.http, "http://127.0.0.1:%u", (unsigned)ts_port(tu_server));
  snprintf(u.raw, sizeof u.raw, "http://127.0.0.1:%u", (unsigned)ts_raw_port(tu_server));
  snprintf(u.dead, sizeof u.dead, "http://127.0.0.1:%u", closed_port());
  unsigned full_port;
  own.full_fd = tu_full_listener(&full_port, &own.full_filler);
  snprintf(u.full, sizeof u.full, "http://127.0.0.1:%u", full_port);
  char *cert = tmp_path("cert.pem"), *key = tmp_path("key.pem");
  write_all(cert, tu_test_cert), write_all(key, tu_test_key);
  ts_options so = {.tls_cert_file = cert, .tls_key_file = key};
  assert_non_null(own.tls = ts_start(&so));
  snprintf(u.tls, sizeof u.tls, "https://127.0.0.1:%u", (unsigned)ts_port(own.tls));
  free(cert), free(key);
  u.hang_timeout = hang_timeout;
  uint64_t rng = seed_value ? seed_value : 1;

  size_t faults = n * FAULT_PERCENT / 100;
  if (faults < FAULT_KINDS)
    faults = FAULT_KINDS < n ? FAULT_KINDS : n;
  /* distinct places, the j-th of them gets fault kind j % FAULT_KINDS */
  enum kind *kind_of = calloc(n, sizeof *kind_of);
  assert_non_null(kind_of);
  for (size_t j = 0; j < faults;) {
    size_t at = rng_below(&rng, (uint32_t)n);
    if (is_fault[at])
      continue;
    is_fault[at] = 1;
    kind_of[at] = (enum kind)(NORMAL_KINDS + j % FAULT_KINDS);
    j++;
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) {
    enum kind k;
    if (is_fault[i]) {
      k = kind_of[i];
    } else {
      /* mostly small fast pages, as a crawl would see */
      static const enum kind mix[] = {K_HELLO, K_HELLO, K_HELLO, K_TEXT, K_TEXT, K_BYTES,
                                      K_BYTES, K_GZIP, K_REDIRECT, K_DELAY, K_STATUS};
      k = mix[rng_below(&rng, sizeof mix / sizeof mix[0])];
    }
    write_line(f, &u, &rng, i, k, &ex[i]);
  }
  assert_int_equal(fclose(f), 0);
  free(kind_of);
  free(is_fault);
  return ex;
}

/* ------------------------------------------------------------ running */

/* Run fetchpool with args (NULL-terminated), standard input from
 * /dev/null, stdout and stderr collected; killed after limit seconds.
 * Returns the exit status (128 + signal when killed by one). */
static int run_program(const char *const *args, double limit, char **err_out,
                       const char *rss_figure) {
  const char *argv[32];
  size_t argc = 0;
  char helper[512];
  if (rss_figure) { /* under fp-peak-rss, which writes the program's peak */
    const char *build = getenv("FP_TEST_BUILD");
    snprintf(helper, sizeof helper, "%s/tests/fp-peak-rss", build && *build ? build : "build");
    argv[argc++] = helper;
    argv[argc++] = rss_figure;
  }
  argv[argc++] = program();
  for (; *args; args++)
    argv[argc++] = *args;
  argv[argc] = NULL;
  int pipefd[2];
  assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  /* a group of its own, so a timeout kills the helper and the program */
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipefd[1]);
  if (rc) {
    close(pipefd[0]);
    fail_msg("cannot run %s: %s", argv[0], strerror(rc));
  }
  char *err = calloc(1, 1);
  size_t len = 0;
  *err_out = err;
  bool killed = false;
  double deadline = tu_now() + limit;
  for (;;) {
    double left = deadline - tu_now();
    if (left <= 0) {
      kill(-pid, SIGKILL);
      killed = true;
      break;
    }
    struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
    int n = poll(&p, 1, (int)(left * 1000) + 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      continue;
    char buf[8192];
    ssize_t got = read(pipefd[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    char *grown = realloc(err, len + (size_t)got + 1);
    assert_non_null(grown);
    memcpy(grown + len, buf, (size_t)got);
    len += (size_t)got;
    grown[len] = '\0';
    err = grown;
    *err_out = err;
  }
  close(pipefd[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed)
    fail_msg("fetchpool did not finish within %.0f s; it said:\n%.2000s", limit, err);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------ checking */

/* Counts by error code name, small and linear: there are few codes. */
typedef struct tally {
  char name[32];
  uint64_t count;
} tally;

static void tally_add(tally *t, size_t *n, const char *name) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp(t[i].name, name) == 0) {
      t[i].count++;
      return;
    }
  assert_true(*n < 64);
  snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
  t[(*n)++].count = 1;
}

static uint64_t tally_get(const tally *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0)
      return t[i].count;
  return 0;
}

static const char *kind_name(int k) {
  static const char *const names[KINDS] = {
      "hello", "text", "bytes", "gzip", "redirect", "delay", "status",
      "status_4xx", "status_5xx", "redirect_loop", "redirect_chain", "redirect_file",
      "body_too_large", "gzip_too_large", "close_mid_body", "reset", "close", "garbage",
      "hang", "delay_timeout", "connect", "dns", "file", "invalid_url", "invalid_json",
      "invalid_header", "invalid_request", "flaky", "throttled"};
  return k >= 0 && k < KINDS ? names[k] : "?";
}

static json_int_t int_field(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_integer(v))
    fail_msg("no integer field '%s'", key);
  return json_integer_value(v);
}

static void test_stress_faults(void **state) {
  alarm(STRESS_WATCHDOG); /* the whole run, on top of the child's bound */
  size_t n = job_count();
  uint64_t seed_value = seed();
  double scale = tu_time_scale();
  char *input = own.input = tmp_path("input.txt");
  char *output = own.output = tmp_path("records.jsonl");
  char *stats_path = own.stats_path = tmp_path("stats.json");
  /* --timeout 2. When the in-process server runs under a sanitizer or
   * valgrind, its slowest answers with 256 connections in flight take
   * several seconds (12 s seen under TSan), so --timeout is then only a
   * safety net, far longer, and /hang lines carry a job timeout. */
  bool slow = scale > 1;
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%g", slow ? SLOW_TIMEOUT_FACTOR * scale : 2.0);
  expect *ex = own.ex = make_input(input, n, seed_value, slow ? 2.0 * scale : 0);
  const char *args[] = {"--threads", THREADS, "--timeout", timeout, "--max-body", MAX_BODY,
                        "--retries", "1", "--retry-base", "0.05", "--no-progress", "--stats-json", stats_path, "-o", output, input,
                        NULL};
  double start = tu_now();
  /* memory does not grow with the input: bounded in a plain build (the
   * sanitizers add shadow memory) */
  const char *build = getenv("FP_TEST_BUILD");
  bool plain = !build || !strstr(build, "san");
  char *rss_path = own.rss_path = tmp_path("peak-rss.txt");
  int status = run_program(args, slow ? CHILD_SECONDS_SLOW : CHILD_SECONDS, &own.err,
                           plain ? rss_path : NULL);
  const char *err = own.err;
  double wall = tu_now() - start;
  print_message("stress: %zu jobs, %s threads, seed 0x%llx, %.1f s wall (%.0f jobs/s)\n", n,
                THREADS, (unsigned long long)seed_value, wall, (double)n / wall);
  if (strstr(err, "Sanitizer") || strstr(err, "runtime error:"))
    fail_msg("fetchpool under a sanitizer reported:\n%s", err);
  if (status != 1) /* some jobs failed, and nothing else went wrong */
    fail_msg("fetchpool exited with %d:\n%.2000s", status, err);
  if (plain) {
    size_t flen;
    char *figure = read_all(rss_path, &flen);
    long kb = atol(figure);
    free(figure);
    print_message("stress: peak RSS %ld KiB\n", kb);
    if (kb <= 0 || kb > STRESS_RSS_KIB)
      fail_msg("fetchpool peaked at %ld KiB on %zu jobs, over %d KiB", kb, n, STRESS_RSS_KIB);
  }

  /* ---- the records ---- */
  size_t len;
  char *text = own.text = read_all(output, &len);
  uint8_t *seen = own.seen = calloc(n, 1);
  assert_non_null(seen);
  tally codes[64], want_codes[64];
  size_t ncodes = 0, nwant = 0;
  uint64_t ok = 0, classes[4] = {0}, lines = 0, bytes = 0;
  size_t wrong = 0, wrong_by_kind[KINDS] = {0};
  double slowest_ms = 0;
  const char *p = text, *end = text + len;
  if (len && end[-1] != '\n')
    fail_msg("the output ends in the middle of a line");
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    json_error_t jerr;
    json_t *rec = own.rec = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(rec))
      fail_msg("line %llu is not a JSON object (%s): %.300s", (unsigned long long)lines + 1,
               jerr.text, p);
    lines++;
    json_int_t i = int_field(rec, "index");
    if (i < 0 || (size_t)i >= n)
      fail_msg("record index %lld out of range", (long long)i);
    if (seen[i]++)
      fail_msg("two records for index %lld", (long long)i);
    const expect *e = &ex[i];
    json_t *error = json_object_get(rec, "error");
    const char *code = json_is_null(error) ? "ok"
                                           : json_string_value(json_object_get(error, "code"));
    if (!code)
      fail_msg("record %lld: error without a code", (long long)i);
    json_t *st = json_object_get(rec, "status");
    json_int_t got_status = json_is_integer(st) ? json_integer_value(st) : 0;
    bool is_ok = json_is_true(json_object_get(rec, "ok"));
    const char *want = e->kind < NORMAL_KINDS ? "ok" : fault_code[e->kind - NORMAL_KINDS];
    bool want_ok = !strcmp(want, "ok");
    /* a throttled job waited for its Retry-After of a second */
    bool too_soon = e->kind == F_THROTTLED &&
                    json_number_value(json_object_get(rec, "elapsed_ms")) < 990;
    if (strcmp(code, want) != 0 || is_ok != want_ok || too_soon ||
        (e->status && got_status != e->status) ||
        (e->attempts && int_field(rec, "attempts") != e->attempts) ||
        (want_ok && int_field(rec, "bytes") != (json_int_t)e->bytes)) {
      if (wrong++ < 20) { /* show the first ones, fail once all were seen */
        char *dump = json_dumps(rec, JSON_COMPACT);
        print_error("job %lld (%s): expected %s, status %u, %u bytes; got %s\n", (long long)i,
                    kind_name(e->kind), want, e->status, e->bytes, dump);
        free(dump);
      }
      wrong_by_kind[e->kind]++;
    }
    if (e->json && e->kind != F_INVALID_JSON && int_field(rec, "id") != i)
      fail_msg("job %lld: the record lost its id", (long long)i);
    if (is_ok) {
      ok++;
      double ms = json_number_value(json_object_get(rec, "elapsed_ms"));
      slowest_ms = ms > slowest_ms ? ms : slowest_ms;
    }
    else
      tally_add(codes, &ncodes, code);
    tally_add(want_codes, &nwant, want);
    if (got_status >= 200 && got_status < 600)
      classes[got_status / 100 - 2]++;
    bytes += (uint64_t)int_field(rec, "bytes");
    json_decref(rec);
    own.rec = NULL;
    p = nl + 1;
  }
  print_message("stress: slowest ok job %.0f ms (--timeout %s s)\n", slowest_ms, timeout);
  if (wrong) {
    for (int k = 0; k < KINDS; k++)
      if (wrong_by_kind[k])
        print_error("%zu jobs of kind %s came out wrong\n", wrong_by_kind[k], kind_name(k));
    fail_msg("%zu of %zu jobs came out wrong", wrong, n);
  }
  for (size_t i = 0; i < n; i++)
    if (!seen[i])
      fail_msg("no record for index %zu (%s)", i, kind_name(ex[i].kind));
  assert_int_equal(lines, n);
  assert_int_equal(ok, tally_get(want_codes, nwant, "ok"));

  /* ---- --stats-json says the same ---- */
  size_t slen;
  char *stext = own.stext = read_all(stats_path, &slen);
  json_error_t jerr;
  json_t *stats = own.stats = json_loads(stext, 0, &jerr);
  if (!json_is_object(stats))
    fail_msg("--stats-json is not a JSON object (%s): %.300s", jerr.text, stext);
  assert_int_equal(int_field(stats, "jobs"), n);
  assert_int_equal(int_field(stats, "ok"), ok);
  assert_int_equal(int_field(stats, "failed"), n - ok);
  assert_int_equal(int_field(stats, "bytes"), bytes);
  json_t *errors = json_object_get(stats, "errors");
  assert_true(json_is_object(errors));
  assert_int_equal(json_object_size(errors), ncodes);
  for (size_t c = 0; c < ncodes; c++) {
    json_t *v = json_object_get(errors, codes[c].name);
    if (!json_is_integer(v) || (uint64_t)json_integer_value(v) != codes[c].count)
      fail_msg("--stats-json errors.%s is %lld, the records say %llu", codes[c].name,
               json_is_integer(v) ? (long long)json_integer_value(v) : -1LL,
               (unsigned long long)codes[c].count);
  }
  json_t *by_class = json_object_get(stats, "status");
  static const char *const class_names[] = {"2xx", "3xx", "4xx", "5xx"};
  for (size_t c = 0; c < 4; c++)
    if ((uint64_t)int_field(by_class, class_names[c]) != classes[c])
      fail_msg("--stats-json status.%s is %lld, the records say %llu", class_names[c],
               (long long)int_field(by_class, class_names[c]),
               (unsigned long long)classes[c]);
  /* and every fault kind was there (each got its code, checked above) */
  size_t per_kind[KINDS] = {0};
  for (size_t i = 0; i < n; i++)
    per_kind[ex[i].kind]++;
  for (int k = NORMAL_KINDS; k < KINDS && n >= FAULT_KINDS; k++)
    if (!per_kind[k])
      fail_msg("no job of fault kind %s", kind_name(k));

}

static int stress_teardown(void **state) {
  alarm(0);
  json_decref(own.rec);
  json_decref(own.stats);
  free(own.ex);
  free(own.input);
  free(own.output);
  free(own.stats_path);
  free(own.rss_path);
  free(own.err);
  free(own.text);
  free(own.stext);
  free(own.seen);
  ts_stop(own.tls);
  if (own.full_fd > 0) {
    close(own.full_filler);
    close(own.full_fd);
  }
  memset(&own, 0, sizeof own);
  return 0;
}

/* ------------------------------------------------------------ suite */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup_suite(void **state) {
  char tmpl[] = "/tmp/fp-test-stress-XXXXXX";
  if (!mkdtemp(tmpl))
    return -1;
  tmpdir = strdup(tmpl);
  signal(SIGPIPE, SIG_IGN);
  /* the server holds a connection per worker, and the raw port more */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return tu_setup_server(state);
}

static int teardown_suite(void **state) {
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(tmpdir);
  return tu_teardown_server(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stress_faults, NULL, stress_teardown),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
