/* HTTP endpoints plugins serve under /plugins/NAME/ (api->http_route): the
 * request (GET, HEAD, POST, PUT, PATCH, DELETE; a body up to
 * PLUGIN_HTTP_MAX_BODY) goes to the plugin's handler as CHATD_EV_HTTP, and
 * its api->http_respond becomes the answer. */
#ifndef CHATD_PLUGIN_HTTP_H
#define CHATD_PLUGIN_HTTP_H

#include <libwebsockets.h>
#include "server.h"

struct session;

#define PLUGIN_HTTP_PREFIX "/plugins/"
#define PLUGIN_HTTP_MAX_BODY (1024 * 1024)

/* LWS_CALLBACK_HTTP for a path under PLUGIN_HTTP_PREFIX (uri borrowed).
 * Answers now, or waits for the body (plugin_http_body). lws result. */
int plugin_http_request(struct chatd_server *srv, struct lws *wsi, struct session *s, const char *uri);
/* LWS_CALLBACK_HTTP_BODY: a chunk of the body. lws result. */
int plugin_http_body(struct lws *wsi, struct session *s, const void *in, size_t len);
/* LWS_CALLBACK_HTTP_BODY_COMPLETION: hand the request over. lws result. */
int plugin_http_body_done(struct chatd_server *srv, struct lws *wsi, struct session *s);
/* Free what s holds for a plugin request (the connection is gone). */
void plugin_http_session_free(struct session *s);

/* The plugin API (see chatd/plugin.h). */
int plugin_http_route(chatd_plugin *self, chatd_hook_fn fn, void *userdata);
int plugin_http_respond(chatd_request *r, int status, const char *content_type, const char *body, size_t len);
int plugin_http_add_header(chatd_request *r, const char *name, const char *value);

#endif
