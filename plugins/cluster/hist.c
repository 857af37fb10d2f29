/*
 * {"type":"history","before":ID,"limit":N} in cluster mode: a page of older
 * messages from the room's stream, answered as the history plugin answers
 * it: {"type":"history","room":R,"messages":[... "history":true],"has_more":B}.
 */
#include "hist.h"
#include "strvec.h"

#include <stdlib.h>
#include <string.h>

#define HISTORY_LIMIT_DEFAULT 50
#define HISTORY_LIMIT_MAX 200

/* A page request waiting for Redis. */
struct page {
	struct cluster *cl;
	chatd_client *client;      /* NULL once it is gone */
	struct cluster_client *owner;
	char room[65];
	struct page *prev, *next;  /* owner->pages */
};

static void page_unlink(struct page *p)
{
	if (!p->owner)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		p->owner->pages = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->owner = NULL;
}

void hist_client_gone(struct cluster *cl, chatd_client *c)
{
	struct cluster_client *cc = *cl->api->client_slot(cl->self, c);
	while (cc && cc->pages) {
		struct page *p = cc->pages;
		p->client = NULL;
		page_unlink(p);
	}
}

static void deny(struct chatd_frame_event *ev, const char *code, const char *message)
{
	ev->error_code = code;
	ev->error_message = message;
}

static void on_page(void *ud, const redisReply *r, const char *err)
{
	struct page *p = ud;
	struct cluster *cl = p->cl;
	const struct chatd_api *api = cl->api;
	chatd_client *c = p->client;
	page_unlink(p);
	if (!c)
		goto done;
	if (err || r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element[2]->type != REDIS_REPLY_ARRAY) {
		api->send_error(c, "unavailable", "the chat store did not answer: history is unavailable right now", 1000);
		goto done;
	}
	const redisReply *rows = r->element[2];
	chatd_frame *f = api->frame_new("history");
	if (!f)
		goto done;
	api->frame_set_str(f, "room", p->room);
	api->frame_push(f, "messages", NULL);
	for (size_t i = 0; i + 5 < rows->elements; i += 6) {
		chatd_frame *m = api->frame_new("message");
		if (!m)
			break;
		api->frame_set_int(m, "id", rows->element[i]->integer);
		api->frame_set_str(m, "room", p->room);
		api->frame_set_str(m, "username", rows->element[i + 2]->str);
		api->frame_set_str(m, "text", rows->element[i + 3]->str);
		api->frame_set_int(m, "ts", rows->element[i + 1]->integer);
		api->frame_set_bool(m, "history", 1);
		api->frame_push(f, "messages", m);
	}
	api->frame_set_bool(f, "has_more", r->element[3]->integer != 0);
	api->send(c, f, CHATD_SEND_NORMAL);
	api->frame_free(f);
done:
	free(p);
}

int hist_frame(int event_id, void *event, void *userdata)
{
	struct chatd_frame_event *ev = event;
	struct cluster *cl = userdata;
	const struct chatd_api *api = cl->api;
	int64_t before = 0, limit = HISTORY_LIMIT_DEFAULT;
	(void)event_id;
	if (!ev->room) {
		deny(ev, "not_in_room", "not in a room");
		return CHATD_DENY;
	}
	int found = api->frame_get_int(ev->json, "before", &before), found_before = found > 0;
	if (found < 0 || (found && before < 1)) {
		deny(ev, "bad_request", "'before' must be a positive integer");
		return CHATD_DENY;
	}
	found = api->frame_get_int(ev->json, "limit", &limit);
	if (found < 0 || (found && (limit < 1 || limit > HISTORY_LIMIT_MAX))) {
		deny(ev, "bad_request", "'limit' must be an integer from 1 to 200");
		return CHATD_DENY;
	}
	if (found_before && before == 1) { /* nothing is older than id 1 */
		chatd_frame *f = api->frame_new("history");
		if (f) {
			api->frame_set_str(f, "room", api->room_name(ev->room));
			api->frame_push(f, "messages", NULL);
			api->frame_set_bool(f, "has_more", 0);
			api->send(ev->client, f, CHATD_SEND_NORMAL);
			api->frame_free(f);
		}
		return CHATD_CONSUMED;
	}
	struct cluster_client *cc = *api->client_slot(cl->self, ev->client);
	struct page *p = cc && redis_cmd_up(cl->redis) ? calloc(1, sizeof *p) : NULL;
	if (!p) {
		deny(ev, "unavailable", "the chat store is not reachable from this server: history is unavailable");
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	p->cl = cl;
	p->client = ev->client;
	strncpy(p->room, api->room_name(ev->room), sizeof p->room - 1);
	struct strvec sv = { 0 };
	strvec_pushz(&sv, "FCALL_RO");
	strvec_pushz(&sv, "chatd_range");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, p->room);
	strvec_pushz(&sv, "0");
	strvec_push_int(&sv, before > 0 ? before - 1 : 0);
	strvec_push_int(&sv, limit);
	strvec_pushz(&sv, "1");
	int rc = sv.oom ? -1 : redis_command(cl->redis, on_page, p, (int)sv.len, sv.v, sv.n);
	strvec_free(&sv);
	if (rc) {
		free(p);
		deny(ev, "unavailable", "the chat store is not reachable from this server: history is unavailable");
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	p->owner = cc;
	p->next = cc->pages;
	if (cc->pages)
		cc->pages->prev = p;
	cc->pages = p;
	api->counter_add(cl->self, "history_requests", 1);
	return CHATD_CONSUMED;
}
