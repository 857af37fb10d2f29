#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char strmap_tomb_marker;
#define STRMAP_TOMB (&strmap_tomb_marker)

static uint64_t strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

void strmap_init(struct strmap *m) { memset(m, 0, sizeof *m); }

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != STRMAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	strmap_init(m);
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1, i = strmap_hash(key) & mask;
	for (;;) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != STRMAP_TOMB && !strcmp(s->key, key))
			return s;
		i = (i + 1) & mask;
	}
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key);
	return s ? s->value : NULL;
}

static int strmap_grow(struct strmap *m)
{
	/* Rehash to a size fit for the live keys: this also drops tombstones,
	 * so churn (insert/delete cycles) does not grow the table. */
	size_t ncap = 16;
	while ((m->count + 1) * 2 >= ncap)
		ncap *= 2;
	struct strmap_slot *ns = calloc(ncap, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || s->key == STRMAP_TOMB)
			continue;
		size_t j = strmap_hash(s->key) & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	m->used = m->count;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_slot *s = strmap_find(m, key);
	if (s) {
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 >= m->cap * 3 && strmap_grow(m))
		return -1;
	char *k = strdup(key);
	if (!k)
		return -1;
	size_t mask = m->cap - 1, i = strmap_hash(key) & mask;
	while (m->slots[i].key && m->slots[i].key != STRMAP_TOMB)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = k;
	m->slots[i].value = value;
	m->count++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key);
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = STRMAP_TOMB;
	s->value = NULL;
	m->count--;
	return v;
}

int strmap_next(const struct strmap *m, size_t *pos, const char **key, void **value)
{
	while (*pos < m->cap) {
		struct strmap_slot *s = &m->slots[(*pos)++];
		if (s->key && s->key != STRMAP_TOMB) {
			if (key)
				*key = s->key;
			if (value)
				*value = s->value;
			return 1;
		}
	}
	return 0;
}
