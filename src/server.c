#include "server.h"
#include "api.h"
#include "chat.h"
#include "client.h"
#include "commands.h"
#include "hooks.h"
#include "identity.h"
#include "linger.h"
#include "listener.h"
#include "log.h"
#include "paths.h"
#include "plugins.h"
#include "presence.h"
#include "reload.h"
#include "room.h"
#include "roomlist.h"
#include "sendbatch.h"
#include "serverloop.h"
#include "watch.h"
#include "ws.h"

#include <errno.h>
#include <ev.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The loop's watchers; they live as long as the server runs. */
struct loop_watchers {
	ev_signal sigterm, sigint, sighup;
	ev_timer tick, drain;
	ev_prepare idle;
	ev_check woke;
	double drain_deadline;
	/* The loop's load (loop_load_measure, result in srv->loop_load_pct):
	 * when this iteration woke, the current window's start and its busy
	 * time (monotonic_us). */
	int64_t woke_at, window_start, window_busy;
	struct chatd_server *srv;
};

/* Length of the window over which the loop's load is measured. */
#define LOAD_WINDOW_US 100000

/* ev_check: the loop just came back from poll; its work starts now. */
static void on_woke(struct ev_loop *loop, ev_check *w, int revents)
{
	(void)loop;
	(void)revents;
	struct loop_watchers *lw = w->data;
	lw->woke_at = monotonic_us();
}

/*
 * At the end of an iteration: add its busy time (wake-up to now) to the
 * window, and once the window is LOAD_WINDOW_US long, turn it into
 * srv->loop_load_pct (the share of wall time the loop worked, not waited).
 */
static void loop_load_measure(struct loop_watchers *lw)
{
	int64_t now = monotonic_us();
	if (lw->woke_at > 0)
		lw->window_busy += now - lw->woke_at;
	lw->woke_at = 0;
	if (lw->window_start <= 0) {
		lw->window_start = now;
		return;
	}
	int64_t span = now - lw->window_start;
	if (span < LOAD_WINDOW_US)
		return;
	int pct = (int)((100 * lw->window_busy + span / 2) / span);
	lw->srv->loop_load_pct = pct > 100 ? 100 : pct;
	lw->window_start = now;
	lw->window_busy = 0;
}

/* A closing client's grace to take its last frames and the close frame. */
#define CLOSE_GRACE_MS 3000
/* At most this long between SIGTERM and closing what is left. */
#define DRAIN_S 1.5
/* io_uring sends per system call, and the bytes they may hold: a W3 fan-out
 * (10,000 clients of about 150 bytes each) goes out in three calls. */
#define SENDBATCH_ENTRIES 4096
#define SENDBATCH_ARENA_BYTES (4 * 1024 * 1024)

/* Above this many sockets at exit, lws_context_destroy() is skipped (see server_teardown). */
#define FAST_EXIT_SOCKETS 1000

static struct lws_protocols protocols[2];

static void lws_log_bridge(int level, const char *line)
{
	int ours = level & LLL_ERR ? LOG_ERR : level & LLL_WARN ? LOG_WARN : LOG_INFO;
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	/* A refused handshake: core/refuse.c logs it (at info, with the reason). */
	if (n == 27 && !strncmp(line, "User code denied connection", 27))
		return;
	log_msg(ours, "lws", "%.*s", (int)n, line);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct loop_watchers *lw = w->data;
	struct chatd_server *srv = lw->srv;
	struct chatd_plain_event ev = { .size = sizeof ev, .now_ms = now_ms() };
	/* Once a second, O(clients): a message left half-sent (a stalled
	 * fragment or frame) holds a buffer; close such clients with 1008. */
	int64_t stale = ev.now_ms - (int64_t)srv->cfg.fragment_timeout_s * 1000;
	/* A closing client gets CLOSE_GRACE_MS to take its last frames and the
	 * close frame; one that stopped reading would never let its socket
	 * drain, so it is dropped then (and its room hears it left). */
	int64_t grace_over = ev.now_ms - CLOSE_GRACE_MS;
	for (struct chatd_client *c = srv->clients; c; c = c->next) {
		if (c->closing && c->close_started_ms < grace_over && srv->transport->drop) {
			log_info("client %llu (%s) did not take its close frame in time: dropped",
				 (unsigned long long)c->id, c->name);
			c->close_started_ms = INT64_MAX; /* once */
			srv->transport->drop(c); /* the close follows on a later iteration */
		} else if ((c->rx_len || !c->rx_frame_done) && c->rx_started_ms < stale)
			client_close(c, 1008, "message not completed in time");
	}
	hooks_dispatch(&srv->hooks, CHATD_EV_TICK, &ev);
}

static void on_idle(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	struct loop_watchers *lw = w->data;
	if (hooks_any(&lw->srv->hooks, CHATD_EV_LOOP_IDLE)) {
		struct chatd_plain_event ev = { .size = sizeof ev, .now_ms = now_ms(), .loop_load_pct = lw->srv->loop_load_pct };
		hooks_dispatch(&lw->srv->hooks, CHATD_EV_LOOP_IDLE, &ev);
	}
	/* after the hooks: what they released (history acks) goes out too */
	ws_flush_pending(lw->srv);
	loop_load_measure(lw);
}

/* While shutting down: stop the loop once every client has its 1001 close
 * frame in the kernel (or is gone), or the deadline passed. */
static void on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct loop_watchers *lw = w->data;
	struct chatd_server *srv = lw->srv;
	if (!srv->nclients || !srv->closes_pending || ev_now(loop) >= lw->drain_deadline) {
		log_info("shutdown: %zu connections left, %zu close frames not sent, %.2f s after the signal", srv->nclients,
			 srv->closes_pending, ev_now(loop) - (lw->drain_deadline - DRAIN_S));
		ev_break(loop, EVBREAK_ALL);
	}
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	struct loop_watchers *lw = w->data;
	struct chatd_server *srv = lw->srv;
	if (srv->shutting_down)
		return;
	log_notice("signal %d: closing %zu connections with 1001 and stopping", w->signum, srv->nclients);
	srv->shutting_down = 1; /* from now on new handshakes and /healthz get 503 */
	for (struct chatd_client *c = srv->clients; c; c = c->next) {
		if (c->established && !c->closing && !c->gone)
			srv->closes_pending++;
		client_close(c, 1001, "server shutting down");
	}
	lw->drain_deadline = ev_now(loop) + DRAIN_S;
	ev_timer_init(&lw->drain, on_drain, 0.02, 0.02);
	lw->drain.data = lw;
	ev_timer_start(loop, &lw->drain);
}

/* SIGHUP: re-read the config file (reload.c); not while shutting down. */
static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	struct loop_watchers *lw = w->data;
	if (!lw->srv->shutting_down)
		reload_config(lw->srv);
}

int server_setup(struct chatd_server *srv, int check_only, char *err, size_t errsz)
{
	srv->transport = &ws_transport;
	srv->started_ms = now_ms();
	srv->rng = (uint32_t)srv->started_ms ^ (uint32_t)getpid();
	hooks_init(&srv->hooks);
	strmap_init(&srv->rooms);
	strmap_init(&srv->nicks);
	strmap_init(&srv->claimed);
	log_set_level(srv->cfg.log_level);
	srv->loop = ev_default_loop(EVBACKEND_EPOLL);
	if (!srv->loop) {
		snprintf(err, errsz, "cannot create the event loop (libev epoll)");
		return -1;
	}
	(void)check_only; /* -t creates data_dir too: plugins (history) open their files in init */
	if (paths_make_data_dir(&srv->cfg, 0750, err, errsz))
		return -1;
	if (watch_setup(srv)) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (plugins_load_all(srv, err, errsz))
		return -1;
	if (hooks_any(&srv->hooks, CHATD_EV_READY)) {
		struct chatd_plain_event ev = { .size = sizeof ev, .now_ms = now_ms() };
		hooks_dispatch(&srv->hooks, CHATD_EV_READY, &ev);
	}
	return 0;
}

int server_listen(struct chatd_server *srv, char *err, size_t errsz)
{
	struct lws_context_creation_info info;
	void *foreign[1] = { srv->loop };
	int lws_levels = LLL_ERR | LLL_WARN;
	if (srv->cfg.log_level >= LOG_DEBUG)
		lws_levels |= LLL_NOTICE;
	lws_set_log_level(lws_levels, lws_log_bridge);

	memset(protocols, 0, sizeof protocols);
	protocols[0].name = "chatd";
	protocols[0].callback = ws_callback;
	protocols[0].per_session_data_size = sizeof(struct session);
	protocols[0].rx_buffer_size = (size_t)srv->cfg.rx_buffer_size;
	/* Without this lws caps every send() at rx_buffer_size and buffers the
	 * rest: a small receive buffer must not chop ws.c's batched writes. */
	protocols[0].tx_packet_size = 256 * 1024;

	/* chatd listens itself (listener.c) and hands lws each accepted socket. */
	if (listener_open(srv, err, errsz))
		return -1;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = srv;
	info.foreign_loops = foreign;
	info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.timeout_secs = (unsigned)srv->cfg.handshake_timeout_s;
	/* lws holds a header buffer for a slow request 10 s by default, and an
	 * idle keep-alive connection 5 s: both follow handshake_timeout (a new
	 * socket also gets it in ws.c, NEW_CLIENT_INSTANTIATED). */
	info.timeout_secs_ah_idle = (unsigned)srv->cfg.handshake_timeout_s;
	info.keepalive_timeout = srv->cfg.handshake_timeout_s;
	info.server_string = "chatd/" PACKAGE_VERSION;
	/* static: lws keeps the pointer for the context's life. Always set: with
	 * no policy lws gives every connection a 300 s validity timer, and its
	 * timers live in one sorted list, so each connect (and each confirmation)
	 * walked all of them: 51% of chatd's CPU while 19,000 sockets connected.
	 * All zero (ping_interval = 0): no per-connection timer at all. */
	static lws_retry_bo_t retry;
	memset(&retry, 0, sizeof retry);
	if (srv->cfg.ping_interval_s > 0) {
		retry.secs_since_valid_ping = (uint16_t)srv->cfg.ping_interval_s;
		retry.secs_since_valid_hangup = (uint16_t)(srv->cfg.ping_interval_s * 2 + 5);
	}
	info.retry_and_idle_policy = &retry;
	srv->lws = lws_create_context(&info);
	if (!srv->lws) {
		snprintf(err, errsz, "cannot create the libwebsockets context");
		listener_close(srv);
		return -1;
	}
	listener_start(srv);
	if (srv->cfg.io_uring) {
		char why[160];
		srv->sendbatch = sendbatch_new(SENDBATCH_ENTRIES, SENDBATCH_ARENA_BYTES, LWS_PRE, why, sizeof why);
		if (srv->sendbatch)
			log_info("fan-out sends are batched through io_uring");
		else
			log_warn("io_uring is not available (%s): one send() per socket", why);
	}
	return 0;
}

/* The host to show in the announced URL for the bind address (borrowed),
 * into out: localhost for all addresses, [v6] for an IPv6 literal. */
static const char *url_host(const char *bind, char *out, size_t outsz)
{
	if (!bind || !*bind || !strcmp(bind, "0.0.0.0") || !strcmp(bind, "::"))
		snprintf(out, outsz, "localhost");
	else
		snprintf(out, outsz, strchr(bind, ':') ? "[%s]" : "%s", bind);
	return out;
}

int server_run(struct chatd_server *srv)
{
	struct loop_watchers lw;
	memset(&lw, 0, sizeof lw);
	lw.srv = srv;
	ev_signal_init(&lw.sigterm, on_signal, SIGTERM);
	ev_signal_init(&lw.sigint, on_signal, SIGINT);
	ev_signal_init(&lw.sighup, on_sighup, SIGHUP);
	lw.sighup.data = &lw;
	ev_timer_init(&lw.tick, on_tick, 1.0, 1.0);
	ev_prepare_init(&lw.idle, on_idle);
	ev_check_init(&lw.woke, on_woke);
	lw.sigterm.data = lw.sigint.data = lw.tick.data = lw.idle.data = lw.woke.data = &lw;
	ev_signal_start(srv->loop, &lw.sigterm);
	ev_signal_start(srv->loop, &lw.sigint);
	ev_signal_start(srv->loop, &lw.sighup);
	ev_timer_start(srv->loop, &lw.tick);
	ev_prepare_start(srv->loop, &lw.idle);
	ev_check_start(srv->loop, &lw.woke);
	signal(SIGPIPE, SIG_IGN);
	/* The announcement: only once the socket listens (run.sh relies on it). */
	char host[300];
	log_notice("chatd %s listening on port %d: open http://%s:%d/ (web root %s, %d plugin%s)", PACKAGE_VERSION,
		   srv->listen_port, url_host(srv->cfg.bind, host, sizeof host), srv->listen_port, srv->cfg.web_root, srv->nplugins,
		   srv->nplugins == 1 ? "" : "s");

	ev_run(srv->loop, 0);

	ev_signal_stop(srv->loop, &lw.sigterm);
	ev_signal_stop(srv->loop, &lw.sigint);
	ev_signal_stop(srv->loop, &lw.sighup);
	ev_timer_stop(srv->loop, &lw.tick);
	ev_timer_stop(srv->loop, &lw.drain);
	presence_flush_all(srv);
	/* One last idle pass flushes what plugins batched (history commits). */
	on_idle(srv->loop, &lw.idle, 0);
	ev_prepare_stop(srv->loop, &lw.idle);
	ev_check_stop(srv->loop, &lw.woke);
	return 0;
}

void server_teardown(struct chatd_server *srv)
{
	listener_close(srv);
	/* lws 4.1.6 (Debian's build keeps its sanity checks) scans its whole fd
	 * table, 20,000 entries, for every socket it closes: destroying a
	 * context that still holds 19,000 connections took 30 s. With more than
	 * FAST_EXIT_SOCKETS left (their 1001 close frames are already in the
	 * kernel), the context is left to the process exit, where the kernel
	 * closes the sockets; chatd's own state is still torn down below. */
	if (srv->lws && srv->nsockets > FAST_EXIT_SOCKETS) {
		log_notice("leaving %zu sockets to the kernel to close", srv->nsockets);
		for (struct chatd_client *c = srv->clients; c; c = c->next)
			c->transport = NULL; /* lws is not called again */
	} else if (srv->lws) {
		lws_context_destroy(srv->lws);
	}
	srv->lws = NULL;
	linger_close_all(srv);
	/* Clients the context did not close (never established) are freed here. */
	while (srv->clients) {
		struct chatd_client *c = srv->clients;
		chat_close(srv, c);
		client_unref(c);
	}
	presence_stop(srv);
	room_destroy_all_events(srv); /* pairs every ROOM_CREATE while plugins are still there */
	plugins_unload_all(srv);
	commands_free(srv);
	watch_teardown(srv);
	room_free_all(srv);
	roomlist_remote_free(srv);
	identity_free_all(srv);
	size_t pos = 0;
	void *v;
	while (strmap_next(&srv->claimed, &pos, NULL, &v))
		free(v);
	strmap_free(&srv->claimed);
	hooks_free(&srv->hooks);
	ws_pending_free(srv);
	free(srv->write_batch);
	srv->write_batch = NULL;
	sendbatch_free(srv->sendbatch);
	srv->sendbatch = NULL;
	if (srv->loop) {
		ev_loop_destroy(srv->loop);
		srv->loop = NULL;
	}
	config_free(&srv->cfg);
}
