/* main.c: fp-testserver, the test server as a standalone program for CLI tests, the demo and scripts. */
#include "testserver.h"

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr, "usage: fp-testserver [--port N] [--bind ADDR] [--latency-ms MS]\n"
                  "                    [--tls-cert FILE --tls-key FILE]\n"
                  "Prints \"PORT RAWPORT\" on one line, then serves until SIGINT or SIGTERM.\n");
}

static bool parse_num(const char *str, unsigned long max, unsigned long *out) {
  char *end;
  unsigned long v;
  if (!str || *str < '0' || *str > '9')
    return false;
  v = strtoul(str, &end, 10);
  if (*end || v > max)
    return false;
  *out = v;
  return true;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    {"port", required_argument, NULL, 'p'},
    {"bind", required_argument, NULL, 'b'},
    {"latency-ms", required_argument, NULL, 'l'},
    {"tls-cert", required_argument, NULL, 'c'},
    {"tls-key", required_argument, NULL, 'k'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  ts_options opts = {0};
  ts_server *s;
  sigset_t set;
  unsigned long v;
  int opt, sig;

  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
    case 'p':
      if (!parse_num(optarg, 65535, &v))
        goto bad;
      opts.port = (uint16_t)v;
      break;
    case 'b':
      opts.bind = optarg;
      break;
    case 'l':
      if (!parse_num(optarg, 30000, &v))
        goto bad;
      opts.latency_ms = (unsigned)v;
      break;
    case 'c':
      opts.tls_cert_file = optarg;
      break;
    case 'k':
      opts.tls_key_file = optarg;
      break;
    case 'h':
      usage();
      return 0;
    default:
      goto bad;
    }
  }
  if (optind != argc || !opts.tls_cert_file != !opts.tls_key_file)
    goto bad;

  /* block before ts_start so every server thread inherits the mask and
   * the signals are left for sigwait */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (!(s = ts_start(&opts)))
    return 1;
  printf("%u %u\n", (unsigned)ts_port(s), (unsigned)ts_raw_port(s));
  fflush(stdout);
  while (sigwait(&set, &sig) != 0) {
  }
  ts_stop(s);
  return 0;
bad:
  usage();
  return 2;
}
