/*
 * The history plugin's SQLite layer (see store.h). User data only ever
 * reaches SQLite as bound parameters; the only SQL text is the constant
 * schema and statements below.
 */
#include "store.h"
#include "checkpointer.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The prepared statements, prepared once at open. */
enum statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_MAX_ID,
	ST_NEWEST,
	ST_SEARCH,
	ST_INDEX_STATE,
	ST_UNINDEXED,
	ST_UNINDEXED_IN_ROOM,
	ST_FTS_INSERT,
	ST_SET_WATERMARK,
	ST_DM_MAX_ID,
	ST_DM_INSERT,
	ST_DM_PAGE,
	ST_DM_CONVERSATIONS,
	ST_DM_UNREAD,
	ST_READ_GET,
	ST_READ_ADVANCE,
	ST_ROOM_UNREAD,
	ST_COUNT_
};

static const char *const statement_sql[ST_COUNT_] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_INSERT] = "INSERT INTO messages(room, id, username, text, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_MAX_ID] = "SELECT MAX(id) FROM messages WHERE room = ?1",
	[ST_NEWEST] = "SELECT id, username, text, ts FROM messages"
		      " WHERE room = ?1 AND id > ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
	[ST_SEARCH] = "SELECT m.id, m.username, m.text, m.ts FROM messages_fts"
		      " JOIN messages AS m ON m.seq = messages_fts.rowid"
		      " WHERE messages_fts MATCH ?1 AND m.room = ?2"
		      " ORDER BY messages_fts.rowid DESC LIMIT ?3",
	/* the watermark and the newest seq, read together */
	[ST_INDEX_STATE] = "SELECT indexed_seq, (SELECT COALESCE(MAX(seq), 0) FROM messages) FROM fts_state",
	[ST_UNINDEXED] = "SELECT seq, text FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	/* whether the room's newest message (by id: one index lookup; ids grow
	 * with seq within a room) is above the watermark. A scan of the
	 * unindexed range would cost a long backlog (a saturated loop indexes
	 * nothing) on every search. */
	[ST_UNINDEXED_IN_ROOM] = "SELECT seq > (SELECT indexed_seq FROM fts_state) FROM messages"
				 " WHERE room = ?1 ORDER BY id DESC LIMIT 1",
	[ST_FTS_INSERT] = "INSERT INTO messages_fts(rowid, text) VALUES (?1, ?2)",
	[ST_SET_WATERMARK] = "UPDATE fts_state SET indexed_seq = ?1",
	[ST_DM_MAX_ID] = "SELECT COALESCE(MAX(id), 0) FROM dms",
	[ST_DM_INSERT] = "INSERT INTO dms(id, from_name, from_session, to_name, to_session, text, ts)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* columns as collect_rows reads them (id, author, text, ts) and the receiver */
	[ST_DM_PAGE] = "SELECT id, from_name, text, ts, to_name FROM dms"
		       " WHERE ((from_name = ?1 AND from_session = ?2 AND to_name = ?3 COLLATE NOCASE)"
		       " OR (to_name = ?1 AND to_session = ?2 AND from_name = ?3 COLLATE NOCASE)) AND id < ?4"
		       " ORDER BY id DESC LIMIT ?5",
	[ST_DM_CONVERSATIONS] = "SELECT other, MAX(id) FROM ("
				" SELECT to_name AS other, id FROM dms WHERE from_name = ?1 AND from_session = ?2"
				" UNION ALL"
				" SELECT from_name AS other, id FROM dms WHERE to_name = ?1 AND to_session = ?2)"
				" GROUP BY other COLLATE NOCASE ORDER BY MAX(id) DESC LIMIT ?3",
	[ST_DM_UNREAD] = "SELECT COUNT(*) FROM dms WHERE to_name = ?1 AND to_session = ?2"
			 " AND from_name = ?3 COLLATE NOCASE AND id > ?4",
	[ST_READ_GET] = "SELECT id FROM read_positions WHERE name = ?1 AND session = ?2 AND kind = ?3 AND target = ?4",
	[ST_READ_ADVANCE] = "INSERT INTO read_positions(name, session, kind, target, id) VALUES (?1, ?2, ?3, ?4, ?5)"
			    " ON CONFLICT (name, session, kind, target) DO UPDATE SET id = excluded.id"
			    " WHERE excluded.id > read_positions.id",
	/* the newest ?4 messages after ?2 at most: a join never scans a whole backlog */
	[ST_ROOM_UNREAD] = "SELECT COUNT(*), COALESCE(SUM(chatd_mentions(text, ?3)), 0) FROM"
			   " (SELECT username, text FROM messages WHERE room = ?1 AND id > ?2"
			   " ORDER BY id DESC LIMIT ?4) WHERE username <> ?3",
};

/*
 * Schema migrations: migrations[v] takes a database from version v - 1 to v.
 * Never edit a released entry; append a new version instead.
 */
static const char *const migrations[HSTORE_SCHEMA_VERSION + 1] = {
	[1] = "CREATE TABLE messages ("
	      " seq INTEGER PRIMARY KEY,"      /* insertion order; the FTS rowid */
	      " room TEXT NOT NULL,"
	      " id INTEGER NOT NULL,"          /* the room's message id */
	      " username TEXT NOT NULL,"
	      " text TEXT NOT NULL,"
	      " ts INTEGER NOT NULL,"          /* ms since the epoch */
	      " UNIQUE (room, id));"
	      "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='seq');"
	      "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN"
	      " INSERT INTO messages_fts(rowid, text) VALUES (new.seq, new.text);"
	      " END;"
	      "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN"
	      " INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);"
	      " END;"
	      "CREATE TRIGGER messages_au AFTER UPDATE ON messages BEGIN"
	      " INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.seq, old.text);"
	      " INSERT INTO messages_fts(rowid, text) VALUES (new.seq, new.text);"
	      " END;",
	/*
	 * Version 2: lazy full-text indexing. Storing a message no longer touches
	 * messages_fts; hstore_index adds rows in batches. fts_state holds the
	 * watermark: every message with seq <= indexed_seq is in the index
	 * exactly once, none above it is. It moves only in the transaction that
	 * adds the rows it covers. Version 1 indexed every row by trigger, so
	 * its watermark is MAX(seq). The delete and update triggers stay, for
	 * rows changed by hand, but touch the index only for indexed rows (an
	 * FTS5 'delete' of a row that is not in the index would damage it), and
	 * a delete pulls the watermark down to MAX(seq) so that a seq reused by
	 * the next insert (seq is a plain rowid) is not taken as indexed.
	 */
	[2] = "DROP TRIGGER messages_ai;"
	      "DROP TRIGGER messages_ad;"
	      "DROP TRIGGER messages_au;"
	      "CREATE TABLE fts_state ("
	      " one INTEGER PRIMARY KEY CHECK (one = 1),"
	      " indexed_seq INTEGER NOT NULL);"
	      "INSERT INTO fts_state(one, indexed_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM messages;"
	      "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN"
	      " INSERT INTO messages_fts(messages_fts, rowid, text)"
	      "  SELECT 'delete', old.seq, old.text FROM fts_state WHERE old.seq <= indexed_seq;"
	      " UPDATE fts_state SET indexed_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages)"
	      "  WHERE indexed_seq > (SELECT COALESCE(MAX(seq), 0) FROM messages);"
	      " END;"
	      "CREATE TRIGGER messages_au AFTER UPDATE ON messages BEGIN"
	      " INSERT INTO messages_fts(messages_fts, rowid, text)"
	      "  SELECT 'delete', old.seq, old.text FROM fts_state WHERE old.seq <= indexed_seq;"
	      " INSERT INTO messages_fts(rowid, text)"
	      "  SELECT new.seq, new.text FROM fts_state WHERE new.seq <= indexed_seq;"
	      " END;",
	/*
	 * Version 3: room names are case-insensitive and chatd names every room
	 * in lower case, so a room stored as "Lounge" is renamed "lounge". Only
	 * when that is the one spelling of the name in the file: "Lounge" next
	 * to "lounge" (or "LOUNGE") were separate rooms with overlapping ids,
	 * which cannot be merged; those keep their stored names (and are no
	 * longer reached by chatd). The update trigger is set aside meanwhile:
	 * the text does not change, so the index stays right.
	 */
	[3] = "DROP TRIGGER messages_au;"
	      "UPDATE messages SET room = lower(room) WHERE room IN ("
	      " SELECT MIN(room) FROM (SELECT DISTINCT room FROM messages) GROUP BY lower(room)"
	      " HAVING COUNT(*) = 1 AND MIN(room) <> lower(MIN(room)));"
	      "CREATE TRIGGER messages_au AFTER UPDATE ON messages BEGIN"
	      " INSERT INTO messages_fts(messages_fts, rowid, text)"
	      "  SELECT 'delete', old.seq, old.text FROM fts_state WHERE old.seq <= indexed_seq;"
	      " INSERT INTO messages_fts(rowid, text)"
	      "  SELECT new.seq, new.text FROM fts_state WHERE new.seq <= indexed_seq;"
	      " END;",
	/*
	 * Version 4: private messages (stored privately: only the two people,
	 * each by name and session hash, read them back) and read positions
	 * (per name, session hash and room or conversation; forward only).
	 */
	[4] = "CREATE TABLE dms ("
	      " id INTEGER PRIMARY KEY,"       /* the private message id */
	      " from_name TEXT NOT NULL, from_session TEXT,"
	      " to_name TEXT NOT NULL, to_session TEXT,"
	      " text TEXT NOT NULL,"
	      " ts INTEGER NOT NULL);"
	      "CREATE INDEX dms_by_sender ON dms(from_name, from_session, to_name, id);"
	      "CREATE INDEX dms_by_receiver ON dms(to_name, to_session, from_name, id);"
	      "CREATE TABLE read_positions ("
	      " name TEXT NOT NULL, session TEXT NOT NULL,"
	      " kind INTEGER NOT NULL,"        /* 0 a room, 1 a conversation */
	      " target TEXT NOT NULL,"         /* the room, or the other person's name */
	      " id INTEGER NOT NULL,"
	      " PRIMARY KEY (name, session, kind, target)) WITHOUT ROWID;",
};

/* Rough JSON overhead of one message frame besides its username and text. */
#define ROW_OVERHEAD 96

/* SQLite VM steps between two looks at the clock during a search. */
#define PROGRESS_STEPS 1000

/* How often the checkpointer thread copies the WAL into the database. */
#define CHECKPOINT_INTERVAL_MS 500
/* WAL frames (pages) after which the writer asks the thread for a
 * checkpoint at once: it copies a few MB at a time, and one that catches
 * up with the end of the WAL lets the next commit start the WAL over. */
#define WAL_KICK_FRAMES 1000
/* WAL frames (pages) after which the writer finishes a checkpoint itself. */
#define WAL_RESTART_FRAMES 4000

struct hstore {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT_];
	char err[256];
	struct timespec deadline; /* of the running search */
	enum hstore_check check;  /* what the check at open did */
	int64_t bytes_at_open;    /* the database's size then */
	int busy_ms;              /* the busy timeout set (hstore_index waits for none) */
	int64_t pending_seq;      /* the largest seq inserted by the open transaction */
	int64_t max_seq;          /* the largest seq known committed */
	int64_t indexed_seq;      /* the watermark as last read or written */
	struct checkpointer *ckpt; /* WAL checkpoints off the loop; NULL: SQLite's own */
};

/* The errno behind the I/O error SQLite just reported, 0 when unknown:
 * SQLite records it for some failures only; the WAL and the database file
 * keep the errno of their last failed call. */
static int io_errno(sqlite3 *db)
{
	int e = sqlite3_system_errno(db);
	sqlite3_file *wal = NULL;
	if (!e && sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK && wal &&
	    wal->pMethods)
		wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &e);
	if (!e)
		sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e);
	return e;
}

/* Record "what: message" as the reason of a failure; msg is SQLite's message
 * (NULL: the connection's). An I/O or open error also gets the system's
 * reason, which SQLite's message leaves out ("disk I/O error"). */
static void describe(struct hstore *s, const char *what, const char *msg)
{
	if (!s->db) {
		snprintf(s->err, sizeof s->err, "%s: out of memory", what);
		return;
	}
	int code = sqlite3_errcode(s->db) & 0xff;
	int sys = code == SQLITE_IOERR || code == SQLITE_CANTOPEN ? io_errno(s->db) : 0;
	if (!msg)
		msg = sqlite3_errmsg(s->db);
	if (sys > 0)
		snprintf(s->err, sizeof s->err, "%s: %s (%s)", what, msg, strerror(sys));
	else
		snprintf(s->err, sizeof s->err, "%s: %s", what, msg);
}

static void set_error(struct hstore *s, const char *what) { describe(s, what, NULL); }

const char *hstore_error(const struct hstore *s) { return s->err; }

/* Step a statement that returns no rows, then reset it. Returns 0 or -1. */
static int run(struct hstore *s, enum statement which, const char *what)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		set_error(s, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Switch to WAL; a database that cannot use WAL is refused. */
static int use_wal(struct hstore *s)
{
	sqlite3_stmt *st = NULL;
	int ok = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);
		ok = mode && !strcmp(mode, "wal");
		if (!ok)
			snprintf(s->err, sizeof s->err, "cannot use WAL (journal mode stays %s)", mode ? mode : "?");
	} else {
		set_error(s, "journal_mode=WAL");
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static int exec_sql(struct hstore *s, const char *sql, const char *what)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	describe(s, what, msg);
	sqlite3_free(msg);
	return -1;
}

/* The schema version recorded in the database (0 for a new one), or -1. */
static int read_version(struct hstore *s)
{
	sqlite3_stmt *st = NULL;
	int version = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) != SQLITE_OK) {
		set_error(s, "reading schema_version");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0); /* NULL (no row) reads as 0 */
	else
		set_error(s, "reading schema_version");
	sqlite3_finalize(st);
	return version;
}

static int write_version(struct hstore *s, int version)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "INSERT INTO schema_version(version) VALUES (?1)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(st, 1, version);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		set_error(s, "writing schema_version");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Bring the schema to HSTORE_SCHEMA_VERSION in one transaction. */
static int migrate(struct hstore *s)
{
	char what[64];
	if (exec_sql(s, "BEGIN IMMEDIATE", "locking the database"))
		return -1;
	if (exec_sql(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
		     "creating schema_version"))
		goto fail;
	int version = read_version(s);
	if (version < 0)
		goto fail;
	if (version > HSTORE_SCHEMA_VERSION) {
		snprintf(s->err, sizeof s->err, "schema version %d is newer than this chatd knows (%d)", version,
			 HSTORE_SCHEMA_VERSION);
		goto fail;
	}
	for (int v = version + 1; v <= HSTORE_SCHEMA_VERSION; v++) {
		snprintf(what, sizeof what, "migrating the schema to version %d", v);
		if (exec_sql(s, migrations[v], what) || write_version(s, v))
			goto fail;
	}
	/* Always commit a write, even when nothing migrated, so that a database
	 * that reads but does not write (a full disk; a file system the kernel
	 * made read-only after an error lets reads through) is refused now.
	 * user_version mirrors the schema version; setting it rewrites page 1
	 * even when unchanged (an UPDATE to the same value writes nothing). */
	snprintf(what, sizeof what, "PRAGMA user_version = %d", HSTORE_SCHEMA_VERSION);
	if (exec_sql(s, what, "writing to the database") || exec_sql(s, "COMMIT", "committing the schema"))
		goto fail;
	return 0;
fail:
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Read the watermark and the newest seq into s. Returns 0 or -1. */
static int read_index_state(struct hstore *s)
{
	sqlite3_stmt *st = s->st[ST_INDEX_STATE];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->indexed_seq = sqlite3_column_int64(st, 0);
		s->max_seq = sqlite3_column_int64(st, 1);
	} else {
		set_error(s, rc == SQLITE_DONE ? "reading fts_state: no row" : "reading fts_state");
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Code points that are not part of a word although they are not ASCII: Latin-1
 * punctuation and symbols, general punctuation (dashes, curly quotes, ellipsis,
 * spaces), currency, arrows to dingbats, CJK and full-width punctuation, emoji. Every
 * other non-ASCII code point counts as a letter, as the browser client's \p{L}\p{N}\p{M}
 * does for the common cases, so "Alice\u2026" and "\u00abalice\u00bb" are mentions on
 * both sides and "Alic\u00e9" is not.
 */
static const uint32_t not_word[][2] = {
	{0x80, 0xA9},	  {0xAB, 0xB1},	    {0xB4, 0xB4},     {0xB6, 0xB8},	{0xBB, 0xBB},
	{0xBF, 0xBF},	  {0xD7, 0xD7},	    {0xF7, 0xF7},     {0x2000, 0x206F}, {0x20A0, 0x20CF},
	{0x2190, 0x2BFF}, {0x2E00, 0x2E7F}, {0x3000, 0x3004}, {0x3008, 0x3020}, {0x3030, 0x3030},
	{0xFE10, 0xFE1F}, {0xFE30, 0xFE4F}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF20}, {0xFF3B, 0xFF40},
	{0xFF5B, 0xFF65}, {0x1F000, 0x1FAFF},
};

/* True when code point c is part of a word (letters, digits, '_', marks). */
static int word_cp(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
	for (size_t i = 0; i < sizeof not_word / sizeof not_word[0]; i++)
		if (c >= not_word[i][0] && c <= not_word[i][1])
			return 0;
	return 1;
}

/*
 * The code point of the UTF-8 sequence that starts at t[i] (t has len bytes); a
 * malformed or cut sequence gives 0xFFFD (a word character: no mention is made of it).
 */
static uint32_t cp_at(const unsigned char *t, size_t len, size_t i)
{
	unsigned char b = t[i];
	if (b < 0x80)
		return b;
	if (b < 0xC0 || b >= 0xF8)
		return 0xFFFD;
	size_t n = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1; /* continuation bytes */
	if (i + n >= len)
		return 0xFFFD;
	uint32_t c = b & (n == 1 ? 0x1Fu : n == 2 ? 0x0Fu : 0x07u);
	for (size_t k = 1; k <= n; k++) {
		if ((t[i + k] & 0xC0) != 0x80)
			return 0xFFFD;
		c = (c << 6) | (t[i + k] & 0x3Fu);
	}
	return c;
}

/* The code point that ends right before t[i] (i > 0). */
static uint32_t cp_before(const unsigned char *t, size_t len, size_t i)
{
	size_t j = i - 1;
	while (j > 0 && i - j < 4 && (t[j] & 0xC0) == 0x80)
		j--;
	return cp_at(t, len, j);
}

/*
 * Simple case folding of the letters names are most often written in: ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic (upper case to lower case; the browser client's
 * 'iu' regexp folds these the same way, and every other script too). Both cases of each
 * of these take the same number of UTF-8 bytes.
 */
static uint32_t fold_cp(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
	    (c >= 0x410 && c <= 0x42F))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40F)
		return c + 0x50;
	if (c == 0x3C2) /* final sigma */
		return 0x3C3;
	if (c == 0x178)
		return 0xFF;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) /* pairs: even upper, odd lower */
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) /* pairs: odd upper, even lower */
		return (c & 1) ? c + 1 : c;
	return c;
}

/* Bytes of the UTF-8 sequence that starts with b (1 for a byte that starts none). */
static size_t seq_len(unsigned char b)
{
	return b >= 0xF0 && b < 0xF8 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
}

/* Where name (n bytes) ends in t when t[i..] starts with it in any case (fold_cp), else 0. */
static size_t folded_match(const unsigned char *t, size_t len, size_t i, const unsigned char *name, size_t n)
{
	size_t j = 0;
	while (j < n) {
		if (i >= len)
			return 0;
		size_t a = seq_len(t[i]), b = seq_len(name[j]);
		uint32_t x = cp_at(t, len, i), y = cp_at(name, n, j);
		if (x == 0xFFFD || y == 0xFFFD) { /* malformed (or U+FFFD itself): bytes must agree */
			if (t[i] != name[j])
				return 0;
			a = b = 1;
		} else if (fold_cp(x) != fold_cp(y)) {
			return 0;
		}
		i += a;
		j += b;
	}
	return i;
}

int hstore_mentions(const char *text, size_t len, const char *name)
{
	const unsigned char *t = (const unsigned char *)text, *nm = (const unsigned char *)name;
	size_t n = strlen(name);
	if (!n)
		return 0;
	for (size_t i = 0; i < len; i += seq_len(t[i])) {
		size_t end = folded_match(t, len, i, nm, n);
		if (!end)
			continue;
		if ((i == 0 || !word_cp(cp_before(t, len, i))) && (end >= len || !word_cp(cp_at(t, len, end))))
			return 1;
	}
	return 0;
}

/* SQL chatd_mentions(text, name): hstore_mentions. */
static void sql_mentions(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *text = (const char *)sqlite3_value_text(argv[0]);
	const char *name = (const char *)sqlite3_value_text(argv[1]);
	int len = sqlite3_value_bytes(argv[0]);
	sqlite3_result_int(ctx, text && name ? hstore_mentions(text, (size_t)len, name) : 0);
}

static int register_functions(struct hstore *s)
{
	if (sqlite3_create_function(s->db, "chatd_mentions", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    sql_mentions, NULL, NULL) != SQLITE_OK) {
		set_error(s, "registering chatd_mentions");
		return -1;
	}
	return 0;
}

static int prepare_all(struct hstore *s)
{
	for (int i = 0; i < ST_COUNT_; i++)
		if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
		    SQLITE_OK) {
			set_error(s, "preparing statements");
			return -1;
		}
	return 0;
}

/*
 * Why path cannot be opened for writing, in the system's words (SQLite does
 * not say, or names the errno of its last fallback): open it ourselves, or,
 * when it does not exist, ask whether its directory takes a new file. NULL
 * when that works. Only called when SQLite holds no lock on the file
 * (closing an fd would drop the process's POSIX locks on it).
 */
static const char *write_refusal(const char *path)
{
	char dir[4096];
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	if (errno != ENOENT)
		return strerror(errno);
	const char *slash = strrchr(path, '/');
	int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) : snprintf(dir, sizeof dir, ".");
	if (n < 0 || (size_t)n >= sizeof dir)
		return NULL;
	if (!dir[0])
		dir[0] = '/', dir[1] = '\0';
	return access(dir, W_OK) ? strerror(errno) : NULL;
}

/* SQLite falls back to read-only when the file cannot be opened for
 * writing; chatd needs to write. Returns 0, or -1 with the reason. Called
 * right after the open, before SQLite takes any lock. */
static int refuse_read_only(struct hstore *s, const char *path)
{
	if (sqlite3_db_readonly(s->db, "main") != 1)
		return 0;
	const char *why = write_refusal(path);
	snprintf(s->err, sizeof s->err, "read-only: cannot open it for writing%s%s", why ? ": " : "", why ? why : "");
	return -1;
}

/* One integer from a PRAGMA into *out. Returns 0 or -1. */
static int pragma_int(struct hstore *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		set_error(s, sql);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * PRAGMA quick_check (every page and b-tree, not the index contents) when the
 * database is not larger than max_bytes: it takes time proportional to the
 * size (3 to 5 ms per MB on the 2-core reference machine) and cannot be cut
 * short (SQLite 3.40 calls no progress handler inside it). Returns 0
 * (s->check says whether it ran), or -1 when the database is damaged.
 */
static int check_structure(struct hstore *s, int64_t max_bytes)
{
	int64_t pages = 0, page_size = 0;
	sqlite3_stmt *st = NULL;
	s->check = HSTORE_CHECK_OFF;
	if (pragma_int(s, "PRAGMA page_count", &pages) || pragma_int(s, "PRAGMA page_size", &page_size))
		return -1;
	s->bytes_at_open = pages * page_size;
	if (max_bytes <= 0)
		return 0;
	if (s->bytes_at_open > max_bytes) {
		s->check = HSTORE_CHECK_TOO_BIG;
		return 0;
	}
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		set_error(s, "quick_check");
		goto fail;
	}
	const char *verdict = (const char *)sqlite3_column_text(st, 0);
	if (!verdict || strcmp(verdict, "ok")) {
		/* "*** in database main ***\nPage 236: ...": one line, the page */
		const char *nl = verdict ? strrchr(verdict, '\n') : NULL;
		snprintf(s->err, sizeof s->err, "damaged (PRAGMA quick_check: %.180s)",
			 nl ? nl + 1 : verdict ? verdict : "?");
		for (char *c = s->err; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		goto fail;
	}
	sqlite3_finalize(st);
	s->check = HSTORE_CHECK_OK;
	return 0;
fail:
	sqlite3_finalize(st);
	return -1;
}

/* sqlite3_wal_hook, after every commit while the checkpointer runs. Its
 * checkpoints run while this connection keeps appending, and SQLite starts
 * the WAL over only after a checkpoint that caught up with its end: under
 * steady load the file could grow without bound. Past WAL_KICK_FRAMES the
 * thread is asked to checkpoint at once (a few MB each time, short enough
 * to catch up between two commits); past WAL_RESTART_FRAMES this
 * connection checkpoints once itself, which copies only what the thread
 * has not copied yet, but stalls the loop for its fsyncs (5-20 ms). */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct hstore *s = arg;
	if (frames >= WAL_RESTART_FRAMES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	else if (frames >= WAL_KICK_FRAMES)
		checkpointer_kick(s->ckpt);
	return SQLITE_OK;
}

struct hstore *hstore_open(const struct hstore_config *cfg, char *err, size_t errsz)
{
	struct hstore *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(cfg->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		const char *why = write_refusal(cfg->path);
		if (why && s->db)
			snprintf(s->err, sizeof s->err, "cannot open: %s (%s)", sqlite3_errmsg(s->db), why);
		else
			set_error(s, "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	hstore_set_busy_timeout(s, cfg->busy_timeout_ms);
	if (refuse_read_only(s, cfg->path) || use_wal(s) ||
	    exec_sql(s, cfg->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", "synchronous") ||
	    check_structure(s, cfg->check_max_bytes) || migrate(s) || register_functions(s) || prepare_all(s) ||
	    read_index_state(s))
		goto fail;
	/* Checkpoints off the loop thread (checkpointer.h); if that thread
	 * cannot start, SQLite keeps checkpointing in the commits. */
	s->ckpt = checkpointer_start(cfg->path, CHECKPOINT_INTERVAL_MS);
	if (s->ckpt)
		sqlite3_wal_hook(s->db, wal_committed, s); /* replaces the automatic checkpoint */
	return s;
fail:
	snprintf(err, errsz, "%s", s->err);
	hstore_close(s);
	return NULL;
}

enum hstore_check hstore_checked(const struct hstore *s, int64_t *bytes)
{
	if (bytes)
		*bytes = s->bytes_at_open;
	return s->check;
}

void hstore_close(struct hstore *s)
{
	if (!s)
		return;
	checkpointer_stop(s->ckpt);
	hstore_rollback(s);
	for (int i = 0; i < ST_COUNT_; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db); /* the last connection checkpoints the WAL */
	free(s);
}

void hstore_set_busy_timeout(struct hstore *s, int ms)
{
	s->busy_ms = ms;
	sqlite3_busy_timeout(s->db, ms);
}

int hstore_begin(struct hstore *s) { return run(s, ST_BEGIN, "begin"); }

int hstore_insert(struct hstore *s, const struct hstore_msg *m)
{
	sqlite3_stmt *st = s->st[ST_INSERT];
	sqlite3_bind_text(st, 1, m->room, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, m->id);
	sqlite3_bind_text(st, 3, m->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->text, (int)m->text_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, m->ts);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		set_error(s, "insert");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE) {
		int64_t seq = sqlite3_last_insert_rowid(s->db);
		if (seq > s->pending_seq)
			s->pending_seq = seq;
		return 0;
	}
	/* A duplicate (room, id) undoes this statement only; anything else may
	 * have ended the transaction. */
	return (rc & 0xff) == SQLITE_CONSTRAINT && !sqlite3_get_autocommit(s->db) ? 1 : -1;
}

int hstore_commit(struct hstore *s)
{
	if (run(s, ST_COMMIT, "commit") == 0) {
		if (s->pending_seq > s->max_seq)
			s->max_seq = s->pending_seq;
		s->pending_seq = 0;
		return 0;
	}
	hstore_rollback(s);
	return -1;
}

void hstore_rollback(struct hstore *s)
{
	s->pending_seq = 0;
	if (s->db && !sqlite3_get_autocommit(s->db)) {
		sqlite3_step(s->st[ST_ROLLBACK]);
		sqlite3_reset(s->st[ST_ROLLBACK]);
	}
}

int64_t hstore_unindexed(const struct hstore *s)
{
	return s->max_seq > s->indexed_seq ? s->max_seq - s->indexed_seq : 0;
}

int hstore_refresh_unindexed(struct hstore *s, int64_t *out)
{
	if (read_index_state(s))
		return -1;
	*out = hstore_unindexed(s);
	return 0;
}

int hstore_unindexed_in_room(struct hstore *s, const char *room, int64_t *out)
{
	sqlite3_stmt *st = s->st[ST_UNINDEXED_IN_ROOM];
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st), ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
	if (ok)
		*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0; /* no row: an empty room */
	else
		set_error(s, "looking for unindexed messages");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ok ? 0 : -1;
}

/* Whether the monotonic clock has reached *t. */
static int reached(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* *t = now + us microseconds (monotonic). */
static void deadline_in(struct timespec *t, int64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += (time_t)(us / 1000000);
	t->tv_nsec += (long)(us % 1000000) * 1000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* Add the messages after the watermark to the index, in seq order, until
 * max_rows or the deadline; returns how many (>= 0) with *last the seq of
 * the last one, or -1. Inside the caller's transaction. */
static int index_rows(struct hstore *s, int64_t after, int max_rows, const struct timespec *deadline,
		      int64_t *last)
{
	sqlite3_stmt *sel = s->st[ST_UNINDEXED], *ins = s->st[ST_FTS_INSERT];
	int n = 0, rc;
	sqlite3_bind_int64(sel, 1, after);
	sqlite3_bind_int(sel, 2, max_rows);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(sel, 0);
		/* the text stays valid until sel steps again: ins is done by then */
		const char *text = (const char *)sqlite3_column_text(sel, 1);
		if (!text) { /* the column is NOT NULL: out of memory */
			rc = SQLITE_NOMEM;
			break;
		}
		sqlite3_bind_int64(ins, 1, seq);
		sqlite3_bind_text(ins, 2, text, sqlite3_column_bytes(sel, 1), SQLITE_STATIC);
		int irc = sqlite3_step(ins);
		sqlite3_reset(ins);
		sqlite3_clear_bindings(ins);
		if (irc != SQLITE_DONE) {
			rc = irc;
			break;
		}
		*last = seq;
		if (++n >= max_rows || reached(deadline)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		set_error(s, "indexing");
	sqlite3_reset(sel);
	sqlite3_clear_bindings(sel);
	return rc == SQLITE_DONE ? n : -1;
}

int hstore_index(struct hstore *s, int max_rows, int budget_us)
{
	struct timespec deadline;
	sqlite3_stmt *set = s->st[ST_SET_WATERMARK];
	int n = 0;
	deadline_in(&deadline, budget_us);
	sqlite3_busy_timeout(s->db, 0); /* never wait: the next batch will do */
	if (run(s, ST_BEGIN, "indexing: begin") || read_index_state(s))
		goto fail;
	int64_t last = s->indexed_seq;
	if (s->max_seq > s->indexed_seq && (n = index_rows(s, s->indexed_seq, max_rows, &deadline, &last)) < 0)
		goto fail;
	if (n > 0) {
		sqlite3_bind_int64(set, 1, last);
		int rc = sqlite3_step(set);
		sqlite3_reset(set);
		sqlite3_clear_bindings(set);
		if (rc != SQLITE_DONE) {
			set_error(s, "indexing: watermark");
			goto fail;
		}
	}
	if (run(s, ST_COMMIT, "indexing: commit"))
		goto fail;
	s->indexed_seq = last;
	sqlite3_busy_timeout(s->db, s->busy_ms);
	return n;
fail:
	hstore_rollback(s); /* s->indexed_seq still holds the committed watermark */
	sqlite3_busy_timeout(s->db, s->busy_ms);
	return -1;
}

int hstore_max_id(struct hstore *s, const char *room, int64_t *out)
{
	sqlite3_stmt *st = s->st[ST_MAX_ID];
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0); /* NULL (no rows) reads as 0 */
	else
		set_error(s, "max id");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static char *copy_column(sqlite3_stmt *st, int col, size_t *len)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	if (n)
		memcpy(copy, v, n);
	copy[n] = '\0';
	if (len)
		*len = n;
	return copy;
}

/* Append the current row of st (id, username, text, ts) to out. */
static int append_row(sqlite3_stmt *st, struct hrows *out)
{
	if (out->n == out->cap) {
		size_t ncap = out->cap ? out->cap * 2 : 16;
		struct hrow *v = realloc(out->v, ncap * sizeof *v);
		if (!v)
			return -1;
		out->v = v;
		out->cap = ncap;
	}
	struct hrow *r = &out->v[out->n];
	r->id = sqlite3_column_int64(st, 0);
	r->ts = sqlite3_column_int64(st, 3);
	r->username = copy_column(st, 1, NULL);
	r->text = copy_column(st, 2, &r->text_len);
	r->to = sqlite3_column_count(st) > 4 ? copy_column(st, 4, NULL) : NULL;
	if (!r->username || !r->text || (sqlite3_column_count(st) > 4 && !r->to)) {
		free(r->username);
		free(r->text);
		free(r->to);
		return -1;
	}
	out->n++;
	return 0;
}

/*
 * Step st (bound with LIMIT limit + 1) and keep up to limit rows within
 * about max_bytes (at least one). Returns the last sqlite result: SQLITE_DONE
 * when the rows were read, an error code otherwise; st is reset.
 */
static int collect_rows(struct hstore *s, sqlite3_stmt *st, int limit, size_t max_bytes, struct hrows *out,
			const char *what)
{
	size_t bytes = 0, taken = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t size = (size_t)sqlite3_column_bytes(st, 1) + (size_t)sqlite3_column_bytes(st, 2) + ROW_OVERHEAD;
		if (taken == (size_t)limit || (taken && bytes + size > max_bytes)) {
			out->more = 1;
			rc = SQLITE_DONE;
			break;
		}
		if (append_row(st, out)) {
			snprintf(s->err, sizeof s->err, "%s: out of memory", what);
			rc = SQLITE_NOMEM;
			break;
		}
		bytes += size;
		taken++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_NOMEM && rc != SQLITE_INTERRUPT)
		set_error(s, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int hstore_newest(struct hstore *s, const char *room, int64_t after, int64_t before, int limit,
		  size_t max_bytes, struct hrows *out)
{
	sqlite3_stmt *st = s->st[ST_NEWEST];
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, before);
	sqlite3_bind_int(st, 4, limit + 1);
	return collect_rows(s, st, limit, max_bytes, out, "reading history") == SQLITE_DONE ? 0 : -1;
}

/* Progress handler: non-zero (interrupt) once the search deadline passed. */
static int past_deadline(void *arg)
{
	const struct hstore *s = arg;
	return reached(&s->deadline);
}

int hstore_search(struct hstore *s, const char *room, const char *query, int limit, size_t max_bytes,
		  int budget_ms, struct hrows *out)
{
	sqlite3_stmt *st = s->st[ST_SEARCH];
	sqlite3_bind_text(st, 1, query, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, room, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit + 1);
	deadline_in(&s->deadline, (int64_t)budget_ms * 1000);
	sqlite3_progress_handler(s->db, PROGRESS_STEPS, past_deadline, s);
	int rc = collect_rows(s, st, limit, max_bytes, out, "search");
	sqlite3_progress_handler(s->db, 0, NULL, NULL);
	if (rc == SQLITE_INTERRUPT) { /* rows come newest first: keep what was found */
		out->incomplete = out->more = 1;
		return 0;
	}
	if (rc == SQLITE_DONE)
		return 0;
	/* A malformed query is a plain SQLITE_ERROR ("fts5: syntax error ...",
	 * "no such column"); I/O and corruption have their own codes. */
	return (rc & 0xff) == SQLITE_ERROR ? -2 : -1;
}

void hrows_free(struct hrows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].username);
		free(rs->v[i].text);
		free(rs->v[i].to);
	}
	free(rs->v);
	rs->v = NULL;
	rs->n = rs->cap = 0;
	rs->more = rs->incomplete = 0;
}

/* ---- private messages and read positions ---- */

/* Bind text or NULL. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Step st once expecting a row of integers into out[0..n) (a statement with
 * no row gives 0s); reset it. Returns 0 or -1. */
static int step_ints(struct hstore *s, sqlite3_stmt *st, int64_t *out, int n, int *found, const char *what)
{
	int rc = sqlite3_step(st);
	if (found)
		*found = rc == SQLITE_ROW;
	for (int i = 0; i < n; i++)
		out[i] = rc == SQLITE_ROW ? sqlite3_column_int64(st, i) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		set_error(s, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int hstore_dm_max_id(struct hstore *s, int64_t *out)
{
	return step_ints(s, s->st[ST_DM_MAX_ID], out, 1, NULL, "max private message id");
}

int hstore_dm_insert(struct hstore *s, const struct hstore_dm *m)
{
	sqlite3_stmt *st = s->st[ST_DM_INSERT];
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_text(st, 2, m->from, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, m->from_session);
	sqlite3_bind_text(st, 4, m->to, -1, SQLITE_STATIC);
	bind_text_or_null(st, 5, m->to_session);
	sqlite3_bind_text(st, 6, m->text, (int)m->text_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, m->ts);
	int rc = run(s, ST_DM_INSERT, "storing a private message");
	sqlite3_clear_bindings(st);
	return rc;
}

int hstore_dm_page(struct hstore *s, const char *me, const char *session, const char *other, int64_t before,
		   int limit, size_t max_bytes, struct hrows *out)
{
	sqlite3_stmt *st = s->st[ST_DM_PAGE];
	sqlite3_bind_text(st, 1, me, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, other, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, before);
	sqlite3_bind_int(st, 5, limit + 1);
	return collect_rows(s, st, limit, max_bytes, out, "reading private messages") == SQLITE_DONE ? 0 : -1;
}

void hconv_free(struct hconv *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].with);
	free(v);
}

int hstore_dm_conversations(struct hstore *s, const char *me, const char *session, int limit, struct hconv **out,
			    size_t *n)
{
	sqlite3_stmt *st = s->st[ST_DM_CONVERSATIONS];
	struct hconv *v = NULL;
	size_t cnt = 0;
	int rc;
	sqlite3_bind_text(st, 1, me, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct hconv *nv = realloc(v, (cnt + 1) * sizeof *nv);
		if (nv)
			v = nv;
		char *with = nv ? copy_column(st, 0, NULL) : NULL;
		if (!with) {
			rc = SQLITE_NOMEM;
			snprintf(s->err, sizeof s->err, "reading conversations: out of memory");
			break;
		}
		v[cnt].with = with;
		v[cnt++].last_id = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
		set_error(s, "reading conversations");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		hconv_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int hstore_dm_unread(struct hstore *s, const char *me, const char *session, const char *other, int64_t after,
		     int64_t *out)
{
	sqlite3_stmt *st = s->st[ST_DM_UNREAD];
	sqlite3_bind_text(st, 1, me, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, other, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, after);
	return step_ints(s, st, out, 1, NULL, "counting unread private messages");
}

int hstore_read_get(struct hstore *s, const char *name, const char *session, int kind, const char *target,
		    int64_t *out, int *found)
{
	sqlite3_stmt *st = s->st[ST_READ_GET];
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, kind);
	sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
	return step_ints(s, st, out, 1, found, "reading a read position");
}

int hstore_read_advance(struct hstore *s, const char *name, const char *session, int kind, const char *target,
			int64_t id)
{
	sqlite3_stmt *st = s->st[ST_READ_ADVANCE];
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, kind);
	sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	int rc = run(s, ST_READ_ADVANCE, "storing a read position");
	sqlite3_clear_bindings(st);
	return rc;
}

int hstore_room_unread(struct hstore *s, const char *room, int64_t after, const char *name, int64_t *unread,
		       int64_t *mentions)
{
	sqlite3_stmt *st = s->st[ST_ROOM_UNREAD];
	int64_t v[2];
	sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, HSTORE_UNREAD_SCAN_MAX);
	if (step_ints(s, st, v, 2, NULL, "counting unread messages"))
		return -1;
	*unread = v[0];
	*mentions = v[1];
	return 0;
}
