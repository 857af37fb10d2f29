#include "roomset.h"

#include <stdlib.h>
#include <string.h>

void roomset_init(struct roomset *s) { memset(s, 0, sizeof *s); }

void roomset_free(struct roomset *s)
{
	free(s->v);
	free(s->slots);
	roomset_init(s);
}

/* The home slot of r in a table of nslots (a power of two). */
static size_t home_slot(const struct room *r, size_t nslots)
{
	uint64_t h = (uint64_t)(uintptr_t)r * 0x9e3779b97f4a7c15ULL; /* Fibonacci hashing */
	return (size_t)(h >> 32) & (nslots - 1);
}

/* The table slot holding r's index, or (size_t)-1. Only with a table. */
static size_t slot_of(const struct roomset *s, const struct room *r)
{
	size_t mask = s->nslots - 1;
	for (size_t i = home_slot(r, s->nslots);; i = (i + 1) & mask) {
		uint32_t v = s->slots[i];
		if (!v)
			return (size_t)-1;
		if (s->v[v - 1].room == r)
			return i;
	}
}

/* Put index idx (of s->v) into the table. Only with a table that has room. */
static void slot_put(struct roomset *s, size_t idx)
{
	size_t mask = s->nslots - 1, i = home_slot(s->v[idx].room, s->nslots);
	while (s->slots[i])
		i = (i + 1) & mask;
	s->slots[i] = (uint32_t)(idx + 1);
}

/* A table of nslots for the current entries. 0, or -1 on OOM (unchanged). */
static int rebuild(struct roomset *s, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return -1;
	free(s->slots);
	s->slots = slots;
	s->nslots = nslots;
	for (size_t i = 0; i < s->n; i++)
		slot_put(s, i);
	return 0;
}

struct roomset_entry *roomset_find(const struct roomset *s, const struct room *r)
{
	if (!s->slots) {
		for (size_t i = 0; i < s->n; i++)
			if (s->v[i].room == r)
				return &s->v[i];
		return NULL;
	}
	size_t i = slot_of(s, r);
	return i == (size_t)-1 ? NULL : &s->v[s->slots[i] - 1];
}

struct roomset_entry *roomset_add(struct roomset *s, struct room *r)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1;
		struct roomset_entry *nv = realloc(s->v, ncap * sizeof *nv);
		if (!nv)
			return NULL;
		s->v = nv;
		s->cap = ncap;
	}
	size_t n = s->n + 1;
	if (n > ROOMSET_SCAN_MAX && (!s->slots || n * 2 > s->nslots)) {
		size_t nslots = s->nslots ? s->nslots : 16;
		while (n * 2 > nslots)
			nslots *= 2;
		if (rebuild(s, nslots))
			return NULL;
	}
	struct roomset_entry *e = &s->v[s->n];
	memset(e, 0, sizeof *e);
	e->room = r;
	if (s->slots)
		slot_put(s, s->n);
	s->n = n;
	return e;
}

/* Linear probing without tombstones: empty slot i, then move back every
 * entry after it in the same cluster that may not stay where it is. */
static void slot_delete(struct roomset *s, size_t i)
{
	size_t mask = s->nslots - 1, j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!s->slots[j])
			break;
		size_t k = home_slot(s->v[s->slots[j] - 1].room, s->nslots);
		/* the entry at j stays when its home k lies cyclically in (i, j] */
		int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!stays) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i] = 0;
}

void roomset_remove(struct roomset *s, const struct room *r)
{
	struct roomset_entry *e = roomset_find(s, r);
	if (!e)
		return;
	size_t idx = (size_t)(e - s->v), last = s->n - 1;
	if (s->slots)
		slot_delete(s, slot_of(s, r));
	if (idx != last) { /* swap-remove: the last entry moves into idx */
		if (s->slots)
			s->slots[slot_of(s, s->v[last].room)] = (uint32_t)(idx + 1);
		s->v[idx] = s->v[last];
	}
	s->n = last;
	if (!s->n) {
		roomset_free(s);
	} else if (s->slots && s->n <= ROOMSET_SCAN_MAX / 2) {
		/* back to scanning (hysteresis: not at every add/remove around the limit) */
		free(s->slots);
		s->slots = NULL;
		s->nslots = 0;
	}
}
