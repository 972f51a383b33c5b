/* redis.c: the Redis connection of the stream commands: the redis:// URL,
 * connecting (AUTH, SELECT), commands and pipelines whose connection
 * errors drop the connection so the caller can reconnect. */
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CONNECT_SECONDS 2
/* longer than any BLOCK a command asks for, so only a dead server times out */
#define COMMAND_SECONDS 10

struct cli_redis {
  char host[256];
  int port;
  char user[128];     /* empty: AUTH with the password alone */
  char password[256]; /* empty: no AUTH */
  long db;
  redisContext *ctx;  /* NULL while disconnected */
  char error[640];    /* why the last command or connect failed */
};

/* The message for a bad url: all before its last '@' shown as ***, so a
 * password never reaches stderr (even one the parser took for a path). */
static int fail(char *msg, size_t size, const char *what, const char *url) {
  const char *auth = strncmp(url, "redis://", 8) == 0 ? url + 8 : NULL;
  const char *at = auth ? strrchr(auth, '@') : NULL;
  if (at)
    snprintf(msg, size, "invalid Redis URL 'redis://***%.200s': %s", at, what);
  else
    snprintf(msg, size, "invalid Redis URL '%.200s': %s", url, what);
  return -1;
}

/* Percent-decode src[0..len) into dst (size bytes). 0 or -1. */
static int decode(const char *src, size_t len, char *dst, size_t size) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)src[i];
    if (c == '%') {
      char hex[3] = {0};
      if (i + 2 >= len || !isxdigit((unsigned char)src[i + 1]) ||
          !isxdigit((unsigned char)src[i + 2]))
        return -1;
      memcpy(hex, src + i + 1, 2);
      c = (int)strtoul(hex, NULL, 16);
      i += 2;
    }
    if (c == 0 || n + 1 >= size)
      return -1;
    dst[n++] = (char)c;
  }
  dst[n] = '\0';
  return 0;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], HOST a name, an IPv4
 * address or [IPv6]. */
static int parse_url(cli_redis *r, const char *url, char *msg, size_t size) {
  const char *p = url, *end;
  if (strncmp(p, "redis://", 8) != 0)
    return fail(msg, size, "expected redis://HOST[:PORT][/DB]", url);
  p += 8;
  const char *at = strchr(p, '@'), *slash = strchr(p, '/');
  if (at && (!slash || at < slash)) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (!colon || decode(p, (size_t)(colon - p), r->user, sizeof r->user) ||
        decode(colon + 1, (size_t)(at - colon - 1), r->password, sizeof r->password))
      return fail(msg, size, "expected [USER]:PASSWORD@ before the host", url);
    p = at + 1;
  }
  if (*p == '[') {
    if (!(end = strchr(p, ']')))
      return fail(msg, size, "an IPv6 address needs its closing ]", url);
    p++;
  } else {
    end = p + strcspn(p, ":/");
  }
  if (end == p || (size_t)(end - p) >= sizeof r->host)
    return fail(msg, size, "no host", url);
  memcpy(r->host, p, (size_t)(end - p));
  r->host[end - p] = '\0';
  p = end + (*end == ']');
  r->port = 6379;
  if (*p == ':') {
    uint64_t port;
    size_t digits = strcspn(p + 1, "/");
    char buf[8];
    if (!digits || digits >= sizeof buf)
      return fail(msg, size, "the port must be a number from 1 to 65535", url);
    memcpy(buf, p + 1, digits);
    buf[digits] = '\0';
    if (cli_parse_count(buf, 1, 65535, &port))
      return fail(msg, size, "the port must be a number from 1 to 65535", url);
    r->port = (int)port;
    p += 1 + digits;
  }
  r->db = 0;
  if (*p == '/' && p[1]) {
    uint64_t db;
    if (cli_parse_count(p + 1, 0, 1000000, &db))
      return fail(msg, size, "the database must be a number", url);
    r->db = (long)db;
  } else if (*p && strcmp(p, "/") != 0) {
    return fail(msg, size, "unexpected text after the host", url);
  }
  return 0;
}

cli_redis *cli_redis_new(const char *url, char *msg, size_t size) {
  cli_redis *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(msg, size, "out of memory");
    return NULL;
  }
  if (parse_url(r, url, msg, size)) {
    free(r);
    return NULL;
  }
  return r;
}

void cli_redis_close(cli_redis *r) {
  if (r && r->ctx) {
    redisFree(r->ctx);
    r->ctx = NULL;
  }
}

void cli_redis_free(cli_redis *r) {
  cli_redis_close(r);
  free(r);
}

bool cli_redis_connected(const cli_redis *r) { return r->ctx != NULL; }

const char *cli_redis_error(const cli_redis *r) { return r->error; }

const char *cli_redis_address(const cli_redis *r, char *buf, size_t size) {
  snprintf(buf, size, strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host, r->port);
  return buf;
}

/* A reply that must be OK (AUTH, SELECT). */
static int expect_ok(cli_redis *r, redisReply *reply, const char *what) {
  int rc = 0;
  if (!reply) {
    snprintf(r->error, sizeof r->error, "%s: %s", what, r->ctx->errstr);
    rc = -1;
  } else if (reply->type == REDIS_REPLY_ERROR) {
    snprintf(r->error, sizeof r->error, "%s: %s", what, reply->str);
    rc = -1;
  }
  freeReplyObject(reply);
  return rc;
}

int cli_redis_connect(cli_redis *r) {
  char addr[280];
  cli_redis_close(r);
  struct timeval connect_tv = {CONNECT_SECONDS, 0}, command_tv = {COMMAND_SECONDS, 0};
  redisContext *c = redisConnectWithTimeout(r->host, r->port, connect_tv);
  if (!c || c->err) {
    snprintf(r->error, sizeof r->error, "cannot connect to Redis at %s: %s",
             cli_redis_address(r, addr, sizeof addr), c ? c->errstr : "out of memory");
    redisFree(c);
    return -1;
  }
  r->ctx = c;
  if (redisSetTimeout(c, command_tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
    snprintf(r->error, sizeof r->error, "Redis at %s: %s",
             cli_redis_address(r, addr, sizeof addr), c->errstr);
    goto fail;
  }
  if (r->password[0]) {
    redisReply *reply =
        r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->password)
                   : redisCommand(c, "AUTH %s", r->password);
    if (expect_ok(r, reply, "Redis AUTH"))
      goto fail;
  }
  if (r->db && expect_ok(r, redisCommand(c, "SELECT %ld", r->db), "Redis SELECT"))
    goto fail;
  return 0;
fail:
  cli_redis_close(r);
  return -1;
}

/* After a failed read or write the connection is in an unknown state:
 * drop it, keeping why. */
static void lost(cli_redis *r) {
  char addr[280];
  snprintf(r->error, sizeof r->error, "Redis at %s: %s", cli_redis_address(r, addr, sizeof addr),
           r->ctx->errstr[0] ? r->ctx->errstr : "connection lost");
  cli_redis_close(r);
}

redisReply *cli_redis_argv(cli_redis *r, int argc, const char **argv, const size_t *lens) {
  if (!r->ctx) {
    snprintf(r->error, sizeof r->error, "not connected to Redis");
    return NULL;
  }
  redisReply *reply = redisCommandArgv(r->ctx, argc, argv, lens);
  if (!reply)
    lost(r);
  return reply;
}

int cli_redis_append(cli_redis *r, int argc, const char **argv, const size_t *lens) {
  if (!r->ctx) {
    snprintf(r->error, sizeof r->error, "not connected to Redis");
    return -1;
  }
  if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
    lost(r);
    return -1;
  }
  return 0;
}

redisReply *cli_redis_next_reply(cli_redis *r) {
  void *reply = NULL;
  if (!r->ctx) {
    snprintf(r->error, sizeof r->error, "not connected to Redis");
    return NULL;
  }
  if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
    lost(r);
    return NULL;
  }
  return reply;
}

bool cli_redis_is_error(const redisReply *reply, const char *prefix) {
  return reply && reply->type == REDIS_REPLY_ERROR &&
         (!prefix || strncmp(reply->str, prefix, strlen(prefix)) == 0);
}

bool cli_redis_is_transient(const redisReply *reply) {
  static const char *const passing[] = {"LOADING", "BUSY ", "TRYAGAIN", "MASTERDOWN",
                                        "CLUSTERDOWN", "OOM"};
  for (size_t i = 0; i < sizeof passing / sizeof *passing; i++)
    if (cli_redis_is_error(reply, passing[i]))
      return true;
  return false;
}

void cli_redis_drop(cli_redis *r, const char *why) {
  char addr[280];
  snprintf(r->error, sizeof r->error, "Redis at %s: %s", cli_redis_address(r, addr, sizeof addr),
           why);
  cli_redis_close(r);
}

const redisReply *cli_redis_field(const redisReply *map, const char *name) {
  if (!map || map->type != REDIS_REPLY_ARRAY)
    return NULL;
  for (size_t i = 0; i + 1 < map->elements; i += 2) {
    const redisReply *k = map->element[i];
    if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
        k->len == strlen(name) && memcmp(k->str, name, k->len) == 0)
      return map->element[i + 1];
  }
  return NULL;
}
