#include "config.h"
#include "log.h"
#include "proxy.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind { OPT_INT, OPT_SIZE, OPT_PATH, OPT_STR, OPT_LOGLEVEL, OPT_BOOL, OPT_ROOMGLOBS, OPT_NETS };

/* One [server] key: its name, type, where it lives and its bounds. */
struct server_key {
	const char *name;
	enum opt_kind kind;
	size_t offset;
	long long min, max;
};

#define SK(name, kind, field, min, max) { name, kind, offsetof(struct chatd_config, field), min, max }

static const struct server_key server_keys[] = {
	SK("port", OPT_INT, port, 0, 65535),
	SK("bind", OPT_STR, bind, 0, 0),
	SK("web_root", OPT_PATH, web_root, 0, 0),
	SK("data_dir", OPT_PATH, data_dir, 0, 0),
	SK("plugin_dir", OPT_PATH, plugin_dir, 0, 0),
	SK("log_level", OPT_LOGLEVEL, log_level, 0, 0),
	SK("max_message_bytes", OPT_SIZE, max_message_bytes, 16, 1 << 20),
	SK("max_frame_bytes", OPT_SIZE, max_frame_bytes, 64, 16 << 20),
	SK("max_fragments", OPT_INT, max_fragments, 1, 100000),
	SK("send_queue_bytes", OPT_SIZE, send_queue_bytes, 4096, 1LL << 30),
	SK("send_queue_soft_bytes", OPT_SIZE, send_queue_soft_bytes, 1024, 1LL << 30),
	SK("max_bad_frames", OPT_INT, max_bad_frames, 1, 1000000),
	SK("handshake_timeout", OPT_INT, handshake_timeout_s, 1, 3600),
	SK("fragment_timeout", OPT_INT, fragment_timeout_s, 1, 3600),
	SK("ping_interval", OPT_INT, ping_interval_s, 0, 86400),
	SK("rx_buffer_size", OPT_INT, rx_buffer_size, 128, 1 << 20),
	SK("max_connections", OPT_INT, max_connections, 1, 1000000),
	SK("big_room_members", OPT_INT, big_room_members, 2, 10000000),
	SK("presence_interval_ms", OPT_INT, presence_interval_ms, 10, 60000),
	SK("io_uring", OPT_BOOL, io_uring, 0, 1),
	SK("max_rooms_per_client", OPT_INT, max_rooms_per_client, 1, 10000),
	SK("unlisted_rooms", OPT_ROOMGLOBS, unlisted_rooms, 0, 0),
	SK("trusted_proxies", OPT_NETS, trusted_proxies, 0, 0),
	SK("presence_grace_ms", OPT_INT, presence_grace_ms, 0, 600000),
	SK("reuse_port", OPT_BOOL, reuse_port, 0, 1),
};

int config_set_str(char **field, const char *value)
{
	char *copy = value ? strdup(value) : NULL;
	if (value && !copy)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int config_defaults(struct chatd_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->port = 8000;
	cfg->log_level = LOG_NOTICE;
	cfg->max_message_bytes = 4096;
	cfg->max_frame_bytes = 65536;
	cfg->max_fragments = 64;
	cfg->send_queue_bytes = 1 << 20;
	cfg->send_queue_soft_bytes = 256 << 10;
	cfg->max_bad_frames = 20;
	cfg->handshake_timeout_s = 5;
	cfg->fragment_timeout_s = 10;
	cfg->ping_interval_s = 0;
	cfg->rx_buffer_size = 512;
	cfg->max_connections = 19000;
	cfg->big_room_members = 200;
	cfg->presence_interval_ms = 1000;
	cfg->io_uring = 1;
	cfg->max_rooms_per_client = 64;
	cfg->presence_grace_ms = 5000;
	if (config_set_str(&cfg->web_root, CHATD_DEFAULT_WEB_ROOT) ||
	    config_set_str(&cfg->data_dir, CHATD_DEFAULT_DATA_DIR) ||
	    config_set_str(&cfg->plugin_dir, CHATD_DEFAULT_PLUGIN_DIR))
		return -1;
	return 0;
}

void config_free(struct chatd_config *cfg)
{
	free(cfg->file);
	free(cfg->bind);
	free(cfg->web_root);
	free(cfg->data_dir);
	free(cfg->plugin_dir);
	free(cfg->unlisted_rooms);
	free(cfg->trusted_proxies);
	for (int i = 0; i < cfg->nplugins; i++) {
		struct plugin_conf *p = &cfg->plugins[i];
		for (int j = 0; j < p->nopts; j++) {
			free((char *)p->opts[j].key);
			free((char *)p->opts[j].value);
		}
		free(p->opts);
		free(p->name);
		free(p->path);
	}
	free(cfg->plugins);
	memset(cfg, 0, sizeof *cfg);
}

/* The parse state: where we are, for error messages. */
struct parser {
	struct chatd_config *cfg;
	const char *name;
	const char *base_dir;
	int line;
	char *err;
	size_t errsz;
	int soft_line, hard_line;      /* where send_queue_soft_bytes / send_queue_bytes were set (0: default) */
	int message_line, frame_line;  /* where max_message_bytes / max_frame_bytes were set (0: default) */
};

static int parse_fail(struct parser *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int parse_fail(struct parser *p, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (key)
		snprintf(p->err, p->errsz, "%s:%d: key '%s': %s", p->name, p->line, key, why);
	else
		snprintf(p->err, p->errsz, "%s:%d: %s", p->name, p->line, why);
	return -1;
}

/* Join a relative path to base_dir; absolute paths are kept. Returns new. */
static char *resolve_path(const char *base_dir, const char *value)
{
	if (value[0] == '/' || !base_dir || !base_dir[0])
		return strdup(value);
	size_t n = strlen(base_dir) + strlen(value) + 2;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", base_dir, value);
	return out;
}

/* Parse "123", "64k", "1M" into *out. Returns 0 or -1. */
static int parse_number(const char *s, int allow_suffix, long long *out)
{
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno)
		return -1;
	long long mul = 1;
	if (allow_suffix && (*end == 'k' || *end == 'K'))
		mul = 1024, end++;
	else if (allow_suffix && (*end == 'm' || *end == 'M'))
		mul = 1024 * 1024, end++;
	if (v > LLONG_MAX / mul || v < LLONG_MIN / mul) /* out of every range anyway */
		return -1;
	v *= mul;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* A space-separated list of room-name globs: each of the characters of room
 * names and * ? [ ] - !; stored lower case (room names are). */
static int set_room_globs(struct parser *p, const char *key, char **field, const char *value)
{
	if (!*value)
		return parse_fail(p, key, "empty value");
	char *copy = strdup(value);
	if (!copy)
		return parse_fail(p, key, "out of memory");
	for (char *c = copy; *c; c++) {
		if (*c == '\t')
			*c = ' ';
		else if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
		else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr(" ._-*?[]!", *c))) {
			char bad = *c;
			free(copy);
			return parse_fail(p, key, "'%c' cannot be part of a room name pattern (room names are A-Z a-z "
					  "0-9 . _ -, patterns add * ? [ ] !)", bad);
		}
	}
	free(*field);
	*field = copy;
	return 0;
}

static int set_server_key(struct parser *p, const char *key, const char *value)
{
	const struct server_key *k = NULL;
	for (size_t i = 0; i < sizeof server_keys / sizeof server_keys[0]; i++)
		if (!strcmp(server_keys[i].name, key))
			k = &server_keys[i];
	if (!k)
		return parse_fail(p, key, "unknown key in [server]");
	char *base = (char *)p->cfg;
	long long v;
	switch (k->kind) {
	case OPT_INT:
	case OPT_SIZE:
		if (parse_number(value, k->kind == OPT_SIZE, &v))
			return parse_fail(p, key, "'%s' is not a number", value);
		if (v < k->min || v > k->max)
			return parse_fail(p, key, "%lld is out of range %lld..%lld", v, k->min, k->max);
		if (!strcmp(key, "send_queue_soft_bytes"))
			p->soft_line = p->line;
		else if (!strcmp(key, "send_queue_bytes"))
			p->hard_line = p->line;
		else if (!strcmp(key, "max_message_bytes"))
			p->message_line = p->line;
		else if (!strcmp(key, "max_frame_bytes"))
			p->frame_line = p->line;
		if (k->kind == OPT_INT)
			*(int *)(base + k->offset) = (int)v;
		else
			*(size_t *)(base + k->offset) = (size_t)v;
		return 0;
	case OPT_BOOL:
		if (!strcmp(value, "on") || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			*(int *)(base + k->offset) = 1;
		else if (!strcmp(value, "off") || !strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			*(int *)(base + k->offset) = 0;
		else
			return parse_fail(p, key, "'%s' is not one of on, off (yes, no, true, false, 1, 0)", value);
		return 0;
	case OPT_LOGLEVEL:
		if ((v = log_level_parse(value)) < 0)
			return parse_fail(p, key, "'%s' is not one of err, warn, notice, info, debug", value);
		*(int *)(base + k->offset) = (int)v;
		return 0;
	case OPT_STR:
		if (!*value)
			return parse_fail(p, key, "empty value");
		return config_set_str((char **)(base + k->offset), value) ? parse_fail(p, key, "out of memory") : 0;
	case OPT_ROOMGLOBS:
		return set_room_globs(p, key, (char **)(base + k->offset), value);
	case OPT_NETS: { /* trusted_proxies: the only key of this kind */
		struct proxy_net *nets;
		size_t n;
		char why[200];
		if (proxy_nets_parse(value, &nets, &n, why, sizeof why))
			return parse_fail(p, key, "%s", why);
		free(p->cfg->trusted_proxies);
		p->cfg->trusted_proxies = nets;
		p->cfg->ntrusted_proxies = n;
		return 0;
	}
	case OPT_PATH: {
		if (!*value)
			return parse_fail(p, key, "empty path");
		char *path = resolve_path(p->base_dir, value);
		if (!path)
			return parse_fail(p, key, "out of memory");
		char **field = (char **)(base + k->offset);
		free(*field);
		*field = path;
		if (!strcmp(key, "web_root"))
			p->cfg->web_root_line = p->line;
		else if (!strcmp(key, "data_dir"))
			p->cfg->data_dir_line = p->line;
		return 0;
	}
	}
	return parse_fail(p, key, "internal error");
}

static int add_plugin_option(struct parser *p, struct plugin_conf *pc, const char *key, const char *value)
{
	if (!strcmp(key, "path")) {
		if (pc->path)
			return parse_fail(p, key, "given twice in [plugin %s]", pc->name);
		if (!*value)
			return parse_fail(p, key, "empty path");
		pc->path = resolve_path(p->base_dir, value);
		return pc->path ? 0 : parse_fail(p, key, "out of memory");
	}
	for (int i = 0; i < pc->nopts; i++)
		if (!strcmp(pc->opts[i].key, key))
			return parse_fail(p, key, "given twice in [plugin %s]", pc->name);
	struct chatd_option *n = realloc(pc->opts, (size_t)(pc->nopts + 1) * sizeof *n);
	if (!n)
		return parse_fail(p, key, "out of memory");
	pc->opts = n;
	n[pc->nopts].key = strdup(key);
	n[pc->nopts].value = strdup(value);
	n[pc->nopts].line = p->line;
	if (!n[pc->nopts].key || !n[pc->nopts].value) {
		free((char *)n[pc->nopts].key);
		free((char *)n[pc->nopts].value);
		return parse_fail(p, key, "out of memory");
	}
	pc->nopts++;
	return 0;
}

static int valid_ident(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* Handle "[server]" or "[plugin NAME]"; sets *section (0 server, 1 plugin). */
static int parse_section(struct parser *p, char *line, int *section, int *seen_server)
{
	size_t n = strlen(line);
	if (line[n - 1] != ']')
		return parse_fail(p, NULL, "section header without a closing ']'");
	line[n - 1] = 0;
	char *inner = trim(line + 1);
	if (!strcmp(inner, "server")) {
		if ((*seen_server)++)
			return parse_fail(p, NULL, "[server] given twice");
		*section = 0;
		return 0;
	}
	if (strncmp(inner, "plugin", 6) || (inner[6] != ' ' && inner[6] != '\t'))
		return parse_fail(p, NULL, "unknown section [%s] (expected [server] or [plugin NAME])", inner);
	char *name = trim(inner + 6);
	if (!valid_ident(name))
		return parse_fail(p, NULL, "plugin name '%s' must be letters, digits, '_', '-' or '.'", name);
	for (int i = 0; i < p->cfg->nplugins; i++)
		if (!strcmp(p->cfg->plugins[i].name, name))
			return parse_fail(p, NULL, "[plugin %s] given twice (first on line %d)", name,
					  p->cfg->plugins[i].line);
	struct plugin_conf *np = realloc(p->cfg->plugins, (size_t)(p->cfg->nplugins + 1) * sizeof *np);
	if (!np)
		return parse_fail(p, NULL, "out of memory");
	p->cfg->plugins = np;
	memset(&np[p->cfg->nplugins], 0, sizeof *np);
	np[p->cfg->nplugins].name = strdup(name);
	np[p->cfg->nplugins].line = p->line;
	if (!np[p->cfg->nplugins].name)
		return parse_fail(p, NULL, "out of memory");
	p->cfg->nplugins++;
	*section = 1;
	return 0;
}

/* Strip a trailing " # comment" and surrounding quotes from a value. */
static char *clean_value(char *v)
{
	for (char *c = v; *c; c++)
		if (*c == '#' && c > v && (c[-1] == ' ' || c[-1] == '\t')) {
			*c = 0;
			break;
		}
	v = trim(v);
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = 0;
		v++;
	}
	return v;
}

/* Two keys that disagree: key small (value sv, set on line sl, 0 = the
 * default) must not be larger than key big. The message names both keys
 * with their own lines and sits at the later of the two. */
static void cross_check_fail(struct parser *p, const char *small, size_t sv, int sl, const char *big, size_t bv, int bl)
{
	char sw[32], bw[32];
	if (sl)
		snprintf(sw, sizeof sw, "line %d", sl);
	else
		snprintf(sw, sizeof sw, "the default");
	if (bl)
		snprintf(bw, sizeof bw, "line %d", bl);
	else
		snprintf(bw, sizeof bw, "the default");
	snprintf(p->err, p->errsz, "%s:%d: key '%s' (%zu, %s) must not be larger than key '%s' (%zu, %s)", p->name,
		 sl > bl ? sl : bl, small, sv, sw, big, bv, bw);
}

int config_parse(struct chatd_config *cfg, const char *name, const char *text, size_t len,
		 const char *base_dir, char *err, size_t errsz)
{
	struct parser p = { cfg, name, base_dir, 0, err, errsz, 0, 0, 0, 0 };
	int section = -1, seen_server = 0, rc = -1;
	char *buf = malloc(len + 1);
	if (!buf) {
		snprintf(err, errsz, "%s: out of memory", name);
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = 0;
	char *cur = buf;
	while (cur) {
		char *nl = strchr(cur, '\n');
		if (nl)
			*nl = 0;
		p.line++;
		if (strlen(cur) != (size_t)((nl ? nl : buf + len) - cur)) {
			parse_fail(&p, NULL, "NUL byte in line");
			goto fail;
		}
		char *line = trim(cur);
		cur = nl ? nl + 1 : NULL;
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			if (parse_section(&p, line, &section, &seen_server))
				goto fail;
			continue;
		}
		char *eq = strchr(line, '=');
		if (!eq) {
			parse_fail(&p, NULL, "expected 'key = value', '[server]' or '[plugin NAME]'");
			goto fail;
		}
		*eq = 0;
		char *key = trim(line), *value = clean_value(eq + 1);
		if (!valid_ident(key)) {
			parse_fail(&p, key, "not a valid key name");
			goto fail;
		}
		if (section < 0) {
			parse_fail(&p, key, "key outside a section (start with [server])");
			goto fail;
		}
		if (section == 0 ? set_server_key(&p, key, value)
				 : add_plugin_option(&p, &cfg->plugins[cfg->nplugins - 1], key, value))
			goto fail;
	}
	if (cfg->send_queue_soft_bytes > cfg->send_queue_bytes) {
		cross_check_fail(&p, "send_queue_soft_bytes", cfg->send_queue_soft_bytes, p.soft_line, "send_queue_bytes",
				 cfg->send_queue_bytes, p.hard_line);
		goto fail;
	}
	if (cfg->max_message_bytes > cfg->max_frame_bytes) {
		cross_check_fail(&p, "max_message_bytes", cfg->max_message_bytes, p.message_line, "max_frame_bytes",
				 cfg->max_frame_bytes, p.frame_line);
		goto fail;
	}
	rc = 0;
fail:
	free(buf);
	return rc;
}

int config_load(struct chatd_config *cfg, const char *file, char *err, size_t errsz)
{
	FILE *f = fopen(file, "rb");
	char *text = NULL, *dir = NULL;
	int rc = -1;
	if (!f) {
		snprintf(err, errsz, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0, n;
	if (!(text = malloc(cap)))
		goto oom;
	while ((n = fread(text + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= (1 << 20)) {
				snprintf(err, errsz, "%s: larger than 1 MiB", file);
				goto fail;
			}
			char *t = realloc(text, cap *= 2);
			if (!t)
				goto oom;
			text = t;
		}
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error: %s", file, strerror(errno));
		goto fail;
	}
	if (!(dir = strdup(file)))
		goto oom;
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	else
		strcpy(dir, ".");
	if (config_parse(cfg, file, text, len, dir, err, errsz))
		goto fail;
	if (config_set_str(&cfg->file, file))
		goto oom;
	rc = 0;
	goto fail;
oom:
	snprintf(err, errsz, "%s: out of memory", file);
fail:
	free(dir);
	free(text);
	fclose(f);
	return rc;
}

void config_origin(const struct chatd_config *cfg, const char *key, int line, const char *flag, char *out, size_t outsz)
{
	if (line > 0)
		snprintf(out, outsz, "%s:%d: key '%s'", cfg->file ? cfg->file : "(config)", line, key);
	else if (line < 0)
		snprintf(out, outsz, "%s", flag);
	else
		snprintf(out, outsz, "the built-in default of '%s' (set it in the config or with %s)", key, flag);
}

/* 1 when the [server] key k has the same value in a and b. */
static int server_key_equal(const struct server_key *k, const struct chatd_config *a, const struct chatd_config *b)
{
	const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;
	switch (k->kind) {
	case OPT_INT:
	case OPT_LOGLEVEL:
	case OPT_BOOL:
		return *(const int *)pa == *(const int *)pb;
	case OPT_SIZE:
		return *(const size_t *)pa == *(const size_t *)pb;
	case OPT_PATH:
	case OPT_STR:
	case OPT_ROOMGLOBS: {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
		return sa == sb || (sa && sb && !strcmp(sa, sb));
	}
	case OPT_NETS: /* trusted_proxies: the only key of this kind */
		return a->ntrusted_proxies == b->ntrusted_proxies &&
		       (!a->ntrusted_proxies ||
			!memcmp(a->trusted_proxies, b->trusted_proxies, a->ntrusted_proxies * sizeof *a->trusted_proxies));
	}
	return 0;
}

size_t config_server_keys_changed(const struct chatd_config *a, const struct chatd_config *b, const char **out,
				  size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof server_keys / sizeof server_keys[0]; i++)
		if (!server_key_equal(&server_keys[i], a, b)) {
			if (n < max)
				out[n] = server_keys[i].name;
			n++;
		}
	return n;
}
