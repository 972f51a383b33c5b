/* signals.c: SIGINT, SIGTERM and SIGHUP, turned into an orderly stop.
 *
 * DESIGN
 * The handler does one thing: write the signal number to a self-pipe.
 * Every thread blocks the three signals (cli_signals_install runs before any
 * thread starts, so all inherit the mask) except one, the signal thread,
 * which therefore receives them and sleeps in poll() on the pipe's read
 * end. On the first signal it calls stop (the reader stops, queued jobs
 * are cancelled) and starts the grace period; when that runs out, or on a
 * second signal, it calls abort (transfers in flight end as cancelled).
 * The main thread ends the thread by writing a 0 byte to the same pipe
 * once every record is written. Nothing here holds a lock; the work is
 * done by the callbacks, on this thread, never in the handler.
 *
 * SIGHUP (the terminal or the ssh session went away) is one more way to
 * be told to stop, handled as SIGTERM.
 *
 * SIGPIPE and SIGXFSZ are ignored: their default kills the process at the
 * first write to a closed pipe or past a file size limit, before it can
 * say what happened, whereas the write's error (EPIPE, EFBIG) goes to the
 * caller, which ends the run as for any other write error, with a message
 * and the summary. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"

/* The program's one signal route: global because a handler has no
 * argument. Written before any thread starts, read-only afterwards. */
static int pipe_fds[2] = {-1, -1};
static pthread_t thread;
static bool started;
static cli_interrupt ops;
static int first_signal; /* written by the signal thread, read after join */

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  (void)!write(pipe_fds[1], &b, 1); /* async-signal-safe; a full pipe drops it */
  errno = saved;
}

static sigset_t handled(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

const char *cli_signal_name(int sig) {
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGTERM: return "SIGTERM";
  case SIGHUP: return "SIGHUP";
  default: return "signal";
  }
}

int cli_signals_install(void) {
  sigset_t set = handled();
  if (pthread_sigmask(SIG_BLOCK, &set, NULL) || pipe2(pipe_fds, O_CLOEXEC))
    return -1;
  /* the handler must never block; the reader end is polled */
  fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
    return -1;
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction old, sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    /* a signal ignored by whoever started us (nohup, a background job of
     * a non-interactive shell) stays ignored */
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    if (sigaction(sigs[i], &sa, NULL))
      return -1;
  }
  return 0;
}

static void notice(const char *text) {
  if (!ops.quiet) {
    /* "\r\033[K" would clear a progress line, but stderr may be a file */
    fprintf(stderr, "fetchpool: %s\n", text);
    fflush(stderr);
  }
}

static void *signal_main(void *arg) {
  (void)arg;
  sigset_t set = handled();
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  bool aborted = false;
  double deadline = 0;
  for (;;) {
    int timeout = -1;
    if (first_signal && !aborted) {
      double left = deadline - cli_now();
      timeout = left <= 0 ? 0 : (int)ceil(left * 1000);
    }
    struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
    int n = poll(&p, 1, timeout);
    if (n < 0 && errno == EINTR)
      continue; /* the handler ran on this thread; the byte is in the pipe */
    if (n == 0) { /* the grace period is over */
      notice("grace period over: stopping the transfers in flight");
      ops.abort(ops.arg);
      aborted = true;
      continue;
    }
    unsigned char buf[64];
    ssize_t got = read(pipe_fds[0], buf, sizeof buf);
    for (ssize_t i = 0; i < got; i++) {
      int sig = buf[i];
      if (sig == 0)
        return NULL; /* the run is over */
      if (!first_signal) {
        char text[256];
        first_signal = sig;
        deadline = cli_now() + ops.grace;
        snprintf(text, sizeof text,
                 "%s: reading no more jobs, cancelling queued ones; waiting up to %g s "
                 "for the transfers in flight (signal again to stop them now)",
                 cli_signal_name(sig), ops.grace);
        notice(text);
        ops.stop(ops.arg);
        if (ops.grace <= 0) {
          ops.abort(ops.arg);
          aborted = true;
        }
      } else if (!aborted) {
        notice("second signal: stopping the transfers in flight now");
        ops.abort(ops.arg);
        aborted = true;
      }
    }
  }
}

int cli_signals_start(const cli_interrupt *o) {
  ops = *o;
  int rc = pthread_create(&thread, NULL, signal_main, NULL);
  started = rc == 0;
  return rc;
}

int cli_signals_finish(void) {
  if (!started)
    return 0;
  static const unsigned char quit = 0;
  /* the pipe is non-blocking for the handler; retry until the byte fits */
  while (write(pipe_fds[1], &quit, 1) != 1) {
    struct pollfd p = {.fd = pipe_fds[1], .events = POLLOUT};
    poll(&p, 1, -1);
  }
  pthread_join(thread, NULL);
  started = false;
  return first_signal;
}
