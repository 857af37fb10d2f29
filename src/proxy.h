/* The client's address behind trusted reverse proxies: [server]
 * trusted_proxies (addresses and CIDRs), and the client address a trusted
 * proxy passes in X-Forwarded-For or Forwarded (RFC 7239). Parsing and
 * matching are pure (unit-tested in tests/check_proxy.c); proxy_client_address
 * applies them to a libwebsockets request. See docs/config.md. */
#ifndef CHATD_PROXY_H
#define CHATD_PROXY_H

#include <stddef.h>

/* Text of an address as chatd shows it (IPv6 at most 45 characters). */
#define PROXY_ADDR_MAX 64

/* One trusted network. Every address is kept in IPv6 form, IPv4 as
 * ::ffff:a.b.c.d (prefix + 96), so IPv4-mapped peers of a dual-stack
 * listener match IPv4 entries. */
struct proxy_net {
	unsigned char addr[16]; /* host bits beyond prefix are zero */
	int prefix;             /* 0..128 */
};

/* Parse an address: IPv4 dotted quad or IPv6 (IPv4-mapped included) into
 * 16 bytes (IPv4 as ::ffff:a.b.c.d). Returns 0, or -1 when s is not one. */
int proxy_addr_parse(const char *s, unsigned char out[16]);

/* The text chatd uses for an address: dotted IPv4 for IPv4 and
 * IPv4-mapped addresses, RFC 5952 IPv6 otherwise. */
void proxy_addr_format(const unsigned char a[16], char *out, size_t outsz);

/* Parse "ADDR" or "ADDR/PREFIX" (IPv4 prefix 0-32, IPv6 0-128; host bits
 * beyond the prefix are ignored). Returns 0, or -1 with the reason in why. */
int proxy_net_parse(const char *s, struct proxy_net *out, char *why, size_t whysz);

/* Parse a list of those separated by spaces, tabs or commas into *out (new
 * array, caller frees; *n entries). An empty list is an error. Returns 0, or
 * -1 with the reason (naming the bad entry) in why and *out untouched. */
int proxy_nets_parse(const char *value, struct proxy_net **out, size_t *n, char *why, size_t whysz);

/* Whether a is inside one of nets[0..n). */
int proxy_nets_match(const struct proxy_net *nets, size_t n, const unsigned char a[16]);

/* What a forwarding header says about the client. */
enum proxy_verdict {
	PROXY_FOUND,     /* *out is the client's address */
	PROXY_ABSENT,    /* the header lists no hop: use the peer's address */
	PROXY_UNKNOWN,   /* the nearest untrusted hop is "unknown" or obfuscated (RFC 7239): use the peer's */
	PROXY_MALFORMED, /* not a valid header: the request is refused (400) */
};

/*
 * The client address in an X-Forwarded-For value (borrowed; comma-separated
 * hops, oldest first, each an IPv4 or IPv6 address, optionally [bracketed]
 * and with a :port): walking from the right, the first hop not in nets, or
 * the leftmost when all are trusted. Empty elements are skipped.
 */
enum proxy_verdict proxy_from_xff(const struct proxy_net *nets, size_t n, const char *value, unsigned char out[16]);

/*
 * The same for a Forwarded value (RFC 7239: elements separated by ',',
 * pairs by ';', values tokens or quoted strings; the "for" parameter, e.g.
 * for=192.0.2.60, for="[2001:db8:cafe::17]:4711", for=unknown, for=_hidden).
 * An element without "for" counts as unknown.
 */
enum proxy_verdict proxy_from_forwarded(const struct proxy_net *nets, size_t n, const char *value,
					unsigned char out[16]);

struct lws;
struct chatd_config;

/*
 * The client address of request wsi, as text in out (PROXY_ADDR_MAX bytes):
 * the peer's, or, when the peer is one of cfg's trusted proxies, the one its
 * X-Forwarded-For gives (or, without that header, its Forwarded). via gets
 * the proxy's address when the address came from a header, "" otherwise.
 * Returns 0, or -1 when a trusted proxy sent a malformed header: out is then
 * the proxy's address and *why (static) says what was wrong.
 */
int proxy_client_address(const struct chatd_config *cfg, struct lws *wsi, char *out, char *via, const char **why);

#endif
