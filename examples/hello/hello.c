/*
 * hello: an example chatd plugin, built out of tree against the installed SDK:
 *
 *   cc -shared -fPIC $(pkg-config --cflags chatd-plugin) hello.c -o hello.so
 *
 * It greets every client that joins a room with a system-style frame sent to
 * that client alone, and answers {"type":"hello"} frames with a count of
 * greetings. Options:
 *   greeting = Welcome   (text before the user's name; default "Hello")
 */
#include <chatd/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hello {
	const struct chatd_api *api;
	chatd_plugin *self;
	char greeting[64];
	long greeted;
};

/* CHATD_EV_JOIN: greet the joiner (the welcome frame has already gone out). */
static int hello_on_join(int event_id, void *event, void *userdata)
{
	struct chatd_room_event *ev = event;
	struct hello *h = userdata;
	char text[160];
	(void)event_id;
	snprintf(text, sizeof text, "%s, %s!", h->greeting, h->api->client_name(ev->client));
	chatd_frame *f = h->api->frame_new("system");
	if (!f)
		return CHATD_OK;
	h->api->frame_set_str(f, "event", "hello");
	h->api->frame_set_str(f, "room", h->api->room_name(ev->room));
	h->api->frame_set_str(f, "username", h->api->client_name(ev->client));
	h->api->frame_set_str(f, "message", text);
	h->api->frame_set_int(f, "ts", h->api->now_ms());
	h->api->send(ev->client, f, CHATD_SEND_NORMAL);
	h->api->frame_free(f);
	h->greeted++;
	h->api->counter_add(h->self, "greeted", 1);
	return CHATD_OK;
}

/* {"type":"hello"}: answer {"type":"hello","greeted":N}. */
static int hello_on_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct hello *h = userdata;
	(void)event_id;
	chatd_frame *f = h->api->frame_new("hello");
	if (!f)
		return CHATD_OK;
	h->api->frame_set_int(f, "greeted", h->greeted);
	h->api->send(ev->client, f, CHATD_SEND_NORMAL);
	h->api->frame_free(f);
	return CHATD_CONSUMED;
}

/* Export chatd_plugin_version: accept the core when it speaks the ABI of the
 * <chatd/plugin.h> this file was built with. */
CHATD_PLUGIN_DEFINE_VERSION();

CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct hello *h = calloc(1, sizeof *h);
	if (!h)
		return -1;
	h->api = api;
	h->self = self;
	strcpy(h->greeting, "Hello");
	for (int i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "greeting")) {
			api->option_error(self, &opts[i], "unknown option");
			goto fail;
		}
		if (!opts[i].value[0] || strlen(opts[i].value) >= sizeof h->greeting) {
			api->option_error(self, &opts[i], "must be 1 to 63 bytes");
			goto fail;
		}
		strcpy(h->greeting, opts[i].value);
	}
	if (api->hook_register(self, CHATD_EV_JOIN, hello_on_join, h, CHATD_PRIO_DEFAULT) ||
	    api->claim_type(self, "hello", hello_on_frame, h)) {
		api->log(self, CHATD_LOG_ERR, "cannot register hooks");
		goto fail;
	}
	*userdata = h;
	return 0;
fail:
	free(h);
	return -1;
}

CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
