/* Outgoing JSON frames: the plugin-facing builder (struct chatd_frame) and
 * the core's encode-once helper. */
#ifndef CHATD_FRAME_H
#define CHATD_FRAME_H

#include <jansson.h>
#include "outbuf.h"

struct chatd_frame {
	json_t *obj;            /* owned */
	struct outbuf *cache;   /* owned reference; NULL until first encoded */
};

/* Encode obj (borrowed) compactly into a new outbuf (refs = 1); NULL on OOM. */
struct outbuf *json_to_outbuf(json_t *obj);

/* A new frame {"type": type}; NULL on OOM. */
struct chatd_frame *frame_new(const char *type);
/* Free f and its cache. NULL is ignored. */
void frame_free(struct chatd_frame *f);
/* Set fields; each invalidates the cache. A string value NULL sets null; a
 * byte of it that is not valid UTF-8 is set as U+FFFD. */
void frame_set_str(struct chatd_frame *f, const char *key, const char *value);
void frame_set_int(struct chatd_frame *f, const char *key, int64_t value);
void frame_set_bool(struct chatd_frame *f, const char *key, int value);
/* Append child (steals) to array key. */
void frame_push(struct chatd_frame *f, const char *key, struct chatd_frame *child);
/* A frame from JSON text (an object; duplicate keys refused), its encoded
 * form the text itself until changed. NULL when it is not one, or on OOM. */
struct chatd_frame *frame_parse(const char *json, size_t len);
/* A frame that is a bare object {} (no "type"): to nest with frame_set_frame
 * or frame_push. NULL on OOM. */
struct chatd_frame *frame_object_new(void);
/* More field types; each invalidates the cache. A double that is not finite
 * (NaN, infinity) cannot be JSON: the field is left out. */
void frame_set_double(struct chatd_frame *f, const char *key, double value);
void frame_set_null(struct chatd_frame *f, const char *key);
/* Set key to child's object (steals child; NULL sets null). */
void frame_set_frame(struct chatd_frame *f, const char *key, struct chatd_frame *child);
/* Append a scalar to the array key (created when absent). */
void frame_push_str(struct chatd_frame *f, const char *key, const char *value);
void frame_push_int(struct chatd_frame *f, const char *key, int64_t value);
void frame_push_double(struct chatd_frame *f, const char *key, double value);
void frame_push_bool(struct chatd_frame *f, const char *key, int value);
void frame_push_null(struct chatd_frame *f, const char *key);
/* The encoded form, encoded at most once per change (borrowed). NULL on OOM. */
struct outbuf *frame_encoded(struct chatd_frame *f);

#endif
