#include "publish.h"
#include "client.h"
#include "frame.h"
#include "hooks.h"
#include "log.h"
#include "msgevent.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A message between STORE and fan-out; the chatd_held of the plugin API. */
struct pending {
	struct chatd_server *srv;
	struct chatd_client *sender; /* one reference */
	struct room *room;           /* rooms with messages are never freed */
	int64_t id, ts;
	int holds;
	int failed;
	char *username;
	char *text;
	char client_id[65];
	int notice;                  /* a plugin's notice (no sender, username "") */
};

void publish_to_room(struct chatd_server *srv, struct room *r, struct outbuf *b,
		     const struct chatd_client *except, int flags)
{
	(void)srv;
	/* client_send may close a member (1013) but never removes it from the
	 * room here: removal happens when its socket closes, later. */
	for (size_t i = 0; i < r->count; i++)
		if (r->members[i] != except)
			client_send(r->members[i], b, flags);
}

void publish_system(struct chatd_server *srv, struct room *r, const char *event, const char *username,
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

static void pending_free(struct pending *p)
{
	client_unref(p->sender);
	free(p->username);
	free(p->text);
	free(p);
}

/* Fan the stored (or storage-failed) message out: once encoded for the
 * room, once more for the sender when it gave a client_id. */
static void pending_fanout(struct pending *p)
{
	struct chatd_server *srv = p->srv;
	json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "type", "message", "id", (json_int_t)p->id, "room",
			      p->room->name, "username", p->username, "text", p->text, "ts", (json_int_t)p->ts);
	if (o && p->notice)
		json_object_set_new(o, "notice", json_true());
	struct outbuf *b = o ? json_to_outbuf(o) : NULL;
	if (!b) {
		log_err("out of memory encoding message %lld", (long long)p->id);
		goto done;
	}
	struct chatd_client *sender = p->sender && !p->sender->gone ? p->sender : NULL;
	publish_to_room(srv, p->room, b, sender, CHATD_SEND_NORMAL);
	if (sender) {
		if (p->client_id[0]) {
			json_object_set_new(o, "client_id", json_string(p->client_id));
			struct outbuf *own = json_to_outbuf(o);
			client_send(sender, own, CHATD_SEND_NORMAL);
			outbuf_unref(own);
		} else {
			client_send(sender, b, CHATD_SEND_NORMAL);
		}
		if (p->failed)
			client_send_error(sender, "not_stored",
					  "your message was delivered but could not be stored in history", 0);
	}
	outbuf_unref(b);
done:
	json_decref(o);
	pending_free(p);
}

chatd_held *publish_hold_keep(chatd_held *held)
{
	struct pending *p = (struct pending *)held;
	p->holds++;
	return held;
}

void publish_hold_release(chatd_held *held, int ok)
{
	struct pending *p = (struct pending *)held;
	if (!ok)
		p->failed = 1;
	if (--p->holds == 0)
		pending_fanout(p);
}

/*
 * CHATD_EV_ROUTE: a plugin may take the message over before it gets an id
 * here (the cluster plugin: ids come from Redis, delivery from its order).
 * Returns 1 when taken or refused (nothing more to do here), 0 to go on.
 */
static int route_message(struct chatd_server *srv, struct chatd_client *c, struct room *r, const char *text,
			 size_t len, const char *client_id)
{
	if (!hooks_any(&srv->hooks, CHATD_EV_ROUTE))
		return 0;
	struct chatd_route_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r, .text = text,
					.text_len = len, .client_id = client_id };
	int res = hooks_dispatch(&srv->hooks, CHATD_EV_ROUTE, &ev);
	if (res == CHATD_DENY) {
		client_send_error_for(c, ev.error_code ? ev.error_code : "denied",
				      ev.error_message ? ev.error_message : "message refused", ev.retry_after_ms, client_id);
		return 1;
	}
	return res == CHATD_CONSUMED;
}

int publish_deliver(chatd_room *room, const struct chatd_delivery *d)
{
	struct room *r = (struct room *)room;
	struct chatd_server *srv = r->srv;
	json_t *o = json_object();
	if (!o || json_object_set_new(o, "type", json_string("message")) ||
	    json_object_set_new(o, "id", json_integer(d->id)) || json_object_set_new(o, "room", json_string(r->name)) ||
	    json_object_set_new(o, "username", json_stringn(d->username, d->username_len)) ||
	    json_object_set_new(o, "text", json_stringn(d->text, d->text_len)) ||
	    json_object_set_new(o, "ts", json_integer(d->ts))) {
		json_decref(o);
		return -1;
	}
	if (d->id > r->last_id)
		r->last_id = d->id;
	struct outbuf *b = json_to_outbuf(o);
	if (!b) {
		json_decref(o);
		return -1;
	}
	struct chatd_client *sender = d->sender && !d->sender->gone ? d->sender : NULL;
	publish_to_room(srv, r, b, sender, CHATD_SEND_NORMAL);
	if (sender) {
		if (d->client_id && !json_object_set_new(o, "client_id", json_string(d->client_id))) {
			struct outbuf *own = json_to_outbuf(o);
			client_send(sender, own ? own : b, CHATD_SEND_NORMAL);
			outbuf_unref(own);
		} else {
			client_send(sender, b, CHATD_SEND_NORMAL);
		}
	}
	outbuf_unref(b);
	json_decref(o);
	return 0;
}

int64_t publish_notice(struct chatd_server *srv, struct room *r, const char *text)
{
	if (hooks_any(&srv->hooks, CHATD_EV_ROUTE))
		return CHATD_NOTICE_ROUTED; /* ids come from the routing plugin: not this node's to give */
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return CHATD_TEXT_NOMEM;
	p->srv = srv;
	p->room = r;
	p->notice = 1;
	p->ts = now_ms();
	p->username = strdup("");
	p->text = strdup(text);
	if (!p->username || !p->text) {
		pending_free(p);
		return CHATD_TEXT_NOMEM;
	}
	int64_t id = p->id = ++r->last_id;
	p->holds = 1;
	if (hooks_any(&srv->hooks, CHATD_EV_STORE)) {
		struct chatd_store_event ev = { .size = sizeof ev, .client = NULL, .room = (chatd_room *)r, .id = p->id,
						.ts = p->ts, .username = p->username, .text = p->text,
						.text_len = strlen(p->text), .held = (chatd_held *)p };
		hooks_dispatch(&srv->hooks, CHATD_EV_STORE, &ev);
	}
	publish_hold_release((chatd_held *)p, 1); /* p may be gone now */
	return id;
}

void publish_message(struct chatd_server *srv, struct chatd_client *c, struct room *r, const char *text,
		     size_t len, const char *client_id)
{
	struct msgevent me = { 0 };
	srv->stats.messages_in++;
	if (hooks_any(&srv->hooks, CHATD_EV_MESSAGE)) {
		struct chatd_message_event ev;
		msgevent_init(&ev, &me, srv, c, r, text, len, client_id);
		int res = hooks_dispatch(&srv->hooks, CHATD_EV_MESSAGE, &ev);
		text = ev.text;
		len = ev.text_len;
		if (res != CHATD_OK) { /* denied or consumed: the sender hears of it */
			msgevent_answer(&ev, res);
			goto done;
		}
		if (!roomset_find(&c->rooms, r)) /* a hook moved the client */
			goto done;
	}
	if (route_message(srv, c, r, text, len, client_id))
		goto done; /* a plugin routes it (another node's order), or refused it */
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		goto oom;
	p->srv = srv;
	p->sender = client_ref(c);
	p->room = r;
	p->id = ++r->last_id;
	p->ts = now_ms();
	p->username = strdup(c->name);
	p->text = strndup(text, len);
	if (client_id)
		snprintf(p->client_id, sizeof p->client_id, "%s", client_id);
	if (!p->username || !p->text) {
		pending_free(p);
		goto oom;
	}
	p->holds = 1; /* the core's own, released below */
	if (hooks_any(&srv->hooks, CHATD_EV_STORE)) {
		struct chatd_store_event ev = { .size = sizeof ev, .client = c, .room = (chatd_room *)r, .id = p->id,
						.ts = p->ts, .username = p->username, .text = p->text,
						.text_len = len, .held = (chatd_held *)p };
		hooks_dispatch(&srv->hooks, CHATD_EV_STORE, &ev);
	}
	publish_hold_release((chatd_held *)p, 1);
	goto done;
oom:
	client_send_error_for(c, "internal", "out of memory", 0, client_id);
done:
	msgevent_done(&me);
}
