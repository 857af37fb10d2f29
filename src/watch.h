/* Work off the loop: fd watchers on the loop (a database, a web hook, Redis)
 * and posting a function back to the loop from any thread. */
#ifndef CHATD_WATCH_H
#define CHATD_WATCH_H

#include "server.h"

struct loaded_plugin;

/* Start the loop side of loop_post (an ev_async and its queue) on srv->loop.
 * 0, or -1 when out of memory. */
int watch_setup(struct chatd_server *srv);
/* Stop it and free what is queued (shutdown, after every plugin is gone). */
void watch_teardown(struct chatd_server *srv);

/* The plugin API (see chatd/plugin.h). */
chatd_watch *watch_add(chatd_plugin *self, int fd, int events, chatd_watch_fn fn, void *userdata);
int watch_set(chatd_watch *w, int events);
void watch_remove(chatd_watch *w);
int loop_post(chatd_plugin *self, chatd_post_fn fn, void *arg);

/* Unloading lp: remove its watchers; run (run = 1) or drop (run = 0) the
 * posts it queued. Returns how many posts were dropped. */
void watch_forget(struct chatd_server *srv, struct loaded_plugin *lp);
size_t posts_flush(struct chatd_server *srv, struct loaded_plugin *lp, int run);

#endif
