#include "membership.h"
#include "client.h"
#include "commands.h"
#include "hooks.h"
#include "pending.h"
#include "presence.h"
#include "publish.h"
#include "remote.h"
#include "room.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int membership_in(const struct chatd_client *c, const struct room *r)
{
	return roomset_find(&c->rooms, r) != NULL;
}

void membership_welcome(struct chatd_server *srv, struct chatd_client *c, struct room *r)
{
	json_t *limits = json_pack("{s:I,s:i,s:i}", "max_message_bytes", (json_int_t)srv->cfg.max_message_bytes,
				   "max_name_chars", NICK_MAX_CHARS, "max_room_bytes", ROOM_MAX_BYTES);
	/* In a big room the welcome lists at most big_room_members names (the
	 * joiner's own first); user_count and `who` give the whole picture. */
	size_t max = presence_coalesced(srv, r) ? (size_t)srv->cfg.big_room_members : 0;
	json_t *users = room_user_list(r, max);
	size_t count = room_user_count(r);
	if (max && users && json_array_size(users) == max && count > max) {
		json_array_insert_new(users, 0, json_string(c->name));
		json_array_remove(users, max);
	}
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:I,s:s,s:o,s:I}", "type", "welcome", "room", r->name, "username",
			      c->name, "users", users, "user_count", (json_int_t)count, "server",
			      "chatd/" PACKAGE_VERSION, "limits", limits, "last_id", (json_int_t)r->last_id);
	if (o && c->multi)
		json_object_set_new(o, "multi", json_true());
	if (o)
		commands_advertise(srv, o);
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
}

/* A join (joined = 1) or leave notice for name (fold: its key) in r: one
 * system frame to every member, or a line of the next summary in a big
 * room. None when the name is present through another node all the while
 * (remote.c), and a PRESENCE event for plugins either way. */
static void announce(struct chatd_server *srv, struct room *r, const char *name, const char *fold, int joined,
		     int coalesced)
{
	if (hooks_any(&srv->hooks, CHATD_EV_PRESENCE)) {
		struct chatd_presence_event ev = { .size = sizeof ev, .room = (chatd_room *)r,
						   .change = joined ? CHATD_PRESENCE_ENTER : CHATD_PRESENCE_LEAVE,
						   .name = name, .fold = fold };
		hooks_dispatch(&srv->hooks, CHATD_EV_PRESENCE, &ev);
	}
	if (!r->count || remote_has(r, fold))
		return;
	if (coalesced) {
		presence_note(srv, r, name, joined);
		return;
	}
	char text[NICK_MAX_BYTES + 32];
	snprintf(text, sizeof text, "%s %s the chat", name, joined ? "joined" : "left");
	publish_system(srv, r, joined ? "join" : "leave", name, NULL, NULL, text, NULL);
}

/*
 * Presence per person: the one place that decides whether person p entered
 * or left room r (a name is present once however many of its connections
 * are in the room). people_enter / people_leave count p's connections in r;
 * membership_expire_held ends what a closing session's connection held.
 */

/* One more connection of p is in r. Returns 1 when p entered r (a join
 * notice is due), 0 when p was present (another of its connections, or held
 * in grace: taken over silently), -1 on OOM. */
static int people_enter(struct room *r, struct person *p)
{
	struct roomset_entry *e = roomset_find(&p->rooms, r);
	if (e) {
		e->count++;
		e->until = 0; /* a timer that finds nothing due just re-arms */
		return 0;
	}
	return room_person_add(r, p) ? 1 : -1;
}

/* One connection of p left r. When it was p's last one there: with hold, p
 * stays present until presence_grace_ms from now (returns 0); else p leaves
 * r (returns 1: a leave notice is due). */
static int people_leave(struct chatd_server *srv, struct room *r, struct person *p, int hold)
{
	struct roomset_entry *e = roomset_find(&p->rooms, r);
	if (!e)
		return 0;
	if (e->count && --e->count)
		return 0;
	if (hold) {
		e->until = monotonic_us() / 1000 + srv->cfg.presence_grace_ms;
		return 0;
	}
	room_person_remove(r, p);
	return 1;
}

void membership_expire_held(struct chatd_server *srv, struct person *p, int64_t now_ms_mono)
{
	for (size_t i = p->rooms.n; i-- > 0;) {
		struct roomset_entry *e = &p->rooms.v[i];
		if (e->count || !e->until || e->until > now_ms_mono)
			continue;
		struct room *r = e->room;
		int coalesced = presence_coalesced(srv, r);
		room_person_remove(r, p); /* e moves or goes: not used below */
		announce(srv, r, p->name, p->fold, 0, coalesced);
		room_release_if_unused(srv, r);
	}
}

/* c enters r now: membership, welcome, notice, JOIN hooks. */
static int join_now(struct chatd_server *srv, struct chatd_client *c, struct room *r, int64_t since, int first)
{
	int entered = -1;
	if (room_add(r, c) || (entered = c->person ? people_enter(r, c->person) : 1) < 0) {
		room_remove(srv, r, c);
		room_release_if_unused(srv, r);
		client_send_error(c, "internal", "out of memory", 0);
		client_close(c, 1011, "out of memory");
		return -1;
	}
	c->room = r;
	membership_welcome(srv, c, r);
	if (entered)
		announce(srv, r, c->name, c->person ? c->person->fold : c->name, 1, presence_coalesced(srv, r));
	if (hooks_any(&srv->hooks, CHATD_EV_JOIN)) {
		struct chatd_room_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r,
					       .since = since, .first_join = first };
		hooks_dispatch(&srv->hooks, CHATD_EV_JOIN, &ev);
	}
	return 0;
}

/* A plugin's answer to a join it held (CHATD_EV_JOINING). */
static void join_answered(struct chatd_pending *p, int result, const char *code, const char *message, int retry)
{
	struct chatd_server *srv = p->srv;
	struct chatd_client *c = p->client;
	struct room *r = p->room;
	r->holds--;
	if (!result) {
		client_send_error(c, code ? code : "unavailable", message ? message : "the room cannot be joined now",
				  retry);
		room_release_if_unused(srv, r);
		return;
	}
	if (membership_in(c, r)) { /* joined meanwhile (a second request): its welcome again */
		membership_welcome(srv, c, r);
		return;
	}
	if (!c->multi && c->room) /* single mode: a later switch won; this one switches again */
		membership_leave(srv, c, c->room);
	join_now(srv, c, r, p->since, p->first);
}

int membership_join(struct chatd_server *srv, struct chatd_client *c, const char *name, int64_t since, int first)
{
	struct room *r = room_get(srv, name);
	if (!r) {
		client_send_error(c, "internal", "out of memory", 0);
		client_close(c, 1011, "out of memory");
		return -1;
	}
	if (hooks_any(&srv->hooks, CHATD_EV_JOINING)) {
		struct chatd_pending *p = pending_new(srv, c, join_answered);
		if (!p) {
			client_send_error(c, "internal", "out of memory", 0);
			room_release_if_unused(srv, r);
			return -1;
		}
		p->room = r;
		p->since = since;
		p->first = first;
		struct chatd_joining_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r,
						  .since = since, .pending = (chatd_pending *)p };
		int res = hooks_dispatch(&srv->hooks, CHATD_EV_JOINING, &ev);
		if (p->kept) { /* a plugin answers later (api->pending_release) */
			r->holds++;
			return 0;
		}
		pending_free(p);
		if (res == CHATD_DENY) {
			client_send_error(c, ev.error_code ? ev.error_code : "denied",
					  ev.error_message ? ev.error_message : "the room cannot be joined",
					  ev.retry_after_ms);
			room_release_if_unused(srv, r);
			return 0;
		}
	}
	return join_now(srv, c, r, since, first);
}

/* The room c joined last of those it is in, or NULL. O(rooms of c): only
 * when the current room is left. */
static struct room *latest_room(const struct chatd_client *c)
{
	const struct roomset_entry *best = NULL;
	for (size_t i = 0; i < c->rooms.n; i++)
		if (!best || c->rooms.v[i].seq > best->seq)
			best = &c->rooms.v[i];
	return best ? best->room : NULL;
}

/* membership_leave, with hold as for people_leave. */
static void leave(struct chatd_server *srv, struct chatd_client *c, struct room *r, int hold)
{
	if (!membership_in(c, r))
		return;
	if (hooks_any(&srv->hooks, CHATD_EV_LEAVE)) {
		struct chatd_room_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r, .since = -1 };
		hooks_dispatch(&srv->hooks, CHATD_EV_LEAVE, &ev);
		if (!membership_in(c, r)) /* a hook took it out already */
			return;
	}
	int coalesced = presence_coalesced(srv, r);
	room_remove(srv, r, c);
	if (c->room == r)
		c->room = latest_room(c);
	int gone = c->person ? people_leave(srv, r, c->person, hold) : 1;
	if (gone)
		announce(srv, r, c->name, c->person ? c->person->fold : c->name, 0, coalesced);
	room_release_if_unused(srv, r); /* r may be gone now */
}

void membership_leave(struct chatd_server *srv, struct chatd_client *c, struct room *r)
{
	leave(srv, c, r, 0);
}

void membership_leave_all(struct chatd_server *srv, struct chatd_client *c, int hold)
{
	while (c->rooms.n)
		leave(srv, c, c->rooms.v[c->rooms.n - 1].room, hold);
	c->room = NULL;
}

void membership_request_join(struct chatd_server *srv, struct chatd_client *c, const char *name, int64_t since)
{
	struct room *r = strmap_get(&srv->rooms, name);
	struct roomset_entry *e = r ? roomset_find(&c->rooms, r) : NULL;
	if (e) { /* already in: its welcome again, and it is the current room now */
		e->seq = ++c->joins;
		c->room = r;
		membership_welcome(srv, c, r);
		return;
	}
	if (!c->multi) {
		if (c->room)
			membership_leave(srv, c, c->room);
	} else if (c->rooms.n >= (size_t)srv->cfg.max_rooms_per_client) {
		char msg[128];
		snprintf(msg, sizeof msg, "you are in %zu rooms, the most a connection may be in; leave one first",
			 c->rooms.n);
		client_send_error(c, "too_many_rooms", msg, 0);
		return;
	}
	membership_join(srv, c, name, since, 0);
}

void membership_request_leave(struct chatd_server *srv, struct chatd_client *c, const char *name)
{
	struct room *r = membership_resolve(srv, c, name);
	if (!r) {
		char msg[ROOM_MAX_BYTES + 32];
		if (name)
			snprintf(msg, sizeof msg, "you are not in room %s", name);
		else
			snprintf(msg, sizeof msg, "you are not in any room");
		client_send_error(c, "not_in_room", msg, 0);
		return;
	}
	char room[ROOM_MAX_BYTES + 1];
	snprintf(room, sizeof room, "%s", r->name); /* r may be freed by the leave */
	membership_leave(srv, c, r);
	json_t *o = json_pack("{s:s,s:s}", "type", "left", "room", room);
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
}

struct room *membership_resolve(struct chatd_server *srv, const struct chatd_client *c, const char *name)
{
	if (!name)
		return c->room;
	struct room *r = strmap_get(&srv->rooms, name);
	return r && membership_in(c, r) ? r : NULL;
}
