/* Helpers shared by the Check suites: see checkutil.h. */
#include "checkutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "testcore.h"

const char *str(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }
json_int_t num(json_t *o, const char *key) { return json_integer_value(json_object_get(o, key)); }
int is_true(json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

void send_json(struct testcore *tc, struct chatd_client *c, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);
	ck_assert_ptr_nonnull(text);
	tc_send(tc, c, text);
	free(text);
	json_decref(o);
}

struct chatd_client *join_ok(struct testcore *tc, const char *room, const char *name)
{
	struct chatd_client *c = tc_connect(tc, room, name, NULL);
	ck_assert_msg(c != NULL, "%s was refused in room %s (%d)", name ? name : "(guest)", room, tc->last_status);
	return c;
}

void drain_all(struct chatd_client **cs, int n)
{
	for (int i = 0; i < n; i++)
		tc_drain(cs[i]);
}

struct testcore *plugin_core(const char *plugin, const char *options)
{
	char cfg[2048];
	int n = snprintf(cfg, sizeof cfg, "[plugin %s]\n%s", plugin, options);
	ck_assert_msg(n >= 0 && (size_t)n < sizeof cfg, "config for plugin %s too long", plugin);
	struct testcore *tc = tc_new(cfg);
	ck_assert_msg(tc != NULL, "plugin %s did not start with options '%s'", plugin, options);
	return tc;
}

long long counter_value(struct testcore *tc, const char *plugin, const char *name)
{
	char key[128];
	int n = snprintf(key, sizeof key, "chatd_plugin_counter{plugin=\"%s\",name=\"%s\"} ", plugin, name);
	ck_assert_msg(n >= 0 && (size_t)n < sizeof key, "counter name %s too long", name);
	char *text = http_metrics_text(&tc->srv);
	ck_assert_ptr_nonnull(text);
	const char *at = strstr(text, key);
	long long v = at ? strtoll(at + strlen(key), NULL, 10) : -1;
	free(text);
	return v;
}

int checkutil_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void expect_config_refused(const char *config, const char *want)
{
	char err[1024] = "";
	struct testcore *tc = tc_try_new(config, err, sizeof err);
	ck_assert_msg(tc == NULL, "config loaded but should not: %s", config);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}
