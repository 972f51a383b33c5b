/* inspect.c: the read-only stream commands: fetchpool status (how far a
 * stream's jobs are, per group and consumer) and fetchpool results (the
 * records as JSON Lines, one per job: a job that ran twice, because its
 * worker died after writing its record, is printed once). */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define PAGE "1000" /* entries per XRANGE */

static cli_redis *open_redis(const cli_options *o, const char *cmd) {
  char msg[512];
  cli_redis *r = cli_redis_new(o->redis, msg, sizeof msg);
  if (!r) {
    cli_usage_error(o->command, "%s", msg);
    return NULL;
  }
  if (cli_redis_connect(r)) {
    fprintf(stderr, "fetchpool %s: %s\n", cmd, cli_redis_error(r));
    cli_redis_free(r);
    return NULL;
  }
  return r;
}

static void results_name(const cli_options *o, char *buf, size_t size) {
  snprintf(buf, size, "%s%s", o->results_stream ? o->results_stream : o->stream,
           o->results_stream ? "" : ":results");
}

/* A reply that is an error, or gone with the connection: say so. */
static bool failed(cli_redis *r, const redisReply *reply, const char *cmd) {
  if (!reply)
    fprintf(stderr, "fetchpool %s: %s\n", cmd, cli_redis_error(r));
  else if (reply->type == REDIS_REPLY_ERROR)
    fprintf(stderr, "fetchpool %s: %s\n", cmd, reply->str);
  return !reply || reply->type == REDIS_REPLY_ERROR;
}

/* ---- status ---- */

/* An integer field of an XINFO reply as JSON: null when missing or nil
 * (entries-read is unknown after some deletions). */
static json_t *int_field(const redisReply *map, const char *name) {
  const redisReply *v = cli_redis_field(map, name);
  return v && v->type == REDIS_REPLY_INTEGER ? json_integer(v->integer) : json_null();
}

static json_t *consumers_json(cli_redis *r, const cli_options *o, bool *ok) {
  json_t *list = json_array();
  redisReply *reply = cli_redis_call(r, "XINFO", "CONSUMERS", o->stream, o->group);
  *ok = !failed(r, reply, "status");
  for (size_t i = 0; *ok && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
    const redisReply *c = reply->element[i], *name = cli_redis_field(c, "name");
    json_array_append_new(list, json_pack("{s:s%, s:o, s:o}", "name",
                                          name ? name->str : "", name ? name->len : 0,
                                          "pending", int_field(c, "pending"), "idle_ms",
                                          int_field(c, "idle")));
  }
  freeReplyObject(reply);
  return list;
}

/* The status as JSON, or NULL after a reported error. */
static json_t *status_json(cli_redis *r, const cli_options *o) {
  char results[512];
  bool ok;
  results_name(o, results, sizeof results);
  redisReply *jobs = cli_redis_call(r, "XLEN", o->stream);
  redisReply *recs = jobs ? cli_redis_call(r, "XLEN", results) : NULL;
  redisReply *groups = recs ? cli_redis_call(r, "XINFO", "GROUPS", o->stream) : NULL;
  json_t *st = NULL;
  if (failed(r, jobs, "status") || failed(r, recs, "status"))
    goto done;
  st = json_pack("{s:s, s:I, s:s, s:n, s:s, s:I}", "stream", o->stream, "jobs",
                 (json_int_t)jobs->integer, "group", o->group, "group_exists", "results_stream",
                 results, "results", (json_int_t)recs->integer);
  /* no stream yet: XINFO fails with "no such key", and there is no group */
  const redisReply *g = NULL;
  for (size_t i = 0; groups && groups->type == REDIS_REPLY_ARRAY && i < groups->elements; i++) {
    const redisReply *name = cli_redis_field(groups->element[i], "name");
    if (name && name->type == REDIS_REPLY_STRING && !strcmp(name->str, o->group))
      g = groups->element[i];
  }
  if (!groups && !cli_redis_connected(r)) {
    failed(r, NULL, "status");
    json_decref(st), st = NULL;
    goto done;
  }
  json_object_set_new(st, "group_exists", json_boolean(g != NULL));
  json_t *delivered = g ? int_field(g, "entries-read") : json_integer(0);
  json_t *pending = g ? int_field(g, "pending") : json_integer(0);
  json_t *acked = json_is_integer(delivered) && json_is_integer(pending)
                      ? json_integer(json_integer_value(delivered) - json_integer_value(pending))
                      : json_null();
  json_object_set_new(st, "delivered", delivered);
  json_object_set_new(st, "pending", pending);
  json_object_set_new(st, "acked", acked);
  json_object_set_new(st, "undelivered", g ? int_field(g, "lag") : json_integer(jobs->integer));
  json_object_set_new(st, "consumers", g ? consumers_json(r, o, &ok) : json_array());
  if (g && !ok)
    json_decref(st), st = NULL;
done:
  freeReplyObject(jobs);
  freeReplyObject(recs);
  freeReplyObject(groups);
  return st;
}

static void print_count(FILE *f, const char *label, const json_t *v) {
  if (json_is_integer(v))
    fprintf(f, "  %-12s %" JSON_INTEGER_FORMAT "\n", label, json_integer_value(v));
  else
    fprintf(f, "  %-12s unknown\n", label);
}

static void print_status(const json_t *st) {
  printf("stream %s: %" JSON_INTEGER_FORMAT " jobs\n",
         json_string_value(json_object_get(st, "stream")),
         json_integer_value(json_object_get(st, "jobs")));
  if (!json_is_true(json_object_get(st, "group_exists"))) {
    printf("group %s: not created yet (a worker creates it)\n",
           json_string_value(json_object_get(st, "group")));
  } else {
    printf("group %s:\n", json_string_value(json_object_get(st, "group")));
    print_count(stdout, "delivered", json_object_get(st, "delivered"));
    print_count(stdout, "pending", json_object_get(st, "pending"));
    print_count(stdout, "acked", json_object_get(st, "acked"));
    print_count(stdout, "undelivered", json_object_get(st, "undelivered"));
    const json_t *list = json_object_get(st, "consumers");
    for (size_t i = 0; i < json_array_size(list); i++) {
      const json_t *c = json_array_get(list, i);
      printf("  consumer %s: %" JSON_INTEGER_FORMAT " pending, idle %.1f s\n",
             json_string_value(json_object_get(c, "name")),
             json_integer_value(json_object_get(c, "pending")),
             (double)json_integer_value(json_object_get(c, "idle_ms")) / 1000);
    }
  }
  printf("results %s: %" JSON_INTEGER_FORMAT " records\n",
         json_string_value(json_object_get(st, "results_stream")),
         json_integer_value(json_object_get(st, "results")));
}

int cli_status(const cli_options *o) {
  cli_redis *r = open_redis(o, "status");
  if (!r)
    return CLI_EXIT_USAGE;
  json_t *st = status_json(r, o);
  int status = CLI_EXIT_USAGE;
  if (st) {
    if (o->json) {
      json_dumpf(st, stdout, CLI_JSON_FLAGS);
      putchar('\n');
    } else {
      print_status(st);
    }
    status = fflush(stdout) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
  }
  json_decref(st);
  cli_redis_free(r);
  return status;
}

/* ---- results ---- */

/* A set of stream ids ("ms-seq", two 64-bit numbers): open addressing,
 * 16 bytes a job, so ten million jobs take about 320 MiB at worst. */
typedef struct id_set {
  uint64_t *keys; /* pairs; (0, 0) is empty, so ids are stored + 1 */
  size_t cap, len;
} id_set;

static bool parse_id(const char *s, size_t len, uint64_t *ms, uint64_t *seq) {
  char buf[48];
  const char *dash = memchr(s, '-', len);
  if (!dash || len >= sizeof buf)
    return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  buf[dash - s] = '\0';
  return !cli_parse_count(buf, 0, UINT64_MAX - 1, ms) &&
         !cli_parse_count(buf + (dash - s) + 1, 0, UINT64_MAX - 1, seq);
}

static size_t slot_of(uint64_t ms, uint64_t seq, size_t cap) {
  uint64_t h = (ms * 0x9E3779B97F4A7C15ull) ^ (seq + 0x632BE59BD9B4E019ull);
  h ^= h >> 29;
  return (size_t)(h * 0xBF58476D1CE4E5B9ull >> 7) & (cap - 1);
}

/* Add (ms, seq). 1 added, 0 already there, -1 out of memory. */
static int id_set_add(id_set *s, uint64_t ms, uint64_t seq) {
  if ((s->len + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *keys = calloc(cap * 2, sizeof *keys);
    if (!keys)
      return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->keys[2 * i] && !s->keys[2 * i + 1])
        continue;
      size_t j = slot_of(s->keys[2 * i], s->keys[2 * i + 1], cap);
      while (keys[2 * j] || keys[2 * j + 1])
        j = (j + 1) & (cap - 1);
      keys[2 * j] = s->keys[2 * i], keys[2 * j + 1] = s->keys[2 * i + 1];
    }
    free(s->keys);
    s->keys = keys, s->cap = cap;
  }
  ms++, seq++;
  size_t j = slot_of(ms, seq, s->cap);
  for (; s->keys[2 * j] || s->keys[2 * j + 1]; j = (j + 1) & (s->cap - 1))
    if (s->keys[2 * j] == ms && s->keys[2 * j + 1] == seq)
      return 0;
  s->keys[2 * j] = ms, s->keys[2 * j + 1] = seq;
  s->len++;
  return 1;
}

/* Print one page of records; *after gets the last entry id. Returns the
 * number of entries, or -1 (reported). */
static long print_page(const redisReply *page, id_set *seen, int fd, uint64_t *dups,
                       char *after, size_t after_size) {
  for (size_t i = 0; i < page->elements; i++) {
    const redisReply *e = page->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
      continue;
    snprintf(after, after_size, "(%s", e->element[0]->str);
    const redisReply *job = cli_redis_field(e->element[1], "job_id");
    const redisReply *rec = cli_redis_field(e->element[1], "record");
    uint64_t ms, seq;
    if (!rec || rec->type != REDIS_REPLY_STRING)
      continue; /* not a record of ours */
    if (job && job->type == REDIS_REPLY_STRING && parse_id(job->str, job->len, &ms, &seq)) {
      int added = id_set_add(seen, ms, seq);
      if (added < 0) {
        fprintf(stderr, "fetchpool results: out of memory\n");
        return -1;
      }
      if (!added) {
        (*dups)++;
        continue;
      }
    }
    /* one write a record: the output never holds a torn line */
    char *line = malloc(rec->len + 1);
    if (!line) {
      fprintf(stderr, "fetchpool results: out of memory\n");
      return -1;
    }
    memcpy(line, rec->str, rec->len);
    line[rec->len] = '\n';
    int bad = cli_write_all(fd, line, rec->len + 1);
    free(line);
    if (bad) {
      fprintf(stderr, "fetchpool results: cannot write: %s\n", strerror(bad));
      return -1;
    }
  }
  return (long)page->elements;
}

int cli_results(const cli_options *o) {
  char results[512], after[64] = "-";
  id_set seen = {0};
  uint64_t dups = 0;
  int status = CLI_EXIT_USAGE, fd = STDOUT_FILENO;
  /* not truncated until Redis answers: a server that is down must not
   * cost the records an earlier call wrote */
  if (o->output && (fd = open(o->output, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666)) < 0) {
    fprintf(stderr, "fetchpool results: cannot open output '%s': %s\n", o->output,
            strerror(errno));
    return CLI_EXIT_USAGE;
  }
  cli_redis *r = open_redis(o, "results");
  if (!r)
    goto done;
  struct stat st;
  if (fd != STDOUT_FILENO && (fstat(fd, &st) || (S_ISREG(st.st_mode) && ftruncate(fd, 0)))) {
    fprintf(stderr, "fetchpool results: cannot empty output '%s': %s\n", o->output,
            strerror(errno));
    goto done;
  }
  results_name(o, results, sizeof results);
  for (;;) {
    redisReply *page = cli_redis_call(r, "XRANGE", results, after, "+", "COUNT", PAGE);
    if (failed(r, page, "results"))
      goto done_reply;
    long n = page->type == REDIS_REPLY_ARRAY
                 ? print_page(page, &seen, fd, &dups, after, sizeof after)
                 : 0;
    freeReplyObject(page);
    if (n < 0)
      goto done;
    if (n == 0)
      break;
    continue;
  done_reply:
    freeReplyObject(page);
    goto done;
  }
  if (!o->quiet && dups)
    fprintf(stderr, "fetchpool results: %llu jobs, %llu duplicate records left out\n",
            (unsigned long long)seen.len, (unsigned long long)dups);
  status = CLI_EXIT_OK;
done:
  free(seen.keys);
  cli_redis_free(r);
  if (fd != STDOUT_FILENO && close(fd) && status == CLI_EXIT_OK) {
    fprintf(stderr, "fetchpool results: cannot write '%s': %s\n", o->output, strerror(errno));
    status = CLI_EXIT_USAGE;
  }
  return status;
}
