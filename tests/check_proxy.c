/* Unit tests: trusted proxies (src/proxy.c): CIDR parsing and matching,
 * X-Forwarded-For and Forwarded (RFC 7239), and the trusted_proxies key. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkutil.h"
#include "config.h"
#include "proxy.h"

static struct proxy_net *nets;
static size_t nnets;
static char why[256];

static void use(const char *list)
{
	free(nets);
	nets = NULL;
	nnets = 0;
	ck_assert_msg(proxy_nets_parse(list, &nets, &nnets, why, sizeof why) == 0, "'%s': %s", list, why);
}

static void teardown(void)
{
	free(nets);
	nets = NULL;
	nnets = 0;
}

static int trusted(const char *addr)
{
	unsigned char a[16];
	ck_assert_msg(proxy_addr_parse(addr, a) == 0, "'%s' did not parse", addr);
	return proxy_nets_match(nets, nnets, a);
}

/* The client address a header gives, as text, or "ABSENT", "UNKNOWN", "MALFORMED". */
static const char *client(int forwarded, const char *value)
{
	static char out[PROXY_ADDR_MAX];
	unsigned char a[16];
	enum proxy_verdict v = forwarded ? proxy_from_forwarded(nets, nnets, value, a) : proxy_from_xff(nets, nnets, value, a);
	switch (v) {
	case PROXY_FOUND: proxy_addr_format(a, out, sizeof out); return out;
	case PROXY_ABSENT: return "ABSENT";
	case PROXY_UNKNOWN: return "UNKNOWN";
	case PROXY_MALFORMED: return "MALFORMED";
	}
	return "?";
}

START_TEST(addresses_parse_and_format)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "127.0.0.1", "127.0.0.1" },           { "::ffff:127.0.0.1", "127.0.0.1" },
		{ "::FFFF:10.1.2.3", "10.1.2.3" },      { "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
		{ "::1", "::1" },                       { "fe80::1:2", "fe80::1:2" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		unsigned char a[16];
		char out[PROXY_ADDR_MAX];
		ck_assert_msg(proxy_addr_parse(ok[i].in, a) == 0, "%s", ok[i].in);
		proxy_addr_format(a, out, sizeof out);
		ck_assert_str_eq(out, ok[i].out);
	}
	static const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:80", "[::1]", "::1%lo", "host", " 1.2.3.4" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char a[16];
		ck_assert_msg(proxy_addr_parse(bad[i], a) == -1, "'%s' parsed", bad[i]);
	}
}
END_TEST

START_TEST(cidr_matching)
{
	use("10.0.0.0/8 192.168.1.7, 172.16.0.0/12,fd00::/8 ::1 2001:db8:1::/48 100.64.1.130/25");
	ck_assert_uint_eq(nnets, 7);
	ck_assert(trusted("10.0.0.0"));
	ck_assert(trusted("10.255.255.255"));
	ck_assert(!trusted("11.0.0.0"));
	ck_assert(!trusted("9.255.255.255"));
	ck_assert(trusted("192.168.1.7"));
	ck_assert(!trusted("192.168.1.8"));
	ck_assert(trusted("172.31.255.1"));
	ck_assert(!trusted("172.32.0.1"));
	ck_assert(trusted("100.64.1.128")); /* host bits of 100.64.1.130/25 are dropped */
	ck_assert(trusted("100.64.1.255"));
	ck_assert(!trusted("100.64.1.127"));
	/* IPv4-mapped peers (a dual-stack listener) match IPv4 entries */
	ck_assert(trusted("::ffff:10.9.8.7"));
	ck_assert(!trusted("::ffff:11.9.8.7"));
	ck_assert(trusted("fdab::1"));
	ck_assert(!trusted("fe00::1"));
	ck_assert(trusted("::1"));
	ck_assert(!trusted("::2"));
	ck_assert(trusted("2001:db8:1:ffff::9"));
	ck_assert(!trusted("2001:db8:2::9"));
	/* an IPv4 /8 is not ::/8 of IPv6 */
	ck_assert(!trusted("a00::1"));
	use("0.0.0.0/0");
	ck_assert(trusted("1.2.3.4"));
	ck_assert(!trusted("2001:db8::1"));
	use("::/0");
	ck_assert(trusted("2001:db8::1"));
	ck_assert(trusted("1.2.3.4")); /* as ::ffff:1.2.3.4 */
}
END_TEST

START_TEST(bad_lists_say_which_entry)
{
	static const struct {
		const char *list, *expect;
	} bad[] = {
		{ "", "no address given" },
		{ " , ", "no address given" },
		{ "10.0.0.0/33", "'10.0.0.0/33': the prefix must be 0-32 for IPv4" },
		{ "::1/129", "'::1/129': the prefix must be 0-128 for IPv6" },
		{ "10.0.0.0/", "the prefix must be" },
		{ "10.0.0.0/8x", "the prefix must be" },
		{ "10.0.0.0/-1", "the prefix must be" },
		{ "127.0.0.1 localhost", "'localhost' is not an IPv4 or IPv6 address" },
		{ "10.0.0/8", "'10.0.0' is not an IPv4 or IPv6 address" },
		{ "/8", "is not an address or ADDRESS/PREFIX" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct proxy_net *n = NULL;
		size_t c = 0;
		why[0] = 0;
		ck_assert_msg(proxy_nets_parse(bad[i].list, &n, &c, why, sizeof why) == -1, "'%s' parsed", bad[i].list);
		ck_assert_ptr_null(n);
		ck_assert_msg(strstr(why, bad[i].expect), "'%s': got '%s', want '%s'", bad[i].list, why, bad[i].expect);
	}
}
END_TEST

START_TEST(xff_rightmost_untrusted)
{
	use("10.0.0.0/8 ::1");
	ck_assert_str_eq(client(0, "203.0.113.7"), "203.0.113.7");
	/* the client's own claim on the left is never believed past an untrusted hop */
	ck_assert_str_eq(client(0, "1.1.1.1, 203.0.113.7"), "203.0.113.7");
	ck_assert_str_eq(client(0, "1.1.1.1, 203.0.113.7, 10.0.0.5"), "203.0.113.7");
	ck_assert_str_eq(client(0, "1.1.1.1,203.0.113.7,10.0.0.5,::1"), "203.0.113.7");
	/* every hop trusted: the leftmost */
	ck_assert_str_eq(client(0, "10.1.1.1, 10.0.0.5"), "10.1.1.1");
	/* ports, brackets, IPv6, IPv4-mapped, spaces, tabs, empty elements */
	ck_assert_str_eq(client(0, "203.0.113.7:51234"), "203.0.113.7");
	ck_assert_str_eq(client(0, "203.0.113.7:65535"), "203.0.113.7");
	ck_assert_str_eq(client(0, "[2001:db8::17]:4711"), "2001:db8::17");
	ck_assert_str_eq(client(0, "[2001:db8::17]"), "2001:db8::17");
	ck_assert_str_eq(client(0, "2001:DB8::17"), "2001:db8::17");
	ck_assert_str_eq(client(0, "::ffff:203.0.113.9"), "203.0.113.9");
	ck_assert_str_eq(client(0, " \t203.0.113.7 ,, 10.0.0.1 ,"), "203.0.113.7");
	ck_assert_str_eq(client(0, ""), "ABSENT");
	ck_assert_str_eq(client(0, " , ,"), "ABSENT");
	ck_assert_str_eq(client(0, "unknown"), "UNKNOWN");
	ck_assert_str_eq(client(0, "203.0.113.7, unknown, 10.0.0.1"), "UNKNOWN");
	/* garbage left of the first untrusted hop is never looked at... */
	ck_assert_str_eq(client(0, "<script>, 203.0.113.7"), "203.0.113.7");
	ck_assert_str_eq(client(0, "junk, 10.0.0.1"), "MALFORMED");
	/* ...but the hops that are read must be addresses */
	static const char *bad[] = { "example.com", "203.0.113.7, junk", "1.2.3.4:", "1.2.3.4:123456", "1.2.3.4:65536", "1.2.3.4:x",
				     "[1.2.3.4]", "[2001:db8::1", "[2001:db8::1]x", "2001:db8::1:80:", "10.0.0.1 10.0.0.2",
				     "203.0.113.7;for=1.2.3.4" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!strcmp(client(0, bad[i]), "MALFORMED"), "'%s' gave %s", bad[i], client(0, bad[i]));
}
END_TEST

START_TEST(forwarded_rfc7239)
{
	use("10.0.0.0/8");
	/* the examples of RFC 7239 section 4 */
	ck_assert_str_eq(client(1, "for=\"_gazonk\""), "UNKNOWN");
	ck_assert_str_eq(client(1, "For=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17");
	ck_assert_str_eq(client(1, "for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60");
	ck_assert_str_eq(client(1, "for=192.0.2.43, for=198.51.100.17"), "198.51.100.17");
	ck_assert_str_eq(client(1, "for=192.0.2.43, for=10.2.3.4"), "192.0.2.43");
	ck_assert_str_eq(client(1, "for=unknown, for=10.2.3.4"), "UNKNOWN");
	ck_assert_str_eq(client(1, "FOR=UNKNOWN"), "UNKNOWN");
	ck_assert_str_eq(client(1, "for=\"192.0.2.43:47011\""), "192.0.2.43");
	ck_assert_str_eq(client(1, "proto=https;for=\"192.0.2.43\";host=\"chat.example:8443\""), "192.0.2.43");
	ck_assert_str_eq(client(1, "for=\"[2001:db8::1]\" ; proto=https , for=10.0.0.1"), "2001:db8::1");
	ck_assert_str_eq(client(1, "for=\"\\[2001:db8::2\\]\""), "2001:db8::2"); /* quoted-pair */
	ck_assert_str_eq(client(1, "for=[2001:db8::3]:80"), "2001:db8::3"); /* unquoted, leniently */
	ck_assert_str_eq(client(1, "for=192.0.2.43:_port"), "192.0.2.43");
	ck_assert_str_eq(client(1, "for=192.0.2.43;"), "192.0.2.43"); /* empty pairs are allowed */
	/* an element without for= is a hop nobody named */
	ck_assert_str_eq(client(1, "for=192.0.2.43, proto=https"), "UNKNOWN");
	ck_assert_str_eq(client(1, ""), "ABSENT");
	ck_assert_str_eq(client(1, " , "), "ABSENT");
	static const char *bad[] = { "for", "for=", "for=\"192.0.2.43", "for=192.0.2.43;for=192.0.2.44", "=x",
				     "for=example.com", "for=\"[2001:db8::1\"", "for=192.0.2.43 junk", "for=_",
				     "for=\"_bad name\"", "for=1.2.3.4;;x", "for=2001:db8::1:99999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!strcmp(client(1, bad[i]), "MALFORMED"), "'%s' gave %s", bad[i], client(1, bad[i]));
}
END_TEST

static struct chatd_config cfg;
static char err[1024];

static int parse(const char *text)
{
	config_free(&cfg);
	config_defaults(&cfg);
	err[0] = 0;
	return config_parse(&cfg, "t.conf", text, strlen(text), "/base", err, sizeof err);
}

START_TEST(config_key)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_uint_eq(cfg.ntrusted_proxies, 0);
	ck_assert_int_eq(parse("[server]\ntrusted_proxies = 127.0.0.1 10.0.0.0/8, ::1  # nginx\n"), 0);
	ck_assert_uint_eq(cfg.ntrusted_proxies, 3);
	unsigned char a[16];
	proxy_addr_parse("10.20.30.40", a);
	ck_assert(proxy_nets_match(cfg.trusted_proxies, cfg.ntrusted_proxies, a));
	/* given again, the later line replaces the earlier */
	ck_assert_int_eq(parse("[server]\ntrusted_proxies = 10.0.0.0/8\ntrusted_proxies = 192.0.2.1\n"), 0);
	ck_assert_uint_eq(cfg.ntrusted_proxies, 1);
	ck_assert(!proxy_nets_match(cfg.trusted_proxies, cfg.ntrusted_proxies, a));
	ck_assert_int_eq(parse("[server]\nport = 1\n\ntrusted_proxies = 127.0.0.1 10.0.0.0/33\n"), -1);
	ck_assert_str_eq(err, "t.conf:4: key 'trusted_proxies': '10.0.0.0/33': the prefix must be 0-32 for IPv4");
	ck_assert_int_eq(parse("[server]\ntrusted_proxies = proxy.internal\n"), -1);
	ck_assert_str_eq(err, "t.conf:2: key 'trusted_proxies': 'proxy.internal' is not an IPv4 or IPv6 address");
	ck_assert_int_eq(parse("[server]\ntrusted_proxies =\n"), -1);
	ck_assert_ptr_nonnull(strstr(err, "t.conf:2: key 'trusted_proxies': no address given"));
	config_free(&cfg);
}
END_TEST

static Suite *proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, addresses_parse_and_format);
	tcase_add_test(tc, cidr_matching);
	tcase_add_test(tc, bad_lists_say_which_entry);
	tcase_add_test(tc, xff_rightmost_untrusted);
	tcase_add_test(tc, forwarded_rfc7239);
	tcase_add_test(tc, config_key);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return checkutil_run(proxy_suite());
}
