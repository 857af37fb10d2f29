/* Unit tests: the origin plugin (plugins/origin/) on the real core with a
 * fake transport: allow list, same-origin default, look-alike origins,
 * null, missing Origin, default ports, shadow mode and option errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "checkutil.h"
#include "client.h"
#include "http.h"
#include "testcore.h"

static struct testcore *origin_core(const char *options) { return plugin_core("origin", options); }

/* The value of the origin counter `name` on /metrics (-1 when absent). */
static long long counter(struct testcore *tc, const char *name) { return counter_value(tc, "origin", name); }

/* What tc_connect does, with an Origin and a Host header (either may be
 * NULL), up to the handshake's verdict; then the socket closes (an
 * accepted handshake that never upgrades, a path the core supports).
 * Returns 0 when accepted, else the HTTP status; *reason_out (may be NULL)
 * gets the refusal reason. */
static int handshake(struct testcore *tc, const char *origin, const char *host, const char **reason_out)
{
	struct chatd_client *c = client_new(&tc->srv, tc, "127.0.0.1");
	ck_assert_ptr_nonnull(c);
	snprintf(c->join_room, sizeof c->join_room, "lobby");
	const char *reason = NULL;
	int status = chat_handshake(&tc->srv, c, origin, host, &reason);
	if (reason_out)
		*reason_out = reason;
	chat_close(&tc->srv, c);
	client_unref(c);
	return status;
}

static void expect_allowed(struct testcore *tc, const char *origin, const char *host)
{
	int status = handshake(tc, origin, host, NULL);
	ck_assert_msg(status == 0, "Origin '%s' (Host '%s') refused with %d", origin ? origin : "(none)",
		      host ? host : "(none)", status);
}

static void expect_refused(struct testcore *tc, const char *origin, const char *host)
{
	const char *reason = NULL;
	int status = handshake(tc, origin, host, &reason);
	ck_assert_msg(status == 403, "Origin '%s' (Host '%s') got %d, not 403", origin ? origin : "(none)",
		      host ? host : "(none)", status);
	ck_assert_str_eq(reason, "origin not allowed");
}

#define ALLOW "allow = http://localhost:8000 https://chat.example.org\n"

START_TEST(allow_list_hits)
{
	struct testcore *tc = origin_core(ALLOW);
	expect_allowed(tc, "http://localhost:8000", "localhost:8000");
	expect_allowed(tc, "https://chat.example.org", "chat.example.org");
	expect_allowed(tc, "https://chat.example.org", "somewhere-else"); /* the list, not Host, decides */
	expect_allowed(tc, "HTTP://LocalHost:8000", "localhost:8000");     /* scheme and host: any case */
	expect_allowed(tc, "https://Chat.Example.ORG", NULL);
	ck_assert_int_eq(counter(tc, "refused"), 0);
	tc_free(tc);
}
END_TEST

START_TEST(allow_list_misses_and_look_alikes)
{
	struct testcore *tc = origin_core(ALLOW);
	const char *bad[] = {
		"http://localhost.evil.com:8000", "http://evil.com/localhost:8000", "http://localhost:8001",
		"http://localhost", "https://localhost:8000", "http://chat.example.org", "https://chat.example.org.evil.com",
		"https://evil-chat.example.org", "https://chat.example.org:8443", "http://localhost:8000/",
		"http://localhost:8000@evil.com", "http://evil.com@localhost:8000", "http://localhost:80000",
		"http://localhost:", "ws://localhost:8000", "localhost:8000", "http://", "", "http://local host:8000",
		"https://chat.example.org.", "http://localhost:8000?x", "http://localhost:8000#x", "file://",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_refused(tc, bad[i], "localhost:8000");
	ck_assert_int_eq(counter(tc, "refused"), (long long)(sizeof bad / sizeof bad[0]));
	tc_free(tc);
}
END_TEST

START_TEST(default_ports_are_normalised)
{
	struct testcore *tc = origin_core("allow = http://a.example:80 https://b.example https://c.example:443 "
					  "http://d.example:8080\n");
	expect_allowed(tc, "http://a.example", NULL);
	expect_allowed(tc, "http://a.example:80", NULL);
	expect_allowed(tc, "https://b.example:443", NULL);
	expect_allowed(tc, "https://b.example", NULL);
	expect_allowed(tc, "https://c.example", NULL);
	expect_allowed(tc, "http://d.example:8080", NULL);
	expect_refused(tc, "https://a.example", NULL);     /* 443, not 80 */
	expect_refused(tc, "http://b.example:443", NULL);  /* http on 443 is another origin */
	expect_refused(tc, "http://d.example", NULL);
	tc_free(tc);
}
END_TEST

START_TEST(null_origin_refused_unless_listed)
{
	struct testcore *tc = origin_core(ALLOW);
	expect_refused(tc, "null", "localhost:8000");
	tc_free(tc);
	tc = origin_core("");
	expect_refused(tc, "null", "localhost:8000");
	tc_free(tc);
	tc = origin_core("allow = null http://localhost:8000\n");
	expect_allowed(tc, "null", "localhost:8000");
	expect_allowed(tc, "http://localhost:8000", "localhost:8000");
	expect_refused(tc, "http://localhost:9000", "localhost:9000");
	tc_free(tc);
}
END_TEST

START_TEST(same_origin_by_default)
{
	struct testcore *tc = origin_core("");
	expect_allowed(tc, "http://localhost:8000", "localhost:8000");
	expect_allowed(tc, "https://chat.example.org", "chat.example.org");
	expect_allowed(tc, "https://chat.example.org", "Chat.Example.org:443");
	expect_allowed(tc, "http://chat.example.org:80", "chat.example.org");
	expect_allowed(tc, "http://127.0.0.1:8000", "127.0.0.1:8000");
	expect_allowed(tc, "http://[::1]:8000", "[::1]:8000");
	expect_refused(tc, "http://localhost:8000", "localhost:8001");
	expect_refused(tc, "http://localhost.evil.com:8000", "localhost:8000");
	expect_refused(tc, "http://evil.com/localhost:8000", "localhost:8000");
	expect_refused(tc, "http://evil.com", "localhost:8000");
	expect_refused(tc, "https://chat.example.org", "chat.example.org:80"); /* https is 443 */
	expect_refused(tc, "http://localhost:8000", NULL);                    /* no Host to compare */
	expect_refused(tc, "http://localhost:8000", "localhost:8000/x");
	expect_refused(tc, "http://localhost:8000", "evil.com@localhost:8000");
	ck_assert_int_eq(counter(tc, "refused"), 8);
	tc_free(tc);
}
END_TEST

START_TEST(missing_origin_both_ways)
{
	struct testcore *tc = origin_core("");
	expect_allowed(tc, NULL, "localhost:8000"); /* default: yes */
	ck_assert_int_eq(counter(tc, "missing_origin"), 1);
	tc_free(tc);
	tc = origin_core(ALLOW "allow_missing = no\n");
	expect_refused(tc, NULL, "localhost:8000");
	expect_allowed(tc, "http://localhost:8000", "localhost:8000");
	ck_assert_int_eq(counter(tc, "missing_origin"), 1);
	ck_assert_int_eq(counter(tc, "refused"), 1);
	tc_free(tc);
	tc = origin_core("allow_missing = yes\n");
	expect_allowed(tc, NULL, NULL);
	tc_free(tc);
}
END_TEST

START_TEST(shadow_mode_counts_but_refuses_nothing)
{
	struct testcore *tc = origin_core(ALLOW "allow_missing = no\nmode = shadow\n");
	expect_allowed(tc, "http://evil.com", "localhost:8000");
	expect_allowed(tc, "http://evil.com", "localhost:8000");
	expect_allowed(tc, "null", "localhost:8000");
	expect_allowed(tc, NULL, "localhost:8000");
	expect_allowed(tc, "http://localhost:8000", "localhost:8000");
	ck_assert_int_eq(counter(tc, "refused"), 0);
	ck_assert_int_eq(counter(tc, "shadow_would_refuse"), 4);
	ck_assert_int_eq(counter(tc, "missing_origin"), 1);
	tc_free(tc);
}
END_TEST

START_TEST(refused_handshake_is_not_a_client)
{
	struct testcore *tc = origin_core(ALLOW);
	struct chatd_client *c = client_new(&tc->srv, tc, "127.0.0.1");
	snprintf(c->join_room, sizeof c->join_room, "lobby");
	const char *reason = NULL;
	ck_assert_int_eq(chat_handshake(&tc->srv, c, "http://evil.com", "localhost:8000", &reason), 403);
	ck_assert_int_eq(c->accepted, 0);
	chat_close(&tc->srv, c);
	client_unref(c);
	/* tc_connect sends no Origin: accepted (allow_missing defaults to yes) */
	ck_assert_ptr_nonnull(tc_connect(tc, "lobby", "Ann", NULL));
	tc_free(tc);
}
END_TEST

START_TEST(counters_are_on_metrics_from_the_start)
{
	struct testcore *tc = origin_core("");
	ck_assert_int_eq(counter(tc, "refused"), 0);
	ck_assert_int_eq(counter(tc, "shadow_would_refuse"), 0);
	ck_assert_int_eq(counter(tc, "missing_origin"), 0);
	tc_free(tc);
}
END_TEST

static void expect_load_error(const char *options, const char *want)
{
	char cfg[512], err[1024] = "";
	snprintf(cfg, sizeof cfg, "[plugin origin]\n%s", options);
	struct testcore *tc = tc_try_new(cfg, err, sizeof err);
	if (tc)
		tc_free(tc);
	ck_assert_msg(tc == NULL, "loaded but should not: %s", options);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

START_TEST(option_errors_name_plugin_option_and_line)
{
	expect_load_error("allowed = http://x\n", "test.conf:2: plugin origin: option 'allowed': unknown option");
	expect_load_error("mode = enforce\nallow = http://ok.example https://bad.example/path\n",
			  "test.conf:3: plugin origin: option 'allow': 'https://bad.example/path' is not an origin");
	expect_load_error("allow = chat.example.org\n", "option 'allow': 'chat.example.org' is not an origin");
	expect_load_error("allow = ftp://chat.example.org\n", "option 'allow': 'ftp://chat.example.org'");
	expect_load_error("allow = http://x:0\n", "option 'allow': 'http://x:0'");
	expect_load_error("allow = \n", "option 'allow': needs at least one origin");
	expect_load_error("allow_missing = maybe\n", "test.conf:2: plugin origin: option 'allow_missing': 'maybe' is not yes or no");
	expect_load_error("mode = loud\n", "test.conf:2: plugin origin: option 'mode': 'loud' is not 'enforce' or 'shadow'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("origin");
	TCase *tc = tcase_create("origin");
	tcase_add_test(tc, allow_list_hits);
	tcase_add_test(tc, allow_list_misses_and_look_alikes);
	tcase_add_test(tc, default_ports_are_normalised);
	tcase_add_test(tc, null_origin_refused_unless_listed);
	tcase_add_test(tc, same_origin_by_default);
	tcase_add_test(tc, missing_origin_both_ways);
	tcase_add_test(tc, shadow_mode_counts_but_refuses_nothing);
	tcase_add_test(tc, refused_handshake_is_not_a_client);
	tcase_add_test(tc, counters_are_on_metrics_from_the_start);
	tcase_add_test(tc, option_errors_name_plugin_option_and_line);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
