/* Private messages across the nodes (dm.c). */
#ifndef CLUSTER_DM_H
#define CLUSTER_DM_H

#include "cluster.h"

/* CHATD_EV_PRIVATE at LATE: every private message goes through Redis
 * (CONSUMED: delivered from chatd_dm's answer here and from the node
 * channels elsewhere), or DENY unavailable when Redis is out of reach. */
int dm_private(int event_id, void *event, void *userdata);
/* A private message on this node's channel ("d ..."). */
void dm_deliver(struct cluster *cl, const char *data, size_t len);
/* c is gone: its messages in flight are answered to nobody. */
void dm_client_gone(struct cluster *cl, chatd_client *c);

#endif
