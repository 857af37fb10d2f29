/* The plugin API's view of rooms: every room, the members of one, a
 * per-plugin slot on each, and notices that get an id (see chatd/plugin.h). */
#ifndef CHATD_ROOMAPI_H
#define CHATD_ROOMAPI_H

#include "server.h"

size_t roomapi_list(chatd_plugin *self, chatd_room **out, size_t max);
size_t roomapi_members(const chatd_room *r, chatd_client **out, size_t max);
void **roomapi_slot(chatd_plugin *self, chatd_room *r);
int64_t roomapi_notice(chatd_plugin *self, chatd_room *r, const char *text);

#endif
