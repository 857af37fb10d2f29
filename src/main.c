/* chatd: argument parsing, config load, and the loop. */
#include "config.h"
#include "log.h"
#include "paths.h"
#include "reload.h"
#include "server.h"
#include "serverloop.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes (docs/operations.md). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3, EXIT_PLUGIN = 4, EXIT_LISTEN = 5 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: chatd [-c FILE] [-t] [-p PORT] [-w DIR] [-D DIR] [-P DIR] [-l LEVEL] [-h|--help] [-V|--version]\n"
		"A plugin-based real-time chat server (WebSocket rooms at /ws/{room}).\n"
		"\n"
		"  -c FILE   config file (default: none, built-in defaults and no plugins;\n"
		"            make install put one at " CHATD_INSTALLED_CONFIG ")\n"
		"  -t        check the config and the plugins it names, then exit (0 = ok)\n"
		"  -p PORT   listen port, overrides the config (default 8000; 0 = any free port)\n"
		"  -w DIR    web root served at /, overrides the config\n"
		"            (default " CHATD_DEFAULT_WEB_ROOT ")\n"
		"  -D DIR    data directory where plugins keep their files\n"
		"            (default " CHATD_DEFAULT_DATA_DIR ")\n"
		"  -P DIR    plugin directory, overrides the config\n"
		"            (default " CHATD_DEFAULT_PLUGIN_DIR ")\n"
		"  -l LEVEL  log level: err, warn, notice, info, debug (default notice)\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Flags override the file. Relative paths inside the file are relative to the\n"
		"file's directory; relative paths given as flags are relative to the current\n"
		"directory. SIGTERM or SIGINT closes every socket with 1001 and exits 0;\n"
		"SIGHUP re-reads the config file and applies what can change while running.\n"
		"Exit codes: 0 ok, 1 runtime error, 2 usage, 3 config error, 4 plugin error,\n"
		"5 cannot listen. See docs/config.md and docs/operations.md.\n");
}

int main(int argc, char **argv)
{
	struct chatd_server srv;
	char err[1024];
	const char *file = NULL, *port = NULL, *web = NULL, *data = NULL, *plugdir = NULL, *level = NULL;
	int check_only = 0, opt, rc = EXIT_RUNTIME;

	memset(&srv, 0, sizeof srv);
	static const struct option long_opts[] = { { "help", no_argument, NULL, 'h' },
						   { "version", no_argument, NULL, 'V' },
						   { NULL, 0, NULL, 0 } };
	while ((opt = getopt_long(argc, argv, "c:tp:w:D:P:l:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 't': check_only = 1; break;
		case 'p': port = optarg; break;
		case 'w': web = optarg; break;
		case 'D': data = optarg; break;
		case 'P': plugdir = optarg; break;
		case 'l': level = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("chatd %s (plugin ABI %d)\n", PACKAGE_VERSION, CHATD_PLUGIN_ABI); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chatd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (config_defaults(&srv.cfg)) {
		fprintf(stderr, "chatd: out of memory\n");
		return EXIT_RUNTIME;
	}
	if (file && config_load(&srv.cfg, file, err, sizeof err)) {
		fprintf(stderr, "chatd: %s\n", err);
		config_free(&srv.cfg);
		return EXIT_CONFIG;
	}
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (!*port || *end || p < 0 || p > 65535) {
			fprintf(stderr, "chatd: -p: '%s' is not a port number (0-65535)\n", port);
			rc = EXIT_USAGE;
			goto out;
		}
		srv.cfg.port = (int)p;
	}
	if (level) {
		int l = log_level_parse(level);
		if (l < 0) {
			fprintf(stderr, "chatd: -l: '%s' is not one of err, warn, notice, info, debug\n", level);
			rc = EXIT_USAGE;
			goto out;
		}
		srv.cfg.log_level = l;
	}
	if ((web && config_set_str(&srv.cfg.web_root, web)) || (data && config_set_str(&srv.cfg.data_dir, data)) ||
	    (plugdir && config_set_str(&srv.cfg.plugin_dir, plugdir))) {
		fprintf(stderr, "chatd: out of memory\n");
		goto out;
	}
	if (web)
		srv.cfg.web_root_line = -1;
	if (data)
		srv.cfg.data_dir_line = -1;
	srv.cli_fixed = (port ? CLI_FIXED_PORT : 0) | (level ? CLI_FIXED_LOG_LEVEL : 0) | (web ? CLI_FIXED_WEB_ROOT : 0) |
			(data ? CLI_FIXED_DATA_DIR : 0) | (plugdir ? CLI_FIXED_PLUGIN_DIR : 0);
	log_set_level(srv.cfg.log_level);
	/* A web root the config or -w names must exist (-t checks it too); a
	 * missing built-in default is only warned about: chatd still serves
	 * WebSockets, and / answers a 404 that says the web root is missing. */
	int web_ok = paths_check_web_root(&srv.cfg, err, sizeof err);
	if (web_ok < 0) {
		fprintf(stderr, "chatd: %s\n", err);
		rc = EXIT_CONFIG;
		goto out;
	}
	if (web_ok > 0)
		log_warn("%s", err);
	if (server_setup(&srv, check_only, err, sizeof err)) {
		fprintf(stderr, "chatd: %s\n", err);
		rc = EXIT_PLUGIN;
		goto out;
	}
	if (check_only) {
		printf("%s: ok (%d plugin%s)\n", file ? file : "(defaults)", srv.nplugins, srv.nplugins == 1 ? "" : "s");
		rc = EXIT_OK;
		goto out;
	}
	if (server_listen(&srv, err, sizeof err)) {
		fprintf(stderr, "chatd: %s\n", err);
		rc = EXIT_LISTEN;
		goto out;
	}
	rc = server_run(&srv) ? EXIT_RUNTIME : EXIT_OK;
out:
	server_teardown(&srv);
	return rc;
}
