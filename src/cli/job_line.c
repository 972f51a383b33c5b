/* job_line.c: one input line becomes a job: a request built on the
 * command-line defaults and submitted, whose done callback turns the
 * finished future into a record for the output; or, for a line that cannot
 * become a request, an error record at once. --save streams each body to
 * DIR/<index>.body through a sink with per-job state.
 * Each attempt starts with an empty call to the sink, which empties the
 * file, so with retries it ends up holding the final attempt's body.
 *
 * --save touches no file it did not create: the body is written to a
 * private file in DIR (created with O_EXCL and O_NOFOLLOW, so never an
 * existing file and never through a symlink), and only a complete body is
 * given its final name, by a rename that refuses to replace anything
 * (RENAME_NOREPLACE). A name already taken (a file, a directory, a
 * symlink) fails the job with "aborted" and is left as it was; a job
 * whose name is taken when it starts is not run at all. A failed or
 * killed transfer never leaves a half body under the final name. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct job {
  const cli_jobs *jobs; /* lives as long as the run */
  uint64_t seq;   /* the output's number for it */
  uint64_t index;
  char *path;     /* --save: where the body goes, else NULL */
  char *tmp;      /* --save: the private file it is written to, once created */
  int fd;         /* the open private file, -1 until the first byte */
  uint64_t written; /* bytes the sink wrote in this attempt */
  int save_errno; /* why saving failed, 0 if it did not */
} job;

/* Create the body's private file, DIR/.INDEX.body.PID-N.part: a new
 * name each time (O_EXCL), so a leftover of a killed run or a name planted
 * in DIR is never opened. */
static int open_body_file(job *j) {
  static atomic_uint counter;
  for (int tries = 0; tries < 100; tries++) {
    free(j->tmp);
    if (asprintf(&j->tmp, "%s/.%llu.body.%ld-%u.part", j->jobs->save_dir,
                 (unsigned long long)j->index, (long)getpid(),
                 atomic_fetch_add(&counter, 1)) < 0) {
      j->tmp = NULL;
      j->save_errno = ENOMEM;
      return -1;
    }
    j->fd = open(j->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (j->fd >= 0)
      return 0;
    if (errno != EEXIST)
      break;
  }
  j->save_errno = errno;
  free(j->tmp);
  j->tmp = NULL;
  return -1;
}

/* Give the complete body its final name, unless that name is taken:
 * 0 or an errno (EEXIST when it is). */
static int publish(const job *j) {
  if (!j->tmp)
    return EIO; /* no file was made; save_errno says why */
  if (renameat2(AT_FDCWD, j->tmp, AT_FDCWD, j->path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return errno;
  /* a file system without RENAME_NOREPLACE: link() refuses a taken name
   * too, and does not follow a symlink there */
  if (link(j->tmp, j->path))
    return errno;
  unlink(j->tmp);
  return 0;
}

/* The message of a body that could not be saved under path. */
static void save_message(char *msg, size_t size, const char *path, int err) {
  char text[128];
  if (err == EEXIST)
    snprintf(msg, size, "cannot save the body to %s: the name is taken (fetchpool never "
             "replaces a file it did not create)", path);
  else
    snprintf(msg, size, "cannot save the body to %s: %s", path,
             strerror_r(err, text, sizeof text)); /* GNU: returns the text */
}

/* The sink: runs on a worker thread, one job's chunks in order. Opening
 * on the first byte keeps files closed while jobs wait in the queue. */
static int save_chunk(void *userdata, const void *data, size_t len) {
  job *j = userdata;
  if (!data) { /* a new attempt: forget an earlier attempt's body */
    j->written = 0;
    if (j->fd >= 0 && (ftruncate(j->fd, 0) || lseek(j->fd, 0, SEEK_SET) < 0)) {
      j->save_errno = errno;
      return 1;
    }
    return 0;
  }
  if (j->fd < 0 && open_body_file(j))
    return 1;
  int err = cli_write_all(j->fd, data, len);
  if (err) {
    j->save_errno = err;
    return 1;
  }
  j->written += len;
  return 0;
}

/* What a finished (or cancelled) future came to. */
static cli_result result_of(fp_future *f, const fp_response *resp) {
  cli_result r = {0};
  if (!resp) {
    r.code = fp_future_cancelled(f) ? FP_ERR_CANCELLED : FP_ERR_NOMEM;
    return r;
  }
  r.status = fp_response_status(resp);
  r.elapsed_s = fp_response_elapsed(resp);
  r.bytes = fp_response_bytes(resp);
  r.code = fp_response_error(resp);
  /* a URL refused before any request is no latency sample */
  r.ran = r.status || (r.code != FP_ERR_INVALID_URL && r.code != FP_ERR_UNSUPPORTED_PROTOCOL);
  if (r.code == FP_OK && r.status >= 400)
    r.code = FP_ERR_HTTP;
  return r;
}

static void set_error(json_t *rec, int code, const char *message) {
  json_object_set_new(rec, "ok", json_false());
  json_object_set_new(rec, "error", json_pack("{s:s, s:s}", "code", fp_code_name(code),
                                              "message", message));
}

/* Finish --save for a done job: keep the file of a completed transfer
 * (creating it for an empty body) and name it in the record as "saved";
 * drop a partial one. A body kept in memory (--body) is written here. */
static void finish_save(job *j, const fp_response *resp, json_t *rec, cli_result *r) {
  bool complete = resp && fp_response_error(resp) == FP_OK;
  if (complete && !j->save_errno) {
    size_t len = 0;
    const char *body = fp_response_body(resp, &len);
    if (j->fd < 0)
      open_body_file(j);
    if (j->fd >= 0 && body)
      j->save_errno = cli_write_all(j->fd, body, len);
  }
  if (j->fd >= 0 && close(j->fd) && !j->save_errno)
    j->save_errno = errno;
  j->fd = -1;
  if (complete && !j->save_errno && !(j->save_errno = publish(j))) {
    json_object_set_new(rec, "saved", json_string(j->path));
    return;
  }
  if (j->tmp)
    unlink(j->tmp); /* ours; the final name is never removed */
  if (j->save_errno) {
    char msg[512];
    save_message(msg, sizeof msg, j->path, j->save_errno);
    set_error(rec, FP_ERR_SINK_ABORTED, msg);
    r->code = FP_ERR_SINK_ABORTED;
  }
}

/* Done callback: on the worker that finished f (or the thread that
 * cancelled it), with f borrowed. The record goes to the output, and the
 * caller already dropped its reference, so f goes as soon as this returns. */
static void on_done(fp_future *f, void *userdata) {
  job *j = userdata;
  const fp_response *resp = fp_future_response(f);
  json_t *rec = fp_future_record(f, j->jobs->record_flags);
  cli_result r = result_of(f, resp);
  if (j->path && rec) {
    finish_save(j, resp, rec, &r);
  } else {
    if (j->fd >= 0)
      close(j->fd);
    if (j->tmp)
      unlink(j->tmp);
  }
  j->jobs->deliver(j->jobs->deliver_arg, j->seq, j->index, rec, &r);
  free(j->path);
  free(j->tmp);
  free(j);
}

static void put_error(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *url,
                      json_t *id, int code, const char *message) {
  cli_result r = {.code = code};
  jobs->deliver(jobs->deliver_arg, seq, index, fp_record_error(index, url, id, code, message),
                 &r);
}

/* A request from a JSON job line, or NULL after an error record. */
static fp_request *from_json_line(const cli_jobs *jobs, uint64_t seq, uint64_t index,
                                  const char *line, size_t len) {
  json_error_t jerr;
  json_t *obj = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
  if (!obj) {
    char msg[256];
    /* jansson ends its text with the token it stopped at ("near
     * '\"alice:s3cret'"): a credential of the line, perhaps; drop it */
    char *near = strstr(jerr.text, " near '");
    if (near)
      *near = '\0';
    snprintf(msg, sizeof msg, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    put_error(jobs, seq, index, NULL, NULL, FP_ERR_INVALID_JSON, msg);
    return NULL;
  }
  fp_error err = {0};
  fp_request *req = fp_request_from_json(obj, jobs->base, &err);
  if (!req)
    put_error(jobs, seq, index, json_string_value(json_object_get(obj, "url")),
              json_object_get(obj, "id"), err.code ? err.code : FP_ERR_INVALID_REQUEST,
              err.text);
  json_decref(obj);
  return req;
}

static fp_request *from_url_line(const cli_jobs *jobs, uint64_t seq, uint64_t index,
                                 const char *line, size_t len) {
  if (memchr(line, '\0', len)) {
    put_error(jobs, seq, index, NULL, NULL, FP_ERR_INVALID_URL, "the line holds a NUL byte");
    return NULL;
  }
  fp_request *req = fp_request_copy(jobs->base);
  if (!req || fp_request_set_url(req, line)) {
    fp_request_decref(req);
    put_error(jobs, seq, index, NULL, NULL, FP_ERR_NOMEM, NULL);
    return NULL;
  }
  return req;
}

/* Prepare job index from line: its request and per-job state, or NULL
 * after delivering the line's error record. */
static job *prepare(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *line,
                    size_t len, fp_request **out) {
  fp_request *req = line[0] == '{' ? from_json_line(jobs, seq, index, line, len)
                                   : from_url_line(jobs, seq, index, line, len);
  if (!req)
    return NULL;
  job *j = calloc(1, sizeof *j);
  if (!j)
    goto nomem;
  j->jobs = jobs;
  j->seq = seq;
  j->index = index;
  j->fd = -1;
  fp_request_set_index(req, index);
  if (jobs->save_dir) {
    if (asprintf(&j->path, "%s/%llu.body", jobs->save_dir, (unsigned long long)index) < 0) {
      j->path = NULL;
      goto nomem;
    }
    /* a taken name would make the transfer a waste: the body could not be
     * kept (publish checks again, for a name taken meanwhile) */
    struct stat st;
    if (fstatat(AT_FDCWD, j->path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      char msg[512];
      save_message(msg, sizeof msg, j->path, EEXIST);
      put_error(jobs, seq, index, fp_request_url(req), fp_request_id(req), FP_ERR_SINK_ABORTED,
                msg);
      goto done;
    }
    /* with --body the body is kept for the record, and written at the end */
    if (!(jobs->record_flags & FP_RECORD_BODY))
      fp_request_set_sink(req, save_chunk, j);
  }
  *out = req;
  return j;
nomem:
  put_error(jobs, seq, index, fp_request_url(req), fp_request_id(req), FP_ERR_NOMEM, NULL);
done:
  if (j) {
    free(j->path);
    free(j->tmp);
  }
  free(j);
  fp_request_decref(req);
  return NULL;
}

/* A prepared job the executor did not take: its record says why. */
static void refused(job *j, fp_request *req, const fp_error *err) {
  /* shut down by an interruption between reading the line and here: the
   * job did not run, and a rerun (--resume) must not skip it */
  if (err->code == FP_ERR_SHUTDOWN)
    put_error(j->jobs, j->seq, j->index, fp_request_url(req), fp_request_id(req),
              FP_ERR_CANCELLED, "interrupted before the job started");
  else
    put_error(j->jobs, j->seq, j->index, fp_request_url(req), fp_request_id(req), err->code,
              err->text);
  free(j->path);
  free(j->tmp);
  free(j);
}

void cli_batch_flush(const cli_jobs *jobs, cli_batch *b) {
  fp_future *fs[CLI_BATCH];
  fp_error err = {0};
  size_t accepted = fp_executor_submit_many(jobs->ex, b->reqs, b->n, FP_FOREVER, fs, &err);
  for (size_t i = 0; i < b->n; i++) {
    job *j = b->jobs[i];
    if (i >= accepted) {
      refused(j, b->reqs[i], &err);
    } else if (fp_future_add_done_callback(fs[i], on_done, j)) {
      /* no memory for the callback: finish this one job here instead */
      fp_future_wait(fs[i], FP_FOREVER);
      on_done(fs[i], j);
    }
    if (i < accepted)
      fp_future_decref(fs[i]);
    fp_request_decref(b->reqs[i]);
  }
  b->n = 0;
}

void cli_job_add(const cli_jobs *jobs, cli_batch *b, uint64_t seq, uint64_t index,
                 const char *line, size_t len) {
  fp_request *req;
  job *j = prepare(jobs, seq, index, line, len, &req);
  if (!j)
    return;
  if (b->n == CLI_BATCH)
    cli_batch_flush(jobs, b);
  b->reqs[b->n] = req;
  b->jobs[b->n++] = j;
}

void cli_job_start(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *line,
                   size_t len) {
  cli_batch b = {.n = 0};
  cli_job_add(jobs, &b, seq, index, line, len);
  cli_batch_flush(jobs, &b);
}
