/*
 * A room as this node sees it in the cluster: its subscription, the last id
 * it delivered, the people present through other nodes, the joins it holds.
 *
 * Messages are delivered from one ordered source, the room's channel, in id
 * order: id = delivered + 1 at once; a smaller id is a duplicate and is
 * dropped; a larger one waits in a bounded buffer while the gap is filled
 * from the room's stream (chatd_range). The same after every
 * (re)subscription: the room is synced (chatd_sync: last id, presence) and
 * what this node missed is filled from the stream before live delivery goes
 * on. A node is subscribed only to rooms it has people in (or joins
 * pending); the last one leaving unsubscribes.
 */
#ifndef CLUSTER_CROOM_H
#define CLUSTER_CROOM_H

#include <stdint.h>

#include "cluster.h"
#include "proto.h"

struct croom;
struct joiner;

/* The room called name, created (and subscribed when possible). NULL on OOM. */
struct croom *croom_get(struct cluster *cl, const char *name);
/* The room called name when this node follows it, else NULL. */
struct croom *croom_find(struct cluster *cl, const char *name);
/* A payload on the room channel of a followed room (channel without prefix). */
void croom_message(struct cluster *cl, const char *room, size_t rlen, const char *data, size_t len);
/* The subscription connection: up (subscribe every room), down (every room
 * must sync again), a SUBSCRIBE took effect. */
void croom_sub_up(struct cluster *cl);
void croom_sub_down(struct cluster *cl);
void croom_subscribed(struct cluster *cl, const char *channel, size_t len);
/* Issue what is due (syncs, fills, retries); from the heartbeat timer and when
 * the command connection comes up. */
void croom_service(struct cluster *cl);

/* A person of this node entered / left / was renamed in the room (the
 * core's CHATD_EV_PRESENCE): tells Redis, and drops the room when nobody
 * of this node is left in it. */
void croom_local_presence(struct cluster *cl, const char *room, int change, const char *name, const char *fold,
			  const char *old_name, const char *old_fold);
/* This node was fenced: Redis no longer holds its people (they are closing). */
void croom_forget_local(struct cluster *cl);
/* Every person of this node, for chatd_resync after a reconnect (argv of
 * room, fold, display triples appended to the vector). */
struct strvec;
void croom_local_people(struct cluster *cl, struct strvec *out);

/* Hold c's entry into the room (CHATD_EV_JOINING): the join completes when the
 * room is live and the replay is read. 0 when held (pending kept), -1 when
 * refused at once (error_code/message set, static). */
int croom_join(struct cluster *cl, chatd_client *c, chatd_room *room, int64_t since, chatd_pending *pending,
	       const char **error_code, const char **error_message);
/* c is gone: release what it had pending. */
void croom_client_gone(struct cluster *cl, chatd_client *c);

/* Free every room (shutdown). */
void croom_free_all(struct cluster *cl);
/* Rooms followed, for /metrics. */
size_t croom_count(struct cluster *cl);

#endif
