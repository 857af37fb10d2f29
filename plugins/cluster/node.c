/*
 * The node: its id, its heartbeat, its fencing, and the health of its
 * subscription.
 *
 * Every heartbeat_ms the node calls chatd_beat (functions.lua): Redis
 * advances the logical clock (at most one tick per call, so a pause of Redis
 * costs one tick), renews this node's lease, fences nodes whose lease ran out
 * (only a live node reaps) and publishes "h <seq>" on this node's own
 * channel. A beat that Redis acknowledged but that does not come back on the
 * subscription within SUB_SILENCE_MS means the subscription died silently:
 * it is dropped and made again (and the rooms fill their gaps).
 *
 * A node that learns it was fenced (its beat, any write, or "f" on its
 * channel) closes every client with 1012 (they reconnect and recover with
 * ?since=) and comes back under a new id.
 */
#include "cluster.h"
#include "croom.h"
#include "dm.h"
#include "people.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A beat acknowledged this long ago and not received: the subscription is dead. */
#define SUB_SILENCE_MS 800
/* Entries of fenced nodes removed per beat. */
#define REAP_BUDGET 500

static int64_t mono_ms(struct cluster *cl) { return cl->api->monotonic_ms(); }
static void watch_subscription(struct cluster *cl);

static void new_node_id(struct cluster *cl)
{
	snprintf(cl->node_id, sizeof cl->node_id, "%s-%016" PRIx64, cl->opt.node_name, redis_random64());
	snprintf(cl->node_channel, sizeof cl->node_channel, "%sn:%s", cl->opt.prefix, cl->node_id);
	cl->registered = 0;
	cl->node_subscribed = 0;
	cl->acked_seq = cl->seen_seq = 0;
	cl->first_counted_seq = UINT64_MAX;
}

static void subscribe_node_channel(struct cluster *cl)
{
	if (redis_sub_up(cl->redis))
		redis_subscribe(cl->redis, cl->node_channel, strlen(cl->node_channel));
}

void node_fenced(struct cluster *cl, const char *how)
{
	if (!cl->registered)
		return; /* a refusal for the id this node just left (answers come in order: they precede the new hello's) */
	CLOG(cl, CHATD_LOG_ERR, "node %s was fenced (%s): closing %zu connections with %d so that they reconnect",
	     cl->node_id, how, cl->nclients, CLUSTER_CLOSE_RECONNECT);
	cl->fenced_total++;
	cl->api->counter_add(cl->self, "fenced", 1);
	for (struct cluster_client *cc = cl->clients; cc; cc = cc->next)
		cl->api->client_close(cc->client, CLUSTER_CLOSE_RECONNECT, "cluster node fenced: reconnect");
	croom_forget_local(cl); /* Redis dropped this node's people and names */
	names_forget_all(cl);
	if (redis_sub_up(cl->redis) && cl->node_subscribed)
		redis_unsubscribe(cl->redis, cl->node_channel, strlen(cl->node_channel));
	new_node_id(cl);
	subscribe_node_channel(cl);
	CLOG(cl, CHATD_LOG_NOTICE, "continuing as node %s", cl->node_id);
}

static void on_hello(void *ud, const redisReply *reply, const char *err)
{
	struct cluster *cl = ud;
	cl->hello_in_flight = 0;
	if (err || reply->type != REDIS_REPLY_ARRAY) {
		if (!err)
			CLOG(cl, CHATD_LOG_ERR, "chatd_hello: %s", reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
		return; /* the next beat tries again */
	}
	cl->registered = 1;
	CLOG(cl, CHATD_LOG_NOTICE, "registered as node %s", cl->node_id);
}

static void send_hello(struct cluster *cl)
{
	char tick[24];
	snprintf(tick, sizeof tick, "%lld", (long long)cl->opt.heartbeat_ms);
	const char *argv[] = { "FCALL", "chatd_hello", "0", cl->opt.prefix, cl->node_id, tick };
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	if (redis_command(cl->redis, on_hello, cl, 6, argv, lens) == 0)
		cl->hello_in_flight = 1;
}

/* The beat's answer carries its seq in the userdata's place: the cluster is
 * one per process, so the seq is kept in cl->beat_seq at send time. */
static void on_beat(void *ud, const redisReply *reply, const char *err)
{
	struct cluster *cl = ud;
	cl->beat_in_flight = 0;
	if (err)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		CLOG(cl, CHATD_LOG_ERR, "chatd_beat: %s", reply->str);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || reply->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (!strcmp(reply->element[0]->str, "fenced")) {
		node_fenced(cl, "its lease ran out");
		return;
	}
	cl->acked_seq = cl->beat_seq;
	cl->acked_ms[cl->acked_seq % 16] = mono_ms(cl);
	watch_subscription(cl);
	if (reply->elements >= 3 && reply->element[2]->type == REDIS_REPLY_INTEGER && reply->element[2]->integer > 0)
		cl->api->counter_add(cl->self, "reaped_entries", reply->element[2]->integer);
}

static void send_beat(struct cluster *cl)
{
	char seq[24], tick[24], lease[24], budget[24];
	snprintf(seq, sizeof seq, "%" PRIu64, ++cl->beat_seq);
	snprintf(tick, sizeof tick, "%lld", (long long)cl->opt.heartbeat_ms);
	snprintf(lease, sizeof lease, "%lld", (long long)cl->opt.lease_beats);
	snprintf(budget, sizeof budget, "%d", REAP_BUDGET);
	const char *argv[] = { "FCALL", "chatd_beat", "0", cl->opt.prefix, cl->node_id, seq, tick, lease, budget };
	size_t lens[9];
	for (int i = 0; i < 9; i++)
		lens[i] = strlen(argv[i]);
	if (redis_command(cl->redis, on_beat, cl, 9, argv, lens) == 0)
		cl->beat_in_flight = 1;
}

/* A beat Redis acknowledged SUB_SILENCE_MS ago has not come back: the
 * subscription delivers nothing any more. (Beats are sent one at a time, so
 * the oldest one missing is the one after the newest seen.) Returns the ms
 * until the oldest missing beat is late, 0 when none is missing (or the
 * subscription was just dropped). */
static int64_t check_subscription(struct cluster *cl)
{
	if (!redis_sub_up(cl->redis) || !cl->node_subscribed || cl->acked_seq < cl->first_counted_seq)
		return 0;
	if (cl->seen_seq >= cl->acked_seq)
		return 0;
	uint64_t missing = cl->seen_seq + 1 > cl->first_counted_seq ? cl->seen_seq + 1 : cl->first_counted_seq;
	if (cl->acked_seq - missing >= 16)
		missing = cl->acked_seq - 15;
	int64_t waited = mono_ms(cl) - cl->acked_ms[missing % 16];
	if (waited < SUB_SILENCE_MS)
		return SUB_SILENCE_MS - waited;
	CLOG(cl, CHATD_LOG_WARN, "subscription silent: beat %" PRIu64 " acknowledged %lld ms ago never arrived; "
	     "subscribing again", missing, (long long)waited);
	cl->api->counter_add(cl->self, "subscription_silent", 1);
	redis_drop_sub(cl->redis, "heartbeat not received");
	return 0;
}

/* Checks the subscription now and, while an acknowledged beat is missing,
 * again when it is due: silence is noticed SUB_SILENCE_MS after the beat's
 * answer, not up to a heartbeat later (the beat timer alone could make a
 * silent subscription wait heartbeat + SUB_SILENCE_MS + heartbeat). */
static void watch_subscription(struct cluster *cl)
{
	int64_t due = check_subscription(cl);
	ev_timer_stop(cl->loop, &cl->sub_check);
	if (due > 0) {
		ev_timer_set(&cl->sub_check, (due + 5) / 1000.0, 0.);
		ev_timer_start(cl->loop, &cl->sub_check);
	}
}

static void on_sub_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	watch_subscription(w->data);
}

static void on_beat_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cluster *cl = w->data;
	watch_subscription(cl);
	if (!redis_cmd_up(cl->redis))
		return;
	if (!cl->registered) {
		if (!cl->hello_in_flight)
			send_hello(cl);
	} else if (!cl->beat_in_flight) {
		send_beat(cl);
	}
}

void node_cmd_up(struct cluster *cl)
{
	if (!cl->registered)
		send_hello(cl);
	else
		send_beat(cl);
}

void node_sub_up(struct cluster *cl)
{
	cl->node_subscribed = 0;
	subscribe_node_channel(cl);
}

void node_sub_down(struct cluster *cl)
{
	cl->node_subscribed = 0;
	cl->first_counted_seq = UINT64_MAX;
}

void node_subscribed(struct cluster *cl, const char *channel, size_t len)
{
	if (len != strlen(cl->node_channel) || memcmp(channel, cl->node_channel, len))
		return;
	cl->node_subscribed = 1;
	/* beats sent from now on publish to a subscription that is in place */
	cl->first_counted_seq = cl->beat_seq + 1; /* one in flight (beat_seq) may precede it */
	cl->seen_seq = 0;
}

void node_message(struct cluster *cl, const char *data, size_t len)
{
	if (len >= 2 && data[0] == 'h' && data[1] == '\n') {
		char buf[24];
		size_t n = len - 2 < sizeof buf - 1 ? len - 2 : sizeof buf - 1;
		memcpy(buf, data + 2, n);
		buf[n] = 0;
		uint64_t seq = strtoull(buf, NULL, 10);
		if (seq > cl->seen_seq)
			cl->seen_seq = seq;
	} else if (len >= 2 && data[0] == 'd' && data[1] == '\n') {
		dm_deliver(cl, data, len);
	} else if (len == 1 && data[0] == 'f') {
		node_fenced(cl, "another node reaped it");
	}
}

int node_start(struct cluster *cl)
{
	new_node_id(cl);
	ev_timer_init(&cl->beat, on_beat_timer, cl->opt.heartbeat_ms / 1000.0, cl->opt.heartbeat_ms / 1000.0);
	cl->beat.data = cl;
	ev_timer_start(cl->loop, &cl->beat);
	ev_timer_init(&cl->sub_check, on_sub_check, 1., 0.);
	cl->sub_check.data = cl;
	return 0;
}

void node_stop(struct cluster *cl)
{
	ev_timer_stop(cl->loop, &cl->beat);
	ev_timer_stop(cl->loop, &cl->sub_check);
}

void node_bye(struct cluster *cl)
{
	if (!cl->registered)
		return;
	const char *argv[] = { "FCALL", "chatd_bye", "0", cl->opt.prefix, cl->node_id };
	size_t lens[5];
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	if (redis_call_blocking(&cl->ropt, 5, argv, lens))
		CLOG(cl, CHATD_LOG_WARN, "could not deregister node %s (its lease runs out instead)", cl->node_id);
}
