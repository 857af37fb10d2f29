/*
 * ratelimit: token buckets against flooding, and a per-address connection cap.
 *
 *   [plugin ratelimit]
 *   messages_per_second = 5            per connection (room and private messages)
 *   message_burst = 10
 *   bytes_per_second = 64k             per connection (every client frame)
 *   byte_burst = 128k
 *   address_messages_per_second = 20   shared by all connections of one address
 *   address_message_burst = 40
 *   address_bytes_per_second = 256k
 *   address_byte_burst = 512k
 *   max_connections_per_address = 32   more gets HTTP 429 at the handshake
 *   flood_close_after = 20             refusals in a row before close 1008 (0 = never)
 *   mode = enforce                     or shadow: count and log, refuse nothing
 *
 * Buckets hold milli-tokens: a rate of R tokens per second adds exactly R
 * milli-tokens per millisecond, so refill is integer-exact. See
 * docs/plugins/ratelimit.md.
 */
#include <chatd/plugin.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MILLI 1000            /* milli-tokens per token */
#define SHADOW_LOG_MS 10000   /* at most one shadow line per address per this */
#define TABLE_MIN_SLOTS 64
#define KIB 1024LL
#define MAX_COST (1LL << 40) /* frames are far smaller; keeps the math in range */

/* ---- token buckets ---- */

/* A rate: `per_ms` milli-tokens per millisecond (= tokens per second) up to `cap`. */
struct rate {
	int64_t per_ms;
	int64_t cap;
};

/* A bucket's fill in milli-tokens (may go below zero after an oversized
 * frame) as of `last_ms`. */
struct bucket {
	int64_t level;
	int64_t last_ms;
};

static void bucket_start_full(struct bucket *b, const struct rate *r, int64_t now)
{
	b->level = r->cap;
	b->last_ms = now;
}

/* Add what accrued since last_ms, up to the cap. A clock that went back
 * only moves last_ms (no refill, no loss). Overflow-safe: the elapsed time
 * is compared with the time to fill before it is multiplied. */
static void bucket_refill(struct bucket *b, const struct rate *r, int64_t now)
{
	if (now <= b->last_ms || b->level >= r->cap) {
		b->last_ms = now;
		return;
	}
	int64_t missing = r->cap - b->level;
	int64_t elapsed = now - b->last_ms;
	if (elapsed >= (missing + r->per_ms - 1) / r->per_ms)
		b->level = r->cap;
	else
		b->level += elapsed * r->per_ms;
	b->last_ms = now;
}

/* Milliseconds until `cost` tokens may be taken (0 = now). A cost above the
 * burst needs a full bucket (and then drives the level below zero). */
static int64_t bucket_wait_ms(const struct bucket *b, const struct rate *r, int64_t cost)
{
	int64_t need = cost > r->cap / MILLI ? r->cap : cost * MILLI;
	if (b->level >= need)
		return 0;
	return (need - b->level + r->per_ms - 1) / r->per_ms;
}

static void bucket_take(struct bucket *b, int64_t cost) { b->level -= cost * MILLI; }

static int bucket_is_full(const struct bucket *b, const struct rate *r) { return b->level >= r->cap; }

/* ---- configuration ---- */

struct rl_config {
	struct rate conn_msgs, conn_bytes, addr_msgs, addr_bytes;
	long long max_connections;
	long long flood_close_after;  /* 0 = never close */
	int shadow;
};

/* Raw option values, as the config gives them. */
struct rl_values {
	long long msg_rate, msg_burst, byte_rate, byte_burst;
	long long addr_msg_rate, addr_msg_burst, addr_byte_rate, addr_byte_burst;
	long long max_connections, flood_close_after;
};

struct int_option {
	const char *key;
	size_t offset;        /* in struct rl_values */
	long long min, max;
	int sizes;            /* accepts k / M suffixes (1024-based) */
};

static const struct int_option int_options[] = {
	{ "messages_per_second", offsetof(struct rl_values, msg_rate), 1, 100000, 0 },
	{ "message_burst", offsetof(struct rl_values, msg_burst), 1, 1000000, 0 },
	{ "bytes_per_second", offsetof(struct rl_values, byte_rate), 1, 1024 * KIB * KIB, 1 },
	{ "byte_burst", offsetof(struct rl_values, byte_burst), 1, 1024 * KIB * KIB, 1 },
	{ "address_messages_per_second", offsetof(struct rl_values, addr_msg_rate), 1, 100000, 0 },
	{ "address_message_burst", offsetof(struct rl_values, addr_msg_burst), 1, 1000000, 0 },
	{ "address_bytes_per_second", offsetof(struct rl_values, addr_byte_rate), 1, 1024 * KIB * KIB, 1 },
	{ "address_byte_burst", offsetof(struct rl_values, addr_byte_burst), 1, 1024 * KIB * KIB, 1 },
	{ "max_connections_per_address", offsetof(struct rl_values, max_connections), 1, 1000000, 0 },
	{ "flood_close_after", offsetof(struct rl_values, flood_close_after), 0, 1000000, 0 },
};

static const struct rl_values default_values = {
	.msg_rate = 5, .msg_burst = 10, .byte_rate = 64 * KIB, .byte_burst = 128 * KIB,
	.addr_msg_rate = 20, .addr_msg_burst = 40, .addr_byte_rate = 256 * KIB, .addr_byte_burst = 512 * KIB,
	.max_connections = 32, .flood_close_after = 20,
};

/* "123", "64k", "1M" -> *out. Returns 0, or -1 when it is not such a number. */
static int parse_count(const char *s, int sizes, long long *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	long long v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	long long unit = 1;
	if (sizes && (*end == 'k' || *end == 'K'))
		unit = KIB, end++;
	else if (sizes && (*end == 'm' || *end == 'M'))
		unit = KIB * KIB, end++;
	if (*end || v > LLONG_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

static struct rate make_rate(long long per_second, long long burst)
{
	return (struct rate){ .per_ms = per_second, .cap = burst * MILLI };
}

/* ---- per-address table: separate chaining, entries never move ---- */

struct addr_entry {
	struct addr_entry *next;
	uint64_t hash;
	long long connections;
	struct bucket msgs, bytes;
	int logged;               /* a shadow line was written at last_log_ms */
	int64_t last_log_ms;
	long long suppressed;     /* shadow lines skipped since */
	char address[];
};

struct addr_table {
	struct addr_entry **slots;
	size_t nslots, count;
	uint64_t seed;
};

/* Seeded FNV-1a with a final mix: addresses come from the network. */
static uint64_t address_hash(uint64_t seed, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t random_seed(const void *salt)
{
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
		seed = (uint64_t)(uintptr_t)salt * 0x9e3779b97f4a7c15ULL;
	return seed;
}

static int table_init(struct addr_table *t, uint64_t seed)
{
	t->slots = calloc(TABLE_MIN_SLOTS, sizeof *t->slots);
	t->nslots = TABLE_MIN_SLOTS;
	t->count = 0;
	t->seed = seed;
	return t->slots ? 0 : -1;
}

static void table_free(struct addr_table *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		for (struct addr_entry *e = t->slots[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(t->slots);
	t->slots = NULL;
	t->nslots = t->count = 0;
}

/* Rehash into nslots (a power of two); keeps the old table when out of memory. */
static void table_resize(struct addr_table *t, size_t nslots)
{
	struct addr_entry **slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return;
	for (size_t i = 0; i < t->nslots; i++)
		for (struct addr_entry *e = t->slots[i], *next; e; e = next) {
			next = e->next;
			e->next = slots[e->hash & (nslots - 1)];
			slots[e->hash & (nslots - 1)] = e;
		}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
}

static struct addr_entry *table_find(const struct addr_table *t, const char *address)
{
	uint64_t h = address_hash(t->seed, address);
	for (struct addr_entry *e = t->slots[h & (t->nslots - 1)]; e; e = e->next)
		if (e->hash == h && !strcmp(e->address, address))
			return e;
	return NULL;
}

/* A new entry for address (not present yet), linked in. NULL when out of memory. */
static struct addr_entry *table_add(struct addr_table *t, const char *address)
{
	size_t len = strlen(address);
	struct addr_entry *e = calloc(1, sizeof *e + len + 1);
	if (!e)
		return NULL;
	memcpy(e->address, address, len + 1);
	e->hash = address_hash(t->seed, address);
	if (t->count >= t->nslots)
		table_resize(t, t->nslots * 2);
	struct addr_entry **slot = &t->slots[e->hash & (t->nslots - 1)];
	e->next = *slot;
	*slot = e;
	t->count++;
	return e;
}

/* ---- plugin state ---- */

struct ratelimit {
	const struct chatd_api *api;
	chatd_plugin *self;
	struct rl_config cfg;
	struct addr_table table;
};

/* One connection's state, in its client slot. */
struct conn {
	struct addr_entry *addr;  /* holds one of addr->connections */
	struct bucket msgs, bytes;
	long long refusals;       /* in a row, since the last accepted message */
};

enum limit_kind { LIMIT_MESSAGES, LIMIT_BYTES };

static void shadow_note(struct ratelimit *rl, struct addr_entry *e, const char *what, int64_t now)
{
	rl->api->counter_add(rl->self, "shadow_would_refuse", 1);
	if (e->logged && now >= e->last_log_ms && now - e->last_log_ms < SHADOW_LOG_MS) {
		e->suppressed++;
		return;
	}
	rl->api->log(rl->self, CHATD_LOG_NOTICE, "shadow mode: would refuse %s from %s (%lld similar since the last line)",
		     what, e->address, e->suppressed);
	e->logged = 1;
	e->last_log_ms = now;
	e->suppressed = 0;
}

static int clamp_retry_ms(int64_t wait)
{
	return wait > INT_MAX ? INT_MAX : wait < 1 ? 1 : (int)wait;
}

/* A frame or message over a limit. Enforce: fill the deny fields and return
 * DENY, or, at the flood_close_after-th refusal in a row, send the error,
 * close with 1008 and return CONSUMED. Shadow: count, log, return OK. */
static int refuse(struct ratelimit *rl, chatd_client *c, struct conn *conn, enum limit_kind kind, int64_t wait,
		  const char **code, const char **message, int *retry_after_ms)
{
	const char *what = kind == LIMIT_MESSAGES ? "a message" : "a frame (bytes)";
	const char *text = kind == LIMIT_MESSAGES ? "too many messages: slow down"
						  : "too much data: slow down";
	int64_t now = rl->api->now_ms();
	if (rl->cfg.shadow) {
		shadow_note(rl, conn->addr, what, now);
		return CHATD_OK;
	}
	int retry = clamp_retry_ms(wait);
	rl->api->counter_add(rl->self, kind == LIMIT_MESSAGES ? "refused_messages" : "refused_bytes", 1);
	if (rl->cfg.flood_close_after && ++conn->refusals >= rl->cfg.flood_close_after) {
		rl->api->counter_add(rl->self, "flood_closed", 1);
		rl->api->log(rl->self, CHATD_LOG_NOTICE, "closing client %llu from %s: %lld refusals in a row",
			     (unsigned long long)rl->api->client_id(c), conn->addr->address, conn->refusals);
		rl->api->send_error(c, "rate_limited", text, retry);
		rl->api->client_close(c, 1008, "rate limit");
		return CHATD_CONSUMED;
	}
	*code = "rate_limited";
	*message = text;
	*retry_after_ms = retry;
	return CHATD_DENY;
}

/* Take `cost` from the connection's and the address's bucket when both
 * have it; otherwise take nothing and return the longer wait in ms. */
static int64_t take_both(struct bucket *own, const struct rate *own_rate, struct bucket *shared,
			 const struct rate *shared_rate, int64_t cost, int64_t now)
{
	bucket_refill(own, own_rate, now);
	bucket_refill(shared, shared_rate, now);
	int64_t a = bucket_wait_ms(own, own_rate, cost), b = bucket_wait_ms(shared, shared_rate, cost);
	if (a || b)
		return a > b ? a : b;
	bucket_take(own, cost);
	bucket_take(shared, cost);
	return 0;
}

static struct conn *conn_of(struct ratelimit *rl, chatd_client *c)
{
	return *rl->api->client_slot(rl->self, c);
}

/* CHATD_EV_RECEIVE: every frame costs its length in bytes. */
static int on_receive(int event_id, void *event, void *userdata)
{
	struct chatd_receive_event *ev = event;
	struct ratelimit *rl = userdata;
	(void)event_id;
	struct conn *conn = conn_of(rl, ev->client);
	if (!conn)
		return CHATD_OK;
	int64_t cost = ev->len > (size_t)MAX_COST ? MAX_COST : (int64_t)ev->len;
	int64_t wait = take_both(&conn->bytes, &rl->cfg.conn_bytes, &conn->addr->bytes, &rl->cfg.addr_bytes, cost,
				 rl->api->now_ms());
	if (!wait)
		return CHATD_OK;
	return refuse(rl, ev->client, conn, LIMIT_BYTES, wait, &ev->error_code, &ev->error_message,
		      &ev->retry_after_ms);
}

/* One message token from c's connection and address: CHATD_OK, or what
 * refuse() says (the error in *code, *message, *retry_after_ms). */
static int take_message(struct ratelimit *rl, chatd_client *c, const char **code, const char **message,
			int *retry_after_ms)
{
	struct conn *conn = conn_of(rl, c);
	if (!conn)
		return CHATD_OK;
	int64_t wait = take_both(&conn->msgs, &rl->cfg.conn_msgs, &conn->addr->msgs, &rl->cfg.addr_msgs, 1,
				 rl->api->now_ms());
	if (!wait) {
		conn->refusals = 0;
		return CHATD_OK;
	}
	return refuse(rl, c, conn, LIMIT_MESSAGES, wait, code, message, retry_after_ms);
}

/* CHATD_EV_MESSAGE: every room message (and /msg) costs one message token. */
static int on_message(int event_id, void *event, void *userdata)
{
	struct chatd_message_event *ev = event;
	(void)event_id;
	return take_message(userdata, ev->client, &ev->error_code, &ev->error_message, &ev->retry_after_ms);
}

/* CHATD_EV_PRIVATE: a private message costs one message token like a room
 * message, unless it came from one ("/msg NAME text": on_message took its
 * token). */
static int on_private(int event_id, void *event, void *userdata)
{
	struct chatd_private_event *ev = event;
	(void)event_id;
	if (ev->message)
		return CHATD_OK;
	return take_message(userdata, ev->client, &ev->error_code, &ev->error_message, &ev->retry_after_ms);
}

/* CHATD_EV_CONNECT, early: refuse an address already at its connection cap. */
static int on_connect_check(int event_id, void *event, void *userdata)
{
	struct chatd_connect_event *ev = event;
	struct ratelimit *rl = userdata;
	(void)event_id;
	struct addr_entry *e = table_find(&rl->table, ev->address);
	if (!e || e->connections < rl->cfg.max_connections)
		return CHATD_OK;
	if (rl->cfg.shadow) {
		shadow_note(rl, e, "a connection (per-address cap)", rl->api->now_ms());
		return CHATD_OK;
	}
	rl->api->counter_add(rl->self, "refused_connections", 1);
	ev->http_status = 429;
	ev->reason = "too many connections from your address";
	return CHATD_DENY;
}

static struct addr_entry *address_entry(struct ratelimit *rl, const char *address, int64_t now)
{
	struct addr_entry *e = table_find(&rl->table, address);
	if (e)
		return e;
	if (!(e = table_add(&rl->table, address)))
		return NULL;
	bucket_start_full(&e->msgs, &rl->cfg.addr_msgs, now);
	bucket_start_full(&e->bytes, &rl->cfg.addr_bytes, now);
	rl->api->counter_add(rl->self, "tracked_addresses", 1);
	return e;
}

/* CHATD_EV_CONNECT, last of all hooks: the handshake is accepted, so count
 * the connection (CHATD_EV_DISCONNECT will follow and uncount it). */
static int on_connect_commit(int event_id, void *event, void *userdata)
{
	struct chatd_connect_event *ev = event;
	struct ratelimit *rl = userdata;
	(void)event_id;
	int64_t now = rl->api->now_ms();
	struct conn *conn = calloc(1, sizeof *conn);
	if (!conn || !(conn->addr = address_entry(rl, ev->address, now))) {
		free(conn);
		ev->http_status = 503;
		ev->reason = "out of memory";
		return CHATD_DENY;
	}
	conn->addr->connections++;
	bucket_start_full(&conn->msgs, &rl->cfg.conn_msgs, now);
	bucket_start_full(&conn->bytes, &rl->cfg.conn_bytes, now);
	*rl->api->client_slot(rl->self, ev->client) = conn;
	return CHATD_OK;
}

static int on_disconnect(int event_id, void *event, void *userdata)
{
	struct chatd_plain_event *ev = event;
	struct ratelimit *rl = userdata;
	(void)event_id;
	void **slot = rl->api->client_slot(rl->self, ev->client);
	struct conn *conn = *slot;
	if (!conn)
		return CHATD_OK;
	conn->addr->connections--;
	free(conn);
	*slot = NULL;
	return CHATD_OK;
}

/* An address nobody uses whose buckets have refilled holds no information. */
static int entry_is_idle(struct ratelimit *rl, struct addr_entry *e, int64_t now)
{
	if (e->connections > 0)
		return 0;
	bucket_refill(&e->msgs, &rl->cfg.addr_msgs, now);
	bucket_refill(&e->bytes, &rl->cfg.addr_bytes, now);
	return bucket_is_full(&e->msgs, &rl->cfg.addr_msgs) && bucket_is_full(&e->bytes, &rl->cfg.addr_bytes);
}

/* Free idle entries; shrink the table when it is mostly empty. */
static void sweep_addresses(struct ratelimit *rl, int64_t now)
{
	struct addr_table *t = &rl->table;
	long long freed = 0;
	for (size_t i = 0; i < t->nslots; i++)
		for (struct addr_entry **p = &t->slots[i]; *p;) {
			struct addr_entry *e = *p;
			if (entry_is_idle(rl, e, now)) {
				*p = e->next;
				free(e);
				t->count--;
				freed++;
			} else {
				p = &e->next;
			}
		}
	if (freed)
		rl->api->counter_add(rl->self, "tracked_addresses", -freed);
	if (t->nslots > TABLE_MIN_SLOTS && t->count < t->nslots / 8)
		table_resize(t, t->nslots / 2);
}

static int on_tick(int event_id, void *event, void *userdata)
{
	struct ratelimit *rl = userdata;
	(void)event_id;
	(void)event;
	sweep_addresses(rl, rl->api->now_ms());
	return CHATD_OK;
}

/* ---- options ---- */

static const struct int_option *find_int_option(const char *key)
{
	for (size_t i = 0; i < sizeof int_options / sizeof int_options[0]; i++)
		if (!strcmp(int_options[i].key, key))
			return &int_options[i];
	return NULL;
}

/* Apply one option to values / shadow. Returns 0, or -1 after option_error. */
static int apply_option(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opt,
			struct rl_values *values, int *shadow)
{
	if (!strcmp(opt->key, "mode")) {
		if (strcmp(opt->value, "enforce") && strcmp(opt->value, "shadow")) {
			api->option_error(self, opt, "'%s' is not 'enforce' or 'shadow'", opt->value);
			return -1;
		}
		*shadow = !strcmp(opt->value, "shadow");
		return 0;
	}
	const struct int_option *io = find_int_option(opt->key);
	if (!io) {
		api->option_error(self, opt, "unknown option");
		return -1;
	}
	long long v;
	if (parse_count(opt->value, io->sizes, &v) || v < io->min || v > io->max) {
		api->option_error(self, opt, "'%s' is not a whole number from %lld to %lld%s", opt->value, io->min,
				  io->max, io->sizes ? " (k and M suffixes allowed)" : "");
		return -1;
	}
	*(long long *)((char *)values + io->offset) = v;
	return 0;
}

/* Parse every option into rl->cfg. Returns 0, or -1 after option_error. */
static int configure(struct ratelimit *rl, const struct chatd_option *opts, int nopts)
{
	struct rl_values v = default_values;
	int shadow = 0;
	for (int i = 0; i < nopts; i++)
		if (apply_option(rl->self, rl->api, &opts[i], &v, &shadow))
			return -1;
	rl->cfg = (struct rl_config){
		.conn_msgs = make_rate(v.msg_rate, v.msg_burst),
		.conn_bytes = make_rate(v.byte_rate, v.byte_burst),
		.addr_msgs = make_rate(v.addr_msg_rate, v.addr_msg_burst),
		.addr_bytes = make_rate(v.addr_byte_rate, v.addr_byte_burst),
		.max_connections = v.max_connections,
		.flood_close_after = v.flood_close_after,
		.shadow = shadow,
	};
	return 0;
}

static int register_hooks(struct ratelimit *rl)
{
	const struct chatd_api *api = rl->api;
	chatd_plugin *self = rl->self;
	return api->hook_register(self, CHATD_EV_CONNECT, on_connect_check, rl, CHATD_PRIO_EARLY) ||
	       api->hook_register(self, CHATD_EV_CONNECT, on_connect_commit, rl, INT_MAX) ||
	       api->hook_register(self, CHATD_EV_RECEIVE, on_receive, rl, CHATD_PRIO_EARLY) ||
	       api->hook_register(self, CHATD_EV_MESSAGE, on_message, rl, CHATD_PRIO_EARLY) ||
	       api->hook_register(self, CHATD_EV_DISCONNECT, on_disconnect, rl, CHATD_PRIO_DEFAULT) ||
	       api->hook_register(self, CHATD_EV_TICK, on_tick, rl, CHATD_PRIO_DEFAULT) ||
	       (CHATD_API_HAS(api, private_send) && /* a core with private messages (issue 16) */
		api->hook_register(self, CHATD_EV_PRIVATE, on_private, rl, CHATD_PRIO_EARLY));
}

/* Make every counter visible on /metrics from the start. */
static void announce_counters(struct ratelimit *rl)
{
	static const char *const names[] = { "refused_messages", "refused_bytes", "refused_connections",
					     "flood_closed", "shadow_would_refuse", "tracked_addresses" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		rl->api->counter_add(rl->self, names[i], 0);
}

/* Entry point: the ABI version this plugin speaks, -1 if the core lacks it. */
CHATD_PLUGIN_DEFINE_VERSION();

/* Entry point: validate options, set up the address table, register hooks.
 * Returns 0, or -1 (after api->option_error for a bad option). */
CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct ratelimit *rl = calloc(1, sizeof *rl);
	if (!rl)
		return -1;
	rl->api = api;
	rl->self = self;
	if (configure(rl, opts, nopts) || table_init(&rl->table, random_seed(rl)))
		goto fail;
	if (register_hooks(rl))
		goto fail;
	announce_counters(rl);
	if (rl->cfg.shadow)
		api->log(self, CHATD_LOG_NOTICE, "shadow mode: limits are counted and logged, nothing is refused");
	*userdata = rl;
	return 0;
fail:
	table_free(&rl->table);
	free(rl);
	return -1;
}

/* Entry point: free the address table (every client is gone by now). */
CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	struct ratelimit *rl = userdata;
	if (!rl)
		return;
	table_free(&rl->table);
	free(rl);
}
