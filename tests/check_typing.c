/* Unit tests: the typing plugin (plugins/typing/typing.c) on the real core
 * with a fake transport. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "http.h"
#include "testcore.h"

#define TYPING "{\"type\":\"typing\"}"

static struct testcore *typing_core(const char *options) { return plugin_core("typing", options); }

/* The next frame of c must be a typing indicator for username in room
 * (stopped or not). */
static void expect_typing(struct testcore *tc, struct chatd_client *c, const char *room, const char *username,
			  int stopped)
{
	json_t *t = tc_recv(tc, c);
	ck_assert_msg(t != NULL, "no frame where a typing indicator for %s was due", username);
	ck_assert_str_eq(str(t, "type"), "typing");
	ck_assert_str_eq(str(t, "room"), room);
	ck_assert_str_eq(str(t, "username"), username);
	ck_assert_ptr_null(json_object_get(t, "id"));
	ck_assert_ptr_null(json_object_get(t, "ts"));
	if (stopped)
		ck_assert(json_is_true(json_object_get(t, "stopped")));
	else
		ck_assert_ptr_null(json_object_get(t, "stopped"));
	ck_assert_int_eq(json_object_size(t), stopped ? 4 : 3);
	json_decref(t);
}

/* The next frame of c must be of the given type (and system event). */
static void expect_next(struct testcore *tc, struct chatd_client *c, const char *type, const char *event)
{
	json_t *f = tc_recv(tc, c);
	ck_assert_msg(f != NULL, "no frame where '%s' was due", type);
	ck_assert_str_eq(str(f, "type"), type);
	if (event)
		ck_assert_str_eq(str(f, "event"), event);
	json_decref(f);
}

/* The value of plugin counter `name` of the typing plugin, -1 when absent. */
static long long counter(struct testcore *tc, const char *name) { return counter_value(tc, "typing", name); }

/* tc_try_new must fail with an error containing want. */
static void expect_load_error(const char *config, const char *want)
{
	char err[1024] = "";
	struct testcore *tc = tc_try_new(config, err, sizeof err);
	ck_assert_msg(tc == NULL, "config loaded but should not: %s", config);
	tc_free(tc);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

START_TEST(fans_out_to_the_others_in_the_room_only)
{
	struct testcore *tc = typing_core("");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob"),
			    *c = join_ok(tc, "general", "Carol"), *d = join_ok(tc, "random", "Dave");
	struct chatd_client *all[] = { a, b, c, d };
	drain_all(all, 4);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	expect_typing(tc, c, "general", "Alice", 0);
	ck_assert_uint_eq(tc_pending(a), 0); /* not to the sender, and no error */
	ck_assert_uint_eq(tc_pending(b), 0);
	ck_assert_uint_eq(tc_pending(d), 0); /* not to another room */
	ck_assert_int_eq(counter(tc, "sent"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(typing_is_not_a_message)
{
	struct testcore *tc = typing_core("");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	/* "room" names the room (one the client is not in is refused by the
	 * core); other extra fields are ignored */
	tc_send(tc, a, "{\"type\":\"typing\",\"room\":\"random\",\"text\":\"x\"}");
	json_t *e = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "not_in_room");
	json_decref(e);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_send(tc, a, "{\"type\":\"typing\",\"room\":\"General\",\"text\":\"x\"}");
	expect_typing(tc, b, "general", "Alice", 0);
	ck_assert_int_eq(tc->srv.stats.messages_in, 0);
	tc_send(tc, b, "{\"text\":\"first\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 1); /* the typing frame took no id */
	json_decref(m);
	tc_free(tc);
}
END_TEST

START_TEST(alone_in_a_room_is_fine)
{
	struct testcore *tc = typing_core("");
	struct chatd_client *a = join_ok(tc, "solo", "Alice");
	tc_drain(a);
	tc_send(tc, a, TYPING);
	ck_assert_uint_eq(tc_pending(a), 0);
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_free(tc);
}
END_TEST

START_TEST(throttle_absorbs_repeats_inside_the_window)
{
	struct testcore *tc = typing_core("throttle_ms = 100\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, TYPING);
	tc_send(tc, a, TYPING);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	ck_assert_uint_eq(tc_pending(b), 0); /* absorbed */
	ck_assert_uint_eq(tc_pending(a), 0); /* silently: no error */
	ck_assert_int_eq(counter(tc, "throttled"), 2);
	tc_run(tc, 150); /* the window is over */
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_send(tc, a, TYPING);
	ck_assert_uint_eq(tc_pending(b), 0);
	ck_assert_int_eq(counter(tc, "throttled"), 3);
	ck_assert_int_eq(counter(tc, "sent"), 2);
	tc_free(tc);
}
END_TEST

START_TEST(default_window_is_a_second)
{
	struct testcore *tc = typing_core("");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_run(tc, 600);
	tc_send(tc, a, TYPING); /* 0.6 s: still inside */
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_run(tc, 500);
	tc_send(tc, a, TYPING); /* 1.1 s: a new window */
	expect_typing(tc, b, "general", "Alice", 0);
	tc_free(tc);
}
END_TEST

START_TEST(throttle_is_per_user)
{
	struct testcore *tc = typing_core("throttle_ms = 60000\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob"),
			    *c = join_ok(tc, "general", "Carol");
	struct chatd_client *all[] = { a, b, c };
	drain_all(all, 3);
	tc_send(tc, a, TYPING);
	tc_send(tc, b, TYPING);
	tc_send(tc, a, TYPING);
	expect_typing(tc, c, "general", "Alice", 0);
	expect_typing(tc, c, "general", "Bob", 0);
	ck_assert_uint_eq(tc_pending(c), 0);
	expect_typing(tc, a, "general", "Bob", 0);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_free(tc);
}
END_TEST

START_TEST(message_ends_typing_and_resets_the_throttle)
{
	struct testcore *tc = typing_core("throttle_ms = 60000\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_send(tc, a, "{\"text\":\"hello\"}");
	expect_typing(tc, b, "general", "Alice", 1); /* before the message itself */
	expect_next(tc, b, "message", NULL);
	ck_assert_int_eq(counter(tc, "stopped"), 1);
	/* the next typing frame goes out at once, inside the old window */
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_free(tc);
}
END_TEST

START_TEST(stop_notice_only_when_recently_typing)
{
	struct testcore *tc = typing_core("throttle_ms = 100\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	/* a message without typing first: no stop notice */
	tc_send(tc, a, "{\"text\":\"one\"}");
	expect_next(tc, b, "message", NULL);
	/* a second message after one stop notice: no second notice */
	tc_send(tc, a, TYPING);
	tc_send(tc, a, "{\"text\":\"two\"}");
	tc_send(tc, a, "{\"text\":\"three\"}");
	expect_typing(tc, b, "general", "Alice", 0);
	expect_typing(tc, b, "general", "Alice", 1);
	expect_next(tc, b, "message", NULL);
	expect_next(tc, b, "message", NULL);
	ck_assert_uint_eq(tc_pending(b), 0);
	/* typed more than 3 s ago: the clients cleared it already */
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_run(tc, 3100);
	tc_send(tc, a, "{\"text\":\"four\"}");
	expect_next(tc, b, "message", NULL);
	ck_assert_int_eq(counter(tc, "stopped"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(absorbed_typing_counts_as_recent)
{
	struct testcore *tc = typing_core("throttle_ms = 60000\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, TYPING);
	tc_run(tc, 2500);
	tc_send(tc, a, TYPING); /* absorbed, but the user is typing */
	tc_run(tc, 1000);
	tc_send(tc, a, "{\"text\":\"hi\"}");
	expect_typing(tc, b, "general", "Alice", 0);
	expect_typing(tc, b, "general", "Alice", 1);
	expect_next(tc, b, "message", NULL);
	tc_free(tc);
}
END_TEST

START_TEST(leaving_ends_typing_and_resets_the_throttle)
{
	struct testcore *tc = typing_core("throttle_ms = 60000\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob"),
			    *e = join_ok(tc, "random", "Erin");
	struct chatd_client *all[] = { a, b, e };
	drain_all(all, 3);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"random\"}");
	expect_typing(tc, b, "general", "Alice", 1); /* before the leave notice */
	expect_next(tc, b, "system", "leave");
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_drain(a);
	tc_drain(e);
	tc_send(tc, a, TYPING); /* a new room: out at once */
	expect_typing(tc, e, "random", "Alice", 0);
	ck_assert_uint_eq(tc_pending(b), 0); /* the old room hears nothing */
	ck_assert_uint_eq(tc_pending(a), 0);
	tc_free(tc);
}
END_TEST

START_TEST(disconnect_ends_typing_and_frees_state)
{
	struct testcore *tc = typing_core("");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_disconnect(tc, a);
	expect_typing(tc, b, "general", "Alice", 1);
	expect_next(tc, b, "system", "leave");
	a = join_ok(tc, "general", "Alice");
	tc_drain(b);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	/* clients still typing when the server goes down: valgrind sees no leak */
	tc_send(tc, b, TYPING);
	tc_free(tc);
}
END_TEST

START_TEST(rename_ends_typing_under_the_old_name)
{
	struct testcore *tc = typing_core("throttle_ms = 60000\n");
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alice", 0);
	tc_send(tc, a, "{\"type\":\"nick\",\"username\":\"Alicia\"}");
	expect_next(tc, b, "system", "rename");
	expect_typing(tc, b, "general", "Alice", 1);
	tc_send(tc, a, TYPING);
	expect_typing(tc, b, "general", "Alicia", 0);
	tc_free(tc);
}
END_TEST

START_TEST(typing_is_dropped_first_from_full_queues)
{
	struct testcore *tc = tc_new("[server]\nsend_queue_soft_bytes = 1k\nsend_queue_bytes = 64k\n"
				     "[plugin typing]\n");
	ck_assert_ptr_nonnull(tc);
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	char text[300];
	snprintf(text, sizeof text, "{\"text\":\"%0200d\"}", 7);
	for (int i = 0; i < 8; i++) /* well over the soft limit, under the hard one */
		tc_send(tc, a, text);
	size_t before = tc_pending(b);
	tc_send(tc, b, TYPING);
	tc_send(tc, a, TYPING);
	ck_assert_uint_eq(tc_pending(b), before); /* dropped, not queued */
	ck_assert_int_eq(tc_close_code(b), 0);    /* and not a reason to close */
	tc_free(tc);
}
END_TEST

START_TEST(options_are_validated)
{
	const char *good[] = { "throttle_ms = 100\n", "throttle_ms = 60000\n", "throttle_ms = 2500\n" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		tc_free(typing_core(good[i]));
	expect_load_error("[plugin typing]\nthrottle_ms = 99\n",
			  "test.conf:2: plugin typing: option 'throttle_ms': must be an integer from 100 to 60000");
	expect_load_error("[plugin typing]\nthrottle_ms = 60001\n", "test.conf:2: plugin typing: option 'throttle_ms'");
	expect_load_error("[plugin typing]\nthrottle_ms = 1s\n", "test.conf:2: plugin typing: option 'throttle_ms'");
	expect_load_error("[plugin typing]\nthrottle_ms = -500\n", "test.conf:2: plugin typing: option 'throttle_ms'");
	expect_load_error("[plugin typing]\nthrottle_ms = 99999999999999999999\n",
			  "test.conf:2: plugin typing: option 'throttle_ms'");
	expect_load_error("[plugin typing]\nthrottle_ms =\n", "test.conf:2: plugin typing: option 'throttle_ms'");
	expect_load_error("[plugin typing]\n\nthrottle_ms = 500\nthrotle_ms = 500\n",
			  "test.conf:4: plugin typing: option 'throtle_ms': unknown option");
}
END_TEST

/* A connection in several rooms: each room has its own indicator and
 * throttle; a rename ends the indicator in every room. */
START_TEST(per_room_for_a_multi_room_connection)
{
	struct testcore *tc = typing_core("throttle_ms = 60000\n");
	struct tc_opts o = { .name = "Multi", .multi = 1 };
	struct chatd_client *m = tc_connect_opts(tc, "one", &o);
	struct chatd_client *a = join_ok(tc, "one", "Ann"), *b = join_ok(tc, "two", "Bob");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	struct chatd_client *all[] = { m, a, b };
	drain_all(all, 3);
	tc_send(tc, m, "{\"type\":\"typing\",\"room\":\"one\"}");
	expect_typing(tc, a, "one", "Multi", 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_send(tc, m, TYPING); /* the current room: two, its own throttle window */
	expect_typing(tc, b, "two", "Multi", 0);
	ck_assert_uint_eq(tc_pending(a), 0);
	tc_send(tc, m, "{\"type\":\"typing\",\"room\":\"one\"}"); /* inside one's window */
	ck_assert_uint_eq(tc_pending(a), 0);
	ck_assert_int_eq(counter(tc, "throttled"), 1);
	tc_send(tc, m, "{\"type\":\"nick\",\"username\":\"Renamed\"}");
	expect_next(tc, a, "system", "rename");
	expect_typing(tc, a, "one", "Multi", 1);
	expect_next(tc, b, "system", "rename");
	expect_typing(tc, b, "two", "Multi", 1);
	tc_send(tc, m, "{\"type\":\"typing\",\"room\":\"one\"}"); /* the rename reset the window */
	expect_typing(tc, a, "one", "Renamed", 0);
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"one\"}");
	expect_typing(tc, a, "one", "Renamed", 1); /* before the leave notice */
	expect_next(tc, a, "system", "leave");
	ck_assert_uint_eq(tc_pending(b), 0); /* two heard nothing of it */
	tc_send(tc, m, "{\"text\":\"hi\"}"); /* ends nothing in two: it did not type there since */
	expect_next(tc, b, "message", NULL);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_free(tc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("typing");
	TCase *fan = tcase_create("fan-out");
	tcase_add_test(fan, fans_out_to_the_others_in_the_room_only);
	tcase_add_test(fan, typing_is_not_a_message);
	tcase_add_test(fan, alone_in_a_room_is_fine);
	tcase_add_test(fan, typing_is_dropped_first_from_full_queues);
	tcase_add_test(fan, per_room_for_a_multi_room_connection);
	suite_add_tcase(s, fan);
	TCase *thr = tcase_create("throttle");
	tcase_add_test(thr, throttle_absorbs_repeats_inside_the_window);
	tcase_add_test(thr, default_window_is_a_second);
	tcase_add_test(thr, throttle_is_per_user);
	suite_add_tcase(s, thr);
	TCase *end = tcase_create("expiry");
	tcase_add_test(end, message_ends_typing_and_resets_the_throttle);
	tcase_add_test(end, stop_notice_only_when_recently_typing);
	tcase_add_test(end, absorbed_typing_counts_as_recent);
	tcase_add_test(end, leaving_ends_typing_and_resets_the_throttle);
	tcase_add_test(end, disconnect_ends_typing_and_frees_state);
	tcase_add_test(end, rename_ends_typing_under_the_old_name);
	suite_add_tcase(s, end);
	TCase *opt = tcase_create("options");
	tcase_add_test(opt, options_are_validated);
	suite_add_tcase(s, opt);
	return checkutil_run(s);
}
