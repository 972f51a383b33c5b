/* test_fuzz.c: replay every committed input of the fuzz harnesses
 * (tests/fuzz/corpus/NAME and tests/fuzz/regressions/NAME) as an ordinary
 * test, so the seeds and every crash the fuzzer once found run in each
 * `make test`, also under the sanitizers and valgrind. The harnesses are
 * built with the ordinary compiler under the names fuzz_NAME (see
 * tests/fuzz/fuzz.h); a broken contract fails that harness's test, naming
 * the harness line and the input, and a crash names the input before the
 * suite dies. FP_FUZZ_VERBOSE=1 lists every input replayed. */
#include <dirent.h>
#include <sys/stat.h>

#include "testutil.h"

#ifndef FUZZ_DIR
#define FUZZ_DIR "tests/fuzz"
#endif

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

int fuzz_job_line(const uint8_t *data, size_t size);
int fuzz_header(const uint8_t *data, size_t size);
int fuzz_retry_after(const uint8_t *data, size_t size);
int fuzz_host_key(const uint8_t *data, size_t size);
#ifdef FUZZ_HAVE_CLI
int fuzz_cli_parse(const uint8_t *data, size_t size);
int fuzz_resume_line(const uint8_t *data, size_t size);
int fuzz_batch_in(const uint8_t *data, size_t size);
#endif

/* The input being replayed, for the failure report. */
static char current[1024];

void fuzz_replay_fail(const char *file, int line) __attribute__((noreturn));

/* A harness found its contract broken (tests/fuzz/fuzz.h): fail this
 * test, naming the input, and go on with the next test. */
void fuzz_replay_fail(const char *file, int line) {
  print_error("contract broken on input %s\n", current);
  _fail(file, line);
  abort(); /* _fail does not return */
}

static void on_crash(int sig) {
  static const char head[] = "\ntest_fuzz: crashed on input ";
  (void)!write(2, head, sizeof head - 1);
  (void)!write(2, current, strlen(current));
  (void)!write(2, "\n", 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0, got;
  do {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *grown = realloc(buf, cap);
      assert_non_null(grown);
      buf = grown;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  assert_int_equal(ferror(f), 0);
  fclose(f);
  *len = n;
  return buf;
}

/* Run fn on every regular file of dir (sorted, so runs repeat); returns
 * how many. A missing directory holds no input. */
static size_t replay_dir(fuzz_fn fn, const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (n + 1) * sizeof *names);
    assert_non_null(grown);
    names = grown;
    assert_true(asprintf(&names[n++], "%s/%s", dir, e->d_name) > 0);
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_str);
  bool verbose = getenv("FP_FUZZ_VERBOSE") != NULL;
  size_t ran = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      size_t len;
      uint8_t *data = slurp(names[i], &len);
      snprintf(current, sizeof current, "%s", names[i]);
      if (verbose)
        fprintf(stderr, "replay %s (%zu bytes)\n", names[i], len);
      assert_int_equal(fn(data, len), 0);
      free(data);
      ran++;
    }
    free(names[i]);
  }
  free(names);
  return ran;
}

static void replay(const char *name, fuzz_fn fn) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/corpus/%s", FUZZ_DIR, name);
  size_t seeds = replay_dir(fn, dir);
  snprintf(dir, sizeof dir, "%s/regressions/%s", FUZZ_DIR, name);
  size_t regressions = replay_dir(fn, dir);
  print_message("%s: %zu seeds, %zu regression inputs\n", name, seeds, regressions);
  /* every harness has a committed seed corpus */
  assert_true(seeds > 0);
}

static void test_job_line(void **state) { replay("job_line", fuzz_job_line); }
static void test_header(void **state) { replay("header", fuzz_header); }
static void test_retry_after(void **state) { replay("retry_after", fuzz_retry_after); }
static void test_host_key(void **state) { replay("host_key", fuzz_host_key); }
#ifdef FUZZ_HAVE_CLI
static void test_cli_parse(void **state) { replay("cli_parse", fuzz_cli_parse); }
static void test_resume_line(void **state) { replay("resume_line", fuzz_resume_line); }
static void test_batch_in(void **state) { replay("batch_in", fuzz_batch_in); }
#endif

int main(void) {
  signal(SIGABRT, on_crash);
  signal(SIGSEGV, on_crash);
  signal(SIGBUS, on_crash);
  const struct CMUnitTest tests[] = {
      TU_TEST(test_job_line),
      TU_TEST(test_header),
      TU_TEST(test_retry_after),
      TU_TEST(test_host_key),
#ifdef FUZZ_HAVE_CLI
      TU_TEST(test_cli_parse),
      TU_TEST(test_resume_line),
      TU_TEST(test_batch_in),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
