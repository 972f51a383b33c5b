/* main.c: the fetchpool program: options, then the run: a reader loop
 * that submits one job per input line into a bounded executor, records
 * written as jobs finish, a summary at the end.
 *
 * Interruption (signals.c runs it): the first SIGINT, SIGTERM or SIGHUP
 * stops the reader and cancels the queued jobs (they get "cancelled"
 * records); the transfers in flight have --grace seconds to finish, then
 * they are aborted (and a second signal aborts them at once); the main
 * thread just waits for the last record as in any run, prints the summary
 * and exits with 128 + the signal. Jobs never read get no record: --resume
 * runs them later.
 *
 * A record that cannot be written (a full disk, a closed pipe) stops the
 * run the same way but with no grace: the records of the transfers in
 * flight could not be written either. The summary counts only the records
 * written, and the exit status is 2. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MIN_WINDOW 1024 /* records reserved and not yet written */
#define QUEUE_MIN 512   /* jobs queued before submit blocks */

/* Open files one transfer holds: its connection, a file with --save, and on
 * the thread engine the socket pair that libcurl (7.88, Debian 12) keeps in
 * every easy handle's private multi handle for curl_multi_wakeup. Measured
 * on 100 busy transfers (ls /proc/PID/fd): 300 sockets on threads (100 TCP
 * connections + 100 socket pairs), 102 on multi (100 + the loop's pair),
 * 104 on hybrid with two loops. */
static rlim_t files_per_transfer(fp_engine engine, bool save) {
  return (engine == FP_ENGINE_THREADS ? 3 : 1) + (save ? 1 : 0);
}

/* Room kept for the run's own files beyond those already open: input and
 * output files, --stats-json, the signal pipe, the writer's and the
 * engine's wake-ups, the Redis connection, name resolution in flight. */
#define RUN_FILES 64

/* Descriptors open now (standard streams and anything inherited). */
static rlim_t open_files(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return 3;
  rlim_t n = 0;
  const struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n > 0 ? n - 1 : 3; /* not the directory's own */
}

/* Fit the run into the open-files limit before anything starts: the files
 * -t transfers at once need (workers x files each + the run's own),
 * against RLIMIT_NOFILE, raising the soft limit up to the hard one when
 * that suffices. When even the hard limit is too low, say so once with
 * both numbers and lower o->threads to what fits (at least 1): fewer
 * transfers at once is slower, but transfers past the limit would fail
 * to connect (EMFILE), every one an error record. prog names the command
 * in the warning. */
static void fit_nofile(cli_options *o, const char *prog) {
  struct rlimit rl;
  rlim_t each = files_per_transfer(o->engine, o->save_dir != NULL);
  /* the event loops' wake-up socket pairs: one loop on multi, --loops (or
   * one per CPU) on hybrid */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  rlim_t loops = o->engine == FP_ENGINE_MULTI    ? 1
                 : o->engine == FP_ENGINE_HYBRID ? (o->loops ? o->loops : cpus > 0 ? (rlim_t)cpus : 1)
                                                 : 0;
  if (loops > o->threads)
    loops = o->threads;
  rlim_t own = open_files() + 2 * loops + RUN_FILES;
  rlim_t need = (rlim_t)o->threads * each + own;
  if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return;
  rlim_t had = rl.rlim_cur;
  bool capped = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need;
  rl.rlim_cur = capped ? rl.rlim_max : need;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && !capped)
    return;
  if (getrlimit(RLIMIT_NOFILE, &rl))
    rl.rlim_cur = had;
  size_t fit = rl.rlim_cur > own ? (size_t)((rl.rlim_cur - own) / each) : 0;
  if (fit < 1)
    fit = 1;
  if (fit >= o->threads)
    return;
  fprintf(stderr,
          "%s: warning: %s %zu needs %llu open files (%llu per transfer at once + %llu for "
          "the run's own), but the limit is %llu; running %zu transfers at once instead "
          "(raise the hard limit: ulimit -Hn, LimitNOFILE=%s)\n",
          prog, o->threads_auto ? "--max-threads" : "-t", o->threads, (unsigned long long)need, (unsigned long long)each,
          (unsigned long long)own, (unsigned long long)rl.rlim_cur, fit,
          o->engine == FP_ENGINE_THREADS ? "; or use --engine multi: 1 file per transfer" : "");
  o->threads = fit;
  if (o->threads_auto)
    o->max_threads = fit;
}

/* Which of the standard descriptors were closed when the program started:
 * bit fd set for fd 0, 1 or 2. */
static unsigned std_closed;

/* The first thing the program does: make sure descriptors 0, 1 and 2 are
 * open, as daemons do, so that no pipe, file or socket made later takes
 * one of their numbers (a closed standard input once handed its number to
 * the signal pipe, and the job reader then read that pipe; records went
 * into it with standard output closed). /dev/null stands in, opened the
 * wrong way round for 0 and 1: reading a closed standard input, or
 * writing a closed standard output, still fails (EBADF) as it would have,
 * instead of reading nothing or writing into the void. What goes to a
 * closed standard error is dropped. */
static void open_std_fds(void) {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
      continue;
    /* the lower ones are open now: the lowest free number is fd */
    int got = open("/dev/null", (fd == STDOUT_FILENO ? O_RDONLY : O_WRONLY) | O_NOCTTY);
    if (got != fd) {
      static const char text[] = "fetchpool: cannot open /dev/null in place of a closed "
                                 "standard descriptor\n";
      (void)!write(STDERR_FILENO, text, sizeof text - 1);
      _exit(CLI_EXIT_USAGE);
    }
    std_closed |= 1u << fd;
  }
}

/* Whether the command reads standard input: a run or enqueue with no
 * FILE, or with "-". */
static bool reads_stdin(const cli_options *o) {
  if (o->command != CLI_RUN && o->command != CLI_ENQUEUE)
    return false;
  for (size_t i = 0; i < o->nfiles; i++)
    if (strcmp(o->files[i], "-") == 0)
      return true;
  return o->nitems == 0; /* no FILE and no URL argument */
}

/* A command whose input or whose product is a standard descriptor that
 * was closed has nothing to do: say so and exit 2 before anything runs,
 * rather than reading nothing or fetching for nobody. -1 to go on. */
static int check_std_fds(const cli_options *o) {
  if ((std_closed & 1u << STDIN_FILENO) && reads_stdin(o)) {
    fprintf(stderr, "fetchpool: standard input is closed: there are no jobs to read (name "
                    "the input FILEs)\n");
    return CLI_EXIT_USAGE;
  }
  bool records_out = (o->command == CLI_RUN && !o->output && !o->resume) ||
                     (o->command == CLI_RESULTS && !o->output);
  if ((std_closed & 1u << STDOUT_FILENO) && (records_out || o->command == CLI_STATUS)) {
    fprintf(stderr, "fetchpool: standard output is closed: %s\n",
            records_out ? "the records would have nowhere to go (use -o FILE)"
                        : "the status would have nowhere to go");
    return CLI_EXIT_USAGE;
  }
  return -1;
}

/* -o, and the stats file: created when missing, but not truncated here,
 * so that a start-up that fails later leaves an earlier output as it was;
 * run_truncate empties them once the run starts. */
static int open_output(const char *path) {
  return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0666);
}

/* Empty fd when it is a regular file (not a pipe, a terminal or
 * /dev/null). 0 or an errno value. */
static int truncate_regular(int fd) {
  struct stat st;
  if (fstat(fd, &st))
    return errno;
  return S_ISREG(st.st_mode) && ftruncate(fd, 0) ? errno : 0;
}

/* DIR is created when missing, and must be a directory this process can
 * create files in: tried with a file of a private name, removed at once
 * (permission bits alone do not tell: root writes anyway, a read-only
 * mount refuses everyone). 0 or an errno value. */
static int prepare_save_dir(const char *dir) {
  struct stat st;
  char probe[PATH_MAX];
  if (mkdir(dir, 0777) && errno != EEXIST)
    return errno;
  if (stat(dir, &st))
    return errno;
  if (!S_ISDIR(st.st_mode))
    return ENOTDIR;
  if (snprintf(probe, sizeof probe, "%s/.fetchpool-probe-XXXXXX", dir) >= (int)sizeof probe)
    return ENAMETOOLONG;
  int fd = mkostemp(probe, O_CLOEXEC);
  if (fd < 0)
    return errno;
  close(fd);
  unlink(probe);
  return 0;
}

/* The CA file must be a readable regular file: checked before any job
 * runs, so a typo is one message and exit 2, not one tls error a job. */
static int check_cacert(const char *path) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
  if (fd < 0)
    return errno;
  if (fstat(fd, &st))
    err = errno;
  else if (S_ISDIR(st.st_mode))
    err = EISDIR;
  close(fd);
  return err;
}

/* A path the options name, for check_paths. */
typedef struct named_file {
  const char *option; /* "--output", ...; NULL for a standard descriptor */
  const char *path;   /* as given; the descriptor's name when option is NULL */
  bool written;       /* records, stats or bodies are written there */
  bool known;         /* id could be told */
  cli_file_id id;
} named_file;

static void name_path(named_file *f, const char *option, const char *path, bool written) {
  f->option = option;
  f->path = path;
  f->written = written;
  f->known = cli_file_id_of(path, &f->id) == 0;
}

static void name_fd(named_file *f, int fd, const char *name, bool written) {
  f->option = NULL;
  f->path = name;
  f->written = written;
  f->known = cli_file_id_of_fd(fd, &f->id) == 0;
}

/* "--output 'x'", "input 'x'" or "standard output", for messages. */
static const char *label(const named_file *f, char *buf, size_t size) {
  if (f->option)
    snprintf(buf, size, "%s '%s'", f->option, f->path);
  else
    snprintf(buf, size, "%s", f->path);
  return buf;
}

/* A regular file, or one still to be created: what writing through one
 * name would destroy under another. Terminals, pipes and /dev/null may be
 * shared (typing jobs on the terminal the records go to is fine). */
static bool file_like(const cli_file_id *id) { return !id->exists || S_ISREG(id->mode); }

/* A name --save gives a body: INDEX.body. */
static bool body_name(const char *name) {
  size_t n = strspn(name, "0123456789");
  return n > 0 && strcmp(name + n, ".body") == 0;
}

/* Before anything is opened for writing: no two of -o, --resume,
 * --stats-json, --save, the inputs and (when records go there) standard
 * output may name the same file, unless both are only read (an input
 * given twice is read twice) or -o names the --resume file (records are
 * appended to it); a file written to is not a directory; and none lies in
 * the --save directory under a name a body is saved as. Files are told
 * apart by device and inode (see paths.c), so a symbolic link or "./x" is
 * no way around it. -1 to go on, or 2 with the usage error reported. */
static int check_paths(const cli_options *o) {
  char a[PATH_MAX + 32], b[PATH_MAX + 32];
  size_t n = 0;
  int status = CLI_EXIT_USAGE;
  named_file *f = calloc(o->nfiles + 5, sizeof *f);
  char *side = NULL; /* --resume's FILE.filtered: read, and written with filters */
  if (!f || (o->resume && asprintf(&side, "%s.filtered", o->resume) < 0)) {
    free(f);
    fprintf(stderr, "fetchpool: out of memory\n");
    return CLI_EXIT_USAGE;
  }
  if (o->resume) {
    name_path(&f[n++], "--resume", o->resume, true);
    if (o->output) {
      named_file out;
      name_path(&out, "--output", o->output, true);
      if (!f[0].known || !out.known || !cli_file_id_same(&f[0].id, &out.id)) {
        cli_usage_error(CLI_RUN, "--output '%s' is not the --resume file: new records are "
                        "appended to '%s'; leave -o out", o->output, o->resume);
        goto done;
      }
    }
  } else if (o->output) {
    name_path(&f[n++], "--output", o->output, true);
  } else {
    name_fd(&f[n++], STDOUT_FILENO, "standard output", true);
  }
  if (side)
    name_path(&f[n++], "--resume's side file", side, true);
  if (o->stats_json)
    name_path(&f[n++], "--stats-json", o->stats_json, true);
  size_t save = o->save_dir ? n : SIZE_MAX; /* its index, if any */
  if (o->save_dir)
    name_path(&f[n++], "--save", o->save_dir, true);
  if (reads_stdin(o))
    name_fd(&f[n++], STDIN_FILENO, "standard input", false);
  for (size_t i = 0; i < o->nfiles; i++)
    if (strcmp(o->files[i], "-") != 0)
      name_path(&f[n++], "input", o->files[i], false);
  for (size_t i = 0; i < n; i++) {
    if (!f[i].known)
      continue; /* its open reports why */
    if (f[i].written && i != save && f[i].id.exists && S_ISDIR(f[i].id.mode)) {
      cli_usage_error(CLI_RUN, "%s is a directory", label(&f[i], a, sizeof a));
      goto done;
    }
    for (size_t j = i + 1; j < n; j++) {
      /* an existing --save path is a directory, or refused as none */
      bool existing_save = (i == save || j == save) && f[save].known && f[save].id.exists;
      if (!f[j].known || !(f[i].written || f[j].written) || existing_save ||
          !file_like(&f[i].id) || !file_like(&f[j].id) || !cli_file_id_same(&f[i].id, &f[j].id))
        continue;
      cli_usage_error(CLI_RUN, "%s and %s are the same file: writing one would destroy "
                      "the other", label(&f[i], a, sizeof a), label(&f[j], b, sizeof b));
      goto done;
    }
    const cli_file_id *dir = save < n ? &f[save].id : NULL;
    if (dir && f[save].known && dir->exists && i != save && f[i].id.has_parent &&
        f[i].id.pdev == dir->dev && f[i].id.pino == dir->ino && body_name(f[i].id.name)) {
      cli_usage_error(CLI_RUN, "%s is in the --save directory under a name a body is saved "
                      "as", label(&f[i], a, sizeof a));
      goto done;
    }
  }
  status = -1;
done:
  free(f);
  free(side);
  return status;
}

/* Everything the run opened, so one place closes it. */
typedef struct run {
  cli_source *in; /* batch-in: FILEs and URL arguments */
  int out_fd;
  FILE *stats_file;
  cli_stats *stats;
  cli_progress *progress;
  fp_executor *ex;
  cli_hosts *hosts; /* the host view of ex */
  cli_output *out;
  cli_done *done; /* --resume: jobs to skip */
  /* batch-out: filters and formats */
  int side_fd;       /* --resume with filters: FILE.filtered, else -1 */
  cli_render render; /* how records become output */
} run;

static void run_close(run *r) {
  cli_hosts_stop(r->hosts); /* it reads ex */
  fp_executor_free(r->ex); /* joins the workers: no callback still runs */
  cli_output_free(r->out);
  cli_progress_stop(r->progress);
  cli_stats_free(r->stats);
  cli_hosts_free(r->hosts); /* after the readers of stats */
  cli_done_free(r->done);
  if (r->stats_file)
    fclose(r->stats_file);
  if (r->out_fd > STDERR_FILENO)
    close(r->out_fd);
  if (r->side_fd >= 0)
    close(r->side_fd);
  cli_source_close(r->in);
}

static int open_resume(run *r, const cli_options *o) {
  char msg[512];
  cli_resume_info info;
  if (!(r->done = cli_resume_open(o->resume, o->resume_failed, &r->out_fd, &info, msg,
                                  sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    return CLI_EXIT_USAGE;
  }
  /* batch-out: the jobs an earlier run filtered out are done too */
  char *side = NULL;
  if (asprintf(&side, "%s.filtered", o->resume) < 0 ||
      cli_resume_side(r->done, side, o->resume_failed, cli_filter_active(&o->filter),
                      &r->side_fd, msg, sizeof msg)) {
    fprintf(stderr, "fetchpool: %s\n", side ? msg : "out of memory");
    free(side);
    return CLI_EXIT_USAGE;
  }
  free(side);
  if (!o->quiet && info.torn_bytes)
    fprintf(stderr, "fetchpool: %s: cut a torn last line of %llu bytes\n", o->resume,
            (unsigned long long)info.torn_bytes);
  if (!o->quiet && info.foreign)
    fprintf(stderr, "fetchpool: %s: ignored %llu lines that are no records\n", o->resume,
            (unsigned long long)info.foreign);
  return -1;
}

/* Open what the options name; a failure is reported and gives exit 2.
 * Every check comes first; the outputs are opened last, and none is
 * truncated here (see run_truncate), so a failed start-up leaves the
 * files it names as they were (at most a missing one is created). */
static int run_open(run *r, const cli_options *o) {
  char msg[512];
  int err, fd;
  if ((err = check_paths(o)) >= 0)
    return err;
  if (!(r->in = cli_source_open(o, msg, sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    return CLI_EXIT_USAGE;
  }
  if (o->cacert && (err = check_cacert(o->cacert))) {
    fprintf(stderr, "fetchpool: cannot use CA file '%s': %s\n", o->cacert, strerror(err));
    return CLI_EXIT_USAGE;
  }
  if (o->save_dir && (err = prepare_save_dir(o->save_dir))) {
    fprintf(stderr, "fetchpool: cannot use save directory '%s': %s\n", o->save_dir,
            strerror(err));
    return CLI_EXIT_USAGE;
  }
  if (o->stats_json && ((fd = open_output(o->stats_json)) < 0 ||
                        !(r->stats_file = fdopen(fd, "w")))) {
    fprintf(stderr, "fetchpool: cannot open stats file '%s': %s\n", o->stats_json,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    return CLI_EXIT_USAGE;
  }
  if (o->resume) {
    int rc = open_resume(r, o);
    if (rc >= 0)
      return rc;
  } else if (o->output && (r->out_fd = open_output(o->output)) < 0) {
    fprintf(stderr, "fetchpool: cannot open output '%s': %s\n", o->output, strerror(errno));
    return CLI_EXIT_USAGE;
  }
  if (!(r->stats = cli_stats_new())) {
    fprintf(stderr, "fetchpool: out of memory\n");
    return CLI_EXIT_USAGE;
  }
  return -1;
}

/* Start-up went well and the run begins: only now empty -o and the stats
 * file of an earlier run (the --resume file keeps its records). 0, or 2
 * with the error reported. */
static int run_truncate(const run *r, const cli_options *o) {
  int err;
  if (o->output && !o->resume && (err = truncate_regular(r->out_fd))) {
    fprintf(stderr, "fetchpool: cannot empty output '%s': %s\n", o->output, strerror(err));
    return CLI_EXIT_USAGE;
  }
  if (r->stats_file && (err = truncate_regular(fileno(r->stats_file)))) {
    fprintf(stderr, "fetchpool: cannot empty stats file '%s': %s\n", o->stats_json,
            strerror(err));
    return CLI_EXIT_USAGE;
  }
  return 0;
}

/* batch-out: the header line of --format csv and tsv, before any record.
 * 0, or 2 with the error reported. */
static int write_header(const run *r, const cli_options *o) {
  size_t len;
  char *header = cli_format_header((cli_format_kind)o->format, &len);
  int err = header ? cli_write_all(r->out_fd, header, len) : 0;
  free(header);
  if (err)
    fprintf(stderr, "fetchpool: cannot write the header line to %s: %s\n",
            o->output ? o->output : "standard output", strerror(err));
  return err ? CLI_EXIT_USAGE : 0;
}

static bool want_progress(const cli_options *o) {
  if (o->progress >= 0)
    return o->progress;
  /* a bar drawn between records on the same terminal would garble both */
  return !o->quiet && isatty(STDERR_FILENO) &&
         (o->output || o->resume || !isatty(STDOUT_FILENO));
}

/* Read every input line and start its job, skipping those an earlier run
 * did (--resume), until the input ends or an interruption stops the
 * reader. Returns the number of jobs started; *skipped gets the number
 * skipped. */
static uint64_t read_jobs(run *r, const cli_jobs *jobs, bool *read_error, uint64_t *skipped) {
  cli_job_in job;
  uint64_t index = 0, seq = 0;
  char msg[512];
  cli_batch batch = {.n = 0};
  *skipped = 0;
  while (cli_source_next(r->in, &job, read_error, msg, sizeof msg)) {
    if (cli_done_has(r->done, index)) {
      (*skipped)++;
    } else {
      if (!cli_output_try_reserve(r->out, seq)) {
        /* the window is full: what is batched must run before we wait */
        cli_batch_flush(jobs, &batch);
        if (!cli_output_reserve(r->out, seq))
          break; /* interrupted: this job never started */
      }
      if (job.error)
        cli_job_error(jobs, seq++, index, FP_ERR_INVALID_REQUEST, job.error);
      else
        cli_job_add(jobs, &batch, seq++, index, job.line, job.len, job.vars);
      if (!cli_source_buffered(r->in)) /* the next read may wait: run these first */
        cli_batch_flush(jobs, &batch);
    }
    index++;
  }
  cli_batch_flush(jobs, &batch);
  if (*read_error)
    fprintf(stderr, "fetchpool: %s\n", msg);
  return seq;
}

static int write_stats_json(FILE *f, const char *path, cli_stats *stats) {
  json_t *obj = cli_stats_json(stats);
  int bad = !obj || json_dumpf(obj, f, CLI_JSON_FLAGS) ||
            fputc('\n', f) == EOF || fflush(f);
  json_decref(obj);
  if (bad)
    fprintf(stderr, "fetchpool: cannot write stats file '%s': %s\n", path, strerror(errno));
  return bad;
}

/* The first signal: read no more, cancel what is queued. On the signal
 * thread; everything it touches outlives cli_signals_finish. */
static void interrupt_stop(void *arg) {
  run *r = arg;
  cli_source_stop(r->in);
  cli_output_stop(r->out);
  fp_executor_shutdown(r->ex, false, true);
}

/* Grace over, or a second signal: end the transfers in flight now. */
static void interrupt_abort(void *arg) {
  run *r = arg;
  fp_executor_abort(r->ex);
}

/* A record could not be written (on the writer thread, which already
 * refuses new jobs): nothing more can be recorded, so read no more, cancel
 * what is queued and end the transfers in flight at once. */
static void output_failed(void *arg, int err) {
  (void)err; /* reported once the run is over */
  run *r = arg;
  cli_source_stop(r->in);
  fp_executor_shutdown(r->ex, false, true);
  fp_executor_abort(r->ex);
}

static void to_output(void *out, uint64_t seq, uint64_t index, json_t *rec,
                      const cli_result *r) {
  cli_output_put(out, seq, index, rec, r);
}

static int run_jobs(const cli_options *o) {
  run r = {.out_fd = STDOUT_FILENO, .side_fd = -1};
  char msg[256];
  if (cli_signals_install()) {
    fprintf(stderr, "fetchpool: cannot set up signal handling: %s\n", strerror(errno));
    return CLI_EXIT_USAGE;
  }
  int status = run_open(&r, o);
  if (status >= 0)
    goto done;
  status = CLI_EXIT_USAGE;
  if (want_progress(o)) {
    int64_t total = cli_source_count(r.in);
    if (total > 0 && r.done)
      total -= (int64_t)cli_done_count_below(r.done, (uint64_t)total);
    r.progress = cli_progress_start(r.stats, total, STDERR_FILENO);
  }

  fp_executor_options eo;
  fp_executor_options_init(&eo);
  eo.threads = o->threads;
  eo.engine = o->engine;
  eo.loops = o->loops;
  /* submit blocks beyond: backpressure. At least QUEUE_MIN: the reader is
   * one thread among the workers and is woken when the queue is down to
   * half; at -t 64 on tiny responses, 2 x 64 left it too little slack and
   * workers found the queue empty (1.75 context switches a request against
   * 1.47 with 512: BENCHMARKS.md, "Changes since the reference run"). */
  eo.queue_capacity = 2 * o->threads > QUEUE_MIN ? 2 * o->threads : QUEUE_MIN;
  eo.thread_name_prefix = "fetch";
  eo.rate = o->rate;
  eo.per_host = o->per_host;
  eo.per_host_rate = o->per_host_rate;
  eo.max_parked = o->max_parked;
  eo.no_host_cooldown = o->no_host_cooldown;
  /* -t auto: o->threads is --max-threads (the pool), each host adapts */
  eo.threads_auto = o->threads_auto;
  eo.max_threads = o->threads_auto ? o->max_threads : 0;
  /* one cookie store for the run (curl-net) */
  eo.cookies = o->net.cookie_file || o->net.cookie_jar;
  eo.cookie_file = o->net.cookie_file;
  eo.junk_session_cookies = o->net.junk_session;
  fp_error err = {0};
  if (!(r.ex = fp_executor_new(&eo, &err))) {
    if (o->net.cookie_file && err.code == FP_ERR_SYSTEM && strstr(err.text, "cookie"))
      fprintf(stderr, "fetchpool: --cookie: %s\n", err.text);
    else
      fprintf(stderr, "fetchpool: cannot start %zu threads: %s\n", o->threads, err.text);
    goto done;
  }
  /* per-host limits and cooldowns, for the progress line, the summary
   * and --stats-json (none when out of memory or threads: no host view) */
  if ((r.hosts = cli_hosts_start(r.ex, o->stats_json != NULL)))
    cli_stats_set_hosts(r.stats, r.hosts);
  /* room for every job a worker runs or the queue holds, and as many
   * again finished; ordered, also for slow jobs at the head of the line;
   * a dry run's records are made on the reader at once, and a wide
   * window lets the writer take them in long runs, not one by one */
  size_t window = 4 * o->threads > MIN_WINDOW ? 4 * o->threads : MIN_WINDOW;
  if (!(r.out = cli_output_new(r.out_fd, o->ordered, window, r.stats, output_failed, &r, msg,
                               sizeof msg))) {
    fprintf(stderr, "fetchpool: %s\n", msg);
    goto done;
  }
  /* batch-out: filters and formats (plain JSON Lines need no renderer) */
  r.render = (cli_render){.filter = o->filter, .kind = (cli_format_kind)o->format,
                          .tpl = o->write_out, .side = r.side_fd >= 0};
  if (cli_filter_active(&o->filter) || o->format != CLI_FORMAT_JSONL || o->write_out)
    cli_output_set_render(r.out, cli_render_record, &r.render, r.side_fd);
  cli_interrupt ops = {.stop = interrupt_stop, .abort = interrupt_abort, .arg = &r,
                       .grace = o->grace, .quiet = o->quiet};
  int rc = cli_signals_start(&ops);
  if (rc) {
    fprintf(stderr, "fetchpool: cannot start the signal thread: %s\n", strerror(rc));
    goto done;
  }

  if (run_truncate(&r, o) || write_header(&r, o))
    goto done;
  cli_jobs jobs = {.ex = r.ex, .deliver = to_output, .deliver_arg = r.out, .base = o->base,
                   .record_flags = o->record_flags, .save_dir = o->save_dir,
                   .save_name = o->save_name, .save_all = o->save_all,
                   /* batch-in */
                   .url_template = o->url_template, .body_template = o->body_template,
                   .header_templates = o->header_templates,
                   .nheader_templates = o->nheader_templates, .dry_run = o->dry_run};
  bool read_error = false;
  uint64_t skipped;
  uint64_t count = read_jobs(&r, &jobs, &read_error, &skipped);
  int werr = cli_output_finish(r.out, count);
  int sig = cli_signals_finish(); /* every record is written: no more stops */
  cli_stats_stop(r.stats);
  cli_hosts_stop(r.hosts); /* the final figures */
  cli_progress_stop(r.progress);
  r.progress = NULL;
  if (o->resume)
    cli_stats_set_skipped(r.stats, skipped);
  if (sig)
    cli_stats_set_interrupted(r.stats, sig, "jobs not started are left for --resume");
  if (werr)
    fprintf(stderr, "fetchpool: cannot write records to %s: %s; stopped the run\n",
            o->resume ? o->resume : o->output ? o->output : "standard output",
            strerror(werr));
  if (!o->quiet)
    cli_stats_print(r.stats, stderr);
  bool stats_bad = r.stats_file && write_stats_json(r.stats_file, o->stats_json, r.stats);
  /* -c: once, when no transfer runs any more (after an interruption
   * too: the aborted transfers have ended by now) */
  bool jar_bad = false;
  if (o->net.cookie_jar) {
    fp_error jerr = {0};
    fp_executor_shutdown(r.ex, true, false);
    if ((jar_bad = fp_executor_save_cookies(r.ex, o->net.cookie_jar, &jerr) != FP_OK))
      fprintf(stderr, "fetchpool: --cookie-jar %s: %s\n", o->net.cookie_jar, jerr.text);
  }
  /* lost records outweigh an interruption: the output is not complete */
  if (werr)
    status = CLI_EXIT_USAGE;
  else if (sig)
    status = 128 + sig;
  else if (read_error || stats_bad || jar_bad)
    status = CLI_EXIT_USAGE;
  else
    status = cli_stats_counts(r.stats).failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
done:
  cli_signals_finish(); /* when a failure skipped the call above */
  run_close(&r);
  return status;
}

/* The first argument names a Redis command, or the run is local. */
static cli_command command_of(int argc, char **argv) {
  static const char *const names[] = {[CLI_ENQUEUE] = "enqueue", [CLI_WORKER] = "worker",
                                      [CLI_STATUS] = "status", [CLI_RESULTS] = "results"};
  for (int c = CLI_ENQUEUE; argc > 1 && c <= CLI_RESULTS; c++)
    if (strcmp(argv[1], names[c]) == 0)
      return (cli_command)c;
  return CLI_RUN;
}

int main(int argc, char **argv) {
  cli_options o;
  open_std_fds(); /* before anything makes a descriptor */
  cli_command cmd = command_of(argc, argv);
  int skip = cmd == CLI_RUN ? 0 : 1;
  int status = cli_parse_options(cmd, argc - skip, argv + skip, &o);
  if (status >= 0)
    return status;
  if ((status = check_std_fds(&o)) >= 0) {
    cli_options_free(&o);
    return status;
  }
  switch (cmd) {
  case CLI_ENQUEUE:
    status = cli_enqueue(&o);
    break;
  case CLI_WORKER:
    fit_nofile(&o, "fetchpool worker");
    status = cli_worker(&o);
    break;
  case CLI_STATUS:
    status = cli_status(&o);
    break;
  case CLI_RESULTS:
    status = cli_results(&o);
    break;
  default:
    fit_nofile(&o, "fetchpool");
    status = run_jobs(&o);
  }
  cli_options_free(&o);
  return status;
}
