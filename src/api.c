#include "api.h"
#include "chat.h"
#include "client.h"
#include "commands.h"
#include "connect.h"
#include "frame.h"
#include "jsonread.h"
#include "log.h"
#include "membership.h"
#include "msgevent.h"
#include "plugin_http.h"
#include "private.h"
#include "publish.h"
#include "request.h"
#include "pending.h"
#include "remote.h"
#include "room.h"
#include "roomapi.h"
#include "roomlist.h"
#include "services.h"
#include "watch.h"

#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LP(self) ((struct loaded_plugin *)(self))

struct chatd_timer {
	ev_timer w;                /* first: the callback casts back */
	struct chatd_server *srv;
	struct loaded_plugin *owner;
	chatd_timer_fn fn;
	void *userdata;
	int once;
	struct chatd_timer *prev, *next;
};

void api_error_reset(struct chatd_server *srv) { srv->plugin_error[0] = 0; }

const char *api_error_text(struct chatd_server *srv) { return srv->plugin_error; }

static int api_hook_register(chatd_plugin *self, int event_id, chatd_hook_fn fn, void *ud, int priority)
{
	if (event_id == CHATD_EV_FRAME || event_id == CHATD_EV_COMMAND || event_id == CHATD_EV_HTTP)
		return -1; /* these come through claim_type and command_register */
	return hooks_add(&LP(self)->srv->hooks, event_id, fn, ud, priority, self);
}

static int api_hook_unregister(chatd_plugin *self, int event_id, chatd_hook_fn fn, void *ud)
{
	return hooks_remove(&LP(self)->srv->hooks, event_id, fn, ud);
}

static int api_claim_type(chatd_plugin *self, const char *type, chatd_hook_fn fn, void *ud)
{
	struct chatd_server *srv = LP(self)->srv;
	static const char *const core_types[] = { "message", "nick", "join", "who", "leave", "rooms" };
	for (size_t i = 0; i < sizeof core_types / sizeof core_types[0]; i++)
		if (!strcmp(type, core_types[i]))
			return -1;
	if (!fn || strmap_get(&srv->claimed, type))
		return -1;
	struct claim *cl = malloc(sizeof *cl);
	if (!cl)
		return -1;
	*cl = (struct claim){ fn, ud, LP(self) };
	if (strmap_put(&srv->claimed, type, cl)) {
		free(cl);
		return -1;
	}
	return 0;
}

static void api_log(chatd_plugin *self, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, LP(self)->conf->name, fmt, ap);
	va_end(ap);
}

static void api_option_error(chatd_plugin *self, const struct chatd_option *opt, const char *fmt, ...)
{
	struct loaded_plugin *lp = LP(self);
	struct chatd_server *srv = lp->srv;
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	const char *file = srv->cfg.file ? srv->cfg.file : "(config)";
	if (opt)
		snprintf(srv->plugin_error, sizeof srv->plugin_error, "%s:%d: plugin %s: option '%s': %s", file,
			 opt->line, lp->conf->name, opt->key, why);
	else
		snprintf(srv->plugin_error, sizeof srv->plugin_error, "%s:%d: plugin %s: %s", file, lp->conf->line,
			 lp->conf->name, why);
}

static const char *api_data_dir(chatd_plugin *self) { return LP(self)->srv->cfg.data_dir; }
static const char *api_plugin_name(chatd_plugin *self) { return LP(self)->conf->name; }
static const char *api_client_name(const chatd_client *c) { return c->name; }
static chatd_room *api_client_room(const chatd_client *c) { return (chatd_room *)c->room; }
static const char *api_client_address(const chatd_client *c) { return c->address; }
static uint64_t api_client_id(const chatd_client *c) { return c->id; }

static void **api_client_slot(chatd_plugin *self, chatd_client *c)
{
	static void *nowhere; /* a client made before plugins loaded has no slots */
	if (!c->slots) {
		nowhere = NULL;
		return &nowhere;
	}
	return &c->slots[LP(self)->slot];
}

static chatd_client *api_client_find(chatd_plugin *self, const char *name)
{
	return client_find_by_name(LP(self)->srv, name);
}

static void api_client_close(chatd_client *c, int code, const char *reason) { client_close(c, code, reason); }

static void api_send_error(chatd_client *c, const char *code, const char *message, int retry_after_ms)
{
	client_send_error(c, code, message, retry_after_ms);
}

static const char *api_room_name(const chatd_room *r) { return ((const struct room *)r)->name; }
static size_t api_room_member_count(const chatd_room *r) { return ((const struct room *)r)->count; }
static int64_t api_room_last_id(const chatd_room *r) { return ((const struct room *)r)->last_id; }

static int api_send(chatd_client *c, chatd_frame *f, int flags)
{
	return client_send(c, frame_encoded(f), flags) < 0 ? -1 : 0;
}

static int api_client_in_room(const chatd_client *c, const chatd_room *r)
{
	return r && membership_in(c, (const struct room *)r);
}

static size_t api_client_rooms(const chatd_client *c, chatd_room **out, size_t max)
{
	size_t n = 0;
	if (c->room && max) /* the current room first */
		out[n++] = (chatd_room *)c->room;
	for (size_t i = 0; i < c->rooms.n && n < max; i++)
		if (c->rooms.v[i].room != c->room)
			out[n++] = (chatd_room *)c->rooms.v[i].room;
	return c->rooms.n;
}

static const char *api_client_session(const chatd_client *c)
{
	return c->has_session ? c->session_hex : NULL;
}

static size_t api_client_person_clients(const chatd_client *c, chatd_client **out, size_t max)
{
	const struct person *p = c->person;
	size_t n = 0;
	if (max)
		out[n++] = (chatd_client *)c;
	if (!p)
		return 1;
	for (size_t i = 0; i < p->nconns && n < max; i++)
		if (p->conns[i] != c)
			out[n++] = p->conns[i];
	return p->nconns;
}

static void api_broadcast(chatd_room *r, chatd_frame *f, const chatd_client *except, int flags)
{
	struct room *room = (struct room *)r;
	struct outbuf *b = frame_encoded(f);
	if (!b)
		return;
	if (room->count)
		publish_to_room(room->srv, room, b, except, flags & ~CHATD_SEND_LOCAL);
	/* a frame of a plugin's own may go to the room's members on other nodes too */
	if (!(flags & CHATD_SEND_LOCAL) && hooks_any(&room->srv->hooks, CHATD_EV_BROADCAST)) {
		struct chatd_broadcast_event ev = { .size = sizeof ev, .room = r, .json = (const char *)outbuf_payload(b),
						    .len = b->len, .flags = flags };
		hooks_dispatch(&room->srv->hooks, CHATD_EV_BROADCAST, &ev);
	}
}

static chatd_room *api_room_find(chatd_plugin *self, const char *name)
{
	char key[ROOM_MAX_BYTES + 1];
	size_t n = 0;
	for (; name[n] && n < ROOM_MAX_BYTES; n++)
		key[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
	if (name[n])
		return NULL;
	key[n] = 0;
	return strmap_get(&LP(self)->srv->rooms, key);
}

static void api_room_raise_last_id(chatd_room *r, int64_t id)
{
	struct room *room = (struct room *)r;
	if (id > room->last_id)
		room->last_id = id;
}

static void timer_unlink(struct chatd_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->srv->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

static void timer_fire(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct chatd_timer *t = (struct chatd_timer *)w;
	int once = t->once;
	if (once) /* unlink first: the callback may not cancel a one-shot that fired */
		timer_unlink(t);
	t->fn(t, t->userdata);
	if (once)
		free(t);
}

static chatd_timer *api_timer_add(chatd_plugin *self, int64_t after_ms, int64_t repeat_ms, chatd_timer_fn fn,
				  void *ud)
{
	struct chatd_server *srv = LP(self)->srv;
	if (!srv->loop || !fn)
		return NULL;
	struct chatd_timer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->srv = srv;
	t->owner = LP(self);
	t->fn = fn;
	t->userdata = ud;
	t->once = repeat_ms <= 0;
	ev_timer_init(&t->w, timer_fire, (double)after_ms / 1000.0, repeat_ms > 0 ? (double)repeat_ms / 1000.0 : 0.);
	ev_timer_start(srv->loop, &t->w);
	t->next = srv->timers;
	if (srv->timers)
		srv->timers->prev = t;
	srv->timers = t;
	return t;
}

static void api_timer_cancel(chatd_timer *t)
{
	if (!t)
		return;
	ev_timer_stop(t->srv->loop, &t->w);
	timer_unlink(t);
	free(t);
}

static int64_t api_now_ms(void) { return now_ms(); }

static int64_t api_monotonic_ms(void) { return monotonic_us() / 1000; }

static void api_counter_add(chatd_plugin *self, const char *name, int64_t delta)
{
	struct loaded_plugin *lp = LP(self);
	for (int i = 0; i < lp->ncounters; i++)
		if (!strcmp(lp->counters[i].name, name)) {
			lp->counters[i].value += delta;
			return;
		}
	struct plugin_counter *n = realloc(lp->counters, (size_t)(lp->ncounters + 1) * sizeof *n);
	if (!n)
		return;
	lp->counters = n;
	if (!(n[lp->ncounters].name = strdup(name)))
		return;
	n[lp->ncounters++].value = delta;
}

void api_forget_plugin(struct chatd_server *srv, struct loaded_plugin *lp)
{
	hooks_remove_owner(&srv->hooks, lp);
	size_t pos = 0;
	const char *key;
	void *v;
	while (strmap_next(&srv->claimed, &pos, &key, &v)) {
		struct claim *cl = v;
		if (cl->owner == lp) {
			strmap_del(&srv->claimed, key);
			free(cl);
		}
	}
	for (struct chatd_timer *t = srv->timers, *next; t; t = next) {
		next = t->next;
		if (t->owner == lp)
			api_timer_cancel(t);
	}
	commands_forget(srv, lp);
	lp->http_fn = NULL;
}

const struct chatd_api chatd_api_table = {
	.size = sizeof(struct chatd_api),
	.abi = CHATD_PLUGIN_ABI,
	.hook_register = api_hook_register,
	.hook_unregister = api_hook_unregister,
	.claim_type = api_claim_type,
	.log = api_log,
	.option_error = api_option_error,
	.data_dir = api_data_dir,
	.plugin_name = api_plugin_name,
	.client_name = api_client_name,
	.client_room = api_client_room,
	.client_address = api_client_address,
	.client_id = api_client_id,
	.client_slot = api_client_slot,
	.client_find = api_client_find,
	.client_close = api_client_close,
	.send_error = api_send_error,
	.room_name = api_room_name,
	.room_member_count = api_room_member_count,
	.room_last_id = api_room_last_id,
	.frame_new = (chatd_frame * (*)(const char *)) frame_new,
	.frame_free = (void (*)(chatd_frame *))frame_free,
	.frame_set_str = (void (*)(chatd_frame *, const char *, const char *))frame_set_str,
	.frame_set_int = (void (*)(chatd_frame *, const char *, int64_t))frame_set_int,
	.frame_set_bool = (void (*)(chatd_frame *, const char *, int))frame_set_bool,
	.frame_push = (void (*)(chatd_frame *, const char *, chatd_frame *))frame_push,
	.send = api_send,
	.broadcast = api_broadcast,
	.frame_get_str = jr_get_str,
	.frame_get_int = jr_get_int,
	.message_set_text = msgevent_set_text,
	.hold_keep = publish_hold_keep,
	.hold_release = publish_hold_release,
	.timer_add = api_timer_add,
	.timer_cancel = api_timer_cancel,
	.now_ms = api_now_ms,
	.counter_add = api_counter_add,
	.monotonic_ms = api_monotonic_ms,
	.client_in_room = api_client_in_room,
	.client_rooms = api_client_rooms,
	.message_reply = msgevent_reply,
	.request_path = request_path,
	.request_method = request_method,
	.request_query = request_query,
	.request_header = request_header,
	.request_cookie = request_cookie,
	.request_address = request_address,
	.request_body = request_body,
	.connect_set_name = connect_set_name,
	.connect_refuse_name = connect_refuse_name,
	.client_session = api_client_session,
	.client_person_clients = api_client_person_clients,
	.room_find = api_room_find,
	.room_deliver = publish_deliver,
	.room_raise_last_id = api_room_raise_last_id,
	.room_remote = remote_change,
	.pending_keep = pending_keep,
	.pending_release = pending_release,
	.frame_parse = (chatd_frame * (*)(const char *, size_t)) frame_parse,
	.name_fold = nick_fold,
	.command_register = commands_register,
	.service_register = services_register,
	.service_get = services_get,
	.watch_add = watch_add,
	.watch_set = watch_set,
	.watch_remove = watch_remove,
	.loop_post = loop_post,
	.frame_object_new = (chatd_frame * (*)(void)) frame_object_new,
	.frame_set_double = (void (*)(chatd_frame *, const char *, double))frame_set_double,
	.frame_set_null = (void (*)(chatd_frame *, const char *))frame_set_null,
	.frame_set_frame = (void (*)(chatd_frame *, const char *, chatd_frame *))frame_set_frame,
	.frame_push_str = (void (*)(chatd_frame *, const char *, const char *))frame_push_str,
	.frame_push_int = (void (*)(chatd_frame *, const char *, int64_t))frame_push_int,
	.frame_push_double = (void (*)(chatd_frame *, const char *, double))frame_push_double,
	.frame_push_bool = (void (*)(chatd_frame *, const char *, int))frame_push_bool,
	.frame_push_null = (void (*)(chatd_frame *, const char *))frame_push_null,
	.frame_get_bool = jr_get_bool,
	.frame_get_double = jr_get_double,
	.value_get = jr_value_get,
	.value_at = jr_value_at,
	.value_member = jr_value_member,
	.value_type = jr_value_type,
	.value_size = jr_value_size,
	.value_str = jr_value_str,
	.value_int = jr_value_int,
	.value_double = jr_value_double,
	.value_bool = jr_value_bool,
	.rooms_list = roomapi_list,
	.room_members = roomapi_members,
	.room_slot = roomapi_slot,
	.room_notice = roomapi_notice,
	.http_route = plugin_http_route,
	.http_respond = plugin_http_respond,
	.http_add_header = plugin_http_add_header,
	.private_send = private_send,
	.private_set_text = private_set_text,
	.rooms_remote_set = roomlist_remote_set,
};
