/* protocol.h: a stream worker's Redis commands (see protocol.c). */
#ifndef FP_CLI_STREAM_PROTOCOL_H
#define FP_CLI_STREAM_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "outbox.h"

/* Start the job of a stream entry held as number job: line is its "job"
 * field (len bytes, may hold NUL bytes), or NULL for an entry without one.
 * Must put the job in the outbox, now or once it is done. */
typedef void (*cli_stream_start_fn)(void *arg, size_t job, uint64_t index, const char *line,
                                    size_t len);

/* One consumer of a group: the connection, the jobs it holds, and where
 * it stands in the group's pending lists. Fill the first fields, then
 * cli_stream_init. Not thread-safe: the loop's thread only. */
typedef struct cli_stream {
  cli_redis *redis;
  cli_outbox *outbox;
  const char *stream, *group, *consumer, *results;
  double claim_idle; /* seconds: a job idle this long is another's to take */
  bool quiet;        /* no notices on standard error */
  cli_stream_start_fn start;
  void *start_arg;
  /* cli_stream_init sets these */
  bool own_done; /* the jobs this consumer held before it started are read */
  char own_cursor[CLI_JOB_ID_SIZE];
  char claim_cursor[CLI_JOB_ID_SIZE];
  uint64_t released; /* jobs handed back */
} cli_stream;

void cli_stream_init(cli_stream *s);
/* A notice on standard error, "fetchpool worker: " and the printf format
 * and arguments on one line, unless quiet. */
void cli_stream_say(const cli_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Each command below returns -1 when the connection failed or Redis
 * refused the command: the connection is then closed (cli_redis_error
 * says why, or the refusal was said on standard error), and
 * cli_redis_connect makes a new one. */

/* After a connect: create the group (and the stream) when missing, and
 * check that the results key is free or a stream. 0, -1, or 1 for an
 * error that will not heal (said on standard error). */
int cli_stream_prepare(cli_stream *s);
/* XREADGROUP: first the jobs this consumer held before it started, until
 * there are none (cli_stream_own_done), then new ones, waiting up to
 * block_ms for some (< 0: not at all). At most cli_outbox_room. Returns
 * the number of entries read, or -1. */
int cli_stream_read(cli_stream *s, int block_ms);
/* XAUTOCLAIM: take over jobs idle claim_idle or more (their worker died),
 * at most cli_outbox_room, scanning the pending list on from where the
 * last scan ended. 0 or -1. */
int cli_stream_claim(cli_stream *s);
/* XCLAIM JUSTID: mark every held job alive (its idle time back to 0), so
 * no one takes it over. 0 or -1. */
int cli_stream_heartbeat(cli_stream *s);
/* Write what the outbox owes: every record (XADD) and then, once Redis
 * took them all, their XACKs; jobs to hand back are made idle past
 * claim_idle, so others take them now. All or nothing: after a failure
 * everything is written again next time. 0 (cli_outbox_written was
 * called) or -1. */
int cli_stream_flush(cli_stream *s);
/* XPENDING: 1 when the group holds no pending job at all, 0 when it
 * does, -1. */
int cli_stream_drained(cli_stream *s);

#endif /* FP_CLI_STREAM_PROTOCOL_H */
