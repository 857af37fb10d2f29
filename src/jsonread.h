/* Reading JSON values for plugins: the frame of CHATD_EV_FRAME and what is
 * nested in it, through opaque value handles (const void *, a json_t). */
#ifndef CHATD_JSONREAD_H
#define CHATD_JSONREAD_H

#include <stddef.h>
#include <stdint.h>

/* The plugin API's frame_get_* and value_* (see chatd/plugin.h). */
int jr_get_str(const void *json, const char *key, const char **out);
int jr_get_int(const void *json, const char *key, int64_t *out);
int jr_get_bool(const void *json, const char *key, int *out);
int jr_get_double(const void *json, const char *key, double *out);
const void *jr_value_get(const void *obj, const char *key);
const void *jr_value_at(const void *arr, size_t index);
const void *jr_value_member(const void *obj, size_t index, const char **key);
int jr_value_type(const void *v);
size_t jr_value_size(const void *v);
const char *jr_value_str(const void *v, size_t *len);
int64_t jr_value_int(const void *v);
double jr_value_double(const void *v);
int jr_value_bool(const void *v);

#endif
