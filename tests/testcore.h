/*
 * A test core: the real chatd core (libchatdcore) with a fake transport, so
 * the chat protocol and plugins are tested with Check and no sockets.
 * Frames a client would receive stay in its send queue; tc_recv pops them.
 */
#ifndef CHATD_TESTCORE_H
#define CHATD_TESTCORE_H

#include <jansson.h>
#include "server.h"

struct testcore {
	struct chatd_server srv;
	char err[1024];           /* why tc_new failed */
	char data_dir[256];       /* a fresh temporary directory */
	int last_status;          /* HTTP status of the last refused tc_connect */
	char last_reason[256];    /* and its reason */
};

/*
 * A core configured by config_text (INI, may be "" for defaults). Relative
 * paths resolve against the build directory, so "[plugin typing]" finds
 * plugins/typing/typing.so. Returns NULL with a message on stderr when the
 * config or a plugin fails (see tc_try_new). Free with tc_free.
 */
struct testcore *tc_new(const char *config_text);
/* Like tc_new but returns NULL and copies the error to err on failure. */
struct testcore *tc_try_new(const char *config_text, char *err, size_t errsz);
/* Tear everything down (clients, plugins, rooms). */
void tc_free(struct testcore *tc);

/* Connect to /ws/room with ?name= (may be NULL) from address (NULL = 127.0.0.1).
 * Returns the welcomed client, or NULL when a CONNECT hook refused it
 * (tc->last_status holds the HTTP status). */
struct chatd_client *tc_connect(struct testcore *tc, const char *room, const char *name, const char *address);
/* How a client connects: the query parameters of /ws/{room}?name=&multi=1. */
struct tc_opts {
	const char *name;          /* ?name=, NULL for none */
	const char *address;       /* peer address, NULL = 127.0.0.1 */
	int multi;                 /* ?multi=1 */
	/* The upgrade request CONNECT hooks read (request.h): the query string
	 * "name=Zed&x=1" (URL-encoded; its name= and since= act as on a real
	 * handshake, name above wins) and "Name: value" header lines separated
	 * by '\n'. Either may be NULL. */
	const char *query;
	const char *headers;
	const char *session;       /* ?session=KEY (must be valid), NULL for none */
};
/* Connect to /ws/room (any case: folded as the handshake does) with opts;
 * same returns as tc_connect. */
struct chatd_client *tc_connect_opts(struct testcore *tc, const char *room, const struct tc_opts *opts);
/* tc_connect_opts with just a query, headers and address (each may be NULL). */
struct chatd_client *tc_connect_request(struct testcore *tc, const char *room, const char *query,
					const char *headers, const char *address);
/* Deliver one text frame from c (borrowed). */
void tc_send(struct testcore *tc, struct chatd_client *c, const char *text);
/* Deliver len bytes (valid UTF-8, may hold NULs) as one text frame from c. */
void tc_send_len(struct testcore *tc, struct chatd_client *c, const char *data, size_t len);
/* The next frame queued for c as a new JSON value, or NULL when none. */
json_t *tc_recv(struct testcore *tc, struct chatd_client *c);
/* Pop frames until one with "type" == type (and "event" == event when not NULL);
 * returns it (new) or NULL when the queue ran out. */
json_t *tc_expect(struct testcore *tc, struct chatd_client *c, const char *type, const char *event);
/* Number of frames queued for c. */
size_t tc_pending(struct chatd_client *c);
/* Drop every queued frame of c. */
void tc_drain(struct chatd_client *c);
/* The close code requested for c, 0 if none. */
int tc_close_code(struct chatd_client *c);
/* Disconnect c (as if its socket closed); c is freed. */
void tc_disconnect(struct testcore *tc, struct chatd_client *c);
/* Dispatch one TICK / one LOOP_IDLE event. */
void tc_tick(struct testcore *tc);
void tc_idle(struct testcore *tc);
/* One LOOP_IDLE event that reports the loop load_pct (0-100) busy; tc_idle reports 0. */
void tc_idle_loaded(struct testcore *tc, int load_pct);
/* Run the event loop (plugin timers) for about ms milliseconds. */
void tc_run(struct testcore *tc, int ms);

#endif
