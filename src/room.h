/* Rooms: membership and per-room message ids. */
#ifndef CHATD_ROOM_H
#define CHATD_ROOM_H

#include <jansson.h>
#include "server.h"

/* The room called name, created (with CHATD_EV_ROOM_CREATE) when absent. NULL on OOM. */
struct room *room_get(struct chatd_server *srv, const char *name);
/* Add c to r (c must be in no room). 0, or -1 on OOM. */
int room_add(struct room *r, struct chatd_client *c);
/* Remove c from its room; frees the room when it is empty and has no
 * messages. Returns the number of members left (0: r may be gone). */
size_t room_remove(struct chatd_server *srv, struct chatd_client *c);
/* Member names of r as a new JSON array, at most max names (0 = all). */
json_t *room_user_list(const struct room *r, size_t max);
/* Free every room (shutdown). */
void room_free_all(struct chatd_server *srv);

#endif
