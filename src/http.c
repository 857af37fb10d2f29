#include "http.h"
#include "plugin_http.h"
#include "plugins.h"
#include "ws.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *http_content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },  { ".htm", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" }, { ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },    { ".json", "application/json" },
		{ ".png", "image/png" },                  { ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" },                { ".gif", "image/gif" },
		{ ".svg", "image/svg+xml" },              { ".ico", "image/x-icon" },
		{ ".webp", "image/webp" },                { ".woff2", "font/woff2" },
		{ ".woff", "font/woff" },                 { ".txt", "text/plain; charset=utf-8" },
		{ ".map", "application/json" },           { ".webmanifest", "application/manifest+json" },
	};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (!strcasecmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

int http_resolve(const char *root, const char *path, char *out, size_t outsz)
{
	char real_root[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
	if (!realpath(root, real_root))
		return -1;
	if (path[0] != '/' || strstr(path, "/..") || strstr(path, "\\") || strchr(path, '\0') != path + strlen(path))
		return -1;
	for (const char *p = path; *p; p++) /* no hidden files or control bytes */
		if ((unsigned char)*p < 0x20 || (*p == '/' && p[1] == '.'))
			return -1;
	int n = snprintf(joined, sizeof joined, "%s%s", real_root, path);
	if (n < 0 || (size_t)n >= sizeof joined)
		return -1;
	struct stat st;
	if (stat(joined, &st))
		return -1;
	if (S_ISDIR(st.st_mode)) {
		size_t l = strlen(joined);
		if (snprintf(joined + l, sizeof joined - l, "%sindex.html", joined[l - 1] == '/' ? "" : "/") >=
		    (int)(sizeof joined - l))
			return -1;
	}
	if (!realpath(joined, real)) /* follows symlinks: the result must stay inside */
		return -1;
	size_t rl = strlen(real_root);
	if (strncmp(real, real_root, rl) || (real[rl] != '/' && real[rl] != 0))
		return -1;
	if (stat(real, &st) || !S_ISREG(st.st_mode))
		return -1;
	if (strlen(real) + 1 > outsz)
		return -1;
	strcpy(out, real);
	return 0;
}

static int appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return 0;
		}
		char *nb = realloc(*buf, *cap * 2 + (size_t)n);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = *cap * 2 + (size_t)n;
	}
}

char *http_metrics_text(struct chatd_server *srv)
{
	size_t len = 0, cap = 2048;
	char *b = malloc(cap);
	if (!b)
		return NULL;
	const struct server_stats *st = &srv->stats;
	appendf(&b, &len, &cap,
		"# HELP chatd_connections Open WebSocket connections.\n# TYPE chatd_connections gauge\n"
		"chatd_connections %zu\n"
		"# HELP chatd_rooms Rooms with members.\n# TYPE chatd_rooms gauge\nchatd_rooms %zu\n"
		"# TYPE chatd_connections_total counter\nchatd_connections_total %llu\n"
		"# TYPE chatd_messages_in_total counter\nchatd_messages_in_total %llu\n"
		"# HELP chatd_messages_out_total Frames queued to clients.\n"
		"# TYPE chatd_messages_out_total counter\nchatd_messages_out_total %llu\n"
		"# HELP chatd_drops_total Droppable frames refused by full send queues.\n"
		"# TYPE chatd_drops_total counter\nchatd_drops_total %llu\n"
		"# TYPE chatd_slow_closed_total counter\nchatd_slow_closed_total %llu\n"
		"# TYPE chatd_errors_sent_total counter\nchatd_errors_sent_total %llu\n"
		"# TYPE chatd_handshakes_denied_total counter\nchatd_handshakes_denied_total %llu\n"
		"# HELP chatd_sockets Sockets open (HTTP, WebSocket and not yet upgraded).\n"
		"# TYPE chatd_sockets gauge\nchatd_sockets %zu\n"
		"# HELP chatd_refused_total Connections answered 503 before any request was read.\n"
		"# TYPE chatd_refused_total counter\n"
		"chatd_refused_total{reason=\"max_connections\"} %llu\n"
		"chatd_refused_total{reason=\"out_of_fds\"} %llu\n"
		"# HELP chatd_loop_load_percent Share of the last 100 ms the event loop spent working.\n"
		"# TYPE chatd_loop_load_percent gauge\nchatd_loop_load_percent %d\n",
		srv->nclients, srv->nrooms_live, (unsigned long long)st->connections_total,
		(unsigned long long)st->messages_in, (unsigned long long)st->messages_out,
		(unsigned long long)st->frames_dropped, (unsigned long long)st->slow_closed,
		(unsigned long long)st->errors_sent, (unsigned long long)st->handshakes_denied, srv->nsockets,
		(unsigned long long)st->refused_full, (unsigned long long)st->refused_no_fds, srv->loop_load_pct);
	appendf(&b, &len, &cap, "# HELP chatd_plugin_counter Counters kept by plugins.\n"
				"# TYPE chatd_plugin_counter counter\n");
	for (int i = 0; i < srv->nplugins; i++) {
		struct loaded_plugin *lp = srv->plugins[i];
		for (int j = 0; j < lp->ncounters; j++)
			appendf(&b, &len, &cap, "chatd_plugin_counter{plugin=\"%s\",name=\"%s\"} %lld\n", lp->conf->name,
				lp->counters[j].name, (long long)lp->counters[j].value);
	}
	return b;
}

/* Whether the request is a HEAD: answered like GET, without the body. */
static int is_head(struct lws *wsi)
{
	return lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
}

/* Answer with a small in-memory body (owned): headers now, the body when
 * writeable; to a HEAD, the same headers and no body. allow (may be NULL)
 * becomes an Allow header. */
static int http_reply(struct lws *wsi, struct session *s, unsigned status, const char *type, char *body,
		      const char *allow)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
	size_t blen = strlen(body);
	free(s->http_body);
	s->http_body = body;
	s->http_len = blen;
	if (lws_add_http_common_headers(wsi, status, type, blen, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:", (const unsigned char *)"no-store", 8, &p, end) ||
	    (allow && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:", (const unsigned char *)allow,
						  (int)strlen(allow), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (is_head(wsi)) {
		free(s->http_body);
		s->http_body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

int http_text(struct lws *wsi, struct session *s, unsigned status, const char *text, const char *allow)
{
	size_t n = strlen(text);
	char *body = malloc(n + 2);
	if (!body)
		return -1;
	memcpy(body, text, n);
	memcpy(body + n, "\n", 2);
	return http_reply(wsi, s, status, "text/plain; charset=utf-8", body, allow);
}

/* Whether the configured web root is missing (not a directory). */
static int web_root_missing(const struct chatd_server *srv)
{
	struct stat st;
	return stat(srv->cfg.web_root, &st) || !S_ISDIR(st.st_mode);
}

int http_writeable(struct lws *wsi, struct session *s)
{
	if (!s || !s->http_body)
		return 0;
	size_t n = s->http_len;
	unsigned char *buf = malloc(LWS_PRE + n + 1);
	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, s->http_body, n);
	free(s->http_body);
	s->http_body = NULL;
	int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
	free(buf);
	if (w < 0 || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

int http_request(struct chatd_server *srv, struct lws *wsi, struct session *s, const char *in, size_t len)
{
	char path[PATH_MAX], uri[1024];
	(void)len;
	if (in && !strncmp(in, PLUGIN_HTTP_PREFIX, strlen(PLUGIN_HTTP_PREFIX))) /* any method: the plugin's */
		return plugin_http_request(srv, wsi, s, in);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 && !is_head(wsi)) /* POST, PUT, ... */
		return http_text(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "method not allowed: use GET or HEAD", "GET, HEAD");
	snprintf(uri, sizeof uri, "%s", in ? in : "/");
	if (!strcmp(uri, "/healthz")) {
		char *body = malloc(160);
		if (!body)
			return -1;
		snprintf(body, 160, "{\"status\":\"%s\",\"connections\":%zu,\"rooms\":%zu}\n",
			 srv->shutting_down ? "stopping" : "ok", srv->nclients, srv->nrooms_live);
		return http_reply(wsi, s, srv->shutting_down ? 503 : 200, "application/json", body, NULL);
	}
	if (!strcmp(uri, "/metrics")) {
		char *body = http_metrics_text(srv);
		return body ? http_reply(wsi, s, 200, "text/plain; version=0.0.4", body, NULL) : -1;
	}
	if (!strncmp(uri, "/ws/", 4) || !strcmp(uri, "/ws"))
		return http_text(wsi, s, HTTP_STATUS_BAD_REQUEST, "WebSocket upgrade required", NULL);
	if (http_resolve(srv->cfg.web_root, uri, path, sizeof path))
		return http_text(wsi, s, HTTP_STATUS_NOT_FOUND,
				 web_root_missing(srv) ? "not found: this chatd has no web root (its log says where it looked)"
						       : "not found",
				 NULL);
	/* lws answers a HEAD with the file's headers and no body (and completes it) */
	static const char extra[] = "x-content-type-options: nosniff\r\n";
	int n = lws_serve_http_file(wsi, path, http_content_type(path), extra, (int)sizeof extra - 1);
	if (n < 0)
		return -1;
	if (n > 0 && lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}
