/*
 * Private messages in cluster mode. Every private message (privmsg's
 * "/msg NAME text" and {"type":"private"} frames, both through the core's
 * api->private_send) is taken over at CHATD_EV_PRIVATE (LATE: after every
 * filter) and handed to chatd_dm in Redis, which gives it the next id of
 * the cluster's one counter and publishes it on the channel of every other
 * node where the receiver or the sender holds the name (their other tabs).
 * Each node, this one from chatd_dm's answer, delivers
 *   {"type":"private","id":N,"from":"Alice","to":"Bob","text":"hi","ts":...}
 * to every connection it has of both people, the sending connection with
 * the message's client_id (its echo); or the sender gets no_such_user when
 * nobody holds the name anywhere, unavailable when Redis does not answer.
 */
#include "dm.h"
#include "send.h"
#include "strvec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_BYTES 128

/* A private message waiting for Redis. */
struct dm {
	struct cluster *cl;
	chatd_client *client;      /* NULL once it is gone */
	struct cluster_client *owner;
	char from[NAME_MAX_BYTES + 1];
	char from_fold[2 * NAME_MAX_BYTES + 1];
	char to[NAME_MAX_BYTES + 1];
	char to_fold[2 * NAME_MAX_BYTES + 1];
	char client_id[65];        /* the message's, for the sender's echo ("" when none) */
	char *text;
	struct dm *prev, *next;    /* owner->dms */
};

static void dm_unlink(struct dm *d)
{
	if (!d->owner)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		d->owner->dms = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->owner = NULL;
}

void dm_client_gone(struct cluster *cl, chatd_client *c)
{
	struct cluster_client *cc = *cl->api->client_slot(cl->self, c);
	while (cc && cc->dms) {
		struct dm *d = cc->dms;
		d->client = NULL;
		dm_unlink(d);
	}
}

static chatd_frame *private_frame(const struct chatd_api *api, int64_t id, const char *from, const char *to,
				  const char *text, int64_t ts)
{
	chatd_frame *f = api->frame_new("private");
	if (!f)
		return NULL;
	api->frame_set_int(f, "id", id);
	api->frame_set_str(f, "from", from);
	api->frame_set_str(f, "to", to);
	api->frame_set_str(f, "text", text);
	api->frame_set_int(f, "ts", ts);
	return f;
}

/* Append the connections here of the person holding `fold` to *v (n used,
 * cap allocated), each once. Returns -1 when out of memory. */
static int add_person(const struct chatd_api *api, struct cluster *cl, const char *fold, chatd_client ***v, size_t *n,
		      size_t *cap)
{
	chatd_client *c = fold[0] ? api->client_find(cl->self, fold) : NULL;
	if (!c)
		return 0;
	size_t total = api->client_person_clients(c, NULL, 0);
	if (*n + total > *cap) {
		size_t want = *n + total + 8;
		chatd_client **nv = realloc(*v, want * sizeof *nv);
		if (!nv)
			return -1;
		*v = nv;
		*cap = want;
	}
	chatd_client **mine = *v + *n;
	size_t got = api->client_person_clients(c, mine, total);
	if (got > total)
		got = total;
	for (size_t i = 0; i < got; i++) {
		int seen = 0;
		for (size_t j = 0; j < *n && !seen; j++)
			seen = (*v)[j] == mine[i];
		if (!seen)
			(*v)[(*n)++] = mine[i];
	}
	return 0;
}

/* Deliver a private message to every connection this node has of the
 * receiver (to_fold) and of the sender (from_fold); `sender` (may be NULL)
 * gets the copy with client_id. */
static void fanout(struct cluster *cl, int64_t id, int64_t ts, const char *from, const char *to, const char *text,
		   const char *to_fold, const char *from_fold, chatd_client *sender, const char *client_id)
{
	const struct chatd_api *api = cl->api;
	chatd_client **v = NULL;
	size_t n = 0, cap = 0;
	if (add_person(api, cl, to_fold, &v, &n, &cap) || add_person(api, cl, from_fold, &v, &n, &cap)) {
		CLOG(cl, CHATD_LOG_ERR, "private message %lld: out of memory", (long long)id);
		free(v);
		return;
	}
	chatd_frame *f = private_frame(api, id, from, to, text, ts);
	chatd_frame *own = sender && client_id && client_id[0] ? private_frame(api, id, from, to, text, ts) : NULL;
	if (own)
		api->frame_set_str(own, "client_id", client_id);
	int sender_done = 0;
	for (size_t i = 0; f && i < n; i++) {
		int is_sender = v[i] == sender;
		sender_done |= is_sender;
		api->send(v[i], is_sender && own ? own : f, CHATD_SEND_NORMAL);
	}
	if (f && sender && !sender_done) /* renamed meanwhile: its echo still */
		api->send(sender, own ? own : f, CHATD_SEND_NORMAL);
	if (f)
		api->frame_free(f);
	if (own)
		api->frame_free(own);
	free(v);
}

static void on_dm(void *ud, const redisReply *r, const char *err)
{
	struct dm *d = ud;
	struct cluster *cl = d->cl;
	const struct chatd_api *api = cl->api;
	chatd_client *c = d->client;
	dm_unlink(d);
	const char *kind = !err && r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->type == REDIS_REPLY_STRING
				   ? r->element[0]->str : "";
	if (!strcmp(kind, "ok") && r->elements >= 4 && r->element[1]->type == REDIS_REPLY_STRING) {
		/* the other nodes got it from Redis; this node delivers its own share */
		fanout(cl, r->element[2]->integer, r->element[3]->integer, d->from, r->element[1]->str, d->text,
		       d->to_fold, d->from_fold, c, d->client_id);
		api->counter_add(cl->self, "dm_sent", 1);
	} else if (!c) {
		/* the sender went: nobody to answer */
	} else if (!strcmp(kind, "none")) {
		char msg[NAME_MAX_BYTES + 64];
		snprintf(msg, sizeof msg, "no user named %s is connected", d->to);
		send_error_frame(cl, c, "no_such_user", msg, d->client_id, 0);
	} else {
		if (!strcmp(kind, "fenced"))
			node_fenced(cl, "a private message was refused");
		send_error_frame(cl, c, "unavailable", "the chat store did not answer: the private message was not sent",
			      d->client_id, 1000);
	}
	free(d->text);
	free(d);
}

int dm_private(int event_id, void *event, void *userdata)
{
	struct chatd_private_event *ev = event;
	struct cluster *cl = userdata;
	const struct chatd_api *api = cl->api;
	(void)event_id;
	struct cluster_client *cc = *api->client_slot(cl->self, ev->client);
	struct dm *d = cc && redis_cmd_up(cl->redis) && cl->registered ? calloc(1, sizeof *d) : NULL;
	if (!d || !(d->text = strdup(ev->text))) {
		free(d);
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server: the private message was not sent";
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	d->cl = cl;
	d->client = ev->client;
	snprintf(d->from, sizeof d->from, "%s", api->client_name(ev->client));
	api->name_fold(d->from, d->from_fold, sizeof d->from_fold);
	snprintf(d->to, sizeof d->to, "%s", ev->to);
	api->name_fold(d->to, d->to_fold, sizeof d->to_fold);
	if (ev->client_id)
		snprintf(d->client_id, sizeof d->client_id, "%s", ev->client_id);
	struct strvec sv = { 0 };
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_dm");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	strvec_pushz(&sv, d->to_fold);
	strvec_pushz(&sv, d->from_fold);
	strvec_pushz(&sv, d->from);
	strvec_pushz(&sv, d->text);
	int rc = sv.oom ? -1 : redis_command(cl->redis, on_dm, d, (int)sv.len, sv.v, sv.n);
	strvec_free(&sv);
	if (rc) {
		free(d->text);
		free(d);
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server: the private message was not sent";
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	d->owner = cc;
	d->next = cc->dms;
	if (cc->dms)
		cc->dms->prev = d;
	cc->dms = d;
	return CHATD_CONSUMED;
}

/* Up to n '\n'-terminated fields of at most fsz - 1 bytes from *p (< end),
 * into f; advances *p. Returns 0, or -1 when malformed. */
static int fields(const char **p, const char *end, char (*f)[2 * NAME_MAX_BYTES + 1], int n)
{
	for (int i = 0; i < n; i++) {
		const char *nl = memchr(*p, '\n', (size_t)(end - *p));
		if (!nl || (size_t)(nl - *p) >= sizeof f[i])
			return -1;
		memcpy(f[i], *p, (size_t)(nl - *p));
		f[i][nl - *p] = 0;
		*p = nl + 1;
	}
	return 0;
}

/* "d\n<id>\n<ts>\n<to fold>\n<from fold>\n<from len>\n<to len>\n<from><to><text>"
 * on this node's channel (chatd_dm). */
void dm_deliver(struct cluster *cl, const char *data, size_t len)
{
	const char *p = data + 2, *end = data + len;
	char field[6][2 * NAME_MAX_BYTES + 1];
	if (len < 3 || fields(&p, end, field, 6))
		return;
	size_t flen = (size_t)strtoull(field[4], NULL, 10), tlen = (size_t)strtoull(field[5], NULL, 10);
	if (flen > NAME_MAX_BYTES || tlen > NAME_MAX_BYTES || flen + tlen > (size_t)(end - p))
		return;
	char from[NAME_MAX_BYTES + 1], to[NAME_MAX_BYTES + 1];
	memcpy(from, p, flen);
	from[flen] = 0;
	memcpy(to, p + flen, tlen);
	to[tlen] = 0;
	char *text = strndup(p + flen + tlen, (size_t)(end - p) - flen - tlen);
	if (text)
		fanout(cl, strtoll(field[0], NULL, 10), strtoll(field[1], NULL, 10), from, to, text, field[2], field[3],
		       NULL, NULL);
	free(text);
}
