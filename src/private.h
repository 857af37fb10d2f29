/* Private messages between two people: api->private_send (the privmsg
 * plugin's "/msg NAME text" and {"type":"private"} frames come here), the
 * CHATD_EV_PRIVATE hooks, an id, and delivery to every connection of both
 * people. */
#ifndef CHATD_PRIVATE_H
#define CHATD_PRIVATE_H

#include "server.h"

/*
 * Send req->text from req->from to the person called req->to (see
 * api->private_send in chatd/plugin.h): the text is checked as a message's,
 * the CHATD_EV_PRIVATE hooks run, then the private frame goes to every
 * connection of the receiver and of the sender (the sender's own connection
 * gets it with req->client_id). Returns CHATD_OK (delivered; req->id set),
 * CHATD_CONSUMED (a hook delivers it) or CHATD_DENY (req->error_* set:
 * static, plugin-owned, or valid until the next call).
 */
int private_send(struct chatd_private_request *req);

/* api->private_set_text: change the text during CHATD_EV_PRIVATE; checked
 * as message_set_text checks (CHATD_TEXT_*). */
int private_set_text(struct chatd_private_event *ev, const char *text);

#endif
