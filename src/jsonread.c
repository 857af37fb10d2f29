#include "jsonread.h"
#include "chatd/plugin.h"

#include <jansson.h>

#define J(v) ((json_t *)(v))

/* The member key of json, NULL when absent or null (or json is no object). */
static json_t *member(const void *json, const char *key)
{
	json_t *v = json_is_object(J(json)) && key ? json_object_get(J(json), key) : NULL;
	return v && !json_is_null(v) ? v : NULL;
}

int jr_get_str(const void *json, const char *key, const char **out)
{
	json_t *v = member(json, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

int jr_get_int(const void *json, const char *key, int64_t *out)
{
	json_t *v = member(json, key);
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 1;
}

int jr_get_bool(const void *json, const char *key, int *out)
{
	json_t *v = member(json, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 1;
}

int jr_get_double(const void *json, const char *key, double *out)
{
	json_t *v = member(json, key);
	if (!v)
		return 0;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 1;
}

const void *jr_value_get(const void *obj, const char *key)
{
	return json_is_object(J(obj)) && key ? json_object_get(J(obj), key) : NULL;
}

const void *jr_value_at(const void *arr, size_t index)
{
	return json_is_array(J(arr)) ? json_array_get(J(arr), index) : NULL;
}

const void *jr_value_member(const void *obj, size_t index, const char **key)
{
	if (!json_is_object(J(obj)))
		return NULL;
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach(J(obj), k, v) {
		if (i++ == index) {
			if (key)
				*key = k;
			return v;
		}
	}
	return NULL;
}

int jr_value_type(const void *v)
{
	switch (v ? json_typeof(J(v)) : JSON_NULL) {
	case JSON_OBJECT: return CHATD_JSON_OBJECT;
	case JSON_ARRAY: return CHATD_JSON_ARRAY;
	case JSON_STRING: return CHATD_JSON_STRING;
	case JSON_INTEGER: return CHATD_JSON_INT;
	case JSON_REAL: return CHATD_JSON_DOUBLE;
	case JSON_TRUE:
	case JSON_FALSE: return CHATD_JSON_BOOL;
	case JSON_NULL: return v ? CHATD_JSON_NULL : CHATD_JSON_ABSENT;
	}
	return CHATD_JSON_ABSENT;
}

size_t jr_value_size(const void *v)
{
	if (json_is_array(J(v)))
		return json_array_size(J(v));
	if (json_is_object(J(v)))
		return json_object_size(J(v));
	return 0;
}

const char *jr_value_str(const void *v, size_t *len)
{
	if (!json_is_string(J(v)))
		return NULL;
	if (len)
		*len = json_string_length(J(v));
	return json_string_value(J(v));
}

int64_t jr_value_int(const void *v) { return json_is_integer(J(v)) ? json_integer_value(J(v)) : 0; }
double jr_value_double(const void *v) { return json_is_number(J(v)) ? json_number_value(J(v)) : 0.0; }
int jr_value_bool(const void *v) { return json_is_true(J(v)); }
