/*
 * Test plugin for the issue 17 ABI (events 30-35 and their api members): it
 * plays "the other nodes" so the core's side can be tested without Redis.
 * Driven by the claimed frame {"type":"nodeprobe","op":...}:
 *   {"op":"deliver","id":N,"username":U,"text":T}  api->room_deliver to the room of the frame,
 *                                                  the next routed message's sender/client_id with it
 *   {"op":"release_join","ok":0|1}                 answer the oldest held join
 *   {"op":"release_name","index":I}                answer the oldest held name claim (-1: none)
 *   {"op":"remote","change":C,"name":N,"old":O}    api->room_remote on the frame's room
 *   {"op":"raise","id":N}                          api->room_raise_last_id
 *   {"op":"parse","json":J}                        api->frame_parse, sent back to the client
 * Options: route = yes (take every room message over: CHATD_EV_ROUTE),
 * hold_joins = ROOM (hold joins of ROOM), hold_names = yes (hold every claim).
 * Counters: route, joining, name_claim, name_release, presence_enter,
 * presence_leave, presence_rename, broadcast, store, plus "last_*" values.
 */
#include <chatd/plugin.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HELD 16

struct nodeprobe {
	const struct chatd_api *api;
	chatd_plugin *self;
	int route, hold_names;
	char hold_room[65];
	chatd_pending *joins[MAX_HELD], *names[MAX_HELD];
	int njoins, nnames;
	chatd_client *routed_sender; /* the last routed message's */
	char routed_client_id[65];
	char last_claim[8][64];      /* the first candidates of the last claim */
	char last_presence[128];
	char last_broadcast[512];
};

static int on_route(int id, void *event, void *ud)
{
	struct chatd_route_event *ev = event;
	struct nodeprobe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "route", 1);
	if (!p->route)
		return CHATD_OK;
	if (!strcmp(ev->text, "refuse")) {
		ev->error_code = "probe_refused";
		ev->error_message = "the probe refused it";
		ev->retry_after_ms = 77;
		return CHATD_DENY;
	}
	p->routed_sender = ev->client;
	snprintf(p->routed_client_id, sizeof p->routed_client_id, "%s", ev->client_id ? ev->client_id : "");
	return CHATD_CONSUMED;
}

static int on_joining(int id, void *event, void *ud)
{
	struct chatd_joining_event *ev = event;
	struct nodeprobe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "joining", 1);
	if (strcmp(p->api->room_name(ev->room), p->hold_room) || p->njoins == MAX_HELD)
		return CHATD_OK;
	p->joins[p->njoins++] = p->api->pending_keep(ev->pending);
	return CHATD_HOLD;
}

static int on_name_claim(int id, void *event, void *ud)
{
	struct chatd_name_claim_event *ev = event;
	struct nodeprobe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "name_claim", 1);
	for (int i = 0; i < 8; i++)
		snprintf(p->last_claim[i], sizeof p->last_claim[i], "%s", i < ev->count ? ev->names[i] : "");
	p->api->counter_add(p->self, "claim_candidates", ev->count);
	if (!p->hold_names || p->nnames == MAX_HELD)
		return CHATD_OK;
	p->names[p->nnames++] = p->api->pending_keep(ev->pending);
	return CHATD_HOLD;
}

static int on_notify(int id, void *event, void *ud)
{
	struct nodeprobe *p = ud;
	if (id == CHATD_EV_PRESENCE) {
		struct chatd_presence_event *ev = event;
		static const char *const kinds[] = { "", "presence_enter", "presence_leave", "presence_rename" };
		if (ev->change >= 1 && ev->change <= 3)
			p->api->counter_add(p->self, kinds[ev->change], 1);
		snprintf(p->last_presence, sizeof p->last_presence, "%d %s %s %s %s %s", ev->change,
			 p->api->room_name(ev->room), ev->name, ev->fold, ev->old_name ? ev->old_name : "-",
			 ev->old_fold ? ev->old_fold : "-");
	} else if (id == CHATD_EV_BROADCAST) {
		struct chatd_broadcast_event *ev = event;
		p->api->counter_add(p->self, "broadcast", 1);
		snprintf(p->last_broadcast, sizeof p->last_broadcast, "%.*s", (int)ev->len, ev->json);
	} else if (id == CHATD_EV_NAME_RELEASE) {
		p->api->counter_add(p->self, "name_release", 1);
	} else if (id == CHATD_EV_STORE) {
		p->api->counter_add(p->self, "store", 1);
	}
	return CHATD_OK;
}

static void reply(struct nodeprobe *p, chatd_client *c, const char *key, const char *value)
{
	chatd_frame *f = p->api->frame_new("nodeprobe");
	p->api->frame_set_str(f, key, value);
	p->api->send(c, f, CHATD_SEND_NORMAL);
	p->api->frame_free(f);
}

static int on_frame(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	struct nodeprobe *p = ud;
	const struct chatd_api *api = p->api;
	const char *op = "", *name = NULL, *old = NULL, *s = NULL;
	int64_t n = 0;
	(void)id;
	api->frame_get_str(ev->json, "op", &op);
	if (!strcmp(op, "deliver")) {
		const char *user = "", *text = "";
		api->frame_get_int(ev->json, "id", &n);
		api->frame_get_str(ev->json, "username", &user);
		api->frame_get_str(ev->json, "text", &text);
		struct chatd_delivery d = { .size = sizeof d, .id = n, .ts = 1234, .username = user,
					    .username_len = strlen(user), .text = text, .text_len = strlen(text),
					    .sender = p->routed_sender,
					    .client_id = p->routed_client_id[0] ? p->routed_client_id : NULL };
		api->room_deliver(ev->room, &d);
		p->routed_sender = NULL;
	} else if (!strcmp(op, "release_join") && p->njoins) {
		api->frame_get_int(ev->json, "ok", &n);
		chatd_pending *h = p->joins[0];
		memmove(p->joins, p->joins + 1, (size_t)--p->njoins * sizeof *p->joins);
		int live = api->pending_release(h, (int)n, "probe_no", "the probe refused the join", 55);
		reply(p, ev->client, "released", live ? "live" : "gone");
	} else if (!strcmp(op, "release_name") && p->nnames) {
		api->frame_get_int(ev->json, "index", &n);
		chatd_pending *h = p->names[0];
		memmove(p->names, p->names + 1, (size_t)--p->nnames * sizeof *p->names);
		int live = api->pending_release(h, (int)n, "probe_no_name", "the probe gave no name", 66);
		reply(p, ev->client, "released", live ? "live" : "gone");
	} else if (!strcmp(op, "remote")) {
		api->frame_get_int(ev->json, "change", &n);
		api->frame_get_str(ev->json, "name", &name);
		api->frame_get_str(ev->json, "old", &old);
		int rc = api->room_remote(p->self, ev->room, (int)n, name, old);
		reply(p, ev->client, "remote", rc ? "failed" : "ok");
	} else if (!strcmp(op, "raise")) {
		api->frame_get_int(ev->json, "id", &n);
		api->room_raise_last_id(ev->room, n);
	} else if (!strcmp(op, "parse")) {
		api->frame_get_str(ev->json, "json", &s);
		chatd_frame *f = s ? api->frame_parse(s, strlen(s)) : NULL;
		if (f) {
			api->send(ev->client, f, CHATD_SEND_NORMAL);
			api->frame_free(f);
		} else {
			reply(p, ev->client, "parse", "refused");
		}
	} else if (!strcmp(op, "state")) {
		chatd_frame *f = api->frame_new("nodeprobe");
		api->frame_set_str(f, "presence", p->last_presence);
		api->frame_set_str(f, "broadcast", p->last_broadcast);
		for (int i = 0; i < 8; i++) {
			char key[16];
			snprintf(key, sizeof key, "claim%d", i);
			api->frame_set_str(f, key, p->last_claim[i]);
		}
		char fold[300];
		api->name_fold("\xd0\x90LICE", fold, sizeof fold); /* Cyrillic A */
		api->frame_set_str(f, "fold", fold);
		chatd_room *r = api->room_find(p->self, "GENERAL");
		api->frame_set_str(f, "found", r ? api->room_name(r) : "");
		api->send(ev->client, f, CHATD_SEND_NORMAL);
		api->frame_free(f);
	}
	return CHATD_CONSUMED;
}

CHATD_PLUGIN_DEFINE_VERSION();

CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts,
				   int nopts, void **userdata)
{
	if (!CHATD_API_HAS(api, name_fold)) {
		api->option_error(self, NULL, "this core lacks the issue 17 members");
		return -1;
	}
	struct nodeprobe *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->api = api;
	p->self = self;
	for (int i = 0; i < nopts; i++) {
		if (!strcmp(opts[i].key, "route"))
			p->route = !strcmp(opts[i].value, "yes");
		else if (!strcmp(opts[i].key, "hold_joins"))
			snprintf(p->hold_room, sizeof p->hold_room, "%s", opts[i].value);
		else if (!strcmp(opts[i].key, "hold_names"))
			p->hold_names = !strcmp(opts[i].value, "yes");
	}
	static const int notify[] = { CHATD_EV_PRESENCE, CHATD_EV_BROADCAST, CHATD_EV_NAME_RELEASE, CHATD_EV_STORE };
	for (size_t i = 0; i < sizeof notify / sizeof notify[0]; i++)
		if (api->hook_register(self, notify[i], on_notify, p, CHATD_PRIO_DEFAULT))
			goto fail;
	if (api->hook_register(self, CHATD_EV_ROUTE, on_route, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_JOINING, on_joining, p, CHATD_PRIO_DEFAULT) ||
	    api->hook_register(self, CHATD_EV_NAME_CLAIM, on_name_claim, p, CHATD_PRIO_DEFAULT) ||
	    api->claim_type(self, "nodeprobe", on_frame, p))
		goto fail;
	*userdata = p;
	return 0;
fail:
	free(p);
	return -1;
}

CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	struct nodeprobe *p = userdata;
	for (int i = 0; i < p->njoins; i++)
		p->api->pending_release(p->joins[i], 0, NULL, NULL, 0);
	for (int i = 0; i < p->nnames; i++)
		p->api->pending_release(p->names[i], -1, NULL, NULL, 0);
	free(p);
}
