/* test_cli_batch_in.c: the fetchpool program's batch inputs, run as a
 * child process against the in-process loopback server: URL arguments
 * among FILEs, curl-style ranges and sets, templates filled from CSV, TSV
 * and JSON rows, JSON bodies, and --dry-run. */
#include "testutil.h"
#include "cli_harness.h"

/* The echo of the record's body (NEW), as /echo answers it: a JSON body,
 * so --body puts it in the record as the value "json". */
static json_t *echo_of(json_t *rec) {
  json_t *seen = json_object_get(rec, "json");
  assert_non_null(seen);
  return json_incref(seen);
}

/* The "url" of each record, by index, joined with spaces (NEW). */
static char *urls_of(json_t *recs) {
  char *out = NULL;
  size_t len = 0;
  for (size_t i = 0; i < json_array_size(recs); i++) {
    json_t *rec = by_index(recs, (json_int_t)i);
    const char *u = str(rec, "url");
    append(&out, &len, i ? " " : "", i ? 1 : 0);
    append(&out, &len, u ? u : "null", strlen(u ? u : "null"));
  }
  return out ? out : strdup("");
}

/* ---------------------------------------------------------- URL arguments */

static void test_url_arguments_mixed_with_files(void **state) {
  char *a = tu_url("/text/a"), *b = tu_url("/text/b"), *c = tu_url("/text/c"),
       *d = tu_url("/text/d"), *e = tu_url("/text/e");
  char lines[4096];
  snprintf(lines, sizeof lines, "%s\n# a comment\n%s\n", b, c);
  char *file = write_tmp("mixed.txt", lines, strlen(lines));
  run r;
  /* standard input is not read when arguments name the jobs */
  RUN(&r, "http://127.0.0.1:1/never\n", "-q", a, file, "--url", d, e);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 5);
  char *got = urls_of(recs), want[8192];
  snprintf(want, sizeof want, "%s %s %s %s %s", a, b, c, d, e);
  assert_string_equal(got, want);
  free(got);
  json_decref(recs);
  run_free(&r);

  /* after --, an argument is a FILE even when it looks like a URL */
  RUN(&r, NULL, "-q", "--", a);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "cannot open input"));
  run_free(&r);
  /* --url takes only URLs */
  RUN(&r, NULL, "-q", "--url", file);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "--url"));
  run_free(&r);
  /* the stream commands take FILEs */
  RUN(&r, NULL, "enqueue", a);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "not URL arguments"));
  run_free(&r);
  free(a), free(b), free(c), free(d), free(e), free(file);
}

/* ---------------------------------------------------------------- globs */

static void test_glob_expansions(void **state) {
  run r;
  RUN(&r, NULL, "-q", "--dry-run", "http://h/[08-10:2]/{x,y}/[a-c:2]",
      "http://h/\\[1\\]{,z}", "http://[::1]:80/[1-2]");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  char *got = urls_of(recs);
  /* odometer order: the last range turns fastest, as curl's */
  assert_string_equal(got, "http://h/08/x/a http://h/08/x/c http://h/08/y/a http://h/08/y/c "
                           "http://h/10/x/a http://h/10/x/c http://h/10/y/a http://h/10/y/c "
                           "http://h/[1] http://h/[1]z http://[::1]:80/1 http://[::1]:80/2");
  free(got);
  json_decref(recs);
  run_free(&r);
  /* -g: taken as it is */
  RUN(&r, NULL, "-q", "--dry-run", "-g", "http://h/[1-3]{a,b}");
  assert_int_equal(r.status, 0);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 1);
  assert_string_equal(str(by_index(recs, 0), "url"), "http://h/[1-3]{a,b}");
  json_decref(recs);
  run_free(&r);
  /* and fetched for real, values in the URL */
  char *pattern = tu_url("/status/20[0-2]");
  RUN(&r, NULL, "-q", pattern);
  assert_int_equal(r.status, 0);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 3);
  for (json_int_t i = 0; i < 3; i++)
    assert_int_equal(num(by_index(recs, i), "status"), 200 + i);
  json_decref(recs);
  run_free(&r);
  free(pattern);
}

/* --save-name's #1, #2 are the job's range and set values: each glob job
 * is saved under its own. */
static void test_glob_values_name_saved_files(void **state) {
  run r;
  char *dir = tmp_path("glob-names");
  assert_int_equal(mkdir(dir, 0700), 0);
  char *pattern = tu_url("/text/[1-2]/{a,b}");
  RUN(&r, NULL, "-q", "--save", dir, "--save-name", "item-#1-#2.txt", pattern);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 4);
  const char *want[] = {"1-a", "1-b", "2-a", "2-b"};
  for (size_t i = 0; i < 4; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/item-%s.txt", dir, want[i]);
    assert_string_equal(str(by_index(recs, (json_int_t)i), "saved"), path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
  }
  json_decref(recs);
  run_free(&r);
  /* a #N the URL has no range for: that job's error record, nothing saved */
  RUN(&r, NULL, "-q", "--save", dir, "--save-name", "x-#3", pattern);
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 4);
  assert_string_equal(str(json_object_get(by_index(recs, 0), "error"), "code"),
                      "invalid_request");
  json_decref(recs);
  run_free(&r);
  free(pattern);
  free(dir);
}

static void test_glob_errors(void **state) {
  static const struct {
    const char *url, *says;
  } bad[] = {
      {"http://h/[1-", "unmatched '['"},
      {"http://h/{a,b", "unmatched '{'"},
      {"http://h/a]", "unmatched ']'"},
      {"http://h/a}", "unmatched '}'"},
      {"http://h/[9-1]", "after the last"},
      {"http://h/[z-a]", "after the last"},
      {"http://h/[1-5:0]", "step"},
      {"http://h/[1-x]", "bad range"},
      {"http://h/{a,{b}}", "nested"},
      {"http://h/[1-999999999999999999][1-999999999999999999]", "64 bits"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    run r;
    RUN(&r, NULL, "-q", "--dry-run", bad[i].url);
    if (r.status != 2 || !contains(r.err, bad[i].says))
      fail_msg("'%s': exit %d, stderr: %s", bad[i].url, r.status, r.err);
    run_free(&r);
  }
  /* 10^18 combinations: jobs start at once, since nothing is made ahead;
   * stopped by SIGTERM */
  run r;
  cli_event stop = {.at = 1.0 * tu_time_scale(), .sig = SIGTERM};
  RUN_EVENTS(&r, NULL, &stop, 1, "--dry-run", "-o", "/dev/null", "--no-progress",
             "http://h/[1-999999][1-999999][1-999999]");
  assert_int_equal(r.status, 128 + SIGTERM);
  assert_true(contains(r.err, "jobs:"));
  assert_true(r.secs < 20 * tu_time_scale());
  run_free(&r);
}

/* 1,000,000 URLs from one range in bounded memory (a plain build). */
static void test_glob_million_bounded_memory(void **state) {
  const char *build = getenv("FP_TEST_BUILD");
  bool plain = tu_time_scale() <= 1 && (!build || !strstr(build, "san"));
  /* sanitizers and valgrind are slow and add shadow memory: fewer URLs */
  const char *url = plain ? "http://127.0.0.1:1/item/[1-1000000]"
                          : "http://127.0.0.1:1/item/[1-5000]";
  char *stats = tmp_path("million.json");
  run r;
  RUN_MEASURED(&r, NULL, "--dry-run", "-o", "/dev/null", "--no-progress", "-q",
               "--stats-json", stats, url);
  assert_int_equal(r.status, 0);
  size_t len;
  char *text = read_file(stats, &len);
  json_t *s = json_loads(text, 0, NULL);
  assert_non_null(s);
  assert_int_equal(json_integer_value(json_object_get(s, "jobs")), plain ? 1000000 : 5000);
  if (plain && r.maxrss_kb > 64 * 1024)
    fail_msg("1,000,000 range expansions took %ld KiB", r.maxrss_kb);
  print_message("%s: peak RSS %ld KiB in %.1f s\n", url, r.maxrss_kb, r.secs);
  json_decref(s);
  free(text), free(stats);
  run_free(&r);
}

/* ------------------------------------------------------------ templates */

static void test_csv_template(void **state) {
  /* a byte order mark, CRLF line ends, quoted commas, doubled quotes and
   * a newline inside quotes */
  static const char csv[] = "\xEF\xBB\xBF" "id,lang,name\r\n"
                            "1,\"en,us\",\"say \"\"hi\"\"\"\r\n"
                            "\r\n"
                            "2,de,\"two\nlines\"\r\n"
                            "3,fr/be,\"a\\\\b\"\r\n";
  char *path = write_tmp("rows.csv", csv, sizeof csv - 1);
  char *tmpl = tu_url("/echo?lang={lang}&n={id}");
  run r;
  RUN(&r, NULL, "-q", "--body", "--ordered", "--csv", "--template", tmpl, "--body-template",
      "{\"name\": \"{name}\", \"id\": {id}}", "-H", "X-Tenant: t-{id}", "-H", "X-Plain: {{x}",
      path);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 3);
  static const char *const langs[] = {"en,us", "de", "fr/be"};
  static const char *const names[] = {"say \"hi\"", "two\nlines", "a\\\\b"};
  for (json_int_t i = 0; i < 3; i++) {
    json_t *rec = by_index(recs, i);
    char id[8];
    snprintf(id, sizeof id, "%d", (int)i + 1);
    assert_string_equal(str(rec, "id"), id); /* a row's "id" field is the job's id */
    json_t *seen = echo_of(rec);
    assert_string_equal(str(seen, "method"), "POST");
    json_t *query = json_object_get(seen, "query"), *headers = json_object_get(seen, "headers");
    assert_string_equal(str(query, "lang"), langs[i]);
    assert_string_equal(str(query, "n"), id);
    char tenant[16];
    snprintf(tenant, sizeof tenant, "t-%s", id);
    assert_string_equal(str(headers, "X-Tenant"), tenant);
    assert_string_equal(str(headers, "X-Plain"), "{x}");
    assert_string_equal(str(headers, "Content-Type"), "application/json");
    /* the body is JSON: the value was escaped for it */
    json_t *body = json_loads(str(seen, "body"), 0, NULL);
    if (!body)
      fail_msg("row %d: body is no JSON: %s", (int)i, str(seen, "body"));
    assert_string_equal(str(body, "name"), names[i]);
    assert_int_equal(num(body, "id"), i + 1);
    json_decref(body);
    json_decref(seen);
  }
  json_decref(recs);
  run_free(&r);
  free(path), free(tmpl);
}

static void test_template_missing_field(void **state) {
  static const char csv[] = "id,lang\n1,en\n2,de\n";
  char *path = write_tmp("missing.csv", csv, sizeof csv - 1);
  char *ok_tmpl = tu_url("/echo?l={lang}");
  char *bad_tmpl = tu_url("/echo?l={lang}&r={region}");
  run r;
  RUN(&r, NULL, "-q", "--csv", "--template", bad_tmpl, path);
  assert_int_equal(r.status, 1); /* the run goes on: a record per row */
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 2);
  for (json_int_t i = 0; i < 2; i++) {
    json_t *rec = by_index(recs, i);
    assert_string_equal(error_code(rec), "invalid_request");
    const char *msg = str(json_object_get(rec, "error"), "message");
    if (!strstr(msg, "'region'"))
      fail_msg("the message does not name the field: %s", msg);
  }
  json_decref(recs);
  run_free(&r);
  /* JSON rows: one lacks the field, one is no object, one no JSON */
  char input[512];
  snprintf(input, sizeof input, "{\"lang\": \"en\"}\n{\"id\": 7}\n[1]\n{bad\n"
                                "{\"lang\": 5, \"id\": 9}\n");
  RUN(&r, input, "-q", "--ordered", "--body", "--template", ok_tmpl);
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 5);
  assert_true(json_object_get(by_index(recs, 0), "ok") == json_true());
  assert_string_equal(error_code(by_index(recs, 1)), "invalid_request");
  assert_int_equal(num(by_index(recs, 1), "id"), 7);
  assert_string_equal(error_code(by_index(recs, 2)), "invalid_request");
  assert_string_equal(error_code(by_index(recs, 3)), "invalid_json");
  json_t *seen = echo_of(by_index(recs, 4)); /* a number fills in as its text */
  assert_string_equal(str(json_object_get(seen, "query"), "l"), "5");
  json_decref(seen);
  json_decref(recs);
  run_free(&r);
  /* a NUL byte can be percent-encoded in the URL, not put in a header */
  RUN(&r, "{\"lang\": \"a\\u0000b\"}\n", "-q", "--body", "--template", ok_tmpl, "-H",
      "X-L: {lang}");
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_string_equal(error_code(by_index(recs, 0)), "invalid_request");
  assert_true(strstr(str(json_object_get(by_index(recs, 0), "error"), "message"), "NUL"));
  json_decref(recs);
  run_free(&r);
  free(path), free(ok_tmpl), free(bad_tmpl);
}

static void test_tsv_and_row_errors(void **state) {
  static const char tsv[] = "k\tv\na b\tx,\"y\"\nonly-one\n";
  char *path = write_tmp("rows.tsv", tsv, sizeof tsv - 1);
  char *tmpl = tu_url("/echo?k={k}&v={v}");
  run r;
  RUN(&r, NULL, "-q", "--body", "--tsv", "--template", tmpl, path);
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 2);
  json_t *seen = echo_of(by_index(recs, 0));
  assert_string_equal(str(json_object_get(seen, "query"), "k"), "a b");
  assert_string_equal(str(json_object_get(seen, "query"), "v"), "x,\"y\"");
  json_decref(seen);
  assert_string_equal(error_code(by_index(recs, 1)), "invalid_request");
  assert_true(strstr(str(json_object_get(by_index(recs, 1), "error"), "message"), "fields"));
  json_decref(recs);
  run_free(&r);
  /* a quote never closed, and a row over the cap: the input's read error */
  static const char open_quote[] = "a\n1\n\"never closed\n2\n";
  char *bad = write_tmp("open.csv", open_quote, sizeof open_quote - 1);
  RUN(&r, NULL, "-q", "--csv", "--template", tmpl, bad);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "never closed"));
  run_free(&r);
  size_t big = 2 * 1024 * 1024;
  char *huge = malloc(big + 16);
  memcpy(huge, "a\n\"", 3);
  memset(huge + 3, 'x', big);
  strcpy(huge + 3 + big, "\"\n");
  char *huge_path = write_tmp("huge.csv", huge, strlen(huge));
  RUN(&r, NULL, "-q", "--csv", "--template", tmpl, huge_path);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "bytes (the limit)"));
  run_free(&r);
  free(huge), free(huge_path), free(bad), free(path), free(tmpl);
}

static void test_template_usage_errors(void **state) {
  static const char *const cases[][6] = {
      {"--csv", "x.csv", NULL, NULL, NULL, "--csv needs --template"},
      {"--body-template", "b", NULL, NULL, NULL, "--body-template needs --template"},
      {"--template", "http://h/{a}", "http://h/", NULL, NULL, "URL arguments"},
      {"--template", "http://h/{a}", "--body-template", "b", "-dx", "--data"},
      {"--dry-run", "--resume", "r.jsonl", NULL, NULL, "--resume"},
      {"--csv", "--tsv", NULL, NULL, NULL, "exclude"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *args[8] = {"-q"};
    size_t n = 1;
    for (size_t k = 0; k < 5 && cases[i][k]; k++)
      args[n++] = cases[i][k];
    run r;
    run_cli(&r, "", 0, args);
    if (r.status != 2 || !contains(r.err, cases[i][5]))
      fail_msg("case %zu: exit %d, stderr: %s", i, r.status, r.err);
    run_free(&r);
  }
}

/* -H with braces and no template is sent as it is */
static void test_plain_header_braces(void **state) {
  char *echo = tu_url("/echo");
  run r;
  RUN(&r, NULL, "-q", "--body", "-H", "X-Json: {\"a\": {b}}", "-H", "X-Late: {x}", "-H",
      "X-Late: plain", "-H", "X-Early: plain", "-H", "X-Early: {y}", echo);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  json_t *seen = echo_of(by_index(recs, 0));
  json_t *headers = json_object_get(seen, "headers");
  assert_string_equal(str(headers, "X-Json"), "{\"a\": {b}}");
  /* the last -H of a name wins, braces or not */
  assert_string_equal(str(headers, "X-Late"), "plain");
  assert_string_equal(str(headers, "X-Early"), "{y}");
  json_decref(seen);
  json_decref(recs);
  run_free(&r);
  free(echo);
}

/* ----------------------------------------------------------- JSON bodies */

static void test_json_body_lines(void **state) {
  char *echo = tu_url("/echo");
  char input[2048];
  snprintf(input, sizeof input,
           "{\"url\":\"%s\",\"method\":\"POST\",\"json\":{\"a\":[1,\"x\"]}}\n"
           "{\"url\":\"%s\",\"method\":\"PUT\",\"body\":[true],"
           "\"headers\":{\"Content-Type\":\"application/vnd+json\"}}\n"
           "{\"url\":\"%s\",\"json\":1,\"body\":\"x\"}\n",
           echo, echo, echo);
  run r;
  RUN(&r, input, "-q", "--body", "--ordered");
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  json_t *seen = echo_of(by_index(recs, 0));
  assert_string_equal(str(seen, "body"), "{\"a\":[1,\"x\"]}");
  assert_string_equal(str(json_object_get(seen, "headers"), "Content-Type"), "application/json");
  json_decref(seen);
  seen = echo_of(by_index(recs, 1));
  assert_string_equal(str(seen, "body"), "[true]");
  assert_string_equal(str(json_object_get(seen, "headers"), "Content-Type"),
                      "application/vnd+json");
  json_decref(seen);
  assert_string_equal(error_code(by_index(recs, 2)), "invalid_request");
  json_decref(recs);
  run_free(&r);
  free(echo);
}

/* --------------------------------------------------------------- dry run */

static void test_dry_run_sends_nothing(void **state) {
  unsigned port = closed_port();
  char url[256], job[512];
  snprintf(url, sizeof url, "http://alice:s3cret@127.0.0.1:%u/a/[1-2]", port);
  snprintf(job, sizeof job, "{\"url\":\"http://127.0.0.1:%u/j\",\"method\":\"PUT\","
           "\"json\":{\"k\":\"v\"},\"id\":\"j1\"}\n", port);
  char *file = write_tmp("dry.jsonl", job, strlen(job));
  unsigned long before = ts_requests(tu_server);
  run r;
  RUN(&r, NULL, "-q", "--dry-run", "--ordered", "-H", "Authorization: Bearer tok",
      "-H", "Cookie: sid=42", "-H", "Proxy-Authorization: Basic eA==", "-H", "X-Seen: yes",
      "-d", "hello", url, file);
  assert_int_equal(r.status, 0);
  assert_false(contains(r.out, "s3cret") || contains(r.out, "alice") ||
               contains(r.out, "tok") || contains(r.out, "sid=42") || contains(r.out, "eA=="));
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 3);
  json_t *rec = by_index(recs, 0);
  char want[256];
  snprintf(want, sizeof want, "http://***@127.0.0.1:%u/a/1", port);
  assert_string_equal(str(rec, "url"), want);
  assert_string_equal(str(rec, "method"), "POST");
  assert_true(json_object_get(rec, "dry_run") == json_true());
  assert_int_equal(num(rec, "body_bytes"), 5);
  char *headers = json_dumps(json_object_get(rec, "headers"), JSON_COMPACT);
  assert_string_equal(headers, "[\"Authorization: ***\",\"Cookie: ***\","
                               "\"Proxy-Authorization: ***\",\"X-Seen: yes\"]");
  free(headers);
  rec = by_index(recs, 2);
  assert_string_equal(str(rec, "method"), "PUT");
  assert_string_equal(str(rec, "id"), "j1");
  assert_int_equal(num(rec, "body_bytes"), 9); /* {"k":"v"} */
  headers = json_dumps(json_object_get(rec, "headers"), JSON_COMPACT);
  assert_true(strstr(headers, "\"Content-Type: application/json\""));
  free(headers);
  json_decref(recs);
  run_free(&r);
  assert_int_equal(ts_requests(tu_server), before);
  /* the same without --dry-run does try the closed port */
  RUN(&r, NULL, "-q", url);
  assert_int_equal(r.status, 1);
  assert_true(contains(r.out, "\"connect\""));
  run_free(&r);
  free(file);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_url_arguments_mixed_with_files),
      TU_TEST(test_glob_expansions),
      TU_TEST(test_glob_values_name_saved_files),
      TU_TEST(test_glob_errors),
      TU_TEST(test_glob_million_bounded_memory),
      TU_TEST(test_csv_template),
      TU_TEST(test_template_missing_field),
      TU_TEST(test_tsv_and_row_errors),
      TU_TEST(test_template_usage_errors),
      TU_TEST(test_plain_header_braces),
      TU_TEST(test_json_body_lines),
      TU_TEST(test_dry_run_sends_nothing),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
