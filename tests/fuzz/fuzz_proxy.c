/* libFuzzer target: trusted-proxy parsing (src/proxy.c): the input as a
 * trusted_proxies list, as an X-Forwarded-For and as a Forwarded value. A
 * client address found must be one the header could name: formatting it and
 * parsing it back gives the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

static void check_found(enum proxy_verdict v, const unsigned char a[16])
{
	char text[PROXY_ADDR_MAX];
	unsigned char back[16];
	if (v != PROXY_FOUND)
		return;
	proxy_addr_format(a, text, sizeof text);
	if (proxy_addr_parse(text, back) || memcmp(a, back, 16))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	struct proxy_net *nets = NULL, fixed[2];
	size_t n = 0;
	char why[256];
	if (!proxy_nets_parse(s, &nets, &n, why, sizeof why)) {
		if (!n)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (nets[i].prefix < 0 || nets[i].prefix > 128 || !proxy_nets_match(&nets[i], 1, nets[i].addr))
				__builtin_trap(); /* a network contains its own address */
		free(nets);
	}
	proxy_net_parse("10.0.0.0/8", &fixed[0], why, sizeof why);
	proxy_net_parse("::1", &fixed[1], why, sizeof why);
	unsigned char a[16];
	check_found(proxy_from_xff(fixed, 2, s, a), a);
	check_found(proxy_from_forwarded(fixed, 2, s, a), a);
	free(s);
	return 0;
}
