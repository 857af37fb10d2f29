#include "msgevent.h"
#include "client.h"
#include "frame.h"
#include "message.h"
#include "room.h"

#include <stdlib.h>
#include <string.h>

#define ME(ev) ((struct msgevent *)(ev)->core_private)

void msgevent_init(struct chatd_message_event *ev, struct msgevent *me, struct chatd_server *srv,
		   struct chatd_client *c, struct room *r, const char *text, size_t len, const char *client_id)
{
	memset(me, 0, sizeof *me);
	me->srv = srv;
	memset(ev, 0, sizeof *ev);
	ev->size = sizeof *ev;
	ev->client = c;
	ev->room = (chatd_room *)r;
	ev->text = text;
	ev->text_len = len;
	ev->client_id = client_id && client_id[0] ? client_id : NULL;
	ev->core_private = me;
}

void msgevent_done(struct msgevent *me)
{
	free(me->own_text);
	me->own_text = NULL;
}

void msgevent_answer(struct chatd_message_event *ev, int res)
{
	struct chatd_client *c = ev->client;
	if (res == CHATD_DENY) {
		client_send_error_for(c, ev->error_code ? ev->error_code : "denied",
				      ev->error_message ? ev->error_message : "message refused", ev->retry_after_ms,
				      ev->client_id);
		return;
	}
	if (res != CHATD_CONSUMED || ME(ev)->answered || !ev->client_id)
		return;
	json_t *o = json_pack("{s:s,s:s}", "type", "ack", "client_id", ev->client_id);
	if (!o)
		return;
	if (ev->room)
		json_object_set_new(o, "room", json_string(((struct room *)ev->room)->name));
	client_send_json(c, o, CHATD_SEND_NORMAL);
}

void msgevent_mark_answered(struct chatd_message_event *ev)
{
	if (ev && ev->core_private)
		ME(ev)->answered = 1;
}

int msgevent_set_text(struct chatd_message_event *ev, const char *text)
{
	struct msgevent *me = ME(ev);
	struct inbound_error err;
	if (!text)
		return CHATD_TEXT_INVALID;
	size_t len = strlen(text);
	if (len > me->srv->cfg.max_message_bytes)
		return CHATD_TEXT_TOO_LARGE;
	if (!utf8_valid(text, len))
		return CHATD_TEXT_INVALID;
	int r = message_text_check(text, len, me->srv->cfg.max_message_bytes, &err);
	if (r)
		return r;
	char *copy = strdup(text);
	if (!copy)
		return CHATD_TEXT_NOMEM;
	free(me->own_text);
	me->own_text = copy;
	ev->text = copy;
	ev->text_len = len;
	return CHATD_TEXT_OK;
}

int msgevent_reply(struct chatd_message_event *ev, chatd_frame *f)
{
	struct chatd_frame *frame = (struct chatd_frame *)f;
	if (!frame)
		return -1;
	ME(ev)->answered = 1;
	if (!ev->client_id)
		return client_send(ev->client, frame_encoded(frame), CHATD_SEND_NORMAL) < 0 ? -1 : 0;
	json_t *o = json_copy(frame->obj); /* shallow: the frame itself stays as it was */
	if (!o)
		return -1;
	json_object_set_new(o, "client_id", json_string(ev->client_id));
	return client_send_json(ev->client, o, CHATD_SEND_NORMAL) < 0 ? -1 : 0;
}
