/* peak_rss.c: run a program and write its own peak resident memory to a
 * file, for the tests that bound the fetchpool program's memory.
 *
 *   fp-peak-rss FILE PROGRAM [ARGS...]
 *
 * Why a helper: a child's ru_maxrss counts its parent's peak as well.
 * posix_spawn shares the parent's memory until exec, and at exec Linux
 * folds the old memory's high-water mark into the child's maxrss, so a
 * test process that is large (8 MiB of input, or valgrind around it) would
 * be charged to fetchpool. This helper is small: the program it forks
 * starts from a few hundred KiB, so wait4's figure is the program's own.
 *
 * FILE gets the peak in KiB and a newline; the exit status is the
 * program's (128 + N when it died of signal N). SIGINT, SIGTERM and SIGHUP
 * are passed on to the program. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void pass_on(int sig) {
  if (child_pid > 0)
    kill((pid_t)child_pid, sig);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fp-peak-rss FILE PROGRAM [ARGS...]\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = pass_on;
  sigemptyset(&sa.sa_mask);
  /* block the passed-on signals until the pid is known, so none is lost */
  sigset_t passed, old;
  sigemptyset(&passed);
  sigaddset(&passed, SIGINT);
  sigaddset(&passed, SIGTERM);
  sigaddset(&passed, SIGHUP);
  sigprocmask(SIG_BLOCK, &passed, &old);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fp-peak-rss: fork");
    return 127;
  }
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    execv(argv[2], argv + 2);
    fprintf(stderr, "fp-peak-rss: cannot run %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  child_pid = pid;
  sigprocmask(SIG_SETMASK, &old, NULL);
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) {
      perror("fp-peak-rss: wait4");
      return 127;
    }
  FILE *f = fopen(argv[1], "w");
  if (!f) {
    perror("fp-peak-rss: cannot write the figure");
    return 127;
  }
  int wrote = fprintf(f, "%ld\n", ru.ru_maxrss);
  if (fclose(f) != 0 || wrote < 0) {
    perror("fp-peak-rss: cannot write the figure");
    return 127;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
