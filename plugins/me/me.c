/*
 * me: the smallest useful plugin. "/me waves" becomes "* Alice waves".
 * It shows a slash command that changes the message (api->command_register,
 * api->message_set_text) and plugin options:
 *   [plugin me]
 *   prefix = *        (what goes before the name; default "*")
 */
#include <chatd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct me_state {
	const struct chatd_api *api;
	char prefix[16];
};

/* CHATD_EV_COMMAND "/me ACTION": the text becomes "* NAME ACTION" and goes
 * to the room as the sender's message. "/me" alone goes as it is. */
static int me_on_command(int event_id, void *event, void *userdata)
{
	struct chatd_command_event *cev = event;
	struct me_state *st = userdata;
	(void)event_id;
	if (!*cev->args)
		return CHATD_OK;
	const char *name = st->api->client_name(cev->message->client);
	size_t n = strlen(st->prefix) + strlen(name) + strlen(cev->args) + 3;
	char *text = malloc(n);
	if (!text)
		return CHATD_OK;
	snprintf(text, n, "%s %s %s", st->prefix, name, cev->args);
	if (st->api->message_set_text(cev->message, text) == CHATD_TEXT_TOO_LARGE) {
		free(text);
		cev->message->error_code = "too_large";
		cev->message->error_message = "with your name in front, the action is over the message size limit";
		return CHATD_DENY;
	}
	free(text);
	return CHATD_OK;
}

CHATD_PLUGIN_DEFINE_VERSION();

CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct me_state *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	st->api = api;
	strcpy(st->prefix, "*");
	for (int i = 0; i < nopts; i++) {
		if (!strcmp(opts[i].key, "prefix")) {
			if (!opts[i].value[0] || strlen(opts[i].value) >= sizeof st->prefix) {
				api->option_error(self, &opts[i], "must be 1 to 15 bytes");
				goto fail;
			}
			strcpy(st->prefix, opts[i].value);
		} else {
			api->option_error(self, &opts[i], "unknown option");
			goto fail;
		}
	}
	if (!CHATD_API_HAS(api, command_register)) {
		api->option_error(self, NULL, "this chatd is older than the plugin (no command_register)");
		goto fail;
	}
	if (api->command_register(self, "me", "/me ACTION", "say what you are doing: /me waves shows * NAME waves",
				  me_on_command, st, CHATD_PRIO_DEFAULT))
		goto fail;
	*userdata = st;
	return 0;
fail:
	free(st);
	return -1;
}

CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
