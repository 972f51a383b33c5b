/* policy_limit.c: PLACEHOLDER (sched) for the adaptive in-flight limit:
 * a fixed limit of max, so the host table's threads_auto call sites build
 * and run. The limit helper's controller replaces this whole file (and
 * struct fp__limit in policy.h). */
#include "policy.h"

void fp__limit_init(fp__limit *l, unsigned max) { l->max = max ? max : 1; }

unsigned fp__limit_get(const fp__limit *l) { return l->max; }

void fp__limit_on_done(fp__limit *l, double now, double latency, fp__outcome o,
                       unsigned inflight) {
  (void)l, (void)now, (void)latency, (void)o, (void)inflight;
}
