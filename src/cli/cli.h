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

#define CLI_DEFAULT_REDIS "redis://127.0.0.1:6379"

typedef struct cli_options {
  cli_command command;
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
  /* the Redis commands (redis.c, enqueue.c, stream/, inspect.c) */
  const char *redis;          /* redis://... URL */
  const char *stream;         /* the job stream */
  const char *group;          /* consumer group */
  const char *consumer;       /* NULL: HOSTNAME-PID */
  const char *results_stream; /* NULL: STREAM:results */
  double claim_idle;          /* seconds before another's job is taken over */
  bool until_empty;
  bool json;                  /* status as JSON */
  /* curl-req: the values of -K files, which fields above may point to */
  char **owned;
  size_t nowned;
} cli_options;


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
/* Counters so far. Thread-safe. */
cli_counts cli_stats_counts(cli_stats *s);
/* Stop the wall clock (the run is over). */
void cli_stats_stop(cli_stats *s);
/* This run resumed an earlier one and skipped that many jobs done there. */
void cli_stats_set_skipped(cli_stats *s, uint64_t skipped);
/* The run was interrupted by signal sig; jobs_left (a static string) says
 * in the summary what became of the jobs it did not run. */
void cli_stats_set_interrupted(cli_stats *s, int sig, const char *jobs_left);
/* The summary, several lines of text. */
void cli_stats_print(cli_stats *s, FILE *out);
/* The same as a JSON object (schema in fetchpool(1)). NEW or NULL. */
json_t *cli_stats_json(cli_stats *s);

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

/* ---- output.c: writer thread, one write() per line, reorder window ---- */

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
void cli_output_free(cli_output *o);
/* Any thread: write all of p[0..len) to fd, in one write() unless the
 * kernel takes less, a signal interrupts it or a non-blocking fd is full
 * (then it waits in poll() and goes on). Returns 0 or the errno. */
int cli_write_all(int fd, const char *p, size_t len);

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
} cli_jobs;

/* Start job index from line (len bytes): submit it, with its record
 * delivered when it is done, or deliver an error record at once for a
 * line that cannot become a request. seq is the caller's number for the
 * job, handed back to deliver. A job refused because the executor is shut
 * down (an interruption) gets a "cancelled" record. */
void cli_job_start(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *line,
                   size_t len);

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
                 const char *line, size_t len);
/* Submit every job in b, in order; b is empty after. */
void cli_batch_flush(const cli_jobs *jobs, cli_batch *b);

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
