#include "connect.h"
#include "client.h"
#include "nickfilter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void connect_prepare_name(struct chatd_client *c)
{
	char name[NICK_MAX_BYTES + 1];
	c->name[0] = 0;
	if (c->query_name && !nick_normalize(c->query_name, strlen(c->query_name), name, sizeof name))
		snprintf(c->name, sizeof c->name, "%s", name);
}

int connect_set_name(struct chatd_connect_event *ev, const char *name)
{
	char norm[NICK_MAX_BYTES + 1];
	struct chatd_client *c = ev->client;
	if (!name || strlen(name) > QUERY_NAME_MAX || nick_normalize(name, strlen(name), norm, sizeof norm) ||
	    client_set_query_name(c, name))
		return -1;
	snprintf(c->name, sizeof c->name, "%s", norm);
	free(c->name_refusal);
	c->name_refusal = NULL;
	return 0;
}

void connect_refuse_name(struct chatd_connect_event *ev, const char *code, const char *message)
{
	struct chatd_client *c = ev->client;
	(void)client_set_query_name(c, NULL);
	c->name[0] = 0;
	if (!c->name_refusal && !(c->name_refusal = malloc(sizeof *c->name_refusal)))
		return;
	nick_refusal_set(c->name_refusal, code, message);
}

void connect_send_refusal(struct chatd_client *c)
{
	if (!c->name_refusal)
		return;
	char msg[sizeof c->name_refusal->message + NICK_MAX_BYTES + 16];
	snprintf(msg, sizeof msg, "%s; you are %s", c->name_refusal->message, c->name);
	client_send_error(c, c->name_refusal->code, msg, 0);
	free(c->name_refusal);
	c->name_refusal = NULL;
}
