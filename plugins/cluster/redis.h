/*
 * An asynchronous Redis client for the cluster plugin: hiredis 0.14.1 on
 * chatd's libev loop, through hiredis's own libev adapter.
 *
 * Two connections: one for commands, one for subscriptions (a 0.14.1
 * connection cannot do both, and has no PING once subscribed). hiredis 0.14.1
 * has no timeouts: every request carries a libev timer of its own; a request
 * that times out takes its connection down with it (Redis is paused or gone:
 * the context is freed, never reused, and a new one is made after a backoff
 * with jitter). What is in flight is capped (requests and bytes): past the
 * cap a request is refused at once instead of queueing without bound.
 *
 * The command connection is checked before it is used, after every connect:
 * Redis must persist with AOF (appendonly yes) unless allow_no_persistence,
 * and must have the plugin's function library at the right version (loaded
 * with FUNCTION LOAD REPLACE when it has not).
 */
#ifndef CLUSTER_REDIS_H
#define CLUSTER_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct ev_loop;
struct redis;

/*
 * A command's answer: reply (borrowed: valid during the call only; copy what
 * you keep) or, when the request failed, reply NULL and err one of the
 * static texts "timeout" and "disconnected". An error reply from Redis is a
 * reply of type REDIS_REPLY_ERROR.
 */
typedef void (*redis_reply_fn)(void *ud, const redisReply *reply, const char *err);

/* What the client tells its user. Every member may be NULL. */
struct redis_events {
	void *ud;
	void (*cmd_up)(void *ud);                   /* commands may be sent */
	void (*cmd_down)(void *ud, const char *why); /* every request was answered */
	void (*sub_up)(void *ud);                   /* (re)subscribe now */
	void (*sub_down)(void *ud, const char *why); /* every subscription is gone */
	void (*subscribed)(void *ud, const char *channel, size_t len);
	void (*message)(void *ud, const char *channel, size_t clen, const char *data, size_t len);
	void (*log)(void *ud, int level, const char *text); /* CHATD_LOG_* levels */
};

struct redis_options {
	const char *host;          /* borrowed for the client's life */
	int port;
	const char *unix_path;     /* borrowed; when set, host/port are not used */
	int timeout_ms;            /* per request, and per connect */
	int backoff_min_ms, backoff_max_ms;
	size_t max_requests;       /* in flight on the command connection */
	size_t max_bytes;          /* their argument bytes */
	int allow_no_persistence;
	const char *functions;     /* borrowed: the Lua library (FUNCTION LOAD) */
	const char *functions_version; /* borrowed: what chatd_version must answer */
};

/* A client on loop (borrowed); connects at once. NULL when out of memory. */
struct redis *redis_new(struct ev_loop *loop, const struct redis_options *opt, const struct redis_events *ev);
/* Close both connections (requests in flight are answered "disconnected",
 * without events) and free r. */
void redis_free(struct redis *r);

/*
 * Send a command (argv/lens borrowed, copied). Returns 0 when sent: fn is
 * then called exactly once, later (never from inside this call). Returns -1
 * when refused at once (the command connection is not up, or the caps are
 * reached): fn is not called.
 */
int redis_command(struct redis *r, redis_reply_fn fn, void *ud, int argc, const char **argv, const size_t *lens);

/* Subscribe to / unsubscribe from a channel on the subscription connection
 * (events->subscribed follows). -1 when that connection is not up. */
int redis_subscribe(struct redis *r, const char *channel, size_t len);
int redis_unsubscribe(struct redis *r, const char *channel, size_t len);

/* 1 when that connection is up (command: checked too). */
int redis_cmd_up(const struct redis *r);
int redis_sub_up(const struct redis *r);
/* Requests in flight on the command connection. */
size_t redis_in_flight(const struct redis *r);

/* Take a connection down now, as if it had failed (a subscription that
 * stopped delivering, a reply that makes no sense), and reconnect later. */
void redis_drop_cmd(struct redis *r, const char *why);
void redis_drop_sub(struct redis *r, const char *why);

/*
 * At start, before the loop runs: connect with a blocking connection (within
 * timeout_ms), check persistence and load the functions. Returns 0, or -1
 * with a message for the operator in err.
 */
int redis_check_blocking(const struct redis_options *opt, char *err, size_t errsz);

/* Run one command on a blocking connection (at shutdown). 0 when Redis
 * answered without an error, else -1. */
int redis_call_blocking(const struct redis_options *opt, int argc, const char **argv, const size_t *lens);

/* A random 64-bit number (getrandom, else time and pid). */
uint64_t redis_random64(void);

#endif
