/* enqueue.c: fetchpool enqueue: each job line of the input becomes one
 * entry {job: LINE, index: N} of the job stream, sent in pipelined batches
 * so memory stays the same for any input size. Lines are not checked
 * here: a worker turns a bad one into an error record, as a local run
 * does. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Commands in flight before their replies are read: enough to hide the
 * round trip, few enough that the line copies hiredis keeps stay small. */
#define BATCH 1000

/* Read the replies of n queued XADDs. Returns how many added, or -1. */
static long read_replies(cli_redis *r, size_t n, char *msg, size_t size) {
  long added = 0;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    redisReply *reply = cli_redis_next_reply(r);
    if (!reply) {
      snprintf(msg, size, "%s", cli_redis_error(r));
      return -1;
    }
    if (reply->type == REDIS_REPLY_STRING)
      added++;
    else if (!bad++)
      snprintf(msg, size, "XADD failed: %s",
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    freeReplyObject(reply);
  }
  return bad ? -1 : added;
}

int cli_enqueue(const cli_options *o) {
  char msg[512];
  uint64_t added = 0, index = 0;
  size_t queued = 0;
  int status = CLI_EXIT_USAGE;
  cli_redis *r = cli_redis_new(o->redis, msg, sizeof msg);
  cli_input *in = NULL;
  if (!r) {
    cli_usage_error(CLI_ENQUEUE, "%s", msg);
    return CLI_EXIT_USAGE;
  }
  if (!(in = cli_input_open(o->files, o->nfiles, msg, sizeof msg))) {
    fprintf(stderr, "fetchpool enqueue: %s\n", msg);
    goto done;
  }
  if (cli_redis_connect(r)) {
    snprintf(msg, sizeof msg, "%s", cli_redis_error(r));
    goto report;
  }
  const char *line;
  size_t len;
  bool read_error = false;
  while (cli_input_next(in, &line, &len, &read_error, msg, sizeof msg)) {
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)index++);
    const char *argv[] = {"XADD", o->stream, "*", "job", line, "index", num};
    const size_t lens[] = {4, strlen(o->stream), 1, 3, len, 5, strlen(num)};
    if (cli_redis_append(r, 7, argv, lens)) {
      snprintf(msg, sizeof msg, "%s", cli_redis_error(r));
      goto report;
    }
    if (++queued == BATCH) {
      long n = read_replies(r, queued, msg, sizeof msg);
      if (n < 0)
        goto report;
      added += (uint64_t)n, queued = 0;
    }
  }
  if (read_error)
    goto report; /* msg names the file */
  long n = read_replies(r, queued, msg, sizeof msg);
  if (n < 0)
    goto report;
  added += (uint64_t)n;
  if (!o->quiet)
    printf("enqueued %llu jobs to stream %s\n", (unsigned long long)added, o->stream);
  status = fflush(stdout) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
  goto done;
report:
  fprintf(stderr, "fetchpool enqueue: %s (at least %llu jobs were enqueued)\n", msg,
          (unsigned long long)added);
done:
  cli_input_close(in);
  cli_redis_free(r);
  return status;
}
