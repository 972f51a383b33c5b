/* fuzz_host_key.c: fp__host_key, the per-host limit key of a URL, on
 * arbitrary URLs (the input up to its first NUL). The contract: a NUL-
 * terminated key no longer than the URL plus ":443", "" for a URL with no
 * "://", else lowercase host[:port] without user info, path, query or
 * fragment, and the same key for URLs that only differ in letter case or
 * in what follows the authority. */
#include <stdbool.h>
#include <string.h>

#include "policy.h"
#include "fuzz.h"

static char *key_of(const char *url) {
  char *key = fp__host_key(url);
  FUZZ_CHECK(key);
  FUZZ_CHECK(strlen(key) <= strlen(url) + 4);
  for (const char *p = key; *p; p++)
    FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z') && !strchr("/?#@", *p));
  if (!strstr(url, "://"))
    FUZZ_CHECK(*key == '\0');
  else
    FUZZ_CHECK(strchr(key, ':')); /* a port, given or the scheme's */
  return key;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
  char *url = fuzz_cstr(data, size);
  FUZZ_CHECK(url);
  size_t n = strlen(url);
  char *key = key_of(url);

  /* letter case does not matter */
  char *lower = strdup(url);
  FUZZ_CHECK(lower);
  for (char *p = lower; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  char *k2 = key_of(lower);
  FUZZ_CHECK(strcmp(k2, key) == 0);

  /* nor does a path after the authority (when there is one: a suffix
   * could make the "://" of "x:/") */
  if (!strstr(url, "://"))
    goto done;
  char *longer = malloc(n + 8);
  FUZZ_CHECK(longer);
  memcpy(longer, url, n);
  memcpy(longer + n, "/x?y#z", 7);
  char *k3 = key_of(longer);
  FUZZ_CHECK(strcmp(k3, key) == 0);

  free(k3);
  free(longer);
done:
  free(k2);
  free(lower);
  free(key);
  free(url);
  return 0;
}
