/* outbox.h: the jobs a stream worker holds and what it owes Redis for
 * them (see outbox.c). No Redis here: tests/test_stream_outbox.c drives
 * it directly. */
#ifndef FP_CLI_STREAM_OUTBOX_H
#define FP_CLI_STREAM_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a stream entry id, "<ms>-<seq>" (both 64-bit decimals), and
 * its NUL. */
#define CLI_JOB_ID_SIZE 48

typedef struct cli_outbox cli_outbox;

/* What the pool finished for a held job: its record, or a job to hand
 * back to the group (cancelled by a stop, or no memory for the record). */
typedef struct cli_outbox_entry {
  size_t job;   /* the held job's number (cli_outbox_hold) */
  char *record; /* JSON text, owned by the outbox; NULL: hand the job back */
} cli_outbox_entry;

/* NEW outbox that holds at most capacity (> 0) jobs, or NULL when out of
 * memory. */
cli_outbox *cli_outbox_new(size_t capacity);
/* Frees the records not yet written too. Call once no thread can put. */
void cli_outbox_free(cli_outbox *ob);

/* ---- the loop's thread only: held jobs ---- */

/* How many more jobs it can hold: below capacity and the soft limit. */
size_t cli_outbox_room(const cli_outbox *ob);
/* Hold at most limit jobs from now on (0 or above capacity: capacity);
 * jobs held beyond it stay held, and no more are taken until below it. */
void cli_outbox_set_limit(cli_outbox *ob, size_t limit);
/* Jobs held: started, and their record or hand-back not yet written. */
size_t cli_outbox_held(const cli_outbox *ob);
/* Whether the job of stream entry id is held. */
bool cli_outbox_holds(const cli_outbox *ob, const char *id);
/* Hold the job of stream entry id (len bytes, 0 < len < CLI_JOB_ID_SIZE)
 * while cli_outbox_room is above 0. Returns its number, below capacity,
 * which the pool hands back to cli_outbox_put. */
size_t cli_outbox_hold(cli_outbox *ob, const char *id, size_t len);
/* The stream entry id of held job number job. BORROWED: it does not
 * change while the job is held, so any thread that was handed the number
 * may read it until it puts the job. */
const char *cli_outbox_id(const cli_outbox *ob, size_t job);
/* The ids of every held job: *ids gets an array of them (BORROWED until
 * the next call). Returns how many. */
size_t cli_outbox_ids(cli_outbox *ob, const char *const **ids);

/* ---- any thread: the pool's side ---- */

/* Held job number job is finished: record is its JSON text (STEALS; NULL:
 * hand the job back). Once per held job. Wakes cli_outbox_wait. */
void cli_outbox_put(cli_outbox *ob, size_t job, char *record);
/* A stop was asked (a signal, or an error that ends the worker): wakes
 * cli_outbox_wait, and every later one returns true. */
void cli_outbox_stop(cli_outbox *ob);

/* ---- the loop's thread only: what is owed ---- */

/* Wait until a job was put, a stop was asked since the last call, or
 * until, a time on cli_now()'s clock (<= now: do not wait; INFINITY: no
 * limit); then take what was put to be written. Returns whether a stop was
 * asked. */
bool cli_outbox_wait(cli_outbox *ob, double until);
/* What is to be written, in the order it was put: *entries gets them
 * (BORROWED until the next wait or written). Returns how many. */
size_t cli_outbox_pending(const cli_outbox *ob, const cli_outbox_entry **entries);
/* Everything cli_outbox_pending gave is in Redis: free the records and
 * the jobs' places. */
void cli_outbox_written(cli_outbox *ob);

#endif /* FP_CLI_STREAM_OUTBOX_H */
