/* transfer.h: transfers on reused curl easy handles, and the DNS
 * share (transfer.c). Names no curl type, so that only transfer.c and
 * engine_multi.c include curl. */
#ifndef FP_TRANSFER_H
#define FP_TRANSFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include "fetchpool.h"

typedef struct fp__share fp__share;
typedef struct fp__transfer fp__transfer;

/* curl_global_init exactly once per process, thread-safely. FP_OK or
 * FP_ERR_INTERNAL. */
int fp__transfer_global_init(void);
/* A share handle, one mutex per shared data kind: TLS sessions always,
 * the DNS cache with dns, one cookie store with cookies. */
fp__share *fp__share_new(bool dns, bool cookies, fp_error *err);
/* Load a cookie file into the share's store (junk: skip session
 * cookies). FP_OK, or FP_ERR_INVALID_ARG without a cookie store. */
int fp__share_load_cookies(fp__share *share, const char *path, bool junk, fp_error *err);
/* Write the store to path in Netscape format, through path.tmp renamed
 * over it. FP_OK, FP_ERR_INVALID_ARG, FP_ERR_NOMEM or FP_ERR_SYSTEM. */
int fp__share_save_cookies(fp__share *share, const char *path, fp_error *err);
/* True when libcurl can set DNS servers (built with c-ares). */
bool fp__transfer_can_set_dns_servers(void);
void fp__share_free(fp__share *share);
/* One easy handle, reused for every job of one worker. share may be NULL.
 * When *abort becomes true, the transfer in flight stops with
 * FP_ERR_CANCELLED (unless its response had all arrived: then it ends as
 * it would have) the next time libcurl calls back, at least once a
 * second. With track_sockets, the handle's sockets are also kept in a
 * list so that fp__transfer_interrupt can wake a blocking transfer at
 * once (only for a handle that owns its connections: the thread engine;
 * the multi engine's connections outlive its handles). */
fp__transfer *fp__transfer_new(fp__share *share, const atomic_bool *abort,
                               bool track_sockets, fp_error *err);
/* Wake a transfer blocked in fp__transfer_run after *abort became true:
 * shut its sockets down, so its wait ends now rather than at libcurl's
 * next once-a-second tick, and it ends as FP_ERR_CANCELLED (or as it
 * would have, if its response had all arrived). From any thread; t must
 * stay alive meanwhile (the executor's lock sees to that). */
void fp__transfer_interrupt(fp__transfer *t);
void fp__transfer_free(fp__transfer *t);
/* Run req to completion on t's handle (blocking). Always returns a
 * response (its error says how the transfer went), NULL only when memory
 * ran out. */
/* limit is this attempt's time limit in seconds (0: none), from
 * fp__job_attempt_limit. */
fp_response *fp__transfer_run(fp__transfer *t, const fp_request *req, double limit);
/* The same in two halves, for an event loop: begin configures the handle
 * for req and returns true (then drive fp__transfer_easy(t) and call
 * fp__transfer_end with its CURLcode), or false with *out the finished
 * response (a bad URL, out of memory: *out may be NULL). */
bool fp__transfer_begin(fp__transfer *t, const fp_request *req, double limit,
                        fp_response **out);
fp_response *fp__transfer_end(fp__transfer *t, int curl_code);
/* The CURL easy handle, for the multi engine (a void * so that only the
 * files that drive curl include it). */
void *fp__transfer_easy(fp__transfer *t);

#endif /* FP_TRANSFER_H */
