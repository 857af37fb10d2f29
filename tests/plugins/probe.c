/*
 * Test plugin exercising the API from the core's unit tests:
 * - options: hold = 0|1 (hold STORE until LOOP_IDLE), deny_address = IP (CONNECT -> 429),
 *   fail_store = 0|1 (release held messages as failed)
 * - claims frame type "probe": answers {"type":"probe","name":..,"room":..,"n":..,"items":[{"type":"item","i":0},..]}
 * - MESSAGE: text "deny" is refused with code "probe_denied" (retry 1234), "eat" is consumed,
 *   "upper" is replaced by "UPPER"
 * - counts every event it sees in counters named after the event; with the
 *   issue 16 members (api->client_in_room, client_rooms): "leave_member" for
 *   a LEAVE while the client is still in the room, "disconnect_roomless" for
 *   a DISCONNECT of a client in no room; the probe answer lists "rooms",
 *   and "person_clients" and "session" (api->client_person_clients, client_session)
 * - PRIVATE (at the default priority, a filter's place): text "deny" is refused with
 *   "probe_denied", "upper" becomes "UPPER", "eat" is consumed
 */
#include <chatd/plugin.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HELD 64

struct probe {
	const struct chatd_api *api;
	chatd_plugin *self;
	int hold, fail_store;
	char deny_address[64];
	chatd_held *held[MAX_HELD];
	int nheld;
};

static int on_connect(int id, void *event, void *ud)
{
	struct chatd_connect_event *ev = event;
	struct probe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "connect", 1);
	if (p->deny_address[0] && !strcmp(ev->address, p->deny_address)) {
		ev->http_status = 429;
		ev->reason = "probe says no";
		return CHATD_DENY;
	}
	return CHATD_OK;
}

static int on_message(int id, void *event, void *ud)
{
	struct chatd_message_event *ev = event;
	struct probe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "message", 1);
	if (!strcmp(ev->text, "deny")) {
		ev->error_code = "probe_denied";
		ev->error_message = "the probe denied it";
		ev->retry_after_ms = 1234;
		return CHATD_DENY;
	}
	if (!strcmp(ev->text, "eat"))
		return CHATD_CONSUMED;
	if (!strcmp(ev->text, "upper"))
		p->api->message_set_text(ev, "UPPER");
	return CHATD_OK;
}

static int on_store(int id, void *event, void *ud)
{
	struct chatd_store_event *ev = event;
	struct probe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "store", 1);
	if (!p->hold || p->nheld == MAX_HELD)
		return CHATD_OK;
	p->held[p->nheld++] = p->api->hold_keep(ev->held);
	return CHATD_HOLD;
}

static int on_idle(int id, void *event, void *ud)
{
	struct probe *p = ud;
	(void)id, (void)event;
	for (int i = 0; i < p->nheld; i++)
		p->api->hold_release(p->held[i], !p->fail_store);
	p->nheld = 0;
	return CHATD_OK;
}

/* Whether the core has the issue 16 members. */
static int has_rooms_api(const struct chatd_api *api)
{
	return api->size >= offsetof(struct chatd_api, client_rooms) + sizeof api->client_rooms;
}

static int on_notify(int id, void *event, void *ud)
{
	struct probe *p = ud;
	static const char *const names[] = { "", "", "join", "", "leave", "disconnect", "tick", "", "", "", "room_create", "rename" };
	if (id > 0 && id < (int)(sizeof names / sizeof names[0]) && names[id][0])
		p->api->counter_add(p->self, names[id], 1);
	if (id == CHATD_EV_LEAVE && has_rooms_api(p->api)) {
		struct chatd_room_event *ev = event;
		if (p->api->client_in_room(ev->client, ev->room))
			p->api->counter_add(p->self, "leave_member", 1);
	}
	if (id == CHATD_EV_DISCONNECT && has_rooms_api(p->api)) {
		struct chatd_plain_event *ev = event;
		if (!p->api->client_rooms(ev->client, NULL, 0) && !p->api->client_room(ev->client))
			p->api->counter_add(p->self, "disconnect_roomless", 1);
	}
	return CHATD_OK;
}

static int on_private(int id, void *event, void *ud)
{
	struct chatd_private_event *ev = event;
	struct probe *p = ud;
	(void)id;
	p->api->counter_add(p->self, "private", 1);
	if (!strcmp(ev->text, "deny")) {
		ev->error_code = "probe_denied";
		ev->error_message = "the probe denied a private message";
		return CHATD_DENY;
	}
	if (!strcmp(ev->text, "eat"))
		return CHATD_CONSUMED;
	if (!strcmp(ev->text, "upper") && p->api->private_set_text(ev, "UPPER") != CHATD_TEXT_OK)
		p->api->counter_add(p->self, "private_set_text_failed", 1);
	if (!strcmp(ev->text, "empty") && p->api->private_set_text(ev, "  ") == CHATD_TEXT_EMPTY)
		p->api->counter_add(p->self, "private_empty_refused", 1);
	return CHATD_OK;
}

static int on_probe(int id, void *event, void *ud)
{
	struct chatd_frame_event *ev = event;
	struct probe *p = ud;
	int64_t n = 0;
	(void)id;
	if (p->api->frame_get_int(ev->json, "n", &n) < 0) {
		ev->error_code = "bad_request";
		ev->error_message = "'n' must be an integer";
		return CHATD_DENY;
	}
	chatd_frame *f = p->api->frame_new("probe");
	p->api->frame_set_str(f, "name", p->api->client_name(ev->client));
	p->api->frame_set_str(f, "room", ev->room ? p->api->room_name(ev->room) : NULL);
	if (p->api->size >= offsetof(struct chatd_api, client_person_clients) + sizeof p->api->client_person_clients) {
		chatd_client *tabs[4];
		p->api->frame_set_int(f, "person_clients", (int64_t)p->api->client_person_clients(ev->client, tabs, 4));
		p->api->frame_set_str(f, "session", p->api->client_session(ev->client));
	}
	if (has_rooms_api(p->api)) {
		chatd_room *rooms[8];
		size_t n = p->api->client_rooms(ev->client, rooms, 8);
		p->api->frame_push(f, "rooms", NULL);
		for (size_t i = 0; i < n && i < 8; i++) {
			chatd_frame *r = p->api->frame_new("room");
			p->api->frame_set_str(r, "name", p->api->room_name(rooms[i]));
			p->api->frame_set_bool(r, "in", p->api->client_in_room(ev->client, rooms[i]));
			p->api->frame_push(f, "rooms", r);
		}
	}
	p->api->frame_set_int(f, "n", n);
	p->api->frame_set_bool(f, "ok", 1);
	for (int64_t i = 0; i < n && i < 10; i++) {
		chatd_frame *item = p->api->frame_new("item");
		p->api->frame_set_int(item, "i", i);
		p->api->frame_push(f, "items", item);
	}
	p->api->send(ev->client, f, CHATD_SEND_NORMAL);
	p->api->frame_free(f);
	return CHATD_CONSUMED;
}

CHATD_PLUGIN_DEFINE_VERSION();

CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct probe *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	p->api = api;
	p->self = self;
	for (int i = 0; i < nopts; i++) {
		if (!strcmp(opts[i].key, "hold"))
			p->hold = atoi(opts[i].value);
		else if (!strcmp(opts[i].key, "fail_store"))
			p->fail_store = atoi(opts[i].value);
		else if (!strcmp(opts[i].key, "deny_address") && strlen(opts[i].value) < sizeof p->deny_address)
			strcpy(p->deny_address, opts[i].value);
		else {
			api->option_error(self, &opts[i], "unknown option");
			free(p);
			return -1;
		}
	}
	api->hook_register(self, CHATD_EV_CONNECT, on_connect, p, CHATD_PRIO_EARLY);
	api->hook_register(self, CHATD_EV_MESSAGE, on_message, p, CHATD_PRIO_DEFAULT);
	api->hook_register(self, CHATD_EV_STORE, on_store, p, CHATD_PRIO_DEFAULT);
	api->hook_register(self, CHATD_EV_LOOP_IDLE, on_idle, p, CHATD_PRIO_DEFAULT);
	if (CHATD_API_HAS(api, private_set_text))
		api->hook_register(self, CHATD_EV_PRIVATE, on_private, p, CHATD_PRIO_DEFAULT);
	int notify[] = { CHATD_EV_JOIN, CHATD_EV_LEAVE, CHATD_EV_DISCONNECT, CHATD_EV_TICK, CHATD_EV_ROOM_CREATE, CHATD_EV_RENAME };
	for (size_t i = 0; i < sizeof notify / sizeof notify[0]; i++)
		api->hook_register(self, notify[i], on_notify, p, CHATD_PRIO_LATE);
	if (api->claim_type(self, "probe", on_probe, p)) {
		free(p);
		return -1;
	}
	*userdata = p;
	return 0;
}

CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
