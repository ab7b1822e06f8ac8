/* No library: raw TCP sockets, pre-encoded MQTT 5 packets, large batched writes and reads.
 * The ceiling the libraries are measured against. See common.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "common.h"

static struct bench_args A;
static struct bench_rx RX;
static struct bench_window WIN;
static atomic_int STOP;

#define RBUF (256 * 1024)
#define WBATCH (64 * 1024)

struct conn {
    int fd;
    uint8_t *buf;
    size_t start, end;
};

struct pkt {
    int type, flags;
    const uint8_t *body;
    size_t len;
};

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {fd, POLLOUT, 0};
                poll(&pf, 1, 1000);
                continue;
            }
            bench_die("raw: write: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Parses one packet from the buffer; 1 when one was there. */
static int parse(struct conn *c, struct pkt *k) {
    size_t avail = c->end - c->start;
    const uint8_t *p = c->buf + c->start;
    if (avail < 2) return 0;
    size_t len = 0, i = 1;
    int shift = 0;
    for (;;) {
        if (i >= avail) return 0;
        uint8_t b = p[i++];
        len |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
        if (shift > 21) bench_die("raw: bad remaining length");
    }
    if (avail < i + len) return 0;
    k->type = p[0] >> 4;
    k->flags = p[0] & 0x0f;
    k->body = p + i;
    k->len = len;
    c->start += i + len;
    return 1;
}

/* Reads more (blocking unless nonblock); compacts first. Returns bytes read, 0 on EAGAIN. */
static ssize_t fill(struct conn *c) {
    if (c->start == c->end) c->start = c->end = 0;
    else if (c->start > RBUF / 2) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == RBUF) bench_die("raw: packet larger than the read buffer");
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->end, RBUF - c->end);
        if (r > 0) {
            c->end += (size_t)r;
            return r;
        }
        if (r == 0) bench_die("raw: connection closed by the broker");
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 0;
        bench_die("raw: read: %s", strerror(errno));
    }
}

static void next_packet(struct conn *c, struct pkt *k) {
    while (!parse(c, k)) fill(c);
}

static size_t put_varint(uint8_t *p, size_t v) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v) b |= 0x80;
        p[n++] = b;
    } while (v);
    return n;
}

static size_t put_str(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

static struct conn *open_conn(int receive_maximum) {
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", A.port);
    if (getaddrinfo(A.host, port, &hints, &res)) bench_die("raw: cannot resolve %s", A.host);
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) bench_die("raw: connect: %s", strerror(errno));
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->buf = malloc(RBUF);

    /* CONNECT: MQTT 5, clean start, keep alive 0, Receive Maximum, empty client id. */
    uint8_t vh[64];
    size_t n = 0;
    n += put_str(vh + n, "MQTT");
    vh[n++] = 5;
    vh[n++] = 0x02;
    vh[n++] = 0;
    vh[n++] = 0;
    vh[n++] = 3; /* properties */
    vh[n++] = 0x21;
    vh[n++] = (uint8_t)(receive_maximum >> 8);
    vh[n++] = (uint8_t)receive_maximum;
    n += put_str(vh + n, "");
    uint8_t pk[80];
    size_t m = 0;
    pk[m++] = 0x10;
    m += put_varint(pk + m, n);
    memcpy(pk + m, vh, n);
    write_all(fd, pk, m + n);
    struct pkt k;
    next_packet(c, &k);
    if (k.type != 2 || k.len < 2 || k.body[1] != 0) bench_die("raw: CONNACK refused or bad (%d)", k.len >= 2 ? k.body[1] : -1);
    /* Server Receive Maximum, if present, must allow our window. */
    size_t i = 2, plen = 0;
    int shift = 0;
    while (i < k.len) {
        plen |= (size_t)(k.body[i] & 0x7f) << shift;
        shift += 7;
        if (!(k.body[i++] & 0x80)) break;
    }
    for (size_t e = i + plen; i < e;) {
        uint8_t id = k.body[i++];
        if (id == 0x21) {
            int rm = k.body[i] << 8 | k.body[i + 1];
            if (rm < A.inflight) bench_die("raw: server Receive Maximum %d < --inflight %d", rm, A.inflight);
            i += 2;
        } else if (id == 0x24 || id == 0x25 || id == 0x28 || id == 0x29 || id == 0x2a || id == 0x17 || id == 0x19 || id == 0x01) i += 1;
        else if (id == 0x13 || id == 0x22 || id == 0x23) i += 2;
        else if (id == 0x11 || id == 0x27 || id == 0x02 || id == 0x18) i += 4;
        else if (id == 0x12 || id == 0x1a || id == 0x1c || id == 0x1f || id == 0x15 || id == 0x03 || id == 0x08 || id == 0x16 || id == 0x09)
            i += 2 + (size_t)(k.body[i] << 8 | k.body[i + 1]);
        else if (id == 0x26) {
            i += 2 + (size_t)(k.body[i] << 8 | k.body[i + 1]);
            i += 2 + (size_t)(k.body[i] << 8 | k.body[i + 1]);
        } else break;
    }
    return c;
}

static void subscribe(struct conn *c, const char *topic) {
    uint8_t vh[128], pk[140];
    size_t n = 0, m = 0;
    vh[n++] = 0;
    vh[n++] = 1; /* packet id */
    vh[n++] = 0; /* properties */
    n += put_str(vh + n, topic);
    vh[n++] = (uint8_t)A.qos;
    pk[m++] = 0x82;
    m += put_varint(pk + m, n);
    memcpy(pk + m, vh, n);
    write_all(c->fd, pk, m + n);
    struct pkt k;
    next_packet(c, &k);
    if (k.type != 9 || k.len < 4 || k.body[k.len - 1] >= 0x80) bench_die("raw: SUBACK bad or refused");
}

/* A pre-encoded PUBLISH: the packet id and the sequence number are patched per message. */
struct tmpl {
    uint8_t *p;
    size_t len, id_off, seq_off;
};

static void make_publish(struct tmpl *t, const char *topic, int qos) {
    size_t tl = strlen(topic);
    size_t rem = 2 + tl + (qos ? 2 : 0) + 1 + A.size;
    t->p = malloc(rem + 8);
    size_t n = 0;
    t->p[n++] = (uint8_t)(0x30 | qos << 1);
    n += put_varint(t->p + n, rem);
    n += put_str(t->p + n, topic);
    t->id_off = n;
    if (qos) n += 2;
    t->p[n++] = 0; /* properties */
    t->seq_off = n;
    bench_fill_payload(t->p + n, A.size);
    t->len = n + A.size;
}

static void patch(struct tmpl *t, uint8_t *dst, uint64_t seq, uint16_t id) {
    memcpy(dst, t->p, t->len);
    if (t->id_off != t->seq_off - 1) {
        dst[t->id_off] = (uint8_t)(id >> 8);
        dst[t->id_off + 1] = (uint8_t)id;
    }
    bench_put_seq(dst + t->seq_off, seq);
}

static uint16_t pid_of(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }

/* Handles a PUBLISH: payload offset; appends its acknowledgement to out. */
static const uint8_t *publish_payload(const struct pkt *k, size_t *len, uint8_t *ack, size_t *acklen) {
    int qos = (k->flags >> 1) & 3;
    size_t i = 2 + (size_t)(k->body[0] << 8 | k->body[1]);
    *acklen = 0;
    if (qos) {
        uint16_t id = pid_of(k->body + i);
        i += 2;
        ack[0] = qos == 1 ? 0x40 : 0x50;
        ack[1] = 2;
        ack[2] = (uint8_t)(id >> 8);
        ack[3] = (uint8_t)id;
        *acklen = 4;
    }
    size_t plen = 0;
    int shift = 0;
    for (;;) {
        uint8_t b = k->body[i++];
        plen |= (size_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    i += plen;
    *len = k->len - i;
    return k->body + i;
}

static void *subscriber(void *arg) {
    struct conn *c = arg;
    size_t cap = 1 << 20, n = 0;
    uint8_t *out = malloc(cap);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    while (!atomic_load(&STOP)) {
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0) continue;
        if (fill(c) == 0) continue;
        struct pkt k;
        while (parse(c, &k)) {
            if (n + 16 > cap) {
                write_all(c->fd, out, n);
                n = 0;
            }
            if (k.type == 3) {
                size_t len, al;
                const uint8_t *p = publish_payload(&k, &len, out + n, &al);
                n += al;
                bench_rx_record(&RX, p, len);
            } else if (k.type == 6) { /* PUBREL -> PUBCOMP */
                out[n++] = 0x70;
                out[n++] = 2;
                out[n++] = k.body[0];
                out[n++] = k.body[1];
            }
        }
        if (n) {
            write_all(c->fd, out, n);
            n = 0;
        }
    }
    return NULL;
}

static void throughput(void) {
    bench_rx_init(&RX, A.count);
    bench_window_init(&WIN, A.inflight);
    if (A.qos == 0) RX.window = &WIN;
    struct conn *s = open_conn(A.inflight);
    subscribe(s, A.topic_a);
    struct conn *p = open_conn(A.inflight);
    pthread_t th;
    pthread_create(&th, NULL, subscriber, s);

    struct tmpl t;
    make_publish(&t, A.topic_a, A.qos);
    size_t cap = WBATCH + t.len + 64;
    uint8_t *out = malloc(cap);
    size_t out_start = 0, out_end = 0;
    long sent = 0, acked = 0;
    double cpu0 = bench_cpu_seconds();
    uint64_t t0 = bench_now_ns();
    if (A.qos == 0) {
        while (sent < A.count) {
            if (bench_window_acquire(&WIN, A.timeout_s) != 0) {
                fprintf(stderr, "raw: window stalled at %ld\n", sent);
                break;
            }
            size_t n = 0;
            patch(&t, out, (uint64_t)sent++, 0);
            n += t.len;
            while (sent < A.count && n + t.len <= WBATCH && WIN.sent - atomic_load(&WIN.done) < WIN.limit) {
                WIN.sent++;
                patch(&t, out + n, (uint64_t)sent++, 0);
                n += t.len;
            }
            write_all(p->fd, out, n);
        }
    } else {
        fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
        uint8_t *rel = malloc(RBUF / 4 * 4 + 16);
        size_t reln = 0;
        uint64_t last_progress = bench_now_ns();
        while (acked < A.count) {
            /* Fill the batch while the window allows. */
            if (out_start == out_end) out_start = out_end = 0;
            while (sent < A.count && sent - acked < A.inflight && out_end + t.len <= WBATCH) {
                patch(&t, out + out_end, (uint64_t)sent, (uint16_t)(sent % 65535 + 1));
                out_end += t.len;
                sent++;
            }
            if (out_end > out_start) {
                ssize_t w = write(p->fd, out + out_start, out_end - out_start);
                if (w > 0) out_start += (size_t)w;
                else if (w < 0 && errno != EAGAIN && errno != EINTR) bench_die("raw: write: %s", strerror(errno));
            }
            struct pollfd pf = {p->fd, (short)(POLLIN | (out_end > out_start ? POLLOUT : 0)), 0};
            if (poll(&pf, 1, 100) <= 0) {
                if (bench_now_ns() - last_progress > (uint64_t)A.timeout_s * 1000000000ull) {
                    fprintf(stderr, "raw: acknowledgements stalled at %ld\n", acked);
                    break;
                }
                continue;
            }
            if (!(pf.revents & POLLIN) || fill(p) == 0) continue;
            struct pkt k;
            while (parse(p, &k)) {
                if (k.type == 4 || k.type == 7) { /* PUBACK, PUBCOMP */
                    acked++;
                    last_progress = bench_now_ns();
                    if (k.len > 2 && k.body[2] >= 0x80) fprintf(stderr, "raw: refused 0x%02x\n", k.body[2]);
                } else if (k.type == 5) { /* PUBREC -> PUBREL */
                    rel[reln++] = 0x62;
                    rel[reln++] = 2;
                    rel[reln++] = k.body[0];
                    rel[reln++] = k.body[1];
                    if (reln + 4 > RBUF / 4 * 4) {
                        write_all(p->fd, rel, reln);
                        reln = 0;
                    }
                }
            }
            if (reln) {
                /* PUBRELs go after the pending PUBLISH bytes of a partial write. */
                if (out_end > out_start) {
                    fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) & ~O_NONBLOCK);
                    write_all(p->fd, out + out_start, out_end - out_start);
                    fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
                    out_start = out_end;
                }
                write_all(p->fd, rel, reln);
                reln = 0;
            }
        }
    }
    long got = bench_rx_wait_all(&RX, A.timeout_s);
    double cpu1 = bench_cpu_seconds();
    uint64_t t1 = atomic_load(&RX.last_ns);
    long rss = bench_peak_rss_kib();
    atomic_store(&STOP, 1);
    pthread_join(th, NULL);
    uint8_t disc[2] = {0xe0, 0};
    write_all(p->fd, disc, 2);
    write_all(s->fd, disc, 2);
    close(p->fd);
    close(s->fd);
    if (atomic_load(&RX.bad)) fprintf(stderr, "raw: %ld bad payloads\n", atomic_load(&RX.bad));
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : -1;
    bench_print_result("raw", &A, secs > 0 ? (double)got / secs : -1, A.count - got,
                       atomic_load(&RX.dup), (cpu1 - cpu0) / (double)A.count * 1e6, rss, -1, -1);
}

/* Reads packets until a PUBLISH; answers PUBREC/PUBREL on the way (QoS 2). */
static const uint8_t *await_publish(struct conn *c, size_t *len, uint8_t *ack, size_t *acklen) {
    for (;;) {
        struct pkt k;
        next_packet(c, &k);
        if (k.type == 3) return publish_payload(&k, len, ack, acklen);
        if (k.type == 5 || k.type == 6) { /* PUBREC -> PUBREL, PUBREL -> PUBCOMP */
            uint8_t r[4] = {k.type == 5 ? 0x62 : 0x70, 2, k.body[0], k.body[1]};
            write_all(c->fd, r, 4);
        }
    }
}

/* QoS 2: the broker forwards a message once it has our PUBREL, so wait for the PUBREC. */
static void await_pubrec(struct conn *c) {
    for (;;) {
        struct pkt k;
        next_packet(c, &k);
        if (k.type == 5 || k.type == 6) {
            uint8_t r[4] = {k.type == 5 ? 0x62 : 0x70, 2, k.body[0], k.body[1]};
            write_all(c->fd, r, 4);
            if (k.type == 5) return;
        }
    }
}

static void pingpong(void) {
    struct conn *e = open_conn(1000);
    subscribe(e, A.topic_a);
    struct conn *p = open_conn(1000);
    subscribe(p, A.topic_b);
    struct tmpl ping, pong;
    make_publish(&ping, A.topic_a, A.qos);
    make_publish(&pong, A.topic_b, A.qos);
    uint8_t *out = malloc(pong.len + 16), *pout = malloc(ping.len + 16);
    long warm = A.count / 10 < 100 ? A.count / 10 : 100;
    uint64_t *rtt = malloc(sizeof(uint64_t) * (size_t)A.count);
    long n = 0;
    double cpu0 = 0;
    uint64_t start = 0;
    for (long i = 0; i < warm + A.count; i++) {
        if (i == warm) {
            cpu0 = bench_cpu_seconds();
            start = bench_now_ns();
        }
        uint64_t t = bench_now_ns();
        patch(&ping, pout, (uint64_t)i, (uint16_t)(i % 65535 + 1));
        write_all(p->fd, pout, ping.len);
        if (A.qos == 2) await_pubrec(p);
        /* The echo side: the ping in, its acknowledgement and the pong out in one write. */
        size_t len, al;
        const uint8_t *pl = await_publish(e, &len, out, &al);
        uint64_t seq = bench_get_seq(pl, len);
        patch(&pong, out + al, seq, (uint16_t)(i % 65535 + 1));
        write_all(e->fd, out, al + pong.len);
        if (A.qos == 2) await_pubrec(e);
        uint8_t ack[4];
        pl = await_publish(p, &len, ack, &al);
        if (bench_get_seq(pl, len) != (uint64_t)i) bench_die("raw: pong out of order");
        if (i >= warm) rtt[n++] = bench_now_ns() - t;
        if (al) write_all(p->fd, ack, al);
    }
    uint64_t end = bench_now_ns();
    double cpu1 = bench_cpu_seconds();
    long rss = bench_peak_rss_kib();
    uint8_t disc[2] = {0xe0, 0};
    write_all(p->fd, disc, 2);
    write_all(e->fd, disc, 2);
    double p50 = bench_percentile(rtt, n, 50) / 1e3, p99 = bench_percentile(rtt, n, 99) / 1e3;
    bench_print_result("raw", &A, n ? (double)n / ((double)(end - start) / 1e9) : -1, A.count - n, 0,
                       n ? (cpu1 - cpu0) / (double)n * 1e6 : -1, rss, p50, p99);
}

int main(int argc, char **argv) {
    bench_parse_args(argc, argv, &A);
    if (A.durability != DUR_NONE) bench_die("raw: no persistence (--durability)");
    if (A.cafile[0] || A.scenario == SC_HANDSHAKE)
        bench_die("raw: no TLS and no handshake scenario in this program (midge and mosquitto only)");
    if (A.scenario == SC_THROUGHPUT) throughput();
    else pingpong();
    return 0;
}
