/*
 * typing: typing indicators.
 *
 * {"type":"typing"} from a client becomes
 *   {"type":"typing","room":"general","username":"Alice"}
 * to the other members of its room (droppable: a full queue drops it first).
 * At most one fan-out per client per throttle_ms; typing frames inside the
 * window are absorbed silently (counter "throttled"). A message, leaving the
 * room (switch or disconnect) or a rename ends the indicator: the next typing
 * frame fans out at once, and when the client typed within the last 3 s the
 * others get the same frame with "stopped":true (an extension; see
 * docs/plugins/typing.md).
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

/* Per-client state, in the client's slot; freed on CHATD_EV_DISCONNECT. */
struct typing_client {
	int window_open;    /* a fan-out happened and the throttle window runs */
	int64_t fanout_ms;  /* when that fan-out happened */
	int typed;          /* a typing frame came since the indicator last ended */
	int64_t typed_ms;   /* when the last one came (fanned out or absorbed) */
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

/* The client's state, created on first use; NULL when out of memory. */
static struct typing_client *client_state_get(struct typing_plugin *tp, chatd_client *c)
{
	void **slot = tp->api->client_slot(tp->self, c);
	if (!*slot)
		*slot = calloc(1, sizeof(struct typing_client));
	return *slot;
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

/* End c's indicator in room: tell the others (under `username`) when c typed
 * in the last TYPING_VISIBLE_MS, and reset the throttle. */
static void end_typing(struct typing_plugin *tp, chatd_client *c, chatd_room *room, const char *username)
{
	struct typing_client *tc = client_state(tp, c);
	if (!tc)
		return;
	if (tc->typed && room && within(tp->api->now_ms(), tc->typed_ms, TYPING_VISIBLE_MS))
		fan_out(tp, room, c, username, 1);
	tc->typed = 0;
	tc->window_open = 0;
}

/* CHATD_EV_FRAME "typing": fan out, or absorb inside the throttle window. */
static int on_typing_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	if (!ev->room)
		return CHATD_CONSUMED;
	struct typing_client *tc = client_state_get(tp, ev->client);
	if (!tc) {
		ev->error_code = "internal";
		ev->error_message = "out of memory";
		return CHATD_DENY;
	}
	int64_t now = tp->api->now_ms();
	tc->typed = 1;
	tc->typed_ms = now;
	if (tc->window_open && within(now, tc->fanout_ms, tp->throttle_ms)) {
		tp->api->counter_add(tp->self, "throttled", 1);
		return CHATD_CONSUMED;
	}
	tc->window_open = 1;
	tc->fanout_ms = now;
	fan_out(tp, ev->room, ev->client, tp->api->client_name(ev->client), 0);
	return CHATD_CONSUMED;
}

/* CHATD_EV_MESSAGE (notify-style): the sender stopped typing. */
static int on_message(int event_id, void *event, void *userdata)
{
	struct chatd_message_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	end_typing(tp, ev->client, ev->room, tp->api->client_name(ev->client));
	return CHATD_OK;
}

/* CHATD_EV_LEAVE: the client leaves ev->room (still a member during the hook). */
static int on_leave(int event_id, void *event, void *userdata)
{
	struct chatd_room_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	end_typing(tp, ev->client, ev->room, tp->api->client_name(ev->client));
	return CHATD_OK;
}

/* CHATD_EV_RENAME: the indicator under the old name ends; the next typing
 * frame announces the new name at once. */
static int on_rename(int event_id, void *event, void *userdata)
{
	struct chatd_rename_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	end_typing(tp, ev->client, tp->api->client_room(ev->client), ev->old_name);
	return CHATD_OK;
}

/* CHATD_EV_DISCONNECT: free the client's state. */
static int on_disconnect(int event_id, void *event, void *userdata)
{
	struct chatd_plain_event *ev = event;
	struct typing_plugin *tp = userdata;
	(void)event_id;
	void **slot = tp->api->client_slot(tp->self, ev->client);
	free(*slot);
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
