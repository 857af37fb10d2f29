#include "request_lws.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

/* The lws token for header lname (lower case, no colon), or -1 for a header
 * lws does not know by name (a custom header). */
static int known_token(const char *lname)
{
	size_t n = strlen(lname);
	for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const unsigned char *s = lws_token_to_string((enum lws_token_indexes)t);
		if (s && !strncmp((const char *)s, lname, n) && s[n] == ':' && !s[n + 1])
			return t;
	}
	return -1;
}

static char *lws_source_header(void *ctx, const char *lname)
{
	struct lws *wsi = ctx;
	int t = known_token(lname), len;
	char *v;
	if (t >= 0) {
		if ((len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t)) <= 0)
			return NULL;
		if (!(v = malloc((size_t)len + 1)))
			return NULL;
		if (lws_hdr_copy(wsi, v, len + 1, (enum lws_token_indexes)t) < 0) {
			free(v);
			return NULL;
		}
		return v;
	}
	char name[132];
	size_t n = strlen(lname);
	if (n + 2 > sizeof name)
		return NULL;
	memcpy(name, lname, n);
	name[n] = ':';
	name[n + 1] = 0;
	if ((len = lws_hdr_custom_length(wsi, name, (int)n + 1)) < 0)
		return NULL;
	if (!(v = malloc((size_t)len + 1)))
		return NULL;
	if (lws_hdr_custom_copy(wsi, v, len + 1, name, (int)n + 1) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

static char *lws_source_query_arg(void *ctx, int i)
{
	struct lws *wsi = ctx;
	/* 0 past the last argument (an argument holds at least its name) */
	int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
	if (len <= 0)
		return NULL;
	char *v = malloc((size_t)len + 1);
	if (!v)
		return NULL;
	if (lws_hdr_copy_fragment(wsi, v, len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

static const struct request_source lws_source = { lws_source_header, lws_source_query_arg };

void request_init_lws(struct chatd_request *r, struct lws *wsi, const char *method, const char *path,
		      const char *address)
{
	request_init(r, &lws_source, wsi, method, path, address);
}
