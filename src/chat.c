#include "chat.h"
#include "client.h"
#include "connect.h"
#include "frame.h"
#include "hooks.h"
#include "identity.h"
#include "log.h"
#include "membership.h"
#include "message.h"
#include "nickfilter.h"
#include "pending.h"
#include "remote.h"
#include "publish.h"
#include "room.h"
#include "roomlist.h"

#include <stdio.h>
#include <string.h>

int chat_handshake(struct chatd_server *srv, struct chatd_client *c, const char *origin, const char *host,
		   const char **reason)
{
	if (srv->shutting_down) {
		*reason = "server is shutting down";
		return 503;
	}
	connect_prepare_name(c);
	if (!hooks_any(&srv->hooks, CHATD_EV_CONNECT)) {
		c->accepted = 1;
		return 0;
	}
	struct chatd_connect_event ev = { .size = sizeof ev, .client = c, .room = c->join_room, .origin = origin,
					  .host = host, .address = c->address, .http_status = 403,
					  .reason = "forbidden", .request = c->request,
					  .requested_name = c->query_name };
	c->connect_seen = 1; /* a hook may keep state for c: DISCONNECT will follow, refused or not */
	int res = hooks_dispatch(&srv->hooks, CHATD_EV_CONNECT, &ev);
	if (res == CHATD_OK || res == CHATD_CONSUMED) {
		c->accepted = 1;
		return 0;
	}
	srv->stats.handshakes_denied++;
	*reason = ev.reason ? ev.reason : "forbidden";
	return ev.http_status >= 400 && ev.http_status <= 599 ? ev.http_status : 403;
}

/* What a name claim is for (chatd_pending.purpose). */
enum { CLAIM_OPEN = 1, CLAIM_RENAME = 2 };

static void rename_announce(struct chatd_server *srv, struct chatd_client *c, const char *old, const char *old_fold,
			    const char *requested);

/* After the name at open: the handshake's room, then why the name asked for
 * was not used (code "" when it was: else "code" and the reason, to which
 * "; you are NAME" is added). */
static void open_continue(struct chatd_server *srv, struct chatd_client *c, const char *code, const char *reason)
{
	membership_join(srv, c, c->join_room, c->since, 1);
	if (code && code[0]) { /* a bad or refused ?name= still gets in, as a guest, and is told why */
		char msg[512];
		snprintf(msg, sizeof msg, "%s; you are %s", reason, c->name);
		client_send_error(c, code, msg, 0);
	}
	connect_send_refusal(c);
}

/* A plugin's answer to a name claim it held (CHATD_EV_NAME_CLAIM). */
static void claim_answered(struct chatd_pending *p, int result, const char *code, const char *message, int retry)
{
	struct chatd_server *srv = p->srv;
	struct chatd_client *c = p->client;
	if (result < 0 || result >= p->count || (p->purpose == CLAIM_RENAME && !c->person)) {
		client_send_error(c, code ? code : "unavailable", message ? message : "no name could be given", retry);
		if (p->purpose == CLAIM_OPEN)
			client_close(c, 1013, "no name could be given: try again later");
		return;
	}
	char old[sizeof c->name], old_fold[NICK_MAX_BYTES * 2 + 1] = "";
	snprintf(old, sizeof old, "%s", c->name);
	if (c->person)
		snprintf(old_fold, sizeof old_fold, "%s", c->person->fold);
	/* the spelling the plugin gives, when it has the candidate's key */
	const char *name = p->names[result];
	char key[NICK_MAX_BYTES * 2 + 1], spelled[NICK_MAX_BYTES + 1];
	if (message && !nick_normalize(message, strlen(message), spelled, sizeof spelled)) {
		nick_fold(spelled, key, sizeof key);
		if (!strcmp(key, p->folds[result]))
			name = spelled;
	}
	if (identity_take(srv, c, name)) {
		client_send_error(c, "internal", "out of memory", 0);
		if (p->purpose == CLAIM_OPEN)
			client_close(c, 1011, "out of memory");
		return;
	}
	if (p->purpose == CLAIM_OPEN)
		open_continue(srv, c, p->note_code, p->note);
	else
		rename_announce(srv, c, old, old_fold, p->requested);
}

/*
 * Let a plugin decide the name (CHATD_EV_NAME_CLAIM) among the candidates
 * for wanted (NULL: a guest). Returns 1 when that is under way (it goes on
 * in claim_answered) or done (c joined a person of its own session here, at
 * open: the caller goes on with the join), 0 when no plugin decides (the
 * caller goes on here), -1 when refused or out of memory (c was told).
 * *attached says which of the two 1s it was. note_code/note: for open_continue.
 */
static int claim_name(struct chatd_server *srv, struct chatd_client *c, const char *wanted, int purpose,
		      const char *note_code, const char *note, int *attached)
{
	*attached = 0;
	if (!hooks_any(&srv->hooks, CHATD_EV_NAME_CLAIM))
		return 0;
	struct chatd_pending *p = pending_new(srv, c, claim_answered);
	int rc = p ? identity_candidates(srv, c, wanted, p->names, p->folds, PENDING_MAX_NAMES, &p->count) : -1;
	if (rc == 1) {
		pending_free(p);
		*attached = 1;
		return 1;
	}
	if (rc < 0 || !p->count) {
		pending_free(p);
		client_send_error(c, "internal", "out of memory", 0);
		if (purpose == CLAIM_OPEN)
			client_close(c, 1011, "out of memory");
		return -1;
	}
	p->purpose = purpose;
	if (wanted)
		snprintf(p->requested, sizeof p->requested, "%s", wanted);
	if (note_code)
		snprintf(p->note_code, sizeof p->note_code, "%s", note_code);
	if (note)
		snprintf(p->note, sizeof p->note, "%s", note);
	struct chatd_name_claim_event ev = { .size = sizeof ev, .client = c, .names = (const char *const *)p->names,
					     .folds = (const char *const *)p->folds, .count = p->count,
					     .owner = c->has_session ? c->session_hex : NULL,
					     .old_fold = c->person ? c->person->fold : "", .pending = (chatd_pending *)p };
	int res = hooks_dispatch(&srv->hooks, CHATD_EV_NAME_CLAIM, &ev);
	if (p->kept)
		return 1;
	pending_free(p);
	if (res != CHATD_DENY)
		return 0;
	client_send_error(c, ev.error_code ? ev.error_code : "denied",
			  ev.error_message ? ev.error_message : "that name cannot be given", ev.retry_after_ms);
	if (purpose == CLAIM_OPEN)
		client_close(c, 1013, "no name could be given: try again later");
	return -1;
}

void chat_open(struct chatd_server *srv, struct chatd_client *c)
{
	char name[NICK_MAX_BYTES + 1], reason[400] = "";
	const char *why = NULL, *code = "";
	struct nick_refusal refused = { "", "" };
	int wanted = 0, attached;
	c->established = 1;
	if (c->query_name && !(why = nick_normalize(c->query_name, strlen(c->query_name), name, sizeof name)) &&
	    !nick_filter(srv, c, NULL, name, &refused)) {
		nick_fold(name, c->requested, sizeof c->requested);
		wanted = 1;
	}
	(void)client_set_query_name(c, NULL); /* read: an open connection keeps no copy */
	if (why) {
		code = "bad_request";
		snprintf(reason, sizeof reason, "name: %s", why);
	} else if (refused.code[0]) { /* a NICK hook refused it: a guest, told why */
		code = refused.code;
		snprintf(reason, sizeof reason, "%s", refused.message);
	}
	int claimed = claim_name(srv, c, wanted ? name : NULL, CLAIM_OPEN, code, reason, &attached);
	if (claimed && !attached)
		return; /* a plugin decides (open_continue follows), or refused */
	if (!claimed && (wanted ? identity_claim(srv, c, name) : identity_guest(srv, c))) {
		client_close(c, 1011, "out of memory");
		return;
	}
	open_continue(srv, c, code, reason);
}

/* c's person was renamed from old (old_fold its key) after asking for
 * requested: a notice in every room the person is in, RENAME hooks per
 * connection, PRESENCE (RENAME) per room. */
static void rename_announce(struct chatd_server *srv, struct chatd_client *c, const char *old, const char *old_fold,
			    const char *requested)
{
	if (!strcmp(old, c->name))
		return;
	char text[3 * NICK_MAX_BYTES + 64];
	int variant = strcmp(requested, c->name) != 0;
	if (variant)
		snprintf(text, sizeof text, "%s is now known as %s (%s was taken)", old, c->name, requested);
	else
		snprintf(text, sizeof text, "%s is now known as %s", old, c->name);
	struct person *p = c->person;
	for (size_t i = 0; i < p->rooms.n; i++) /* every room the person is in hears it, each once */
		publish_system(srv, p->rooms.v[i].room, "rename", c->name, old, variant ? requested : NULL, text, NULL);
	if (hooks_any(&srv->hooks, CHATD_EV_RENAME)) {
		/* one event per connection that changed its name; a hook cannot
		 * detach a connection (closes are asynchronous) */
		for (size_t i = 0; i < p->nconns; i++) {
			struct chatd_rename_event ev = { .size = sizeof ev, .client = p->conns[i], .old_name = old,
							 .new_name = p->name };
			hooks_dispatch(&srv->hooks, CHATD_EV_RENAME, &ev);
		}
	}
	if (hooks_any(&srv->hooks, CHATD_EV_PRESENCE))
		for (size_t i = 0; i < p->rooms.n; i++) {
			struct chatd_presence_event ev = { .size = sizeof ev, .room = (chatd_room *)p->rooms.v[i].room,
							   .change = CHATD_PRESENCE_RENAME, .name = p->name,
							   .fold = p->fold, .old_name = old, .old_fold = old_fold };
			hooks_dispatch(&srv->hooks, CHATD_EV_PRESENCE, &ev);
		}
}

/* Rename c's person (every connection sharing its name) to `wanted` (raw,
 * from a frame). Errors go to c. */
static void rename_client(struct chatd_server *srv, struct chatd_client *c, const char *wanted, size_t len,
			  int explicit_request)
{
	char name[NICK_MAX_BYTES + 1], key[sizeof c->requested], old[sizeof c->name];
	char old_fold[NICK_MAX_BYTES * 2 + 1];
	int attached;
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
	if (!strcmp(name, c->name) || !c->person)
		return;
	struct nick_refusal refused;
	if (nick_filter(srv, c, c->name, name, &refused)) {
		client_send_error(c, refused.code, refused.message, 0);
		return;
	}
	if (claim_name(srv, c, name, CLAIM_RENAME, NULL, NULL, &attached))
		return; /* a plugin decides (rename_announce follows), or refused */
	snprintf(old, sizeof old, "%s", c->name);
	snprintf(old_fold, sizeof old_fold, "%s", c->person->fold);
	if (identity_rename(srv, c, name)) {
		client_send_error(c, "internal", "out of memory", 0);
		return;
	}
	rename_announce(srv, c, old, old_fold, name);
}

void chat_send_users(struct chatd_server *srv, struct chatd_client *c, struct room *r)
{
	(void)srv;
	json_t *o = json_pack("{s:s,s:s,s:o,s:I}", "type", "users", "room", r->name, "users", room_user_list(r, 0),
			      "user_count", (json_int_t)room_user_count(r));
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
}

/* A refused frame: error to the client; too many in a row closes it. */
static void refuse_frame(struct chatd_server *srv, struct chatd_client *c, const char *code, const char *message,
			 const char *client_id)
{
	client_send_error_for(c, code, message, 0, client_id);
	if (++c->bad_frames >= srv->cfg.max_bad_frames)
		client_close(c, 1008, "too many bad frames");
}

/* Refuse a frame for a room c is not in (in->room given), or for no room at
 * all when c is in none. */
static void refuse_not_in_room(struct chatd_server *srv, struct chatd_client *c, const struct inbound *in)
{
	char msg[ROOM_MAX_BYTES + 48];
	if (in->room)
		snprintf(msg, sizeof msg, "you are not in room %s", in->room);
	else
		snprintf(msg, sizeof msg, "you are not in any room (join one first)");
	refuse_frame(srv, c, "not_in_room", msg, in->client_id);
}

/* A frame type a plugin claimed: hand it over with the room it is for (its
 * "room", which c must be in, else c's current room, which may be NULL).
 * Returns 1 when claimed. */
static int claimed_frame(struct chatd_server *srv, struct chatd_client *c, struct inbound *in)
{
	struct claim *cl = strmap_get(&srv->claimed, in->type);
	if (!cl)
		return 0;
	struct room *r = NULL;
	if (in->room_problem) {
		refuse_frame(srv, c, "bad_request", in->room_problem, NULL);
		return 1;
	}
	if (!(r = membership_resolve(srv, c, in->room)) && in->room) {
		refuse_not_in_room(srv, c, in);
		return 1;
	}
	struct chatd_frame_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r,
					.type = in->type, .json = in->root };
	int res = cl->fn(CHATD_EV_FRAME, &ev, cl->userdata);
	if (res == CHATD_DENY)
		client_send_error(c, ev.error_code ? ev.error_code : "denied",
				  ev.error_message ? ev.error_message : "request refused", ev.retry_after_ms);
	return 1;
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
		refuse_frame(srv, c, err.code, err.message, err.client_id);
		return;
	}
	if (in.kind != IN_OTHER || strmap_get(&srv->claimed, in.type))
		c->bad_frames = 0; /* an unknown type is refused below and counts, as does not_in_room */
	struct room *r;
	switch (in.kind) {
	case IN_MESSAGE:
		if (in.username)
			rename_client(srv, c, in.username, in.username_len, 0);
		if ((r = membership_resolve(srv, c, in.room)))
			publish_message(srv, c, r, in.text, in.text_len, in.client_id);
		else
			refuse_not_in_room(srv, c, &in);
		break;
	case IN_NICK:
		rename_client(srv, c, in.username, in.username_len, 1);
		break;
	case IN_JOIN:
		membership_request_join(srv, c, in.room, in.since);
		break;
	case IN_LEAVE:
		membership_request_leave(srv, c, in.room);
		break;
	case IN_WHO:
		if ((r = membership_resolve(srv, c, in.room)))
			chat_send_users(srv, c, r);
		else
			refuse_not_in_room(srv, c, &in);
		break;
	case IN_ROOMS:
		roomlist_send(srv, c);
		break;
	case IN_OTHER:
		if (!claimed_frame(srv, c, &in)) {
			char msg[96];
			snprintf(msg, sizeof msg, "unknown frame type '%.40s'", in.type);
			refuse_frame(srv, c, "unknown_type", msg, NULL);
		}
		break;
	}
	inbound_free(&in);
}

void chat_close(struct chatd_server *srv, struct chatd_client *c)
{
	if (c->established)
		membership_leave_all(srv, c, identity_grace_applies(srv, c)); /* LEAVE per room, notices */
	if (c->accepted || c->connect_seen) {
		if (hooks_any(&srv->hooks, CHATD_EV_DISCONNECT)) {
			struct chatd_plain_event ev = { .size = sizeof ev, .client = c, .now_ms = now_ms() };
			hooks_dispatch(&srv->hooks, CHATD_EV_DISCONNECT, &ev);
		}
	}
	identity_detach(srv, c);
	client_gone(c);
}
