/* A set of rooms keyed by room pointer, each with a small record: the rooms
 * of one connection, or of one person. Finding, adding and removing a room cost O(1): up to
 * ROOMSET_SCAN_MAX rooms the dense array is scanned (no table at all for the
 * common one-room connection), beyond that an open-addressing table indexes
 * it. Iterate over s->v[0 .. s->n) (unordered). */
#ifndef CHATD_ROOMSET_H
#define CHATD_ROOMSET_H

#include <stddef.h>
#include <stdint.h>

struct room;

/* Sets of up to this many rooms have no hash table. */
#define ROOMSET_SCAN_MAX 8

struct roomset_entry {
	struct room *room;   /* borrowed: the set does not own rooms */
	size_t index;        /* the owner's position in the room's member (or people) array */
	uint64_t seq;        /* a connection's: when it last joined (the current room is the highest) */
	uint32_t count;      /* a person's: its connections in the room */
	int64_t until;       /* a person's: with count 0, present until then (grace, monotonic ms) */
};

struct roomset {
	struct roomset_entry *v; /* dense, unordered; owned */
	size_t n, cap;
	uint32_t *slots;     /* NULL, or nslots entries: index + 1 into v, 0 = empty; owned */
	size_t nslots;       /* power of two, at least twice n */
};

/* An empty set (no allocation). */
void roomset_init(struct roomset *s);
/* Free the set's storage (not the rooms); it is empty afterwards. */
void roomset_free(struct roomset *s);
/* The entry of r, or NULL when r is not in the set (borrowed: valid until
 * the next add or remove). */
struct roomset_entry *roomset_find(const struct roomset *s, const struct room *r);
/* Add r, which must not be in the set; returns its entry (zeroed but for
 * room; borrowed as above), or NULL on OOM (the set is unchanged). */
struct roomset_entry *roomset_add(struct roomset *s, struct room *r);
/* Remove r (no-op when absent). Another entry may move in the dense array. */
void roomset_remove(struct roomset *s, const struct room *r);

#endif
