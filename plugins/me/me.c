/*
 * me: the smallest useful plugin. "/me waves" becomes "* Alice waves".
 * It shows the MESSAGE hook (modify) and plugin options:
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

static int me_on_message(int event_id, void *event, void *userdata)
{
	struct chatd_message_event *ev = event;
	struct me_state *st = userdata;
	(void)event_id;
	if (ev->text_len < 4 || strncmp(ev->text, "/me ", 4))
		return CHATD_OK;
	const char *action = ev->text + 4;
	while (*action == ' ')
		action++;
	if (!*action)
		return CHATD_OK;
	const char *name = st->api->client_name(ev->client);
	size_t n = strlen(st->prefix) + strlen(name) + strlen(action) + 3;
	char *text = malloc(n);
	if (!text)
		return CHATD_OK;
	snprintf(text, n, "%s %s %s", st->prefix, name, action);
	st->api->message_set_text(ev, text);
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
	if (api->hook_register(self, CHATD_EV_MESSAGE, me_on_message, st, CHATD_PRIO_DEFAULT))
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
