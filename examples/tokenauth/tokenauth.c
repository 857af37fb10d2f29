/*
 * tokenauth: sign-in at the WebSocket handshake with a signed token, as a
 * site that already has accounts would add it. The site's own server gives
 * a signed-in user a token
 *
 *   NAME.EXPIRY.SIGNATURE
 *
 * where EXPIRY is a Unix time in seconds and SIGNATURE the lower-case hex
 * HMAC-SHA256 of "NAME.EXPIRY" under a secret both sides share (NAME may
 * hold dots: the last two dots split). The client presents it as
 * ?token=..., as the cookie chatd_token, or as "Authorization: Bearer ...".
 * A valid token gives the connection the name NAME (CHATD_EV_CONNECT:
 * api->connect_set_name), and renames are refused (CHATD_EV_NICK): names
 * cannot be spoofed. Without a valid token the handshake gets 401 with the
 * reason, or, with required = no, the client gets in as a guest and may not
 * pick a name.
 *
 * Build it against the installed SDK (docs/plugins.md); no library needed,
 * SHA-256 is below:
 *   cc -std=c11 -shared -fPIC $(pkg-config --cflags chatd-plugin) tokenauth.c -o tokenauth.so
 *
 *   [plugin tokenauth]
 *   path = /path/to/tokenauth.so
 *   secret_file = /etc/chatd/token.secret   (required: its first line is the secret, 16+ bytes)
 *   required = yes                          (optional: no lets guests in)
 */
#include <chatd/plugin.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- SHA-256 (FIPS 180-4) and HMAC (RFC 2104) ---- */

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char block[64];
	size_t used;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(struct sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
		       (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d, s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, iv, sizeof iv);
	s->bytes = 0;
	s->used = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	s->bytes += len;
	while (len) {
		size_t take = 64 - s->used < len ? 64 - s->used : len;
		memcpy(s->block + s->used, p, take);
		s->used += take, p += take, len -= take;
		if (s->used == 64) {
			sha256_block(s, s->block);
			s->used = 0;
		}
	}
}

static void sha256_final(struct sha256 *s, unsigned char out[32])
{
	uint64_t bits = s->bytes * 8;
	unsigned char pad = 0x80, zero = 0, len[8];
	sha256_update(s, &pad, 1);
	while (s->used != 56)
		sha256_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(s, len, 8);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (unsigned char)(s->h[i] >> (24 - 8 * j));
}

static void hmac_sha256(const unsigned char *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	unsigned char k[64] = { 0 }, ipad[64], opad[64], inner[32];
	struct sha256 s;
	if (klen > 64) {
		sha256_init(&s);
		sha256_update(&s, key, klen);
		sha256_final(&s, k);
	} else {
		memcpy(k, key, klen);
	}
	for (int i = 0; i < 64; i++)
		ipad[i] = k[i] ^ 0x36, opad[i] = k[i] ^ 0x5c;
	sha256_init(&s);
	sha256_update(&s, ipad, 64);
	sha256_update(&s, msg, mlen);
	sha256_final(&s, inner);
	sha256_init(&s);
	sha256_update(&s, opad, 64);
	sha256_update(&s, inner, 32);
	sha256_final(&s, out);
}

/* ---- the plugin ---- */

struct tokenauth {
	const struct chatd_api *api;
	chatd_plugin *self;
	unsigned char secret[256];
	size_t secret_len;
	int required;
};

/* The token of the request: ?token=, the chatd_token cookie or a Bearer
 * Authorization header (borrowed from the request), NULL when none. */
static const char *token_of(const struct chatd_api *api, chatd_request *r)
{
	const char *t = api->request_query(r, "token");
	if (t && *t)
		return t;
	if ((t = api->request_cookie(r, "chatd_token")) && *t)
		return t;
	t = api->request_header(r, "Authorization");
	if (t && !strncmp(t, "Bearer ", 7) && t[7])
		return t + 7;
	return NULL;
}

/* Check token; on success copy its name into name (n bytes). NULL, or why not (static). */
static const char *verify(const struct tokenauth *ta, const char *token, char *name, size_t n)
{
	const char *sig = strrchr(token, '.');
	if (!sig || sig == token)
		return "malformed token";
	const char *exp = sig - 1;
	while (exp > token && *exp != '.')
		exp--;
	if (exp == token)
		return "malformed token";
	size_t signed_len = (size_t)(sig - token), name_len = (size_t)(exp - token);
	if (!name_len || name_len >= n || strlen(sig + 1) != 64)
		return "malformed token";
	char *end;
	errno = 0;
	long long expiry = strtoll(exp + 1, &end, 10);
	if (errno || end != sig || expiry <= 0)
		return "malformed token";
	unsigned char mac[32];
	hmac_sha256(ta->secret, ta->secret_len, token, signed_len, mac);
	static const char hex[] = "0123456789abcdef";
	unsigned diff = 0; /* compare every byte, whatever differs first: no timing oracle */
	for (int i = 0; i < 32; i++)
		diff |= (unsigned)(sig[1 + 2 * i] ^ hex[mac[i] >> 4]) | (unsigned)(sig[2 + 2 * i] ^ hex[mac[i] & 15]);
	if (diff)
		return "bad token signature";
	if (expiry < (long long)time(NULL))
		return "token expired";
	memcpy(name, token, name_len);
	name[name_len] = 0;
	return NULL;
}

/* Per client: whether it signed in (the slot holds a non-NULL marker then). */
static char signed_in_marker;

static int on_connect(int event_id, void *event, void *userdata)
{
	struct chatd_connect_event *ev = event;
	struct tokenauth *ta = userdata;
	const struct chatd_api *api = ta->api;
	char name[256];
	(void)event_id;
	const char *token = token_of(api, ev->request);
	const char *why = token ? verify(ta, token, name, sizeof name) : "sign in first: no token";
	if (!why && api->connect_set_name(ev, name))
		why = "the token's name is not a valid nickname";
	if (!why) {
		*api->client_slot(ta->self, ev->client) = &signed_in_marker;
		api->counter_add(ta->self, "signed_in", 1);
		return CHATD_OK;
	}
	api->counter_add(ta->self, "refused", 1);
	if (ta->required) {
		ev->http_status = 401;
		ev->reason = why; /* static text */
		return CHATD_DENY;
	}
	if (ev->requested_name) /* guests may not pick a name someone may own */
		api->connect_refuse_name(ev, "sign_in_required", "sign in to use a name");
	return CHATD_OK;
}

/* CHATD_EV_NICK: the name comes from the token; no renames. */
static int on_nick(int event_id, void *event, void *userdata)
{
	struct chatd_nick_event *ev = event;
	struct tokenauth *ta = userdata;
	(void)event_id;
	if (!ev->old_name) /* the first name: set at CONNECT, or a guest's refused there */
		return CHATD_OK;
	ev->error_code = "rename_not_allowed";
	ev->error_message = *ta->api->client_slot(ta->self, ev->client) ? "your name comes from your sign-in"
									 : "sign in to use a name";
	return CHATD_DENY;
}

/* Read the secret: the first line of path, 16 to 255 bytes. 0, or -1 with why. */
static int read_secret(struct tokenauth *ta, const char *path, char *why, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	char line[300];
	int ok = fgets(line, sizeof line, f) != NULL;
	int shared = !fstat(fileno(f), &st) && (st.st_mode & 077);
	fclose(f);
	size_t len = ok ? strcspn(line, "\r\n") : 0;
	if (len < 16 || len > sizeof ta->secret - 1) {
		snprintf(why, n, "%s: the secret (its first line) must be 16 to 255 bytes", path);
		return -1;
	}
	if (shared)
		ta->api->log(ta->self, CHATD_LOG_WARN, "%s is readable by others than its owner: chmod 600 it", path);
	memcpy(ta->secret, line, len);
	ta->secret_len = len;
	return 0;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *api, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	if (!CHATD_API_HAS(api, connect_set_name)) {
		api->option_error(self, NULL, "this chatd is too old for tokenauth (no request access at CONNECT)");
		return -1;
	}
	struct tokenauth *ta = calloc(1, sizeof *ta);
	char why[512];
	if (!ta)
		return -1;
	ta->api = api;
	ta->self = self;
	ta->required = 1;
	int have_secret = 0;
	for (int i = 0; i < nopts; i++) {
		if (!strcmp(opts[i].key, "secret_file")) {
			if (read_secret(ta, opts[i].value, why, sizeof why)) {
				api->option_error(self, &opts[i], "%s", why);
				goto fail;
			}
			have_secret = 1;
		} else if (!strcmp(opts[i].key, "required")) {
			if (strcmp(opts[i].value, "yes") && strcmp(opts[i].value, "no")) {
				api->option_error(self, &opts[i], "must be yes or no");
				goto fail;
			}
			ta->required = !strcmp(opts[i].value, "yes");
		} else {
			api->option_error(self, &opts[i], "unknown option (tokenauth knows secret_file and required)");
			goto fail;
		}
	}
	if (!have_secret) {
		api->option_error(self, NULL, "secret_file is required");
		goto fail;
	}
	/* early: a refused handshake costs the other plugins nothing */
	if (api->hook_register(self, CHATD_EV_CONNECT, on_connect, ta, CHATD_PRIO_EARLY + 1) ||
	    api->hook_register(self, CHATD_EV_NICK, on_nick, ta, CHATD_PRIO_EARLY))
		goto fail;
	*userdata = ta;
	return 0;
fail:
	free(ta);
	return -1;
}

void chatd_plugin_cleanup(void *userdata)
{
	struct tokenauth *ta = userdata;
	memset(ta->secret, 0, sizeof ta->secret);
	free(ta);
}
