/* Unit tests: one connection, many rooms (src/membership.c, roomset.c,
 * roomlist.c, the room resolution of src/chat.c) on the real core with a
 * fake transport. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "http.h"
#include "roomset.h"
#include "testcore.h"

static struct testcore *tc;

static void setup(void) { tc = tc_new("[server]\nmax_rooms_per_client = 4\n"); }
static void teardown(void) { tc_free(tc); }

/* A multi-room connection to room as name; its first frames stay queued. */
static struct chatd_client *multi(const char *room, const char *name)
{
	struct tc_opts o = { .name = name, .multi = 1 };
	struct chatd_client *c = tc_connect_opts(tc, room, &o);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void send_fmt(struct chatd_client *c, const char *fmt, const char *a)
{
	char buf[512];
	snprintf(buf, sizeof buf, fmt, a);
	tc_send(tc, c, buf);
}

/* Expect an error frame with code next among c's frames (others skipped). */
static void expect_error(struct chatd_client *c, const char *code)
{
	json_t *e = tc_expect(tc, c, "error", NULL);
	ck_assert_msg(e != NULL, "no error frame, wanted %s", code);
	ck_assert_str_eq(str(e, "code"), code);
	json_decref(e);
}

/* 1 when the JSON array a holds the string s. */
static int array_has(json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (!strcmp(json_string_value(json_array_get(a, i)), s))
			return 1;
	return 0;
}

/* Count c's queued frames of type (and room when not NULL), consuming all. */
static int count_frames(struct chatd_client *c, const char *type, const char *room)
{
	int n = 0;
	json_t *v;
	while ((v = tc_recv(tc, c))) {
		if (!strcmp(str(v, "type"), type) && (!room || (str(v, "room") && !strcmp(str(v, "room"), room))))
			n++;
		json_decref(v);
	}
	return n;
}

START_TEST(roomset_add_find_remove)
{
	/* rooms are only compared by address here */
	static char rooms[100];
	struct roomset s;
	roomset_init(&s);
	for (int i = 0; i < 100; i++) {
		struct roomset_entry *e = roomset_add(&s, (struct room *)&rooms[i]);
		ck_assert_ptr_nonnull(e);
		e->index = (size_t)i;
	}
	ck_assert_uint_eq(s.n, 100);
	ck_assert_ptr_nonnull(s.slots); /* past ROOMSET_SCAN_MAX: hashed */
	for (int i = 0; i < 100; i += 2)
		roomset_remove(&s, (struct room *)&rooms[i]);
	roomset_remove(&s, (struct room *)&rooms[0]); /* absent: no-op */
	ck_assert_uint_eq(s.n, 50);
	for (int i = 0; i < 100; i++) {
		struct roomset_entry *e = roomset_find(&s, (struct room *)&rooms[i]);
		if (i % 2) {
			ck_assert_ptr_nonnull(e);
			ck_assert_uint_eq(e->index, (size_t)i);
		} else {
			ck_assert_ptr_null(e);
		}
	}
	for (int i = 1; i < 100; i += 2)
		if (i > 5)
			roomset_remove(&s, (struct room *)&rooms[i]);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_ptr_null(s.slots); /* small again: scanned */
	ck_assert_ptr_nonnull(roomset_find(&s, (struct room *)&rooms[3]));
	ck_assert_ptr_null(roomset_find(&s, (struct room *)&rooms[7]));
	roomset_free(&s);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(three_rooms_each_message_once)
{
	struct chatd_client *m = multi("one", "Multi");
	struct chatd_client *a = join_ok(tc, "one", "Ann"), *b = join_ok(tc, "two", "Bob"),
			    *c = join_ok(tc, "three", "Cid");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"three\"}");
	ck_assert_uint_eq(m->rooms.n, 3);
	json_t *w = tc_expect(tc, m, "welcome", NULL); /* of one */
	ck_assert(json_is_true(json_object_get(w, "multi")));
	json_decref(w);
	struct chatd_client *all[] = { m, a, b, c };
	drain_all(all, 4);
	tc_send(tc, a, "{\"text\":\"in one\"}");
	tc_send(tc, b, "{\"text\":\"in two\"}");
	tc_send(tc, c, "{\"text\":\"in three\"}");
	const char *rooms[] = { "one", "two", "three" };
	for (int i = 0; i < 3; i++) {
		json_t *msg = tc_recv(tc, m);
		ck_assert_ptr_nonnull(msg);
		ck_assert_str_eq(str(msg, "type"), "message");
		ck_assert_str_eq(str(msg, "room"), rooms[i]);
		json_decref(msg);
	}
	ck_assert_uint_eq(tc_pending(m), 0); /* each once, nothing else */
	/* the multi client's own message goes to its current room (three) or the one it names */
	tc_send(tc, m, "{\"text\":\"to current\"}");
	tc_send(tc, m, "{\"text\":\"to one\",\"room\":\"One\"}");
	ck_assert_int_eq(count_frames(c, "message", "three"), 2); /* c's own + m's */
	ck_assert_int_eq(count_frames(a, "message", "one"), 2);
	ck_assert_int_eq(count_frames(b, "message", NULL), 1);
	ck_assert_int_eq(count_frames(m, "message", NULL), 2);
}
END_TEST

START_TEST(leave_one_room_keeps_the_others)
{
	struct chatd_client *m = multi("one", "Multi");
	struct chatd_client *a = join_ok(tc, "one", "Ann"), *b = join_ok(tc, "two", "Bob");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	struct chatd_client *all[] = { m, a, b };
	drain_all(all, 3);
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"one\"}");
	json_t *l = tc_expect(tc, a, "system", "leave");
	ck_assert_str_eq(str(l, "room"), "one");
	ck_assert_str_eq(str(l, "username"), "Multi");
	json_decref(l);
	json_t *left = tc_recv(tc, m);
	ck_assert_str_eq(str(left, "type"), "left");
	ck_assert_str_eq(str(left, "room"), "one");
	ck_assert_int_eq(json_object_size(left), 2);
	json_decref(left);
	ck_assert_uint_eq(tc_pending(b), 0); /* two heard nothing */
	tc_send(tc, a, "{\"text\":\"in one\"}");
	tc_send(tc, b, "{\"text\":\"in two\"}");
	json_t *msg = tc_recv(tc, m);
	ck_assert_str_eq(str(msg, "room"), "two");
	json_decref(msg);
	ck_assert_uint_eq(tc_pending(m), 0);
	/* a room frame for the room it left is refused */
	tc_send(tc, m, "{\"text\":\"x\",\"room\":\"one\"}");
	expect_error(m, "not_in_room");
	tc_send(tc, m, "{\"type\":\"who\",\"room\":\"one\"}");
	expect_error(m, "not_in_room");
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"one\"}");
	expect_error(m, "not_in_room");
	ck_assert_int_eq(count_frames(a, "message", NULL), 1);
}
END_TEST

START_TEST(current_room_is_the_last_joined_still_in)
{
	struct chatd_client *m = multi("one", "Multi");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"three\"}");
	ck_assert_str_eq(m->room->name, "three");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}"); /* already in: welcome again, current */
	ck_assert_str_eq(m->room->name, "two");
	ck_assert_uint_eq(m->rooms.n, 3);
	tc_drain(m);
	tc_send(tc, m, "{\"type\":\"leave\"}"); /* the current room */
	json_t *left = tc_expect(tc, m, "left", NULL);
	ck_assert_str_eq(str(left, "room"), "two");
	json_decref(left);
	ck_assert_str_eq(m->room->name, "three");
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"three\"}");
	ck_assert_str_eq(m->room->name, "one");
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"one\"}");
	ck_assert_ptr_null(m->room);
	tc_drain(m);
	tc_send(tc, m, "{\"text\":\"anyone?\"}");
	expect_error(m, "not_in_room");
	tc_send(tc, m, "{\"type\":\"who\"}");
	expect_error(m, "not_in_room");
	tc_send(tc, m, "{\"type\":\"leave\"}");
	expect_error(m, "not_in_room");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"four\"}");
	json_t *w = tc_expect(tc, m, "welcome", NULL);
	ck_assert_str_eq(str(w, "room"), "four");
	json_decref(w);
	ck_assert_int_eq(tc_close_code(m), 0);
}
END_TEST

START_TEST(rejoin_resends_welcome_without_notice)
{
	struct chatd_client *m = multi("one", "Multi"), *a = join_ok(tc, "one", "Ann");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	struct chatd_client *all[] = { m, a };
	drain_all(all, 2);
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"ONE\"}");
	json_t *w = tc_recv(tc, m);
	ck_assert_str_eq(str(w, "type"), "welcome");
	ck_assert_str_eq(str(w, "room"), "one");
	ck_assert_int_eq(num(w, "user_count"), 2);
	json_decref(w);
	ck_assert_uint_eq(tc_pending(m), 0);
	ck_assert_uint_eq(tc_pending(a), 0);
}
END_TEST

START_TEST(too_many_rooms)
{
	struct chatd_client *m = multi("r1", "Multi");
	for (int i = 2; i <= 5; i++) {
		char room[8];
		snprintf(room, sizeof room, "r%d", i);
		send_fmt(m, "{\"type\":\"join\",\"room\":\"%s\"}", room);
	}
	expect_error(m, "too_many_rooms");
	ck_assert_uint_eq(m->rooms.n, 4);
	ck_assert_ptr_null(strmap_get(&tc->srv.rooms, "r5"));
	ck_assert_str_eq(m->room->name, "r4");
	/* after a leave there is room again; the single mode never hits the limit */
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"r1\"}");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"r5\"}");
	ck_assert_uint_eq(m->rooms.n, 4);
	ck_assert_str_eq(m->room->name, "r5");
}
END_TEST

START_TEST(single_mode_switches_and_can_leave)
{
	struct chatd_client *s = join_ok(tc, "one", "Single"), *a = join_ok(tc, "one", "Ann");
	tc_send(tc, s, "{\"type\":\"join\",\"room\":\"two\"}");
	ck_assert_uint_eq(s->rooms.n, 1);
	ck_assert_str_eq(s->room->name, "two");
	json_t *w = tc_expect(tc, s, "welcome", NULL);
	ck_assert_ptr_null(json_object_get(w, "multi"));
	json_decref(w);
	json_t *l = tc_expect(tc, a, "system", "leave");
	ck_assert_ptr_nonnull(l);
	json_decref(l);
	tc_drain(s);
	tc_send(tc, s, "{\"type\":\"leave\",\"room\":\"two\"}");
	json_t *left = tc_recv(tc, s);
	ck_assert_str_eq(str(left, "type"), "left");
	json_decref(left);
	ck_assert_ptr_null(s->room);
	tc_send(tc, s, "{\"text\":\"hello?\"}");
	expect_error(s, "not_in_room");
	tc_send(tc, s, "{\"type\":\"join\",\"room\":\"one\"}");
	ck_assert_str_eq(s->room->name, "one");
}
END_TEST

START_TEST(room_names_fold_to_lower_case)
{
	struct chatd_client *a = join_ok(tc, "Lounge", "Ann");
	json_t *w = tc_recv(tc, a);
	ck_assert_str_eq(str(w, "room"), "lounge");
	json_decref(w);
	struct chatd_client *b = join_ok(tc, "general", "Bob");
	tc_drain(a);
	tc_send(tc, b, "{\"type\":\"join\",\"room\":\"LOUNGE\"}");
	ck_assert_ptr_eq(a->room, b->room);
	ck_assert_ptr_null(strmap_get(&tc->srv.rooms, "LOUNGE"));
	json_t *j = tc_expect(tc, a, "system", "join");
	ck_assert_str_eq(str(j, "room"), "lounge");
	ck_assert_str_eq(str(j, "username"), "Bob");
	json_decref(j);
	tc_send(tc, b, "{\"text\":\"hi\",\"room\":\"LoUnGe\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_str_eq(str(m, "room"), "lounge");
	json_decref(m);
	tc_send(tc, b, "{\"text\":\"hi\",\"room\":\"no such\"}");
	expect_error(b, "bad_request");
	tc_send(tc, b, "{\"text\":\"hi\",\"room\":7}");
	expect_error(b, "bad_request");
}
END_TEST

START_TEST(disconnect_leaves_every_room)
{
	tc_free(tc);
	tc = tc_new("[plugin probe]\npath = tests/plugins/probe.so\n");
	struct chatd_client *m = multi("one", "Multi");
	struct chatd_client *a = join_ok(tc, "one", "Ann"), *b = join_ok(tc, "two", "Bob");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"three\"}");
	struct chatd_client *all[] = { m, a, b };
	drain_all(all, 3);
	tc_disconnect(tc, m);
	json_t *la = tc_expect(tc, a, "system", "leave"), *lb = tc_expect(tc, b, "system", "leave");
	ck_assert_str_eq(str(la, "room"), "one");
	ck_assert_str_eq(str(lb, "room"), "two");
	json_decref(la), json_decref(lb);
	ck_assert_ptr_null(strmap_get(&tc->srv.rooms, "three")); /* empty and silent: freed */
	ck_assert_int_eq(counter_value(tc, "probe", "leave"), 3);
	ck_assert_int_eq(counter_value(tc, "probe", "leave_member"), 3); /* still a member during LEAVE */
	ck_assert_int_eq(counter_value(tc, "probe", "disconnect_roomless"), 1); /* DISCONNECT after them */
}
END_TEST

START_TEST(plugins_see_the_rooms_of_a_client)
{
	tc_free(tc);
	tc = tc_new("[plugin probe]\npath = tests/plugins/probe.so\n");
	struct chatd_client *m = multi("one", "Multi");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	tc_drain(m);
	tc_send(tc, m, "{\"type\":\"probe\",\"room\":\"one\"}");
	json_t *p = tc_expect(tc, m, "probe", NULL);
	ck_assert_str_eq(str(p, "room"), "one"); /* the room the frame names */
	json_t *rooms = json_object_get(p, "rooms");
	ck_assert_uint_eq(json_array_size(rooms), 2);
	ck_assert_str_eq(str(json_array_get(rooms, 0), "name"), "two"); /* current first */
	ck_assert_str_eq(str(json_array_get(rooms, 1), "name"), "one");
	ck_assert(is_true(json_array_get(rooms, 1), "in"));
	json_decref(p);
	tc_send(tc, m, "{\"type\":\"probe\"}");
	p = tc_expect(tc, m, "probe", NULL);
	ck_assert_str_eq(str(p, "room"), "two"); /* the current room */
	json_decref(p);
	tc_send(tc, m, "{\"type\":\"probe\",\"room\":\"three\"}");
	expect_error(m, "not_in_room");
	tc_send(tc, m, "{\"type\":\"probe\",\"room\":\"a b\"}");
	expect_error(m, "bad_request");
	/* an unclaimed type is unknown whatever its room */
	tc_send(tc, m, "{\"type\":\"nope\",\"room\":\"a b\"}");
	expect_error(m, "unknown_type");
	/* leave and the API agrees */
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"two\"}");
	tc_drain(m);
	tc_send(tc, m, "{\"type\":\"probe\"}");
	p = tc_expect(tc, m, "probe", NULL);
	ck_assert_str_eq(str(p, "room"), "one");
	ck_assert_uint_eq(json_array_size(json_object_get(p, "rooms")), 1);
	json_decref(p);
}
END_TEST

START_TEST(per_room_presence_and_who)
{
	struct chatd_client *m = multi("one", "Multi");
	struct chatd_client *a = join_ok(tc, "one", "Ann"), *b = join_ok(tc, "two", "Bob");
	struct chatd_client *all[] = { m, a, b };
	drain_all(all, 3);
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"two\"}");
	json_t *w = tc_expect(tc, m, "welcome", NULL);
	ck_assert_str_eq(str(w, "room"), "two");
	ck_assert_int_eq(num(w, "user_count"), 2);
	json_decref(w);
	json_t *j = tc_expect(tc, b, "system", "join");
	ck_assert_str_eq(str(j, "room"), "two");
	json_decref(j);
	ck_assert_uint_eq(tc_pending(a), 0); /* one heard nothing */
	tc_drain(m);
	tc_send(tc, m, "{\"type\":\"who\",\"room\":\"one\"}");
	json_t *u = tc_expect(tc, m, "users", NULL);
	ck_assert_str_eq(str(u, "room"), "one");
	ck_assert_int_eq(num(u, "user_count"), 2);
	json_decref(u);
	tc_send(tc, m, "{\"type\":\"who\"}");
	u = tc_expect(tc, m, "users", NULL);
	ck_assert_str_eq(str(u, "room"), "two");
	json_decref(u);
	/* a rename is told in every room of the client, once each */
	drain_all(all, 3);
	tc_send(tc, m, "{\"type\":\"nick\",\"username\":\"Renamed\"}");
	ck_assert_int_eq(count_frames(a, "system", "one"), 1);
	ck_assert_int_eq(count_frames(b, "system", "two"), 1);
	ck_assert_int_eq(count_frames(m, "system", NULL), 2);
}
END_TEST

START_TEST(big_rooms_coalesce_per_room)
{
	tc_free(tc);
	tc = tc_new("[server]\nbig_room_members = 3\npresence_interval_ms = 20\n");
	struct chatd_client *x[3], *y[3];
	char name[16];
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "x%d", i);
		x[i] = join_ok(tc, "bigx", name);
		snprintf(name, sizeof name, "y%d", i);
		y[i] = join_ok(tc, "bigy", name);
	}
	struct chatd_client *m = multi("bigx", "Multi");
	tc_send(tc, m, "{\"type\":\"join\",\"room\":\"bigy\"}");
	drain_all(x, 3);
	drain_all(y, 3);
	tc_run(tc, 60);
	json_t *px = tc_expect(tc, x[0], "system", "presence"), *py = tc_expect(tc, y[0], "system", "presence");
	ck_assert_ptr_nonnull(px);
	ck_assert_ptr_nonnull(py);
	ck_assert_str_eq(str(px, "room"), "bigx");
	ck_assert_str_eq(str(py, "room"), "bigy");
	ck_assert(array_has(json_object_get(py, "joined"), "Multi"));
	ck_assert(array_has(json_object_get(px, "joined"), "Multi"));
	json_decref(px), json_decref(py);
	drain_all(x, 3);
	drain_all(y, 3);
	tc_send(tc, m, "{\"type\":\"leave\",\"room\":\"bigy\"}");
	tc_run(tc, 60);
	py = tc_expect(tc, y[1], "system", "presence");
	ck_assert(array_has(json_object_get(py, "left"), "Multi"));
	json_decref(py);
	ck_assert_ptr_null(tc_expect(tc, x[1], "system", "presence"));
}
END_TEST

START_TEST(rooms_list_biggest_first_unlisted_hidden)
{
	tc_free(tc);
	tc = tc_new("[server]\nunlisted_rooms = Secret-* staff\n");
	join_ok(tc, "small", "s1");
	join_ok(tc, "big", "b1");
	join_ok(tc, "big", "b2");
	join_ok(tc, "secret-plans", "p1");
	join_ok(tc, "staff", "t1");
	struct chatd_client *c = join_ok(tc, "aaa", "Asker");
	struct chatd_client *gone = join_ok(tc, "empty", "Gone");
	tc_send(tc, gone, "{\"text\":\"keeps the room\"}");
	tc_disconnect(tc, gone);
	tc_drain(c);
	tc_send(tc, c, "{\"type\":\"rooms\"}");
	json_t *l = tc_recv(tc, c);
	ck_assert_str_eq(str(l, "type"), "rooms");
	json_t *rooms = json_object_get(l, "rooms");
	ck_assert_uint_eq(json_array_size(rooms), 3);
	ck_assert_str_eq(str(json_array_get(rooms, 0), "name"), "big");
	ck_assert_int_eq(num(json_array_get(rooms, 0), "user_count"), 2);
	ck_assert_str_eq(str(json_array_get(rooms, 1), "name"), "aaa");
	ck_assert_str_eq(str(json_array_get(rooms, 2), "name"), "small");
	ck_assert_ptr_null(json_object_get(l, "more"));
	json_decref(l);
	/* unlisted rooms work for whoever knows the name */
	tc_send(tc, c, "{\"type\":\"join\",\"room\":\"Secret-Plans\"}");
	json_t *w = tc_expect(tc, c, "welcome", NULL);
	ck_assert_int_eq(num(w, "user_count"), 2);
	json_decref(w);
}
END_TEST

START_TEST(bad_room_globs_refused)
{
	char err[1024] = "";
	struct testcore *bad = tc_try_new("[server]\nunlisted_rooms = ok bad/room\n", err, sizeof err);
	ck_assert_ptr_null(bad);
	ck_assert_msg(strstr(err, "test.conf:2: key 'unlisted_rooms'") != NULL, "%s", err);
	bad = tc_try_new("[server]\nmax_rooms_per_client = 0\n", err, sizeof err);
	ck_assert_ptr_null(bad);
	ck_assert_msg(strstr(err, "max_rooms_per_client") != NULL, "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rooms");
	TCase *t = tcase_create("rooms");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, roomset_add_find_remove);
	tcase_add_test(t, three_rooms_each_message_once);
	tcase_add_test(t, leave_one_room_keeps_the_others);
	tcase_add_test(t, current_room_is_the_last_joined_still_in);
	tcase_add_test(t, rejoin_resends_welcome_without_notice);
	tcase_add_test(t, too_many_rooms);
	tcase_add_test(t, single_mode_switches_and_can_leave);
	tcase_add_test(t, room_names_fold_to_lower_case);
	tcase_add_test(t, disconnect_leaves_every_room);
	tcase_add_test(t, plugins_see_the_rooms_of_a_client);
	tcase_add_test(t, per_room_presence_and_who);
	tcase_add_test(t, big_rooms_coalesce_per_room);
	tcase_add_test(t, rooms_list_biggest_first_unlisted_hidden);
	tcase_add_test(t, bad_room_globs_refused);
	suite_add_tcase(s, t);
	return checkutil_run(s);
}
