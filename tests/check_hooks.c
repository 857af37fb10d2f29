/* Unit tests: hook tables and dispatch (src/hooks.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "hooks.h"

static struct hooks h;
static char trace[64];

static void setup(void)
{
	hooks_init(&h);
	trace[0] = 0;
}

static void teardown(void) { hooks_free(&h); }

/* Each hook appends its userdata's first char to trace; '!' returns DENY. */
static int tracer(int ev, void *event, void *ud)
{
	(void)ev, (void)event;
	const char *tag = ud;
	strncat(trace, tag, 1);
	return tag[0] == '!' ? CHATD_DENY : CHATD_OK;
}

START_TEST(priority_then_registration_order)
{
	ck_assert_int_eq(hooks_add(&h, CHATD_EV_JOIN, tracer, "b", 0, NULL), 0);
	ck_assert_int_eq(hooks_add(&h, CHATD_EV_JOIN, tracer, "c", 0, NULL), 0);
	ck_assert_int_eq(hooks_add(&h, CHATD_EV_JOIN, tracer, "a", -10, NULL), 0);
	ck_assert_int_eq(hooks_add(&h, CHATD_EV_JOIN, tracer, "z", 100, NULL), 0);
	hooks_dispatch(&h, CHATD_EV_JOIN, NULL);
	ck_assert_str_eq(trace, "abcz");
}
END_TEST

START_TEST(filter_stops_notify_does_not)
{
	hooks_add(&h, CHATD_EV_MESSAGE, tracer, "a", 0, NULL);
	hooks_add(&h, CHATD_EV_MESSAGE, tracer, "!", 1, NULL);
	hooks_add(&h, CHATD_EV_MESSAGE, tracer, "c", 2, NULL);
	ck_assert_int_eq(hooks_dispatch(&h, CHATD_EV_MESSAGE, NULL), CHATD_DENY);
	ck_assert_str_eq(trace, "a!");
	trace[0] = 0;
	hooks_add(&h, CHATD_EV_LEAVE, tracer, "!", 0, NULL);
	hooks_add(&h, CHATD_EV_LEAVE, tracer, "d", 1, NULL);
	ck_assert_int_eq(hooks_dispatch(&h, CHATD_EV_LEAVE, NULL), CHATD_OK);
	ck_assert_str_eq(trace, "!d");
}
END_TEST

static int remover(int ev, void *event, void *ud)
{
	(void)event, (void)ud;
	strcat(trace, "r");
	hooks_remove(&h, ev, tracer, "x");   /* a later hook */
	hooks_remove(&h, ev, remover, NULL); /* itself */
	hooks_add(&h, ev, tracer, "n", -50, NULL); /* added mid-dispatch: next time */
	return CHATD_OK;
}

START_TEST(unregister_during_dispatch_is_safe)
{
	hooks_add(&h, CHATD_EV_TICK, tracer, "a", 0, NULL);
	hooks_add(&h, CHATD_EV_TICK, remover, NULL, 1, NULL);
	hooks_add(&h, CHATD_EV_TICK, tracer, "x", 2, NULL);
	hooks_add(&h, CHATD_EV_TICK, tracer, "b", 3, NULL);
	hooks_dispatch(&h, CHATD_EV_TICK, NULL);
	ck_assert_str_eq(trace, "arb");
	trace[0] = 0;
	hooks_dispatch(&h, CHATD_EV_TICK, NULL);
	ck_assert_str_eq(trace, "abn"); /* appended during dispatch: after the others */
}
END_TEST

START_TEST(remove_owner_and_bad_events)
{
	int owner_a, owner_b;
	hooks_add(&h, CHATD_EV_JOIN, tracer, "a", 0, &owner_a);
	hooks_add(&h, CHATD_EV_LEAVE, tracer, "a", 0, &owner_a);
	hooks_add(&h, CHATD_EV_JOIN, tracer, "b", 0, &owner_b);
	hooks_remove_owner(&h, &owner_a);
	ck_assert(!hooks_any(&h, CHATD_EV_LEAVE));
	hooks_dispatch(&h, CHATD_EV_JOIN, NULL);
	ck_assert_str_eq(trace, "b");
	ck_assert_int_eq(hooks_add(&h, 0, tracer, "a", 0, NULL), -1);
	ck_assert_int_eq(hooks_add(&h, CHATD_EV_COUNT_, tracer, "a", 0, NULL), -1);
	ck_assert_int_eq(hooks_remove(&h, CHATD_EV_JOIN, tracer, "nope"), -1);
	ck_assert_int_eq(hooks_dispatch(&h, 999, NULL), CHATD_OK);
}
END_TEST

START_TEST(event_numbers_are_frozen)
{
	/* The ABI promises these never change. */
	ck_assert_int_eq(CHATD_EV_CONNECT, 1);
	ck_assert_int_eq(CHATD_EV_JOIN, 2);
	ck_assert_int_eq(CHATD_EV_MESSAGE, 3);
	ck_assert_int_eq(CHATD_EV_LEAVE, 4);
	ck_assert_int_eq(CHATD_EV_DISCONNECT, 5);
	ck_assert_int_eq(CHATD_EV_TICK, 6);
	ck_assert_int_eq(CHATD_EV_FRAME, 7);
	ck_assert_int_eq(CHATD_EV_STORE, 8);
	ck_assert_int_eq(CHATD_EV_LOOP_IDLE, 9);
	ck_assert_int_eq(CHATD_EV_ROOM_CREATE, 10);
	ck_assert_int_eq(CHATD_EV_RENAME, 11);
	ck_assert_int_eq(CHATD_EV_RECEIVE, 12);
	ck_assert(hooks_is_filter(CHATD_EV_CONNECT) && hooks_is_filter(CHATD_EV_MESSAGE));
	ck_assert(!hooks_is_filter(CHATD_EV_JOIN) && !hooks_is_filter(CHATD_EV_TICK));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("dispatch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, priority_then_registration_order);
	tcase_add_test(tc, filter_stops_notify_does_not);
	tcase_add_test(tc, unregister_during_dispatch_is_safe);
	tcase_add_test(tc, remove_owner_and_bad_events);
	tcase_add_test(tc, event_numbers_are_frozen);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
