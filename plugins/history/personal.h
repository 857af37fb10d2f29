/*
 * The history plugin's per-person part: read positions, unread counts and
 * private messages, kept per person (name + session hash, see
 * api->client_session) in the same database (store.h, schema version 4).
 *
 *   {"type":"read","room":R,"id":N} / {"type":"read","dm":NAME,"id":N}
 *       forward-only read position; every connection of the person is told
 *   after a join's replay: {"type":"read","room":R,"id":N,"unread":K,"mentions":M}
 *   on the first join: {"type":"dms","conversations":[{"with","last_id","read_id","unread"}]}
 *   CHATD_EV_PRIVATE (CHATD_PRIO_LATE - 10): private messages stored, with their id
 *   {"type":"history","dm":NAME,...}: private messages read back (history.c hands them over)
 *
 * Connections without a session have no person to keep anything for: their
 * read frames are answered (to themselves) but not stored, they get no
 * unread counts and no conversations, and cannot read private messages back.
 */
#ifndef CHATD_HISTORY_PERSONAL_H
#define CHATD_HISTORY_PERSONAL_H

#include <chatd/plugin.h>

#include "store.h"

struct personal; /* opaque */

/* New per-person state over db (borrowed, outlives it): registers the
 * PRIVATE hook and claims "read". max_bytes bounds one answer. NULL (with
 * api->option_error called) on failure. */
struct personal *personal_new(const struct chatd_api *api, chatd_plugin *self, struct hstore *db,
			      int64_t max_bytes);
/* Free p (NULL is fine). */
void personal_free(struct personal *p);
/* After a join's replay: the read position and unread counts of room for
 * c's person, and on its first join its conversations. */
void personal_joined(struct personal *p, chatd_client *c, chatd_room *room, int first_join);
/* A {"type":"history"} frame with "dm": a page of private messages. Returns
 * the FRAME result (DENY with ev's error fields set). */
int personal_dm_history(struct personal *p, struct chatd_frame_event *ev, const char *with, int64_t before,
			int64_t limit);

#endif
