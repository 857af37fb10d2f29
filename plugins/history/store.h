/*
 * The history plugin's SQLite layer: one database file, WAL, a versioned
 * schema, every statement prepared once. It knows nothing of chatd: the
 * plugin (history.c) decides when to write and what to send.
 *
 * All functions are for one thread (the chatd loop). Strings passed in are
 * borrowed; rows handed out are owned by the caller (hrows_free).
 */
#ifndef CHATD_HISTORY_STORE_H
#define CHATD_HISTORY_STORE_H

#include <stddef.h>
#include <stdint.h>

struct hstore; /* opaque: the open database and its statements */

/* How to open the database. */
struct hstore_config {
	const char *path;     /* borrowed: the database file */
	int sync_full;        /* 1: PRAGMA synchronous=FULL, 0: NORMAL */
	int busy_timeout_ms;  /* how long a locked database is retried */
	int64_t check_max_bytes; /* PRAGMA quick_check at open up to this size (0 = never) */
};

/* What the check at open did (hstore_checked). */
enum hstore_check {
	HSTORE_CHECK_OFF,     /* check_max_bytes was 0 */
	HSTORE_CHECK_OK,      /* quick_check found nothing wrong */
	HSTORE_CHECK_TOO_BIG, /* the database was larger than check_max_bytes: not checked */
};

/* One message to store (every pointer borrowed for the call). */
struct hstore_msg {
	const char *room;
	int64_t id;
	int64_t ts;
	const char *username;
	const char *text;
	size_t text_len;
};

/* One message read back. */
struct hrow {
	int64_t id;
	int64_t ts;
	char *username; /* owned by the row */
	char *text;     /* owned by the row */
	size_t text_len;
};

/* Rows of a query, newest first; `more` says that older matches exist that
 * were (or may have been) left out by the count, the byte budget or the time
 * budget; `incomplete` says the time budget cut the query short. */
struct hrows {
	struct hrow *v;
	size_t n, cap;
	int more;
	int incomplete;
};

/* The newest schema version this code creates and reads. */
#define HSTORE_SCHEMA_VERSION 1

/*
 * Open (creating when absent) the database, switch it to WAL, apply cfg,
 * check its structure (PRAGMA quick_check, when not larger than
 * cfg->check_max_bytes) and migrate its schema to HSTORE_SCHEMA_VERSION,
 * committing one write so that a database that can be read but not written
 * (read-only file system, full disk) is refused here rather than at the
 * first message. Returns the store (new), or NULL with a reason in err (no
 * file name in it: the caller adds that): read-only, damaged, not a
 * database, newer schema, I/O error with the system's reason.
 */
struct hstore *hstore_open(const struct hstore_config *cfg, char *err, size_t errsz);

/* What the check at open did, and the database's size then in *bytes. */
enum hstore_check hstore_checked(const struct hstore *s, int64_t *bytes);

/* Finalize every statement and close the database. s may be NULL. */
void hstore_close(struct hstore *s);

/* The reason of the last failure of s (valid until the next failure): the
 * step that failed, SQLite's message and, for an I/O error, the system's
 * (e.g. "commit: disk I/O error (Read-only file system)"). */
const char *hstore_error(const struct hstore *s);

/* How long a locked database is retried from now on (0 = fail at once). */
void hstore_set_busy_timeout(struct hstore *s, int ms);

/* Start a write transaction. Returns 0, or -1 (see hstore_error). */
int hstore_begin(struct hstore *s);

/*
 * Insert m inside the transaction. Returns 0 when inserted, 1 when this row
 * alone was refused (its (room, id) is already stored; the transaction goes
 * on), -1 when the transaction failed and must be rolled back.
 */
int hstore_insert(struct hstore *s, const struct hstore_msg *m);

/* Commit. Returns 0, or -1 after rolling the transaction back. */
int hstore_commit(struct hstore *s);

/* Roll back the open transaction, if any. */
void hstore_rollback(struct hstore *s);

/* The largest stored id of room into *out (0 when none). Returns 0 or -1. */
int hstore_max_id(struct hstore *s, const char *room, int64_t *out);

/*
 * The newest messages of room with after < id < before, at most limit of
 * them and about max_bytes of text in all (at least one row when any
 * matches), appended to out newest first. Returns 0 or -1.
 */
int hstore_newest(struct hstore *s, const char *room, int64_t after, int64_t before, int limit,
		  size_t max_bytes, struct hrows *out);

/*
 * Full-text search (FTS5 query syntax) among the messages of room: the
 * newest `limit` matches (and about max_bytes), newest first, into out.
 * A search running longer than budget_ms stops with the newest matches found
 * so far (out->incomplete). Returns 0, -2 when the query itself is malformed
 * (see hstore_error), or -1 on a database failure.
 */
int hstore_search(struct hstore *s, const char *room, const char *query, int limit, size_t max_bytes,
		  int budget_ms, struct hrows *out);

/* Free the rows of rs and empty it (rs itself is the caller's). */
void hrows_free(struct hrows *rs);

#endif
