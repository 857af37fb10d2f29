/*
 * This node's people in Redis: presence per room (chatd_presence), names
 * (chatd_claim, chatd_release), and re-stating both after a reconnect
 * (chatd_resync, chatd_names_resync), which also sends the leaves that
 * happened while Redis was out of reach.
 */
#ifndef CLUSTER_PEOPLE_H
#define CLUSTER_PEOPLE_H

#include "cluster.h"

/* Tell Redis: fold (display) is present ('j'), gone ('l') or renamed from
 * old_fold ('r') in room, on this node. Without Redis nothing is sent: the
 * next resync states it. */
void presence_send(struct cluster *cl, char op, const char *fold, const char *display, const char *old_fold,
		   const char *room);

/* CHATD_EV_NAME_CLAIM: ask Redis for the first free candidate. Returns
 * CHATD_HOLD (answered later with api->pending_release) or CHATD_DENY
 * (error fields set) when Redis is not reachable. */
int names_claim(struct cluster *cl, struct chatd_name_claim_event *ev);
/* CHATD_EV_NAME_RELEASE: one of this node's connections no longer holds fold. */
void names_release(struct cluster *cl, const char *fold);
/* Forget every name (this node was fenced: Redis dropped them). */
void names_forget_all(struct cluster *cl);

/* Re-state this node's presence and names (after the command connection came back). */
void people_resync(struct cluster *cl);

#endif
