/* cli.h: what the files of the fetchpool program share; the program sees
 * the library only through include/fetchpool.h. */
#ifndef FP_CLI_H
#define FP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fetchpool.h"

/* How records and stats are printed: compact, fields in their documented
 * order, and reals with 15 significant digits so that 0.006 prints as
 * 0.006 and not as jansson's default 17-digit 0.0060000000000000001. */
#define CLI_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Exit statuses (documented in fetchpool(1)). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

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
} cli_counts;

/* NEW, or NULL when out of memory. The wall clock starts now. */
cli_stats *cli_stats_new(void);
void cli_stats_free(cli_stats *s);
/* Count one finished job. Thread-safe. */
void cli_stats_add(cli_stats *s, const cli_result *r);
/* Counters so far. Thread-safe. */
cli_counts cli_stats_counts(cli_stats *s);
/* Stop the wall clock (the run is over). */
void cli_stats_stop(cli_stats *s);
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
void cli_input_close(cli_input *in);

/* ---- output.c: writer thread, one write() per line, reorder window ---- */

typedef struct cli_output cli_output;

/* A writer of records to fd that counts each into stats. At most window
 * jobs are between cli_output_reserve and being written; with ordered,
 * records leave in index order. NEW or NULL with msg filled. */
cli_output *cli_output_new(int fd, bool ordered, size_t window,
                           cli_stats *stats, char *msg, size_t msgsize);
/* Reader side: block until job index (0, 1, 2, ... in turn) fits in the
 * window. */
void cli_output_reserve(cli_output *o, uint64_t index);
/* Any thread: the record of reserved job index (STEALS rec; NULL stands
 * for out of memory) and what it came to. */
void cli_output_put(cli_output *o, uint64_t index, json_t *rec,
                    const cli_result *r);
/* Reader side: there are count jobs in all; wait until every record is
 * written and stop the writer. Returns 0 or the errno of the first failed
 * write (later records were dropped). */
int cli_output_finish(cli_output *o, uint64_t count);
void cli_output_free(cli_output *o);

/* ---- progress.c: a progress line on a terminal ---- */

typedef struct cli_progress cli_progress;

/* Start a thread that redraws the progress line on fd at most 10 times a
 * second from stats; total < 0 when unknown. NEW or NULL. */
cli_progress *cli_progress_start(cli_stats *stats, int64_t total, int fd);
/* Stop the thread and erase the line. NULL is ignored. */
void cli_progress_stop(cli_progress *p);

/* ---- job.c: an input line becomes a submitted job or an error record ---- */

typedef struct cli_jobs {
  fp_executor *ex;
  cli_output *out;
  const fp_request *base; /* the request the command-line options built */
  unsigned record_flags;  /* FP_RECORD_* */
  const char *save_dir;   /* --save DIR, or NULL */
} cli_jobs;

/* Start job index from line (len bytes): submit it, with its record
 * handed to the output when it is done, or hand over an error record at
 * once for a line that cannot become a request. The index must have been
 * reserved in the output. */
void cli_job_start(const cli_jobs *jobs, uint64_t index, const char *line,
                   size_t len);

#endif /* FP_CLI_H */
