#include "watch.h"
#include "plugins.h"

#include <ev.h>
#include <pthread.h>
#include <stdlib.h>

/* One fd watcher of a plugin; srv->watches is a list of them. */
struct chatd_watch {
	ev_io io;                  /* first: the callback casts back */
	struct chatd_server *srv;
	struct loaded_plugin *owner;
	chatd_watch_fn fn;
	void *userdata;
	int events;                /* CHATD_WATCH_READ | CHATD_WATCH_WRITE */
	struct chatd_watch *prev, *next;
};

/* One loop_post waiting for the loop. */
struct post {
	struct loaded_plugin *owner;
	chatd_post_fn fn;
	void *arg;
	struct post *next;
};

/* loop_post's queue: the one part of the server other threads touch, so it
 * has its own lock. */
struct posts {
	ev_async async;            /* first: the callback casts back */
	struct chatd_server *srv;
	pthread_mutex_t lock;
	struct post *head, *tail;  /* guarded by lock */
};

static int ev_mask(int events)
{
	return (events & CHATD_WATCH_READ ? EV_READ : 0) | (events & CHATD_WATCH_WRITE ? EV_WRITE : 0);
}

static void watch_fire(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	struct chatd_watch *w = (struct chatd_watch *)io;
	int ready = (revents & EV_READ ? CHATD_WATCH_READ : 0) | (revents & EV_WRITE ? CHATD_WATCH_WRITE : 0);
	w->fn(w, w->io.fd, ready, w->userdata);
}

chatd_watch *watch_add(chatd_plugin *self, int fd, int events, chatd_watch_fn fn, void *userdata)
{
	struct loaded_plugin *lp = (struct loaded_plugin *)self;
	struct chatd_server *srv = lp->srv;
	if (fd < 0 || !fn || !srv->loop || (events & ~(CHATD_WATCH_READ | CHATD_WATCH_WRITE)))
		return NULL;
	struct chatd_watch *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->srv = srv;
	w->owner = lp;
	w->fn = fn;
	w->userdata = userdata;
	w->events = events;
	ev_io_init(&w->io, watch_fire, fd, ev_mask(events));
	if (events)
		ev_io_start(srv->loop, &w->io);
	w->next = srv->watches;
	if (srv->watches)
		srv->watches->prev = w;
	srv->watches = w;
	return w;
}

int watch_set(chatd_watch *w, int events)
{
	if (!w || (events & ~(CHATD_WATCH_READ | CHATD_WATCH_WRITE)))
		return -1;
	if (events == w->events)
		return 0;
	ev_io_stop(w->srv->loop, &w->io);
	ev_io_set(&w->io, w->io.fd, ev_mask(events));
	if (events)
		ev_io_start(w->srv->loop, &w->io);
	w->events = events;
	return 0;
}

void watch_remove(chatd_watch *w)
{
	if (!w)
		return;
	struct chatd_server *srv = w->srv;
	ev_io_stop(srv->loop, &w->io);
	if (w->prev)
		w->prev->next = w->next;
	else
		srv->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

void watch_forget(struct chatd_server *srv, struct loaded_plugin *lp)
{
	for (struct chatd_watch *w = srv->watches, *next; w; w = next) {
		next = w->next;
		if (w->owner == lp)
			watch_remove(w);
	}
}

/* Take the whole queue (under the lock). */
static struct post *posts_take(struct posts *q)
{
	pthread_mutex_lock(&q->lock);
	struct post *p = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return p;
}

static void posts_run(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)loop;
	(void)revents;
	struct posts *q = (struct posts *)a;
	/* what the functions post meanwhile waits for the next wake-up */
	for (struct post *p = posts_take(q), *next; p; p = next) {
		next = p->next;
		p->fn(p->arg);
		free(p);
	}
}

int watch_setup(struct chatd_server *srv)
{
	struct posts *q = calloc(1, sizeof *q);
	if (!q || pthread_mutex_init(&q->lock, NULL)) {
		free(q);
		return -1;
	}
	q->srv = srv;
	ev_async_init(&q->async, posts_run);
	ev_async_start(srv->loop, &q->async);
	ev_unref(srv->loop); /* a waiting post queue does not keep the loop running */
	srv->posts = q;
	return 0;
}

int loop_post(chatd_plugin *self, chatd_post_fn fn, void *arg)
{
	struct loaded_plugin *lp = (struct loaded_plugin *)self;
	struct posts *q = lp->srv->posts;
	if (!q || !fn)
		return -1;
	struct post *p = malloc(sizeof *p);
	if (!p)
		return -1;
	*p = (struct post){ lp, fn, arg, NULL };
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	pthread_mutex_unlock(&q->lock);
	ev_async_send(lp->srv->loop, &q->async); /* thread-safe: wakes the loop */
	return 0;
}

size_t posts_flush(struct chatd_server *srv, struct loaded_plugin *lp, int run)
{
	struct posts *q = srv->posts;
	size_t dropped = 0;
	if (!q)
		return 0;
	struct post *mine = NULL, **tail = &mine;
	pthread_mutex_lock(&q->lock);
	q->tail = NULL;
	for (struct post **p = &q->head; *p;) {
		if ((*p)->owner == lp) {
			*tail = *p;
			*p = (*p)->next;
			tail = &(*tail)->next;
			*tail = NULL;
		} else {
			q->tail = *p;
			p = &(*p)->next;
		}
	}
	pthread_mutex_unlock(&q->lock);
	for (struct post *p = mine, *next; p; p = next) {
		next = p->next;
		if (run)
			p->fn(p->arg);
		else
			dropped++;
		free(p);
	}
	return dropped;
}

void watch_teardown(struct chatd_server *srv)
{
	struct posts *q = srv->posts;
	if (!q)
		return;
	ev_ref(srv->loop);
	ev_async_stop(srv->loop, &q->async);
	for (struct post *p = posts_take(q), *next; p; p = next) {
		next = p->next;
		free(p);
	}
	pthread_mutex_destroy(&q->lock);
	free(q);
	srv->posts = NULL;
}
