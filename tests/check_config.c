/* Unit tests: the config parser (src/config.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkutil.h"
#include "config.h"
#include "log.h"

static struct chatd_config cfg;
static char err[1024];

static int parse(const char *text)
{
	config_free(&cfg);
	config_defaults(&cfg);
	err[0] = 0;
	return config_parse(&cfg, "t.conf", text, strlen(text), "/base", err, sizeof err);
}

static void teardown(void) { config_free(&cfg); }

START_TEST(defaults_are_sane)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(cfg.port, 8000);
	ck_assert_uint_eq(cfg.max_message_bytes, 4096);
	ck_assert_int_eq(cfg.nplugins, 0);
	ck_assert_str_eq(cfg.web_root, "web");
	ck_assert_int_eq(cfg.io_uring, 1);
}
END_TEST

START_TEST(boolean_keys)
{
	static const struct {
		const char *value;
		int want;
	} cases[] = { { "off", 0 }, { "no", 0 }, { "false", 0 }, { "0", 0 },
		      { "on", 1 }, { "yes", 1 }, { "true", 1 }, { "1", 1 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[server]\nio_uring = %s\n", cases[i].value);
		ck_assert_int_eq(parse(text), 0);
		ck_assert_msg(cfg.io_uring == cases[i].want, "io_uring = %s gave %d", cases[i].value, cfg.io_uring);
	}
}
END_TEST

START_TEST(server_keys_and_paths)
{
	ck_assert_int_eq(parse("# comment\n[server]\nport = 9001  # trailing\nweb_root = ../web\n"
			       "data_dir = /abs/data\nsend_queue_bytes = 2M\nsend_queue_soft_bytes = 64k\n"
			       "log_level = debug\nbind = \"127.0.0.1\"\n"), 0);
	ck_assert_int_eq(cfg.port, 9001);
	ck_assert_str_eq(cfg.web_root, "/base/../web");
	ck_assert_str_eq(cfg.data_dir, "/abs/data");
	ck_assert_uint_eq(cfg.send_queue_bytes, 2u << 20);
	ck_assert_uint_eq(cfg.send_queue_soft_bytes, 64u << 10);
	ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
	ck_assert_str_eq(cfg.bind, "127.0.0.1");
}
END_TEST

START_TEST(plugins_in_order_with_lines)
{
	ck_assert_int_eq(parse("[server]\n[plugin one]\na = 1\nb = two words\n\n[plugin two]\npath = x/two.so\n"), 0);
	ck_assert_int_eq(cfg.nplugins, 2);
	ck_assert_str_eq(cfg.plugins[0].name, "one");
	ck_assert_int_eq(cfg.plugins[0].line, 2);
	ck_assert_int_eq(cfg.plugins[0].nopts, 2);
	ck_assert_str_eq(cfg.plugins[0].opts[1].key, "b");
	ck_assert_str_eq(cfg.plugins[0].opts[1].value, "two words");
	ck_assert_int_eq(cfg.plugins[0].opts[1].line, 4);
	ck_assert_ptr_null(cfg.plugins[0].path);
	ck_assert_str_eq(cfg.plugins[1].path, "/base/x/two.so");
	ck_assert_int_eq(cfg.plugins[1].nopts, 0);
}
END_TEST

/* Each bad config must fail with "t.conf:LINE: ..." naming the key. */
static const struct {
	const char *text;
	const char *expect;
} bad[] = {
	{ "[server]\nprot = 1\n", "t.conf:2: key 'prot': unknown key in [server]" },
	{ "[server]\nport = abc\n", "t.conf:2: key 'port': 'abc' is not a number" },
	{ "[server]\n\nport = 70000\n", "t.conf:3: key 'port': 70000 is out of range 0..65535" },
	{ "[server]\nlog_level = loud\n", "t.conf:2: key 'log_level'" },
	{ "port = 1\n", "t.conf:1: key 'port': key outside a section" },
	{ "[servre]\n", "t.conf:1: unknown section [servre]" },
	{ "[server\n", "t.conf:1: section header without a closing ']'" },
	{ "[server]\n[server]\n", "t.conf:2: [server] given twice" },
	{ "[server]\njust words\n", "t.conf:2: expected 'key = value'" },
	{ "[plugin a]\nx = 1\nx = 2\n", "t.conf:3: key 'x': given twice in [plugin a]" },
	{ "[plugin a]\n[plugin a]\n", "t.conf:2: [plugin a] given twice (first on line 1)" },
	{ "[plugin a/b]\n", "t.conf:1: plugin name 'a/b'" },
	{ "[server]\nmax_message_bytes = 8\n", "t.conf:2: key 'max_message_bytes': 8 is out of range" },
	{ "[server]\nsend_queue_bytes = 8k\nsend_queue_soft_bytes = 16k\n", "key 'send_queue_soft_bytes'" },
	{ "[server]\nweb_root =\n", "t.conf:2: key 'web_root': empty path" },
	{ "[server]\nio_uring = maybe\n", "t.conf:2: key 'io_uring': 'maybe' is not one of on, off" },
	{ "[server]\nsend_queue_bytes = 9999999999999256k\n", "t.conf:2: key 'send_queue_bytes': '9999999999999256k' is not a number" },
};

START_TEST(bad_configs_name_file_line_key)
{
	ck_assert_int_eq(parse(bad[_i].text), -1);
	ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "config %d: got '%s', want '%s'", _i, err, bad[_i].expect);
}
END_TEST

START_TEST(load_missing_file)
{
	config_free(&cfg);
	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg, "/nonexistent/chatd.conf", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/chatd.conf: cannot open"));
}
END_TEST

START_TEST(load_resolves_against_file_dir)
{
	char dir[] = "/tmp/chatd-cfg-XXXXXX", path[128];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/c.conf", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[server]\nweb_root = www\n", f);
	fclose(f);
	config_free(&cfg);
	config_defaults(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof err), 0);
	char want[160];
	snprintf(want, sizeof want, "%s/www", dir);
	ck_assert_str_eq(cfg.web_root, want);
	ck_assert_str_eq(cfg.file, path);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, defaults_are_sane);
	tcase_add_test(tc, server_keys_and_paths);
	tcase_add_test(tc, boolean_keys);
	tcase_add_test(tc, plugins_in_order_with_lines);
	tcase_add_loop_test(tc, bad_configs_name_file_line_key, 0, (int)(sizeof bad / sizeof bad[0]));
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, load_resolves_against_file_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkutil_run(config_suite());
}
