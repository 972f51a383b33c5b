/* net_options.c: curl's proxy, cookie, TLS, name and address and HTTP
 * version options: checked, then set on the base request (or, for the
 * cookie store, kept in cli_options.net for the executor). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

#define usage_error(...) cli_usage_error(cmd, __VA_ARGS__)

/* s for a message: printable ASCII only, at most 60 bytes (a value that
 * is no secret, but may hold control bytes that would garble the line). */
static const char *shown(const char *s, char *buf, size_t size) {
  size_t n = 0;
  for (; *s && n + 4 < size && n < 60; s++)
    buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  buf[n] = '\0';
  return buf;
}

bool cli_net_is_option(int opt) {
  return (opt >= CLI_NET_NOPROXY && opt < CLI_NET_LAST) ||
         (opt > 0 && opt < 0x80 && strchr("xUbcjE46", opt));
}

/* -E FILE[:PASSWORD]: the first colon not escaped as "\:" ends the file
 * name (curl's rule); *file is a NEW string with "\:" unescaped. */
static int split_cert(const char *arg, char **file, const char **password) {
  size_t n = strlen(arg);
  char *f = malloc(n + 1), *p = f;
  if (!f)
    return -1;
  *password = NULL;
  for (const char *s = arg; *s; s++) {
    if (s[0] == '\\' && s[1] == ':') {
      *p++ = ':';
      s++;
    } else if (*s == ':') {
      *password = s + 1;
      break;
    } else {
      *p++ = *s;
    }
  }
  *p = '\0';
  *file = f;
  return 0;
}

/* A file the option names must be readable now: saying so at the start
 * beats the same TLS error in every record. */
static int readable(cli_command cmd, const char *option, const char *path, bool dir) {
  if (!*path || access(path, dir ? R_OK | X_OK : R_OK) != 0) {
    char buf[64];
    usage_error("cannot read the %s of %s '%s'", dir ? "directory" : "file", option,
                shown(path, buf, sizeof buf));
    return -1;
  }
  return 0;
}

static fp_tls_version tls_version_of(const char *s) {
  return strcmp(s, "1.0") == 0   ? FP_TLS_1_0
         : strcmp(s, "1.1") == 0 ? FP_TLS_1_1
         : strcmp(s, "1.2") == 0 ? FP_TLS_1_2
         : strcmp(s, "1.3") == 0 ? FP_TLS_1_3
                                 : (fp_tls_version)-1;
}

int cli_net_option(cli_command cmd, int opt, const char *arg, fp_request *base,
                   cli_options *o) {
  char buf[64];
  switch (opt) {
  case 'x': /* the value may hold user:password: never quoted */
    if (fp_request_set_net(base, FP_NET_PROXY, arg)) {
      usage_error("invalid --proxy: expected [SCHEME://][USER:PASSWORD@]HOST[:PORT] with "
                  "SCHEME http, https, socks4, socks4a, socks5 or socks5h");
      return -1;
    }
    return 0;
  case 'U':
    if (fp_request_set_net(base, FP_NET_PROXY_USER, arg)) {
      usage_error("invalid --proxy-user: expected USER:PASSWORD without CR or LF");
      return -1;
    }
    return 0;
  case CLI_NET_NOPROXY:
    if (fp_request_set_net(base, FP_NET_NOPROXY, arg)) {
      usage_error("invalid --noproxy: CR and LF are not allowed");
      return -1;
    }
    return 0;
  case CLI_NET_PROXY_INSECURE:
    return fp_request_set_proxy_insecure(base, true);
  case CLI_NET_PROXY_CACERT:
    if (readable(cmd, "--proxy-cacert", arg, false))
      return -1;
    return fp_request_set_net(base, FP_NET_PROXY_CACERT, arg) ? -1 : 0;
  case 'b':
    /* curl: a value with '=' is the cookies to send, else a file to load */
    if (strchr(arg, '=')) {
      if (fp_request_set_net(base, FP_NET_COOKIE, arg)) {
        usage_error("invalid --cookie: CR and LF are not allowed");
        return -1;
      }
      return 0;
    }
    /* a cookie file, as -c, belongs to the run */
    __attribute__((fallthrough));
  case 'c':
  case 'j':
    if (cmd != CLI_RUN) {
      usage_error("option '%s' does not apply to fetchpool worker: its cookie store "
                  "is the run's", opt == 'b' ? "--cookie FILE" : opt == 'c' ? "--cookie-jar"
                                                                     : "--junk-session-cookies");
      return -1;
    }
    if (opt == 'b') {
      if (readable(cmd, "--cookie", arg, false))
        return -1;
      o->net.cookie_file = arg;
    } else if (opt == 'c') {
      if (!*arg) {
        usage_error("invalid --cookie-jar '': expected a file name");
        return -1;
      }
      o->net.cookie_jar = arg;
    } else {
      o->net.junk_session = true;
    }
    return 0;
  case 'E': {
    char *file;
    const char *password;
    if (split_cert(arg, &file, &password))
      return -1;
    int rc = readable(cmd, "--cert", file, false);
    if (!rc && (fp_request_set_net(base, FP_NET_CERT, file) ||
                (password && fp_request_set_net(base, FP_NET_KEY_PASSWORD, password)))) {
      usage_error("invalid --cert: CR and LF are not allowed");
      rc = -1;
    }
    free(file);
    return rc;
  }
  case CLI_NET_CERT_TYPE:
  case CLI_NET_KEY_TYPE: {
    bool cert = opt == CLI_NET_CERT_TYPE;
    if (strcasecmp(arg, "PEM") != 0 && strcasecmp(arg, "DER") != 0 &&
        !(cert && strcasecmp(arg, "P12") == 0)) {
      usage_error("invalid --%s '%s': expected PEM, DER%s", cert ? "cert-type" : "key-type",
                  shown(arg, buf, sizeof buf), cert ? " or P12" : "");
      return -1;
    }
    return fp_request_set_net(base, cert ? FP_NET_CERT_TYPE : FP_NET_KEY_TYPE, arg) ? -1 : 0;
  }
  case CLI_NET_KEY:
  case CLI_NET_CRLFILE:
  case CLI_NET_CAPATH: {
    const char *name = opt == CLI_NET_KEY ? "--key" : opt == CLI_NET_CRLFILE ? "--crlfile"
                                                                             : "--capath";
    if (readable(cmd, name, arg, opt == CLI_NET_CAPATH))
      return -1;
    return fp_request_set_net(base, opt == CLI_NET_KEY       ? FP_NET_KEY
                                    : opt == CLI_NET_CRLFILE ? FP_NET_CRLFILE
                                                             : FP_NET_CAPATH,
                              arg) ? -1 : 0;
  }
  case CLI_NET_PASS: /* a secret: never quoted */
    if (fp_request_set_net(base, FP_NET_KEY_PASSWORD, arg)) {
      usage_error("invalid --pass: CR and LF are not allowed");
      return -1;
    }
    return 0;
  case CLI_NET_CIPHERS:
    if (!*arg || fp_request_set_net(base, FP_NET_CIPHERS, arg)) {
      usage_error("invalid --ciphers: expected an OpenSSL cipher list");
      return -1;
    }
    return 0;
  case CLI_NET_PINNEDPUBKEY:
    if (strncmp(arg, "sha256//", 8) != 0 && readable(cmd, "--pinnedpubkey", arg, false))
      return -1;
    return fp_request_set_net(base, FP_NET_PINNED_PUBKEY, arg) ? -1 : 0;
  case CLI_NET_TLSV1_2:
  case CLI_NET_TLSV1_3:
  case CLI_NET_TLS_MAX:
    if (opt == CLI_NET_TLS_MAX) {
      fp_tls_version v = strcmp(arg, "default") == 0 ? FP_TLS_DEFAULT : tls_version_of(arg);
      if ((int)v < 0) {
        usage_error("invalid --tls-max '%s': expected 1.0, 1.1, 1.2, 1.3 or default",
                    shown(arg, buf, sizeof buf));
        return -1;
      }
      o->net.tls_max = v;
    } else {
      o->net.tls_min = opt == CLI_NET_TLSV1_2 ? FP_TLS_1_2 : FP_TLS_1_3;
    }
    if (fp_request_set_tls_versions(base, o->net.tls_min, o->net.tls_max)) {
      usage_error("--tls-max is below the least TLS version asked (--tlsv1.x)");
      return -1;
    }
    return 0;
  case CLI_NET_RESOLVE:
  case CLI_NET_CONNECT_TO: {
    bool resolve = opt == CLI_NET_RESOLVE;
    int rc = resolve ? fp_request_add_resolve(base, arg) : fp_request_add_connect_to(base, arg);
    if (rc) {
      usage_error("invalid --%s '%s': expected %s (at most 64 of them)",
                  resolve ? "resolve" : "connect-to", shown(arg, buf, sizeof buf),
                  resolve ? "HOST:PORT:ADDR[,ADDR]" : "HOST1:PORT1:HOST2:PORT2");
      return -1;
    }
    return 0;
  }
  case '4':
  case '6':
    return fp_request_set_ip_version(base, opt - '0');
  case CLI_NET_INTERFACE:
    if (!*arg || fp_request_set_net(base, FP_NET_INTERFACE, arg)) {
      usage_error("invalid --interface: expected an interface name, address or host");
      return -1;
    }
    return 0;
  case CLI_NET_LOCAL_PORT: {
    uint64_t first, last = 0;
    const char *dash = strchr(arg, '-');
    char head[16];
    size_t n = dash ? (size_t)(dash - arg) : strlen(arg);
    if (n >= sizeof head || (memcpy(head, arg, n), head[n] = '\0',
                             cli_parse_count(head, 1, 65535, &first)) ||
        (dash && cli_parse_count(dash + 1, 1, 65535, &last)) ||
        fp_request_set_local_port(base, (unsigned)first, (unsigned)last)) {
      usage_error("invalid --local-port '%s': expected PORT or PORT-LAST, 1 to 65535",
                  shown(arg, buf, sizeof buf));
      return -1;
    }
    return 0;
  }
  case CLI_NET_DNS_SERVERS:
    if (!fp_net_supported(FP_NET_DNS_SERVERS)) {
      usage_error("--dns-servers: this libcurl was built without c-ares (Debian's uses "
                  "the system resolver) and cannot choose DNS servers; use --resolve");
      return -1;
    }
    return fp_request_set_net(base, FP_NET_DNS_SERVERS, arg) ? -1 : 0;
  case CLI_NET_HTTP1_0:
    return fp_request_set_http_version(base, FP_HTTP_1_0);
  case CLI_NET_HTTP1_1:
    return fp_request_set_http_version(base, FP_HTTP_1_1);
  case CLI_NET_HTTP2:
    return fp_request_set_http_version(base, FP_HTTP_2);
  case CLI_NET_HTTP2_PRIOR:
    return fp_request_set_http_version(base, FP_HTTP_2_PRIOR_KNOWLEDGE);
  default:
    return -1;
  }
}
