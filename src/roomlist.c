#include "roomlist.h"
#include "client.h"
#include "plugins.h"
#include "remote.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int roomlist_hidden(const struct chatd_server *srv, const char *name)
{
	const char *g = srv->cfg.unlisted_rooms;
	char glob[ROOM_MAX_BYTES * 2 + 1];
	while (g && *g) {
		while (*g == ' ')
			g++;
		size_t n = strcspn(g, " ");
		if (n && n < sizeof glob) {
			memcpy(glob, g, n);
			glob[n] = 0;
			if (!fnmatch(glob, name, 0))
				return 1;
		}
		g += n;
	}
	return 0;
}

void roomlist_remote_free(struct chatd_server *srv)
{
	for (size_t i = 0; i < srv->nremote_rooms; i++)
		free(srv->remote_rooms[i]);
	free(srv->remote_rooms);
	free(srv->remote_room_counts);
	srv->remote_rooms = NULL;
	srv->remote_room_counts = NULL;
	srv->nremote_rooms = 0;
}

int roomlist_remote_set(chatd_plugin *self, const char *const *names, const int64_t *counts, size_t n)
{
	struct chatd_server *srv = ((struct loaded_plugin *)self)->srv;
	roomlist_remote_free(srv);
	if (!n)
		return 0;
	srv->remote_rooms = calloc(n, sizeof *srv->remote_rooms);
	srv->remote_room_counts = calloc(n, sizeof *srv->remote_room_counts);
	if (!srv->remote_rooms || !srv->remote_room_counts)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !names[i][0] || strlen(names[i]) > ROOM_MAX_BYTES || counts[i] <= 0)
			continue; /* not a room anybody could be in */
		if (!(srv->remote_rooms[srv->nremote_rooms] = strdup(names[i])))
			goto fail;
		srv->remote_room_counts[srv->nremote_rooms++] = counts[i];
	}
	return 0;
fail:
	roomlist_remote_free(srv);
	return -1;
}

/* One row of the list. */
struct listed {
	const char *name;
	int64_t count;
};

/* Biggest first, then by name. */
static int by_size(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

void roomlist_send(struct chatd_server *srv, struct chatd_client *c)
{
	size_t cap = srv->rooms.count + srv->nremote_rooms;
	struct listed *v = malloc((cap ? cap : 1) * sizeof *v);
	size_t n = 0, pos = 0;
	void *val;
	if (!v) {
		client_send_error(c, "internal", "out of memory", 0);
		return;
	}
	while (strmap_next(&srv->rooms, &pos, NULL, &val)) {
		struct room *r = val;
		if (r->npeople && n < cap && !roomlist_hidden(srv, r->name))
			v[n++] = (struct listed){ r->name, (int64_t)room_user_count(r) };
	}
	for (size_t i = 0; i < srv->nremote_rooms && n < cap; i++) {
		const char *name = srv->remote_rooms[i];
		const struct room *r = strmap_get(&srv->rooms, name);
		if ((!r || !r->npeople) && !roomlist_hidden(srv, name)) /* else listed above, counted here */
			v[n++] = (struct listed){ name, srv->remote_room_counts[i] };
	}
	qsort(v, n, sizeof *v, by_size);
	json_t *rooms = json_array();
	for (size_t i = 0; rooms && i < n && i < ROOMLIST_MAX; i++)
		json_array_append_new(rooms, json_pack("{s:s,s:I}", "name", v[i].name, "user_count",
							(json_int_t)v[i].count));
	json_t *o = json_pack("{s:s,s:o}", "type", "rooms", "rooms", rooms);
	if (o && n > ROOMLIST_MAX)
		json_object_set_new(o, "more", json_true());
	free(v);
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
	else
		client_send_error(c, "internal", "out of memory", 0);
}
