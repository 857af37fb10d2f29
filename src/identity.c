#include "identity.h"
#include "hooks.h"
#include "log.h"
#include "membership.h"
#include "sha256.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A person's grace timer: fires at its earliest deadline. */
struct person_timer {
	ev_timer w;                /* first: the callback casts back */
	struct chatd_server *srv;
	struct person *p;
};

const char *identity_session(struct chatd_client *c, const char *key)
{
	size_t n = strlen(key);
	if (n < SESSION_KEY_MIN || n > SESSION_KEY_MAX)
		return "session must be 16 to 128 characters of A-Z a-z 0-9 _ -";
	for (size_t i = 0; i < n; i++) {
		char ch = key[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-'))
			return "session must be 16 to 128 characters of A-Z a-z 0-9 _ -";
	}
	/* A domain prefix: the hash of a session key is never the hash of the
	 * same string used elsewhere. */
	char buf[sizeof "chatd-session:" + SESSION_KEY_MAX];
	int len = snprintf(buf, sizeof buf, "chatd-session:%s", key);
	sha256(buf, (size_t)len, c->session);
	memset(buf, 0, sizeof buf);
	for (size_t i = 0; i < SHA256_BYTES; i++)
		snprintf(c->session_hex + 2 * i, 3, "%02x", c->session[i]);
	c->has_session = 1;
	return NULL;
}

/* 1 when c may share p's name: both have the same session. */
static int same_session(const struct person *p, const struct chatd_client *c)
{
	return p->has_session && c->has_session && !memcmp(p->session, c->session, sizeof p->session);
}

/* Add c to p's connections. 0, -1 on OOM. */
static int attach(struct person *p, struct chatd_client *c)
{
	if (p->nconns == p->conns_cap) {
		size_t ncap = p->conns_cap ? p->conns_cap * 2 : 2;
		struct chatd_client **n = realloc(p->conns, ncap * sizeof *n);
		if (!n)
			return -1;
		p->conns = n;
		p->conns_cap = ncap;
	}
	c->person = p;
	c->person_index = p->nconns;
	p->conns[p->nconns++] = c;
	p->name_until = 0; /* it has a connection again */
	snprintf(c->name, sizeof c->name, "%s", p->name);
	return 0;
}

static void person_free(struct chatd_server *srv, struct person *p)
{
	if (p->fold[0] && strmap_get(&srv->nicks, p->fold) == p)
		strmap_del(&srv->nicks, p->fold);
	struct person_timer *t = p->timer;
	if (t) {
		if (srv->loop)
			ev_timer_stop(srv->loop, &t->w);
		free(t);
	}
	roomset_free(&p->rooms);
	free(p->conns);
	free(p);
}

/* Give p the name (registered under key), every connection of p too. 0 or -1. */
static int take(struct chatd_server *srv, struct person *p, const char *name, const char *key)
{
	if (strcmp(p->fold, key)) {
		if (strmap_put(&srv->nicks, key, p))
			return -1;
		if (p->fold[0])
			strmap_del(&srv->nicks, p->fold);
		snprintf(p->fold, sizeof p->fold, "%s", key);
	}
	snprintf(p->name, sizeof p->name, "%s", name);
	for (size_t i = 0; i < p->nconns; i++)
		snprintf(p->conns[i]->name, sizeof p->conns[i]->name, "%s", name);
	return 0;
}

/* A new person holding name (under key) with c as its one connection. */
static int person_new(struct chatd_server *srv, struct chatd_client *c, const char *name, const char *key)
{
	struct person *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	roomset_init(&p->rooms);
	p->has_session = c->has_session;
	memcpy(p->session, c->session, sizeof p->session);
	if (take(srv, p, name, key) || attach(p, c)) {
		person_free(srv, p);
		c->person = NULL;
		return -1;
	}
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

/* The n-th candidate for wanted: wanted itself (n = 1), else wanted with the
 * number n (shortened so that it fits NICK_MAX_CHARS). */
static void candidate(const char *wanted, unsigned n, char *name, size_t namesz)
{
	snprintf(name, namesz, "%s", wanted);
	if (n == 1)
		return;
	char suffix[12];
	int slen = snprintf(suffix, sizeof suffix, "%u", n);
	cut_chars(name, NICK_MAX_CHARS - (size_t)slen);
	size_t len = strlen(name);
	while (len && name[len - 1] == ' ') /* a cut may leave trailing spaces */
		name[--len] = 0;
	snprintf(name + len, namesz - len, "%s", suffix);
}

/* Candidates tried before falling back to a guest name. */
#define MAX_VARIANTS 100000

int identity_claim(struct chatd_server *srv, struct chatd_client *c, const char *wanted)
{
	char name[NICK_MAX_BYTES + 1], key[sizeof ((struct person *)0)->fold];
	for (unsigned n = 1; n < MAX_VARIANTS; n++) {
		candidate(wanted, n, name, sizeof name);
		nick_fold(name, key, sizeof key);
		struct person *owner = strmap_get(&srv->nicks, key);
		if (!owner)
			return person_new(srv, c, name, key);
		if (same_session(owner, c)) { /* another tab of the same person */
			if (attach(owner, c))
				return -1;
			identity_schedule(srv, owner);
			return 0;
		}
	}
	return identity_guest(srv, c);
}

int identity_guest(struct chatd_server *srv, struct chatd_client *c)
{
	char name[NICK_MAX_BYTES + 1], key[sizeof ((struct person *)0)->fold];
	for (unsigned digits = 10000;; digits *= 10) {
		for (int tries = 0; tries < 20; tries++) {
			srv->rng = srv->rng * 1103515245u + 12345u;
			unsigned v = (srv->rng >> 8) % (digits - digits / 10) + digits / 10;
			snprintf(name, sizeof name, "guest-%u", v);
			nick_fold(name, key, sizeof key);
			if (!strmap_get(&srv->nicks, key))
				return person_new(srv, c, name, key);
		}
		if (digits > 100000000u)
			return -1;
	}
}

int identity_rename(struct chatd_server *srv, struct chatd_client *c, const char *wanted)
{
	struct person *p = c->person;
	char name[NICK_MAX_BYTES + 1], key[sizeof p->fold];
	if (!p)
		return -1;
	for (unsigned n = 1; n < MAX_VARIANTS; n++) {
		candidate(wanted, n, name, sizeof name);
		nick_fold(name, key, sizeof key);
		struct person *owner = strmap_get(&srv->nicks, key);
		if (!owner || owner == p)
			return take(srv, p, name, key);
	}
	return 0; /* no variant free: the name stays */
}

static void person_release(struct chatd_server *srv, struct person *p);

/* monotonic_us in ms */
static int64_t mono_ms(void) { return monotonic_us() / 1000; }

int identity_grace_applies(const struct chatd_server *srv, const struct chatd_client *c)
{
	return c->has_session && srv->cfg.presence_grace_ms > 0 && !srv->shutting_down && srv->loop;
}

void identity_detach(struct chatd_server *srv, struct chatd_client *c)
{
	struct person *p = c->person;
	if (!p)
		return;
	struct chatd_client *last = p->conns[--p->nconns];
	p->conns[c->person_index] = last;
	last->person_index = c->person_index;
	c->person = NULL;
	if (p->nconns) { /* rooms only c was in may be held: their grace ends on time */
		identity_schedule(srv, p);
		return;
	}
	if (identity_grace_applies(srv, c)) {
		p->name_until = mono_ms() + srv->cfg.presence_grace_ms;
		identity_schedule(srv, p);
		return;
	}
	membership_expire_held(srv, p, INT64_MAX); /* nothing held is left behind */
	person_release(srv, p);
}

/* The timer: expire what is due, free a person whose name's grace is over. */
static void person_timer_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct person_timer *t = (struct person_timer *)w;
	struct chatd_server *srv = t->srv;
	struct person *p = t->p;
	int64_t now = mono_ms();
	membership_expire_held(srv, p, now);
	if (!p->nconns && p->name_until && p->name_until <= now) {
		membership_expire_held(srv, p, INT64_MAX);
		person_release(srv, p);
		return;
	}
	identity_schedule(srv, p);
}

void identity_schedule(struct chatd_server *srv, struct person *p)
{
	int64_t due = p->nconns ? 0 : p->name_until;
	for (size_t i = 0; i < p->rooms.n; i++) {
		int64_t until = p->rooms.v[i].until;
		if (until && (!due || until < due))
			due = until;
	}
	struct person_timer *t = p->timer;
	if (!srv->loop)
		return;
	if (t)
		ev_timer_stop(srv->loop, &t->w);
	if (!due)
		return;
	if (!t) {
		if (!(t = calloc(1, sizeof *t))) {
			log_err("out of memory: %s's grace period will not end", p->name);
			return;
		}
		t->srv = srv;
		t->p = p;
		p->timer = t;
	}
	int64_t wait = due - mono_ms();
	ev_timer_init(&t->w, person_timer_fired, wait > 0 ? (double)wait / 1000.0 : 0., 0.);
	ev_timer_start(srv->loop, &t->w);
}

/* ---- names decided by a plugin (CHATD_EV_NAME_CLAIM) ---- */

/* Add a candidate (copied) unless its key is there already. 0, or -1 on OOM. */
static int add_candidate(char **names, char **folds, int *count, const char *name, const char *key)
{
	for (int i = 0; i < *count; i++)
		if (!strcmp(folds[i], key))
			return 0;
	if (!(names[*count] = strdup(name)))
		return -1;
	if (!(folds[*count] = strdup(key))) {
		free(names[*count]);
		return -1;
	}
	(*count)++;
	return 0;
}

/* Guest names free here, up to max candidates in all. */
static int add_guests(struct chatd_server *srv, char **names, char **folds, int max, int *count)
{
	char name[NICK_MAX_BYTES + 1], key[sizeof ((struct person *)0)->fold];
	for (int tries = 0; *count < max && tries < 1000; tries++) {
		srv->rng = srv->rng * 1103515245u + 12345u;
		unsigned v = (srv->rng >> 8) % 90000 + 10000;
		snprintf(name, sizeof name, "guest-%u", v);
		nick_fold(name, key, sizeof key);
		if (!strmap_get(&srv->nicks, key) && add_candidate(names, folds, count, name, key))
			return -1;
	}
	return 0;
}

int identity_candidates(struct chatd_server *srv, struct chatd_client *c, const char *wanted, char **names,
			char **folds, int max, int *count)
{
	char name[NICK_MAX_BYTES + 1], key[sizeof ((struct person *)0)->fold];
	struct person *p = c->person; /* a rename: its own name counts as free */
	*count = 0;
	for (unsigned n = 1; wanted && n < MAX_VARIANTS && *count < max - IDENTITY_GUEST_CANDIDATES; n++) {
		candidate(wanted, n, name, sizeof name);
		nick_fold(name, key, sizeof key);
		struct person *owner = strmap_get(&srv->nicks, key);
		if (!p && owner && same_session(owner, c)) { /* another tab of a person here */
			if (attach(owner, c))
				return -1;
			identity_schedule(srv, owner);
			return 1;
		}
		if ((!owner || owner == p) && add_candidate(names, folds, count, name, key))
			return -1;
	}
	return add_guests(srv, names, folds, max, count) ? -1 : 0;
}

int identity_take(struct chatd_server *srv, struct chatd_client *c, const char *name)
{
	char key[sizeof ((struct person *)0)->fold];
	nick_fold(name, key, sizeof key);
	struct person *owner = strmap_get(&srv->nicks, key), *p = c->person;
	if (p) /* a rename */
		return !owner || owner == p ? take(srv, p, name, key) : identity_rename(srv, c, name);
	if (!owner)
		return person_new(srv, c, name, key);
	if (same_session(owner, c)) {
		if (attach(owner, c))
			return -1;
		identity_schedule(srv, owner);
		return 0;
	}
	return identity_claim(srv, c, name); /* taken here meanwhile: a variant */
}

/* p goes for good: CHATD_EV_NAME_RELEASE, then free it. */
static void person_release(struct chatd_server *srv, struct person *p)
{
	if (p->fold[0] && hooks_any(&srv->hooks, CHATD_EV_NAME_RELEASE)) {
		struct chatd_name_release_event ev = { .size = sizeof ev, .name = p->name, .fold = p->fold };
		hooks_dispatch(&srv->hooks, CHATD_EV_NAME_RELEASE, &ev);
	}
	person_free(srv, p);
}

struct person *identity_find(struct chatd_server *srv, const char *name)
{
	char key[sizeof ((struct person *)0)->fold];
	nick_fold(name, key, sizeof key);
	return strmap_get(&srv->nicks, key);
}

void identity_free_all(struct chatd_server *srv)
{
	size_t pos = 0;
	void *v;
	while (strmap_next(&srv->nicks, &pos, NULL, &v)) {
		struct person *p = v;
		p->fold[0] = 0; /* the map is freed as a whole */
		person_free(srv, p);
	}
	strmap_free(&srv->nicks);
}
