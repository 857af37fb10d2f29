/*
 * Helpers shared by the Check suites (tests/check_*.c): reading fields of
 * JSON frames, sending JSON frames, clients, plugin cores and counters, and
 * running a suite. Built into tests/libtestcore.a (tests/checkutil.c).
 */
#ifndef CHATD_CHECKUTIL_H
#define CHATD_CHECKUTIL_H

#include <check.h>
#include <jansson.h>

struct testcore;
struct chatd_client;

/* Fields of a JSON object (borrowed): the string, integer or truth of key.
 * Absent or of another type: str gives NULL, num and is_true give 0. */
const char *str(json_t *o, const char *key);
json_int_t num(json_t *o, const char *key);
int is_true(json_t *o, const char *key);

/* Send a frame from c built from a jansson object (steals o). */
void send_json(struct testcore *tc, struct chatd_client *c, json_t *o);

/* Connect name to room from 127.0.0.1 (tc_connect); fails the test when the
 * core refuses. The welcome and join notices stay queued. */
struct chatd_client *join_ok(struct testcore *tc, const char *room, const char *name);

/* Drop every queued frame of the n clients of cs. */
void drain_all(struct chatd_client **cs, int n);

/* tc_new("[plugin NAME]\n" options) (options may be ""): fails the test
 * when the core does not start. */
struct testcore *plugin_core(const char *plugin, const char *options);

/* tc_try_new(config) must fail with an error containing want. */
void expect_config_refused(const char *config, const char *want);

/* The value of the counter `name` of plugin on /metrics, -1 when absent. */
long long counter_value(struct testcore *tc, const char *plugin, const char *name);

/* Run every test of s (the runner frees it) and return the exit status of
 * the suite's program: EXIT_SUCCESS when none failed, else EXIT_FAILURE. */
int checkutil_run(Suite *s);

#endif
