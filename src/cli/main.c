/* main.c: the fetchpool program: options, then the run: a reader loop
 * that submits one job per input line into a bounded executor, records
 * written as jobs finish, a summary at the end.
 *
 * Interruption (signals.c runs it): the first SIGINT or SIGTERM stops the
 * reader and cancels the queued jobs (they get "cancelled" records); the
 * transfers in flight have --grace seconds to finish, then they are
 * aborted (and a second signal aborts them at once); the main thread just
 * waits for the last record as in any run, prints the summary and exits
 * with 128 + the signal. Jobs never read get no record: --resume runs
 * them later. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_THREADS 32
#define MAX_THREADS 10000
#define MAX_REDIRS_LIMIT 1000
#define ORDERED_MIN_WINDOW 1024
#define MAX_RETRIES 1000
#define MAX_PER_HOST 1000000
#define MAX_RATE 1e6
#define MAX_RETRY_STATUSES 500
#define DEFAULT_GRACE 5.0

typedef struct options {
  size_t threads;
  fp_engine engine;
  size_t loops;           /* hybrid: event-loop threads, 0: one per CPU */
  const char *output;     /* NULL: standard output */
  bool ordered;
  fp_request *base;       /* what every job starts from */
  unsigned record_flags;  /* FP_RECORD_* */
  const char *save_dir;
  int progress;           /* -1 auto, 0 off, 1 on */
  bool quiet;
  const char *stats_json;
  double rate;            /* attempts per second, 0: no limit */
  size_t per_host;        /* 0: no limit */
  const char *cacert;
  double grace;           /* seconds after the first signal */
  const char *resume;     /* --resume FILE, or NULL */
  bool resume_failed;
  char *const *files;
  size_t nfiles;
} options;

static const char usage_text[] =
    "Usage: fetchpool [OPTIONS] [FILE ...]\n"
    "Fetch many HTTP(S) URLs in parallel on a fixed pool of threads.\n"
    "\n"
    "Each input line is a job: a URL, or a JSON object {\"url\", \"method\",\n"
    "\"headers\", \"body\", \"timeout\", \"id\"}. Blank lines and lines starting\n"
    "with # are skipped. With no FILE, or when FILE is -, read standard input.\n"
    "Each job gives one JSON record on one line of the output.\n"
    "\n"
    "Options:\n"
    "  -t, --threads N          transfers at once, 1 to 10000 (default 32): worker\n"
    "                           threads, or event-loop slots with --engine multi\n"
    "      --engine E           threads (default): a thread per transfer, each\n"
    "                           blocking in libcurl; multi: one event-loop thread\n"
    "                           on libcurl's multi interface; hybrid: --loops\n"
    "                           event-loop threads sharing the transfers\n"
    "      --loops K            event-loop threads for --engine hybrid (default:\n"
    "                           one per CPU)\n"
    "  -o, --output FILE        write records to FILE instead of standard output\n"
    "      --ordered            write records in input order (bounded window)\n"
    "  -X, --method METHOD      HTTP method (default GET, or POST with --data)\n"
    "  -H, --header LINE        add a request header, 'Name: value' (repeatable)\n"
    "  -d, --data DATA          request body\n"
    "      --timeout SEC        total time limit per job, decimals allowed\n"
    "                           (default 0: none)\n"
    "      --connect-timeout SEC\n"
    "                           connect time limit (default 10)\n"
    "      --max-redirs N       follow at most N redirects (default 10; 0: do not\n"
    "                           follow, the 3xx response is the result)\n"
    "      --max-body SIZE      largest body accepted, with K, M or G suffix\n"
    "                           (powers of 1024; default 64M)\n"
    "  -A, --user-agent UA      User-Agent header (default fetchpool/" FP_VERSION ")\n"
    "  -k, --insecure           do not verify TLS certificates and host names\n"
    "      --body               add the body to each record (\"body\", or\n"
    "                           \"body_base64\" when it is not UTF-8)\n"
    "      --headers            add the response headers to each record\n"
    "      --timings            add phase timings to each record\n"
    "      --save DIR           save each body to DIR/INDEX.body (\"saved\" field)\n"
    "      --cacert FILE        verify TLS servers with the CA certificates in FILE\n"
    "\n"
    "Reliability:\n"
    "      --retries N          retry a failed attempt up to N times (default 0):\n"
    "                           connect, timeout, stall and network errors, and\n"
    "                           the --retry-on statuses\n"
    "      --retry-on LIST      statuses to retry, comma-separated (default\n"
    "                           429,502,503,504; '' retries errors only)\n"
    "      --retry-base SEC     backoff base: the wait before retry k is random in\n"
    "                           [0, SEC * 2^(k-1)] (default 0.5)\n"
    "      --retry-max-wait SEC longest wait before a retry, Retry-After included\n"
    "                           (default 30)\n"
    "      --rate R             start at most R requests a second in all, decimals\n"
    "                           allowed (default 0: no limit)\n"
    "      --per-host N         at most N transfers at once to one host:port\n"
    "                           (default 0: no limit)\n"
    "      --stall-timeout SEC  fail a transfer (stall_timeout) when no byte\n"
    "                           moves for SEC seconds (default 0: off)\n"
    "      --grace SEC          on SIGINT or SIGTERM, wait up to SEC for the\n"
    "                           transfers in flight before stopping them\n"
    "                           (default 5); a second signal stops them at once\n"
    "      --resume FILE        skip the jobs FILE (an earlier output) finished\n"
    "                           and append the new records to FILE\n"
    "      --resume-failed      with --resume, also run again the jobs that\n"
    "                           failed\n"
    "\n"
    "Progress and summary:\n"
    "      --progress           show the progress line on standard error\n"
    "      --no-progress        never show it (default: shown when standard\n"
    "                           error is a terminal and records do not go to one)\n"
    "  -q, --quiet              no summary and no progress line\n"
    "      --stats-json FILE    write the summary to FILE as a JSON object\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Exit status: 0 when every job run is ok, 1 when any job failed, 2 for a\n"
    "usage error or an input or output file that cannot be read or written,\n"
    "130 or 143 when interrupted by SIGINT or SIGTERM.\n"
    "See fetchpool(1) for the record fields and error codes.\n";

/* Report a usage error on one line, then where help is. */
#define usage_error(...)                                                       \
  do {                                                                         \
    fputs("fetchpool: ", stderr);                                              \
    fprintf(stderr, __VA_ARGS__);                                              \
    fputs("\nTry 'fetchpool --help' for more information.\n", stderr);          \
  } while (0)

/* s for a message: control bytes escaped (no CR or LF may split the
 * one-line report), cut at 80 bytes. */
static const char *shown(const char *s, char *buf, size_t size) {
  size_t n = 0;
  for (; *s && n + 5 < size && n < 80; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f)
      n += (size_t)snprintf(buf + n, size - n, "\\x%02X", c);
    else
      buf[n++] = (char)c;
  }
  buf[n] = '\0';
  if (*s && n + 4 < size)
    strcpy(buf + n, "...");
  return buf;
}

enum {
  OPT_ORDERED = 256, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_MAX_REDIRS, OPT_MAX_BODY,
  OPT_PROGRESS, OPT_NO_PROGRESS, OPT_STATS_JSON, OPT_BODY, OPT_HEADERS, OPT_TIMINGS,
  OPT_SAVE, OPT_RETRIES, OPT_RETRY_ON, OPT_RETRY_BASE, OPT_RETRY_MAX_WAIT, OPT_RATE,
  OPT_PER_HOST, OPT_STALL_TIMEOUT, OPT_CACERT, OPT_GRACE, OPT_RESUME, OPT_RESUME_FAILED,
  OPT_ENGINE, OPT_LOOPS
};

static const struct option long_options[] = {
    {"threads", required_argument, NULL, 't'},
    {"output", required_argument, NULL, 'o'},
    {"ordered", no_argument, NULL, OPT_ORDERED},
    {"method", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"user-agent", required_argument, NULL, 'A'},
    {"insecure", no_argument, NULL, 'k'},
    {"body", no_argument, NULL, OPT_BODY},
    {"headers", no_argument, NULL, OPT_HEADERS},
    {"timings", no_argument, NULL, OPT_TIMINGS},
    {"save", required_argument, NULL, OPT_SAVE},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"retry-on", required_argument, NULL, OPT_RETRY_ON},
    {"retry-base", required_argument, NULL, OPT_RETRY_BASE},
    {"retry-max-wait", required_argument, NULL, OPT_RETRY_MAX_WAIT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"loops", required_argument, NULL, OPT_LOOPS},
    {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"resume-failed", no_argument, NULL, OPT_RESUME_FAILED},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Fill *o from argv. Returns -1 to go on, or an exit status (help,
 * version, usage error). o->base is set whenever -1 is returned. */
static int parse_options(int argc, char **argv, options *o) {
  const char *method = NULL, *data = NULL;
  double timeout = 0, connect_timeout = 0;
  double retry_base = FP_DEFAULT_RETRY_BASE, retry_max_wait = FP_DEFAULT_RETRY_MAX_WAIT;
  int statuses[MAX_RETRY_STATUSES];
  size_t nstatuses = 0;
  bool retry_on = false;
  uint64_t n, retries = 0;
  char shown_buf[128];
  fp_request *base = fp_request_new("");
  int opt, rc = CLI_EXIT_USAGE;
  if (!base) {
    fprintf(stderr, "fetchpool: out of memory\n");
    return CLI_EXIT_USAGE;
  }
  memset(o, 0, sizeof *o);
  o->threads = DEFAULT_THREADS;
  o->progress = -1;
  o->grace = DEFAULT_GRACE;
  opterr = 0; /* our own messages */
  while ((opt = getopt_long(argc, argv, ":t:o:X:H:d:A:kqhV", long_options, NULL)) != -1) {
    const char *arg = optarg ? optarg : "";
    const char *shown_arg = shown(arg, shown_buf, sizeof shown_buf);
    switch (opt) {
    case 't':
      if (cli_parse_count(arg, 1, MAX_THREADS, &n)) {
        usage_error("invalid --threads '%s': expected a whole number from 1 to %d",
                    shown_arg, MAX_THREADS);
        goto fail;
      }
      o->threads = n;
      break;
    case 'o':
      o->output = arg;
      break;
    case OPT_ORDERED:
      o->ordered = true;
      break;
    case 'X':
      method = arg;
      if (fp_request_set_method(base, method)) {
        usage_error("invalid --method '%s': expected an HTTP method token such as GET",
                    shown_arg);
        goto fail;
      }
      break;
    case 'H':
      if (fp_request_add_header_line(base, arg)) {
        usage_error("invalid --header '%s': expected 'Name: value' with a token name "
                    "and no CR or LF", shown_arg);
        goto fail;
      }
      break;
    case 'd':
      data = arg;
      fp_request_set_body(base, data, strlen(data));
      break;
    case OPT_TIMEOUT:
    case OPT_CONNECT_TIMEOUT:
      if (cli_parse_seconds(arg, opt == OPT_TIMEOUT ? &timeout : &connect_timeout)) {
        usage_error("invalid --%s '%s': expected seconds such as 2 or 0.5",
                    opt == OPT_TIMEOUT ? "timeout" : "connect-timeout", shown_arg);
        goto fail;
      }
      break;
    case OPT_MAX_REDIRS:
      if (cli_parse_count(arg, 0, MAX_REDIRS_LIMIT, &n)) {
        usage_error("invalid --max-redirs '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_REDIRS_LIMIT);
        goto fail;
      }
      fp_request_set_redirects(base, n > 0, (long)n);
      break;
    case OPT_MAX_BODY: {
      uint64_t size;
      if (cli_parse_size(arg, &size) || size == 0 || size > SIZE_MAX) {
        usage_error("invalid --max-body '%s': expected a size such as 65536, 512K, 64M "
                    "or 1G", shown_arg);
        goto fail;
      }
      fp_request_set_max_body(base, (size_t)size);
      break;
    }
    case 'A':
      if (fp_request_set_user_agent(base, arg)) {
        usage_error("invalid --user-agent '%s': CR and LF are not allowed",
                    shown_arg);
        goto fail;
      }
      break;
    case 'k':
      fp_request_set_insecure(base, true);
      break;
    case OPT_BODY:
      o->record_flags |= FP_RECORD_BODY;
      break;
    case OPT_HEADERS:
      o->record_flags |= FP_RECORD_HEADERS;
      fp_request_set_keep_headers(base, true);
      break;
    case OPT_TIMINGS:
      o->record_flags |= FP_RECORD_TIMINGS;
      break;
    case OPT_SAVE:
      o->save_dir = arg;
      break;
    case OPT_RETRIES:
      if (cli_parse_count(arg, 0, MAX_RETRIES, &retries)) {
        usage_error("invalid --retries '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_RETRIES);
        goto fail;
      }
      break;
    case OPT_RETRY_ON:
      if (cli_parse_statuses(arg, statuses, MAX_RETRY_STATUSES, &nstatuses)) {
        usage_error("invalid --retry-on '%s': expected HTTP statuses from 100 to 599 "
                    "separated by commas, such as 429,503", shown_arg);
        goto fail;
      }
      retry_on = true;
      break;
    case OPT_RETRY_BASE:
    case OPT_RETRY_MAX_WAIT:
    case OPT_STALL_TIMEOUT:
    case OPT_GRACE: {
      double v;
      const char *name = opt == OPT_RETRY_BASE       ? "retry-base"
                         : opt == OPT_RETRY_MAX_WAIT ? "retry-max-wait"
                         : opt == OPT_STALL_TIMEOUT  ? "stall-timeout"
                                                     : "grace";
      if (cli_parse_seconds(arg, &v)) {
        usage_error("invalid --%s '%s': expected seconds such as 2 or 0.5", name, shown_arg);
        goto fail;
      }
      if (opt == OPT_RETRY_BASE)
        retry_base = v;
      else if (opt == OPT_RETRY_MAX_WAIT)
        retry_max_wait = v;
      else if (opt == OPT_STALL_TIMEOUT)
        fp_request_set_stall_timeout(base, v);
      else
        o->grace = v;
      break;
    }
    case OPT_RATE:
      if (cli_parse_seconds(arg, &o->rate) || o->rate > MAX_RATE) {
        usage_error("invalid --rate '%s': expected requests per second such as 20 or "
                    "0.5, at most %g", shown_arg, MAX_RATE);
        goto fail;
      }
      break;
    case OPT_ENGINE:
      if (strcmp(arg, "threads") == 0) {
        o->engine = FP_ENGINE_THREADS;
      } else if (strcmp(arg, "multi") == 0) {
        o->engine = FP_ENGINE_MULTI;
      } else if (strcmp(arg, "hybrid") == 0) {
        o->engine = FP_ENGINE_HYBRID;
      } else {
        usage_error("invalid --engine '%s': expected threads, multi or hybrid", shown_arg);
        goto fail;
      }
      break;
    case OPT_LOOPS:
      if (cli_parse_count(arg, 1, MAX_THREADS, &n)) {
        usage_error("invalid --loops '%s': expected a whole number from 1 to %d", shown_arg,
                    MAX_THREADS);
        goto fail;
      }
      o->loops = (size_t)n;
      break;
    case OPT_PER_HOST:
      if (cli_parse_count(arg, 0, MAX_PER_HOST, &n)) {
        usage_error("invalid --per-host '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_PER_HOST);
        goto fail;
      }
      o->per_host = (size_t)n;
      break;
    case OPT_CACERT:
      if (!*arg) {
        usage_error("invalid --cacert '': expected a file of PEM certificates");
        goto fail;
      }
      o->cacert = arg;
      fp_request_set_cacert(base, arg);
      break;
    case OPT_RESUME:
      if (!*arg) {
        usage_error("invalid --resume '': expected the output file of an earlier run");
        goto fail;
      }
      o->resume = arg;
      break;
    case OPT_RESUME_FAILED:
      o->resume_failed = true;
      break;
    case OPT_PROGRESS:
      o->progress = 1;
      break;
    case OPT_NO_PROGRESS:
      o->progress = 0;
      break;
    case 'q':
      o->quiet = true;
      break;
    case OPT_STATS_JSON:
      o->stats_json = arg;
      break;
    case 'h':
      fputs(usage_text, stdout);
      rc = ferror(stdout) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
      goto fail;
    case 'V':
      printf("fetchpool %s\n", FP_VERSION);
      rc = CLI_EXIT_OK;
      goto fail;
    case ':':
      usage_error("option '%s' needs a value",
                  shown(argv[optind - 1], shown_buf, sizeof shown_buf));
      goto fail;
    default:
      if (optopt)
        usage_error("unknown option '-%c'", optopt);
      else
        usage_error("unknown option '%s'",
                    shown(argv[optind - 1], shown_buf, sizeof shown_buf));
      goto fail;
    }
  }
  if (o->resume_failed && !o->resume) {
    usage_error("--resume-failed needs --resume FILE");
    goto fail;
  }
  /* the library reads 0 as "its default": a tiny wait is "at once" */
  if (fp_request_set_retries(base, (unsigned)retries, retry_base > 0 ? retry_base : 1e-9,
                             retry_max_wait > 0 ? retry_max_wait : 1e-9))
    goto fail;
  if (retry_on && fp_request_set_retry_statuses(base, statuses, nstatuses))
    goto fail;
  /* --data alone means POST, as with curl */
  if (data && !method)
    fp_request_set_method(base, "POST");
  if (fp_request_set_timeouts(base, timeout, connect_timeout))
    goto fail;
  o->base = base;
  o->files = argv + optind;
  o->nfiles = (size_t)(argc - optind);
  return -1;
fail:
  fp_request_decref(base);
  return rc;
}

/* Open files one transfer holds: its connection, a file with --save, and on
 * the thread engine the socket pair that libcurl (7.88) keeps in every easy
 * handle's private multi handle for curl_multi_wakeup. Measured: 100 busy
 * workers hold 300 sockets on threads, 100 + 2 on multi. */
static rlim_t files_per_transfer(fp_engine engine, bool save) {
  return (engine == FP_ENGINE_THREADS ? 3 : 1) + (save ? 1 : 0);
}

/* Make room for every transfer as far as the hard limit allows, and say
 * so when it does not: the transfers past it would fail to connect. */
static void raise_nofile(const options *o) {
  struct rlimit rl;
  rlim_t need = (rlim_t)o->threads * files_per_transfer(o->engine, o->save_dir != NULL) + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return;
  bool capped = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need;
  rl.rlim_cur = capped ? rl.rlim_max : need;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && !capped)
    return;
  getrlimit(RLIMIT_NOFILE, &rl);
  fprintf(stderr,
          "fetchpool: warning: %zu transfers at once need about %llu open files, but the "
          "limit is %llu; transfers past about %llu at once will fail to connect (raise "
          "the hard limit, or use --engine multi: one file per transfer)\n",
          o->threads, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
          (unsigned long long)((rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 0) /
                               files_per_transfer(o->engine, o->save_dir != NULL)));
}

static int open_output(const char *path) {
  return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0666);
}

static int prepare_save_dir(const char *dir) {
  struct stat st;
  if (mkdir(dir, 0777) && errno != EEXIST)
    return errno;
  if (stat(dir, &st))
    return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* The CA file must be a readable regular file: checked before any job
 * runs, so a typo is one message and exit 2, not one tls error a job. */
static int check_cacert(const char *path) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
  if (fd < 0)
    return errno;
  if (fstat(fd, &st))
    err = errno;
  else if (S_ISDIR(st.st_mode))
    err = EISDIR;
  close(fd);
  return err;
}

/* With --resume, -o may only name the resume file itself (records are
 * appended to it). True when it does, or when there is no -o. */
static bool output_is_resume(const options *o) {
  struct stat a, b;
  if (!o->output || strcmp(o->output, o->resume) == 0)
    return true;
  if (stat(o->resume, &a) || stat(o->output, &b))
    return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Everything the run opened, so one place closes it. */
typedef struct run {
  cli_input *in;
  int out_fd;
  FILE *stats_file;
  cli_stats *stats;
  cli_progress *progress;
  fp_executor *ex;
  cli_output *out;
  cli_done *done; /* --resume: jobs to skip */
} run;

static void run_close(run *r) {
  fp_executor_free(r->ex); /* joins the workers: no callback still runs */
  cli_output_free(r->out);
  cli_progress_stop(r->progress);
  cli_stats_free(r->stats);
  cli_done_free(r->done);
  if (r->stats_file)
    fclose(r->stats_file);
  if (r->out_fd > STDERR_FILENO)
    close(r->out_fd);
  cli_input_close(r->in);
}

static int open_resume(run *r, const options *o) {
  char msg[512];
  cli_resume_info info;
  if (!output_is_resume(o)) {
    usage_error("--output '%s' is not the --resume file: new records are appended to "
                "'%s'; leave -o out", o->output, o->resume);
    return CLI_EXIT_USAGE;
  }
  if (!(r->done = cli_resume_open(o->resume, o->resume_failed, &r->out_fd, &info, msg,
                                  sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    return CLI_EXIT_USAGE;
  }
  if (!o->quiet && info.torn_bytes)
    fprintf(stderr, "fetchpool: %s: cut a torn last line of %llu bytes\n", o->resume,
            (unsigned long long)info.torn_bytes);
  if (!o->quiet && info.foreign)
    fprintf(stderr, "fetchpool: %s: ignored %llu lines that are no records\n", o->resume,
            (unsigned long long)info.foreign);
  return -1;
}

/* Open what the options name; a failure is reported and gives exit 2. */
static int run_open(run *r, const options *o) {
  char msg[512];
  int err;
  if (!(r->in = cli_input_open(o->files, o->nfiles, msg, sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    return CLI_EXIT_USAGE;
  }
  if (o->cacert && (err = check_cacert(o->cacert))) {
    fprintf(stderr, "fetchpool: cannot use CA file '%s': %s\n", o->cacert, strerror(err));
    return CLI_EXIT_USAGE;
  }
  if (o->resume) {
    int rc = open_resume(r, o);
    if (rc >= 0)
      return rc;
  } else if (o->output && (r->out_fd = open_output(o->output)) < 0) {
    fprintf(stderr, "fetchpool: cannot open output '%s': %s\n", o->output, strerror(errno));
    return CLI_EXIT_USAGE;
  }
  if (o->stats_json && !(r->stats_file = fopen(o->stats_json, "we"))) {
    fprintf(stderr, "fetchpool: cannot open stats file '%s': %s\n", o->stats_json,
            strerror(errno));
    return CLI_EXIT_USAGE;
  }
  if (o->save_dir && (err = prepare_save_dir(o->save_dir))) {
    fprintf(stderr, "fetchpool: cannot use save directory '%s': %s\n", o->save_dir,
            strerror(err));
    return CLI_EXIT_USAGE;
  }
  if (!(r->stats = cli_stats_new())) {
    fprintf(stderr, "fetchpool: out of memory\n");
    return CLI_EXIT_USAGE;
  }
  return -1;
}

static bool want_progress(const options *o) {
  if (o->progress >= 0)
    return o->progress;
  /* a bar drawn between records on the same terminal would garble both */
  return !o->quiet && isatty(STDERR_FILENO) &&
         (o->output || o->resume || !isatty(STDOUT_FILENO));
}

/* Read every input line and start its job, skipping those an earlier run
 * did (--resume), until the input ends or an interruption stops the
 * reader. Returns the number of jobs started; *skipped gets the number
 * skipped. */
static uint64_t read_jobs(run *r, const cli_jobs *jobs, bool *read_error, uint64_t *skipped) {
  const char *line;
  size_t len;
  uint64_t index = 0, seq = 0;
  char msg[512];
  *skipped = 0;
  while (cli_input_next(r->in, &line, &len, read_error, msg, sizeof msg)) {
    if (cli_done_has(r->done, index)) {
      (*skipped)++;
    } else {
      if (!cli_output_reserve(r->out, seq))
        break; /* interrupted: this job never started */
      cli_job_start(jobs, seq++, index, line, len);
    }
    index++;
  }
  if (*read_error)
    fprintf(stderr, "fetchpool: %s\n", msg);
  return seq;
}

static int write_stats_json(FILE *f, const char *path, cli_stats *stats) {
  json_t *obj = cli_stats_json(stats);
  int bad = !obj || json_dumpf(obj, f, CLI_JSON_FLAGS) ||
            fputc('\n', f) == EOF || fflush(f);
  json_decref(obj);
  if (bad)
    fprintf(stderr, "fetchpool: cannot write stats file '%s': %s\n", path, strerror(errno));
  return bad;
}

/* The first signal: read no more, cancel what is queued. On the signal
 * thread; everything it touches outlives cli_signals_finish. */
static void interrupt_stop(void *arg) {
  run *r = arg;
  cli_input_stop(r->in);
  cli_output_stop(r->out);
  fp_executor_shutdown(r->ex, false, true);
}

/* Grace over, or a second signal: end the transfers in flight now. */
static void interrupt_abort(void *arg) {
  run *r = arg;
  fp_executor_abort(r->ex);
}

static int run_jobs(const options *o) {
  run r = {.out_fd = STDOUT_FILENO};
  char msg[256];
  if (cli_signals_install()) {
    fprintf(stderr, "fetchpool: cannot set up signal handling: %s\n", strerror(errno));
    return CLI_EXIT_USAGE;
  }
  int status = run_open(&r, o);
  if (status >= 0)
    goto done;
  status = CLI_EXIT_USAGE;
  if (want_progress(o)) {
    int64_t total = cli_input_count(r.in);
    if (total > 0 && r.done)
      total -= (int64_t)cli_done_count_below(r.done, (uint64_t)total);
    r.progress = cli_progress_start(r.stats, total, STDERR_FILENO);
  }

  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = o->threads;
  eo.engine = o->engine;
  eo.loops = o->loops;
  eo.queue_capacity = 2 * o->threads; /* submit blocks beyond: backpressure */
  eo.thread_name_prefix = "fetch";
  eo.rate = o->rate;
  eo.per_host = o->per_host;
  fp_error err = {0};
  if (!(r.ex = fp_executor_new(&eo, &err))) {
    fprintf(stderr, "fetchpool: cannot start %zu threads: %s\n", o->threads, err.text);
    goto done;
  }
  /* room for every job a worker runs or the queue holds, and as many
   * again finished; ordered, also for slow jobs at the head of the line */
  size_t window = 4 * o->threads;
  if (o->ordered && window < ORDERED_MIN_WINDOW)
    window = ORDERED_MIN_WINDOW;
  if (!(r.out = cli_output_new(r.out_fd, o->ordered, window, r.stats, msg, sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    goto done;
  }
  cli_interrupt ops = {.stop = interrupt_stop, .abort = interrupt_abort, .arg = &r,
                       .grace = o->grace, .quiet = o->quiet};
  int rc = cli_signals_start(&ops);
  if (rc) {
    fprintf(stderr, "fetchpool: cannot start the signal thread: %s\n", strerror(rc));
    goto done;
  }

  cli_jobs jobs = {.ex = r.ex, .out = r.out, .base = o->base,
                   .record_flags = o->record_flags, .save_dir = o->save_dir};
  bool read_error = false;
  uint64_t skipped;
  uint64_t count = read_jobs(&r, &jobs, &read_error, &skipped);
  int werr = cli_output_finish(r.out, count);
  int sig = cli_signals_finish(); /* every record is written: no more stops */
  cli_stats_stop(r.stats);
  cli_progress_stop(r.progress);
  r.progress = NULL;
  if (o->resume)
    cli_stats_set_skipped(r.stats, skipped);
  if (sig)
    cli_stats_set_interrupted(r.stats, sig);
  if (werr)
    fprintf(stderr, "fetchpool: cannot write records to %s: %s\n",
            o->resume ? o->resume : o->output ? o->output : "standard output",
            strerror(werr));
  if (!o->quiet)
    cli_stats_print(r.stats, stderr);
  bool stats_bad = r.stats_file && write_stats_json(r.stats_file, o->stats_json, r.stats);
  if (sig)
    status = 128 + sig;
  else if (read_error || werr || stats_bad)
    status = CLI_EXIT_USAGE;
  else
    status = cli_stats_counts(r.stats).failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
done:
  cli_signals_finish(); /* when a failure skipped the call above */
  run_close(&r);
  return status;
}

int main(int argc, char **argv) {
  options o;
  int status = parse_options(argc, argv, &o);
  if (status >= 0)
    return status;
  raise_nofile(&o);
  status = run_jobs(&o);
  fp_request_decref(o.base);
  return status;
}
