/*
 * What travels on the channels (written by functions.lua, or by a node for
 * ephemeral frames), parsed without copying. Fields are separated by "\n";
 * the last field of a message is username and text back to back, split by
 * the username's length (both may hold any byte but NUL).
 *
 *   room channel:  m\n<id>\n<ts>\n<node>\n<req>\n<ulen>\n<username><text>
 *                  p\n<pv>\nj\n<node>\n<fold>\n<display>
 *                  p\n<pv>\nl\n<node>\n<fold>
 *                  p\n<pv>\nr\n<node>\n<old fold>\n<fold>\n<display>
 *                  e\n<node>\n<flags>\n<JSON frame>
 *   node channel:  h\n<seq>   f   d\n<JSON frame>
 */
#ifndef CLUSTER_PROTO_H
#define CLUSTER_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* A byte string inside a payload (not NUL-terminated). */
struct pstr {
	const char *p;
	size_t n;
};

enum pkind { P_MESSAGE, P_PRESENCE, P_EPHEMERAL };

struct pmsg {
	enum pkind kind;
	/* P_MESSAGE */
	int64_t id, ts;
	struct pstr node;
	uint64_t req;
	struct pstr user, text;
	/* P_PRESENCE: op 'j', 'l' or 'r'; node, fold (new fold for 'r'), old, display */
	int64_t pv;
	char op;
	struct pstr fold, old, display;
	/* P_EPHEMERAL: node, flags, json */
	int flags;
	struct pstr json;
};

/* Parse a room channel payload (data[0..len), borrowed by m). 0, or -1 when malformed. */
int proto_parse_room(const char *data, size_t len, struct pmsg *m);

/* 1 when s equals the NUL-terminated z. */
int pstr_is(struct pstr s, const char *z);

#endif
