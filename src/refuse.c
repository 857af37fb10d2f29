#include "refuse.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

/*
 * Why not lws_return_http_status(): in libwebsockets 4.1.6 the status line's
 * version comes from wsi->http.request_version (lws_add_http_header_status in
 * lib/roles/http/header.c), which only lws_http_action() sets
 * (lib/roles/http/server/server.c). An upgrade request never goes there: it
 * goes from lws_handshake_server() straight to lws_process_ws_upgrade(), so
 * the field keeps its zero value, HTTP_VERSION_1_0, and every refusal from the
 * FILTER_PROTOCOL_CONNECTION callback went out as "HTTP/1.0 ..." (which
 * Python's websockets rejects as an invalid response), with an HTML body and
 * no Connection: close. The field is private to lws, so chatd writes the
 * whole response itself.
 */

#define REASON_MAX 200

const char *refuse_status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return status >= 500 ? "Server Error" : "Client Error";
}

size_t refuse_format(char *out, size_t outsz, int http11, int status, const char *reason, const char *server_string)
{
	char body[REASON_MAX + 2];
	size_t n = 0;
	if (!reason || !*reason)
		reason = refuse_status_text(status);
	for (; reason[n] && n < REASON_MAX; n++) /* one line: no CR, LF or other control bytes */
		body[n] = (unsigned char)reason[n] < 0x20 || reason[n] == 0x7f ? ' ' : reason[n];
	body[n++] = '\n';
	body[n] = 0;
	int len = snprintf(out, outsz,
			   "HTTP/1.%d %d %s\r\n"
			   "%s%s%s"
			   "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Length: %zu\r\n"
			   "Cache-Control: no-store\r\n"
			   "%s"
			   "Connection: close\r\n"
			   "\r\n"
			   "%s",
			   http11 ? 1 : 0, status, refuse_status_text(status), server_string ? "Server: " : "",
			   server_string ? server_string : "", server_string ? "\r\n" : "", n,
			   status == 503 ? "Retry-After: 5\r\n" : "", body);
	if (len < 0 || (size_t)len >= outsz)
		return 0;
	return (size_t)len;
}

/* Whether the request line said HTTP/1.1 (or a later 1.x), as lws itself
 * decides in lws_http_action. */
static int request_is_http11(struct lws *wsi)
{
	char v[16];
	int n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP);
	return n >= 8 && !strncmp(v, "HTTP/1.", 7) && v[7] >= '1' && v[7] <= '9';
}

/* The request path for the log, into out: control bytes (lws has decoded
 * %0a and the like already) become spaces, a long path is cut with "...". */
static void path_for_log(struct lws *wsi, char *out, size_t outsz)
{
	char path[1024];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI);
	if (n <= 0 || n >= (int)sizeof path || lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
		snprintf(path, sizeof path, "%s", n > 0 ? "(a path too long to show)" : "(no path)");
	size_t i = 0;
	for (; path[i] && i + 1 < outsz; i++)
		out[i] = (unsigned char)path[i] < 0x20 || path[i] == 0x7f ? ' ' : path[i];
	out[i] = 0;
	if (path[i] && outsz > 4)
		memcpy(out + outsz - 4, "...", 4);
}

int refuse_handshake_send(struct lws *wsi, const char *address, int status, const char *reason)
{
	unsigned char buf[LWS_PRE + 1024];
	char path[160];
	path_for_log(wsi, path, sizeof path);
	log_info("handshake from %s for %s refused: %d %s", address && *address ? address : "?", path, status,
		 reason && *reason ? reason : refuse_status_text(status));
	size_t len = refuse_format((char *)buf + LWS_PRE, sizeof buf - LWS_PRE, request_is_http11(wsi), status, reason,
				   "chatd/" PACKAGE_VERSION);
	/* A fresh socket's send buffer takes this at once; what it does not,
	 * lws buffers and sends before it closes the connection. */
	if (len)
		lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_RAW);
	return -1;
}
