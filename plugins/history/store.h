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

/* The newest schema version this code creates and reads (2: the full-text
 * index is filled lazily by hstore_index, behind a watermark; 3: room names
 * folded to lower case, as chatd names rooms since). */
#define HSTORE_SCHEMA_VERSION 3

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

/* How long a locked database is retried from now on (0 = fail at once).
 * hstore_index never waits, whatever this says. */
void hstore_set_busy_timeout(struct hstore *s, int ms);

/* Start a write transaction. Returns 0, or -1 (see hstore_error). */
int hstore_begin(struct hstore *s);

/*
 * Insert m inside the transaction. Returns 0 when inserted, 1 when this row
 * alone was refused (its (room, id) is already stored; the transaction goes
 * on), -1 when the transaction failed and must be rolled back. The row is
 * not added to the full-text index: hstore_index does that later.
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
 * How many stored messages are not in the full-text index yet, as far as s
 * knows without reading the database (what it committed and indexed itself):
 * an upper bound (seq numbers, not rows), 0 when everything s committed is
 * indexed. Cheap: for deciding whether to call hstore_index.
 */
int64_t hstore_unindexed(const struct hstore *s);

/* The same read from the database (it also refreshes what hstore_unindexed
 * knows, e.g. after another process wrote): 0 exactly when every stored
 * message is indexed. Returns 0 or -1 (a read failed). */
int hstore_refresh_unindexed(struct hstore *s, int64_t *out);

/* Whether room (borrowed) has messages not in the index yet: *out = 1 or 0
 * (one index lookup: its newest message against the watermark). Returns 0
 * or -1. */
int hstore_unindexed_in_room(struct hstore *s, const char *room, int64_t *out);

/*
 * Add the oldest unindexed messages to the full-text index: at most max_rows
 * (>= 1) of them, and no more once budget_us microseconds have passed (at
 * least one row; the commit comes after that), in one transaction of its own
 * that also moves the watermark past them, so a crash keeps both or neither:
 * no message is lost from the index or indexed twice. Never waits for a lock
 * held by another process. Must not be called inside hstore_begin/commit.
 * Returns how many were indexed (0: none left), or -1 (see hstore_error;
 * nothing changed).
 */
int hstore_index(struct hstore *s, int max_rows, int budget_us);

/*
 * Full-text search (FTS5 query syntax) among the indexed messages of room
 * (call hstore_index first for the rest): the newest `limit` matches (and
 * about max_bytes), newest first, into out.
 * A search running longer than budget_ms stops with the newest matches found
 * so far (out->incomplete). Returns 0, -2 when the query itself is malformed
 * (see hstore_error), or -1 on a database failure.
 */
int hstore_search(struct hstore *s, const char *room, const char *query, int limit, size_t max_bytes,
		  int budget_ms, struct hrows *out);

/* Free the rows of rs and empty it (rs itself is the caller's). */
void hrows_free(struct hrows *rs);

#endif
