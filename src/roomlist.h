/* The list of rooms a client can browse: {"type":"rooms"}. */
#ifndef CHATD_ROOMLIST_H
#define CHATD_ROOMLIST_H

#include "server.h"

/* Rooms listed at most in one answer (the biggest); "more" says others exist. */
#define ROOMLIST_MAX 500

/* 1 when the room called name (folded) matches a glob of [server]
 * unlisted_rooms: it works, but the list does not show it. */
int roomlist_hidden(const struct chatd_server *srv, const char *name);

/* Send c {"type":"rooms","rooms":[{"name":..,"user_count":N},...]}: the
 * listed rooms where somebody is present (user_count: names, as in the
 * welcome), biggest first (then by name), at most
 * ROOMLIST_MAX, with "more":true when some were left out. */
void roomlist_send(struct chatd_server *srv, struct chatd_client *c);

/* api->rooms_remote_set: the rooms other nodes have people in (names and
 * counts borrowed, copied), listed besides this server's own. Returns 0, or
 * -1 when out of memory (the list is then empty). */
int roomlist_remote_set(chatd_plugin *self, const char *const *names, const int64_t *counts, size_t n);
/* Free that list (shutdown). */
void roomlist_remote_free(struct chatd_server *srv);

#endif
