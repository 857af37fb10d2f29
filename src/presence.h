/* Presence in big rooms: join/leave notices coalesced into one periodic
 * summary per room instead of one frame per event to every member. */
#ifndef CHATD_PRESENCE_H
#define CHATD_PRESENCE_H

#include "server.h"

/* 1 when r is big enough for coalescing (cfg.big_room_members). */
int presence_coalesced(const struct chatd_server *srv, const struct room *r);
/* Record that name joined (joined = 1) or left r; the summary goes out within
 * presence_interval_ms. */
void presence_note(struct chatd_server *srv, struct room *r, const char *name, int joined);
/* Send every pending summary now (the timer does this; tests and shutdown too). */
void presence_flush_all(struct chatd_server *srv);
/* Forget r's pending summary (r is being freed). */
void presence_forget(struct chatd_server *srv, struct room *r);
/* Stop the timer and drop every pending summary (shutdown). */
void presence_stop(struct chatd_server *srv);

#endif
