/* Nicknames and people. A person is a name with its connections: the
 * connections of one session (?session=KEY) that ask for the same name share
 * it, so several tabs are one person; a connection without a session is a
 * person of its own. srv->nicks maps a folded name to its person. A person
 * whose session's connections all closed keeps its name for
 * presence_grace_ms (a reload takes it back silently), then is freed. */
#ifndef CHATD_IDENTITY_H
#define CHATD_IDENTITY_H

#include "server.h"

/* Session keys: 16 to 128 characters of [A-Za-z0-9_-]. */
#define SESSION_KEY_MIN 16
#define SESSION_KEY_MAX 128

/*
 * Check a ?session= key (borrowed) and keep only its SHA-256 in c. Returns
 * NULL, or a static reason why the key is refused (then c is unchanged).
 */
const char *identity_session(struct chatd_client *c, const char *key);

/*
 * At open (c has no person yet): give c the name `wanted` (normalised), or
 * its first free variant (wanted2, wanted3, ...; shortened to fit 32
 * characters). A name held by a person of c's own session is not taken but
 * shared: c becomes one more connection of that person. Returns 0, -1 on
 * OOM.
 */
int identity_claim(struct chatd_server *srv, struct chatd_client *c, const char *wanted);
/* At open: c becomes a new person with a free guest-NNNN name. 0 or -1. */
int identity_guest(struct chatd_server *srv, struct chatd_client *c);
/*
 * Rename c's person, every connection sharing its name, to `wanted`
 * (normalised) or its first free variant; a name held by any other person
 * is not free. Returns 0, -1 on OOM (nothing changed).
 */
int identity_rename(struct chatd_server *srv, struct chatd_client *c, const char *wanted);
/* Whether closing c holds its presence for presence_grace_ms: c has a
 * session, grace is on, the server is not shutting down. */
int identity_grace_applies(const struct chatd_server *srv, const struct chatd_client *c);
/*
 * At close: take c out of its person. A person left without connections is
 * freed at once unless it has a session and presence_grace_ms is on (and
 * the server is not shutting down): then its name stays reserved for that
 * session for the grace period (identity_schedule).
 */
void identity_detach(struct chatd_server *srv, struct chatd_client *c);
/*
 * (Re)arm p's grace timer for its earliest deadline: its name's (no
 * connections left) and its rooms' (held in grace, see membership.c). When
 * a deadline passes, held rooms are left with a leave notice and a person
 * without connections is freed, its name free again.
 */
void identity_schedule(struct chatd_server *srv, struct person *p);
/* Guest names at the end of a candidate list. */
#define IDENTITY_GUEST_CANDIDATES 8

/*
 * Names c could get when a plugin decides (CHATD_EV_NAME_CLAIM): at open (c
 * has no person) wanted's variants held by nobody here; for a rename those
 * held by nobody or by c's own person; then IDENTITY_GUEST_CANDIDATES guest
 * names (wanted NULL: guests only); at most max in all, with their folds
 * (new strings in names/folds, *count of them). Returns 0; 1 when at open c
 * simply became one more connection of a person of its own session here
 * (nothing to claim); -1 on OOM (what was made is in names/folds).
 */
int identity_candidates(struct chatd_server *srv, struct chatd_client *c, const char *wanted, char **names,
			char **folds, int max, int *count);
/* Give c (at open) or c's person (a rename) the name a plugin granted
 * (normalised): a variant of it should it be taken here meanwhile. 0, -1 on OOM. */
int identity_take(struct chatd_server *srv, struct chatd_client *c, const char *name);
/* The person holding name (any case), or NULL. */
struct person *identity_find(struct chatd_server *srv, const char *name);
/* Free every person and its timer (teardown, after every client is gone). */
void identity_free_all(struct chatd_server *srv);

#endif
