/* Slash commands plugins register (api->command_register): dispatched from
 * the MESSAGE hooks at the command's priority, advertised in `welcome`. */
#ifndef CHATD_COMMANDS_H
#define CHATD_COMMANDS_H

#include <jansson.h>
#include "server.h"

struct loaded_plugin;

/* The plugin API's command_register (see chatd/plugin.h). */
int commands_register(chatd_plugin *self, const char *name, const char *usage, const char *help, chatd_hook_fn fn,
		      void *userdata, int priority);
/* Forget every command of lp (its MESSAGE hooks are removed with its hooks). */
void commands_forget(struct chatd_server *srv, struct loaded_plugin *lp);
/* Free every command (shutdown). */
void commands_free(struct chatd_server *srv);
/* Add "commands":[{"name","usage","help"},...] (sorted by name) to the
 * welcome object o when any command is registered. */
void commands_advertise(struct chatd_server *srv, json_t *o);

#endif
