#include "sendq.h"
#include "chatd/plugin.h"

#include <stdlib.h>
#include <string.h>

void sendq_init(struct sendq *q) { memset(q, 0, sizeof *q); }

void sendq_clear(struct sendq *q)
{
	while (q->count)
		sendq_pop(q);
	free(q->ring);
	sendq_init(q);
}

static int sendq_grow(struct sendq *q)
{
	size_t ncap = q->cap ? q->cap * 2 : 8;
	struct sendq_entry *n = malloc(ncap * sizeof *n);
	if (!n)
		return -1;
	for (size_t i = 0; i < q->count; i++)
		n[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = n;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

enum sendq_result sendq_push(struct sendq *q, struct outbuf *buf, int flags, size_t soft, size_t hard)
{
	size_t after = q->bytes + buf->len;
	if ((flags & CHATD_SEND_DROPPABLE) && after > soft)
		return SENDQ_DROPPED;
	if ((flags & CHATD_SEND_PRESENCE) && after > soft + (hard - soft) / 2)
		return SENDQ_DROPPED;
	if (after > hard)
		return SENDQ_OVERFLOW;
	if (q->count == q->cap && sendq_grow(q))
		return SENDQ_OVERFLOW;
	struct sendq_entry *e = &q->ring[(q->head + q->count) & (q->cap - 1)];
	e->buf = outbuf_ref(buf);
	e->flags = flags;
	q->count++;
	q->bytes = after;
	return SENDQ_QUEUED;
}

struct sendq_entry *sendq_peek(struct sendq *q) { return q->count ? &q->ring[q->head] : NULL; }

struct sendq_entry *sendq_at(struct sendq *q, size_t i)
{
	return i < q->count ? &q->ring[(q->head + i) & (q->cap - 1)] : NULL;
}

void sendq_pop(struct sendq *q)
{
	if (!q->count)
		return;
	struct sendq_entry *e = &q->ring[q->head];
	q->bytes -= e->buf->len;
	outbuf_unref(e->buf);
	e->buf = NULL;
	q->head = (q->head + 1) & (q->cap - 1);
	if (!--q->count && q->cap > 64) { /* give back a ring a burst grew */
		free(q->ring);
		q->ring = NULL;
		q->cap = 0;
		q->head = 0;
	}
}
