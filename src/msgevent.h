/* The MESSAGE event's core side: what api->message_set_text and
 * api->message_reply act on, and the answer a consumed or denied message
 * owes its sender. */
#ifndef CHATD_MSGEVENT_H
#define CHATD_MSGEVENT_H

#include "server.h"

/* chatd_message_event.core_private points at one of these (on the stack of
 * the dispatch). */
struct msgevent {
	struct chatd_server *srv;
	char *own_text;            /* owned: the text a hook set, NULL until then */
	int answered;              /* a hook replied to the sender (message_reply) */
};

/* Prepare ev (size, client, room, text, client_id borrowed) for a dispatch
 * with me as its core side. */
void msgevent_init(struct chatd_message_event *ev, struct msgevent *me, struct chatd_server *srv,
		   struct chatd_client *c, struct room *r, const char *text, size_t len, const char *client_id);
/* Free what the dispatch left (the text a hook set). */
void msgevent_done(struct msgevent *me);

/*
 * After the hooks: answer the sender of a message that did not go to the
 * room. res is the dispatch result. DENY: an error frame (the hook's code
 * and message, with the message's client_id). CONSUMED without a reply from
 * the hook and with a client_id: {"type":"ack","client_id":..,"room":..}.
 */
void msgevent_answer(struct chatd_message_event *ev, int res);

/* Mark ev answered: its sender got an answer carrying its client_id some
 * other way (a private message's echo), so no ack goes out. */
void msgevent_mark_answered(struct chatd_message_event *ev);

/* api->message_set_text and api->message_reply (see chatd/plugin.h). */
int msgevent_set_text(struct chatd_message_event *ev, const char *text);
int msgevent_reply(struct chatd_message_event *ev, chatd_frame *f);

#endif
