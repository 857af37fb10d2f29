#include "ws.h"
#include "chat.h"
#include "client.h"
#include "http.h"
#include "identity.h"
#include "linger.h"
#include "listener.h"
#include "log.h"
#include "plugin_http.h"
#include "proxy.h"
#include "refuse.h"
#include "request_lws.h"
#include "sendbatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(OUTBUF_PRE == LWS_PRE, "OUTBUF_PRE must equal LWS_PRE");

/* Bytes framed into one write, and writes per WRITEABLE callback before
 * yielding to other sockets. */
#define WRITE_BATCH_BYTES (32 * 1024)
#define WRITE_ROUNDS 4

/* A client with frames to send: an established one is put on the pending
 * list and written directly before the loop sleeps (ws_flush_pending), with
 * every frame queued meanwhile in one write; only a socket that cannot take
 * it all waits for LWS_CALLBACK_SERVER_WRITEABLE. That saves the two
 * epoll_ctl calls and the wakeup lws needs per writable request. Closing
 * and not-yet-upgraded clients always go through WRITEABLE. */
static void ws_want_write(struct chatd_client *c)
{
	struct chatd_server *srv = c->srv;
	if (!c->transport)
		return;
	if (c->established && !c->closing && !srv->shutting_down) {
		if (srv->npending == srv->pending_cap) {
			size_t ncap = srv->pending_cap ? srv->pending_cap * 2 : 256;
			struct chatd_client **n = realloc(srv->pending, ncap * sizeof *n);
			if (!n)
				goto via_lws;
			srv->pending = n;
			srv->pending_cap = ncap;
		}
		srv->pending[srv->npending++] = client_ref(c);
		return;
	}
via_lws:
	lws_callback_on_writable((struct lws *)c->transport);
}

/* Drop the connection without a close frame: the tick's last resort for a
 * closing client that never lets its socket drain. lws 4.1.6 will not close
 * a connection while it holds unsent bytes for it (not even on a timeout or
 * LWS_TO_KILL_SYNC), so the socket is shut down under it: lws then sees the
 * hangup and closes the connection (CLOSED follows on a later iteration). */
static void ws_drop(struct chatd_client *c)
{
	if (!c->transport)
		return;
	int fd = (int)lws_get_socket_fd((struct lws *)c->transport);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

const struct transport_ops ws_transport = { ws_want_write, ws_drop };

static struct chatd_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* Refuse a handshake with a real HTTP status and the reason (core/refuse.c),
 * logged with the client's address. Returns the FILTER result (-1). */
static int refuse_handshake(struct lws *wsi, int status, const char *reason)
{
	char addr[PROXY_ADDR_MAX], via[PROXY_ADDR_MAX], shown[2 * PROXY_ADDR_MAX + 8];
	const char *why;
	proxy_client_address(&server_of(wsi)->cfg, wsi, addr, via, &why);
	snprintf(shown, sizeof shown, via[0] ? "%s (via %s)" : "%s", addr, via);
	return refuse_handshake_send(wsi, shown, status, reason);
}

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: validate /ws/{room}, make the client, run CONNECT hooks. */
static int ws_filter(struct chatd_server *srv, struct lws *wsi, struct session *s)
{
	char uri[256], arg[4096], origin[512], host[512], addr[PROXY_ADDR_MAX];
	int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
	if (n <= 0)
		return refuse_handshake(wsi, 400, "bad request");
	if (strncmp(uri, "/ws/", 4))
		return refuse_handshake(wsi, 404, "no such endpoint");
	const char *room = uri + 4;
	if (!room_name_valid(room, strlen(room)))
		return refuse_handshake(wsi, 400, "invalid room name");
	/* The client's address (a trusted proxy's X-Forwarded-For or Forwarded
	 * gives it), set before the CONNECT hooks see the client. */
	char via[PROXY_ADDR_MAX];
	const char *why;
	if (proxy_client_address(&srv->cfg, wsi, addr, via, &why))
		return refuse_handshake(wsi, 400, why);
	struct chatd_client *c = client_new(srv, wsi, addr);
	if (!c)
		return refuse_handshake(wsi, 503, "out of memory");
	s->client = c;
	room_name_fold(room, strlen(room), c->join_room); /* /ws/Lounge is lounge */
	const char *v = lws_get_urlarg_by_name(wsi, "name=", arg, sizeof arg);
	if (v)
		(void)client_set_query_name(c, v); /* OOM: as if absent (a guest name) */
	v = lws_get_urlarg_by_name(wsi, "since=", arg, sizeof arg);
	if (v) {
		char *end;
		long long since = strtoll(v, &end, 10);
		if (*v && !*end && since >= 0)
			c->since = since;
	}
	v = lws_get_urlarg_by_name(wsi, "multi=", arg, sizeof arg);
	c->multi = v && !strcmp(v, "1"); /* many rooms on this socket (docs/protocol.md) */
	v = lws_get_urlarg_by_name(wsi, "session=", arg, sizeof arg);
	const char *bad_session = v ? identity_session(c, v) : NULL; /* keeps only its hash */
	memset(arg, 0, sizeof arg);
	if (bad_session) {
		chat_close(srv, c);
		client_unref(c);
		s->client = NULL;
		return refuse_handshake(wsi, 400, bad_session);
	}
	/* A header too long to copy must not pass as an absent one (an origin
	 * check would then treat it as a non-browser client). */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof origin ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_HOST) >= (int)sizeof host) {
		chat_close(srv, c);
		client_unref(c);
		s->client = NULL;
		return refuse_handshake(wsi, 400, "Origin or Host header too long");
	}
	int has_origin = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0;
	int has_host = lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) > 0;
	const char *reason = NULL;
	struct chatd_request req; /* what CONNECT hooks may read (request.h) */
	request_init_lws(&req, wsi, "GET", uri, c->address);
	c->request = &req;
	int status = chat_handshake(srv, c, has_origin ? origin : NULL, has_host ? host : NULL, &reason);
	c->request = NULL;
	if (status) {
		chat_close(srv, c);
		client_unref(c);
		s->client = NULL;
		refuse_handshake(wsi, status, reason);
	}
	request_clear(&req); /* after the reason, which may be a string of the request */
	return status ? -1 : 0;
}

/* Write the WebSocket header of an unfragmented, unmasked frame with opcode
 * (0x1 text, 0x8 close) and len bytes of payload at out; returns the header
 * length (2, 4 or 10). */
static size_t ws_frame_header(unsigned char *out, size_t len, unsigned char opcode)
{
	out[0] = (unsigned char)(0x80 | opcode); /* FIN + opcode */
	if (len < 126) {
		out[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/*
 * Write len raw bytes at buf (LWS_PRE bytes before it writable) to wsi's
 * socket. When lws holds nothing buffered for it, send() them directly:
 * lws_write would reach the same send() through lws_issue_raw and its
 * bookkeeping (about 5% of the loop's CPU under fan-out). What the kernel
 * does not take goes through lws_write, which buffers it and asks for
 * WRITEABLE; from then on lws writes until its buffer is out. Plain TCP
 * only (chatd has no TLS listener). Returns 0, or -1 when the socket failed.
 */
static int ws_send_raw(struct lws *wsi, unsigned char *buf, size_t len)
{
	size_t sent = 0;
	if (!lws_partial_buffered(wsi)) {
		ssize_t w = send(lws_get_socket_fd(wsi), buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (w > 0)
			sent = (size_t)w;
		if (sent == len)
			return 0;
	}
	return lws_write(wsi, buf + sent, len - sent, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* Frame the frames at the head of c's queue that fit in cap bytes into out,
 * each after the previous one. Returns the bytes written; *nframes = how many
 * frames they hold (0 when the first does not fit). */
static size_t ws_frame_queue(struct chatd_client *c, unsigned char *out, size_t cap, size_t *nframes)
{
	unsigned char *p = out;
	size_t n = 0;
	for (struct sendq_entry *e; (e = sendq_at(&c->q, n)); n++) {
		if ((size_t)(p - out) + e->buf->len + 10 > cap)
			break;
		p += ws_frame_header(p, e->buf->len, 0x1);
		memcpy(p, outbuf_payload(e->buf), e->buf->len);
		p += e->buf->len;
	}
	*nframes = n;
	return (size_t)(p - out);
}

/* Send the queued frames that fit in one batch with a single write: each is
 * framed here and copied after the previous one, then the whole batch goes
 * out as raw bytes (lws buffers whatever the socket does not take). A frame
 * too big for the batch goes alone through lws_write (no copy). Returns the
 * number of frames sent, or -1 when the socket failed. */
static int ws_write_batch(struct chatd_server *srv, struct lws *wsi, struct chatd_client *c)
{
	struct sendq_entry *first = sendq_peek(&c->q);
	if (first->buf->len + 10 > WRITE_BATCH_BYTES) {
		if (lws_write(wsi, outbuf_payload(first->buf), first->buf->len, LWS_WRITE_TEXT) < 0)
			return -1;
		sendq_pop(&c->q);
		return 1;
	}
	if (!srv->write_batch && !(srv->write_batch = malloc(LWS_PRE + WRITE_BATCH_BYTES)))
		return -1;
	unsigned char *start = srv->write_batch + LWS_PRE;
	size_t n;
	size_t len = ws_frame_queue(c, start, WRITE_BATCH_BYTES, &n);
	if (ws_send_raw(wsi, start, len) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		sendq_pop(&c->q);
	return (int)n;
}

/* Write up to WRITE_ROUNDS batches of c's queue, stopping early when lws had
 * to buffer. 0, or -1 when the socket failed. */
static int ws_write_rounds(struct chatd_server *srv, struct lws *wsi, struct chatd_client *c)
{
	for (int round = 0; round < WRITE_ROUNDS && c->q.count; round++) {
		if (ws_write_batch(srv, wsi, c) < 0)
			return -1;
		if (lws_partial_buffered(wsi))
			break;
	}
	return 0;
}

/* Whether c is one of the clients closed with 1001 at shutdown, whose close
 * frame ws.c writes itself (counted in srv->closes_pending). */
static int ws_shutdown_close(const struct chatd_server *srv, const struct chatd_client *c)
{
	return srv->shutting_down && c->closing && c->close_code == 1001 && c->established;
}

/* Shutdown: write the 1001 close frame ourselves instead of closing through
 * lws. lws arms a timeout per closing connection, and its timeouts live in
 * one sorted list (lws_dll2_add_sorted): closing 19,000 connections at once
 * took over 10 s of CPU. The socket is closed when the context is destroyed
 * (or the process exits, see server_teardown), once every close frame is in
 * the kernel. Returns the WRITEABLE result. */
static int ws_write_shutdown_close(struct chatd_server *srv, struct lws *wsi, struct chatd_client *c)
{
	if (c->close_sent == 0) {
		unsigned char buf[LWS_PRE + 2 + 2 + 64];
		unsigned char *p = buf + LWS_PRE;
		size_t rl = strlen(c->close_reason);
		if (rl > 60)
			rl = 60;
		size_t h = ws_frame_header(p, 2 + rl, 0x8);
		p[h] = (unsigned char)(c->close_code >> 8);
		p[h + 1] = (unsigned char)c->close_code;
		memcpy(p + h + 2, c->close_reason, rl);
		if (lws_write(wsi, p, h + 2 + rl, LWS_WRITE_RAW) < 0)
			return -1;
		c->close_sent = 1;
		/* Read no more: the peer's close answer would make lws close the
		 * connection, and each close costs a scan of lws's fd table. */
		lws_rx_flow_control(wsi, 0);
		if (lws_partial_buffered(wsi)) {
			lws_callback_on_writable(wsi); /* lws calls back once its buffer is out */
			return 0;
		}
	}
	if (c->close_sent == 1) {
		c->close_sent = 2;
		if (srv->closes_pending)
			srv->closes_pending--;
	}
	return 0;
}

/* Drain c's queue in batches until it is empty, lws has to buffer, or
 * WRITE_ROUNDS batches went (then yield to other sockets). */
static int ws_writeable(struct chatd_server *srv, struct lws *wsi, struct chatd_client *c)
{
	c->writing = 0;
	if (ws_shutdown_close(srv, c))
		return ws_write_shutdown_close(srv, wsi, c);
	if (c->closing && (c->close_code == 1013 || c->close_code == 1001 || !c->q.count)) {
		lws_close_reason(wsi, (enum lws_close_status)c->close_code, (unsigned char *)c->close_reason,
				 strlen(c->close_reason));
		return -1;
	}
	if (ws_write_rounds(srv, wsi, c))
		return -1;
	if (c->q.count || c->closing) {
		c->writing = 1;
		lws_callback_on_writable(wsi);
	}
	return 0;
}

/* A write to c's socket failed: lws closes it; 1011, as 1006 may not be sent. */
static void ws_write_failed(struct chatd_client *c)
{
	client_close(c, 1011, "write failed");
}

/* After c's pending write: ask lws for WRITEABLE while frames (or the close)
 * remain, otherwise c waits for its next frame. */
static void ws_write_done(struct lws *wsi, struct chatd_client *c)
{
	if (c->q.count || c->closing)
		lws_callback_on_writable(wsi);
	else
		c->writing = 0;
}

/* The result of c's send through srv->sendbatch (sendbatch_done_fn): drop
 * the frames the batch held from c's queue, hand lws what the kernel did not
 * take (as ws_send_raw does), and ask for WRITEABLE while frames remain. */
static void ws_batch_done(void *tag, unsigned char *buf, size_t len, long result, void *arg)
{
	(void)arg;
	struct chatd_client *c = tag;
	struct lws *wsi = c->transport;
	size_t sent = result > 0 ? (size_t)result : 0, frames = c->batch_frames;
	int failed = result < 0 && result != -EAGAIN && result != -EINTR;
	c->batch_frames = 0;
	if (!failed && sent < len)
		failed = !wsi || lws_write(wsi, buf + sent, len - sent, LWS_WRITE_RAW) < 0;
	if (failed) {
		ws_write_failed(c);
		return;
	}
	for (size_t i = 0; i < frames; i++)
		sendq_pop(&c->q);
	if (wsi)
		ws_write_done(wsi, c);
}

/* Queue one batch of c's frames in srv->sendbatch. Returns 1 when queued (the
 * result comes to ws_batch_done), 0 when c must be written directly (a frame
 * too big for a batch, or no room even in an empty batch). */
static int ws_batch_queue(struct chatd_server *srv, struct lws *wsi, struct chatd_client *c)
{
	struct sendq_entry *first = sendq_peek(&c->q);
	if (!first || first->buf->len + 10 > WRITE_BATCH_BYTES)
		return 0;
	unsigned char *buf = sendbatch_reserve(srv->sendbatch, WRITE_BATCH_BYTES);
	if (!buf) {
		sendbatch_run(srv->sendbatch, ws_batch_done, srv);
		if (!(buf = sendbatch_reserve(srv->sendbatch, WRITE_BATCH_BYTES)))
			return 0;
	}
	size_t n, len = ws_frame_queue(c, buf, WRITE_BATCH_BYTES, &n);
	c->batch_frames = n;
	sendbatch_add(srv->sendbatch, (int)lws_get_socket_fd(wsi), buf, len, c);
	return 1;
}

/* Write c's queue, or queue it in srv->sendbatch; see ws_flush_pending. */
static void ws_flush_client(struct chatd_server *srv, struct chatd_client *c)
{
	struct lws *wsi = c->transport;
	if (!wsi || !c->writing)
		return;
	if (!c->closing && !lws_partial_buffered(wsi)) {
		if (srv->sendbatch && ws_batch_queue(srv, wsi, c))
			return;
		if (ws_write_rounds(srv, wsi, c)) {
			ws_write_failed(c);
			return;
		}
	}
	ws_write_done(wsi, c);
}

void ws_flush_pending(struct chatd_server *srv)
{
	/* The list may grow while it is walked: a write that fails makes lws
	 * close that client at once, and its leave notice queues frames for the
	 * rest of the room. Those are appended and written in this same pass.
	 * With io_uring, the sends queued so far go out whenever the batch is
	 * full and once the end of the list is reached (their results may
	 * append more). */
	for (size_t i = 0; i < srv->npending; i++) {
		ws_flush_client(srv, srv->pending[i]);
		if (i + 1 == srv->npending && srv->sendbatch && sendbatch_queued(srv->sendbatch))
			sendbatch_run(srv->sendbatch, ws_batch_done, srv);
	}
	for (size_t i = 0; i < srv->npending; i++)
		client_unref(srv->pending[i]);
	srv->npending = 0;
}

void ws_pending_free(struct chatd_server *srv)
{
	for (size_t i = 0; i < srv->npending; i++)
		client_unref(srv->pending[i]);
	free(srv->pending);
	srv->pending = NULL;
	srv->npending = srv->pending_cap = 0;
}

/* Refuse what c sent with a close code. Returning -1 from RECEIVE would
 * have lws 4.1.6 (libev) shut the socket down without ever sending the close
 * frame when more input follows, so the close goes the normal way: c is
 * marked closing, the rest of its input is ignored, and the close frame goes
 * out from WRITEABLE. Returns 0 for the RECEIVE callback. */
static int ws_refuse(struct chatd_client *c, enum lws_close_status code, const char *reason)
{
	client_close(c, (int)code, reason);
	return 0;
}

/* One chunk of an incoming message: bound it, assemble it, hand it over. */
static int ws_receive(struct chatd_server *srv, struct lws *wsi, struct chatd_client *c, const char *in, size_t len)
{
	if (c->closing)
		return 0;
	if (lws_frame_is_binary(wsi)) {
		return ws_refuse(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not accepted");
	}
	size_t remaining = lws_remaining_packet_payload(wsi);
	if (lws_is_first_fragment(wsi) && c->rx_frame_done) {
		c->rx_len = 0;
		c->rx_frames = 1;
		c->rx_started_ms = now_ms();
	} else if (c->rx_frame_done) {
		c->rx_frames++;
	}
	if (c->rx_frames > srv->cfg.max_fragments) {
		return ws_refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many fragments");
	}
	if (c->rx_len + len + remaining > srv->cfg.max_frame_bytes) {
		return ws_refuse(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
	}
	if (!c->rx || c->rx_len + len > c->rx_cap) {
		size_t ncap = c->rx_len + len + remaining;
		char *n = realloc(c->rx, ncap + 1);
		if (!n)
			return -1;
		c->rx = n;
		c->rx_cap = ncap;
	}
	if (len) /* an empty frame comes with in == NULL */
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	c->rx_frame_done = remaining == 0;
	if (lws_is_final_fragment(wsi) && remaining == 0) {
		size_t n = c->rx_len;
		c->rx_len = 0;
		chat_frame(srv, c, c->rx, n);
		if (c->rx_cap > 4096) { /* do not keep a big message's buffer per idle client */
			free(c->rx);
			c->rx = NULL;
			c->rx_cap = 0;
		}
	}
	return 0;
}

static void ws_closed(struct chatd_server *srv, struct session *s)
{
	struct chatd_client *c = s->client;
	if (!c)
		return;
	s->client = NULL;
	if (ws_shutdown_close(srv, c) && c->close_sent < 2 && srv->closes_pending)
		srv->closes_pending--;
	chat_close(srv, c);
	client_unref(c);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct session *s = user;
	struct chatd_server *srv;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		/* A new socket has handshake_timeout to finish its request: lws
		 * replaces this with its own timeouts once the request is read,
		 * and clears it when the WebSocket upgrade completes. */
		lws_set_timeout(wsi, (enum pending_timeout)(PENDING_TIMEOUT_USER_REASON_BASE + 1),
				server_of(wsi)->cfg.handshake_timeout_s);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(server_of(wsi), wsi, s);
	case LWS_CALLBACK_ESTABLISHED:
		if (!s->client)
			return -1;
		chat_open(server_of(wsi), s->client);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (!s->client)
			return -1;
		return ws_receive(server_of(wsi), wsi, s->client, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s->client)
			return 0;
		return ws_writeable(server_of(wsi), wsi, s->client);
	case LWS_CALLBACK_CLOSED:
		if (!server_of(wsi)->shutting_down)
			linger_socket(server_of(wsi), (int)lws_get_socket_fd(wsi));
		ws_closed(server_of(wsi), s);
		return 0;
	case LWS_CALLBACK_WSI_CREATE:
		server_of(wsi)->nsockets++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		srv = server_of(wsi);
		listener_socket_closed(srv);
		if (s) {
			ws_closed(srv, s);
			free(s->http_body);
			s->http_body = NULL;
			plugin_http_session_free(s);
		}
		return 0;
	case LWS_CALLBACK_HTTP:
		return http_request(server_of(wsi), wsi, s, in, len);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_writeable(wsi, s);
	case LWS_CALLBACK_HTTP_BODY:
		return s ? plugin_http_body(wsi, s, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return s ? plugin_http_body_done(server_of(wsi), wsi, s) : 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
