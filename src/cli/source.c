/* source.c: the jobs of a run, in the order of its arguments: each FILE's
 * job lines (or CSV or TSV rows, --csv, --tsv), and each URL argument's
 * URLs, its ranges and sets expanded one at a time. Nothing is read or
 * expanded ahead beyond one line, so memory does not grow with the
 * number of jobs.
 *
 * The FILEs are read by one cli_input (input.c) over all of them; a line
 * is held back when it belongs to a later FILE than the argument being
 * read, so URL arguments between FILEs keep their place. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cli_source {
  const cli_options *o;
  cli_input *in;       /* the FILEs, or NULL when there are none */
  size_t item;         /* the argument being read */
  size_t file;         /* the FILE it is (its number among FILEs) */
  cli_glob *glob;      /* the URL argument being expanded */
  json_t *vars;        /* the last job's variables */
  /* a line read from cli_input but not handed out yet */
  bool pending;
  const char *pline;
  size_t plen, psource;
  bool input_done;
  /* rows (--csv, --tsv) */
  json_t *columns;     /* the current FILE's header, or NULL */
  size_t columns_of;   /* which FILE it is the header of */
  char *rec;           /* a row being joined across lines */
  size_t rec_len, rec_cap;
  char error[256];
  atomic_bool stopped;
};

cli_source *cli_source_open(const cli_options *o, char *msg, size_t msgsize) {
  cli_source *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(msg, msgsize, "out of memory");
    return NULL;
  }
  s->o = o;
  /* no argument at all: standard input, as before */
  if (o->nfiles || o->nitems == 0) {
    if (!(s->in = cli_input_open(o->files, o->nfiles, msg, msgsize))) {
      free(s);
      return NULL;
    }
    if (o->rows != CLI_ROWS_LINES)
      cli_input_set_raw(s->in, CLI_MAX_ROW);
  }
  return s;
}

void cli_source_close(cli_source *s) {
  if (!s)
    return;
  cli_input_close(s->in);
  cli_glob_free(s->glob);
  json_decref(s->vars);
  json_decref(s->columns);
  free(s->rec);
  free(s);
}

void cli_source_stop(cli_source *s) {
  if (s->in)
    cli_input_stop(s->in);
  atomic_store(&s->stopped, true); /* URL arguments stop too */
}

/* The next line of FILE number file: 1, or 0 when it has no more. */
static int file_line(cli_source *s, size_t file, const char **line, size_t *len,
                     bool *read_error, char *msg, size_t msgsize) {
  if (!s->pending && !s->input_done) {
    if (cli_input_next(s->in, &s->pline, &s->plen, read_error, msg, msgsize)) {
      s->pending = true;
      s->psource = cli_input_source(s->in);
    } else {
      s->input_done = true;
    }
  }
  if (!s->pending || s->psource != file)
    return 0;
  s->pending = false;
  *line = s->pline;
  *len = s->plen;
  return 1;
}

static int append_rec(cli_source *s, const char *p, size_t n) {
  if (s->rec_len + n + 1 > s->rec_cap) {
    size_t cap = (s->rec_len + n + 1) * 2;
    char *grown = realloc(s->rec, cap);
    if (!grown)
      return -1;
    s->rec = grown;
    s->rec_cap = cap;
  }
  memcpy(s->rec + s->rec_len, p, n);
  s->rec_len += n;
  s->rec[s->rec_len] = '\0';
  return 0;
}

/* The next row of the current FILE into job: 1, or 0 when it has no
 * more. A CSV row goes on over lines while a quote is open. */
static int next_row(cli_source *s, cli_job_in *job, bool *read_error, char *msg,
                    size_t msgsize) {
  bool tsv = s->o->rows == CLI_ROWS_TSV;
  for (;;) {
    const char *line;
    size_t len;
    bool quoted = false;
    s->rec_len = 0;
    for (bool first = true;; first = false) {
      if (!file_line(s, s->file, &line, &len, read_error, msg, msgsize)) {
        if (first)
          return 0;
        snprintf(msg, msgsize, "error reading '%s': its last row has a quote that is "
                 "never closed", s->o->files[s->file]);
        *read_error = true;
        return 0;
      }
      if (len && line[len - 1] == '\r') /* CRLF line ends */
        len--;
      if (!first && append_rec(s, "\n", 1))
        goto nomem;
      if (s->rec_len + len > CLI_MAX_ROW) {
        snprintf(msg, msgsize, "error reading '%s': a row over %d bytes (the limit)",
                 s->o->files[s->file], CLI_MAX_ROW);
        *read_error = true;
        /* the rest of this FILE cannot be split into rows reliably */
        while (file_line(s, s->file, &line, &len, read_error, msg, msgsize))
          ;
        return 0;
      }
      if (append_rec(s, line, len))
        goto nomem;
      for (size_t i = 0; !tsv && i < len; i++)
        quoted ^= line[i] == '"';
      if (!quoted)
        break;
    }
    if (s->rec_len == 0)
      continue; /* a blank line */
    json_t *fields = json_array();
    const char *why;
    if (!fields)
      goto nomem;
    int bad = cli_split_row(s->rec, s->rec_len, tsv, fields, &why);
    if (!s->columns || s->columns_of != s->file) { /* the FILE's first row */
      json_decref(s->columns);
      s->columns = fields;
      s->columns_of = s->file;
      if (bad) {
        snprintf(msg, msgsize, "error reading '%s': its header row: %s",
                 s->o->files[s->file], why);
        *read_error = true;
        while (file_line(s, s->file, &line, &len, read_error, msg, msgsize))
          ;
        return 0;
      }
      continue;
    }
    job->line = NULL;
    job->len = 0;
    if (bad) {
      snprintf(s->error, sizeof s->error, "%s row: %s", tsv ? "TSV" : "CSV", why);
      job->error = s->error;
    } else if (json_array_size(fields) != json_array_size(s->columns)) {
      snprintf(s->error, sizeof s->error, "%s row has %zu fields, its header %zu",
               tsv ? "TSV" : "CSV", json_array_size(fields), json_array_size(s->columns));
      job->error = s->error;
    } else if (!(s->vars = json_object())) {
      json_decref(fields);
      goto nomem;
    } else {
      for (size_t i = 0; i < json_array_size(fields); i++)
        json_object_set(s->vars, json_string_value(json_array_get(s->columns, i)),
                        json_array_get(fields, i));
      job->vars = s->vars;
    }
    json_decref(fields);
    return 1;
  }
nomem:
  snprintf(s->error, sizeof s->error, "out of memory");
  job->line = NULL;
  job->error = s->error;
  return 1;
}

int cli_source_next(cli_source *s, cli_job_in *job, bool *read_error, char *msg,
                    size_t msgsize) {
  const cli_options *o = s->o;
  json_decref(s->vars);
  s->vars = NULL;
  memset(job, 0, sizeof *job);
  if (atomic_load(&s->stopped))
    return 0;
  if (o->nitems == 0) { /* standard input */
    if (s->item > 0)
      return 0;
    s->file = 0;
    if (o->rows != CLI_ROWS_LINES) {
      if (next_row(s, job, read_error, msg, msgsize))
        return 1;
    } else if (file_line(s, 0, &job->line, &job->len, read_error, msg, msgsize)) {
      return 1;
    }
    s->item = 1;
    return 0;
  }
  while (s->item < o->nitems) {
    const cli_item *it = &o->items[s->item];
    if (it->url) {
      if (!s->glob && !(s->glob = cli_glob_new(it->arg, o->globoff, msg, msgsize))) {
        /* options.c checked the pattern: only memory can fail here */
        snprintf(s->error, sizeof s->error, "%s", msg);
        job->error = s->error;
        s->item++;
        return 1;
      }
      int rc = cli_glob_next(s->glob, &job->line, &s->vars);
      if (rc > 0) {
        job->len = strlen(job->line);
        job->vars = s->vars;
        return 1;
      }
      cli_glob_free(s->glob);
      s->glob = NULL;
      if (rc < 0) {
        snprintf(s->error, sizeof s->error, "out of memory");
        job->error = s->error;
        s->item++;
        return 1;
      }
    } else {
      int rc = o->rows != CLI_ROWS_LINES
                   ? next_row(s, job, read_error, msg, msgsize)
                   : file_line(s, s->file, &job->line, &job->len, read_error, msg, msgsize);
      if (rc)
        return 1;
      s->file++;
    }
    s->item++;
  }
  return 0;
}

bool cli_source_buffered(const cli_source *s) {
  if (s->item < s->o->nitems && s->o->items[s->item].url)
    return true;
  return s->in && (s->pending || cli_input_buffered(s->in));
}

int64_t cli_source_count(const cli_source *s) {
  const cli_options *o = s->o;
  if (o->rows != CLI_ROWS_LINES)
    return -1;
  int64_t total = s->in ? cli_input_count(s->in) : 0;
  if (total < 0)
    return -1;
  for (size_t i = 0; i < o->nitems; i++) {
    if (!o->items[i].url)
      continue;
    char msg[256];
    cli_glob *g = cli_glob_new(o->items[i].arg, o->globoff, msg, sizeof msg);
    uint64_t n = g ? cli_glob_count(g) : 1;
    cli_glob_free(g);
    if (n > (uint64_t)(INT64_MAX - total))
      return -1;
    total += (int64_t)n;
  }
  return total;
}
