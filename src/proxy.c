#include "proxy.h"
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A forwarding header longer than this is refused as malformed (lws's own
 * header buffer is smaller anyway). */
#define HEADER_MAX (64 * 1024)

static const unsigned char v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int is_v4_mapped(const unsigned char a[16])
{
	return !memcmp(a, v4_mapped_prefix, sizeof v4_mapped_prefix);
}

int proxy_addr_parse(const char *s, unsigned char out[16])
{
	struct in_addr v4;
	if (inet_pton(AF_INET, s, &v4) == 1) {
		memcpy(out, v4_mapped_prefix, 12);
		memcpy(out + 12, &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

void proxy_addr_format(const unsigned char a[16], char *out, size_t outsz)
{
	char buf[INET6_ADDRSTRLEN];
	if (!(is_v4_mapped(a) ? inet_ntop(AF_INET, a + 12, buf, sizeof buf) : inet_ntop(AF_INET6, a, buf, sizeof buf)))
		buf[0] = 0;
	snprintf(out, outsz, "%s", buf);
}

int proxy_net_parse(const char *s, struct proxy_net *out, char *why, size_t whysz)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (!alen || alen >= sizeof addr) {
		snprintf(why, whysz, "'%s' is not an address or ADDRESS/PREFIX", s);
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = 0;
	struct proxy_net n;
	if (proxy_addr_parse(addr, n.addr)) {
		snprintf(why, whysz, "'%s' is not an IPv4 or IPv6 address", addr);
		return -1;
	}
	int v4 = !strchr(addr, ':'), max = v4 ? 32 : 128;
	n.prefix = max;
	if (slash) {
		const char *p = slash + 1;
		int len = 0, digits = 0;
		for (; isdigit((unsigned char)*p) && digits < 4; p++, digits++)
			len = len * 10 + (*p - '0');
		if (!digits || *p || len > max) {
			snprintf(why, whysz, "'%s': the prefix must be 0-%d for %s", s, max, v4 ? "IPv4" : "IPv6");
			return -1;
		}
		n.prefix = len;
	}
	if (v4)
		n.prefix += 96;
	for (int bit = n.prefix; bit < 128; bit++) /* clear the host bits */
		n.addr[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
	*out = n;
	return 0;
}

int proxy_nets_parse(const char *value, struct proxy_net **out, size_t *n, char *why, size_t whysz)
{
	size_t cap = 0, count = 0;
	struct proxy_net *nets = NULL;
	const char *p = value;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, " \t,");
		char item[128];
		if (len >= sizeof item) {
			snprintf(why, whysz, "'%.40s...' is not an address or ADDRESS/PREFIX", p);
			goto fail;
		}
		memcpy(item, p, len);
		item[len] = 0;
		p += len;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct proxy_net *nn = realloc(nets, ncap * sizeof *nn);
			if (!nn) {
				snprintf(why, whysz, "out of memory");
				goto fail;
			}
			nets = nn;
			cap = ncap;
		}
		if (proxy_net_parse(item, &nets[count], why, whysz))
			goto fail;
		count++;
	}
	if (!count) {
		snprintf(why, whysz, "no address given (list addresses or CIDRs, e.g. 127.0.0.1 10.0.0.0/8 ::1)");
		goto fail;
	}
	*out = nets;
	*n = count;
	return 0;
fail:
	free(nets);
	return -1;
}

int proxy_nets_match(const struct proxy_net *nets, size_t n, const unsigned char a[16])
{
	for (size_t i = 0; i < n; i++) {
		int whole = nets[i].prefix / 8, rest = nets[i].prefix % 8;
		if (memcmp(nets[i].addr, a, (size_t)whole))
			continue;
		if (rest && (nets[i].addr[whole] ^ a[whole]) & (unsigned char)(0xff << (8 - rest)))
			continue;
		return 1;
	}
	return 0;
}

/* One hop of a forwarding header: an address, or unknown / obfuscated. */
struct hop {
	int known;
	unsigned char addr[16];
};

/* A node port: 0-65535, or an obfuscated one ("_" then [A-Za-z0-9._-]). */
static int valid_port(const char *s, size_t len)
{
	if (!len)
		return 0;
	if (s[0] == '_') {
		for (size_t i = 1; i < len; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
				return 0;
		return len > 1;
	}
	if (len > 5)
		return 0;
	long port = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		port = port * 10 + (s[i] - '0');
	}
	return port <= 65535;
}

/* Parse len bytes at s as an address with an optional port: 1.2.3.4,
 * 1.2.3.4:80, 2001:db8::1, [2001:db8::1], [2001:db8::1]:80. 0 or -1. */
static int parse_node(const char *s, size_t len, unsigned char out[16])
{
	char addr[INET6_ADDRSTRLEN];
	const char *a = s, *port = NULL;
	size_t alen = len, plen = 0;
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return -1;
		a = s + 1;
		alen = (size_t)(close - a);
		if (close + 1 < s + len) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
			plen = (size_t)(s + len - port);
		}
		if (!memchr(a, ':', alen)) /* brackets hold IPv6 only */
			return -1;
	} else {
		const char *colon = memchr(s, ':', len);
		if (colon && !memchr(colon + 1, ':', (size_t)(s + len - colon - 1))) { /* one colon: IPv4:port */
			alen = (size_t)(colon - s);
			port = colon + 1;
			plen = (size_t)(s + len - port);
			if (memchr(s, ':', alen))
				return -1;
		}
	}
	if (port && !valid_port(port, plen))
		return -1;
	if (!alen || alen >= sizeof addr)
		return -1;
	memcpy(addr, a, alen);
	addr[alen] = 0;
	return proxy_addr_parse(addr, out);
}

/* Walk hops[0..nhops) from the right (the nearest hop first) past trusted
 * ones; see enum proxy_verdict. */
static enum proxy_verdict walk_hops(const struct proxy_net *nets, size_t n, const struct hop *hops, size_t nhops,
				    unsigned char out[16])
{
	if (!nhops)
		return PROXY_ABSENT;
	for (size_t i = nhops; i-- > 0;) {
		if (!hops[i].known)
			return PROXY_UNKNOWN;
		if (i == 0 || !proxy_nets_match(nets, n, hops[i].addr)) {
			memcpy(out, hops[i].addr, 16);
			return PROXY_FOUND;
		}
	}
	return PROXY_ABSENT; /* not reached */
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Room for the hops of a header of len bytes (a hop needs at least 2 bytes with its separator). */
static struct hop *hops_alloc(size_t len)
{
	return malloc((len / 2 + 1) * sizeof(struct hop));
}

enum proxy_verdict proxy_from_xff(const struct proxy_net *nets, size_t n, const char *value, unsigned char out[16])
{
	/* Walk the hops from the right, reading each only when it is reached:
	 * what lies left of the first untrusted hop is the client's own claim,
	 * never looked at (nor refused). */
	const char *end = value + strlen(value);
	int seen = 0;
	struct hop last = { 0 };
	while (end > value) {
		const char *start = end;
		while (start > value && start[-1] != ',')
			start--;
		const char *e = start, *stop = end;
		end = start > value ? start - 1 : value;
		while (e < stop && is_ows(*e))
			e++;
		while (stop > e && is_ows(stop[-1]))
			stop--;
		if (stop == e)
			continue; /* an empty element */
		if (stop - e == 7 && !strncasecmp(e, "unknown", 7))
			return PROXY_UNKNOWN;
		if (parse_node(e, (size_t)(stop - e), last.addr))
			return PROXY_MALFORMED;
		seen = 1;
		if (!proxy_nets_match(nets, n, last.addr)) {
			memcpy(out, last.addr, 16);
			return PROXY_FOUND;
		}
	}
	if (!seen)
		return PROXY_ABSENT;
	memcpy(out, last.addr, 16); /* every hop trusted: the leftmost */
	return PROXY_FOUND;
}

/* RFC 7230 tchar. */
static int is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Classify a Forwarded "for" value (unquoted, len bytes) into h. 0 or -1. */
static int forwarded_for(const char *v, size_t len, struct hop *h)
{
	if (len == 7 && !strncasecmp(v, "unknown", 7)) {
		h->known = 0;
		return 0;
	}
	if (len && v[0] == '_') { /* obfuscated identifier */
		h->known = 0;
		return valid_port(v, len) ? 0 : -1;
	}
	h->known = 1;
	return parse_node(v, len, h->addr);
}

enum proxy_verdict proxy_from_forwarded(const struct proxy_net *nets, size_t n, const char *value,
					unsigned char out[16])
{
	size_t len = strlen(value), nhops = 0;
	struct hop *hops = hops_alloc(len);
	char *val = malloc(len + 1); /* one parameter value, unquoted */
	enum proxy_verdict v = PROXY_MALFORMED;
	const char *p = value;
	if (!hops || !val)
		goto done;
	while (*p) {
		int has_for = 0, pairs = 0;
		struct hop h = { 0 };
		for (;;) { /* the pairs of one element */
			while (is_ows(*p))
				p++;
			if (!*p || *p == ',')
				break;
			const char *name = p;
			while (is_tchar(*p))
				p++;
			size_t nlen = (size_t)(p - name);
			if (!nlen || *p++ != '=')
				goto done;
			size_t vlen = 0;
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					val[vlen++] = *p;
				}
				if (*p++ != '"')
					goto done;
			} else {
				/* a token; [ ] : are accepted unquoted too (some proxies send them so) */
				while (*p && (is_tchar(*p) || *p == '[' || *p == ']' || *p == ':'))
					val[vlen++] = *p++;
				if (!vlen)
					goto done;
			}
			val[vlen] = 0;
			pairs++;
			if (nlen == 3 && !strncasecmp(name, "for", 3)) {
				if (has_for++ || forwarded_for(val, vlen, &h))
					goto done;
			}
			while (is_ows(*p))
				p++;
			if (*p == ';') {
				p++;
				continue;
			}
			if (*p && *p != ',')
				goto done;
		}
		if (pairs) /* an element without "for" is a hop we know nothing of */
			hops[nhops++] = has_for ? h : (struct hop){ 0 };
		if (*p == ',')
			p++;
	}
	v = walk_hops(nets, n, hops, nhops, out);
done:
	free(val);
	free(hops);
	return v;
}

/* The value of wsi's X-Forwarded-For (*name set) or, without one, its
 * Forwarded header: new string, NULL when neither is there (or out of
 * memory); *too_long when it is over HEADER_MAX. */
static char *forwarding_header(struct lws *wsi, const char **name, int *too_long)
{
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR), custom = 0;
	*name = "X-Forwarded-For";
	*too_long = 0;
	if (len <= 0) {
		len = lws_hdr_custom_length(wsi, "forwarded:", 10);
		*name = "Forwarded";
		custom = 1;
	}
	if (len <= 0)
		return NULL;
	if (len > HEADER_MAX) {
		*too_long = 1;
		return NULL;
	}
	char *v = malloc((size_t)len + 2);
	if (!v)
		return NULL;
	int got = custom ? lws_hdr_custom_copy(wsi, v, len + 2, "forwarded:", 10)
			 : lws_hdr_copy(wsi, v, len + 2, WSI_TOKEN_X_FORWARDED_FOR);
	if (got < 0) {
		free(v);
		return NULL;
	}
	return v;
}

int proxy_client_address(const struct chatd_config *cfg, struct lws *wsi, char *out, char *via, const char **why)
{
	char peer[PROXY_ADDR_MAX];
	unsigned char pa[16], ca[16];
	via[0] = 0;
	*why = NULL;
	lws_get_peer_simple(wsi, peer, sizeof peer);
	if (proxy_addr_parse(peer, pa)) {
		snprintf(out, PROXY_ADDR_MAX, "%s", peer);
		return 0;
	}
	proxy_addr_format(pa, out, PROXY_ADDR_MAX);
	if (!cfg->ntrusted_proxies || !proxy_nets_match(cfg->trusted_proxies, cfg->ntrusted_proxies, pa))
		return 0;
	const char *name;
	int too_long;
	char *value = forwarding_header(wsi, &name, &too_long);
	if (!value && !too_long)
		return 0;
	enum proxy_verdict v = PROXY_MALFORMED;
	if (value && !strcmp(name, "X-Forwarded-For"))
		v = proxy_from_xff(cfg->trusted_proxies, cfg->ntrusted_proxies, value, ca);
	else if (value)
		v = proxy_from_forwarded(cfg->trusted_proxies, cfg->ntrusted_proxies, value, ca);
	free(value);
	switch (v) {
	case PROXY_FOUND:
		snprintf(via, PROXY_ADDR_MAX, "%s", out);
		proxy_addr_format(ca, out, PROXY_ADDR_MAX);
		return 0;
	case PROXY_ABSENT:
	case PROXY_UNKNOWN:
		return 0;
	case PROXY_MALFORMED:
		break;
	}
	*why = !strcmp(name, "X-Forwarded-For") ? "malformed X-Forwarded-For header from a trusted proxy"
						: "malformed Forwarded header from a trusted proxy";
	return -1;
}
