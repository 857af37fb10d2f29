/* CHATD_EV_NICK: plugins see, and may refuse, every name a client asks
 * for (the first at connect and every rename) before it is claimed. */
#ifndef CHATD_NICKFILTER_H
#define CHATD_NICKFILTER_H

#include "server.h"

/* Why a name was refused: what the client is told (copied from the plugin). */
struct nick_refusal {
	char code[32];
	char message[256];
};

/*
 * Run the NICK hooks for c asking for `wanted` (normalized, borrowed);
 * old_name is c's current name, NULL for the first one. Returns 0 when the
 * name may be claimed, -1 when a hook refused it (why filled).
 */
int nick_filter(struct chatd_server *srv, struct chatd_client *c, const char *old_name, const char *wanted,
		struct nick_refusal *why);

/* Fill why from a plugin's code and message (either may be NULL). */
void nick_refusal_set(struct nick_refusal *why, const char *code, const char *message);

#endif
