/* test_cli_out.c: what the fetchpool program writes (issue 14, "Out"):
 * JSON bodies as values (--body), record filters (--only-failed,
 * --match-status, --filter-status, --match-error) with --resume across a
 * kill -9, --format csv/tsv and -w/--write-out, run as a child process
 * against the in-process loopback server. */
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
  enum { N = 300 };
  char *ok = tu_url("/delay/100"), *bad = tu_url("/status/500?delay=100");
  size_t cap = N * (strlen(bad) + 2) + 1, len = 0;
  char *input = malloc(cap);
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(input + len, cap - len, "%s\n", i % 3 ? ok : bad);
  char *in_path = write_tmp("of-in.txt", input, len), *out = tmp_path("of-out.jsonl");
  char side[600];
  snprintf(side, sizeof side, "%s.filtered", out);
  unsigned long before = ts_requests(tu_server);
  const cli_event ev[] = {{0.8, SIGKILL}};
  run r;
  RUN_EVENTS(&r, NULL, ev, 1, "-q", "-t", "20", "--only-failed", "--resume", out, in_path);
  assert_int_equal(r.status, 128 + SIGKILL);
  run_free(&r);
  json_t *a = file_records(out), *b = file_records(side);
  size_t first = json_array_size(a) + json_array_size(b);
  assert_true(first > 0 && first < N);
  json_decref(a);
  json_decref(b);

  RUN(&r, NULL, "-q", "-t", "50", "--only-failed", "--resume", out, in_path);
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
  assert_true(ran >= N && ran <= N + 20);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_body_json_values),
      TU_TEST(test_filters),
      TU_TEST(test_only_failed_resume_kill9),
      TU_TEST(test_csv_tsv),
      TU_TEST(test_write_out),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
