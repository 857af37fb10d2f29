#include "options.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An integer option: its key, where it goes, its bounds. */
struct int_option {
	const char *key;
	size_t offset;
	int64_t min, max;
};

#define IO(key, field, min, max) { key, offsetof(struct cluster_options, field), min, max }

static const struct int_option int_options[] = {
	IO("request_timeout_ms", request_timeout_ms, 100, 60000),
	IO("heartbeat_ms", heartbeat_ms, 100, 10000),
	IO("lease_beats", lease_beats, 3, 1000),
	IO("retention", retention, 100, 100000000),
	IO("replay", replay, 0, 100000),
	IO("max_replay", max_replay, 1, 100000),
	IO("max_requests", max_requests, 10, 10000000),
	IO("max_request_bytes", max_request_bytes, 65536, (int64_t)1 << 34),
	IO("address_messages_per_second", address_rate, 0, 1000000),
	IO("address_message_burst", address_burst, 1, 10000000),
};

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (!*s)
		return -1;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* "HOST:PORT", "[V6]:PORT" or "unix:PATH". */
static int parse_redis(const char *v, struct cluster_options *o)
{
	if (!strncmp(v, "unix:", 5)) {
		if (!v[5] || strlen(v + 5) >= sizeof o->unix_path)
			return -1;
		snprintf(o->unix_path, sizeof o->unix_path, "%s", v + 5);
		return 0;
	}
	const char *colon = strrchr(v, ':');
	int64_t port;
	if (!colon || colon == v || parse_int(colon + 1, &port) || port < 1 || port > 65535)
		return -1;
	const char *h = v;
	size_t n = (size_t)(colon - v);
	if (h[0] == '[' && n >= 2 && h[n - 1] == ']')
		h++, n -= 2;
	if (!n || n >= sizeof o->host)
		return -1;
	memcpy(o->host, h, n);
	o->host[n] = 0;
	o->port = (int)port;
	o->unix_path[0] = 0;
	return 0;
}

static int name_char(char c, int colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.' || (colon && c == ':');
}

/* 1 when v is 1..max characters of [A-Za-z0-9_.-] (and ':' when colon). */
static int valid_word(const char *v, size_t max, int colon)
{
	size_t n = strlen(v);
	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!name_char(v[i], colon))
			return 0;
	return 1;
}

static void defaults(struct cluster_options *o)
{
	memset(o, 0, sizeof *o);
	snprintf(o->host, sizeof o->host, "127.0.0.1");
	o->port = 6379;
	snprintf(o->prefix, sizeof o->prefix, "chatd:");
	char host[64] = "node";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	for (char *p = host; *p; p++)
		if (!name_char(*p, 0))
			*p = '_';
	snprintf(o->node_name, sizeof o->node_name, "%.30s.%ld", host, (long)getpid());
	o->request_timeout_ms = 1000; /* with timer and scheduling slack, an error within 2 s */
	o->heartbeat_ms = 500;
	o->lease_beats = 10;
	o->retention = 10000;
	o->replay = 50;
	o->max_replay = 1000;
	o->max_requests = 20000;
	o->max_request_bytes = 32 << 20;
	o->address_rate = 20;
	o->address_burst = 40;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_one(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opt,
		     struct cluster_options *o)
{
	const char *k = opt->key, *v = opt->value;
	if (!strcmp(k, "redis")) {
		if (parse_redis(v, o)) {
			api->option_error(self, opt, "'%s' is not HOST:PORT or unix:PATH", v);
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "prefix")) {
		if (!valid_word(v, CLUSTER_PREFIX_MAX, 1)) {
			api->option_error(self, opt, "must be 1 to %d characters of A-Z a-z 0-9 _ . - :", CLUSTER_PREFIX_MAX);
			return -1;
		}
		snprintf(o->prefix, sizeof o->prefix, "%s", v);
		return 0;
	}
	if (!strcmp(k, "node_name")) {
		if (!valid_word(v, CLUSTER_NODE_NAME_MAX, 0)) {
			api->option_error(self, opt, "must be 1 to %d characters of A-Z a-z 0-9 _ . -", CLUSTER_NODE_NAME_MAX);
			return -1;
		}
		snprintf(o->node_name, sizeof o->node_name, "%s", v);
		return 0;
	}
	if (!strcmp(k, "allow_no_persistence")) {
		if (parse_bool(v, &o->allow_no_persistence)) {
			api->option_error(self, opt, "must be yes or no");
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof int_options / sizeof int_options[0]; i++) {
		const struct int_option *io = &int_options[i];
		if (strcmp(k, io->key))
			continue;
		int64_t n;
		if (parse_int(v, &n) || n < io->min || n > io->max) {
			api->option_error(self, opt, "must be an integer from %lld to %lld", (long long)io->min,
					  (long long)io->max);
			return -1;
		}
		*(int64_t *)((char *)o + io->offset) = n;
		return 0;
	}
	api->option_error(self, opt, "unknown option");
	return -1;
}

int cluster_options_parse(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts,
			  int nopts, struct cluster_options *out)
{
	const struct chatd_option *replay_opt = NULL;
	defaults(out);
	for (int i = 0; i < nopts; i++) {
		if (parse_one(self, api, &opts[i], out))
			return -1;
		if (!strcmp(opts[i].key, "replay"))
			replay_opt = &opts[i];
	}
	if (!replay_opt && out->replay > out->max_replay)
		out->replay = out->max_replay;
	if (out->replay > out->max_replay) {
		api->option_error(self, replay_opt, "larger than max_replay (%lld)", (long long)out->max_replay);
		return -1;
	}
	if (out->request_timeout_ms >= out->heartbeat_ms * out->lease_beats) {
		api->option_error(self, NULL, "request_timeout_ms (%lld) must be shorter than the lease "
				  "(heartbeat_ms x lease_beats = %lld ms)", (long long)out->request_timeout_ms,
				  (long long)(out->heartbeat_ms * out->lease_beats));
		return -1;
	}
	return 0;
}
