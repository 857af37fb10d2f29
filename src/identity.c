#include "identity.h"

#include <stdio.h>
#include <string.h>

/* 1 when the folded key is free or already c's. */
static int name_free_for(struct chatd_server *srv, struct chatd_client *c, const char *key)
{
	struct chatd_client *owner = strmap_get(&srv->nicks, key);
	return !owner || owner == c;
}

static int take(struct chatd_server *srv, struct chatd_client *c, const char *name, const char *key)
{
	if (strcmp(c->fold, key)) {
		if (strmap_put(&srv->nicks, key, c))
			return -1;
		if (c->fold[0])
			strmap_del(&srv->nicks, c->fold);
		snprintf(c->fold, sizeof c->fold, "%s", key);
	}
	snprintf(c->name, sizeof c->name, "%s", name);
	return 0;
}

/* Cut s to at most max_chars code points (on a character boundary). */
static void cut_chars(char *s, size_t max_chars)
{
	size_t chars = 0;
	for (size_t i = 0; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && ++chars > max_chars) {
			s[i] = 0;
			return;
		}
	}
}

int identity_claim(struct chatd_server *srv, struct chatd_client *c, const char *wanted)
{
	char key[sizeof c->fold], name[sizeof c->name];
	nick_fold(wanted, key, sizeof key);
	if (name_free_for(srv, c, key))
		return take(srv, c, wanted, key);
	for (unsigned n = 2; n < 100000; n++) {
		char suffix[12];
		int slen = snprintf(suffix, sizeof suffix, "%u", n);
		snprintf(name, sizeof name, "%s", wanted);
		cut_chars(name, NICK_MAX_CHARS - (size_t)slen);
		size_t len = strlen(name);
		/* a cut may leave trailing spaces: trim them */
		while (len && name[len - 1] == ' ')
			name[--len] = 0;
		snprintf(name + len, sizeof name - len, "%s", suffix);
		nick_fold(name, key, sizeof key);
		if (name_free_for(srv, c, key))
			return take(srv, c, name, key);
	}
	return identity_guest(srv, c);
}

int identity_guest(struct chatd_server *srv, struct chatd_client *c)
{
	char name[sizeof c->name], key[sizeof c->fold];
	for (unsigned digits = 10000;; digits *= 10) {
		for (int tries = 0; tries < 20; tries++) {
			srv->rng = srv->rng * 1103515245u + 12345u;
			unsigned v = (srv->rng >> 8) % (digits - digits / 10) + digits / 10;
			snprintf(name, sizeof name, "guest-%u", v);
			nick_fold(name, key, sizeof key);
			if (name_free_for(srv, c, key))
				return take(srv, c, name, key);
		}
		if (digits > 100000000u)
			return -1;
	}
}

void identity_release(struct chatd_server *srv, struct chatd_client *c)
{
	if (c->fold[0] && strmap_get(&srv->nicks, c->fold) == c)
		strmap_del(&srv->nicks, c->fold);
	c->fold[0] = 0;
}
