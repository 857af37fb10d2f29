#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "names.h"

struct outbuf *json_to_outbuf(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return NULL;
	struct outbuf *b = outbuf_new(text, strlen(text));
	free(text);
	return b;
}

struct chatd_frame *frame_new(const char *type)
{
	struct chatd_frame *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->obj = json_object();
	if (!f->obj || json_object_set_new(f->obj, "type", json_string(type ? type : ""))) {
		json_decref(f->obj);
		free(f);
		return NULL;
	}
	return f;
}

struct chatd_frame *frame_parse(const char *json, size_t len)
{
	if (!json)
		return NULL;
	json_t *obj = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return NULL;
	}
	struct chatd_frame *f = calloc(1, sizeof *f);
	if (!f || !(f->cache = outbuf_new(json, len))) {
		free(f);
		json_decref(obj);
		return NULL;
	}
	f->obj = obj;
	return f;
}

void frame_free(struct chatd_frame *f)
{
	if (!f)
		return;
	json_decref(f->obj);
	outbuf_unref(f->cache);
	free(f);
}

static void frame_changed(struct chatd_frame *f)
{
	outbuf_unref(f->cache);
	f->cache = NULL;
}

/* A JSON string of s (borrowed), new; NULL only when out of memory. JSON text
 * is UTF-8 and jansson refuses anything else, which left a plugin's field out
 * without a word: a byte that starts no valid UTF-8 sequence (a stray
 * continuation, an overlong form, a surrogate, a cut sequence) becomes U+FFFD. */
static json_t *json_string_lossy(const char *s)
{
	json_t *v = json_string(s);
	if (v)
		return v;
	size_t len = strlen(s), n = 0;
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	while (len) {
		unsigned cp;
		size_t k = utf8_decode(p, len, &cp);
		if (k) {
			memcpy(out + n, p, k);
			n += k;
		} else {
			memcpy(out + n, "\xef\xbf\xbd", 3);
			n += 3;
			k = 1;
		}
		p += k;
		len -= k;
	}
	v = json_stringn_nocheck(out, n);
	free(out);
	return v;
}

void frame_set_str(struct chatd_frame *f, const char *key, const char *value)
{
	frame_changed(f);
	json_object_set_new(f->obj, key, value ? json_string_lossy(value) : json_null());
}

void frame_set_int(struct chatd_frame *f, const char *key, int64_t value)
{
	frame_changed(f);
	json_object_set_new(f->obj, key, json_integer(value));
}

void frame_set_bool(struct chatd_frame *f, const char *key, int value)
{
	frame_changed(f);
	json_object_set_new(f->obj, key, json_boolean(value));
}

void frame_push(struct chatd_frame *f, const char *key, struct chatd_frame *child)
{
	frame_changed(f);
	json_t *arr = json_object_get(f->obj, key);
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(f->obj, key, arr);
	}
	if (child) {
		json_array_append(arr, child->obj);
		frame_free(child);
	}
}

struct outbuf *frame_encoded(struct chatd_frame *f)
{
	if (!f->cache)
		f->cache = json_to_outbuf(f->obj);
	return f->cache;
}

struct chatd_frame *frame_object_new(void)
{
	struct chatd_frame *f = calloc(1, sizeof *f);
	if (f && !(f->obj = json_object())) {
		free(f);
		return NULL;
	}
	return f;
}

void frame_set_double(struct chatd_frame *f, const char *key, double value)
{
	frame_changed(f);
	json_object_set_new(f->obj, key, json_real(value));
}

void frame_set_null(struct chatd_frame *f, const char *key)
{
	frame_changed(f);
	json_object_set_new(f->obj, key, json_null());
}

void frame_set_frame(struct chatd_frame *f, const char *key, struct chatd_frame *child)
{
	frame_changed(f);
	if (child) {
		json_object_set(f->obj, key, child->obj);
		frame_free(child);
	} else {
		json_object_set_new(f->obj, key, json_null());
	}
}

/* Append v (steals) to the array key of f, creating it. */
static void push_value(struct chatd_frame *f, const char *key, json_t *v)
{
	frame_changed(f);
	json_t *arr = json_object_get(f->obj, key);
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(f->obj, key, arr);
	}
	json_array_append_new(arr, v);
}

void frame_push_str(struct chatd_frame *f, const char *key, const char *value)
{
	push_value(f, key, value ? json_string_lossy(value) : json_null());
}

void frame_push_int(struct chatd_frame *f, const char *key, int64_t value) { push_value(f, key, json_integer(value)); }
void frame_push_double(struct chatd_frame *f, const char *key, double value) { push_value(f, key, json_real(value)); }
void frame_push_bool(struct chatd_frame *f, const char *key, int value) { push_value(f, key, json_boolean(value)); }
void frame_push_null(struct chatd_frame *f, const char *key) { push_value(f, key, json_null()); }
