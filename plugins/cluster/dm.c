/*
 * Private messages across nodes. The privmsg plugin delivers "/msg NAME
 * text" to a NAME connected to this node; when NAME is not here, this hook
 * (just before privmsg's) takes the message and hands it to chatd_dm, which
 * publishes it on the channel of every node where NAME has a connection.
 * Those nodes deliver it as privmsg would:
 *   {"type":"private","id":N,"from":"Alice","to":"Bob","text":"hi","ts":...}
 * and the sender gets the same frame back (its echo, with the message's
 * client_id; the core acks the consumed message at once), or the error
 * no_such_user when nobody holds the name anywhere. Ids of private messages
 * come from Redis (one counter for the cluster).
 */
#include "dm.h"
#include "strvec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_BYTES 128

/* A /msg waiting for Redis. */
struct dm {
	struct cluster *cl;
	chatd_client *client;      /* NULL once it is gone */
	struct cluster_client *owner;
	char from[NAME_MAX_BYTES + 1];
	char to[NAME_MAX_BYTES + 1];
	char client_id[65];        /* the message's, for the sender's echo ("" when none) */
	char *text;
	struct dm *prev, *next;    /* owner->dms */
};

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* "/msg NAME text" or "/w NAME text" (NAME may be "quoted"): name and text
 * (pointers into s). Returns 0, or -1 when s is something else or malformed
 * (privmsg then explains). */
static int parse(const char *s, const char **name, size_t *nlen, const char **text)
{
	size_t w = !strncasecmp(s, "/msg", 4) ? 4 : !strncasecmp(s, "/w", 2) ? 2 : 0;
	if (!w || !is_space(s[w]))
		return -1;
	s += w;
	while (is_space(*s))
		s++;
	if (*s == '"') {
		const char *close = strchr(s + 1, '"');
		if (!close)
			return -1;
		*name = s + 1;
		*nlen = (size_t)(close - s - 1);
		s = close + 1;
	} else {
		*name = s;
		while (*s && !is_space(*s))
			s++;
		*nlen = (size_t)(s - *name);
	}
	while (is_space(*s))
		s++;
	*text = s;
	return *nlen && *nlen <= NAME_MAX_BYTES && *s ? 0 : -1;
}

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

static void on_dm(void *ud, const redisReply *r, const char *err)
{
	struct dm *d = ud;
	struct cluster *cl = d->cl;
	const struct chatd_api *api = cl->api;
	chatd_client *c = d->client;
	dm_unlink(d);
	const char *kind = !err && r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->type == REDIS_REPLY_STRING
				   ? r->element[0]->str : "";
	if (!c) {
		/* the sender went: nobody to answer */
	} else if (!strcmp(kind, "ok") && r->elements >= 4 && r->element[1]->type == REDIS_REPLY_STRING) {
		chatd_frame *f = private_frame(api, r->element[2]->integer, d->from, r->element[1]->str, d->text,
					       r->element[3]->integer);
		if (f) { /* the sender's echo, with its client_id as privmsg's */
			if (d->client_id[0])
				api->frame_set_str(f, "client_id", d->client_id);
			api->send(c, f, CHATD_SEND_NORMAL);
			api->frame_free(f);
		}
		api->counter_add(cl->self, "dm_sent", 1);
	} else if (!strcmp(kind, "none")) {
		char msg[NAME_MAX_BYTES + 64];
		snprintf(msg, sizeof msg, "no user named %s is connected", d->to);
		api->send_error(c, "no_such_user", msg, 0);
	} else {
		if (!strcmp(kind, "fenced"))
			node_fenced(cl, "a private message was refused");
		api->send_error(c, "unavailable", "the chat store did not answer: the private message was not sent", 1000);
	}
	free(d->text);
	free(d);
}

int dm_message(int event_id, void *event, void *userdata)
{
	struct chatd_message_event *ev = event;
	struct cluster *cl = userdata;
	const struct chatd_api *api = cl->api;
	const char *name, *text;
	size_t nlen;
	char target[NAME_MAX_BYTES + 1];
	(void)event_id;
	if (ev->text[0] != '/' || parse(ev->text, &name, &nlen, &text))
		return CHATD_OK;
	memcpy(target, name, nlen);
	target[nlen] = 0;
	if (api->client_find(cl->self, target))
		return CHATD_OK; /* here: privmsg delivers it */
	struct cluster_client *cc = *api->client_slot(cl->self, ev->client);
	struct dm *d = cc && redis_cmd_up(cl->redis) && cl->registered ? calloc(1, sizeof *d) : NULL;
	if (!d || !(d->text = strdup(text))) {
		free(d);
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server: the private message was not sent";
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	d->cl = cl;
	d->client = ev->client;
	snprintf(d->from, sizeof d->from, "%s", api->client_name(ev->client));
	snprintf(d->to, sizeof d->to, "%s", target);
	if (ev->client_id)
		snprintf(d->client_id, sizeof d->client_id, "%s", ev->client_id);
	char fold[2 * NAME_MAX_BYTES + 1];
	api->name_fold(target, fold, sizeof fold);
	struct strvec sv = { 0 };
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_dm");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	strvec_pushz(&sv, fold);
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

/* "d\n<id>\n<ts>\n<fold>\n<from len>\n<from><text>" on this node's channel. */
void dm_deliver(struct cluster *cl, const char *data, size_t len)
{
	const struct chatd_api *api = cl->api;
	const char *p = data + 2, *end = data + len;
	char field[4][NAME_MAX_BYTES * 2 + 1];
	if (len < 3)
		return;
	for (int i = 0; i < 4; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || (size_t)(nl - p) >= sizeof field[i])
			return;
		memcpy(field[i], p, (size_t)(nl - p));
		field[i][nl - p] = 0;
		p = nl + 1;
	}
	size_t flen = (size_t)strtoull(field[3], NULL, 10);
	if (flen > NAME_MAX_BYTES || flen > (size_t)(end - p))
		return;
	char from[NAME_MAX_BYTES + 1];
	memcpy(from, p, flen);
	from[flen] = 0;
	char *text = strndup(p + flen, (size_t)(end - p) - flen);
	chatd_client *to = text ? api->client_find(cl->self, field[2]) : NULL;
	if (to) {
		chatd_frame *f = private_frame(api, strtoll(field[0], NULL, 10), from, api->client_name(to), text,
					       strtoll(field[1], NULL, 10));
		if (f) {
			api->send(to, f, CHATD_SEND_NORMAL);
			api->frame_free(f);
		}
	}
	free(text);
}
