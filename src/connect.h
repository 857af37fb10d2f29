/* The CONNECT event's core side: the request, the name the client asked
 * for, and the plugin API's connect_set_name / connect_refuse_name. */
#ifndef CHATD_CONNECT_H
#define CHATD_CONNECT_H

#include "server.h"

/* Before the CONNECT hooks: c->name becomes the normalized ?name= (not yet
 * claimed), "" when there is none or it is invalid. */
void connect_prepare_name(struct chatd_client *c);

/* The plugin API (see chatd/plugin.h). */
int connect_set_name(struct chatd_connect_event *ev, const char *name);
void connect_refuse_name(struct chatd_connect_event *ev, const char *code, const char *message);

/* After the welcome: tell c why the name it asked for was refused at
 * CONNECT, if it was. Frees the refusal. */
void connect_send_refusal(struct chatd_client *c);

#endif
