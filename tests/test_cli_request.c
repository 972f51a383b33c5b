/* test_cli_request.c: the fetchpool program's curl-style request options
 * (auth, data, -K config files, misc; issue 13), each run on every engine
 * against the in-process loopback server, and credentials kept out of
 * every output and out of the process list. */
#include "testutil.h"
#include "cli_harness.h"

#define NENGINES 3

/* write_tmp of a string */
static char *write_str(const char *name, const char *s) { return write_tmp(name, s, strlen(s)); }

static const char *const engines[NENGINES] = {"threads", "multi", "hybrid"};

/* Run fetchpool -q --body --engine ENGINES[e] with args on input, and
 * return its one record (NEW); r keeps the outputs (run_free it). */
static json_t *one_record(run *r, size_t e, const char *input, const char *const *args) {
  const char *argv[48];
  size_t n = 0;
  argv[n++] = "-q";
  argv[n++] = "--body";
  argv[n++] = "--engine";
  argv[n++] = engines[e];
  for (; *args; args++) {
    assert_true(n < 46);
    argv[n++] = *args;
  }
  argv[n] = NULL;
  run_cli(r, input, input ? strlen(input) : 0, argv);
  json_t *recs = records(r);
  if (json_array_size(recs) != 1)
    fail_msg("%s: status %d, %zu records, stdout '%s', stderr '%s'", engines[e], r->status,
             json_array_size(recs), r->out, r->err);
  json_t *rec = json_incref(json_array_get(recs, 0));
  json_decref(recs);
  return rec;
}
#define ONE(r, e, input, ...) one_record(r, e, input, ARGS(__VA_ARGS__))

/* The request as /echo saw it (NEW), from rec's body: JSON, so --body
 * puts it in the record as the value "json". */
static json_t *echo_of(json_t *rec) {
  json_t *echo = json_object_get(rec, "json");
  if (!json_is_object(echo))
    fail_msg("not an /echo body: %s", json_dumps(rec, JSON_COMPACT));
  return json_incref(echo);
}

/* Header name of the echoed request, or NULL. */
static const char *sent_header(json_t *echo, const char *name) {
  return json_string_value(json_object_get(json_object_get(echo, "headers"), name));
}

static void assert_status(json_t *rec, json_int_t status, size_t e) {
  if (num(rec, "status") != status)
    fail_msg("%s: status %lld, expected %lld: %s", engines[e], (long long)num(rec, "status"),
             (long long)status, json_dumps(rec, JSON_COMPACT));
}

/* ---- authentication ---- */

static void test_user_basic(void **state) {
  char *auth = tu_url("/basic-auth/alice/s3cret"), *echo = tu_url("/echo");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, auth, "-u", "alice:s3cret");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, auth, "--user", "alice:s3cret", "--basic");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    /* no password is an empty one, never a prompt: "alice:" */
    rec = ONE(&r, e, echo, "-u", "alice");
    json_t *req = echo_of(rec);
    assert_string_equal(sent_header(req, "Authorization"), "Basic YWxpY2U6");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  free(auth), free(echo);
}

static void test_digest_and_anyauth(void **state) {
  char *url = tu_url("/digest-auth/alice/s3cret");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "-u", "alice:s3cret", "--digest");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, url, "-u", "alice:s3cret", "--anyauth");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    /* Basic credentials are refused there: the method matters */
    rec = ONE(&r, e, url, "-u", "alice:s3cret");
    assert_status(rec, 401, e);
    assert_int_equal(r.status, 1);
    json_decref(rec);
    run_free(&r);
  }
  free(url);
}

/* No NTLM server can run on loopback here: check that the request
 * carries NTLM's first (negotiate) message, type 1, "NTLMSSP\0\1". */
static void test_ntlm_negotiate(void **state) {
  char *url = tu_url("/echo");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "-u", "alice:s3cret", "--ntlm");
    json_t *req = echo_of(rec);
    const char *h = sent_header(req, "Authorization");
    if (!h || strncmp(h, "NTLM TlRMTVNTUAAB", 17) != 0)
      fail_msg("%s: Authorization '%s'", engines[e], h ? h : "(none)");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  free(url);
}

static void test_oauth2_bearer(void **state) {
  char *url = tu_url("/bearer/t0ken");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "--oauth2-bearer", "t0ken");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
  }
  free(url);
}

static void test_netrc(void **state) {
  char *url = tu_url("/basic-auth/alice/s3cret");
  char *good = write_str("good.netrc", "machine 127.0.0.1 login alice password s3cret\n");
  char *bad = write_str("bad.netrc", "machine 127.0.0.1 login alice password wrong\n");
  char *home = tmp_path("home");
  mkdir(home, 0700);
  char *in_home = tmp_path("home/.netrc");
  rename(good, in_home);
  char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
  char wrong_in_url[128], good_in_url[128];
  snprintf(wrong_in_url, sizeof wrong_in_url, "http://alice:wrong@127.0.0.1:%u/basic-auth/alice/s3cret",
           ts_port(tu_server));
  snprintf(good_in_url, sizeof good_in_url, "http://alice:s3cret@127.0.0.1:%u/basic-auth/alice/s3cret",
           ts_port(tu_server));
  setenv("HOME", home, 1);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    /* --netrc: ~/.netrc */
    json_t *rec = ONE(&r, e, url, "--netrc");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, url, "-n");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    /* --netrc, --netrc-file: the file's credentials win over the URL's */
    rec = ONE(&r, e, wrong_in_url, "--netrc-file", in_home);
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, good_in_url, "--netrc-file", bad);
    assert_status(rec, 401, e);
    json_decref(rec);
    run_free(&r);
    /* --netrc-optional: the URL's win over the file's */
    rec = ONE(&r, e, good_in_url, "--netrc-optional", "--netrc-file", bad);
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, wrong_in_url, "--netrc-file", in_home, "--netrc-optional");
    assert_status(rec, 401, e);
    json_decref(rec);
    run_free(&r);
  }
  if (old_home)
    setenv("HOME", old_home, 1);
  else
    unsetenv("HOME");
  run r;
  RUN(&r, url, "--netrc-file", "/nonexistent/netrc");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "--netrc-file"));
  run_free(&r);
  free(old_home), free(url), free(good), free(bad), free(home), free(in_home);
}

/* ---- credentials in no output ---- */

/* Nothing of r's outputs, nor of the file at stats (when not NULL),
 * holds secret. */
static void assert_no_secret(const run *r, const char *stats, const char *secret) {
  if (contains(r->out, secret) || contains(r->err, secret))
    fail_msg("'%s' shown: stdout '%s', stderr '%s'", secret, r->out, r->err);
  if (stats) {
    size_t len;
    char *text = read_file(stats, &len);
    assert_non_null(text);
    if (contains(text, secret))
      fail_msg("'%s' in --stats-json: %s", secret, text);
    free(text);
  }
}

static void test_url_credentials_redacted(void **state) {
  char *stats = tmp_path("redact.json");
  char input[512];
  unsigned port = ts_port(tu_server), closed = closed_port();
  snprintf(input, sizeof input,
           "http://alice:s3cret@127.0.0.1:%u/echo\n"
           "http://t0ken-s3cret@127.0.0.1:%u/echo\n"
           "http://127.0.0.1:%u/redirect-to?url=http%%3A%%2F%%2Fbob%%3Ahunter2%%40127.0.0.1%%3A%u%%2Fhello\n"
           "http://alice:s3cret@127.0.0.1:%u/nowhere\n"
           "{\"url\":\"http://alice:s3cret@127.0.0.1:%u/echo\",\"user\":\"x:s3cret\" oops}\n"
           "{\"url\":\"http://x/\",\"user\":\"alice:s3cret\n",
           port, port, port, port, closed, port);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    RUN(&r, input, "--engine", engines[e], "--ordered", "--stats-json", stats, "--progress");
    assert_int_equal(r.status, 1);
    json_t *recs = records(&r);
    assert_int_equal(json_array_size(recs), 6);
    json_t *rec = by_index(recs, 0);
    assert_int_equal(num(rec, "status"), 200); /* the credentials were sent */
    char want[128];
    snprintf(want, sizeof want, "http://***@127.0.0.1:%u/echo", port);
    assert_string_equal(str(rec, "url"), want);
    assert_string_equal(str(rec, "effective_url"), want);
    assert_string_equal(str(by_index(recs, 1), "url"), want);
    snprintf(want, sizeof want, "http://***@127.0.0.1:%u/hello", port);
    assert_string_equal(str(by_index(recs, 2), "effective_url"), want);
    assert_string_equal(error_code(by_index(recs, 3)), "connect");
    assert_string_equal(error_code(by_index(recs, 4)), "invalid_json");
    assert_string_equal(error_code(by_index(recs, 5)), "invalid_json");
    assert_no_secret(&r, stats, "s3cret");
    assert_false(contains(str(by_index(recs, 2), "effective_url"), "hunter2"));
    json_decref(recs);
    run_free(&r);
  }
  free(stats);
}

static void test_option_credentials_never_shown(void **state) {
  char *stats = tmp_path("opts.json");
  char input[128];
  snprintf(input, sizeof input, "http://127.0.0.1:%u/x\n", closed_port());
  char *hdr = write_str("bad.hdr", "X-Ok: 1\nAuthorization s3cret\n");
  static const char *const bad_values[][4] = {
      {"--oauth2-bearer", "s3cret\r\n"},
      {"-H", NULL}, /* the header file, set below */
      {"--user=", NULL},
  };
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    RUN(&r, input, "--engine", engines[e], "-u", "alice:s3cret", "--oauth2-bearer", "s3cret",
        "--stats-json", stats, "--progress");
    assert_int_equal(r.status, 1);
    assert_no_secret(&r, stats, "s3cret");
    run_free(&r);
  }
  for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
    run r;
    char at[256];
    snprintf(at, sizeof at, "@%s", hdr);
    if (i == 2)
      RUN(&r, input, "--user");
    else
      RUN(&r, input, bad_values[i][0], bad_values[i][1] ? bad_values[i][1] : at);
    assert_int_equal(r.status, 2);
    assert_no_secret(&r, NULL, "s3cret");
    if (i == 1)
      assert_true(contains(r.err, "line 2"));
    run_free(&r);
  }
  free(stats), free(hdr);
}

/* The process list shows no credential when it came through -K, --netrc
 * or -H @FILE, and none of -u's once options are parsed (blanked as curl
 * does). The server holds each request a while, so the program is seen
 * running with its credentials in use. */
static void test_secrets_not_in_cmdline(void **state) {
  char *cfg = write_str("ps.cfg", "user = alice:s3cret\n");
  char *netrc = write_str("ps.netrc", "machine 127.0.0.1 login alice password s3cret\n");
  char *hdr = write_str("ps.hdr", "Authorization: Bearer s3cret\n");
  char *auth = url_lines("/basic-auth/alice/s3cret?delay=600", 1);
  char *bearer = url_lines("/bearer/s3cret?delay=600", 1);
  char *auth_jobs = write_tmp("ps.auth", auth, strlen(auth));
  char *bearer_jobs = write_tmp("ps.bearer", bearer, strlen(bearer));
  char at_hdr[256];
  snprintf(at_hdr, sizeof at_hdr, "@%s", hdr);
  const char *cases[][3] = {
      {"-K", cfg, auth_jobs},
      {"--netrc-file", netrc, auth_jobs},
      {"-H", at_hdr, bearer_jobs},
      {"-u", "alice:s3cret", auth_jobs},
  };
  char *out = tmp_path("ps.out");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char arg[64];
    snprintf(arg, sizeof arg, "%s", cases[i][1]); /* argv is written to: a copy */
    char *const argv[] = {(char *)program(), "-q", (char *)cases[i][0], arg,
                          "-o", out, (char *)cases[i][2], NULL};
    unsigned long conns = ts_connections(tu_server);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    /* once it connected, its options are parsed and the request is held */
    double deadline = tu_now() + 10 * tu_time_scale();
    while (ts_connections(tu_server) == conns && tu_now() < deadline)
      usleep(2000);
    char path[64], cmdline[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
    close(fd);
    assert_true(n > 0);
    for (ssize_t k = 0; k < n; k++) /* NULs between the arguments */
      if (!cmdline[k])
        cmdline[k] = ' ';
    cmdline[n] = '\0';
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (strstr(cmdline, "s3cret"))
      fail_msg("case %zu: the command line shows the secret: %s", i, cmdline);
    assert_true(strstr(cmdline, "fetchpool") != NULL);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* it was used */
    size_t len;
    char *text = read_file(out, &len);
    assert_non_null(text);
    assert_true(contains(text, "\"status\":200"));
    free(text);
  }
  free(cfg), free(netrc), free(hdr), free(auth), free(bearer), free(auth_jobs);
  free(bearer_jobs), free(out);
}

/* ---- headers, data and config files out of argv ---- */

static void test_header_file(void **state) {
  char *url = tu_url("/echo");
  char *hdr = write_str("h.txt", "X-One: 1\r\n\nX-Two: two words\n");
  char at[256];
  snprintf(at, sizeof at, "@%s", hdr);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "-H", at);
    json_t *req = echo_of(rec);
    assert_string_equal(sent_header(req, "X-One"), "1");
    assert_string_equal(sent_header(req, "X-Two"), "two words");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  run r;
  RUN(&r, url, "-H", "@/nonexistent/headers");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "/nonexistent/headers"));
  run_free(&r);
  free(url), free(hdr);
}

static void test_config_file_syntax(void **state) {
  char *url = tu_url("/echo");
  char *jobs = write_tmp("cfg.jobs", url, strlen(url));
  static const char nested_text[] = "header = \"X-Nested: yes\"\n";
  char *nested = write_tmp("nested.cfg", nested_text, sizeof nested_text - 1);
  char text[1024];
  int len = snprintf(text, sizeof text,
                     "# a comment, then options in each of curl's forms\n"
                     "  --header \"X-A: one two\"\n"
                     "header = \"X-B: q\\\"uote\\\\d\\tt\"\n"
                     "header:X-C:three\n"
                     "-H \"X-D: four\"\n"
                     "-HX-E:five\n"
                     "user alice:s3cret # trailing comment\n"
                     "data-raw = \"a=1\"\n"
                     "\n"
                     "request-target /echo?from=config\r\n"
                     "max-redirs 3\n"
                     "config %s\n",
                     nested);
  char *cfg = write_tmp("syntax.cfg", text, (size_t)len);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, NULL, "-K", cfg, jobs);
    json_t *req = echo_of(rec);
    assert_string_equal(sent_header(req, "X-A"), "one two");
    assert_string_equal(sent_header(req, "X-B"), "q\"uote\\d\tt");
    assert_string_equal(sent_header(req, "X-C"), "three");
    assert_string_equal(sent_header(req, "X-D"), "four");
    assert_string_equal(sent_header(req, "X-E"), "five");
    assert_string_equal(sent_header(req, "X-Nested"), "yes");
    assert_string_equal(sent_header(req, "Authorization"), "Basic YWxpY2U6czNjcmV0");
    assert_string_equal(str(req, "method"), "POST");
    assert_string_equal(str(req, "body"), "a=1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(req, "query"),
                                                          "from")), "config");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    /* -K - reads standard input; the jobs come from FILE then */
    rec = ONE(&r, e, "header = \"X-Stdin: 1\"\n", "--config", "-", jobs);
    req = echo_of(rec);
    assert_string_equal(sent_header(req, "X-Stdin"), "1");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  free(url), free(jobs), free(nested), free(cfg);
}

/* Every option of the table works in a -K file: a few from each group,
 * flags and values, and the command-specific ones under their command. */
static void test_config_file_every_option(void **state) {
  char *url = tu_url("/redirect/1");
  char *jobs = write_tmp("every.jobs", url, strlen(url));
  char *out = tmp_path("every.out");
  char text[512];
  int len = snprintf(text, sizeof text,
                     "threads = 2\nengine multi\nordered\nno-location\ntimings\n"
                     "output = \"%s\"\nretries 1\nretry-on \"\"\nno-progress\nquiet\n",
                     out);
  char *cfg = write_tmp("every.cfg", text, (size_t)len);
  run r;
  RUN(&r, NULL, "-K", cfg, jobs);
  assert_int_equal(r.status, 0); /* a 302 is ok */
  assert_int_equal(r.err_len, 0);
  size_t n;
  char *written = read_file(out, &n);
  assert_non_null(written);
  assert_true(contains(written, "\"status\":302"));
  assert_true(contains(written, "\"timings\""));
  free(written);
  run_free(&r);
  /* a status-only flag is one under status, and refused elsewhere */
  char *status_cfg = write_str("status.cfg", "json\n");
  RUN(&r, NULL, "-K", status_cfg);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "status.cfg:1: option '--json' needs a value"));
  run_free(&r);
  free(url), free(jobs), free(out), free(cfg), free(status_cfg);
}

static void test_config_file_errors(void **state) {
  static const struct {
    const char *text, *expect;
  } cases[] = {
      {"nosuch = 1\n", "bad.cfg:1: unknown option '--nosuch'"},
      {"\n# c\nthread 2\n", "bad.cfg:3: unknown option '--thread' (did you mean --threads?)"},
      {"--threads=2\n", "must be separated by white space"},
      {"threads\n", "bad.cfg:1: option '--threads' needs a value"},
      {"ordered yes\n", "option '--ordered' takes no value"},
      {"threads 2 3\n", "quote a value with white space"},
      {"header \"X-A: 1\n", "quote a value with white space"},
      {"threads x\n", "bad.cfg:1: invalid --threads 'x'"},
      {"-Z\n", "bad.cfg:1: -Z (--parallel): fetchpool is always parallel; use -t N"},
      {"redis = x\n", "option '--redis' does not apply to fetchpool"},
      {"user\n", "option '--user' needs a value"},
      {"header \"Authorization: s3cret\\r\"\n", "invalid header in a config file"},
  };
  char *url = tu_url("/hello");
  char *jobs = write_tmp("err.jobs", url, strlen(url));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *cfg = write_tmp("bad.cfg", cases[i].text, strlen(cases[i].text));
    run r;
    RUN(&r, NULL, "-K", cfg, jobs);
    if (r.status != 2 || r.out_len || !contains(r.err, cases[i].expect) ||
        count_lines(r.err) != 2 || contains(r.err, "s3cret"))
      fail_msg("case %zu: status %d, stderr '%s'", i, r.status, r.err);
    run_free(&r);
    free(cfg);
  }
  /* a file that reads itself stops, and a missing one is named */
  char *loop = tmp_path("loop.cfg");
  char text[300];
  int len = snprintf(text, sizeof text, "config \"%s\"\n", loop);
  free(write_tmp("loop.cfg", text, (size_t)len));
  run r;
  RUN(&r, NULL, "-K", loop, jobs);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "nested more than"));
  run_free(&r);
  RUN(&r, NULL, "-K", "/nonexistent/cfg", jobs);
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "/nonexistent/cfg"));
  run_free(&r);
  /* -K - with the jobs on standard input too cannot work */
  RUN(&r, "quiet\n", "-K", "-");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "give the jobs as FILE"));
  run_free(&r);
  free(url), free(jobs), free(loop);
}

static void test_data_options(void **state) {
  char *url = tu_url("/echo");
  char *jobs = write_tmp("data.jobs", url, strlen(url));
  char *file = write_str("data.txt", "x=1\r\ny=2\n");
  char at[256];
  snprintf(at, sizeof at, "@%s", file);
  for (size_t e = 0; e < NENGINES; e++) {
    static const struct {
      const char *opt, *val, *opt2, *val2, *body;
    } cases[] = {
        {"-d", "a=1", "--data", "b=2", "a=1&b=2"},
        {"-d", "@FILE", "--data-ascii", "c", "x=1y=2&c"}, /* CR and LF dropped */
        {"--data-binary", "@FILE", "-d", "z", "x=1\r\ny=2\n&z"},
        {"--data-raw", "@FILE", "--data-raw", "q", "@FILE&q"},
        {"--data-urlencode", "a b&c", "--data-urlencode", "=d/e", "a%20b%26c&d%2Fe"},
        {"--data-urlencode", "n=v w", "--data-urlencode", "f@FILE", "n=v%20w&f=x%3D1%0D%0Ay%3D2%0A"},
        {"--data-urlencode", "@FILE", "-d", "k", "x%3D1%0D%0Ay%3D2%0A&k"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      char v1[300], v2[300], body[300];
      const char *fv1 = cases[i].val, *fv2 = cases[i].val2;
      snprintf(v1, sizeof v1, "%s", strcmp(fv1, "@FILE") ? fv1 : at);
      if (strcmp(fv2, "f@FILE") == 0)
        snprintf(v2, sizeof v2, "f@%s", file);
      else
        snprintf(v2, sizeof v2, "%s", fv2);
      snprintf(body, sizeof body, "%s", cases[i].body);
      if (strncmp(body, "@FILE", 5) == 0) /* --data-raw keeps the @ */
        snprintf(body, sizeof body, "%s&q", at);
      run r;
      json_t *rec = ONE(&r, e, url, cases[i].opt, v1, cases[i].opt2, v2);
      json_t *req = echo_of(rec);
      if (strcmp(str(req, "body"), body) != 0 || strcmp(str(req, "method"), "POST") != 0)
        fail_msg("%s case %zu: sent %s '%s', expected '%s'", engines[e], i, str(req, "method"),
                 str(req, "body"), body);
      json_decref(req);
      json_decref(rec);
      run_free(&r);
    }
    /* @- reads standard input, so the jobs come from FILE */
    run r;
    json_t *rec = ONE(&r, e, "from\nstdin", "--data-binary", "@-", jobs);
    json_t *req = echo_of(rec);
    assert_string_equal(str(req, "body"), "from\nstdin");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  free(url), free(jobs), free(file);
}

static void test_json_option(void **state) {
  char *url = tu_url("/echo");
  char *file = write_str("j.json", "{\"b\":2}");
  char at[256];
  snprintf(at, sizeof at, "@%s", file);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "--json", "[1,", "--json", at, "--json", "]");
    json_t *req = echo_of(rec);
    assert_string_equal(str(req, "method"), "POST");
    assert_string_equal(str(req, "body"), "[1,{\"b\":2}]"); /* joined without & */
    assert_string_equal(sent_header(req, "Content-Type"), "application/json");
    assert_string_equal(sent_header(req, "Accept"), "application/json");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    /* a -H of the same name wins */
    rec = ONE(&r, e, url, "-H", "Accept: text/x", "--json", "{}");
    req = echo_of(rec);
    assert_string_equal(sent_header(req, "Accept"), "text/x");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  /* status keeps its --json flag */
  run r;
  RUN(&r, NULL, "status", "--json", "--redis", "redis://127.0.0.1:1");
  assert_int_equal(r.status, 2);
  assert_false(contains(r.err, "needs a value"));
  assert_false(contains(r.err, "unknown option"));
  run_free(&r);
  free(url), free(file);
}

static void test_get_option(void **state) {
  char *url = tu_url("/echo"), *with_query = tu_url("/echo?z=0");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "-G", "-d", "a=1", "--data-urlencode", "b=x y");
    json_t *req = echo_of(rec);
    assert_string_equal(str(req, "method"), "GET");
    assert_string_equal(str(req, "body"), "");
    json_t *q = json_object_get(req, "query");
    assert_string_equal(json_string_value(json_object_get(q, "a")), "1");
    assert_string_equal(json_string_value(json_object_get(q, "b")), "x y");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, with_query, "--get", "-d", "a=1");
    req = echo_of(rec);
    q = json_object_get(req, "query");
    assert_string_equal(json_string_value(json_object_get(q, "z")), "0");
    assert_string_equal(json_string_value(json_object_get(q, "a")), "1");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  free(url), free(with_query);
}

static void test_form_option(void **state) {
  char *url = tu_url("/echo");
  char *file = write_str("up.txt", "file body");
  char *value = write_str("value.txt", "from file");
  char part[300], text[300];
  snprintf(part, sizeof part, "up=@%s;type=text/x-test", file);
  snprintf(text, sizeof text, "v=<%s", value);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "-F", "a=1", "--form", part, "-F", text);
    json_t *req = echo_of(rec);
    const char *body = str(req, "body");
    assert_string_equal(str(req, "method"), "POST");
    assert_true(strncmp(sent_header(req, "Content-Type"), "multipart/form-data; boundary=", 30) == 0);
    assert_true(contains(body, "name=\"a\"\r\n\r\n1\r\n"));
    assert_true(contains(body, "name=\"up\"; filename=\"up.txt\"\r\nContent-Type: text/x-test"
                               "\r\n\r\nfile body\r\n"));
    assert_true(contains(body, "name=\"v\"\r\n\r\nfrom file\r\n"));
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  static const usage_case bad[] = {
      {"-F", "novalue", "--form"},
      {"-F", "f=@/nonexistent/file", "/nonexistent/file"},
      {"-F", "f=@x;headers=a", "only ;type= and ;filename="},
  };
  assert_usage_errors(bad, sizeof bad / sizeof bad[0]);
  run r;
  RUN(&r, url, "-F", "a=1", "-d", "b=2");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "-F cannot be combined"));
  run_free(&r);
  free(url), free(file), free(value);
}

static void test_referer(void **state) {
  char *url = tu_url("/echo");
  char *redirect = tu_url("/redirect-to?url=/echo");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "-e", "http://example.test/from");
    json_t *req = echo_of(rec);
    assert_string_equal(sent_header(req, "Referer"), "http://example.test/from");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    /* ;auto: each redirect sends the URL it came from */
    rec = ONE(&r, e, redirect, "--referer", ";auto");
    req = echo_of(rec);
    assert_string_equal(sent_header(req, "Referer"), redirect);
    json_decref(req);
    json_decref(rec);
    run_free(&r);
  }
  free(url), free(redirect);
}

/* ---- misc ---- */

static void test_compressed_and_location(void **state) {
  char *url = tu_url("/echo"), *redirect = tu_url("/redirect/1");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "--compressed");
    json_t *req = echo_of(rec);
    assert_non_null(sent_header(req, "Accept-Encoding"));
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, url, "--no-compressed");
    req = echo_of(rec);
    assert_null(sent_header(req, "Accept-Encoding"));
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, redirect, "--no-location");
    assert_status(rec, 302, e);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, redirect, "--no-location", "-L");
    assert_status(rec, 200, e);
    json_decref(rec);
    run_free(&r);
  }
  free(url), free(redirect);
}

static void test_path_target_head(void **state) {
  char *dots = tu_url("/echo/a/../b"), *other = tu_url("/other"), *echo = tu_url("/echo");
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, dots, "--path-as-is");
    json_t *req = echo_of(rec);
    assert_string_equal(str(req, "path"), "/echo/a/../b");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, other, "--request-target", "/echo/target?t=1");
    req = echo_of(rec);
    assert_string_equal(str(req, "path"), "/echo/target");
    json_decref(req);
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, echo, "-I");
    assert_status(rec, 200, e);
    assert_int_equal(num(rec, "bytes"), 0); /* HEAD: no body came */
    json_decref(rec);
    run_free(&r);
    rec = ONE(&r, e, echo, "--head", "-G", "-d", "a=1");
    assert_int_equal(num(rec, "bytes"), 0);
    assert_true(contains(str(rec, "effective_url"), "?a=1"));
    json_decref(rec);
    run_free(&r);
  }
  static const usage_case bad[] = {
      {"--request-target", "a b", "--request-target"},
      {"--limit-rate", "0", "--limit-rate"},
      {"--limit-rate", "fast", "--limit-rate"},
  };
  assert_usage_errors(bad, sizeof bad / sizeof bad[0]);
  free(dots), free(other), free(echo);
}

static void test_fail_flag(void **state) {
  char *missing = tu_url("/status/404"), *hello = tu_url("/hello");
  run r;
  RUN(&r, missing, "-f");
  assert_int_equal(r.status, 1);
  run_free(&r);
  RUN(&r, hello, "--fail");
  assert_int_equal(r.status, 0);
  run_free(&r);
  free(missing), free(hello);
}

/* libcurl slows uploads chunk by chunk, but reads a download burst of up
 * to about 1.6 MB at once before it checks the rate: so the upload is
 * what shows the limit in a short test. */
static void test_limit_rate(void **state) {
  char *url = tu_url("/echo");
  char *body = malloc(40001);
  memset(body, 'a', 40000);
  body[40000] = '\0';
  char *file = write_str("rate.body", body);
  char at[256];
  snprintf(at, sizeof at, "@%s", file);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    json_t *rec = ONE(&r, e, url, "--limit-rate", "128K", "--data-binary", at);
    assert_status(rec, 200, e);
    /* 40,000 bytes at 131,072 a second: about 0.3 s, not a few ms */
    if (json_real_value(json_object_get(rec, "elapsed_ms")) < 150)
      fail_msg("%s: took %g ms", engines[e], json_real_value(json_object_get(rec, "elapsed_ms")));
    json_decref(rec);
    run_free(&r);
  }
  free(url), free(body), free(file);
}

/* Per-job keys of JSON lines: user, auth, oauth2_bearer, referer,
 * request_target, path_as_is, limit_rate. */
static void test_json_job_keys(void **state) {
  static char input[50000];
  unsigned port = ts_port(tu_server);
  char *body = malloc(40001);
  memset(body, 'a', 40000);
  body[40000] = '\0';
  snprintf(input, sizeof input,
           "{\"url\":\"http://127.0.0.1:%u/basic-auth/alice/s3cret\",\"user\":\"alice:s3cret\"}\n"
           "{\"url\":\"http://127.0.0.1:%u/digest-auth/bob/pw\",\"user\":\"bob:pw\",\"auth\":\"digest\"}\n"
           "{\"url\":\"http://127.0.0.1:%u/bearer/tk\",\"oauth2_bearer\":\"tk\"}\n"
           "{\"url\":\"http://127.0.0.1:%u/echo\",\"referer\":\"http://r.test/\"}\n"
           "{\"url\":\"http://127.0.0.1:%u/x\",\"request_target\":\"/echo/t\"}\n"
           "{\"url\":\"http://127.0.0.1:%u/echo/a/../b\",\"path_as_is\":true}\n"
           "{\"url\":\"http://127.0.0.1:%u/echo\",\"limit_rate\":131072,\"body\":\"%s\"}\n"
           "{\"url\":\"http://127.0.0.1:%u/echo\",\"auth\":\"magic\"}\n",
           port, port, port, port, port, port, port, body, port);
  free(body);
  for (size_t e = 0; e < NENGINES; e++) {
    run r;
    RUN(&r, input, "-q", "--body", "--engine", engines[e]);
    json_t *recs = records(&r);
    assert_int_equal(json_array_size(recs), 8);
    for (json_int_t i = 0; i < 3; i++)
      assert_status(by_index(recs, i), 200, e);
    json_t *req = echo_of(by_index(recs, 3));
    assert_string_equal(sent_header(req, "Referer"), "http://r.test/");
    json_decref(req);
    req = echo_of(by_index(recs, 4));
    assert_string_equal(str(req, "path"), "/echo/t");
    json_decref(req);
    req = echo_of(by_index(recs, 5));
    assert_string_equal(str(req, "path"), "/echo/a/../b");
    json_decref(req);
    assert_true(json_real_value(json_object_get(by_index(recs, 6), "elapsed_ms")) >= 150);
    assert_string_equal(error_code(by_index(recs, 7)), "invalid_request");
    assert_no_secret(&r, NULL, "alice:s3cret"); /* the "user" value (the URL has a part) */
    json_decref(recs);
    run_free(&r);
  }
}

static void test_curl_only_options(void **state) {
  static const usage_case cases[] = {
      {"--parallel", NULL, "--parallel: fetchpool is always parallel; use -t N"},
      {"-Z", NULL, "use -t N"},
      {"--parallel-max", "5", "use -t N"},
      {"-O", NULL, "use --save DIR"},
      {"--remote-name-all", NULL, "use --save DIR"},
      {"-#", NULL, "use --progress"},
      {"-s", NULL, "use -q"},
      {"--silent", NULL, "use -q"},
      {"-v", NULL, "use --headers"},
      {"-i", NULL, "use --headers"},
      {"-T", "f", "--data-binary @FILE"},
      {"--max-time", "3", "use --timeout SEC"},
      {"--retry", "3", "use --retries N"},
      {"--next", NULL, "its own job"},
  };
  assert_usage_errors(cases, sizeof cases / sizeof cases[0]);
}

static void test_help_groups_curl_options(void **state) {
  run r;
  RUN(&r, NULL, "--help");
  assert_int_equal(r.status, 0);
  assert_true(contains(r.out, "Requests as with curl"));
  static const char *const names[] = {"--user", "--digest", "--ntlm", "--anyauth",
                                      "--oauth2-bearer", "--netrc-file", "--config",
                                      "--data-binary", "--data-urlencode", "--json", "--get",
                                      "--form", "--referer", "--no-compressed",
                                      "--no-location", "--path-as-is", "--request-target",
                                      "--head", "--limit-rate", "--fail"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!contains(r.out, names[i]))
      fail_msg("--help does not name %s", names[i]);
  for (const char *line = r.out; *line;) { /* readable in 80 columns */
    size_t n = strcspn(line, "\n");
    assert_true(n <= 80);
    line += n + (line[n] == '\n');
  }
  run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_user_basic),
      TU_TEST(test_digest_and_anyauth),
      TU_TEST(test_ntlm_negotiate),
      TU_TEST(test_oauth2_bearer),
      TU_TEST(test_netrc),
      TU_TEST(test_url_credentials_redacted),
      TU_TEST(test_option_credentials_never_shown),
      TU_TEST(test_secrets_not_in_cmdline),
      TU_TEST(test_header_file),
      TU_TEST(test_config_file_syntax),
      TU_TEST(test_config_file_every_option),
      TU_TEST(test_config_file_errors),
      TU_TEST(test_data_options),
      TU_TEST(test_json_option),
      TU_TEST(test_get_option),
      TU_TEST(test_form_option),
      TU_TEST(test_referer),
      TU_TEST(test_compressed_and_location),
      TU_TEST(test_path_target_head),
      TU_TEST(test_fail_flag),
      TU_TEST(test_limit_rate),
      TU_TEST(test_json_job_keys),
      TU_TEST(test_curl_only_options),
      TU_TEST(test_help_groups_curl_options),
  };
  return cmocka_run_group_tests(tests, setup_suite, teardown_suite);
}
