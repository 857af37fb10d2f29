#include "remote.h"
#include "presence.h"
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int remote_local_has(const struct room *r, const char *fold)
{
	const struct person *p = strmap_get(&r->srv->nicks, fold);
	return p && roomset_find(&p->rooms, r) != NULL;
}

int remote_has(const struct room *r, const char *fold)
{
	return r->remote.count && strmap_get(&r->remote, fold) != NULL;
}

size_t room_user_count(const struct room *r)
{
	size_t n = r->npeople;
	if (!r->remote.count)
		return n;
	size_t pos = 0;
	const char *fold;
	while (strmap_next(&r->remote, &pos, &fold, NULL))
		n += !remote_local_has(r, fold);
	return n;
}

void remote_append_names(const struct room *r, json_t *users, size_t max)
{
	size_t pos = 0;
	const char *fold;
	void *display;
	while (r->remote.count && strmap_next(&r->remote, &pos, &fold, &display) &&
	       (!max || json_array_size(users) < max))
		if (!remote_local_has(r, fold))
			json_array_append_new(users, json_string(display));
}

void remote_free(struct room *r)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&r->remote, &pos, NULL, &v))
		free(v);
	strmap_free(&r->remote);
}

/* A join or leave notice for a remote person, as for a member here. */
static void announce(struct room *r, const char *name, int joined)
{
	struct chatd_server *srv = r->srv;
	if (!r->count) /* nobody here to tell */
		return;
	/* plugins hear of people who come and go here only (CHATD_EV_PRESENCE) */
	if (presence_coalesced(srv, r)) {
		presence_note(srv, r, name, joined);
		return;
	}
	char text[NICK_MAX_BYTES + 32];
	snprintf(text, sizeof text, "%s %s the chat", name, joined ? "joined" : "left");
	publish_system(srv, r, joined ? "join" : "leave", name, NULL, NULL, text, NULL);
}

int remote_change(chatd_plugin *self, chatd_room *room, int change, const char *name, const char *old_name)
{
	(void)self;
	struct room *r = (struct room *)room;
	char fold[NICK_MAX_BYTES * 2 + 1], old_fold[NICK_MAX_BYTES * 2 + 1];
	if (change == CHATD_PRESENCE_CLEAR) { /* silently: this node no longer follows the room */
		remote_free(r);
		strmap_init(&r->remote);
		return 0;
	}
	if (!name)
		return -1;
	nick_fold(name, fold, sizeof fold);
	if (change == CHATD_PRESENCE_ENTER) {
		if (strmap_get(&r->remote, fold))
			return -1;
		char *d = strdup(name);
		if (!d || strmap_put(&r->remote, fold, d)) {
			free(d);
			return -1;
		}
		if (!remote_local_has(r, fold))
			announce(r, name, 1);
		return 0;
	}
	if (change == CHATD_PRESENCE_LEAVE) {
		char *d = strmap_del(&r->remote, fold);
		if (!d)
			return -1;
		if (!remote_local_has(r, fold))
			announce(r, d, 0);
		free(d);
		return 0;
	}
	if (change != CHATD_PRESENCE_RENAME || !old_name)
		return -1;
	nick_fold(old_name, old_fold, sizeof old_fold);
	char *old = strmap_del(&r->remote, old_fold);
	char *d = strdup(name);
	if (!old || !d) {
		free(old);
		free(d);
		return -1;
	}
	free(strmap_del(&r->remote, fold));
	if (strmap_put(&r->remote, fold, d))
		free(d);
	if (r->count && !remote_local_has(r, fold)) {
		char text[3 * NICK_MAX_BYTES + 64];
		snprintf(text, sizeof text, "%s is now known as %s", old, name);
		publish_system(r->srv, r, "rename", name, old, NULL, text, NULL);
	}
	free(old);
	return 0;
}
