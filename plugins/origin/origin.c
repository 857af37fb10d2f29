/*
 * origin: refuse WebSocket handshakes from web pages of other sites
 * (cross-site WebSocket hijacking) by checking the Origin header.
 *
 *   [plugin origin]
 *   allow = http://localhost:8000 https://chat.example.org   (exact origins; "null" allowed only if listed)
 *   allow_missing = yes      handshakes without Origin (non-browser clients)
 *   mode = enforce           or shadow: count and log, refuse nothing
 *
 * Without `allow`, an Origin is accepted when its host and port equal the
 * request's Host header (same origin). Refused handshakes get HTTP 403
 * "origin not allowed". See docs/plugins/origin.md.
 */
#include <chatd/plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 256          /* a DNS name is at most 253 bytes */
#define SHADOW_LOG_MS 10000   /* at most one shadow line per address per this */
#define LOG_CACHE_SLOTS 64    /* addresses remembered for shadow log pacing */
#define ADDRESS_MAX 64

/* A parsed origin: scheme and host lower-case, port explicit. */
struct origin_spec {
	int https;                /* 0 http, 1 https */
	char host[HOST_MAX];
	int port;
};

/* When an address last got a shadow line (direct-mapped, collisions evict). */
struct log_slot {
	char address[ADDRESS_MAX];
	int64_t last_ms;
	long long suppressed;
};

struct origin_state {
	const struct chatd_api *api;
	chatd_plugin *self;
	struct origin_spec *allow; /* NULL with nallow 0: same-origin policy */
	size_t nallow;
	int allow_null;            /* "null" is in the allow list */
	int allow_missing;
	int shadow;
	struct log_slot log_cache[LOG_CACHE_SLOTS];
};

/* ---- parsing ---- */

static int default_port(int https) { return https ? 443 : 80; }

static int is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
	       ch == '.' || ch == '_';
}

static int is_ipv6_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == ':' ||
	       ch == '.';
}

/* Length of the host at s: a name of [A-Za-z0-9._-] or a bracketed IPv6
 * literal. 0 when there is none. */
static size_t host_length(const char *s)
{
	size_t n = 0;
	if (*s == '[') {
		for (n = 1; is_ipv6_char(s[n]); n++)
			;
		return s[n] == ']' && n > 1 ? n + 1 : 0;
	}
	while (is_host_char(s[n]))
		n++;
	return n;
}

/* ":1234" at s (or nothing): *port gets it, or 0 when absent. Returns the
 * characters used, or -1 for an empty, non-numeric or out-of-range port. */
static int parse_port(const char *s, int *port)
{
	*port = 0;
	if (*s != ':')
		return 0;
	int n = 1;
	long v = 0;
	for (; s[n] >= '0' && s[n] <= '9' && n <= 6; n++)
		v = v * 10 + (s[n] - '0');
	if (n == 1 || n > 6 || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return n;
}

/* "host[:port]" (the whole string): lower-cased host into out, port or 0. */
static int parse_authority(const char *s, char *host, size_t hostsz, int *port)
{
	size_t n = host_length(s);
	if (!n || n >= hostsz)
		return -1;
	int used = parse_port(s + n, port);
	if (used < 0 || s[n + (size_t)used])
		return -1;
	for (size_t i = 0; i < n; i++)
		host[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	host[n] = 0;
	return 0;
}

/* An origin "scheme://host[:port]" with scheme http or https (any case), no
 * path, user or query. Default ports are filled in. Returns 0 or -1. */
static int parse_origin(const char *s, struct origin_spec *out)
{
	if (!strncasecmp(s, "http://", 7))
		out->https = 0, s += 7;
	else if (!strncasecmp(s, "https://", 8))
		out->https = 1, s += 8;
	else
		return -1;
	if (parse_authority(s, out->host, sizeof out->host, &out->port))
		return -1;
	if (!out->port)
		out->port = default_port(out->https);
	return 0;
}

static int same_origin(const struct origin_spec *a, const struct origin_spec *b)
{
	return a->https == b->https && a->port == b->port && !strcmp(a->host, b->host);
}

/* ---- the check ---- */

/* Whether a parsed Origin is in the allow list. */
static int listed(const struct origin_state *st, const struct origin_spec *o)
{
	for (size_t i = 0; i < st->nallow; i++)
		if (same_origin(&st->allow[i], o))
			return 1;
	return 0;
}

/* Same-origin policy: the Origin's host and port are the Host header's (a
 * Host without a port means the Origin scheme's default port). */
static int matches_host_header(const struct origin_spec *o, const char *host_header)
{
	char host[HOST_MAX];
	int port;
	if (!host_header || parse_authority(host_header, host, sizeof host, &port))
		return 0;
	if (!port)
		port = default_port(o->https);
	return port == o->port && !strcmp(host, o->host);
}

/* NULL when the handshake may proceed, else why not (for the log). */
static const char *origin_refusal(struct origin_state *st, const struct chatd_connect_event *ev)
{
	struct origin_spec o;
	if (!ev->origin) {
		st->api->counter_add(st->self, "missing_origin", 1);
		return st->allow_missing ? NULL : "no Origin header";
	}
	if (!strcasecmp(ev->origin, "null"))
		return st->allow_null ? NULL : "Origin null";
	if (parse_origin(ev->origin, &o))
		return "malformed Origin";
	if (st->nallow || st->allow_null)
		return listed(st, &o) ? NULL : "Origin not in the allow list";
	return matches_host_header(&o, ev->host) ? NULL : "Origin is not the Host (same-origin policy)";
}

/* Copy s for a log line: printable ASCII only, at most outsz - 1 bytes. */
static void printable_copy(char *out, size_t outsz, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < outsz; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[n] = 0;
}

static struct log_slot *log_slot_for(struct origin_state *st, const char *address)
{
	uint32_t h = 2166136261u;
	for (const char *p = address; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &st->log_cache[h % LOG_CACHE_SLOTS];
}

/* Shadow mode: count, and log at most one line per address per 10 s. */
static void shadow_note(struct origin_state *st, const struct chatd_connect_event *ev, const char *why)
{
	st->api->counter_add(st->self, "shadow_would_refuse", 1);
	int64_t now = st->api->now_ms();
	struct log_slot *slot = log_slot_for(st, ev->address);
	if (!strncmp(slot->address, ev->address, sizeof slot->address) && now >= slot->last_ms &&
	    now - slot->last_ms < SHADOW_LOG_MS) {
		slot->suppressed++;
		return;
	}
	long long suppressed = strncmp(slot->address, ev->address, sizeof slot->address) ? 0 : slot->suppressed;
	char origin[128], host[128];
	printable_copy(origin, sizeof origin, ev->origin ? ev->origin : "(none)");
	printable_copy(host, sizeof host, ev->host ? ev->host : "(none)");
	st->api->log(st->self, CHATD_LOG_NOTICE,
		     "shadow mode: would refuse %s: %s (Origin %s, Host %s; %lld similar since the last line)",
		     ev->address, why, origin, host, suppressed);
	snprintf(slot->address, sizeof slot->address, "%s", ev->address);
	slot->last_ms = now;
	slot->suppressed = 0;
}

/* CHATD_EV_CONNECT, early: 403 for an Origin that is not allowed. */
static int on_connect(int event_id, void *event, void *userdata)
{
	struct chatd_connect_event *ev = event;
	struct origin_state *st = userdata;
	(void)event_id;
	const char *why = origin_refusal(st, ev);
	if (!why)
		return CHATD_OK;
	if (st->shadow) {
		shadow_note(st, ev, why);
		return CHATD_OK;
	}
	st->api->counter_add(st->self, "refused", 1);
	ev->http_status = 403;
	ev->reason = "origin not allowed";
	return CHATD_DENY;
}

/* ---- options ---- */

/* One allow-list word into st. Returns 0, or -1 after option_error. */
static int add_allowed(struct origin_state *st, const struct chatd_option *opt, const char *word)
{
	if (!strcasecmp(word, "null")) {
		st->allow_null = 1;
		return 0;
	}
	struct origin_spec o;
	if (parse_origin(word, &o)) {
		st->api->option_error(st->self, opt,
				      "'%s' is not an origin: write scheme://host[:port] with scheme http or https "
				      "and no path (or null)",
				      word);
		return -1;
	}
	struct origin_spec *n = realloc(st->allow, (st->nallow + 1) * sizeof *n);
	if (!n) {
		st->api->option_error(st->self, opt, "out of memory");
		return -1;
	}
	st->allow = n;
	st->allow[st->nallow++] = o;
	return 0;
}

/* allow = ORIGIN [ORIGIN ...], white-space separated. */
static int parse_allow(struct origin_state *st, const struct chatd_option *opt)
{
	char *copy = strdup(opt->value), *save = NULL;
	int rc = -1, words = 0;
	if (!copy) {
		st->api->option_error(st->self, opt, "out of memory");
		return -1;
	}
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save), words++)
		if (add_allowed(st, opt, w))
			goto done;
	if (!words) {
		st->api->option_error(st->self, opt, "needs at least one origin");
		goto done;
	}
	rc = 0;
done:
	free(copy);
	return rc;
}

/* yes/no (also true/false, on/off, 1/0) into *out. Returns 0 or -1. */
static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = 1, 0;
		if (!strcasecmp(s, no[i]))
			return *out = 0, 0;
	}
	return -1;
}

static int apply_option(struct origin_state *st, const struct chatd_option *opt)
{
	if (!strcmp(opt->key, "allow"))
		return parse_allow(st, opt);
	if (!strcmp(opt->key, "allow_missing")) {
		if (!parse_bool(opt->value, &st->allow_missing))
			return 0;
		st->api->option_error(st->self, opt, "'%s' is not yes or no", opt->value);
		return -1;
	}
	if (!strcmp(opt->key, "mode")) {
		if (!strcmp(opt->value, "enforce") || !strcmp(opt->value, "shadow")) {
			st->shadow = !strcmp(opt->value, "shadow");
			return 0;
		}
		st->api->option_error(st->self, opt, "'%s' is not 'enforce' or 'shadow'", opt->value);
		return -1;
	}
	st->api->option_error(st->self, opt, "unknown option");
	return -1;
}

static void announce_counters(struct origin_state *st)
{
	static const char *const names[] = { "refused", "shadow_would_refuse", "missing_origin" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		st->api->counter_add(st->self, names[i], 0);
}

static void origin_state_free(struct origin_state *st)
{
	if (!st)
		return;
	free(st->allow);
	free(st);
}

/* Entry point: the ABI version this plugin speaks, -1 if the core lacks it. */
CHATD_PLUGIN_DEFINE_VERSION();

/* Entry point: parse the allow list and options, register the CONNECT hook.
 * Returns 0, or -1 (after api->option_error for a bad option). */
CHATD_EXPORT int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api,
				   const struct chatd_option *opts, int nopts, void **userdata)
{
	struct origin_state *st = calloc(1, sizeof *st);
	if (!st)
		return -1;
	st->api = api;
	st->self = self;
	st->allow_missing = 1;
	for (int i = 0; i < nopts; i++)
		if (apply_option(st, &opts[i]))
			goto fail;
	if (api->hook_register(self, CHATD_EV_CONNECT, on_connect, st, CHATD_PRIO_EARLY))
		goto fail;
	announce_counters(st);
	if (st->shadow)
		api->log(self, CHATD_LOG_NOTICE, "shadow mode: origins are checked and logged, nothing is refused");
	*userdata = st;
	return 0;
fail:
	origin_state_free(st);
	return -1;
}

/* Entry point: free the allow list. */
CHATD_EXPORT void chatd_plugin_cleanup(void *userdata)
{
	origin_state_free(userdata);
}
