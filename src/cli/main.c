/* main.c: the fetchpool program: options, then the run: a reader loop
 * that submits one job per input line into a bounded executor, records
 * written as jobs finish, a summary at the end. */
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

typedef struct options {
  size_t threads;
  const char *output;     /* NULL: standard output */
  bool ordered;
  fp_request *base;       /* what every job starts from */
  unsigned record_flags;  /* FP_RECORD_* */
  const char *save_dir;
  int progress;           /* -1 auto, 0 off, 1 on */
  bool quiet;
  const char *stats_json;
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
    "  -t, --threads N          worker threads, 1 to 10000 (default 32)\n"
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
    "      --progress           show the progress line on standard error\n"
    "      --no-progress        never show it (default: shown when standard\n"
    "                           error is a terminal and records do not go to one)\n"
    "  -q, --quiet              no summary and no progress line\n"
    "      --stats-json FILE    write the summary to FILE as a JSON object\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Exit status: 0 when every job is ok, 1 when any job failed, 2 for a usage\n"
    "error or an input or output file that cannot be read or written.\n"
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

/* Strict decimal integer in [min, max]. */
static bool parse_count(const char *s, unsigned long min, unsigned long max,
                        unsigned long *out) {
  unsigned long v = 0;
  if (!*s)
    return false;
  for (; *s; s++) {
    unsigned long digit = (unsigned long)(*s - '0');
    if (*s < '0' || *s > '9' || digit > max || v > (max - digit) / 10)
      return false;
    v = v * 10 + digit;
  }
  if (v < min)
    return false;
  *out = v;
  return true;
}

/* Seconds as a plain decimal ("2", "0.25", "1e-1"); no sign, inf or nan. */
static bool parse_seconds(const char *s, double *out) {
  char *end;
  if (!((*s >= '0' && *s <= '9') || *s == '.'))
    return false;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < 0 || v > 1e9)
    return false;
  *out = v;
  return true;
}

/* Bytes with an optional K, M or G suffix (powers of 1024), at least 1. */
static bool parse_size(const char *s, size_t *out) {
  unsigned long long v = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (ULLONG_MAX - 9) / 10)
      return false;
    v = v * 10 + (unsigned long long)(*p - '0');
  }
  if (p == s)
    return false;
  unsigned shift = 0;
  switch (*p) {
  case '\0':
    break;
  case 'k': case 'K': shift = 10; p++; break;
  case 'm': case 'M': shift = 20; p++; break;
  case 'g': case 'G': shift = 30; p++; break;
  default:
    return false;
  }
  if (*p || v == 0 || v > (SIZE_MAX >> shift))
    return false;
  *out = (size_t)(v << shift);
  return true;
}

enum {
  OPT_ORDERED = 256, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_MAX_REDIRS, OPT_MAX_BODY,
  OPT_PROGRESS, OPT_NO_PROGRESS, OPT_STATS_JSON, OPT_BODY, OPT_HEADERS, OPT_TIMINGS,
  OPT_SAVE
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
  unsigned long n;
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
  opterr = 0; /* our own messages */
  while ((opt = getopt_long(argc, argv, ":t:o:X:H:d:A:kqhV", long_options, NULL)) != -1) {
    const char *arg = optarg ? optarg : "";
    const char *shown_arg = shown(arg, shown_buf, sizeof shown_buf);
    switch (opt) {
    case 't':
      if (!parse_count(arg, 1, MAX_THREADS, &n)) {
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
      if (!parse_seconds(arg, opt == OPT_TIMEOUT ? &timeout : &connect_timeout)) {
        usage_error("invalid --%s '%s': expected seconds such as 2 or 0.5",
                    opt == OPT_TIMEOUT ? "timeout" : "connect-timeout", shown_arg);
        goto fail;
      }
      break;
    case OPT_MAX_REDIRS:
      if (!parse_count(arg, 0, MAX_REDIRS_LIMIT, &n)) {
        usage_error("invalid --max-redirs '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_REDIRS_LIMIT);
        goto fail;
      }
      fp_request_set_redirects(base, n > 0, (long)n);
      break;
    case OPT_MAX_BODY: {
      size_t size;
      if (!parse_size(arg, &size)) {
        usage_error("invalid --max-body '%s': expected a size such as 65536, 512K, 64M "
                    "or 1G", shown_arg);
        goto fail;
      }
      fp_request_set_max_body(base, size);
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

/* Each worker holds a connection, and --save a file: make room for them
 * when the soft limit is lower, as far as the hard limit allows. */
static void raise_nofile(size_t threads, bool save) {
  struct rlimit rl;
  rlim_t need = (rlim_t)threads * (save ? 2 : 1) + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return;
  rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
  setrlimit(RLIMIT_NOFILE, &rl);
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

/* Everything the run opened, so one place closes it. */
typedef struct run {
  cli_input *in;
  int out_fd;
  FILE *stats_file;
  cli_stats *stats;
  cli_progress *progress;
  fp_executor *ex;
  cli_output *out;
} run;

static void run_close(run *r) {
  fp_executor_free(r->ex); /* joins the workers: no callback still runs */
  cli_output_free(r->out);
  cli_progress_stop(r->progress);
  cli_stats_free(r->stats);
  if (r->stats_file)
    fclose(r->stats_file);
  if (r->out_fd > STDERR_FILENO)
    close(r->out_fd);
  cli_input_close(r->in);
}

/* Open what the options name; a failure is reported and gives exit 2. */
static int run_open(run *r, const options *o) {
  char msg[512];
  int err;
  if (!(r->in = cli_input_open(o->files, o->nfiles, msg, sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    return CLI_EXIT_USAGE;
  }
  if (o->output && (r->out_fd = open_output(o->output)) < 0) {
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
  return !o->quiet && isatty(STDERR_FILENO) && (o->output || !isatty(STDOUT_FILENO));
}

/* Read every input line and start its job; returns the number of jobs. */
static uint64_t read_jobs(run *r, const cli_jobs *jobs, bool *read_error) {
  const char *line;
  size_t len;
  uint64_t index = 0;
  char msg[512];
  while (cli_input_next(r->in, &line, &len, read_error, msg, sizeof msg)) {
    cli_output_reserve(r->out, index);
    cli_job_start(jobs, index, line, len);
    index++;
  }
  if (*read_error)
    fprintf(stderr, "fetchpool: %s\n", msg);
  return index;
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

static int run_jobs(const options *o) {
  run r = {.out_fd = STDOUT_FILENO};
  char msg[256];
  int status = run_open(&r, o);
  if (status >= 0)
    goto done;
  status = CLI_EXIT_USAGE;
  if (want_progress(o))
    r.progress = cli_progress_start(r.stats, cli_input_count(r.in), STDERR_FILENO);

  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = o->threads;
  eo.queue_capacity = 2 * o->threads; /* submit blocks beyond: backpressure */
  eo.thread_name_prefix = "fetch";
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

  cli_jobs jobs = {.ex = r.ex, .out = r.out, .base = o->base,
                   .record_flags = o->record_flags, .save_dir = o->save_dir};
  bool read_error = false;
  uint64_t count = read_jobs(&r, &jobs, &read_error);
  int werr = cli_output_finish(r.out, count);
  cli_stats_stop(r.stats);
  cli_progress_stop(r.progress);
  r.progress = NULL;
  if (werr)
    fprintf(stderr, "fetchpool: cannot write records to %s: %s\n",
            o->output ? o->output : "standard output", strerror(werr));
  if (!o->quiet)
    cli_stats_print(r.stats, stderr);
  bool stats_bad = r.stats_file && write_stats_json(r.stats_file, o->stats_json, r.stats);
  if (read_error || werr || stats_bad)
    status = CLI_EXIT_USAGE;
  else
    status = cli_stats_counts(r.stats).failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
done:
  run_close(&r);
  return status;
}

int main(int argc, char **argv) {
  options o;
  int status = parse_options(argc, argv, &o);
  if (status >= 0)
    return status;
  raise_nofile(o.threads, o.save_dir != NULL);
  status = run_jobs(&o);
  fp_request_decref(o.base);
  return status;
}
