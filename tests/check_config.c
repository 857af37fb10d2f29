/* Unit tests: the config parser (src/config.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkutil.h"
#include "config.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <sys/stat.h>

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
	ck_assert_str_eq(cfg.web_root, CHATD_DEFAULT_WEB_ROOT); /* where make install puts it */
	ck_assert_str_eq(cfg.data_dir, CHATD_DEFAULT_DATA_DIR);
	ck_assert_str_eq(cfg.plugin_dir, CHATD_DEFAULT_PLUGIN_DIR);
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

/* An error about two keys names both, each with its own line (or "the
 * default"), at the line of the later one. */
START_TEST(two_key_errors_name_both_lines)
{
	ck_assert_int_eq(parse("[server]\nsend_queue_soft_bytes = 64k\nport = 1\nsend_queue_bytes = 32k\n"), -1);
	ck_assert_str_eq(err, "t.conf:4: key 'send_queue_soft_bytes' (65536, line 2) must not be larger than key "
			      "'send_queue_bytes' (32768, line 4)");
	ck_assert_int_eq(parse("[server]\nsend_queue_bytes = 32k\n\nsend_queue_soft_bytes = 64k\n"), -1);
	ck_assert_str_eq(err, "t.conf:4: key 'send_queue_soft_bytes' (65536, line 4) must not be larger than key "
			      "'send_queue_bytes' (32768, line 2)");
	ck_assert_int_eq(parse("[server]\nsend_queue_bytes = 128k\n"), -1); /* the soft default is 256k */
	ck_assert_str_eq(err, "t.conf:2: key 'send_queue_soft_bytes' (262144, the default) must not be larger than "
			      "key 'send_queue_bytes' (131072, line 2)");
	ck_assert_int_eq(parse("[server]\nmax_frame_bytes = 1k\n"), -1);
	ck_assert_str_eq(err, "t.conf:2: key 'max_message_bytes' (4096, the default) must not be larger than key "
			      "'max_frame_bytes' (1024, line 2)");
	ck_assert_int_eq(parse("[server]\nmax_message_bytes = 8k\nmax_frame_bytes = 4k\n"), -1);
	ck_assert_str_eq(err, "t.conf:3: key 'max_message_bytes' (8192, line 2) must not be larger than key "
			      "'max_frame_bytes' (4096, line 3)");
	ck_assert_int_eq(parse("[server]\nmax_message_bytes = 4k\nmax_frame_bytes = 4k\nsend_queue_bytes = 256k\n"), 0);
}
END_TEST

START_TEST(path_keys_remember_where_they_were_set)
{
	char where[256];
	ck_assert_int_eq(parse("[server]\nport = 1\nweb_root = www\n\ndata_dir = /var/lib/chatd\n"), 0);
	ck_assert_int_eq(cfg.web_root_line, 3);
	ck_assert_int_eq(cfg.data_dir_line, 5);
	config_set_str(&cfg.file, "t.conf");
	config_origin(&cfg, "data_dir", cfg.data_dir_line, "-D", where, sizeof where);
	ck_assert_str_eq(where, "t.conf:5: key 'data_dir'");
	config_origin(&cfg, "data_dir", -1, "-D", where, sizeof where);
	ck_assert_str_eq(where, "-D");
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(cfg.web_root_line, 0);
	config_origin(&cfg, "web_root", 0, "-w", where, sizeof where);
	ck_assert_str_eq(where, "the built-in default of 'web_root' (set it in the config or with -w)");
}
END_TEST

START_TEST(data_dir_made_with_parents)
{
	char dir[] = "/tmp/chatd-paths-XXXXXX", path[256], msg[512];
	struct stat st;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/a//b/c/", dir);
	ck_assert_int_eq(paths_mkdir_p(path, 0750, NULL), 0);
	ck_assert_int_eq(paths_mkdir_p(path, 0750, NULL), 0); /* already there */
	snprintf(path, sizeof path, "%s/a/b/c", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0027, 0); /* 0750 less the umask: never group-writable or world-readable */
	/* a file in the way: the prefix that failed is named */
	snprintf(path, sizeof path, "%s/f", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(parse("[server]\n\ndata_dir = f/x/y\n"), 0);
	config_set_str(&cfg.file, "t.conf");
	free(cfg.data_dir);
	snprintf(path, sizeof path, "%s/f/x/y", dir);
	cfg.data_dir = strdup(path);
	ck_assert_int_eq(paths_make_data_dir(&cfg, 0750, msg, sizeof msg), -1);
	char want[512];
	snprintf(want, sizeof want, "t.conf:3: key 'data_dir': data directory %s/f/x/y: cannot create %s/f: Not a directory",
		 dir, dir);
	ck_assert_str_eq(msg, want);
	/* the web root: configured and missing is an error, a missing default a warning */
	free(cfg.web_root);
	snprintf(path, sizeof path, "%s/www", dir);
	cfg.web_root = strdup(path);
	cfg.web_root_line = 7;
	ck_assert_int_eq(paths_check_web_root(&cfg, msg, sizeof msg), -1);
	snprintf(want, sizeof want, "t.conf:7: key 'web_root': web root %s/www: No such file or directory", dir);
	ck_assert_str_eq(msg, want);
	cfg.web_root_line = 0;
	ck_assert_int_eq(paths_check_web_root(&cfg, msg, sizeof msg), 1);
	cfg.web_root_line = 7;
	snprintf(path, sizeof path, "%s/a", dir);
	free(cfg.web_root);
	cfg.web_root = strdup(path);
	ck_assert_int_eq(paths_check_web_root(&cfg, msg, sizeof msg), 0);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
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
	tcase_add_test(tc, two_key_errors_name_both_lines);
	tcase_add_test(tc, path_keys_remember_where_they_were_set);
	tcase_add_test(tc, data_dir_made_with_parents);
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, load_resolves_against_file_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkutil_run(config_suite());
}
