/*
 * curing: what io_uring allows an echo server from C, beside cecho (the
 * epoll floor). Single-threaded, liburing:
 *  - one multishot accept on the listener;
 *  - one multishot receive per connection, into buffers the kernel picks
 *    from a provided-buffer ring, so a waiting connection holds none;
 *  - the received buffer sent back as it is, one send in flight per
 *    connection (later buffers queue behind it, in order), the buffer
 *    returned to the ring when its send is done;
 *  - every submission of a round batched into one io_uring_enter, which
 *    also waits for the next completion; completions reaped in bulk.
 * SINGLE_ISSUER and DEFER_TASKRUN when the kernel has them.
 *
 * Usage: curing HOST:PORT   (IPv4; port 0 picks one). Prints the bound
 * address as "listening on 127.0.0.1:PORT" on stdout, then serves until
 * killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define ENTRIES 4096
#define NBUFS 4096 /* a power of two */
#define BUFSZ 4096
#define BGID 0

/* user_data: the operation in the top byte, then the connection's
 * generation and its descriptor, or the buffer id for a send. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };
#define UD(op, hi, lo) (((unsigned long long)(op) << 56) | ((unsigned long long)(hi) << 24) | (unsigned)(lo))
#define UD_OP(u) ((int)((u) >> 56))
#define UD_HI(u) ((unsigned)(((u) >> 24) & 0xffffffffu))
#define UD_LO(u) ((unsigned)((u) & 0xffffffu))

struct conn {
	unsigned gen;
	int open;
	int sending;     /* a buffer is being sent: head of the queue */
	int head, tail;  /* queue of buffer ids to send, linked by next[] */
};

struct send { int fd; unsigned off, len; };

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static struct conn *conns;
static int nconns;
static int next[NBUFS];
static struct send sends[NBUFS];
static unsigned long long *starved; /* receives that ran out of buffers: UD(0, gen, fd) */
static int nstarved, capstarved;
static int returned; /* buffers given back this round */

static void die(const char *what, int err)
{
	fprintf(stderr, "curing: %s: %s\n", what, strerror(err));
	exit(1);
}

static struct io_uring_sqe *sqe(void)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&ring);
	if (!s) {
		io_uring_submit(&ring);
		s = io_uring_get_sqe(&ring);
		if (!s)
			die("no SQE", EBUSY);
	}
	return s;
}

static struct conn *conn_of(int fd)
{
	if (fd >= nconns) {
		int m = fd * 2 + 64;
		conns = realloc(conns, (size_t)m * sizeof *conns);
		if (!conns)
			die("realloc", ENOMEM);
		memset(conns + nconns, 0, (size_t)(m - nconns) * sizeof *conns);
		nconns = m;
	}
	return &conns[fd];
}

static void give_back(int bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
	returned++;
}

static void arm_recv(int fd, struct conn *c)
{
	struct io_uring_sqe *s = sqe();
	io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data64(s, UD(OP_RECV, c->gen, fd));
}

static void send_head(int fd, struct conn *c)
{
	int bid = c->head;
	struct send *q = &sends[bid];
	struct io_uring_sqe *s = sqe();
	io_uring_prep_send(s, fd, bufs + (size_t)bid * BUFSZ + q->off, q->len - q->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(s, UD(OP_SEND, 0, bid));
	c->sending = 1;
}

/* drop closes a connection; buffers queued behind an in-flight send go
 * back with that send's completion. */
static void drop(int fd, struct conn *c)
{
	if (!c->open)
		return;
	c->open = 0;
	c->gen++;
	int bid = c->head;
	if (c->sending)
		bid = next[bid]; /* the one in flight returns when it completes */
	while (bid >= 0) {
		int n = next[bid];
		give_back(bid);
		bid = n;
	}
	c->head = c->tail = -1;
	/* ends the multishot receive, which holds the socket open */
	shutdown(fd, SHUT_RDWR);
	if (!c->sending)
		close(fd);
}

static void on_recv(struct io_uring_cqe *e)
{
	int fd = (int)UD_LO(e->user_data);
	struct conn *c = conn_of(fd);
	int more = e->flags & IORING_CQE_F_MORE;
	if (e->flags & IORING_CQE_F_BUFFER) {
		int bid = (int)(e->flags >> IORING_CQE_BUFFER_SHIFT);
		if (!c->open || c->gen != UD_HI(e->user_data) || e->res <= 0) {
			give_back(bid);
		} else {
			sends[bid] = (struct send){ .fd = fd, .off = 0, .len = (unsigned)e->res };
			next[bid] = -1;
			if (c->tail >= 0)
				next[c->tail] = bid;
			else
				c->head = bid;
			c->tail = bid;
			if (!c->sending)
				send_head(fd, c);
		}
	}
	if (!c->open || c->gen != UD_HI(e->user_data))
		return;
	if (e->res == 0 || (e->res < 0 && e->res != -ENOBUFS)) {
		drop(fd, c);
		return;
	}
	if (!more) {
		if (e->res == -ENOBUFS) {
			if (nstarved == capstarved) {
				capstarved = capstarved * 2 + 64;
				starved = realloc(starved, (size_t)capstarved * sizeof *starved);
				if (!starved)
					die("realloc", ENOMEM);
			}
			starved[nstarved++] = e->user_data;
		} else {
			arm_recv(fd, c);
		}
	}
}

static void on_send(struct io_uring_cqe *e)
{
	int bid = (int)UD_LO(e->user_data);
	struct send *q = &sends[bid];
	int fd = q->fd;
	struct conn *c = conn_of(fd);
	if (!c->open) {
		/* dropped while this send ran: now the descriptor can go */
		c->sending = 0;
		give_back(bid);
		close(fd);
		return;
	}
	if (e->res < 0) {
		drop(fd, c);
		return;
	}
	q->off += (unsigned)e->res;
	if (q->off < q->len) {
		send_head(fd, c);
		return;
	}
	c->sending = 0;
	c->head = next[bid];
	if (c->head < 0)
		c->tail = -1;
	give_back(bid);
	if (c->head >= 0)
		send_head(fd, c);
}

int main(int argc, char **argv)
{
	const char *arg = argc > 1 ? argv[1] : "127.0.0.1:0";
	char host[64];
	const char *colon = strrchr(arg, ':');
	if (!colon || (size_t)(colon - arg) >= sizeof host) {
		fprintf(stderr, "usage: curing HOST:PORT\n");
		return 2;
	}
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "curing: bad address %s\n", arg);
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind", errno);
	if (listen(lfd, 4096) < 0)
		die("listen", errno);
	socklen_t sl = sizeof sa;
	getsockname(lfd, (struct sockaddr *)&sa, &sl);

	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
	int err = io_uring_queue_init_params(ENTRIES, &ring, &p);
	if (err == -EINVAL) {
		memset(&p, 0, sizeof p);
		err = io_uring_queue_init_params(ENTRIES, &ring, &p);
	}
	if (err < 0)
		die("io_uring_queue_init", -err);

	br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		die("mmap", errno);
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUFS, .bgid = BGID };
	if ((err = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
		die("io_uring_register_buf_ring", -err);
	bufs = malloc((size_t)NBUFS * BUFSZ);
	if (!bufs)
		die("malloc", ENOMEM);
	for (int i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
				      io_uring_buf_ring_mask(NBUFS), i);
	io_uring_buf_ring_advance(br, NBUFS);

	struct io_uring_sqe *s = sqe();
	io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(s, UD(OP_ACCEPT, 0, 0));

	printf("listening on %s:%d\n", host, ntohs(sa.sin_port));
	fflush(stdout);

	for (;;) {
		err = io_uring_submit_and_wait(&ring, 1);
		if (err < 0 && err != -EINTR)
			die("io_uring_submit_and_wait", -err);
		unsigned head, seen = 0;
		struct io_uring_cqe *e;
		returned = 0;
		io_uring_for_each_cqe(&ring, head, e) {
			seen++;
			switch (UD_OP(e->user_data)) {
			case OP_ACCEPT:
				if (e->res >= 0) {
					struct conn *c = conn_of(e->res);
					setsockopt(e->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					c->open = 1;
					c->sending = 0;
					c->head = c->tail = -1;
					arm_recv(e->res, c);
				}
				if (!(e->flags & IORING_CQE_F_MORE)) {
					s = sqe();
					io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
					io_uring_sqe_set_data64(s, UD(OP_ACCEPT, 0, 0));
				}
				break;
			case OP_RECV:
				on_recv(e);
				break;
			case OP_SEND:
				on_send(e);
				break;
			}
		}
		io_uring_cq_advance(&ring, seen);
		/* receives that ran out of buffers start again once some came back */
		if (returned && nstarved) {
			int n = nstarved;
			nstarved = 0;
			for (int i = 0; i < n; i++) {
				int fd = (int)UD_LO(starved[i]);
				struct conn *c = conn_of(fd);
				if (c->open && c->gen == UD_HI(starved[i]))
					arm_recv(fd, c);
			}
		}
	}
}
