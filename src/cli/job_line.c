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
 * symlink, an earlier run's body) is left as it was and the body takes
 * the next free NAME.1.EXT, NAME.2.EXT, ... (save_name.c makes NAME;
 * --save-name). A failed or killed transfer never leaves a half body under
 * the final name. Only a 2xx response's body is kept, unless --save-all. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct job {
  const cli_jobs *jobs; /* lives as long as the run */
  uint64_t seq;   /* the output's number for it */
  uint64_t index;
  char *path;     /* --save: where the body went (or was to go), else NULL */
  bool save;      /* --save applies to this job */
  char *tmp;      /* --save: the private file it is written to, once created */
  int fd;         /* the open private file, -1 until the first byte */
  uint64_t written; /* bytes the sink wrote in this attempt */
  int save_errno; /* why saving failed, 0 if it did not */
  json_t *vars;   /* range values ("1", "2"...) or a row's fields, for
                   * --save-name's #N and {field}; or NULL */
} job;

/* Free j (its request and future are not its). */
static void free_job(job *j) {
  if (!j)
    return;
  free(j->path);
  free(j->tmp);
  json_decref(j->vars);
  free(j);
}

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

/* Give the complete body the name path, unless that name is taken:
 * 0 or an errno (EEXIST when it is). */
static int publish_as(const char *tmp, const char *path) {
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return errno;
  /* a file system without RENAME_NOREPLACE: link() refuses a taken name
   * too, and does not follow a symlink there */
  if (link(tmp, path))
    return errno;
  unlink(tmp);
  return 0;
}

/* Most collision suffixes tried (NAME.1.EXT ... NAME.999.EXT). */
#define MAX_SUFFIX 999

/* The body's name in DIR: INDEX.body, or --save-name's (NEW), or NULL
 * with why filled. resp is NULL before the transfer (a check). */
static char *body_name(const job *j, fp_request *req, const fp_response *resp, char *why,
                       size_t whysize) {
  char *name = NULL;
  if (!j->jobs->save_name) {
    if (asprintf(&name, "%llu.body", (unsigned long long)j->index) < 0)
      name = NULL;
    if (!name)
      snprintf(why, whysize, "out of memory");
    return name;
  }
  cli_save_info info = {.index = j->index, .id = fp_request_id(req), .url = fp_request_url(req),
                        .disposition = resp ? fp_response_header(resp, "Content-Disposition")
                                            : NULL,
                        .vars = j->vars};
  return cli_save_name(j->jobs->save_name, &info, why, whysize);
}

/* Give the complete body its name in DIR, or the first free one with a
 * suffix when it is taken (never replacing anything): 0 or an errno.
 * j->path gets the name used (or last tried). */
static int publish(job *j, fp_request *req, const fp_response *resp) {
  char why[256];
  if (!j->tmp)
    return EIO; /* no file was made; save_errno says why */
  char *name = body_name(j, req, resp, why, sizeof why);
  if (!name)
    return ENOMEM; /* checked before the job ran: only memory can fail now */
  int err = EEXIST;
  for (unsigned n = 0; n <= MAX_SUFFIX && err == EEXIST; n++) {
    char *file = n ? cli_save_name_suffixed(name, n) : strdup(name);
    free(j->path);
    j->path = NULL;
    if (!file || asprintf(&j->path, "%s/%s", j->jobs->save_dir, file) < 0) {
      j->path = NULL;
      err = ENOMEM;
    } else {
      err = publish_as(j->tmp, j->path);
    }
    free(file);
  }
  free(name);
  return err;
}

/* The message of a body that could not be saved under path. */
static void save_message(char *msg, size_t size, const char *path, int err) {
  char text[128];
  if (err == EEXIST)
    snprintf(msg, size, "cannot save the body to %s: it and its %d suffixed names are "
             "taken (fetchpool never replaces a file it did not create)", path, MAX_SUFFIX);
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
static void finish_save(job *j, fp_request *req, const fp_response *resp, json_t *rec,
                        cli_result *r) {
  long status = resp ? fp_response_status(resp) : 0;
  /* a complete body, and one wanted: 2xx, or any with --save-all */
  bool complete = resp && fp_response_error(resp) == FP_OK &&
                  (j->jobs->save_all || (status >= 200 && status < 300));
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
  if (complete && !j->save_errno && !(j->save_errno = publish(j, req, resp))) {
    json_object_set_new(rec, "saved", json_string(j->path));
    return;
  }
  if (j->tmp)
    unlink(j->tmp); /* ours; the final name is never removed */
  if (j->save_errno) {
    char msg[512], why[256];
    if (!j->path) { /* failed before publish: name the file it was to be */
      char *name = body_name(j, req, resp, why, sizeof why);
      if (name && asprintf(&j->path, "%s/%s", j->jobs->save_dir, name) < 0)
        j->path = NULL;
      free(name);
    }
    save_message(msg, sizeof msg, j->path ? j->path : j->jobs->save_dir, j->save_errno);
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
  if (j->save && rec) {
    finish_save(j, fp_future_request(f), resp, rec, &r);
  } else {
    if (j->fd >= 0)
      close(j->fd);
    if (j->tmp)
      unlink(j->tmp);
  }
  j->jobs->deliver(j->jobs->deliver_arg, j->seq, j->index, rec, &r);
  free_job(j);
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

/* ---- batch-in: templates ---- */

/* Whether a Content-Type says JSON: application/json or any +json type. */
static bool is_json_type(const char *type) {
  size_t n = strcspn(type, ";");
  if (strncasecmp(type, "application/json", 16) == 0 && (n == 16 || type[16] == ' '))
    return true;
  for (size_t i = 0; i + 5 <= n; i++)
    if (strncasecmp(type + i, "+json", 5) == 0)
      return true;
  return false;
}

/* Fill one template of a job (what names it in messages); NULL after
 * delivering the row's error record. */
static char *fill(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *t,
                  const json_t *row, cli_escape esc, const char *what) {
  char why[160], msg[256];
  char *out = cli_template_fill(t, row, esc, why, sizeof why);
  if (out)
    return out;
  if (!why[0]) {
    put_error(jobs, seq, index, NULL, json_object_get(row, "id"), FP_ERR_NOMEM, NULL);
    return NULL;
  }
  snprintf(msg, sizeof msg, "%s (used by %s)", why, what);
  put_error(jobs, seq, index, NULL, json_object_get(row, "id"), FP_ERR_INVALID_REQUEST, msg);
  return NULL;
}

/* A request from the templates filled with a row's fields: vars (a CSV or
 * TSV row), or the fields of the JSON object on line. *row gets the fields
 * (NEW). NULL after an error record. */
static fp_request *from_template(const cli_jobs *jobs, uint64_t seq, uint64_t index,
                                 const char *line, size_t len, const json_t *vars,
                                 json_t **row) {
  json_t *obj;
  if (vars) {
    obj = json_incref((json_t *)vars);
  } else {
    json_error_t jerr;
    if (!(obj = json_loadb(line, len, JSON_ALLOW_NUL, &jerr))) {
      char msg[256];
      snprintf(msg, sizeof msg, "invalid JSON at column %d: %s", jerr.column, jerr.text);
      put_error(jobs, seq, index, NULL, NULL, FP_ERR_INVALID_JSON, msg);
      return NULL;
    }
    if (!json_is_object(obj)) {
      put_error(jobs, seq, index, NULL, NULL, FP_ERR_INVALID_REQUEST,
                "with --template each line must be a JSON object of fields");
      json_decref(obj);
      return NULL;
    }
  }
  json_t *id = json_object_get(obj, "id");
  char *text = fill(jobs, seq, index, jobs->url_template, obj, CLI_ESCAPE_URL, "--template");
  fp_request *req = text ? fp_request_copy(jobs->base) : NULL;
  if (!text)
    goto fail;
  if (!req || fp_request_set_url(req, text) || (id && fp_request_set_id(req, id))) {
    put_error(jobs, seq, index, text, id, FP_ERR_NOMEM, NULL);
    goto fail;
  }
  for (size_t i = 0; i < jobs->nheader_templates; i++) {
    free(text);
    if (!(text = fill(jobs, seq, index, jobs->header_templates[i], obj, CLI_ESCAPE_NONE,
                      "--header")))
      goto fail;
    int rc = fp_request_add_header_line(req, text);
    if (rc) {
      char msg[256];
      snprintf(msg, sizeof msg, "--header '%.60s' filled from this row is no valid header "
               "(a CR or LF in a value, or too many headers)", jobs->header_templates[i]);
      put_error(jobs, seq, index, fp_request_url(req), id,
                rc == FP_ERR_NOMEM ? FP_ERR_NOMEM : FP_ERR_INVALID_HEADER, msg);
      goto fail;
    }
  }
  if (jobs->body_template) {
    /* a JSON body: labelled so, or unlabelled and starting as JSON does */
    const char *type = fp_request_header(req, "Content-Type");
    const char *t = jobs->body_template + strspn(jobs->body_template, " \t\r\n");
    bool json = type ? is_json_type(type) : (*t == '{' || *t == '[');
    free(text);
    if (!(text = fill(jobs, seq, index, jobs->body_template, obj,
                      json ? CLI_ESCAPE_JSON : CLI_ESCAPE_NONE, "--body-template")))
      goto fail;
    if (fp_request_set_body(req, text, strlen(text)) ||
        (json && !type && fp_request_add_header(req, "Content-Type", "application/json"))) {
      put_error(jobs, seq, index, fp_request_url(req), id, FP_ERR_NOMEM, NULL);
      goto fail;
    }
  }
  free(text);
  *row = obj;
  return req;
fail:
  free(text);
  fp_request_decref(req);
  json_decref(obj);
  return NULL;
}

/* ---- batch-in: --dry-run ---- */

/* Whether a header's value is a secret a dry run must not show. */
static bool secret_header(const char *name) {
  return strcasecmp(name, "Authorization") == 0 ||
         strcasecmp(name, "Proxy-Authorization") == 0 || strcasecmp(name, "Cookie") == 0;
}

/* url with its user information (user:password@) masked. NEW or NULL. */
static char *masked_url(const char *url) {
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : url;
  size_t authority = strcspn(host, "/?#");
  const char *at = NULL;
  for (const char *p = host; p < host + authority; p++)
    if (*p == '@')
      at = p;
  char *out;
  if (!at)
    return strdup(url);
  if (asprintf(&out, "%.*s***%s", (int)(host - url), url, at) < 0)
    return NULL;
  return out;
}

/* What req would send, as one record. NEW or NULL. */
static json_t *dry_record(uint64_t index, const fp_request *req) {
  size_t body_len;
  fp_request_body(req, &body_len);
  char *url = masked_url(fp_request_url(req));
  json_t *headers = json_array();
  json_t *rec = json_object();
  if (!url || !headers || !rec)
    goto fail;
  for (size_t i = 0; i < fp_request_header_count(req); i++) {
    const char *name, *value;
    char *line;
    fp_request_header_at(req, i, &name, &value);
    if (asprintf(&line, "%s: %s", name, secret_header(name) ? "***" : value) < 0)
      goto fail;
    json_array_append_new(headers, json_string(line));
    free(line);
  }
  json_t *id = fp_request_id(req);
  if (json_object_set_new(rec, "index", json_integer((json_int_t)index)) ||
      json_object_set_new(rec, "url", json_string(url)) ||
      (id && json_object_set(rec, "id", id)) ||
      json_object_set_new(rec, "dry_run", json_true()) ||
      json_object_set_new(rec, "method", json_string(fp_request_method(req))) ||
      json_object_set_new(rec, "headers", headers) ||
      json_object_set_new(rec, "body_bytes", json_integer((json_int_t)body_len)))
    goto fail_rec;
  free(url);
  return rec;
fail:
  json_decref(headers);
fail_rec:
  json_decref(rec);
  free(url);
  return NULL;
}

/* Prepare job index from line: its request and per-job state, or NULL
 * after delivering the line's error record. */
static job *prepare(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *line,
                    size_t len, const json_t *vars, fp_request **out) {
  json_t *row = NULL;
  fp_request *req = jobs->url_template ? from_template(jobs, seq, index, line, len, vars, &row)
                    : line[0] == '{'   ? from_json_line(jobs, seq, index, line, len)
                                       : from_url_line(jobs, seq, index, line, len);
  if (!req)
    return NULL;
  job *j = calloc(1, sizeof *j);
  if (!j) {
    json_decref(row);
    goto nomem;
  }
  j->vars = row ? row : vars ? json_incref((json_t *)vars) : NULL;
  j->jobs = jobs;
  j->seq = seq;
  j->index = index;
  j->fd = -1;
  fp_request_set_index(req, index);
  if (jobs->save_dir) {
    j->save = true;
    /* a name that cannot be made ({id} or #N without a value) is known
     * now: the job does not run */
    char why[256];
    char *name = body_name(j, req, NULL, why, sizeof why);
    if (!name) {
      put_error(jobs, seq, index, fp_request_url(req), fp_request_id(req),
                FP_ERR_INVALID_REQUEST, why);
      goto done;
    }
    free(name);
    /* with --body the body is kept for the record, and written at the end */
    if (!(jobs->record_flags & (FP_RECORD_BODY | FP_RECORD_JSON)))
      fp_request_set_sink(req, save_chunk, j);
  }
  *out = req;
  return j;
nomem:
  put_error(jobs, seq, index, fp_request_url(req), fp_request_id(req), FP_ERR_NOMEM, NULL);
done:
  free_job(j);
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
  free_job(j);
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
                 const char *line, size_t len, const json_t *vars) {
  fp_request *req;
  job *j = prepare(jobs, seq, index, line, len, vars, &req);
  if (!j)
    return;
  if (jobs->dry_run) { /* the record says what would be sent; nothing is */
    cli_result r = {.code = FP_OK};
    fp_request_set_index(req, index);
    jobs->deliver(jobs->deliver_arg, seq, index, dry_record(index, req), &r);
    fp_request_decref(req);
    free_job(j);
    return;
  }
  if (b->n == CLI_BATCH)
    cli_batch_flush(jobs, b);
  b->reqs[b->n] = req;
  b->jobs[b->n++] = j;
}

void cli_job_start(const cli_jobs *jobs, uint64_t seq, uint64_t index, const char *line,
                   size_t len, const json_t *vars) {
  cli_batch b = {.n = 0};
  cli_job_add(jobs, &b, seq, index, line, len, vars);
  cli_batch_flush(jobs, &b);
}

void cli_job_error(const cli_jobs *jobs, uint64_t seq, uint64_t index, int code,
                   const char *message) {
  put_error(jobs, seq, index, NULL, NULL, code, message);
}
