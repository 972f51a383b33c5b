/* histogram.c: a log-linear latency histogram (HDR style) in constant
 * memory: exact below 256, then 128 buckets per power of two, so a value
 * is known within 1/128 of itself however many were counted. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

#define LINEAR 256u      /* values below are counted exactly */
#define SUB_BITS 7u      /* 2^7 = 128 buckets per power of two above */
#define SUB (1u << SUB_BITS)
#define NBUCKETS (LINEAR + (64u - 8u) * SUB)

struct cli_histogram {
  uint64_t count, min, max;
  uint64_t buckets[NBUCKETS];
};

cli_histogram *cli_histogram_new(void) { return calloc(1, sizeof(cli_histogram)); }

void cli_histogram_free(cli_histogram *h) { free(h); }

static size_t bucket_of(uint64_t v) {
  if (v < LINEAR)
    return (size_t)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
  unsigned shift = msb - SUB_BITS;
  return LINEAR + (size_t)(msb - 8u) * SUB + (size_t)((v >> shift) - SUB);
}

/* Lowest value of bucket i and the bucket's width. */
static uint64_t bucket_low(size_t i, uint64_t *width) {
  if (i < LINEAR) {
    *width = 1;
    return i;
  }
  size_t k = i - LINEAR;
  unsigned shift = (unsigned)(k / SUB) + 8u - SUB_BITS;
  *width = (uint64_t)1 << shift;
  return (uint64_t)(SUB + k % SUB) << shift;
}

void cli_histogram_add(cli_histogram *h, uint64_t value) {
  if (h->count == 0 || value < h->min)
    h->min = value;
  if (value > h->max)
    h->max = value;
  h->count++;
  h->buckets[bucket_of(value)]++;
}

uint64_t cli_histogram_count(const cli_histogram *h) { return h->count; }

uint64_t cli_histogram_quantile(const cli_histogram *h, double q) {
  if (h->count == 0)
    return 0;
  if (q <= 0)
    return h->min;
  if (q >= 1)
    return h->max;
  /* the smallest value with at least q of the samples at or below it */
  uint64_t rank = (uint64_t)ceil(q * (double)h->count);
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < NBUCKETS; i++) {
    seen += h->buckets[i];
    if (seen >= rank) {
      uint64_t width, low = bucket_low(i, &width);
      uint64_t mid = low + (width - 1) / 2;
      return mid < h->min ? h->min : mid > h->max ? h->max : mid;
    }
  }
  return h->max;
}
