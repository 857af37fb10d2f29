/* bench/hist-selftest.c: checks the histogram and the handshake digest
 * (make -C bench check). */
#include <stdio.h>
#include <stdlib.h>

#include "hist.h"
#include "sha1.h"

static int fails;

static void expect(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "FAIL: %s\n", what);
		fails++;
	}
}

int main(void)
{
	static struct hist h;
	hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(&h, v * 1000); /* 1 us .. 100 ms */
	uint64_t p50 = hist_pct(&h, 50), p99 = hist_pct(&h, 99), p999 = hist_pct(&h, 99.9);
	expect(p50 >= 50000000ull && p50 <= 50000000ull * 1.008, "p50 within 0.8%");
	expect(p99 >= 99000000ull && p99 <= 99000000ull * 1.008, "p99 within 0.8%");
	expect(p999 >= 99900000ull && p999 <= 100000000ull, "p99.9 within 0.8% and <= max");
	expect(h.max == 100000000ull && h.n == 100000, "max and count");
	for (uint64_t v = 0; v < 5000000; v += 7)
		expect(hist_bucket_high(hist_index(v)) >= v, "bucket high >= value");
	expect(hist_index(UINT64_MAX) < HIST_BUCKETS, "index of UINT64_MAX in range");

	const char *key = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char d[20];
	char out[32];
	sha1(key, strlen(key), d);
	base64(d, 20, out);
	expect(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "RFC 6455 accept example");
	sha1("", 0, d);
	base64(d, 20, out);
	expect(!strcmp(out, "2jmj7l5rSw0yVb/vlWAYkK/YBwk="), "sha1 of empty string");
	if (fails)
		return 1;
	printf("hist-selftest: ok\n");
	return 0;
}
