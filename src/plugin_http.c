#include "plugin_http.h"
#include "http.h"
#include "log.h"
#include "plugins.h"
#include "proxy.h"
#include "request_lws.h"
#include "ws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EXTRA_HEADERS 8

/* A plugin request waiting for its body (session->plugin_http). */
struct plugin_http {
	struct loaded_plugin *lp;
	char method[8];
	char *uri;                 /* owned: the path, without the query */
	char *body;                /* owned */
	size_t len, cap;
	int too_large;
};

/* The answer a handler gives (chatd_request.http while it runs). */
struct http_answer {
	int responded;
	int status;
	char type[128];
	char *body;                /* owned */
	size_t len;
	char *headers[MAX_EXTRA_HEADERS]; /* owned "name: value" */
	int nheaders;
};

/* The method of wsi's request, or NULL for one plugins are not offered. */
static const char *method_of(struct lws *wsi)
{
	static const struct { enum lws_token_indexes tok; const char *name; } methods[] = {
		{ WSI_TOKEN_GET_URI, "GET" },     { WSI_TOKEN_HEAD_URI, "HEAD" },   { WSI_TOKEN_POST_URI, "POST" },
		{ WSI_TOKEN_PUT_URI, "PUT" },     { WSI_TOKEN_PATCH_URI, "PATCH" }, { WSI_TOKEN_DELETE_URI, "DELETE" },
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
			return methods[i].name;
	return NULL;
}

/* The loaded plugin named name[0..len) with an HTTP route, or NULL. */
static struct loaded_plugin *route_of(struct chatd_server *srv, const char *name, size_t len)
{
	for (int i = 0; i < srv->nplugins; i++) {
		struct loaded_plugin *lp = srv->plugins[i];
		if (lp && lp->http_fn && strlen(lp->conf->name) == len && !strncmp(lp->conf->name, name, len))
			return lp;
	}
	return NULL;
}

/* Write a's status line and headers, then its body when writeable (none to
 * a HEAD). lws result. */
static int answer_send(struct lws *wsi, struct session *s, struct http_answer *a, int head)
{
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
	if (lws_add_http_common_headers(wsi, (unsigned)a->status, a->type, a->len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-store", 8,
					&p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
					(const unsigned char *)"nosniff", 7, &p, end))
		return -1;
	for (int i = 0; i < a->nheaders; i++) {
		char name[128];
		const char *colon = strchr(a->headers[i], ':');
		snprintf(name, sizeof name, "%.*s:", (int)(colon - a->headers[i]), a->headers[i]);
		const char *v = colon + 2;
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)v, (int)strlen(v),
						&p, end))
			return -1;
	}
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (head || !a->len) {
		free(a->body);
		a->body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	free(s->http_body);
	s->http_body = a->body;
	s->http_len = a->len;
	a->body = NULL;
	lws_callback_on_writable(wsi);
	return 0;
}

static void answer_free(struct http_answer *a)
{
	free(a->body);
	for (int i = 0; i < a->nheaders; i++)
		free(a->headers[i]);
}

/* Run lp's handler for the request and send its answer. lws result. */
static int dispatch(struct chatd_server *srv, struct lws *wsi, struct session *s, struct loaded_plugin *lp,
		    const char *method, const char *uri, const char *body, size_t len)
{
	char addr[PROXY_ADDR_MAX], via[PROXY_ADDR_MAX];
	const char *why;
	if (proxy_client_address(&srv->cfg, wsi, addr, via, &why))
		return http_text(wsi, s, 400, why, NULL);
	struct chatd_request req;
	struct http_answer a = { 0 };
	request_init_lws(&req, wsi, method, uri, addr);
	req.body = body;
	req.body_len = len;
	req.http = &a;
	const char *sub = uri + strlen(PLUGIN_HTTP_PREFIX) + strlen(lp->conf->name);
	struct chatd_http_event ev = { .size = sizeof ev, .request = &req, .path = *sub ? sub : "/" };
	lp->http_fn(CHATD_EV_HTTP, &ev, lp->http_ud);
	req.http = NULL;
	request_clear(&req);
	int rc;
	if (!a.responded) {
		log_warn("plugin %s did not answer %s %s", lp->conf->name, method, uri);
		rc = http_text(wsi, s, 500, "the plugin did not answer", NULL);
	} else {
		rc = answer_send(wsi, s, &a, !strcmp(method, "HEAD"));
	}
	answer_free(&a);
	return rc;
}

int plugin_http_request(struct chatd_server *srv, struct lws *wsi, struct session *s, const char *uri)
{
	const char *name = uri + strlen(PLUGIN_HTTP_PREFIX);
	size_t nlen = strcspn(name, "/");
	struct loaded_plugin *lp = route_of(srv, name, nlen);
	if (!lp)
		return http_text(wsi, s, 404, "not found: no plugin serves this path", NULL);
	const char *method = method_of(wsi);
	if (!method)
		return http_text(wsi, s, 405, "method not allowed", "GET, HEAD, POST, PUT, PATCH, DELETE");
	if (strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "PATCH"))
		return dispatch(srv, wsi, s, lp, method, uri, NULL, 0);
	/* a body follows: wait for it (LWS_CALLBACK_HTTP_BODY..._COMPLETION) */
	char cl[32];
	if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoull(cl, NULL, 10) > PLUGIN_HTTP_MAX_BODY)
		return http_text(wsi, s, 413, "request body too large (the limit is 1 MiB)", NULL);
	struct plugin_http *ph = calloc(1, sizeof *ph);
	if (!ph || !(ph->uri = strdup(uri))) {
		free(ph);
		return -1;
	}
	ph->lp = lp;
	snprintf(ph->method, sizeof ph->method, "%s", method);
	plugin_http_session_free(s);
	s->plugin_http = ph;
	if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && !strtoull(cl, NULL, 10))
		return plugin_http_body_done(srv, wsi, s); /* lws calls nothing for an empty body */
	return 0;
}

int plugin_http_body(struct lws *wsi, struct session *s, const void *in, size_t len)
{
	(void)wsi;
	struct plugin_http *ph = s->plugin_http;
	if (!ph || ph->too_large)
		return 0;
	if (ph->len + len > PLUGIN_HTTP_MAX_BODY) {
		ph->too_large = 1;
		return 0;
	}
	if (ph->len + len + 1 > ph->cap) {
		size_t ncap = (ph->len + len + 1) * 2;
		char *n = realloc(ph->body, ncap);
		if (!n)
			return -1;
		ph->body = n;
		ph->cap = ncap;
	}
	memcpy(ph->body + ph->len, in, len);
	ph->len += len;
	ph->body[ph->len] = 0;
	return 0;
}

int plugin_http_body_done(struct chatd_server *srv, struct lws *wsi, struct session *s)
{
	struct plugin_http *ph = s->plugin_http;
	if (!ph)
		return 0;
	int rc;
	if (ph->too_large)
		rc = http_text(wsi, s, 413, "request body too large (the limit is 1 MiB)", NULL);
	else
		rc = dispatch(srv, wsi, s, ph->lp, ph->method, ph->uri, ph->body ? ph->body : "", ph->len);
	plugin_http_session_free(s);
	return rc;
}

void plugin_http_session_free(struct session *s)
{
	struct plugin_http *ph = s->plugin_http;
	if (!ph)
		return;
	free(ph->uri);
	free(ph->body);
	free(ph);
	s->plugin_http = NULL;
}

int plugin_http_route(chatd_plugin *self, chatd_hook_fn fn, void *userdata)
{
	struct loaded_plugin *lp = (struct loaded_plugin *)self;
	if (!fn || lp->http_fn)
		return -1;
	lp->http_fn = fn;
	lp->http_ud = userdata;
	return 0;
}

int plugin_http_respond(chatd_request *r, int status, const char *content_type, const char *body, size_t len)
{
	struct http_answer *a = r ? r->http : NULL;
	if (!a || a->responded || status < 100 || status > 599 || (len && !body))
		return -1;
	const char *type = content_type ? content_type : "text/plain; charset=utf-8";
	for (const char *c = type; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	if (len && !(a->body = malloc(len)))
		return -1;
	if (len)
		memcpy(a->body, body, len);
	a->len = len;
	a->status = status;
	snprintf(a->type, sizeof a->type, "%s", type);
	a->responded = 1;
	return 0;
}

/* 1 when s is a header name (an HTTP token) the core does not set itself. */
static int header_name_ok(const char *s)
{
	static const char *const core[] = { "content-length", "content-type", "transfer-encoding", "connection",
					    "cache-control", "x-content-type-options", "server", "date" };
	size_t n = strlen(s);
	if (!n || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
			return 0;
	for (size_t i = 0; i < sizeof core / sizeof core[0]; i++)
		if (!strcasecmp(s, core[i]))
			return 0;
	return 1;
}

int plugin_http_add_header(chatd_request *r, const char *name, const char *value)
{
	struct http_answer *a = r ? r->http : NULL;
	if (!a || a->nheaders == MAX_EXTRA_HEADERS || !name || !value || !header_name_ok(name) ||
	    strlen(value) > 1024)
		return -1;
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	size_t n = strlen(name) + strlen(value) + 3;
	char *h = malloc(n);
	if (!h)
		return -1;
	snprintf(h, n, "%s: %s", name, value);
	a->headers[a->nheaders++] = h;
	return 0;
}
