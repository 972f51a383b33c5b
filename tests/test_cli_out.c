/* test_cli_out.c: what the fetchpool program writes (issue 14, "Out"):
 * JSON bodies as values (--body), record filters (--only-failed,
 * --match-status, --filter-status, --match-error) with --resume across a
 * kill -9, --format csv/tsv, -w/--write-out, and saved files with real
 * names (--save-name, --save-all, --max-filesize), run as a child process
 * against the in-process loopback server. */
#include <dirent.h>

#include "testutil.h"
#include "cli_harness.h"

/* ------------------------------------------------------------ helpers */

static json_t *file_records(const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text)
    return json_array(); /* no file: no records */
  json_t *recs = records_of(text, len, true, NULL);
  free(text);
  return recs;
}

/* Entries of dir other than . and .., and how many of them are hidden
 * (a leading '.': the private files bodies are written to). */
static size_t dir_entries(const char *dir, size_t *hidden) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  if (hidden)
    *hidden = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    n++;
    if (hidden && e->d_name[0] == '.')
      (*hidden)++;
  }
  closedir(d);
  return n;
}

static void assert_file(const char *path, const char *want) {
  size_t len;
  char *got = read_file(path, &len);
  if (!got)
    fail_msg("no file %s", path);
  if (len != strlen(want) || memcmp(got, want, len))
    fail_msg("%s holds '%.*s', not '%s'", path, (int)len, got, want);
  free(got);
}

/* ------------------------------------------------------------ JSON values */

static void test_body_json_values(void **state) {
  /* a JSON-typed body that parses is "json": value (any value, +json
   * types too); a JSON-typed one that does not parse stays "body" with
   * "json_error"; other types stay "body" even when they hold JSON */
  char *u[5] = {tu_url("/json/3"), tu_url("/typed?type=application/problem%%2Bjson&body=[1,2]"),
                tu_url("/typed?type=application/json;%%20charset=utf-8&body=%%7B%%22a%%22:"),
                tu_url("/typed?type=text/plain&body=%%7B%%7D"),
                tu_url("/typed?type=application/json&body=42")};
  char input[4096];
  snprintf(input, sizeof input, "%s\n%s\n%s\n%s\n%s\n", u[0], u[1], u[2], u[3], u[4]);
  run r;
  RUN(&r, input, "-q", "--body");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  json_t *v = json_object_get(by_index(recs, 0), "json");
  assert_int_equal(num(v, "id"), 3);
  assert_string_equal(str(json_object_get(v, "price"), "currency"), "EUR");
  assert_null(json_object_get(by_index(recs, 0), "body"));
  v = json_object_get(by_index(recs, 1), "json");
  assert_true(json_is_array(v) && json_array_size(v) == 2);
  json_t *bad = by_index(recs, 2);
  assert_null(json_object_get(bad, "json"));
  assert_string_equal(str(bad, "body"), "{\"a\":");
  assert_true(contains(str(bad, "json_error"), "line 1"));
  assert_string_equal(str(by_index(recs, 3), "body"), "{}");
  assert_null(json_object_get(by_index(recs, 3), "json"));
  assert_int_equal(json_integer_value(json_object_get(by_index(recs, 4), "json")), 42);
  json_decref(recs);
  run_free(&r);
  for (int i = 0; i < 5; i++)
    free(u[i]);
}

/* ------------------------------------------------------------ filters */

static void test_filters(void **state) {
  char *ok = tu_url("/status/200"), *nf = tu_url("/status/404"), *se = tu_url("/status/500"),
       *tx = tu_url("/text/x"), *stats = tmp_path("filters-stats.json");
  char input[4096];
  snprintf(input, sizeof input, "%s\n%s\n%s\n%s\nhttp://127.0.0.1:%u/refused\n", ok, nf, se, tx,
           closed_port());
  static const struct {
    const char *opt, *arg;
    const char *want; /* indexes written */
  } cases[] = {
      {"--only-failed", NULL, "1,2,4"},
      {"--match-status", "200-299,404", "0,1,3"},
      {"--filter-status", "400-599", "0,3,4"},
      {"--match-error", "connect,timeout", "4"},
      {"--match-error", "http", "1,2"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    run r;
    if (cases[c].arg)
      RUN(&r, input, "-q", "--ordered", "--stats-json", stats, cases[c].opt, cases[c].arg);
    else
      RUN(&r, input, "-q", "--ordered", "--stats-json", stats, cases[c].opt);
    assert_int_equal(r.status, 1); /* failures still fail the run */
    json_t *recs = records(&r);
    char got[64] = "";
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
               (long long)num(rec, "index"));
    }
    if (strcmp(got, cases[c].want))
      fail_msg("%s %s: wrote %s, want %s", cases[c].opt, cases[c].arg ? cases[c].arg : "", got,
               cases[c].want);
    size_t len;
    char *text = read_file(stats, &len);
    json_t *s = json_loads(text, 0, NULL);
    assert_int_equal(num(s, "jobs"), 5); /* filtered ones are counted */
    assert_int_equal(num(s, "filtered"), 5 - (json_int_t)json_array_size(recs));
    json_decref(s);
    free(text);
    json_decref(recs);
    run_free(&r);
  }
  /* the summary says how many were filtered */
  run r;
  RUN(&r, input, "--only-failed");
  assert_true(contains(r.err, "filtered: 2 records not written"));
  run_free(&r);
  /* bad lists are usage errors, and nothing runs */
  unsigned long before = ts_requests(tu_server);
  static const char *const bad[][2] = {
      {"--match-status", "99"},       {"--match-status", "300-200"}, {"--filter-status", ""},
      {"--filter-status", "2xx"},     {"--match-error", "nope"},    {"--match-error", "http,"},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    RUN(&r, input, bad[c][0], bad[c][1]);
    if (r.status != 2 || !contains(r.err, bad[c][0]))
      fail_msg("%s '%s': exit %d, %s", bad[c][0], bad[c][1], r.status, r.err);
    run_free(&r);
  }
  assert_int_equal(ts_requests(tu_server), before);
  free(ok), free(nf), free(se), free(tx), free(stats);
}

static void test_only_failed_resume_kill9(void **state) {
  /* --only-failed --resume across a kill -9: the filtered (ok) jobs go to
   * FILE.filtered, so the rerun runs exactly the jobs not done: every
   * index ends up in exactly one of the two files, none twice, none lost */
  enum { N = 300, THREADS = 10 };
  /* 3 s of work at least (30 rounds of 100 ms, slower under sanitizers),
   * killed a third of the way in */
  int ms = (int)(100 * tu_time_scale());
  char *ok = tu_url("/delay/%d", ms), *bad = tu_url("/status/500?delay=%d", ms);
  size_t cap = N * (strlen(bad) + 2) + 1, len = 0;
  char *input = malloc(cap);
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(input + len, cap - len, "%s\n", i % 3 ? ok : bad);
  char *in_path = write_tmp("of-in.txt", input, len), *out = tmp_path("of-out.jsonl");
  char side[600];
  snprintf(side, sizeof side, "%s.filtered", out);
  unsigned long before = ts_requests(tu_server);
  const cli_event ev[] = {{1.0 * tu_time_scale(), SIGKILL}};
  run r;
  RUN_EVENTS(&r, NULL, ev, 1, "-q", "-t", "10", "--only-failed", "--resume", out, in_path);
  assert_int_equal(r.status, 128 + SIGKILL);
  run_free(&r);
  json_t *a = file_records(out), *b = file_records(side);
  size_t first = json_array_size(a) + json_array_size(b);
  if (first == 0 || first >= N)
    fail_msg("the kill came %s: %zu of %d jobs done", first ? "too late" : "too early", first,
             N);
  json_decref(a);
  json_decref(b);

  RUN(&r, NULL, "-q", "-t", "100", "--only-failed", "--resume", out, in_path);
  assert_int_equal(r.status, 1);
  run_free(&r);
  a = file_records(out);
  b = file_records(side);
  int seen[N] = {0};
  size_t i;
  json_t *rec;
  json_array_foreach(a, i, rec) {
    json_int_t ix = num(rec, "index");
    assert_true(ix >= 0 && ix < N);
    assert_int_equal(ix % 3, 0); /* only failures are written */
    assert_string_equal(error_code(rec), "http");
    seen[ix]++;
  }
  json_array_foreach(b, i, rec) {
    json_int_t ix = num(rec, "index");
    assert_true(ix >= 0 && ix < N);
    assert_int_not_equal(ix % 3, 0);
    assert_true(json_is_true(json_object_get(rec, "ok")));
    seen[ix]++;
  }
  for (int k = 0; k < N; k++)
    if (seen[k] != 1)
      fail_msg("job %d has %d records", k, seen[k]);
  /* a job ran twice only when the kill cut it short (at most -t of them) */
  unsigned long ran = ts_requests(tu_server) - before;
  assert_true(ran >= N && ran <= N + THREADS);
  /* a third run has nothing left to do */
  RUN(&r, NULL, "-q", "--only-failed", "--resume", out, in_path);
  assert_int_equal(ts_requests(tu_server) - before, ran);
  run_free(&r);
  json_decref(a);
  json_decref(b);
  free(ok), free(bad), free(input), free(in_path), free(out);
}

/* ------------------------------------------------------------ formats */

static void test_csv_tsv(void **state) {
  char *ok = tu_url("/text/x"), *nf = tu_url("/status/404");
  char input[4096];
  /* an id with a comma, quotes, a tab and a newline */
  snprintf(input, sizeof input, "{\"url\":\"%s\",\"id\":\"a,\\\"b\\\"\\tc\\nd\\\\\"}\n%s\n", ok,
           nf);
  run r;
  RUN(&r, input, "-q", "--ordered", "--format", "csv");
  assert_int_equal(r.status, 1);
  char want[4096];
  snprintf(want, sizeof want,
           "index,url,id,status,ok,error_code,error_message,effective_url,elapsed_ms,bytes,"
           "attempts,saved\n0,%s,\"a,\"\"b\"\"\tc\nd\\\",200,true,,,%s,",
           ok, ok);
  if (strncmp(r.out, want, strlen(want)))
    fail_msg("csv:\n%s\nwant a start of:\n%s", r.out, want);
  assert_true(contains(r.out, ",404,false,http,HTTP status 404,"));
  assert_int_equal(count_lines(r.out), 4); /* the quoted newline is one more */
  run_free(&r);

  RUN(&r, input, "-q", "--ordered", "--format", "tsv");
  snprintf(want, sizeof want,
           "index\turl\tid\tstatus\tok\terror_code\terror_message\teffective_url\telapsed_ms\t"
           "bytes\tattempts\tsaved\n0\t%s\ta,\"b\"\\tc\\nd\\\\\t200\ttrue\t\t\t%s\t",
           ok, ok);
  if (strncmp(r.out, want, strlen(want)))
    fail_msg("tsv:\n%s\nwant a start of:\n%s", r.out, want);
  assert_int_equal(count_lines(r.out), 3);
  run_free(&r);

  /* -o gets the header once, at the start, and every line whole */
  char *out = tmp_path("fmt.csv");
  char *many = url_lines("/text/y", 200);
  RUN(&r, many, "-q", "-t", "8", "--format", "csv", "-o", out);
  assert_int_equal(r.status, 0);
  size_t len;
  char *text = read_file(out, &len);
  assert_true(!strncmp(text, "index,url,", 10));
  assert_int_equal(count_lines(text), 201);
  assert_int_equal(strstr(text + 1, "index,url,") == NULL, 1);
  free(text);
  run_free(&r);
  free(ok), free(nf), free(out), free(many);
}

static void test_write_out(void **state) {
  char *js = tu_url("/json/5"), *nf = tu_url("/status/404");
  char input[2048];
  snprintf(input, sizeof input, "{\"url\":\"%s\",\"id\":\"x\"}\n%s\n", js, nf);
  run r;
  RUN(&r, input, "-q", "--ordered", "-w",
      "%{index}\\t%{id}|%{status}|%{ok}|%{error}|%{json.price.amount}|%{json.tags.1}|"
      "%{json.tags.9}|%{json.name}|%{header.CONTENT-TYPE}|%{attempts}|%%{url}\\n");
  assert_int_equal(r.status, 1);
  assert_string_equal(r.out, "0\tx|200|true||5.5|b||item 5|application/json|1|%{url}\n"
                             "1\t|404|false|http|||||text/plain|1|%{url}\n");
  run_free(&r);
  /* elapsed_ms, bytes, url, effective_url, saved, error_message */
  RUN(&r, nf, "-q", "--write-out", "%{url} %{bytes} %{error_message} %{saved}.\n");
  char want[1024];
  snprintf(want, sizeof want, "%s 10 HTTP status 404 .\n", nf);
  assert_string_equal(r.out, want);
  run_free(&r);
  /* usage errors: unknown fields, an unclosed %{, -w with --format,
   * --resume with any output but JSON Lines */
  char *res = tmp_path("wo-resume.jsonl");
  static const char *const bad[][4] = {
      {"-w", "%{nope}", NULL, NULL},
      {"-w", "%{index", NULL, NULL},
      {"-w", "%{index}", "--format", "csv"},
      {"--format", "xml", NULL, NULL},
      {"--format", "csv", "--resume", "RES"},
      {"-w", "%{url}", "--resume", "RES"},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    const char *args[8] = {"-q"};
    size_t n = 1;
    for (size_t k = 0; k < 4 && bad[c][k]; k++)
      args[n++] = !strcmp(bad[c][k], "RES") ? res : bad[c][k];
    run_cli(&r, nf, strlen(nf), args);
    if (r.status != 2 || r.out_len)
      fail_msg("case %zu: exit %d, out %s, err %s", c, r.status, r.out, r.err);
    run_free(&r);
  }
  assert_int_equal(access(res, F_OK), -1); /* refused before it was made */
  free(js), free(nf), free(res);
}

/* ------------------------------------------------------------ saved names */

static void test_save_names(void **state) {
  char *dir = tmp_path("names"), *outside = tmp_path("passwd");
  assert_int_equal(mkdir(dir, 0700), 0);
  /* planted: a file under a name a body wants, and a symlink to outside */
  char planted[600], link_path[600], target[600];
  snprintf(planted, sizeof planted, "%s/report.csv", dir);
  free(write_tmp("names/report.csv", "mine", 4));
  snprintf(target, sizeof target, "%s/names-target", tmpdir);
  free(write_tmp("names-target", "precious", 8));
  snprintf(link_path, sizeof link_path, "%s/linked.txt", dir);
  assert_int_equal(symlink(target, link_path), 0);
  char *u[] = {
      tu_url("/typed/dir/report.csv?body=r1"),
      tu_url("/typed/dir/report.csv?body=r2"),
      tu_url("/typed/x?body=cd&disposition=attachment;%%20filename=%%22..%%2F..%%2Fpasswd%%22"),
      tu_url("/typed/x?body=st&disposition=attachment;%%20filename*=UTF-8''na%%25C3%%25AFve%%2520f.txt"),
      tu_url("/typed/%%2E%%2E%%2F%%2E%%2E%%2Fup?body=dots"),
      tu_url("/typed/linked.txt?body=new"),
      tu_url("/typed/gone.txt?body=nf&status=404"),
      tu_url("/typed/?body=noname"),
  };
  size_t nu = sizeof u / sizeof u[0];
  char input[8192];
  size_t len = 0;
  for (size_t i = 0; i < nu; i++)
    len += (size_t)snprintf(input + len, sizeof input - len, "%s\n", u[i]);
  run r;
  RUN(&r, input, "-q", "--ordered", "--save", dir, "--save-name", "{name}");
  assert_int_equal(r.status, 1); /* the 404 */
  json_t *recs = records(&r);
  static const char *const want[][2] = {
      {"report.1.csv", "r1"}, {"report.2.csv", "r2"}, {"passwd", "cd"},
      {"na\xc3\xafve f.txt", "st"}, {"_._.._up", "dots"}, {"linked.1.txt", "new"},
      {NULL, NULL}, {"7.body", "noname"},
  };
  /* two jobs want report.csv: which gets .1 and which .2 depends on
   * which finished first, so both names are accepted in either order */
  for (size_t i = 0; i < nu; i++) {
    json_t *rec = by_index(recs, (json_int_t)i);
    const char *saved = json_string_value(json_object_get(rec, "saved"));
    if (!want[i][0]) {
      assert_null(saved); /* a 404 body is not saved without --save-all */
      continue;
    }
    char path[700];
    if (i < 2) {
      assert_true(contains(saved, "/report.1.csv") || contains(saved, "/report.2.csv"));
      snprintf(path, sizeof path, "%s", saved);
    } else {
      snprintf(path, sizeof path, "%s/%s", dir, want[i][0]);
      if (!saved || strcmp(saved, path))
        fail_msg("job %zu saved as %s, want %s", i, saved ? saved : "(none)", path);
    }
    assert_file(path, want[i][1]);
  }
  assert_file(planted, "mine");   /* never replaced */
  assert_file(target, "precious"); /* never written through a symlink */
  assert_int_equal(access(outside, F_OK), -1); /* nothing outside DIR */
  size_t hidden;
  assert_int_equal(dir_entries(dir, &hidden), 9); /* 7 bodies, 2 planted */
  assert_int_equal(hidden, 0);
  json_decref(recs);
  run_free(&r);

  /* a rerun never replaces: every body takes a new suffix */
  RUN(&r, u[2], "-q", "--save", dir, "--save-name", "{name}");
  assert_int_equal(r.status, 0);
  recs = records(&r);
  char path[700];
  snprintf(path, sizeof path, "%s/passwd.1", dir);
  assert_string_equal(str(by_index(recs, 0), "saved"), path);
  assert_file(path, "cd");
  json_decref(recs);
  run_free(&r);

  /* --save-all keeps a 404's body; {host}, {index}, {ext}, {id} */
  char line[2048];
  snprintf(line, sizeof line, "{\"url\":\"%s\",\"id\":\"../i/d\"}\n", u[6]);
  RUN(&r, line, "-q", "--save", dir, "--save-all", "--save-name", "{host}-{index}-{id}{ext}");
  recs = records(&r);
  snprintf(path, sizeof path, "%s/127.0.0.1-0-.._i_d.txt", dir);
  assert_string_equal(str(by_index(recs, 0), "saved"), path);
  assert_file(path, "nf");
  json_decref(recs);
  run_free(&r);

  /* {id} without an id, and #1 without a glob value, are error records
   * for their job, which does not run; a template with '/' is refused */
  unsigned long before = ts_requests(tu_server);
  RUN(&r, u[0], "-q", "--save", dir, "--save-name", "{id}.txt");
  recs = records(&r);
  assert_string_equal(error_code(by_index(recs, 0)), "invalid_request");
  assert_true(contains(str(json_object_get(by_index(recs, 0), "error"), "message"), "{id}"));
  json_decref(recs);
  run_free(&r);
  RUN(&r, u[0], "-q", "--save", dir, "--save-name", "page-#1.html");
  recs = records(&r);
  assert_string_equal(error_code(by_index(recs, 0)), "invalid_request");
  assert_true(contains(str(json_object_get(by_index(recs, 0), "error"), "message"), "#1"));
  json_decref(recs);
  run_free(&r);
  assert_int_equal(ts_requests(tu_server), before);
  static const char *const bad[] = {"a/{name}", "../{name}", "{nope}", "{name", ""};
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    RUN(&r, u[0], "-q", "--save", dir, "--save-name", bad[c]);
    if (r.status != 2 || !contains(r.err, "--save-name"))
      fail_msg("--save-name '%s': exit %d, %s", bad[c], r.status, r.err);
    run_free(&r);
  }
  RUN(&r, u[0], "-q", "--save-name", "{name}");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "needs --save"));
  run_free(&r);
  for (size_t i = 0; i < nu; i++)
    free(u[i]);
  free(dir), free(outside);
}

static void test_save_kill9_mid_download(void **state) {
  /* a kill -9 in the middle of a download leaves no file under its final
   * name: only the private, hidden file it was being written to */
  char *dir = tmp_path("kill-save");
  /* 4 s of body (longer under sanitizers), killed a quarter of the way */
  char *slow = tu_url("/drip?bytes=40&interval_ms=%d", (int)(100 * tu_time_scale()));
  const cli_event ev[] = {{1.0 * tu_time_scale(), SIGKILL}};
  run r;
  char input[1024];
  snprintf(input, sizeof input, "%s\n", slow);
  RUN_EVENTS(&r, input, ev, 1, "-q", "--save", dir, "--save-name", "slow.txt");
  assert_int_equal(r.status, 128 + SIGKILL);
  run_free(&r);
  size_t hidden;
  size_t n = dir_entries(dir, &hidden);
  assert_int_equal(n, 1);      /* the download had started ... */
  assert_int_equal(hidden, 1); /* ... into the hidden partial file only */
  char path[600];
  snprintf(path, sizeof path, "%s/slow.txt", dir);
  assert_int_equal(access(path, F_OK), -1);
  free(dir), free(slow);
}

static void test_max_filesize(void **state) {
  /* --max-filesize fails a body past it on every engine, saved or kept;
   * --max-body bounds only a body kept in memory, not a saved one */
  char *big = tu_url("/bytes/5000"), *chunked = tu_url("/bytes/5000?chunked=1");
  char input[2048];
  snprintf(input, sizeof input, "%s\n%s\n", big, chunked);
  static const char *const engines[] = {"threads", "multi", "hybrid"};
  for (size_t e = 0; e < 3; e++) {
    for (int save = 0; save < 2; save++) {
      char *dir = tmp_path(save ? "mf-save" : "mf-none");
      run r;
      if (save)
        RUN(&r, input, "-q", "--engine", engines[e], "--max-filesize", "1K", "--save", dir);
      else
        RUN(&r, input, "-q", "--engine", engines[e], "--max-filesize", "1K");
      assert_int_equal(r.status, 1);
      json_t *recs = records(&r);
      for (json_int_t i = 0; i < 2; i++)
        if (strcmp(error_code(by_index(recs, i)), "body_too_large"))
          fail_msg("%s save=%d job %lld: %s", engines[e], save, (long long)i,
                   error_code(by_index(recs, i)));
      json_decref(recs);
      run_free(&r);
      free(dir);
    }
  }
  char *dir = tmp_path("mf-body");
  run r;
  RUN(&r, input, "-q", "--max-body", "1K", "--save", dir, "--save-name", "b{index}");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_non_null(str(by_index(recs, 1), "saved"));
  json_decref(recs);
  run_free(&r);
  RUN(&r, input, "-q", "--max-filesize", "0");
  assert_int_equal(r.status, 2);
  run_free(&r);
  free(dir), free(big), free(chunked);
}

static void test_help_lists_output_options(void **state) {
  run r;
  RUN(&r, NULL, "--help");
  assert_int_equal(r.status, 0);
  static const char *const opts[] = {"--only-failed", "--match-status", "--filter-status",
                                     "--match-error", "--format", "-w, --write-out",
                                     "--save-name", "--save-all", "--max-filesize",
                                     "%{json.PATH}", "%{header.NAME}", "{name}"};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (!contains(r.out, opts[i]))
      fail_msg("--help does not mention %s", opts[i]);
  run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_help_lists_output_options),
      TU_TEST(test_body_json_values),
      TU_TEST(test_filters),
      TU_TEST(test_only_failed_resume_kill9),
      TU_TEST(test_csv_tsv),
      TU_TEST(test_write_out),
      TU_TEST(test_save_names),
      TU_TEST(test_save_kill9_mid_download),
      TU_TEST(test_max_filesize),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
