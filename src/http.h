/* Plain HTTP: /healthz, /metrics and the static web root. */
#ifndef CHATD_HTTP_H
#define CHATD_HTTP_H

#include <libwebsockets.h>
#include "server.h"

struct session;

/* LWS_CALLBACK_HTTP for the path `in`. Returns the lws callback result. */
int http_request(struct chatd_server *srv, struct lws *wsi, struct session *s, const char *in, size_t len);
/* Answer status with text (borrowed) and a newline as a text/plain body;
 * allow (may be NULL) becomes an Allow header; to a HEAD, no body. The lws
 * callback result. */
int http_text(struct lws *wsi, struct session *s, unsigned status, const char *text, const char *allow);
/* LWS_CALLBACK_HTTP_WRITEABLE: write a pending body. */
int http_writeable(struct lws *wsi, struct session *s);
/* The Content-Type for a file name (static string). */
const char *http_content_type(const char *path);
/* Resolve the request path under root (both borrowed) into out, refusing
 * traversal and symlinks that leave the root. 0 ok, -1 not found/refused. */
int http_resolve(const char *root, const char *path, char *out, size_t outsz);
/* The Prometheus text for srv (new string). */
char *http_metrics_text(struct chatd_server *srv);

#endif
