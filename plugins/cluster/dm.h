/* Private messages (/msg) to people on other nodes (dm.c). */
#ifndef CLUSTER_DM_H
#define CLUSTER_DM_H

#include "cluster.h"

/* CHATD_EV_MESSAGE, just before privmsg: "/msg NAME text" for a NAME not on
 * this node goes through Redis (CONSUMED), else CHATD_OK. */
int dm_message(int event_id, void *event, void *userdata);
/* A private message on this node's channel ("d ..."). */
void dm_deliver(struct cluster *cl, const char *data, size_t len);
/* c is gone: its messages in flight are answered to nobody. */
void dm_client_gone(struct cluster *cl, chatd_client *c);

#endif
