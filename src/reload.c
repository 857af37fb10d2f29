#include "reload.h"
#include "api.h"
#include "hooks.h"
#include "log.h"
#include "paths.h"
#include "plugins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The [server] keys a reload applies: read on every use, never cached in
 * lws or in a listening socket. */
static const char *const reloadable[] = {
	"log_level", "max_message_bytes", "max_frame_bytes", "max_fragments", "max_bad_frames", "send_queue_bytes",
	"send_queue_soft_bytes", "fragment_timeout", "big_room_members", "web_root", "unlisted_rooms",
	"max_rooms_per_client", "trusted_proxies",
};

static int is_reloadable(const char *key)
{
	for (size_t i = 0; i < sizeof reloadable / sizeof reloadable[0]; i++)
		if (!strcmp(reloadable[i], key))
			return 1;
	return 0;
}

#define SWAP(a, b)                      \
	do {                            \
		__typeof__(a) tmp_ = (a); \
		(a) = (b);              \
		(b) = tmp_;             \
	} while (0)

/* Give cur the value of key from next (pointers are swapped: next frees the old). */
static void apply_key(struct chatd_config *cur, struct chatd_config *next, const char *key)
{
	if (!strcmp(key, "log_level")) {
		cur->log_level = next->log_level;
		log_set_level(cur->log_level);
	} else if (!strcmp(key, "max_message_bytes")) {
		cur->max_message_bytes = next->max_message_bytes;
	} else if (!strcmp(key, "max_frame_bytes")) {
		cur->max_frame_bytes = next->max_frame_bytes;
	} else if (!strcmp(key, "max_fragments")) {
		cur->max_fragments = next->max_fragments;
	} else if (!strcmp(key, "max_bad_frames")) {
		cur->max_bad_frames = next->max_bad_frames;
	} else if (!strcmp(key, "send_queue_bytes")) {
		cur->send_queue_bytes = next->send_queue_bytes;
	} else if (!strcmp(key, "send_queue_soft_bytes")) {
		cur->send_queue_soft_bytes = next->send_queue_soft_bytes;
	} else if (!strcmp(key, "fragment_timeout")) {
		cur->fragment_timeout_s = next->fragment_timeout_s;
	} else if (!strcmp(key, "big_room_members")) {
		cur->big_room_members = next->big_room_members;
	} else if (!strcmp(key, "web_root")) {
		SWAP(cur->web_root, next->web_root);
		cur->web_root_line = next->web_root_line;
	} else if (!strcmp(key, "unlisted_rooms")) {
		SWAP(cur->unlisted_rooms, next->unlisted_rooms);
	} else if (!strcmp(key, "max_rooms_per_client")) {
		cur->max_rooms_per_client = next->max_rooms_per_client;
	} else if (!strcmp(key, "trusted_proxies")) {
		SWAP(cur->trusted_proxies, next->trusted_proxies);
		SWAP(cur->ntrusted_proxies, next->ntrusted_proxies);
	}
}

/* What the command line set stays as it is: copy it into next. 0, -1 on OOM. */
static int keep_cli(const struct chatd_server *srv, struct chatd_config *next)
{
	const struct chatd_config *cur = &srv->cfg;
	if (srv->cli_fixed & CLI_FIXED_PORT)
		next->port = cur->port;
	if (srv->cli_fixed & CLI_FIXED_LOG_LEVEL)
		next->log_level = cur->log_level;
	if (srv->cli_fixed & CLI_FIXED_WEB_ROOT) {
		if (config_set_str(&next->web_root, cur->web_root))
			return -1;
		next->web_root_line = cur->web_root_line;
	}
	if ((srv->cli_fixed & CLI_FIXED_DATA_DIR) && config_set_str(&next->data_dir, cur->data_dir))
		return -1;
	if ((srv->cli_fixed & CLI_FIXED_PLUGIN_DIR) && config_set_str(&next->plugin_dir, cur->plugin_dir))
		return -1;
	return 0;
}

static int same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* Why the plugin sections of a and b cannot be reloaded, NULL when they can. */
static const char *plugins_mismatch(const struct chatd_config *a, const struct chatd_config *b)
{
	if (a->nplugins != b->nplugins)
		return "plugins were added or removed";
	for (int i = 0; i < a->nplugins; i++)
		if (strcmp(a->plugins[i].name, b->plugins[i].name) || !same_str(a->plugins[i].path, b->plugins[i].path))
			return "plugins were renamed, reordered or given another path";
	return NULL;
}

static int same_options(const struct plugin_conf *a, const struct plugin_conf *b)
{
	if (a->nopts != b->nopts)
		return 0;
	for (int i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].key, b->opts[i].key) || strcmp(a->opts[i].value, b->opts[i].value))
			return 0;
	return 1;
}

/* Offer plugin i its options of next. 1 when it took them (swapped into
 * srv->cfg), 0 when it keeps the old ones (logged). */
static int reload_plugin(struct chatd_server *srv, int i, struct plugin_conf *np)
{
	struct loaded_plugin *lp = srv->plugins[i];
	struct plugin_conf *cp = &srv->cfg.plugins[i];
	struct chatd_reload_event ev = { .size = sizeof ev, .opts = np->opts, .nopts = np->nopts };
	int found = 0;
	api_error_reset(srv);
	int res = hooks_dispatch_owner(&srv->hooks, CHATD_EV_RELOAD, lp, &ev, &found);
	if (!found) {
		log_warn("SIGHUP: plugin %s: its options changed, but it does not reload them: restart chatd to "
			 "apply them", cp->name);
		return 0;
	}
	if (res != CHATD_OK) {
		const char *why = api_error_text(srv);
		log_err("SIGHUP: plugin %s refused its new options (%s); it keeps the old ones", cp->name,
			why[0] ? why : "no reason given");
		return 0;
	}
	SWAP(cp->opts, np->opts);
	SWAP(cp->nopts, np->nopts);
	log_notice("SIGHUP: plugin %s took its new options", cp->name);
	return 1;
}

int reload_apply(struct chatd_server *srv, struct chatd_config *next)
{
	char err[1024];
	const char *why;
	int rc = -1;
	if (keep_cli(srv, next)) {
		log_err("SIGHUP: out of memory; the running config is kept");
		goto done;
	}
	if ((why = plugins_mismatch(&srv->cfg, next))) {
		log_err("SIGHUP: %s: plugins are loaded at start only; nothing reloaded (restart chatd for that)", why);
		goto done;
	}
	if (!same_str(srv->cfg.web_root, next->web_root) && paths_check_web_root(next, err, sizeof err) < 0) {
		log_err("SIGHUP: %s; nothing reloaded", err);
		goto done;
	}
	const char *changed[64];
	size_t n = config_server_keys_changed(&srv->cfg, next, changed, sizeof changed / sizeof changed[0]);
	int applied = 0, waiting = 0, plugins = 0;
	for (size_t i = 0; i < n && i < sizeof changed / sizeof changed[0]; i++) {
		if (is_reloadable(changed[i])) {
			apply_key(&srv->cfg, next, changed[i]);
			log_notice("SIGHUP: [server] %s changed", changed[i]);
			applied++;
		} else {
			log_warn("SIGHUP: [server] %s changed: it takes effect when chatd restarts", changed[i]);
			waiting++;
		}
	}
	for (int i = 0; i < srv->nplugins; i++)
		if (!same_options(&srv->cfg.plugins[i], &next->plugins[i]))
			plugins += reload_plugin(srv, i, &next->plugins[i]);
	log_notice("SIGHUP: %s re-read: %d [server] key(s) applied, %d waiting for a restart, %d plugin(s) took "
		   "new options", srv->cfg.file ? srv->cfg.file : "(config)", applied, waiting, plugins);
	rc = 0;
done:
	config_free(next);
	return rc;
}

void reload_config(struct chatd_server *srv)
{
	struct chatd_config next;
	char err[1024];
	if (!srv->cfg.file) {
		log_notice("SIGHUP: chatd runs without a config file (-c): nothing to re-read");
		return;
	}
	if (config_defaults(&next)) {
		log_err("SIGHUP: out of memory; the running config is kept");
		return;
	}
	if (config_load(&next, srv->cfg.file, err, sizeof err)) {
		log_err("SIGHUP: %s; the running config is kept", err);
		config_free(&next);
		return;
	}
	reload_apply(srv, &next);
}
