/* The cluster plugin's shared state (one per process). Internal. */
#ifndef CLUSTER_CLUSTER_H
#define CLUSTER_CLUSTER_H

#include <chatd/plugin.h>
#include <ev.h>

#include "options.h"
#include "redis.h"
#include "strmap.h"

struct sendreq;
struct page;
struct dm;

#define CLUSTER_NODE_ID_MAX (CLUSTER_NODE_NAME_MAX + 18)
/* Where a client that must come back is sent: WebSocket 1012 "service restart". */
#define CLUSTER_CLOSE_RECONNECT 1012

/* Per connection (its client slot). */
struct cluster_client {
	chatd_client *client;
	struct sendreq *sends;     /* its messages waiting for their delivery (send.c) */
	struct page *pages;        /* its history pages waiting for Redis (hist.c) */
	struct dm *dms;            /* its private messages waiting for Redis (dm.c) */
	struct cluster_client *prev, *next; /* cluster.clients */
};

struct cluster {
	const struct chatd_api *api;
	chatd_plugin *self;
	struct ev_loop *loop;      /* chatd's loop: libev's default loop */
	struct cluster_options opt;
	struct redis_options ropt;
	struct redis *redis;
	char functions_version[16];

	/* This node: a fresh id at every start and after every fencing. */
	char node_id[CLUSTER_NODE_ID_MAX + 1];
	char node_channel[CLUSTER_PREFIX_MAX + CLUSTER_NODE_ID_MAX + 8];
	int registered;            /* chatd_hello answered for node_id */
	int hello_in_flight;
	ev_timer beat;
	uint64_t beat_seq;         /* last beat sent */
	int beat_in_flight;
	/* Subscription health: a beat acknowledged by Redis must come back on
	 * the node's own channel. */
	uint64_t first_counted_seq; /* beats from this one on count (sent after subscribing) */
	uint64_t acked_seq;        /* newest beat Redis answered */
	int64_t acked_ms[16];      /* when (monotonic) beat seq was answered, at seq % 16 */
	uint64_t seen_seq;         /* newest beat received on the subscription */
	int node_subscribed;       /* the node channel's SUBSCRIBE took effect */
	ev_timer sub_check;        /* one-shot: when the oldest missing acknowledged beat is late */
	int64_t fenced_total;

	struct cluster_client *clients; /* every accepted connection */
	size_t nclients;

	struct strmap rooms;       /* room name -> struct croom * (croom.c) */
	struct strmap names;       /* folded name -> struct held_name * this node holds (people.c) */
	struct sendreq **sendslots; /* request number -> struct sendreq * (send.c) */
	size_t nsendslots, nsend;
	uint64_t next_req;
	int resync_due;            /* presence and names must be re-stated to Redis */
	int rooms_in_flight;       /* a chatd_rooms call waits for its answer (rooms.c) */
};

/* Log through the plugin API. */
#define CLOG(cl, level, ...) (cl)->api->log((cl)->self, (level), __VA_ARGS__)

/* node.c: registration, heartbeat, fencing, subscription health. */
int node_start(struct cluster *cl);
void node_stop(struct cluster *cl);
void node_cmd_up(struct cluster *cl);
void node_sub_up(struct cluster *cl);
void node_sub_down(struct cluster *cl);
void node_subscribed(struct cluster *cl, const char *channel, size_t len);
/* A message on the node's own channel. */
void node_message(struct cluster *cl, const char *data, size_t len);
/* Remove everything this node holds in Redis (clean shutdown; blocking). */
void node_bye(struct cluster *cl);
/* This node was fenced (how: for the log): close every client with 1012, and
 * come back under a new id. */
void node_fenced(struct cluster *cl, const char *how);

#endif
