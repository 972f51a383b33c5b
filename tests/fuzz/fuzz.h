/* fuzz.h: what the fuzz harnesses in tests/fuzz/ share.
 *
 * Each harness is one file with one entry point. Built by `make fuzz` with
 * clang's libFuzzer (the entry point is LLVMFuzzerTestOneInput); built by
 * `make test` with the ordinary compiler and -DFUZZ_ENTRY=fuzz_<name>, so
 * tests/test_fuzz.c can replay the committed corpora and the regression
 * inputs of every harness in one ordinary test binary (also under the
 * sanitizers and valgrind).
 *
 * A harness states the contract of the code it drives with FUZZ_CHECK: a
 * broken contract aborts, which libFuzzer reports as a crash, or (built
 * with -DFUZZ_REPLAY) fails the replay test naming the input; either way
 * the message names the harness file and line. */
#ifndef FP_FUZZ_H
#define FP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* The entry point: called once per input, must return 0. */
int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* What a harness shows about the failing case (define before including). */
#ifndef FUZZ_ON_FAIL
#define FUZZ_ON_FAIL() ((void)0)
#endif

#ifdef FUZZ_REPLAY
/* In tests/test_fuzz.c: fail the running cmocka test (never returns), so
 * one broken harness does not stop the replay of the others. */
void fuzz_replay_fail(const char *file, int line) __attribute__((noreturn));
#define FUZZ_STOP() fuzz_replay_fail(__FILE__, __LINE__)
#else
#define FUZZ_STOP() abort() /* libFuzzer reports a crash */
#endif

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: fuzz contract broken: %s\n", __FILE__, __LINE__, \
              #cond);                                                          \
      FUZZ_ON_FAIL();                                                          \
      FUZZ_STOP();                                                             \
    }                                                                          \
  } while (0)

/* A NUL-terminated copy of the input (a C string of the bytes up to the
 * first NUL, if any). NEW (free), or NULL when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s) {
    for (size_t i = 0; i < size; i++)
      s[i] = (char)data[i];
    s[size] = '\0';
  }
  return s;
}

#endif /* FP_FUZZ_H */
