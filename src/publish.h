/* The room-message pipeline: MESSAGE hooks, id and timestamp, STORE hooks
 * (which may hold the message until it is stored), then one fan-out. */
#ifndef CHATD_PUBLISH_H
#define CHATD_PUBLISH_H

#include "server.h"

/*
 * Post text (borrowed, validated) from c to r, a room c is in. client_id
 * (borrowed, may be NULL) comes back on the sender's copy only. Errors go to
 * c as error frames.
 */
void publish_message(struct chatd_server *srv, struct chatd_client *c, struct room *r, const char *text,
		     size_t len, const char *client_id);

/* {"type":"system","event":event,"room":..,"username":..,"message":text,"ts":..}
 * (plus "old" and "requested" when not NULL; every string borrowed), encoded
 * once and sent to every member of r but except (may be NULL) as presence. */
void publish_system(struct chatd_server *srv, struct room *r, const char *event, const char *username,
		    const char *old, const char *requested, const char *text, const struct chatd_client *except);

/*
 * A plugin's notice to r (text borrowed, already checked): a message with the
 * room's next id, username "" and "notice":true, through the STORE hooks
 * (history keeps it) to every member. Returns the id, or CHATD_NOTICE_ROUTED
 * when a plugin routes room messages (CHATD_EV_ROUTE), or CHATD_TEXT_NOMEM.
 */
int64_t publish_notice(struct chatd_server *srv, struct room *r, const char *text);

/* Fan b (borrowed) out to every member of r but except (may be NULL). */
void publish_to_room(struct chatd_server *srv, struct room *r, struct outbuf *b,
		     const struct chatd_client *except, int flags);

/* The plugin API's room_deliver (see chatd/plugin.h). */
int publish_deliver(chatd_room *room, const struct chatd_delivery *d);

/* The plugin API's hold_keep / hold_release (see chatd/plugin.h). */
chatd_held *publish_hold_keep(chatd_held *held);
void publish_hold_release(chatd_held *held, int ok);

#endif
