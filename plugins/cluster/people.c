#include "people.h"
#include "croom.h"
#include "strvec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- replies that only need checking ---- */

static void on_write(void *ud, const redisReply *r, const char *err)
{
	struct cluster *cl = ud;
	if (err) {
		cl->resync_due = 1;
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->type == REDIS_REPLY_STRING &&
	    !strcmp(r->element[0]->str, "fenced"))
		node_fenced(cl, "a write was refused");
	else if (r->type == REDIS_REPLY_ERROR)
		CLOG(cl, CHATD_LOG_ERR, "redis: %s", r->str);
}

static void call(struct cluster *cl, struct strvec *sv)
{
	if (sv->oom || !redis_cmd_up(cl->redis) || !cl->registered ||
	    redis_command(cl->redis, on_write, cl, (int)sv->len, sv->v, sv->n))
		cl->resync_due = 1;
}

void presence_send(struct cluster *cl, char op, const char *fold, const char *display, const char *old_fold,
		   const char *room)
{
	struct strvec sv = { 0 };
	char o[2] = { op, 0 };
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_presence");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	strvec_pushz(&sv, o);
	strvec_pushz(&sv, fold);
	strvec_pushz(&sv, display);
	strvec_pushz(&sv, old_fold ? old_fold : "");
	strvec_pushz(&sv, room);
	call(cl, &sv);
	strvec_free(&sv);
}

/* ---- names ---- */

/* A name this node's connections hold, with how many of them. */
struct held_name {
	char *owner, *display;
	int64_t count;
};

static void held_free(struct held_name *h)
{
	free(h->owner);
	free(h->display);
	free(h);
}

/* One more connection here holds fold (display, owner). */
static void held_add(struct cluster *cl, const char *fold, const char *display, const char *owner)
{
	struct held_name *h = strmap_get(&cl->names, fold);
	if (!h) {
		if (!(h = calloc(1, sizeof *h)) || !(h->owner = strdup(owner)) || !(h->display = strdup(display)) ||
		    strmap_put(&cl->names, fold, h)) {
			if (h)
				held_free(h);
			cl->resync_due = 1; /* Redis holds it; the resync states it again */
			return;
		}
	}
	h->count++;
}

/* One connection fewer holds fold. */
static void held_drop(struct cluster *cl, const char *fold)
{
	struct held_name *h = strmap_get(&cl->names, fold);
	if (h && --h->count <= 0)
		held_free(strmap_del(&cl->names, fold));
}

void names_forget_all(struct cluster *cl)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->names, &pos, NULL, &v))
		held_free(v);
	strmap_free(&cl->names);
	strmap_init(&cl->names);
}

/* A claim waiting for Redis. */
struct claim {
	struct cluster *cl;
	chatd_pending *pending;
	char owner[160];
	char old_fold[260];
	char **folds, **names;     /* copies of the candidates */
	int count;
};

static void claim_free(struct claim *k)
{
	for (int i = 0; i < k->count; i++) {
		free(k->folds[i]);
		free(k->names[i]);
	}
	free(k->folds);
	free(k->names);
	free(k);
}

static void release_fold(struct cluster *cl, const char *fold)
{
	struct strvec sv = { 0 };
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_release");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	strvec_pushz(&sv, fold);
	call(cl, &sv);
	strvec_free(&sv);
}

static void on_claim(void *ud, const redisReply *r, const char *err)
{
	struct claim *k = ud;
	struct cluster *cl = k->cl;
	const struct chatd_api *api = cl->api;
	const char *kind = !err && r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->type == REDIS_REPLY_STRING
				   ? r->element[0]->str : "";
	if (!strcmp(kind, "ok") && r->elements >= 2 && r->element[1]->integer >= 0 && r->element[1]->integer < k->count) {
		int i = (int)r->element[1]->integer;
		const char *spelling = r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str
												     : NULL;
		/* Redis moved this node's hold off old_fold and onto folds[i] */
		if (k->old_fold[0] && strcmp(k->old_fold, k->folds[i]))
			held_drop(cl, k->old_fold);
		if (strcmp(k->old_fold, k->folds[i]))
			held_add(cl, k->folds[i], spelling ? spelling : k->names[i], k->owner);
		if (!api->pending_release(k->pending, i, NULL, spelling, 0)) {
			/* the connection went meanwhile: nobody holds the name */
			held_drop(cl, k->folds[i]);
			release_fold(cl, k->folds[i]);
		}
	} else if (!strcmp(kind, "taken")) {
		api->pending_release(k->pending, -1, "name_taken", "every name tried is taken: pick another one", 0);
	} else {
		if (!strcmp(kind, "fenced"))
			node_fenced(cl, "a name claim was refused");
		else if (!err)
			CLOG(cl, CHATD_LOG_ERR, "chatd_claim: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		api->pending_release(k->pending, -1, "unavailable",
				     "the chat store did not answer: names cannot be checked right now", 1000);
	}
	claim_free(k);
}

int names_claim(struct cluster *cl, struct chatd_name_claim_event *ev)
{
	const struct chatd_api *api = cl->api;
	if (!redis_cmd_up(cl->redis) || !cl->registered) {
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server: names cannot be checked right now";
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	struct claim *k = calloc(1, sizeof *k);
	struct strvec sv = { 0 };
	if (!k)
		goto oom;
	k->cl = cl;
	k->folds = calloc((size_t)ev->count + 1, sizeof *k->folds);
	k->names = calloc((size_t)ev->count + 1, sizeof *k->names);
	if (!k->folds || !k->names)
		goto oom;
	if (ev->owner && ev->owner[0])
		snprintf(k->owner, sizeof k->owner, "s:%s", ev->owner);
	else
		snprintf(k->owner, sizeof k->owner, "c:%s/%" PRIu64, cl->node_id, api->client_id(ev->client));
	snprintf(k->old_fold, sizeof k->old_fold, "%s", ev->old_fold ? ev->old_fold : "");
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_claim");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	strvec_pushz(&sv, k->owner);
	strvec_pushz(&sv, k->old_fold);
	for (int i = 0; i < ev->count; i++) {
		if (!(k->folds[i] = strdup(ev->folds[i])) || !(k->names[i] = strdup(ev->names[i])))
			goto oom;
		k->count = i + 1;
		strvec_pushz(&sv, k->folds[i]);
		strvec_pushz(&sv, k->names[i]);
	}
	if (sv.oom)
		goto oom;
	if (redis_command(cl->redis, on_claim, k, (int)sv.len, sv.v, sv.n)) {
		strvec_free(&sv);
		claim_free(k);
		ev->error_code = "unavailable";
		ev->error_message = "the chat store is not reachable from this server: names cannot be checked right now";
		ev->retry_after_ms = 1000;
		return CHATD_DENY;
	}
	strvec_free(&sv);
	k->pending = api->pending_keep(ev->pending);
	return CHATD_HOLD;
oom:
	strvec_free(&sv);
	if (k)
		claim_free(k);
	ev->error_code = "internal";
	ev->error_message = "out of memory";
	return CHATD_DENY;
}

void names_release(struct cluster *cl, const char *fold)
{
	if (!fold || !fold[0] || !strmap_get(&cl->names, fold))
		return;
	held_drop(cl, fold);
	release_fold(cl, fold);
}

/* ---- after a reconnect ---- */

void people_resync(struct cluster *cl)
{
	struct strvec sv = { 0 };
	cl->resync_due = 0;
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_resync");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	croom_local_people(cl, &sv);
	call(cl, &sv);
	strvec_free(&sv);

	/* names: one entry per name, with how many of this node's connections hold it */
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_names_resync");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cl->node_id);
	size_t pos = 0;
	const char *fold;
	void *v;
	while (strmap_next(&cl->names, &pos, &fold, &v)) {
		struct held_name *h = v;
		strvec_pushz(&sv, fold);
		strvec_pushz(&sv, h->owner);
		strvec_pushz(&sv, h->display);
		strvec_push_int(&sv, h->count);
	}
	call(cl, &sv);
	strvec_free(&sv);
}
