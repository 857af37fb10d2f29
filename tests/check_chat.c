/* Unit tests: the chat protocol on the real core with a fake transport
 * (src/chat.c, publish.c, identity.c, room.c, message.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "testcore.h"

static struct testcore *tc;

static void setup(void) { tc = tc_new("[server]\nmax_message_bytes = 100\nmax_bad_frames = 5\n"); }
static void teardown(void) { tc_free(tc); }

/* Expect the next frame of c to be an error with code; consumes it. */
static void expect_error(struct chatd_client *c, const char *code)
{
	json_t *e = tc_expect(tc, c, "error", NULL);
	ck_assert_msg(e != NULL, "no error frame, wanted %s", code);
	ck_assert_str_eq(str(e, "code"), code);
	ck_assert_ptr_nonnull(str(e, "message"));
	json_decref(e);
}

START_TEST(welcome_then_join_event)
{
	struct chatd_client *a = tc_connect(tc, "general", "Alice", NULL);
	ck_assert_ptr_nonnull(a);
	json_t *w = tc_recv(tc, a);
	ck_assert_str_eq(str(w, "type"), "welcome");
	ck_assert_str_eq(str(w, "room"), "general");
	ck_assert_str_eq(str(w, "username"), "Alice");
	ck_assert_int_eq(json_array_size(json_object_get(w, "users")), 1);
	ck_assert_int_eq(num(json_object_get(w, "limits"), "max_message_bytes"), 100);
	ck_assert_ptr_nonnull(strstr(str(w, "server"), "chatd/"));
	json_decref(w);
	json_t *j = tc_recv(tc, a);
	ck_assert_str_eq(str(j, "type"), "system");
	ck_assert_str_eq(str(j, "event"), "join");
	ck_assert_str_eq(str(j, "message"), "Alice joined the chat");
	json_decref(j);
	struct chatd_client *b = tc_connect(tc, "general", NULL, NULL);
	json_t *wb = tc_recv(tc, b);
	ck_assert_msg(!strncmp(str(wb, "username"), "guest-", 6), "guest name: %s", str(wb, "username"));
	ck_assert_int_eq(json_array_size(json_object_get(wb, "users")), 2);
	json_decref(wb);
	json_t *ja = tc_expect(tc, a, "system", "join");
	ck_assert_ptr_nonnull(ja);
	ck_assert_str_eq(str(ja, "username"), b->name);
	json_decref(ja);
}
END_TEST

START_TEST(message_echo_ids_and_client_id)
{
	struct chatd_client *a = tc_connect(tc, "r1", "Alice", NULL), *b = tc_connect(tc, "r1", "Bob", NULL);
	struct chatd_client *c = tc_connect(tc, "r2", "Carol", NULL);
	tc_drain(a), tc_drain(b), tc_drain(c);
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"hi\",\"client_id\":\"c1\"}");
	tc_send(tc, b, "{\"text\":\"yo\"}");
	tc_send(tc, c, "{\"text\":\"other room\"}");
	json_t *m1 = tc_expect(tc, a, "message", NULL), *m2 = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m1, "id"), 1);
	ck_assert_int_eq(num(m2, "id"), 2);
	ck_assert_str_eq(str(m1, "client_id"), "c1");
	ck_assert_str_eq(str(m1, "username"), "Alice");
	ck_assert_str_eq(str(m1, "room"), "r1");
	ck_assert_int_gt(num(m1, "ts"), 1600000000000LL);
	ck_assert_ptr_null(json_object_get(m2, "client_id"));
	ck_assert_ptr_null(tc_recv(tc, a)); /* nothing from r2 */
	json_t *b1 = tc_expect(tc, b, "message", NULL);
	ck_assert_ptr_null(json_object_get(b1, "client_id")); /* echoed to the sender only */
	json_t *c1 = tc_expect(tc, c, "message", NULL);
	ck_assert_int_eq(num(c1, "id"), 1); /* ids are per room */
	json_decref(m1), json_decref(m2), json_decref(b1), json_decref(c1);
}
END_TEST

START_TEST(names_unique_case_insensitive)
{
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	struct chatd_client *b = tc_connect(tc, "r", "ALICE", NULL);
	struct chatd_client *c = tc_connect(tc, "r", "\xd0\x90lice", NULL); /* Cyrillic A */
	ck_assert_str_eq(a->name, "Alice");
	ck_assert_str_eq(b->name, "ALICE2");
	ck_assert_str_eq(c->name, "\xd0\x90lice3");
	tc_disconnect(tc, a);
	struct chatd_client *d = tc_connect(tc, "r", "alice", NULL);
	ck_assert_str_eq(d->name, "alice"); /* free again once Alice left */
}
END_TEST

START_TEST(rename_via_nick_and_username)
{
	struct chatd_client *a = tc_connect(tc, "r", "Al", NULL), *b = tc_connect(tc, "r", "Bob", NULL);
	tc_drain(a), tc_drain(b);
	tc_send(tc, a, "{\"type\":\"nick\",\"username\":\"Alice\"}");
	json_t *r = tc_expect(tc, b, "system", "rename");
	ck_assert_str_eq(str(r, "old"), "Al");
	ck_assert_str_eq(str(r, "username"), "Alice");
	ck_assert_str_eq(str(r, "message"), "Al is now known as Alice");
	json_decref(r);
	/* taking Bob's name gives a variant and says so */
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"nick\",\"username\":\"bob\"}");
	r = tc_expect(tc, a, "system", "rename");
	ck_assert_str_eq(str(r, "username"), "bob2");
	ck_assert_str_eq(str(r, "requested"), "bob");
	json_decref(r);
	/* the tutorial form: username in a message is a rename request once */
	tc_drain(a), tc_drain(b);
	tc_send(tc, b, "{\"username\":\"Robert\",\"text\":\"one\"}");
	tc_send(tc, b, "{\"username\":\"Robert\",\"text\":\"two\"}");
	r = tc_expect(tc, a, "system", "rename");
	ck_assert_ptr_nonnull(r);
	json_decref(r);
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_str_eq(str(m, "username"), "Robert");
	json_decref(m);
	ck_assert_ptr_null(tc_expect(tc, a, "system", "rename")); /* no second rename */
}
END_TEST

START_TEST(cannot_post_as_someone_else)
{
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *m = tc_connect(tc, "r", "Mallory", NULL);
	tc_drain(a);
	tc_send(tc, m, "{\"username\":\"Alice\",\"text\":\"I am Alice\"}");
	json_t *msg = tc_expect(tc, a, "message", NULL);
	ck_assert_str_eq(str(msg, "username"), "Alice2");
	ck_assert_str_eq(m->name, "Alice2");
	json_decref(msg);
}
END_TEST

START_TEST(join_switches_rooms_and_who)
{
	struct chatd_client *a = tc_connect(tc, "one", "Alice", NULL), *b = tc_connect(tc, "one", "Bob", NULL);
	struct chatd_client *c = tc_connect(tc, "two", "Carol", NULL);
	tc_drain(a), tc_drain(b), tc_drain(c);
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"two\"}");
	json_t *l = tc_expect(tc, b, "system", "leave");
	ck_assert_str_eq(str(l, "username"), "Alice");
	ck_assert_str_eq(str(l, "message"), "Alice left the chat");
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_str_eq(str(w, "room"), "two");
	ck_assert_int_eq(json_array_size(json_object_get(w, "users")), 2);
	json_t *j = tc_expect(tc, c, "system", "join");
	ck_assert_str_eq(str(j, "username"), "Alice");
	tc_send(tc, c, "{\"type\":\"who\"}");
	json_t *u = tc_expect(tc, c, "users", NULL);
	ck_assert_str_eq(str(u, "room"), "two");
	ck_assert_int_eq(json_array_size(json_object_get(u, "users")), 2);
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"bad room\"}");
	expect_error(a, "bad_request");
	ck_assert_str_eq(a->room->name, "two");
	json_decref(l), json_decref(w), json_decref(j), json_decref(u);
}
END_TEST

static const struct {
	const char *frame, *code;
} bad_frames[] = {
	{ "not json", "bad_request" },
	{ "[1,2]", "bad_request" },
	{ "\"str\"", "bad_request" },
	{ "{\"text\":\"a\",\"text\":\"b\"}", "bad_request" },
	{ "{\"text\":5}", "bad_request" },
	{ "{\"type\":7,\"text\":\"x\"}", "bad_request" },
	{ "{\"text\":\"x\",\"username\":[]}", "bad_request" },
	{ "{\"text\":\"x\",\"client_id\":1}", "bad_request" },
	{ "{\"text\":\"   \\n\\t \"}", "bad_request" },
	{ "{\"text\":\"\"}", "bad_request" },
	{ "{}", "bad_request" },
	{ "{\"type\":\"nick\"}", "bad_request" },
	{ "{\"type\":\"nick\",\"username\":\"a\\u200bb\"}", "bad_request" },
	{ "{\"type\":\"join\"}", "bad_request" },
	{ "{\"type\":\"fly\"}", "unknown_type" },
	{ "{\"type\":\"typing\"}", "unknown_type" }, /* no typing plugin loaded */
	{ "{\"text\":\"x\"} trailing", "bad_request" },
	{ "{\"text\":\"\\u0000\"}", "bad_request" },
	{ "{\"text\":1e999999}", "bad_request" },
	{ "{\"text\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
	  "too_large" },
};

START_TEST(bad_frames_get_errors_and_socket_stays)
{
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, bad_frames[_i].frame);
	expect_error(a, bad_frames[_i].code);
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_send(tc, a, "{\"text\":\"still here\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_ptr_nonnull(m);
	json_decref(m);
}
END_TEST

START_TEST(garbage_only_client_is_closed)
{
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	for (int i = 0; i < 4; i++)
		tc_send(tc, a, "garbage");
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_send(tc, a, "garbage");
	ck_assert_int_eq(tc_close_code(a), 1008);
}
END_TEST

START_TEST(deep_nesting_is_an_error_not_a_crash)
{
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	size_t n = 16000;
	char *deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = 0;
	tc_drain(a);
	tc_send(tc, a, deep);
	expect_error(a, "bad_request");
	free(deep);
}
END_TEST

START_TEST(leave_on_disconnect_and_room_cleanup)
{
	struct chatd_client *a = tc_connect(tc, "quiet", "Alice", NULL), *b = tc_connect(tc, "quiet", "Bob", NULL);
	tc_drain(a);
	tc_disconnect(tc, b);
	json_t *l = tc_expect(tc, a, "system", "leave");
	ck_assert_str_eq(str(l, "username"), "Bob");
	json_decref(l);
	tc_disconnect(tc, a);
	ck_assert_ptr_null(strmap_get(&tc->srv.rooms, "quiet")); /* empty, no messages: freed */
	ck_assert_uint_eq(tc->srv.nclients, 0);
	ck_assert_uint_eq(tc->srv.nicks.count, 0);
}
END_TEST

START_TEST(room_ids_survive_emptying)
{
	struct chatd_client *a = tc_connect(tc, "keep", "Alice", NULL);
	tc_send(tc, a, "{\"text\":\"one\"}");
	tc_disconnect(tc, a);
	a = tc_connect(tc, "keep", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"text\":\"two\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 2); /* never reused */
	json_decref(m);
}
END_TEST

START_TEST(slow_consumer_closed_at_hard_limit_room_flows)
{
	tc_free(tc);
	tc = tc_new("[server]\nsend_queue_bytes = 8k\nsend_queue_soft_bytes = 2k\n");
	struct chatd_client *slow = tc_connect(tc, "r", "Slow", NULL), *fast = tc_connect(tc, "r", "Fast", NULL);
	char frame[200];
	snprintf(frame, sizeof frame, "{\"text\":\"%0100d\"}", 7);
	int got = 0;
	for (int i = 0; i < 200; i++) {
		tc_send(tc, fast, frame);
		json_t *m;
		while ((m = tc_recv(tc, fast))) { /* the fast client keeps reading */
			if (!strcmp(str(m, "type"), "message"))
				got++;
			json_decref(m);
		}
	}
	ck_assert_int_eq(got, 200);
	ck_assert_int_eq(tc_close_code(slow), 1013);
	ck_assert_uint_le(slow->q.bytes, 8192);
	ck_assert_uint_eq(tc->srv.stats.slow_closed, 1);
}
END_TEST

START_TEST(big_rooms_coalesce_presence)
{
	tc_free(tc);
	tc = tc_new("[server]\nbig_room_members = 3\npresence_interval_ms = 20\n");
	struct chatd_client *m[6];
	char name[16];
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "u%d", i);
		m[i] = tc_connect(tc, "big", name, NULL);
	}
	/* the first two joins are single events; from the third on they are summarised */
	json_t *w = tc_expect(tc, m[5], "welcome", NULL);
	ck_assert_int_eq(num(w, "user_count"), 6);
	ck_assert_int_eq(json_array_size(json_object_get(w, "users")), 3); /* truncated snapshot */
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(w, "users"), 0)), "u5");
	json_decref(w);
	ck_assert_ptr_null(tc_expect(tc, m[5], "system", "join"));
	tc_drain(m[0]);
	tc_disconnect(tc, m[4]);
	tc_run(tc, 60);
	json_t *p = tc_expect(tc, m[0], "system", "presence");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(json_array_size(json_object_get(p, "joined")), 4); /* u2..u5 */
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p, "left"), 0)), "u4");
	ck_assert_int_eq(num(p, "count"), 5);
	ck_assert_str_eq(str(p, "message"), "u2, u3, u4 and 1 other joined; u4 left");
	json_decref(p);
	ck_assert_ptr_null(tc_expect(tc, m[0], "system", "presence")); /* one summary, not one per event */
	tc_send(tc, m[0], "{\"type\":\"who\"}");
	json_t *u = tc_expect(tc, m[0], "users", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(u, "users")), 5); /* who is never truncated */
	json_decref(u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chat");
	TCase *tc_core = tcase_create("protocol");
	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, welcome_then_join_event);
	tcase_add_test(tc_core, message_echo_ids_and_client_id);
	tcase_add_test(tc_core, names_unique_case_insensitive);
	tcase_add_test(tc_core, rename_via_nick_and_username);
	tcase_add_test(tc_core, cannot_post_as_someone_else);
	tcase_add_test(tc_core, join_switches_rooms_and_who);
	tcase_add_loop_test(tc_core, bad_frames_get_errors_and_socket_stays, 0,
			    (int)(sizeof bad_frames / sizeof bad_frames[0]));
	tcase_add_test(tc_core, garbage_only_client_is_closed);
	tcase_add_test(tc_core, deep_nesting_is_an_error_not_a_crash);
	tcase_add_test(tc_core, leave_on_disconnect_and_room_cleanup);
	tcase_add_test(tc_core, room_ids_survive_emptying);
	tcase_add_test(tc_core, slow_consumer_closed_at_hard_limit_room_flows);
	tcase_add_test(tc_core, big_rooms_coalesce_presence);
	suite_add_tcase(s, tc_core);
	return checkutil_run(s);
}
