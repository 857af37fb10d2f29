/* WAL checkpoints off the event loop (checkpointer.c).
 *
 * SQLite checkpoints a WAL database from inside the commit that crosses
 * wal_autocheckpoint (1000 pages): the pages are copied into the database
 * file and fsynced on the loop thread, a stall of tens of milliseconds every
 * few seconds under load. Here a thread with its own connection runs a
 * PASSIVE checkpoint (it never waits for, or blocks, the writer) every
 * interval, or sooner when the writer kicks it (a WAL grown past a few MB),
 * and the writer's automatic checkpoints are turned off. */
#ifndef CHATD_HISTORY_CHECKPOINTER_H
#define CHATD_HISTORY_CHECKPOINTER_H

struct checkpointer;

/* Open a second connection to the database at path (borrowed) and start the
 * thread, checkpointing every interval_ms. New, or NULL when it could not
 * start (then the caller keeps SQLite's automatic checkpoints). */
struct checkpointer *checkpointer_start(const char *path, int interval_ms);
/* Ask for a checkpoint now (the writer, after a commit that left a long
 * WAL). Cheap: a mutex and a signal; a thread that checkpointed less than
 * CHECKPOINT_GAP_MS ago runs the next one that much later. cp is borrowed. */
void checkpointer_kick(struct checkpointer *cp);
/* Stop the thread (waits for a checkpoint in progress), close its
 * connection and free cp (steals; NULL is fine). */
void checkpointer_stop(struct checkpointer *cp);

#endif
