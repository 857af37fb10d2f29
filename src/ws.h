/* The libwebsockets protocol callback: translates lws events into chat_*
 * calls and drains client queues in LWS_CALLBACK_SERVER_WRITEABLE. */
#ifndef CHATD_WS_H
#define CHATD_WS_H

#include <libwebsockets.h>
#include "server.h"

/* Per-session data lws allocates for every HTTP or WebSocket connection. */
struct session {
	struct chatd_client *client; /* WebSocket: one reference; NULL for plain HTTP */
	char *http_body;             /* HTTP: owned body waiting for HTTP_WRITEABLE */
	size_t http_len;
	struct plugin_http *plugin_http; /* owned: a plugin request waiting for its body */
};

/* The lws protocol callback for "chatd" (HTTP and WebSocket). */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* Before the loop sleeps: write what was queued to established clients
 * during this iteration, one write per client; a client whose socket cannot
 * take it all waits for WRITEABLE. Drops the list's client references. */
void ws_flush_pending(struct chatd_server *srv);
/* Drop the pending list and its references (teardown). */
void ws_pending_free(struct chatd_server *srv);

/* The transport operations for lws sockets. */
extern const struct transport_ops ws_transport;

#endif
