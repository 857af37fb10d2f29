/* A join or a name claim a plugin holds (CHATD_EV_JOINING,
 * CHATD_EV_NAME_CLAIM): the plugin API's chatd_pending. The core makes one
 * per event with its continuation; a hook that keeps it (api->pending_keep)
 * answers later with api->pending_release, which runs the continuation when
 * the client is still there and frees it. */
#ifndef CHATD_PENDING_H
#define CHATD_PENDING_H

#include "server.h"

struct chatd_pending;
/* The continuation: the plugin's answer for a client that is still there. */
typedef void (*pending_fn)(struct chatd_pending *p, int result, const char *error_code, const char *error_message,
			   int retry_after_ms);

#define PENDING_MAX_NAMES 128

struct chatd_pending {
	struct chatd_server *srv;
	struct chatd_client *client; /* one reference */
	pending_fn done;
	int kept;                    /* a hook kept it: it waits for pending_release */
	/* a join */
	struct room *room;           /* held (room->holds) while kept */
	int64_t since;
	int first;
	/* a name claim: the candidates (owned), what it is for, and a note for after */
	char *names[PENDING_MAX_NAMES], *folds[PENDING_MAX_NAMES];
	int count;
	int purpose;                 /* chat.c's: at open, or a rename */
	char requested[NICK_MAX_BYTES + 1]; /* the name asked for (a rename's notice says it was taken) */
	char note_code[32];          /* an error to send after the join (a bad or refused ?name=) */
	char note[400];              /* its message, to which "; you are NAME" is added */
};

/* A new pending for c (one reference taken) with its continuation. NULL on OOM. */
struct chatd_pending *pending_new(struct chatd_server *srv, struct chatd_client *c, pending_fn done);
/* Free p (a pending no hook kept, or answered). */
void pending_free(struct chatd_pending *p);

/* The plugin API's pending_keep / pending_release (see chatd/plugin.h). */
chatd_pending *pending_keep(chatd_pending *p);
int pending_release(chatd_pending *p, int result, const char *code, const char *text,
		    int retry_after_ms);

#endif
