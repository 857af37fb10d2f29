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
/* Remove c from r (no-op when c is not in r). Does not touch c->room and
 * does not free r (room_release_if_unused). Returns the members left. */
size_t room_remove(struct chatd_server *srv, struct room *r, struct chatd_client *c);
/* Add person p to r's people (p must not be there); its entry in p->rooms
 * (count 1) is returned, NULL on OOM (nothing changed). */
struct roomset_entry *room_person_add(struct room *r, struct person *p);
/* Remove p from r's people (no-op when absent). Does not free r. */
void room_person_remove(struct room *r, struct person *p);
/* Free r when nobody is in it (no member, nobody present) and it never had
 * messages; a room with messages only gives back its arrays. r may be gone
 * afterwards. */
void room_release_if_unused(struct chatd_server *srv, struct room *r);
/* The names present in r as a new JSON array, at most max (0 = all): the
 * people here, then those present only through other nodes (remote.c). */
json_t *room_user_list(const struct room *r, size_t max);
/* CHATD_EV_ROOM_DESTROY for r (shutdown: 1 when the server is stopping). */
void room_destroy_event(struct chatd_server *srv, struct room *r, int shutdown);
/* CHATD_EV_ROOM_DESTROY (shutdown 1) for every room left: before the plugins
 * are unloaded, so that they free what they keep per room. */
void room_destroy_all_events(struct chatd_server *srv);
/* Free every room (shutdown; no events). */
void room_free_all(struct chatd_server *srv);

#endif
