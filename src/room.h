/* Rooms: membership and per-room message ids. */
#ifndef CHATD_ROOM_H
#define CHATD_ROOM_H

#include <jansson.h>
#include "server.h"

/* The room called name, created (with CHATD_EV_ROOM_CREATE) when absent. NULL on OOM. */
struct room *room_get(struct chatd_server *srv, const char *name);
/* Add c to r (c must not be in r yet); the entry in c->rooms gets the next
 * join stamp. 0, or -1 on OOM (nothing changed). Does not touch c->room. */
int room_add(struct room *r, struct chatd_client *c);
/* Remove c from r (no-op when c is not in r); frees the room when it is
 * empty and has no messages. Does not touch c->room. Returns the number of
 * members left (0: r may be gone). */
size_t room_remove(struct chatd_server *srv, struct room *r, struct chatd_client *c);
/* Member names of r as a new JSON array, at most max names (0 = all). */
json_t *room_user_list(const struct room *r, size_t max);
/* Free every room (shutdown). */
void room_free_all(struct chatd_server *srv);

#endif
