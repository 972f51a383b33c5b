/* executor_private.h: the executor's internals that tests may watch
 * (executor.c). */
#ifndef FP_EXECUTOR_PRIVATE_H
#define FP_EXECUTOR_PRIVATE_H

#include "fetchpool.h"
#include "queue.h"

/* The executor's queue: for tests that watch where a job waits. */
fp__queue *fp__executor_queue(fp_executor *ex);

#endif /* FP_EXECUTOR_PRIVATE_H */
