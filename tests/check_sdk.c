/* Unit tests: the plugin SDK's additions within ABI 1 (request access and
 * names at CONNECT, CHATD_EV_NICK, message_set_text's checks, replies to
 * consumed and denied messages), through tests/plugins/sdkprobe.so, and the
 * loader's refusals. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "config.h"
#include "reload.h"
#include "request.h"
#include "testcore.h"

static struct testcore *sdk_core(void)
{
	struct testcore *tc = tc_new("[plugin sdkprobe]\npath = tests/plugins/sdkprobe.so\n");
	ck_assert_ptr_nonnull(tc);
	return tc;
}

START_TEST(connect_reads_request)
{
	struct testcore *tc = sdk_core();
	struct chatd_client *a = tc_connect_request(tc, "lab", "name=Zed%20Z&token=t%2B1",
						    "X-Token: abc\nCookie: a=1; sid=\"s 2\"; z=3", "10.1.2.3");
	ck_assert_ptr_nonnull(a);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_str_eq(str(w, "username"), "Zed Z");
	json_decref(w);
	json_t *s = tc_expect(tc, a, "seen", NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert(is_true(s, "has_request"));
	ck_assert_str_eq(str(s, "path"), "/ws/lab");
	ck_assert_str_eq(str(s, "method"), "GET");
	ck_assert_str_eq(str(s, "address"), "10.1.2.3");
	ck_assert_str_eq(str(s, "token"), "t+1");
	ck_assert_str_eq(str(s, "xtoken"), "abc");
	ck_assert_str_eq(str(s, "sid"), "s 2");
	ck_assert_str_eq(str(s, "requested"), "Zed Z");
	/* client_name at CONNECT: the requested name, normalized */
	ck_assert_str_eq(str(s, "name_at_connect"), "Zed Z");
	json_decref(s);
	/* without ?name= it is "" at CONNECT, and the absent things are NULL */
	struct chatd_client *b = tc_connect_request(tc, "lab", NULL, NULL, NULL);
	s = tc_expect(tc, b, "seen", NULL);
	ck_assert_str_eq(str(s, "name_at_connect"), "");
	ck_assert_str_eq(str(s, "requested"), "(null)");
	ck_assert_str_eq(str(s, "token"), "(null)");
	ck_assert_str_eq(str(s, "xtoken"), "(null)");
	ck_assert_str_eq(str(s, "sid"), "(null)");
	json_decref(s);
	/* an invalid ?name= is "" at CONNECT too */
	struct chatd_client *c = tc_connect_request(tc, "lab", "name=%20%20", NULL, NULL);
	s = tc_expect(tc, c, "seen", NULL);
	ck_assert_str_eq(str(s, "name_at_connect"), "");
	ck_assert_str_eq(str(s, "requested"), "  ");
	json_decref(s);
	tc_free(tc);
}
END_TEST

START_TEST(connect_denies_with_request_text)
{
	struct testcore *tc = sdk_core();
	ck_assert_ptr_null(tc_connect_request(tc, "lab", "deny=1", "X-Reason: token expired", NULL));
	ck_assert_int_eq(tc->last_status, 401);
	ck_assert_str_eq(tc->last_reason, "token expired");
	/* the refused client still gets DISCONNECT: what CONNECT kept is freed */
	ck_assert_int_eq(counter_value(tc, "sdkprobe", "freed_at_disconnect"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(connect_sets_and_refuses_names)
{
	struct testcore *tc = sdk_core();
	/* the plugin's name wins over ?name=, and is claimed like one (variant) */
	struct chatd_client *a = tc_connect_request(tc, "lab", "name=Zed", "X-Set-Name: alice", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_str_eq(str(w, "username"), "alice");
	json_decref(w);
	struct chatd_client *b = tc_connect_request(tc, "lab", NULL, "X-Set-Name:  Alice ", NULL);
	w = tc_expect(tc, b, "welcome", NULL);
	ck_assert_str_eq(str(w, "username"), "Alice2");
	json_decref(w);
	/* an invalid name is refused by connect_set_name (the plugin then denies) */
	ck_assert_ptr_null(tc_connect_request(tc, "lab", NULL, "X-Set-Name: a\x01b", NULL));
	ck_assert_int_eq(tc->last_status, 400);
	/* refused: a guest, told why after the welcome */
	struct chatd_client *c = tc_connect_request(tc, "lab", "name=Root&refuse=1", NULL, NULL);
	w = tc_expect(tc, c, "welcome", NULL);
	ck_assert(!strncmp(str(w, "username"), "guest-", 6));
	char want[128];
	snprintf(want, sizeof want, "that name is reserved; you are %s", str(w, "username"));
	json_decref(w);
	json_t *e = tc_expect(tc, c, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "reserved");
	ck_assert_str_eq(str(e, "message"), want);
	json_decref(e);
	tc_free(tc);
}
END_TEST

START_TEST(nick_filter_first_name_and_renames)
{
	struct testcore *tc = sdk_core();
	struct chatd_client *a = tc_connect(tc, "lab", "badguy", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert(!strncmp(str(w, "username"), "guest-", 6));
	json_decref(w);
	json_t *e = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "bad_name");
	ck_assert(!strncmp(str(e, "message"), "no bad names; you are guest-", 28));
	json_decref(e);
	struct chatd_client *b = tc_connect(tc, "lab", "Bob", NULL);
	tc_drain(a);
	tc_drain(b);
	tc_send(tc, b, "{\"type\":\"nick\",\"username\":\"bob the bad\"}");
	ck_assert_ptr_null(tc_expect(tc, a, "system", "rename"));
	e = tc_expect(tc, b, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "bad_name");
	ck_assert_str_eq(str(e, "message"), "no bad names");
	json_decref(e);
	tc_send(tc, b, "{\"type\":\"nick\",\"username\":\"Rob\"}");
	json_t *r = tc_expect(tc, a, "system", "rename");
	ck_assert_str_eq(str(r, "username"), "Rob");
	json_decref(r);
	tc_free(tc);
}
END_TEST

/* Send text from c, return the set_result and the room message c then gets. */
static int set_text(struct testcore *tc, struct chatd_client *c, const char *what, char *out, size_t outsz)
{
	char frame[256];
	snprintf(frame, sizeof frame, "{\"type\":\"message\",\"text\":\"set:%s\"}", what);
	tc_drain(c);
	tc_send(tc, c, frame);
	json_t *r = tc_expect(tc, c, "set_result", NULL);
	ck_assert_ptr_nonnull(r);
	int res = (int)num(r, "r");
	json_decref(r);
	json_t *m = tc_expect(tc, c, "message", NULL);
	ck_assert_ptr_nonnull(m);
	snprintf(out, outsz, "%s", str(m, "text"));
	json_decref(m);
	return res;
}

START_TEST(message_set_text_checks_like_the_core)
{
	struct testcore *tc = sdk_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	char text[64];
	ck_assert_int_eq(set_text(tc, a, "hello", text, sizeof text), CHATD_TEXT_OK);
	ck_assert_str_eq(text, "hello");
	ck_assert_int_eq(set_text(tc, a, "empty", text, sizeof text), CHATD_TEXT_EMPTY);
	ck_assert_str_eq(text, "set:empty"); /* unchanged: the message goes out as it was */
	ck_assert_int_eq(set_text(tc, a, "space", text, sizeof text), CHATD_TEXT_EMPTY);
	ck_assert_int_eq(set_text(tc, a, "big", text, sizeof text), CHATD_TEXT_TOO_LARGE);
	ck_assert_str_eq(text, "set:big");
	/* the limit itself (max_message_bytes, 4096 by default) is allowed, one byte more is not */
	char max[5000];
	ck_assert_int_eq(set_text(tc, a, "max", max, sizeof max), CHATD_TEXT_OK);
	ck_assert_uint_eq(strlen(max), 4096);
	ck_assert_int_eq(set_text(tc, a, "max1", text, sizeof text), CHATD_TEXT_TOO_LARGE);
	ck_assert_str_eq(text, "set:max1");
	ck_assert_int_eq(set_text(tc, a, "utf8", text, sizeof text), CHATD_TEXT_INVALID);
	ck_assert_str_eq(text, "set:utf8");
	tc_free(tc);
}
END_TEST

START_TEST(consumed_and_denied_messages_are_answered)
{
	struct testcore *tc = sdk_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	struct chatd_client *b = tc_connect(tc, "lab", "Ben", NULL);
	tc_drain(a);
	tc_drain(b);
	/* consumed, no reply from the plugin: the core acks with the client_id */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"consume\",\"client_id\":\"c1\"}");
	json_t *k = tc_recv(tc, a);
	ck_assert_str_eq(str(k, "type"), "ack");
	ck_assert_str_eq(str(k, "client_id"), "c1");
	ck_assert_str_eq(str(k, "room"), "lab");
	json_decref(k);
	ck_assert_int_eq(tc_pending(b), 0);
	/* without a client_id there is nothing to match: no ack */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"consume\"}");
	ck_assert_int_eq(tc_pending(a), 0);
	/* the plugin's own reply carries the client_id, and replaces the ack */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"reply\",\"client_id\":\"c2\"}");
	json_t *p = tc_recv(tc, a);
	ck_assert_str_eq(str(p, "type"), "pong");
	ck_assert_str_eq(str(p, "client_id"), "c2");
	ck_assert_str_eq(str(p, "seen_client_id"), "c2");
	json_decref(p);
	ck_assert_int_eq(tc_pending(a), 0);
	/* denied: the error carries the client_id */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"deny\",\"client_id\":\"c3\"}");
	json_t *e = tc_recv(tc, a);
	ck_assert_str_eq(str(e, "type"), "error");
	ck_assert_str_eq(str(e, "code"), "probe_denied");
	ck_assert_str_eq(str(e, "client_id"), "c3");
	json_decref(e);
	/* the core's own refusal of a message names it too */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"  \",\"client_id\":\"c4\"}");
	e = tc_recv(tc, a);
	ck_assert_str_eq(str(e, "code"), "bad_request");
	ck_assert_str_eq(str(e, "client_id"), "c4");
	json_decref(e);
	ck_assert_int_eq(tc_pending(b), 0);
	tc_free(tc);
}
END_TEST

START_TEST(request_from_text)
{
	struct chatd_request r;
	ck_assert_int_eq(request_init_text(&r, "POST", "/p", "a=1&b=x%20y+z&flag&a=2&bad=%zz%4",
					   "Host: h\nX-Multi: 1\nx-multi: 2\nCookie: k=v", "1.2.3.4"), 0);
	ck_assert_str_eq(request_query(&r, "a"), "1");
	ck_assert_str_eq(request_query(&r, "b"), "x y z");
	ck_assert_str_eq(request_query(&r, "flag"), "");
	ck_assert_str_eq(request_query(&r, "bad"), "%zz%4");
	ck_assert_ptr_null(request_query(&r, "fla"));
	ck_assert_str_eq(request_header(&r, "host"), "h");
	ck_assert_str_eq(request_header(&r, "X-MULTI"), "1; 2");
	ck_assert_ptr_null(request_header(&r, "x-mult"));
	ck_assert_str_eq(request_cookie(&r, "k"), "v");
	ck_assert_ptr_null(request_cookie(&r, "v"));
	ck_assert_str_eq(request_method(&r), "POST");
	ck_assert_str_eq(request_path(&r), "/p");
	ck_assert_str_eq(request_address(&r), "1.2.3.4");
	/* the same question twice gives the same string */
	ck_assert_ptr_eq(request_header(&r, "host"), request_header(&r, "Host"));
	request_clear(&r);
}
END_TEST

START_TEST(loader_names_the_abi_a_plugin_wants)
{
	expect_config_refused("[plugin old]\npath = tests/plugins/built_abi7.so\n",
			  "test.conf:1: plugin old: built for plugin ABI 7, this chatd speaks ABI 1: rebuild it");
	expect_config_refused("[plugin no]\npath = tests/plugins/refuses.so\n",
			  "test.conf:1: plugin no: refuses every plugin ABI this chatd speaks (1)");
}
END_TEST

/* docs/plugins.md: after a failed init the core removes what the plugin had
 * registered (under ASan / valgrind nothing leaks, and no timer or watcher of
 * it ever fires: they abort), runs the posts it made, and does not call its
 * cleanup; the plugins loaded before it are cleaned up as usual. */
static struct testcore *api_core(void);

START_TEST(failed_init_is_not_cleaned_up)
{
	unsetenv("SDKAPI_CLEANUP_RAN");
	unsetenv("SDKAPI_FAILED_POST_RAN");
	unsetenv("SDKCONSUMER_CLEANUP_RAN");
	expect_config_refused("[plugin consumer]\npath = tests/plugins/sdkconsumer.so\n"
			      "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nfail_init = yes\n",
			      "test.conf:3: plugin sdkapi: initialisation failed");
	ck_assert_ptr_null(getenv("SDKAPI_CLEANUP_RAN"));
	ck_assert_ptr_nonnull(getenv("SDKAPI_FAILED_POST_RAN"));
	ck_assert_ptr_nonnull(getenv("SDKCONSUMER_CLEANUP_RAN"));
	/* the same plugin loads again afterwards: nothing of the failed one is left registered */
	struct testcore *tc = api_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(json_array_size(json_object_get(w, "commands")), 5); /* echo me msg shout w */
	char *text = json_dumps(w, 0);
	ck_assert_ptr_null(strstr(text, "doomed"));
	free(text);
	json_decref(w);
	tc_free(tc);
	ck_assert_ptr_nonnull(getenv("SDKAPI_CLEANUP_RAN"));
}
END_TEST

/* Plugins built against the header of d964eb2 (tests/sdk/abi1-d964eb2: ABI 1
 * before any of the additions) load and work unchanged. */
START_TEST(plugins_built_against_the_old_header_work)
{
	struct testcore *tc = tc_new("[plugin hello]\npath = tests/plugins/hello_oldabi.so\ngreeting = Hi\n"
				     "[plugin probe]\npath = tests/plugins/probe_oldabi.so\n");
	ck_assert_ptr_nonnull(tc);
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	json_t *h = tc_expect(tc, a, "system", "hello");
	ck_assert_str_eq(str(h, "message"), "Hi, Ann!");
	json_decref(h);
	tc_send(tc, a, "{\"type\":\"hello\"}");
	json_t *g = tc_expect(tc, a, "hello", NULL);
	ck_assert_int_eq(num(g, "greeted"), 1);
	json_decref(g);
	tc_send(tc, a, "{\"text\":\"upper\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "UPPER");
	json_decref(m);
	tc_send(tc, a, "{\"text\":\"deny\",\"client_id\":\"x\"}");
	json_t *e = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "probe_denied");
	ck_assert_str_eq(str(e, "client_id"), "x");
	json_decref(e);
	tc_send(tc, a, "{\"type\":\"probe\",\"n\":2}");
	json_t *p = tc_expect(tc, a, "probe", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(p, "items")), 2);
	json_decref(p);
	tc_free(tc);
}
END_TEST


static struct testcore *api_core(void)
{
	struct testcore *tc = tc_new("[plugin consumer]\npath = tests/plugins/sdkconsumer.so\n"
				     "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\n"
				     "[plugin privmsg]\n[plugin me]\n");
	ck_assert_ptr_nonnull(tc);
	return tc;
}

START_TEST(commands_dispatch_and_are_advertised)
{
	struct testcore *tc = api_core();
	ck_assert_int_eq(counter_value(tc, "sdkapi", "misregistered"), -1);
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	struct chatd_client *b = tc_connect(tc, "lab", "Ben", NULL);
	json_t *w = tc_expect(tc, a, "welcome", NULL);
	json_t *cmds = json_object_get(w, "commands");
	ck_assert_int_eq(json_array_size(cmds), 5);
	const char *want[] = { "echo", "me", "msg", "shout", "w" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(str(json_array_get(cmds, i), "name"), want[i]);
	ck_assert_str_eq(str(json_array_get(cmds, 0), "usage"), "/echo TEXT");
	ck_assert_str_eq(str(json_array_get(cmds, 0), "help"), "says TEXT back to you");
	ck_assert_str_eq(str(json_array_get(cmds, 2), "usage"), "/msg NAME TEXT");
	json_decref(w);
	tc_drain(a);
	tc_drain(b);
	/* consumed and answered, in any case of the command word */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"/ECHO  hi there \",\"client_id\":\"e1\"}");
	json_t *e = tc_recv(tc, a);
	ck_assert_str_eq(str(e, "type"), "echo");
	ck_assert_str_eq(str(e, "name"), "echo");
	ck_assert_str_eq(str(e, "args"), "hi there ");
	ck_assert_str_eq(str(e, "client_id"), "e1");
	json_decref(e);
	/* "/echoes" is not /echo: it goes to the room */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"/echoes\"}");
	json_t *m = tc_expect(tc, b, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "/echoes");
	json_decref(m);
	tc_drain(a);
	/* denied with the usage, client_id kept */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"/echo deny\",\"client_id\":\"e2\"}");
	e = tc_recv(tc, a);
	ck_assert_str_eq(str(e, "type"), "error");
	ck_assert_str_eq(str(e, "message"), "usage: /echo TEXT");
	ck_assert_str_eq(str(e, "client_id"), "e2");
	json_decref(e);
	/* a command that changes the text and lets it go on */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"/shout hey\"}");
	m = tc_expect(tc, b, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "HEY");
	json_decref(m);
	/* /me and /msg through their commands */
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"/me waves\"}");
	m = tc_expect(tc, b, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "* Ann waves");
	json_decref(m);
	tc_send(tc, a, "{\"type\":\"message\",\"text\":\"/w ben psst\",\"client_id\":\"p1\"}");
	json_t *p = tc_expect(tc, b, "private", NULL);
	ck_assert_str_eq(str(p, "text"), "psst");
	json_decref(p);
	p = tc_expect(tc, a, "private", NULL);
	ck_assert_str_eq(str(p, "client_id"), "p1");
	json_decref(p);
	tc_free(tc);
}
END_TEST

START_TEST(services_between_plugins)
{
	struct testcore *tc = api_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"svc\"}");
	json_t *v = tc_expect(tc, a, "svc", NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(num(v, "v1"), 1);
	ck_assert_int_eq(num(v, "v2"), 11);
	ck_assert_int_eq(num(v, "version"), 2);
	ck_assert_int_eq(num(v, "too_new"), 0);
	ck_assert(is_true(v, "absent_is_null"));
	json_decref(v);
	tc_free(tc);
}
END_TEST

START_TEST(frame_builder_nests_and_readers_walk)
{
	struct testcore *tc = api_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"build\"}");
	json_t *b = tc_expect(tc, a, "build", NULL);
	ck_assert_ptr_nonnull(b);
	json_t *want = json_loads("{\"type\":\"build\",\"obj\":{\"s\":\"x\",\"deeper\":{\"n\":7}},"
				  "\"strs\":[\"a\",\"b\",null,\"c\ufffd\ufffd\"],\"ints\":[-1],\"mixed\":[0.5,true,null],"
				  "\"latin1\":\"caf\ufffd ok\",\"utf8\":\"caf\u00e9\","
				  "\"overlong\":\"\ufffd\ufffd\ufffd\ufffd\ufffd!\",\"pi\":3.25,"
				  "\"nothing\":null,\"yes\":true,\"empty\":[]}", 0, NULL);
	ck_assert_msg(json_equal(b, want), "got %s", json_dumps(b, JSON_SORT_KEYS));
	json_decref(want);
	json_decref(b);
	tc_send(tc, a, "{\"type\":\"walk\",\"flag\":true,\"num\":2,\"data\":{\"a\":[1,2.5,\"s\",null,false],\"b\":{}}}");
	json_t *r = tc_expect(tc, a, "walk", NULL);
	ck_assert_str_eq(str(r, "summary"), "{a:[1,2.50,'s'/1,null,false],b:{}}");
	ck_assert_int_eq(num(r, "rb"), 1);
	ck_assert_int_eq(num(r, "b"), 1);
	ck_assert_int_eq(num(r, "rd"), 1);
	ck_assert(json_real_value(json_object_get(r, "d")) == 2.0);
	ck_assert_int_eq(num(r, "wrong_type"), -1);
	ck_assert_int_eq(num(r, "absent"), CHATD_JSON_ABSENT);
	json_decref(r);
	tc_free(tc);
}
END_TEST

START_TEST(threads_post_back_and_fds_are_watched)
{
	struct testcore *tc = api_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	tc_drain(a);
	for (int run = 1; run <= 2; run++) {
		tc_send(tc, a, "{\"type\":\"thread\"}");
		int posted = 0, watched = 0;
		for (int i = 0; i < 100 && (!posted || !watched); i++) {
			tc_run(tc, 20);
			json_t *f;
			while ((f = tc_recv(tc, a))) {
				if (!strcmp(str(f, "type"), "posted")) {
					ck_assert_int_eq(num(f, "value"), 42);
					posted++;
				} else if (!strcmp(str(f, "type"), "watched")) {
					ck_assert_str_eq(str(f, "byte"), "x");
					watched++;
				}
				json_decref(f);
			}
		}
		ck_assert_int_eq(posted, 1);
		ck_assert_int_eq(watched, 1);
	}
	/* a third run left to the shutdown: its thread is joined in cleanup,
	 * what it posted runs or is dropped, its watcher removed */
	tc_send(tc, a, "{\"type\":\"thread\"}");
	tc_free(tc);
}
END_TEST

START_TEST(rooms_listed_slots_paired_with_destroy)
{
	struct testcore *tc = api_core();
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	struct chatd_client *b = tc_connect(tc, "den", "Ben", NULL);
	struct chatd_client *c = tc_connect(tc, "den", "Cat", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"rooms_seen\"}");
	json_t *r = tc_expect(tc, a, "rooms_seen", NULL);
	ck_assert_int_eq(num(r, "count"), 2);
	ck_assert_int_eq(num(json_object_get(r, "rooms"), "lab"), 1);
	ck_assert_int_eq(num(json_object_get(r, "rooms"), "den"), 2);
	json_decref(r);
	ck_assert_int_eq(counter_value(tc, "sdkapi", "room_create"), 2);
	/* den never had a message: freed when its last member leaves */
	tc_disconnect(tc, b);
	ck_assert_int_eq(counter_value(tc, "sdkapi", "room_destroy"), -1);
	tc_disconnect(tc, c);
	ck_assert_int_eq(counter_value(tc, "sdkapi", "room_destroy"), 1);
	/* lab had one: kept while empty, destroyed only at shutdown */
	tc_send(tc, a, "{\"text\":\"hi\"}");
	tc_disconnect(tc, a);
	ck_assert_int_eq(counter_value(tc, "sdkapi", "room_destroy"), 1);
	struct chatd_client *d = tc_connect(tc, "lab", "Dan", NULL);
	tc_drain(d);
	tc_send(tc, d, "{\"type\":\"rooms_seen\"}");
	r = tc_expect(tc, d, "rooms_seen", NULL);
	ck_assert_int_eq(num(r, "count"), 1);
	json_decref(r);
	ck_assert_int_eq(counter_value(tc, "sdkapi", "room_create"), 2); /* the same lab */
	ck_assert_int_eq(counter_value(tc, "sdkapi", "slot_lost"), -1);
	tc_free(tc); /* lab's ROOM_DESTROY (shutdown) frees its slot: no leak under ASan */
}
END_TEST

START_TEST(notices_get_ids_and_go_into_history)
{
	struct testcore *tc = tc_new("[plugin sdkapi]\npath = tests/plugins/sdkapi.so\n[plugin history]\n");
	ck_assert_ptr_nonnull(tc);
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	struct chatd_client *b = tc_connect(tc, "lab", "Ben", NULL);
	tc_send(tc, a, "{\"text\":\"first\"}");
	tc_idle(tc);
	tc_drain(a);
	tc_drain(b);
	tc_send(tc, a, "{\"type\":\"notice\",\"text\":\"the server restarts at noon\"}");
	tc_idle(tc); /* history commits, the notice goes out */
	json_t *res = tc_expect(tc, a, "notice_result", NULL);
	ck_assert_int_eq(num(res, "id"), 2);
	json_decref(res);
	json_t *m = tc_expect(tc, b, "message", NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(num(m, "id"), 2);
	ck_assert_str_eq(str(m, "username"), "");
	ck_assert_str_eq(str(m, "text"), "the server restarts at noon");
	ck_assert(is_true(m, "notice"));
	json_decref(m);
	/* checked like a message text */
	tc_send(tc, a, "{\"type\":\"notice\",\"text\":\"   \"}");
	res = tc_expect(tc, a, "notice_result", NULL);
	ck_assert_int_eq(num(res, "id"), CHATD_TEXT_EMPTY);
	json_decref(res);
	/* a newcomer's replay has it, marked as a notice */
	struct chatd_client *c = tc_connect(tc, "lab", "Cat", NULL);
	tc_idle(tc);
	json_t *h;
	int seen = 0;
	while ((h = tc_expect(tc, c, "message", NULL))) {
		if (num(h, "id") == 2) {
			ck_assert(is_true(h, "history"));
			ck_assert(is_true(h, "notice"));
			ck_assert_str_eq(str(h, "text"), "the server restarts at noon");
			seen = 1;
		} else {
			ck_assert(!is_true(h, "notice"));
		}
		json_decref(h);
	}
	ck_assert(seen);
	tc_free(tc);
}
END_TEST

/* Reload tc's plugins and [server] from text, as SIGHUP would from the file. */
static int reload_text(struct testcore *tc, const char *text)
{
	struct chatd_config next;
	char err[512];
	ck_assert_int_eq(config_defaults(&next), 0);
	ck_assert_int_eq(config_set_str(&next.plugin_dir, TOP_BUILDDIR "/plugins"), 0);
	ck_assert_int_eq(config_set_str(&next.data_dir, tc->data_dir), 0);
	ck_assert_msg(!config_parse(&next, "test.conf", text, strlen(text), TOP_BUILDDIR, err, sizeof err), "%s", err);
	ck_assert_int_eq(config_set_str(&next.file, "test.conf"), 0);
	return reload_apply(&tc->srv, &next);
}

static const char *motd_of(struct testcore *tc, struct chatd_client *c, char *buf, size_t n)
{
	tc_drain(c);
	tc_send(tc, c, "{\"type\":\"motd\"}");
	json_t *m = tc_expect(tc, c, "motd", NULL);
	snprintf(buf, n, "%s", str(m, "motd"));
	json_decref(m);
	return buf;
}

START_TEST(reload_applies_what_is_safe)
{
	struct testcore *tc = tc_new("[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nmotd = hello\n[plugin me]\n");
	ck_assert_ptr_nonnull(tc);
	struct chatd_client *a = tc_connect(tc, "lab", "Ann", NULL);
	char buf[64];
	ck_assert_str_eq(motd_of(tc, a, buf, sizeof buf), "hello");
	/* a plugin takes new options; a reloadable [server] key applies */
	ck_assert_int_eq(reload_text(tc, "[server]\nmax_message_bytes = 100\n"
					 "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nmotd = goodbye\n[plugin me]\n"), 0);
	ck_assert_str_eq(motd_of(tc, a, buf, sizeof buf), "goodbye");
	ck_assert_int_eq(tc->srv.cfg.max_message_bytes, 100);
	ck_assert_str_eq(tc->srv.cfg.plugins[0].opts[0].value, "goodbye");
	/* a plugin refuses: it keeps the old options */
	ck_assert_int_eq(reload_text(tc, "[server]\nmax_message_bytes = 100\n"
					 "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nmotd = bad\n[plugin me]\n"), 0);
	ck_assert_str_eq(motd_of(tc, a, buf, sizeof buf), "goodbye");
	ck_assert_str_eq(tc->srv.cfg.plugins[0].opts[0].value, "goodbye");
	/* a plugin without a RELOAD hook keeps its options (me: prefix) */
	ck_assert_int_eq(reload_text(tc, "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nmotd = goodbye\n"
					 "[plugin me]\nprefix = ***\n"), 0);
	ck_assert_int_eq(tc->srv.cfg.plugins[1].nopts, 0);
	ck_assert_int_eq(tc->srv.cfg.max_message_bytes, 4096); /* back to the default */
	/* a key that needs a restart does not change */
	ck_assert_int_eq(reload_text(tc, "[server]\nport = 9\nhandshake_timeout = 9\n"
					 "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nmotd = goodbye\n[plugin me]\n"), 0);
	ck_assert_int_eq(tc->srv.cfg.port, 8000);
	ck_assert_int_eq(tc->srv.cfg.handshake_timeout_s, 5);
	/* another plugin list: refused as a whole */
	ck_assert_int_eq(reload_text(tc, "[server]\nmax_message_bytes = 200\n"
					 "[plugin sdkapi]\npath = tests/plugins/sdkapi.so\nmotd = x\n"), -1);
	ck_assert_int_eq(tc->srv.cfg.max_message_bytes, 4096);
	ck_assert_str_eq(motd_of(tc, a, buf, sizeof buf), "goodbye");
	tc_free(tc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sdk");
	TCase *tc = tcase_create("sdk");
	tcase_add_test(tc, connect_reads_request);
	tcase_add_test(tc, connect_denies_with_request_text);
	tcase_add_test(tc, connect_sets_and_refuses_names);
	tcase_add_test(tc, nick_filter_first_name_and_renames);
	tcase_add_test(tc, message_set_text_checks_like_the_core);
	tcase_add_test(tc, consumed_and_denied_messages_are_answered);
	tcase_add_test(tc, request_from_text);
	tcase_add_test(tc, loader_names_the_abi_a_plugin_wants);
	tcase_add_test(tc, failed_init_is_not_cleaned_up);
	tcase_add_test(tc, plugins_built_against_the_old_header_work);
	tcase_add_test(tc, commands_dispatch_and_are_advertised);
	tcase_add_test(tc, services_between_plugins);
	tcase_add_test(tc, frame_builder_nests_and_readers_walk);
	tcase_add_test(tc, threads_post_back_and_fds_are_watched);
	tcase_add_test(tc, rooms_listed_slots_paired_with_destroy);
	tcase_add_test(tc, notices_get_ids_and_go_into_history);
	tcase_add_test(tc, reload_applies_what_is_safe);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
