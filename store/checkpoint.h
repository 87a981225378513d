/*
 * store/checkpoint: WAL checkpoints on a thread of their own.  Private to
 * store/.
 *
 * A checkpoint copies the pages the WAL holds into the database file and
 * fsyncs both files (which synchronous=NORMAL requires); SQLite runs it in
 * the connection whose commit crossed the threshold.  With 40 MB of WAL that
 * took about 300 ms, nearly all of it waiting for the two fsyncs: an
 * orchestratord event loop stalled that long every few thousand writes.
 * Here a thread with its own connection runs them instead (PASSIVE: it never
 * takes the write lock, so the writer goes on appending meanwhile).
 */
#ifndef ORCH_STORE_CHECKPOINT_H
#define ORCH_STORE_CHECKPOINT_H

struct store_ckpt;

/* Start a checkpointer for the database file PATH (already in WAL mode).
 * Returns 0, -ENOMEM, -EAGAIN (no thread) or the errno of a failed open;
 * the caller then checkpoints itself.  Call from the thread that owns the
 * store. */
int store_ckpt_start(const char *path, struct store_ckpt **ret_ckpt);

/* Ask for a checkpoint soon.  Cheap (a mutex and a condition variable);
 * requests made while one runs make it run once more. */
void store_ckpt_request(struct store_ckpt *ckpt);

/* Stop the thread, waiting for a checkpoint under way, and close its
 * connection.  NULL-safe. */
void store_ckpt_stop(struct store_ckpt *ckpt);

#endif
