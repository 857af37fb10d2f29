#include "proto.h"

#include <string.h>

/* The next field of the cursor (up to "\n", or the rest when last). */
static int field(const char **cur, const char *end, struct pstr *out, int last)
{
	const char *p = *cur;
	if (p > end)
		return -1;
	if (last) {
		out->p = p;
		out->n = (size_t)(end - p);
		*cur = end + 1;
		return 0;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return -1;
	out->p = p;
	out->n = (size_t)(nl - p);
	*cur = nl + 1;
	return 0;
}

static int number(struct pstr s, int64_t *out)
{
	int64_t v = 0;
	if (!s.n || s.n > 18)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (s.p[i] - '0');
	}
	*out = v;
	return 0;
}

int pstr_is(struct pstr s, const char *z)
{
	size_t n = strlen(z);
	return s.n == n && !memcmp(s.p, z, n);
}

static int parse_message(const char **cur, const char *end, struct pmsg *m)
{
	struct pstr id, ts, req, ulen, rest;
	int64_t v, n;
	if (field(cur, end, &id, 0) || field(cur, end, &ts, 0) || field(cur, end, &m->node, 0) ||
	    field(cur, end, &req, 0) || field(cur, end, &ulen, 0) || field(cur, end, &rest, 1))
		return -1;
	if (number(id, &m->id) || number(ts, &m->ts) || number(req, &v) || number(ulen, &n) || (size_t)n > rest.n)
		return -1;
	m->req = (uint64_t)v;
	m->user = (struct pstr){ rest.p, (size_t)n };
	m->text = (struct pstr){ rest.p + n, rest.n - (size_t)n };
	return 0;
}

static int parse_presence(const char **cur, const char *end, struct pmsg *m)
{
	struct pstr pv, op;
	if (field(cur, end, &pv, 0) || number(pv, &m->pv) || field(cur, end, &op, 0) || op.n != 1)
		return -1;
	m->op = op.p[0];
	switch (m->op) {
	case 'j':
		return field(cur, end, &m->node, 0) || field(cur, end, &m->fold, 0) || field(cur, end, &m->display, 1)
			       ? -1 : 0;
	case 'l':
		return field(cur, end, &m->node, 0) || field(cur, end, &m->fold, 1) ? -1 : 0;
	case 'r':
		return field(cur, end, &m->node, 0) || field(cur, end, &m->old, 0) || field(cur, end, &m->fold, 0) ||
			       field(cur, end, &m->display, 1)
			       ? -1 : 0;
	default:
		return -1;
	}
}

int proto_parse_room(const char *data, size_t len, struct pmsg *m)
{
	const char *cur = data + 2, *end = data + len;
	memset(m, 0, sizeof *m);
	if (len < 3 || data[1] != '\n')
		return -1;
	switch (data[0]) {
	case 'm':
		m->kind = P_MESSAGE;
		return parse_message(&cur, end, m);
	case 'p':
		m->kind = P_PRESENCE;
		return parse_presence(&cur, end, m);
	case 'e': {
		struct pstr flags;
		int64_t f;
		m->kind = P_EPHEMERAL;
		if (field(&cur, end, &m->node, 0) || field(&cur, end, &flags, 0) || number(flags, &f) ||
		    field(&cur, end, &m->json, 1))
			return -1;
		m->flags = (int)f;
		return 0;
	}
	default:
		return -1;
	}
}
