#include "redis.h"

#include <chatd/plugin.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_CHECKING, LINK_UP };
enum link_kind { LINK_CMD, LINK_SUB };

/* One connection: its context (NULL while down) and its retry timer. */
struct link {
	struct redis *r;
	enum link_kind kind;
	enum link_state state;
	redisAsyncContext *ac;
	ev_timer timer;            /* while CONNECTING: the connect timeout; while DOWN: the backoff */
	int attempts;              /* failed attempts since the last time it was up */
};

/* A command in flight: hiredis's privdata; freed when hiredis calls back. */
struct request {
	ev_timer timer;            /* first: the timer callback casts back */
	struct redis *r;
	redis_reply_fn fn;
	void *ud;
	size_t bytes;
	int answered;              /* fn has been called */
	struct request *prev, *next; /* r->requests */
};

struct redis {
	struct ev_loop *loop;
	struct redis_options opt;
	struct redis_events ev;
	struct link cmd, sub;
	struct request *requests;  /* unanswered requests, oldest first is not kept */
	size_t nrequests, nbytes;  /* every request not yet freed */
	int freeing;
};

static void link_connect(struct link *l);
static void link_lost(struct link *l, const char *why);

uint64_t redis_random64(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
		return v;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
}

static void say(struct redis *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(struct redis *r, int level, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	if (!r->ev.log)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	r->ev.log(r->ev.ud, level, text);
}

static const char *link_name(const struct link *l) { return l->kind == LINK_CMD ? "command" : "subscription"; }

/* ---- requests ---- */

static void request_unlink(struct request *q)
{
	struct redis *r = q->r;
	if (q->prev)
		q->prev->next = q->next;
	else if (r->requests == q)
		r->requests = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/* Call the user back once, stop the timer, leave the unanswered list. */
static void request_answer(struct request *q, const redisReply *reply, const char *err)
{
	if (q->answered)
		return;
	q->answered = 1;
	ev_timer_stop(q->r->loop, &q->timer);
	request_unlink(q);
	if (q->fn)
		q->fn(q->ud, reply, err);
}

/* hiredis calls back exactly once per request: with the reply, or NULL when
 * the context is freed. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct request *q = privdata;
	struct redis *r = q->r;
	if (!reply)
		request_answer(q, NULL, "disconnected");
	else
		request_answer(q, reply, NULL);
	r->nrequests--;
	r->nbytes -= q->bytes;
	free(q);
}

static void on_request_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct request *q = (struct request *)w;
	struct redis *r = q->r;
	request_answer(q, NULL, "timeout");
	/* Redis did not answer in time: it is paused or gone, and hiredis would
	 * wait for ever. The context goes, with everything in flight on it. */
	link_lost(&r->cmd, "a request timed out");
}

/* Send on l's context; internal requests (the checks) use this too. */
static int link_send(struct link *l, redis_reply_fn fn, void *ud, int argc, const char **argv, const size_t *lens)
{
	struct redis *r = l->r;
	struct request *q = calloc(1, sizeof *q);
	if (!q)
		return -1;
	q->r = r;
	q->fn = fn;
	q->ud = ud;
	for (int i = 0; i < argc; i++)
		q->bytes += lens[i];
	if (redisAsyncCommandArgv(l->ac, on_reply, q, argc, argv, lens) != REDIS_OK) {
		free(q);
		return -1;
	}
	r->nrequests++;
	r->nbytes += q->bytes;
	ev_timer_init(&q->timer, on_request_timeout, r->opt.timeout_ms / 1000.0, 0.);
	ev_timer_start(r->loop, &q->timer);
	q->next = r->requests;
	if (r->requests)
		r->requests->prev = q;
	r->requests = q;
	return 0;
}

int redis_command(struct redis *r, redis_reply_fn fn, void *ud, int argc, const char **argv, const size_t *lens)
{
	if (r->cmd.state != LINK_UP || r->nrequests >= r->opt.max_requests)
		return -1;
	size_t bytes = 0;
	for (int i = 0; i < argc; i++)
		bytes += lens[i];
	if (r->nbytes + bytes > r->opt.max_bytes)
		return -1;
	return link_send(&r->cmd, fn, ud, argc, argv, lens);
}

/* ---- connections ---- */

static int backoff_ms(struct link *l)
{
	struct redis *r = l->r;
	int64_t d = r->opt.backoff_min_ms;
	for (int i = 0; i < l->attempts && d < r->opt.backoff_max_ms; i++)
		d *= 2;
	if (d > r->opt.backoff_max_ms)
		d = r->opt.backoff_max_ms;
	/* jitter: somewhere in the upper half, so that nodes do not reconnect in step */
	return (int)(d / 2 + (int64_t)(redis_random64() % (uint64_t)(d / 2 + 1)));
}

static void on_link_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct link *l = w->data;
	if (l->state == LINK_CONNECTING)
		link_lost(l, "connecting timed out");
	else if (l->state == LINK_DOWN)
		link_connect(l);
}

static void schedule_retry(struct link *l)
{
	struct redis *r = l->r;
	if (r->freeing)
		return;
	int ms = backoff_ms(l);
	l->attempts++;
	ev_timer_stop(r->loop, &l->timer);
	ev_timer_set(&l->timer, ms / 1000.0, 0.);
	ev_timer_start(r->loop, &l->timer);
}

/* Answer every unanswered request "disconnected" (they are all on the
 * command context being dropped). */
static void answer_all(struct redis *r)
{
	while (r->requests)
		request_answer(r->requests, NULL, "disconnected");
}

/*
 * l failed or is given up: forget its context (freed: never reused), answer
 * what was in flight, tell the user, and retry after a backoff. Safe from
 * inside hiredis callbacks (hiredis then frees the context when the callback
 * returns).
 */
static void link_lost(struct link *l, const char *why)
{
	struct redis *r = l->r;
	enum link_state was = l->state;
	redisAsyncContext *ac = l->ac;
	if (was == LINK_DOWN)
		return;
	l->state = LINK_DOWN;
	l->ac = NULL;
	ev_timer_stop(r->loop, &l->timer);
	if (ac) {
		ac->data = NULL; /* the disconnect callback must not act again */
		redisAsyncFree(ac);
	}
	if (l->kind == LINK_CMD)
		answer_all(r);
	if (was == LINK_UP || (l->kind == LINK_CMD && was == LINK_CHECKING)) {
		if (!r->freeing)
			say(r, CHATD_LOG_WARN, "redis %s connection lost: %s", link_name(l), why);
		if (l->kind == LINK_CMD && was == LINK_UP && r->ev.cmd_down && !r->freeing)
			r->ev.cmd_down(r->ev.ud, why);
		if (l->kind == LINK_SUB && r->ev.sub_down && !r->freeing)
			r->ev.sub_down(r->ev.ud, why);
	} else if (l->attempts == 0 && !r->freeing) {
		say(r, CHATD_LOG_WARN, "redis %s connection: %s", link_name(l), why);
	}
	schedule_retry(l);
}

/* hiredis: the connection ended (an error, or EOF). */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (!l)
		return; /* we dropped it ourselves */
	l->ac = NULL; /* hiredis frees it after this returns */
	link_lost(l, status == REDIS_OK ? "closed" : ac->errstr[0] ? ac->errstr : "connection error");
}

static void link_up(struct link *l)
{
	struct redis *r = l->r;
	l->state = LINK_UP;
	if (l->attempts)
		say(r, CHATD_LOG_NOTICE, "redis %s connection up again", link_name(l));
	l->attempts = 0;
	if (l->kind == LINK_CMD && r->ev.cmd_up)
		r->ev.cmd_up(r->ev.ud);
	if (l->kind == LINK_SUB && r->ev.sub_up)
		r->ev.sub_up(r->ev.ud);
}

/* ---- the checks of a new command connection ---- */

static void on_functions_loaded(void *ud, const redisReply *reply, const char *err)
{
	struct link *l = ud;
	if (err)
		return; /* the link went down and link_lost said why */
	if (reply->type == REDIS_REPLY_ERROR) {
		say(l->r, CHATD_LOG_ERR, "redis: FUNCTION LOAD failed: %s", reply->str);
		link_lost(l, "the function library could not be loaded");
		return;
	}
	say(l->r, CHATD_LOG_NOTICE, "redis: function library chatd %s loaded", l->r->opt.functions_version);
	link_up(l);
}

static void on_version(void *ud, const redisReply *reply, const char *err)
{
	struct link *l = ud;
	struct redis *r = l->r;
	if (err)
		return;
	if (reply->type == REDIS_REPLY_STRING && !strcmp(reply->str, r->opt.functions_version)) {
		link_up(l);
		return;
	}
	const char *argv[] = { "FUNCTION", "LOAD", "REPLACE", r->opt.functions };
	size_t lens[] = { 8, 4, 7, strlen(r->opt.functions) };
	if (link_send(l, on_functions_loaded, l, 4, argv, lens))
		link_lost(l, "out of memory");
}

/* From CONFIG GET appendonly's reply: 1 when AOF is on. */
static int aof_on(const redisReply *reply)
{
	return reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	       reply->element[1]->type == REDIS_REPLY_STRING && !strcmp(reply->element[1]->str, "yes");
}

static void on_persistence(void *ud, const redisReply *reply, const char *err)
{
	struct link *l = ud;
	struct redis *r = l->r;
	if (err)
		return;
	if (reply->type == REDIS_REPLY_ERROR && !r->opt.allow_no_persistence) {
		say(r, CHATD_LOG_ERR, "redis: cannot check persistence (CONFIG GET appendonly: %s); "
		    "set allow_no_persistence = yes if you made sure of it yourself", reply->str);
		link_lost(l, "persistence could not be checked");
		return;
	}
	if (reply->type != REDIS_REPLY_ERROR && !aof_on(reply) && !r->opt.allow_no_persistence) {
		say(r, CHATD_LOG_ERR, "redis: appendonly is no: acknowledged messages would be lost if Redis "
		    "stopped; refusing to use it (set appendonly yes in redis.conf, or allow_no_persistence = yes)");
		link_lost(l, "Redis does not persist (appendonly no)");
		return;
	}
	const char *argv[] = { "FCALL", "chatd_version", "0" };
	size_t lens[] = { 5, 13, 1 };
	if (link_send(l, on_version, l, 3, argv, lens))
		link_lost(l, "out of memory");
}

/* ---- the subscription connection's replies ---- */

/* One callback for every channel: hiredis 0.14.1 may hand a message for a
 * channel it no longer knows to the callback of the previous reply, which is
 * then this same function, so nothing is misrouted. */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	struct redis *r = privdata;
	redisReply *rep = reply;
	if (!rep || r->freeing || r->sub.state != LINK_UP)
		return;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = rep->element[0]->str;
	if (!strcmp(kind, "message") && rep->element[2]->type == REDIS_REPLY_STRING) {
		if (r->ev.message)
			r->ev.message(r->ev.ud, rep->element[1]->str, rep->element[1]->len, rep->element[2]->str,
				      rep->element[2]->len);
	} else if (!strcmp(kind, "subscribe")) {
		if (r->ev.subscribed)
			r->ev.subscribed(r->ev.ud, rep->element[1]->str, rep->element[1]->len);
	}
}

static int sub_command(struct redis *r, const char *verb, const char *channel, size_t len)
{
	if (r->sub.state != LINK_UP)
		return -1;
	const char *argv[] = { verb, channel };
	size_t lens[] = { strlen(verb), len };
	return redisAsyncCommandArgv(r->sub.ac, on_sub_reply, r, 2, argv, lens) == REDIS_OK ? 0 : -1;
}

int redis_subscribe(struct redis *r, const char *channel, size_t len)
{
	return sub_command(r, "SUBSCRIBE", channel, len);
}

int redis_unsubscribe(struct redis *r, const char *channel, size_t len)
{
	return sub_command(r, "UNSUBSCRIBE", channel, len);
}

/* ---- connecting ---- */

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (!l)
		return;
	struct redis *r = l->r;
	if (status != REDIS_OK) {
		l->ac = NULL; /* a failed connect: hiredis frees the context itself */
		link_lost(l, ac->errstr[0] ? ac->errstr : "cannot connect");
		return;
	}
	ev_timer_stop(r->loop, &l->timer);
	if (l->kind == LINK_SUB) {
		link_up(l);
		return;
	}
	l->state = LINK_CHECKING;
	const char *argv[] = { "CONFIG", "GET", "appendonly" };
	size_t lens[] = { 6, 3, 10 };
	if (link_send(l, on_persistence, l, 3, argv, lens))
		link_lost(l, "out of memory");
}

static void link_connect(struct link *l)
{
	struct redis *r = l->r;
	redisAsyncContext *ac = r->opt.unix_path ? redisAsyncConnectUnix(r->opt.unix_path)
						 : redisAsyncConnect(r->opt.host, r->opt.port);
	l->state = LINK_CONNECTING;
	if (!ac) {
		link_lost(l, "out of memory");
		return;
	}
	if (ac->err) {
		char why[160];
		snprintf(why, sizeof why, "%s", ac->errstr);
		redisAsyncFree(ac);
		link_lost(l, why);
		return;
	}
	ac->data = l;
	if (redisLibevAttach(r->loop, ac) != REDIS_OK) {
		redisAsyncFree(ac);
		link_lost(l, "cannot attach to the loop");
		return;
	}
	l->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	ev_timer_stop(r->loop, &l->timer);
	ev_timer_set(&l->timer, r->opt.timeout_ms / 1000.0, 0.);
	ev_timer_start(r->loop, &l->timer);
}

static void link_init(struct redis *r, struct link *l, enum link_kind kind)
{
	l->r = r;
	l->kind = kind;
	l->state = LINK_DOWN;
	ev_init(&l->timer, on_link_timer);
	l->timer.data = l;
}

struct redis *redis_new(struct ev_loop *loop, const struct redis_options *opt, const struct redis_events *ev)
{
	struct redis *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->loop = loop;
	r->opt = *opt;
	if (ev)
		r->ev = *ev;
	link_init(r, &r->cmd, LINK_CMD);
	link_init(r, &r->sub, LINK_SUB);
	link_connect(&r->cmd);
	link_connect(&r->sub);
	return r;
}

void redis_free(struct redis *r)
{
	if (!r)
		return;
	r->freeing = 1;
	link_lost(&r->cmd, "shutting down");
	link_lost(&r->sub, "shutting down");
	ev_timer_stop(r->loop, &r->cmd.timer);
	ev_timer_stop(r->loop, &r->sub.timer);
	free(r);
}

int redis_cmd_up(const struct redis *r) { return r->cmd.state == LINK_UP; }
int redis_sub_up(const struct redis *r) { return r->sub.state == LINK_UP; }
size_t redis_in_flight(const struct redis *r) { return r->nrequests; }
void redis_drop_cmd(struct redis *r, const char *why) { link_lost(&r->cmd, why); }
void redis_drop_sub(struct redis *r, const char *why) { link_lost(&r->sub, why); }

/* ---- blocking, at start and at shutdown ---- */

static redisContext *connect_blocking(const struct redis_options *opt, char *err, size_t errsz)
{
	struct timeval tv = { opt->timeout_ms / 1000, (opt->timeout_ms % 1000) * 1000 };
	redisContext *c = opt->unix_path ? redisConnectUnixWithTimeout(opt->unix_path, tv)
					 : redisConnectWithTimeout(opt->host, opt->port, tv);
	if (!c || c->err) {
		if (opt->unix_path)
			snprintf(err, errsz, "cannot reach Redis at %s: %s", opt->unix_path, c ? c->errstr : "out of memory");
		else
			snprintf(err, errsz, "cannot reach Redis at %s:%d: %s", opt->host, opt->port,
				 c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* The value of CONFIG GET key into out ("" when unknown). 0, or -1 when
 * CONFIG answered an error (it may be renamed away). */
static int config_get(redisContext *c, const char *key, char *out, size_t outsz, char *why, size_t whysz)
{
	redisReply *rep = redisCommand(c, "CONFIG GET %s", key);
	out[0] = 0;
	if (!rep) {
		snprintf(why, whysz, "%s", c->errstr);
		return -1;
	}
	int rc = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, whysz, "%s", rep->str);
		rc = -1;
	} else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(out, outsz, "%s", rep->element[1]->str);
	}
	freeReplyObject(rep);
	return rc;
}

static int check_persistence(redisContext *c, const struct redis_options *opt, const char *where, char *err,
			     size_t errsz)
{
	char aof[32], save[128], fsync[32], why[200];
	if (config_get(c, "appendonly", aof, sizeof aof, why, sizeof why)) {
		if (opt->allow_no_persistence)
			return 0;
		snprintf(err, errsz, "Redis at %s: cannot check its persistence (CONFIG GET appendonly: %s); "
			 "if you made sure it has appendonly yes, set allow_no_persistence = yes", where, why);
		return -1;
	}
	config_get(c, "save", save, sizeof save, why, sizeof why);
	config_get(c, "appendfsync", fsync, sizeof fsync, why, sizeof why);
	if (strcmp(aof, "yes") && !opt->allow_no_persistence) {
		snprintf(err, errsz, "Redis at %s has appendonly %s (save \"%s\"): cluster mode needs appendonly yes, "
			 "or acknowledged messages, ids and names are lost when Redis stops; set appendonly yes in "
			 "redis.conf (or CONFIG SET appendonly yes), or allow_no_persistence = yes to run without",
			 where, aof, save);
		return -1;
	}
	return 0;
}

static int load_functions(redisContext *c, const struct redis_options *opt, const char *where, char *err,
			  size_t errsz)
{
	redisReply *rep = redisCommand(c, "FCALL chatd_version 0");
	if (!rep) {
		snprintf(err, errsz, "Redis at %s: %s", where, c->errstr);
		return -1;
	}
	int current = rep->type == REDIS_REPLY_STRING && !strcmp(rep->str, opt->functions_version);
	freeReplyObject(rep);
	if (current)
		return 0;
	rep = redisCommand(c, "FUNCTION LOAD REPLACE %s", opt->functions);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errsz, "Redis at %s: cannot load chatd's functions (FUNCTION LOAD needs Redis 7): %s",
			 where, rep ? rep->str : c->errstr);
		if (rep)
			freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

int redis_check_blocking(const struct redis_options *opt, char *err, size_t errsz)
{
	char where[300];
	if (opt->unix_path)
		snprintf(where, sizeof where, "%s", opt->unix_path);
	else
		snprintf(where, sizeof where, "%s:%d", opt->host, opt->port);
	redisContext *c = connect_blocking(opt, err, errsz);
	if (!c)
		return -1;
	int rc = check_persistence(c, opt, where, err, errsz) || load_functions(c, opt, where, err, errsz) ? -1 : 0;
	redisFree(c);
	return rc;
}

int redis_call_blocking(const struct redis_options *opt, int argc, const char **argv, const size_t *lens)
{
	char err[256];
	redisContext *c = connect_blocking(opt, err, sizeof err);
	if (!c)
		return -1;
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);
	int rc = rep && rep->type != REDIS_REPLY_ERROR ? 0 : -1;
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return rc;
}
