#include "presence.h"
#include "frame.h"
#include "publish.h"
#include "remote.h"

#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names listed in one summary; beyond it only the counts say how many. */
#define PRESENCE_MAX_NAMES 50

struct presence_state {
	ev_timer timer;
	struct chatd_server *srv;
	struct room **dirty;   /* rooms with a pending summary */
	size_t ndirty, cap;
};

int presence_coalesced(const struct chatd_server *srv, const struct room *r)
{
	if (srv->cfg.big_room_members <= 0)
		return 0;
	size_t big = (size_t)srv->cfg.big_room_members;
	return r->npeople >= big || (r->remote.count && room_user_count(r) >= big);
}

static void room_pending_clear(struct room *r)
{
	for (size_t i = 0; i < r->njoined; i++)
		free(r->joined[i]);
	for (size_t i = 0; i < r->nleft; i++)
		free(r->left[i]);
	r->njoined = r->nleft = 0;
	r->joined_more = r->left_more = 0;
}

/* "Alice, Bob and 3 others joined; Carol left" */
static void summary_text(const struct room *r, char *out, size_t outsz)
{
	size_t o = 0;
	const char *const verbs[2] = { "joined", "left" };
	for (int side = 0; side < 2; side++) {
		char **names = side ? r->left : r->joined;
		size_t n = side ? r->nleft : r->njoined, more = side ? r->left_more : r->joined_more;
		if (!n)
			continue;
		if (o && o < outsz)
			o += (size_t)snprintf(out + o, outsz - o, "; ");
		for (size_t i = 0; i < n && i < 3 && o < outsz; i++)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? ", " : "", names[i]);
		size_t others = (n > 3 ? n - 3 : 0) + more;
		if (others && o < outsz)
			o += (size_t)snprintf(out + o, outsz - o, " and %zu other%s", others, others == 1 ? "" : "s");
		if (o < outsz)
			o += (size_t)snprintf(out + o, outsz - o, " %s", verbs[side]);
	}
	if (!o && outsz)
		out[0] = 0;
}

static json_t *name_array(char **names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

static void room_flush(struct chatd_server *srv, struct room *r)
{
	char text[512];
	summary_text(r, text, sizeof text);
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:s,s:I}", "type", "system", "event", "presence",
			      "room", r->name, "joined", name_array(r->joined, r->njoined), "left",
			      name_array(r->left, r->nleft), "joined_count", (json_int_t)(r->njoined + r->joined_more),
			      "left_count", (json_int_t)(r->nleft + r->left_more), "count", (json_int_t)room_user_count(r),
			      "message", text, "ts", (json_int_t)now_ms());
	room_pending_clear(r);
	r->presence_dirty = 0;
	if (!o)
		return;
	struct outbuf *b = json_to_outbuf(o);
	json_decref(o);
	if (b && r->count)
		publish_to_room(srv, r, b, NULL, CHATD_SEND_PRESENCE);
	outbuf_unref(b);
}

void presence_flush_all(struct chatd_server *srv)
{
	struct presence_state *ps = srv->presence;
	if (!ps)
		return;
	for (size_t i = 0; i < ps->ndirty; i++)
		room_flush(srv, ps->dirty[i]);
	ps->ndirty = 0;
	ev_timer_stop(srv->loop, &ps->timer);
}

static void presence_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct presence_state *ps = (struct presence_state *)w;
	presence_flush_all(ps->srv);
}

static struct presence_state *presence_state(struct chatd_server *srv)
{
	if (srv->presence)
		return srv->presence;
	struct presence_state *ps = calloc(1, sizeof *ps);
	if (!ps)
		return NULL;
	ps->srv = srv;
	double every = srv->cfg.presence_interval_ms / 1000.0;
	ev_timer_init(&ps->timer, presence_timer, every, every);
	srv->presence = ps;
	return ps;
}

void presence_note(struct chatd_server *srv, struct room *r, const char *name, int joined)
{
	struct presence_state *ps = presence_state(srv);
	if (!ps)
		return;
	if (!r->presence_dirty) {
		if (ps->ndirty == ps->cap) {
			size_t ncap = ps->cap ? ps->cap * 2 : 8;
			struct room **n = realloc(ps->dirty, ncap * sizeof *n);
			if (!n)
				return;
			ps->dirty = n;
			ps->cap = ncap;
		}
		ps->dirty[ps->ndirty++] = r;
		r->presence_dirty = 1;
		if (srv->loop && !ev_is_active(&ps->timer))
			ev_timer_start(srv->loop, &ps->timer);
	}
	char ***names = joined ? &r->joined : &r->left;
	size_t *n = joined ? &r->njoined : &r->nleft;
	size_t *more = joined ? &r->joined_more : &r->left_more;
	char *copy = *n < PRESENCE_MAX_NAMES ? strdup(name) : NULL;
	char **grown = copy ? realloc(*names, (*n + 1) * sizeof **names) : NULL;
	if (!grown) {
		free(copy);
		(*more)++;
		return;
	}
	*names = grown;
	grown[(*n)++] = copy;
}

void presence_forget(struct chatd_server *srv, struct room *r)
{
	struct presence_state *ps = srv->presence;
	if (!ps || !r->presence_dirty)
		return;
	for (size_t i = 0; i < ps->ndirty; i++)
		if (ps->dirty[i] == r) {
			ps->dirty[i] = ps->dirty[--ps->ndirty];
			break;
		}
	room_pending_clear(r);
	r->presence_dirty = 0;
}

void presence_stop(struct chatd_server *srv)
{
	struct presence_state *ps = srv->presence;
	if (!ps)
		return;
	if (srv->loop)
		ev_timer_stop(srv->loop, &ps->timer);
	free(ps->dirty);
	free(ps);
	srv->presence = NULL;
}
