#include "testcore.h"
#include "chat.h"
#include "client.h"
#include "hooks.h"
#include "identity.h"
#include "request.h"
#include "serverloop.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fake_want_write(struct chatd_client *c) { (void)c; }

static const struct transport_ops fake_transport = { fake_want_write, NULL };

struct testcore *tc_try_new(const char *config_text, char *err, size_t errsz)
{
	struct testcore *tc = calloc(1, sizeof *tc);
	if (!tc) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	snprintf(tc->data_dir, sizeof tc->data_dir, "/tmp/chatd-test-XXXXXX");
	if (!mkdtemp(tc->data_dir) || config_defaults(&tc->srv.cfg) ||
	    config_set_str(&tc->srv.cfg.plugin_dir, TOP_BUILDDIR "/plugins") ||
	    config_set_str(&tc->srv.cfg.data_dir, tc->data_dir)) {
		snprintf(err, errsz, "cannot set up a test core");
		free(tc);
		return NULL;
	}
	if (config_parse(&tc->srv.cfg, "test.conf", config_text, strlen(config_text), TOP_BUILDDIR, tc->err,
			 sizeof tc->err) ||
	    config_set_str(&tc->srv.cfg.file, "test.conf") || server_setup(&tc->srv, 0, tc->err, sizeof tc->err)) {
		snprintf(err, errsz, "%s", tc->err);
		tc_free(tc);
		return NULL;
	}
	tc->srv.transport = &fake_transport;
	return tc;
}

struct testcore *tc_new(const char *config_text)
{
	char err[1024];
	struct testcore *tc = tc_try_new(config_text, err, sizeof err);
	if (!tc)
		fprintf(stderr, "tc_new: %s\n", err);
	return tc;
}

void tc_free(struct testcore *tc)
{
	if (!tc)
		return;
	server_teardown(&tc->srv);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tc->data_dir);
	if (system(cmd)) { /* best effort: a leftover temp dir is harmless */
	}
	free(tc);
}

struct chatd_client *tc_connect(struct testcore *tc, const char *room, const char *name, const char *address)
{
	struct tc_opts opts = { .name = name, .address = address };
	return tc_connect_opts(tc, room, &opts);
}

struct chatd_client *tc_connect_opts(struct testcore *tc, const char *room, const struct tc_opts *opts)
{
	struct chatd_request req;
	char path[ROOM_MAX_BYTES + 8];
	struct chatd_client *c = client_new(&tc->srv, tc, opts->address ? opts->address : "127.0.0.1");
	if (!c)
		return NULL;
	room_name_fold(room, strlen(room), c->join_room);
	snprintf(path, sizeof path, "/ws/%s", c->join_room);
	/* the upgrade request CONNECT hooks read: its query gives ?name= and ?since= too */
	if (request_init_text(&req, "GET", path, opts->query, opts->headers, c->address)) {
		chat_close(&tc->srv, c);
		client_unref(c);
		return NULL;
	}
	const char *qname = request_query(&req, "name"), *since = request_query(&req, "since");
	if (opts->name || qname)
		client_set_query_name(c, opts->name ? opts->name : qname);
	if (since)
		c->since = strtoll(since, NULL, 10);
	c->multi = opts->multi;
	if (opts->session && identity_session(c, opts->session)) {
		chat_close(&tc->srv, c);
		client_unref(c);
		request_clear(&req);
		return NULL;
	}
	c->request = &req;
	const char *reason = NULL;
	int status = chat_handshake(&tc->srv, c, NULL, "localhost", &reason);
	c->request = NULL;
	if (status) {
		tc->last_status = status;
		snprintf(tc->last_reason, sizeof tc->last_reason, "%s", reason ? reason : "");
		chat_close(&tc->srv, c);
		client_unref(c);
		request_clear(&req);
		return NULL;
	}
	request_clear(&req);
	chat_open(&tc->srv, c);
	return c;
}

struct chatd_client *tc_connect_request(struct testcore *tc, const char *room, const char *query,
					const char *headers, const char *address)
{
	struct tc_opts opts = { .address = address, .query = query, .headers = headers };
	return tc_connect_opts(tc, room, &opts);
}

void tc_send(struct testcore *tc, struct chatd_client *c, const char *text)
{
	chat_frame(&tc->srv, c, text, strlen(text));
}

void tc_send_len(struct testcore *tc, struct chatd_client *c, const char *data, size_t len)
{
	chat_frame(&tc->srv, c, data, len);
}

json_t *tc_recv(struct testcore *tc, struct chatd_client *c)
{
	(void)tc;
	struct sendq_entry *e = sendq_peek(&c->q);
	if (!e)
		return NULL;
	json_t *v = json_loadb((const char *)outbuf_payload(e->buf), e->buf->len, 0, NULL);
	sendq_pop(&c->q);
	return v;
}

json_t *tc_expect(struct testcore *tc, struct chatd_client *c, const char *type, const char *event)
{
	json_t *v;
	while ((v = tc_recv(tc, c))) {
		const char *t = json_string_value(json_object_get(v, "type"));
		const char *e = json_string_value(json_object_get(v, "event"));
		if (t && !strcmp(t, type) && (!event || (e && !strcmp(e, event))))
			return v;
		json_decref(v);
	}
	return NULL;
}

size_t tc_pending(struct chatd_client *c) { return c->q.count; }

void tc_drain(struct chatd_client *c)
{
	while (c->q.count)
		sendq_pop(&c->q);
}

int tc_close_code(struct chatd_client *c) { return c->closing ? c->close_code : 0; }

void tc_disconnect(struct testcore *tc, struct chatd_client *c)
{
	chat_close(&tc->srv, c);
	client_unref(c);
}

void tc_tick(struct testcore *tc)
{
	struct chatd_plain_event ev = { .size = sizeof ev, .now_ms = now_ms() };
	hooks_dispatch(&tc->srv.hooks, CHATD_EV_TICK, &ev);
}

void tc_idle(struct testcore *tc)
{
	tc_idle_loaded(tc, 0);
}

void tc_idle_loaded(struct testcore *tc, int load_pct)
{
	struct chatd_plain_event ev = { .size = sizeof ev, .now_ms = now_ms(), .loop_load_pct = load_pct };
	hooks_dispatch(&tc->srv.hooks, CHATD_EV_LOOP_IDLE, &ev);
}

static void tc_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

void tc_run(struct testcore *tc, int ms)
{
	ev_timer stop;
	ev_now_update(tc->srv.loop); /* the cached time may be stale after a pause */
	ev_timer_init(&stop, tc_stop, ms / 1000.0, 0.);
	ev_timer_start(tc->srv.loop, &stop);
	ev_run(tc->srv.loop, 0);
	ev_timer_stop(tc->srv.loop, &stop);
}
