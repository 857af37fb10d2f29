/* Unit tests: people and sessions (src/identity.c, the presence per person of
 * src/membership.c): connections of one session that ask for the same name
 * are one person; presence counts names; a session's name survives a reload
 * within presence_grace_ms. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "client.h"
#include "identity.h"
#include "testcore.h"

#define KEY_A "session-key-of-alice-0001"
#define KEY_B "session-key-of-bobby-0002"

static struct testcore *tc;

/* The grace period of these tests: long enough that a loaded machine does
 * not end it between two steps that must fall inside it. */
#define GRACE_MS 500

static void setup(void) { tc = tc_new("[server]\npresence_grace_ms = 500\n"); }
static void teardown(void) { tc_free(tc); }

/* A connection to room as name with session key (may be NULL), multi or not. */
static struct chatd_client *conn(const char *room, const char *name, const char *key, int multi)
{
	struct tc_opts o = { .name = name, .session = key, .multi = multi };
	struct chatd_client *c = tc_connect_opts(tc, room, &o);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* How many frames of c are system notices of event (for name when not NULL); consumes all. */
static int notices(struct chatd_client *c, const char *event, const char *name)
{
	int n = 0;
	json_t *v;
	while ((v = tc_recv(tc, c))) {
		if (!strcmp(str(v, "type"), "system") && !strcmp(str(v, "event"), event) &&
		    (!name || !strcmp(str(v, "username"), name)))
			n++;
		json_decref(v);
	}
	return n;
}

START_TEST(session_keys_are_checked_and_hashed)
{
	struct chatd_client *c = client_new(&tc->srv, tc, "127.0.0.1");
	ck_assert_ptr_nonnull(identity_session(c, "short"));
	ck_assert_ptr_nonnull(identity_session(c, "has a space in it 123"));
	ck_assert_ptr_nonnull(identity_session(c, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
						  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));
	ck_assert_int_eq(c->has_session, 0);
	ck_assert_ptr_null(identity_session(c, "A-valid_key-0123"));
	ck_assert_int_eq(c->has_session, 1);
	ck_assert_uint_eq(strlen(c->session_hex), 64);
	ck_assert_ptr_null(strstr(c->session_hex, "valid")); /* a hash, not the key */
	/* sha256("chatd-session:A-valid_key-0123") */
	ck_assert_str_eq(c->session_hex, "264cf0cb2d7d37967182aff649605bd3ae1169dabad52ea636584e9a73fcbd94");
	client_gone(c);
	client_unref(c);
}
END_TEST

START_TEST(two_tabs_of_one_session_are_one_person)
{
	struct chatd_client *other = conn("room", "Obs", NULL, 0);
	struct chatd_client *a1 = conn("room", "Alice", KEY_A, 0);
	tc_drain(other);
	tc_drain(a1);
	struct chatd_client *a2 = conn("room", "alice", KEY_A, 0);
	ck_assert_str_eq(a2->name, "Alice"); /* the person's name, not a variant */
	ck_assert_ptr_eq(a1->person, a2->person);
	json_t *w = tc_expect(tc, a2, "welcome", NULL);
	ck_assert_int_eq(num(w, "user_count"), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(w, "users")), 2);
	json_decref(w);
	ck_assert_int_eq(notices(other, "join", NULL), 0); /* Alice was here already */
	ck_assert_int_eq(notices(a1, "join", NULL), 0);
	tc_send(tc, other, "{\"type\":\"who\"}");
	json_t *u = tc_expect(tc, other, "users", NULL);
	ck_assert_int_eq(num(u, "user_count"), 2);
	json_decref(u);
	/* a message of either tab comes from Alice and reaches both tabs */
	tc_drain(a1), tc_drain(a2);
	tc_send(tc, a2, "{\"text\":\"from tab two\"}");
	json_t *m = tc_expect(tc, a1, "message", NULL);
	ck_assert_str_eq(str(m, "username"), "Alice");
	json_decref(m);
	/* the leave notice comes when the last tab leaves */
	tc_send(tc, a1, "{\"type\":\"leave\"}");
	ck_assert_int_eq(notices(other, "leave", NULL), 0);
	tc_send(tc, a2, "{\"type\":\"leave\"}");
	ck_assert_int_eq(notices(other, "leave", "Alice"), 1);
}
END_TEST

START_TEST(another_session_or_none_gets_a_variant)
{
	struct chatd_client *a = conn("room", "Alice", KEY_A, 0);
	struct chatd_client *b = conn("room", "Alice", KEY_B, 0);
	struct chatd_client *n = conn("room", "ALICE", NULL, 0);
	ck_assert_str_eq(a->name, "Alice");
	ck_assert_str_eq(b->name, "Alice2");
	ck_assert_str_eq(n->name, "ALICE3");
	ck_assert_ptr_ne(a->person, b->person);
	/* a second tab of B asking for Alice lands on B's variant: its own person */
	struct chatd_client *b2 = conn("room", "Alice", KEY_B, 0);
	ck_assert_str_eq(b2->name, "Alice2");
	ck_assert_ptr_eq(b2->person, b->person);
	/* two connections without a session never share */
	struct chatd_client *n2 = conn("room", "ALICE3", NULL, 0);
	ck_assert_str_eq(n2->name, "ALICE32");
}
END_TEST

START_TEST(reload_within_grace_is_silent)
{
	struct chatd_client *other = conn("room", "Obs", NULL, 0);
	struct chatd_client *a = conn("room", "Alice", KEY_A, 0);
	tc_drain(other);
	tc_disconnect(tc, a);
	ck_assert_int_eq(notices(other, "leave", NULL), 0);
	tc_send(tc, other, "{\"type\":\"who\"}");
	json_t *u = tc_expect(tc, other, "users", NULL);
	ck_assert_int_eq(num(u, "user_count"), 2); /* Alice is still there */
	json_decref(u);
	/* the name is reserved for the session */
	struct chatd_client *x = conn("other", "Alice", KEY_B, 0);
	ck_assert_str_eq(x->name, "Alice2");
	tc_run(tc, 50);
	struct chatd_client *a2 = conn("room", "Alice", KEY_A, 0); /* the reload */
	ck_assert_str_eq(a2->name, "Alice");
	tc_run(tc, GRACE_MS + 100); /* past the grace period: nothing happens now */
	ck_assert_int_eq(notices(other, "leave", NULL), 0);
	ck_assert_int_eq(notices(other, "join", NULL), 0);
	json_t *w = tc_expect(tc, a2, "welcome", NULL);
	ck_assert_int_eq(num(w, "user_count"), 2);
	json_decref(w);
}
END_TEST

START_TEST(after_grace_the_leave_comes_and_the_name_is_free)
{
	struct chatd_client *other = conn("room", "Obs", NULL, 0);
	struct chatd_client *a = conn("room", "Alice", KEY_A, 0);
	tc_drain(other);
	tc_disconnect(tc, a);
	tc_run(tc, 100);
	ck_assert_int_eq(notices(other, "leave", NULL), 0);
	tc_run(tc, GRACE_MS);
	ck_assert_int_eq(notices(other, "leave", "Alice"), 1);
	ck_assert_ptr_null(identity_find(&tc->srv, "alice"));
	struct chatd_client *b = conn("room", "Alice", KEY_B, 0);
	ck_assert_str_eq(b->name, "Alice");
	ck_assert_int_eq(notices(other, "join", "Alice"), 1);
}
END_TEST

START_TEST(rooms_not_rejoined_after_a_reload_are_left_after_grace)
{
	struct chatd_client *o1 = conn("one", "Obs1", NULL, 0), *o2 = conn("two", "Obs2", NULL, 0);
	struct chatd_client *a = conn("one", "Alice", KEY_A, 1);
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"two\"}");
	tc_drain(o1), tc_drain(o2);
	tc_disconnect(tc, a);
	struct chatd_client *a2 = conn("one", "Alice", KEY_A, 1); /* comes back to one only */
	ck_assert_ptr_nonnull(a2);
	tc_run(tc, GRACE_MS + 100);
	ck_assert_int_eq(notices(o1, "leave", NULL) + notices(o1, "join", NULL), 0);
	ck_assert_int_eq(notices(o2, "leave", "Alice"), 1);
	ck_assert_ptr_nonnull(identity_find(&tc->srv, "alice")); /* the person lives on */
}
END_TEST

START_TEST(a_closing_tab_holds_its_rooms_while_another_lives)
{
	struct chatd_client *o2 = conn("two", "Obs2", NULL, 0);
	struct chatd_client *a1 = conn("one", "Alice", KEY_A, 0), *a2 = conn("two", "Alice", KEY_A, 0);
	tc_drain(o2);
	tc_disconnect(tc, a2); /* a reload of the tab in two, while the tab in one stays */
	ck_assert_int_eq(notices(o2, "leave", NULL), 0);
	a2 = conn("two", "Alice", KEY_A, 0);
	tc_run(tc, GRACE_MS + 100);
	ck_assert_int_eq(notices(o2, "leave", NULL) + notices(o2, "join", NULL), 0);
	ck_assert_ptr_eq(a1->person, a2->person);
}
END_TEST

START_TEST(rename_renames_every_tab)
{
	tc_free(tc);
	tc = tc_new("[server]\npresence_grace_ms = 500\n[plugin probe]\npath = tests/plugins/probe.so\n");
	struct chatd_client *other = conn("room", "Obs", NULL, 0);
	struct chatd_client *a1 = conn("room", "Al", KEY_A, 0), *a2 = conn("room", "Al", KEY_A, 0);
	struct chatd_client *all[] = { other, a1, a2 };
	drain_all(all, 3);
	tc_send(tc, a1, "{\"type\":\"nick\",\"username\":\"Alice\"}");
	ck_assert_str_eq(a2->name, "Alice");
	ck_assert_int_eq(notices(other, "rename", "Alice"), 1); /* one notice for the person */
	ck_assert_int_eq(notices(a2, "rename", "Alice"), 1);
	ck_assert_int_eq(counter_value(tc, "probe", "rename"), 2); /* RENAME per connection */
	ck_assert_ptr_null(identity_find(&tc->srv, "al"));
	/* a name held by another person gives a variant, whatever the session */
	struct chatd_client *b = conn("room", "Bob", KEY_A, 0);
	tc_send(tc, b, "{\"type\":\"nick\",\"username\":\"alice\"}");
	ck_assert_str_eq(b->name, "alice2");
	ck_assert_ptr_ne(b->person, a1->person);
}
END_TEST

START_TEST(without_grace_or_session_leaves_at_once)
{
	struct chatd_client *other = conn("room", "Obs", NULL, 0);
	struct chatd_client *n = conn("room", "Nosession", NULL, 0);
	tc_drain(other);
	tc_disconnect(tc, n);
	ck_assert_int_eq(notices(other, "leave", "Nosession"), 1);
	ck_assert_ptr_null(identity_find(&tc->srv, "nosession"));
	tc_free(tc);
	tc = tc_new("[server]\npresence_grace_ms = 0\n");
	other = conn("room", "Obs", NULL, 0);
	struct chatd_client *a = conn("room", "Alice", KEY_A, 0);
	tc_drain(other);
	tc_disconnect(tc, a);
	ck_assert_int_eq(notices(other, "leave", "Alice"), 1);
	ck_assert_ptr_null(identity_find(&tc->srv, "alice"));
}
END_TEST

START_TEST(plugins_see_the_person)
{
	tc_free(tc);
	tc = tc_new("[server]\npresence_grace_ms = 500\n[plugin probe]\npath = tests/plugins/probe.so\n");
	struct chatd_client *a1 = conn("room", "Alice", KEY_A, 0), *a2 = conn("room", "Alice", KEY_A, 0);
	tc_drain(a1);
	tc_send(tc, a1, "{\"type\":\"probe\"}");
	json_t *p = tc_expect(tc, a1, "probe", NULL);
	ck_assert_int_eq(num(p, "person_clients"), 2);
	ck_assert_str_eq(str(p, "session"), a2->session_hex);
	json_decref(p);
	struct chatd_client *n = conn("room", "Nobody", NULL, 0);
	tc_drain(n);
	tc_send(tc, n, "{\"type\":\"probe\"}");
	p = tc_expect(tc, n, "probe", NULL);
	ck_assert_int_eq(num(p, "person_clients"), 1);
	ck_assert(json_is_null(json_object_get(p, "session")));
	json_decref(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("people");
	TCase *t = tcase_create("people");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, session_keys_are_checked_and_hashed);
	tcase_add_test(t, two_tabs_of_one_session_are_one_person);
	tcase_add_test(t, another_session_or_none_gets_a_variant);
	tcase_add_test(t, reload_within_grace_is_silent);
	tcase_add_test(t, after_grace_the_leave_comes_and_the_name_is_free);
	tcase_add_test(t, rooms_not_rejoined_after_a_reload_are_left_after_grace);
	tcase_add_test(t, a_closing_tab_holds_its_rooms_while_another_lives);
	tcase_add_test(t, rename_renames_every_tab);
	tcase_add_test(t, without_grace_or_session_leaves_at_once);
	tcase_add_test(t, plugins_see_the_person);
	suite_add_tcase(s, t);
	return checkutil_run(s);
}
