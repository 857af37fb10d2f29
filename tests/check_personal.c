/* Unit tests: private messages as conversations (src/private.c, the privmsg
 * plugin), CHATD_EV_PRIVATE filters, and the history plugin's per-person
 * part (plugins/history/personal.c): read positions, unread counts,
 * conversations, private messages read back only by their two people. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "client.h"
#include "testcore.h"

#define KEY_A "session-key-of-alice-0001"
#define KEY_B "session-key-of-bobby-0002"
#define KEY_C "session-key-of-other-0003"

static struct testcore *tc;

static void setup(void)
{
	tc = tc_new("[server]\npresence_grace_ms = 0\n"
		    "[plugin probe]\npath = tests/plugins/probe.so\n"
		    "[plugin privmsg]\n"
		    "[plugin history]\ncommit_delay = 0\nreplay = 0\n");
	ck_assert_ptr_nonnull(tc);
}
static void teardown(void) { tc_free(tc); }

/* A connection to room as name with session key (NULL: none). */
static struct chatd_client *conn(const char *room, const char *name, const char *key)
{
	struct tc_opts o = { .name = name, .session = key, .multi = 1 };
	struct chatd_client *c = tc_connect_opts(tc, room, &o);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* The next frame of c of type (others skipped), new; fails when none. */
static json_t *next(struct chatd_client *c, const char *type)
{
	json_t *f = tc_expect(tc, c, type, NULL);
	ck_assert_msg(f != NULL, "no '%s' frame", type);
	return f;
}

/* How many queued frames of c are of type (consumes all). */
static int count(struct chatd_client *c, const char *type)
{
	int n = 0;
	json_t *v;
	while ((v = tc_recv(tc, c))) {
		n += !strcmp(str(v, "type"), type);
		json_decref(v);
	}
	return n;
}

static void say(struct chatd_client *c, const char *text)
{
	send_json(tc, c, json_pack("{s:s,s:s}", "type", "message", "text", text));
	tc_idle(tc); /* committed: the history plugin holds messages until then */
}

START_TEST(private_frame_reaches_every_tab_of_both)
{
	struct chatd_client *a1 = conn("r", "Alice", KEY_A), *a2 = conn("r", "Alice", KEY_A);
	struct chatd_client *b1 = conn("s", "Bob", KEY_B), *b2 = conn("t", "bob", KEY_B);
	struct chatd_client *all[] = { a1, a2, b1, b2 };
	drain_all(all, 4);
	tc_send(tc, a1, "{\"type\":\"private\",\"to\":\"BOB\",\"text\":\"hi bob\",\"client_id\":\"c1\"}");
	json_t *own = next(a1, "private"), *tab = next(a2, "private");
	json_t *r1 = next(b1, "private"), *r2 = next(b2, "private");
	ck_assert_str_eq(str(own, "client_id"), "c1"); /* the sender's echo */
	ck_assert_ptr_null(json_object_get(tab, "client_id"));
	ck_assert_ptr_null(json_object_get(r1, "client_id"));
	ck_assert_str_eq(str(r1, "from"), "Alice");
	ck_assert_str_eq(str(r1, "to"), "Bob"); /* the receiver's own spelling */
	ck_assert_str_eq(str(r2, "text"), "hi bob");
	ck_assert_int_gt(num(r1, "id"), 0);
	ck_assert_int_eq(num(r1, "id"), num(own, "id"));
	ck_assert_ptr_null(json_object_get(r1, "room"));
	json_decref(own), json_decref(tab), json_decref(r1), json_decref(r2);
	/* /msg keeps working: its echo carries the message's client_id, and no ack comes */
	drain_all(all, 4);
	tc_send(tc, b2, "{\"type\":\"message\",\"text\":\"/msg alice back\",\"client_id\":\"m1\"}");
	json_t *echo = next(b2, "private");
	ck_assert_str_eq(str(echo, "client_id"), "m1");
	ck_assert_str_eq(str(echo, "text"), "back");
	json_decref(echo);
	ck_assert_int_eq(count(b2, "ack"), 0);
	ck_assert_int_eq(count(a1, "private"), 1);
	ck_assert_int_eq(count(a2, "private"), 1);
	ck_assert_int_eq(count(b1, "private"), 1);
	ck_assert_int_eq(counter_value(tc, "privmsg", "sent"), 2);
	ck_assert_int_eq(counter_value(tc, "history", "private_stored"), 2);
}
END_TEST

START_TEST(private_frame_errors_carry_the_client_id)
{
	struct chatd_client *a = conn("r", "Alice", KEY_A);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"nobody\",\"text\":\"hi\",\"client_id\":\"x1\"}");
	json_t *e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "no_such_user");
	ck_assert_str_eq(str(e, "client_id"), "x1");
	json_decref(e);
	tc_send(tc, a, "{\"type\":\"private\",\"text\":\"hi\"}");
	e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "bad_request");
	json_decref(e);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Alice\",\"text\":\"   \"}");
	e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "bad_request");
	json_decref(e);
	ck_assert_int_eq(tc_close_code(a), 0);
}
END_TEST

START_TEST(a_closing_receiver_is_nobody_and_nothing_is_stored)
{
	struct chatd_client *a = conn("r", "Alice", KEY_A), *b1 = conn("r", "Bob", KEY_B);
	struct chatd_client *b2 = conn("s", "Bob", KEY_B);
	struct chatd_client *all[] = { a, b1, b2 };
	drain_all(all, 3);
	/* Bob's newest tab is closing: the message goes to the one that is not */
	client_close(b2, 1000, "bye");
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"still here?\"}");
	json_t *m = next(b1, "private");
	ck_assert_str_eq(str(m, "text"), "still here?");
	json_decref(m);
	ck_assert_int_eq(counter_value(tc, "history", "private_stored"), 1);
	/* every tab of Bob closing: nobody to deliver to, so nothing is kept either */
	client_close(b1, 1000, "bye");
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"gone?\",\"client_id\":\"g\"}");
	json_t *e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "no_such_user");
	ck_assert_str_eq(str(e, "client_id"), "g");
	json_decref(e);
	ck_assert_int_eq(counter_value(tc, "history", "private_stored"), 1);
	tc_send(tc, a, "{\"type\":\"history\",\"dm\":\"Bob\"}");
	json_t *h = next(a, "history");
	ck_assert_uint_eq(json_array_size(json_object_get(h, "messages")), 1);
	json_decref(h);
}
END_TEST

START_TEST(a_receiver_reloading_finds_it_when_back)
{
	tc_free(tc);
	tc = tc_new("[server]\npresence_grace_ms = 60000\n[plugin privmsg]\n"
		    "[plugin history]\ncommit_delay = 0\nreplay = 0\n");
	struct chatd_client *a = conn("r", "Alice", KEY_A), *b = conn("r", "Bob", KEY_B);
	tc_drain(a);
	tc_disconnect(tc, b); /* a reload: Bob keeps his name (and his place) for the grace period */
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"bob\",\"text\":\"while you reload\",\"client_id\":\"r1\"}");
	json_t *echo = next(a, "private");
	ck_assert_str_eq(str(echo, "client_id"), "r1");
	ck_assert_str_eq(str(echo, "to"), "Bob");
	json_int_t id = num(echo, "id");
	ck_assert_int_gt(id, 0);
	json_decref(echo);
	ck_assert_int_eq(counter_value(tc, "history", "private_stored"), 1);
	/* Bob is back (same session): the conversation, unread, and the message itself */
	b = conn("r", "Bob", KEY_B);
	ck_assert_str_eq(b->name, "Bob");
	json_t *dms = next(b, "dms");
	json_t *conv = json_array_get(json_object_get(dms, "conversations"), 0);
	ck_assert_str_eq(str(conv, "with"), "Alice");
	ck_assert_int_eq(num(conv, "unread"), 1);
	ck_assert_int_eq(num(conv, "last_id"), id);
	json_decref(dms);
	tc_send(tc, b, "{\"type\":\"history\",\"dm\":\"alice\"}");
	json_t *h = next(b, "history");
	ck_assert_str_eq(str(json_array_get(json_object_get(h, "messages"), 0), "text"), "while you reload");
	json_decref(h);
	/* a person without a session has no grace: gone is gone */
	struct chatd_client *n = conn("r", "Nosession", NULL);
	tc_disconnect(tc, n);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Nosession\",\"text\":\"hi\"}");
	json_t *e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "no_such_user");
	json_decref(e);
}
END_TEST

START_TEST(without_history_a_reloading_receiver_is_nobody)
{
	tc_free(tc);
	tc = tc_new("[server]\npresence_grace_ms = 60000\n[plugin privmsg]\n");
	struct chatd_client *a = conn("r", "Alice", KEY_A), *b = conn("r", "Bob", KEY_B);
	tc_drain(a);
	tc_disconnect(tc, b);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"lost?\",\"client_id\":\"x\"}");
	json_t *e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "no_such_user");
	ck_assert_str_eq(str(e, "client_id"), "x");
	json_decref(e);
	ck_assert_int_eq(count(a, "private"), 0);
}
END_TEST

START_TEST(a_default_priority_filter_sees_changes_and_denies)
{
	struct chatd_client *a = conn("r", "Alice", KEY_A), *b = conn("r", "Bob", KEY_B);
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"upper\"}");
	json_t *m = next(b, "private");
	ck_assert_str_eq(str(m, "text"), "UPPER");
	json_decref(m);
	tc_send(tc, a, "{\"text\":\"/msg Bob deny\",\"client_id\":\"d1\"}");
	json_t *e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "probe_denied");
	ck_assert_str_eq(str(e, "client_id"), "d1");
	json_decref(e);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"eat\"}");
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"empty\"}");
	ck_assert_int_eq(counter_value(tc, "probe", "private_empty_refused"), 1);
	ck_assert_int_eq(count(b, "private"), 1); /* "empty" went out unchanged; "eat" was consumed */
	ck_assert_int_eq(count(a, "error"), 0);
	ck_assert_int_eq(counter_value(tc, "probe", "private"), 4);
	/* the stored text is the filtered one */
	tc_send(tc, b, "{\"type\":\"history\",\"dm\":\"Alice\"}");
	json_t *h = next(b, "history");
	json_t *msgs = json_object_get(h, "messages");
	ck_assert_uint_eq(json_array_size(msgs), 2);
	ck_assert_str_eq(str(json_array_get(msgs, 0), "text"), "UPPER");
	json_decref(h);
}
END_TEST

START_TEST(only_the_two_people_read_a_conversation_back)
{
	struct chatd_client *a = conn("r", "Alice", KEY_A), *b = conn("r", "Bob", KEY_B);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"one\"}");
	tc_send(tc, b, "{\"type\":\"private\",\"to\":\"Alice\",\"text\":\"two\"}");
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"three\"}");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	tc_send(tc, a, "{\"type\":\"history\",\"dm\":\"bob\",\"limit\":2}");
	json_t *h = next(a, "history");
	ck_assert_str_eq(str(h, "dm"), "bob");
	json_t *msgs = json_object_get(h, "messages");
	ck_assert_uint_eq(json_array_size(msgs), 2);
	ck_assert_str_eq(str(json_array_get(msgs, 0), "text"), "two"); /* oldest first */
	ck_assert_str_eq(str(json_array_get(msgs, 1), "text"), "three");
	ck_assert(is_true(json_array_get(msgs, 0), "history"));
	ck_assert_str_eq(str(json_array_get(msgs, 0), "type"), "private");
	ck_assert(is_true(h, "has_more"));
	json_int_t oldest = num(json_array_get(msgs, 0), "id");
	json_decref(h);
	send_json(tc, a, json_pack("{s:s,s:s,s:I}", "type", "history", "dm", "Bob", "before", oldest));
	h = next(a, "history");
	ck_assert_uint_eq(json_array_size(json_object_get(h, "messages")), 1);
	ck_assert(!is_true(h, "has_more"));
	json_decref(h);
	/* Bob leaves; another session takes the name Bob: it reads nothing */
	tc_disconnect(tc, b);
	struct chatd_client *fake = conn("r", "Bob", KEY_C);
	ck_assert_str_eq(fake->name, "Bob");
	tc_drain(fake);
	tc_send(tc, fake, "{\"type\":\"history\",\"dm\":\"Alice\"}");
	h = next(fake, "history");
	ck_assert_uint_eq(json_array_size(json_object_get(h, "messages")), 0);
	json_decref(h);
	/* nor does a connection without a session */
	struct chatd_client *anon = conn("r", "Anon", NULL);
	tc_drain(anon);
	tc_send(tc, anon, "{\"type\":\"history\",\"dm\":\"Alice\"}");
	json_t *e = next(anon, "error");
	ck_assert_str_eq(str(e, "code"), "no_session");
	json_decref(e);
	/* the real Bob, back with his session, reads it all */
	tc_disconnect(tc, fake);
	b = conn("r", "Bob", KEY_B);
	json_t *dms = next(b, "dms");
	json_t *conv = json_array_get(json_object_get(dms, "conversations"), 0);
	ck_assert_str_eq(str(conv, "with"), "Alice");
	ck_assert_int_eq(num(conv, "unread"), 2); /* one and three: none read yet */
	ck_assert_int_eq(num(conv, "read_id"), 0);
	json_decref(dms);
	tc_send(tc, b, "{\"type\":\"history\",\"dm\":\"Alice\"}");
	h = next(b, "history");
	ck_assert_uint_eq(json_array_size(json_object_get(h, "messages")), 3);
	json_decref(h);
}
END_TEST

START_TEST(read_positions_are_forward_only_and_every_tab_is_told)
{
	struct chatd_client *carol = conn("r", "Carol", NULL);
	for (int i = 0; i < 5; i++)
		say(carol, "news");
	struct chatd_client *a1 = conn("r", "Alice", KEY_A), *a2 = conn("r", "Alice", KEY_A);
	json_t *first = next(a1, "read"); /* a first visit starts at the newest message */
	ck_assert_int_eq(num(first, "id"), 5);
	ck_assert_int_eq(num(first, "unread"), 0);
	json_decref(first);
	struct chatd_client *all[] = { a1, a2 };
	drain_all(all, 2);
	/* carol posts more; alice reads up to 6 in one tab: both are told */
	say(carol, "more");
	say(carol, "and more");
	drain_all(all, 2);
	tc_send(tc, a1, "{\"type\":\"read\",\"room\":\"r\",\"id\":6}");
	json_t *r1 = next(a1, "read"), *r2 = next(a2, "read");
	ck_assert_int_eq(num(r1, "id"), 6);
	ck_assert_int_eq(num(r2, "id"), 6);
	ck_assert_str_eq(str(r2, "room"), "r");
	json_decref(r1), json_decref(r2);
	/* backwards: nothing moves, only the asking tab hears where it is */
	tc_send(tc, a2, "{\"type\":\"read\",\"id\":2}");
	r2 = next(a2, "read");
	ck_assert_int_eq(num(r2, "id"), 6);
	json_decref(r2);
	ck_assert_int_eq(count(a1, "read"), 0);
	/* past the newest message: up to the newest */
	tc_send(tc, a2, "{\"type\":\"read\",\"room\":\"r\",\"id\":999}");
	ck_assert_int_eq(count(a1, "read"), 1);
	r2 = next(a2, "read");
	ck_assert_int_eq(num(r2, "id"), 7);
	json_decref(r2);
	tc_send(tc, a1, "{\"type\":\"read\",\"room\":\"elsewhere\",\"id\":1}");
	json_t *e = next(a1, "error");
	ck_assert_str_eq(str(e, "code"), "not_in_room");
	json_decref(e);
	tc_send(tc, a1, "{\"type\":\"read\",\"room\":\"r\"}");
	e = next(a1, "error");
	ck_assert_str_eq(str(e, "code"), "bad_request");
	json_decref(e);
}
END_TEST

/*
 * A mention next to non-ASCII text: punctuation, symbols and emoji end a word (as in
 * the browser client, which marks these live), letters do not.
 */
START_TEST(mentions_end_at_unicode_punctuation_not_at_letters)
{
	struct chatd_client *carol = conn("u", "Carol", NULL);
	say(carol, "before alice came");
	struct chatd_client *a = conn("u", "Alice", KEY_A);
	tc_drain(a);
	tc_disconnect(tc, a);
	static const char *const yes[] = {
		"thanks Alice\u2026",	      /* ellipsis */
		"\u00abalice\u00bb said",  /* guillemets */
		"Alice\u2019s draft",	      /* curly apostrophe */
		"ok\u2014alice\u2014ok",   /* em dashes */
		"\u00bfAlice?",	      /* inverted question mark */
		"well done Alice\U0001F389", /* emoji */
		"\u3010alice\u3011",	      /* CJK brackets */
	};
	static const char *const no[] = {
		"Alic\u00e9 is someone else", "\u00e9alice", "alice\u0301", "\u00b5alice", "alice\u4e2d",
	};
	char buf[128];
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		json_t *t = json_loads((snprintf(buf, sizeof buf, "\"%s\"", yes[i]), buf), JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(t);
		say(carol, json_string_value(t));
		json_decref(t);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		json_t *t = json_loads((snprintf(buf, sizeof buf, "\"%s\"", no[i]), buf), JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(t);
		say(carol, json_string_value(t));
		json_decref(t);
	}
	a = conn("u", "Alice", KEY_A);
	json_t *r = next(a, "read");
	ck_assert_int_eq(num(r, "unread"), (long)(sizeof yes / sizeof yes[0] + sizeof no / sizeof no[0]));
	ck_assert_int_eq(num(r, "mentions"), (long)(sizeof yes / sizeof yes[0]));
	json_decref(r);
}
END_TEST

/*
 * A mention in another case beyond ASCII (Latin-1, Cyrillic: as the browser client's
 * 'iu' regexp marks them live) counts after a reload too; another letter does not.
 */
START_TEST(mentions_fold_case_beyond_ascii)
{
	struct chatd_client *carol = conn("z", "Carol", NULL);
	say(carol, "before they came");
	struct chatd_client *z = conn("z", "Zo\u00eb", KEY_B);
	tc_drain(z);
	tc_disconnect(tc, z);
	struct chatd_client *y = conn("z", "\u042e\u043b\u044f", KEY_C); /* Yulya */
	tc_drain(y);
	tc_disconnect(tc, y);
	say(carol, "ZO\u00cb, look");		    /* Zoe: yes */
	say(carol, "thanks zo\u00eb");		    /* Zoe: yes */
	say(carol, "ZOE is someone else");	    /* no: E is not E-diaeresis */
	say(carol, "\u042e\u041b\u042f!");	    /* Yulya in capitals: yes */
	say(carol, "\u044e\u043b\u044f, hi");	    /* Yulya in lower case: yes */
	say(carol, "\u042e\u043b\u044f\u043d is not"); /* a longer word: no */
	z = conn("z", "Zo\u00eb", KEY_B);
	json_t *r = next(z, "read");
	ck_assert_int_eq(num(r, "unread"), 6);
	ck_assert_int_eq(num(r, "mentions"), 2);
	json_decref(r);
	y = conn("z", "\u042e\u043b\u044f", KEY_C);
	r = next(y, "read");
	ck_assert_int_eq(num(r, "unread"), 6);
	ck_assert_int_eq(num(r, "mentions"), 2);
	json_decref(r);
}
END_TEST

START_TEST(a_reload_keeps_the_unread_counts_and_mentions)
{
	struct chatd_client *carol = conn("r", "Carol", NULL);
	say(carol, "before alice came");
	struct chatd_client *a = conn("r", "Alice", KEY_A);
	tc_drain(a);
	say(carol, "hey ALICE, look");    /* a mention */
	say(carol, "malice is no mention");
	say(a, "alice says something"); /* her own: not unread */
	say(carol, "alice_x is no mention either");
	say(carol, "Alice!");             /* a mention */
	tc_disconnect(tc, a);             /* the reload */
	a = conn("r", "Alice", KEY_A);
	json_t *r = next(a, "read");
	ck_assert_str_eq(str(r, "room"), "r");
	ck_assert_int_eq(num(r, "id"), 1);
	ck_assert_int_eq(num(r, "unread"), 4);
	ck_assert_int_eq(num(r, "mentions"), 2);
	json_decref(r);
	tc_send(tc, a, "{\"type\":\"read\",\"id\":4}");
	tc_disconnect(tc, a);
	a = conn("r", "Alice", KEY_A);
	r = next(a, "read");
	ck_assert_int_eq(num(r, "id"), 4);
	ck_assert_int_eq(num(r, "unread"), 2);
	ck_assert_int_eq(num(r, "mentions"), 1);
	json_decref(r);
	/* joining another room of the same connection: that room's counts */
	say(carol, "x");
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"quiet\"}");
	r = next(a, "read");
	ck_assert_str_eq(str(r, "room"), "quiet");
	ck_assert_int_eq(num(r, "unread"), 0);
	json_decref(r);
	ck_assert_int_eq(count(a, "dms"), 0); /* the conversations come on the first join only */
	/* no session: no counts at all; a read frame is answered but not kept */
	struct chatd_client *n = conn("r", "Nosession", NULL);
	ck_assert_int_eq(count(n, "read"), 0);
	tc_send(tc, n, "{\"type\":\"read\",\"id\":3}");
	r = next(n, "read");
	ck_assert_int_eq(num(r, "id"), 3);
	json_decref(r);
}
END_TEST

START_TEST(a_long_absence_counts_the_newest_ten_thousand)
{
	struct chatd_client *a = conn("big", "Alice", KEY_A);
	tc_disconnect(tc, a); /* her position: 0, the room's newest then */
	struct chatd_client *carol = conn("big", "Carol", NULL);
	char text[64];
	for (int i = 1; i <= 10005; i++) { /* every tenth names her */
		snprintf(text, sizeof text, i % 10 ? "message %d" : "message %d for alice", i);
		send_json(tc, carol, json_pack("{s:s,s:s}", "type", "message", "text", text));
		if (i % 500 == 0 || i == 10005) {
			tc_idle(tc);
			tc_drain(carol);
		}
	}
	a = conn("big", "Alice", KEY_A);
	json_t *r = next(a, "read");
	ck_assert_int_eq(num(r, "id"), 0);
	ck_assert_int_eq(num(r, "unread"), 10000);  /* the newest 10,000 looked at: 6..10005 */
	ck_assert_int_eq(num(r, "mentions"), 1000); /* 10, 20, ... 10000 */
	json_decref(r);
}
END_TEST

START_TEST(conversation_read_positions)
{
	struct chatd_client *a = conn("r", "Alice", KEY_A), *b = conn("r", "Bob", KEY_B);
	for (int i = 0; i < 3; i++)
		tc_send(tc, b, "{\"type\":\"private\",\"to\":\"Alice\",\"text\":\"ping\"}");
	tc_drain(a);
	json_int_t last = 0;
	tc_send(tc, b, "{\"type\":\"private\",\"to\":\"Alice\",\"text\":\"last\"}");
	json_t *m = next(a, "private");
	last = num(m, "id");
	json_decref(m);
	send_json(tc, a, json_pack("{s:s,s:s,s:I}", "type", "read", "dm", "Bob", "id", last - 1));
	json_t *r = next(a, "read");
	ck_assert_str_eq(str(r, "dm"), "Bob");
	ck_assert_int_eq(num(r, "id"), last - 1);
	json_decref(r);
	tc_send(tc, a, "{\"type\":\"read\",\"dm\":\"Bob\",\"room\":\"r\",\"id\":1}");
	json_t *e = next(a, "error");
	ck_assert_str_eq(str(e, "code"), "bad_request");
	json_decref(e);
	tc_disconnect(tc, a);
	a = conn("r", "Alice", KEY_A);
	json_t *dms = next(a, "dms");
	json_t *conv = json_array_get(json_object_get(dms, "conversations"), 0);
	ck_assert_int_eq(num(conv, "read_id"), last - 1);
	ck_assert_int_eq(num(conv, "last_id"), last);
	ck_assert_int_eq(num(conv, "unread"), 1);
	json_decref(dms);
}
END_TEST

START_TEST(private_ids_go_on_after_a_restart)
{
	char dir[64], cfg[512];
	snprintf(dir, sizeof dir, "/tmp/chatd-personal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cfg, sizeof cfg, "[server]\ndata_dir = %s\npresence_grace_ms = 0\n[plugin privmsg]\n"
		 "[plugin history]\ncommit_delay = 0\n", dir);
	tc_free(tc);
	tc = tc_new(cfg);
	struct chatd_client *a = conn("r", "Alice", KEY_A);
	conn("r", "Bob", KEY_B);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"one\"}");
	json_t *m = next(a, "private");
	json_int_t id = num(m, "id");
	json_decref(m);
	tc_free(tc);
	tc = tc_new(cfg);
	a = conn("r", "Alice", KEY_A);
	conn("r", "Bob", KEY_B);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"private\",\"to\":\"Bob\",\"text\":\"two\"}");
	m = next(a, "private");
	ck_assert_int_eq(num(m, "id"), id + 1);
	json_decref(m);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("personal");
	TCase *t = tcase_create("personal");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, private_frame_reaches_every_tab_of_both);
	tcase_add_test(t, private_frame_errors_carry_the_client_id);
	tcase_add_test(t, a_closing_receiver_is_nobody_and_nothing_is_stored);
	tcase_add_test(t, a_receiver_reloading_finds_it_when_back);
	tcase_add_test(t, without_history_a_reloading_receiver_is_nobody);
	tcase_add_test(t, a_default_priority_filter_sees_changes_and_denies);
	tcase_add_test(t, only_the_two_people_read_a_conversation_back);
	tcase_add_test(t, read_positions_are_forward_only_and_every_tab_is_told);
	tcase_add_test(t, a_reload_keeps_the_unread_counts_and_mentions);
	tcase_add_test(t, mentions_end_at_unicode_punctuation_not_at_letters);
	tcase_add_test(t, mentions_fold_case_beyond_ascii);
	tcase_add_test(t, a_long_absence_counts_the_newest_ten_thousand);
	tcase_add_test(t, conversation_read_positions);
	tcase_add_test(t, private_ids_go_on_after_a_restart);
	suite_add_tcase(s, t);
	return checkutil_run(s);
}
