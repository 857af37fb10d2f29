#include "strvec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strvec_push(struct strvec *sv, const char *s, size_t n)
{
	if (sv->oom)
		return;
	if (sv->len == sv->cap) {
		size_t ncap = sv->cap ? sv->cap * 2 : 16;
		const char **v = realloc(sv->v, ncap * sizeof *v);
		size_t *lens = v ? realloc(sv->n, ncap * sizeof *lens) : NULL;
		if (v)
			sv->v = v;
		if (!v || !lens) {
			sv->oom = 1;
			return;
		}
		sv->n = lens;
		sv->cap = ncap;
	}
	sv->v[sv->len] = s;
	sv->n[sv->len++] = n;
}

void strvec_pushz(struct strvec *sv, const char *s) { strvec_push(sv, s, strlen(s)); }

static char *keep(struct strvec *sv, char *copy)
{
	if (!copy) {
		sv->oom = 1;
		return NULL;
	}
	if (sv->nowned == sv->capowned) {
		size_t ncap = sv->capowned ? sv->capowned * 2 : 8;
		char **o = realloc(sv->owned, ncap * sizeof *o);
		if (!o) {
			free(copy);
			sv->oom = 1;
			return NULL;
		}
		sv->owned = o;
		sv->capowned = ncap;
	}
	sv->owned[sv->nowned++] = copy;
	return copy;
}

void strvec_push_copy(struct strvec *sv, const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = 0;
	}
	if (keep(sv, c))
		strvec_push(sv, c, n);
}

void strvec_push_int(struct strvec *sv, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof buf, "%" PRId64, v);
	strvec_push_copy(sv, buf, (size_t)n);
}

void strvec_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->nowned; i++)
		free(sv->owned[i]);
	free(sv->owned);
	free(sv->v);
	free(sv->n);
	memset(sv, 0, sizeof *sv);
}
