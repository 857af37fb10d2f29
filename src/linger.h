/* Lingering close (linger.c): let a closed WebSocket's last bytes (the close
 * frame) reach the peer.
 *
 * Closing a TCP socket that still has unread input makes Linux send a reset
 * at once and throw away what was still queued for sending, so a client that
 * was flooding when chatd closed it never sees its close frame. lws 4.1.6
 * shuts a socket down gracefully only with its poll() backend, not libev. So
 * when a WebSocket closes, chatd keeps a duplicate of its descriptor, shuts
 * down the sending side (the queued bytes, then FIN, go out), and reads and
 * discards whatever the peer still sends until it closes too or
 * LINGER_TIMEOUT_S passed. */
#ifndef CHATD_LINGER_H
#define CHATD_LINGER_H

#include "server.h"

/* Take over a duplicate of fd (borrowed: the caller closes its own) and
 * linger on it. Skipped silently when LINGER_MAX sockets already linger or
 * no descriptor is left. */
void linger_socket(struct chatd_server *srv, int fd);
/* Close every lingering socket now (shutdown). */
void linger_close_all(struct chatd_server *srv);

#endif
