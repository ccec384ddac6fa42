/*
 * cecho: the floor of the echo benchmark. An epoll echo server doing the
 * least the kernel allows per message: level-triggered epoll, one read per
 * readiness into a shared buffer, one write back. Bytes a write could not
 * take wait in a per-connection buffer, and only then is EPOLLOUT watched
 * (and reading paused, as any echo server must).
 *
 * Usage: cecho ADDR:PORT [THREADS]   (IPv4; port 0 picks one). Prints the
 * bound address as "listening on 127.0.0.1:PORT" on stdout, then serves
 * until killed. With THREADS (default 1) threads, each has a listener of
 * its own on the address (SO_REUSEPORT, the kernel balancing them), its
 * own epoll and its own buffers: the multi-threaded floor of a loop group.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXEV 1024
#define BUFSZ 65536

struct pending { char *data; size_t off, len; };

/* one thread's loop */
struct loop {
	int lfd;
	struct pending *pend; /* indexed by fd */
	int npend;
	char buf[BUFSZ];
};

static void die(const char *what) { perror(what); exit(1); }

static void watch(int ep, int op, int fd, unsigned ev)
{
	struct epoll_event e = { .events = ev, .data.fd = fd };
	if (epoll_ctl(ep, op, fd, &e) < 0 && op != EPOLL_CTL_DEL)
		die("epoll_ctl");
}

static void drop(struct loop *l, int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if (fd < l->npend) {
		free(l->pend[fd].data);
		memset(&l->pend[fd], 0, sizeof l->pend[fd]);
	}
}

/* send what can be sent; keep the rest; returns -1 if the peer is gone */
static int push(struct loop *l, int ep, int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (n == 0)
		return 0;
	if (fd >= l->npend) {
		int m = fd * 2 + 16;
		l->pend = realloc(l->pend, (size_t)m * sizeof *l->pend);
		if (!l->pend)
			die("realloc");
		memset(l->pend + l->npend, 0, (size_t)(m - l->npend) * sizeof *l->pend);
		l->npend = m;
	}
	struct pending *q = &l->pend[fd];
	q->data = malloc(n);
	if (!q->data)
		die("malloc");
	memcpy(q->data, p, n);
	q->off = 0;
	q->len = n;
	watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
	return 0;
}

static int flush(struct loop *l, int ep, int fd)
{
	struct pending *q = &l->pend[fd];
	while (q->off < q->len) {
		ssize_t w = send(fd, q->data + q->off, q->len - q->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		q->off += (size_t)w;
	}
	free(q->data);
	memset(q, 0, sizeof *q);
	watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
	return 0;
}

static int listener(struct sockaddr_in *sa)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)sa, sizeof *sa) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	return lfd;
}

static void *serve(void *arg)
{
	struct loop *l = arg;
	int one = 1, lfd = l->lfd;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN);
	struct epoll_event evs[MAXEV];
	for (;;) {
		int n = epoll_wait(ep, evs, MAXEV, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				for (;;) {
					int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break;
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
				}
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (flush(l, ep, fd) < 0)
					drop(l, ep, fd);
				continue;
			}
			ssize_t r = read(fd, l->buf, sizeof l->buf);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				drop(l, ep, fd);
				continue;
			}
			if (r > 0 && push(l, ep, fd, l->buf, (size_t)r) < 0)
				drop(l, ep, fd);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *arg = argc > 1 ? argv[1] : "127.0.0.1:0";
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	char host[64];
	const char *colon = strrchr(arg, ':');
	if (!colon || (size_t)(colon - arg) >= sizeof host || threads < 1) {
		fprintf(stderr, "usage: cecho HOST:PORT [THREADS]\n");
		return 2;
	}
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "cecho: bad address %s\n", arg);
		return 2;
	}
	struct loop *loops = calloc((size_t)threads, sizeof *loops);
	if (!loops)
		die("calloc");
	for (int t = 0; t < threads; t++) {
		loops[t].lfd = listener(&sa);
		if (t == 0) { /* the others bind the port the first one got */
			socklen_t sl = sizeof sa;
			getsockname(loops[0].lfd, (struct sockaddr *)&sa, &sl);
		}
	}
	printf("listening on %s:%d\n", host, ntohs(sa.sin_port));
	fflush(stdout);
	for (int t = 1; t < threads; t++) {
		pthread_t th;
		if (pthread_create(&th, NULL, serve, &loops[t]) != 0)
			die("pthread_create");
	}
	serve(&loops[0]);
	return 0;
}
