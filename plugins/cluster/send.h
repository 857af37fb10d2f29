/*
 * Sending a room message through Redis (CHATD_EV_ROUTE), and the sender's
 * acknowledgement.
 *
 * The message goes to chatd_publish with this node's request number; Redis
 * gives it the room's next id and publishes it. The sender's copy (with its
 * client_id) is the in-order delivery of that message on this node (croom.c
 * calls send_take with the node and request number the message carries). The
 * request is remembered until then, or for SENDREQ_KEEP_MS after Redis
 * failed to answer (it may still have run it: the late delivery still
 * carries the client_id).
 */
#ifndef CLUSTER_SEND_H
#define CLUSTER_SEND_H

#include "cluster.h"

struct sendreq;

/* CHATD_EV_ROUTE: take c's message over. Returns CHATD_CONSUMED, or
 * CHATD_DENY with ev's error fields set (static strings). */
int send_route(struct cluster *cl, struct chatd_route_event *ev);

/* The request of this node's message `req`, taken out of the table (NULL when
 * unknown: sent before a fencing, or expired). Give it back with send_done. */
struct sendreq *send_take(struct cluster *cl, uint64_t req);
/* Its sender (NULL when gone) and client_id (NULL when none). */
chatd_client *send_client(const struct sendreq *s);
const char *send_client_id(const struct sendreq *s);
/* Done with a taken request (s may be NULL). */
void send_done(struct cluster *cl, struct sendreq *s);

/* c is gone: its requests no longer point at it. */
void send_client_gone(struct cluster *cl, chatd_client *c);
/* Forget requests kept past SENDREQ_KEEP_MS (from the heartbeat timer). */
void send_expire(struct cluster *cl);
/* Free everything (shutdown). */
void send_free_all(struct cluster *cl);

/* An error frame for a message: {"type":"error","code":..,"message":..,
 * "client_id":..(when given),"retry_after_ms":..(when > 0)}. */
void send_error_frame(struct cluster *cl, chatd_client *c, const char *code, const char *message,
		      const char *client_id, int retry_after_ms);

#endif
