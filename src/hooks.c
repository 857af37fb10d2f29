#include "hooks.h"

#include <stdlib.h>
#include <string.h>

void hooks_init(struct hooks *h) { memset(h, 0, sizeof *h); }

void hooks_free(struct hooks *h)
{
	for (int i = 0; i < CHATD_EV_COUNT_; i++)
		free(h->ev[i].v);
	hooks_init(h);
}

int hooks_is_filter(int event)
{
	return event == CHATD_EV_CONNECT || event == CHATD_EV_MESSAGE || event == CHATD_EV_FRAME ||
	       event == CHATD_EV_STORE || event == CHATD_EV_RECEIVE || event == CHATD_EV_NICK ||
	       event == CHATD_EV_ROUTE || event == CHATD_EV_JOINING || event == CHATD_EV_NAME_CLAIM ||
	       event == CHATD_EV_COMMAND || event == CHATD_EV_RELOAD ||
	       event == CHATD_EV_PRIVATE;
}

static int valid_event(int event) { return event >= 1 && event < CHATD_EV_COUNT_; }

int hooks_add(struct hooks *h, int event, chatd_hook_fn fn, void *userdata, int priority, void *owner)
{
	if (!valid_event(event) || !fn)
		return -1;
	struct hook_list *l = &h->ev[event];
	if (l->n == l->cap) {
		int ncap = l->cap ? l->cap * 2 : 4;
		struct hook *nv = realloc(l->v, (size_t)ncap * sizeof *nv);
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = ncap;
	}
	/* Insert after every entry of lower or equal priority. While a dispatch
	 * runs, only append: an insertion would shift entries under it. */
	int at = l->n;
	if (!h->depth)
		while (at > 0 && l->v[at - 1].priority > priority)
			at--;
	memmove(&l->v[at + 1], &l->v[at], (size_t)(l->n - at) * sizeof *l->v);
	l->v[at] = (struct hook){ fn, userdata, priority, owner, 0 };
	l->n++;
	return 0;
}

static void hooks_compact(struct hooks *h)
{
	for (int e = 0; e < CHATD_EV_COUNT_; e++) {
		struct hook_list *l = &h->ev[e];
		int o = 0;
		for (int i = 0; i < l->n; i++)
			if (!l->v[i].dead)
				l->v[o++] = l->v[i];
		l->n = o;
	}
	h->dirty = 0;
}

static void hooks_kill(struct hooks *h, struct hook_list *l, int i)
{
	l->v[i].dead = 1;
	h->dirty = 1;
	if (!h->depth)
		hooks_compact(h);
}

int hooks_remove(struct hooks *h, int event, chatd_hook_fn fn, void *userdata)
{
	if (!valid_event(event))
		return -1;
	struct hook_list *l = &h->ev[event];
	for (int i = 0; i < l->n; i++)
		if (!l->v[i].dead && l->v[i].fn == fn && l->v[i].userdata == userdata) {
			hooks_kill(h, l, i);
			return 0;
		}
	return -1;
}

void hooks_remove_owner(struct hooks *h, void *owner)
{
	for (int e = 0; e < CHATD_EV_COUNT_; e++)
		for (int i = 0; i < h->ev[e].n; i++)
			if (h->ev[e].v[i].owner == owner) {
				h->ev[e].v[i].dead = 1;
				h->dirty = 1;
			}
	if (!h->depth && h->dirty)
		hooks_compact(h);
}

int hooks_any(const struct hooks *h, int event)
{
	return valid_event(event) && h->ev[event].n > 0;
}

int hooks_dispatch_owner(struct hooks *h, int event, void *owner, void *ev, int *found)
{
	*found = 0;
	if (!valid_event(event))
		return CHATD_OK;
	struct hook_list *l = &h->ev[event];
	int result = CHATD_OK, n = l->n;
	h->depth++;
	for (int i = 0; i < n; i++) {
		if (l->v[i].dead || l->v[i].owner != owner)
			continue;
		*found = 1;
		int r = l->v[i].fn(event, ev, l->v[i].userdata);
		if (r != CHATD_OK) {
			result = r;
			break;
		}
	}
	if (!--h->depth && h->dirty)
		hooks_compact(h);
	return result;
}

int hooks_dispatch(struct hooks *h, int event, void *ev)
{
	if (!valid_event(event))
		return CHATD_OK;
	struct hook_list *l = &h->ev[event];
	int filter = hooks_is_filter(event), result = CHATD_OK;
	int n = l->n; /* hooks added during this dispatch wait for the next */
	h->depth++;
	for (int i = 0; i < n; i++) {
		if (l->v[i].dead)
			continue;
		int r = l->v[i].fn(event, ev, l->v[i].userdata);
		if (filter && r != CHATD_OK) {
			result = r;
			break;
		}
	}
	if (!--h->depth && h->dirty)
		hooks_compact(h);
	return result;
}
