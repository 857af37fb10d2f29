#include "croom.h"
#include "people.h"
#include "send.h"
#include "strvec.h"

#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_NAME_MAX 64
/* Live payloads a room buffers while it syncs or fills a gap; past this the
 * buffer is dropped and the fill goes on from the stream instead. */
#define BUFFER_MAX_MESSAGES 10000
#define BUFFER_MAX_BYTES (8 << 20)
/* Deliveries a room keeps for the joins it holds (the tail); past this the
 * joins fail (they are tried again) rather than memory growing. */
#define TAIL_MAX 50000
/* Messages per page of a gap fill. */
#define FILL_PAGE 500
/* A sync or fill that failed is tried again after this. */
#define RETRY_MS 500
/* chatd_range's fields per message: id, ts, username, text, node, req. */
#define ROW_FIELDS 6

/* Someone present in the room through other nodes. */
struct person {
	char *display;
	char **nodes;              /* the nodes they are present on (ids, owned) */
	size_t nnodes;
};

/* A payload that waits (a message by id, a presence event by version). */
struct waiting {
	int64_t key;
	char *data;
	size_t len;
};

struct wbuf {
	struct waiting *v;
	size_t n, cap, bytes;
	int64_t dropped_after;     /* overflowed: payloads past this key were dropped (-1: none) */
};

/* A message delivered while joins were pending (the tail: see croom_join). */
struct tailrow {
	int64_t id, ts;
	char *user, *text;         /* one allocation: user \0 text \0 */
	size_t ulen, tlen;
};

/* A message read from the stream (chatd_range), owned. */
struct row {
	int64_t id, ts;
	char *user, *text;
	size_t ulen, tlen;
};

struct joiner {
	struct croom *cr;
	chatd_client *client;
	chatd_pending *pending;
	int64_t since;             /* -1: a plain join */
	int64_t want;              /* messages to replay at most (0: none, no read) */
	int64_t tail_from;         /* what was delivered when the join was held */
	int fetching, fetched;
	int recording;             /* counted in cr->nrecording */
	struct row *rows;          /* the replay read from the stream, oldest first */
	size_t nrows;
	int64_t seq, first_id;     /* the stream's last id and first kept id at that read */
	int more;
	int64_t deadline_ms;
	struct joiner *next;
};

struct croom {
	struct cluster *cl;
	char name[ROOM_NAME_MAX + 1];
	char channel[CLUSTER_PREFIX_MAX + ROOM_NAME_MAX + 4];
	int subscribing, subscribed, synced;
	int sync_in_flight, fill_in_flight;
	int filling;               /* a gap is being filled from the stream */
	int64_t delivered;         /* the last id delivered here; -1 before the first sync */
	int64_t pv;                /* the presence version applied */
	int64_t retry_at_ms;
	struct wbuf mbuf, pbuf;    /* messages and presence events waiting */
	struct strmap remote;      /* fold -> struct person */
	struct strmap local;       /* fold -> display (char *): people of this node */
	struct joiner *joiners;
	int64_t nrecording;        /* joins reading the stream: deliveries go to the tail */
	struct tailrow *tail;
	size_t ntail, captail;
	int tail_overflow;         /* the tail hit TAIL_MAX: the joins must start over */
	int refs;                  /* requests in flight that point here */
	int dead;                  /* dropped: freed when refs reaches 0 */
};

static int64_t now_mono(struct cluster *cl) { return cl->api->monotonic_ms(); }

/* ---- small helpers ---- */

static char *dupn(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = 0;
	}
	return c;
}

static void wbuf_clear(struct wbuf *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].data);
	b->n = 0;
	b->bytes = 0;
	b->dropped_after = -1;
}

static void wbuf_free(struct wbuf *b)
{
	wbuf_clear(b);
	free(b->v);
	b->v = NULL;
	b->cap = 0;
}

/* Keep a payload (keys arrive increasing). Past the bounds it is dropped
 * and the drop remembered (the stream has it). */
static void wbuf_push(struct wbuf *b, int64_t key, const char *data, size_t len)
{
	if (b->n && key <= b->v[b->n - 1].key)
		return;
	if (b->dropped_after >= 0 || b->n >= BUFFER_MAX_MESSAGES || b->bytes + len > BUFFER_MAX_BYTES) {
		if (b->dropped_after < 0)
			b->dropped_after = b->n ? b->v[b->n - 1].key : key - 1;
		return;
	}
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		struct waiting *v = realloc(b->v, ncap * sizeof *v);
		if (!v) {
			b->dropped_after = b->n ? b->v[b->n - 1].key : key - 1;
			return;
		}
		b->v = v;
		b->cap = ncap;
	}
	char *copy = dupn(data, len);
	if (!copy) {
		b->dropped_after = b->n ? b->v[b->n - 1].key : key - 1;
		return;
	}
	b->v[b->n++] = (struct waiting){ key, copy, len };
	b->bytes += len;
}

static void person_free(struct person *p)
{
	for (size_t i = 0; i < p->nnodes; i++)
		free(p->nodes[i]);
	free(p->nodes);
	free(p->display);
	free(p);
}

static chatd_room *core_room(struct croom *cr)
{
	return cr->cl->api->room_find(cr->cl->self, cr->name);
}

/* ---- the room table ---- */

struct croom *croom_find(struct cluster *cl, const char *name) { return strmap_get(&cl->rooms, name); }

size_t croom_count(struct cluster *cl) { return cl->rooms.count; }

static void croom_free(struct croom *cr)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cr->remote, &pos, NULL, &v))
		person_free(v);
	strmap_free(&cr->remote);
	pos = 0;
	while (strmap_next(&cr->local, &pos, NULL, &v))
		free(v);
	strmap_free(&cr->local);
	wbuf_free(&cr->mbuf);
	wbuf_free(&cr->pbuf);
	for (size_t i = 0; i < cr->ntail; i++)
		free(cr->tail[i].user);
	free(cr->tail);
	free(cr);
}

static void croom_unref(struct croom *cr)
{
	if (--cr->refs == 0 && cr->dead)
		croom_free(cr);
}

static void subscribe(struct croom *cr)
{
	struct cluster *cl = cr->cl;
	cr->subscribed = cr->synced = 0;
	cr->subscribing = redis_subscribe(cl->redis, cr->channel, strlen(cr->channel)) == 0;
}

struct croom *croom_get(struct cluster *cl, const char *name)
{
	struct croom *cr = strmap_get(&cl->rooms, name);
	if (cr)
		return cr;
	if (strlen(name) > ROOM_NAME_MAX || !(cr = calloc(1, sizeof *cr)))
		return NULL;
	cr->cl = cl;
	snprintf(cr->name, sizeof cr->name, "%s", name);
	snprintf(cr->channel, sizeof cr->channel, "%sr:%s", cl->opt.prefix, name);
	cr->delivered = -1;
	cr->mbuf.dropped_after = cr->pbuf.dropped_after = -1;
	strmap_init(&cr->remote);
	strmap_init(&cr->local);
	if (strmap_put(&cl->rooms, cr->name, cr)) {
		croom_free(cr);
		return NULL;
	}
	subscribe(cr);
	return cr;
}

/* Forget who is present through other nodes, silently (this node stops
 * following the room: nobody here to tell). */
static void forget_remote(struct croom *cr)
{
	struct cluster *cl = cr->cl;
	chatd_room *room = core_room(cr);
	size_t pos = 0;
	void *v;
	while (strmap_next(&cr->remote, &pos, NULL, &v))
		person_free(v);
	strmap_free(&cr->remote);
	strmap_init(&cr->remote);
	if (room)
		cl->api->room_remote(cl->self, room, CHATD_PRESENCE_CLEAR, NULL, NULL);
}

/* Nobody of this node is in the room and no join waits: stop following it. */
static void maybe_drop(struct croom *cr)
{
	struct cluster *cl = cr->cl;
	if (cr->local.count || cr->joiners)
		return;
	if (cr->subscribing || cr->subscribed)
		redis_unsubscribe(cl->redis, cr->channel, strlen(cr->channel));
	forget_remote(cr);
	strmap_del(&cl->rooms, cr->name);
	cr->dead = 1;
	if (!cr->refs)
		croom_free(cr);
}

/* ---- delivery ---- */

static void tail_push(struct croom *cr, int64_t id, int64_t ts, struct pstr user, struct pstr text)
{
	if (cr->ntail >= TAIL_MAX) {
		cr->tail_overflow = 1; /* croom_service fails the joins */
		return;
	}
	if (cr->ntail == cr->captail) {
		size_t ncap = cr->captail ? cr->captail * 2 : 16;
		struct tailrow *t = realloc(cr->tail, ncap * sizeof *t);
		if (!t)
			return; /* the joiners then miss it: they are failed below */
		cr->tail = t;
		cr->captail = ncap;
	}
	char *buf = malloc(user.n + text.n + 2);
	if (!buf)
		return;
	memcpy(buf, user.p, user.n);
	buf[user.n] = 0;
	memcpy(buf + user.n + 1, text.p, text.n);
	buf[user.n + 1 + text.n] = 0;
	cr->tail[cr->ntail++] = (struct tailrow){ id, ts, buf, buf + user.n + 1, user.n, text.n };
}

static void tail_clear(struct croom *cr)
{
	for (size_t i = 0; i < cr->ntail; i++)
		free(cr->tail[i].user);
	cr->ntail = 0;
	cr->tail_overflow = 0;
}

/* Deliver message id to this node's members (the sender's connection, when it
 * is here, with its client_id). */
static void deliver(struct croom *cr, int64_t id, int64_t ts, struct pstr user, struct pstr text, struct pstr node,
		    uint64_t req)
{
	struct cluster *cl = cr->cl;
	struct sendreq *s = req && pstr_is(node, cl->node_id) ? send_take(cl, req) : NULL;
	chatd_room *room = core_room(cr);
	if (room) {
		struct chatd_delivery d = { .size = sizeof d, .id = id, .ts = ts, .username = user.p,
					    .username_len = user.n, .text = text.p, .text_len = text.n,
					    .sender = s ? send_client(s) : NULL, .client_id = s ? send_client_id(s) : NULL };
		cl->api->room_deliver(room, &d);
	}
	cr->delivered = id;
	if (cr->nrecording)
		tail_push(cr, id, ts, user, text);
	cl->api->counter_add(cl->self, "delivered", 1);
	send_done(cl, s);
}

/* {"type":"gap","room":R,"from":A,"to":B,"reason":"not_retained"} to this
 * node's members (when c is NULL) or to c. */
static void send_gap(struct croom *cr, chatd_client *c, int64_t from, int64_t to, const char *reason, int64_t last)
{
	const struct chatd_api *api = cr->cl->api;
	chatd_frame *f = api->frame_new("gap");
	if (!f)
		return;
	api->frame_set_str(f, "room", cr->name);
	api->frame_set_str(f, "reason", reason);
	if (!strcmp(reason, "reset")) {
		api->frame_set_int(f, "last_id", last);
	} else {
		api->frame_set_int(f, "from", from);
		api->frame_set_int(f, "to", to);
	}
	if (c) {
		api->send(c, f, CHATD_SEND_NORMAL);
	} else {
		chatd_room *room = core_room(cr);
		if (room)
			api->broadcast(room, f, NULL, CHATD_SEND_NORMAL | CHATD_SEND_LOCAL);
	}
	api->frame_free(f);
	api->counter_add(cr->cl->self, "gaps", 1);
}

static void fill_start(struct croom *cr);
static void drain(struct croom *cr);

/* A message from the channel (live) or the buffer. */
static void on_live_message(struct croom *cr, const struct pmsg *m, const char *data, size_t len)
{
	if (m->id <= cr->delivered)
		return; /* already delivered (a fill overlapped the live stream) */
	if (!cr->synced || cr->filling || m->id != cr->delivered + 1) {
		wbuf_push(&cr->mbuf, m->id, data, len);
		if (cr->synced && !cr->filling)
			fill_start(cr);
		return;
	}
	deliver(cr, m->id, m->ts, m->user, m->text, m->node, m->req);
}

/* ---- presence through other nodes ---- */

static int person_has_node(const struct person *p, struct pstr node)
{
	for (size_t i = 0; i < p->nnodes; i++)
		if (pstr_is(node, p->nodes[i]))
			return 1;
	return 0;
}

/* fold is present on node (with display): tell the core when they were not
 * present through any other node before. */
static void remote_add(struct croom *cr, const char *fold, struct pstr node, const char *display)
{
	struct cluster *cl = cr->cl;
	struct person *p = strmap_get(&cr->remote, fold);
	if (!p) {
		if (!(p = calloc(1, sizeof *p)) || !(p->display = strdup(display)) || strmap_put(&cr->remote, fold, p)) {
			if (p)
				person_free(p);
			return;
		}
	} else if (strcmp(p->display, display)) {
		char *d = strdup(display);
		if (d) {
			chatd_room *room = core_room(cr);
			if (room && p->nnodes)
				cl->api->room_remote(cl->self, room, CHATD_PRESENCE_RENAME, d, p->display);
			free(p->display);
			p->display = d;
		}
	}
	if (person_has_node(p, node))
		return;
	char **nodes = realloc(p->nodes, (p->nnodes + 1) * sizeof *nodes);
	char *id = nodes ? dupn(node.p, node.n) : NULL;
	if (nodes)
		p->nodes = nodes;
	if (!id)
		return;
	p->nodes[p->nnodes++] = id;
	if (p->nnodes == 1) {
		chatd_room *room = core_room(cr);
		if (room)
			cl->api->room_remote(cl->self, room, CHATD_PRESENCE_ENTER, p->display, NULL);
	}
}

/* fold is no longer present on node. Returns the person's display name
 * (owned by the caller) when that was their last node, else NULL. */
static char *remote_remove(struct croom *cr, const char *fold, struct pstr node, int tell)
{
	struct cluster *cl = cr->cl;
	struct person *p = strmap_get(&cr->remote, fold);
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->nnodes; i++)
		if (pstr_is(node, p->nodes[i])) {
			free(p->nodes[i]);
			p->nodes[i] = p->nodes[--p->nnodes];
			break;
		}
	if (p->nnodes)
		return NULL;
	strmap_del(&cr->remote, fold);
	char *display = p->display;
	p->display = NULL;
	person_free(p);
	if (tell) {
		chatd_room *room = core_room(cr);
		if (room)
			cl->api->room_remote(cl->self, room, CHATD_PRESENCE_LEAVE, display, NULL);
	}
	return display;
}

static void apply_presence(struct croom *cr, const struct pmsg *m)
{
	struct cluster *cl = cr->cl;
	char fold[512], old[512], display[512];
	cr->pv = m->pv;
	if (pstr_is(m->node, cl->node_id))
		return; /* this node's own people: the core knows them */
	snprintf(fold, sizeof fold, "%.*s", (int)m->fold.n, m->fold.p);
	snprintf(display, sizeof display, "%.*s", (int)m->display.n, m->display.p);
	if (m->op == 'j') {
		remote_add(cr, fold, m->node, display);
	} else if (m->op == 'l') {
		free(remote_remove(cr, fold, m->node, 1));
	} else if (m->op == 'r') {
		snprintf(old, sizeof old, "%.*s", (int)m->old.n, m->old.p);
		char *gone = remote_remove(cr, old, m->node, 0);
		struct person *p = strmap_get(&cr->remote, fold);
		chatd_room *room = core_room(cr);
		if (gone && !p && room) {
			/* the name moved: one rename notice, not a leave and a join */
			cl->api->room_remote(cl->self, room, CHATD_PRESENCE_RENAME, display, gone);
			struct person *np = calloc(1, sizeof *np);
			char *id = dupn(m->node.p, m->node.n);
			if (np && id && (np->display = strdup(display)) && (np->nodes = malloc(sizeof *np->nodes)) &&
			    !strmap_put(&cr->remote, fold, np)) {
				np->nodes[np->nnodes++] = id;
			} else {
				free(id);
				if (np)
					person_free(np);
			}
		} else {
			if (gone && room)
				cl->api->room_remote(cl->self, room, CHATD_PRESENCE_LEAVE, gone, NULL);
			remote_add(cr, fold, m->node, display);
		}
		free(gone);
	}
}

static void on_live_presence(struct croom *cr, const struct pmsg *m, const char *data, size_t len)
{
	if (m->pv <= cr->pv && cr->synced)
		return;
	if (!cr->synced || m->pv != cr->pv + 1) {
		wbuf_push(&cr->pbuf, m->pv, data, len);
		if (cr->synced && !cr->sync_in_flight)
			cr->synced = 0; /* an event was missed: take a new snapshot */
		return;
	}
	apply_presence(cr, m);
}

/* ---- sync and fill ---- */

static void fill_done(struct croom *cr)
{
	cr->filling = 0;
	drain(cr);
}

static void on_fill(void *ud, const redisReply *reply, const char *err)
{
	struct croom *cr = ud;
	struct cluster *cl = cr->cl;
	cr->fill_in_flight = 0;
	if (cr->dead) {
		croom_unref(cr);
		return;
	}
	if (err || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
	    reply->element[2]->type != REDIS_REPLY_ARRAY) {
		if (!err)
			CLOG(cl, CHATD_LOG_ERR, "room %s: chatd_range: unexpected reply", cr->name);
		cr->retry_at_ms = now_mono(cl) + RETRY_MS;
		croom_unref(cr);
		return;
	}
	int64_t first_id = reply->element[1]->integer;
	const redisReply *rows = reply->element[2];
	int more = reply->element[3]->integer != 0;
	if (first_id > cr->delivered + 1) {
		/* the stream no longer holds what this node missed */
		send_gap(cr, NULL, cr->delivered + 1, first_id - 1, "not_retained", 0);
		cr->delivered = first_id - 1;
	}
	for (size_t i = 0; i + ROW_FIELDS - 1 < rows->elements; i += ROW_FIELDS) {
		int64_t id = rows->element[i]->integer;
		if (id <= cr->delivered)
			continue;
		if (id != cr->delivered + 1) { /* trimmed between the reads */
			send_gap(cr, NULL, cr->delivered + 1, id - 1, "not_retained", 0);
			cr->delivered = id - 1;
		}
		struct pstr u = { rows->element[i + 2]->str, rows->element[i + 2]->len };
		struct pstr t = { rows->element[i + 3]->str, rows->element[i + 3]->len };
		struct pstr node = { rows->element[i + 4]->str, rows->element[i + 4]->len };
		uint64_t req = strtoull(rows->element[i + 5]->str, NULL, 10);
		deliver(cr, id, rows->element[i + 1]->integer, u, t, node, req);
	}
	cl->api->counter_add(cl->self, "filled", (int64_t)(rows->elements / ROW_FIELDS));
	/* the fill is done when the stream has no more, or when it reached what the buffer holds */
	if (more && !(cr->mbuf.n && cr->mbuf.v[0].key <= cr->delivered + 1 && cr->mbuf.dropped_after < 0))
		fill_start(cr);
	else
		fill_done(cr);
	croom_unref(cr);
}

/* Read the messages after delivered from the stream (one page). */
static void fill_start(struct croom *cr)
{
	struct cluster *cl = cr->cl;
	struct strvec sv = { 0 };
	cr->filling = 1;
	if (cr->fill_in_flight || !redis_cmd_up(cl->redis))
		return; /* croom_service tries again */
	strvec_pushz(&sv, "FCALL_RO");
	strvec_pushz(&sv, "chatd_range");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cr->name);
	strvec_push_int(&sv, cr->delivered);
	strvec_pushz(&sv, "0");
	strvec_push_int(&sv, FILL_PAGE);
	strvec_pushz(&sv, "0");
	if (!sv.oom && redis_command(cl->redis, on_fill, cr, (int)sv.len, sv.v, sv.n) == 0) {
		cr->fill_in_flight = 1;
		cr->refs++;
	} else {
		cr->retry_at_ms = now_mono(cl) + RETRY_MS;
	}
	strvec_free(&sv);
}

static void joiners_continue(struct croom *cr);

/* Deliver what waited, in order, while it follows on; the rest waits for a fill. */
static void drain(struct croom *cr)
{
	struct pmsg m;
	size_t i = 0;
	for (; i < cr->pbuf.n && cr->synced; i++) {
		struct waiting *w = &cr->pbuf.v[i];
		if (w->key <= cr->pv)
			continue;
		if (w->key != cr->pv + 1 || proto_parse_room(w->data, w->len, &m)) {
			cr->synced = 0; /* missing an event: snapshot again */
			break;
		}
		apply_presence(cr, &m);
	}
	if (cr->synced && cr->pbuf.dropped_after >= 0)
		cr->synced = 0;
	if (cr->synced)
		wbuf_clear(&cr->pbuf);
	if (!cr->synced)
		return;
	for (i = 0; i < cr->mbuf.n; i++) {
		struct waiting *w = &cr->mbuf.v[i];
		if (w->key <= cr->delivered)
			continue;
		if (w->key != cr->delivered + 1 || proto_parse_room(w->data, w->len, &m))
			break;
		deliver(cr, m.id, m.ts, m.user, m.text, m.node, m.req);
	}
	int rest = i < cr->mbuf.n || cr->mbuf.dropped_after >= 0;
	if (rest) { /* keep the unread part, fill what is missing before it */
		size_t k = 0;
		for (size_t j = 0; j < cr->mbuf.n; j++) {
			if (j < i) {
				cr->mbuf.bytes -= cr->mbuf.v[j].len;
				free(cr->mbuf.v[j].data);
			} else {
				cr->mbuf.v[k++] = cr->mbuf.v[j];
			}
		}
		cr->mbuf.n = k;
		if (!k)
			cr->mbuf.dropped_after = -1;
		fill_start(cr);
		return;
	}
	wbuf_clear(&cr->mbuf);
	joiners_continue(cr);
}

/* "node \x01 fold": a key for the set of snapshot entries. */
static int entry_key(char *out, size_t outsz, const char *node, size_t nlen, const char *fold, size_t flen)
{
	if (nlen + flen + 2 > outsz)
		return -1;
	memcpy(out, node, nlen);
	out[nlen] = 1;
	memcpy(out + nlen + 1, fold, flen);
	out[nlen + 1 + flen] = 0;
	return 0;
}

/* Presence from a snapshot ({"node\0fold", display, ...}) replaces what this
 * node believed: new entries are added, entries not in it removed (the core
 * hears only the changes). */
static void apply_snapshot(struct croom *cr, const redisReply *pres)
{
	struct cluster *cl = cr->cl;
	struct strmap present;
	char key[1024], fold[512];
	strmap_init(&present);
	for (size_t i = 0; i + 1 < pres->elements; i += 2) {
		const redisReply *k = pres->element[i], *d = pres->element[i + 1];
		const char *z = memchr(k->str, 0, k->len);
		if (!z || k->type != REDIS_REPLY_STRING || d->type != REDIS_REPLY_STRING)
			continue;
		struct pstr node = { k->str, (size_t)(z - k->str) };
		size_t flen = k->len - node.n - 1;
		if (pstr_is(node, cl->node_id) || flen >= sizeof fold)
			continue;
		memcpy(fold, z + 1, flen);
		fold[flen] = 0;
		if (!entry_key(key, sizeof key, node.p, node.n, fold, flen))
			strmap_put(&present, key, (void *)1);
		remote_add(cr, fold, node, d->str);
	}
	/* nodes people are no longer on; collect first, the map changes */
	struct strvec gone = { 0 };
	size_t pos = 0;
	const char *f;
	void *v;
	while (strmap_next(&cr->remote, &pos, &f, &v)) {
		struct person *p = v;
		for (size_t i = 0; i < p->nnodes; i++)
			if (entry_key(key, sizeof key, p->nodes[i], strlen(p->nodes[i]), f, strlen(f)) ||
			    !strmap_get(&present, key)) {
				strvec_push_copy(&gone, f, strlen(f));
				strvec_push_copy(&gone, p->nodes[i], strlen(p->nodes[i]));
			}
	}
	for (size_t i = 0; i + 1 < gone.len; i += 2)
		free(remote_remove(cr, gone.v[i], (struct pstr){ gone.v[i + 1], gone.n[i + 1] }, 1));
	strvec_free(&gone);
	strmap_free(&present);
}

/* chatd_sync's answer: the room's last id, presence version, first kept id
 * and presence entries. */
static void on_sync(void *ud, const redisReply *reply, const char *err)
{
	struct croom *cr = ud;
	struct cluster *cl = cr->cl;
	cr->sync_in_flight = 0;
	if (cr->dead) {
		croom_unref(cr);
		return;
	}
	if (err || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
	    reply->element[3]->type != REDIS_REPLY_ARRAY) {
		if (!err)
			CLOG(cl, CHATD_LOG_ERR, "room %s: chatd_sync: unexpected reply", cr->name);
		cr->retry_at_ms = now_mono(cl) + RETRY_MS;
		croom_unref(cr);
		return;
	}
	if (!cr->subscribed) { /* the subscription went meanwhile: sync again later */
		croom_unref(cr);
		return;
	}
	int64_t seq = reply->element[0]->integer, pv = reply->element[1]->integer;
	apply_snapshot(cr, reply->element[3]);
	cr->pv = pv;
	cr->synced = 1;
	if (cr->delivered < 0) { /* a room this node starts following: live from here */
		cr->delivered = seq;
		chatd_room *room = core_room(cr);
		if (room)
			cl->api->room_raise_last_id(room, seq);
	} else if (seq > cr->delivered) {
		cr->filling = 1; /* what was missed while not subscribed */
	} else if (seq < cr->delivered) {
		/* Redis lost the room's record (restarted without persistence): its
		 * ids start again; say so rather than drop the new ones as old */
		CLOG(cl, CHATD_LOG_ERR, "room %s: Redis's last id %lld is below the %lld delivered here: the record "
		     "was lost", cr->name, (long long)seq, (long long)cr->delivered);
		send_gap(cr, NULL, 0, 0, "reset", seq);
		cr->delivered = seq;
		wbuf_clear(&cr->mbuf);
	}
	if (cr->filling)
		fill_start(cr);
	else
		drain(cr);
	croom_unref(cr);
}

static void sync_start(struct croom *cr)
{
	struct cluster *cl = cr->cl;
	if (cr->sync_in_flight || !redis_cmd_up(cl->redis))
		return;
	const char *argv[] = { "FCALL_RO", "chatd_sync", "0", cl->opt.prefix, cr->name };
	size_t lens[5];
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	if (redis_command(cl->redis, on_sync, cr, 5, argv, lens) == 0) {
		cr->sync_in_flight = 1;
		cr->refs++;
	} else {
		cr->retry_at_ms = now_mono(cl) + RETRY_MS;
	}
}

/* ---- the channel ---- */

void croom_message(struct cluster *cl, const char *name, size_t nlen, const char *data, size_t len)
{
	char key[ROOM_NAME_MAX + 1];
	struct pmsg m;
	if (nlen > ROOM_NAME_MAX)
		return;
	memcpy(key, name, nlen);
	key[nlen] = 0;
	struct croom *cr = strmap_get(&cl->rooms, key);
	if (!cr || !cr->subscribed)
		return;
	if (proto_parse_room(data, len, &m)) {
		CLOG(cl, CHATD_LOG_WARN, "room %s: a payload that does not parse (%zu bytes)", cr->name, len);
		return;
	}
	switch (m.kind) {
	case P_MESSAGE:
		on_live_message(cr, &m, data, len);
		break;
	case P_PRESENCE:
		on_live_presence(cr, &m, data, len);
		if (!cr->synced)
			sync_start(cr);
		break;
	case P_EPHEMERAL:
		if (!pstr_is(m.node, cl->node_id)) {
			chatd_room *room = core_room(cr);
			chatd_frame *f = room ? cl->api->frame_parse(m.json.p, m.json.n) : NULL;
			if (f) {
				cl->api->broadcast(room, f, NULL, m.flags | CHATD_SEND_LOCAL);
				cl->api->frame_free(f);
			}
		}
		break;
	}
}

void croom_sub_up(struct cluster *cl)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v))
		subscribe(v);
}

void croom_sub_down(struct cluster *cl)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
		struct croom *cr = v;
		cr->subscribing = cr->subscribed = cr->synced = 0;
		wbuf_clear(&cr->mbuf);
		wbuf_clear(&cr->pbuf);
	}
}

void croom_subscribed(struct cluster *cl, const char *channel, size_t len)
{
	size_t plen = strlen(cl->opt.prefix);
	if (len <= plen + 2 || memcmp(channel, cl->opt.prefix, plen) || memcmp(channel + plen, "r:", 2))
		return;
	char key[ROOM_NAME_MAX + 1];
	size_t n = len - plen - 2;
	if (n > ROOM_NAME_MAX)
		return;
	memcpy(key, channel + plen + 2, n);
	key[n] = 0;
	struct croom *cr = strmap_get(&cl->rooms, key);
	if (!cr || !cr->subscribing)
		return;
	cr->subscribing = 0;
	cr->subscribed = 1;
	cr->synced = 0;
	sync_start(cr);
}

static void joiners_expire(struct croom *cr);

void croom_service(struct cluster *cl)
{
	int64_t now = now_mono(cl);
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
		struct croom *cr = v;
		if (!cr->subscribing && !cr->subscribed && redis_sub_up(cl->redis))
			subscribe(cr);
		if (cr->subscribed && now >= cr->retry_at_ms) {
			if (!cr->synced)
				sync_start(cr);
			else if (cr->filling && !cr->fill_in_flight)
				fill_start(cr);
		}
	}
	/* joins that waited too long fail (the room table may change under it) */
	for (int again = 1; again;) {
		again = 0;
		pos = 0;
		while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
			struct croom *cr = v;
			size_t before = cl->rooms.count;
			joiners_expire(cr);
			if (cl->rooms.count != before) {
				again = 1;
				break;
			}
		}
	}
}

/* ---- this node's people ---- */

void croom_local_presence(struct cluster *cl, const char *room, int change, const char *name, const char *fold,
			  const char *old_name, const char *old_fold)
{
	(void)old_name;
	struct croom *cr = change == CHATD_PRESENCE_ENTER ? croom_get(cl, room) : croom_find(cl, room);
	if (!cr)
		return;
	if (change == CHATD_PRESENCE_ENTER) {
		char *d = strdup(name);
		if (d) {
			free(strmap_get(&cr->local, fold));
			if (strmap_put(&cr->local, fold, d))
				free(d);
		}
		presence_send(cl, 'j', fold, name, "", room);
	} else if (change == CHATD_PRESENCE_LEAVE) {
		free(strmap_del(&cr->local, fold));
		presence_send(cl, 'l', fold, name, "", room);
		maybe_drop(cr);
	} else if (change == CHATD_PRESENCE_RENAME) {
		free(strmap_del(&cr->local, old_fold));
		char *d = strdup(name);
		if (d && strmap_put(&cr->local, fold, d))
			free(d);
		presence_send(cl, 'r', fold, name, old_fold, room);
	}
}

void croom_forget_local(struct cluster *cl)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
		struct croom *cr = v;
		size_t p2 = 0;
		void *d;
		while (strmap_next(&cr->local, &p2, NULL, &d))
			free(d);
		strmap_free(&cr->local);
		strmap_init(&cr->local);
	}
}

void croom_local_people(struct cluster *cl, struct strvec *out)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
		struct croom *cr = v;
		size_t p2 = 0;
		const char *fold;
		void *d;
		while (strmap_next(&cr->local, &p2, &fold, &d)) {
			strvec_pushz(out, cr->name);
			strvec_pushz(out, fold);
			strvec_pushz(out, d);
		}
	}
}

/* ---- joins: replay meets live ---- */

static void row_free_all(struct joiner *j)
{
	for (size_t i = 0; i < j->nrows; i++)
		free(j->rows[i].user);
	free(j->rows);
	j->rows = NULL;
	j->nrows = 0;
}

/* j no longer records the room's deliveries (the tail goes with the last). */
static void joiner_stop_recording(struct joiner *j)
{
	struct croom *cr = j->cr;
	if (j->recording) {
		j->recording = 0;
		if (--cr->nrecording == 0)
			tail_clear(cr);
	}
}

static void joiner_unlink(struct joiner *j)
{
	struct croom *cr = j->cr;
	for (struct joiner **p = &cr->joiners; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	joiner_stop_recording(j);
}

static void joiner_fail(struct joiner *j, const char *code, const char *message)
{
	struct croom *cr = j->cr;
	struct cluster *cl = cr->cl;
	joiner_unlink(j);
	chatd_client *c = j->client;
	if (cl->api->pending_release(j->pending, 0, code, message, 1000) && c && !cl->api->client_rooms(c, NULL, 0))
		cl->api->client_close(c, 1013, "the room could not be joined: try again"); /* in no room at all */
	row_free_all(j);
	free(j);
	maybe_drop(cr);
}

static chatd_frame *history_frame(struct cluster *cl, const char *room, int64_t id, int64_t ts, const char *user,
				  const char *text)
{
	const struct chatd_api *api = cl->api;
	chatd_frame *f = api->frame_new("message");
	if (!f)
		return NULL;
	api->frame_set_int(f, "id", id);
	api->frame_set_str(f, "room", room);
	api->frame_set_str(f, "username", user);
	api->frame_set_str(f, "text", text);
	api->frame_set_int(f, "ts", ts);
	api->frame_set_bool(f, "history", 1);
	return f;
}

/* The room is live and the replay read: let c in, then replay (stream rows up
 * to what was delivered here, then the tail up to delivered). */
static void joiner_finish(struct joiner *j)
{
	struct croom *cr = j->cr;
	struct cluster *cl = cr->cl;
	const struct chatd_api *api = cl->api;
	chatd_client *c = j->client;
	if (cr->tail_overflow && j->recording) { /* the tail lost deliveries: the replay would have a hole */
		joiner_fail(j, "unavailable", "the room is too busy to join right now: try again");
		return;
	}
	int recording = j->recording;
	j->recording = 0; /* the tail is read below: unlinked without clearing it */
	joiner_unlink(j);
	j->recording = recording;
	int64_t upto = cr->delivered, last = j->since > 0 ? j->since : 0;
	int reset = j->since > j->seq && j->since > upto;
	if (reset)
		last = 0;
	int64_t top = j->nrows ? j->rows[j->nrows - 1].id : j->seq;
	if (top < j->seq)
		top = j->seq;
	if (!api->pending_release(j->pending, 1, NULL, NULL, 0) || !api->client_in_room(c, core_room(cr)))
		goto done; /* closed meanwhile, or refused */
	if (reset)
		send_gap(cr, c, 0, 0, "reset", j->seq);
	else if (j->since >= 0 && j->since + 1 < j->first_id && j->since < j->seq)
		send_gap(cr, c, j->since + 1, j->first_id - 1, "not_retained", 0);
	int64_t sent = 0;
	for (size_t i = 0; i < j->nrows; i++) {
		struct row *r = &j->rows[i];
		if (r->id <= last || r->id > upto)
			continue;
		chatd_frame *f = history_frame(cl, cr->name, r->id, r->ts, r->user, r->text);
		if (!f)
			break;
		if (j->more && j->since >= 0 && !sent)
			api->frame_set_bool(f, "truncated", 1);
		int rc = api->send(c, f, CHATD_SEND_NORMAL);
		api->frame_free(f);
		if (rc < 0)
			goto done;
		sent++;
		last = r->id;
	}
	if (last < top)
		last = top;
	for (size_t i = 0; i < cr->ntail; i++) {
		struct tailrow *t = &cr->tail[i];
		if (t->id <= last || t->id > upto)
			continue;
		chatd_frame *f = history_frame(cl, cr->name, t->id, t->ts, t->user, t->text);
		if (!f)
			break;
		int rc = api->send(c, f, CHATD_SEND_NORMAL);
		api->frame_free(f);
		if (rc < 0)
			break;
		sent++;
		last = t->id;
	}
	api->counter_add(cl->self, "replayed", sent);
done:
	joiner_stop_recording(j);
	row_free_all(j);
	free(j);
	maybe_drop(cr);
}

static int room_live(const struct croom *cr) { return cr->subscribed && cr->synced && !cr->filling; }

static void on_replay(void *ud, const redisReply *reply, const char *err)
{
	struct joiner *j = ud;
	struct croom *cr = j->cr;
	j->fetching = 0;
	cr->refs--;
	if (!j->client) { /* gone meanwhile (its pending was released then) */
		joiner_unlink(j);
		row_free_all(j);
		free(j);
		maybe_drop(cr);
		return;
	}
	if (err || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
	    reply->element[2]->type != REDIS_REPLY_ARRAY) {
		joiner_fail(j, "unavailable", "the chat store did not answer: try again");
		return;
	}
	j->fetched = 1;
	j->seq = reply->element[0]->integer;
	j->first_id = reply->element[1]->integer;
	j->more = reply->element[3]->integer != 0;
	const redisReply *rows = reply->element[2];
	j->rows = calloc(rows->elements / ROW_FIELDS + 1, sizeof *j->rows);
	for (size_t i = 0; j->rows && i + ROW_FIELDS - 1 < rows->elements; i += ROW_FIELDS) {
		const redisReply *u = rows->element[i + 2], *t = rows->element[i + 3];
		char *buf = malloc(u->len + t->len + 2);
		if (!buf)
			break;
		memcpy(buf, u->str, u->len + 1);
		memcpy(buf + u->len + 1, t->str, t->len + 1);
		j->rows[j->nrows++] = (struct row){ rows->element[i]->integer, rows->element[i + 1]->integer, buf,
						   buf + u->len + 1, u->len, t->len };
	}
	if (room_live(cr))
		joiner_finish(j);
}

/* Read j's replay from the stream; from now on deliveries are kept in the
 * tail. A join that replays nothing needs no read. */
static void joiner_fetch(struct joiner *j)
{
	struct croom *cr = j->cr;
	struct cluster *cl = cr->cl;
	struct strvec sv = { 0 };
	j->tail_from = cr->delivered;
	if (!j->want) {
		j->fetched = 1;
		j->seq = cr->delivered;
		joiner_finish(j);
		return;
	}
	if (!cr->nrecording++)
		tail_clear(cr);
	j->recording = 1;
	j->fetching = 1;
	strvec_pushz(&sv, "FCALL_RO");
	strvec_pushz(&sv, "chatd_range");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_pushz(&sv, cr->name);
	strvec_push_int(&sv, j->since < 0 || j->since > cr->delivered ? 0 : j->since);
	strvec_pushz(&sv, "0");
	strvec_push_int(&sv, j->want);
	strvec_pushz(&sv, "1");
	int rc = sv.oom ? -1 : redis_command(cl->redis, on_replay, j, (int)sv.len, sv.v, sv.n);
	strvec_free(&sv);
	if (rc == 0) {
		cr->refs++;
		return;
	}
	j->fetching = 0;
	joiner_fail(j, "unavailable", "the chat store is not reachable: try again");
}

/* The room became live: joiners waiting for it read their replay, those
 * that have it go in. */
static void joiners_continue(struct croom *cr)
{
	struct joiner *j = cr->joiners;
	while (j && room_live(cr)) {
		struct joiner *next = j->next;
		if (j->fetched)
			joiner_finish(j);
		else if (!j->fetching)
			joiner_fetch(j);
		j = next;
	}
}

static void joiners_expire(struct croom *cr)
{
	int64_t now = now_mono(cr->cl);
	for (struct joiner *j = cr->joiners, *next; j; j = next) {
		next = j->next;
		if (j->client && !j->fetching && (now >= j->deadline_ms || (cr->tail_overflow && j->recording))) {
			joiner_fail(j, "unavailable", "the room could not be reached in time: try again");
			return; /* cr may be gone */
		}
	}
}

int croom_join(struct cluster *cl, chatd_client *c, chatd_room *room, int64_t since, chatd_pending *pending,
	       const char **error_code, const char **error_message)
{
	if (!redis_cmd_up(cl->redis) || !redis_sub_up(cl->redis)) {
		*error_code = "unavailable";
		*error_message = "the chat store is not reachable from this server: try again shortly";
		return -1;
	}
	int64_t want = since >= 0 ? cl->opt.max_replay : cl->opt.replay;
	struct croom *cr = croom_get(cl, cl->api->room_name(room));
	if (cr && !want && room_live(cr))
		return 1; /* nothing to replay and the room is live here: in at once */
	struct joiner *j = cr ? calloc(1, sizeof *j) : NULL;
	if (!j) {
		*error_code = "internal";
		*error_message = "out of memory";
		if (cr)
			maybe_drop(cr);
		return -1;
	}
	j->cr = cr;
	j->client = c;
	j->pending = cl->api->pending_keep(pending);
	j->since = since;
	j->want = want;
	j->deadline_ms = now_mono(cl) + 3 * cl->opt.request_timeout_ms;
	j->next = cr->joiners;
	cr->joiners = j;
	if (room_live(cr))
		joiner_fetch(j);
	return 0;
}

void croom_client_gone(struct cluster *cl, chatd_client *c)
{
	struct strvec rooms = { 0 };
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
		struct croom *cr = v;
		for (struct joiner **p = &cr->joiners; *p;) {
			struct joiner *j = *p;
			if (j->client != c) {
				p = &j->next;
				continue;
			}
			cl->api->pending_release(j->pending, 0, NULL, NULL, 0);
			j->client = NULL;
			j->pending = NULL;
			if (j->fetching) { /* on_replay frees it */
				p = &j->next;
				continue;
			}
			joiner_unlink(j); /* *p is now j's successor */
			row_free_all(j);
			free(j);
			strvec_push_copy(&rooms, cr->name, strlen(cr->name));
		}
	}
	for (size_t i = 0; i < rooms.len; i++) {
		struct croom *cr = strmap_get(&cl->rooms, rooms.v[i]);
		if (cr)
			maybe_drop(cr);
	}
	strvec_free(&rooms);
}

void croom_free_all(struct cluster *cl)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&cl->rooms, &pos, NULL, &v)) {
		struct croom *cr = v;
		while (cr->joiners) {
			struct joiner *j = cr->joiners;
			cr->joiners = j->next;
			if (j->pending)
				cl->api->pending_release(j->pending, 0, NULL, NULL, 0);
			row_free_all(j);
			free(j);
		}
		cr->dead = 1;
		if (!cr->refs)
			croom_free(cr);
	}
	strmap_free(&cl->rooms);
}
