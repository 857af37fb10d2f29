/* Unit tests: the plugin loader and the plugin API (src/plugins.c, api.c),
 * with deliberately good and broken test plugins (tests/plugins/). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "http.h"
#include "testcore.h"

START_TEST(loads_stock_plugin_by_name)
{
	struct testcore *tc = tc_new("[plugin me]\nprefix = ***\n");
	ck_assert_ptr_nonnull(tc);
	ck_assert_int_eq(tc->srv.nplugins, 1);
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"text\":\"/me waves\"}");
	json_t *m = tc_expect(tc, a, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "*** Alice waves");
	json_decref(m);
	tc_free(tc);
}
END_TEST

START_TEST(refuses_broken_plugins_clearly)
{
	expect_config_refused("[server]\n[plugin nothere]\n", "test.conf:2: plugin nothere: cannot load");
	expect_config_refused("[plugin x]\npath = tests/plugins/bad_abi.so\n",
			  "test.conf:1: plugin x: wants plugin ABI 999, this chatd speaks ABI 1");
	expect_config_refused("[plugin y]\npath = tests/plugins/no_init.so\n",
			  "test.conf:1: plugin y: " TOP_BUILDDIR "/tests/plugins/no_init.so does not export chatd_plugin_init");
	expect_config_refused("[plugin me]\ncolour = red\n", "test.conf:2: plugin me: option 'colour': unknown option");
	expect_config_refused("[plugin me]\n\nprefix = 0123456789abcdefgh\n",
			  "test.conf:3: plugin me: option 'prefix': must be 1 to 15 bytes");
	/* a failure after a good plugin loaded unloads the good one too (no leak, no crash) */
	expect_config_refused("[plugin me]\n[plugin z]\npath = tests/plugins/bad_abi.so\n", "plugin z");
}
END_TEST

static struct testcore *probe_core(const char *extra)
{
	char cfg[512];
	snprintf(cfg, sizeof cfg, "[plugin probe]\npath = tests/plugins/probe.so\n%s", extra);
	struct testcore *tc = tc_new(cfg);
	ck_assert_ptr_nonnull(tc);
	return tc;
}

START_TEST(claimed_type_and_frame_builder)
{
	struct testcore *tc = probe_core("");
	struct chatd_client *a = tc_connect(tc, "lab", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"type\":\"probe\",\"n\":3}");
	json_t *p = tc_expect(tc, a, "probe", NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(str(p, "name"), "Alice");
	ck_assert_str_eq(str(p, "room"), "lab");
	ck_assert_int_eq(num(p, "n"), 3);
	ck_assert(json_is_true(json_object_get(p, "ok")));
	json_t *items = json_object_get(p, "items");
	ck_assert_int_eq(json_array_size(items), 3);
	ck_assert_int_eq(num(json_array_get(items, 2), "i"), 2);
	json_decref(p);
	tc_send(tc, a, "{\"type\":\"probe\",\"n\":\"x\"}");
	json_t *e = tc_expect(tc, a, "error", NULL);
	ck_assert_str_eq(str(e, "code"), "bad_request");
	json_decref(e);
	tc_free(tc);
}
END_TEST

START_TEST(message_hook_deny_consume_modify)
{
	struct testcore *tc = probe_core("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *b = tc_connect(tc, "r", "Bob", NULL);
	tc_drain(a), tc_drain(b);
	tc_send(tc, a, "{\"text\":\"deny\"}");
	json_t *e = tc_recv(tc, a);
	ck_assert_str_eq(str(e, "type"), "error");
	ck_assert_str_eq(str(e, "code"), "probe_denied");
	ck_assert_int_eq(num(e, "retry_after_ms"), 1234);
	json_decref(e);
	tc_send(tc, a, "{\"text\":\"eat\"}");
	ck_assert_uint_eq(tc_pending(a), 0);
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_send(tc, a, "{\"text\":\"upper\"}");
	json_t *m = tc_expect(tc, b, "message", NULL);
	ck_assert_str_eq(str(m, "text"), "UPPER");
	ck_assert_int_eq(num(m, "id"), 1); /* denied and consumed messages took no id */
	json_decref(m);
	tc_free(tc);
}
END_TEST

START_TEST(store_hold_delays_fanout_until_release)
{
	struct testcore *tc = probe_core("hold = 1\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL), *b = tc_connect(tc, "r", "Bob", NULL);
	tc_drain(a), tc_drain(b);
	tc_send(tc, a, "{\"text\":\"one\",\"client_id\":\"k1\"}");
	tc_send(tc, a, "{\"text\":\"two\"}");
	ck_assert_uint_eq(tc_pending(a), 0); /* not acknowledged before it is stored */
	ck_assert_uint_eq(tc_pending(b), 0);
	tc_idle(tc);
	json_t *m1 = tc_recv(tc, a), *m2 = tc_recv(tc, a);
	ck_assert_str_eq(str(m1, "text"), "one");
	ck_assert_str_eq(str(m1, "client_id"), "k1");
	ck_assert_str_eq(str(m2, "text"), "two");
	json_decref(m1), json_decref(m2);
	ck_assert_uint_eq(tc_pending(b), 2);
	/* a sender that disconnects while held: the room still gets it, no crash */
	tc_send(tc, a, "{\"text\":\"three\"}");
	tc_disconnect(tc, a);
	tc_drain(b);
	tc_idle(tc);
	json_t *m3 = tc_expect(tc, b, "message", NULL);
	ck_assert_str_eq(str(m3, "text"), "three");
	json_decref(m3);
	tc_free(tc);
}
END_TEST

START_TEST(store_failure_delivers_and_tells_sender)
{
	struct testcore *tc = probe_core("hold = 1\nfail_store = 1\n");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	tc_drain(a);
	tc_send(tc, a, "{\"text\":\"x\"}");
	tc_idle(tc);
	json_t *m = tc_recv(tc, a), *e = tc_recv(tc, a);
	ck_assert_str_eq(str(m, "type"), "message");
	ck_assert_str_eq(str(e, "code"), "not_stored");
	json_decref(m), json_decref(e);
	tc_free(tc);
}
END_TEST

START_TEST(connect_hook_denies_with_status)
{
	struct testcore *tc = probe_core("deny_address = 127.0.0.9\n");
	ck_assert_ptr_null(tc_connect(tc, "r", "Eve", "127.0.0.9"));
	ck_assert_int_eq(tc->last_status, 429);
	ck_assert_uint_eq(tc->srv.nclients, 0);
	ck_assert_ptr_nonnull(tc_connect(tc, "r", "Ann", "127.0.0.1"));
	tc_free(tc);
}
END_TEST

START_TEST(notify_events_and_counters_in_metrics)
{
	struct testcore *tc = probe_core("");
	struct chatd_client *a = tc_connect(tc, "r", "Alice", NULL);
	tc_send(tc, a, "{\"type\":\"nick\",\"username\":\"Alicia\"}");
	tc_send(tc, a, "{\"type\":\"join\",\"room\":\"s\"}");
	tc_tick(tc);
	tc_disconnect(tc, a);
	char *text = http_metrics_text(&tc->srv);
	ck_assert_ptr_nonnull(strstr(text, "chatd_plugin_counter{plugin=\"probe\",name=\"join\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "chatd_plugin_counter{plugin=\"probe\",name=\"leave\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "chatd_plugin_counter{plugin=\"probe\",name=\"rename\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "chatd_plugin_counter{plugin=\"probe\",name=\"tick\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "chatd_plugin_counter{plugin=\"probe\",name=\"disconnect\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "chatd_plugin_counter{plugin=\"probe\",name=\"room_create\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "chatd_connections 0\n"));
	free(text);
	tc_free(tc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plugins");
	TCase *tc = tcase_create("loader");
	tcase_add_test(tc, loads_stock_plugin_by_name);
	tcase_add_test(tc, refuses_broken_plugins_clearly);
	tcase_add_test(tc, claimed_type_and_frame_builder);
	tcase_add_test(tc, message_hook_deny_consume_modify);
	tcase_add_test(tc, store_hold_delays_fanout_until_release);
	tcase_add_test(tc, store_failure_delivers_and_tells_sender);
	tcase_add_test(tc, connect_hook_denies_with_status);
	tcase_add_test(tc, notify_events_and_counters_in_metrics);
	suite_add_tcase(s, tc);
	return checkutil_run(s);
}
