/* The server: the one struct that holds all mutable state, and the types
 * the core's units share (clients, rooms). Internal: not installed. */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include <stdint.h>
#include "chatd/plugin.h"
#include "config.h"
#include "hooks.h"
#include "names.h"
#include "roomset.h"
#include "sendq.h"
#include "sha256.h"
#include "strmap.h"

struct chatd_server;
struct room;
struct nick_refusal;
struct person;
struct command;
struct service;
struct posts;
struct sendbatch;

/* How the core reaches a client's socket; ws.c for real, fakes in tests. */
struct transport_ops {
	/* Ask to be told when the client can be written (then drain the queue). */
	void (*want_write)(struct chatd_client *c);
	/* Drop the connection at once, no close frame (may run the close path
	 * before returning). NULL: not supported. */
	void (*drop)(struct chatd_client *c);
};

/* One connection. Refcounted so held messages can outlive the socket. */
struct chatd_client {
	struct chatd_server *srv;
	unsigned refs;
	uint64_t id;
	void *transport;            /* struct lws * (or a test fake) */
	char name[NICK_MAX_BYTES + 1];          /* its person's name (a copy), "" before open */
	struct person *person;      /* who it is (identity.c); NULL before open and after close */
	size_t person_index;        /* position in person->conns */
	int has_session;            /* ?session= given (and valid) */
	unsigned char session[SHA256_BYTES];    /* SHA-256 of the session key (the key is not kept) */
	char session_hex[2 * SHA256_BYTES + 1]; /* the same in hex, "" without a session */
	char requested[NICK_MAX_BYTES * 2 + 1]; /* folded last requested name */
	char address[64];
	char join_room[ROOM_MAX_BYTES + 1];     /* room from the handshake (folded) */
	char *query_name;           /* ?name= as given (owned; client_set_query_name), NULL when
				     * absent; freed once chat_open has read it (idle sockets
				     * keep no copy: 513 bytes each when it was an array) */
	int64_t since;              /* ?since=, -1 when absent */
	struct room *room;          /* the current room: the one last joined of those c is
				     * in; NULL before the first join and after leaving all */
	struct roomset rooms;       /* every room c is in, with its index in room->members */
	uint64_t joins;             /* joins so far (stamps roomset_entry.seq) */
	int multi;                  /* ?multi=1: join adds a room instead of switching */
	struct sendq q;
	int accepted;               /* passed the CONNECT hooks */
	int connect_seen;           /* CONNECT hooks ran for it (DISCONNECT follows, refused or not) */
	int established;            /* upgraded and welcomed */
	int gone;                   /* socket closed; only refs keep it */
	int closing;                /* a close was requested */
	int close_code;
	char close_reason[64];
	int64_t close_started_ms;   /* when the close was requested */
	int close_sent;             /* shutdown 1001 written by ws.c: 1 in lws's buffer, 2 flushed */
	int bad_frames;             /* consecutive refused frames */
	/* receive assembly of one WebSocket message */
	char *rx;
	size_t rx_len, rx_cap;
	int rx_frames;              /* frames (fragments) in this message */
	int rx_frame_done;          /* the previous chunk ended a frame */
	int64_t rx_started_ms;      /* when the message being assembled began */
	int writing;                /* want_write already requested */
	size_t batch_frames;        /* frames of q in flight in srv->sendbatch (ws.c) */
	void **slots;               /* per-plugin data, srv->nplugins long */
	struct chatd_client *prev, *next; /* srv->clients */
	struct chatd_request *request; /* the handshake's request, during CONNECT only (request.h) */
	struct nick_refusal *name_refusal; /* owned: why CONNECT refused the asked-for name (connect.c) */
};

/* A person: a name and the connections that share it (one, unless tabs of
 * one session asked for the same name). srv->nicks maps its folded name to
 * it. See identity.c. */
struct person {
	char name[NICK_MAX_BYTES + 1];
	char fold[NICK_MAX_BYTES * 2 + 1];      /* its key in srv->nicks */
	int has_session;
	unsigned char session[SHA256_BYTES];    /* SHA-256 of its session key */
	struct chatd_client **conns;            /* its live connections (owned array) */
	size_t nconns, conns_cap;
	struct roomset rooms;       /* rooms it is present in (membership.c): index in
				     * room->people, count = its connections there; count 0
				     * while held in grace, until = when that ends */
	int64_t name_until;         /* no connections left: the name is reserved until
				     * then (monotonic ms); 0 while it has connections */
	void *timer;                /* identity.c's grace timer, NULL when none */
};

/* One room. A room that has had messages is kept while empty so its ids
 * are never reused; an empty room without messages is freed. */
struct room {
	struct chatd_server *srv;
	char name[ROOM_MAX_BYTES + 1];
	struct chatd_client **members; /* connections, for the fan-out */
	size_t count, cap;
	struct person **people;     /* who is present (a name once however many of its
				     * connections are here): presence, users, user_count */
	size_t npeople, people_cap;
	int64_t last_id;
	/* Big-room presence coalescing: names that joined / left since the last summary. */
	char **joined, **left;      /* names listed (at most 50 each) */
	size_t njoined, nleft;
	size_t joined_more, left_more; /* beyond the listed names */
	int presence_dirty;         /* a summary is pending */
	/* People present through other nodes (api->room_remote, remote.c):
	 * folded name -> display name (owned). Empty without a cluster plugin. */
	struct strmap remote;
	unsigned holds;             /* joins a plugin holds (pending.c): the room stays */
	void **slots;               /* per-plugin data (api->room_slot), srv->nplugins long */
};

/* Counters for /metrics. */
struct server_stats {
	uint64_t connections_total;
	uint64_t messages_in;
	uint64_t messages_out;      /* deliveries queued */
	uint64_t frames_dropped;    /* droppable/presence frames refused by full queues */
	uint64_t slow_closed;       /* clients closed with 1013 */
	uint64_t errors_sent;
	uint64_t handshakes_denied;
	uint64_t refused_full;      /* connections answered 503: max_connections reached */
	uint64_t refused_no_fds;    /* connections answered 503: the process was out of fds */
};

struct loaded_plugin;
struct lingering;

/* A frame type claimed by a plugin (api->claim_type). */
struct claim {
	chatd_hook_fn fn;
	void *userdata;
	struct loaded_plugin *owner;
};

struct chatd_server {
	struct chatd_config cfg;
	const struct transport_ops *transport;
	void *lws;                  /* struct lws_context * */
	void *loop;                 /* struct ev_loop * */
	struct hooks hooks;
	struct strmap rooms;        /* name -> struct room * */
	struct strmap nicks;        /* folded name -> struct person * (identity.c) */
	struct strmap claimed;      /* frame type -> struct claim * */
	struct loaded_plugin **plugins;
	int nplugins;
	struct chatd_client *clients; /* every live client */
	size_t nclients;
	size_t nrooms_live;
	uint64_t next_client_id;
	uint32_t rng;               /* guest-name generator state */
	struct server_stats stats;
	int shutting_down;
	int64_t started_ms;
	struct chatd_timer *timers; /* plugin timers (api.c) */
	char plugin_error[512];     /* the last api->option_error text */
	void *presence;             /* presence.c's timer and dirty rooms */
	unsigned char *write_batch; /* ws.c's scratch for framing a batch of frames */
	struct sendbatch *sendbatch; /* ws.c's io_uring sends (sendbatch.c), NULL: one send() each */
	void *listener;             /* struct listener * (listener.c) */
	int listen_port;            /* the bound port (cfg.port may be 0) */
	size_t nsockets;            /* sockets lws holds for us (HTTP and WebSocket) */
	struct chatd_client **pending; /* clients to write before the loop sleeps (ws.c), one ref each */
	size_t npending, pending_cap;
	struct lingering *lingering; /* closed sockets still draining (linger.c) */
	size_t nlingering;
	size_t closes_pending;      /* shutdown: 1001 frames not yet flushed to the kernel */
	int loop_load_pct;          /* share of the last 100 ms window the loop worked (server.c) */
	struct command *commands;   /* slash commands of plugins (commands.c) */
	struct json_t *commands_json; /* their advertised list, NULL until built (commands.c) */
	struct service *services;   /* services plugins offer (services.c) */
	struct chatd_watch *watches; /* fd watchers of plugins (watch.c) */
	struct posts *posts;        /* loop_post's queue (watch.c) */
	int cli_fixed;              /* keys the command line set: a reload keeps them (reload.h) */
	int64_t private_last_id;    /* the largest private message id given or seen (private.c) */
	char private_error[256];    /* the last private_send refusal's text (private.c) */
	/* Rooms with people on other nodes, as a plugin last told (roomlist.c) */
	char **remote_rooms;
	int64_t *remote_room_counts;
	size_t nremote_rooms;
};

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t now_ms(void);
/* Microseconds of CLOCK_MONOTONIC (durations and deadlines). */
int64_t monotonic_us(void);

#endif
