/* Nicknames: the server-wide registry of who is called what. */
#ifndef CHATD_IDENTITY_H
#define CHATD_IDENTITY_H

#include "server.h"

/*
 * Give c the name `wanted` (already normalised), or the first free variant
 * (wanted2, wanted3, ...; shortened to fit 32 characters). Releases c's
 * previous name. Returns 0, -1 on OOM (c keeps its old name).
 */
int identity_claim(struct chatd_server *srv, struct chatd_client *c, const char *wanted);
/* Give c a free guest-NNNN name. 0 or -1. */
int identity_guest(struct chatd_server *srv, struct chatd_client *c);
/* Release c's name (on disconnect). */
void identity_release(struct chatd_server *srv, struct chatd_client *c);

#endif
