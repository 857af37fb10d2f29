#include "send.h"
#include "strvec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a request Redis did not answer is remembered (a late delivery of
 * it still gets its client_id). */
#define SENDREQ_KEEP_MS 60000
/* The dedup window of chatd_publish, in ids (two generations of it are kept). */
#define DEDUP_WINDOW 1024

struct sendreq {
	struct cluster *cl;
	uint64_t req;
	int refs;                  /* the table's, and the reply's while in flight */
	int in_table;
	chatd_client *client;      /* NULL once it is gone */
	struct cluster_client *owner; /* the client's cluster state (its list of requests) */
	char client_id[65];
	char room[65];
	int64_t failed_ms;         /* Redis did not answer: when (monotonic), 0 while waiting */
	struct sendreq *hnext;     /* hash chain */
	struct sendreq *cprev, *cnext; /* owner's list */
};

/* ---- the table: req -> request ---- */

static size_t slot_of(const struct cluster *cl, uint64_t req) { return (size_t)(req * 0x9e3779b97f4a7c15ULL >> 32) & (cl->nsendslots - 1); }

static int table_grow(struct cluster *cl)
{
	size_t n = cl->nsendslots ? cl->nsendslots * 2 : 256;
	struct sendreq **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	struct sendreq **old = cl->sendslots;
	size_t oldn = cl->nsendslots;
	cl->sendslots = slots;
	cl->nsendslots = n;
	for (size_t i = 0; i < oldn; i++)
		for (struct sendreq *s = old[i], *next; s; s = next) {
			next = s->hnext;
			size_t k = slot_of(cl, s->req);
			s->hnext = slots[k];
			slots[k] = s;
		}
	free(old);
	return 0;
}

static int table_add(struct cluster *cl, struct sendreq *s)
{
	if (cl->nsend >= cl->nsendslots && table_grow(cl))
		return -1;
	size_t k = slot_of(cl, s->req);
	s->hnext = cl->sendslots[k];
	cl->sendslots[k] = s;
	s->in_table = 1;
	cl->nsend++;
	return 0;
}

static void unlink_owner(struct sendreq *s)
{
	struct cluster_client *o = s->owner;
	if (!o)
		return;
	if (s->cprev)
		s->cprev->cnext = s->cnext;
	else
		o->sends = s->cnext;
	if (s->cnext)
		s->cnext->cprev = s->cprev;
	s->cprev = s->cnext = NULL;
	s->owner = NULL;
}

static void table_remove(struct cluster *cl, struct sendreq *s)
{
	if (!s->in_table)
		return;
	for (struct sendreq **p = &cl->sendslots[slot_of(cl, s->req)]; *p; p = &(*p)->hnext)
		if (*p == s) {
			*p = s->hnext;
			break;
		}
	s->in_table = 0;
	cl->nsend--;
	unlink_owner(s);
}

/* Drop n references (the table's, the reply's); the last frees s. */
static void unref_n(struct sendreq *s, int n)
{
	s->refs -= n;
	if (s->refs <= 0)
		free(s);
}

static void unref(struct sendreq *s) { unref_n(s, 1); }

struct sendreq *send_take(struct cluster *cl, uint64_t req)
{
	if (!cl->nsendslots)
		return NULL;
	for (struct sendreq *s = cl->sendslots[slot_of(cl, req)]; s; s = s->hnext)
		if (s->req == req) {
			table_remove(cl, s);
			return s; /* keeps the table's reference until send_done */
		}
	return NULL;
}

chatd_client *send_client(const struct sendreq *s) { return s->client; }
const char *send_client_id(const struct sendreq *s) { return s->client_id[0] ? s->client_id : NULL; }

void send_done(struct cluster *cl, struct sendreq *s)
{
	(void)cl;
	if (s)
		unref(s);
}

void send_client_gone(struct cluster *cl, chatd_client *c)
{
	struct cluster_client *o = *cl->api->client_slot(cl->self, c);
	if (!o)
		return;
	while (o->sends) {
		struct sendreq *s = o->sends;
		s->client = NULL;
		unlink_owner(s);
	}
}

void send_expire(struct cluster *cl)
{
	int64_t now = cl->api->monotonic_ms();
	for (size_t i = 0; i < cl->nsendslots; i++)
		for (struct sendreq **p = &cl->sendslots[i]; *p;) {
			struct sendreq *s = *p;
			if (s->failed_ms && now - s->failed_ms > SENDREQ_KEEP_MS) {
				*p = s->hnext;
				s->in_table = 0;
				cl->nsend--;
				unlink_owner(s);
				unref(s);
			} else {
				p = &s->hnext;
			}
		}
}

void send_free_all(struct cluster *cl)
{
	for (size_t i = 0; i < cl->nsendslots; i++)
		for (struct sendreq *s = cl->sendslots[i], *next; s; s = next) {
			next = s->hnext;
			s->in_table = 0;
			unlink_owner(s);
			unref(s);
		}
	free(cl->sendslots);
	cl->sendslots = NULL;
	cl->nsendslots = cl->nsend = 0;
}

/* ---- frames to the sender ---- */

void send_error_frame(struct cluster *cl, chatd_client *c, const char *code, const char *message,
		      const char *client_id, int retry_after_ms)
{
	const struct chatd_api *api = cl->api;
	if (!c)
		return;
	chatd_frame *f = api->frame_new("error");
	if (!f)
		return;
	api->frame_set_str(f, "code", code);
	api->frame_set_str(f, "message", message);
	if (client_id && client_id[0])
		api->frame_set_str(f, "client_id", client_id);
	if (retry_after_ms > 0)
		api->frame_set_int(f, "retry_after_ms", retry_after_ms);
	api->send(c, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
}

/* A retry of a message Redis already has: its first copy, with the client_id. */
static void send_duplicate(struct cluster *cl, struct sendreq *s, const redisReply *r)
{
	const struct chatd_api *api = cl->api;
	chatd_frame *f;
	if (r->elements >= 5 && r->element[3]->type == REDIS_REPLY_STRING && r->element[4]->type == REDIS_REPLY_STRING) {
		f = api->frame_new("message");
		if (!f)
			return;
		api->frame_set_int(f, "id", r->element[1]->integer);
		api->frame_set_str(f, "room", s->room);
		api->frame_set_str(f, "username", r->element[3]->str);
		api->frame_set_str(f, "text", r->element[4]->str);
		api->frame_set_int(f, "ts", r->element[2]->integer);
	} else { /* no longer kept: say which id it had */
		f = api->frame_new("ack");
		if (!f)
			return;
		api->frame_set_str(f, "room", s->room);
		api->frame_set_int(f, "id", r->element[1]->integer);
	}
	api->frame_set_str(f, "client_id", s->client_id);
	api->frame_set_bool(f, "duplicate", 1);
	api->send(s->client, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
}

static void on_publish(void *ud, const redisReply *r, const char *err)
{
	struct sendreq *s = ud;
	struct cluster *cl = s->cl;
	if (!s->in_table) { /* delivered (or expired) already: nothing more to say */
		unref(s);
		return;
	}
	if (err) {
		/* Redis may or may not have run it: keep the request (a late
		 * delivery still gets its client_id); the client may retry with the
		 * same client_id without making a second message */
		s->failed_ms = cl->api->monotonic_ms();
		send_error_frame(cl, s->client, "unavailable",
				 "the chat store did not answer; the message may not have been sent: send it again "
				 "with the same client_id",
				 s->client_id, 1000);
		cl->api->counter_add(cl->self, "send_unavailable", 1);
		unref(s);
		return;
	}
	const char *kind = r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->type == REDIS_REPLY_STRING
				   ? r->element[0]->str : "";
	if (!strcmp(kind, "ok")) {
		unref(s); /* the delivery acknowledges it */
		return;
	}
	table_remove(cl, s);
	if (!strcmp(kind, "dup") && r->elements >= 2) {
		if (s->client)
			send_duplicate(cl, s, r);
		cl->api->counter_add(cl->self, "send_duplicates", 1);
	} else if (!strcmp(kind, "rate_limited") && r->elements >= 2) {
		int wait = r->element[1]->integer > 60000 ? 60000 : (int)r->element[1]->integer;
		send_error_frame(cl, s->client, "rate_limited", "too many messages from your address: slow down",
				 s->client_id, wait < 1 ? 1 : wait);
		cl->api->counter_add(cl->self, "send_rate_limited", 1);
	} else if (!strcmp(kind, "fenced")) {
		send_error_frame(cl, s->client, "unavailable", "this server is rejoining the chat: reconnect",
				 s->client_id, 1000);
		node_fenced(cl, "a write was refused");
	} else {
		CLOG(cl, CHATD_LOG_ERR, "chatd_publish: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		send_error_frame(cl, s->client, "internal", "the message could not be stored", s->client_id, 0);
	}
	unref_n(s, 2); /* the table's and the reply's */
}

int send_route(struct cluster *cl, struct chatd_route_event *ev)
{
	const struct chatd_api *api = cl->api;
	struct cluster_client *o = *api->client_slot(cl->self, ev->client);
	if (!redis_cmd_up(cl->redis) || !cl->registered || !o) {
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server right now: send it again shortly";
		ev->retry_after_ms = 1000;
		api->counter_add(cl->self, "send_unavailable", 1);
		return CHATD_DENY;
	}
	if (cl->nsend >= (size_t)cl->opt.max_requests) {
		ev->error_code = "unavailable";
		ev->error_message = "this server has too many messages waiting for the chat store: send it again shortly";
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	struct sendreq *s = calloc(1, sizeof *s);
	if (!s) {
		ev->error_code = "internal";
		ev->error_message = "out of memory";
		return CHATD_DENY;
	}
	s->cl = cl;
	s->req = ++cl->next_req;
	s->client = ev->client;
	s->refs = 2;
	if (ev->client_id)
		snprintf(s->client_id, sizeof s->client_id, "%s", ev->client_id);
	snprintf(s->room, sizeof s->room, "%s", api->room_name(ev->room));
	char dkey[160] = "";
	if (s->client_id[0])
		snprintf(dkey, sizeof dkey, "%s/%" PRIu64 "/%s", cl->node_id, api->client_id(ev->client), s->client_id);
	struct strvec sv = { 0 };
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_publish");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	strvec_pushz(&sv, s->room);
	strvec_push_int(&sv, (int64_t)s->req);
	strvec_pushz(&sv, api->client_name(ev->client));
	strvec_push(&sv, ev->text, ev->text_len);
	strvec_pushz(&sv, dkey);
	strvec_pushz(&sv, api->client_address(ev->client));
	strvec_push_int(&sv, cl->opt.address_rate);
	strvec_push_int(&sv, cl->opt.address_burst);
	strvec_push_int(&sv, cl->opt.retention);
	strvec_push_int(&sv, DEDUP_WINDOW);
	int rc = sv.oom || table_add(cl, s) ? -1 : redis_command(cl->redis, on_publish, s, (int)sv.len, sv.v, sv.n);
	strvec_free(&sv);
	if (rc) {
		table_remove(cl, s);
		free(s);
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server right now: send it again shortly";
		ev->retry_after_ms = 1000;
		api->counter_add(cl->self, "send_unavailable", 1);
		return CHATD_DENY;
	}
	s->owner = o;
	s->cnext = o->sends;
	if (o->sends)
		o->sends->cprev = s;
	o->sends = s;
	api->counter_add(cl->self, "sent", 1);
	return CHATD_CONSUMED;
}
