/* test_tls.c: certificate verification against HTTPS test servers whose
 * certificates the suite makes at setup with the openssl command (a CA and
 * a good server certificate it signed, a self-signed one, an expired one
 * and one for another host): the system store trusts none of them, our CA
 * file only the good one, insecure mode all; connections made under one
 * verification setting are never reused under another. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"

enum { GOOD, SELF_SIGNED, EXPIRED, WRONG_HOST, NSERVERS };
static const char *const server_names[NSERVERS] = {"good", "self", "expired", "wrong"};

static char tmpdir[64];
static char ca_file[128];
static ts_server *servers[NSERVERS];

/* The openssl configuration: names for req, extensions for each kind of
 * certificate, and a throwaway CA database for `openssl ca`, the one way
 * OpenSSL 3.0 sets validity dates in the past. */
static const char ossl_cnf[] =
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = fetchpool test\n"
    "[ca_ext]\n"
    "basicConstraints = critical, CA:TRUE\n"
    "keyUsage = critical, keyCertSign, cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[good]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
    "[wrong]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = DNS:example.com\n"
    "[ca]\n"
    "default_ca = test_ca\n"
    "[test_ca]\n"
    "dir = .\n"
    "database = index.txt\n"
    "new_certs_dir = .\n"
    "serial = serial\n"
    "default_md = sha256\n"
    "policy = any\n"
    "unique_subject = no\n"
    "[any]\n"
    "commonName = supplied\n";

/* Runs in tmpdir; P-256 keys, so the whole script takes well under a
 * second. Each step must succeed. */
static const char make_certs[] =
    "set -e\n"
    "export OPENSSL_CONF=\"$PWD/ossl.cnf\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 3650 -subj /CN=fetchpool-test-ca"
    " -extensions ca_ext\n"
    "openssl req -new $K -keyout good.key -out good.csr -subj /CN=localhost\n"
    "openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3650"
    " -extfile ossl.cnf -extensions good -out good.pem\n"
    "openssl req -new $K -keyout wrong.key -out wrong.csr -subj /CN=example.com\n"
    "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days 3650"
    " -extfile ossl.cnf -extensions wrong -out wrong.pem\n"
    "openssl req -x509 $K -keyout self.key -out self.pem -days 3650 -subj /CN=localhost"
    " -extensions good\n"
    "openssl req -new $K -keyout expired.key -out expired.csr -subj /CN=localhost\n"
    ": > index.txt\n"
    "echo 04 > serial\n"
    "openssl ca -batch -notext -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem"
    " -startdate 20200101000000Z -enddate 20200102000000Z -extfile ossl.cnf -extensions good\n";

static int write_file(const char *dir, const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int rc = fputs(text, f) < 0 ? -1 : 0;
  return fclose(f) == 0 ? rc : -1;
}

static void remove_tmpdir(void) {
  if (!tmpdir[0])
    return;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  tmpdir[0] = '\0';
}

static int teardown_tls(void **state) {
  (void)state;
  for (int i = 0; i < NSERVERS; i++) {
    ts_stop(servers[i]);
    servers[i] = NULL;
  }
  remove_tmpdir();
  return 0;
}

static int setup_tls(void **state) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/fp-tls-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    tmpdir[0] = '\0';
    perror("mkdtemp");
    return -1;
  }
  char cmd[256];
  /* bounded: a hung openssl cannot hold up the suite */
  snprintf(cmd, sizeof cmd, "cd '%s' && timeout 60 sh ./make-certs.sh > log 2>&1", tmpdir);
  if (write_file(tmpdir, "ossl.cnf", ossl_cnf) || write_file(tmpdir, "make-certs.sh", make_certs)) {
    perror("writing the openssl script");
    goto fail;
  }
  int rc = system(cmd);
  if (rc != 0) {
    fprintf(stderr, "making certificates failed (%d); its log:\n", rc);
    snprintf(cmd, sizeof cmd, "cat '%s/log' >&2", tmpdir);
    (void)!system(cmd);
    goto fail;
  }
  snprintf(ca_file, sizeof ca_file, "%s/ca.pem", tmpdir);
  for (int i = 0; i < NSERVERS; i++) {
    char cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/%s.pem", tmpdir, server_names[i]);
    snprintf(key, sizeof key, "%s/%s.key", tmpdir, server_names[i]);
    ts_options opts = {.tls_cert_file = cert, .tls_key_file = key};
    if (!(servers[i] = ts_start(&opts)))
      goto fail;
  }
  return 0;
fail:
  teardown_tls(state);
  return -1;
}

/* The HTTPS servers, and the suite's plain one for comparison. */
static int setup_all(void **state) {
  if (tu_setup_server(state))
    return -1;
  if (setup_tls(state)) {
    tu_teardown_server(state);
    return -1;
  }
  return 0;
}

static int teardown_all(void **state) {
  teardown_tls(state);
  return tu_teardown_server(state);
}

/* ---- helpers ---- */

static fp_request *request_to(int server, const char *path) {
  char url[256];
  ts_url(servers[server], path, url, sizeof url);
  assert_true(strncmp(url, "https://127.0.0.1:", 18) == 0);
  fp_request *req = fp_request_new(url);
  assert_non_null(req);
  return req;
}

static void expect_tls_error(fp_executor *ex, fp_request *req, const char *why) {
  const fp_response *resp;
  fp_future *f = tu_run(ex, req, &resp);
  if (fp_response_error(resp) != FP_ERR_TLS)
    fail_msg("got %s (%s), want tls", fp_code_name(fp_response_error(resp)),
             fp_response_error_message(resp));
  assert_int_equal(fp_response_status(resp), 0);
  if (why && !strstr(fp_response_error_message(resp), why))
    fail_msg("message '%s' does not say '%s'", fp_response_error_message(resp), why);
  json_t *rec = fp_future_record(f, 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "error"), "code")),
                      "tls");
  json_decref(rec);
  fp_future_decref(f);
}

static void expect_hello(fp_executor *ex, fp_request *req) {
  const fp_response *resp;
  fp_future *f = tu_run(ex, req, &resp);
  if (fp_response_error(resp) != FP_OK)
    fail_msg("got %s (%s)", fp_code_name(fp_response_error(resp)), fp_response_error_message(resp));
  assert_int_equal(fp_response_status(resp), 200);
  assert_string_equal(fp_response_body(resp, NULL), "hello");
  fp_future_decref(f);
}

static fp_request *with_ca(fp_request *req, const char *ca) {
  assert_int_equal(fp_request_set_cacert(req, ca), FP_OK);
  return req;
}

static fp_request *insecure(fp_request *req) {
  assert_int_equal(fp_request_set_insecure(req, true), FP_OK);
  return req;
}

/* ---- tests ---- */

static void test_system_store_trusts_none(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  for (int i = 0; i < NSERVERS; i++)
    expect_tls_error(ex, request_to(i, "/hello"), NULL);
  fp_executor_free(ex);
}

static void test_own_ca(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  expect_hello(ex, with_ca(request_to(GOOD, "/hello"), ca_file));
  /* the certificate names localhost too */
  char url[128];
  snprintf(url, sizeof url, "https://localhost:%u/hello", (unsigned)ts_port(servers[GOOD]));
  expect_hello(ex, with_ca(fp_request_new(url), ca_file));
  /* signed by the CA but past its dates, or for another name */
  expect_tls_error(ex, with_ca(request_to(EXPIRED, "/hello"), ca_file), "expired");
  expect_tls_error(ex, with_ca(request_to(WRONG_HOST, "/hello"), ca_file), "127.0.0.1");
  /* not signed by the CA at all */
  expect_tls_error(ex, with_ca(request_to(SELF_SIGNED, "/hello"), ca_file), "self");
  /* back to the system store: NULL */
  fp_request *req = with_ca(request_to(GOOD, "/hello"), ca_file);
  assert_int_equal(fp_request_set_cacert(req, NULL), FP_OK);
  expect_tls_error(ex, req, NULL);
  /* a CA file that is not there fails as a TLS error too */
  expect_tls_error(ex, with_ca(request_to(GOOD, "/hello"), "/nonexistent/ca.pem"), NULL);
  fp_executor_free(ex);
}

static void test_insecure_accepts_all(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(2, 0, NULL);
  for (int i = 0; i < NSERVERS; i++)
    expect_hello(ex, insecure(request_to(i, "/hello")));
  /* insecure wins over a CA file that would refuse */
  expect_hello(ex, insecure(with_ca(request_to(EXPIRED, "/hello"), ca_file)));
  fp_executor_free(ex);
}

static void test_no_reuse_across_settings(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL); /* one worker: one connection cache */
  /* a connection opened insecurely is not reused for a verified request */
  expect_hello(ex, insecure(request_to(SELF_SIGNED, "/hello")));
  expect_tls_error(ex, request_to(SELF_SIGNED, "/hello"), NULL);
  /* nor one verified with our CA for a request on the system store */
  unsigned long conns = ts_connections(servers[GOOD]);
  expect_hello(ex, with_ca(request_to(GOOD, "/hello"), ca_file));
  expect_tls_error(ex, request_to(GOOD, "/hello"), NULL);
  /* while the same setting does reuse it */
  expect_hello(ex, with_ca(request_to(GOOD, "/hello"), ca_file));
  assert_int_equal(ts_connections(servers[GOOD]) - conns, 2);
  fp_executor_free(ex);
}

static void test_tls_timing(void **state) {
  (void)state;
  fp_executor *ex = tu_executor(1, 0, NULL);
  const fp_response *resp;
  fp_future *f = tu_run(ex, with_ca(request_to(GOOD, "/hello"), ca_file), &resp);
  assert_int_equal(fp_response_status(resp), 200);
  fp_timings t = fp_response_timings(resp);
  print_message("fresh https: connect %.6f tls %.6f first byte %.6f total %.6f\n", t.connect,
                t.tls, t.first_byte, t.total);
  assert_true(t.connect > 0);
  assert_true(t.tls > 0);
  assert_true(t.tls >= t.connect);
  assert_true(t.first_byte >= t.tls);
  assert_true(t.total >= t.first_byte);
  json_t *rec = fp_future_record(f, FP_RECORD_TIMINGS);
  assert_non_null(rec);
  fp_future_decref(f);
  json_decref(rec);
  /* over the kept-alive connection no handshake happens */
  f = tu_run(ex, with_ca(request_to(GOOD, "/hello"), ca_file), &resp);
  assert_int_equal(fp_response_status(resp), 200);
  t = fp_response_timings(resp);
  assert_true(t.connect == 0);
  assert_true(t.tls == 0);
  fp_future_decref(f);
  /* plain http has no TLS phase */
  char url[128];
  f = tu_run(ex, fp_request_new(ts_url(tu_server, "/hello", url, sizeof url)), &resp);
  assert_int_equal(fp_response_status(resp), 200);
  t = fp_response_timings(resp);
  assert_true(t.connect > 0);
  assert_true(t.tls == 0);
  fp_future_decref(f);
  fp_executor_free(ex);
}

/* Many workers doing handshakes at once (the case TSan watches): each has
 * its own connections and TLS sessions; only DNS is shared. */
static void test_parallel_handshakes(void **state) {
  (void)state;
  enum { THREADS = 4, N = 32 };
  fp_executor *ex = tu_executor(THREADS, 0, NULL);
  fp_future *fs[N];
  unsigned long conns = ts_connections(servers[GOOD]);
  for (int i = 0; i < N; i++) {
    fp_request *req = with_ca(request_to(GOOD, i % 2 ? "/hello" : "/bytes/100000"), ca_file);
    fs[i] = fp_executor_submit(ex, req, NULL);
    fp_request_decref(req);
    assert_non_null(fs[i]);
  }
  assert_int_equal(fp_wait(fs, N, 60.0, FP_ALL_COMPLETED, NULL), FP_OK);
  for (int i = 0; i < N; i++) {
    const fp_response *resp = fp_future_response(fs[i]);
    assert_non_null(resp);
    assert_int_equal(fp_response_error(resp), FP_OK);
    assert_int_equal(fp_response_status(resp), 200);
    assert_int_equal(fp_response_bytes(resp), i % 2 ? 5 : 100000);
    fp_future_decref(fs[i]);
  }
  /* one connection per worker at most, kept alive across its jobs */
  assert_true(ts_connections(servers[GOOD]) - conns <= THREADS);
  fp_executor_free(ex);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TU_TEST(test_system_store_trusts_none),
      TU_TEST(test_own_ca),
      TU_TEST(test_insecure_accepts_all),
      TU_TEST(test_no_reuse_across_settings),
      TU_TEST(test_tls_timing),
      TU_TEST(test_parallel_handshakes),
  };
  return cmocka_run_group_tests_name("tls", tests, setup_all, teardown_all);
}
