/* People present in a room through other nodes (the cluster plugin's
 * api->room_remote): the core shows the union of this node's members and
 * them in welcome.users, user_count, who and the big-room summaries, and
 * sends the usual join/leave/rename notices when that union changes. */
#ifndef CHATD_REMOTE_H
#define CHATD_REMOTE_H

#include <jansson.h>
#include "server.h"

/* The plugin API's room_remote (see chatd/plugin.h). */
int remote_change(chatd_plugin *self, chatd_room *room, int change, const char *name, const char *old_name);

/* 1 when fold (a folded name) is present in r on this node. O(1). */
int remote_local_has(const struct room *r, const char *fold);
/* 1 when fold is present in r through another node. */
int remote_has(const struct room *r, const char *fold);

/* Everyone in r: its people here plus those present only elsewhere. */
size_t room_user_count(const struct room *r);
/* Append to users (a JSON array) the names present only through other
 * nodes, up to max entries in users in all (0 = no bound). */
void remote_append_names(const struct room *r, json_t *users, size_t max);

/* Forget r's remote people (r is freed). */
void remote_free(struct room *r);

#endif
