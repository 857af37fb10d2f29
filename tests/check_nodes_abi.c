/* Unit tests: the plugin ABI for many nodes (issue 17: events 30-35 and
 * their api members, src/pending.c, src/remote.c, publish.c's route and
 * deliver), driven through tests/plugins/nodeprobe.so, a plugin that plays
 * the other nodes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "testcore.h"

static struct testcore *probe(const char *options)
{
	char config[512];
	snprintf(config, sizeof config, "[plugin typing]\n[plugin nodeprobe]\npath = tests/plugins/nodeprobe.so\n%s",
		 options);
	struct testcore *tc = tc_new(config);
	ck_assert_ptr_nonnull(tc);
	return tc;
}

static void op(struct testcore *tc, struct chatd_client *c, const char *json)
{
	tc_send(tc, c, json);
}

/* The text of the next system frame of c with event ev (fails when none). */
static json_t *system_frame(struct testcore *tc, struct chatd_client *c, const char *ev)
{
	json_t *f = tc_expect(tc, c, "system", ev);
	ck_assert_msg(f != NULL, "no system %s frame", ev);
	return f;
}

START_TEST(route_takes_messages_and_deliver_fans_out)
{
	struct testcore *tc = probe("route = yes\n");
	struct chatd_client *a = join_ok(tc, "general", "Ann"), *b = join_ok(tc, "general", "Bob");
	tc_drain(a);
	tc_drain(b);
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"hello\",\"client_id\":\"k1\"}");
	ck_assert_uint_eq(tc_pending(a), 0); /* taken over: no id, no echo, no fan-out here */
	ck_assert_uint_eq(tc_pending(b), 0);
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "store"), -1); /* no STORE hooks */
	op(tc, b, "{\"type\":\"nodeprobe\",\"op\":\"deliver\",\"id\":1000,\"username\":\"Ann\",\"text\":\"hello\"}");
	json_t *m = tc_expect(tc, b, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 1000);
	ck_assert_str_eq(str(m, "text"), "hello");
	ck_assert_ptr_null(json_object_get(m, "client_id"));
	json_decref(m);
	m = tc_expect(tc, a, "message", NULL); /* the sender's copy carries its client_id */
	ck_assert_int_eq(num(m, "id"), 1000);
	ck_assert_str_eq(str(m, "client_id"), "k1");
	json_decref(m);
	/* the room's last id follows, for the next welcome */
	struct chatd_client *c = join_ok(tc, "general", "Cy");
	m = tc_expect(tc, c, "welcome", NULL);
	ck_assert_int_eq(num(m, "last_id"), 1000);
	json_decref(m);
	/* DENY: an error frame naming the client_id */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"refuse\",\"client_id\":\"k2\"}");
	m = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(m, "code"), "probe_refused");
	ck_assert_str_eq(str(m, "client_id"), "k2");
	ck_assert_int_eq(num(m, "retry_after_ms"), 77);
	json_decref(m);
	tc_free(tc);
}
END_TEST

START_TEST(without_route_hook_messages_are_as_before)
{
	struct testcore *tc = probe("");
	struct chatd_client *a = join_ok(tc, "general", "Ann");
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"plain\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 1);
	json_decref(m);
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "route"), 1); /* OK: the core went on */
	tc_free(tc);
}
END_TEST

START_TEST(joining_hold_release_and_refuse)
{
	struct testcore *tc = probe("hold_joins = held\n");
	struct tc_opts multi = { .name = "Ann", .multi = 1 };
	struct chatd_client *a = tc_connect_opts(tc, "lobby", &multi);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"held\"}");
	ck_assert_ptr_null(tc_expect(tc, a, "welcome", NULL)); /* held: nothing yet */
	tc_send(tc, a, "{\"type\":\"message\",\"room\":\"held\",\"text\":\"x\"}");
	json_t *e = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "not_in_room"); /* not in it while held */
	json_decref(e);
	op(tc, a, "{\"type\":\"nodeprobe\",\"room\":\"lobby\",\"op\":\"release_join\",\"ok\":1}");
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_str_eq(str(w, "room"), "held");
	json_decref(w);
	json_t *r = tc_expect(tc, a, "nodeprobe", NULL);
	ck_assert_str_eq(str(r, "released"), "live");
	json_decref(r);
	/* a refused one: the plugin's error, no welcome */
	tc_send(tc, a, "{\"type\":\"leave\",\"room\":\"held\"}");
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"held\"}");
	op(tc, a, "{\"type\":\"nodeprobe\",\"room\":\"lobby\",\"op\":\"release_join\",\"ok\":0}");
	e = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "probe_no");
	ck_assert_int_eq(num(e, "retry_after_ms"), 55);
	json_decref(e);
	/* a client that goes while held: the release says so, nothing is sent */
	struct chatd_client *b = tc_connect_opts(tc, "lobby", &(struct tc_opts){ .name = "Bob", .multi = 1 });
	tc_send(tc, b, "{\"type\":\"join\",\"room\":\"held\"}");
	tc_disconnect(tc, b);
	tc_drain(a);
	op(tc, a, "{\"type\":\"nodeprobe\",\"room\":\"lobby\",\"op\":\"release_join\",\"ok\":1}");
	r = tc_expect(tc, a, "nodeprobe", NULL);
	ck_assert_str_eq(str(r, "released"), "gone");
	json_decref(r);
	tc_free(tc);
}
END_TEST

START_TEST(name_claim_hold_and_candidates)
{
	struct testcore *tc = probe("hold_names = yes\n");
	struct chatd_client *a = tc_connect(tc, "general", "Alice", NULL);
	ck_assert_ptr_null(tc_expect(tc, a, "welcome", NULL)); /* its name is being claimed */
	/* the candidates: the name, its variants, guests (128 in all) */
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"state\"}");
	json_t *s = tc_expect(tc, a, "nodeprobe", NULL);
	ck_assert_str_eq(str(s, "claim0"), "Alice");
	ck_assert_str_eq(str(s, "claim1"), "Alice2");
	ck_assert_str_eq(str(s, "claim2"), "Alice3");
	json_decref(s);
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "claim_candidates"), 128);
	/* the plugin grants the third: the connection goes on with it */
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"release_name\",\"index\":2}");
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_str_eq(str(w, "username"), "Alice3");
	json_decref(w);
	/* a rename is claimed too, and announced when granted */
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"nick\",\"username\":\"Bea\"}");
	ck_assert_ptr_null(tc_expect(tc, a, "system", "rename"));
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"release_name\",\"index\":1}");
	json_t *r = tc_expect(tc, a, "system", "rename");
	ck_assert_str_eq(str(r, "username"), "Bea2");
	ck_assert_str_eq(str(r, "requested"), "Bea");
	json_decref(r);
	/* no name at all: the connection is told and closed with 1013 */
	struct chatd_client *b = tc_connect(tc, "general", "Cid", NULL);
	op(tc, b, "{\"type\":\"nodeprobe\",\"op\":\"release_name\",\"index\":-1}");
	json_t *e = tc_expect(tc, b, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "probe_no_name");
	json_decref(e);
	ck_assert_int_eq(tc_close_code(b), 1013);
	tc_free(tc);
}
END_TEST

START_TEST(remote_people_in_welcome_who_and_notices)
{
	struct testcore *tc = probe("");
	struct chatd_client *a = join_ok(tc, "general", "Ann");
	tc_drain(a);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":1,\"name\":\"Zed\"}");
	json_t *j = system_frame(tc, a, "join");
	ck_assert_str_eq(str(j, "username"), "Zed");
	json_decref(j);
	tc_drain(a);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":1,\"name\":\"zed\"}");
	json_t *r = tc_expect(tc, a, "nodeprobe", NULL); /* already present (any case) */
	ck_assert_str_eq(str(r, "remote"), "failed");
	json_decref(r);
	tc_drain(a);
	struct chatd_client *b = join_ok(tc, "general", "Bob");
	json_t *w = tc_expect(tc, b, "welcome", NULL);
	ck_assert_int_eq(num(w, "user_count"), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(w, "users")), 3);
	json_decref(w);
	tc_send(tc, b, "{\"type\":\"who\"}");
	json_t *u = tc_expect(tc, b, "users", NULL);
	ck_assert_int_eq(num(u, "user_count"), 3);
	json_decref(u);
	tc_drain(a);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":3,\"name\":\"Zoe\",\"old\":\"Zed\"}");
	json_t *n = system_frame(tc, b, "rename");
	ck_assert_str_eq(str(n, "old"), "Zed");
	ck_assert_str_eq(str(n, "username"), "Zoe");
	json_decref(n);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":2,\"name\":\"Zoe\"}");
	n = system_frame(tc, b, "leave");
	ck_assert_str_eq(str(n, "username"), "Zoe");
	json_decref(n);
	/* CLEAR: silently */
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":1,\"name\":\"Kim\"}");
	tc_drain(b);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":4}");
	ck_assert_ptr_null(tc_expect(tc, b, "system", NULL));
	tc_send(tc, b, "{\"type\":\"who\"}");
	u = tc_expect(tc, b, "users", NULL);
	ck_assert_int_eq(num(u, "user_count"), 2);
	json_decref(u);
	tc_free(tc);
}
END_TEST

START_TEST(remote_name_present_here_too_is_one_person)
{
	struct testcore *tc = probe("");
	struct chatd_client *a = join_ok(tc, "general", "Ann");
	tc_drain(a);
	/* Ann is also present through another node (her other tab): no notice, counted once */
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"remote\",\"change\":1,\"name\":\"Ann\"}");
	ck_assert_ptr_null(tc_expect(tc, a, "system", NULL));
	struct chatd_client *b = join_ok(tc, "general", "Bob");
	json_t *w = tc_expect(tc, b, "welcome", NULL);
	ck_assert_int_eq(num(w, "user_count"), 2);
	json_decref(w);
	tc_drain(b);
	/* her tab here closes: she is still present elsewhere, no leave notice */
	tc_disconnect(tc, a);
	ck_assert_ptr_null(tc_expect(tc, b, "system", "leave"));
	tc_free(tc);
}
END_TEST

START_TEST(presence_events_name_release_broadcast_parse_fold_find)
{
	struct testcore *tc = probe("");
	struct chatd_client *a = join_ok(tc, "general", "Ann");
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "presence_enter"), 1);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"nick\",\"username\":\"Anna\"}");
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "presence_rename"), 1);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"state\"}");
	json_t *s = tc_expect(tc, a, "nodeprobe", NULL);
	ck_assert_str_eq(str(s, "presence"), "3 general Anna anna Ann ann");
	ck_assert_str_eq(str(s, "fold"), "alice"); /* the Cyrillic A folds to a */
	ck_assert_str_eq(str(s, "found"), "general");
	json_decref(s);
	/* a plugin's broadcast (typing) is handed to the BROADCAST hook, encoded */
	struct chatd_client *b = join_ok(tc, "general", "Bob");
	tc_send(tc, b, "{\"type\":\"typing\"}");
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "broadcast"), 1);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"state\"}");
	s = tc_expect(tc, a, "nodeprobe", NULL);
	ck_assert_ptr_nonnull(strstr(str(s, "broadcast"), "\"type\":\"typing\""));
	json_decref(s);
	/* frame_parse: an object comes back as sent; anything else is refused */
	tc_drain(a);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"parse\",\"json\":\"{\\\"type\\\":\\\"hi\\\",\\\"n\\\":1}\"}");
	json_t *h = tc_expect(tc, a, "hi", NULL);
	ck_assert_int_eq(num(h, "n"), 1);
	json_decref(h);
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"parse\",\"json\":\"[1,2]\"}");
	h = tc_expect(tc, a, "nodeprobe", NULL);
	ck_assert_str_eq(str(h, "parse"), "refused");
	json_decref(h);
	/* leaving: PRESENCE leave, then NAME_RELEASE at the disconnect */
	tc_disconnect(tc, a);
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "presence_leave"), 1);
	ck_assert_int_eq(counter_value(tc, "nodeprobe", "name_release"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(raise_last_id)
{
	struct testcore *tc = probe("");
	struct chatd_client *a = join_ok(tc, "general", "Ann");
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"raise\",\"id\":41}");
	op(tc, a, "{\"type\":\"nodeprobe\",\"op\":\"raise\",\"id\":7}"); /* never lowers */
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"next\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_int_eq(num(m, "id"), 42);
	json_decref(m);
	tc_free(tc);
}
END_TEST

static Suite *nodes_abi_suite(void)
{
	Suite *s = suite_create("nodes_abi");
	TCase *t = tcase_create("core");
	tcase_add_test(t, route_takes_messages_and_deliver_fans_out);
	tcase_add_test(t, without_route_hook_messages_are_as_before);
	tcase_add_test(t, joining_hold_release_and_refuse);
	tcase_add_test(t, name_claim_hold_and_candidates);
	tcase_add_test(t, remote_people_in_welcome_who_and_notices);
	tcase_add_test(t, remote_name_present_here_too_is_one_person);
	tcase_add_test(t, presence_events_name_release_broadcast_parse_fold_find);
	tcase_add_test(t, raise_last_id);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return checkutil_run(nodes_abi_suite());
}
