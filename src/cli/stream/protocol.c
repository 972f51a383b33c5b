/* protocol.c: a stream worker's Redis commands, at least once: a job is
 * acknowledged (XACK) only after its record is in the results stream, so
 * a worker that dies leaves its jobs pending, and live workers take them
 * over (XAUTOCLAIM) once they have been idle claim_idle. While a worker
 * holds jobs it marks them alive (XCLAIM JUSTID resets their idle time),
 * so only a dead or stuck worker's jobs are taken over; on a stop it hands
 * back the unfinished ones (made idle at once, so others take them now).
 * The commands read and write the outbox (outbox.c) and start jobs through
 * a callback; when to call them is the loop's business (consumer.c). */
#include "protocol.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_IDS 1000 /* ids per XCLAIM */

void cli_stream_init(cli_stream *s) {
  s->own_done = false;
  strcpy(s->own_cursor, "0");
  strcpy(s->claim_cursor, "0-0");
  s->released = 0;
}

void cli_stream_say(const cli_stream *s, const char *fmt, ...) {
  if (s->quiet)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs("fetchpool worker: ", stderr);
  /* clang-tidy 14's analyzer takes ap for uninitialized (as in
   * src/error.c): a false positive */
  vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
  fputc('\n', stderr);
  va_end(ap);
}

static bool is_id(const redisReply *r) {
  return r && r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < CLI_JOB_ID_SIZE;
}

/* An error reply to a command that must work: say so; the connection is
 * dropped and made again, so a passing problem (a restart, OOM) heals. */
static int reply_failed(cli_stream *s, redisReply *reply, const char *what) {
  if (!reply)
    return -1; /* lost: the loop says so when it reconnects */
  if (reply->type == REDIS_REPLY_ERROR) {
    cli_stream_say(s, "%s: %s", what, reply->str);
    cli_redis_close(s->redis);
    freeReplyObject(reply);
    return -1;
  }
  return 0;
}

/* A reply of a server that cannot serve yet (loading its data after a
 * restart): drop the connection and let the loop try again (frees
 * reply). */
static bool not_ready(cli_stream *s, redisReply *reply) {
  if (!cli_redis_is_transient(reply))
    return false;
  cli_redis_drop(s->redis, reply->str);
  freeReplyObject(reply);
  return true;
}

int cli_stream_prepare(cli_stream *s) {
  redisReply *reply =
      cli_redis_call(s->redis, "XGROUP", "CREATE", s->stream, s->group, "0", "MKSTREAM");
  if (!reply || not_ready(s, reply))
    return -1;
  if (reply->type == REDIS_REPLY_ERROR && !cli_redis_is_error(reply, "BUSYGROUP")) {
    fprintf(stderr, "fetchpool worker: cannot create group %s of stream %s: %s\n", s->group,
            s->stream, reply->str);
    freeReplyObject(reply);
    return 1;
  }
  freeReplyObject(reply);
  if (!(reply = cli_redis_call(s->redis, "TYPE", s->results)) || not_ready(s, reply))
    return -1;
  bool ok = reply->type == REDIS_REPLY_STATUS &&
            (!strcmp(reply->str, "none") || !strcmp(reply->str, "stream"));
  if (!ok)
    fprintf(stderr, "fetchpool worker: results key %s holds a %s, not a stream\n", s->results,
            reply->type == REDIS_REPLY_STATUS ? reply->str : "value");
  freeReplyObject(reply);
  return ok ? 0 : 1;
}

/* Start the job of one stream entry [id, [field, value, ...]], holding
 * it. check: the entry may be one we hold (a re-read, a claim). Returns
 * whether it took a place (a job we hold already, or an entry deleted
 * from the stream, does not). */
static bool start_entry(cli_stream *s, const redisReply *entry, bool check) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 || !is_id(entry->element[0]))
    return false;
  const redisReply *idr = entry->element[0], *fields = entry->element[1];
  if (check && cli_outbox_holds(s->outbox, idr->str))
    return false;
  if (fields->type != REDIS_REPLY_ARRAY) {
    /* deleted from the stream while pending: nothing to run */
    freeReplyObject(cli_redis_call(s->redis, "XACK", s->stream, s->group, idr->str));
    return false;
  }
  size_t job = cli_outbox_hold(s->outbox, idr->str, idr->len);
  uint64_t index = 0;
  const redisReply *ix = cli_redis_field(fields, "index");
  if (ix && ix->type == REDIS_REPLY_STRING)
    cli_parse_count(ix->str, 0, CLI_MAX_INDEX, &index);
  const redisReply *line = cli_redis_field(fields, "job");
  if (!line || line->type != REDIS_REPLY_STRING)
    s->start(s->start_arg, job, index, NULL, 0);
  else
    s->start(s->start_arg, job, index, line->len ? line->str : "", line->len);
  return true;
}

/* The entries of an XREADGROUP reply [[stream, [entry, ...]]]. Returns
 * how many there were. */
static size_t start_read(cli_stream *s, const redisReply *reply, bool check) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
    return 0;
  const redisReply *st = reply->element[0];
  if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 ||
      st->element[1]->type != REDIS_REPLY_ARRAY)
    return 0;
  const redisReply *entries = st->element[1];
  for (size_t i = 0; i < entries->elements && cli_outbox_room(s->outbox); i++) {
    start_entry(s, entries->element[i], check);
    if (check && i + 1 == entries->elements && is_id(entries->element[i]->element[0]))
      memcpy(s->own_cursor, entries->element[i]->element[0]->str,
             entries->element[i]->element[0]->len + 1);
  }
  return entries->elements;
}

int cli_stream_read(cli_stream *s, int block_ms) {
  char count[24], block[24];
  snprintf(count, sizeof count, "%zu", cli_outbox_room(s->outbox));
  snprintf(block, sizeof block, "%d", block_ms);
  bool own = !s->own_done;
  const char *argv[] = {"XREADGROUP", "GROUP", s->group, s->consumer, "COUNT", count,
                        "STREAMS", s->stream, own ? s->own_cursor : ">", NULL, NULL};
  if (block_ms >= 0 && !own) { /* BLOCK goes before STREAMS */
    memmove(argv + 8, argv + 6, 3 * sizeof *argv);
    argv[6] = "BLOCK";
    argv[7] = block;
  }
  redisReply *reply = cli_redis_argv(s->redis, block_ms >= 0 && !own ? 11 : 9, argv, NULL);
  if (reply_failed(s, reply, "XREADGROUP"))
    return -1;
  size_t n = reply->type == REDIS_REPLY_NIL ? 0 : start_read(s, reply, own);
  freeReplyObject(reply);
  if (own && n == 0)
    s->own_done = true;
  return (int)n;
}

int cli_stream_claim(cli_stream *s) {
  char min_idle[32], count[24];
  snprintf(min_idle, sizeof min_idle, "%.0f", s->claim_idle * 1000);
  snprintf(count, sizeof count, "%zu", cli_outbox_room(s->outbox));
  redisReply *reply = cli_redis_call(s->redis, "XAUTOCLAIM", s->stream, s->group, s->consumer,
                                     min_idle, s->claim_cursor, "COUNT", count);
  if (reply_failed(s, reply, "XAUTOCLAIM"))
    return -1;
  size_t claimed = 0;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 && is_id(reply->element[0])) {
    memcpy(s->claim_cursor, reply->element[0]->str, reply->element[0]->len + 1);
    const redisReply *entries = reply->element[1];
    /* our own jobs come back too when they went idle (a Redis outage
     * longer than claim_idle stopped the heartbeat): not taken over */
    for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements &&
                       cli_outbox_room(s->outbox);
         i++)
      claimed += start_entry(s, entries->element[i], true);
  }
  freeReplyObject(reply);
  if (claimed)
    cli_stream_say(s, "took over %zu jobs idle for %g s or more", claimed, s->claim_idle);
  return 0;
}

/* XCLAIM ids... [IDLE ms] JUSTID, in chunks: mark our jobs alive
 * (idle 0), or, with idle_ms, hand them back (idle at once). */
static int touch(cli_stream *s, const char *const *ids, size_t n, const char *idle_ms) {
  const char *argv[HEARTBEAT_IDS + 10];
  for (size_t done = 0; done < n;) {
    int argc = 0;
    argv[argc++] = "XCLAIM";
    argv[argc++] = s->stream;
    argv[argc++] = s->group;
    argv[argc++] = s->consumer;
    argv[argc++] = "0";
    for (size_t k = 0; k < HEARTBEAT_IDS && done < n; k++)
      argv[argc++] = ids[done++];
    if (idle_ms) {
      argv[argc++] = "IDLE";
      argv[argc++] = idle_ms;
    }
    argv[argc++] = "JUSTID";
    redisReply *reply = cli_redis_argv(s->redis, argc, argv, NULL);
    if (reply_failed(s, reply, "XCLAIM"))
      return -1;
    freeReplyObject(reply);
  }
  return 0;
}

int cli_stream_heartbeat(cli_stream *s) {
  const char *const *ids;
  size_t n = cli_outbox_ids(s->outbox, &ids);
  return touch(s, ids, n, NULL);
}

/* Read n pipelined replies; -1 at the first that failed. */
static int read_replies(cli_stream *s, size_t n, const char *what) {
  for (; n; n--) {
    redisReply *reply = cli_redis_next_reply(s->redis);
    if (reply_failed(s, reply, what))
      return -1;
    freeReplyObject(reply);
  }
  return 0;
}

/* Records are pipelined, and only once Redis has taken them all go the
 * XACKs of their jobs: an XADD refused (OOM, a read-only replica) must not
 * let its XACK through, or the job would be acked with no record. After
 * any failure the whole outbox is written again (a record may be there
 * twice; records carry job_id for that). */
int cli_stream_flush(cli_stream *s) {
  const cli_outbox_entry *out;
  size_t nout = cli_outbox_pending(s->outbox, &out), nrecords = 0, nrelease = 0;
  const char **release = malloc((nout + 1) * sizeof *release);
  if (!release)
    return -1;
  for (size_t k = 0; k < nout; k++) {
    const char *id = cli_outbox_id(s->outbox, out[k].job);
    if (!out[k].record) {
      release[nrelease++] = id;
      continue;
    }
    const char *add[] = {"XADD", s->results, "*", "job_id", id, "record", out[k].record};
    if (cli_redis_append(s->redis, 7, add, NULL))
      goto lost;
    nrecords++;
  }
  if (read_replies(s, nrecords, "writing records"))
    goto lost;
  for (size_t k = 0; k < nout; k++) {
    const char *ack[] = {"XACK", s->stream, s->group, cli_outbox_id(s->outbox, out[k].job)};
    if (out[k].record && cli_redis_append(s->redis, 4, ack, NULL))
      goto lost;
  }
  if (read_replies(s, nrecords, "acknowledging jobs"))
    goto lost;
  if (nrelease) {
    char idle[32];
    snprintf(idle, sizeof idle, "%.0f", s->claim_idle * 1000 + 1000);
    if (touch(s, release, nrelease, idle))
      goto lost;
    s->released += nrelease;
  }
  free(release);
  cli_outbox_written(s->outbox);
  return 0;
lost:
  free(release);
  /* replies still queued belong to a connection that is gone */
  cli_redis_close(s->redis);
  return -1;
}

int cli_stream_drained(cli_stream *s) {
  redisReply *reply = cli_redis_call(s->redis, "XPENDING", s->stream, s->group);
  if (reply_failed(s, reply, "XPENDING"))
    return -1;
  int drained = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                reply->element[0]->type == REDIS_REPLY_INTEGER &&
                reply->element[0]->integer == 0;
  freeReplyObject(reply);
  return drained;
}
