/* options.c: the command line of fetchpool and of its Redis commands
 * (enqueue, worker, status, results): help texts, and the options checked
 * into a cli_options, each refused by the commands it does not apply to. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_THREADS 32
#define STR_(x) #x
#define STR(x) STR_(x) /* the help text quotes the defaults it documents */
#define MAX_THREADS 10000
#define DEFAULT_MAX_THREADS 256 /* -t auto */
#define AUTO_RETRY_BASE 0.1     /* -t auto: --retry-base when not given */
#define MAX_REDIRS_LIMIT 1000
#define MAX_RETRIES 1000
#define MAX_PER_HOST 1000000
#define MAX_RATE 1e6
#define MAX_PARKED 100000000 /* jobs waiting for their host */
#define MAX_RETRY_STATUSES 500
#define DEFAULT_GRACE 5.0
#define DEFAULT_CLAIM_IDLE 60.0


static const char usage_text[] =
    "Usage: fetchpool [OPTIONS] [FILE | URL ...]\n"
    "Fetch many HTTP(S) URLs in parallel on a fixed pool of threads.\n"
    "\n"
    "Each input line is a job: a URL, or a JSON object {\"url\", \"method\",\n"
    "\"headers\", \"body\", \"json\", \"timeout\", \"id\"}. Blank lines and lines\n"
    "starting with # are skipped. With no FILE or URL, or when FILE is -, read\n"
    "standard input. An argument starting with http:// or https:// is a job\n"
    "itself (after -- every argument is a FILE).\n"
    "Each job gives one JSON record on one line of the output.\n"
    "\n"
    "Options:\n"
    "  -t, --threads N          transfers at once, 1 to " STR(MAX_THREADS)
    " (default " STR(DEFAULT_THREADS) "): worker\n"
    "                           threads, or event-loop slots with --engine multi;\n"
    "                           each needs open files: 3 on threads (a connection\n"
    "                           and the socket pair libcurl keeps per handle), 1\n"
    "                           on multi/hybrid, +1 with --save; when the hard\n"
    "                           limit (ulimit -Hn) is too low, fewer run at once\n"
    "                           and a warning says so\n"
    "  -t, --threads auto       adapt each host's transfers at once between 1 and\n"
    "                           --max-threads: grow while its latency stays near\n"
    "                           its no-load latency, shrink when it rises or on\n"
    "                           429, 503, timeouts, refused connections\n"
    "      --max-threads N      with -t auto: the most transfers at once, all\n"
    "                           hosts together, 1 to " STR(MAX_THREADS) " (default "
    STR(DEFAULT_MAX_THREADS) "); open\n"
    "                           files are checked as for -t N\n"
    "      --engine E           threads (default): a thread per transfer, each\n"
    "                           blocking in libcurl; multi: one event-loop thread\n"
    "                           on libcurl's multi interface; hybrid: --loops\n"
    "                           event-loop threads sharing the transfers\n"
    "      --loops K            event-loop threads for --engine hybrid (default:\n"
    "                           one per CPU)\n"
    "  -o, --output FILE        write records to FILE instead of standard output\n"
    "      --ordered            write records in input order (bounded window)\n"
    "  -X, --method METHOD      HTTP method (default GET, or POST with --data)\n"
    "  -H, --header LINE        add a request header, 'Name: value' (repeatable)\n"
    "  -d, --data DATA          request body\n"
    "      --timeout SEC        time limit per job, decimals allowed, over all\n"
    "                           its attempts and retry waits (default 0: none)\n"
    "      --connect-timeout SEC\n"
    "                           connect time limit (default 10)\n"
    "      --max-redirs N       follow at most N redirects (default 10; 0: do not\n"
    "                           follow, the 3xx response is the result)\n"
    "      --max-body SIZE      largest body accepted, with K, M or G suffix\n"
    "                           (powers of 1024; default 64M)\n"
    "  -A, --user-agent UA      User-Agent header (default fetchpool/" FP_VERSION ")\n"
    "  -k, --insecure           do not verify TLS certificates and host names\n"
    "      --body               add the body to each record (\"body\", or\n"
    "                           \"body_base64\" when it is not UTF-8; a JSON\n"
    "                           body as its value, \"json\")\n"
    "      --headers            add the response headers to each record\n"
    "      --timings            add phase timings to each record\n"
    "      --save DIR           save each 2xx body to DIR/INDEX.body (\"saved\"\n"
    "                           field); a taken name gets a suffix, INDEX.1.body\n"
    "      --cacert FILE        verify TLS servers with the CA certificates in FILE\n"
    "\n"
    "Output (filters, formats, saved names):\n"
    "      --only-failed        write only the records of failed jobs\n"
    "      --match-status LIST  write only records with these statuses\n"
    "                           (200-299,404)\n"
    "      --filter-status LIST do not write records with these statuses\n"
    "      --match-error CODES  write only records with these error codes\n"
    "                           (connect,timeout); filtered records are counted\n"
    "                           in the summary, not written\n"
    "      --format F           jsonl (default), csv or tsv (fixed columns and a\n"
    "                           header line; see fetchpool(1))\n"
    "  -w, --write-out TEMPLATE write TEMPLATE per job instead: %{index} %{url}\n"
    "                           %{id} %{status} %{ok} %{error} %{error_message}\n"
    "                           %{effective_url} %{elapsed_ms} %{bytes}\n"
    "                           %{attempts} %{saved} %{header.NAME}\n"
    "                           %{json.PATH} (a.b.0), \\n \\t, %% as curl\n"
    "      --save-name TEMPLATE with --save, name files from {index} {id} {name}\n"
    "                           {ext} {host} #1 ... ({name}: Content-Disposition\n"
    "                           or the URL's last segment; '/' becomes '_')\n"
    "      --save-all           with --save, save non-2xx bodies too\n"
    "      --max-filesize SIZE  fail a transfer whose body exceeds SIZE (saved\n"
    "                           bodies are not bound by --max-body)\n"
    "Batch input:\n"
    "      --url URL            a URL job (repeatable), as a URL argument is\n"
    "  -g, --globoff            take URLs as they are: no {a,b} sets or [1-9]\n"
    "                           ranges (by default [1-100], [001-100], [a-z],\n"
    "                           [0-100:5] and {json,xml} in a URL argument expand,\n"
    "                           lazily, as curl's; #1, #2 name their values)\n"
    "      --template URL       make each input row a job: {NAME} is the row's\n"
    "                           field NAME, percent-encoded ({{ is a literal {);\n"
    "                           rows are JSON lines, or --csv/--tsv rows, and -H\n"
    "                           values are templates too\n"
    "      --body-template TEXT the body of each row's job (POST unless -X);\n"
    "                           fields are JSON-escaped when the body is JSON\n"
    "      --csv                the FILEs are CSV (RFC 4180), first line the\n"
    "                           column names\n"
    "      --tsv                the FILEs are tab-separated, first line the names\n"
    "      --dry-run            print each request that would be sent (method,\n"
    "                           URL, headers, body size; secrets masked), one JSON\n"
    "                           line each, and send nothing\n"
    "Requests as with curl (same names and meaning; see fetchpool(1)):\n"
    "  -u, --user USER[:PASS]   credentials (no PASS: empty, never a prompt)\n"
    "      --basic, --digest, --ntlm, --anyauth\n"
    "                           how to send them (default --basic)\n"
    "      --oauth2-bearer TOKEN\n"
    "                           send 'Authorization: Bearer TOKEN'\n"
    "  -n, --netrc              credentials from ~/.netrc (--netrc-optional: the\n"
    "      --netrc-file FILE    URL's and -u's win; --netrc-file: from FILE)\n"
    "  -K, --config FILE        read options from FILE in curl's syntax (- for\n"
    "                           standard input): keeps secrets out of ps\n"
    "  -H, --header @FILE       the headers of FILE, one a line\n"
    "  -d, --data DATA|@FILE    body (@FILE: without CR/LF; @-: standard input);\n"
    "                           several -d join with &\n"
    "      --data-binary DATA|@FILE, --data-raw DATA (no @),\n"
    "      --data-urlencode [NAME]=DATA|[NAME]@FILE\n"
    "      --json DATA|@FILE    JSON body, Content-Type and Accept application/json\n"
    "  -G, --get                send the data as the URL's query, with GET\n"
    "  -F, --form NAME=VALUE|NAME=@FILE|NAME=<FILE[;type=T]\n"
    "                           multipart/form-data part (repeatable)\n"
    "  -e, --referer URL[;auto] Referer header\n"
    "  -I, --head               HEAD requests\n"
    "      --no-compressed      ask for no encoding (--compressed: the default)\n"
    "      --no-location        do not follow redirects (-L: the default)\n"
    "      --path-as-is         send /../ and /./ in paths as they are\n"
    "      --request-target T   send T in the request line instead of the path\n"
    "      --limit-rate SIZE    bytes a second per transfer, K, M or G suffix\n"
    "  -f, --fail               accepted: a status >= 400 already fails its job\n"
    "\n"
    "Reliability:\n"
    "      --retries N          retry a failed attempt up to N times (default 0):\n"
    "                           connect, timeout, stall and network errors, and\n"
    "                           the --retry-on statuses\n"
    "      --retry-on LIST      statuses to retry, comma-separated (default\n"
    "                           429,502,503,504; '' retries errors only)\n"
    "      --retry-base SEC     backoff base: the wait before retry k is random in\n"
    "                           [0, SEC * 2^(k-1)] (default 0.5; 0.1 with -t auto)\n"
    "      --retry-max-wait SEC longest wait before a retry, Retry-After included\n"
    "                           (default 30)\n"
    "      --rate R             start at most R requests a second in all, decimals\n"
    "                           allowed (default 0: no limit)\n"
    "      --per-host N         at most N transfers at once to one host:port\n"
    "                           (default 0: no limit)\n"
    "      --per-host-rate R    start at most R requests a second to each\n"
    "                           host:port, evenly paced, decimals allowed\n"
    "                           (default: no limit; with --rate both hold)\n"
    "      --no-host-cooldown   keep asking a host that answered 429 or 503 with\n"
    "                           Retry-After (default: pause its new requests\n"
    "                           until then, capped by --retry-max-wait)\n"
    "      --max-parked N       jobs that may wait for their host (busy, cooling\n"
    "                           down, rate) before reading stops (default 100000)\n"
    "      --attempt-timeout SEC\n"
    "                           time limit per attempt (default 0: none)\n"
    "      --stall-timeout SEC  fail a transfer (stall_timeout) when under 1\n"
    "                           byte/s moves for SEC seconds (default 0: off)\n"
    "      --grace SEC          on SIGINT, SIGTERM or SIGHUP, wait up to SEC for\n"
    "                           the transfers in flight before stopping them\n"
    "                           (default 5); a second signal stops them at once\n"
    "      --resume FILE        skip the jobs FILE (an earlier output) finished\n"
    "                           and append the new records to FILE\n"
    "      --resume-failed      with --resume, also run again the jobs that\n"
    "                           failed\n"
    "\n"
    "Proxies, cookies, TLS, names and HTTP versions (curl's options):\n"
    "  -x, --proxy URL          [SCHEME://][USER:PASSWORD@]HOST[:PORT]; SCHEME http\n"
    "                           (default), https, socks4, socks4a, socks5 or\n"
    "                           socks5h; '' for none. Without it the http_proxy,\n"
    "                           https_proxy, all_proxy and no_proxy variables hold\n"
    "  -U, --proxy-user U:P     proxy credentials (never shown in any output)\n"
    "      --noproxy LIST       hosts (comma-separated, or *) reached directly\n"
    "      --proxy-insecure     do not verify an https proxy's certificate\n"
    "      --proxy-cacert FILE  verify an https proxy with the CAs in FILE\n"
    "  -b, --cookie DATA|FILE   send 'n=v; n2=v2', or load a cookie FILE into\n"
    "                           the run's one cookie store (for every transfer)\n"
    "  -c, --cookie-jar FILE    write the cookie store to FILE (Netscape format)\n"
    "                           at the end, also after an interruption\n"
    "  -j, --junk-session-cookies\n"
    "                           load no session cookies from --cookie FILE\n"
    "  -E, --cert FILE[:PASS]   client certificate (and its key's pass phrase)\n"
    "      --cert-type T        PEM (default), DER or P12\n"
    "      --key FILE           client private key; --key-type PEM or DER\n"
    "      --pass PASS          pass phrase of the private key\n"
    "      --capath DIR         verify servers with the hashed CAs in DIR\n"
    "      --ciphers LIST       OpenSSL cipher list (TLS 1.2 and below)\n"
    "      --tlsv1.2, --tlsv1.3 use at least this TLS version\n"
    "      --tls-max V          use at most TLS V (1.0, 1.1, 1.2, 1.3)\n"
    "      --pinnedpubkey K     server public key: a PEM/DER FILE or sha256//HASH\n"
    "      --crlfile FILE       PEM certificate revocation list\n"
    "      --resolve H:P:ADDR   connect to ADDR for host H, port P (repeatable)\n"
    "      --connect-to H:P:H2:P2\n"
    "                           connect to H2:P2 for requests to H:P (repeatable)\n"
    "  -4, --ipv4 / -6, --ipv6  use only IPv4 / IPv6 addresses\n"
    "      --interface NAME     send from this interface, address or host\n"
    "      --local-port N[-M]   bind the local end to port N (to M)\n"
    "      --dns-servers LIST   refused: Debian's libcurl cannot set them\n"
    "      --http1.0, --http1.1 use this HTTP version\n"
    "      --http2              HTTP/2, also asking cleartext servers to upgrade\n"
    "                           (HTTP/2 over TLS is the default)\n"
    "      --http2-prior-knowledge\n"
    "                           HTTP/2 without TLS from the first byte\n"
    "\n"
    "Progress and summary:\n"
    "      --progress           show the progress line on standard error\n"
    "      --no-progress        never show it (default: shown when standard\n"
    "                           error is a terminal and records do not go to one)\n"
    "  -q, --quiet              no summary and no progress line\n"
    "      --stats-json FILE    write the summary to FILE as a JSON object\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Commands, to share one job stream among workers on many hosts through\n"
    "Redis Streams (see 'fetchpool COMMAND --help'):\n"
    "  fetchpool enqueue  add jobs to a stream\n"
    "  fetchpool worker   run the jobs of a stream, writing records to another\n"
    "  fetchpool status   show how far a stream's jobs are\n"
    "  fetchpool results  print a stream's records as JSON Lines\n"
    "\n"
    "Record fields:\n"
    "  index, url, id (when the job gives one), status, ok, error (null or\n"
    "  {\"code\", \"message\"}), effective_url, elapsed_ms, bytes, attempts,\n"
    "  http_version (null when no response came); and with their options timings,\n"
    "  headers, body or body_base64 (json and json_error for JSON bodies), saved\n"
    "\n"
    "Error codes (error.code):\n"
    "  invalid_json invalid_url invalid_header invalid_request\n"
    "  unsupported_protocol dns connect connect_timeout timeout stall_timeout\n"
    "  tls too_many_redirects body_too_large headers_too_large network protocol\n"
    "  aborted http cancelled out_of_memory internal\n"
    "\n"
    "Exit status: 0 when every job run is ok, 1 when any job failed, 2 for a\n"
    "usage error or an input or output file that cannot be read or written,\n"
    "130, 143 or 129 when interrupted by SIGINT, SIGTERM or SIGHUP.\n"
    "See fetchpool(1) for what each record field and error code means.\n";

static const char enqueue_text[] =
    "Usage: fetchpool enqueue [--redis URL] [--stream NAME] [FILE ...]\n"
    "Add one stream entry per job line of the FILEs (standard input when none,\n"
    "or -) to a Redis stream, pipelined, and print how many were added. Job\n"
    "lines are those of fetchpool itself; a line that is no valid job is still\n"
    "added, and becomes an error record when a worker takes it.\n"
    "\n"
    "      --redis URL          redis://[:PASSWORD@]HOST[:PORT][/DB] (default\n"
    "                           redis://127.0.0.1:6379)\n"
    "      --stream NAME        the job stream (default fetchpool)\n"
    "  -q, --quiet              print nothing when all went well\n"
    "  -h, --help               show this help and exit\n"
    "\n"
    "Exit status: 0 when every line was added, 2 for a usage error, an input\n"
    "that cannot be read or a Redis error (the count added so far is printed).\n";

static const char worker_text[] =
    "Usage: fetchpool worker [--redis URL] [--stream NAME] [--group G]\n"
    "                        [--consumer C] [OPTIONS]\n"
    "Join consumer group G of the job stream, run its jobs on the pool, write\n"
    "each record to the results stream, and acknowledge a job only once its\n"
    "record is written (at least once: a job whose worker died runs again on\n"
    "another; records carry the job's stream id as \"job_id\").\n"
    "\n"
    "      --redis URL          redis://[:PASSWORD@]HOST[:PORT][/DB] (default\n"
    "                           redis://127.0.0.1:6379)\n"
    "      --stream NAME        the job stream (default fetchpool)\n"
    "      --group G            the consumer group, created when missing\n"
    "                           (default fetchpool)\n"
    "      --consumer C         this worker's name in the group (default\n"
    "                           HOSTNAME-PID); a worker started again under the\n"
    "                           same name first finishes the jobs it held\n"
    "      --results-stream S   where records go (default NAME:results)\n"
    "      --claim-idle SEC     take over jobs another consumer has held this\n"
    "                           long without a sign of life (default 60)\n"
    "      --until-empty        exit once the group has no job left to deliver,\n"
    "                           pending or to claim (default: wait for more)\n"
    "\n"
    "The request, reliability and limit options of fetchpool apply as well\n"
    "(-t, --engine, -X, -H, -d, --timeout, --retries, --rate, --per-host, --body,\n"
    "...; see fetchpool --help). --rate, --per-host, --per-host-rate and host\n"
    "cooldowns hold per worker.\n"
    "-t needs open files as for fetchpool (3 per thread on the thread engine):\n"
    "when the hard limit is too low, fewer run at once and a warning says so.\n"
    "On SIGINT, SIGTERM or SIGHUP the worker takes no more jobs, gives those in\n"
    "flight --grace seconds, and hands back unfinished ones for others to take.\n"
    "\n"
    "Exit status: 0 when the group is done (--until-empty; failed jobs are\n"
    "records like any other), 2 for a usage error or a Redis error that will\n"
    "not heal (a key of the wrong type), 130, 143 or 129 when stopped by\n"
    "SIGINT, SIGTERM or SIGHUP.\n";

static const char status_text[] =
    "Usage: fetchpool status [--redis URL] [--stream NAME] [--group G] [--json]\n"
    "Show the jobs of a stream: total, delivered to the group, pending (taken,\n"
    "not yet acknowledged), acknowledged, not yet delivered; per consumer its\n"
    "pending jobs and idle time; and the number of records.\n"
    "\n"
    "      --redis URL          (default redis://127.0.0.1:6379)\n"
    "      --stream NAME        the job stream (default fetchpool)\n"
    "      --group G            the consumer group (default fetchpool)\n"
    "      --results-stream S   the records (default NAME:results)\n"
    "      --json               one JSON object instead of text\n"
    "  -h, --help               show this help and exit\n"
    "\n"
    "Exit status: 0, or 2 for a usage error or a Redis error.\n";

static const char results_text[] =
    "Usage: fetchpool results [--redis URL] [--stream NAME] [-o FILE]\n"
    "Print the records of a stream's jobs as JSON Lines, each job once (the\n"
    "first record of a job that ran twice), in the order they were written.\n"
    "\n"
    "      --redis URL          (default redis://127.0.0.1:6379)\n"
    "      --stream NAME        the job stream (default fetchpool)\n"
    "      --results-stream S   the records (default NAME:results)\n"
    "  -o, --output FILE        write to FILE instead of standard output\n"
    "  -q, --quiet              no count of duplicates on standard error\n"
    "  -h, --help               show this help and exit\n"
    "\n"
    "Exit status: 0, or 2 for a usage error, a Redis or a write error.\n";

static const char *const command_names[] = {
    [CLI_RUN] = NULL, [CLI_ENQUEUE] = "enqueue", [CLI_WORKER] = "worker",
    [CLI_STATUS] = "status", [CLI_RESULTS] = "results",
};

static const char *const help_texts[] = {
    [CLI_RUN] = usage_text, [CLI_ENQUEUE] = enqueue_text, [CLI_WORKER] = worker_text,
    [CLI_STATUS] = status_text, [CLI_RESULTS] = results_text,
};

void cli_usage_hint(cli_command cmd) {
  fprintf(stderr, "\nTry 'fetchpool %s%s--help' for more information.\n",
          command_names[cmd] ? command_names[cmd] : "", command_names[cmd] ? " " : "");
}

/* As cli_usage_error, with the -K file and line being read, if any. */
#define usage_error(...)                                                       \
  do {                                                                         \
    fputs("fetchpool: ", stderr);                                              \
    if (config_at[0])                                                          \
      fprintf(stderr, "%s: ", config_at);                                      \
    fprintf(stderr, __VA_ARGS__);                                              \
    cli_usage_hint(cmd);                                                       \
  } while (0)

typedef struct parse_state parse_state;
/* Where the -K line being applied is ("FILE:LINE"), for messages; "" for
 * argv. The CLI parses its options on one thread, once. */
static char config_at[160];

/* s for a message: control bytes escaped (no CR or LF may split the
 * one-line report), cut at 80 bytes. */
static const char *shown(const char *s, char *buf, size_t size) {
  size_t n = 0;
  for (; *s && n + 5 < size && n < 80; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f)
      n += (size_t)snprintf(buf + n, size - n, "\\x%02X", c);
    else
      buf[n++] = (char)c;
  }
  buf[n] = '\0';
  if (*s && n + 4 < size)
    strcpy(buf + n, "...");
  return buf;
}

enum {
  OPT_ORDERED = 256, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_MAX_REDIRS, OPT_MAX_BODY,
  OPT_PROGRESS, OPT_NO_PROGRESS, OPT_STATS_JSON, OPT_BODY, OPT_HEADERS, OPT_TIMINGS,
  OPT_SAVE, OPT_RETRIES, OPT_RETRY_ON, OPT_RETRY_BASE, OPT_RETRY_MAX_WAIT, OPT_RATE,
  OPT_PER_HOST, OPT_STALL_TIMEOUT, OPT_ATTEMPT_TIMEOUT, OPT_CACERT, OPT_GRACE, OPT_RESUME, OPT_RESUME_FAILED,
  OPT_ENGINE, OPT_LOOPS, OPT_REDIS, OPT_STREAM, OPT_GROUP, OPT_CONSUMER,
  OPT_RESULTS_STREAM, OPT_CLAIM_IDLE, OPT_UNTIL_EMPTY, OPT_JSON,
  /* per-host politeness: parked jobs, host cooldown, per-host rate */
  OPT_PER_HOST_RATE, OPT_MAX_PARKED, OPT_NO_HOST_COOLDOWN,
  /* batch-out: filters, formats, saved names */
  OPT_ONLY_FAILED, OPT_MATCH_STATUS, OPT_FILTER_STATUS, OPT_MATCH_ERROR, OPT_FORMAT,
  OPT_SAVE_NAME, OPT_SAVE_ALL, OPT_MAX_FILESIZE,
  /* batch-in: URL arguments, globbing, templates, dry runs */
  OPT_URL, OPT_TEMPLATE, OPT_BODY_TEMPLATE, OPT_CSV, OPT_TSV, OPT_DRY_RUN,
  /* curl-req: auth, data, misc request options */
  OPT_BASIC, OPT_DIGEST, OPT_NTLM, OPT_ANYAUTH, OPT_OAUTH2_BEARER, OPT_NETRC_FILE,
  OPT_NETRC_OPTIONAL, OPT_DATA_ASCII, OPT_DATA_BINARY, OPT_DATA_RAW, OPT_DATA_URLENCODE,
  OPT_JSON_DATA, OPT_COMPRESSED, OPT_NO_COMPRESSED, OPT_NO_LOCATION, OPT_PATH_AS_IS,
  OPT_REQUEST_TARGET, OPT_LIMIT_RATE,
  /* limit: -t auto */
  OPT_MAX_THREADS
};

#define IN(c) (1u << (c))
#define REDIS_COMMANDS (IN(CLI_ENQUEUE) | IN(CLI_WORKER) | IN(CLI_STATUS) | IN(CLI_RESULTS))

/* The commands an option belongs to: the Redis options to the Redis
 * commands; where records go and how a local run reads its input to the
 * run; the request, reliability and limit options to the run and the
 * worker, which both run jobs. */
static unsigned commands_of(int opt) {
  switch (opt) {
  case OPT_REDIS:
  case OPT_STREAM:
    return REDIS_COMMANDS;
  case OPT_GROUP:
    return IN(CLI_WORKER) | IN(CLI_STATUS);
  case OPT_RESULTS_STREAM:
    return IN(CLI_WORKER) | IN(CLI_STATUS) | IN(CLI_RESULTS);
  case OPT_CONSUMER:
  case OPT_CLAIM_IDLE:
  case OPT_UNTIL_EMPTY:
    return IN(CLI_WORKER);
  case OPT_JSON:
    return IN(CLI_STATUS);
  case 'o':
    return IN(CLI_RUN) | IN(CLI_RESULTS);
  case OPT_ORDERED:
  case OPT_SAVE:
  case OPT_RESUME:
  case OPT_RESUME_FAILED:
  case OPT_PROGRESS:
  case OPT_NO_PROGRESS:
  /* batch-out: what a local run writes */
  case OPT_ONLY_FAILED:
  case OPT_MATCH_STATUS:
  case OPT_FILTER_STATUS:
  case OPT_MATCH_ERROR:
  case OPT_FORMAT:
  case 'w':
  case OPT_SAVE_NAME:
  case OPT_SAVE_ALL:
  /* batch-in */
  case OPT_URL:
  case 'g':
  case OPT_TEMPLATE:
  case OPT_BODY_TEMPLATE:
  case OPT_CSV:
  case OPT_TSV:
  case OPT_DRY_RUN:
    return IN(CLI_RUN);
  case 1: /* a FILE or URL argument: the run and enqueue take them */
    return IN(CLI_RUN) | IN(CLI_ENQUEUE) | IN(CLI_WORKER) | IN(CLI_STATUS) | IN(CLI_RESULTS);
  case 'q':
  case 'h':
  case 'V':
  case 'K': /* curl-req: a -K file holds any command's options */
  case ':':
  case '?':
    return ~0u;
  default: /* requests, reliability, limits, the pool */
    return IN(CLI_RUN) | IN(CLI_WORKER);
  }
}

/* "-": arguments that are no option come back in order (as option 1), so
 * URL arguments and FILEs keep their order (batch-in) */
static const char short_options[] = "-:t:o:X:H:d:A:kqhVw:g"
                                    CLI_NET_SHORT /* curl-net's group */
                                    "u:K:e:F:GIfLn"; /* curl-req */

static const struct option long_options[] = {
    {"threads", required_argument, NULL, 't'},
    {"max-threads", required_argument, NULL, OPT_MAX_THREADS},
    {"output", required_argument, NULL, 'o'},
    {"ordered", no_argument, NULL, OPT_ORDERED},
    {"method", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, 'd'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"user-agent", required_argument, NULL, 'A'},
    {"insecure", no_argument, NULL, 'k'},
    {"body", no_argument, NULL, OPT_BODY},
    {"headers", no_argument, NULL, OPT_HEADERS},
    {"timings", no_argument, NULL, OPT_TIMINGS},
    {"save", required_argument, NULL, OPT_SAVE},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"retry-on", required_argument, NULL, OPT_RETRY_ON},
    {"retry-base", required_argument, NULL, OPT_RETRY_BASE},
    {"retry-max-wait", required_argument, NULL, OPT_RETRY_MAX_WAIT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"per-host-rate", required_argument, NULL, OPT_PER_HOST_RATE},
    {"max-parked", required_argument, NULL, OPT_MAX_PARKED},
    {"no-host-cooldown", no_argument, NULL, OPT_NO_HOST_COOLDOWN},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"loops", required_argument, NULL, OPT_LOOPS},
    {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
    {"attempt-timeout", required_argument, NULL, OPT_ATTEMPT_TIMEOUT},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"resume-failed", no_argument, NULL, OPT_RESUME_FAILED},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"stream", required_argument, NULL, OPT_STREAM},
    {"group", required_argument, NULL, OPT_GROUP},
    {"consumer", required_argument, NULL, OPT_CONSUMER},
    {"results-stream", required_argument, NULL, OPT_RESULTS_STREAM},
    {"claim-idle", required_argument, NULL, OPT_CLAIM_IDLE},
    {"until-empty", no_argument, NULL, OPT_UNTIL_EMPTY},
    {"json", no_argument, NULL, OPT_JSON},
    /* batch-out: filters, formats, saved names */
    {"only-failed", no_argument, NULL, OPT_ONLY_FAILED},
    {"match-status", required_argument, NULL, OPT_MATCH_STATUS},
    {"filter-status", required_argument, NULL, OPT_FILTER_STATUS},
    {"match-error", required_argument, NULL, OPT_MATCH_ERROR},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"write-out", required_argument, NULL, 'w'},
    {"save-name", required_argument, NULL, OPT_SAVE_NAME},
    {"save-all", no_argument, NULL, OPT_SAVE_ALL},
    {"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
    /* batch-in */
    {"url", required_argument, NULL, OPT_URL},
    {"globoff", no_argument, NULL, 'g'},
    {"template", required_argument, NULL, OPT_TEMPLATE},
    {"body-template", required_argument, NULL, OPT_BODY_TEMPLATE},
    {"csv", no_argument, NULL, OPT_CSV},
    {"tsv", no_argument, NULL, OPT_TSV},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    /* proxies, cookies, TLS, names and addresses, HTTP versions
     * (net_options.c) */
    {"proxy", required_argument, NULL, 'x'},
    {"proxy-user", required_argument, NULL, 'U'},
    {"noproxy", required_argument, NULL, CLI_NET_NOPROXY},
    {"proxy-insecure", no_argument, NULL, CLI_NET_PROXY_INSECURE},
    {"proxy-cacert", required_argument, NULL, CLI_NET_PROXY_CACERT},
    {"cookie", required_argument, NULL, 'b'},
    {"cookie-jar", required_argument, NULL, 'c'},
    {"junk-session-cookies", no_argument, NULL, 'j'},
    {"cert", required_argument, NULL, 'E'},
    {"cert-type", required_argument, NULL, CLI_NET_CERT_TYPE},
    {"key", required_argument, NULL, CLI_NET_KEY},
    {"key-type", required_argument, NULL, CLI_NET_KEY_TYPE},
    {"pass", required_argument, NULL, CLI_NET_PASS},
    {"capath", required_argument, NULL, CLI_NET_CAPATH},
    {"ciphers", required_argument, NULL, CLI_NET_CIPHERS},
    {"tlsv1.2", no_argument, NULL, CLI_NET_TLSV1_2},
    {"tlsv1.3", no_argument, NULL, CLI_NET_TLSV1_3},
    {"tls-max", required_argument, NULL, CLI_NET_TLS_MAX},
    {"pinnedpubkey", required_argument, NULL, CLI_NET_PINNEDPUBKEY},
    {"crlfile", required_argument, NULL, CLI_NET_CRLFILE},
    {"resolve", required_argument, NULL, CLI_NET_RESOLVE},
    {"connect-to", required_argument, NULL, CLI_NET_CONNECT_TO},
    {"ipv4", no_argument, NULL, '4'},
    {"ipv6", no_argument, NULL, '6'},
    {"interface", required_argument, NULL, CLI_NET_INTERFACE},
    {"local-port", required_argument, NULL, CLI_NET_LOCAL_PORT},
    {"dns-servers", required_argument, NULL, CLI_NET_DNS_SERVERS},
    {"http1.0", no_argument, NULL, CLI_NET_HTTP1_0},
    {"http1.1", no_argument, NULL, CLI_NET_HTTP1_1},
    {"http2", no_argument, NULL, CLI_NET_HTTP2},
    {"http2-prior-knowledge", no_argument, NULL, CLI_NET_HTTP2_PRIOR},
    /* curl-req: auth, data, config files, misc request options */
    {"user", required_argument, NULL, 'u'},
    {"basic", no_argument, NULL, OPT_BASIC},
    {"digest", no_argument, NULL, OPT_DIGEST},
    {"ntlm", no_argument, NULL, OPT_NTLM},
    {"anyauth", no_argument, NULL, OPT_ANYAUTH},
    {"oauth2-bearer", required_argument, NULL, OPT_OAUTH2_BEARER},
    {"netrc", no_argument, NULL, 'n'},
    {"netrc-file", required_argument, NULL, OPT_NETRC_FILE},
    {"netrc-optional", no_argument, NULL, OPT_NETRC_OPTIONAL},
    {"config", required_argument, NULL, 'K'},
    {"data-ascii", required_argument, NULL, OPT_DATA_ASCII},
    {"data-binary", required_argument, NULL, OPT_DATA_BINARY},
    {"data-raw", required_argument, NULL, OPT_DATA_RAW},
    {"data-urlencode", required_argument, NULL, OPT_DATA_URLENCODE},
    {"get", no_argument, NULL, 'G'},
    {"form", required_argument, NULL, 'F'},
    {"referer", required_argument, NULL, 'e'},
    {"compressed", no_argument, NULL, OPT_COMPRESSED},
    {"no-compressed", no_argument, NULL, OPT_NO_COMPRESSED},
    {"location", no_argument, NULL, 'L'},
    {"no-location", no_argument, NULL, OPT_NO_LOCATION},
    {"path-as-is", no_argument, NULL, OPT_PATH_AS_IS},
    {"request-target", required_argument, NULL, OPT_REQUEST_TARGET},
    {"head", no_argument, NULL, 'I'},
    {"fail", no_argument, NULL, 'f'},
    {"limit-rate", required_argument, NULL, OPT_LIMIT_RATE},
    {NULL, 0, NULL, 0},
};

/* The long option named exactly name[0..len), or NULL. getopt_long takes
 * any unambiguous prefix of a name ("--user" for --user-agent), so every
 * long option it returns is checked against this: a prefix that happens
 * to be unique today would silently take another option's meaning, and
 * its value with it (a password as the User-Agent). */
static const struct option *exact_option(const char *name, size_t len) {
  for (const struct option *lo = long_options; lo->name; lo++)
    if (strlen(lo->name) == len && strncmp(lo->name, name, len) == 0)
      return lo;
  return NULL;
}

/* Edit distance between a[0..an) and b (insertions, deletions,
 * substitutions and swaps of neighbours each count 1), for suggestions;
 * names longer than 63 bytes are never close. */
static size_t edit_distance(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b), d[64][64];
  if (an > 63 || bn > 63)
    return SIZE_MAX;
  for (size_t i = 0; i <= an; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= bn; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= an; i++) {
    for (size_t j = 1; j <= bn; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best)
        best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[an][bn];
}

/* The one long option of cmd that name[0..len) (an unknown option)
 * probably meant: the only one it is a prefix of, else the only one
 * within a small edit distance of it; NULL when none or several are. */
static const char *suggestion(cli_command cmd, const char *name, size_t len) {
  const char *prefix_of = NULL, *closest = NULL;
  size_t prefixes = 0, best = SIZE_MAX, at_best = 0;
  for (const struct option *lo = long_options; lo->name; lo++) {
    if (!(commands_of(lo->val) & IN(cmd)))
      continue;
    if (len && strncmp(lo->name, name, len) == 0) {
      prefix_of = lo->name;
      prefixes++;
    }
    size_t dist = edit_distance(name, len, lo->name);
    if (dist < best) {
      best = dist;
      closest = lo->name;
      at_best = 1;
    } else if (dist == best) {
      at_best++;
    }
  }
  if (prefixes == 1)
    return prefix_of;
  /* a typo or two, fewer in a short name */
  size_t limit = len < 6 ? 1 : len < 12 ? 2 : 3;
  return best <= limit && at_best == 1 ? closest : NULL;
}

/* curl-req: curl options that make no sense here, each with what to use
 * instead; found only when no option of the table has the name. */
static const struct curl_only {
  const char *name;
  int letter; /* its short form, 0 when none */
  const char *why;
} curl_only[] = {
    {"remote-name", 'O', "fetchpool writes records, not a file per URL; use --save DIR for the bodies (--save-name '{name}' names them as curl -O does)"},
    {"remote-name-all", 0, "fetchpool writes records, not a file per URL; use --save DIR for the bodies (--save-name '{name}' names them as curl -O does)"},
    {"progress-bar", '#', "use --progress for fetchpool's progress line"},
    {"parallel", 'Z', "fetchpool is always parallel; use -t N"},
    {"parallel-max", 0, "fetchpool is always parallel; use -t N"},
    {"parallel-immediate", 0, "fetchpool is always parallel; use -t N"},
    {"silent", 's', "use -q (no summary, no progress line); errors still show, in the records"},
    {"show-error", 'S', "fetchpool always reports errors, in each record"},
    {"verbose", 'v', "use --headers and --timings to see each response in its record"},
    {"include", 'i', "use --headers: the response headers go in each record"},
    {"trace", 0, "use --headers and --timings to see each response in its record"},
    {"trace-ascii", 0, "use --headers and --timings to see each response in its record"},
    {"upload-file", 'T', "use --data-binary @FILE with -X PUT"},
    {"continue-at", 'C', "fetchpool does not resume transfers; --resume FILE skips finished jobs"},
    {"next", 0, "each input line is its own job; a JSON job line sets its own method, headers "
                "and body"},
    {"max-time", 'm', "use --timeout SEC (it spans every attempt of a job)"},
    {"retry", 0, "use --retries N"},
    {"retry-delay", 0, "use --retry-base SEC"},
    {"retry-max-time", 0, "use --timeout SEC (it spans every attempt of a job)"},
    {"no-buffer", 'N', "each record is written as its job ends (--ordered: in input order)"},
    {"libcurl", 0, "fetchpool's library is its C API, include/fetchpool.h"},
    {"manual", 'M', "see man fetchpool"},
};

/* Report --name[0..len) when it is a curl option with no place here;
 * false when it is not one. */
static bool curl_only_long(cli_command cmd, const char *name, size_t len) {
  for (size_t i = 0; i < sizeof curl_only / sizeof curl_only[0]; i++) {
    if (strlen(curl_only[i].name) == len && strncmp(curl_only[i].name, name, len) == 0) {
      usage_error("--%s: %s", curl_only[i].name, curl_only[i].why);
      return true;
    }
  }
  return false;
}

/* The same for a short option -c. */
static bool curl_only_short(cli_command cmd, int c) {
  for (size_t i = 0; i < sizeof curl_only / sizeof curl_only[0]; i++) {
    if (c && curl_only[i].letter == c) {
      usage_error("-%c (--%s): %s", c, curl_only[i].name, curl_only[i].why);
      return true;
    }
  }
  return false;
}

/* Report an unknown long option --name[0..len): its name only, never a
 * value given with it (--user=alice:secret), and a suggestion when one
 * option is close. */
static void unknown_option(cli_command cmd, const char *name, size_t len) {
  char buf[128];
  if (curl_only_long(cmd, name, len))
    return;
  char *copy = strndup(name, len);
  const char *hint = suggestion(cmd, name, len);
  if (hint)
    usage_error("unknown option '--%s' (did you mean --%s?)",
                shown(copy ? copy : "", buf, sizeof buf), hint);
  else
    usage_error("unknown option '--%s'", shown(copy ? copy : "", buf, sizeof buf));
  free(copy);
}

/* A name for a stream, group or consumer: not empty, no control bytes
 * (they would garble status output and logs). */
static bool valid_name(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* Add -H line to base: 0, or -1 with the usage error reported. */
static int add_header(cli_command cmd, fp_request *base, const char *line) {
  char buf[128];
  int hrc = fp_request_add_header_line(base, line);
  if (hrc == FP_ERR_INVALID_REQUEST) {
    usage_error("too many --header: at most %d headers and %zu bytes of names and "
                "values in all", FP_MAX_REQUEST_HEADERS, FP_MAX_REQUEST_HEADER_BYTES);
    return -1;
  } else if (hrc) {
    usage_error("invalid --header '%s': expected 'Name: value' with a token name "
                "and no CR or LF", shown(line, buf, sizeof buf));
    return -1;
  }
  return 0;
}

/* batch-in: whether arg names a URL rather than a FILE. */
static bool is_url_arg(const char *arg) {
  return strncasecmp(arg, "http://", 7) == 0 || strncasecmp(arg, "https://", 8) == 0;
}

/* batch-in: the checks of URL arguments, templates and --dry-run once
 * every option is read; the -H lines held back as templates go to base
 * when no --template uses them. 0, or -1 with the usage error reported. */
static int check_batch_in(cli_command cmd, cli_options *o, fp_request *base, bool data,
                          const char *const *held, size_t nheld) {
  char buf[128], msg[256];
  bool has_url = false;
  for (size_t i = 0; i < o->nitems; i++) {
    if (!o->items[i].url)
      continue;
    has_url = true;
    cli_glob *g = cli_glob_new(o->items[i].arg, o->globoff, msg, sizeof msg);
    if (!g) {
      usage_error("invalid URL '%s': %s", shown(o->items[i].arg, buf, sizeof buf), msg);
      return -1;
    }
    cli_glob_free(g);
  }
  if (has_url && cmd != CLI_RUN) {
    usage_error("fetchpool %s takes FILEs, not URL arguments (put the URLs in a file, "
                "or name it ./FILE)", command_names[cmd]);
    return -1;
  }
  if (o->rows != CLI_ROWS_LINES && !o->url_template) {
    usage_error("--%s needs --template: each row fills the template",
                o->rows == CLI_ROWS_CSV ? "csv" : "tsv");
    return -1;
  }
  if (o->body_template && !o->url_template) {
    usage_error("--body-template needs --template");
    return -1;
  }
  if (o->url_template && has_url) {
    usage_error("--template makes each input row a job: URL arguments do not go with it "
                "(name a file of rows, or ./FILE for a file that starts with http)");
    return -1;
  }
  if (o->body_template && data) {
    usage_error("--body-template and --data both give the body: use one");
    return -1;
  }
  if (o->dry_run && o->resume) {
    usage_error("--dry-run sends nothing, so there is nothing to --resume");
    return -1;
  }
  if (o->dry_run)
    o->save_dir = NULL; /* nothing is fetched, so nothing is saved */
  for (size_t i = 0; i < nheld; i++) {
    if (o->url_template) {
      o->header_templates[o->nheader_templates++] = held[i];
      /* a bad name shows now; values are checked per row */
      const char *colon = strchr(held[i], ':');
      if (!colon || colon == held[i]) {
        usage_error("invalid --header '%s': expected 'Name: value'",
                    shown(held[i], buf, sizeof buf));
        return -1;
      }
    } else if (add_header(cmd, base, held[i])) {
      return -1;
    }
  }
  return 0;
}

static int apply_option(parse_state *ps, int opt, const char *arg, bool from_argv);

/* ---- curl-req: auth, data, -K config files, misc request options and
 * the curl options that make no sense here (issue 13) ---- */

#define NOT_MINE (-2)       /* curl_req_option: not one of this block's */
#define MAX_CONFIG_DEPTH 8  /* -K files reading -K files */

/* What parsing gathers before it is checked and set on the base request
 * (the options that combine: data, method, auth, netrc, redirects). */
struct parse_state {
  cli_command cmd;
  cli_options *o;
  fp_request *base;
  char name[64]; /* the option being applied, as written, for messages */
  const char *method;
  double timeout, connect_timeout, retry_base, retry_max_wait;
  int statuses[MAX_RETRY_STATUSES];
  size_t nstatuses;
  bool retry_on;
  uint64_t retries;
  /* curl-req */
  char *data; /* -d, --data-*, --json pieces, joined; wiped when freed */
  size_t data_len, data_cap;
  bool has_data, last_json, json, get, head, form;
  bool user_ctype, user_accept; /* -H gave Content-Type, Accept */
  bool netrc, netrc_optional;
  const char *netrc_file;
  int location; /* -1 as by default, 0 --no-location, 1 -L */
  unsigned auth; /* FP_AUTH_* of --basic, --digest, --ntlm, --anyauth */
  bool stdin_used; /* read by -K -, -d @-, -H @-, ... */
  unsigned depth;  /* -K nesting */
  /* batch-out */
  bool format_given;
  /* batch-in: the FILE and URL arguments in order (-K files may add
   * --url entries, so the lists grow), and the -H templates held back */
  cli_item *items;
  char **files;
  size_t nitems, nfiles, cap;
  const char *held[64];
  size_t nheld;
};

/* Overwrite then free n bytes at s (a secret: data, a config file). */
static void wipe_free(char *s, size_t n) {
  if (s)
    explicit_bzero(s, n);
  free(s);
}

static void parse_state_free(parse_state *ps) {
  wipe_free(ps->data, ps->data_cap);
  free(ps->items);
  free(ps->files);
  free(ps);
}

/* batch-in: one more FILE or URL argument, in order. 0, or -1 when out
 * of memory (reported). */
static int add_item(parse_state *ps, const char *arg, bool url) {
  if (ps->nitems == ps->cap) {
    size_t cap = ps->cap ? 2 * ps->cap : 16;
    cli_item *items = realloc(ps->items, cap * sizeof *items);
    if (items)
      ps->items = items;
    char **files = items ? realloc(ps->files, cap * sizeof *files) : NULL;
    if (!files) {
      fprintf(stderr, "fetchpool: out of memory\n");
      return -1;
    }
    ps->files = files;
    ps->cap = cap;
  }
  ps->items[ps->nitems].arg = arg;
  ps->items[ps->nitems++].url = url;
  if (!url)
    ps->files[ps->nfiles++] = (char *)arg; /* argv's, or a -K file's kept copy */
  return 0;
}

void cli_options_free(cli_options *o) {
  fp_request_decref(o->base);
  o->base = NULL;
  cli_template_free(o->write_out); /* batch-out */
  o->write_out = NULL;
  free((void *)o->items); /* batch-in */
  free((void *)o->files);
  o->items = NULL;
  o->files = NULL;
  for (size_t i = 0; i < o->nowned; i++)
    wipe_free(o->owned[i], strlen(o->owned[i]));
  free(o->owned);
  o->owned = NULL;
  o->nowned = 0;
}

/* A copy of s that lives as long as o (a -K file's value, which o may
 * point to); NULL when out of memory. */
static char *keep_string(cli_options *o, const char *s) {
  char **grown = realloc(o->owned, (o->nowned + 1) * sizeof *grown);
  if (!grown)
    return NULL;
  o->owned = grown;
  char *copy = strdup(s);
  if (copy)
    o->owned[o->nowned++] = copy;
  return copy;
}

/* The option entry getopt_long and -K files use for lo under cmd: --json
 * is a flag of status, and curl's --json DATA everywhere else. */
static const struct option *resolve(cli_command cmd, const struct option *lo) {
  static const struct option json_data = {"json", required_argument, NULL, OPT_JSON_DATA};
  return lo->val == OPT_JSON && cmd != CLI_STATUS ? &json_data : lo;
}

/* True when opt applies to cmd; else reports it. */
static bool applies(cli_command cmd, int opt, const char *name) {
  if (commands_of(opt) & IN(cmd))
    return true;
  usage_error("option '%s' does not apply to fetchpool%s%s", name,
              command_names[cmd] ? " " : "", command_names[cmd] ? command_names[cmd] : "");
  return false;
}

/* All of path ("-": standard input) into *out (NUL-terminated, *len
 * bytes, may hold NUL bytes; wipe_free it), or -1 after reporting it as
 * what (the option it is for). */
static int slurp(parse_state *ps, const char *path, const char *what, char **out,
                 size_t *len) {
  cli_command cmd = ps->cmd;
  char buf[128];
  bool is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  size_t n = 0, cap = 4096;
  char *text = malloc(cap);
  if (!f || !text) {
    usage_error("cannot read %s file '%s': %s", what, shown(path, buf, sizeof buf),
                text ? strerror(errno) : "out of memory");
    free(text);
    return -1;
  }
  if (is_stdin)
    ps->stdin_used = true;
  for (;;) {
    if (cap - n < 2) {
      char *grown = cap < SIZE_MAX / 2 ? malloc(cap * 2) : NULL;
      if (grown)
        memcpy(grown, text, n);
      wipe_free(text, cap); /* realloc would leave the old copy unwiped */
      text = grown;
      cap *= 2;
      if (!text)
        break;
    }
    size_t got = fread(text + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  bool bad = !text || ferror(f);
  int saved = errno;
  if (!is_stdin)
    fclose(f);
  if (bad) {
    usage_error("cannot read %s file '%s': %s", what, shown(path, buf, sizeof buf),
                text ? strerror(saved) : "out of memory");
    wipe_free(text, text ? cap : 0);
    return -1;
  }
  text[n] = '\0';
  *out = text;
  *len = n;
  return 0;
}

/* Note the headers a --json must not override. */
static void note_header(parse_state *ps, const char *line) {
  if (strncasecmp(line, "Content-Type:", 13) == 0)
    ps->user_ctype = true;
  else if (strncasecmp(line, "Accept:", 7) == 0)
    ps->user_accept = true;
}

/* Add header line (kept out of argv: a -H @FILE line or a -K file's
 * -H), naming where it came from on error but never showing it: it may
 * carry a credential. -1 to go on, or an exit status. */
static int add_header_unshown(parse_state *ps, const char *line, const char *where) {
  cli_command cmd = ps->cmd;
  note_header(ps, line);
  int hrc = fp_request_add_header_line(ps->base, line);
  if (hrc == FP_ERR_INVALID_REQUEST) {
    usage_error("too many --header: at most %d headers and %zu bytes of names and "
                "values in all", FP_MAX_REQUEST_HEADERS, FP_MAX_REQUEST_HEADER_BYTES);
    return CLI_EXIT_USAGE;
  }
  if (hrc) {
    usage_error("invalid header %s: expected 'Name: value' with a token name and no CR "
                "or LF (the header is not shown)", where);
    return CLI_EXIT_USAGE;
  }
  return -1;
}

/* -H @FILE: one header per line, as curl reads it (CR LF or LF ends a
 * line; empty lines skipped). A bad line is named by number only: the
 * file is where secrets are kept out of argv. */
static int header_file(parse_state *ps, const char *path) {
  cli_command cmd = ps->cmd;
  char *text, buf[128];
  size_t len, lineno = 0;
  if (slurp(ps, path, "--header", &text, &len))
    return CLI_EXIT_USAGE;
  int rc = -1;
  for (char *line = text; line < text + len && rc == -1;) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line)), *next;
    next = nl ? nl + 1 : text + len;
    if (nl)
      *nl = '\0';
    lineno++;
    size_t n = strlen(line);
    bool has_nul = line + n != (nl ? nl : text + len);
    if (n && line[n - 1] == '\r')
      line[--n] = '\0';
    if (has_nul) {
      usage_error("invalid header on line %zu of --header file '%s': it holds a NUL byte",
                  lineno, shown(path, buf, sizeof buf));
      rc = CLI_EXIT_USAGE;
    } else if (n) {
      char where[200];
      snprintf(where, sizeof where, "on line %zu of --header file '%s'", lineno,
               shown(path, buf, sizeof buf));
      rc = add_header_unshown(ps, line, where);
    }
    line = next;
  }
  wipe_free(text, len);
  return rc;
}

/* Append n bytes to the data, after '&' unless it is the first piece or
 * one --json piece follows another (curl concatenates those). */
static int append_data(parse_state *ps, const char *piece, size_t n, bool json) {
  size_t need = ps->data_len + n + 2;
  if (need > ps->data_cap) {
    size_t cap = need * 2;
    char *grown = malloc(cap);
    if (!grown)
      return -1;
    if (ps->data)
      memcpy(grown, ps->data, ps->data_len);
    wipe_free(ps->data, ps->data_cap);
    ps->data = grown;
    ps->data_cap = cap;
  }
  if (ps->has_data && !(json && ps->last_json))
    ps->data[ps->data_len++] = '&';
  memcpy(ps->data + ps->data_len, piece, n);
  ps->data_len += n;
  ps->data[ps->data_len] = '\0';
  ps->has_data = true;
  ps->last_json = json;
  return 0;
}

/* s[0..n) percent-encoded as curl --data-urlencode does (all but ALPHA,
 * DIGIT and -._~), after prefix; a new string, or NULL. */
static char *url_encode(const char *prefix, size_t plen, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  char *out = malloc(plen + 3 * n + 1), *p = out;
  if (!out)
    return NULL;
  memcpy(p, prefix, plen);
  p += plen;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("-._~", c)) {
      *p++ = (char)c;
    } else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p = '\0';
  return out;
}

/* -d, --data-ascii, --data-binary, --data-raw, --data-urlencode, --json. */
static int add_data(parse_state *ps, int opt, const char *arg) {
  cli_command cmd = ps->cmd;
  char *file = NULL, *encoded = NULL;
  size_t flen = 0;
  const char *piece = arg;
  size_t n = strlen(arg);
  int rc = -1;
  if (opt == OPT_DATA_URLENCODE) {
    /* curl's forms: content, =content, name=content, @file, name@file */
    const char *sep = strchr(arg, '=');
    if (!sep)
      sep = strchr(arg, '@');
    size_t nlen = sep ? (size_t)(sep - arg) : 0;
    const char *content = sep ? sep + 1 : arg;
    size_t clen = strlen(content);
    if (sep && *sep == '@') {
      if (slurp(ps, content, ps->name, &file, &flen))
        return CLI_EXIT_USAGE;
      content = file;
      clen = flen;
    }
    char prefix[1024];
    if (nlen + 1 >= sizeof prefix) {
      usage_error("invalid --data-urlencode: the name is longer than %zu bytes",
                  sizeof prefix - 2);
      rc = CLI_EXIT_USAGE;
      goto done;
    }
    memcpy(prefix, arg, nlen);
    prefix[nlen] = '=';
    encoded = url_encode(prefix, nlen ? nlen + 1 : 0, content, clen);
    piece = encoded;
    n = encoded ? strlen(encoded) : 0;
  } else if (arg[0] == '@' && opt != OPT_DATA_RAW) {
    if (slurp(ps, arg + 1, ps->name, &file, &flen))
      return CLI_EXIT_USAGE;
    n = flen;
    if (opt == 'd' || opt == OPT_DATA_ASCII) { /* curl -d @FILE drops CR and LF */
      size_t k = 0;
      for (size_t i = 0; i < flen; i++)
        if (file[i] != '\r' && file[i] != '\n')
          file[k++] = file[i];
      n = k;
    }
    piece = file;
  }
  if (opt == OPT_JSON_DATA)
    ps->json = true;
  if (!piece || append_data(ps, piece, n, opt == OPT_JSON_DATA)) {
    usage_error("out of memory");
    rc = CLI_EXIT_USAGE;
  }
done:
  wipe_free(file, flen);
  wipe_free(encoded, encoded ? strlen(encoded) : 0);
  return rc;
}

/* -F NAME=CONTENT, NAME=@FILE (a file part) or NAME=<FILE (the file's
 * text as the value), each with optional ;type=TYPE and, for files,
 * ;filename=NAME, as curl -F. The value is never shown in messages. */
static int add_form(parse_state *ps, const char *arg) {
  cli_command cmd = ps->cmd;
  char buf[128], *name = NULL, *value = NULL, *type = NULL, *filename = NULL, *text = NULL;
  size_t tlen = 0;
  int rc = CLI_EXIT_USAGE;
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) {
    usage_error("invalid --form: expected NAME=CONTENT, NAME=@FILE or NAME=<FILE");
    return CLI_EXIT_USAGE;
  }
  char kind = eq[1] == '@' || eq[1] == '<' ? eq[1] : 0;
  const char *v = eq + 1 + (kind != 0);
  /* where the ;key=value parameters start: a file name ends at the first
   * ';', a text value only before a ;type= or ;filename= */
  const char *params = kind ? strchr(v, ';') : NULL;
  if (!kind) {
    const char *t = strstr(v, ";type="), *f = strstr(v, ";filename=");
    params = t && (!f || t < f) ? t : f;
  }
  name = strndup(arg, (size_t)(eq - arg));
  value = strndup(v, params ? (size_t)(params - v) : strlen(v));
  if (!name || !value)
    goto nomem;
  for (const char *p = params; p && *p == ';';) {
    const char *end = strchr(p + 1, ';');
    size_t plen = end ? (size_t)(end - p - 1) : strlen(p + 1);
    char **field = strncmp(p + 1, "type=", 5) == 0 ? &type
                   : strncmp(p + 1, "filename=", 9) == 0 ? &filename : NULL;
    if (!field) {
      usage_error("invalid --form parameter for '%s': only ;type= and ;filename= are known",
                  shown(name, buf, sizeof buf));
      goto done;
    }
    size_t skip = field == &type ? 5 : 9;
    free(*field);
    if (!(*field = strndup(p + 1 + skip, plen - skip)))
      goto nomem;
    p = end;
  }
  int frc;
  if (kind == '@') {
    if (access(value, R_OK) != 0) {
      usage_error("cannot read --form file '%s': %s", shown(value, buf, sizeof buf),
                  strerror(errno));
      goto done;
    }
    frc = fp_request_add_form_part(ps->base, name, NULL, 0, value, type, filename);
  } else if (kind == '<') {
    if (slurp(ps, value, "--form", &text, &tlen))
      goto done;
    frc = fp_request_add_form_part(ps->base, name, text, tlen, NULL, type, filename);
  } else {
    frc = fp_request_add_form_part(ps->base, name, value, strlen(value), NULL, type, filename);
  }
  if (frc)
    goto nomem;
  ps->form = true;
  rc = -1;
  goto done;
nomem:
  usage_error("out of memory");
done:
  free(name);
  wipe_free(value, value ? strlen(value) : 0);
  free(type);
  free(filename);
  wipe_free(text, tlen);
  return rc;
}

/* Blank a secret's bytes in argv, as curl does, so that ps and
 * /proc/PID/cmdline show it no longer (they did until now: -K, --netrc
 * and -H @FILE keep it out of argv altogether). */
static void blank_arg(const char *arg, bool from_argv) {
  if (from_argv)
    memset((char *)arg, 0, strlen(arg));
}

/* The value of one line of a -K file: what follows the option and its
 * separators at *p, unquoted as curl does ("..." with \\ \" \t \n \r \v;
 * a backslash before another byte stands for that byte), or up to white
 * space. Written over the line in place; *value NULL when there is none.
 * Returns 0, or -1 for an unterminated quote or text after the value. */
static int config_value(char *p, char **value) {
  *value = NULL;
  if (*p == '"') {
    char *out = ++p, *start = out;
    for (; *p && *p != '"'; p++) {
      if (*p == '\\' && p[1]) {
        p++;
        *out++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 'v' ? '\v' : *p;
      } else {
        *out++ = *p;
      }
    }
    if (*p != '"')
      return -1;
    p++;
    *out = '\0';
    *value = start;
  } else if (*p) {
    *value = p;
    p += strcspn(p, " \t");
    if (*p)
      *p++ = '\0';
  }
  p += strspn(p, " \t");
  return *p && *p != '#' ? -1 : 0;
}

/* Apply one line of a -K file; -1 to go on, or an exit status. */
static int config_line(parse_state *ps, char *line) {
  cli_command cmd = ps->cmd;
  char buf[128];
  line += strspn(line, " \t");
  if (!*line || strchr("#/*", *line))
    return -1; /* blank, or a comment as curl has them */
  bool dashed = line[0] == '-';
  char *opt_end = line + strcspn(line, dashed ? " \t" : " \t=:");
  char *p = opt_end + strspn(opt_end, dashed ? " \t" : " \t=:");
  char saved = *opt_end;
  *opt_end = '\0';
  char *value;
  int opt;
  bool takes_value;
  if (dashed && line[1] != '-') { /* -X, or -XVALUE */
    const char *spec = line[1] && line[1] != ':' ? strchr(short_options + 1, line[1]) : NULL;
    if (!spec) {
      if (!curl_only_short(cmd, (unsigned char)line[1]))
        usage_error("unknown option '%s'", shown(line, buf, 3));
      return CLI_EXIT_USAGE;
    }
    opt = (unsigned char)line[1];
    takes_value = spec[1] == ':';
    snprintf(ps->name, sizeof ps->name, "-%c", line[1]);
    if (line[2]) {
      if (!takes_value) {
        usage_error("unknown option '%s': one option a line", shown(line, buf, 3));
        return CLI_EXIT_USAGE;
      }
      *opt_end = saved;
      p = line + 2; /* the rest of the line is the value */
    }
  } else {
    const char *lname = line + (dashed ? 2 : 0);
    size_t len = strcspn(lname, "=");
    const struct option *lo = exact_option(lname, len);
    if (!lo) {
      unknown_option(cmd, lname, len);
      return CLI_EXIT_USAGE;
    }
    lo = resolve(cmd, lo);
    if (lname[len]) { /* --name=value: '=' is no separator after dashes */
      usage_error("option '--%s' and its value must be separated by white space in a "
                  "config file", lo->name);
      return CLI_EXIT_USAGE;
    }
    opt = lo->val;
    takes_value = lo->has_arg == required_argument;
    snprintf(ps->name, sizeof ps->name, "--%s", lo->name);
  }
  if (config_value(p, &value)) {
    usage_error("the value of '%s' has text after it: quote a value with white space in "
                "\"...\"", ps->name);
    return CLI_EXIT_USAGE;
  }
  if (takes_value && !value) {
    usage_error("option '%s' needs a value", ps->name);
    return CLI_EXIT_USAGE;
  }
  if (!takes_value && value) {
    usage_error("option '%s' takes no value", ps->name);
    return CLI_EXIT_USAGE;
  }
  if (!applies(cmd, opt, ps->name))
    return CLI_EXIT_USAGE;
  const char *arg = value ? keep_string(ps->o, value) : "";
  if (!arg) {
    usage_error("out of memory");
    return CLI_EXIT_USAGE;
  }
  return apply_option(ps, opt, arg, false);
}

/* -K FILE: curl's config file syntax, one option a line (see
 * config_line), for every option of the table; "-" reads standard input.
 * Messages say FILE:LINE. */
static int config_file(parse_state *ps, const char *path) {
  cli_command cmd = ps->cmd;
  char *text, buf[128], outer[sizeof config_at];
  size_t len;
  if (ps->depth >= MAX_CONFIG_DEPTH) {
    usage_error("-K files nested more than %d deep (one reads itself?)", MAX_CONFIG_DEPTH);
    return CLI_EXIT_USAGE;
  }
  if (slurp(ps, path, "--config", &text, &len))
    return CLI_EXIT_USAGE;
  ps->depth++;
  memcpy(outer, config_at, sizeof outer);
  int rc = -1;
  size_t lineno = 0;
  for (char *line = text; line < text + len && rc == -1;) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line));
    char *next = nl ? nl + 1 : text + len;
    if (nl)
      *nl = '\0';
    lineno++;
    size_t n = strlen(line);
    bool has_nul = line + n != (nl ? nl : text + len);
    if (n && line[n - 1] == '\r')
      line[--n] = '\0';
    snprintf(config_at, sizeof config_at, "%s:%zu",
             strcmp(path, "-") ? shown(path, buf, sizeof buf) : "<stdin>", lineno);
    if (has_nul) {
      usage_error("the line holds a NUL byte");
      rc = CLI_EXIT_USAGE;
    } else {
      rc = config_line(ps, line);
    }
    line = next;
  }
  memcpy(config_at, outer, sizeof config_at);
  ps->depth--;
  wipe_free(text, len);
  return rc;
}

/* This block's options; NOT_MINE for the others. */
static int curl_req_option(parse_state *ps, int opt, const char *arg, bool from_argv) {
  cli_command cmd = ps->cmd;
  fp_request *base = ps->base;
  char buf[128];
  switch (opt) {
  case 'H':
    note_header(ps, arg);
    if (from_argv || arg[0] == '@')
      return NOT_MINE; /* added below, as before -K existed */
    return add_header_unshown(ps, arg, "in a config file");
  case 'u': {
    /* USER[:PASSWORD]; no password is an empty one (curl would prompt) */
    const char *colon = strchr(arg, ':');
    char *user = strndup(arg, colon ? (size_t)(colon - arg) : strlen(arg));
    int rc = user ? fp_request_set_credentials(base, user, colon ? colon + 1 : "") : FP_ERR_NOMEM;
    wipe_free(user, user ? strlen(user) : 0);
    blank_arg(arg, from_argv);
    if (rc) {
      usage_error("out of memory");
      return CLI_EXIT_USAGE;
    }
    return -1;
  }
  case OPT_BASIC:
    ps->auth |= FP_AUTH_BASIC;
    return -1;
  case OPT_DIGEST:
    ps->auth |= FP_AUTH_DIGEST;
    return -1;
  case OPT_NTLM:
    ps->auth |= FP_AUTH_NTLM;
    return -1;
  case OPT_ANYAUTH:
    ps->auth = FP_AUTH_ANY;
    return -1;
  case OPT_OAUTH2_BEARER: {
    int rc = fp_request_set_bearer(base, arg);
    blank_arg(arg, from_argv);
    if (rc) {
      usage_error("invalid --oauth2-bearer: CR or LF in the token (not shown)");
      return CLI_EXIT_USAGE;
    }
    return -1;
  }
  case 'n':
    ps->netrc = true;
    return -1;
  case OPT_NETRC_OPTIONAL:
    ps->netrc_optional = true;
    return -1;
  case OPT_NETRC_FILE:
    if (access(arg, R_OK) != 0) {
      usage_error("cannot read --netrc-file '%s': %s", shown(arg, buf, sizeof buf),
                  strerror(errno));
      return CLI_EXIT_USAGE;
    }
    ps->netrc_file = arg;
    return -1;
  case 'K':
    return config_file(ps, arg);
  case 'd':
  case OPT_DATA_ASCII:
  case OPT_DATA_BINARY:
  case OPT_DATA_RAW:
  case OPT_DATA_URLENCODE:
  case OPT_JSON_DATA:
    return add_data(ps, opt, arg);
  case 'F':
    return add_form(ps, arg);
  case 'G':
    ps->get = true;
    return -1;
  case 'I':
    ps->head = true;
    return -1;
  case 'e': {
    /* URL, URL;auto or ;auto as curl -e */
    size_t n = strlen(arg);
    bool autoref = n >= 5 && strcmp(arg + n - 5, ";auto") == 0;
    char *ref = strndup(arg, autoref ? n - 5 : n);
    int rc = ref ? fp_request_set_referer(base, ref, autoref) : FP_ERR_NOMEM;
    free(ref);
    if (rc) {
      usage_error("invalid --referer '%s': CR and LF are not allowed", shown(arg, buf, sizeof buf));
      return CLI_EXIT_USAGE;
    }
    return -1;
  }
  case OPT_COMPRESSED:
  case OPT_NO_COMPRESSED:
    fp_request_set_compressed(base, opt == OPT_COMPRESSED);
    return -1;
  case 'L':
  case OPT_NO_LOCATION:
    ps->location = opt == 'L';
    return -1;
  case OPT_PATH_AS_IS:
    fp_request_set_path_as_is(base, true);
    return -1;
  case OPT_REQUEST_TARGET:
    if (fp_request_set_request_target(base, arg)) {
      usage_error("invalid --request-target '%s': expected a target without spaces or "
                  "control characters, such as * or /path?query", shown(arg, buf, sizeof buf));
      return CLI_EXIT_USAGE;
    }
    return -1;
  case 'f': /* a status >= 400 is already a failed job (exit status 1) */
    return -1;
  case OPT_LIMIT_RATE: {
    uint64_t rate;
    if (cli_parse_size(arg, &rate) || rate == 0 || rate > (uint64_t)INT64_MAX) {
      usage_error("invalid --limit-rate '%s': expected bytes a second such as 100K or 1M",
                  shown(arg, buf, sizeof buf));
      return CLI_EXIT_USAGE;
    }
    fp_request_set_limit_rate(base, rate);
    return -1;
  }
  default:
    return NOT_MINE;
  }
}

/* Set what this block's options gathered on the base request, once all
 * are read: data and form, method, auth, netrc, redirects. Returns 0, or
 * -1 after reporting a usage error. */
static int curl_req_finish(parse_state *ps) {
  cli_command cmd = ps->cmd;
  cli_options *o = ps->o;
  fp_request *base = ps->base;
  if (ps->form && ps->has_data) {
    usage_error("-F cannot be combined with -d, --data-* or --json (one body or the other)");
    return -1;
  }
  if (ps->head && !ps->get && (ps->has_data || ps->form)) {
    usage_error("-I sends no body: drop the data, or add -G to send it in the query");
    return -1;
  }
  if (ps->get && ps->form) {
    usage_error("-G cannot send -F parts in the query");
    return -1;
  }
  if (ps->stdin_used && (cmd == CLI_RUN || cmd == CLI_ENQUEUE)) {
    bool jobs_from_stdin = o->nfiles == 0;
    for (size_t i = 0; i < o->nfiles; i++)
      jobs_from_stdin |= strcmp(o->files[i], "-") == 0;
    if (jobs_from_stdin) {
      usage_error("standard input was read by an option (-K -, @-): give the jobs as FILE");
      return -1;
    }
  }
  if (ps->has_data &&
      fp_request_set_body(base, ps->data ? ps->data : "", ps->data ? ps->data_len : 0))
    goto nomem;
  if (ps->get)
    fp_request_set_body_as_query(base, true);
  if (ps->json && ((!ps->user_ctype &&
                    fp_request_add_header(base, "Content-Type", "application/json")) ||
                   (!ps->user_accept && fp_request_add_header(base, "Accept", "application/json"))))
    goto nomem;
  /* -X wins; else -I is HEAD, -G GET, and a body POST, as with curl */
  if (!ps->method && (ps->head || (!ps->get && (ps->has_data || ps->form))))
    fp_request_set_method(base, ps->head ? "HEAD" : "POST");
  if (ps->auth)
    fp_request_set_auth(base, ps->auth);
  if ((ps->netrc || ps->netrc_optional || ps->netrc_file) &&
      fp_request_set_netrc(base, ps->netrc_optional ? FP_NETRC_OPTIONAL : FP_NETRC_REQUIRED,
                           ps->netrc_file))
    goto nomem;
  if (ps->location == 0)
    fp_request_set_redirects(base, false, FP_DEFAULT_MAX_REDIRS);
  return 0;
nomem:
  usage_error("out of memory");
  return -1;
}

/* Apply one option (opt, as getopt_long returns it, with its value arg,
 * "" for a flag) whether it came from argv or from a -K file (from_argv
 * false). Returns -1 to go on, or an exit status (a usage error, reported;
 * help; version). */
static int apply_option(parse_state *ps, int opt, const char *arg, bool from_argv) {
  cli_command cmd = ps->cmd;
  cli_options *o = ps->o;
  fp_request *base = ps->base;
  const char *name_buf = ps->name;
  char shown_buf[128];
  const char *shown_arg = shown(arg, shown_buf, sizeof shown_buf);
  uint64_t n;
  int rc = curl_req_option(ps, opt, arg, from_argv);
  if (rc != NOT_MINE)
    return rc;
  rc = CLI_EXIT_USAGE;
  /* proxies, cookies, TLS, names and addresses, HTTP versions */
  if (cli_net_is_option(opt))
    return cli_net_option(cmd, opt, arg, base, o) ? CLI_EXIT_USAGE : -1;
  { /* the body of the loop over argv this was, as it was */
    switch (opt) {
    case OPT_REDIS:
      o->redis = arg;
      break;
    case OPT_STREAM:
    case OPT_GROUP:
    case OPT_CONSUMER:
    case OPT_RESULTS_STREAM: {
      const char *name = opt == OPT_STREAM ? "stream" : opt == OPT_GROUP ? "group"
                         : opt == OPT_CONSUMER ? "consumer" : "results-stream";
      if (!valid_name(arg)) {
        usage_error("invalid --%s '%s': expected a name without control characters",
                    name, shown_arg);
        goto fail;
      }
      *(opt == OPT_STREAM ? &o->stream : opt == OPT_GROUP ? &o->group
        : opt == OPT_CONSUMER ? &o->consumer : &o->results_stream) = arg;
      break;
    }
    case OPT_CLAIM_IDLE:
      if (cli_parse_seconds(arg, &o->claim_idle) || o->claim_idle < 0.01) {
        usage_error("invalid --claim-idle '%s': expected seconds, at least 0.01", shown_arg);
        goto fail;
      }
      break;
    case OPT_UNTIL_EMPTY:
      o->until_empty = true;
      break;
    case OPT_JSON:
      o->json = true;
      break;
    case 't':
      if (strcmp(arg, "auto") == 0) {
        o->threads_auto = true;
        break;
      }
      if (cli_parse_count(arg, 1, MAX_THREADS, &n)) {
        usage_error("invalid --threads '%s': expected a whole number from 1 to %d, or auto",
                    shown_arg, MAX_THREADS);
        goto fail;
      }
      o->threads = n;
      o->threads_auto = false;
      break;
    case OPT_MAX_THREADS:
      if (cli_parse_count(arg, 1, MAX_THREADS, &n)) {
        usage_error("invalid --max-threads '%s': expected a whole number from 1 to %d",
                    shown_arg, MAX_THREADS);
        goto fail;
      }
      o->max_threads = n;
      break;
    case 'o':
      o->output = arg;
      break;
    case OPT_ORDERED:
      o->ordered = true;
      break;
    case 'X':
      ps->method = arg;
      if (fp_request_set_method(base, ps->method)) {
        usage_error("invalid --method '%s': expected an HTTP method token such as GET",
                    shown_arg);
        goto fail;
      }
      break;
    case 'H':
      if (arg[0] == '@') /* curl-req: one header per line of FILE */
        return header_file(ps, arg + 1);
      /* batch-in: one with a brace waits: with --template it is a
       * template, filled per row ("{{" a literal brace); else it is
       * added as it is */
      if (strchr(arg, '{')) {
        if (ps->nheld == sizeof ps->held / sizeof *ps->held) {
          usage_error("too many --header with braces: at most %zu",
                      sizeof ps->held / sizeof *ps->held);
          goto fail;
        }
        ps->held[ps->nheld++] = arg;
      } else if (add_header(cmd, base, arg)) {
        goto fail;
      } else {
        /* a later header replaces an earlier one of its name, held or not */
        size_t name_len = strcspn(arg, ":"), kept = 0;
        for (size_t i = 0; i < ps->nheld; i++)
          if (strcspn(ps->held[i], ":") != name_len ||
              strncasecmp(ps->held[i], arg, name_len) != 0)
            ps->held[kept++] = ps->held[i];
        ps->nheld = kept;
      }
      break;
    /* batch-in */
    case 1:
      if (add_item(ps, arg, is_url_arg(arg)))
        goto fail;
      break;
    case OPT_URL:
      if (!is_url_arg(arg)) {
        usage_error("invalid --url '%s': expected an http:// or https:// URL", shown_arg);
        goto fail;
      }
      if (add_item(ps, arg, true))
        goto fail;
      break;
    case 'g':
      o->globoff = true;
      break;
    case OPT_TEMPLATE:
      o->url_template = arg;
      break;
    case OPT_BODY_TEMPLATE:
      o->body_template = arg;
      break;
    case OPT_CSV:
    case OPT_TSV:
      if (o->rows != CLI_ROWS_LINES && o->rows != (opt == OPT_CSV ? CLI_ROWS_CSV : CLI_ROWS_TSV)) {
        usage_error("--csv and --tsv exclude each other");
        goto fail;
      }
      o->rows = opt == OPT_CSV ? CLI_ROWS_CSV : CLI_ROWS_TSV;
      break;
    case OPT_DRY_RUN:
      o->dry_run = true;
      break;
    case OPT_TIMEOUT:
    case OPT_CONNECT_TIMEOUT:
      if (cli_parse_seconds(arg, opt == OPT_TIMEOUT ? &ps->timeout : &ps->connect_timeout)) {
        usage_error("invalid --%s '%s': expected seconds such as 2 or 0.5",
                    opt == OPT_TIMEOUT ? "timeout" : "connect-timeout", shown_arg);
        goto fail;
      }
      break;
    case OPT_MAX_REDIRS:
      if (cli_parse_count(arg, 0, MAX_REDIRS_LIMIT, &n)) {
        usage_error("invalid --max-redirs '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_REDIRS_LIMIT);
        goto fail;
      }
      fp_request_set_redirects(base, n > 0, (long)n);
      break;
    case OPT_MAX_BODY: {
      uint64_t size;
      if (cli_parse_size(arg, &size) || size == 0 || size > SIZE_MAX) {
        usage_error("invalid --max-body '%s': expected a size such as 65536, 512K, 64M "
                    "or 1G", shown_arg);
        goto fail;
      }
      fp_request_set_max_body(base, (size_t)size);
      break;
    }
    case 'A':
      if (fp_request_set_user_agent(base, arg)) {
        usage_error("invalid --user-agent '%s': CR and LF are not allowed",
                    shown_arg);
        goto fail;
      }
      break;
    case 'k':
      fp_request_set_insecure(base, true);
      break;
    case OPT_BODY: /* batch-out: a JSON body as a JSON value */
      o->record_flags |= FP_RECORD_BODY | FP_RECORD_JSON;
      break;
    case OPT_HEADERS:
      o->record_flags |= FP_RECORD_HEADERS;
      fp_request_set_keep_headers(base, true);
      break;
    case OPT_TIMINGS:
      o->record_flags |= FP_RECORD_TIMINGS;
      break;
    case OPT_SAVE:
      o->save_dir = arg;
      break;
    case OPT_RETRIES:
      if (cli_parse_count(arg, 0, MAX_RETRIES, &ps->retries)) {
        usage_error("invalid --retries '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_RETRIES);
        goto fail;
      }
      break;
    case OPT_RETRY_ON:
      if (cli_parse_statuses(arg, ps->statuses, MAX_RETRY_STATUSES, &ps->nstatuses)) {
        usage_error("invalid --retry-on '%s': expected HTTP statuses from 100 to 599 "
                    "separated by commas, such as 429,503", shown_arg);
        goto fail;
      }
      ps->retry_on = true;
      break;
    case OPT_RETRY_BASE:
    case OPT_RETRY_MAX_WAIT:
    case OPT_STALL_TIMEOUT:
    case OPT_ATTEMPT_TIMEOUT:
    case OPT_GRACE: {
      double v;
      const char *name = opt == OPT_RETRY_BASE       ? "retry-base"
                         : opt == OPT_RETRY_MAX_WAIT ? "retry-max-wait"
                         : opt == OPT_STALL_TIMEOUT  ? "stall-timeout"
                         : opt == OPT_ATTEMPT_TIMEOUT ? "attempt-timeout"
                                                     : "grace";
      if (cli_parse_seconds(arg, &v)) {
        usage_error("invalid --%s '%s': expected seconds such as 2 or 0.5", name, shown_arg);
        goto fail;
      }
      if (opt == OPT_RETRY_BASE)
        ps->retry_base = v;
      else if (opt == OPT_RETRY_MAX_WAIT)
        ps->retry_max_wait = v;
      else if (opt == OPT_STALL_TIMEOUT)
        fp_request_set_stall_timeout(base, v);
      else if (opt == OPT_ATTEMPT_TIMEOUT)
        fp_request_set_attempt_timeout(base, v);
      else
        o->grace = v;
      break;
    }
    case OPT_RATE:
      if (cli_parse_seconds(arg, &o->rate) || o->rate > MAX_RATE) {
        usage_error("invalid --rate '%s': expected requests per second such as 20 or "
                    "0.5, at most %g", shown_arg, MAX_RATE);
        goto fail;
      }
      break;
    case OPT_ENGINE:
      if (strcmp(arg, "threads") == 0) {
        o->engine = FP_ENGINE_THREADS;
      } else if (strcmp(arg, "multi") == 0) {
        o->engine = FP_ENGINE_MULTI;
      } else if (strcmp(arg, "hybrid") == 0) {
        o->engine = FP_ENGINE_HYBRID;
      } else {
        usage_error("invalid --engine '%s': expected threads, multi or hybrid", shown_arg);
        goto fail;
      }
      break;
    case OPT_LOOPS:
      if (cli_parse_count(arg, 1, MAX_THREADS, &n)) {
        usage_error("invalid --loops '%s': expected a whole number from 1 to %d", shown_arg,
                    MAX_THREADS);
        goto fail;
      }
      o->loops = (size_t)n;
      break;
    case OPT_PER_HOST:
      if (cli_parse_count(arg, 0, MAX_PER_HOST, &n)) {
        usage_error("invalid --per-host '%s': expected a whole number from 0 to %d",
                    shown_arg, MAX_PER_HOST);
        goto fail;
      }
      o->per_host = (size_t)n;
      break;
    case OPT_PER_HOST_RATE:
      if (cli_parse_seconds(arg, &o->per_host_rate) || !(o->per_host_rate > 0) ||
          o->per_host_rate > MAX_RATE) {
        usage_error("invalid --per-host-rate '%s': expected requests per second to each "
                    "host such as 50 or 0.5, above 0 and at most %g", shown_arg, MAX_RATE);
        goto fail;
      }
      break;
    case OPT_MAX_PARKED:
      if (cli_parse_count(arg, 1, MAX_PARKED, &n)) {
        usage_error("invalid --max-parked '%s': expected a whole number from 1 to %d",
                    shown_arg, MAX_PARKED);
        goto fail;
      }
      o->max_parked = (size_t)n;
      break;
    case OPT_NO_HOST_COOLDOWN:
      o->no_host_cooldown = true;
      break;
    case OPT_CACERT:
      if (!*arg) {
        usage_error("invalid --cacert '': expected a file of PEM certificates");
        goto fail;
      }
      o->cacert = arg;
      fp_request_set_cacert(base, arg);
      break;
    case OPT_RESUME:
      if (!*arg) {
        usage_error("invalid --resume '': expected the output file of an earlier run");
        goto fail;
      }
      o->resume = arg;
      break;
    case OPT_RESUME_FAILED:
      o->resume_failed = true;
      break;
    case OPT_PROGRESS:
      o->progress = 1;
      break;
    case OPT_NO_PROGRESS:
      o->progress = 0;
      break;
    case 'q':
      o->quiet = true;
      break;
    case OPT_STATS_JSON:
      o->stats_json = arg;
      break;
    /* batch-out: filters, formats, saved names */
    case OPT_ONLY_FAILED:
      o->filter.only_failed = true;
      break;
    case OPT_MATCH_STATUS:
    case OPT_FILTER_STATUS: {
      bool match = opt == OPT_MATCH_STATUS;
      if (cli_parse_status_ranges(arg, match ? o->filter.match : o->filter.drop)) {
        usage_error("invalid --%s '%s': expected statuses and ranges from 100 to 599 "
                    "separated by commas, such as 200-299,404", match ? "match-status"
                    : "filter-status", shown_arg);
        goto fail;
      }
      *(match ? &o->filter.match_status : &o->filter.filter_status) = true;
      break;
    }
    case OPT_MATCH_ERROR: {
      char bad[64], bad_shown[128];
      if (cli_parse_error_codes(arg, o->filter.codes, sizeof o->filter.codes /
                                sizeof o->filter.codes[0], &o->filter.ncodes, bad,
                                sizeof bad)) {
        usage_error("invalid --match-error '%s': '%s' is no error code (see 'Error codes' "
                    "in --help)", shown_arg, shown(bad, bad_shown, sizeof bad_shown));
        goto fail;
      }
      break;
    }
    case OPT_FORMAT:
      if (!strcmp(arg, "jsonl")) {
        o->format = CLI_FORMAT_JSONL;
      } else if (!strcmp(arg, "csv")) {
        o->format = CLI_FORMAT_CSV;
      } else if (!strcmp(arg, "tsv")) {
        o->format = CLI_FORMAT_TSV;
      } else {
        usage_error("invalid --format '%s': expected jsonl, csv or tsv", shown_arg);
        goto fail;
      }
      ps->format_given = true;
      break;
    case 'w': {
      char why[128];
      cli_template_free(o->write_out);
      if (!(o->write_out = cli_template_parse(arg, why, sizeof why))) {
        usage_error("invalid --write-out '%s': %s", shown_arg, why);
        goto fail;
      }
      break;
    }
    case OPT_SAVE_NAME: {
      char why[128];
      if (cli_save_name_check(arg, why, sizeof why)) {
        usage_error("invalid --save-name '%s': %s", shown_arg, why);
        goto fail;
      }
      o->save_name = arg;
      break;
    }
    case OPT_SAVE_ALL:
      o->save_all = true;
      break;
    case OPT_MAX_FILESIZE: {
      uint64_t size;
      if (cli_parse_size(arg, &size) || size == 0) {
        usage_error("invalid --max-filesize '%s': expected a size such as 65536, 512K, "
                    "64M or 1G", shown_arg);
        goto fail;
      }
      fp_request_set_max_filesize(base, size);
      break;
    }
    case 'h':
      fputs(help_texts[cmd], stdout);
      rc = ferror(stdout) ? CLI_EXIT_FAILED : CLI_EXIT_OK;
      goto fail;
    case 'V':
      printf("fetchpool %s\n", FP_VERSION);
      rc = CLI_EXIT_OK;
      goto fail;
    case ':':
      usage_error("option '%s' needs a value", name_buf);
      goto fail;
    default: /* an unknown short option (long ones were reported above) */
      if (curl_only_short(cmd, optopt)) /* curl-req */
        goto fail;
      if (optopt > 0x20 && optopt < 0x7f)
        usage_error("unknown option '-%c'", optopt);
      else
        usage_error("unknown option '-\\x%02X'", (unsigned)optopt & 0xff);
      goto fail;
    }
  }
  return -1;
fail:
  return rc;
}

int cli_parse_options(cli_command cmd, int argc, char **argv, cli_options *o) {
  char shown_buf[128];
  parse_state *ps = calloc(1, sizeof *ps);
  fp_request *base = fp_request_new("");
  int opt, rc = CLI_EXIT_USAGE;
  memset(o, 0, sizeof *o);
  if (!base || !ps) {
    fprintf(stderr, "fetchpool: out of memory\n");
    free(ps);
    fp_request_decref(base);
    return CLI_EXIT_USAGE;
  }
  ps->cmd = cmd;
  ps->o = o;
  ps->base = base;
  ps->retry_base = -1; /* not given: the default depends on -t auto */
  ps->retry_max_wait = FP_DEFAULT_RETRY_MAX_WAIT;
  ps->location = -1;
  o->command = cmd;
  o->redis = CLI_DEFAULT_REDIS;
  o->stream = "fetchpool";
  o->group = "fetchpool";
  o->claim_idle = DEFAULT_CLAIM_IDLE;
  o->threads = DEFAULT_THREADS;
  o->progress = -1;
  o->grace = DEFAULT_GRACE;
  /* getopt_long's table for cmd: --json is a flag of status and takes
   * DATA everywhere else (curl's --json) */
  struct option table[sizeof long_options / sizeof long_options[0]];
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    table[i] = *resolve(cmd, &long_options[i]);
  opterr = 0; /* our own messages */
  for (;;) {
    int longindex = -1;
    if ((opt = getopt_long(argc, argv, short_options, table, &longindex)) == -1)
      break;
    /* The option as written, when it was a long one: --name or
     * --name=value. getopt_long sets longindex only when it accepted the
     * option; on ':' (no value) and '?' (unknown, ambiguous, or a value
     * given to a flag) the option is argv[optind - 1], long when it
     * starts with "--" (a short option that fails ends its argv
     * element, or is reported through optopt alone). */
    const char *written = NULL;
    if (longindex >= 0)
      written = argv[optind - 1 - (optarg && optarg == argv[optind - 1])];
    else if ((opt == ':' || (opt == '?' && (optopt == 0 || optopt >= 256 ||
                                            strchr(short_options + 1, optopt)))) &&
             strncmp(argv[optind - 1], "--", 2) == 0)
      written = argv[optind - 1];
    if (written) {
      size_t len = strcspn(written + 2, "=");
      const struct option *lo = exact_option(written + 2, len);
      if (!lo) {
        unknown_option(cmd, written + 2, len);
        goto fail;
      }
      if (opt == '?') { /* --flag=value */
        usage_error("option '--%s' takes no value", lo->name);
        goto fail;
      }
      snprintf(ps->name, sizeof ps->name, "--%s", lo->name);
    } else {
      snprintf(ps->name, sizeof ps->name, "-%c", opt == ':' ? optopt : opt);
    }
    if (!applies(cmd, opt, ps->name))
      goto fail;
    if ((rc = apply_option(ps, opt, optarg ? optarg : "", true)) != -1)
      goto fail;
    rc = CLI_EXIT_USAGE;
  }
  /* batch-in: after "--" every argument is a FILE */
  for (; optind < argc; optind++)
    if (add_item(ps, argv[optind], false))
      goto fail;
  if (ps->nitems && cmd != CLI_RUN && cmd != CLI_ENQUEUE) {
    usage_error("fetchpool %s takes no FILE ('%s'): jobs come from the stream",
                command_names[cmd], shown(ps->items[0].arg, shown_buf, sizeof shown_buf));
    goto fail;
  }
  /* the lists go to o, which frees them (cli_options_free) */
  o->items = ps->items;
  o->nitems = ps->nitems;
  o->files = ps->files;
  o->nfiles = ps->nfiles;
  ps->items = NULL;
  ps->files = NULL;
  if (check_batch_in(cmd, o, base, ps->has_data, ps->held, ps->nheld))
    goto fail;
  /* --body-template alone means POST, as --data does */
  if (o->body_template && !ps->method)
    fp_request_set_method(base, "POST");
  if (o->resume_failed && !o->resume) {
    usage_error("--resume-failed needs --resume FILE");
    goto fail;
  }
  /* -t auto: the pool and the descriptor check are sized for the most
   * transfers at once; each host's limit adapts below it */
  if (o->max_threads && !o->threads_auto) {
    usage_error("--max-threads needs --threads auto");
    goto fail;
  }
  if (o->threads_auto) {
    if (!o->max_threads)
      o->max_threads = DEFAULT_MAX_THREADS;
    o->threads = o->max_threads;
  }
  /* batch-out: formats and saved names */
  if (o->write_out && ps->format_given) {
    usage_error("--write-out and --format exclude each other: the template is the format");
    goto fail;
  }
  if (o->resume && (o->write_out || o->format != CLI_FORMAT_JSONL)) {
    usage_error("--resume works with JSON Lines output only (--format jsonl, no "
                "--write-out): it reads the records back to know which jobs are done");
    goto fail;
  }
  if ((o->save_name || o->save_all) && !o->save_dir) {
    usage_error("--%s needs --save DIR", o->save_name ? "save-name" : "save-all");
    goto fail;
  }
  if (cli_save_name_uses_response(o->save_name))
    fp_request_set_keep_headers(base, true); /* Content-Disposition */
  o->record_flags |= cli_template_needs(o->write_out);
  if (o->record_flags & FP_RECORD_HEADERS)
    fp_request_set_keep_headers(base, true);
  /* -t auto: the host's limit, not the backoff, keeps a 429ing host's
   * load down, so retries wait less by default (measured: a shedding API
   * served in 1.07-1.11 x -t 16's wall with 0.1 s, 1.40 x with 0.5 s) */
  if (ps->retry_base < 0)
    ps->retry_base = o->threads_auto ? AUTO_RETRY_BASE : FP_DEFAULT_RETRY_BASE;
  /* the library reads 0 as "its default": a tiny wait is "at once" */
  if (fp_request_set_retries(base, (unsigned)ps->retries,
                             ps->retry_base > 0 ? ps->retry_base : 1e-9,
                             ps->retry_max_wait > 0 ? ps->retry_max_wait : 1e-9))
    goto fail;
  if (ps->retry_on && fp_request_set_retry_statuses(base, ps->statuses, ps->nstatuses))
    goto fail;
  if (curl_req_finish(ps))
    goto fail;
  if (fp_request_set_timeouts(base, ps->timeout, ps->connect_timeout))
    goto fail;
  o->base = base;
  parse_state_free(ps);
  return -1;
fail:
  parse_state_free(ps);
  o->base = base; /* cli_options_free drops it, and any -K file's strings */
  cli_options_free(o);
  return rc;
}
