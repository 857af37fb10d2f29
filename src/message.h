/* Decoding and validating one client frame (a JSON object in a text frame). */
#ifndef CHATD_MESSAGE_H
#define CHATD_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "names.h"
#include "chatd/plugin.h"

enum inbound_kind { IN_MESSAGE, IN_NICK, IN_JOIN, IN_WHO, IN_LEAVE, IN_ROOMS, IN_OTHER };

#define CLIENT_ID_MAX 64

/* A decoded frame. Strings are borrowed from root. */
struct inbound {
	enum inbound_kind kind;
	const char *type;          /* "message" when absent */
	const char *text;          /* IN_MESSAGE */
	size_t text_len;
	const char *username;      /* IN_MESSAGE (optional), IN_NICK */
	size_t username_len;
	const char *client_id;     /* IN_MESSAGE, optional */
	const char *room;          /* "room" folded to lower case (in room_key), NULL when
				    * absent; required for IN_JOIN, optional elsewhere */
	char room_key[ROOM_MAX_BYTES + 1];
	const char *room_problem;  /* IN_OTHER: why "room" is unusable (static), else NULL;
				    * the other kinds refuse such a frame outright */
	int64_t since;             /* IN_JOIN: optional "since", -1 when absent */
	json_t *root;              /* owned: free with inbound_free */
};

/* Why a frame was refused: a stable code and a human message. */
struct inbound_error {
	const char *code;          /* static: bad_request, too_large, ... */
	char message[200];
	char client_id[CLIENT_ID_MAX + 1]; /* the refused message's client_id, "" if none */
};

/*
 * Check a message text as the core checks client text: at most max_text
 * bytes, no NUL, not empty or white space only (UTF-8 validity is the
 * caller's: jansson checks client text, message_set_text plugin text). Returns
 * CHATD_TEXT_OK (0), or CHATD_TEXT_TOO_LARGE / CHATD_TEXT_INVALID /
 * CHATD_TEXT_EMPTY with err filled (code too_large or bad_request).
 */
int message_text_check(const char *text, size_t len, size_t max_text, struct inbound_error *err);

/*
 * Decode data[0..len) (valid UTF-8, checked by the transport). max_text is
 * the max_message_bytes limit. Returns 0 and fills in (free with
 * inbound_free), or -1 and fills err.
 */
int inbound_decode(const char *data, size_t len, size_t max_text, struct inbound *in,
		   struct inbound_error *err);

/* Release what inbound_decode allocated. */
void inbound_free(struct inbound *in);

#endif
