/* Unit tests: the history plugin (plugins/history/) on the real core with a
 * fake transport: storage and acknowledgement, replay, paging, search, ids
 * across restarts, failures. */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "checkutil.h"
#include "client.h"
#include "http.h"
#include "testcore.h"

/* options, with commit_delay = 0 first unless they set it: the suites
 * drive the loop by hand, one tc_idle being one iteration that commits. */
static const char *commit_now(const char *options, char *buf, size_t n)
{
	if (strstr(options, "commit_delay"))
		return options;
	snprintf(buf, n, "commit_delay = 0\n%s", options);
	return buf;
}

/* A core with the history plugin and extra option lines (may be ""). */
static struct testcore *hist_new(const char *options)
{
	char buf[1024];
	return plugin_core("history", commit_now(options, buf, sizeof buf));
}

/* A core whose data directory is dir (kept across tc_free). */
static struct testcore *hist_new_in(const char *dir, const char *options)
{
	char cfg[2048], buf[1024];
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\n%s", dir,
		 commit_now(options, buf, sizeof buf));
	struct testcore *tc = tc_new(cfg);
	ck_assert_ptr_nonnull(tc);
	return tc;
}

static void make_temp_dir(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/chatd-history-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Like tc_connect, with ?since=ID (the reconnect of a client). */
static struct chatd_client *connect_since(struct testcore *tc, const char *room, const char *name, int64_t since)
{
	struct chatd_client *c = client_new(&tc->srv, tc, "127.0.0.1");
	ck_assert_ptr_nonnull(c);
	snprintf(c->join_room, sizeof c->join_room, "%s", room);
	ck_assert_int_eq(client_set_query_name(c, name), 0);
	c->since = since;
	const char *reason = NULL;
	ck_assert_int_eq(chat_handshake(&tc->srv, c, NULL, "localhost", &reason), 0);
	chat_open(&tc->srv, c);
	return c;
}

static void say(struct testcore *tc, struct chatd_client *c, const char *text)
{
	send_json(tc, c, json_pack("{s:s,s:s}", "type", "message", "text", text));
}

/* Say count messages "<prefix> N" (N from 1) and commit them. */
static void say_many(struct testcore *tc, struct chatd_client *c, const char *prefix, int count)
{
	char text[64];
	for (int i = 1; i <= count; i++) {
		snprintf(text, sizeof text, "%s %d", prefix, i);
		say(tc, c, text);
	}
	tc_idle(tc);
}

/* Every queued frame of c of the given type (NULL = all) as a new array, the rest dropped. */
static json_t *frames_of(struct testcore *tc, struct chatd_client *c, const char *type)
{
	json_t *all = json_array(), *v;
	while ((v = tc_recv(tc, c))) {
		if (!type || (str(v, "type") && !strcmp(str(v, "type"), type)))
			json_array_append(all, v);
		json_decref(v);
	}
	return all;
}

/* Request a history page; returns the answer (new). before/limit < 0 = absent. */
static json_t *history_page(struct testcore *tc, struct chatd_client *c, json_int_t before, json_int_t limit)
{
	json_t *req = json_pack("{s:s}", "type", "history");
	if (before >= 0)
		json_object_set_new(req, "before", json_integer(before));
	if (limit >= 0)
		json_object_set_new(req, "limit", json_integer(limit));
	tc_drain(c);
	send_json(tc, c, req);
	json_t *a = tc_recv(tc, c);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(str(a, "type"), "history");
	return a;
}

/* The ids of the message objects in arr, as "1,2,3". */
static void ids_of(json_t *arr, char *out, size_t n)
{
	size_t i, len = 0;
	json_t *m;
	out[0] = '\0';
	json_array_foreach(arr, i, m)
	{
		len += (size_t)snprintf(out + len, n - len, "%s%lld", i ? "," : "", (long long)num(m, "id"));
		ck_assert_uint_lt(len, n);
	}
}

/* The value of the history counter `name` on /metrics (-1 when absent). */
static int64_t metric(struct testcore *tc, const char *name) { return counter_value(tc, "history", name); }

/* Expect c's next frame to be an error with code. */
static void expect_error(struct testcore *tc, struct chatd_client *c, const char *code)
{
	json_t *e = tc_recv(tc, c);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(str(e, "type"), "error");
	ck_assert_str_eq(str(e, "code"), code);
	json_decref(e);
}

/* One integer from sql on the database file at path (-1 on error; NULL reads
 * as 0). A read-write connection: fts5vocab needs a temp table. */
static int64_t db_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Number of rows in messages of the database file at path (-1 on error). */
static int count_rows(const char *path, const char *where)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM messages %s", where);
	return (int)db_int(path, sql);
}

static void db_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}

/* The watermark of the lazy full-text index (schema version 2). */
static int64_t watermark(const char *path) { return db_int(path, "SELECT indexed_seq FROM fts_state"); }

/*
 * Check the index against the watermark, given a word that every message
 * holds exactly once: the index lists exactly the messages with seq <= the
 * watermark, each once, and FTS5 finds its own structure sound. Returns the
 * watermark.
 */
static int64_t check_index(const char *path, const char *word)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, messages_fts, instance);"
					  "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 0);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT (SELECT indexed_seq FROM fts_state),"
					    " (SELECT COUNT(*) FROM messages WHERE seq <= (SELECT indexed_seq FROM fts_state)),"
					    " COUNT(*), COUNT(DISTINCT doc),"
					    " COUNT(CASE WHEN doc > (SELECT indexed_seq FROM fts_state) THEN 1 END),"
					    " (SELECT COUNT(*) FROM messages WHERE seq <= (SELECT indexed_seq FROM fts_state)"
					    "  AND seq NOT IN (SELECT doc FROM temp.vocab WHERE term = ?1))"
					    " FROM temp.vocab WHERE term = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, word, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t wm = sqlite3_column_int64(st, 0), below = sqlite3_column_int64(st, 1);
	int64_t instances = sqlite3_column_int64(st, 2), docs = sqlite3_column_int64(st, 3);
	int64_t above = sqlite3_column_int64(st, 4), missing = sqlite3_column_int64(st, 5);
	ck_assert_msg(instances == docs && docs == below && above == 0 && missing == 0,
		      "watermark %lld: %lld messages below it, index holds %lld entries of %lld messages, "
		      "%lld above it, %lld below it missing",
		      (long long)wm, (long long)below, (long long)instances, (long long)docs, (long long)above,
		      (long long)missing);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return wm;
}

/* Search q in c's room; returns the answer (new). */
static json_t *search(struct testcore *tc, struct chatd_client *c, const char *q)
{
	tc_drain(c);
	send_json(tc, c, json_pack("{s:s,s:s,s:i}", "type", "search", "q", q, "limit", 200));
	json_t *r = tc_recv(tc, c);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(str(r, "type"), "search");
	return r;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&t, &t))
		;
}

START_TEST(acknowledged_only_after_commit)
{
	struct testcore *tc = hist_new("");
	char path[512];
	snprintf(path, sizeof path, "%s/history.db", tc->data_dir);
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *b = tc_connect(tc, "r", "Bob", NULL);
	tc_drain(a), tc_drain(b);
	tc_send(tc, a, "{\"text\":\"one\",\"client_id\":\"k1\"}");
	tc_send(tc, a, "{\"text\":\"two\"}");
	ck_assert_uint_eq(tc_pending(a), 0); /* no echo (ack) before the commit */
	ck_assert_uint_eq(tc_pending(b), 0);
	ck_assert_int_eq(count_rows(path, ""), 0);
	tc_idle(tc);
	ck_assert_int_eq(count_rows(path, ""), 2); /* committed when acknowledged */
	json_t *m1 = tc_recv(tc, a), *m2 = tc_recv(tc, a);
	ck_assert_str_eq(str(m1, "text"), "one");
	ck_assert_str_eq(str(m1, "client_id"), "k1");
	ck_assert_int_eq(num(m1, "id"), 1);
	ck_assert_int_eq(num(m2, "id"), 2);
	ck_assert_ptr_null(json_object_get(m1, "history"));
	json_decref(m1), json_decref(m2);
	ck_assert_uint_eq(tc_pending(b), 2);
	ck_assert_int_eq(metric(tc, "stored"), 2);
	ck_assert_int_eq(metric(tc, "batches"), 1); /* one transaction per loop iteration */
	ck_assert_int_eq(metric(tc, "store_failed"), 0);
	tc_idle(tc); /* nothing queued: no empty transaction */
	ck_assert_int_eq(metric(tc, "batches"), 1);
	tc_free(tc);
}
END_TEST

static double seconds_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Group commit waits only when waiting buys something: a message that comes
 * alone is committed (and acknowledged) in the iteration that read it, also
 * right after another commit and with a long commit_delay. */
START_TEST(a_lone_message_is_committed_at_once)
{
	struct testcore *tc = hist_new("commit_delay = 1000\n");
	char path[512];
	snprintf(path, sizeof path, "%s/history.db", tc->data_dir);
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"text\":\"one\"}");
	tc_idle(tc);
	ck_assert_int_eq(count_rows(path, ""), 1);
	ck_assert_uint_eq(tc_pending(a), 1); /* acknowledged in this iteration */
	tc_drain(a);
	tc_send(tc, a, "{\"text\":\"two\"}");
	tc_idle(tc); /* a commit just now: still no wait */
	ck_assert_int_eq(count_rows(path, ""), 2);
	ck_assert_uint_eq(tc_pending(a), 1);
	ck_assert_int_eq(metric(tc, "batches"), 2);
	tc_free(tc);
}
END_TEST

/* Messages that keep coming faster than one commit per commit_delay: the
 * first 8 (the burst) are committed at once, one transaction each; then the
 * budget is spent, and the next ones gather (not acknowledged) until the
 * commit timer brings one transaction for all of them; a full queue (1024)
 * commits at once whatever the budget. */
START_TEST(a_filling_queue_shares_transactions)
{
	struct testcore *tc = hist_new("commit_delay = 1000\n");
	char path[512];
	snprintf(path, sizeof path, "%s/history.db", tc->data_dir);
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	tc_drain(a);
	for (int i = 1; i <= 8; i++) {
		tc_send(tc, a, "{\"text\":\"burst\"}");
		tc_idle(tc);
		ck_assert_int_eq(metric(tc, "batches"), i);
	}
	ck_assert_uint_eq(tc_pending(a), 8);
	tc_drain(a);
	tc_send(tc, a, "{\"text\":\"nine\"}");
	tc_idle(tc);
	tc_send(tc, a, "{\"text\":\"ten\"}");
	tc_idle(tc);
	ck_assert_int_eq(count_rows(path, ""), 8); /* gathering */
	ck_assert_uint_eq(tc_pending(a), 0);       /* and not acknowledged */
	tc_run(tc, 1500); /* the commit timer wakes the loop once a commit is earned */
	tc_idle(tc);
	ck_assert_int_eq(count_rows(path, ""), 10);
	ck_assert_int_eq(metric(tc, "batches"), 9); /* nine and ten: one transaction */
	ck_assert_uint_eq(tc_pending(a), 2);
	tc_drain(a);
	for (int i = 0; i < 1024; i++)
		tc_send(tc, a, "{\"text\":\"many\"}");
	tc_idle(tc); /* the budget is spent again, but the queue is full: no wait */
	ck_assert_int_eq(count_rows(path, ""), 10 + 1024);
	ck_assert_int_eq(metric(tc, "batches"), 10);
	tc_free(tc);
}
END_TEST

START_TEST(replay_on_join_oldest_first_before_live)
{
	struct testcore *tc = hist_new("replay = 3\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "m", 5);
	struct chatd_client *b = tc_connect(tc, "r", "Bob", NULL);
	json_t *w = tc_recv(tc, b);
	ck_assert_str_eq(str(w, "type"), "welcome");
	ck_assert_int_eq(num(w, "last_id"), 5);
	json_decref(w);
	json_t *msgs = frames_of(tc, b, "message");
	char ids[64];
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "3,4,5");
	json_t *m = json_array_get(msgs, 0);
	ck_assert(is_true(m, "history"));
	ck_assert_str_eq(str(m, "room"), "r");
	ck_assert_str_eq(str(m, "username"), "Alice");
	ck_assert_str_eq(str(m, "text"), "m 3");
	ck_assert_int_gt(num(m, "ts"), 1700000000000LL);
	ck_assert_ptr_null(json_object_get(m, "truncated"));
	json_decref(msgs);
	ck_assert_int_eq(metric(tc, "replayed"), 3);
	/* a live message after the replay carries no history flag */
	say(tc, a, "live");
	tc_idle(tc);
	json_t *live = tc_expect(tc, b, "message", NULL);
	ck_assert_int_eq(num(live, "id"), 6);
	ck_assert_ptr_null(json_object_get(live, "history"));
	json_decref(live);
	tc_free(tc);
}
END_TEST

START_TEST(replay_zero_is_off_but_since_still_works)
{
	struct testcore *tc = hist_new("replay = 0\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "m", 3);
	struct chatd_client *b = tc_connect(tc, "r", "Bob", NULL);
	json_t *msgs = frames_of(tc, b, "message");
	ck_assert_uint_eq(json_array_size(msgs), 0);
	json_decref(msgs);
	struct chatd_client *c = connect_since(tc, "r", "Carol", 1);
	msgs = frames_of(tc, c, "message");
	char ids[64];
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "2,3");
	json_decref(msgs);
	tc_free(tc);
}
END_TEST

/* Frames of c after its welcome: replayed ones must all come first. Returns
 * the message ids seen, in order, and checks the history flags. */
static void seam_ids(struct testcore *tc, struct chatd_client *c, char *ids, size_t n, int replayed)
{
	json_t *all = frames_of(tc, c, NULL), *v;
	json_t *msgs = json_array();
	size_t i;
	ck_assert_str_eq(str(json_array_get(all, 0), "type"), "welcome");
	json_array_foreach(all, i, v)
	{
		if (strcmp(str(v, "type"), "message"))
			continue;
		int is_history = json_array_size(msgs) < (size_t)replayed;
		ck_assert_int_eq(is_true(v, "history"), is_history);
		json_array_append(msgs, v);
	}
	ids_of(msgs, ids, n);
	json_decref(msgs);
	json_decref(all);
}

START_TEST(since_replay_has_no_gap_and_no_duplicate_at_the_seam)
{
	struct testcore *tc = hist_new("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "m", 3);
	/* message 4 is held (queued, not committed) while Bob reconnects */
	say(tc, a, "m 4");
	struct chatd_client *b = connect_since(tc, "r", "Bob", 1);
	struct chatd_client *c = connect_since(tc, "r", "Carol", 3);
	struct chatd_client *d = connect_since(tc, "r", "Dave", 4); /* ahead of what is stored */
	say(tc, a, "m 5"); /* held too, same batch */
	tc_idle(tc);
	say(tc, a, "m 6");
	tc_idle(tc);
	char ids[64];
	seam_ids(tc, b, ids, sizeof ids, 2);
	ck_assert_str_eq(ids, "2,3,4,5,6");
	seam_ids(tc, c, ids, sizeof ids, 0);
	ck_assert_str_eq(ids, "4,5,6");
	seam_ids(tc, d, ids, sizeof ids, 0);
	ck_assert_str_eq(ids, "4,5,6");
	/* a join frame's since works the same way */
	struct chatd_client *e = tc_connect(tc, "lobby", "Eve", NULL);
	/* a message in the lobby: the core's leave_room() reads a room it has
	 * just freed when the last member leaves a room without messages */
	say(tc, e, "hi lobby");
	tc_idle(tc);
	tc_drain(e);
	say(tc, a, "m 7");
	tc_send(tc, e, "{\"type\":\"join\",\"room\":\"r\",\"since\":5}");
	tc_idle(tc);
	json_t *msgs = frames_of(tc, e, "message");
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "6,7");
	ck_assert(is_true(json_array_get(msgs, 0), "history"));
	ck_assert(!is_true(json_array_get(msgs, 1), "history"));
	json_decref(msgs);
	tc_free(tc);
}
END_TEST

START_TEST(since_replay_is_bounded_and_says_truncated)
{
	struct testcore *tc = hist_new("max_replay = 3\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "m", 10);
	struct chatd_client *b = connect_since(tc, "r", "Bob", 2);
	json_t *msgs = frames_of(tc, b, "message");
	char ids[64];
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "8,9,10");
	ck_assert(is_true(json_array_get(msgs, 0), "truncated"));
	ck_assert_ptr_null(json_object_get(json_array_get(msgs, 1), "truncated"));
	json_decref(msgs);
	/* exactly max_replay missing: complete, not truncated */
	struct chatd_client *c = connect_since(tc, "r", "Carol", 7);
	msgs = frames_of(tc, c, "message");
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "8,9,10");
	ck_assert_ptr_null(json_object_get(json_array_get(msgs, 0), "truncated"));
	json_decref(msgs);
	tc_free(tc);
}
END_TEST

START_TEST(replay_is_bounded_by_bytes)
{
	struct testcore *tc = hist_new("max_replay_bytes = 4096\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	char text[1001];
	memset(text, 'x', 1000);
	text[1000] = '\0';
	for (int i = 0; i < 10; i++)
		say(tc, a, text);
	tc_idle(tc);
	struct chatd_client *b = connect_since(tc, "r", "Bob", 0);
	json_t *msgs = frames_of(tc, b, "message");
	char ids[64];
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "8,9,10"); /* the newest that fit in about 4 KB */
	ck_assert(is_true(json_array_get(msgs, 0), "truncated"));
	json_decref(msgs);
	json_t *page = history_page(tc, b, -1, 200);
	ck_assert_uint_eq(json_array_size(json_object_get(page, "messages")), 3);
	ck_assert(is_true(page, "has_more"));
	json_decref(page);
	tc_free(tc);
}
END_TEST

START_TEST(history_pages_backwards)
{
	struct testcore *tc = hist_new("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *o = tc_connect(tc, "other", "Oscar", NULL);
	say_many(tc, o, "elsewhere", 2);
	say_many(tc, a, "m", 7);
	char ids[64];
	json_t *p = history_page(tc, a, -1, 3);
	ck_assert_str_eq(str(p, "room"), "r");
	ids_of(json_object_get(p, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "5,6,7");
	ck_assert(is_true(p, "has_more"));
	json_t *m = json_array_get(json_object_get(p, "messages"), 0);
	ck_assert_str_eq(str(m, "type"), "message");
	ck_assert_str_eq(str(m, "room"), "r");
	ck_assert_str_eq(str(m, "text"), "m 5");
	ck_assert_str_eq(str(m, "username"), "Alice");
	ck_assert(is_true(m, "history"));
	ck_assert_int_gt(num(m, "ts"), 0);
	json_decref(p);
	p = history_page(tc, a, 5, 3);
	ids_of(json_object_get(p, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "2,3,4");
	ck_assert(is_true(p, "has_more"));
	json_decref(p);
	p = history_page(tc, a, 2, 3);
	ids_of(json_object_get(p, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1");
	ck_assert(json_is_false(json_object_get(p, "has_more")));
	json_decref(p);
	p = history_page(tc, a, 1, -1);
	ck_assert(json_is_array(json_object_get(p, "messages")));
	ck_assert_uint_eq(json_array_size(json_object_get(p, "messages")), 0);
	ck_assert(json_is_false(json_object_get(p, "has_more")));
	json_decref(p);
	p = history_page(tc, a, -1, -1); /* default: newest 50 */
	ids_of(json_object_get(p, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2,3,4,5,6,7");
	ck_assert(json_is_false(json_object_get(p, "has_more")));
	json_decref(p);
	p = history_page(tc, a, -1, 7); /* exactly all: no more */
	ck_assert(json_is_false(json_object_get(p, "has_more")));
	json_decref(p);
	ck_assert_int_eq(metric(tc, "history_requests"), 6);
	tc_free(tc);
}
END_TEST

START_TEST(ids_and_history_survive_a_restart)
{
	char dir[64];
	make_temp_dir(dir, sizeof dir);
	struct testcore *tc = hist_new_in(dir, "");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "before", 3);
	tc_free(tc);

	tc = hist_new_in(dir, "");
	a = tc_connect(tc, "r", "Alice", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_int_eq(num(w, "last_id"), 3);
	json_decref(w);
	json_t *msgs = frames_of(tc, a, "message");
	char ids[64];
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2,3");
	json_decref(msgs);
	say(tc, a, "after");
	tc_idle(tc);
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 4);
	json_decref(m);
	/* a room that had no messages starts at 1 */
	struct chatd_client *b = tc_connect(tc, "fresh", "Bob", NULL);
	tc_drain(b);
	say(tc, b, "first");
	tc_idle(tc);
	m = tc_expect(tc, b, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 1);
	json_decref(m);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

START_TEST(cleanup_commits_what_is_queued)
{
	char dir[64];
	make_temp_dir(dir, sizeof dir);
	struct testcore *tc = hist_new_in(dir, "");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say(tc, a, "queued at shutdown");
	tc_free(tc); /* no tc_idle: cleanup must commit and release */
	tc = hist_new_in(dir, "");
	a = tc_connect(tc, "r", "Alice", NULL);
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(str(m, "text"), "queued at shutdown");
	ck_assert(is_true(m, "history"));
	json_decref(m);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

START_TEST(metacharacters_and_unicode_round_trip)
{
	static const char *const texts[] = {
		"'); DROP TABLE messages; --",
		"\"quoted\" \\backslash\\ % _ * ? ; -- /* */ `x` $1 :name @p ?1",
		"h\xc3\xa9llo w\xc3\xb6rld \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x8c\x8d \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7",
		"tab\there\nnew line and \x7f and \\u0000 literally",
	};
	size_t n = sizeof texts / sizeof texts[0];
	char dir[64];
	make_temp_dir(dir, sizeof dir);
	struct testcore *tc = hist_new_in(dir, "");
	struct chatd_client *a = tc_connect(tc, "r", "O'Brien\"; --", NULL);
	for (size_t i = 0; i < n; i++)
		say(tc, a, texts[i]);
	tc_idle(tc);
	tc_free(tc);
	tc = hist_new_in(dir, "");
	a = tc_connect(tc, "r", "Zed", NULL);
	json_t *p = history_page(tc, a, -1, -1);
	json_t *msgs = json_object_get(p, "messages");
	ck_assert_uint_eq(json_array_size(msgs), n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(str(json_array_get(msgs, i), "text"), texts[i]);
		ck_assert_str_eq(str(json_array_get(msgs, i), "username"), "O'Brien\"; --");
	}
	json_decref(p);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

START_TEST(search_finds_words_in_the_room)
{
	struct testcore *tc = hist_new("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *o = tc_connect(tc, "other", "Oscar", NULL);
	say(tc, a, "the quick brown fox");
	say(tc, a, "a lazy dog");
	say(tc, a, "Fox again, caf\xc3\xa9");
	say(tc, o, "a fox elsewhere");
	tc_idle(tc);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"fox\"}");
	json_t *r = tc_recv(tc, a);
	ck_assert_str_eq(str(r, "type"), "search");
	ck_assert_str_eq(str(r, "room"), "r");
	ck_assert_str_eq(str(r, "q"), "fox");
	char ids[64];
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,3"); /* oldest first, this room only */
	ck_assert(is_true(json_array_get(json_object_get(r, "messages"), 0), "history"));
	json_decref(r);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"fox\",\"limit\":1}");
	r = tc_recv(tc, a);
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "3"); /* the newest match */
	ck_assert(is_true(r, "has_more"));
	json_decref(r);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"lazy AND dog\"}");
	r = tc_recv(tc, a);
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "2");
	json_decref(r);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"cafe\"}"); /* unicode61 folds diacritics */
	r = tc_recv(tc, a);
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "3");
	json_decref(r);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"nothing\"}");
	r = tc_recv(tc, a);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "messages")), 0);
	json_decref(r);
	ck_assert_int_eq(metric(tc, "searches"), 5);
	tc_free(tc);
}
END_TEST

START_TEST(search_is_bounded_in_time)
{
	char dir[64], path[128];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	struct testcore *tc = hist_new_in(dir, "");
	tc_free(tc); /* the schema exists now: fill it directly, fast */
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	static const char insert[] = "INSERT INTO messages(room, id, username, text, ts) VALUES (?1, ?2, 'Bot', ?3, 1)";
	ck_assert_int_eq(sqlite3_prepare_v2(db, insert, -1, &st, NULL), SQLITE_OK);
	for (int i = 1; i <= 60000; i++) {
		int small = i <= 3; /* the small room's matches are the oldest rows */
		sqlite3_bind_text(st, 1, small ? "small" : "big", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, small ? i : i - 3);
		sqlite3_bind_text(st, 3, "a very common word", -1, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	/* indexed as the plugin would have by now: this is about the query */
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO messages_fts(rowid, text) SELECT seq, text FROM messages;"
					  "UPDATE fts_state SET indexed_seq = (SELECT MAX(seq) FROM messages);"
					  "COMMIT",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	tc = hist_new_in(dir, "search_budget = 1\n");
	struct chatd_client *a = tc_connect(tc, "small", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"common\"}");
	json_t *r = tc_recv(tc, a);
	ck_assert_str_eq(str(r, "type"), "search");
	ck_assert(is_true(r, "incomplete")); /* 60000 matches elsewhere: cut short */
	ck_assert(is_true(r, "has_more"));
	json_decref(r);
	tc_free(tc);
	tc = hist_new_in(dir, "search_budget = 10000\n");
	a = tc_connect(tc, "small", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"search\",\"q\":\"common\"}");
	r = tc_recv(tc, a);
	char ids[64];
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2,3");
	ck_assert_ptr_null(json_object_get(r, "incomplete"));
	ck_assert(json_is_false(json_object_get(r, "has_more")));
	json_decref(r);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

START_TEST(bad_requests_are_refused)
{
	static const char *const bad[] = {
		"{\"type\":\"history\",\"before\":\"x\"}",
		"{\"type\":\"history\",\"before\":0}",
		"{\"type\":\"history\",\"before\":-5}",
		"{\"type\":\"history\",\"limit\":0}",
		"{\"type\":\"history\",\"limit\":201}",
		"{\"type\":\"history\",\"limit\":\"5\"}",
		"{\"type\":\"history\",\"limit\":1.5}",
		"{\"type\":\"search\"}",
		"{\"type\":\"search\",\"q\":\"\"}",
		"{\"type\":\"search\",\"q\":5}",
		"{\"type\":\"search\",\"q\":\"fox\",\"limit\":0}",
		"{\"type\":\"search\",\"q\":\"\\\"unbalanced\"}",
		"{\"type\":\"search\",\"q\":\"AND\"}",
		"{\"type\":\"search\",\"q\":\"nosuchcolumn: x\"}",
		"{\"type\":\"search\",\"q\":\"(((\"}",
	};
	struct testcore *tc = hist_new("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "fox", 2);
	tc_drain(a);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tc_send(tc, a, bad[i]);
		json_t *e = tc_recv(tc, a);
		ck_assert_msg(e && !strcmp(str(e, "type"), "error") && !strcmp(str(e, "code"), "bad_request"),
			      "%s was not refused with bad_request", bad[i]);
		ck_assert_uint_eq(tc_pending(a), 0);
		json_decref(e);
	}
	char q[400];
	memset(q, 'a', 300);
	q[300] = '\0';
	send_json(tc, a, json_pack("{s:s,s:s}", "type", "search", "q", q));
	expect_error(tc, a, "bad_request");
	ck_assert_int_eq(tc_close_code(a), 0); /* still connected, still works */
	json_t *p = history_page(tc, a, -1, -1);
	ck_assert_uint_eq(json_array_size(json_object_get(p, "messages")), 2);
	json_decref(p);
	tc_free(tc);
}
END_TEST

static void expect_init_error(const char *config, const char *want1, const char *want2)
{
	char err[1024] = "";
	struct testcore *tc = tc_try_new(config, err, sizeof err);
	ck_assert_msg(tc == NULL, "config loaded but should not: %s", config);
	ck_assert_msg(strstr(err, want1) != NULL, "error '%s' lacks '%s'", err, want1);
	ck_assert_msg(!want2 || strstr(err, want2) != NULL, "error '%s' lacks '%s'", err, want2);
}

START_TEST(bad_options_fail_init)
{
	expect_init_error("[plugin history]\ncolour = red\n", "test.conf:2: plugin history: option 'colour': unknown option",
			  NULL);
	expect_init_error("[plugin history]\nreplay = -1\n", "test.conf:2: plugin history: option 'replay': must be",
			  NULL);
	expect_init_error("[plugin history]\n\nreplay = lots\n", "test.conf:3: plugin history: option 'replay'", NULL);
	expect_init_error("[plugin history]\nmax_replay = 0\n", "option 'max_replay': must be an integer from 1", NULL);
	expect_init_error("[plugin history]\nmax_replay = 10\nreplay = 20\n",
			  "test.conf:3: plugin history: option 'replay': larger than max_replay", NULL);
	expect_init_error("[plugin history]\nsynchronous = sometimes\n",
			  "option 'synchronous': must be normal or full", NULL);
	expect_init_error("[plugin history]\nfile =\n", "test.conf:2: plugin history: option 'file'", NULL);
	expect_init_error("[plugin history]\nbusy_timeout = 10s\n", "option 'busy_timeout'", NULL);
	expect_init_error("[plugin history]\nmax_replay_bytes = 100\n", "option 'max_replay_bytes'", NULL);
	expect_init_error("[plugin history]\nsearch_budget = 0\n", "option 'search_budget'", NULL);
	expect_init_error("[plugin history]\ncommit_delay = -1\n", "option 'commit_delay': must be an integer from 0",
			  NULL);
	/* a smaller max_replay lowers the default replay instead of failing */
	struct testcore *tc = hist_new("max_replay = 10\nsynchronous = full\nbusy_timeout = 0\n");
	tc_free(tc);
}
END_TEST

START_TEST(unusable_database_fails_init_naming_the_file)
{
	char dir[64], cfg[512], path[128], want[160];
	make_temp_dir(dir, sizeof dir);
	/* a directory where the database file should be */
	snprintf(path, sizeof path, "%s/history.db", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\n", dir);
	snprintf(want, sizeof want, "history database %s: ", path);
	expect_init_error(cfg, "test.conf:3: plugin history: ", want);
	/* a file that is not a database (corrupt) */
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\nfile = junk.db\n", dir);
	snprintf(path, sizeof path, "%s/junk.db", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database, just some text. ", f);
	fclose(f);
	snprintf(want, sizeof want, "history database %s: ", path);
	expect_init_error(cfg, "test.conf:4: plugin history: option 'file': ", want);
	expect_init_error(cfg, "not a database", NULL);
	/* a directory that does not exist (or cannot be written) */
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\nfile = missing/h.db\n", dir);
	snprintf(want, sizeof want, "history database %s/missing/h.db: ", dir);
	expect_init_error(cfg, want, "unable to open");
	if (geteuid() != 0) { /* root writes anywhere */
		snprintf(path, sizeof path, "%s/ro", dir);
		ck_assert_int_eq(mkdir(path, 0500), 0);
		snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\n", path);
		snprintf(want, sizeof want, "history database %s/history.db: ", path);
		expect_init_error(cfg, want, NULL);
	}
	remove_dir(dir);
}
END_TEST

START_TEST(newer_schema_is_refused)
{
	char dir[64], path[128], cfg[256];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
					  "INSERT INTO schema_version VALUES (99);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\n", dir);
	expect_init_error(cfg, path, "schema version 99 is newer");
	remove_dir(dir);
}
END_TEST

START_TEST(store_failure_delivers_and_tells_sender)
{
	char dir[64], path[128];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	struct testcore *tc = hist_new_in(dir, "busy_timeout = 200\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *b = tc_connect(tc, "r", "Bob", NULL);
	say_many(tc, a, "ok", 1);
	tc_drain(a), tc_drain(b);
	/* another process holds the write lock: the commit fails */
	sqlite3 *other = NULL;
	ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	tc_send(tc, a, "{\"text\":\"lost\",\"client_id\":\"k2\"}");
	double t0 = seconds_now();
	tc_idle(tc);
	ck_assert_double_ge(seconds_now() - t0, 0.15); /* it waited busy_timeout first */
	json_t *m = tc_recv(tc, a);
	ck_assert_str_eq(str(m, "text"), "lost"); /* delivered anyway */
	ck_assert_str_eq(str(m, "client_id"), "k2");
	ck_assert_int_eq(num(m, "id"), 2);
	json_decref(m);
	expect_error(tc, a, "not_stored");
	/* while failing, a batch does not wait again */
	say(tc, a, "lost too");
	t0 = seconds_now();
	tc_idle(tc);
	ck_assert_double_lt(seconds_now() - t0, 0.1);
	m = tc_recv(tc, a);
	ck_assert_str_eq(str(m, "text"), "lost too");
	json_decref(m);
	expect_error(tc, a, "not_stored");
	json_t *got = frames_of(tc, b, "message");
	ck_assert_uint_eq(json_array_size(got), 2);
	json_decref(got);
	ck_assert_int_eq(metric(tc, "store_failed"), 2);
	/* the lock goes away: storing resumes, ids go on */
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	say(tc, a, "back");
	tc_idle(tc);
	m = tc_recv(tc, a);
	ck_assert_int_eq(num(m, "id"), 4);
	json_decref(m);
	ck_assert_uint_eq(tc_pending(a), 0);
	json_t *p = history_page(tc, a, -1, -1);
	char ids[64];
	ids_of(json_object_get(p, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,4");
	json_decref(p);
	ck_assert_int_eq(metric(tc, "stored"), 2);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

START_TEST(sender_gone_before_commit)
{
	struct testcore *tc = hist_new("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *b = tc_connect(tc, "r", "Bob", NULL);
	tc_drain(b);
	say(tc, a, "bye");
	tc_disconnect(tc, a);
	tc_drain(b);
	tc_idle(tc);
	json_t *m = tc_expect(tc, b, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "bye");
	json_decref(m);
	json_t *p = history_page(tc, b, -1, -1);
	ck_assert_uint_eq(json_array_size(json_object_get(p, "messages")), 1);
	json_decref(p);
	tc_free(tc);
}
END_TEST

/* Insert n messages "msg <word> <i>" straight into the database at path
 * (schema version 2: not indexed), in room (ids from first_id). */
static void insert_unindexed(const char *path, const char *room, int64_t first_id, int n, const char *word)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char text[64];
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO messages(room, id, username, text, ts)"
					    " VALUES (?1, ?2, 'Bot', ?3, 1700000000000)",
					    -1, &st, NULL),
			 SQLITE_OK);
	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof text, "msg %s %d", word, i);
		sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, first_id + i);
		sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

START_TEST(messages_are_indexed_lazily_and_found_before)
{
	char dir[64], path[128], text[64], ids[64];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	struct testcore *tc = hist_new_in(dir, "");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *o = tc_connect(tc, "other", "Oscar", NULL);
	say(tc, a, "msg lazy fox one");
	say(tc, a, "msg lazy dog two");
	say(tc, o, "msg lazy fox elsewhere");
	tc_idle(tc);
	ck_assert_int_eq(count_rows(path, ""), 3); /* stored, committed, acknowledged */
	ck_assert_int_eq(check_index(path, "msg"), 0); /* but not indexed */
	tc_idle(tc); /* a small backlog right after messages: it waits */
	ck_assert_int_eq(watermark(path), 0);

	/* a search indexes what is missing first: every match, complete */
	json_t *r = search(tc, a, "fox");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1");
	ck_assert_ptr_null(json_object_get(r, "incomplete"));
	ck_assert(json_is_false(json_object_get(r, "has_more")));
	json_decref(r);
	ck_assert_int_eq(check_index(path, "msg"), 3);
	ck_assert_int_eq(metric(tc, "indexed"), 3);

	/* idle catch-up: fewer than a batch wait until no message came for 100 ms */
	say_many(tc, a, "msg lazy quiet", 5);
	tc_idle(tc);
	ck_assert_int_eq(watermark(path), 3);
	sleep_ms(150);
	tc_idle(tc);
	ck_assert_int_eq(check_index(path, "msg"), 8);

	/* a full batch (256) goes in the next iteration that stores nothing */
	for (int i = 1; i <= 300; i++) {
		snprintf(text, sizeof text, "msg bulk %d", i);
		say(tc, a, text);
	}
	tc_idle(tc); /* stores the 300; no indexing in a storing iteration */
	ck_assert_int_eq(count_rows(path, ""), 308);
	ck_assert_int_eq(watermark(path), 8);
	tc_idle(tc);
	int64_t wm = check_index(path, "msg");
	ck_assert_int_gt(wm, 8);
	ck_assert_int_le(wm, 8 + 256); /* one bounded batch */
	sleep_ms(150);
	for (int i = 0; i < 20 && watermark(path) < 308; i++)
		tc_idle(tc);
	ck_assert_int_eq(check_index(path, "msg"), 308);
	ck_assert_int_eq(metric(tc, "indexed"), 308);
	ck_assert_int_eq(metric(tc, "index_failed"), 0);
	r = search(tc, a, "bulk");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "messages")), 200);
	ck_assert_int_eq(num(json_array_get(json_object_get(r, "messages"), 199), "id"), 307);
	ck_assert(is_true(r, "has_more"));
	ck_assert_ptr_null(json_object_get(r, "incomplete"));
	json_decref(r);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

/* Live chat first: no index batch while the core says the loop is 75% busy
 * or more; the same backlog is indexed in the first iteration below that. */
START_TEST(index_waits_while_the_loop_is_busy)
{
	char dir[64], path[128];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	struct testcore *tc = hist_new_in(dir, "");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	say_many(tc, a, "msg busy", 300);
	tc_idle_loaded(tc, 90); /* stores the 300 */
	ck_assert_int_eq(count_rows(path, ""), 300);
	for (int i = 0; i < 5; i++)
		tc_idle_loaded(tc, i ? 75 : 100);
	ck_assert_int_eq(watermark(path), 0);
	ck_assert_int_eq(metric(tc, "indexed"), 0);
	tc_idle_loaded(tc, 74); /* a full batch is waiting: it goes in at once */
	int64_t wm = check_index(path, "msg");
	ck_assert_int_gt(wm, 0);
	ck_assert_int_le(wm, 256);
	/* the rest (fewer than a batch) waits for 100 ms without messages */
	sleep_ms(150);
	for (int i = 0; i < 20 && watermark(path) < 300; i++)
		tc_idle_loaded(tc, 10);
	ck_assert_int_eq(check_index(path, "msg"), 300);
	ck_assert_int_eq(metric(tc, "indexed"), 300);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

START_TEST(search_catches_up_within_its_budget_or_says_incomplete)
{
	char dir[64], path[128], ids[64];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	tc_free(hist_new_in(dir, "")); /* the schema */
	insert_unindexed(path, "early", 1, 3, "common"); /* the oldest: first to be indexed */
	insert_unindexed(path, "big", 1, 10000, "common");
	insert_unindexed(path, "small", 1, 3, "common"); /* the newest: last to be indexed */
	ck_assert_int_eq(watermark(path), 0);

	struct testcore *tc = hist_new_in(dir, "search_budget = 1\n");
	struct chatd_client *a = tc_connect(tc, "small", "Alice", NULL);
	json_t *r = search(tc, a, "common");
	ck_assert(is_true(r, "incomplete")); /* its messages are not all indexed yet */
	ck_assert(is_true(r, "has_more"));
	json_decref(r);
	int64_t wm = check_index(path, "msg");
	ck_assert_int_gt(wm, 0); /* it did index some, within the budget */
	ck_assert_int_lt(wm, 10006);
	/* a room whose messages are all indexed is complete, backlog or not */
	struct chatd_client *e = tc_connect(tc, "early", "Eve", NULL);
	for (int i = 0; i < 10 && watermark(path) < 3; i++)
		json_decref(search(tc, e, "common"));
	ck_assert_int_ge(watermark(path), 3);
	/* The search itself has what is left of the 1 ms budget (1 ms at least): on a busy
	 * machine a descheduled query runs out of it and answers "incomplete", which is the
	 * contract; a complete answer must then come within a few tries, and be exact. */
	r = search(tc, e, "common");
	for (int i = 0; i < 12 && json_object_get(r, "incomplete"); i++) { /* 512 rows each at most */
		json_decref(r);
		r = search(tc, e, "common");
	}
	ck_assert_ptr_null(json_object_get(r, "incomplete"));
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2,3");
	json_decref(r);
	ck_assert_int_lt(watermark(path), 10006);
	tc_free(tc);

	tc = hist_new_in(dir, "search_budget = 10000\n");
	a = tc_connect(tc, "small", "Alice", NULL);
	r = search(tc, a, "common");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2,3");
	ck_assert_ptr_null(json_object_get(r, "incomplete"));
	ck_assert(json_is_false(json_object_get(r, "has_more")));
	json_decref(r);
	ck_assert_int_eq(check_index(path, "msg"), 10006);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

/* The schema of version 1, as released: FTS kept up by triggers. */
static const char schema_v1[] =
	"CREATE TABLE schema_version (version INTEGER NOT NULL);"
	"CREATE TABLE messages ("
	" seq INTEGER PRIMARY KEY, room TEXT NOT NULL, id INTEGER NOT NULL, username TEXT NOT NULL,"
	" text TEXT NOT NULL, ts INTEGER NOT NULL, UNIQUE (room, id));"
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
	" END;"
	"INSERT INTO schema_version(version) VALUES (1);"
	"PRAGMA user_version = 1;";

START_TEST(schema_version_1_is_migrated_keeping_data_and_index)
{
	char dir[64], path[128], ids[64];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	db_exec(path, "PRAGMA journal_mode=WAL");
	db_exec(path, schema_v1);
	db_exec(path, "INSERT INTO messages(room, id, username, text, ts) VALUES"
		      " ('r', 1, 'Alice', 'msg old fox one', 1700000000001),"
		      " ('other', 1, 'Oscar', 'msg old fox elsewhere', 1700000000002),"
		      " ('r', 2, 'Bob', 'msg old dog two', 1700000000003);"
		      "UPDATE messages SET text = 'msg old dog two, edited' WHERE seq = 3;");
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'fox'"), 2);

	struct testcore *tc = hist_new_in(dir, "");
	ck_assert_int_eq(db_int(path, "SELECT MAX(version) FROM schema_version"), 4);
	ck_assert_int_eq(db_int(path, "PRAGMA user_version"), 4);
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_ai'"), 0);
	ck_assert_int_eq(check_index(path, "msg"), 3); /* version 1 had indexed everything */
	struct chatd_client *a = tc_connect(tc, "r", "Carol", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_int_eq(num(w, "last_id"), 2);
	json_decref(w);
	json_t *msgs = frames_of(tc, a, "message");
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2");
	ck_assert_str_eq(str(json_array_get(msgs, 1), "text"), "msg old dog two, edited");
	json_decref(msgs);
	json_t *r = search(tc, a, "fox");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1");
	json_decref(r);
	r = search(tc, a, "edited");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "2");
	json_decref(r);
	ck_assert_int_eq(metric(tc, "indexed"), 0); /* nothing needed indexing */

	/* new messages: stored without the index, found all the same */
	say(tc, a, "msg new fox three");
	tc_idle(tc);
	ck_assert_int_eq(watermark(path), 3);
	r = search(tc, a, "fox");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,3");
	json_decref(r);
	ck_assert_int_eq(check_index(path, "msg"), 4);

	/* rows deleted or changed by hand keep the index right: deleting the
	 * newest indexed row lowers the watermark, so its seq, given again to
	 * the next message, is indexed again */
	db_exec(path, "DELETE FROM messages WHERE seq = 4; UPDATE messages SET text = 'msg fox now' WHERE seq = 3");
	ck_assert_int_eq(check_index(path, "msg"), 3);
	say(tc, a, "msg newer fox four");
	tc_idle(tc);
	ck_assert_int_eq(db_int(path, "SELECT MAX(seq) FROM messages"), 4);
	r = search(tc, a, "fox");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2,4");
	json_decref(r);
	ck_assert_int_eq(check_index(path, "msg"), 4);
	tc_free(tc);

	/* opening again migrates nothing */
	tc = hist_new_in(dir, "");
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM schema_version"), 4);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

/* Version 3 folds stored room names to lower case where that is the only
 * spelling of the name; rooms that differ only in case stay as stored. */
START_TEST(schema_version_3_folds_room_names)
{
	char dir[64], path[128], ids[64];
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	db_exec(path, "PRAGMA journal_mode=WAL");
	db_exec(path, schema_v1);
	db_exec(path, "INSERT INTO messages(room, id, username, text, ts) VALUES"
		      " ('Lounge', 1, 'Alice', 'msg fox in the lounge', 1700000000001),"
		      " ('Lounge', 2, 'Bob', 'msg dog in the lounge', 1700000000002),"
		      " ('Mixed', 1, 'Ann', 'msg upper mixed', 1700000000003),"
		      " ('mixed', 1, 'Ann', 'msg lower mixed', 1700000000004),"
		      " ('plain', 1, 'Pat', 'msg plain', 1700000000005);");
	struct testcore *tc = hist_new_in(dir, "");
	ck_assert_int_eq(db_int(path, "SELECT MAX(version) FROM schema_version"), 4);
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM messages WHERE room = 'lounge'"), 2);
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM messages WHERE room = 'Lounge'"), 0);
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM messages WHERE room = 'Mixed'"), 1); /* kept apart */
	ck_assert_int_eq(db_int(path, "SELECT COUNT(*) FROM messages WHERE room = 'mixed'"), 1);
	ck_assert_int_eq(check_index(path, "msg"), 5); /* the index did not change */
	struct chatd_client *a = tc_connect(tc, "LOUNGE", "Carol", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_str_eq(str(w, "room"), "lounge");
	ck_assert_int_eq(num(w, "last_id"), 2);
	json_decref(w);
	json_t *msgs = frames_of(tc, a, "message");
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2");
	json_decref(msgs);
	json_t *r = search(tc, a, "fox");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1");
	json_decref(r);
	struct chatd_client *m = tc_connect(tc, "Mixed", "Mia", NULL);
	msgs = frames_of(tc, m, "message");
	ck_assert_uint_eq(json_array_size(msgs), 1);
	ck_assert_str_eq(str(json_array_get(msgs, 0), "text"), "msg lower mixed");
	json_decref(msgs);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

/* A multi-room connection: replay and since per room, history and search
 * of the room a frame names. */
START_TEST(history_per_room_of_a_multi_connection)
{
	struct testcore *tc = hist_new("replay = 2\n");
	struct chatd_client *a = tc_connect(tc, "one", "Ann", NULL), *b = tc_connect(tc, "two", "Bob", NULL);
	say_many(tc, a, "one says", 3);
	say_many(tc, b, "two says", 4);
	struct tc_opts o = { .name = "Multi", .multi = 1 };
	struct chatd_client *m = tc_connect_opts(tc, "one", &o);
	send_json(tc, m, json_pack("{s:s,s:s,s:i}", "type", "join", "room", "two", "since", 1));
	json_t *msgs = frames_of(tc, m, "message");
	char ids[64];
	ids_of(msgs, ids, sizeof ids);
	ck_assert_str_eq(ids, "2,3,2,3,4"); /* one: the newest 2; two: since 1 */
	ck_assert_str_eq(str(json_array_get(msgs, 0), "room"), "one");
	ck_assert_str_eq(str(json_array_get(msgs, 2), "room"), "two");
	json_decref(msgs);
	send_json(tc, m, json_pack("{s:s,s:s,s:i}", "type", "history", "room", "one", "before", 3));
	json_t *h = tc_expect(tc, m, "history", NULL);
	ck_assert_str_eq(str(h, "room"), "one");
	ids_of(json_object_get(h, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "1,2");
	json_decref(h);
	json_t *r = search(tc, m, "says"); /* the current room: two */
	ck_assert_str_eq(str(r, "room"), "two");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "messages")), 4);
	json_decref(r);
	send_json(tc, m, json_pack("{s:s,s:s,s:s}", "type", "search", "room", "three", "q", "says"));
	json_t *e = tc_expect(tc, m, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "not_in_room");
	json_decref(e);
	send_json(tc, m, json_pack("{s:s}", "type", "leave"));
	send_json(tc, m, json_pack("{s:s}", "type", "leave"));
	send_json(tc, m, json_pack("{s:s}", "type", "history"));
	e = tc_expect(tc, m, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "not_in_room");
	json_decref(e);
	tc_free(tc);
}
END_TEST

START_TEST(index_watermark_survives_kill_9)
{
	static const int kill_after_ms[] = { 4, 9, 15, 22, 30, 41 };
	enum { ROWS = 100000 };
	char dir[64], path[128], cfg[256], ids[64], marks[128] = "";
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\ncommit_delay = 0\ncheck_max_mb = 0\n", dir);
	tc_free(hist_new_in(dir, ""));
	insert_unindexed(path, "r", 1, ROWS, "crash");
	int64_t last = 0;
	for (size_t i = 0; i < sizeof kill_after_ms / sizeof kill_after_ms[0]; i++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) { /* a chatd that does nothing but index, until killed */
			close(fds[0]);
			struct testcore *c = tc_new(cfg);
			if (!c)
				_exit(2);
			/* its own temp directory, for the parent to remove */
			if (write(fds[1], c->data_dir, strlen(c->data_dir) + 1) < 0)
				_exit(3);
			close(fds[1]);
			for (;;)
				tc_idle(c); /* idle with a backlog: one batch each */
		}
		close(fds[1]);
		char child_dir[sizeof ((struct testcore *)0)->data_dir] = "";
		ssize_t got = read(fds[0], child_dir, sizeof child_dir - 1);
		close(fds[0]);
		sleep_ms(kill_after_ms[i]);
		kill(pid, SIGKILL);
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the indexer exited by itself (%d)",
			      status);
		if (got > 0 && !strncmp(child_dir, "/tmp/chatd-test-", 16))
			remove_dir(child_dir);
		int64_t wm = check_index(path, "msg"); /* recovers the WAL */
		ck_assert_int_ge(wm, last);
		last = wm;
		size_t len = strlen(marks);
		snprintf(marks + len, sizeof marks - len, "%s%lld", i ? " " : "", (long long)wm);
	}
	fprintf(stderr, "kill -9 while indexing %d messages: watermark after each kill %s, index consistent each time\n",
		ROWS, marks);
	ck_assert_int_gt(last, 0);
	struct testcore *tc = hist_new_in(dir, "");
	for (int i = 0; i < ROWS && watermark(path) < ROWS; i++)
		tc_idle(tc);
	ck_assert_int_eq(check_index(path, "msg"), ROWS);
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	json_t *r = search(tc, a, "crash AND 99999");
	ids_of(json_object_get(r, "messages"), ids, sizeof ids);
	ck_assert_str_eq(ids, "100000");
	json_decref(r);
	tc_free(tc);
	remove_dir(dir);
}
END_TEST

static double elapsed_us(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e6 + (double)(t.tv_nsec - t0->tv_nsec) / 1e3;
}

/* Microseconds per message of the LOOP_IDLE that stores batches of `per`
 * messages (insert, commit, release: the fan-out and the echo), total
 * messages in all. eager: a trigger indexes every insert, as version 1 did. */
static double store_cost(int per, int total, int eager)
{
	char dir[64], path[128], text[64];
	struct timespec t0;
	double us = 0;
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	tc_free(hist_new_in(dir, ""));
	if (eager)
		db_exec(path, "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN"
			      " INSERT INTO messages_fts(rowid, text) VALUES (new.seq, new.text);"
			      " UPDATE fts_state SET indexed_seq = new.seq;"
			      " END;");
	struct testcore *tc = hist_new_in(dir, "replay = 0\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	for (int sent = 0; sent < total;) {
		for (int i = 0; i < per; i++, sent++) {
			snprintf(text, sizeof text, "message number %d from the timing loop of the store", sent);
			say(tc, a, text);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		tc_idle(tc); /* a storing iteration: it never indexes below 1024 waiting */
		us += elapsed_us(&t0);
		tc_drain(a);
	}
	ck_assert_int_eq(metric(tc, "stored"), total);
	tc_free(tc);
	remove_dir(dir);
	return us / total;
}

/* Background batches over a backlog of rows messages: microseconds per row
 * and the longest batch. */
static void index_cost(int rows, double *per_row, double *worst, int *batches)
{
	char dir[64], path[128];
	struct timespec t0;
	double us = 0;
	make_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	tc_free(hist_new_in(dir, ""));
	insert_unindexed(path, "r", 1, rows, "message number from the timing loop of the store");
	struct testcore *tc = hist_new_in(dir, "");
	*worst = 0;
	*batches = 0;
	while (watermark(path) < rows) {
		++*batches;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		tc_idle(tc);
		double one = elapsed_us(&t0);
		us += one;
		if (one > *worst)
			*worst = one;
	}
	*per_row = us / rows;
	tc_free(tc);
	remove_dir(dir);
}

/* Not a test of speed (nothing is asserted on time): prints what storing
 * costs with the index kept by a trigger (version 1) and without (now), and
 * what the background batches cost, for docs/plugins/history.md. */
START_TEST(store_cost_is_measured)
{
	static const int per[] = { 1, 10, 100, 1000 };
	for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
		int total = per[i] == 1 ? 500 : 1000;
		double eager = store_cost(per[i], total, 1), lazy = store_cost(per[i], total, 0);
		fprintf(stderr, "store+commit+ack, %4d messages per loop iteration: %6.1f us/message with the "
			"index (trigger, v1), %6.1f us/message without (v2)\n", per[i], eager, lazy);
	}
	double per_row, worst;
	int batches;
	index_cost(5000, &per_row, &worst, &batches);
	fprintf(stderr, "background indexing of 5000 messages: %.1f us/message, %d batches, longest %.0f us\n",
		per_row, batches, worst);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");
	tcase_add_test(tc, acknowledged_only_after_commit);
	tcase_add_test(tc, a_lone_message_is_committed_at_once);
	tcase_add_test(tc, a_filling_queue_shares_transactions);
	tcase_add_test(tc, replay_on_join_oldest_first_before_live);
	tcase_add_test(tc, replay_zero_is_off_but_since_still_works);
	tcase_add_test(tc, since_replay_has_no_gap_and_no_duplicate_at_the_seam);
	tcase_add_test(tc, since_replay_is_bounded_and_says_truncated);
	tcase_add_test(tc, replay_is_bounded_by_bytes);
	tcase_add_test(tc, history_pages_backwards);
	tcase_add_test(tc, ids_and_history_survive_a_restart);
	tcase_add_test(tc, cleanup_commits_what_is_queued);
	tcase_add_test(tc, metacharacters_and_unicode_round_trip);
	tcase_add_test(tc, search_finds_words_in_the_room);
	tcase_add_test(tc, search_is_bounded_in_time);
	tcase_add_test(tc, bad_requests_are_refused);
	tcase_add_test(tc, bad_options_fail_init);
	tcase_add_test(tc, unusable_database_fails_init_naming_the_file);
	tcase_add_test(tc, newer_schema_is_refused);
	tcase_add_test(tc, store_failure_delivers_and_tells_sender);
	tcase_add_test(tc, sender_gone_before_commit);
	tcase_add_test(tc, history_per_room_of_a_multi_connection);
	suite_add_tcase(s, tc);
	TCase *lazy = tcase_create("lazy index");
	tcase_set_timeout(lazy, 60); /* thousands of rows indexed; slow under sanitizers */
	tcase_add_test(lazy, messages_are_indexed_lazily_and_found_before);
	tcase_add_test(lazy, index_waits_while_the_loop_is_busy);
	tcase_add_test(lazy, search_catches_up_within_its_budget_or_says_incomplete);
	tcase_add_test(lazy, schema_version_1_is_migrated_keeping_data_and_index);
	tcase_add_test(lazy, schema_version_3_folds_room_names);
	tcase_add_test(lazy, index_watermark_survives_kill_9);
	tcase_add_test(lazy, store_cost_is_measured);
	suite_add_tcase(s, lazy);
	return checkutil_run(s);
}
