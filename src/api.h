/* The chatd_api table handed to plugins, and the core side of its state. */
#ifndef CHATD_API_H
#define CHATD_API_H

#include "plugins.h"

/* The one API table (immutable). */
extern const struct chatd_api chatd_api_table;

/* Clear / read the error text a plugin reported with api->option_error. */
void api_error_reset(struct chatd_server *srv);
const char *api_error_text(struct chatd_server *srv);
/* Remove every hook, claim, timer and command of lp (before its cleanup;
 * services, posts and fd watchers are plugins_unload_all's). */
void api_forget_plugin(struct chatd_server *srv, struct loaded_plugin *lp);
/* Per-plugin counters of lp for /metrics (borrowed). */

#endif
