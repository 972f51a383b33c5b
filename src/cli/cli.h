/* cli.h: what the files of the fetchpool program share; the program sees
 * the library only through include/fetchpool.h. */
#ifndef FP_CLI_H
#define FP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "fetchpool.h"

/* How records and stats are printed: compact, fields in their documented
 * order, and reals with 15 significant digits so that 0.006 prints as
 * 0.006 and not as jansson's default 17-digit 0.0060000000000000001. */
#define CLI_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Exit statuses (documented in fetchpool(1)); an interrupted run exits
 * with 128 + the signal number (130 for SIGINT, 143 for SIGTERM). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

/* Largest number of seconds any option takes (about 31 years). */
#define CLI_MAX_SECONDS 1e9
/* Largest job index a --resume file may name: 2^36 - 1, about 68 billion
 * jobs, so the done set's directory stays below 8 MiB whatever a corrupt
 * line says. */
#define CLI_MAX_INDEX ((UINT64_C(1) << 36) - 1)

/* ---- options.c: the command line ---- */

/* What the program was asked to do: a local run, or one of the commands
 * that share a job stream through Redis. */
typedef enum cli_command {
  CLI_RUN, CLI_ENQUEUE, CLI_WORKER, CLI_STATUS, CLI_RESULTS
} cli_command;

/* ---- strbuf.c: a growing string for building one line or name ---- */

/* {0} is empty; p is NULL until the first byte, then NUL-terminated
 * (free it); oom says a growth failed, after which adds do nothing. */
typedef struct cli_strbuf {
  char *p;
  size_t len, cap;
  bool oom;
} cli_strbuf;
void cli_strbuf_add(cli_strbuf *b, const void *s, size_t n);
void cli_strbuf_adds(cli_strbuf *b, const char *s);

#define CLI_DEFAULT_REDIS "redis://127.0.0.1:6379"

/* (batch-out) see format.c */
/* Which records are written (the others are counted, not written). */
typedef struct cli_filter {
  bool only_failed;    /* --only-failed: code != FP_OK */
  bool match_status;   /* --match-status: keep only statuses in match */
  bool filter_status;  /* --filter-status: drop statuses in drop */
  uint64_t match[10];  /* bit s: status s (100..599) */
  uint64_t drop[10];
  int codes[64];       /* --match-error: keep only these codes */
  size_t ncodes;
} cli_filter;
/* A compiled --write-out template. */
typedef struct cli_template cli_template;
/* The run's cookie store (net_options.c): executor-wide, unlike the
 * request options, which go into cli_options.base. */
typedef struct cli_net {
  const char *cookie_file; /* -b FILE: loaded at start */
  const char *cookie_jar;  /* -c FILE: written at the end */
  bool junk_session;       /* -j */
  int tls_min, tls_max;    /* fp_tls_version of --tlsv1.x, --tls-max (either order) */
} cli_net;

typedef struct cli_options {
  cli_command command;
  size_t threads;         /* with threads_auto: max_threads */
  bool threads_auto;      /* -t auto: each host's limit adapts */
  size_t max_threads;     /* -t auto: the most at once (0 until parsed) */
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
  double per_host_rate;   /* starts a second per host, 0: no limit */
  size_t max_parked;      /* jobs parked for their host, 0: the library's default */
  bool no_host_cooldown;  /* --no-host-cooldown */
  const char *cacert;
  double grace;           /* seconds after the first signal */
  const char *resume;     /* --resume FILE, or NULL */
  bool resume_failed;
  char *const *files;
  size_t nfiles;
  /* the Redis commands (redis.c, enqueue.c, stream/, inspect.c) */
  const char *redis;          /* redis://... URL */
  const char *stream;         /* the job stream */
  const char *group;          /* consumer group */
  const char *consumer;       /* NULL: HOSTNAME-PID */
  const char *results_stream; /* NULL: STREAM:results */
  double claim_idle;          /* seconds before another's job is taken over */
  bool until_empty;
  bool json;                  /* status as JSON */
  /* (batch-out) what the output holds, and the names of saved bodies */
  cli_filter filter;
  int format;                 /* cli_format_kind */
  cli_template *write_out;    /* -w TEMPLATE (NEW: cli_template_free), or NULL */
  const char *save_name;      /* --save-name TEMPLATE, or NULL */
  bool save_all;              /* --save-all: save non-2xx bodies too */
  /* batch-in: URL arguments, globbing, templates, dry runs */
  const struct cli_item *items; /* FILE and URL arguments and --url, in order */
  size_t nitems;
  bool globoff;                 /* -g: URLs are taken as they are */
  const char *url_template;     /* --template */
  const char *body_template;    /* --body-template */
  const char *header_templates[64]; /* -H lines with placeholders, with --template */
  size_t nheader_templates;
  int rows;                     /* CLI_ROWS_*: what the inputs hold */
  bool dry_run;
  cli_net net;                /* cookies (net_options.c) */
  /* curl-req: the values of -K files, which fields above may point to */
  char **owned;
  size_t nowned;
} cli_options;

/* batch-in: one input of a run: a FILE, or a URL (an argument starting
 * with http:// or https://, or --url). */
typedef struct cli_item {
  const char *arg;
  bool url;
} cli_item;
/* What the input FILEs hold: job lines, or CSV or TSV rows (--csv, --tsv). */
enum { CLI_ROWS_LINES, CLI_ROWS_CSV, CLI_ROWS_TSV };
/* The longest CSV or TSV row, in bytes. */
#define CLI_MAX_ROW (1024 * 1024)


/* Fill *o from argv (argv[0] is the program or the command name) for
 * command cmd. Returns -1 to go on, or an exit status (help, version,
 * usage error, reported on stderr). o->base is set whenever -1 is
 * returned; the caller drops it (fp_request_decref). */
int cli_parse_options(cli_command cmd, int argc, char **argv, cli_options *o);
/* Drop o->base and the -K values o holds (wiped: they may be secrets). */
void cli_options_free(cli_options *o);
/* Report a usage error of cmd on one line of stderr (printf format and
 * arguments), then where its help is (cli_usage_hint). */
#define cli_usage_error(cmd, ...)                                              \
  do {                                                                         \
    fputs("fetchpool: ", stderr);                                              \
    fprintf(stderr, __VA_ARGS__);                                              \
    cli_usage_hint(cmd);                                                       \
  } while (0)
void cli_usage_hint(cli_command cmd);

/* ---- net_options.c: proxies, cookies, TLS, names and addresses, HTTP
 * versions: curl's options of those names ---- */

/* Option values of the net group, in getopt_long's val space above the
 * other long options. */
enum {
  CLI_NET_NOPROXY = 0x1000, CLI_NET_PROXY_INSECURE, CLI_NET_PROXY_CACERT,
  CLI_NET_CERT_TYPE, CLI_NET_KEY, CLI_NET_KEY_TYPE, CLI_NET_PASS, CLI_NET_CAPATH,
  CLI_NET_CIPHERS, CLI_NET_TLSV1_2, CLI_NET_TLSV1_3, CLI_NET_TLS_MAX,
  CLI_NET_PINNEDPUBKEY, CLI_NET_CRLFILE, CLI_NET_RESOLVE, CLI_NET_CONNECT_TO,
  CLI_NET_INTERFACE, CLI_NET_LOCAL_PORT, CLI_NET_DNS_SERVERS, CLI_NET_HTTP1_0,
  CLI_NET_HTTP1_1, CLI_NET_HTTP2, CLI_NET_HTTP2_PRIOR, CLI_NET_LAST
};
/* The short options of the group, for getopt's string. */
#define CLI_NET_SHORT "x:U:b:c:jE:46"
/* True when opt (getopt's value) is one of the group's. */
bool cli_net_is_option(int opt);
/* Apply option opt with value arg (never echoed when it may hold a
 * secret) to base and o. Returns 0, or -1 after a usage error on stderr. */
int cli_net_option(cli_command cmd, int opt, const char *arg, fp_request *base,
                   cli_options *o);

/* ---- parse.c: pure parsers (no I/O, no state; fuzzed in tests/fuzz/) ----
 * Each returns 0 on success and -1 on error, and writes its outputs only
 * on success. Strings are NUL-terminated. */

/* A whole decimal number from min to max: digits only (no sign, no
 * space, no suffix). */
int cli_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A byte count: decimal digits and an optional K, M or G suffix (either
 * case; powers of 1024), from 0 to UINT64_MAX. 0 is accepted here; callers
 * for which 0 is meaningless reject it. */
int cli_parse_size(const char *s, uint64_t *out);
/* Seconds as a plain decimal ("2", "0.25", ".5", "1e-1") from 0 to
 * CLI_MAX_SECONDS: no sign in front, no hex, inf or nan, nothing after. */
int cli_parse_seconds(const char *s, double *out);
/* A comma-separated list of HTTP statuses, each three digits from 100 to
 * 599 ("429,503"; spaces around items allowed, duplicates kept). An empty
 * or all-space string is the empty list (*n = 0). At most max items
 * (more is an error); out gets them in order, *n their number. */
int cli_parse_statuses(const char *s, int *out, size_t max, size_t *n);
/* One line (len bytes, without its newline; may hold NUL bytes) of an
 * earlier output file. Returns 0 for a whole record, a JSON object with
 * an integer "index" from 0 to CLI_MAX_INDEX, a boolean "ok" and an
 * "error" that is null or an object with a string "code"; then *index is
 * its index, *ok its "ok", and *final is false only when the error code
 * is "cancelled" (the job must run again). Returns -1 for anything else:
 * a torn line, a foreign line, an empty one. */
int cli_parse_resume_line(const char *line, size_t len, uint64_t *index, bool *final,
                          bool *ok);

/* What one job came to, for the statistics. */
typedef struct cli_result {
  int code;         /* FP_OK, or the record's error code */
  long status;      /* HTTP status, 0 when none */
  bool ran;         /* a transfer was attempted (elapsed_s is meaningful) */
  double elapsed_s; /* wall time of the job */
  uint64_t bytes;   /* body bytes received */
} cli_result;

/* ---- histogram.c: log-linear latency histogram, constant memory ---- */

typedef struct cli_histogram cli_histogram;

/* NEW empty histogram, or NULL when out of memory. */
cli_histogram *cli_histogram_new(void);
void cli_histogram_free(cli_histogram *h);
/* Count one value (microseconds). Not thread-safe. */
void cli_histogram_add(cli_histogram *h, uint64_t value);
uint64_t cli_histogram_count(const cli_histogram *h);
/* Value at quantile q (0..1) within the bucket precision (< 0.4%), exact
 * for min (q = 0) and max (q = 1); 0 when empty. */
uint64_t cli_histogram_quantile(const cli_histogram *h, double q);

/* ---- stats.c: counters, summary text and its JSON form ---- */

typedef struct cli_stats cli_stats;
typedef struct cli_hosts cli_hosts; /* hosts.c */

typedef struct cli_counts {
  uint64_t done, ok, failed;
  uint64_t unwritten; /* records lost to a write error */
} cli_counts;

/* NEW, or NULL when out of memory. The wall clock starts now. */
cli_stats *cli_stats_new(void);
void cli_stats_free(cli_stats *s);
/* Count one finished job. Thread-safe. */
void cli_stats_add(cli_stats *s, const cli_result *r);
/* Count one finished job whose record was lost to a write error: it is
 * not counted as done, ok or failed. Thread-safe. */
void cli_stats_add_unwritten(cli_stats *s);
/* (batch-out) Count one finished job whose record a filter dropped: it
 * counts as done, ok or failed like any, and as filtered. Thread-safe. */
void cli_stats_add_filtered(cli_stats *s, const cli_result *r);
/* Counters so far. Thread-safe. */
cli_counts cli_stats_counts(cli_stats *s);
/* Stop the wall clock (the run is over). */
void cli_stats_stop(cli_stats *s);
/* This run resumed an earlier one and skipped that many jobs done there. */
void cli_stats_set_skipped(cli_stats *s, uint64_t skipped);
/* The run was interrupted by signal sig; jobs_left (a static string) says
 * in the summary what became of the jobs it did not run. */
void cli_stats_set_interrupted(cli_stats *s, int sig, const char *jobs_left);
/* Show h's figures (BORROWED; NULL: none) in the summary, the JSON and
 * the progress line. */
void cli_stats_set_hosts(cli_stats *s, cli_hosts *h);
/* The progress line's host part (cli_hosts_progress), or "". */
int cli_stats_hosts_line(cli_stats *s, char *buf, size_t size);
/* The summary, several lines of text. */
void cli_stats_print(cli_stats *s, FILE *out);
/* The same as a JSON object (schema in fetchpool(1)). NEW or NULL. */
json_t *cli_stats_json(cli_stats *s);

/* ---- hosts.c: the host view (per-host limits, cooldowns) ---- */

/* Start sampling fp_executor_hosts(ex) once a second on a thread of its
 * own; samples: keep each tracked host's limit a second for --stats-json.
 * NEW (cli_hosts_free), or NULL when out of memory or threads. */
cli_hosts *cli_hosts_start(fp_executor *ex, bool samples);
/* Stop sampling, after a last sample (call before ex goes away). Once. */
void cli_hosts_stop(cli_hosts *h);
/* Stop if needed and free. NULL is ignored. */
void cli_hosts_free(cli_hosts *h);
/* The progress line's part: "  limit N" (the hosts' limits added up,
 * when any has one) and "  K cooling" (hosts cooling down), or "".
 * Returns its length. Thread-safe. */
int cli_hosts_progress(cli_hosts *h, char *buf, size_t size);
/* The summary's lines of the busiest hosts (when a host had a limit or an
 * overload). Thread-safe. */
void cli_hosts_print(cli_hosts *h, FILE *out);
/* The "hosts" array of --stats-json. NEW. Thread-safe. */
json_t *cli_hosts_json(cli_hosts *h);

/* ---- input.c: lazy reader of job lines from files and stdin ---- */

typedef struct cli_input cli_input;

/* Open every input now ("-" is standard input; no name at all means
 * standard input), so a missing or unreadable file is reported before any
 * job runs. NEW, or NULL with msg filled. */
cli_input *cli_input_open(char *const *names, size_t n, char *msg,
                          size_t msgsize);
/* Next job line, stripped of surrounding whitespace (CRLF included);
 * blank lines and # comments are skipped. Returns 1 with *line (BORROWED
 * until the next call; NUL-terminated, but may hold NUL bytes: trust
 * *len) and *len, 0 at the end of all inputs. A file that fails while
 * being read is reported through *read_error (msg filled) and skipped. */
int cli_input_next(cli_input *in, const char **line, size_t *len,
                   bool *read_error, char *msg, size_t msgsize);
/* Number of jobs in all inputs by a cheap scan that leaves the readers
 * untouched (pread), or -1 when some input is not a regular file. */
int64_t cli_input_count(const cli_input *in);
/* Whether the next raw line is in the reader's buffer already, so that
 * cli_input_next will not wait for a read. */
bool cli_input_buffered(const cli_input *in);
/* Any thread: make cli_input_next return 0 from now on, also when it is
 * waiting for a pipe or terminal to give more. */
void cli_input_stop(cli_input *in);
void cli_input_close(cli_input *in);
/* batch-in: return every line as it is (no trimming, no skipped blank or
 * # lines; only a byte order mark is skipped), for CSV and TSV rows; a
 * line over max_line bytes is a read error of its input. */
void cli_input_set_raw(cli_input *in, size_t max_line);
/* batch-in: which of the names (0, 1, ...) the last line came from. */
size_t cli_input_source(const cli_input *in);

/* ---- output.c: writer thread, one write() per line, reorder window ---- */

/* rec as one JSON line ending in '\n' (malloc'd, *len bytes), or NULL
 * when memory ran out. STEALS rec (NULL gives NULL). */
char *cli_json_line(json_t *rec, size_t *len);

typedef struct cli_output cli_output;

/* Called once, on the writer thread and with no lock held, when a record
 * could not be written (err is the errno): the run cannot record anything
 * more, so the owner stops it. Records may be put from inside it. */
typedef void (*cli_output_fail_fn)(void *arg, int err);

/* A writer of records to fd that counts each it writes into stats. Jobs
 * are numbered for the output in the order they start (seq 0, 1, 2, ...;
 * not their index, since --resume skips some). At most window jobs are
 * between cli_output_reserve and being written; with ordered, records
 * leave in seq order. After the first failed write no record is written
 * again: reservations are refused, on_fail (may be NULL) is called, and
 * every record put is counted in stats as not written. NEW or NULL with
 * msg filled. */
cli_output *cli_output_new(int fd, bool ordered, size_t window,
                           cli_stats *stats, cli_output_fail_fn on_fail,
                           void *fail_arg, char *msg, size_t msgsize);
/* Reader side: block until job seq (0, 1, 2, ... in turn) fits in the
 * window. Returns false, without reserving, once cli_output_stop was
 * called or a write failed. */
bool cli_output_reserve(cli_output *o, uint64_t seq);
/* The same without waiting: false when seq does not fit now (or the
 * output stopped). */
bool cli_output_try_reserve(cli_output *o, uint64_t seq);
/* Any thread: wake a waiting cli_output_reserve and refuse later ones. */
void cli_output_stop(cli_output *o);
/* Any thread: the record of reserved job seq, whose index is index
 * (STEALS rec; NULL stands for out of memory) and what it came to. */
void cli_output_put(cli_output *o, uint64_t seq, uint64_t index, json_t *rec,
                    const cli_result *r);
/* Reader side: count jobs were reserved in all; wait until every record
 * is written and stop the writer. Returns 0 or the errno of the first
 * failed write (later records were dropped). */
int cli_output_finish(cli_output *o, uint64_t count);
/* (batch-out) How a record becomes output, called by cli_output_put on
 * the putting thread with rec BORROWED: 0 with *line (NEW, malloc'd) and
 * *len to write it; 1 when a filter drops it, with *line NULL or (NEW) a
 * line for the side file; -1 out of memory. */
typedef int (*cli_render_fn)(void *arg, json_t *rec, const cli_result *r, char **line,
                             size_t *len);
/* Before the first put: render records with fn (NULL: compact JSON lines)
 * and write the side lines of filtered ones to side_fd (-1: none). A
 * failed write there stops the run as one to fd does. */
void cli_output_set_render(cli_output *o, cli_render_fn fn, void *arg, int side_fd);
void cli_output_free(cli_output *o);
/* Any thread: write all of p[0..len) to fd, in one write() unless the
 * kernel takes less, a signal interrupts it or a non-blocking fd is full
 * (then it waits in poll() and goes on). Returns 0 or the errno. */
int cli_write_all(int fd, const char *p, size_t len);

/* ---- format.c: (batch-out) record filters, output formats, --write-out ---- */


/* "200-299,404": statuses and ranges of them, 100..599, comma-separated,
 * no spaces; bits gets their bitmap. 0, or -1 (bits untouched). */
int cli_parse_status_ranges(const char *s, uint64_t bits[10]);
/* "timeout,http": error code names (error.code), comma-separated; at
 * most max. 0, or -1 with the offending name in bad. */
int cli_parse_error_codes(const char *s, int *codes, size_t max, size_t *n, char *bad,
                          size_t badsize);
/* Whether a record that came to r is written. */
bool cli_filter_keeps(const cli_filter *f, const cli_result *r);
/* Whether any filter is set. */
bool cli_filter_active(const cli_filter *f);

typedef enum cli_format_kind {
  CLI_FORMAT_JSONL, CLI_FORMAT_CSV, CLI_FORMAT_TSV
} cli_format_kind;

/* NEW, or NULL with msg filled (an unknown %{field}, a '%{' without '}'). */
cli_template *cli_template_parse(const char *s, char *msg, size_t msgsize);
void cli_template_free(cli_template *t);
/* The FP_RECORD_* flags the template's fields need (header.NAME: the
 * headers; json.PATH: the body as JSON). */
unsigned cli_template_needs(const cli_template *t);
/* The CSV or TSV header line (NEW, malloc'd), or NULL for other kinds or
 * out of memory. */
char *cli_format_header(cli_format_kind kind, size_t *len);

/* How records become output: cli_render_record is a cli_render_fn whose
 * arg is a cli_render. */
typedef struct cli_render {
  cli_filter filter;
  cli_format_kind kind;
  const cli_template *tpl; /* --write-out, or NULL */
  bool side;               /* filtered records get a side line (--resume) */
} cli_render;
int cli_render_record(void *arg, json_t *rec, const cli_result *r, char **line, size_t *len);

/* ---- save_name.c: (batch-out) --save-name TEMPLATE ---- */

/* What a saved body's name may come from. */
typedef struct cli_save_info {
  uint64_t index;
  const json_t *id;          /* the job's "id", or NULL */
  const char *url;           /* the job's URL */
  const char *disposition;   /* the response's Content-Disposition, or NULL */
  const json_t *vars;        /* glob and row values {"1": ..., "col": ...}, or NULL */
} cli_save_info;

/* Check a template once, at start-up: known {fields} only, no '/' or
 * control bytes. 0, or -1 with why filled. */
int cli_save_name_check(const char *tpl, char *why, size_t whysize);
/* Whether it needs the response ({name}, {ext}: Content-Disposition). */
bool cli_save_name_uses_response(const char *tpl);
/* The sanitised name (NEW, malloc'd; never empty, never starting with
 * '.', no '/'), or NULL with why filled: {id} or #N without a value. */
char *cli_save_name(const char *tpl, const cli_save_info *in, char *why, size_t whysize);
/* name with ".n" before its extension ("a.json" -> "a.1.json", "a" ->
 * "a.1"). NEW, or NULL out of memory. */
char *cli_save_name_suffixed(const char *name, unsigned n);

/* ---- progress.c: a progress line on a terminal ---- */

typedef struct cli_progress cli_progress;

/* Start a thread that redraws the progress line on fd at most 10 times a
 * second from stats; total < 0 when unknown. NEW or NULL. */
cli_progress *cli_progress_start(cli_stats *stats, int64_t total, int fd);
/* Stop the thread and erase the line. NULL is ignored. */
void cli_progress_stop(cli_progress *p);

/* ---- job_line.c: an input line becomes a submitted job or an error record ---- */

/* Where a job's record goes, called once per job: on the thread that
 * finished it, or in cli_job_start for a line that cannot become a
 * request. STEALS rec (NULL stands for out of memory). */
typedef void (*cli_deliver_fn)(void *arg, uint64_t seq, uint64_t index, json_t *rec,
                               const cli_result *r);

typedef struct cli_jobs {
  fp_executor *ex;
  cli_deliver_fn deliver;
  void *deliver_arg;
  const fp_request *base; /* the request the command-line options built */
  unsigned record_flags;  /* FP_RECORD_* */
  const char *save_dir;   /* --save DIR, or NULL */
  /* batch-out: saved names */
  const char *save_name;  /* --save-name TEMPLATE, or NULL: INDEX.body */
  bool save_all;          /* save non-2xx bodies too */
  /* batch-in: templates and dry runs (all NULL, 0 or false: none) */
  const char *url_template;
  const char *body_template;
  const char *const *header_templates;
  size_t nheader_templates;
  bool dry_run;           /* records say what would be sent; nothing is */
} cli_jobs;

/* Start job index from line (len bytes): submit it, with its record
 * delivered when it is done, or deliver an error record at once for a
 * line that cannot become a request. seq is the caller's number for the
 * job, handed back to deliver. A job refused because the executor is shut
 * down (an interruption) gets a "cancelled" record. */
void cli_job_start(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *line,
                   size_t len, const json_t *vars);
/* batch-in: vars (BORROWED; may be NULL) is a JSON object of the job's
 * variables: the values of its URL's ranges and sets under "1", "2", ...,
 * or a template row's fields by name (a row from --csv or --tsv has line
 * NULL). The job keeps a reference (struct job's vars) while it lives. */
/* Deliver an error record for job index at once (a row that is no job). */
void cli_job_error(const cli_jobs *jobs, uint64_t seq, uint64_t index, int code,
                   const char *message);

/* Jobs prepared and not yet submitted: the reader hands them to the
 * executor together (fp_executor_submit_many, one lock round trip), which
 * costs the workers fewer wake-ups than a submit per line. */
#define CLI_BATCH 64
typedef struct cli_batch {
  size_t n;
  fp_request *reqs[CLI_BATCH];
  void *jobs[CLI_BATCH]; /* job_line.c's state of each */
} cli_batch;

/* As cli_job_start, but the job waits in b (submitted when b is full or
 * flushed); a line that cannot become a request gets its record at once.
 * The caller must flush before anything that may block (reading more
 * input, waiting for room in the output), since the batch's jobs do not
 * run until then. */
void cli_job_add(const cli_jobs *jobs, cli_batch *b, uint64_t seq, uint64_t index,
                 const char *line, size_t len, const json_t *vars);
/* Submit every job in b, in order; b is empty after. */
void cli_batch_flush(const cli_jobs *jobs, cli_batch *b);

/* ---- batch-in: glob.c: curl-style URL ranges and sets, expanded lazily ---- */

typedef struct cli_glob cli_glob;
/* Parse pattern ({a,b}, [1-10], [001-100], [a-z], [0-100:5]; \[ and the
 * like for the characters); with literal, the pattern is one plain URL.
 * NEW, or NULL with msg saying what is wrong. */
cli_glob *cli_glob_new(const char *pattern, bool literal, char *msg, size_t msgsize);
/* How many URLs the pattern makes (at least 1). */
uint64_t cli_glob_count(const cli_glob *g);
/* The next URL (BORROWED until the next call) and *vars, NEW: the values
 * of the ranges and sets under "1", "2", ..., or NULL when there are none.
 * 1, 0 when all were made, -1 out of memory. */
int cli_glob_next(cli_glob *g, const char **url, json_t **vars);
void cli_glob_free(cli_glob *g);

/* ---- batch-in: template.c: templates filled from a row's fields ---- */

typedef enum cli_escape { CLI_ESCAPE_NONE, CLI_ESCAPE_URL, CLI_ESCAPE_JSON } cli_escape;
/* Whether t holds a {NAME} placeholder ("{{" is a literal '{'). */
bool cli_template_has_fields(const char *t);
/* t with each {NAME} replaced by field NAME of vars (a string's text; null
 * as nothing; other values as their JSON text), escaped as esc says:
 * percent-encoded (all but A-Z a-z 0-9 - . _ ~), or as inside a JSON
 * string. NEW, or NULL: why says what is wrong with the row (a missing
 * field, a NUL byte where it cannot be escaped), or is empty when memory
 * ran out. */
char *cli_template_fill(const char *t, const json_t *vars, cli_escape esc, char *why,
                        size_t whysize);
/* Split one CSV (RFC 4180) or TSV record, rec[0..len) (newlines inside
 * quotes included, no line end), appending each field to the array
 * fields. 0, or -1 with *error saying why. */
int cli_split_row(const char *rec, size_t len, bool tsv, json_t *fields, const char **error);

/* ---- batch-in: source.c: the jobs of a run's inputs, in order ---- */

typedef struct cli_source cli_source;
/* One job the inputs give. */
typedef struct cli_job_in {
  const char *line; /* a job line or URL (len bytes); NULL for a row */
  size_t len;
  json_t *vars;     /* BORROWED: range values or a row's fields, or NULL */
  const char *error; /* not NULL: this row is no job, and why */
} cli_job_in;
/* Open every input of o now (as cli_input_open). NEW, or NULL with msg. */
cli_source *cli_source_open(const cli_options *o, char *msg, size_t msgsize);
/* The next job, valid until the next call: 1, or 0 at the end (as
 * cli_input_next, read errors included). */
int cli_source_next(cli_source *s, cli_job_in *job, bool *read_error, char *msg,
                    size_t msgsize);
/* Whether the next job is at hand without waiting for a read. */
bool cli_source_buffered(const cli_source *s);
/* Jobs in all inputs, or -1 when that cannot be told cheaply. */
int64_t cli_source_count(const cli_source *s);
/* Any thread: as cli_input_stop. */
void cli_source_stop(cli_source *s);
void cli_source_close(cli_source *s);

/* ---- resume.c: --resume: which jobs an earlier run already did ---- */

typedef struct cli_done cli_done;

/* Open path for --resume (created when missing), lock it against another
 * fetchpool (flock), read it, and cut a torn last line (bytes after the
 * last newline) off it, so that the records appended next start on a line
 * of their own. Every record of it that is final (not "cancelled"; and
 * ok, with retry_failed) marks its index done. Refuses, leaving the file
 * as it was: a path that is not a regular file (not even opened when it
 * is a FIFO or a device); a non-empty file none of whose lines, whole or
 * last, is a record (not fetchpool output: appending to it, or cutting
 * its last line, would destroy it); and a last line without a newline
 * that cannot be the start of a record. *fd gets the file, opened for
 * appending, for the new records; *info what was read. NEW
 * (cli_done_free) or NULL with msg filled. */
typedef struct cli_resume_info {
  uint64_t records;    /* whole records read */
  uint64_t foreign;    /* whole lines that are no record (ignored) */
  uint64_t torn_bytes; /* cut off the end: a last line without newline */
} cli_resume_info;
cli_done *cli_resume_open(const char *path, bool retry_failed, int *fd,
                          cli_resume_info *info, char *msg, size_t msgsize);
/* (batch-out) --resume with filters: a filtered record is not written to
 * the resume file, so its side line ({"index", "ok", "error"}) goes to
 * path (the resume file's name + ".filtered") instead; read it into d as
 * cli_resume_open reads its file (a torn last line cut off). A missing
 * file is no error; with create it is made, and *fd gets it opened for
 * appending (else *fd is -1). Locked by the resume file's lock. 0, or -1
 * with msg filled. */
int cli_resume_side(cli_done *d, const char *path, bool retry_failed, bool create, int *fd,
                    char *msg, size_t msgsize);
/* Whether job index is done. */
bool cli_done_has(const cli_done *d, uint64_t index);
/* Mark index done (index <= CLI_MAX_INDEX). 0, or -1 out of memory. */
int cli_done_add(cli_done *d, uint64_t index);
/* Done jobs with an index below n. */
uint64_t cli_done_count_below(const cli_done *d, uint64_t n);
/* NEW empty set, or NULL. */
cli_done *cli_done_new(void);
void cli_done_free(cli_done *d);

/* ---- paths.c: which file a path names ---- */

/* A file, existing or still to be created, as far as telling two paths
 * apart goes. */
typedef struct cli_file_id {
  bool exists;      /* dev, ino and mode say which file */
  dev_t dev;
  ino_t ino;
  mode_t mode;
  bool has_parent;  /* pdev, pino and name say where it is (or would be) */
  dev_t pdev;
  ino_t pino;
  char name[256];   /* its last name, NUL-terminated */
} cli_file_id;

/* Identify the file path names (symbolic links followed), or, when there
 * is none, the directory and name open(O_CREAT) would create it as
 * (dangling links followed). 0, or an errno value when it cannot be told
 * (the caller's own open then reports the problem). */
int cli_file_id_of(const char *path, cli_file_id *id);
/* The same for an open descriptor (no parent). 0 or an errno value. */
int cli_file_id_of_fd(int fd, cli_file_id *id);
/* Whether a and b are the same file: same device and inode, or both yet
 * to be created under the same name in the same directory. */
bool cli_file_id_same(const cli_file_id *a, const cli_file_id *b);

/* ---- signals.c: SIGINT, SIGTERM and SIGHUP ---- */

/* What an interruption does, called on the signal thread: stop (first
 * signal: stop reading, cancel what is queued) and abort (grace period
 * over, or a second signal: stop the transfers in flight). */
typedef struct cli_interrupt {
  void (*stop)(void *arg);
  void (*abort)(void *arg);
  void *arg;
  double grace; /* seconds between stop and abort */
  bool quiet;   /* no notices on standard error */
} cli_interrupt;

/* Call first, before any thread starts: block SIGINT, SIGTERM and SIGHUP
 * (every thread started later inherits the mask) and route them to a
 * self-pipe. A signal ignored when the program started stays ignored.
 * SIGPIPE and SIGXFSZ are ignored, so that a closed pipe or a file size
 * limit is a write error (EPIPE, EFBIG) the caller reports, not a silent
 * death. 0 or -1. */
int cli_signals_install(void);
/* Start the signal thread, the only one with the signals unblocked. Its
 * handler only writes the signal number to the self-pipe; the thread
 * reads it and calls ops. ops is copied. 0, or an errno value. */
int cli_signals_start(const cli_interrupt *ops);
/* Stop and join the signal thread (signals arriving later stay blocked
 * and pending: the run is over). Returns the first signal received, or 0.
 * Does nothing and returns 0 when it was not started. */
int cli_signals_finish(void);
/* "SIGINT", "SIGTERM", "SIGHUP", or "signal" for another. */
const char *cli_signal_name(int sig);

/* ---- redis.c: the Redis connection of the stream commands ---- */

struct redisReply; /* hiredis: only the files that talk to Redis include it */
typedef struct cli_redis cli_redis;

/* NEW, not yet connected, from a redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 * URL; NULL with msg filled for a URL that is not one. */
cli_redis *cli_redis_new(const char *url, char *msg, size_t msgsize);
void cli_redis_free(cli_redis *r);
/* (Re)connect, AUTH and SELECT as the URL says. 0, or -1 with
 * cli_redis_error telling why. */
int cli_redis_connect(cli_redis *r);
/* Drop the connection (cli_redis_connect makes a new one). */
void cli_redis_close(cli_redis *r);
bool cli_redis_connected(const cli_redis *r);
/* Why the last connect or command failed. BORROWED. */
const char *cli_redis_error(const cli_redis *r);
/* HOST:PORT, for messages. Returns buf. */
const char *cli_redis_address(const cli_redis *r, char *buf, size_t size);
/* Run one command: argv[i] is lens[i] bytes (lens NULL: NUL-terminated).
 * Returns the reply (NEW: freeReplyObject; an error reply is a reply), or
 * NULL when the connection failed, which drops it. */
struct redisReply *cli_redis_argv(cli_redis *r, int argc, const char **argv,
                                  const size_t *lens);
/* The same with NUL-terminated string arguments:
 * cli_redis_call(r, "XACK", stream, group, id). */
#define cli_redis_call(r, ...)                                                             \
  cli_redis_argv((r), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
                 (const char *[]){__VA_ARGS__}, NULL)
/* Pipelining: queue a command (0, or -1 when the connection failed), then
 * take each reply in turn with cli_redis_next_reply (as cli_redis_argv). */
int cli_redis_append(cli_redis *r, int argc, const char **argv, const size_t *lens);
struct redisReply *cli_redis_next_reply(cli_redis *r);
/* Whether reply is an error reply starting with prefix (NULL: any). */
bool cli_redis_is_error(const struct redisReply *reply, const char *prefix);
/* Whether reply is an error a server gives while it cannot serve yet
 * (loading its data after a restart, a busy script, a replica without its
 * master, out of memory until streams are trimmed): worth a reconnect
 * with backoff, not giving up. */
bool cli_redis_is_transient(const struct redisReply *reply);
/* Close the connection, keeping why for cli_redis_error. */
void cli_redis_drop(cli_redis *r, const char *why);
/* The value of name in a flat [name, value, ...] array reply (XINFO,
 * stream entry fields), or NULL. BORROWED from map. */
const struct redisReply *cli_redis_field(const struct redisReply *map, const char *name);

/* ---- the stream commands, each a whole program run; return the exit
 * status (see their --help) ---- */

/* enqueue.c: add the input's job lines to the stream. */
int cli_enqueue(const cli_options *o);
/* stream/consumer.c: run the group's jobs until stopped (or empty, --until-empty). */
int cli_worker(const cli_options *o);
/* inspect.c: the stream's progress, and its deduplicated records. */
int cli_status(const cli_options *o);
int cli_results(const cli_options *o);

#endif /* FP_CLI_H */
