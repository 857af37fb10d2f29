#include "roomlist.h"
#include "remote.h"
#include "client.h"

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

/* Biggest first, then by name. */
static int by_size(const void *a, const void *b)
{
	const struct room *x = *(struct room *const *)a, *y = *(struct room *const *)b;
	if (x->npeople != y->npeople)
		return x->npeople > y->npeople ? -1 : 1;
	return strcmp(x->name, y->name);
}

void roomlist_send(struct chatd_server *srv, struct chatd_client *c)
{
	struct room **v = malloc((srv->rooms.count ? srv->rooms.count : 1) * sizeof *v);
	size_t n = 0, pos = 0;
	void *val;
	if (!v) {
		client_send_error(c, "internal", "out of memory", 0);
		return;
	}
	while (strmap_next(&srv->rooms, &pos, NULL, &val)) {
		struct room *r = val;
		if (r->npeople && n < srv->rooms.count && !roomlist_hidden(srv, r->name))
			v[n++] = r;
	}
	qsort(v, n, sizeof *v, by_size);
	json_t *rooms = json_array();
	for (size_t i = 0; rooms && i < n && i < ROOMLIST_MAX; i++)
		json_array_append_new(rooms, json_pack("{s:s,s:I}", "name", v[i]->name, "user_count",
							(json_int_t)room_user_count(v[i])));
	json_t *o = json_pack("{s:s,s:o}", "type", "rooms", "rooms", rooms);
	if (o && n > ROOMLIST_MAX)
		json_object_set_new(o, "more", json_true());
	free(v);
	if (o)
		client_send_json(c, o, CHATD_SEND_NORMAL);
	else
		client_send_error(c, "internal", "out of memory", 0);
}
