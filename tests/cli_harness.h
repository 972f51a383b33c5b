/* cli_harness.h: what the suites that run the fetchpool program share
 * (test_cli.c, test_cli_reliability.c): run it as a child process
 * ("$FP_TEST_BUILD/fetchpool", posix_spawn) with an input on its standard
 * input, collect both outputs, optionally send it signals at set times,
 * always reap it, and read its records back. The in-process loopback
 * server of testutil.h serves the jobs.
 *
 * Everything is static inline so that a suite using part of it builds
 * with -Werror. Include after testutil.h. */
#ifndef FP_CLI_HARNESS_H
#define FP_CLI_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

extern char **environ;

/* Every child is bounded: a hang is killed and fails the test. */
#define CHILD_SECONDS 90
/* At most this many timed signals per run. */
#define CLI_MAX_EVENTS 4

static char *tmpdir; /* per-suite scratch directory */
/* Standard descriptors (bit 1 << fd) the next child is started with
 * closed, as a shell's <&-, >&- and 2>&- do; one run uses it and resets
 * it to 0 (all three connected). See RUN_CLOSED. */
static unsigned cli_child_closed_fds;

/* ------------------------------------------------------------ running */

/* Send signal sig to the child once at seconds after it started (sent_at
 * gets the moment it was sent, on tu_now's clock). */
typedef struct cli_event {
  double at;
  int sig;
} cli_event;

typedef struct run {
  int status; /* exit status, or 128 + signal */
  char *out, *err;
  size_t out_len, err_len;
  double start, secs;                /* tu_now() at spawn, and run time */
  double sent_at[CLI_MAX_EVENTS];    /* when each event's signal went */
  long maxrss_kb;                    /* run_cli_measured: the program's peak RSS */
} run;

static inline const char *program(void) {
  static char path[512];
  const char *build = getenv("FP_TEST_BUILD");
  snprintf(path, sizeof path, "%s/fetchpool", build && *build ? build : "build");
  return path;
}

static inline bool contains(const char *hay, const char *needle) {
  return strstr(hay, needle) != NULL;
}

static inline void append(char **buf, size_t *len, const char *data, size_t n) {
  char *grown = realloc(*buf, *len + n + 1);
  assert_non_null(grown);
  memcpy(grown + *len, data, n);
  *len += n;
  grown[*len] = '\0';
  *buf = grown;
}

/* Run fetchpool with args (NULL-terminated) and input on its standard
 * input (NULL: an empty one), collecting both outputs, and sending the
 * signals of events[0..nevents-1] at their times. With keep_stdin the
 * child's standard input stays open (a pipe with no writer done) until it
 * exits. */
/* Runs fetchpool with args, feeding it input; wrapper, when not NULL, is a
 * command line put in front (a program that sets up the child's limits and
 * executes the rest, such as prlimit). */
/* Spawn attributes for a child: the default action back for the signals
 * the tests send (and for SIGPIPE when default_sigpipe), none blocked,
 * whatever the test runner inherited (a background job ignores SIGINT). */
static void child_signal_attr(posix_spawnattr_t *attr, bool default_sigpipe) {
  sigset_t dfl, none;
  posix_spawnattr_init(attr);
  sigemptyset(&dfl);
  if (default_sigpipe)
    sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGHUP);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(attr, &dfl);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

/* The child's argv (room for 64): the wrapper's words, the program, then
 * args; and r emptied for its output. */
static void start_run(run *r, const char **argv, const char *const *wrapper,
                      const char *const *args) {
  size_t argc = 0;
  for (; wrapper && *wrapper; wrapper++) {
    assert_true(argc < 16);
    argv[argc++] = *wrapper;
  }
  argv[argc++] = program();
  for (; args && *args; args++) {
    assert_true(argc < 63);
    argv[argc++] = *args;
  }
  argv[argc] = NULL;
  memset(r, 0, sizeof *r);
  r->out = calloc(1, 1);
  r->err = calloc(1, 1);
}

static inline void run_cli_wrapped(run *r, const char *const *wrapper, const char *input,
                                   size_t input_len, const char *const *args,
                                   const cli_event *events, size_t nevents, bool keep_stdin) {
  const char *argv[64];
  unsigned closed_fds = cli_child_closed_fds;
  cli_child_closed_fds = 0;
  assert_true(nevents <= CLI_MAX_EVENTS);
  start_run(r, argv, wrapper, args);

  int in[2], out[2], err[2];
  assert_int_equal(pipe2(in, O_CLOEXEC), 0);
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  assert_int_equal(pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  for (int fd = 0; fd <= 2; fd++)
    if (closed_fds & 1u << fd)
      posix_spawn_file_actions_addclose(&fa, fd);
  /* this process ignores SIGPIPE (a child may exit before reading all its
   * input); the child gets the default back, as from a shell */
  posix_spawnattr_t attr;
  child_signal_attr(&attr, true);
  pid_t pid;
  double start = tu_now();
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    fail_msg("cannot run %s: %s", argv[0], strerror(rc));
  }
  r->start = start;
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t sent = 0, next_event = 0;
  int in_fd = in[1];
  int held_fd = keep_stdin ? in_fd : -1;
  if (!input || sent == input_len) {
    if (!keep_stdin)
      close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true, killed = false;
  double deadline = start + CHILD_SECONDS * tu_time_scale();
  while (out_open || err_open) {
    struct pollfd p[3] = {{.fd = out_open ? out[0] : -1, .events = POLLIN},
                          {.fd = err_open ? err[0] : -1, .events = POLLIN},
                          {.fd = in_fd, .events = POLLOUT}};
    double now = tu_now(), left = deadline - now;
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (next_event < nevents && now >= start + events[next_event].at) {
      kill(pid, events[next_event].sig);
      r->sent_at[next_event++] = now;
      continue;
    }
    if (next_event < nevents && start + events[next_event].at - now < left)
      left = start + events[next_event].at - now;
    int n = poll(p, 3, (int)(left * 1000) + 1);
    if (n < 0 && errno == EINTR)
      continue;
    char buf[65536];
    for (int i = 0; i < 2; i++) {
      if (!p[i].revents)
        continue;
      ssize_t got = read(p[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (i == 0)
          append(&r->out, &r->out_len, buf, (size_t)got);
        else
          append(&r->err, &r->err_len, buf, (size_t)got);
      } else if (got == 0 || errno != EINTR) {
        *(i == 0 ? &out_open : &err_open) = false;
      }
    }
    if (in_fd >= 0 && p[2].revents) {
      ssize_t put = write(in_fd, input + sent, input_len - sent);
      if (put > 0)
        sent += (size_t)put;
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || sent == input_len) {
        if (!keep_stdin)
          close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0 && in_fd != held_fd)
    close(in_fd);
  if (held_fd >= 0)
    close(held_fd);
  close(out[0]);
  close(err[0]);
  int wstatus;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  /* ru_maxrss is not the program's own: it counts this process's peak
   * too (see tests/peak_rss.c); run_cli_measured tells the real figure */
  r->maxrss_kb = -1;
  r->secs = tu_now() - start;
  r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (killed)
    fail_msg("fetchpool did not finish within %d s", CHILD_SECONDS);
  if (next_event < nevents)
    fail_msg("fetchpool exited (status %d) before signal %zu was due", r->status,
             next_event + 1);
  /* a sanitizer build of the child reports on its stderr */
  if (contains(r->err, "Sanitizer") || contains(r->err, "runtime error:"))
    fail_msg("fetchpool under a sanitizer reported:\n%s", r->err);
}

static inline void run_cli_events(run *r, const char *input, size_t input_len,
                                  const char *const *args, const cli_event *events,
                                  size_t nevents, bool keep_stdin) {
  run_cli_wrapped(r, NULL, input, input_len, args, events, nevents, keep_stdin);
}

static inline void run_cli(run *r, const char *input, size_t input_len,
                           const char *const *args) {
  run_cli_events(r, input, input_len, args, NULL, 0, false);
}

static inline void run_free(run *r) {
  free(r->out);
  free(r->err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
static inline size_t len_or_0(const char *s) { return s ? strlen(s) : 0; }
#define RUN(r, input, ...) run_cli(r, input, len_or_0(input), ARGS(__VA_ARGS__))
/* The same with the standard descriptors of mask (1 << fd) closed:
 * RUN_CLOSED(r, mask, input, args...). */
#define RUN_CLOSED(r, mask, input, ...)                                        \
  do {                                                                         \
    cli_child_closed_fds = (mask);                                             \
    run_cli(r, input, len_or_0(input), ARGS(__VA_ARGS__));                     \
  } while (0)
/* The same with signals: RUN_EVENTS(r, input, events, n, args...). */
/* The same, measuring the program's peak memory into r->maxrss_kb. */
#define RUN_MEASURED(r, input, ...) run_cli_measured(r, input, len_or_0(input), ARGS(__VA_ARGS__))
#define RUN_EVENTS(r, input, events, n, ...)                                   \
  run_cli_events(r, input, len_or_0(input), ARGS(__VA_ARGS__), events, n, false)

/* Lines of text[0..len) as an array of records: every line must be one
 * JSON object. With torn_ok, a last line without its newline is left out
 * (*torn, when not NULL, tells whether there was one); without, it fails
 * the test. */
static inline json_t *records_of(const char *text, size_t len, bool torn_ok, bool *torn) {
  json_t *arr = json_array();
  const char *p = text, *end = text + len;
  if (torn)
    *torn = false;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl && torn_ok) {
      if (torn)
        *torn = true;
      break;
    }
    if (!nl)
      fail_msg("output ends without a newline: %.200s", p);
    json_error_t jerr;
    json_t *rec = json_loadb(p, (size_t)(nl - p), 0, &jerr);
    if (!json_is_object(rec))
      fail_msg("output line is not a JSON object (%s): %.200s", jerr.text, p);
    json_array_append_new(arr, rec);
    p = nl + 1;
  }
  return arr;
}

/* The output as an array of records; every line must be one JSON object. */
static inline json_t *records(const run *r) {
  return records_of(r->out, r->out_len, false, NULL);
}

/* The record with index i (borrowed from recs). */
static inline json_t *by_index(json_t *recs, json_int_t i) {
  size_t k;
  json_t *rec;
  json_array_foreach(recs, k, rec) {
    if (json_integer_value(json_object_get(rec, "index")) == i)
      return rec;
  }
  fail_msg("no record with index %lld", (long long)i);
  return NULL;
}

static inline const char *error_code(json_t *rec) {
  json_t *e = json_object_get(rec, "error");
  return json_is_null(e) ? "null" : json_string_value(json_object_get(e, "code"));
}

static inline const char *str(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  if (!s)
    fail_msg("no string field '%s'", key);
  return s;
}

static inline json_int_t num(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_integer(v))
    fail_msg("no integer field '%s'", key);
  return json_integer_value(v);
}

static inline int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* obj has exactly the comma-separated keys (any order). */
static inline void assert_keys(json_t *obj, const char *expected) {
  const char *have[64], *want[64];
  size_t nh = 0, nw = 0;
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    assert_true(nh < 64);
    have[nh++] = key;
  }
  char *copy = strdup(expected), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    want[nw++] = t;
  qsort(have, nh, sizeof *have, cmp_str);
  qsort(want, nw, sizeof *want, cmp_str);
  bool same = nh == nw;
  for (size_t i = 0; same && i < nh; i++)
    same = strcmp(have[i], want[i]) == 0;
  if (!same) {
    char *dump = json_dumps(obj, JSON_COMPACT);
    fprintf(stderr, "expected keys %s in %.400s\n", expected, dump);
    free(dump);
    free(copy);
    fail_msg("key set differs");
  }
  free(copy);
}

#define RECORD_KEYS "index,url,status,ok,error,effective_url,elapsed_ms,bytes,attempts,http_version"

/* ------------------------------------------------------------ files */

static inline char *tmp_path(const char *name) {
  char *p;
  assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
  return p;
}

/* Runs fetchpool as run_cli does, under the fp-peak-rss helper, and sets
 * r->maxrss_kb to the program's own peak resident memory in KiB. */
static inline void run_cli_measured(run *r, const char *input, size_t input_len,
                                    const char *const *args) {
  char helper[512];
  const char *build = getenv("FP_TEST_BUILD");
  snprintf(helper, sizeof helper, "%s/tests/fp-peak-rss", build && *build ? build : "build");
  char *figure = tmp_path("peak_rss.txt");
  unlink(figure);
  const char *const wrapper[] = {helper, figure, NULL};
  run_cli_wrapped(r, wrapper, input, input_len, args, NULL, 0, false);
  FILE *f = fopen(figure, "r");
  long kb = -1;
  bool got = f && fscanf(f, "%ld", &kb) == 1;
  if (f)
    fclose(f);
  unlink(figure);
  free(figure);
  if (!got)
    fail_msg("fp-peak-rss wrote no figure: %s", r->err);
  r->maxrss_kb = kb;
}

static inline char *write_tmp(const char *name, const char *data, size_t len) {
  char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static inline char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t n = 0;
  char chunk[65536];
  size_t got;
  buf = calloc(1, 1);
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
    append(&buf, &n, chunk, got);
  fclose(f);
  *len = n;
  return buf;
}

/* Lines "URL\n" for n copies of path on the server. */
static inline char *url_lines(const char *path, size_t n) {
  char *one = tu_url("%s", path);
  size_t len = strlen(one) + 1;
  char *buf = malloc(len * n + 1);
  for (size_t i = 0; i < n; i++) {
    memcpy(buf + i * len, one, len - 1);
    buf[i * len + len - 1] = '\n';
  }
  buf[len * n] = '\0';
  free(one);
  return buf;
}

static inline int rm_entry(const char *path, const struct stat *st, int flag,
                           struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static inline int setup_suite(void **state) {
  char tmpl[] = "/tmp/fp-test-cli-XXXXXX";
  if (!mkdtemp(tmpl))
    return -1;
  tmpdir = strdup(tmpl);
  signal(SIGPIPE, SIG_IGN);
  return tu_setup_server(state);
}

static inline int teardown_suite(void **state) {
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(tmpdir);
  return tu_teardown_server(state);
}

/* A loopback port with nothing listening (connection refused). */
static inline unsigned closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

static inline size_t count_lines(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* One bad command line: a flag, its value (NULL for none) and the name
 * the error message must mention. */
typedef struct usage_case {
  const char *a, *b, *named;
} usage_case;

/* Each case must exit 2 before any request: nothing on stdout, and on
 * stderr exactly one line naming the problem and one pointing to --help. */
static inline void assert_usage_errors(const usage_case *cases, size_t n) {
  unsigned long before = ts_requests(tu_server);
  char *url = tu_url("/hello");
  for (size_t i = 0; i < n; i++) {
    run r;
    const char *args[] = {cases[i].a, cases[i].b, NULL};
    run_cli(&r, url, strlen(url), args);
    if (r.status != 2 || r.out_len || !contains(r.err, cases[i].named) ||
        !contains(r.err, "--help") || count_lines(r.err) != 2 ||
        r.err[r.err_len - 1] != '\n')
      fail_msg("%s %s: status %d, stdout '%s', stderr '%s'", cases[i].a,
               cases[i].b ? cases[i].b : "", r.status, r.out, r.err);
    run_free(&r);
  }
  free(url);
  assert_int_equal(ts_requests(tu_server), before); /* nothing ran */
}

/* ------------------------------------------------------------ stdout */

/* How run_cli_stdout treats the child's standard output, a pipe. */
typedef struct cli_stdout {
  size_t close_after;  /* close the reading end once this many bytes came (the
                          reader went away); 0: read to the end */
  bool ignore_sigpipe; /* the child starts with SIGPIPE ignored, as after
                          trap '' PIPE in a shell; else with the default */
  bool nonblocking;    /* the pipe's writing end is O_NONBLOCK, as when
                          another process sharing it set that */
} cli_stdout;

/* Run fetchpool with args, standard input /dev/null, and standard output
 * a pipe handled as so says; r->out gets what was read of it, r->err all
 * of standard error. Bounded and reaped as run_cli. */
static inline void run_cli_stdout(run *r, const cli_stdout *so, const char *const *args) {
  const char *argv[64];
  start_run(r, argv, NULL, args);
  int out[2], err[2];
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  assert_int_equal(pipe2(err, O_CLOEXEC), 0);
  if (so->nonblocking)
    assert_int_equal(fcntl(out[1], F_SETFL, O_NONBLOCK), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  /* an ignored SIGPIPE stays ignored across exec: without the default
   * back, the child inherits this process's */
  posix_spawnattr_t attr;
  child_signal_attr(&attr, !so->ignore_sigpipe);
  pid_t pid;
  double start = tu_now();
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (rc) {
    close(out[0]);
    close(err[0]);
    fail_msg("cannot run %s: %s", argv[0], strerror(rc));
  }
  r->start = start;
  int fds[2] = {out[0], err[0]};
  bool killed = false;
  double deadline = start + CHILD_SECONDS * tu_time_scale();
  while (fds[0] >= 0 || fds[1] >= 0) {
    struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    double left = deadline - tu_now();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int n = poll(p, 2, (int)(left * 1000) + 1);
    if (n < 0 && errno == EINTR)
      continue;
    char buf[65536];
    for (int i = 0; i < 2; i++) {
      if (!p[i].revents)
        continue;
      ssize_t got = read(fds[i], buf, sizeof buf);
      if (got > 0) {
        if (i == 0)
          append(&r->out, &r->out_len, buf, (size_t)got);
        else
          append(&r->err, &r->err_len, buf, (size_t)got);
      }
      bool done = got == 0 || (got < 0 && errno != EINTR) ||
                  (i == 0 && so->close_after && r->out_len >= so->close_after);
      if (done) {
        close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  int wstatus;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  r->maxrss_kb = -1;
  r->secs = tu_now() - start;
  r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (killed)
    fail_msg("fetchpool did not finish within %d s", CHILD_SECONDS);
  if (contains(r->err, "Sanitizer") || contains(r->err, "runtime error:"))
    fail_msg("fetchpool under a sanitizer reported:\n%s", r->err);
}

#endif /* FP_CLI_HARNESS_H */
