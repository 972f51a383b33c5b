/* test_cli.c: the fetchpool program, run as a child process against the
 * in-process loopback server: options, input forms, records, exit codes,
 * summary, statistics and the streaming guarantees. */
#include "testutil.h"
#include "cli_harness.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>

/* ------------------------------------------------------------ tests */

/* Whether word occurs in text as a whole word: not next to a letter,
 * digit or underscore (nor, after it, to a '-' that goes on). */
static bool has_word(const char *text, const char *word) {
  size_t n = strlen(word);
  for (const char *p = text; (p = strstr(p, word)); p++) {
    char before = p == text ? ' ' : p[-1], after = p[n];
    bool joined_before = isalnum((unsigned char)before) || before == '_';
    bool joined_after = isalnum((unsigned char)after) || after == '_' ||
                        (after == '-' && isalnum((unsigned char)p[n + 1]));
    if (!joined_before && !joined_after)
      return true;
  }
  return false;
}

/* The part of text from the line starting with heading to the next blank
 * line (NEW); the test fails when there is none. */
static char *section(const char *text, const char *heading) {
  const char *start = strstr(text, heading);
  while (start && start != text && start[-1] != '\n')
    start = strstr(start + 1, heading);
  if (!start) {
    fail_msg("no section '%s' in:\n%s", heading, text);
    return NULL;
  }
  const char *end = strstr(start, "\n\n");
  return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* Every record field and error code a record can hold. */
static const char *const record_fields[] = {
    "index", "url", "id", "status", "ok", "error", "code", "message", "effective_url",
    "elapsed_ms", "bytes", "attempts", "http_version", "timings", "headers", "body", "body_base64", "saved"};
static const char *const error_codes[] = {
    "invalid_json", "invalid_url", "invalid_header", "invalid_request", "unsupported_protocol",
    "dns", "connect", "connect_timeout", "timeout", "stall_timeout", "tls",
    "too_many_redirects", "body_too_large", "headers_too_large", "network", "protocol",
    "aborted", "http", "cancelled", "out_of_memory", "internal"};
#define COUNT_OF(a) (sizeof(a) / sizeof *(a))

static void test_version_and_help(void **state) {
  run r, shrt;
  RUN(&r, NULL, "--version");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "fetchpool " FP_VERSION "\n");
  assert_int_equal(r.err_len, 0);
  RUN(&shrt, NULL, "-V"); /* the short form: the same */
  assert_int_equal(shrt.status, 0);
  assert_string_equal(shrt.out, r.out);
  assert_int_equal(shrt.err_len, 0);
  run_free(&shrt);
  run_free(&r);

  RUN(&r, NULL, "--help");
  assert_int_equal(r.status, 0);
  static const char *const documented[] = {
      "--threads", "--output", "--ordered", "--method", "--header", "--data",
      "--timeout", "--connect-timeout", "--max-redirs", "--max-body", "--user-agent",
      "--insecure", "--body", "--headers", "--timings", "--save", "--progress",
      "--no-progress", "--quiet", "--stats-json", "--help", "--version",
      "default 32", "default 64M"};
  for (size_t i = 0; i < sizeof documented / sizeof *documented; i++)
    if (!contains(r.out, documented[i]))
      fail_msg("--help does not mention %s", documented[i]);
  assert_int_equal(r.err_len, 0);
  /* fits an 80-column terminal */
  for (const char *line = r.out; *line;) {
    const char *nl = strchr(line, '\n');
    assert_non_null(nl);
    if (nl - line > 80)
      fail_msg("--help line of %d columns: %.*s", (int)(nl - line), (int)(nl - line), line);
    line = nl + 1;
  }
  /* every record field and error code, each in its own part */
  char *fields = section(r.out, "Record fields"), *codes = section(r.out, "Error codes");
  for (size_t i = 0; i < COUNT_OF(record_fields); i++)
    if (!has_word(fields, record_fields[i]))
      fail_msg("--help's record fields lack %s:\n%s", record_fields[i], fields);
  for (size_t i = 0; i < COUNT_OF(error_codes); i++)
    if (!has_word(codes, error_codes[i]))
      fail_msg("--help's error codes lack %s:\n%s", error_codes[i], codes);
  free(fields), free(codes);

  RUN(&shrt, NULL, "-h");
  assert_int_equal(shrt.status, 0);
  assert_string_equal(shrt.out, r.out);
  assert_int_equal(shrt.err_len, 0);
  run_free(&shrt);
  run_free(&r);
}

/* The man page section .SH NAME up to the next .SH (NEW). */
static char *man_section(const char *man, const char *name) {
  char heading[64];
  snprintf(heading, sizeof heading, "\n.SH %s\n", name);
  const char *start = strstr(man, heading);
  if (!start) {
    fail_msg("the man page has no section %s", name);
    return NULL;
  }
  const char *end = strstr(start + 1, "\n.SH ");
  return strndup(start, end ? (size_t)(end - start) + 1 : strlen(start));
}

/* man/fetchpool.1 documents every long option --help prints, every record
 * field and every error code. Tests run from the repository root. */
static void test_man_page_complete(void **state) {
  static const char man_path[] = "man/fetchpool.1";
  size_t len;
  char *man = read_file(man_path, &len);
  if (!man) {
    char cwd[512];
    fail_msg("cannot read %s from %s (run the tests from the repository root): %s", man_path,
             getcwd(cwd, sizeof cwd) ? cwd : "?", strerror(errno));
  }
  run r;
  RUN(&r, NULL, "--help");
  assert_int_equal(r.status, 0);
  size_t options = 0;
  for (const char *p = r.out; (p = strstr(p, "--")); p += 2) {
    if (p > r.out && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
      continue;
    size_t n = 2;
    while (islower((unsigned char)p[n]) || isdigit((unsigned char)p[n]) ||
           (p[n] == '-' && islower((unsigned char)p[n + 1])))
      n++;
    if (n == 2)
      continue;
    /* groff source spells each '-' of an option "\-" */
    char escaped[128], *e = escaped;
    for (size_t i = 0; i < n && e < escaped + sizeof escaped - 3; i++) {
      if (p[i] == '-')
        *e++ = '\\';
      *e++ = p[i];
    }
    *e = '\0';
    bool found = false;
    size_t elen = strlen(escaped);
    for (const char *m = man; !found && (m = strstr(m, escaped)); m++)
      found = !islower((unsigned char)m[elen]) && !isdigit((unsigned char)m[elen]) &&
              strncmp(m + elen, "\\-", 2) != 0;
    if (!found)
      fail_msg("--help prints %.*s, but %s does not document it", (int)n, p, man_path);
    options++;
  }
  print_message("%zu long options in --help, all in %s\n", options, man_path);
  assert_true(options >= 35);
  char *records_part = man_section(man, "RECORDS"), *codes_part = man_section(man, "ERROR CODES");
  for (size_t i = 0; i < COUNT_OF(record_fields); i++)
    if (!has_word(records_part, record_fields[i]))
      fail_msg("%s lacks the record field %s", man_path, record_fields[i]);
  for (size_t i = 0; i < COUNT_OF(error_codes); i++) {
    char line[64];
    snprintf(line, sizeof line, "\n.B %s\n", error_codes[i]);
    if (!strstr(codes_part, line))
      fail_msg("%s's ERROR CODES lacks %s", man_path, error_codes[i]);
  }
  free(records_part), free(codes_part);
  run_free(&r);
  free(man);
}

static void test_usage_errors(void **state) {
  static const usage_case bad[] = {
      {"--threads", "0", "--threads"},       {"--threads", "20000", "--threads"},
      {"-t", "abc", "--threads"},            {"--timeout", "abc", "--timeout"},
      {"--timeout", "-1", "--timeout"},      {"--timeout", "nan", "--timeout"},
      {"--connect-timeout", "1s", "--connect-timeout"},
      {"--max-body", "12Q", "--max-body"},   {"--max-body", "0", "--max-body"},
      {"--max-redirs", "-1", "--max-redirs"}, {"--max-redirs", "x", "--max-redirs"},
      {"-H", "NoColon", "--header"},         {"-H", "Bad Name: v", "--header"},
      {"-X", "GE T", "--method"},            {"--user-agent", "a\r\nb", "--user-agent"},
      {"--bogus", NULL, "--bogus"},          {"-Z", NULL, "-Z"},
      {"--timeout", NULL, "--timeout"},
  };
  assert_usage_errors(bad, sizeof bad / sizeof *bad);
}

static void test_limits_accepted(void **state) {
  char *url = tu_url("/hello");
  run r;
  run_cli(&r, url, strlen(url), ARGS("-q", "--threads", "1", "--max-body", "1G",
                                     "--max-redirs", "0", "--timeout", "0",
                                     "--connect-timeout", "0.5"));
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 1);
  json_decref(recs);
  run_free(&r);
  /* the upper bound starts every thread; too heavy for sanitizer builds */
  const char *build = getenv("FP_TEST_BUILD");
  if (!build || !strstr(build, "san")) {
    run_cli(&r, url, strlen(url), ARGS("-q", "--threads", "10000"));
    assert_int_equal(r.status, 0);
    /* where the hard open-files limit is below 3 per thread, a warning */
    if (r.err_len)
      assert_true(!strncmp(r.err, "fetchpool: warning: -t 10000 needs", 34) &&
                  count_lines(r.err) == 1);
    run_free(&r);
  }
  free(url);
}

/* The numbers of a descriptor warning: "PROG: warning: -t T needs NEED
 * open files (EACH per transfer at once + OWN for the run's own), but the
 * limit is LIMIT; running FIT transfers at once instead"; checks that
 * they add up and returns FIT. */
static size_t nofile_warning_fit(const char *err, const char *prog, size_t threads, size_t each,
                                 size_t limit) {
  char want[96];
  snprintf(want, sizeof want, "%s: warning: -t %zu needs ", prog, threads);
  const char *at = strstr(err, want);
  if (!at)
    fail_msg("no warning '%s' in: %s", want, err);
  unsigned long long need, per, own, lim;
  size_t fit;
  if (sscanf(at + strlen(want),
             "%llu open files (%llu per transfer at once + %llu for the run's own), but the "
             "limit is %llu; running %zu transfers at once instead",
             &need, &per, &own, &lim, &fit) != 5)
    fail_msg("warning not as expected: %s", err);
  assert_int_equal(per, each);
  assert_int_equal(lim, limit);
  assert_int_equal(need, threads * each + own);
  /* own: the open descriptors (3 or a few more) + 64 kept for the run */
  assert_true(own >= 67 && own < 100);
  assert_int_equal(fit, (limit - own) / each);
  return fit;
}

static void test_open_files_warning(void **state) {
  /* a hard limit of 200 open files: 100 thread-engine workers need 3 each
   * (a connection and libcurl's socket pair), about 370 in all; fetchpool
   * says so once and runs the 44 or so that fit, so that every job still
   * gets through rather than the ones past the limit failing to connect */
  static const char *const limited[] = {"/usr/bin/prlimit", "--nofile=200:200", "--", NULL};
  char path[64];
  snprintf(path, sizeof path, "/concurrency/cli-fit?ms=%u", (unsigned)(200 * tu_time_scale()));
  char *input = url_lines(path, 100);
  run r;
  run_cli_wrapped(&r, limited, input, strlen(input), ARGS("-q", "-t", "100"), NULL, 0, false);
  assert_int_equal(r.status, 0);
  assert_int_equal(count_lines(r.err), 1);
  size_t fit = nofile_warning_fit(r.err, "fetchpool", 100, 3, 200);
  assert_true(contains(r.err, "--engine multi"));
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 100);
  for (size_t i = 0; i < json_array_size(recs); i++)
    if (!json_is_true(json_object_get(json_array_get(recs, i), "ok")))
      fail_msg("job %zu failed: %s", i, json_dumps(json_array_get(recs, i), 0));
  json_decref(recs);
  run_free(&r);
  assert_true(tu_server_number("/concurrency-max/cli-fit") <= (long)fit);

  /* 100 multi transfers need 1 each: they fit, nothing said */
  run_cli_wrapped(&r, limited, input, strlen(input), ARGS("-q", "-t", "100", "--engine", "multi"),
                  NULL, 0, false);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.err_len, 0);
  run_free(&r);
  free(input);

  /* 300 do not, nor 150 with --save (a file each) */
  input = url_lines("/hello", 3);
  run_cli_wrapped(&r, limited, input, strlen(input), ARGS("-q", "-t", "300", "--engine", "multi"),
                  NULL, 0, false);
  assert_int_equal(r.status, 0);
  assert_int_equal(count_lines(r.err), 1);
  nofile_warning_fit(r.err, "fetchpool", 300, 1, 200);
  assert_false(contains(r.err, "--engine multi")); /* it is on multi */
  json_t *three = records(&r);
  assert_int_equal(json_array_size(three), 3);
  json_decref(three);
  run_free(&r);
  char *dir = tmp_path("fit-save");
  run_cli_wrapped(&r, limited, input, strlen(input),
                  ARGS("-q", "-t", "150", "--engine", "multi", "--save", dir), NULL, 0, false);
  assert_int_equal(r.status, 0);
  nofile_warning_fit(r.err, "fetchpool", 150, 2, 200);
  run_free(&r);
  free(dir);
  free(input);
}

static void test_missing_and_unreadable_files(void **state) {
  char *good = url_lines("/hello", 1);
  char *path = write_tmp("good.txt", good, strlen(good));
  char *missing = tmp_path("missing.txt");
  unsigned long before = ts_requests(tu_server);
  run r;
  RUN(&r, NULL, path, missing);
  assert_int_equal(r.status, 2);
  assert_int_equal(r.out_len, 0);
  assert_true(contains(r.err, "missing.txt"));
  assert_true(contains(r.err, "No such file"));
  assert_int_equal(count_lines(r.err), 1);
  run_free(&r);

  /* a directory cannot be read as lines */
  RUN(&r, NULL, path, tmpdir);
  assert_int_equal(r.status, 2);
  assert_int_equal(r.out_len, 0);
  assert_true(contains(r.err, tmpdir));
  run_free(&r);

  if (geteuid() != 0) { /* root reads anything */
    char *locked = write_tmp("locked.txt", good, strlen(good));
    chmod(locked, 0);
    RUN(&r, NULL, locked);
    assert_int_equal(r.status, 2);
    assert_true(contains(r.err, "locked.txt"));
    run_free(&r);
    free(locked);
  }
  assert_int_equal(ts_requests(tu_server), before); /* no job started */

  /* unusable output, stats and save paths are reported before anything runs */
  RUN(&r, NULL, "-o", "/nonexistent-dir/out.txt", path);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "/nonexistent-dir/out.txt"));
  run_free(&r);
  RUN(&r, NULL, "--stats-json", "/nonexistent-dir/s.json", path);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "/nonexistent-dir/s.json"));
  run_free(&r);
  RUN(&r, NULL, "--save", path, path); /* a file, not a directory */
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "Not a directory"));
  run_free(&r);
  assert_int_equal(ts_requests(tu_server), before);
  free(good);
  free(path);
  free(missing);
}

static void test_stdin_files_and_dash(void **state) {
  char *a0 = tu_url("/text/a0"), *a1 = tu_url("/text/a1"), *s0 = tu_url("/text/s0"),
       *s1 = tu_url("/text/s1"), *b0 = tu_url("/text/b0");
  char buf[1024];
  snprintf(buf, sizeof buf, "%s\n%s\n", a0, a1);
  char *fa = write_tmp("a.txt", buf, strlen(buf));
  snprintf(buf, sizeof buf, "%s\n", b0);
  char *fb = write_tmp("b.txt", buf, strlen(buf));
  snprintf(buf, sizeof buf, "%s\n%s\n", s0, s1);
  run r;
  RUN(&r, buf, "-q", fa, "-", fb);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 5);
  const char *want[] = {a0, a1, s0, s1, b0};
  for (int i = 0; i < 5; i++)
    assert_string_equal(str(by_index(recs, i), "url"), want[i]);
  json_decref(recs);
  run_free(&r);

  /* no FILE reads standard input, as does a lone "-" */
  RUN(&r, buf, "-q");
  assert_int_equal(r.status, 0);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 2);
  assert_string_equal(str(by_index(recs, 1), "url"), s1);
  json_decref(recs);
  run_free(&r);
  RUN(&r, buf, "-q", "-");
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 2);
  assert_string_equal(str(by_index(recs, 0), "url"), s0);
  json_decref(recs);
  run_free(&r);

  /* several files keep numbering across files, the same on every run */
  RUN(&r, NULL, "-q", fb, fa);
  recs = records(&r);
  assert_string_equal(str(by_index(recs, 0), "url"), b0);
  assert_string_equal(str(by_index(recs, 2), "url"), a1);
  json_decref(recs);
  run_free(&r);
  free(a0), free(a1), free(s0), free(s1), free(b0), free(fa), free(fb);
}

static void test_line_forms(void **state) {
  char *u0 = tu_url("/text/zero"), *u1 = tu_url("/text/one"), *u2 = tu_url("/text/two"),
       *u3 = tu_url("/text/three");
  char input[2048];
  /* blank, whitespace-only and # lines are no jobs; CRLF and surrounding
   * whitespace are stripped; the last line has no newline */
  snprintf(input, sizeof input,
           "# a comment\r\n\r\n%s\r\n   \t \n  %s  \n\n#%s\n\t# indented comment\n%s\r\n%s",
           u0, u1, u2, u2, u3);
  char *path = write_tmp("forms.txt", input, strlen(input));
  run r;
  RUN(&r, NULL, "-q", "--body", path);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 4);
  const char *urls[] = {u0, u1, u2, u3}, *bodies[] = {"zero", "one", "two", "three"};
  for (int i = 0; i < 4; i++) {
    json_t *rec = by_index(recs, i);
    assert_string_equal(str(rec, "url"), urls[i]);
    assert_string_equal(str(rec, "body"), bodies[i]);
  }
  json_decref(recs);
  run_free(&r);

  /* the same from standard input (a pipe) */
  RUN(&r, input, "-q");
  assert_int_equal(r.status, 0);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 4);
  assert_string_equal(str(by_index(recs, 3), "url"), u3);
  json_decref(recs);
  run_free(&r);

  /* empty input: no records, exit 0 */
  RUN(&r, "\n# nothing\n", "--no-progress");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out_len, 0);
  assert_true(contains(r.err, "0 jobs: 0 ok, 0 failed"));
  run_free(&r);
  free(u0), free(u1), free(u2), free(u3), free(path);
}

static void test_record_schema(void **state) {
  char *ok = tu_url("/hello"), *e404 = tu_url("/status/404");
  char input[2048];
  snprintf(input, sizeof input, "%s\n{\"url\":\"%s\",\"id\":{\"k\":[1,2]}}\n{oops\n%s\n", ok,
           ok, e404);
  run r;
  RUN(&r, input, "-q");
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 4);
  json_t *rec = by_index(recs, 0);
  assert_keys(rec, RECORD_KEYS);
  assert_string_equal(str(rec, "url"), ok);
  assert_string_equal(str(rec, "effective_url"), ok);
  assert_int_equal(num(rec, "status"), 200);
  assert_true(json_is_true(json_object_get(rec, "ok")));
  assert_true(json_is_null(json_object_get(rec, "error")));
  assert_int_equal(num(rec, "bytes"), 5);
  assert_int_equal(num(rec, "attempts"), 1);
  assert_true(json_is_number(json_object_get(rec, "elapsed_ms")));

  rec = by_index(recs, 1);
  assert_keys(rec, RECORD_KEYS ",id");
  json_t *want_id = json_pack("{s:[i,i]}", "k", 1, 2);
  assert_true(json_equal(json_object_get(rec, "id"), want_id));
  json_decref(want_id);

  rec = by_index(recs, 2);
  assert_keys(rec, RECORD_KEYS);
  assert_string_equal(error_code(rec), "invalid_json");
  assert_keys(json_object_get(rec, "error"), "code,message");
  assert_true(json_is_null(json_object_get(rec, "url")));
  assert_true(json_is_null(json_object_get(rec, "status")));
  assert_true(json_is_false(json_object_get(rec, "ok")));
  assert_int_equal(num(rec, "attempts"), 0);

  rec = by_index(recs, 3);
  assert_keys(rec, RECORD_KEYS);
  assert_int_equal(num(rec, "status"), 404);
  assert_string_equal(error_code(rec), "http");
  assert_true(json_is_false(json_object_get(rec, "ok")));
  json_decref(recs);
  run_free(&r);

  /* --body, --headers and --timings each add their field */
  snprintf(input, sizeof input, "%s\n", ok);
  RUN(&r, input, "-q", "--body", "--headers", "--timings");
  recs = records(&r);
  rec = by_index(recs, 0);
  assert_keys(rec, RECORD_KEYS ",body,headers,timings");
  assert_string_equal(str(rec, "body"), "hello");
  assert_string_equal(str(json_object_get(rec, "headers"), "Content-Type"), "text/plain");
  assert_keys(json_object_get(rec, "timings"), "dns_ms,connect_ms,tls_ms,first_byte_ms,total_ms");
  json_decref(recs);
  run_free(&r);
  free(ok);
  free(e404);
}

static void test_json_jobs(void **state) {
  char *echo = tu_url("/echo");
  char input[4096];
  snprintf(input, sizeof input,
           "{\"url\":\"%s\",\"method\":\"PATCH\",\"headers\":{\"X-One\":\"1\"},"
           "\"body\":\"b\\u00e9\",\"id\":\"first\"}\n"
           "{\"url\":\"%s\",\"headers\":[\"X-Two: 2\", \"X-Three: three\"],\"timeout\":5}\n"
           "{\"url\":\"%s\",\"headers\":{\"Bad Name\":\"v\"},\"id\":3}\n"
           "{\"method\":\"GET\",\"id\":4}\n"
           "{\"url\":\"%s\",\"timeout\":\"soon\"}\n"
           "{\"url\":\"%s\"} trailing\n",
           echo, echo, echo, echo, echo);
  run r;
  RUN(&r, input, "-q", "--body");
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 6);

  json_t *rec = by_index(recs, 0);
  assert_string_equal(str(rec, "id"), "first");
  json_t *seen = json_incref(json_object_get(rec, "json"));
  assert_string_equal(str(seen, "method"), "PATCH");
  assert_string_equal(str(seen, "body"), "b\xc3\xa9");
  assert_string_equal(str(json_object_get(seen, "headers"), "X-One"), "1");
  json_decref(seen);

  rec = by_index(recs, 1);
  seen = json_incref(json_object_get(rec, "json"));
  assert_string_equal(str(seen, "method"), "GET");
  assert_string_equal(str(json_object_get(seen, "headers"), "X-Two"), "2");
  assert_string_equal(str(json_object_get(seen, "headers"), "X-Three"), "three");
  json_decref(seen);

  rec = by_index(recs, 2); /* url and id survive a bad job */
  assert_string_equal(error_code(rec), "invalid_header");
  assert_string_equal(str(rec, "url"), echo);
  assert_int_equal(num(rec, "id"), 3);
  rec = by_index(recs, 3);
  assert_string_equal(error_code(rec), "invalid_url");
  assert_true(json_is_null(json_object_get(rec, "url")));
  assert_int_equal(num(rec, "id"), 4);
  assert_string_equal(error_code(by_index(recs, 4)), "invalid_request");
  assert_string_equal(error_code(by_index(recs, 5)), "invalid_json");
  json_decref(recs);
  run_free(&r);
  free(echo);
}

static void test_error_codes(void **state) {
  unsigned dead = closed_port(), raw = ts_raw_port(tu_server);
  char *timeout = tu_url("/delay/3000"), *loop = tu_url("/redirect-loop"),
       *big = tu_url("/bytes/5000"), *e500 = tu_url("/status/500"),
       *cut = tu_url("/close-mid-body?bytes=1000"), *fat = tu_url("/headers?count=20000&size=20");
  char input[4096];
  snprintf(input, sizeof input,
           "not a url\n"                       /* 0 invalid_url */
           "{\"url\":\n"                       /* 1 invalid_json */
           "ftp://127.0.0.1/file\n"            /* 2 unsupported_protocol */
           "http://127.0.0.1:%u/\n"            /* 3 connect */
           "%s\n"                              /* 4 timeout */
           "%s\n"                              /* 5 too_many_redirects */
           "%s\n"                              /* 6 body_too_large */
           "%s\n"                              /* 7 http */
           "http://%s.invalid/\n"              /* 8 dns: a 64-byte label fails locally */
           "{\"url\":\"%s\",\"headers\":[\"X\"]}\n" /* 9 invalid_header */
           "{\"url\":\"%s\",\"method\":7}\n"   /* 10 invalid_request */
           "%s\n"                              /* 11 network: body cut short */
           "http://127.0.0.1:%u/garbage\n"     /* 12 protocol */
           "%s\n",                             /* 13 headers_too_large */
           dead, timeout, loop, big, e500,
           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", e500, e500, cut,
           raw, fat);
  static const char *const want[] = {
      "invalid_url", "invalid_json",       "unsupported_protocol", "connect",
      "timeout",     "too_many_redirects", "body_too_large",       "http",
      "dns",         "invalid_header",     "invalid_request",      "network",
      "protocol",    "headers_too_large"};
  enum { N = sizeof want / sizeof *want };
  char *stats = tmp_path("errors.json");
  run r;
  double start = tu_now();
  RUN(&r, input, "--timeout", "0.4", "--max-redirs", "3", "--max-body", "4K", "--stats-json",
      stats, "--no-progress");
  assert_int_equal(r.status, 1);
  assert_true(tu_now() - start < 3.0 * tu_time_scale()); /* the timeout cut the delay */
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), N);
  for (int i = 0; i < N; i++) {
    json_t *rec = by_index(recs, i);
    if (strcmp(error_code(rec), want[i]))
      fail_msg("record %d: error %s, expected %s", i, error_code(rec), want[i]);
    assert_true(json_is_false(json_object_get(rec, "ok")));
    assert_keys(json_object_get(rec, "error"), "code,message");
    const char *message = str(json_object_get(rec, "error"), "message");
    if (!*message)
      fail_msg("record %d (%s): empty error message", i, want[i]);
  }
  assert_int_equal(num(by_index(recs, 7), "status"), 500);
  assert_true(json_is_null(json_object_get(by_index(recs, 3), "status")));
  json_decref(recs);

  /* the summary counts each code, and the stats file says the same */
  char line[64];
  snprintf(line, sizeof line, "%d jobs: 0 ok, %d failed", N, N);
  assert_true(contains(r.err, line));
  for (int i = 0; i < N; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, " %s 1", want[i]);
    if (!contains(r.err, needle))
      fail_msg("summary lacks '%s': %s", needle, r.err);
  }
  assert_true(contains(r.err, "5xx 1"));
  size_t len;
  char *text = read_file(stats, &len);
  json_t *s = json_loads(text, 0, NULL);
  json_t *errors = json_object_get(s, "errors");
  assert_int_equal(json_object_size(errors), N);
  for (int i = 0; i < N; i++)
    assert_int_equal(num(errors, want[i]), 1);
  assert_int_equal(num(s, "failed"), N);
  json_decref(s);
  free(text);
  run_free(&r);
  free(timeout), free(loop), free(big), free(e500), free(cut), free(fat), free(stats);
}

static void test_ordered(void **state) {
  /* job 0 finishes last; --ordered still writes it first */
  char *slow = url_lines("/delay/600", 1), *fast = url_lines("/text/f", 30);
  size_t n = strlen(slow) + strlen(fast);
  char *input = malloc(n + 1);
  snprintf(input, n + 1, "%s%s", slow, fast);
  run r;
  RUN(&r, input, "-q", "-t", "4", "--ordered");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 31);
  for (size_t i = 0; i < 31; i++)
    assert_int_equal(num(json_array_get(recs, i), "index"), (json_int_t)i);
  json_decref(recs);
  run_free(&r);

  /* unordered, the slow one comes out last */
  RUN(&r, input, "-q", "-t", "4");
  assert_int_equal(r.status, 0);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 31);
  assert_int_equal(num(json_array_get(recs, 30), "index"), 0);
  json_decref(recs);
  run_free(&r);
  free(slow), free(fast), free(input);
}

/* Every engine gives the same records: 300 jobs, each its own body, in
 * input order with --ordered, plus a bad line and a failing one. */
static void test_engines(void **state) {
  char *ok_lines = url_lines("/text/e", 300);
  size_t n = strlen(ok_lines) + 64;
  char *input = malloc(n);
  snprintf(input, n, "%snot a url\nhttp://127.0.0.1:%u/\n", ok_lines, closed_port());
  static const char *const engines[][4] = {
      {"--engine", "threads", "--loops", "1"},
      {"--engine", "multi", "--loops", "1"},
      {"--engine", "hybrid", "--loops", "3"},
  };
  for (size_t e = 0; e < 3; e++) {
    run r;
    RUN(&r, input, "-q", "-t", "16", "--ordered", "--body", engines[e][0], engines[e][1],
        engines[e][2], engines[e][3]);
    assert_int_equal(r.status, 1); /* two jobs fail */
    json_t *recs = records(&r);
    assert_int_equal(json_array_size(recs), 302);
    for (size_t i = 0; i < 300; i++) {
      json_t *rec = json_array_get(recs, i);
      assert_int_equal(num(rec, "index"), (json_int_t)i);
      assert_string_equal(str(rec, "body"), "e");
    }
    assert_string_equal(error_code(json_array_get(recs, 300)), "invalid_url");
    assert_string_equal(error_code(json_array_get(recs, 301)), "connect");
    json_decref(recs);
    run_free(&r);
  }
  run r;
  RUN(&r, "", "--engine", "async");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "--engine"));
  run_free(&r);
  RUN(&r, "", "--engine", "hybrid", "--loops", "0");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "--loops"));
  run_free(&r);
  free(ok_lines);
  free(input);
}

static void test_ordered_window_long_run(void **state) {
  /* far more jobs than the reorder window holds (1024 at 2 threads): the
   * reader waits for the window and the run still completes in order */
  size_t jobs = 3000;
  char *input = url_lines("/hello", jobs);
  char *path = write_tmp("long.txt", input, strlen(input));
  run r;
  RUN(&r, NULL, "-q", "-t", "2", "--ordered", path);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), jobs);
  for (size_t i = 0; i < jobs; i++)
    assert_int_equal(num(json_array_get(recs, i), "index"), (json_int_t)i);
  json_decref(recs);
  run_free(&r);
  free(input), free(path);
}

static void test_line_of_one_mib(void **state) {
  size_t mib = 1 << 20;
  char *base = tu_url("/hello?q=");
  char *echo = tu_url("/echo");
  /* three lines: 1 MiB of text that is no URL; a URL line of a million
   * bytes the server refuses as too long (libcurl itself refuses a request
   * head over 1 MiB); a JSON job line of 1 MiB whose body the server
   * echoes */
  size_t url_len = 1000000;
  char *input = malloc(3 * (mib + 1) + 1), *p = input;
  memset(p, 'x', mib);
  p += mib;
  *p++ = '\n';
  size_t blen = strlen(base);
  memcpy(p, base, blen);
  memset(p + blen, 'q', url_len - blen);
  p += url_len;
  *p++ = '\n';
  int head = sprintf(p, "{\"method\":\"POST\",\"url\":\"%s\",\"body\":\"", echo);
  size_t body_len = mib - (size_t)head - 2;
  memset(p + head, 'y', body_len);
  p += mib - 2;
  memcpy(p, "\"}\n", 4);
  p += 3;
  run r;
  run_cli(&r, input, (size_t)(p - input), ARGS("-q", "--ordered", "--body"));
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 3);
  json_t *rec = by_index(recs, 0);
  assert_string_equal(error_code(rec), "invalid_url");
  assert_int_equal(strlen(str(rec, "url")), mib);
  rec = by_index(recs, 1);
  assert_int_equal(strlen(str(rec, "url")), url_len);
  assert_int_equal(num(rec, "status"), 414);
  assert_string_equal(error_code(rec), "http");
  rec = by_index(recs, 2);
  assert_int_equal(num(rec, "status"), 200);
  json_t *seen = json_incref(json_object_get(rec, "json"));
  assert_int_equal(num(seen, "body_length"), (json_int_t)body_len);
  json_decref(seen);
  json_decref(recs);
  run_free(&r);
  free(input), free(base), free(echo);
}

static size_t unbase64(const char *in, unsigned char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = 0;
  unsigned acc = 0;
  int bits = 0;
  for (; *in && *in != '='; in++) {
    acc = acc << 6 | (unsigned)(strchr(tbl, *in) - tbl);
    if ((bits += 6) >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  return n;
}

static void test_bodies(void **state) {
  char *utf8 = tu_url("/utf8"), *bin = tu_url("/binary/300"), *ff = tu_url("/text/%%FF%%FEok");
  char input[2048];
  snprintf(input, sizeof input, "%s\n%s\n%s\n", utf8, bin, ff);
  run r;
  RUN(&r, input, "-q", "--body");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  json_t *rec = by_index(recs, 0);
  assert_keys(rec, RECORD_KEYS ",body");
  assert_string_equal(str(rec, "body"), "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
  rec = by_index(recs, 1);
  assert_keys(rec, RECORD_KEYS ",body_base64");
  unsigned char got[400];
  assert_int_equal(unbase64(str(rec, "body_base64"), got), 300);
  for (unsigned i = 0; i < 300; i++)
    assert_int_equal(got[i], (i * 7 + 3) & 0xff);
  rec = by_index(recs, 2);
  assert_keys(rec, RECORD_KEYS ",body_base64");
  assert_string_equal(str(rec, "body_base64"), "//5vaw=="); /* FF FE 'o' 'k' */
  json_decref(recs);
  run_free(&r);
  free(utf8), free(bin), free(ff);
}

static void check_saved(json_t *rec, const char *dir, const char *want, size_t want_len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%lld.body", dir, (long long)num(rec, "index"));
  assert_string_equal(str(rec, "saved"), path);
  size_t len;
  char *got = read_file(path, &len);
  assert_non_null(got);
  assert_int_equal(len, want_len);
  assert_memory_equal(got, want, want_len);
  free(got);
}

static void test_save(void **state) {
  /* every run saves into a directory of its own: --save never replaces a
   * file it did not create in the same run */
  char *dirs[5] = {tmp_path("saved"), tmp_path("saved-body"), tmp_path("saved-blocked"),
                   tmp_path("saved-blocked-body"), tmp_path("saved-stream")};
  char *dir = dirs[0];
  char *text = tu_url("/text/abc"), *bin = tu_url("/binary/70000"), *e404 = tu_url("/status/404"),
       *big = tu_url("/bytes/9000"), *empty = tu_url("/bytes/0");
  char input[4096];
  snprintf(input, sizeof input, "%s\n%s\n%s\n%s\n{bad\n%s\n", text, bin, e404, big, empty);
  unsigned char *pattern = malloc(70000);
  for (unsigned i = 0; i < 70000; i++)
    pattern[i] = (unsigned char)((i * 7 + 3) & 0xff);
  for (int with_body = 0; with_body < 2; with_body++) {
    run r;
    dir = dirs[with_body];
    if (with_body)
      RUN(&r, input, "-q", "--save", dir, "--save-all", "--max-filesize", "8K", "--body");
    else
      RUN(&r, input, "-q", "--save", dir, "--save-all", "--max-filesize", "8K");
    assert_int_equal(r.status, 1);
    json_t *recs = records(&r);
    assert_int_equal(json_array_size(recs), 6);
    check_saved(by_index(recs, 0), dir, "abc", 3);
    check_saved(by_index(recs, 2), dir, "status 404", 10); /* any status with --save-all */
    check_saved(by_index(recs, 5), dir, "", 0);
    /* --max-filesize 8K applies: a 70000-byte body is not saved, nor a bad line */
    for (int i = 1; i <= 4; i += (i == 1 ? 2 : 1)) {
      json_t *rec = by_index(recs, i);
      assert_null(json_object_get(rec, "saved"));
      char path[512];
      snprintf(path, sizeof path, "%s/%d.body", dir, i);
      assert_int_equal(access(path, F_OK), -1);
    }
    assert_string_equal(error_code(by_index(recs, 1)), "body_too_large");
    assert_string_equal(error_code(by_index(recs, 3)), "body_too_large");
    if (with_body)
      assert_string_equal(str(by_index(recs, 0), "body"), "abc");
    else
      assert_keys(by_index(recs, 0), RECORD_KEYS ",saved");
    json_decref(recs);
    run_free(&r);
  }
  /* a body whose name is taken (here by a directory) takes the next free
   * name, 0.1.body, and the directory is left as it was (rmdir below) */
  snprintf(input, sizeof input, "%s\n%s\n", text, text);
  for (int with_body = 0; with_body < 2; with_body++) {
    run r;
    dir = dirs[2 + with_body];
    char blocker[512];
    snprintf(blocker, sizeof blocker, "%s/0.body", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(blocker, 0700), 0);
    if (with_body)
      RUN(&r, input, "-q", "--save", dir, "--ordered", "--body");
    else
      RUN(&r, input, "-q", "--save", dir, "--ordered");
    assert_int_equal(r.status, 0);
    json_t *recs = records(&r);
    json_t *rec = by_index(recs, 0);
    char want[600];
    size_t len;
    snprintf(want, sizeof want, "%s/0.1.body", dir);
    assert_string_equal(str(rec, "saved"), want);
    char *got = read_file(want, &len);
    assert_non_null(got);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "abc", 3);
    free(got);
    check_saved(by_index(recs, 1), dir, "abc", 3);
    json_decref(recs);
    run_free(&r);
    assert_int_equal(rmdir(blocker), 0);
  }

  /* a binary body of more than one chunk, streamed through the sink */
  snprintf(input, sizeof input, "%s\n", bin);
  dir = dirs[4];
  run r;
  RUN(&r, input, "-q", "--save", dir);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  check_saved(by_index(recs, 0), dir, (const char *)pattern, 70000);
  json_decref(recs);
  run_free(&r);
  free(pattern);
  for (size_t i = 0; i < 5; i++)
    free(dirs[i]);
  free(text), free(bin), free(e404), free(big), free(empty);
}

static void test_method_headers_data(void **state) {
  char *echo = tu_url("/echo");
  char input[1024];
  snprintf(input, sizeof input, "%s\n{\"url\":\"%s\",\"headers\":{\"x-a\":\"json\"}}\n", echo,
           echo);
  run r;
  RUN(&r, input, "-q", "--body", "--ordered", "-X", "PUT", "-H", "X-A: one", "-H", "X-B: two",
      "-d", "payload", "-A", "agent/1.0", "--insecure");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  json_t *seen = json_incref(json_object_get(by_index(recs, 0), "json"));
  assert_string_equal(str(seen, "method"), "PUT");
  assert_string_equal(str(seen, "body"), "payload");
  json_t *h = json_object_get(seen, "headers");
  assert_string_equal(str(h, "X-A"), "one");
  assert_string_equal(str(h, "X-B"), "two");
  assert_string_equal(str(h, "User-Agent"), "agent/1.0");
  json_decref(seen);
  /* a JSON job's header replaces the option's of the same name */
  seen = json_incref(json_object_get(by_index(recs, 1), "json"));
  h = json_object_get(seen, "headers");
  assert_string_equal(str(h, "x-a"), "json");
  assert_null(json_object_get(h, "X-A"));
  assert_string_equal(str(h, "X-B"), "two");
  json_decref(seen);
  json_decref(recs);
  run_free(&r);

  /* --data alone posts; no option sends the default user agent */
  snprintf(input, sizeof input, "%s\n", echo);
  RUN(&r, input, "-q", "--body", "--data", "k=v");
  recs = records(&r);
  seen = json_incref(json_object_get(by_index(recs, 0), "json"));
  assert_string_equal(str(seen, "method"), "POST");
  assert_string_equal(str(seen, "body"), "k=v");
  json_decref(seen);
  json_decref(recs);
  run_free(&r);
  RUN(&r, input, "-q", "--body");
  recs = records(&r);
  seen = json_incref(json_object_get(by_index(recs, 0), "json"));
  assert_string_equal(str(seen, "method"), "GET");
  assert_string_equal(str(json_object_get(seen, "headers"), "User-Agent"), "fetchpool/" FP_VERSION);
  json_decref(seen);
  json_decref(recs);
  run_free(&r);
  free(echo);
}

static void test_redirects(void **state) {
  char *three = tu_url("/redirect/3"), *end = tu_url("/redirect/0");
  char input[1024];
  snprintf(input, sizeof input, "%s\n", three);
  run r;
  RUN(&r, input, "-q"); /* followed by default */
  json_t *recs = records(&r);
  json_t *rec = by_index(recs, 0);
  assert_int_equal(num(rec, "status"), 200);
  assert_string_equal(str(rec, "effective_url"), end);
  json_decref(recs);
  run_free(&r);

  RUN(&r, input, "-q", "--max-redirs", "0"); /* not followed: the 302 is the result */
  assert_int_equal(r.status, 0);
  recs = records(&r);
  rec = by_index(recs, 0);
  assert_int_equal(num(rec, "status"), 302);
  assert_true(json_is_true(json_object_get(rec, "ok")));
  assert_string_equal(str(rec, "effective_url"), three);
  json_decref(recs);
  run_free(&r);

  RUN(&r, input, "-q", "--max-redirs", "2");
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_string_equal(error_code(by_index(recs, 0)), "too_many_redirects");
  json_decref(recs);
  run_free(&r);

  RUN(&r, input, "-q", "--max-redirs", "3");
  assert_int_equal(r.status, 0);
  run_free(&r);

  /* by default at most 10: /redirect/N answers after N redirects */
  char *ten = tu_url("/redirect/10"), *eleven = tu_url("/redirect/11");
  snprintf(input, sizeof input, "%s\n%s\n", ten, eleven);
  RUN(&r, input, "-q", "--ordered");
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 2);
  rec = by_index(recs, 0);
  assert_string_equal(error_code(rec), "null");
  assert_int_equal(num(rec, "status"), 200);
  assert_string_equal(str(rec, "effective_url"), end);
  assert_string_equal(error_code(by_index(recs, 1)), "too_many_redirects");
  json_decref(recs);
  run_free(&r);
  free(ten), free(eleven);
  free(three), free(end);
}

static void test_max_body(void **state) {
  char *at = tu_url("/bytes/1024"), *over = tu_url("/bytes/1025"), *two = tu_url("/bytes/2048"),
       *chunked = tu_url("/bytes/1025?chunked=1");
  char input[1024];
  snprintf(input, sizeof input, "%s\n%s\n%s\n%s\n", at, over, two, chunked);
  run r;
  RUN(&r, input, "-q", "--max-body", "1K");
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  assert_string_equal(error_code(by_index(recs, 0)), "null");
  assert_int_equal(num(by_index(recs, 0), "bytes"), 1024);
  assert_string_equal(error_code(by_index(recs, 1)), "body_too_large");
  assert_string_equal(error_code(by_index(recs, 2)), "body_too_large");
  assert_string_equal(error_code(by_index(recs, 3)), "body_too_large");
  json_decref(recs);
  run_free(&r);

  RUN(&r, input, "-q", "--max-body", "2k");
  assert_int_equal(r.status, 0);
  run_free(&r);
  RUN(&r, input, "-q", "--max-body", "2048");
  assert_int_equal(r.status, 0);
  run_free(&r);
  free(at), free(over), free(two), free(chunked);

  /* an M suffix: 1 MiB exactly is ok, one byte more is not, whether the
   * length is announced or not */
  char *mib = tu_url("/bytes/1048576"), *mib1 = tu_url("/bytes/1048577"),
       *mib1c = tu_url("/bytes/1048577?chunked=1");
  snprintf(input, sizeof input, "%s\n%s\n%s\n", mib, mib1, mib1c);
  RUN(&r, input, "-q", "--max-body", "1M");
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 3);
  assert_string_equal(error_code(by_index(recs, 0)), "null");
  assert_int_equal(num(by_index(recs, 0), "bytes"), 1048576);
  assert_string_equal(error_code(by_index(recs, 1)), "body_too_large");
  assert_string_equal(error_code(by_index(recs, 2)), "body_too_large");
  json_decref(recs);
  run_free(&r);
  free(mib), free(mib1), free(mib1c);

  /* the documented default, 64M: a body of 64 MiB is ok, 64 MiB + 1 is
   * not (announced by its Content-Length, so it stops before the body) */
  char *max = tu_url("/bytes/67108864"), *max1 = tu_url("/bytes/67108865");
  snprintf(input, sizeof input, "%s\n%s\n", max, max1);
  RUN(&r, input, "-q");
  assert_int_equal(r.status, 1);
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 2);
  assert_string_equal(error_code(by_index(recs, 0)), "null");
  assert_int_equal(num(by_index(recs, 0), "bytes"), 67108864);
  assert_string_equal(error_code(by_index(recs, 1)), "body_too_large");
  json_decref(recs);
  print_message("64 MiB and 64 MiB + 1 in %.2f s\n", r.secs);
  run_free(&r);
  free(max), free(max1);
}

static void test_timeout_decimals(void **state) {
  char *slow = tu_url("/delay/3000"), *quick = tu_url("/delay/50");
  char input[1024];
  snprintf(input, sizeof input, "%s\n{\"url\":\"%s\",\"timeout\":1.5}\n", slow, quick);
  run r;
  RUN(&r, input, "-q", "--ordered", "--timeout", "0.25", "--connect-timeout", "0.5");
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  json_t *rec = by_index(recs, 0);
  assert_string_equal(error_code(rec), "timeout");
  double ms = json_number_value(json_object_get(rec, "elapsed_ms"));
  if (ms < 240 || ms > 1500 * tu_time_scale())
    fail_msg("a 0.25 s timeout took %.1f ms", ms);
  assert_string_equal(error_code(by_index(recs, 1)), "null"); /* the job's own 1.5 s */
  json_decref(recs);
  run_free(&r);
  free(slow), free(quick);
}

static void test_quiet_and_summary(void **state) {
  char *ok = tu_url("/hello"), *redirect = tu_url("/redirect/1"), *e404 = tu_url("/status/404");
  char input[1024];
  snprintf(input, sizeof input, "%s\n%s\n%s\n%s\n", ok, ok, e404, ok);
  run r;
  RUN(&r, input, "-q");
  assert_int_equal(r.status, 1);
  assert_int_equal(r.err_len, 0); /* silent */
  run_free(&r);

  RUN(&r, input, "--no-progress");
  assert_int_equal(r.status, 1);
  assert_true(contains(r.err, "4 jobs: 3 ok, 1 failed"));
  assert_true(contains(r.err, "2xx 3  3xx 0  4xx 1  5xx 0"));
  assert_true(contains(r.err, "failed:  http 1"));
  assert_true(contains(r.err, "latency: min"));
  assert_true(contains(r.err, "p99.9"));
  assert_true(contains(r.err, "requests/s"));
  assert_true(contains(r.err, "25 B received")); /* 3 x "hello", "status 404" */
  assert_false(contains(r.err, "\r"));           /* stderr is no terminal: no progress */
  /* the first line: counts, wall time, rate and bytes, exactly */
  double wall, rate;
  int used = -1;
  if (sscanf(r.err, "4 jobs: 3 ok, 1 failed in %lf s (%lf requests/s), 25 B received\n%n",
             &wall, &rate, &used) != 2 || used < 0)
    fail_msg("summary's first line: %s", r.err);
  if (wall <= 0 || wall > r.secs)
    fail_msg("wall time %.3f s in a run of %.3f s", wall, r.secs);
  /* both are rounded for print: the wall time to 0.5 ms, the rate to 0.05 */
  double lo = 4 / (wall + 0.0005) - 0.05;
  double hi = wall > 0.0005 ? 4 / (wall - 0.0005) + 0.05 : HUGE_VAL;
  if (rate < lo || rate > hi)
    fail_msg("%.1f requests/s for 4 jobs in %.3f s", rate, wall);
  /* the latency line: min, p50, p90, p99, p99.9, max, in order */
  const char *lat = strstr(r.err, "\n  latency: ");
  assert_non_null(lat);
  double q[6];
  used = -1;
  if (sscanf(lat + 1, "  latency: min %lf p50 %lf p90 %lf p99 %lf p99.9 %lf max %lf ms\n%n",
             &q[0], &q[1], &q[2], &q[3], &q[4], &q[5], &used) != 6 || used < 0)
    fail_msg("summary's latency line: %s", lat + 1);
  assert_true(q[0] > 0);
  for (int i = 1; i < 6; i++)
    assert_true(q[i] >= q[i - 1]);
  assert_true(q[5] <= wall * 1000 + 0.1);
  run_free(&r);

  /* all ok: exit 0; a redirect ends in 2xx */
  snprintf(input, sizeof input, "%s\n%s\n", ok, redirect);
  RUN(&r, input, "--no-progress");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.err, "2 jobs: 2 ok, 0 failed"));
  assert_false(contains(r.err, "failed: "));
  run_free(&r);
  free(ok), free(redirect), free(e404);
}

static void test_stats_json(void **state) {
  char *ok = tu_url("/hello"), *e503 = tu_url("/status/503"), *moved = tu_url("/redirect/1");
  char input[1024];
  snprintf(input, sizeof input, "%s\n%s\n%s\n{nope\n%s\n", ok, ok, e503, moved);
  char *path = tmp_path("stats.json");
  run r;
  RUN(&r, input, "-q", "--max-redirs", "0", "--stats-json", path);
  assert_int_equal(r.status, 1);
  assert_int_equal(r.err_len, 0);
  size_t len;
  char *text = read_file(path, &len);
  assert_non_null(text);
  assert_int_equal(text[len - 1], '\n');
  json_t *s = json_loads(text, 0, NULL);
  assert_non_null(s);
  assert_keys(s, "jobs,ok,failed,errors,status,wall_s,requests_per_s,bytes,latency_ms,"
                 "skipped,interrupted,not_written,filtered,hosts");
  assert_int_equal(num(s, "not_written"), 0);
  assert_int_equal(num(s, "skipped"), 0);
  assert_true(json_is_null(json_object_get(s, "interrupted")));
  assert_int_equal(num(s, "jobs"), 5);
  assert_int_equal(num(s, "ok"), 3);
  assert_int_equal(num(s, "failed"), 2);
  json_t *errors = json_object_get(s, "errors");
  assert_keys(errors, "http,invalid_json");
  assert_int_equal(num(errors, "http"), 1);
  assert_int_equal(num(errors, "invalid_json"), 1);
  json_t *st = json_object_get(s, "status");
  assert_keys(st, "2xx,3xx,4xx,5xx");
  assert_int_equal(num(st, "2xx"), 2);
  assert_int_equal(num(st, "3xx"), 1);
  assert_int_equal(num(st, "4xx"), 0);
  assert_int_equal(num(st, "5xx"), 1);
  assert_int_equal(num(s, "bytes"), 5 + 5 + 10 + 8); /* hello x2, "status 503", "redirect" */
  assert_true(json_number_value(json_object_get(s, "wall_s")) > 0);
  assert_true(json_number_value(json_object_get(s, "requests_per_s")) > 0);
  json_t *lat = json_object_get(s, "latency_ms");
  assert_keys(lat, "count,min,p50,p90,p99,p99_9,max");
  assert_int_equal(num(lat, "count"), 4); /* the bad line made no request */
  double prev = 0;
  static const char *const q[] = {"min", "p50", "p90", "p99", "p99_9", "max"};
  for (size_t i = 0; i < 6; i++) {
    double v = json_number_value(json_object_get(lat, q[i]));
    assert_true(v >= prev);
    prev = v;
  }
  json_decref(s);
  free(text);
  run_free(&r);

  /* nothing ran: latencies are null */
  RUN(&r, "{x\n", "-q", "--stats-json", path);
  text = read_file(path, &len);
  s = json_loads(text, 0, NULL);
  lat = json_object_get(s, "latency_ms");
  assert_int_equal(num(lat, "count"), 0);
  assert_true(json_is_null(json_object_get(lat, "p50")));
  json_decref(s);
  free(text);
  run_free(&r);
  free(ok), free(e503), free(moved), free(path);
}


/* Samples, on a thread of its own, of the count of /flaky/KEY requests
 * the server has seen, while a run goes on: only samples whose answer
 * came before until count. */
typedef struct count_sampler {
  const char *key;
  double until;
  long most, last; /* the largest and the last count sampled; -1: none */
  size_t samples;
  const char *failed; /* why sampling failed, or NULL */
  pthread_t thread;
} count_sampler;

static void *sample_counts(void *arg) {
  count_sampler *s = arg;
  fp_executor_options opts;
  fp_executor_options_init(&opts);
  opts.threads = 1;
  fp_error err = {0};
  fp_executor *ex = fp_executor_new(&opts, &err);
  if (!ex) {
    s->failed = "cannot start an executor";
    return NULL;
  }
  while (!s->failed) {
    char *url = tu_url("/flaky-count/%s", s->key);
    fp_future *f = fp_executor_submit_url(ex, url, &err);
    free(url);
    const fp_response *resp = NULL;
    if (!f || fp_future_result(f, 60, &resp) != FP_OK || !resp ||
        fp_response_status(resp) != 200) {
      s->failed = "a /flaky-count request failed";
    } else if (tu_now() < s->until) {
      long v = atol(fp_response_body(resp, NULL));
      s->samples++;
      s->last = v;
      if (v > s->most)
        s->most = v;
    } else {
      fp_future_decref(f);
      break;
    }
    if (f)
      fp_future_decref(f);
    usleep(5000);
  }
  fp_executor_free(ex);
  return NULL;
}

static void test_ordered_window_bounded(void **state) {
  /* --ordered holds at most a window of records: while job 0 is held,
   * the reader starts only the jobs that fit in the window, whatever the
   * threads and the queue could take. The window is 4 x --threads, at
   * least 1024 (src/cli/main.c), and the reader reserves a job its slot
   * before submitting it, so with job 0 unanswered at most jobs 1..1023
   * reach the server; unbounded, all 2000 fast ones would. */
  enum { WINDOW = 1024, FAST = 2000 };
  const unsigned delay_ms = (unsigned)(2500 * tu_time_scale());
  char head[64];
  snprintf(head, sizeof head, "/delay/%u", delay_ms);
  char *slow = url_lines(head, 1), *fast = url_lines("/flaky/cli-window?fail=0", FAST);
  size_t n = strlen(slow) + strlen(fast);
  char *input = malloc(n + 1);
  snprintf(input, n + 1, "%s%s", slow, fast);
  /* job 0 is answered no sooner than delay_ms after the spawn (taken
   * after this); a margin for the server's truncated clock */
  count_sampler s = {.key = "cli-window", .until = tu_now() + delay_ms / 1e3 - 0.05,
                     .most = -1, .last = -1};
  assert_int_equal(pthread_create(&s.thread, NULL, sample_counts, &s), 0);
  run r;
  RUN(&r, input, "-q", "-t", "8", "--ordered");
  assert_int_equal(pthread_join(s.thread, NULL), 0);
  if (s.failed)
    fail_msg("sampling: %s", s.failed);
  print_message("%zu samples while job 0 was held: at most %ld, last %ld requests\n",
                s.samples, s.most, s.last);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), FAST + 1);
  for (size_t i = 0; i <= FAST; i++)
    assert_int_equal(num(json_array_get(recs, i), "index"), (json_int_t)i);
  json_decref(recs);
  run_free(&r);
  assert_true(s.samples > 0);
  if (s.most > WINDOW - 1)
    fail_msg("%ld jobs reached the server while job 0 was held: the window of %d is not "
             "bounded", s.most, WINDOW);
  /* and the window fills: the bound is the window, not something less */
  assert_int_equal(s.last, WINDOW - 1);
  assert_int_equal(tu_server_number("/flaky-count/cli-window"), FAST);
  free(slow), free(fast), free(input);
}

static void test_default_threads(void **state) {
  /* no --threads: 32 transfers at once, as --help says */
  char *input = url_lines("/concurrency/cli-default?ms=300", 80);
  run r;
  RUN(&r, input, "-q");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 80);
  json_decref(recs);
  run_free(&r);
  assert_int_equal(tu_server_number("/concurrency-max/cli-default"), 32);
  free(input);
}

static void test_open_files_raised(void **state) {
  /* a soft limit of 200 under a hard one of 4096: 150 busy workers need
   * about 514 files, so fetchpool raises the soft limit itself, says
   * nothing, and all 150 run at once */
  static const char *const soft[] = {"/usr/bin/prlimit", "--nofile=200:4096", "--", NULL};
  /* each held long enough that a server slowed by tools accepts them all
   * while the first are still held */
  char path[64];
  snprintf(path, sizeof path, "/concurrency/cli-nofile?ms=%u", (unsigned)(400 * tu_time_scale()));
  char *input = url_lines(path, 150);
  run r;
  run_cli_wrapped(&r, soft, input, strlen(input), ARGS("-q", "-t", "150"), NULL, 0, false);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.err_len, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 150);
  for (size_t i = 0; i < json_array_size(recs); i++)
    assert_true(json_is_true(json_object_get(json_array_get(recs, i), "ok")));
  json_decref(recs);
  run_free(&r);
  /* past the 45 at once that 200 files allow ((200 - 64) / 3); all 150
   * in a plain build, where the in-process server keeps up */
  long most = tu_server_number("/concurrency-max/cli-nofile");
  print_message("%ld of 150 transfers at once\n", most);
  if (tu_time_scale() == 1.0)
    assert_int_equal(most, 150);
  else
    assert_true(most > 45);
  free(input);
}

static void test_connect_timeout_applies(void **state) {
  /* a listener with a full accept queue never completes a connect: the
   * --connect-timeout given ends it, with its own error code */
  unsigned port;
  int filler, fd = tu_full_listener(&port, &filler);
  char line[64];
  snprintf(line, sizeof line, "http://127.0.0.1:%u/\n", port);
  run r;
  RUN(&r, line, "-q", "--connect-timeout", "0.3", "--timeout", "10");
  assert_int_equal(r.status, 1);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 1);
  assert_string_equal(error_code(json_array_get(recs, 0)), "connect_timeout");
  json_decref(recs);
  if (r.secs >= 3.0 * tu_time_scale())
    fail_msg("a 0.3 s connect timeout took %.2f s", r.secs);
  run_free(&r);
  close(filler);
  close(fd);
}

static void test_progress_line(void **state) {
  /* the line shows done/total, ok and failed, the rate and an ETA, and is
   * redrawn at most 10 times a second */
  const char *fail = "/status/500";
  char *bad = url_lines(fail, 2), *slow = url_lines("/delay/300", 8);
  size_t nb = strlen(bad), ns = strlen(slow);
  char *input = malloc(nb + ns + 1);
  memcpy(input, bad, nb);
  memcpy(input + nb, slow, ns + 1);
  char *path = write_tmp("progress-line.txt", input, nb + ns);
  run r;
  RUN(&r, NULL, "--progress", "-t", "2", "-o", "/dev/null", path);
  assert_int_equal(r.status, 1);
  assert_true(contains(r.err, "/10  ok "));
  assert_true(contains(r.err, "  failed 2  "));
  assert_true(contains(r.err, "/s  ETA "));
  size_t redraws = 0;
  for (const char *p = r.err; (p = strstr(p, "\r[")); p++)
    redraws++;
  print_message("%zu redraws in %.2f s\n", redraws, r.secs);
  assert_true(redraws >= 3);
  if ((double)redraws > 10 * r.secs + 2)
    fail_msg("%zu redraws in %.2f s: more than 10 a second", redraws, r.secs);
  run_free(&r);
  free(bad), free(slow), free(input), free(path);
}

/* Run fetchpool with args on a pseudo-terminal: standard error is the
 * terminal, standard output too when out_on_tty, else /dev/null. Returns
 * what the terminal showed (NEW); *status gets the exit status. */
static char *run_on_terminal(const char *const *args, bool out_on_tty, int *status) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_true(master >= 0);
  assert_int_equal(grantpt(master), 0);
  assert_int_equal(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_true(slave >= 0);
  const char *argv[16];
  size_t argc = 0;
  argv[argc++] = program();
  for (; *args; args++) {
    assert_true(argc < 15);
    argv[argc++] = *args;
  }
  argv[argc] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_on_tty)
    posix_spawn_file_actions_adddup2(&fa, slave, 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, slave, 2);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(slave);
  char *seen = calloc(1, 1);
  size_t len = 0;
  double end = tu_now() + CHILD_SECONDS * tu_time_scale();
  for (;;) { /* until the terminal's last writer is gone (EIO), bounded */
    struct pollfd p = {.fd = master, .events = POLLIN};
    if (tu_now() > end) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(&p, 1, 100) <= 0)
      continue;
    char buf[4096];
    ssize_t got = read(master, buf, sizeof buf);
    if (got <= 0 && errno != EINTR)
      break;
    if (got > 0)
      append(&seen, &len, buf, (size_t)got);
  }
  close(master);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (contains(seen, "Sanitizer") || contains(seen, "runtime error:"))
    fail_msg("fetchpool under a sanitizer reported:\n%s", seen);
  return seen;
}

static void test_progress_on_terminal(void **state) {
  /* standard error a terminal: the progress line is on by itself; with
   * the records going to that terminal too it stays off, so the two do
   * not garble each other */
  char *input = url_lines("/delay/300", 6);
  char *path = write_tmp("tty.txt", input, strlen(input));
  int status;
  char *seen = run_on_terminal(ARGS("-t", "2", path), false, &status);
  assert_int_equal(status, 0);
  assert_true(contains(seen, "\r["));
  assert_true(contains(seen, "/6  ok "));
  assert_true(contains(seen, "6 jobs: 6 ok, 0 failed"));
  free(seen);

  seen = run_on_terminal(ARGS("-t", "2", path), true, &status);
  assert_int_equal(status, 0);
  assert_false(contains(seen, "\r["));
  assert_true(contains(seen, "\"index\":5"));
  assert_true(contains(seen, "6 jobs: 6 ok, 0 failed"));
  free(seen);

  /* -o sends the records elsewhere: the bar is back */
  char *out = tmp_path("tty.jsonl");
  seen = run_on_terminal(ARGS("-t", "2", "-o", out, path), true, &status);
  assert_int_equal(status, 0);
  assert_true(contains(seen, "\r["));
  free(seen);
  free(out), free(input), free(path);
}

static void test_no_progress_and_quiet_on_terminal(void **state) {
  /* standard error a terminal, records elsewhere: the progress line would
   * be on by itself (test_progress_on_terminal); --no-progress turns it
   * off and keeps the summary, -q turns both off */
  char *input = url_lines("/delay/300", 6);
  char *path = write_tmp("tty-quiet.txt", input, strlen(input));
  int status;
  char *seen = run_on_terminal(ARGS("-t", "2", "--no-progress", path), false, &status);
  assert_int_equal(status, 0);
  assert_false(contains(seen, "\r[")); /* the terminal shows "\n" as "\r\n" */
  assert_false(contains(seen, "ETA"));
  assert_true(contains(seen, "6 jobs: 6 ok, 0 failed"));
  free(seen);

  seen = run_on_terminal(ARGS("-t", "2", "-q", path), false, &status);
  assert_int_equal(status, 0);
  assert_string_equal(seen, ""); /* nothing at all */
  free(seen);
  free(input), free(path);
}

static void test_output_file_and_progress(void **state) {
  char *input = url_lines("/delay/250", 6);
  char *in_path = write_tmp("progress.txt", input, strlen(input));
  char *out_path = write_tmp("out.jsonl", "stale content\n", 14);
  run r;
  /* progress forced on: it goes to stderr, records only to the file */
  RUN(&r, NULL, "--progress", "-t", "2", "-o", out_path, in_path);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out_len, 0);
  assert_true(contains(r.err, "\r"));
  assert_true(contains(r.err, "/6")); /* total known for a regular file */
  assert_true(contains(r.err, "6 jobs: 6 ok, 0 failed"));
  size_t len;
  run file = {0};
  file.out = read_file(out_path, &len);
  file.out_len = len;
  json_t *recs = records(&file); /* only JSON lines, stale content gone */
  assert_int_equal(json_array_size(recs), 6);
  json_decref(recs);
  free(file.out);
  run_free(&r);

  /* progress on with records on stdout: stdout still holds only records */
  RUN(&r, input, "--progress", "-t", "2");
  assert_int_equal(r.status, 0);
  assert_null(memchr(r.out, '\r', r.out_len));
  assert_null(memchr(r.out, '\033', r.out_len));
  recs = records(&r);
  assert_int_equal(json_array_size(recs), 6);
  json_decref(recs);
  assert_true(contains(r.err, " done")); /* a pipe: total unknown */
  run_free(&r);

  /* -q silences progress as well unless asked for */
  RUN(&r, input, "-q", "-t", "6");
  assert_int_equal(r.err_len, 0);
  run_free(&r);
  free(input), free(in_path), free(out_path);
}

static void test_lines_never_torn(void **state) {
  /* large records finishing together on many threads: each line whole */
  char *input = url_lines("/bytes/200000", 40);
  run r;
  RUN(&r, input, "-q", "-t", "16", "--body");
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 40);
  for (size_t i = 0; i < json_array_size(recs); i++)
    assert_int_equal(strlen(str(json_array_get(recs, i), "body")), 200000);
  json_decref(recs);
  run_free(&r);
  free(input);
}

static void test_threads_throughput(void **state) {
  /* the bound: 2,000 requests of 100 ms on 100 threads in < 3 s */
  char *input = url_lines("/delay/100", 2000);
  char *stats = tmp_path("throughput.json");
  run r;
  RUN(&r, input, "--threads", "100", "-q", "--stats-json", stats);
  assert_int_equal(r.status, 0);
  json_t *recs = records(&r);
  assert_int_equal(json_array_size(recs), 2000);
  json_decref(recs);
  /* Sanitizers and valgrind slow the in-process server too: the bound
   * stretches with them (tu_time_scale is 1 in the plain build). */
  if (r.secs >= 3.0 * tu_time_scale())
    fail_msg("2000 x 100 ms on 100 threads took %.2f s", r.secs);
  /* every request took at least the server's 100 ms, and the histogram
   * says so within its precision */
  size_t len;
  char *text = read_file(stats, &len);
  json_t *s = json_loads(text, 0, NULL);
  json_t *lat = json_object_get(s, "latency_ms");
  assert_int_equal(num(lat, "count"), 2000);
  /* the server sleeps in whole milliseconds of a truncated clock, so a
   * 100 ms delay may end up to 1 ms early */
  assert_true(json_number_value(json_object_get(lat, "min")) >= 99.0);
  assert_true(json_number_value(json_object_get(lat, "p50")) >= 100.0 * 0.996);
  assert_true(json_number_value(json_object_get(lat, "max")) >=
              json_number_value(json_object_get(lat, "p99_9")));
  json_decref(s);
  free(text);
  run_free(&r);
  free(input), free(stats);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_version_and_help),
      TU_TEST(test_man_page_complete),
      TU_TEST(test_usage_errors),
      TU_TEST(test_limits_accepted),
      TU_TEST(test_open_files_warning),
      TU_TEST(test_missing_and_unreadable_files),
      TU_TEST(test_stdin_files_and_dash),
      TU_TEST(test_line_forms),
      TU_TEST(test_record_schema),
      TU_TEST(test_json_jobs),
      TU_TEST(test_error_codes),
      TU_TEST(test_ordered),
      TU_TEST(test_engines),
      TU_TEST(test_ordered_window_long_run),
      TU_TEST(test_line_of_one_mib),
      TU_TEST(test_bodies),
      TU_TEST(test_save),
      TU_TEST(test_method_headers_data),
      TU_TEST(test_redirects),
      TU_TEST(test_max_body),
      TU_TEST(test_timeout_decimals),
      TU_TEST(test_quiet_and_summary),
      TU_TEST(test_stats_json),
      TU_TEST(test_output_file_and_progress),
      TU_TEST(test_default_threads),
      TU_TEST(test_ordered_window_bounded),
      TU_TEST(test_open_files_raised),
      TU_TEST(test_connect_timeout_applies),
      TU_TEST(test_progress_line),
      TU_TEST(test_progress_on_terminal),
      TU_TEST(test_no_progress_and_quiet_on_terminal),
      TU_TEST(test_lines_never_torn),
      TU_TEST(test_threads_throughput),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
