/* A string-keyed hash map (open addressing, linear probing). Keys are copied;
 * values are borrowed pointers the caller owns. */
#ifndef CHATD_STRMAP_H
#define CHATD_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	char *key; /* owned; NULL = empty; STRMAP_TOMB = deleted */
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;   /* power of two */
	size_t count; /* live keys */
	size_t used;  /* live + tombstones */
};

/* Initialise an empty map. */
void strmap_init(struct strmap *m);
/* Free the map's storage (not the values). */
void strmap_free(struct strmap *m);
/* Value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; returns 0, -1 on allocation failure. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Remove key; returns the old value or NULL. */
void *strmap_del(struct strmap *m, const char *key);
/* Iterate: start with *pos = 0; returns 1 and fills key/value, 0 at the end. */
int strmap_next(const struct strmap *m, size_t *pos, const char **key, void **value);

#endif
