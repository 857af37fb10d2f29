/* Paging the room history in cluster mode (hist.c). */
#ifndef CLUSTER_HIST_H
#define CLUSTER_HIST_H

#include "cluster.h"

/* The claimed frame type "history" (CHATD_EV_FRAME). */
int hist_frame(int event_id, void *event, void *userdata);
/* c is gone: its pages in flight are answered to nobody. */
void hist_client_gone(struct cluster *cl, chatd_client *c);

#endif
