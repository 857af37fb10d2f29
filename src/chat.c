#include "chat.h"
#include "client.h"
#include "frame.h"
#include "hooks.h"
#include "identity.h"
#include "log.h"
#include "message.h"
#include "presence.h"
#include "publish.h"
#include "room.h"

#include <stdio.h>
#include <string.h>

int chat_handshake(struct chatd_server *srv, struct chatd_client *c, const char *origin, const char *host,
		   const char **reason)
{
	if (srv->shutting_down) {
		*reason = "server is shutting down";
		return 503;
	}
	if (!hooks_any(&srv->hooks, CHATD_EV_CONNECT)) {
		c->accepted = 1;
		return 0;
	}
	struct chatd_connect_event ev = { .size = sizeof ev, .client = c, .room = c->join_room, .origin = origin,
					  .host = host, .address = c->address, .http_status = 403,
					  .reason = "forbidden" };
	int res = hooks_dispatch(&srv->hooks, CHATD_EV_CONNECT, &ev);
	if (res == CHATD_OK || res == CHATD_CONSUMED) {
		c->accepted = 1;
		return 0;
	}
	srv->stats.handshakes_denied++;
	*reason = ev.reason ? ev.reason : "forbidden";
	return ev.http_status >= 400 && ev.http_status <= 599 ? ev.http_status : 403;
}

/* {"type":"system","event":...} for r, encoded once and sent to all members
 * (or to all but except). `old` and `requested` may be NULL. */
static void system_event(struct chatd_server *srv, struct room *r, const char *event, const char *username,
			 const char *old, const char *requested, const char *text, const struct chatd_client *except)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "type", "system", "event", event, "room", r->name,
			      "username", username, "message", text, "ts", (json_int_t)now_ms());
	if (!o)
		return;
	if (old)
		json_object_set_new(o, "old", json_string(old));
	if (requested)
		json_object_set_new(o, "requested", json_string(requested));
	struct outbuf *b = json_to_outbuf(o);
	json_decref(o);
	if (b)
		publish_to_room(srv, r, b, except, CHATD_SEND_PRESENCE);
	outbuf_unref(b);
}

static void send_welcome(struct chatd_server *srv, struct chatd_client *c)
{
	json_t *limits = json_pack("{s:I,s:i,s:i}", "max_message_bytes", (json_int_t)srv->cfg.max_message_bytes,
				   "max_name_chars", NICK_MAX_CHARS, "max_room_bytes", ROOM_MAX_BYTES);
	/* In a big room the welcome lists at most big_room_members names (the
	 * joiner's own first); user_count and `who` give the whole picture. */
	size_t max = presence_coalesced(srv, c->room) ? (size_t)srv->cfg.big_room_members : 0;
	json_t *users = room_user_list(c->room, max);
	if (max && users && json_array_size(users) == max && c->room->count > max) {
		json_array_insert_new(users, 0, json_string(c->name));
		json_array_remove(users, max);
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:I,s:s,s:o,s:I}", "type", "welcome", "room", c->room->name,
			      "username", c->name, "users", users, "user_count",
			      (json_int_t)c->room->count, "server", "chatd/" PACKAGE_VERSION, "limits", limits,
			      "last_id", (json_int_t)c->room->last_id);
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
}

/* Put c into the room called name: welcome, join notice, JOIN hooks. */
static void join_room(struct chatd_server *srv, struct chatd_client *c, const char *name, int64_t since, int first)
{
	struct room *r = room_get(srv, name);
	if (!r || room_add(r, c)) {
		client_send_error(c, "internal", "out of memory", 0);
		client_close(c, 1011, "out of memory");
		return;
	}
	send_welcome(srv, c);
	if (presence_coalesced(srv, r)) {
		presence_note(srv, r, c->name, 1);
	} else {
		char text[NICK_MAX_BYTES + 32];
		snprintf(text, sizeof text, "%s joined the chat", c->name);
		system_event(srv, r, "join", c->name, NULL, NULL, text, NULL);
	}
	if (hooks_any(&srv->hooks, CHATD_EV_JOIN)) {
		struct chatd_room_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r,
					       .since = since, .first_join = first };
		hooks_dispatch(&srv->hooks, CHATD_EV_JOIN, &ev);
	}
}

/* Take c out of its room: leave notice to the others, LEAVE hooks. */
static void leave_room(struct chatd_server *srv, struct chatd_client *c)
{
	struct room *r = c->room;
	if (!r)
		return;
	if (hooks_any(&srv->hooks, CHATD_EV_LEAVE)) {
		struct chatd_room_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r, .since = -1 };
		hooks_dispatch(&srv->hooks, CHATD_EV_LEAVE, &ev);
	}
	int coalesced = presence_coalesced(srv, r);
	if (!room_remove(srv, c)) /* nobody left to tell; r may be freed */
		return;
	if (coalesced) {
		presence_note(srv, r, c->name, 0);
	} else {
		char text[NICK_MAX_BYTES + 32];
		snprintf(text, sizeof text, "%s left the chat", c->name);
		system_event(srv, r, "leave", c->name, NULL, NULL, text, NULL);
	}
}

void chat_open(struct chatd_server *srv, struct chatd_client *c)
{
	char name[NICK_MAX_BYTES + 1];
	const char *why = NULL;
	c->established = 1;
	if (c->query_name[0] && !(why = nick_normalize(c->query_name, strlen(c->query_name), name, sizeof name))) {
		nick_fold(name, c->requested, sizeof c->requested);
		if (identity_claim(srv, c, name))
			goto oom;
	} else if (identity_guest(srv, c)) {
		goto oom;
	}
	join_room(srv, c, c->join_room, c->since, 1);
	if (why) { /* a bad ?name= still gets in, as a guest, and is told why */
		char msg[256];
		snprintf(msg, sizeof msg, "name: %s; you are %s", why, c->name);
		client_send_error(c, "bad_request", msg, 0);
	}
	return;
oom:
	client_close(c, 1011, "out of memory");
}

/* Rename c to `wanted` (raw, from a frame). Errors go to c. */
static void rename_client(struct chatd_server *srv, struct chatd_client *c, const char *wanted, size_t len,
			  int explicit_request)
{
	char name[NICK_MAX_BYTES + 1], key[sizeof c->requested], old[sizeof c->name];
	const char *why = nick_normalize(wanted, len, name, sizeof name);
	if (why) {
		char msg[128];
		snprintf(msg, sizeof msg, "username: %s", why);
		client_send_error(c, "bad_request", msg, 0);
		return;
	}
	nick_fold(name, key, sizeof key);
	/* The tutorial client repeats its username on every message: only a
	 * change of the requested name is a rename. */
	if (!explicit_request && !strcmp(key, c->requested))
		return;
	snprintf(c->requested, sizeof c->requested, "%s", key);
	if (!strcmp(name, c->name))
		return;
	snprintf(old, sizeof old, "%s", c->name);
	if (identity_claim(srv, c, name)) {
		client_send_error(c, "internal", "out of memory", 0);
		return;
	}
	if (!strcmp(old, c->name))
		return;
	char text[3 * NICK_MAX_BYTES + 64];
	int variant = strcmp(name, c->name) != 0;
	if (variant)
		snprintf(text, sizeof text, "%s is now known as %s (%s was taken)", old, c->name, name);
	else
		snprintf(text, sizeof text, "%s is now known as %s", old, c->name);
	if (c->room)
		system_event(srv, c->room, "rename", c->name, old, variant ? name : NULL, text, NULL);
	if (hooks_any(&srv->hooks, CHATD_EV_RENAME)) {
		struct chatd_rename_event ev = { .size = sizeof ev, .client = c, .old_name = old, .new_name = c->name };
		hooks_dispatch(&srv->hooks, CHATD_EV_RENAME, &ev);
	}
}

void chat_send_users(struct chatd_server *srv, struct chatd_client *c)
{
	(void)srv;
	if (!c->room)
		return;
	json_t *o = json_pack("{s:s,s:s,s:o,s:I}", "type", "users", "room", c->room->name, "users",
			      room_user_list(c->room, 0), "user_count", (json_int_t)c->room->count);
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
}

static void switch_room(struct chatd_server *srv, struct chatd_client *c, const char *name, int64_t since)
{
	if (c->room && !strcmp(c->room->name, name)) {
		send_welcome(srv, c);
		return;
	}
	leave_room(srv, c);
	join_room(srv, c, name, since, 0);
}

/* A frame type a plugin claimed: hand it over. Returns 1 when claimed. */
static int claimed_frame(struct chatd_server *srv, struct chatd_client *c, struct inbound *in)
{
	struct claim *cl = strmap_get(&srv->claimed, in->type);
	if (!cl)
		return 0;
	struct chatd_frame_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)c->room,
					.type = in->type, .json = in->root };
	int res = cl->fn(CHATD_EV_FRAME, &ev, cl->userdata);
	if (res == CHATD_DENY)
		client_send_error(c, ev.error_code ? ev.error_code : "denied",
				  ev.error_message ? ev.error_message : "request refused", ev.retry_after_ms);
	return 1;
}

/* A refused frame: error to the client; too many in a row closes it. */
static void refuse_frame(struct chatd_server *srv, struct chatd_client *c, const char *code, const char *message)
{
	client_send_error(c, code, message, 0);
	if (++c->bad_frames >= srv->cfg.max_bad_frames)
		client_close(c, 1008, "too many bad frames");
}

void chat_frame(struct chatd_server *srv, struct chatd_client *c, const char *data, size_t len)
{
	struct inbound in;
	struct inbound_error err;
	if (c->closing || c->gone || !c->established)
		return;
	if (hooks_any(&srv->hooks, CHATD_EV_RECEIVE)) {
		struct chatd_receive_event ev = { .size = sizeof ev, .client = c, .data = data, .len = len };
		if (hooks_dispatch(&srv->hooks, CHATD_EV_RECEIVE, &ev) != CHATD_OK) {
			if (ev.error_code)
				client_send_error(c, ev.error_code, ev.error_message ? ev.error_message : ev.error_code,
						  ev.retry_after_ms);
			return;
		}
		if (c->closing || c->gone)
			return;
	}
	if (inbound_decode(data, len, srv->cfg.max_message_bytes, &in, &err)) {
		refuse_frame(srv, c, err.code, err.message);
		return;
	}
	if (in.kind != IN_OTHER || strmap_get(&srv->claimed, in.type))
		c->bad_frames = 0; /* an unknown type is refused below and counts */
	switch (in.kind) {
	case IN_MESSAGE:
		if (in.username)
			rename_client(srv, c, in.username, in.username_len, 0);
		publish_message(srv, c, in.text, in.text_len, in.client_id);
		break;
	case IN_NICK:
		rename_client(srv, c, in.username, in.username_len, 1);
		break;
	case IN_JOIN:
		switch_room(srv, c, in.room, in.since);
		break;
	case IN_WHO:
		chat_send_users(srv, c);
		break;
	case IN_OTHER:
		if (!claimed_frame(srv, c, &in)) {
			char msg[96];
			snprintf(msg, sizeof msg, "unknown frame type '%.40s'", in.type);
			refuse_frame(srv, c, "unknown_type", msg);
		}
		break;
	}
	inbound_free(&in);
}

void chat_close(struct chatd_server *srv, struct chatd_client *c)
{
	if (c->established)
		leave_room(srv, c);
	if (c->accepted) {
		if (hooks_any(&srv->hooks, CHATD_EV_DISCONNECT)) {
			struct chatd_plain_event ev = { .size = sizeof ev, .client = c, .now_ms = now_ms() };
			hooks_dispatch(&srv->hooks, CHATD_EV_DISCONNECT, &ev);
		}
	}
	identity_release(srv, c);
	client_gone(c);
}
