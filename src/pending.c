#include "pending.h"
#include "client.h"
#include "room.h"

#include <stdlib.h>

struct chatd_pending *pending_new(struct chatd_server *srv, struct chatd_client *c, pending_fn done)
{
	struct chatd_pending *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->srv = srv;
	p->client = client_ref(c);
	p->done = done;
	return p;
}

void pending_free(struct chatd_pending *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->count; i++) {
		free(p->names[i]);
		free(p->folds[i]);
	}
	client_unref(p->client);
	free(p);
}

chatd_pending *pending_keep(chatd_pending *p)
{
	p->kept = 1;
	return p;
}

int pending_release(chatd_pending *p, int result, const char *code, const char *text,
		    int retry_after_ms)
{
	struct chatd_client *c = p->client;
	int live = !c->gone && !c->closing;
	if (live)
		p->done(p, result, code, text, retry_after_ms);
	else if (p->room) { /* a join for a client that went: let the room go */
		p->room->holds--;
		room_release_if_unused(p->srv, p->room);
	}
	pending_free(p);
	return live;
}
