/* The chat protocol, independent of the socket library: what happens on a
 * handshake, an established socket, a client frame and a close. */
#ifndef CHATD_CHAT_H
#define CHATD_CHAT_H

#include "server.h"

/* The handshake of /ws/{room}: c is new, its join_room/query_name/since are
 * set. Runs CONNECT hooks. Returns 0 to accept, else the HTTP status to
 * refuse with (*reason set to static or plugin text). */
int chat_handshake(struct chatd_server *srv, struct chatd_client *c, const char *origin, const char *host,
		   const char **reason);
/* The socket is upgraded: pick the nickname, join the handshake's room. */
void chat_open(struct chatd_server *srv, struct chatd_client *c);
/* One complete text message (valid UTF-8, within max_frame_bytes). */
void chat_frame(struct chatd_server *srv, struct chatd_client *c, const char *data, size_t len);
/* The socket closed: leave every room (LEAVE hooks and a leave notice per
 * room), DISCONNECT hooks, release the name. */
void chat_close(struct chatd_server *srv, struct chatd_client *c);
/* Send the member list of r as {"type":"users",...} to c. */
void chat_send_users(struct chatd_server *srv, struct chatd_client *c, struct room *r);

#endif
