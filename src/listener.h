/* chatd's own listening socket (listener.c): accepts on the libev loop and
 * hands each connection to libwebsockets with lws_adopt_socket_vhost().
 *
 * Why not lws's listener: lws 4.1.6 busy-loops and logs on every wakeup when
 * accept() fails with EMFILE, and the only guard it offers
 * (fd_limit_per_thread below the fd limit) switches it to a linear scan of
 * every socket for each event. Here a full process gets a 503 per pending
 * connection from a reserved fd, and max_connections is enforced the same
 * way, so lws keeps its direct fd lookup table. */
#ifndef CHATD_LISTENER_H
#define CHATD_LISTENER_H

#include "server.h"

/* Bind and listen on cfg.bind:cfg.port (all addresses, IPv6 dual-stack when
 * bind is unset) and reserve one spare fd. Sets srv->listen_port to the
 * bound port (the real one when cfg.port is 0). 0, or -1 with err set. */
int listener_open(struct chatd_server *srv, char *err, size_t errsz);
/* Start accepting on srv->loop into the lws context's default vhost
 * (both must exist). */
void listener_start(struct chatd_server *srv);
/* Stop and close the listening socket and the spare fd; frees the listener. */
void listener_close(struct chatd_server *srv);
/* An adopted socket was destroyed by lws: one fewer counts against max_connections. */
void listener_socket_closed(struct chatd_server *srv);

#endif
