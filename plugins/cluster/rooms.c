/*
 * The room list over the nodes. Redis keeps every room's people count (the
 * zset `rl`, kept by the presence functions); once a second the node reads
 * its biggest rooms and hands them to the core, which lists them in `rooms`
 * answers besides the rooms it has people in (those with its own, fresher
 * count). A room with people on other nodes only is thus listed at most a
 * second late.
 */
#include "rooms.h"
#include "strvec.h"

#include <stdlib.h>

/* The core lists 500 rooms at most; one more lets it say "more". */
#define CLUSTER_ROOMS_LISTED 501

static void on_rooms(void *ud, const redisReply *r, const char *err)
{
	struct cluster *cl = ud;
	cl->rooms_in_flight = 0;
	if (err || r->type != REDIS_REPLY_ARRAY)
		return;
	size_t n = r->elements / 2;
	const char **names = calloc(n ? n : 1, sizeof *names);
	int64_t *counts = calloc(n ? n : 1, sizeof *counts);
	size_t k = 0;
	for (size_t i = 0; names && counts && i < n; i++) {
		const redisReply *name = r->element[2 * i], *score = r->element[2 * i + 1];
		if (name->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
			continue;
		names[k] = name->str;
		counts[k++] = strtoll(score->str, NULL, 10);
	}
	if (names && counts)
		cl->api->rooms_remote_set(cl->self, names, counts, k);
	free(names);
	free(counts);
}

void rooms_refresh(struct cluster *cl)
{
	if (cl->rooms_in_flight || !cl->registered || !redis_cmd_up(cl->redis))
		return;
	struct strvec sv = { 0 };
	strvec_pushz(&sv, "FCALL");
	strvec_pushz(&sv, "chatd_rooms");
	strvec_pushz(&sv, "0");
	strvec_pushz(&sv, cl->opt.prefix);
	strvec_push_int(&sv, CLUSTER_ROOMS_LISTED);
	if (!sv.oom && !redis_command(cl->redis, on_rooms, cl, (int)sv.len, sv.v, sv.n))
		cl->rooms_in_flight = 1;
	strvec_free(&sv);
}
