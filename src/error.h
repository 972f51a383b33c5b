/* error.h: the library's error helper (error.c). */
#ifndef FP_ERROR_H
#define FP_ERROR_H

#include "fetchpool.h"

/* Fill err (if not NULL and still clear) with code and a printf message.
 * Returns code, so callers can `return fp__fail(err, FP_ERR_X, ...)`. */
int fp__fail(fp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* FP_ERROR_H */
