#include "outbuf.h"

#include <stdlib.h>
#include <string.h>

struct outbuf *outbuf_new(const char *payload, size_t len)
{
	struct outbuf *b = malloc(sizeof *b + OUTBUF_PRE + len + 1);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	memcpy(b->data + OUTBUF_PRE, payload, len);
	b->data[OUTBUF_PRE + len] = 0;
	return b;
}

struct outbuf *outbuf_ref(struct outbuf *b)
{
	b->refs++;
	return b;
}

void outbuf_unref(struct outbuf *b)
{
	if (b && !--b->refs)
		free(b);
}
