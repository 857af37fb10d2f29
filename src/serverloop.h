/* Starting, running and stopping the server (server.c). */
#ifndef CHATD_SERVERLOOP_H
#define CHATD_SERVERLOOP_H

#include "server.h"

/* With srv->cfg filled: make the loop, create data_dir (unless check_only),
 * load and init the plugins. 0, or -1 with err set. */
int server_setup(struct chatd_server *srv, int check_only, char *err, size_t errsz);
/* Create the lws context on the loop and listen. 0, or -1 with err set. */
int server_listen(struct chatd_server *srv, char *err, size_t errsz);
/* Run until SIGTERM/SIGINT has closed every client (at most ~1.5 s). */
int server_run(struct chatd_server *srv);
/* Close what is left, unload plugins, free everything srv owns. */
void server_teardown(struct chatd_server *srv);

#endif
