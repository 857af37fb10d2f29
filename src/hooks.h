/* Hook tables: per event, callbacks in priority order, safe against
 * (un)registration during dispatch. */
#ifndef CHATD_HOOKS_H
#define CHATD_HOOKS_H

#include "chatd/plugin.h"

struct hook {
	chatd_hook_fn fn;
	void *userdata;
	int priority;
	void *owner;   /* the registering plugin (borrowed), for bulk removal */
	int dead;      /* unregistered during dispatch; removed afterwards */
};

struct hook_list {
	struct hook *v;
	int n, cap;
};

struct hooks {
	struct hook_list ev[CHATD_EV_COUNT_];
	int depth;     /* dispatches in progress */
	int dirty;     /* some entry is dead */
};

/* Empty tables. */
void hooks_init(struct hooks *h);
/* Free the tables. */
void hooks_free(struct hooks *h);
/* Add fn for event (stable among equal priorities). 0, or -1 (bad event / OOM). */
int hooks_add(struct hooks *h, int event, chatd_hook_fn fn, void *userdata, int priority, void *owner);
/* Remove the first matching entry. 0, or -1 when absent. */
int hooks_remove(struct hooks *h, int event, chatd_hook_fn fn, void *userdata);
/* Remove every entry of owner. */
void hooks_remove_owner(struct hooks *h, void *owner);
/* 1 when event has at least one live hook (dispatch costs nothing otherwise). */
int hooks_any(const struct hooks *h, int event);
/*
 * Call the hooks of event in order with ev (borrowed). Filter events stop at
 * the first result other than CHATD_OK and return it; notify events run all
 * and return CHATD_OK.
 */
int hooks_dispatch(struct hooks *h, int event, void *ev);
/* Call only owner's hooks of event, as a filter (stop at the first result
 * other than CHATD_OK and return it). *found = 1 when owner has any. */
int hooks_dispatch_owner(struct hooks *h, int event, void *owner, void *ev, int *found);
/* 1 for events whose hook results matter. */
int hooks_is_filter(int event);

#endif
