/* The request_source of a libwebsockets connection: headers and query
 * arguments of the request lws parsed (valid while lws keeps its headers:
 * during the handshake filter and the HTTP callback). */
#ifndef CHATD_REQUEST_LWS_H
#define CHATD_REQUEST_LWS_H

#include "request.h"

struct lws;

/* Init r for wsi (borrowed; must outlive r's use). method, path and address
 * are borrowed. */
void request_init_lws(struct chatd_request *r, struct lws *wsi, const char *method, const char *path,
		      const char *address);

#endif
