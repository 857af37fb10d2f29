#include "client.h"
#include "frame.h"
#include "identity.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chatd_client *client_new(struct chatd_server *srv, void *transport, const char *address)
{
	struct chatd_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (srv->nplugins && !(c->slots = calloc((size_t)srv->nplugins, sizeof *c->slots))) {
		free(c);
		return NULL;
	}
	c->srv = srv;
	c->refs = 1;
	c->id = ++srv->next_client_id;
	c->transport = transport;
	c->since = -1;
	c->rx_frame_done = 1;
	snprintf(c->address, sizeof c->address, "%s", address ? address : "");
	sendq_init(&c->q);
	c->next = srv->clients;
	if (srv->clients)
		srv->clients->prev = c;
	srv->clients = c;
	srv->nclients++;
	srv->stats.connections_total++;
	return c;
}

struct chatd_client *client_ref(struct chatd_client *c)
{
	c->refs++;
	return c;
}

void client_unref(struct chatd_client *c)
{
	if (!c || --c->refs)
		return;
	sendq_clear(&c->q);
	roomset_free(&c->rooms);
	free(c->rx);
	free(c->slots);
	free(c->name_refusal);
	free(c->query_name);
	free(c);
}

int client_set_query_name(struct chatd_client *c, const char *v)
{
	free(c->query_name);
	c->query_name = NULL;
	if (!v || !v[0])
		return 0;
	c->query_name = strndup(v, QUERY_NAME_MAX);
	return c->query_name ? 0 : -1;
}

void client_gone(struct chatd_client *c)
{
	struct chatd_server *srv = c->srv;
	if (c->gone)
		return;
	c->gone = 1;
	c->transport = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	srv->nclients--;
	sendq_clear(&c->q);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
}

int client_send(struct chatd_client *c, struct outbuf *b, int flags)
{
	struct chatd_server *srv = c->srv;
	if (c->gone || c->closing || !b)
		return -1;
	switch (sendq_push(&c->q, b, flags, srv->cfg.send_queue_soft_bytes, srv->cfg.send_queue_bytes)) {
	case SENDQ_DROPPED:
		srv->stats.frames_dropped++;
		return 1;
	case SENDQ_OVERFLOW:
		srv->stats.slow_closed++;
		log_info("client %llu (%s) too slow: %zu bytes queued, closing with 1013",
			 (unsigned long long)c->id, c->name, c->q.bytes);
		client_close(c, 1013, "send queue full");
		return -1;
	case SENDQ_QUEUED:
		break;
	}
	srv->stats.messages_out++;
	if (!c->writing && srv->transport) {
		c->writing = 1;
		srv->transport->want_write(c);
	}
	return 0;
}

int client_send_json(struct chatd_client *c, json_t *obj, int flags)
{
	struct outbuf *b = json_to_outbuf(obj);
	json_decref(obj);
	int r = client_send(c, b, flags);
	outbuf_unref(b);
	return r;
}

void client_send_error_for(struct chatd_client *c, const char *code, const char *message, int retry_after_ms,
			   const char *client_id)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message ? message : code);
	if (!o) /* a plugin's text that is not valid UTF-8: the code alone */
		o = json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", code);
	if (!o)
		return;
	if (retry_after_ms > 0)
		json_object_set_new(o, "retry_after_ms", json_integer(retry_after_ms));
	if (client_id && client_id[0])
		json_object_set_new(o, "client_id", json_string(client_id));
	c->srv->stats.errors_sent++;
	client_send_json(c, o, CHATD_SEND_NORMAL);
}

void client_send_error(struct chatd_client *c, const char *code, const char *message, int retry_after_ms)
{
	client_send_error_for(c, code, message, retry_after_ms, NULL);
}

void client_close(struct chatd_client *c, int code, const char *reason)
{
	if (c->gone || c->closing)
		return;
	c->closing = 1;
	c->close_started_ms = now_ms();
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
	if (c->srv->transport) {
		c->writing = 1;
		c->srv->transport->want_write(c);
	}
}

struct chatd_client *client_find_by_name(struct chatd_server *srv, const char *name)
{
	struct person *p = identity_find(srv, name);
	return p && p->nconns ? p->conns[p->nconns - 1] : NULL;
}
