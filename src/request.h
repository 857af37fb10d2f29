/* The HTTP request a plugin may read: the WebSocket handshake at CONNECT, or
 * a request to a plugin's HTTP endpoint. The chatd_request of the plugin API.
 * Where the data comes from is a request_source: lws (request_lws.c) or
 * fixed text (request_init_text, for tests). */
#ifndef CHATD_REQUEST_H
#define CHATD_REQUEST_H

#include <stddef.h>
#include "chatd/plugin.h"

struct request_source {
	/* The value of header lname (lower case, no colon) as a new string,
	 * NULL when absent. Several lines of one header come joined. */
	char *(*header)(void *ctx, const char *lname);
	/* Query argument i (from 0) as a new "name=value" string, URL-decoded;
	 * NULL past the last one. */
	char *(*query_arg)(void *ctx, int i);
};

/* One answer handed to a plugin: kept until request_clear. */
struct request_answer {
	int kind;                  /* 'h' header, 'q' query, 'c' cookie */
	char *name;                /* owned: as asked */
	char *value;               /* owned, NULL when absent */
};

struct chatd_request {
	const struct request_source *src;
	void *ctx;
	const char *method;        /* borrowed: "GET", "POST", ... */
	const char *path;          /* borrowed: without the query string */
	const char *address;       /* borrowed: the client address */
	const char *body;          /* borrowed: HTTP endpoints only */
	size_t body_len;
	void *http;                /* plugin_http.c's answer while a handler runs, else NULL */
	struct request_answer *answers; /* owned */
	size_t nanswers;
	/* request_init_text's own data */
	char *text_query;          /* owned: "a=1&b=2" */
	char *text_headers;        /* owned: "Name: value\n..." */
};

/* A request whose data comes from src/ctx (both borrowed, used until
 * request_clear). method, path and address are borrowed. */
void request_init(struct chatd_request *r, const struct request_source *src, void *ctx, const char *method,
		  const char *path, const char *address);
/* A request from text: query "a=1&b=%20x" (URL-encoded, may be NULL) and
 * headers "Name: value" lines separated by '\n' (may be NULL). Copies both.
 * 0, or -1 on OOM. */
int request_init_text(struct chatd_request *r, const char *method, const char *path, const char *query,
		      const char *headers, const char *address);
/* Free every answer (the strings plugins got become invalid). */
void request_clear(struct chatd_request *r);

/* The plugin API's request_* (see chatd/plugin.h). Strings are borrowed from
 * r until request_clear. NULL when absent. */
const char *request_header(chatd_request *r, const char *name);
const char *request_query(chatd_request *r, const char *name);
const char *request_cookie(chatd_request *r, const char *name);
const char *request_path(chatd_request *r);
const char *request_method(chatd_request *r);
const char *request_address(chatd_request *r);
const char *request_body(chatd_request *r, size_t *len);

/* Decode %XX and '+' of s[0..len) into a new string (invalid escapes are
 * kept as they are). NULL on OOM. */
char *url_decode(const char *s, size_t len);

#endif
