/* Joining and leaving rooms: a connection is in any number of rooms (its
 * roomset) and has a current room (the one it joined last of those it is
 * still in). Here are the welcome, the join and leave notices (one frame, or
 * coalesced in big rooms by presence.c), the JOIN and LEAVE hooks, the
 * protocol's join/leave requests in single (switch) and multi mode, and
 * presence per person: a room lists names (struct person), each once however
 * many of its connections are in the room; the join notice goes out when the
 * first enters, the leave notice when the last leaves (or its grace ends). */
#ifndef CHATD_MEMBERSHIP_H
#define CHATD_MEMBERSHIP_H

#include "server.h"

/* 1 when c is in r, else 0. O(1). */
int membership_in(const struct chatd_client *c, const struct room *r);

/* Send c the welcome of r (a room c is in). */
void membership_welcome(struct chatd_server *srv, struct chatd_client *c, struct room *r);

/*
 * Put c into the room called name (folded, valid; c is not in it) and make
 * it c's current room: welcome, join notice, JOIN hooks with since (-1 when
 * absent) and first (1 for the handshake's room). Returns 0, or -1 when out
 * of memory (c is then sent an error and closed with 1011).
 */
int membership_join(struct chatd_server *srv, struct chatd_client *c, const char *name, int64_t since, int first);

/*
 * Take c out of r (a room c is in): LEAVE hooks (c is still a member while
 * they run), removal, and when c was its person's last connection in r, a
 * leave notice to the members left. When r was current, the current room
 * becomes the room c joined last of those it is still in (NULL when none).
 * r may be freed.
 */
void membership_leave(struct chatd_server *srv, struct chatd_client *c, struct room *r);

/*
 * Leave every room, as membership_leave (disconnect). With hold (a closing
 * connection of a session, identity_grace_applies), a room where c was its
 * person's last connection keeps the person present, silently, for
 * presence_grace_ms: identity_schedule then ends it (membership_expire_held)
 * unless a connection of the person comes back to the room first.
 */
void membership_leave_all(struct chatd_server *srv, struct chatd_client *c, int hold);

/* End p's presence, with a leave notice, in every room p holds in grace
 * (no connection of p there) until now_ms_mono or earlier (monotonic ms;
 * INT64_MAX: every such room). */
void membership_expire_held(struct chatd_server *srv, struct person *p, int64_t now_ms_mono);

/*
 * A {"type":"join"} request for the room called name (folded, valid). Single
 * mode: switch (leave the current room, join name). Multi mode: add name,
 * unless c is in max_rooms_per_client rooms (error too_many_rooms). Joining
 * a room c is in re-sends its welcome and makes it current.
 */
void membership_request_join(struct chatd_server *srv, struct chatd_client *c, const char *name, int64_t since);

/*
 * A {"type":"leave"} request for the room called name (folded, valid), or
 * for the current room when name is NULL: leaves it and answers
 * {"type":"left","room":...}; error not_in_room when c is not in it.
 */
void membership_request_leave(struct chatd_server *srv, struct chatd_client *c, const char *name);

/*
 * The room a frame from c is for: the room called name (folded, valid)
 * when c is in it, else NULL; when name is NULL, c's current room (NULL when
 * c is in none). Borrowed.
 */
struct room *membership_resolve(struct chatd_server *srv, const struct chatd_client *c, const char *name);

#endif
