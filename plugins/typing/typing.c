/*
 * typing: typing indicators.
 *
 * {"type":"typing"} from a client becomes
 *   {"type":"typing","room":"general","username":"Alice"}
 * to the other members of its room (droppable: a full queue drops it first).
 * A connection may be in several rooms: the frame's "room" (resolved by the
 * core), else its current room; everything below holds per connection and
 * room. At most one fan-out per throttle_ms; typing frames inside the
 * window are absorbed silently (counter "throttled"). A message, leaving the
 * room (leave, switch or disconnect) or a rename (in every room of the
 * connection) ends the indicator: the next typing frame fans out at once,
 * and when the client typed within the last 3 s the others get the same
 * frame with "stopped":true (an extension; see docs/plugins/typing.md).
 *
 *   [plugin typing]
 *   throttle_ms = 1000     (100 to 60000)
 *
 * Counters: "sent" (indicators fanned out), "throttled" (absorbed),
 * "stopped" (stop notices fanned out).
 */
#include <chatd/plugin.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define THROTTLE_DEFAULT_MS 1000
#define THROTTLE_MIN_MS 100
#define THROTTLE_MAX_MS 60000
/* How long clients show an indicator without a repeat (PROTOCOL.md). */
#define TYPING_VISIBLE_MS 3000
/* Between the rate limiter (CHATD_PRIO_EARLY) and privmsg (EARLY + 10): a
 * private message ends the indicator too, a rate-limited message does not. */
#define TYPING_MESSAGE_PRIO (CHATD_PRIO_EARLY + 5)

struct typing_plugin {
	chatd_plugin *self;
	const struct chatd_api *api;
	int64_t throttle_ms;
};

/* The state of one connection in one room where it typed. */
struct typing_room {
	chatd_room *room;   /* borrowed: valid while the client is in it (dropped at LEAVE) */
	int window_open;    /* a fan-out happened and the throttle window runs */
	int64_t fanout_ms;  /* when that fan-out happened */
	int typed;          /* a typing frame came since the indicator last ended */
	int64_t typed_ms;   /* when the last one came (fanned out or absorbed) */
};

/* Per-client state, in the client's slot: the rooms it typed in (few; found
 * by a scan). Freed on CHATD_EV_DISCONNECT. */
struct typing_client {
	struct typing_room *v;
	size_t n, cap;
};

/* 1 when `since` lies less than `window` ms before `now`. A clock that went
 * backwards (now_ms is wall-clock time) counts as outside the window. */
static int within(int64_t now, int64_t since, int64_t window)
{
	int64_t elapsed = now - since;
	return elapsed >= 0 && elapsed < window;
}

/* The client's state, or NULL when it never typed. */
static struct typing_client *client_state(struct typing_plugin *tp, chatd_client *c)
{
	return *tp->api->client_slot(tp->self, c);
}

/* The client's state in room, or NULL when it did not type there. */
static struct typing_room *room_state(struct typing_plugin *tp, chatd_client *c, const chatd_room *room)
{
	struct typing_client *tc = client_state(tp, c);
	for (size_t i = 0; tc && i < tc->n; i++)
		if (tc->v[i].room == room)
			return &tc->v[i];
	return NULL;
}

/* The client's state in room, created on first use; NULL when out of memory. */
static struct typing_room *room_state_get(struct typing_plugin *tp, chatd_client *c, chatd_room *room)
{
	struct typing_room *tr = room_state(tp, c, room);
	if (tr)
		return tr;
	void **slot = tp->api->client_slot(tp->self, c);
	struct typing_client *tc = *slot;
	if (!tc && !(tc = *slot = calloc(1, sizeof *tc)))
		return NULL;
	if (tc->n == tc->cap) {
		size_t ncap = tc->cap ? tc->cap * 2 : 2;
		struct typing_room *nv = realloc(tc->v, ncap * sizeof *nv);
		if (!nv)
			return NULL;
		tc->v = nv;
		tc->cap = ncap;
	}
	tr = &tc->v[tc->n++];
	memset(tr, 0, sizeof *tr);
	tr->room = room;
	return tr;
}

/* Forget the client's state in room (it leaves the room). */
static void room_state_drop(struct typing_plugin *tp, chatd_client *c, const chatd_room *room)
{
	struct typing_client *tc = client_state(tp, c);
	struct typing_room *tr = room_state(tp, c, room);
	if (tr)
		*tr = tc->v[--tc->n];
}

/* Send {"type":"typing","room":..,"username":..[,"stopped":true]} to every
 * member of room but `who`. */
static void fan_out(struct typing_plugin *tp, chatd_room *room, chatd_client *who, const char *username,
		    int stopped)
{
	const struct chatd_api *api = tp->api;
	chatd_frame *f = api->frame_new("typing");
	if (!f)
		return;
	api->frame_set_str(f, "room", api->room_name(room));
	api->frame_set_str(f, "username", username);
	if (stopped)
		api->frame_set_bool(f, "stopped", 1);
	api->broadcast(room, f, who, CHATD_SEND_DROPPABLE);
	api->frame_free(f);
	api->counter_add(tp->self, stopped ? "stopped" : "sent", 1);
}

/* End c's indicator in tr's room: tell the others (under `username`) when c
 * typed there in the last TYPING_VISIBLE_MS, and reset the throttle. */
static void end_typing(struct typing_plugin *tp, chatd_client *c, struct typing_room *tr, const char *username)
{
	if (!tr)
		return;
	if (tr->typed && within(tp->api->now_ms(), tr->typed_ms, TYPING_VISIBLE_MS))
		fan_out(tp, tr->room, c, username, 1);
	tr->typed = 0;
	tr->window_open = 0;
}

/* CHATD_EV_FRAME "typing": fan out, or absorb inside the throttle window. */
static int on_typing_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	if (!ev->room)
		return CHATD_CONSUMED;
	struct typing_room *tr = room_state_get(tp, ev->client, ev->room);
	if (!tr) {
		ev->error_code = "internal";
		ev->error_message = "out of memory";
		return CHATD_DENY;
	}
	int64_t now = tp->api->now_ms();
	tr->typed = 1;
	tr->typed_ms = now;
	if (tr->window_open && within(now, tr->fanout_ms, tp->throttle_ms)) {
		tp->api->counter_add(tp->self, "throttled", 1);
		return CHATD_CONSUMED;
	}
	tr->window_open = 1;
	tr->fanout_ms = now;
	fan_out(tp, ev->room, ev->client, tp->api->client_name(ev->client), 0);
	return CHATD_CONSUMED;
}

/* CHATD_EV_MESSAGE (notify-style): the sender stopped typing in that room. */
static int on_message(int event_id, void *event, void *userdata)
{
	struct chatd_message_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	end_typing(tp, ev->client, room_state(tp, ev->client, ev->room), tp->api->client_name(ev->client));
	return CHATD_OK;
}

/* CHATD_EV_LEAVE: the client leaves ev->room (still a member during the hook). */
static int on_leave(int event_id, void *event, void *userdata)
{
	struct chatd_room_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	end_typing(tp, ev->client, room_state(tp, ev->client, ev->room), tp->api->client_name(ev->client));
	room_state_drop(tp, ev->client, ev->room);
	return CHATD_OK;
}

/* CHATD_EV_RENAME: the indicator under the old name ends in every room the
 * client typed in; the next typing frame announces the new name at once. */
static int on_rename(int event_id, void *event, void *userdata)
{
	struct chatd_rename_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	struct typing_client *tc = client_state(tp, ev->client);
	for (size_t i = 0; tc && i < tc->n; i++)
		end_typing(tp, ev->client, &tc->v[i], ev->old_name);
	return CHATD_OK;
}

/* CHATD_EV_DISCONNECT: free the client's state. */
static int on_disconnect(int event_id, void *event, void *userdata)
{
	struct chatd_plain_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	void **slot = tp->api->client_slot(tp->self, ev->client);
	struct typing_client *tc = *slot;
	if (tc)
		free(tc->v);
	free(tc);
	*slot = NULL;
	return CHATD_OK;
}

/* Parse a decimal integer in [min, max]; 0 on success, -1 otherwise. */
static int parse_int_range(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Apply the options of the [plugin typing] section; 0 on success. */
static int apply_options(struct typing_plugin *tp, const struct chatd_option *opts, int nopts)
{
	for (int i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "throttle_ms")) {
			tp->api->option_error(tp->self, &opts[i], "unknown option");
			return -1;
		}
		if (parse_int_range(opts[i].value, THROTTLE_MIN_MS, THROTTLE_MAX_MS, &tp->throttle_ms)) {
			tp->api->option_error(tp->self, &opts[i], "must be an integer from %d to %d (milliseconds)",
					      THROTTLE_MIN_MS, THROTTLE_MAX_MS);
			return -1;
		}
	}
	return 0;
}

/* Claim "typing" and register the hooks; 0 on success. */
static int register_hooks(struct typing_plugin *tp)
{
	const struct chatd_api *api = tp->api;
	if (api->claim_type(tp->self, "typing", on_typing_frame, tp)) {
		api->option_error(tp->self, NULL, "frame type 'typing' is already claimed by another plugin");
		return -1;
	}
	return api->hook_register(tp->self, CHATD_EV_MESSAGE, on_message, tp, TYPING_MESSAGE_PRIO) ||
	       api->hook_register(tp->self, CHATD_EV_LEAVE, on_leave, tp, CHATD_PRIO_DEFAULT) ||
	       api->hook_register(tp->self, CHATD_EV_RENAME, on_rename, tp, CHATD_PRIO_DEFAULT) ||
	       api->hook_register(tp->self, CHATD_EV_DISCONNECT, on_disconnect, tp, CHATD_PRIO_DEFAULT);
}

/* Plugin entry: the ABI this plugin was built for, -1 when the core lacks it. */
CHATD_PLUGIN_DEFINE_VERSION();

/* Plugin entry: validate options (throttle_ms), claim "typing", register hooks.
 * Non-zero (after api->option_error) refuses to start. */
CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct typing_plugin *tp = calloc(1, sizeof *tp);
	if (!tp)
		return -1;
	tp->self = self;
	tp->api = api;
	tp->throttle_ms = THROTTLE_DEFAULT_MS;
	if (apply_options(tp, opts, nopts) || register_hooks(tp))
		goto fail;
	*userdata = tp;
	return 0;
fail:
	free(tp); /* the core drops whatever hooks were registered */
	return -1;
}

/* Plugin entry: free the plugin state (per-client state went with DISCONNECT). */
CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	free(userdata);
}
