/* SIGHUP: re-read the config file and apply what is safe while chatd runs
 * (docs/operations.md): some [server] keys, and each plugin's options
 * through CHATD_EV_RELOAD. Everything else waits for a restart, and says so. */
#ifndef CHATD_RELOAD_H
#define CHATD_RELOAD_H

#include "server.h"

/* Flags of srv->cli_fixed: keys the command line set, which a reload keeps. */
#define CLI_FIXED_PORT 1
#define CLI_FIXED_LOG_LEVEL 2
#define CLI_FIXED_WEB_ROOT 4
#define CLI_FIXED_DATA_DIR 8
#define CLI_FIXED_PLUGIN_DIR 16

/* Re-read srv->cfg.file and apply it (reload_apply); every outcome is logged. */
void reload_config(struct chatd_server *srv);

/*
 * Apply next (steals it: freed here), a config parsed from the same file.
 * Refused as a whole (0 applied, logged) when the plugin sections differ in
 * name, path or order, or the web root is missing. Otherwise the reloadable
 * [server] keys take the new values, others that changed are logged as
 * waiting for a restart, and every plugin whose options changed gets
 * CHATD_EV_RELOAD (it may refuse: it keeps the old ones). Returns 0, or -1
 * when refused as a whole.
 */
int reload_apply(struct chatd_server *srv, struct chatd_config *next);

#endif
