#include "roomapi.h"
#include "message.h"
#include "plugins.h"
#include "publish.h"

#include <string.h>

size_t roomapi_list(chatd_plugin *self, chatd_room **out, size_t max)
{
	struct chatd_server *srv = ((struct loaded_plugin *)self)->srv;
	size_t pos = 0, n = 0;
	void *v;
	while (strmap_next(&srv->rooms, &pos, NULL, &v)) {
		if (n < max)
			out[n] = v;
		n++;
	}
	return n;
}

size_t roomapi_members(const chatd_room *room, chatd_client **out, size_t max)
{
	const struct room *r = (const struct room *)room;
	for (size_t i = 0; i < r->count && i < max; i++)
		out[i] = r->members[i];
	return r->count;
}

void **roomapi_slot(chatd_plugin *self, chatd_room *room)
{
	static void *nowhere; /* a room made before plugins loaded has no slots */
	struct room *r = (struct room *)room;
	if (!r->slots) {
		nowhere = NULL;
		return &nowhere;
	}
	return &r->slots[((struct loaded_plugin *)self)->slot];
}

int64_t roomapi_notice(chatd_plugin *self, chatd_room *room, const char *text)
{
	struct chatd_server *srv = ((struct loaded_plugin *)self)->srv;
	struct inbound_error err;
	if (!room || !text || !utf8_valid(text, strlen(text)))
		return CHATD_TEXT_INVALID;
	int r = message_text_check(text, strlen(text), srv->cfg.max_message_bytes, &err);
	if (r)
		return r;
	return publish_notice(srv, (struct room *)room, text);
}
