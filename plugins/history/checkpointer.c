#include "checkpointer.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>

/* Least time between the end of a checkpoint and the start of the next:
 * a kick at every commit must not make the thread copy hot pages again
 * and again. */
#define CHECKPOINT_GAP_MS 20

struct checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;        /* under lock */
	int kicked;          /* under lock: a checkpoint is wanted now */
	int interval_ms;
	sqlite3 *db;         /* used by the thread only, until it is joined */
};

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *checkpoint_loop(void *arg)
{
	struct checkpointer *cp = arg;
	pthread_mutex_lock(&cp->lock);
	while (!cp->stopping) {
		struct timespec until;
		deadline_after(&until, CHECKPOINT_GAP_MS);
		while (!cp->stopping && pthread_cond_timedwait(&cp->wake, &cp->lock, &until) != ETIMEDOUT)
			;
		deadline_after(&until, cp->interval_ms - CHECKPOINT_GAP_MS);
		while (!cp->stopping && !cp->kicked && pthread_cond_timedwait(&cp->wake, &cp->lock, &until) != ETIMEDOUT)
			;
		if (cp->stopping)
			break;
		cp->kicked = 0;
		pthread_mutex_unlock(&cp->lock);
		/* Errors (a full disk, a read-only file) are the writer's to
		 * report: a checkpoint that fails leaves the WAL as it was. */
		sqlite3_wal_checkpoint_v2(cp->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&cp->lock);
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}

struct checkpointer *checkpointer_start(const char *path, int interval_ms)
{
	pthread_condattr_t ca;
	struct checkpointer *cp = calloc(1, sizeof *cp);
	if (!cp)
		return NULL;
	cp->interval_ms = interval_ms > CHECKPOINT_GAP_MS ? interval_ms : 500;
	if (sqlite3_open_v2(path, &cp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail_db;
	sqlite3_busy_timeout(cp->db, 0);
	/* A connection that has read nothing yet does not know the file is in
	 * WAL mode, and its checkpoints do nothing: make it look. */
	if (sqlite3_exec(cp->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		goto fail_db;
	if (pthread_condattr_init(&ca))
		goto fail_db;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int bad = pthread_cond_init(&cp->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (bad)
		goto fail_db;
	if (pthread_mutex_init(&cp->lock, NULL))
		goto fail_cond;
	if (pthread_create(&cp->thread, NULL, checkpoint_loop, cp))
		goto fail_mutex;
	return cp;
fail_mutex:
	pthread_mutex_destroy(&cp->lock);
fail_cond:
	pthread_cond_destroy(&cp->wake);
fail_db:
	sqlite3_close(cp->db);
	free(cp);
	return NULL;
}

void checkpointer_kick(struct checkpointer *cp)
{
	pthread_mutex_lock(&cp->lock);
	if (!cp->kicked) {
		cp->kicked = 1;
		pthread_cond_signal(&cp->wake);
	}
	pthread_mutex_unlock(&cp->lock);
}

void checkpointer_stop(struct checkpointer *cp)
{
	if (!cp)
		return;
	pthread_mutex_lock(&cp->lock);
	cp->stopping = 1;
	pthread_cond_signal(&cp->wake);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	sqlite3_close(cp->db);
	pthread_cond_destroy(&cp->wake);
	pthread_mutex_destroy(&cp->lock);
	free(cp);
}
