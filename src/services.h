/* The service registry: one plugin offers a named, versioned table of
 * functions; others find it by name (RTLD_LOCAL keeps plugins from seeing
 * each other's symbols). */
#ifndef CHATD_SERVICES_H
#define CHATD_SERVICES_H

#include "server.h"

struct loaded_plugin;

/* The plugin API's service_register / service_get (see chatd/plugin.h). */
int services_register(chatd_plugin *self, const char *name, int version, const void *table);
const void *services_get(chatd_plugin *self, const char *name, int min_version, int *version);
/* Withdraw every service lp offers (before its cleanup). */
void services_forget(struct chatd_server *srv, struct loaded_plugin *lp);

#endif
