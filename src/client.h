/* Clients: lifecycle, sending, closing. */
#ifndef CHATD_CLIENT_H
#define CHATD_CLIENT_H

#include <jansson.h>
#include "server.h"

/* A new client (refs = 1, owned by the transport) for a socket from address
 * (borrowed), linked into srv->clients. NULL on OOM. */
struct chatd_client *client_new(struct chatd_server *srv, void *transport, const char *address);
/* Take a reference; returns c. */
struct chatd_client *client_ref(struct chatd_client *c);
/* Drop a reference; the last one frees c (it must be gone by then). */
void client_unref(struct chatd_client *c);
/* The longest ?name= / requested name kept (bytes), as the array it replaced allowed. */
#define QUERY_NAME_MAX (NICK_MAX_BYTES * 4)
/* Set c->query_name to a copy of v (borrowed; NULL or "" clears it), cut to its first
 * QUERY_NAME_MAX bytes (too long for a name all the same: refused at open, as before).
 * Returns 0, or -1 on OOM (cleared). */
int client_set_query_name(struct chatd_client *c, const char *v);
/* Mark the socket closed: unlink from srv->clients, drop the queue. Then client_unref. */
void client_gone(struct chatd_client *c);

/*
 * Queue b (borrowed) for c. flags are CHATD_SEND_*. Returns 0 when queued,
 * 1 when dropped by the queue policy, -1 when c is closing or was just
 * closed with 1013 because its queue overflowed.
 */
int client_send(struct chatd_client *c, struct outbuf *b, int flags);
/* Encode obj (steals) and queue it. Same returns as client_send. */
int client_send_json(struct chatd_client *c, json_t *obj, int flags);
/* Send {"type":"error","code":code,"message":message[,"retry_after_ms"]}. */
void client_send_error(struct chatd_client *c, const char *code, const char *message, int retry_after_ms);
/* The same, answering the message that carried client_id (borrowed; NULL or
 * "" for none): the error frame then has "client_id" too. A message that is
 * not valid UTF-8 is replaced by the code. */
void client_send_error_for(struct chatd_client *c, const char *code, const char *message, int retry_after_ms,
			   const char *client_id);
/* Ask the transport to close c with a WebSocket close code after what is queued
 * ahead of the close has gone. Safe anywhere, idempotent. */
void client_close(struct chatd_client *c, int code, const char *reason);
/* A live connection of the person called name (any case): its latest. NULL
 * if none (also while the person is held in grace without connections). */
struct chatd_client *client_find_by_name(struct chatd_server *srv, const char *name);

#endif
