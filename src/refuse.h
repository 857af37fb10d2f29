/* Refusing a WebSocket handshake with a complete HTTP answer that client
 * libraries can read: status line in the request's HTTP version, the reason
 * as a text/plain body, Content-Length and Connection: close. */
#ifndef CHATD_REFUSE_H
#define CHATD_REFUSE_H

#include <libwebsockets.h>
#include <stddef.h>

/* The standard reason phrase for an HTTP status ("Forbidden"); a generic
 * one for codes chatd does not name. Static string. */
const char *refuse_status_text(int status);

/*
 * Write the whole refusal response into out (outsz bytes): the status line
 * ("HTTP/1.1" when http11, else "HTTP/1.0"), Server (server_string, may be
 * NULL), Content-Type: text/plain; charset=utf-8, Content-Length,
 * Cache-Control: no-store, Connection: close (and Retry-After: 5 for 503),
 * then the body: reason (borrowed; control bytes become spaces, cut at 200
 * bytes) and a newline. Returns the length, or 0 when out is too small.
 */
size_t refuse_format(char *out, size_t outsz, int http11, int status, const char *reason, const char *server_string);

/*
 * Answer wsi (a handshake inside LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION,
 * not upgraded yet) with that response, written as raw bytes (lws's own
 * lws_return_http_status answers HTTP/1.0 there: see refuse.c), and log the
 * refusal at info with address and path (both borrowed). Returns -1, the
 * FILTER result that makes lws close the connection.
 */
int refuse_handshake_send(struct lws *wsi, const char *address, int status, const char *reason);

#endif
