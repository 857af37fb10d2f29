#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "listener.h"
#include "log.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections taken per wakeup before other sockets get a turn. */
#define ACCEPTS_PER_WAKEUP 256
/* With no spare fd left, look at the backlog again after this long. */
#define RETRY_AFTER_S 0.1
/* At most one "fds exhausted" / "full" warning per this many ms. */
#define WARN_EVERY_MS 10000

static const char refusal_503[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 28\r\n"
	"Connection: close\r\n"
	"Retry-After: 5\r\n"
	"\r\n"
	"server at connection limit\r\n";

struct listener {
	ev_io io;
	ev_timer retry;
	int fd;
	int spare;            /* a reserved fd (/dev/null) to answer with at EMFILE */
	struct chatd_server *srv;
	struct lws_vhost *vhost;
	int64_t last_warn_ms;
};

/* Answer an accepted socket with a 503 and close it (best effort: the
 * socket is fresh and nonblocking, the reply fits its send buffer). */
static void refuse_socket(int fd)
{
	ssize_t n = send(fd, refusal_503, sizeof refusal_503 - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

static void warn_limited(struct listener *l, const char *what)
{
	int64_t now = now_ms();
	if (now - l->last_warn_ms < WARN_EVERY_MS)
		return;
	l->last_warn_ms = now;
	log_warn("%s: new connections get 503 (%zu sockets open, max_connections %d)", what, l->srv->nsockets,
		 l->srv->cfg.max_connections);
}

/* The process is out of fds: give the spare one up to accept a pending
 * connection, answer it 503, and take the spare back. Returns 0 when one
 * was handled, -1 when nothing more can be done now. */
static int refuse_with_spare(struct listener *l)
{
	if (l->spare < 0)
		l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (l->spare < 0)
		return -1;
	close(l->spare);
	l->spare = -1;
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0)
		refuse_socket(fd);
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0 ? 0 : -1;
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct listener *l = w->data;
	ev_io_start(loop, &l->io);
}

/* Pause accepting for RETRY_AFTER_S (no fd to refuse with): no busy loop. */
static void pause_accepting(struct ev_loop *loop, struct listener *l)
{
	ev_io_stop(loop, &l->io);
	ev_timer_set(&l->retry, RETRY_AFTER_S, 0);
	ev_timer_start(loop, &l->retry);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct listener *l = w->data;
	struct chatd_server *srv = l->srv;
	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				srv->stats.refused_no_fds++;
				warn_limited(l, "out of file descriptors");
				if (refuse_with_spare(l)) {
					pause_accepting(loop, l);
					return;
				}
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (srv->nsockets >= (size_t)srv->cfg.max_connections) {
			srv->stats.refused_full++;
			warn_limited(l, "max_connections reached");
			refuse_socket(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* On failure lws has closed fd itself. */
		if (!(l->vhost ? lws_adopt_socket_vhost(l->vhost, fd) : lws_adopt_socket(srv->lws, fd)))
			log_warn("could not adopt a new connection");
	}
}

/* Make a listening socket for one address: 0 with *out set, or -1 with errno.
 * reuse_port: several processes may listen on the same port (SO_REUSEPORT:
 * the kernel spreads new connections over them). */
static int listen_on(const struct addrinfo *ai, int reuse_port, int *out)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one))
		goto fail;
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN))
		goto fail;
	*out = fd;
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int listener_open(struct chatd_server *srv, char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	const char *where = srv->cfg.bind ? srv->cfg.bind : "*";
	struct listener *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	l->fd = l->spare = -1;
	l->srv = srv;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	/* Unset bind: all addresses, IPv6 dual-stack first, IPv4 if that fails. */
	hints.ai_family = srv->cfg.bind ? AF_UNSPEC : AF_INET6;
	snprintf(port, sizeof port, "%d", srv->cfg.port);
	int gai = getaddrinfo(srv->cfg.bind, port, &hints, &res);
	if (gai && !srv->cfg.bind) {
		hints.ai_family = AF_INET;
		gai = getaddrinfo(NULL, port, &hints, &res);
	}
	if (gai) {
		snprintf(err, errsz, "cannot listen on %s:%d: %s", where, srv->cfg.port, gai_strerror(gai));
		goto fail;
	}
	int e = 0;
	for (struct addrinfo *ai = res; ai && l->fd < 0; ai = ai->ai_next)
		if (listen_on(ai, srv->cfg.reuse_port, &l->fd))
			e = errno;
	if (l->fd < 0 && !srv->cfg.bind && e == EAFNOSUPPORT) {
		freeaddrinfo(res);
		res = NULL;
		hints.ai_family = AF_INET;
		if (!getaddrinfo(NULL, port, &hints, &res) && listen_on(res, srv->cfg.reuse_port, &l->fd))
			e = errno;
	}
	if (l->fd < 0) {
		snprintf(err, errsz, "cannot listen on %s:%d: %s%s", where, srv->cfg.port, strerror(e),
			 e == EADDRINUSE ? " (another program is listening on that port: stop it, or choose another "
					   "port with -p PORT or 'port =' in the config)"
			 : e == EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
		goto fail;
	}
	freeaddrinfo(res);
	res = NULL;
	l->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv->listen_port = bound_port(l->fd);
	srv->listener = l;
	return 0;
fail:
	if (res)
		freeaddrinfo(res);
	free(l);
	return -1;
}

void listener_start(struct chatd_server *srv)
{
	struct listener *l = srv->listener;
	if (!l)
		return;
	l->vhost = lws_get_vhost_by_name(srv->lws, "default");
	ev_io_init(&l->io, on_accept, l->fd, EV_READ);
	ev_timer_init(&l->retry, on_retry, RETRY_AFTER_S, 0);
	l->io.data = l->retry.data = l;
	ev_io_start(srv->loop, &l->io);
}

/* Stop accepting; pending connections stay in the backlog. */
static void listener_stop(struct chatd_server *srv)
{
	struct listener *l = srv->listener;
	if (!l || !srv->loop)
		return;
	ev_io_stop(srv->loop, &l->io);
	ev_timer_stop(srv->loop, &l->retry);
}

void listener_close(struct chatd_server *srv)
{
	struct listener *l = srv->listener;
	if (!l)
		return;
	listener_stop(srv);
	if (l->fd >= 0)
		close(l->fd);
	if (l->spare >= 0)
		close(l->spare);
	free(l);
	srv->listener = NULL;
}

void listener_socket_closed(struct chatd_server *srv)
{
	if (srv->nsockets)
		srv->nsockets--;
}
