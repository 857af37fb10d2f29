/* Unit tests: the history plugin (plugins/history/) on the real core with a
 * fake transport: storage and acknowledgement, replay, paging, search, ids
 * across restarts, failures. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "checkutil.h"
#include "client.h"
#include "http.h"
#include "testcore.h"

/* A core with the history plugin and extra option lines (may be ""). */
static struct testcore *hist_new(const char *options) { return plugin_core("history", options); }

/* A core whose data directory is dir (kept across tc_free). */
static struct testcore *hist_new_in(const char *dir, const char *options)
{
	char cfg[1024];
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\n[plugin history]\n%s", dir, options);
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
	snprintf(c->query_name, sizeof c->query_name, "%s", name);
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

/* Number of rows in messages of the database file at path (-1 on error). */
static int count_rows(const char *path, const char *where)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[256];
	int n = -1;
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM messages %s", where);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
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
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
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

static double seconds_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

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

int main(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");
	tcase_add_test(tc, acknowledged_only_after_commit);
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
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
