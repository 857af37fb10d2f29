#include "room.h"
#include "hooks.h"
#include "presence.h"
#include "remote.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void room_free(struct room *r)
{
	for (size_t i = 0; i < r->njoined; i++)
		free(r->joined[i]);
	for (size_t i = 0; i < r->nleft; i++)
		free(r->left[i]);
	free(r->joined);
	free(r->left);
	free(r->members);
	free(r->people);
	free(r->slots);
	remote_free(r);
	free(r);
}

void room_destroy_event(struct chatd_server *srv, struct room *r, int shutdown)
{
	if (!hooks_any(&srv->hooks, CHATD_EV_ROOM_DESTROY))
		return;
	struct chatd_room_destroy_event ev = { .size = sizeof ev, .room = (chatd_room *)r, .shutdown = shutdown };
	hooks_dispatch(&srv->hooks, CHATD_EV_ROOM_DESTROY, &ev);
}

void room_destroy_all_events(struct chatd_server *srv)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&srv->rooms, &pos, NULL, &v))
		room_destroy_event(srv, v, 1);
}

struct room *room_get(struct chatd_server *srv, const char *name)
{
	struct room *r = strmap_get(&srv->rooms, name);
	if (r)
		return r;
	if (!(r = calloc(1, sizeof *r)))
		return NULL;
	r->srv = srv;
	snprintf(r->name, sizeof r->name, "%s", name);
	if ((srv->nplugins && !(r->slots = calloc((size_t)srv->nplugins, sizeof *r->slots))) ||
	    strmap_put(&srv->rooms, name, r)) {
		free(r->slots);
		free(r);
		return NULL;
	}
	if (hooks_any(&srv->hooks, CHATD_EV_ROOM_CREATE)) {
		struct chatd_room_create_event ev = { .size = sizeof ev, .room = (chatd_room *)r, .last_id = 0 };
		hooks_dispatch(&srv->hooks, CHATD_EV_ROOM_CREATE, &ev);
		if (ev.last_id > r->last_id)
			r->last_id = ev.last_id;
	}
	return r;
}

int room_add(struct room *r, struct chatd_client *c)
{
	if (r->count == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 4;
		struct chatd_client **n = realloc(r->members, ncap * sizeof *n);
		if (!n)
			return -1;
		r->members = n;
		r->cap = ncap;
	}
	struct roomset_entry *e = roomset_add(&c->rooms, r);
	if (!e)
		return -1;
	e->index = r->count;
	e->seq = ++c->joins;
	r->members[r->count++] = c;
	if (r->count == 1)
		c->srv->nrooms_live++;
	return 0;
}

size_t room_remove(struct chatd_server *srv, struct room *r, struct chatd_client *c)
{
	struct roomset_entry *e = roomset_find(&c->rooms, r);
	if (!e)
		return r->count;
	/* swap-remove: O(1), members are unordered; the member moved into the
	 * hole learns its new index through its own set (O(1) too) */
	size_t index = e->index;
	roomset_remove(&c->rooms, r);
	struct chatd_client *last = r->members[--r->count];
	if (last != c) {
		r->members[index] = last;
		roomset_find(&last->rooms, r)->index = index;
	}
	if (!r->count)
		srv->nrooms_live--;
	return r->count;
}

struct roomset_entry *room_person_add(struct room *r, struct person *p)
{
	if (r->npeople == r->people_cap) {
		size_t ncap = r->people_cap ? r->people_cap * 2 : 4;
		struct person **n = realloc(r->people, ncap * sizeof *n);
		if (!n)
			return NULL;
		r->people = n;
		r->people_cap = ncap;
	}
	struct roomset_entry *e = roomset_add(&p->rooms, r);
	if (!e)
		return NULL;
	e->index = r->npeople;
	e->count = 1;
	r->people[r->npeople++] = p;
	return e;
}

void room_person_remove(struct room *r, struct person *p)
{
	struct roomset_entry *e = roomset_find(&p->rooms, r);
	if (!e)
		return;
	size_t index = e->index;
	roomset_remove(&p->rooms, r);
	struct person *last = r->people[--r->npeople];
	if (last != p) {
		r->people[index] = last;
		roomset_find(&last->rooms, r)->index = index;
	}
}

void room_release_if_unused(struct chatd_server *srv, struct room *r)
{
	/* a held join (pending.c) or people present through other nodes
	 * (remote.c) keep it too */
	if (r->count || r->npeople || r->holds || r->remote.count)
		return;
	if (r->last_id > 0) { /* keep its id sequence; give back the arrays */
		free(r->members);
		free(r->people);
		r->members = NULL;
		r->people = NULL;
		r->cap = r->people_cap = 0;
		return;
	}
	presence_forget(srv, r);
	room_destroy_event(srv, r, 0); /* a hook may not bring it back: it is unused */
	strmap_del(&srv->rooms, r->name);
	room_free(r);
}

json_t *room_user_list(const struct room *r, size_t max)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->npeople && (!max || i < max); i++)
		json_array_append_new(a, json_string(r->people[i]->name));
	if (a && r->remote.count)
		remote_append_names(r, a, max);
	return a;
}

void room_free_all(struct chatd_server *srv)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&srv->rooms, &pos, NULL, &v))
		room_free(v);
	strmap_free(&srv->rooms);
}
