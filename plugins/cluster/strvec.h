/* A growing argument vector for Redis commands: borrowed or owned strings
 * with their lengths. */
#ifndef CLUSTER_STRVEC_H
#define CLUSTER_STRVEC_H

#include <stddef.h>
#include <stdint.h>

struct strvec {
	const char **v;
	size_t *n;
	size_t len, cap;
	char **owned;              /* copies made by push_copy / push_int */
	size_t nowned, capowned;
	int oom;                   /* a push failed: the vector is incomplete */
};

/* Append s[0..n) (borrowed: must outlive the vector's use). */
void strvec_push(struct strvec *sv, const char *s, size_t n);
/* Append a NUL-terminated string (borrowed). */
void strvec_pushz(struct strvec *sv, const char *s);
/* Append a copy of s[0..n). */
void strvec_push_copy(struct strvec *sv, const char *s, size_t n);
/* Append a decimal integer (owned). */
void strvec_push_int(struct strvec *sv, int64_t v);
/* Free what the vector owns and empty it. */
void strvec_free(struct strvec *sv);

#endif
