/* http_load.c - HTTP/1.1 load generator for the gateway's benchmarks (bench_gateway.sh):
 * C keep-alive connections to 127.0.0.1:PORT, each with one request in flight, sending
 * the same request (method, path, headers, body) for D seconds, on one epoll thread.
 *
 *   http_load PORT METHOD PATH BODYFILE|- D C [--rate R] [--header 'Name: value']...
 *             [--expect STATUS] [--bin-header N]
 *
 * Closed loop without --rate: each connection sends its next request as soon as the
 * answer to the previous one is read (throughput). With --rate R the requests are
 * scheduled at R per second across the connections (open loop) and each latency is
 * measured from the request's scheduled time, so a stall counts in full for every
 * request it delays (no coordinated omission); if no connection is free at a scheduled
 * time the request waits and its latency grows. Prints one line:
 *   requests N ok N rps X p50 X p90 X p99 X max X (ms) statuses {200: N, ...}
 * and exits 1 if any answer had another status than --expect (default 200). Responses
 * are read by Content-Length (the gateway always sends it or closes the connection). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024
#define MAXH 16

typedef struct conn {
    int fd;
    int busy;
    double t0;          /* start of the request being answered (scheduled time) */
    char *in;
    size_t inlen, incap;
    size_t sent;
} conn;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *req;
static size_t reqlen;
static int port;

static int open_conn(conn *c, int ep)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a)) {
        close(c->fd);
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->busy = 0;
    c->inlen = 0;
    return 0;
}

static int send_req(conn *c, double t0)
{
    c->busy = 1;
    c->t0 = t0;
    c->inlen = 0;
    size_t off = 0;
    while (off < reqlen) { /* a request larger than the socket buffer: wait for room, as the
                            * AMQP client does (rpc_flush), rather than wake every 20 us */
        ssize_t k = write(c->fd, req + off, reqlen - off);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {c->fd, POLLOUT, 0};
            poll(&pf, 1, 1000);
            continue;
        }
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    return 0;
}

/* Status of a complete response in c->in, or 0 if not complete yet (-1 broken). */
static int complete(conn *c, size_t *used)
{
    c->in[c->inlen] = '\0';
    char *he = strstr(c->in, "\r\n\r\n");
    if (!he)
        return 0;
    size_t hl = (size_t)(he - c->in) + 4;
    long clen = -1;
    for (char *p = strstr(c->in, "\r\n"); p && p < he; p = strstr(p + 2, "\r\n"))
        if (!strncasecmp(p + 2, "Content-Length:", 15))
            clen = strtol(p + 17, NULL, 10);
    if (clen < 0)
        return -1;
    if (c->inlen < hl + (size_t)clen)
        return 0;
    *used = hl + (size_t)clen;
    return atoi(c->in + 9);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: http_load PORT METHOD PATH BODYFILE|- SECONDS CONNS [--rate R] [--header H]... "
                        "[--expect STATUS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    const char *method = argv[2], *path = argv[3], *bodyf = argv[4];
    double dur = atof(argv[5]);
    int nc = atoi(argv[6]);
    double rate = 0;
    int expect = 200;
    const char *hdr[MAXH];
    int nh = 0;
    for (int i = 7; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--header") && i + 1 < argc && nh < MAXH)
            hdr[nh++] = argv[++i];
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
            expect = atoi(argv[++i]);
        else {
            fprintf(stderr, "http_load: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (nc < 1 || nc > MAXC || dur <= 0 || port <= 0) {
        fprintf(stderr, "http_load: bad arguments\n");
        return 2;
    }
    char *body = NULL;
    size_t blen = 0;
    if (strcmp(bodyf, "-")) {
        FILE *f = fopen(bodyf, "rb");
        if (!f) {
            perror(bodyf);
            return 2;
        }
        fseek(f, 0, SEEK_END);
        blen = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        body = malloc(blen + 1);
        if (!body || fread(body, 1, blen, f) != blen) {
            fprintf(stderr, "http_load: cannot read %s\n", bodyf);
            return 2;
        }
        fclose(f);
    }
    size_t cap = 4096 + blen;
    for (int i = 0; i < nh; i++)
        cap += strlen(hdr[i]) + 2;
    req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", method, path, port);
    for (int i = 0; i < nh; i++)
        n += snprintf(req + n, cap - (size_t)n, "%s\r\n", hdr[i]);
    if (body)
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body)
        memcpy(req + n, body, blen);
    reqlen = (size_t)n + blen;
    int ep = epoll_create1(0);
    conn *cs = calloc((size_t)nc, sizeof *cs);
    for (int i = 0; i < nc; i++) {
        cs[i].incap = 65536;
        cs[i].in = malloc(cs[i].incap + 1);
        if (open_conn(&cs[i], ep)) {
            perror("connect");
            return 2;
        }
    }
    size_t lcap = 1 << 20, nl = 0;
    double *lat = malloc(lcap * sizeof *lat);
    long statuses[600] = {0};
    long nreq = 0, bad = 0;
    double start = now(), end = start + dur;
    double next = start; /* open loop: next scheduled request */
    long sched = 0;
    if (!rate)
        for (int i = 0; i < nc; i++)
            send_req(&cs[i], now());
    struct epoll_event evs[64];
    for (;;) {
        double t = now();
        if (t >= end)
            break;
        if (rate) {
            /* send every request whose time has come on free connections */
            while (next <= t) {
                int sentit = 0;
                for (int i = 0; i < nc; i++)
                    if (!cs[i].busy) {
                        send_req(&cs[i], next);
                        sentit = 1;
                        break;
                    }
                if (!sentit)
                    break; /* all busy: it waits (its latency counts from `next`) */
                sched++;
                next = start + (double)sched / rate;
            }
        }
        int timeout = 1;
        int k = epoll_wait(ep, evs, 64, timeout);
        for (int j = 0; j < k; j++) {
            conn *c = evs[j].data.ptr;
            for (;;) {
                if (c->incap - c->inlen < 4096) {
                    c->incap *= 2;
                    c->in = realloc(c->in, c->incap + 1);
                }
                ssize_t r = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
                if (r > 0) {
                    c->inlen += (size_t)r;
                    continue;
                }
                if (r < 0 && errno == EAGAIN)
                    break;
                /* closed: count the request as failed, reconnect */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                if (c->busy) {
                    bad++;
                    nreq++;
                }
                open_conn(c, ep);
                if (!rate)
                    send_req(c, now());
                goto next_event;
            }
            size_t used = 0;
            int st = complete(c, &used);
            if (st > 0) {
                double tl = now();
                nreq++;
                if (st < 600)
                    statuses[st]++;
                if (st != expect)
                    bad++;
                if (nl == lcap) {
                    lcap *= 2;
                    lat = realloc(lat, lcap * sizeof *lat);
                }
                lat[nl++] = (tl - c->t0) * 1e3;
                memmove(c->in, c->in + used, c->inlen - used);
                c->inlen -= used;
                c->busy = 0;
                if (!rate)
                    send_req(c, tl);
            } else if (st < 0) {
                bad++;
            }
        next_event:;
        }
    }
    double el = now() - start;
    qsort(lat, nl, sizeof *lat, cmpd);
#define PCT(p) (nl ? lat[(size_t)((double)(nl - 1) * (p))] : 0)
    printf("requests %ld ok %ld rps %.1f p50 %.2f p90 %.2f p99 %.2f max %.2f (ms) statuses {", nreq, nreq - bad,
           (double)nreq / el, PCT(0.5), PCT(0.9), PCT(0.99), nl ? lat[nl - 1] : 0);
    int first = 1;
    for (int s = 0; s < 600; s++)
        if (statuses[s]) {
            printf("%s%d: %ld", first ? "" : ", ", s, statuses[s]);
            first = 0;
        }
    printf("}\n");
    return bad ? 1 : 0;
}
