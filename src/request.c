#include "request.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void request_init(struct chatd_request *r, const struct request_source *src, void *ctx, const char *method,
		  const char *path, const char *address)
{
	memset(r, 0, sizeof *r);
	r->src = src;
	r->ctx = ctx;
	r->method = method;
	r->path = path;
	r->address = address;
}

void request_clear(struct chatd_request *r)
{
	for (size_t i = 0; i < r->nanswers; i++) {
		free(r->answers[i].name);
		free(r->answers[i].value);
	}
	free(r->answers);
	r->answers = NULL;
	r->nanswers = 0;
	free(r->text_query);
	free(r->text_headers);
	r->text_query = r->text_headers = NULL;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

char *url_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = 0;
	return out;
}

/* The text source: ctx is the request itself. */
static char *text_header(void *ctx, const char *lname)
{
	struct chatd_request *r = ctx;
	size_t nlen = strlen(lname);
	char *joined = NULL;
	size_t jlen = 0;
	for (const char *line = r->text_headers; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t llen = end ? (size_t)(end - line) : strlen(line);
		if (llen > nlen && line[nlen] == ':' && !strncasecmp(line, lname, nlen)) {
			const char *v = line + nlen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vlen = (size_t)(line + llen - v);
			while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			char *n = realloc(joined, jlen + vlen + 3);
			if (!n) {
				free(joined);
				return NULL;
			}
			joined = n;
			if (jlen) { /* lines of one header join as lws joins them */
				memcpy(joined + jlen, "; ", 2);
				jlen += 2;
			}
			memcpy(joined + jlen, v, vlen);
			jlen += vlen;
			joined[jlen] = 0;
		}
		line = end ? end + 1 : line + llen;
	}
	return joined;
}

static char *text_query_arg(void *ctx, int i)
{
	struct chatd_request *r = ctx;
	const char *p = r->text_query;
	if (!p || !*p)
		return NULL;
	for (int k = 0; k < i; k++) {
		p = strchr(p, '&');
		if (!p)
			return NULL;
		p++;
	}
	const char *end = strchr(p, '&');
	return url_decode(p, end ? (size_t)(end - p) : strlen(p));
}

static const struct request_source text_source = { text_header, text_query_arg };

int request_init_text(struct chatd_request *r, const char *method, const char *path, const char *query,
		      const char *headers, const char *address)
{
	request_init(r, &text_source, NULL, method, path, address);
	r->ctx = r;
	if ((query && !(r->text_query = strdup(query))) || (headers && !(r->text_headers = strdup(headers)))) {
		request_clear(r);
		return -1;
	}
	return 0;
}

/* The answer (kind, name) given before, or NULL. */
static struct request_answer *answer_find(struct chatd_request *r, int kind, const char *name)
{
	for (size_t i = 0; i < r->nanswers; i++)
		if (r->answers[i].kind == kind &&
		    (kind == 'h' ? !strcasecmp(r->answers[i].name, name) : !strcmp(r->answers[i].name, name)))
			return &r->answers[i];
	return NULL;
}

/* Keep value (steals; may be NULL) as the answer to (kind, name); returns it
 * (borrowed), NULL when absent or out of memory. */
static const char *answer_keep(struct chatd_request *r, int kind, const char *name, char *value)
{
	struct request_answer *n = realloc(r->answers, (r->nanswers + 1) * sizeof *n);
	char *ncopy = strdup(name);
	if (!n || !ncopy) {
		if (n)
			r->answers = n;
		free(ncopy);
		free(value);
		return NULL;
	}
	r->answers = n;
	n[r->nanswers++] = (struct request_answer){ kind, ncopy, value };
	return value;
}

const char *request_header(chatd_request *r, const char *name)
{
	if (!r || !name || !r->src)
		return NULL;
	struct request_answer *a = answer_find(r, 'h', name);
	if (a)
		return a->value;
	char lname[128];
	size_t n = strlen(name);
	if (!n || n >= sizeof lname)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		lname[i] = (char)tolower((unsigned char)name[i]);
	if (lname[n - 1] == ':') /* "Cookie:" is "Cookie" */
		lname[n - 1] = 0;
	return answer_keep(r, 'h', name, r->src->header(r->ctx, lname));
}

const char *request_query(chatd_request *r, const char *name)
{
	if (!r || !name || !r->src)
		return NULL;
	struct request_answer *a = answer_find(r, 'q', name);
	if (a)
		return a->value;
	size_t n = strlen(name);
	char *value = NULL, *arg;
	for (int i = 0; !value && (arg = r->src->query_arg(r->ctx, i)); i++) {
		if (!strncmp(arg, name, n) && (arg[n] == '=' || !arg[n])) {
			value = strdup(arg[n] ? arg + n + 1 : "");
			free(arg);
			if (!value)
				return NULL;
			break;
		}
		free(arg);
	}
	return answer_keep(r, 'q', name, value);
}

/* The value of cookie `name` in a Cookie header ("a=1; b=2"), new, or NULL. */
static char *cookie_value(const char *header, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > n && p[n] == '=' && !strncmp(p, name, n)) {
			const char *v = p + n + 1;
			size_t vlen = len - n - 1;
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			return strndup(v, vlen);
		}
		p += len;
	}
	return NULL;
}

const char *request_cookie(chatd_request *r, const char *name)
{
	if (!r || !name || !*name)
		return NULL;
	struct request_answer *a = answer_find(r, 'c', name);
	if (a)
		return a->value;
	const char *header = request_header(r, "cookie");
	return answer_keep(r, 'c', name, header ? cookie_value(header, name) : NULL);
}

const char *request_path(chatd_request *r) { return r ? r->path : NULL; }
const char *request_method(chatd_request *r) { return r ? r->method : NULL; }
const char *request_address(chatd_request *r) { return r ? r->address : NULL; }

const char *request_body(chatd_request *r, size_t *len)
{
	if (len)
		*len = r ? r->body_len : 0;
	return r ? r->body : NULL;
}
