/* The plugin host: loading shared objects named in the config, version
 * negotiation, init and cleanup. */
#ifndef CHATD_PLUGINS_H
#define CHATD_PLUGINS_H

#include "server.h"

struct plugin_counter {
	char *name;                /* owned */
	int64_t value;
};

/* A loaded plugin; the chatd_plugin handle of the API. */
struct loaded_plugin {
	struct chatd_server *srv;
	const struct plugin_conf *conf; /* borrowed from srv->cfg */
	char *path;                /* owned: the file loaded */
	void *dl;                  /* dlopen handle */
	chatd_plugin_cleanup_fn cleanup;
	void *userdata;
	int slot;                  /* index into client->slots */
	int initialised;
	struct plugin_counter *counters; /* owned */
	int ncounters;
	chatd_hook_fn http_fn;     /* serves /plugins/NAME/ (api->http_route), NULL if not */
	void *http_ud;
};

/* The ABI versions this core speaks. */
extern const int chatd_supported_abis[];
extern const int chatd_supported_abi_count;

/*
 * Load and init every plugin of srv->cfg, in order. On failure writes
 * "FILE:LINE: plugin NAME: reason" to err, unloads what was loaded and
 * returns -1.
 */
int plugins_load_all(struct chatd_server *srv, char *err, size_t errsz);
/* Cleanup and unload every plugin (hooks, claims and timers removed first). */
void plugins_unload_all(struct chatd_server *srv);

#endif
