/* The room list over the nodes ({"type":"rooms"}): rooms.c. */
#ifndef CLUSTER_ROOMS_H
#define CLUSTER_ROOMS_H

#include "cluster.h"

/* Ask Redis for the rooms with people on any node (chatd_rooms) and hand
 * them to the core (api->rooms_remote_set) when it answers. Once a second;
 * nothing while Redis is out of reach (the last list stays). */
void rooms_refresh(struct cluster *cl);

#endif
