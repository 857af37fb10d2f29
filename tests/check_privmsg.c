/* Unit tests: the privmsg plugin (plugins/privmsg/privmsg.c) on the real core
 * with a fake transport. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "http.h"
#include "testcore.h"

static struct testcore *privmsg_core(void) { return plugin_core("privmsg", ""); }

/* Send {"text": text} from c (text is JSON-escaped here). */
static void say(struct testcore *tc, struct chatd_client *c, const char *text)
{
	send_json(tc, c, json_pack("{s:s}", "text", text));
}

/* The next frame of c must be a private message from -> to with text;
 * returns its id. */
static json_int_t expect_private(struct testcore *tc, struct chatd_client *c, const char *from, const char *to,
				 const char *text)
{
	json_t *p = tc_recv(tc, c);
	ck_assert_msg(p != NULL, "no frame where a private message %s -> %s was due", from, to);
	ck_assert_str_eq(str(p, "type"), "private");
	ck_assert_str_eq(str(p, "from"), from);
	ck_assert_str_eq(str(p, "to"), to);
	ck_assert_str_eq(str(p, "text"), text);
	ck_assert(json_is_integer(json_object_get(p, "id")));
	ck_assert(json_is_integer(json_object_get(p, "ts")));
	ck_assert_int_gt(num(p, "ts"), 1600000000000LL);
	ck_assert_ptr_null(json_object_get(p, "room"));
	ck_assert_int_eq(json_object_size(p), 6);
	json_int_t id = num(p, "id");
	json_decref(p);
	return id;
}

/* The next frame of c must be an error with code (and message when not NULL). */
static void expect_error(struct testcore *tc, struct chatd_client *c, const char *code, const char *message)
{
	json_t *e = tc_recv(tc, c);
	ck_assert_msg(e != NULL, "no frame where error %s was due", code);
	ck_assert_str_eq(str(e, "type"), "error");
	ck_assert_str_eq(str(e, "code"), code);
	if (message)
		ck_assert_str_eq(str(e, "message"), message);
	json_decref(e);
}

static long long counter(struct testcore *tc, const char *name) { return counter_value(tc, "privmsg", name); }

START_TEST(delivers_to_receiver_and_echoes_to_sender)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob"),
			    *c = join_ok(tc, "general", "Carol");
	struct chatd_client *all[] = { a, b, c };
	drain_all(all, 3);
	say(tc, a, "/msg bob hello there");
	json_int_t id1 = expect_private(tc, b, "Alice", "Bob", "hello there");
	json_int_t id2 = expect_private(tc, a, "Alice", "Bob", "hello there");
	ck_assert_int_eq(id1, id2);
	ck_assert_int_eq(id1, 1);
	ck_assert_uint_eq(tc_pending(a), 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	ck_assert_uint_eq(tc_pending(c), 0); /* nothing to the room */
	ck_assert_int_eq(tc->srv.stats.messages_in, 1);
	/* no room id was used */
	say(tc, c, "in the room");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 1);
	json_decref(m);
	ck_assert_int_eq(counter(tc, "sent"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(reaches_a_user_in_another_room)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "random", "Bob"),
			    *c = join_ok(tc, "random", "Carol");
	struct chatd_client *all[] = { a, b, c };
	drain_all(all, 3);
	/* the tutorial's frame shape, username repeated */
	tc_send(tc, a, "{\"text\":\"/msg Bob  psst \",\"username\":\"Alice\"}");
	expect_private(tc, b, "Alice", "Bob", "psst");
	expect_private(tc, a, "Alice", "Bob", "psst");
	ck_assert_uint_eq(tc_pending(c), 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_free(tc);
}
END_TEST

START_TEST(ids_strictly_increase_across_senders)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "random", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	json_int_t last = 0;
	for (int i = 0; i < 5; i++) {
		say(tc, i % 2 ? a : b, i % 2 ? "/msg bob x" : "/msg alice y");
		say(tc, a, "/msg nobody z"); /* a failure takes no id */
		tc_drain(a);
		json_t *p = tc_expect(tc, b, "private", NULL);
		ck_assert_int_eq(num(p, "id"), last + 1);
		last = num(p, "id");
		json_decref(p);
	}
	tc_free(tc);
}
END_TEST

START_TEST(names_fold_case_and_look_alikes)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "bob");
	/* taken names get variants: BOB2 and the Cyrillic-a "\xd0\x90lice2" */
	struct chatd_client *b2 = join_ok(tc, "general", "BOB"), *a2 = join_ok(tc, "general", "\xd0\x90lice");
	struct chatd_client *z = join_ok(tc, "general", "Zed");
	ck_assert_str_eq(b2->name, "BOB2");
	ck_assert_str_eq(a2->name, "\xd0\x90lice2");
	struct chatd_client *all[] = { a, b, b2, a2, z };
	drain_all(all, 5);
	say(tc, z, "/msg ALICE hi");
	expect_private(tc, a, "Zed", "Alice", "hi");
	say(tc, z, "/msg \xd0\x90LICE cyrillic capital A"); /* a look-alike of Alice is Alice */
	expect_private(tc, a, "Zed", "Alice", "cyrillic capital A");
	say(tc, z, "/msg \xce\x91lice2 greek alpha"); /* and a Greek one of \xd0\x90lice2 is that one */
	expect_private(tc, a2, "Zed", "\xd0\x90lice2", "greek alpha");
	say(tc, z, "/msg Bob to bob");
	expect_private(tc, b, "Zed", "bob", "to bob");
	say(tc, z, "/msg bob2 to BOB2");
	expect_private(tc, b2, "Zed", "BOB2", "to BOB2");
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(tc_pending(all[i]), 0); /* nobody else got anything */
	tc_drain(z);
	/* prefixes and extensions of a name are other names */
	say(tc, z, "/msg Alic hi");
	expect_error(tc, z, "no_such_user", "no user named Alic is connected");
	say(tc, z, "/msg Alice3 hi");
	expect_error(tc, z, "no_such_user", "no user named Alice3 is connected");
	say(tc, z, "/msg bo hi");
	expect_error(tc, z, "no_such_user", NULL);
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(tc_pending(all[i]), 0);
	tc_free(tc);
}
END_TEST

START_TEST(quoted_names_with_spaces)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *ann = join_ok(tc, "general", "Ann Lee"),
			    *ann1 = join_ok(tc, "general", "Ann");
	struct chatd_client *all[] = { a, ann, ann1 };
	drain_all(all, 3);
	say(tc, a, "/msg \"Ann Lee\" hi");
	expect_private(tc, ann, "Alice", "Ann Lee", "hi");
	tc_drain(a);
	say(tc, a, "/msg \" ann lee \"   hello \"you\"  ");
	expect_private(tc, ann, "Alice", "Ann Lee", "hello \"you\"");
	tc_drain(a);
	ck_assert_uint_eq(tc_pending(ann1), 0);
	say(tc, a, "/msg Ann Lee hi"); /* unquoted: the name is "Ann" */
	expect_private(tc, ann1, "Alice", "Ann", "Lee hi");
	ck_assert_uint_eq(tc_pending(ann), 0);
	tc_drain(a);
	say(tc, a, "/msg \"Ann Lee hi");
	expect_error(tc, a, "bad_request", NULL);
	say(tc, a, "/msg \"Ann Lee\"hi");
	expect_error(tc, a, "bad_request", NULL);
	say(tc, a, "/msg \"\" hi");
	expect_error(tc, a, "bad_request", NULL);
	say(tc, a, "/msg \"Ann Lee\"");
	expect_error(tc, a, "bad_request", NULL);
	say(tc, a, "/msg \"Ann Leigh\" hi");
	expect_error(tc, a, "no_such_user", "no user named Ann Leigh is connected");
	ck_assert_uint_eq(tc_pending(ann), 0);
	ck_assert_uint_eq(tc_pending(ann1), 0);
	tc_free(tc);
}
END_TEST

START_TEST(unknown_user_is_refused)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	say(tc, a, "/msg nobody hello");
	expect_error(tc, a, "no_such_user", "no user named nobody is connected");
	ck_assert_uint_eq(tc_pending(a), 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	/* a gone user is nobody */
	tc_disconnect(tc, b);
	tc_drain(a);
	say(tc, a, "/msg Bob hello");
	expect_error(tc, a, "no_such_user", "no user named Bob is connected");
	/* longer than any nickname: refused, the message shows a bounded, valid prefix */
	char text[400] = "/msg ";
	for (int i = 0; i < 100; i++)
		strcat(text, "\xc3\xa9"); /* 2-byte characters: a cut must not split one */
	strcat(text, " hi");
	say(tc, a, text);
	json_t *e = tc_recv(tc, a);
	ck_assert_ptr_nonnull(e); /* a JSON frame: the message is valid UTF-8 */
	ck_assert_str_eq(str(e, "code"), "no_such_user");
	ck_assert_uint_lt(strlen(str(e, "message")), 120);
	ck_assert_ptr_nonnull(strstr(str(e, "message"), "..."));
	json_decref(e);
	ck_assert_int_eq(counter(tc, "no_such_user"), 3);
	ck_assert_int_eq(counter(tc, "sent"), -1);
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_free(tc);
}
END_TEST

START_TEST(missing_name_or_text_is_a_bad_request)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	const char *bad[] = { "/msg bob", "/msg bob   ", "/msg bob \t\n ", "/msg ", "/msg", "/msg    ", "/w bob", "/w" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		say(tc, a, bad[i]);
		json_t *e = tc_recv(tc, a);
		ck_assert_msg(e != NULL, "no answer to '%s'", bad[i]);
		ck_assert_str_eq(str(e, "type"), "error");
		ck_assert_str_eq(str(e, "code"), "bad_request");
		ck_assert_ptr_nonnull(strstr(str(e, "message"), "usage: /msg NAME TEXT"));
		json_decref(e);
		ck_assert_uint_eq(tc_pending(a), 0);
	}
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_free(tc);
}
END_TEST

START_TEST(message_to_yourself_arrives_once)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	say(tc, a, "/msg alice note to self");
	expect_private(tc, a, "Alice", "Alice", "note to self");
	ck_assert_uint_eq(tc_pending(a), 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_free(tc);
}
END_TEST

START_TEST(w_is_an_alias_and_other_commands_pass)
{
	struct testcore *tc = privmsg_core();
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob");
	struct chatd_client *all[] = { a, b };
	drain_all(all, 2);
	say(tc, a, "/w bob whisper");
	expect_private(tc, b, "Alice", "Bob", "whisper");
	say(tc, a, "/MSG Bob shout"); /* commands are case-insensitive, as in the web client */
	expect_private(tc, b, "Alice", "Bob", "shout");
	say(tc, a, "/W\tbob tab");
	expect_private(tc, b, "Alice", "Bob", "tab");
	tc_drain(a);
	/* not commands: room messages as usual */
	const char *plain[] = { "/msgbob hi", "/wave", "/whois bob", " /msg bob hi", "hello /msg bob hi" };
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		say(tc, a, plain[i]);
		json_t *m = tc_recv(tc, b);
		ck_assert_msg(m != NULL, "'%s' did not reach the room", plain[i]);
		ck_assert_str_eq(str(m, "type"), "message");
		ck_assert_str_eq(str(m, "text"), plain[i]);
		json_decref(m);
	}
	tc_free(tc);
}
END_TEST

START_TEST(private_message_ends_typing)
{
	struct testcore *tc = tc_new("[plugin typing]\n[plugin privmsg]\n");
	ck_assert_ptr_nonnull(tc);
	struct chatd_client *a = join_ok(tc, "general", "Alice"), *b = join_ok(tc, "general", "Bob"),
			    *c = join_ok(tc, "general", "Carol");
	struct chatd_client *all[] = { a, b, c };
	drain_all(all, 3);
	tc_send(tc, a, "{\"type\":\"typing\"}");
	tc_drain(b);
	tc_drain(c);
	say(tc, a, "/msg bob hi");
	json_t *t = tc_recv(tc, c);
	ck_assert_str_eq(str(t, "type"), "typing");
	ck_assert(json_is_true(json_object_get(t, "stopped")));
	json_decref(t);
	ck_assert_uint_eq(tc_pending(c), 0); /* and no message */
	t = tc_expect(tc, b, "private", NULL);
	ck_assert_ptr_nonnull(t);
	json_decref(t);
	tc_free(tc);
}
END_TEST

START_TEST(options_are_refused)
{
	char err[1024] = "";
	struct testcore *tc = tc_try_new("[plugin privmsg]\n# none\nalias = /t\n", err, sizeof err);
	ck_assert_ptr_null(tc);
	ck_assert_msg(strstr(err, "test.conf:3: plugin privmsg: option 'alias': unknown option") != NULL, "error: %s",
		      err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("privmsg");
	TCase *del = tcase_create("delivery");
	tcase_add_test(del, delivers_to_receiver_and_echoes_to_sender);
	tcase_add_test(del, reaches_a_user_in_another_room);
	tcase_add_test(del, ids_strictly_increase_across_senders);
	tcase_add_test(del, names_fold_case_and_look_alikes);
	tcase_add_test(del, quoted_names_with_spaces);
	tcase_add_test(del, message_to_yourself_arrives_once);
	tcase_add_test(del, w_is_an_alias_and_other_commands_pass);
	tcase_add_test(del, private_message_ends_typing);
	suite_add_tcase(s, del);
	TCase *err = tcase_create("errors");
	tcase_add_test(err, unknown_user_is_refused);
	tcase_add_test(err, missing_name_or_text_is_a_bad_request);
	tcase_add_test(err, options_are_refused);
	suite_add_tcase(s, err);
	return checkutil_run(s);
}
