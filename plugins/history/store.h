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
	char *username; /* owned by the row: the author (a private message's sender) */
	char *text;     /* owned by the row */
	size_t text_len;
	char *to;       /* owned by the row: a private message's receiver, NULL for room messages */
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
 * folded to lower case, as chatd names rooms since; 4: private messages and
 * read positions). */
#define HSTORE_SCHEMA_VERSION 4

/* One private message to store (every pointer borrowed for the call). A
 * NULL session: that side had none (it can never read the message back). */
struct hstore_dm {
	int64_t id;
	int64_t ts;
	const char *from, *from_session;
	const char *to, *to_session;
	const char *text;
	size_t text_len;
};

/* One conversation of a person (hstore_dm_conversations). */
struct hconv {
	char *with;       /* owned: the other person's name */
	int64_t last_id;  /* its newest private message */
};

/* What a read position is of. */
enum hstore_read_kind { HSTORE_READ_ROOM = 0, HSTORE_READ_DM = 1 };

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

/* ---- private messages and read positions (schema version 4). Every
 * write here commits at once (outside hstore_begin/commit). Returns 0, or
 * -1 (see hstore_error). ---- */

/* The largest stored private message id into *out (0 when none). */
int hstore_dm_max_id(struct hstore *s, int64_t *out);
/* Store one private message (m->id must be new). */
int hstore_dm_insert(struct hstore *s, const struct hstore_dm *m);
/*
 * The newest private messages between `me` (with `session`) and `other`,
 * in both directions, with id < before: at most limit and about max_bytes,
 * newest first (rows with `to` set). Only messages whose side of `me`
 * carried this session: another session with the same name reads nothing.
 * `other` is matched in any case (ASCII letters), as are the conversations
 * and the unread counts below.
 */
int hstore_dm_page(struct hstore *s, const char *me, const char *session, const char *other, int64_t before,
		   int limit, size_t max_bytes, struct hrows *out);
/* The (at most limit) conversations of me + session, most recent first,
 * into a new array *out of *n (free with hconv_free). */
int hstore_dm_conversations(struct hstore *s, const char *me, const char *session, int limit, struct hconv **out,
			    size_t *n);
void hconv_free(struct hconv *v, size_t n);
/* How many private messages from `other` to me + session have id > after. */
int hstore_dm_unread(struct hstore *s, const char *me, const char *session, const char *other, int64_t after,
		     int64_t *out);
/* The read position of (name, session, kind, target) into *out; *found 0
 * (and *out 0) when there is none. */
int hstore_read_get(struct hstore *s, const char *name, const char *session, int kind, const char *target,
		    int64_t *out, int *found);
/* Move the read position to id, forward only (a smaller id changes nothing;
 * a first one is created). */
int hstore_read_advance(struct hstore *s, const char *name, const char *session, int kind, const char *target,
			int64_t id);
/* Messages hstore_room_unread looks at, at most (the newest after the read
 * position): 10,000 take about 6 ms here, a million over half a second. */
#define HSTORE_UNREAD_SCAN_MAX 10000

/*
 * Room messages after `after` by others than `name`: how many (*unread), and
 * how many of those name `name` as a whole word, in any case (*mentions:
 * ASCII letters fold; a word is a run of letters, digits, '_' and non-ASCII
 * characters other than punctuation, symbols and emoji, so "alice" in "malice" is
 * none and "Alice\u2026" is one). Only the newest
 * HSTORE_UNREAD_SCAN_MAX messages after `after` are looked at.
 */
int hstore_room_unread(struct hstore *s, const char *room, int64_t after, const char *name, int64_t *unread,
		       int64_t *mentions);
/* 1 when text[0..len) names `name` as a whole word (as hstore_room_unread). */
int hstore_mentions(const char *text, size_t len, const char *name);

/* Free the rows of rs and empty it (rs itself is the caller's). */
void hrows_free(struct hrows *rs);

#endif
