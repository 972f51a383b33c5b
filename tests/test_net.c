/* test_net.c: curl's proxy, cookie, TLS, name and address and HTTP
 * version options, through the fetchpool program on every engine (each
 * case loops over threads, multi and hybrid), against real servers the
 * suite starts once on loopback ports: nginx (plain HTTP, TLS with client
 * certificates, HTTP/2 over TLS and in cleartext, TLS 1.2 only and 1.3
 * only, and a TLS port that serves proxy requests as an HTTPS proxy),
 * tinyproxy (without and with Basic auth) and microsocks (SOCKS5). The
 * certificates are made at setup with the openssl command. A missing
 * server program fails the suite: it is part of what is tested. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "cli_harness.h"

static const char *const engines[] = {"threads", "multi", "hybrid"};
#define NENGINES 3
static const char *cur_engine = "none"; /* for failure messages */
#define FOR_ENGINES(e) for (size_t e = 0; e < NENGINES && (cur_engine = engines[e]); e++)

#define PROXY_SECRET "proxy-secret-7f3a"
#define KEY_PASS "key-pass-91c2"

enum { P_HTTP, P_MTLS, P_H2, P_TLS12, P_TLS13, P_H2C, P_HTTPS_PROXY, P_TINY, P_TINY_AUTH,
       P_SOCKS, NPORTS };
static unsigned port[NPORTS];
static char dir[128];         /* certificates, configs and logs */
static pid_t pids[4];         /* nginx, tinyproxy x2, microsocks */
static size_t npids;
static char ca_path[256];     /* dir/ca.pem */

/* ------------------------------------------------------------ setup */

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
    "[srv]\n"
    "basicConstraints = CA:FALSE\n"
    "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
    "[cli]\n"
    "basicConstraints = CA:FALSE\n"
    "extendedKeyUsage = clientAuth\n"
    "[ca]\n"
    "default_ca = test_ca\n"
    "[test_ca]\n"
    "dir = .\n"
    "database = index.txt\n"
    "new_certs_dir = .\n"
    "serial = serial\n"
    "crlnumber = crlnumber\n"
    "default_md = sha256\n"
    "default_crl_days = 30\n"
    "policy = any\n"
    "unique_subject = no\n"
    "[any]\n"
    "commonName = supplied\n";

/* A CA; a server certificate it signed (also revoked in crl.pem); a
 * client certificate in PEM, DER, PKCS#12 and with an encrypted key; a
 * hashed CA directory; the server's public key for pinning. */
static const char make_certs[] =
    "set -e\n"
    "export OPENSSL_CONF=\"$PWD/ossl.cnf\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 3650 -subj /CN=fp-net-ca"
    " -extensions ca_ext 2>/dev/null\n"
    "openssl req -new $K -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3650"
    " -extfile ossl.cnf -extensions srv -out srv.pem 2>/dev/null\n"
    "openssl req -new $K -keyout cli.key -out cli.csr -subj /CN=fp-client 2>/dev/null\n"
    "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -set_serial 3 -days 3650"
    " -extfile ossl.cnf -extensions cli -out cli.pem 2>/dev/null\n"
    "openssl x509 -in cli.pem -outform DER -out cli.der\n"
    "openssl pkey -in cli.key -outform DER -out cli.key.der\n"
    "openssl pkey -in cli.key -aes128 -passout pass:" KEY_PASS " -out cli.enc.key\n"
    "openssl pkcs12 -export -in cli.pem -inkey cli.key -passout pass:" KEY_PASS
    " -out cli.p12\n"
    "openssl x509 -in srv.pem -pubkey -noout > srv.pub\n"
    "openssl x509 -in ca.pem -pubkey -noout > ca.pub\n"
    "openssl pkey -pubin -in srv.pub -outform DER | openssl dgst -sha256 -binary"
    " | openssl base64 > srv.pin\n"
    "mkdir capath && cp ca.pem capath/ && openssl rehash capath\n"
    ": > index.txt\n"
    "echo 10 > serial\n"
    "echo 01 > crlnumber\n"
    "openssl ca -batch -keyfile ca.key -cert ca.pem -revoke srv.pem 2>/dev/null\n"
    "openssl ca -batch -keyfile ca.key -cert ca.pem -gencrl -out crl.pem 2>/dev/null\n";

/* %1$s the directory; the nginx ports in enum order from %2$u; %9$u the
 * in-process test server's port; %10$s a user line. */
static const char nginx_conf[] =
    "%10$s\n" /* as root, workers too may enter the suite's 0700 directory */
    "worker_processes 1;\n"
    "pid %1$s/nginx.pid;\n"
    "error_log %1$s/nginx.err warn;\n"
    "events { worker_connections 256; }\n"
    "http {\n"
    "  access_log off;\n"
    "  client_body_temp_path %1$s/tmp-body;\n"
    "  proxy_temp_path %1$s/tmp-proxy;\n"
    "  fastcgi_temp_path %1$s/tmp-fcgi;\n"
    "  uwsgi_temp_path %1$s/tmp-uwsgi;\n"
    "  scgi_temp_path %1$s/tmp-scgi;\n"
    "  default_type text/plain;\n"
    "  log_format conn '$connection $ssl_session_reused $server_protocol $request_uri';\n"
    "  ssl_certificate %1$s/srv.pem;\n"
    "  ssl_certificate_key %1$s/srv.key;\n"
    "  ssl_session_cache shared:fp:1m;\n"
    "  server {\n"
    "    listen 127.0.0.1:%2$u;\n"
    "    listen [::1]:%2$u;\n"
    "    location /via { return 200 \"via=[$http_via]\"; }\n"
    "    location /cookie/set { add_header Set-Cookie \"s=$arg_v; Path=/\"; return 200 set; }\n"
    "    location /cookie/show { return 200 \"cookie=[$http_cookie]\"; }\n"
    "    location /whoami {\n"
    "      return 200 \"host=$host addr=$remote_addr port=$remote_port proto=$server_protocol"
    " local=$server_addr\";\n"
    "    }\n"
    "    location /slow-cookie {\n"
    "      if ($http_cookie = \"\") { return 503; }\n"
    "      add_header X-Seen-Cookie \"[$http_cookie]\" always;\n"
    "      proxy_pass http://127.0.0.1:%9$u/concurrency/$arg_n?ms=600;\n"
    "    }\n"
    "  }\n"
    "  server {\n"
    "    listen 127.0.0.1:%3$u ssl;\n"
    "    ssl_client_certificate %1$s/ca.pem;\n"
    "    ssl_verify_client on;\n"
    "    location / { return 200 \"client=$ssl_client_s_dn\"; }\n"
    "  }\n"
    "  server {\n"
    "    listen 127.0.0.1:%4$u ssl http2;\n"
    "    access_log %1$s/h2.log conn;\n"
    "    location /slow { proxy_pass http://127.0.0.1:%9$u/delay/600; }\n"
    "    location / { return 200 \"proto=$server_protocol\"; }\n"
    "  }\n"
    "  server {\n"
    "    listen 127.0.0.1:%5$u ssl;\n"
    "    ssl_protocols TLSv1.2;\n"
    "    keepalive_timeout 0;\n"
    "    access_log %1$s/tls12.log conn;\n"
    "    location /slow { proxy_pass http://127.0.0.1:%9$u/delay/600; }\n"
    "    location / { return 200 \"tls=$ssl_protocol cipher=$ssl_cipher\"; }\n"
    "  }\n"
    "  server {\n"
    "    listen 127.0.0.1:%6$u ssl;\n"
    "    ssl_protocols TLSv1.3;\n"
    "    location / { return 200 \"tls=$ssl_protocol\"; }\n"
    "  }\n"
    "  server {\n"
    "    listen 127.0.0.1:%7$u http2;\n"
    "    location / { return 200 \"proto=$server_protocol\"; }\n"
    "  }\n"
    "  server {\n"
    "    listen 127.0.0.1:%8$u ssl;\n"
    "    location / { return 200 \"https-proxy saw [$request]\"; }\n"
    "  }\n"
    "}\n";

static const char tinyproxy_conf[] =
    "Port %u\n"
    "Listen 127.0.0.1\n"
    "Timeout 30\n"
    "MaxClients 50\n"
    "LogFile \"%s/%s.log\"\n"
    "LogLevel Connect\n"
    "PidFile \"%s/%s.pid\"\n"
    "DisableViaHeader No\n"
    "%s\n";

/* A free loopback port: bound to port 0 and closed. Another program could
 * take it before the server does; the suite then fails at start, loudly. */
static unsigned free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
      getsockname(fd, (struct sockaddr *)&sa, &len)) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(sa.sin_port);
}

static bool port_open(unsigned p) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static int write_text(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int rc = fputs(text, f) < 0 ? -1 : 0;
  return fclose(f) == 0 ? rc : -1;
}

/* Start argv with stdout and stderr to dir/log; the pid is kept. */
static int spawn(const char *const *argv, const char *log) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, log);
  if (access(argv[0], X_OK) != 0) {
    fprintf(stderr, "test_net: %s is missing: install it (scripts/install-deps.sh)\n",
            argv[0]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) {
    fprintf(stderr, "test_net: cannot start %s: %s\n", argv[0], strerror(rc));
    return -1;
  }
  pids[npids++] = pid;
  return 0;
}

static int start_tinyproxy(unsigned p, const char *name, const char *extra) {
  char conf[1024], file[64];
  snprintf(conf, sizeof conf, tinyproxy_conf, p, dir, name, dir, name, extra);
  snprintf(file, sizeof file, "%s.conf", name);
  if (write_text(file, conf))
    return -1;
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  /* -d: in the foreground, so the suite owns the process; never the
   * Debian service on port 8888 */
  return spawn((const char *const[]){"/usr/bin/tinyproxy", "-d", "-c", path, NULL},
               "tinyproxy.out");
}

static int setup(void **state) {
  if (setup_suite(state))
    return -1;
  /* the environment's proxies must not redirect the suite's requests */
  const char *vars[] = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY",
                        "ALL_PROXY", "NO_PROXY"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    unsetenv(vars[i]);
  snprintf(dir, sizeof dir, "%s/net", tmpdir);
  snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
  if (mkdir(dir, 0700) || write_text("ossl.cnf", ossl_cnf) || write_text("certs.sh", make_certs))
    return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cd '%s' && sh certs.sh", dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "test_net: making certificates failed\n");
    return -1;
  }
  for (int i = 0; i < NPORTS; i++)
    if (!(port[i] = free_port()))
      return -1;
  char conf[8192];
  /* cppcheck reads the positional %N$ conversions as if in order */
  // cppcheck-suppress invalidPrintfArgType_s
  snprintf(conf, sizeof conf, nginx_conf, dir, port[P_HTTP], port[P_MTLS], port[P_H2],
           port[P_TLS12], port[P_TLS13], port[P_H2C], port[P_HTTPS_PROXY],
           (unsigned)ts_port(tu_server), geteuid() == 0 ? "user root;" : "");
  if (write_text("nginx.conf", conf))
    return -1;
  char conf_path[256], err_path[256];
  snprintf(conf_path, sizeof conf_path, "%s/nginx.conf", dir);
  snprintf(err_path, sizeof err_path, "%s/", dir);
  char auth[128];
  snprintf(auth, sizeof auth, "BasicAuth fpuser %s", PROXY_SECRET);
  char sport[16];
  snprintf(sport, sizeof sport, "%u", port[P_SOCKS]);
  char nginx_err[256];
  snprintf(nginx_err, sizeof nginx_err, "%s/nginx.err", dir);
  if (spawn((const char *const[]){"/usr/sbin/nginx", "-p", err_path, "-e", nginx_err, "-c",
                                  conf_path, "-g", "daemon off;", NULL},
            "nginx.out") ||
      start_tinyproxy(port[P_TINY], "tiny", "") ||
      start_tinyproxy(port[P_TINY_AUTH], "tinyauth", auth) ||
      spawn((const char *const[]){"/usr/bin/microsocks", "-i", "127.0.0.1", "-p", sport, NULL},
            "socks.log"))
    return -1;
  /* bounded wait for every port to accept */
  double until = tu_now() + 10 * tu_time_scale();
  for (int i = 0; i < NPORTS; i++) {
    while (!port_open(port[i])) {
      if (tu_now() > until) {
        fprintf(stderr, "test_net: a server did not start on port %u (see %s)\n", port[i],
                dir);
        return -1;
      }
      usleep(10000);
    }
  }
  return 0;
}

static int teardown(void **state) {
  for (size_t i = 0; i < npids; i++) {
    kill(pids[i], SIGTERM);
    waitpid(pids[i], NULL, 0);
  }
  return teardown_suite(state);
}

/* ------------------------------------------------------------ helpers */

static char *url(int which, const char *path) {
  static char buf[8][256];
  static int next;
  char *b = buf[next++ % 8];
  bool tls = which == P_MTLS || which == P_H2 || which == P_TLS12 || which == P_TLS13 ||
             which == P_HTTPS_PROXY;
  snprintf(b, sizeof buf[0], "%s://127.0.0.1:%u%s", tls ? "https" : "http", port[which], path);
  return b;
}

/* dir/name in one of 32 rotating buffers: hold on to one with strdup. */
static char *path_in(const char *name) {
  static char buf[32][256];
  static int next;
  char *b = buf[next++ % 32];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

static char *line(const char *u) {
  static char buf[4][512];
  static int next;
  char *b = buf[next++ % 4];
  snprintf(b, sizeof buf[0], "%s\n", u);
  return b;
}

/* The run's only record (the run must have made exactly one). */
static json_t *only(const run *r, json_t **recs) {
  *recs = records(r);
  if (json_array_size(*recs) != 1)
    fail_msg("expected 1 record, got %zu; stderr: %s", json_array_size(*recs), r->err);
  return json_array_get(*recs, 0);
}

static void expect_ok_body(const run *r, const char *needle) {
  json_t *recs, *rec = only(r, &recs);
  if (!json_is_true(json_object_get(rec, "ok")) || !contains(str(rec, "body"), needle))
    fail_msg("engine %s: expected ok with '%s' in the body: %s / %s", cur_engine, needle,
             r->out, r->err);
  json_decref(recs);
}

static void expect_error(const run *r, const char *code) {
  json_t *recs, *rec = only(r, &recs);
  if (strcmp(error_code(rec), code) != 0)
    fail_msg("engine %s: expected error %s: %s / %s", cur_engine, code, r->out, r->err);
  json_decref(recs);
}

/* Lines of dir/name from byte offset from on (NEW). */
static char *log_since(const char *name, size_t from) {
  size_t len = 0;
  char *all = read_file(path_in(name), &len);
  char *tail = strdup(all && len > from ? all + from : "");
  free(all);
  return tail;
}

static size_t log_size(const char *name) {
  struct stat st;
  return stat(path_in(name), &st) == 0 ? (size_t)st.st_size : 0;
}

/* Wait (bounded) until dir/name has grown by n lines past from. */
static char *log_lines(const char *name, size_t from, size_t n) {
  double until = tu_now() + 5 * tu_time_scale();
  for (;;) {
    char *tail = log_since(name, from);
    if (count_lines(tail) >= n || tu_now() > until)
      return tail;
    free(tail);
    usleep(10000);
  }
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

#define RUN_E(r, e, input, ...) RUN(r, input, "--engine", engines[e], "-q", "--body", ##__VA_ARGS__)

/* ------------------------------------------------------------ proxies */

static void test_proxy_http(void **state) {
  (void)state;
  char proxy[64];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", port[P_TINY]);
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-x", proxy);
    expect_ok_body(&r, "tinyproxy");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "--proxy", proxy, "--noproxy", "127.0.0.1");
    expect_ok_body(&r, "via=[]");
    run_free(&r);
  }
}

/* Per job: the JSON line's "proxy" for that job only. */
static void test_proxy_per_job(void **state) {
  (void)state;
  char input[1024];
  snprintf(input, sizeof input,
           "{\"url\": \"%s\", \"proxy\": \"http://127.0.0.1:%u\"}\n%s\n"
           "{\"url\": \"%s\", \"proxy\": \"ftp://u:" PROXY_SECRET "@127.0.0.1:1\"}\n",
           url(P_HTTP, "/via"), port[P_TINY], url(P_HTTP, "/via"), url(P_HTTP, "/via"));
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, input, "-t", "2");
    json_t *recs = records(&r);
    assert_int_equal(json_array_size(recs), 3);
    assert_true(contains(str(by_index(recs, 0), "body"), "tinyproxy"));
    assert_true(contains(str(by_index(recs, 1), "body"), "via=[]"));
    assert_string_equal(error_code(by_index(recs, 2)), "invalid_request");
    assert_false(contains(r.out, PROXY_SECRET));
    assert_false(contains(r.err, PROXY_SECRET));
    json_decref(recs);
    run_free(&r);
  }
}

/* tinyproxy with BasicAuth: 407 without credentials; -U or the URL's
 * user:password gets through; the password is never in any output. */
static void test_proxy_auth(void **state) {
  (void)state;
  char proxy[64], with_creds[128];
  snprintf(proxy, sizeof proxy, "127.0.0.1:%u", port[P_TINY_AUTH]);
  snprintf(with_creds, sizeof with_creds, "http://fpuser:" PROXY_SECRET "@127.0.0.1:%u",
           port[P_TINY_AUTH]);
  char stats[256];
  snprintf(stats, sizeof stats, "%s/proxy-stats.json", tmpdir);
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-x", proxy);
    json_t *recs, *rec = only(&r, &recs);
    assert_int_equal(num(rec, "status"), 407);
    json_decref(recs);
    run_free(&r);
    RUN(&r, line(url(P_HTTP, "/via")), "--engine", engines[e], "--body", "-x", proxy, "-U",
        "fpuser:" PROXY_SECRET, "--stats-json", stats, "--timings", "--headers");
    assert_int_equal(r.status, 0);
    assert_false(contains(r.out, PROXY_SECRET) || contains(r.err, PROXY_SECRET));
    size_t len;
    char *st = read_file(stats, &len);
    assert_false(contains(st, PROXY_SECRET));
    free(st);
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-x", with_creds);
    expect_ok_body(&r, "tinyproxy");
    assert_false(contains(r.out, PROXY_SECRET) || contains(r.err, PROXY_SECRET));
    run_free(&r);
    /* a proxy URL that does not parse: curl's message would quote it */
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-x", "http://fpuser:" PROXY_SECRET "@[zz");
    assert_false(contains(r.out, PROXY_SECRET) || contains(r.err, PROXY_SECRET));
    run_free(&r);
  }
  run r;
  RUN(&r, "", "-x", "gopher://fpuser:" PROXY_SECRET "@127.0.0.1:1");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "invalid --proxy"));
  assert_false(contains(r.err, PROXY_SECRET));
  run_free(&r);
}

/* The environment's proxies hold when no -x is given; -x "" overrides. */
static void test_proxy_environment(void **state) {
  (void)state;
  char proxy[64], connect[64];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", port[P_TINY]);
  snprintf(connect, sizeof connect, "CONNECT 127.0.0.1:%u", port[P_H2]);
  FOR_ENGINES(e) {
    run r;
    setenv("http_proxy", proxy, 1);
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-t", "1");
    expect_ok_body(&r, "tinyproxy");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-x", "");
    expect_ok_body(&r, "via=[]");
    run_free(&r);
    setenv("no_proxy", "127.0.0.1", 1);
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-t", "1");
    expect_ok_body(&r, "via=[]");
    run_free(&r);
    unsetenv("no_proxy");
    unsetenv("http_proxy");
    setenv("all_proxy", proxy, 1);
    RUN_E(&r, e, line(url(P_HTTP, "/via")), "-t", "1");
    unsetenv("all_proxy");
    expect_ok_body(&r, "tinyproxy");
    run_free(&r);
    /* https through the proxy is a CONNECT tunnel: tinyproxy logs it */
    size_t from = log_size("tiny.log");
    setenv("https_proxy", proxy, 1);
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", path_in("ca.pem"));
    unsetenv("https_proxy");
    expect_ok_body(&r, "proto=HTTP/2.0");
    char *log = log_lines("tiny.log", from, 1);
    assert_true(contains(log, connect));
    free(log);
    run_free(&r);
  }
}

/* An https:// proxy (nginx's TLS port answering the proxy request): its
 * certificate is checked with --proxy-cacert, or not with
 * --proxy-insecure, and fails verification with neither. */
static void test_proxy_https(void **state) {
  (void)state;
  char proxy[64];
  snprintf(proxy, sizeof proxy, "https://127.0.0.1:%u", port[P_HTTPS_PROXY]);
  const char *target = "http://fp-through-proxy.test/x\n";
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, target, "-x", proxy);
    expect_error(&r, "tls");
    run_free(&r);
    RUN_E(&r, e, target, "-x", proxy, "--proxy-cacert", path_in("ca.pem"));
    expect_ok_body(&r, "https-proxy saw [GET http://fp-through-proxy.test/x HTTP/1.1]");
    run_free(&r);
    RUN_E(&r, e, target, "-x", proxy, "--proxy-insecure");
    expect_ok_body(&r, "https-proxy saw");
    run_free(&r);
  }
}

/* SOCKS5 through microsocks, whose log names each destination as the
 * client asked for it: socks5 resolves localhost here and sends an
 * address; socks5h sends the name for the proxy to resolve. */
static void test_proxy_socks(void **state) {
  (void)state;
  char s5[64], s5h[64], by_addr[64], by_name[64], u[128];
  snprintf(s5, sizeof s5, "socks5://127.0.0.1:%u", port[P_SOCKS]);
  snprintf(s5h, sizeof s5h, "socks5h://127.0.0.1:%u", port[P_SOCKS]);
  snprintf(by_addr, sizeof by_addr, "connected to 127.0.0.1:%u", port[P_HTTP]);
  snprintf(by_name, sizeof by_name, "connected to localhost:%u", port[P_HTTP]);
  snprintf(u, sizeof u, "http://localhost:%u/via\n", port[P_HTTP]);
  FOR_ENGINES(e) {
    run r;
    size_t from = log_size("socks.log");
    RUN_E(&r, e, u, "-x", s5);
    expect_ok_body(&r, "via=[]");
    char *log = log_lines("socks.log", from, 1);
    assert_true(contains(log, by_addr));
    assert_false(contains(log, by_name));
    free(log);
    run_free(&r);
    from = log_size("socks.log");
    RUN_E(&r, e, u, "-x", s5h);
    expect_ok_body(&r, "via=[]");
    log = log_lines("socks.log", from, 1);
    assert_true(contains(log, by_name));
    free(log);
    run_free(&r);
  }
}

/* ------------------------------------------------------------ cookies */

/* A cookie set by one job is sent by jobs on other workers, and -c
 * writes the store in Netscape format at the end. /slow-cookie answers
 * 503 without a cookie (retried, so a job that started before the first
 * one ended on a loaded machine tries again), else the test server holds
 * the request 600 ms and counts those held at once: more than one means
 * requests from more than one worker carried the cookie (unshared, only
 * the first job's handle would have it). */
static void test_cookie_shared_and_jar(void **state) {
  (void)state;
  FOR_ENGINES(e) {
    char input[1024], held[64];
    snprintf(held, sizeof held, "/slow-cookie?n=ck-%s", engines[e]);
    snprintf(input, sizeof input, "%s\n%s\n%s\n%s\n", url(P_HTTP, "/cookie/set?v=shared1"),
             url(P_HTTP, held), url(P_HTTP, held), url(P_HTTP, held));
    char jar[256];
    snprintf(jar, sizeof jar, "%s/jar-%zu.txt", tmpdir, e);
    run r;
    RUN_E(&r, e, input, "-t", "4", "--rate", "5", "--headers", "-c", jar, "--retries", "20",
          "--retry-base", "0.05", "--retry-max-wait", "0.1");
    assert_int_equal(r.status, 0);
    json_t *recs = records(&r);
    for (json_int_t i = 1; i <= 3; i++) {
      json_t *h = json_object_get(by_index(recs, i), "headers");
      assert_string_equal(json_string_value(json_object_get(h, "X-Seen-Cookie")), "[s=shared1]");
    }
    json_decref(recs);
    long at_once = tu_server_number("/concurrency-max/ck-%s", engines[e]);
    if (at_once < 2)
      fail_msg("engine %s: at most %ld request with the cookie at once", engines[e], at_once);
    size_t len;
    char *text = read_file(jar, &len);
    assert_non_null(text);
    assert_true(contains(text, "# Netscape HTTP Cookie File"));
    assert_true(contains(text, "127.0.0.1\tFALSE\t/\tFALSE\t0\ts\tshared1"));
    free(text);
    run_free(&r);
    /* without a cookie option there is no cookie engine */
    RUN_E(&r, e, input, "-t", "4", "--headers");
    recs = records(&r);
    assert_int_equal(num(by_index(recs, 3), "status"), 503);
    json_decref(recs);
    run_free(&r);
  }
}

/* -b FILE loads cookies (session ones too, unless -j); -b STRING sends. */
static void test_cookie_file_string_junk(void **state) {
  (void)state;
  char *file = write_tmp("cookies.txt",
                         "# Netscape HTTP Cookie File\n"
                         "127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tkept\tyes\n"
                         "127.0.0.1\tFALSE\t/\tFALSE\t0\tsess\tion\n",
                         strlen("# Netscape HTTP Cookie File\n"
                                "127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tkept\tyes\n"
                                "127.0.0.1\tFALSE\t/\tFALSE\t0\tsess\tion\n"));
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_HTTP, "/cookie/show")), "-b", file);
    expect_ok_body(&r, "kept=yes");
    expect_ok_body(&r, "sess=ion");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/cookie/show")), "-b", file, "-j");
    expect_ok_body(&r, "cookie=[kept=yes]");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/cookie/show")), "--cookie", "a=1; b=2");
    expect_ok_body(&r, "cookie=[a=1; b=2]");
    run_free(&r);
  }
  run r;
  RUN(&r, "", "-b", "/nonexistent/cookies");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "cannot read the file of --cookie"));
  run_free(&r);
  free(file);
}

/* The jar is written after an interruption too (SIGINT, no grace). */
static void test_cookie_jar_after_interrupt(void **state) {
  (void)state;
  char input[512], jar[256], *hold = tu_url("/delay/20000");
  snprintf(input, sizeof input, "%s\n%s\n", url(P_HTTP, "/cookie/set?v=interrupted"), hold);
  free(hold);
  snprintf(jar, sizeof jar, "%s/jar-int.txt", tmpdir);
  FOR_ENGINES(e) {
    unlink(jar);
    run r;
    cli_event ev[] = {{.at = 0.6 * tu_time_scale(), .sig = SIGINT}};
    RUN_EVENTS(&r, input, ev, 1, "--engine", engines[e], "-q", "-t", "2", "--grace", "0",
               "-c", jar);
    assert_int_equal(r.status, 130);
    size_t len;
    char *text = read_file(jar, &len);
    assert_non_null(text);
    assert_true(contains(text, "\ts\tinterrupted"));
    free(text);
    run_free(&r);
  }
}

/* ------------------------------------------------------------ TLS */

static void test_tls_client_cert(void **state) {
  (void)state;
  const char *ca = ca_path;
  char cert_pass[300];
  snprintf(cert_pass, sizeof cert_pass, "%s:%s", path_in("cli.pem"), KEY_PASS);
  char p12[300];
  snprintf(p12, sizeof p12, "%s:%s", path_in("cli.p12"), KEY_PASS);
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca);
    json_t *recs, *rec = only(&r, &recs);
    assert_int_equal(num(rec, "status"), 400); /* nginx: no certificate sent */
    json_decref(recs);
    run_free(&r);
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "-E", path_in("cli.pem"), "--key",
          path_in("cli.key"));
    expect_ok_body(&r, "client=CN=fp-client");
    run_free(&r);
    /* an encrypted key: its pass phrase after the file name, or --pass */
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "--cert", cert_pass, "--key",
          path_in("cli.enc.key"));
    expect_ok_body(&r, "client=CN=fp-client");
    run_free(&r);
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "--cert", path_in("cli.pem"),
          "--key", path_in("cli.enc.key"), "--pass", KEY_PASS);
    expect_ok_body(&r, "client=CN=fp-client");
    assert_false(contains(r.out, KEY_PASS) || contains(r.err, KEY_PASS));
    run_free(&r);
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "--cert", path_in("cli.pem"),
          "--key", path_in("cli.enc.key"), "--pass", "wrong-pass");
    expect_error(&r, "tls");
    run_free(&r);
    /* DER files need their types said */
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "-E", path_in("cli.der"), "--key",
          path_in("cli.key.der"));
    expect_error(&r, "tls");
    run_free(&r);
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "-E", path_in("cli.der"),
          "--cert-type", "DER", "--key", path_in("cli.key.der"), "--key-type", "DER");
    expect_ok_body(&r, "client=CN=fp-client");
    run_free(&r);
    RUN_E(&r, e, line(url(P_MTLS, "/")), "--cacert", ca, "-E", p12, "--cert-type", "P12");
    expect_ok_body(&r, "client=CN=fp-client");
    assert_false(contains(r.out, KEY_PASS) || contains(r.err, KEY_PASS));
    run_free(&r);
  }
}

static void test_tls_verify_options(void **state) {
  (void)state;
  const char *ca = ca_path;
  char pin[256], pin_file[512];
  size_t len;
  char *b64 = read_file(path_in("srv.pin"), &len);
  assert_non_null(b64);
  b64[strcspn(b64, "\r\n")] = '\0';
  snprintf(pin, sizeof pin, "sha256//%s", b64);
  free(b64);
  snprintf(pin_file, sizeof pin_file, "%s", path_in("srv.pub"));
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_H2, "/")));
    expect_error(&r, "tls"); /* the system store does not know our CA */
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2, "/")), "--capath", path_in("capath"));
    expect_ok_body(&r, "proto=");
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca, "--pinnedpubkey", pin_file);
    expect_ok_body(&r, "proto=");
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca, "--pinnedpubkey", pin);
    expect_ok_body(&r, "proto=");
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca, "--pinnedpubkey", path_in("ca.pub"));
    expect_error(&r, "tls");
    run_free(&r);
    /* crl.pem revokes the servers' certificate */
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca, "--crlfile", path_in("crl.pem"));
    expect_error(&r, "tls");
    run_free(&r);
  }
}

static void test_tls_versions_ciphers(void **state) {
  (void)state;
  const char *ca = ca_path;
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_TLS12, "/")), "--cacert", ca);
    expect_ok_body(&r, "tls=TLSv1.2");
    run_free(&r);
    RUN_E(&r, e, line(url(P_TLS12, "/")), "--cacert", ca, "--tlsv1.3");
    expect_error(&r, "tls");
    run_free(&r);
    RUN_E(&r, e, line(url(P_TLS13, "/")), "--cacert", ca, "--tlsv1.2");
    expect_ok_body(&r, "tls=TLSv1.3");
    run_free(&r);
    RUN_E(&r, e, line(url(P_TLS13, "/")), "--cacert", ca, "--tls-max", "1.2");
    expect_error(&r, "tls");
    run_free(&r);
    RUN_E(&r, e, line(url(P_TLS12, "/")), "--cacert", ca, "--ciphers",
          "ECDHE-ECDSA-CHACHA20-POLY1305");
    expect_ok_body(&r, "cipher=ECDHE-ECDSA-CHACHA20-POLY1305");
    run_free(&r);
    /* an RSA key exchange the server's EC certificate cannot do */
    RUN_E(&r, e, line(url(P_TLS12, "/")), "--cacert", ca, "--ciphers", "AES128-SHA");
    expect_error(&r, "tls");
    run_free(&r);
  }
  run r;
  RUN(&r, "", "--tlsv1.3", "--tls-max", "1.2");
  assert_int_equal(r.status, 2);
  run_free(&r);
}

/* Workers share TLS sessions: after one job's handshake, jobs that start
 * later on other workers (each on a new connection: the server closes
 * every one) resume it; nginx logs "r" for a resumed session, "." for a
 * full handshake. */
static void test_tls_session_shared(void **state) {
  (void)state;
  char input[1024];
  snprintf(input, sizeof input, "%s\n%s\n%s\n%s\n%s\n", url(P_TLS12, "/first"),
           url(P_TLS12, "/slow"), url(P_TLS12, "/slow"), url(P_TLS12, "/slow"),
           url(P_TLS12, "/slow"));
  FOR_ENGINES(e) {
    size_t from = log_size("tls12.log");
    run r;
    RUN_E(&r, e, input, "-t", "4", "--rate", "5", "--cacert", path_in("ca.pem"));
    assert_int_equal(r.status, 0);
    char *log = log_lines("tls12.log", from, 5);
    assert_int_equal(count_lines(log), 5);
    /* 1 full handshake, or 2 when a loaded machine started the second
     * job before the first one's ended; without sharing, the three jobs
     * held at once make at least 3 */
    if (count_of(log, " . ") > 2 || count_of(log, " r ") < 3)
      fail_msg("engine %s: expected 1 (or 2) full handshakes, the rest resumed:\n%s",
               engines[e], log);
    free(log);
    run_free(&r);
  }
}

/* ------------------------------------------------------------ names */

static void test_resolve_connect_to(void **state) {
  (void)state;
  char u[128], resolve[128], u80[64], connect_to[128];
  snprintf(u, sizeof u, "http://fp-name.test:%u/whoami\n", port[P_HTTP]);
  snprintf(resolve, sizeof resolve, "fp-name.test:%u:127.0.0.1", port[P_HTTP]);
  snprintf(u80, sizeof u80, "http://fp-other.test/whoami\n");
  snprintf(connect_to, sizeof connect_to, "fp-other.test:80:127.0.0.1:%u", port[P_HTTP]);
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, u);
    expect_error(&r, "dns");
    run_free(&r);
    RUN_E(&r, e, u, "--resolve", resolve);
    expect_ok_body(&r, "host=fp-name.test");
    run_free(&r);
    RUN_E(&r, e, u80, "--connect-to", connect_to);
    expect_ok_body(&r, "host=fp-other.test");
    run_free(&r);
  }
  run r;
  RUN(&r, "", "--resolve", "nocolon");
  assert_int_equal(r.status, 2);
  run_free(&r);
}

/* nginx listens on 127.0.0.1 and ::1 at the same port; a name resolved
 * to both: -4 and -6 pick the family, and the server says which came. */
static void test_ip_version(void **state) {
  (void)state;
  char u[128], v6_first[128], v4_first[128];
  snprintf(u, sizeof u, "http://fp-dual.test:%u/whoami\n", port[P_HTTP]);
  snprintf(v6_first, sizeof v6_first, "fp-dual.test:%u:[::1],127.0.0.1", port[P_HTTP]);
  snprintf(v4_first, sizeof v4_first, "fp-dual.test:%u:127.0.0.1,[::1]", port[P_HTTP]);
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, u, "--resolve", v6_first);
    expect_ok_body(&r, "addr=::1");
    run_free(&r);
    RUN_E(&r, e, u, "--resolve", v6_first, "-4");
    expect_ok_body(&r, "addr=127.0.0.1");
    run_free(&r);
    RUN_E(&r, e, u, "--resolve", v4_first, "--ipv6");
    expect_ok_body(&r, "addr=::1");
    run_free(&r);
  }
}

/* --interface and --local-port choose the local end the server sees. */
static void test_local_end(void **state) {
  (void)state;
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_HTTP, "/whoami")), "--interface", "127.0.0.2");
    expect_ok_body(&r, "addr=127.0.0.2");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/whoami")));
    expect_ok_body(&r, "addr=127.0.0.1");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/whoami")), "--local-port", "21000-21999");
    json_t *recs, *rec = only(&r, &recs);
    const char *p = strstr(str(rec, "body"), "port=");
    assert_non_null(p);
    long lp = strtol(p + 5, NULL, 10);
    if (lp < 21000 || lp > 21999)
      fail_msg("local port %ld outside 21000-21999", lp);
    json_decref(recs);
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/whoami")), "--interface", "fp-no-such-if0");
    expect_error(&r, "connect");
    run_free(&r);
  }
}

static void test_dns_servers_refused(void **state) {
  (void)state;
  run r;
  RUN(&r, "", "--dns-servers", "127.0.0.1");
  assert_int_equal(r.status, 2);
  assert_true(contains(r.err, "--dns-servers"));
  assert_true(contains(r.err, "c-ares"));
  run_free(&r);
}

/* ------------------------------------------------------------ HTTP versions */

static void test_http_versions(void **state) {
  (void)state;
  const char *ca = ca_path;
  FOR_ENGINES(e) {
    run r;
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca);
    expect_ok_body(&r, "proto=HTTP/2.0");
    json_t *recs, *rec = only(&r, &recs);
    assert_string_equal(str(rec, "http_version"), "2");
    json_decref(recs);
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca, "--http1.1");
    expect_ok_body(&r, "proto=HTTP/1.1");
    rec = only(&r, &recs);
    assert_string_equal(str(rec, "http_version"), "1.1");
    json_decref(recs);
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2, "/")), "--cacert", ca, "--http1.1", "--http2");
    expect_ok_body(&r, "proto=HTTP/2.0");
    run_free(&r);
    RUN_E(&r, e, line(url(P_HTTP, "/whoami")), "--http1.0");
    expect_ok_body(&r, "proto=HTTP/1.0");
    run_free(&r);
    /* cleartext HTTP/2 only with prior knowledge */
    RUN_E(&r, e, line(url(P_H2C, "/")));
    json_t *recs2, *rec2 = only(&r, &recs2);
    assert_false(json_is_true(json_object_get(rec2, "ok")));
    json_decref(recs2);
    run_free(&r);
    RUN_E(&r, e, line(url(P_H2C, "/")), "--http2-prior-knowledge");
    expect_ok_body(&r, "proto=HTTP/2.0");
    rec = only(&r, &recs);
    assert_string_equal(str(rec, "http_version"), "2");
    json_decref(recs);
    run_free(&r);
  }
}

/* Six transfers at once to one HTTP/2 host: the event-loop engines wait
 * for the first connection and multiplex on it (one connection per loop);
 * the thread engine opens one per worker. */
static void test_http2_multiplex(void **state) {
  (void)state;
  char input[2048] = "";
  for (int i = 0; i < 6; i++) {
    strcat(input, url(P_H2, "/slow"));
    strcat(input, "\n");
  }
  FOR_ENGINES(e) {
    size_t from = log_size("h2.log");
    run r;
    RUN_E(&r, e, input, "-t", "6", "--loops", "2", "--cacert", path_in("ca.pem"));
    assert_int_equal(r.status, 0);
    char *log = log_lines("h2.log", from, 6);
    assert_int_equal(count_lines(log), 6);
    /* distinct connection numbers (the first word of each line) */
    char conns[6][32];
    size_t nconns = 0;
    for (char *p = log; *p;) {
      char c[32];
      size_t n = strcspn(p, " ");
      snprintf(c, sizeof c, "%.*s", (int)(n < 31 ? n : 31), p);
      bool seen = false;
      for (size_t k = 0; k < nconns; k++)
        seen |= strcmp(conns[k], c) == 0;
      if (!seen && nconns < 6)
        strcpy(conns[nconns++], c);
      p += strcspn(p, "\n");
      p += *p == '\n';
    }
    size_t most = strcmp(engines[e], "multi") == 0 ? 1 : strcmp(engines[e], "hybrid") == 0 ? 2 : 6;
    if (nconns > most || (strcmp(engines[e], "threads") == 0 && nconns < 2))
      fail_msg("engine %s: %zu connections for 6 transfers:\n%s", engines[e], nconns, log);
    free(log);
    json_t *recs = records(&r);
    for (json_int_t i = 0; i < 6; i++)
      assert_string_equal(str(by_index(recs, i), "http_version"), "2");
    json_decref(recs);
    run_free(&r);
  }
}

/* ------------------------------------------------------------ library */

/* The same through the public API on every engine: a per-request proxy
 * and HTTP version, the executor's cookie store loaded from a file and
 * saved with fp_executor_save_cookies, http_version in the response. */
static void test_library_api(void **state) {
  (void)state;
  char proxy[64], jar[256];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", port[P_TINY]);
  char *file = write_tmp("lib-cookies.txt", "127.0.0.1\tFALSE\t/\tFALSE\t0\tfrom\tfile\n",
                         strlen("127.0.0.1\tFALSE\t/\tFALSE\t0\tfrom\tfile\n"));
  FOR_ENGINES(e) {
    fp_executor_options o;
    fp_executor_options_init(&o);
    o.threads = 2;
    o.engine = (fp_engine)e; /* engines[] is in fp_engine order */
    o.cookie_file = file;
    fp_error err = {0};
    fp_executor *ex = fp_executor_new(&o, &err);
    assert_non_null(ex);
    fp_request *set = fp_request_new(url(P_HTTP, "/cookie/set?v=lib"));
    assert_int_equal(fp_request_set_net(set, FP_NET_PROXY, proxy), FP_OK);
    assert_int_equal(fp_request_set_http_version(set, FP_HTTP_1_0), FP_OK);
    const fp_response *resp;
    fp_future *f = fp_executor_submit(ex, set, NULL);
    assert_int_equal(fp_future_result(f, 10, &resp), FP_OK);
    assert_int_equal(fp_response_status(resp), 200);
    assert_string_equal(fp_response_http_version(resp), "1.1"); /* nginx answers 1.1 */
    fp_future_decref(f);
    fp_request *show = fp_request_new(url(P_HTTP, "/cookie/show"));
    f = fp_executor_submit(ex, show, NULL);
    assert_int_equal(fp_future_result(f, 10, &resp), FP_OK);
    size_t len;
    const char *body = fp_response_body(resp, &len);
    assert_true(contains(body, "from=file") && contains(body, "s=lib"));
    fp_future_decref(f);
    snprintf(jar, sizeof jar, "%s/lib-jar-%zu.txt", tmpdir, e);
    assert_int_equal(fp_executor_save_cookies(ex, jar, &err), FP_OK);
    char *text = read_file(jar, &len);
    assert_true(contains(text, "\tfrom\tfile") && contains(text, "\ts\tlib"));
    free(text);
    fp_request_decref(set);
    fp_request_decref(show);
    fp_executor_free(ex);
  }
  /* without a cookie store there is nothing to save */
  fp_executor *ex = fp_executor_new(NULL, NULL);
  fp_error err = {0};
  assert_int_equal(fp_executor_save_cookies(ex, jar, &err), FP_ERR_INVALID_ARG);
  fp_executor_free(ex);
  free(file);
}

/* The setters check what they can without the network. */
static void test_library_setters(void **state) {
  (void)state;
  fp_request *req = fp_request_new("http://x/");
  assert_int_equal(fp_request_set_net(req, FP_NET_PROXY, "gopher://h:1"), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_net(req, FP_NET_PROXY_USER, "a:b\r\nX: y"),
                   FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_net(req, FP_NET_PROXY, "socks5h://h:1"), FP_OK);
  assert_int_equal(fp_request_add_resolve(req, "h:1"), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_add_resolve(req, "h:1:127.0.0.1"), FP_OK);
  assert_int_equal(fp_request_set_tls_versions(req, FP_TLS_1_3, FP_TLS_1_2), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_local_port(req, 10, 5), FP_ERR_INVALID_ARG);
  assert_int_equal(fp_request_set_ip_version(req, 5), FP_ERR_INVALID_ARG);
  assert_false(fp_net_supported(FP_NET_DNS_SERVERS)); /* Debian's libcurl */
  assert_int_equal(fp_request_set_net(req, FP_NET_DNS_SERVERS, "127.0.0.1"), FP_ERR_INVALID_ARG);
  fp_request *copy = fp_request_copy(req);
  assert_string_equal(fp_request_net(copy, FP_NET_PROXY), "socks5h://h:1");
  fp_request_decref(copy);
  json_t *obj = json_pack("{s:s, s:s}", "url", "http://y/", "proxy", "http://p:3128");
  fp_error err = {0};
  copy = fp_request_from_json(obj, req, &err);
  assert_non_null(copy);
  assert_string_equal(fp_request_net(copy, FP_NET_PROXY), "http://p:3128");
  fp_request_decref(copy);
  json_decref(obj);
  fp_request_decref(req);
}

int main(void) {
  tu_watchdog(TEST_WATCHDOG_SECONDS * 3);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proxy_http),
      cmocka_unit_test(test_proxy_per_job),
      cmocka_unit_test(test_proxy_auth),
      cmocka_unit_test(test_proxy_environment),
      cmocka_unit_test(test_proxy_https),
      cmocka_unit_test(test_proxy_socks),
      cmocka_unit_test(test_cookie_shared_and_jar),
      cmocka_unit_test(test_cookie_file_string_junk),
      cmocka_unit_test(test_cookie_jar_after_interrupt),
      cmocka_unit_test(test_tls_client_cert),
      cmocka_unit_test(test_tls_verify_options),
      cmocka_unit_test(test_tls_versions_ciphers),
      cmocka_unit_test(test_tls_session_shared),
      cmocka_unit_test(test_resolve_connect_to),
      cmocka_unit_test(test_ip_version),
      cmocka_unit_test(test_local_end),
      cmocka_unit_test(test_dns_servers_refused),
      cmocka_unit_test(test_http_versions),
      cmocka_unit_test(test_http2_multiplex),
      cmocka_unit_test(test_library_api),
      cmocka_unit_test(test_library_setters),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
