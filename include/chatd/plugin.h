/*
 * chatd plugin ABI.
 *
 * A plugin is a shared object loaded with dlopen(RTLD_NOW | RTLD_LOCAL). It
 * exports three symbols (see the end of this file):
 *
 *   int  chatd_plugin_version(int count, const int *supported);
 *   int  chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
 *                          const struct chatd_option *opts, int nopts,
 *                          void **userdata);
 *   void chatd_plugin_cleanup(void *userdata);      (optional)
 *
 * Ownership words follow jansson: "borrowed" means the callee may use the
 * pointer only for the duration of the call; "new" means the caller owns the
 * result and must free it; "steals" means the callee takes ownership.
 *
 * Compatibility rules: event numbers and return codes are never renumbered;
 * event structs start with their size and end with reserved fields; struct
 * chatd_api only grows at the end (check api->size before using a member
 * added after CHATD_PLUGIN_ABI 1).
 */
#ifndef CHATD_PLUGIN_H
#define CHATD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define CHATD_PLUGIN_ABI 1

/* Opaque handles. All are owned by the core; plugins only borrow them. */
typedef struct chatd_plugin chatd_plugin; /* one loaded plugin */
typedef struct chatd_client chatd_client; /* one connection */
typedef struct chatd_room chatd_room;     /* one room */
typedef struct chatd_timer chatd_timer;   /* one timer */
typedef struct chatd_frame chatd_frame;   /* an outgoing JSON frame */
typedef struct chatd_held chatd_held;     /* a message held by a STORE hook */
typedef struct chatd_request chatd_request; /* an HTTP request (CONNECT's upgrade) */
typedef struct chatd_pending chatd_pending; /* a join or a name claim a hook holds */
typedef struct chatd_watch chatd_watch;   /* a file descriptor watched on the loop */

/* Hook return codes. */
enum chatd_result {
	CHATD_OK = 0,       /* continue with the next hook / normal processing */
	CHATD_CONSUMED = 1, /* filter: stop; the plugin has dealt with it */
	CHATD_DENY = 2,     /* filter: stop; refuse (error fields say why) */
	CHATD_HOLD = 3      /* STORE only: the plugin holds the message (see below) */
};

/*
 * Events. "filter" events look at the hook's return; "notify" events ignore
 * it. Hooks run in priority order (lower first), then registration order.
 */
enum chatd_event {
	CHATD_EV_CONNECT = 1,     /* filter: WebSocket handshake; deny sets http_status */
	CHATD_EV_JOIN = 2,        /* notify: client joined a room; welcome already sent */
	CHATD_EV_MESSAGE = 3,     /* filter: room message; modify, consume or deny */
	CHATD_EV_LEAVE = 4,       /* notify: client leaves a room (leave, switch or disconnect) */
	CHATD_EV_DISCONNECT = 5,  /* notify: client is gone; last call with it (also after a refused CONNECT) */
	CHATD_EV_TICK = 6,        /* notify: once a second */
	CHATD_EV_FRAME = 7,       /* filter: a frame whose "type" a plugin claimed */
	CHATD_EV_STORE = 8,       /* filter: a message with its id, before fan-out; may HOLD */
	CHATD_EV_LOOP_IDLE = 9,   /* notify: once per loop iteration before it sleeps */
	CHATD_EV_ROOM_CREATE = 10,/* notify: room created; may raise last_id */
	CHATD_EV_RENAME = 11,     /* notify: client changed its nickname */
	CHATD_EV_RECEIVE = 12,    /* filter: every client text frame, before it is decoded */
	CHATD_EV_PRIVATE = 13,    /* filter: a private message between two people; modify, deny, consume */
	/* 14-19: the many-rooms model (see docs/plugins.md) */
	CHATD_EV_COMMAND = 20,    /* filter: a slash command (api->command_register), to its handler only */
	CHATD_EV_NICK = 21,       /* filter: a client asks for a name (first or rename); may refuse */
	CHATD_EV_RELOAD = 22,     /* filter: SIGHUP gave this plugin new options; may refuse them */
	CHATD_EV_ROOM_DESTROY = 23, /* notify: a room is about to be freed (pairs ROOM_CREATE) */
	CHATD_EV_HTTP = 24,       /* notify: a request to /plugins/NAME/ (api->http_route), to its handler only */
	CHATD_EV_READY = 25,      /* notify: every plugin's init succeeded; the server starts */
	/* 30-39: many nodes (issue 17); see the structs below. */
	CHATD_EV_ROUTE = 30,      /* filter: a room message before it gets an id; CONSUMED = a plugin routes it */
	CHATD_EV_JOINING = 31,    /* filter: a connection is about to enter a room; may HOLD */
	CHATD_EV_NAME_CLAIM = 32, /* filter: a connection is about to get a name; may HOLD */
	CHATD_EV_PRESENCE = 33,   /* notify: a person's presence on this node changed in a room */
	CHATD_EV_BROADCAST = 34,  /* notify: a plugin sent a frame to a room (api->broadcast) */
	CHATD_EV_NAME_RELEASE = 35, /* notify: a connection no longer holds its name */
	CHATD_EV_COUNT_ = 36      /* not an event: one past the last */
};

/* Priorities: smaller runs first. Security plugins use EARLY. */
#define CHATD_PRIO_EARLY -100
#define CHATD_PRIO_DEFAULT 0
#define CHATD_PRIO_LATE 100

/*
 * CHATD_EV_CONNECT: the handshake of /ws/{room}; the client is in no room yet.
 * During CONNECT api->client_name(client) is the name the client asked for
 * (?name=, normalized), not yet claimed: the welcome may still carry a
 * variant (Alice2) or a guest name. It is "" when no valid ?name= was given.
 * api->connect_set_name / connect_refuse_name change what will be claimed.
 */
struct chatd_connect_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	const char *room;          /* borrowed: the validated room name */
	const char *origin;        /* borrowed: Origin header, NULL when absent */
	const char *host;          /* borrowed: Host header, NULL when absent */
	const char *address;       /* borrowed: the client's IP address as text (behind a trusted proxy, the forwarded one; IPv4 as a.b.c.d) */
	int http_status;           /* out on DENY: 403, 429, 503 ... (default 403) */
	const char *reason;        /* out on DENY: static or plugin-owned text */
	/* borrowed, valid during this CONNECT dispatch only: the upgrade request,
	 * for api->request_* (headers, query, cookies). NULL from older cores
	 * (the fields took reserved slots). */
	chatd_request *request;
	/* borrowed: ?name= as sent (URL-decoded), NULL when absent */
	const char *requested_name;
	void *reserved[6];
};

/* CHATD_EV_JOIN and CHATD_EV_LEAVE. A connection may be in several rooms:
 * JOIN fires for each room it enters, LEAVE for each room it leaves (an
 * explicit {"type":"leave"}, a switch in single-room mode, and at disconnect
 * once per room before CHATD_EV_DISCONNECT). During LEAVE, c is still a
 * member of room. */
struct chatd_room_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	chatd_room *room;          /* borrowed */
	int64_t since;             /* JOIN: ?since=ID of a reconnect, -1 when absent */
	int first_join;            /* JOIN: 1 on the connection's first room */
	void *reserved[8];
};

/*
 * CHATD_EV_MESSAGE: a room message from a client, already validated
 * (non-empty UTF-8 text within max_message_bytes). To change the text call
 * api->message_set_text(ev, ...). To deny, set error_code (a stable one-word
 * code), error_message and optionally retry_after_ms, and return CHATD_DENY.
 *
 * The sender always hears what became of its message: DENY sends it an
 * error frame carrying the message's client_id; CONSUMED sends it
 * {"type":"ack","client_id":...,"room":...} unless a hook answered with
 * api->message_reply (and nothing when the message had no client_id).
 *
 * Lifetime of the out strings (error_code, error_message, and likewise in
 * every event with them, and chatd_connect_event.reason): the core reads them
 * after the hook returns, before any other event is dispatched. Use string
 * literals or memory the plugin keeps (not a local array of the hook).
 */
struct chatd_message_event {
	size_t size;
	chatd_client *client;      /* borrowed: the sender */
	chatd_room *room;          /* borrowed: the room it goes to (its "room" field, else the current room) */
	const char *text;          /* borrowed: current text, NUL-terminated */
	size_t text_len;
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY, 0 = none */
	void *core_private;        /* do not touch */
	/* borrowed: the client_id the sender gave (1-64 bytes), NULL when none
	 * (and from cores older than this field, which took a reserved slot) */
	const char *client_id;
	void *reserved[7];
};

/* What api->message_set_text returns. The new text is checked as the core
 * checks client text; when refused, the event's text stays as it was. */
#define CHATD_TEXT_OK 0          /* set */
#define CHATD_TEXT_NOMEM -1      /* out of memory */
#define CHATD_TEXT_EMPTY -2      /* empty or white space only */
#define CHATD_TEXT_TOO_LARGE -3  /* over max_message_bytes */
#define CHATD_TEXT_INVALID -4    /* not valid UTF-8, or NULL */
/* What api->room_notice returns when a plugin routes room messages
 * (CHATD_EV_ROUTE: the cluster plugin gives ids, not this node). */
#define CHATD_NOTICE_ROUTED -5

/*
 * CHATD_EV_PRIVATE: a private message from one person to another, on its
 * way through api->private_send (the privmsg plugin sends "/msg NAME text"
 * and {"type":"private"} frames that way), after the core checked its text
 * as it checks a room message, before it is delivered to every connection
 * of both people. Every filter sees it, at any priority (a word filter at
 * CHATD_PRIO_DEFAULT is fine):
 *  - change the text with api->private_set_text(ev, text);
 *  - deny it like a MESSAGE (error_code, error_message, retry_after_ms;
 *    strings static or plugin-owned): the sender gets the error;
 *  - CHATD_CONSUMED: a plugin delivers it itself (to another node, say);
 *    the core then delivers nothing and answers nothing.
 * A storage plugin hooks it at CHATD_PRIO_LATE - 10 (after the filters,
 * before a plugin at LATE that consumes it) and may set `id`.
 */
struct chatd_private_event {
	size_t size;
	chatd_client *client;      /* borrowed: the sender's connection */
	const char *to;            /* borrowed: the receiver's name (as the receiver spells
				    * it when that name is known here, else as asked) */
	chatd_client *target;      /* borrowed: a connection of the receiver on this server
				    * (its latest), NULL when nobody by that name is connected
				    * here: unless a hook consumes it (or keeps it: see
				    * to_session), the sender then gets no_such_user */
	const char *text;          /* borrowed: current text, NUL-terminated */
	size_t text_len;
	const char *client_id;     /* borrowed: the sender's client_id (1-64 bytes), NULL when none */
	int64_t id;                /* in/out: 0; a storage plugin may set the message's id
				    * (larger than every id it gave before); else the core
				    * counts on from the largest id seen */
	int64_t ts;                /* ms since the epoch */
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY, 0 = none */
	void *core_private;        /* do not touch */
	/* borrowed, NULL for none: the room message this private message came
	 * from ("/msg NAME text"), which went through the MESSAGE hooks already
	 * (a rate limiter counted it there); NULL for a {"type":"private"} frame */
	struct chatd_message_event *message;
	/* borrowed, NULL for none: when `target` is NULL because the receiver
	 * is away for a moment (no connection, its name kept for its session
	 * for presence_grace_ms: a reload), that session (64 hex, as
	 * api->client_session gives it). A storage plugin that keeps the
	 * message for that session sets `id`: the core then delivers it to the
	 * sender's connections (no no_such_user), the receiver reads it back */
	const char *to_session;
	void *reserved[6];
};

/* What a plugin hands api->private_send: a private message to deliver. */
struct chatd_private_request {
	size_t size;               /* sizeof(struct chatd_private_request) */
	chatd_client *from;        /* borrowed: the sender */
	const char *to;            /* borrowed: the receiver's name (any case, as names compare) */
	const char *text;          /* borrowed: the text (checked as a room message's) */
	const char *client_id;     /* borrowed, NULL for none: the sender's own copy carries it */
	/* borrowed, NULL for none: the MESSAGE event this private message came
	 * from ("/msg NAME text"); when delivered, the sender's copy (with its
	 * client_id) answers that message and the core sends it no ack */
	struct chatd_message_event *answering;
	const char *error_code;    /* out on DENY: static, plugin-owned, or valid until the next call */
	const char *error_message; /* out on DENY, likewise */
	int retry_after_ms;        /* out on DENY */
	int64_t id;                /* out when delivered: the message's id */
	void *reserved[8];
};

/*
 * CHATD_EV_STORE: a message that passed CHATD_EV_MESSAGE, with its room id and
 * timestamp. A storage plugin may return CHATD_HOLD after taking `held`
 * (api->hold_keep): the message is fanned out (and acknowledged to its
 * sender) only when every holder calls api->hold_release(held, ok).
 */
struct chatd_store_event {
	size_t size;
	chatd_client *client;      /* borrowed: the sender; may be NULL later */
	chatd_room *room;          /* borrowed */
	int64_t id;
	int64_t ts;                /* ms since the epoch */
	const char *username;      /* borrowed */
	const char *text;          /* borrowed */
	size_t text_len;
	chatd_held *held;          /* borrowed: pass to api->hold_keep to HOLD */
	void *reserved[8];
};

/*
 * CHATD_EV_FRAME: a client frame whose "type" this plugin claimed with
 * api->claim_type. Read fields with api->frame_get_*. Deny like MESSAGE.
 */
struct chatd_frame_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	chatd_room *room;          /* borrowed: the room the frame is for: its "room" field
				    * (the core refuses the frame with not_in_room when c is
				    * not in it), else c's current room; NULL when neither */
	const char *type;          /* borrowed */
	const void *json;          /* borrowed: opaque, for api->frame_get_* */
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY */
	void *reserved[8];
};

/* CHATD_EV_ROOM_CREATE: a storage plugin raises last_id to its stored maximum. */
struct chatd_room_create_event {
	size_t size;
	chatd_room *room;          /* borrowed */
	int64_t last_id;           /* in/out: the next message gets last_id + 1 */
	void *reserved[8];
};

/* CHATD_EV_RENAME. */
struct chatd_rename_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	const char *old_name;      /* borrowed */
	const char *new_name;      /* borrowed */
	void *reserved[8];
};

/*
 * CHATD_EV_NICK: a client asks for a name, before it is claimed: the first
 * name (?name= or api->connect_set_name; old_name NULL) and every rename
 * (the `nick` frame, a message's `username`). new_name is normalized (valid,
 * trimmed); a variant (Alice2) may still follow when it is taken. Guest names
 * do not come here. DENY with error_code / error_message: a first name makes
 * the client a guest, told why in an error frame after its welcome; a rename
 * is refused with an error frame and the name stays.
 */
struct chatd_nick_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	const char *old_name;      /* borrowed: the current name, NULL for the first */
	const char *new_name;      /* borrowed: the name asked for */
	const char *error_code;    /* out on DENY (default "name_refused") */
	const char *error_message; /* out on DENY */
	void *reserved[8];
};

/*
 * CHATD_EV_COMMAND: a message "/NAME ..." for a command registered with
 * api->command_register, delivered to that command's handler only (at the
 * command's priority among the MESSAGE hooks). Answer as a MESSAGE hook,
 * through `message`: return CHATD_OK to let the message go on (its text
 * maybe changed with api->message_set_text, as /me does), CHATD_CONSUMED
 * (reply with api->message_reply, or the core acks), or CHATD_DENY with
 * message->error_code / error_message (the usage, say).
 */
struct chatd_command_event {
	size_t size;
	struct chatd_message_event *message; /* borrowed: the message itself */
	const char *name;          /* borrowed: the command as registered (lower case, no '/') */
	const char *args;          /* borrowed: the text after "/NAME" and white space; "" when none */
	void *reserved[8];
};

/*
 * CHATD_EV_RELOAD: SIGHUP re-read the config and this plugin's options
 * changed; delivered to this plugin's hooks only. Check them as in init
 * (api->option_error and CHATD_DENY: the plugin keeps its old options and
 * the reason is logged) or apply them and return CHATD_OK. A plugin without
 * a RELOAD hook keeps its old options until a restart (logged).
 */
struct chatd_reload_event {
	size_t size;
	const struct chatd_option *opts; /* borrowed, during the call: the new options */
	int nopts;
	void *reserved[8];
};

/*
 * CHATD_EV_ROOM_DESTROY: room is about to be freed; it pairs
 * CHATD_EV_ROOM_CREATE exactly. A chatd_room * is valid from its
 * ROOM_CREATE until its ROOM_DESTROY hooks return. A room that has had
 * messages is kept until shutdown; one that never had any is freed when its
 * last member leaves (and nobody is present through another node and no
 * join is held). At shutdown every room left gets it (shutdown = 1) before
 * the plugins are cleaned up: free what you keep per room (api->room_slot).
 */
struct chatd_room_destroy_event {
	size_t size;
	chatd_room *room;          /* borrowed: valid until the hooks return */
	int shutdown;              /* 1 when the server is stopping */
	void *reserved[8];
};

/*
 * CHATD_EV_HTTP: a request to /plugins/NAME/... (NAME: the plugin's config
 * section name), to the handler of api->http_route. Read it with
 * api->request_* (request_body for POST, PUT and PATCH; at most 1 MiB, a
 * bigger one is answered 413 by the core) and answer with api->http_respond
 * before returning (else the core answers 500). Everything is borrowed for
 * the call only.
 */
struct chatd_http_event {
	size_t size;
	chatd_request *request;    /* borrowed */
	const char *path;          /* borrowed: the path after /plugins/NAME ("/" at least) */
	void *reserved[8];
};

/* CHATD_EV_TICK, CHATD_EV_LOOP_IDLE, CHATD_EV_DISCONNECT, CHATD_EV_READY
 * (client NULL). */
struct chatd_plain_event {
	size_t size;
	chatd_client *client;      /* borrowed: DISCONNECT only, else NULL */
	int64_t now_ms;
	/* LOOP_IDLE only: the share of wall time (0-100) the event loop spent
	 * working rather than waiting for events over its last 100 ms window;
	 * near 100 the loop is saturated and batches by itself. 0 elsewhere and
	 * from cores older than this field (it took a reserved slot). */
	int64_t loop_load_pct;
	void *reserved[7];
};

/*
 * CHATD_EV_RECEIVE: one complete client text frame (valid UTF-8, within
 * max_frame_bytes), before JSON decoding: the place to count frames and
 * bytes. Deny like MESSAGE (the frame is then dropped with an error frame).
 */
struct chatd_receive_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	const char *data;          /* borrowed, not NUL-terminated */
	size_t len;
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY */
	void *reserved[8];
};

/*
 * ---- Events 30-35: what a plugin needs to spread chatd over several nodes
 * (the cluster plugin: docs/scaling.md). None of them fires unless a plugin
 * registered it; a core without them (api->size too small) never fires them.
 */

/*
 * CHATD_EV_ROUTE: a room message that passed CHATD_EV_MESSAGE, before the
 * core gives it an id. A hook that returns CHATD_CONSUMED takes the message
 * over: the core assigns no id, runs no STORE hooks and sends nothing; the
 * plugin later delivers it with api->room_deliver (the sender's copy then
 * carries client_id) or tells the sender why not (an error frame naming
 * client_id). DENY as for CHATD_EV_MESSAGE (the core's error frame names the
 * client_id). CHATD_OK: the core goes on as without the hook.
 */
struct chatd_route_event {
	size_t size;
	chatd_client *client;      /* borrowed: the sender */
	chatd_room *room;          /* borrowed */
	const char *text;          /* borrowed: the text after MESSAGE hooks, NUL-terminated */
	size_t text_len;
	const char *client_id;     /* borrowed: the sender's client_id, NULL when none */
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY */
	void *reserved[8];
};

/*
 * CHATD_EV_JOINING: c is about to enter room (before its welcome). A hook
 * may take `pending` (api->pending_keep) and return CHATD_HOLD: the join
 * waits (c is not in the room meanwhile) until api->pending_release(p, 1,
 * ...) lets it in, or (p, 0, code, message, retry_after_ms) refuses it with
 * an error frame. DENY refuses at once (error fields). The room exists
 * while the join is held.
 */
struct chatd_joining_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	chatd_room *room;          /* borrowed */
	int64_t since;             /* ?since= / "since", -1 when absent */
	chatd_pending *pending;    /* borrowed: pass to api->pending_keep to HOLD */
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY */
	void *reserved[8];
};

/*
 * CHATD_EV_NAME_CLAIM: c is about to get a name (at connect, or a rename).
 * names[] are the candidates in the core's order of preference (the name
 * asked for, its variants name2, name3 ..., guest names), each free on this
 * node, folds[] their uniqueness keys (case and look-alikes folded). A hook
 * may HOLD (as for JOINING) and answer api->pending_release(p, i, ...) with
 * the index of the candidate it granted, or -1 with an error code and
 * message (the connect is then closed with 1013, the rename refused).
 */
struct chatd_name_claim_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	const char *const *names;  /* borrowed: count candidates */
	const char *const *folds;  /* borrowed: their keys */
	int count;
	const char *owner;         /* borrowed: who may share a name with c (a session), NULL: c alone */
	const char *old_fold;      /* borrowed: the key of the name c holds now ("" at connect); a
				    * granted claim moves c off it (no NAME_RELEASE for it) */
	chatd_pending *pending;    /* borrowed: pass to api->pending_keep to HOLD */
	const char *error_code;    /* out on DENY */
	const char *error_message; /* out on DENY */
	int retry_after_ms;        /* out on DENY */
	void *reserved[8];
};

/* What changed, in CHATD_EV_PRESENCE and api->room_remote. */
#define CHATD_PRESENCE_ENTER 1
#define CHATD_PRESENCE_LEAVE 2
#define CHATD_PRESENCE_RENAME 3
#define CHATD_PRESENCE_CLEAR 4   /* api->room_remote only: forget them all, without notices */

/*
 * CHATD_EV_PRESENCE: a person (a name) is now present in room on this node
 * (ENTER: their first connection here entered), no longer (LEAVE: their last
 * one left), or was renamed (RENAME: old_name -> name). Fired whatever other
 * nodes show (see api->room_remote). The room is valid during the hook.
 */
struct chatd_presence_event {
	size_t size;
	chatd_room *room;          /* borrowed */
	int change;                /* CHATD_PRESENCE_* */
	const char *name;          /* borrowed */
	const char *fold;          /* borrowed: its uniqueness key */
	const char *old_name;      /* borrowed: RENAME only, else NULL */
	const char *old_fold;      /* borrowed: RENAME only, else NULL */
	void *reserved[8];
};

/* CHATD_EV_BROADCAST: a plugin sent a frame to room with api->broadcast
 * (not with CHATD_SEND_LOCAL): the encoded frame, to carry to other nodes. */
struct chatd_broadcast_event {
	size_t size;
	chatd_room *room;          /* borrowed */
	const char *json;          /* borrowed: the encoded frame (not NUL-terminated) */
	size_t len;
	int flags;                 /* the CHATD_SEND_* flags it was sent with */
	void *reserved[8];
};

/* CHATD_EV_NAME_RELEASE: c no longer holds `fold`: it disconnected (after
 * CHATD_EV_DISCONNECT). A rename moves c to another name through
 * CHATD_EV_NAME_CLAIM instead. */
struct chatd_name_release_event {
	size_t size;
	chatd_client *client;      /* borrowed */
	const char *name;          /* borrowed */
	const char *fold;          /* borrowed */
	void *reserved[8];
};

/* A message whose id a plugin gave it, for api->room_deliver. */
struct chatd_delivery {
	size_t size;
	int64_t id;                /* above the room's last id */
	int64_t ts;                /* ms since the epoch */
	const char *username;      /* borrowed, username_len bytes of UTF-8 */
	size_t username_len;
	const char *text;          /* borrowed, text_len bytes of UTF-8 */
	size_t text_len;
	chatd_client *sender;      /* borrowed, may be NULL: its copy carries client_id */
	const char *client_id;     /* borrowed, may be NULL */
	void *reserved[8];
};

/* One hook callback. `event` points at the struct for its event number. */
typedef int (*chatd_hook_fn)(int event_id, void *event, void *userdata);
typedef void (*chatd_timer_fn)(chatd_timer *timer, void *userdata);

/* One option from the plugin's config section. */
struct chatd_option {
	const char *key;           /* borrowed */
	const char *value;         /* borrowed */
	int line;                  /* line in the config file */
};

/* Log levels for api->log. */
enum chatd_log_level { CHATD_LOG_ERR = 0, CHATD_LOG_WARN = 1, CHATD_LOG_NOTICE = 2, CHATD_LOG_INFO = 3, CHATD_LOG_DEBUG = 4 };

/* What api->value_type says. */
enum chatd_json_type {
	CHATD_JSON_ABSENT = 0, CHATD_JSON_NULL = 1, CHATD_JSON_BOOL = 2, CHATD_JSON_INT = 3,
	CHATD_JSON_DOUBLE = 4, CHATD_JSON_STRING = 5, CHATD_JSON_ARRAY = 6, CHATD_JSON_OBJECT = 7
};

/* Readiness for api->watch_add / watch_set, and what the callback gets. */
#define CHATD_WATCH_READ 1
#define CHATD_WATCH_WRITE 2
typedef void (*chatd_watch_fn)(chatd_watch *w, int fd, int revents, void *userdata);
/* A function api->loop_post runs on the loop thread. */
typedef void (*chatd_post_fn)(void *arg);

/* Send flags: how a frame may be treated when a client's queue fills. */
#define CHATD_SEND_NORMAL 0
#define CHATD_SEND_DROPPABLE 1 /* typing and the like: dropped first */
#define CHATD_SEND_PRESENCE 2  /* join/leave notices: dropped after droppable */
#define CHATD_SEND_LOCAL 4     /* api->broadcast: this node's members only (no CHATD_EV_BROADCAST) */

/*
 * The services the core offers. Every function is called from the loop
 * thread only. Unless said otherwise, strings returned are borrowed and valid
 * until the object they describe goes away or changes.
 */
struct chatd_api {
	size_t size;               /* sizeof(struct chatd_api) of the core */
	int abi;                   /* CHATD_PLUGIN_ABI of the core */

	/* Hooks. Returns 0, -1 on a bad event id. Safe to call from a hook. */
	int (*hook_register)(chatd_plugin *self, int event_id, chatd_hook_fn fn, void *userdata, int priority);
	int (*hook_unregister)(chatd_plugin *self, int event_id, chatd_hook_fn fn, void *userdata);
	/* Claim frames {"type": type}: they arrive as CHATD_EV_FRAME to fn. -1 if taken. */
	int (*claim_type)(chatd_plugin *self, const char *type, chatd_hook_fn fn, void *userdata);

	/* Logging, prefixed with the plugin's name. */
	void (*log)(chatd_plugin *self, int level, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;
	/* Report a bad option during init: "FILE:LINE: plugin NAME: option 'KEY': MSG". */
	void (*option_error)(chatd_plugin *self, const struct chatd_option *opt, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;
	/* The data directory (-D / data_dir): where a plugin keeps its files. */
	const char *(*data_dir)(chatd_plugin *self);
	/* The plugin's name as in the config section header. */
	const char *(*plugin_name)(chatd_plugin *self);

	/* Clients. */
	const char *(*client_name)(const chatd_client *c);
	/* The current room: the room c joined last of those it is still in (a
	 * connection may be in several, see client_rooms); NULL during CONNECT
	 * and when c is in no room. */
	chatd_room *(*client_room)(const chatd_client *c);
	const char *(*client_address)(const chatd_client *c);      /* as chatd_connect_event.address */
	uint64_t (*client_id)(const chatd_client *c);               /* unique, never reused */
	/* Per-plugin slot on each client: returns a pointer to a void* (NULL first). */
	void **(*client_slot)(chatd_plugin *self, chatd_client *c);
	/* Find a connected client by nickname (case-insensitive), NULL if none.
	 * With several connections of that person (tabs), one of them (the one
	 * that connected last): client_person_clients gives the others. */
	chatd_client *(*client_find)(chatd_plugin *self, const char *name);
	/* Close a client with a WebSocket close code (1008 ...); async, safe in hooks. */
	void (*client_close)(chatd_client *c, int code, const char *reason);
	/* Send an error frame {"type":"error","code":...}. */
	void (*send_error)(chatd_client *c, const char *code, const char *message, int retry_after_ms);

	/* Rooms. */
	const char *(*room_name)(const chatd_room *r);
	size_t (*room_member_count)(const chatd_room *r);
	int64_t (*room_last_id)(const chatd_room *r);

	/* Outgoing frames: a JSON object built field by field. Strings are
	 * copied; a NULL string value sets null; a byte of a value that is not
	 * valid UTF-8 (JSON is UTF-8) goes out as U+FFFD, so the field is never
	 * lost. Keys must be valid UTF-8 (a field with another key is left out). */
	chatd_frame *(*frame_new)(const char *type);                  /* new */
	void (*frame_free)(chatd_frame *f);
	void (*frame_set_str)(chatd_frame *f, const char *key, const char *value);
	void (*frame_set_int)(chatd_frame *f, const char *key, int64_t value);
	void (*frame_set_bool)(chatd_frame *f, const char *key, int value);
	/* Append child (steals) to the array `key` of f, creating it. */
	void (*frame_push)(chatd_frame *f, const char *key, chatd_frame *child);
	/* Send f (borrowed) to one client. Returns 0, -1 if the client is closing. */
	int (*send)(chatd_client *c, chatd_frame *f, int flags);
	/* Send f (borrowed) to every member of r except `except` (may be NULL). */
	void (*broadcast)(chatd_room *r, chatd_frame *f, const chatd_client *except, int flags);

	/* Reading a claimed frame (CHATD_EV_FRAME): 1 found with the right type, 0 absent, -1 wrong type. */
	int (*frame_get_str)(const void *json, const char *key, const char **out);
	int (*frame_get_int)(const void *json, const char *key, int64_t *out);

	/* Message events. Replace the text (copied: text is borrowed) with one
	 * that passes the core's checks: CHATD_TEXT_OK (0) or a CHATD_TEXT_*
	 * reason (< 0), the text then unchanged. The text is a C string, so it
	 * holds no NUL. */
	int (*message_set_text)(struct chatd_message_event *ev, const char *text);
	/* Keep a held message (STORE): returns the handle to release later. */
	chatd_held *(*hold_keep)(chatd_held *held);
	/* Release a held message; ok = 0 means storing failed (sender gets an error). */
	void (*hold_release)(chatd_held *held, int ok);

	/* Timers on the loop. repeat_ms = 0 fires once (then it is freed). */
	chatd_timer *(*timer_add)(chatd_plugin *self, int64_t after_ms, int64_t repeat_ms, chatd_timer_fn fn, void *userdata);
	void (*timer_cancel)(chatd_timer *t);
	int64_t (*now_ms)(void);

	/* Counters exported on /metrics as chatd_plugin_counter{plugin,name}. */
	void (*counter_add)(chatd_plugin *self, const char *name, int64_t delta);

	/* Milliseconds of a clock that never jumps (CLOCK_MONOTONIC): for
	 * rates and timeouts. now_ms is wall-clock time, for timestamps. */
	int64_t (*monotonic_ms)(void);

	/* ---- Added for issue 16 (many rooms per connection). Check
	 * CHATD_API_HAS(api, member) (below) before use: a core older than
	 * these has no such member. ---- */

	/* 1 when c is a member of r, else 0 (r may be NULL: 0). O(1). A
	 * connection may be in many rooms; client_room is only its current one. */
	int (*client_in_room)(const chatd_client *c, const chatd_room *r);
	/* Write up to max of the rooms c is in to out (borrowed; the current
	 * room first, the rest in no particular order) and return how many
	 * rooms c is in (more than max when out was too short). A room pointer
	 * stays valid while c is in that room: until the LEAVE event for it
	 * (or DISCONNECT) has returned. */
	size_t (*client_rooms)(const chatd_client *c, chatd_room **out, size_t max);

	/* ---- Added for issue 15 (the plugin SDK). Before using one (or any
	 * member above added within ABI 1), check CHATD_API_HAS(api, member):
	 * an older core's table ends before it. ---- */

	/* MESSAGE: send f (borrowed) to the message's sender, with "client_id"
	 * set to the message's client_id when it has one (f itself is not
	 * changed). The core then sends no ack of its own for a CONSUMED
	 * message. 0, -1 when the sender is closing or out of memory. */
	int (*message_reply)(struct chatd_message_event *ev, chatd_frame *f);

	/* Reading a request (chatd_connect_event.request). Every string is
	 * borrowed and valid as long as the request (for CONNECT: until the
	 * dispatch ends); NULL when absent. Header names are matched in any
	 * case; several lines of one header come joined with "; ". Query values
	 * are URL-decoded; a cookie value loses its double quotes. */
	const char *(*request_path)(chatd_request *r);              /* "/ws/general" */
	const char *(*request_method)(chatd_request *r);            /* "GET" */
	const char *(*request_query)(chatd_request *r, const char *name);
	const char *(*request_header)(chatd_request *r, const char *name);
	const char *(*request_cookie)(chatd_request *r, const char *name);
	const char *(*request_address)(chatd_request *r);           /* the client's address */
	const char *(*request_body)(chatd_request *r, size_t *len); /* NULL for CONNECT */

	/* CONNECT only. Give the client `name` (borrowed; raw, as if sent as
	 * ?name=) instead of what it asked for: 0, or -1 when name is not a
	 * valid nickname (nothing changes). It is claimed as ?name= would be
	 * (a variant when taken) and goes through CHATD_EV_NICK. */
	int (*connect_set_name)(struct chatd_connect_event *ev, const char *name);
	/* CONNECT only. Refuse the name the client asked for: it connects as a
	 * guest and gets an error frame {code, "MESSAGE; you are guest-NNNN"}
	 * after its welcome (code and message borrowed, copied; NULL for
	 * "name_refused" and a default text). */
	void (*connect_refuse_name)(struct chatd_connect_event *ev, const char *code, const char *message);

	/* ---- Added for issue 16 (people and sessions); check
	 * CHATD_API_HAS(api, member) as above. A person is a name with its
	 * connections: the connections of one session (?session=KEY) that asked
	 * for the same name share it (several tabs); a connection without a
	 * session is a person alone. */

	/* The session of c as 64 lower-case hex digits (SHA-256 of its
	 * ?session= key; the key itself is never kept), or NULL when c has none.
	 * Borrowed, valid while c lives. Stable across connections and restarts:
	 * name + session identifies a person (e.g. to keep per-person state). */
	const char *(*client_session)(const chatd_client *c);
	/* Write up to max of the connections of c's person (c first, the rest
	 * in no particular order) to out (borrowed, valid during the hook: a
	 * connection may close after it) and return how many there are (more
	 * than max when out was too short). To tell every tab of a person. */
	size_t (*client_person_clients)(const chatd_client *c, chatd_client **out, size_t max);

	/* ---- Added for issue 17 (many nodes: the cluster plugin). Check
	 * CHATD_API_HAS(api, member) before use, as above. ---- */

	/* The room called name (any case) when it exists on this node, else NULL.
	 * Valid until the loop runs again (hooks: until the hook returns). */
	chatd_room *(*room_find)(chatd_plugin *self, const char *name);
	/* Deliver a message whose id a plugin assigned (CHATD_EV_ROUTE) to this
	 * node's members of r, encoded once; d->sender's copy (when it is still
	 * connected) carries d->client_id. Raises the room's last id to d->id.
	 * No STORE hooks. 0, or -1 when out of memory. */
	int (*room_deliver)(chatd_room *r, const struct chatd_delivery *d);
	/* Raise r's last id (welcome.last_id) to id when it is below. */
	void (*room_raise_last_id)(chatd_room *r, int64_t id);
	/* People present in r through other nodes: ENTER (name now present
	 * there), LEAVE (no longer), RENAME (old_name -> name), CLEAR (forget
	 * them all without a notice: this node stops following r). The core
	 * counts them in welcome.users, user_count, who and the big-room
	 * summaries, and tells this node's members with the usual notices when
	 * the room's union of local and remote people changes. They are kept
	 * while the room exists. 0, or -1 (out of memory, or a name that is
	 * already / not present for ENTER / LEAVE). */
	int (*room_remote)(chatd_plugin *self, chatd_room *r, int change, const char *name, const char *old_name);
	/* Keep a pending join or name claim (JOINING, NAME_CLAIM) to answer it
	 * later; returns the handle. Every kept handle is released exactly once. */
	chatd_pending *(*pending_keep)(chatd_pending *p);
	/* Answer it: JOINING result 1 (in) or 0 (refused); NAME_CLAIM the index of
	 * the granted candidate or -1. Refused: code and text (borrowed) are the
	 * error frame's code and message. A granted name: text, when not NULL,
	 * is the spelling to give (same key as the candidate: the one the name
	 * already has elsewhere). Returns 1 when the answer took effect, 0 when
	 * the client had gone meanwhile (then nothing happened: a granted name is
	 * not held). */
	int (*pending_release)(chatd_pending *p, int result, const char *code, const char *text,
			       int retry_after_ms);
	/* A frame from its JSON text (an object), to send or broadcast; NULL when
	 * it is not one. new: free with frame_free. */
	chatd_frame *(*frame_parse)(const char *json, size_t len);
	/* The uniqueness key of a name (NUL-terminated into out, outsz >= 257):
	 * lower case, look-alike letters folded, as the core compares names. */
	void (*name_fold)(const char *name, char *out, size_t outsz);

	/* ---- Added for issue 15 (the plugin SDK), second part; check
	 * CHATD_API_HAS(api, member) as above. ---- */

	/* Register the slash command "/name" (1-32 of [A-Za-z0-9_-], matched in
	 * any case; no slash) with its usage ("/roll [NdM]") and help (one line),
	 * both at most 200 bytes of UTF-8, copied; NULL for none. A message
	 * "/name" alone or followed by white space goes to fn as
	 * CHATD_EV_COMMAND at `priority` among the MESSAGE hooks. Every welcome
	 * lists the commands, so clients offer them. 0, or -1 (bad name or
	 * text, taken by another plugin, out of memory). Init or later. */
	int (*command_register)(chatd_plugin *self, const char *name, const char *usage, const char *help,
				chatd_hook_fn fn, void *userdata, int priority);

	/* Offer `table` (borrowed: keep it alive until your cleanup) to other
	 * plugins as service `name` (1-64 bytes), `version` >= 1. The table is a
	 * struct the provider describes in a header it gives consumers; a new
	 * version only appends to it. 0, or -1 when the name is taken. */
	int (*service_register)(chatd_plugin *self, const char *name, int version, const void *table);
	/* The table of service `name` when its version is at least min_version,
	 * else NULL; *version (may be NULL) gets the version offered (0 when
	 * there is none). Valid until the provider's cleanup: plugins are
	 * cleaned up in reverse config order, so a consumer listed after its
	 * provider may keep it; every provider has registered once CHATD_EV_READY
	 * fires. */
	const void *(*service_get)(chatd_plugin *self, const char *name, int min_version, int *version);

	/* Watch fd (the plugin's; it stays open) for CHATD_WATCH_READ / _WRITE
	 * (0: added paused). fn runs on the loop with what is ready. New handle,
	 * or NULL. The core removes those left after the plugin's cleanup
	 * (cleanup may remove its own; none fires during cleanup). */
	chatd_watch *(*watch_add)(chatd_plugin *self, int fd, int events, chatd_watch_fn fn, void *userdata);
	/* Change what w waits for (0 pauses it). 0, -1 on bad events. */
	int (*watch_set)(chatd_watch *w, int events);
	/* Stop and free w (safe inside its own callback); the fd stays open. */
	void (*watch_remove)(chatd_watch *w);
	/* The one API function callable from ANY thread: run fn(arg) on the
	 * loop thread soon, in posting order (a worker thread hands back its
	 * result this way). 0, or -1 when out of memory. Posts still queued
	 * when the plugin is unloaded run before its cleanup; posts made after
	 * cleanup has begun are dropped without calling fn (join your threads
	 * first thing in cleanup). */
	int (*loop_post)(chatd_plugin *self, chatd_post_fn fn, void *arg);

	/* More of the frame builder. frame_object_new: a bare object {} (no
	 * "type") to nest. frame_set_frame sets key to child's object (steals
	 * child; NULL sets null). frame_push_*: append a scalar to the array
	 * key (created when absent); frame_push (above) appends an object. A
	 * double that is not finite cannot be JSON and is left out. */
	chatd_frame *(*frame_object_new)(void);
	void (*frame_set_double)(chatd_frame *f, const char *key, double value);
	void (*frame_set_null)(chatd_frame *f, const char *key);
	void (*frame_set_frame)(chatd_frame *f, const char *key, chatd_frame *child);
	void (*frame_push_str)(chatd_frame *f, const char *key, const char *value);
	void (*frame_push_int)(chatd_frame *f, const char *key, int64_t value);
	void (*frame_push_double)(chatd_frame *f, const char *key, double value);
	void (*frame_push_bool)(chatd_frame *f, const char *key, int value);
	void (*frame_push_null)(chatd_frame *f, const char *key);

	/* More readers, like frame_get_str: 1 found, 0 absent (or null), -1
	 * wrong type. frame_get_double accepts integers too. */
	int (*frame_get_bool)(const void *json, const char *key, int *out);
	int (*frame_get_double)(const void *json, const char *key, double *out);
	/* Walking any JSON value (a claimed frame's ev->json, or a value got
	 * from it): handles are borrowed like the frame. value_get: member of
	 * an object (NULL when absent or obj is no object); value_at: element
	 * i of an array (NULL past the end); value_member: the i-th member of
	 * an object and its key. value_type: CHATD_JSON_* (ABSENT for NULL).
	 * value_size: elements or members (0 for scalars). value_str: the
	 * string (NULL when not one; *len may be NULL). value_int, value_double
	 * (integers too), value_bool: 0 when of another type. */
	const void *(*value_get)(const void *obj, const char *key);
	const void *(*value_at)(const void *arr, size_t index);
	const void *(*value_member)(const void *obj, size_t index, const char **key);
	int (*value_type)(const void *v);
	size_t (*value_size)(const void *v);
	const char *(*value_str)(const void *v, size_t *len);
	int64_t (*value_int)(const void *v);
	double (*value_double)(const void *v);
	int (*value_bool)(const void *v);

	/* Every room on this node (with members or not): up to max into out,
	 * returns how many there are. Borrowed: see CHATD_EV_ROOM_DESTROY. */
	size_t (*rooms_list)(chatd_plugin *self, chatd_room **out, size_t max);
	/* The connections in r: up to max into out (in no order), returns how
	 * many there are. Borrowed, valid during the hook. */
	size_t (*room_members)(const chatd_room *r, chatd_client **out, size_t max);
	/* Per-plugin slot on each room: a pointer to a void* (NULL first), kept
	 * until the room's CHATD_EV_ROOM_DESTROY (free what you keep there). */
	void **(*room_slot)(chatd_plugin *self, chatd_room *r);
	/* A notice to r (text borrowed; checked like a message text): a message
	 * frame with the room's next id, "username":"" and "notice":true, to
	 * every member, through the STORE hooks (history keeps and replays it).
	 * Returns the id (> 0), or a CHATD_TEXT_* reason (< 0), or
	 * CHATD_NOTICE_ROUTED when a plugin routes room messages. */
	int64_t (*room_notice)(chatd_plugin *self, chatd_room *r, const char *text);

	/* Serve /plugins/NAME/ (NAME: this plugin's section name) with fn, which
	 * gets CHATD_EV_HTTP. One route per plugin: -1 when it has one. */
	int (*http_route)(chatd_plugin *self, chatd_hook_fn fn, void *userdata);
	/* CHATD_EV_HTTP only: the answer (body borrowed, copied; len bytes, may
	 * be 0; content_type NULL for text/plain; charset=utf-8). Once per
	 * request: 0, or -1 (answered already, bad status or type). */
	int (*http_respond)(chatd_request *r, int status, const char *content_type, const char *body, size_t len);
	/* CHATD_EV_HTTP only: one more response header (at most 8; not the ones
	 * the core sets: Content-Type, Content-Length, Cache-Control ...). */
	int (*http_add_header)(chatd_request *r, const char *name, const char *value);

	/* ---- Added for issue 16 (private messages); check CHATD_API_HAS. */

	/* Send a private message (see struct chatd_private_request): its text
	 * is checked, CHATD_EV_PRIVATE runs, then the frame
	 *   {"type":"private","id":N,"from":..,"to":..,"text":..,"ts":..}
	 * goes to every connection of the receiver and of the sender (the
	 * sender's own connection with "client_id"). Returns CHATD_OK
	 * (delivered, req->id set), CHATD_CONSUMED (a PRIVATE hook delivers it)
	 * or CHATD_DENY (req->error_code: bad_request, too_large, no_such_user,
	 * or a hook's code). Safe in hooks (e.g. in MESSAGE). */
	int (*private_send)(struct chatd_private_request *req);
	/* CHATD_EV_PRIVATE: change the text; checked as message_set_text
	 * checks (CHATD_TEXT_OK or a CHATD_TEXT_* error, text unchanged). */
	int (*private_set_text)(struct chatd_private_event *ev, const char *text);

	/* ---- Added for issue 17 (many nodes), second part; check CHATD_API_HAS. */

	/* The rooms other nodes have people in, for {"type":"rooms"} answers
	 * (the cluster plugin refreshes it): replaces the list this server shows
	 * besides its own rooms. names and counts (people in each) borrowed,
	 * copied; n = 0 clears it. A room this server has people in is shown
	 * with its own count (local and remote people) instead; unlisted_rooms
	 * still hides. Returns 0, or -1 when out of memory (the list is then
	 * empty). */
	int (*rooms_remote_set)(chatd_plugin *self, const char *const *names, const int64_t *counts, size_t n);
};

/* 1 when the core's api table has `member` (a plugin built against a newer
 * header may run on an older core). */
#define CHATD_API_HAS(api, member) \
	((api)->size >= offsetof(struct chatd_api, member) + sizeof((api)->member))

/*
 * Entry points a plugin exports.
 *
 * chatd_plugin_version: `supported` lists the ABI versions the core speaks
 * (borrowed). Return the one the plugin uses, or -1 to refuse loading.
 * CHATD_PLUGIN_DEFINE_VERSION() (below) defines it for CHATD_PLUGIN_ABI.
 *
 * chatd_plugin_init: called once after the version check, with the options of
 * its config section (borrowed, valid during the call only). Register hooks
 * here. Reject unknown keys with api->option_error and return non-zero: the
 * server then refuses to start. *userdata is handed back to cleanup.
 * After a failed init (non-zero) cleanup is NOT called: init frees what it
 * allocated itself; the core removes whatever it had registered.
 *
 * chatd_plugin_cleanup: optional; called at shutdown after every client is
 * gone and every room had its CHATD_EV_ROOM_DESTROY, only for a plugin whose
 * init succeeded, in reverse config order. Hooks, claims, timers, commands,
 * the HTTP route and services are removed, and queued loop_post calls run,
 * before it is called; fd watchers left are removed after it.
 */
typedef int (*chatd_plugin_version_fn)(int count, const int *supported);
typedef int (*chatd_plugin_init_fn)(chatd_plugin *self, const struct chatd_api *api,
				    const struct chatd_option *opts, int nopts, void **userdata);
typedef void (*chatd_plugin_cleanup_fn)(void *userdata);

#if defined(__GNUC__)
#define CHATD_EXPORT __attribute__((visibility("default")))
#else
#define CHATD_EXPORT
#endif

/* The entry points, declared here (C linkage, exported) so that a plugin's
 * definitions match them exactly, -Wmissing-prototypes stays quiet and a C++
 * plugin's definitions get C linkage without writing extern "C" itself. */
CHATD_EXPORT int chatd_plugin_version(int count, const int *supported);
CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata);
CHATD_EXPORT void chatd_plugin_cleanup(void *userdata);
/* Defined by CHATD_PLUGIN_DEFINE_VERSION(): the CHATD_PLUGIN_ABI the plugin
 * was built with, so that the core can name it when the plugin refuses every
 * ABI the core speaks. Optional for plugins that define their own version. */
CHATD_EXPORT extern const int chatd_plugin_built_abi;

#ifdef __cplusplus
}
#endif

/* extern "C" for definitions a macro writes into a C++ file. */
#ifdef __cplusplus
#define CHATD_EXTERN_C extern "C"
#else
#define CHATD_EXTERN_C
#endif

/*
 * CHATD_PLUGIN_DEFINE_VERSION(): defines and exports chatd_plugin_version for
 * a plugin built against this header (C or C++). It returns CHATD_PLUGIN_ABI
 * when the core lists it in `supported`, and -1 (refuse to load) when it does
 * not; it also defines chatd_plugin_built_abi. Write it once, at file scope,
 * with a semicolon:
 *
 *   CHATD_PLUGIN_DEFINE_VERSION();
 *
 * A plugin that speaks more than one ABI writes its own chatd_plugin_version
 * instead. (The trailing struct declaration is there only to take the
 * semicolon.)
 */
#define CHATD_PLUGIN_DEFINE_VERSION()                                                       \
	CHATD_EXTERN_C CHATD_EXPORT const int chatd_plugin_built_abi = CHATD_PLUGIN_ABI;    \
	CHATD_EXTERN_C CHATD_EXPORT int chatd_plugin_version(int count, const int *supported) \
	{                                                                                   \
		for (int i = 0; i < count; i++)                                             \
			if (supported[i] == CHATD_PLUGIN_ABI)                               \
				return CHATD_PLUGIN_ABI;                                    \
		return -1;                                                                  \
	}                                                                                   \
	struct chatd_plugin_version_defined_

#endif /* CHATD_PLUGIN_H */
