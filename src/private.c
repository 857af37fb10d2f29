#include "private.h"
#include "client.h"
#include "frame.h"
#include "hooks.h"
#include "identity.h"
#include "message.h"
#include "msgevent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* chatd_private_event.core_private: the text a hook set (owned). */
struct private_core {
	struct chatd_server *srv;
	char *own_text;
};

int private_set_text(struct chatd_private_event *ev, const char *text)
{
	struct private_core *pc = ev->core_private;
	struct inbound_error err;
	if (!text)
		return CHATD_TEXT_INVALID;
	size_t len = strlen(text);
	if (len > pc->srv->cfg.max_message_bytes)
		return CHATD_TEXT_TOO_LARGE;
	if (!utf8_valid(text, len))
		return CHATD_TEXT_INVALID;
	int r = message_text_check(text, len, pc->srv->cfg.max_message_bytes, &err);
	if (r)
		return r;
	char *copy = strdup(text);
	if (!copy)
		return CHATD_TEXT_NOMEM;
	free(pc->own_text);
	pc->own_text = copy;
	ev->text = copy;
	ev->text_len = len;
	return CHATD_TEXT_OK;
}

/* Refuse req with code and message (static or srv->private_error). */
static int refuse(struct chatd_private_request *req, const char *code, const char *message)
{
	req->error_code = code;
	req->error_message = message;
	return CHATD_DENY;
}

/* Queue b to every connection of p, the sender's own connection `from`
 * getting own instead. */
static void send_to_person(struct person *p, struct chatd_client *from, struct outbuf *b, struct outbuf *own)
{
	for (size_t i = 0; i < p->nconns; i++)
		client_send(p->conns[i], p->conns[i] == from ? own : b, CHATD_SEND_NORMAL);
}

/* The private frame of ev, encoded once for everybody and once more with
 * the client_id for the sender's connection; to every connection of both
 * (the receiver `to`, which has none while it is away for a moment). */
static int deliver(struct chatd_private_event *ev, struct person *to, int64_t id)
{
	struct chatd_client *from = ev->client;
	json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:I}", "type", "private", "id", (json_int_t)id, "from", from->name,
			      "to", to->name, "text", ev->text, "ts", (json_int_t)ev->ts);
	struct outbuf *b = o ? json_to_outbuf(o) : NULL, *own = NULL;
	if (b && ev->client_id) {
		json_object_set_new(o, "client_id", json_string(ev->client_id));
		own = json_to_outbuf(o);
	}
	json_decref(o);
	if (!b || (ev->client_id && !own)) {
		outbuf_unref(b);
		return -1;
	}
	send_to_person(to, from, b, own ? own : b);
	if (from->person != to)
		send_to_person(from->person, from, b, own ? own : b);
	outbuf_unref(b);
	outbuf_unref(own);
	return 0;
}

/* p's latest connection that is not closing (NULL: none, or p NULL): a
 * receiver that is only closing is nobody to deliver to, and a storage hook
 * must not keep a message the sender is told was not delivered. */
static struct chatd_client *live_connection(struct person *p)
{
	for (size_t i = p ? p->nconns : 0; i-- > 0;)
		if (!p->conns[i]->closing && !p->conns[i]->gone)
			return p->conns[i];
	return NULL;
}

/* The session of p in hex (into out, 2 * SHA256_BYTES + 1 bytes) when p is
 * away for a moment: no connection, its name kept for its session
 * (presence_grace_ms: a reload). NULL otherwise. */
static const char *away_session(const struct person *p, char *out)
{
	if (!p || p->nconns || !p->has_session)
		return NULL;
	for (size_t i = 0; i < SHA256_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", p->session[i]);
	return out;
}

int private_send(struct chatd_private_request *req)
{
	struct chatd_client *from = req->from;
	struct chatd_server *srv = from->srv;
	struct inbound_error err;
	req->error_code = req->error_message = NULL;
	req->retry_after_ms = 0;
	req->id = 0;
	if (from->gone || from->closing || !from->person)
		return refuse(req, "internal", "the sender is not connected");
	size_t len = req->text ? strlen(req->text) : 0;
	if (!req->text || !utf8_valid(req->text, len))
		return refuse(req, "bad_request", "the text must be valid UTF-8");
	switch (message_text_check(req->text, len, srv->cfg.max_message_bytes, &err)) {
	case CHATD_TEXT_OK:
		break;
	case CHATD_TEXT_TOO_LARGE:
		snprintf(srv->private_error, sizeof srv->private_error, "%s", err.message);
		return refuse(req, "too_large", srv->private_error);
	default:
		snprintf(srv->private_error, sizeof srv->private_error, "%s", err.message);
		return refuse(req, "bad_request", srv->private_error);
	}
	const char *client_id = req->client_id && req->client_id[0] ? req->client_id : NULL;
	if (client_id && strlen(client_id) > CLIENT_ID_MAX)
		return refuse(req, "bad_request", "'client_id' is longer than 64 bytes");
	if (!req->to || !req->to[0])
		return refuse(req, "bad_request", "whom to? the receiver's name is missing");
	struct person *p = strlen(req->to) <= NICK_MAX_BYTES * 2 ? identity_find(srv, req->to) : NULL;
	struct chatd_client *target = live_connection(p);
	char away_hex[2 * SHA256_BYTES + 1];
	struct private_core pc = { srv, NULL };
	struct chatd_private_event ev = { .size = sizeof ev, .client = from, .to = p ? p->name : req->to,
					  .target = target, .text = req->text, .text_len = len,
					  .client_id = client_id, .ts = now_ms(), .core_private = &pc,
					  .message = req->answering, .to_session = away_session(p, away_hex) };
	int res = hooks_any(&srv->hooks, CHATD_EV_PRIVATE) ? hooks_dispatch(&srv->hooks, CHATD_EV_PRIVATE, &ev)
							   : CHATD_OK;
	if (res == CHATD_DENY) {
		req->retry_after_ms = ev.retry_after_ms;
		res = refuse(req, ev.error_code ? ev.error_code : "denied",
			     ev.error_message ? ev.error_message : "private message refused");
		goto done;
	}
	if (res == CHATD_CONSUMED)
		goto done;
	/* a receiver away for a moment: delivered only when a storage plugin kept
	 * it for that session (it set the id); the receiver reads it back */
	int kept = !target && ev.to_session && ev.id > 0;
	if ((!target && !kept) || (target && (target->closing || target->gone)) || from->closing || from->gone) {
		size_t shown = strlen(req->to) > 64 ? 64 : strlen(req->to);
		while (shown && shown < strlen(req->to) && ((unsigned char)req->to[shown] & 0xc0) == 0x80)
			shown--; /* on a character boundary */
		snprintf(srv->private_error, sizeof srv->private_error, "no user named %.*s%s is connected",
			 (int)shown, req->to, shown < strlen(req->to) ? "..." : "");
		res = refuse(req, "no_such_user", srv->private_error);
		goto done;
	}
	if (ev.id > srv->private_last_id)
		srv->private_last_id = ev.id; /* a storage plugin gave it (ids go on from its own) */
	else
		ev.id = ++srv->private_last_id;
	if (deliver(&ev, p, ev.id)) {
		res = refuse(req, "internal", "out of memory");
		goto done;
	}
	req->id = ev.id;
	if (req->answering) /* the sender's copy carries the message's client_id: no ack */
		msgevent_mark_answered(req->answering);
	res = CHATD_OK;
done:
	free(pc.own_text);
	return res;
}
