/* request_net.c: a request's network options (curl's proxies, TLS, names
 * and addresses, HTTP versions): their setters, copy and free. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetchpool.h"
#include "model.h"
#include "transfer.h"

/* CR or LF would let a value end a header or a config line early. */
static bool has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

/* A proxy URL's scheme is one libcurl takes (none means http): checked
 * here, since libcurl's own message for a bad one quotes the whole URL,
 * password and all. */
static bool proxy_scheme_ok(const char *url) {
  static const char *const schemes[] = {"http://", "https://", "socks4://", "socks4a://",
                                        "socks5://", "socks5h://"};
  if (!strstr(url, "://"))
    return true;
  for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
    if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
      return true;
  return false;
}

/* req's options, allocated (all unset) on first use; NULL out of memory. */
static fp__net *net_of(fp_request *req) {
  if (!req->net)
    req->net = calloc(1, sizeof *req->net);
  return req->net;
}

int fp_request_set_net(fp_request *req, fp_net_option opt, const char *value) {
  if (!req || (unsigned)opt >= FP_NET__COUNT || (value && has_crlf(value)))
    return FP_ERR_INVALID_ARG;
  if (opt == FP_NET_PROXY && value && !proxy_scheme_ok(value))
    return FP_ERR_INVALID_ARG;
  if (opt == FP_NET_DNS_SERVERS && value && !fp_net_supported(opt))
    return FP_ERR_INVALID_ARG;
  if (!value && !req->net)
    return FP_OK;
  char *copy = NULL;
  if (!net_of(req) || (value && !(copy = strdup(value))))
    return FP_ERR_NOMEM;
  free(req->net->str[opt]);
  req->net->str[opt] = copy;
  return FP_OK;
}

const char *fp_request_net(const fp_request *req, fp_net_option opt) {
  return req && req->net && (unsigned)opt < FP_NET__COUNT ? req->net->str[opt] : NULL;
}

bool fp_net_supported(fp_net_option opt) {
  if (opt == FP_NET_DNS_SERVERS)
    return fp__transfer_can_set_dns_servers();
  return (unsigned)opt < FP_NET__COUNT;
}

/* Append entry (HOST:PORT:..., at least two colons, no CR/LF) to the
 * list *list of *n entries, which holds room for FP__NET_MAX_ENTRIES. */
static int add_entry(char ***list, size_t *n, const char *entry) {
  const char *c1 = entry ? strchr(entry, ':') : NULL;
  if (!c1 || !strchr(c1 + 1, ':') || has_crlf(entry) || *n >= FP__NET_MAX_ENTRIES)
    return FP_ERR_INVALID_ARG;
  if (!*list && !(*list = calloc(FP__NET_MAX_ENTRIES, sizeof **list)))
    return FP_ERR_NOMEM;
  if (!((*list)[*n] = strdup(entry)))
    return FP_ERR_NOMEM;
  (*n)++;
  return FP_OK;
}

int fp_request_add_resolve(fp_request *req, const char *entry) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  fp__net *net = net_of(req);
  return net ? add_entry(&net->resolve, &net->nresolve, entry) : FP_ERR_NOMEM;
}

int fp_request_add_connect_to(fp_request *req, const char *entry) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  fp__net *net = net_of(req);
  return net ? add_entry(&net->connect_to, &net->nconnect_to, entry) : FP_ERR_NOMEM;
}

int fp_request_set_proxy_insecure(fp_request *req, bool insecure) {
  if (!req)
    return FP_ERR_INVALID_ARG;
  if (!net_of(req))
    return FP_ERR_NOMEM;
  req->net->proxy_insecure = insecure;
  return FP_OK;
}

int fp_request_set_ip_version(fp_request *req, int version) {
  if (!req || (version != 0 && version != 4 && version != 6))
    return FP_ERR_INVALID_ARG;
  if (!net_of(req))
    return FP_ERR_NOMEM;
  req->net->ip_version = version;
  return FP_OK;
}

int fp_request_set_local_port(fp_request *req, unsigned port, unsigned last) {
  if (!req || port > 65535 || last > 65535 || (last && (!port || last < port)))
    return FP_ERR_INVALID_ARG;
  if (!net_of(req))
    return FP_ERR_NOMEM;
  req->net->local_port = port;
  req->net->local_port_last = last;
  return FP_OK;
}

int fp_request_set_http_version(fp_request *req, fp_http_version v) {
  if (!req || v < FP_HTTP_DEFAULT || v > FP_HTTP_2_PRIOR_KNOWLEDGE)
    return FP_ERR_INVALID_ARG;
  if (!net_of(req))
    return FP_ERR_NOMEM;
  req->net->http_version = v;
  return FP_OK;
}

int fp_request_set_tls_versions(fp_request *req, fp_tls_version min, fp_tls_version max) {
  if (!req || min < FP_TLS_DEFAULT || min > FP_TLS_1_3 || max < FP_TLS_DEFAULT ||
      max > FP_TLS_1_3 || (min && max && min > max))
    return FP_ERR_INVALID_ARG;
  if (!net_of(req))
    return FP_ERR_NOMEM;
  req->net->tls_min = min;
  req->net->tls_max = max;
  return FP_OK;
}

int fp__net_copy(fp__net **out, const fp__net *src) {
  *out = NULL;
  if (!src)
    return FP_OK;
  fp__net *dst = malloc(sizeof *dst);
  if (!dst)
    return FP_ERR_NOMEM;
  *dst = *src; /* the scalars; every pointer is replaced below */
  memset(dst->str, 0, sizeof dst->str);
  dst->resolve = dst->connect_to = NULL;
  dst->nresolve = dst->nconnect_to = 0;
  *out = dst; /* freed by the request's decref, whole or not */
  for (int i = 0; i < FP_NET__COUNT; i++)
    if (src->str[i] && !(dst->str[i] = strdup(src->str[i])))
      return FP_ERR_NOMEM;
  int rc = FP_OK;
  for (size_t i = 0; !rc && i < src->nresolve; i++)
    rc = add_entry(&dst->resolve, &dst->nresolve, src->resolve[i]);
  for (size_t i = 0; !rc && i < src->nconnect_to; i++)
    rc = add_entry(&dst->connect_to, &dst->nconnect_to, src->connect_to[i]);
  return rc;
}

void fp__net_free(fp__net *net) {
  if (!net)
    return;
  for (int i = 0; i < FP_NET__COUNT; i++)
    free(net->str[i]);
  for (size_t i = 0; i < net->nresolve; i++)
    free(net->resolve[i]);
  for (size_t i = 0; i < net->nconnect_to; i++)
    free(net->connect_to[i]);
  free(net->resolve);
  free(net->connect_to);
  free(net);
}
