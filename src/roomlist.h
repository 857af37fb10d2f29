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

#endif
