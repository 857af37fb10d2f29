/* The config file: an INI-style format with a [server] section and one
 * [plugin NAME] section per plugin, in load order. See docs/config.md. */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stddef.h>
#include "chatd/plugin.h"

struct proxy_net;

/* The built-in paths (no -c, no flag): where `make install` puts chatd's files.
 * Makefile.am passes them from the configured prefix; a build without them
 * (tests/fuzz/run.sh) falls back to paths relative to the current directory. */
#ifndef CHATD_DEFAULT_WEB_ROOT
#define CHATD_DEFAULT_WEB_ROOT "web"
#endif
#ifndef CHATD_DEFAULT_DATA_DIR
#define CHATD_DEFAULT_DATA_DIR "data"
#endif
#ifndef CHATD_DEFAULT_PLUGIN_DIR
#define CHATD_DEFAULT_PLUGIN_DIR "plugins"
#endif
/* where `make install` puts the config (told in chatd -h) */
#ifndef CHATD_INSTALLED_CONFIG
#define CHATD_INSTALLED_CONFIG "etc/chatd.conf"
#endif

struct plugin_conf {
	char *name;                /* owned: the NAME of [plugin NAME] */
	char *path;                /* owned: from "path =", NULL for the default */
	int line;                  /* line of the section header */
	struct chatd_option *opts; /* owned array; keys/values owned */
	int nopts;
};

struct chatd_config {
	char *file;                /* owned: the file as given, NULL for defaults only */
	int port;
	char *bind;                /* owned: listen address, NULL = all */
	char *web_root;            /* owned, resolved against the file's directory */
	char *data_dir;            /* owned, resolved likewise */
	char *plugin_dir;          /* owned, resolved likewise */
	int log_level;
	size_t max_message_bytes;  /* text bigger than this: error too_large */
	size_t max_frame_bytes;    /* a WebSocket message bigger than this: close 1009 */
	int max_fragments;         /* more fragments in one message: close 1008 */
	size_t send_queue_bytes;   /* hard per-client queue limit: close 1013 */
	size_t send_queue_soft_bytes; /* droppable frames are dropped above this */
	int max_bad_frames;        /* consecutive refused frames before close 1008 */
	int handshake_timeout_s;
	int fragment_timeout_s;    /* a message still incomplete after this: close 1008 */
	int ping_interval_s;       /* 0 = off */
	int rx_buffer_size;
	int max_connections;       /* process-wide socket cap (fd limit based) */
	int big_room_members;      /* at or above: presence is coalesced */
	int presence_interval_ms;  /* summary period in big rooms */
	int io_uring;              /* batch the fan-out's sends through io_uring when available */
	int max_rooms_per_client;  /* rooms one multi-room connection may be in at once */
	char *unlisted_rooms;      /* owned: globs (space-separated, lower case) of rooms the
				    * rooms list hides; NULL = none */
	struct proxy_net *trusted_proxies; /* owned array: peers whose X-Forwarded-For / Forwarded is believed */
	size_t ntrusted_proxies;
	int web_root_line;         /* config line that set web_root: 0 = built-in default, -1 = -w */
	int data_dir_line;         /* likewise for data_dir (-1 = -D) */
	int presence_grace_ms;     /* a closing session's name stays this long (0 = off) */
	int reuse_port;            /* SO_REUSEPORT: several processes share the port */
	struct plugin_conf *plugins; /* owned array, in file order */
	int nplugins;
};

/* Fill cfg with the built-in defaults (no file). Returns 0, -1 on OOM. */
int config_defaults(struct chatd_config *cfg);

/*
 * Parse FILE into cfg (which config_defaults has filled). Relative paths in
 * the file are resolved against the file's directory. On error returns -1
 * and writes "FILE:LINE: key 'KEY': reason" into err.
 */
int config_load(struct chatd_config *cfg, const char *file, char *err, size_t errsz);

/* Parse text (a whole config) as if read from `name`; for tests and fuzzing. */
int config_parse(struct chatd_config *cfg, const char *name, const char *text, size_t len,
		 const char *base_dir, char *err, size_t errsz);

/* Replace a string field (steals nothing; copies value). Returns 0 or -1. */
int config_set_str(char **field, const char *value);

/*
 * Where the value of path key `key` came from, for messages (into out):
 * "FILE:LINE: key 'KEY'" when the config set it on line > 0, flag (e.g.
 * "-w") when line < 0, else "the built-in default of 'KEY' (...)".
 */
void config_origin(const struct chatd_config *cfg, const char *key, int line, const char *flag, char *out, size_t outsz);

/* The [server] keys whose values differ between a and b: up to max names
 * (static strings) into out, in the table's order; returns how many differ. */
size_t config_server_keys_changed(const struct chatd_config *a, const struct chatd_config *b, const char **out,
				  size_t max);

/* Free everything cfg owns. */
void config_free(struct chatd_config *cfg);

#endif
