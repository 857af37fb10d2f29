/* A client's bounded send queue: a ring of references to shared buffers. */
#ifndef CHATD_SENDQ_H
#define CHATD_SENDQ_H

#include <stddef.h>
#include "outbuf.h"

struct sendq_entry {
	struct outbuf *buf; /* one reference owned by the queue */
	int flags;          /* CHATD_SEND_* */
};

struct sendq {
	struct sendq_entry *ring;
	size_t cap;   /* power of two, 0 before the first push */
	size_t head;  /* index of the oldest entry */
	size_t count;
	size_t bytes; /* payload bytes queued */
};

enum sendq_result { SENDQ_QUEUED = 0, SENDQ_DROPPED = 1, SENDQ_OVERFLOW = -1 };

/* An empty queue. */
void sendq_init(struct sendq *q);
/* Drop every entry and free the ring. */
void sendq_clear(struct sendq *q);
/*
 * Queue buf (borrowed: the queue takes its own reference). Droppable frames
 * are refused above `soft` bytes, presence frames above the midpoint of soft
 * and hard; any frame that would pass `hard` gives SENDQ_OVERFLOW (the caller
 * closes the client with 1013).
 */
enum sendq_result sendq_push(struct sendq *q, struct outbuf *buf, int flags, size_t soft, size_t hard);
/* The oldest entry, or NULL when empty (borrowed). */
struct sendq_entry *sendq_peek(struct sendq *q);
/* The i-th oldest entry (0 = oldest), or NULL (borrowed). */
struct sendq_entry *sendq_at(struct sendq *q, size_t i);
/* Remove the oldest entry and drop its reference. */
void sendq_pop(struct sendq *q);

#endif
