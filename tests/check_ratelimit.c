/* Unit tests: the ratelimit plugin (plugins/ratelimit/) on the real core
 * with a fake transport: token buckets, per-address sharing, flood close,
 * connection cap, address table sweep, shadow mode and option errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "checkutil.h"
#include "client.h"
#include "http.h"
#include "testcore.h"

/* Plenty for everything a test does not look at. */
#define ROOMY "messages_per_second = 1000\nmessage_burst = 1000\n" \
	"address_messages_per_second = 1000\naddress_message_burst = 1000\n"

/* Let ms of real time pass while running the loop. tc_run alone is not
 * enough: its first call after a pause returns at once (libev's cached
 * time is stale), so loop until the clock says so. */
static void wait_ms(struct testcore *tc, int ms)
{
	int64_t end = now_ms() + ms;
	for (int64_t left; (left = end - now_ms()) > 0;)
		tc_run(tc, (int)left);
}

static struct testcore *rl_core(const char *options) { return plugin_core("ratelimit", options); }

/* The value of the ratelimit counter `name` on /metrics (-1 when absent). */
static long long counter(struct testcore *tc, const char *name) { return counter_value(tc, "ratelimit", name); }

static struct chatd_client *join(struct testcore *tc, const char *name, const char *address)
{
	struct chatd_client *c = tc_connect(tc, "r", name, address);
	ck_assert_msg(c != NULL, "%s from %s was refused (%d)", name, address, tc->last_status);
	tc_drain(c);
	return c;
}

/* Send a message from c and return the answer c gets first (new): its
 * own message back, or an error. */
static json_t *say(struct testcore *tc, struct chatd_client *c, const char *text)
{
	char frame[2048];
	snprintf(frame, sizeof frame, "{\"type\":\"message\",\"text\":\"%s\"}", text);
	tc_drain(c);
	tc_send(tc, c, frame);
	json_t *v = tc_recv(tc, c);
	ck_assert_ptr_nonnull(v);
	return v;
}

static void expect_accepted(struct testcore *tc, struct chatd_client *c, const char *text)
{
	json_t *v = say(tc, c, text);
	ck_assert_msg(!strcmp(str(v, "type"), "message"), "'%s' was refused: %s", text, str(v, "code"));
	json_decref(v);
}

/* The message must be refused with rate_limited; returns its retry_after_ms. */
static long long expect_limited(struct testcore *tc, struct chatd_client *c, const char *text)
{
	json_t *v = say(tc, c, text);
	ck_assert_str_eq(str(v, "type"), "error");
	ck_assert_str_eq(str(v, "code"), "rate_limited");
	ck_assert_ptr_nonnull(str(v, "message"));
	long long retry = num(v, "retry_after_ms");
	json_decref(v);
	return retry;
}

START_TEST(burst_then_refusal_with_retry_after)
{
	struct testcore *tc = rl_core("messages_per_second = 1\nmessage_burst = 3\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	for (int i = 0; i < 3; i++)
		expect_accepted(tc, a, "hi");
	long long retry = expect_limited(tc, a, "one too many");
	/* one token at 1/s: 1000 ms after the last take, less the few ms gone since */
	ck_assert_msg(retry > 500 && retry <= 1000, "retry_after_ms %lld", retry);
	ck_assert_int_eq(counter(tc, "refused_messages"), 1);
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_free(tc);
}
END_TEST

/* c sends frame; the first answer c gets (new). */
static json_t *send_frame(struct testcore *tc, struct chatd_client *c, const char *frame)
{
	tc_drain(c);
	tc_send(tc, c, frame);
	json_t *v = tc_recv(tc, c);
	ck_assert_ptr_nonnull(v);
	return v;
}

START_TEST(private_messages_cost_one_message_token)
{
	struct testcore *tc = rl_core("messages_per_second = 1\nmessage_burst = 3\n[plugin privmsg]\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	join(tc, "Bob", NULL);
	/* "/msg" pays in the MESSAGE hook, not once more as a private message */
	for (int i = 0; i < 3; i++) {
		json_t *v = send_frame(tc, a, "{\"type\":\"message\",\"text\":\"/msg bob hi\"}");
		ck_assert_str_eq(str(v, "type"), "private");
		json_decref(v);
	}
	json_t *v = send_frame(tc, a, "{\"type\":\"private\",\"to\":\"bob\",\"text\":\"hi\",\"client_id\":\"p4\"}");
	ck_assert_str_eq(str(v, "type"), "error");
	ck_assert_str_eq(str(v, "code"), "rate_limited");
	ck_assert_str_eq(str(v, "client_id"), "p4");
	ck_assert_int_gt(num(v, "retry_after_ms"), 0);
	json_decref(v);
	tc_free(tc);
	/* the private frame pays its own token */
	tc = rl_core("messages_per_second = 1\nmessage_burst = 3\n[plugin privmsg]\n");
	a = join(tc, "Alice", NULL);
	join(tc, "Bob", NULL);
	for (int i = 0; i < 3; i++) {
		v = send_frame(tc, a, "{\"type\":\"private\",\"to\":\"bob\",\"text\":\"hi\"}");
		ck_assert_str_eq(str(v, "type"), "private");
		json_decref(v);
	}
	expect_limited(tc, a, "and a room message too");
	ck_assert_int_eq(counter(tc, "refused_messages"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(bucket_refills_with_time)
{
	struct testcore *tc = rl_core("messages_per_second = 20\nmessage_burst = 1\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	expect_accepted(tc, a, "one");
	long long retry = expect_limited(tc, a, "two");
	ck_assert_msg(retry >= 1 && retry <= 50, "retry_after_ms %lld", retry);
	wait_ms(tc, (int)retry + 20);
	expect_accepted(tc, a, "two again");
	expect_limited(tc, a, "three");
	tc_free(tc);
}
END_TEST

START_TEST(connection_limits_are_per_connection)
{
	struct testcore *tc = rl_core("messages_per_second = 1\nmessage_burst = 2\n"
				      "address_messages_per_second = 100\naddress_message_burst = 100\n");
	struct chatd_client *a = join(tc, "Alice", "127.0.0.5"), *b = join(tc, "Bob", "127.0.0.5");
	expect_accepted(tc, a, "1");
	expect_accepted(tc, a, "2");
	expect_limited(tc, a, "3");
	expect_accepted(tc, b, "b1"); /* same address, its own bucket */
	expect_accepted(tc, b, "b2");
	tc_free(tc);
}
END_TEST

START_TEST(address_limit_is_shared_by_connections_of_one_address)
{
	struct testcore *tc = rl_core("messages_per_second = 100\nmessage_burst = 100\n"
				      "address_messages_per_second = 1\naddress_message_burst = 3\n");
	struct chatd_client *a = join(tc, "Alice", "127.0.0.5"), *b = join(tc, "Bob", "127.0.0.5");
	struct chatd_client *c = join(tc, "Carol", "127.0.0.6");
	expect_accepted(tc, a, "a1");
	expect_accepted(tc, a, "a2");
	expect_accepted(tc, b, "b1");
	long long retry = expect_limited(tc, b, "b2");
	ck_assert_msg(retry > 500 && retry <= 1000, "retry_after_ms %lld", retry);
	expect_limited(tc, a, "a3");
	for (int i = 0; i < 3; i++) /* another address has its own */
		expect_accepted(tc, c, "c");
	tc_free(tc);
}
END_TEST

START_TEST(other_frames_cost_bytes_but_not_messages)
{
	struct testcore *tc = rl_core("messages_per_second = 1\nmessage_burst = 2\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	for (int i = 0; i < 5; i++) {
		tc_send(tc, a, "{\"type\":\"who\"}");
		tc_send(tc, a, "{\"type\":\"typing\"}");
	}
	json_t *v;
	while ((v = tc_recv(tc, a))) {
		const char *code = str(v, "code");
		ck_assert_msg(!code || strcmp(code, "rate_limited"), "a non-message frame was rate limited");
		json_decref(v);
	}
	expect_accepted(tc, a, "1");
	expect_accepted(tc, a, "2");
	expect_limited(tc, a, "3");
	tc_free(tc);
}
END_TEST

START_TEST(byte_bucket_refuses_frames_with_retry_after)
{
	struct testcore *tc = rl_core(ROOMY "bytes_per_second = 100\nbyte_burst = 200\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	char text[160];
	/* {"type":"message","text":""} is 28 bytes: with the text 150 bytes */
	memset(text, 'x', 122);
	text[122] = 0;
	expect_accepted(tc, a, text);
	long long retry = expect_limited(tc, a, text); /* 50 left, 150 needed: 100 bytes at 100/s */
	ck_assert_msg(retry > 500 && retry <= 1000, "retry_after_ms %lld", retry);
	ck_assert_int_eq(counter(tc, "refused_bytes"), 1);
	ck_assert_int_eq(counter(tc, "refused_messages"), 0);
	/* the refused frame never reached the core: no message id was used */
	wait_ms(tc, 1020);
	json_t *m = say(tc, a, text);
	ck_assert_str_eq(str(m, "type"), "message");
	ck_assert_int_eq(num(m, "id"), 2);
	json_decref(m);
	tc_free(tc);
}
END_TEST

START_TEST(frame_over_the_burst_needs_a_full_bucket)
{
	struct testcore *tc = rl_core(ROOMY "bytes_per_second = 100\nbyte_burst = 100\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	char text[160];
	memset(text, 'y', 122); /* a 150-byte frame, burst 100 */
	text[122] = 0;
	expect_accepted(tc, a, text);
	/* now 50 bytes in debt: a 31-byte frame waits for 81 bytes: 810 ms */
	long long retry = expect_limited(tc, a, "abc");
	ck_assert_msg(retry > 500 && retry <= 810, "retry_after_ms %lld", retry);
	tc_free(tc);
}
END_TEST

START_TEST(persistent_flooder_is_closed_with_1008)
{
	struct testcore *tc = rl_core("messages_per_second = 1\nmessage_burst = 1\nflood_close_after = 5\n");
	struct chatd_client *a = join(tc, "Alice", "127.0.0.5"), *b = join(tc, "Bob", "127.0.0.2");
	tc_drain(a);
	expect_accepted(tc, a, "first");
	for (int i = 0; i < 4; i++)
		expect_limited(tc, a, "flood");
	ck_assert_int_eq(tc_close_code(a), 0);
	expect_limited(tc, a, "flood"); /* the fifth refusal: its error, then the close */
	ck_assert_int_eq(tc_close_code(a), 1008);
	ck_assert_int_eq(counter(tc, "flood_closed"), 1);
	ck_assert_int_eq(counter(tc, "refused_messages"), 5);
	/* Bob saw only the accepted message and chats on */
	tc_drain(b);
	expect_accepted(tc, b, "still here");
	tc_free(tc);
}
END_TEST

START_TEST(an_accepted_message_resets_the_flood_count)
{
	struct testcore *tc = rl_core("messages_per_second = 20\nmessage_burst = 1\nflood_close_after = 3\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	expect_accepted(tc, a, "1");
	expect_limited(tc, a, "x");
	expect_limited(tc, a, "x");
	wait_ms(tc, 80);
	expect_accepted(tc, a, "2");
	expect_limited(tc, a, "x");
	expect_limited(tc, a, "x");
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_free(tc);
}
END_TEST

START_TEST(flood_close_after_zero_never_closes)
{
	struct testcore *tc = rl_core("messages_per_second = 1\nmessage_burst = 1\nflood_close_after = 0\n");
	struct chatd_client *a = join(tc, "Alice", NULL);
	expect_accepted(tc, a, "1");
	for (int i = 0; i < 50; i++)
		expect_limited(tc, a, "x");
	ck_assert_int_eq(tc_close_code(a), 0);
	tc_free(tc);
}
END_TEST

START_TEST(connection_cap_refuses_with_429_and_releases_on_disconnect)
{
	struct testcore *tc = rl_core("max_connections_per_address = 2\n");
	struct chatd_client *a = join(tc, "A", "127.0.0.7");
	join(tc, "B", "127.0.0.7");
	ck_assert_ptr_null(tc_connect(tc, "r", "C", "127.0.0.7"));
	ck_assert_int_eq(tc->last_status, 429);
	ck_assert_int_eq(counter(tc, "refused_connections"), 1);
	join(tc, "D", "127.0.0.8"); /* another address is not affected */
	tc_disconnect(tc, a);
	join(tc, "C", "127.0.0.7");
	ck_assert_ptr_null(tc_connect(tc, "r", "E", "127.0.0.7"));
	ck_assert_int_eq(counter(tc, "refused_connections"), 2);
	tc_free(tc);
}
END_TEST

/* A handshake that passes CONNECT but never upgrades still gets its
 * DISCONNECT, which gives its place back. */
START_TEST(unfinished_handshake_releases_its_place)
{
	struct testcore *tc = rl_core("max_connections_per_address = 1\n");
	struct chatd_client *c = client_new(&tc->srv, tc, "127.0.0.7");
	ck_assert_ptr_nonnull(c);
	snprintf(c->join_room, sizeof c->join_room, "r");
	const char *reason = NULL;
	ck_assert_int_eq(chat_handshake(&tc->srv, c, NULL, "localhost", &reason), 0);
	ck_assert_ptr_null(tc_connect(tc, "r", "B", "127.0.0.7"));
	ck_assert_int_eq(tc->last_status, 429);
	chat_close(&tc->srv, c);
	client_unref(c);
	join(tc, "B", "127.0.0.7");
	tc_free(tc);
}
END_TEST

/* A handshake another plugin refuses after ratelimit looked at it must not
 * hold a place (DISCONNECT never comes for it). */
START_TEST(handshake_refused_by_a_later_plugin_is_not_counted)
{
	struct testcore *tc = rl_core("max_connections_per_address = 1\n"
				      "[plugin probe]\npath = tests/plugins/probe.so\ndeny_address = 127.0.0.9\n");
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_null(tc_connect(tc, "r", "Eve", "127.0.0.9"));
	ck_assert_int_eq(counter(tc, "refused_connections"), 0);
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 0);
	join(tc, "Ann", "127.0.0.1");
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(idle_addresses_are_forgotten_on_tick)
{
	struct testcore *tc = rl_core("address_messages_per_second = 1\naddress_message_burst = 5\n");
	struct chatd_client *cs[300];
	char addr[32], name[16];
	for (int i = 0; i < 300; i++) {
		snprintf(addr, sizeof addr, "10.0.%d.%d", i / 200, i % 200);
		snprintf(name, sizeof name, "u%d", i);
		cs[i] = join(tc, name, addr);
	}
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 300);
	tc_tick(tc);
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 300); /* all connected */
	expect_accepted(tc, cs[0], "uses a token of 10.0.0.0");
	for (int i = 0; i < 300; i++)
		tc_disconnect(tc, cs[i]);
	tc_tick(tc);
	/* only 10.0.0.0 stays, until its bucket is full again (1 s) */
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 1);
	wait_ms(tc, 1050);
	tc_tick(tc);
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 0);
	/* and the table works after shrinking */
	join(tc, "again", "10.0.0.1");
	ck_assert_int_eq(counter(tc, "tracked_addresses"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(shadow_mode_counts_but_refuses_nothing)
{
	struct testcore *tc = rl_core("mode = shadow\nmessages_per_second = 1\nmessage_burst = 1\n"
				      "bytes_per_second = 1000\nbyte_burst = 1000\n"
				      "max_connections_per_address = 1\nflood_close_after = 2\n");
	struct chatd_client *a = join(tc, "Alice", "127.0.0.5");
	for (int i = 0; i < 6; i++)
		expect_accepted(tc, a, "never refused");
	char big[700];
	memset(big, 'z', 600); /* 628-byte frames: the 2nd is over what is left of 1000 */
	big[600] = 0;
	expect_accepted(tc, a, big);
	expect_accepted(tc, a, big);
	ck_assert_int_eq(tc_close_code(a), 0);
	join(tc, "Bob", "127.0.0.5"); /* over the cap, let in */
	ck_assert_int_eq(counter(tc, "refused_messages"), 0);
	ck_assert_int_eq(counter(tc, "refused_bytes"), 0);
	ck_assert_int_eq(counter(tc, "refused_connections"), 0);
	ck_assert_int_eq(counter(tc, "flood_closed"), 0);
	/* 5 + 2 messages over the message bucket, 1 frame over the byte bucket
	 * (the 2nd big one, whose message shadow mode then checks too), 1 connection */
	ck_assert_int_eq(counter(tc, "shadow_would_refuse"), 5 + 2 + 1 + 1);
	tc_free(tc);
}
END_TEST

START_TEST(counters_are_on_metrics_from_the_start)
{
	struct testcore *tc = rl_core("");
	const char *names[] = { "refused_messages", "refused_bytes", "refused_connections", "flood_closed",
				"shadow_would_refuse", "tracked_addresses" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		ck_assert_int_eq(counter(tc, names[i]), 0);
	tc_free(tc);
}
END_TEST

START_TEST(defaults_allow_normal_chat)
{
	struct testcore *tc = rl_core("");
	struct chatd_client *a = join(tc, "Alice", NULL);
	for (int i = 0; i < 10; i++) /* burst 10 */
		expect_accepted(tc, a, "hello");
	expect_limited(tc, a, "hello");
	tc_free(tc);
}
END_TEST

static void expect_load_error(const char *options, const char *want)
{
	char cfg[512], err[1024] = "";
	snprintf(cfg, sizeof cfg, "[plugin ratelimit]\n%s", options);
	struct testcore *tc = tc_try_new(cfg, err, sizeof err);
	if (tc)
		tc_free(tc);
	ck_assert_msg(tc == NULL, "loaded but should not: %s", options);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

static void expect_loads(const char *options)
{
	char cfg[512], err[1024] = "";
	snprintf(cfg, sizeof cfg, "[plugin ratelimit]\n%s", options);
	struct testcore *tc = tc_try_new(cfg, err, sizeof err);
	ck_assert_msg(tc != NULL, "'%s' refused: %s", options, err);
	tc_free(tc);
}

START_TEST(option_errors_name_plugin_option_and_line)
{
	expect_load_error("speed = 3\n", "test.conf:2: plugin ratelimit: option 'speed': unknown option");
	expect_load_error("mode = enforce\n\nmessages_per_second = 0\n",
			  "test.conf:4: plugin ratelimit: option 'messages_per_second': '0' is not a whole number from 1");
	expect_load_error("message_burst = ten\n", "test.conf:2: plugin ratelimit: option 'message_burst': 'ten'");
	expect_load_error("byte_burst = 64q\n", "option 'byte_burst': '64q' is not a whole number");
	expect_load_error("bytes_per_second = -5\n", "option 'bytes_per_second'");
	expect_load_error("address_message_burst = 99999999999999999999\n", "option 'address_message_burst'");
	expect_load_error("bytes_per_second = 2048M\n", "option 'bytes_per_second'");
	expect_load_error("max_connections_per_address = 0\n", "option 'max_connections_per_address'");
	expect_load_error("flood_close_after = -1\n", "option 'flood_close_after'");
	expect_load_error("mode = loud\n", "test.conf:2: plugin ratelimit: option 'mode': 'loud' is not 'enforce' or 'shadow'");
	expect_loads("bytes_per_second = 64k\nbyte_burst = 1M\naddress_bytes_per_second = 1024\n"
		     "address_byte_burst = 2M\nflood_close_after = 0\nmode = shadow\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("ratelimit");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, burst_then_refusal_with_retry_after);
	tcase_add_test(tc, private_messages_cost_one_message_token);
	tcase_add_test(tc, bucket_refills_with_time);
	tcase_add_test(tc, connection_limits_are_per_connection);
	tcase_add_test(tc, address_limit_is_shared_by_connections_of_one_address);
	tcase_add_test(tc, other_frames_cost_bytes_but_not_messages);
	tcase_add_test(tc, byte_bucket_refuses_frames_with_retry_after);
	tcase_add_test(tc, frame_over_the_burst_needs_a_full_bucket);
	tcase_add_test(tc, persistent_flooder_is_closed_with_1008);
	tcase_add_test(tc, an_accepted_message_resets_the_flood_count);
	tcase_add_test(tc, flood_close_after_zero_never_closes);
	tcase_add_test(tc, connection_cap_refuses_with_429_and_releases_on_disconnect);
	tcase_add_test(tc, unfinished_handshake_releases_its_place);
	tcase_add_test(tc, handshake_refused_by_a_later_plugin_is_not_counted);
	tcase_add_test(tc, idle_addresses_are_forgotten_on_tick);
	tcase_add_test(tc, shadow_mode_counts_but_refuses_nothing);
	tcase_add_test(tc, counters_are_on_metrics_from_the_start);
	tcase_add_test(tc, defaults_allow_normal_chat);
	tcase_add_test(tc, option_errors_name_plugin_option_and_line);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
