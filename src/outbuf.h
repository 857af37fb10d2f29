/* Refcounted, encoded-once outgoing WebSocket payloads, with headroom in
 * front for the transport's frame header (LWS_PRE for libwebsockets). */
#ifndef CHATD_OUTBUF_H
#define CHATD_OUTBUF_H

#include <stddef.h>

/* Headroom before the payload; ws.c checks it equals LWS_PRE. */
#define OUTBUF_PRE 16

struct outbuf {
	unsigned refs;
	size_t len;                 /* payload bytes */
	unsigned char data[];       /* OUTBUF_PRE + len (+1 NUL) */
};

/* A new buffer holding a copy of len bytes (refs = 1). NULL on OOM. */
struct outbuf *outbuf_new(const char *payload, size_t len);
/* The payload start (after the headroom). */
static inline unsigned char *outbuf_payload(struct outbuf *b) { return b->data + OUTBUF_PRE; }
/* Take one more reference; returns b. */
struct outbuf *outbuf_ref(struct outbuf *b);
/* Drop one reference; frees at zero. NULL is ignored. */
void outbuf_unref(struct outbuf *b);

#endif
