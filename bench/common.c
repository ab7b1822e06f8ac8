#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s --broker host:port --scenario {throughput,pingpong,handshake} --qos N "
            "--size BYTES --count N --inflight N [--timeout SECONDS] [--cafile FILE] [--defaults]\n"
            "  [--store DIR --durability {none,os,fsync,fsync-before-send}]\n"
            "  --scenario handshake: --count fresh connections, each timed to its CONNACK\n"
            "  --cafile FILE: connect over TLS, trusting the CA in FILE (PEM)\n"
            "  --defaults: midge on its defaults (no linger, busy poll or inline callbacks);\n"
            "    implied by --cafile\n"
            "  --store DIR --durability D: the publisher keeps its messages in a store in DIR\n",
            prog);
    exit(2);
}

void bench_parse_args(int argc, char **argv, struct bench_args *a) {
    memset(a, 0, sizeof *a);
    strcpy(a->host, "127.0.0.1");
    a->port = 0; /* --broker is required: no broker is assumed on 1883 */
    a->scenario = SC_THROUGHPUT;
    a->qos = 1;
    a->size = 64;
    a->count = 100000;
    a->inflight = 1000;
    a->timeout_s = 10;
    static const struct option opts[] = {
        {"broker", required_argument, 0, 'b'},   {"scenario", required_argument, 0, 's'},
        {"qos", required_argument, 0, 'q'},      {"size", required_argument, 0, 'z'},
        {"count", required_argument, 0, 'n'},    {"inflight", required_argument, 0, 'i'},
        {"timeout", required_argument, 0, 't'},  {"help", no_argument, 0, 'h'},
        {"cafile", required_argument, 0, 'c'},  {"defaults", no_argument, 0, 'd'},
        {"store", required_argument, 0, 'S'},  {"durability", required_argument, 0, 'D'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': {
            const char *colon = strrchr(optarg, ':');
            if (colon) {
                size_t n = (size_t)(colon - optarg);
                if (n >= sizeof a->host) bench_die("broker host too long");
                memcpy(a->host, optarg, n);
                a->host[n] = 0;
                a->port = atoi(colon + 1);
            } else {
                snprintf(a->host, sizeof a->host, "%s", optarg);
            }
            break;
        }
        case 's':
            if (!strcmp(optarg, "throughput")) a->scenario = SC_THROUGHPUT;
            else if (!strcmp(optarg, "pingpong")) a->scenario = SC_PINGPONG;
            else if (!strcmp(optarg, "handshake")) a->scenario = SC_HANDSHAKE;
            else usage(argv[0]);
            break;
        case 'q': a->qos = atoi(optarg); break;
        case 'z': a->size = (size_t)atol(optarg); break;
        case 'n': a->count = atol(optarg); break;
        case 'i': a->inflight = atoi(optarg); break;
        case 't': a->timeout_s = atoi(optarg); break;
        case 'd': a->defaults = 1; break;
        case 'c':
            if (strlen(optarg) >= sizeof a->cafile) bench_die("--cafile path too long");
            snprintf(a->cafile, sizeof a->cafile, "%s", optarg);
            break;
        case 'S':
            if (strlen(optarg) >= sizeof a->store_dir) bench_die("--store path too long");
            snprintf(a->store_dir, sizeof a->store_dir, "%s", optarg);
            break;
        case 'D':
            if (!strcmp(optarg, "none")) a->durability = DUR_NONE;
            else if (!strcmp(optarg, "os")) a->durability = DUR_OS;
            else if (!strcmp(optarg, "fsync")) a->durability = DUR_FSYNC;
            else if (!strcmp(optarg, "fsync-before-send")) a->durability = DUR_FSYNC_BEFORE_SEND;
            else bench_die("--durability must be none, os, fsync or fsync-before-send");
            break;
        default: usage(argv[0]);
        }
    }
    if (a->durability != DUR_NONE && !a->store_dir[0]) bench_die("--durability needs --store DIR");
    if (a->qos < 0 || a->qos > 2) bench_die("--qos must be 0, 1 or 2");
    if (a->size < 8) a->size = 8;
    if (a->count < 1) bench_die("--count must be >= 1");
    if (a->inflight < 1 || a->inflight > 65535) bench_die("--inflight must be 1..65535");
    if (a->port == 0) usage(argv[0]);
    if (a->port < 0 || a->port > 65535) bench_die("bad port");
    snprintf(a->address, sizeof a->address, "%s:%d", a->host, a->port);
    snprintf(a->topic_a, sizeof a->topic_a, "bench/%d/a", (int)getpid());
    snprintf(a->topic_b, sizeof a->topic_b, "bench/%d/b", (int)getpid());
}

uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

long bench_peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            long v;
            if (sscanf(line, "VmHWM: %ld kB", &v) == 1) {
                fclose(f);
                return v;
            }
        }
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

void bench_fill_payload(uint8_t *buf, size_t size) {
    for (size_t i = 0; i < size; i++) buf[i] = (uint8_t)('a' + i % 26);
}

void bench_put_seq(uint8_t *buf, uint64_t seq) {
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(seq >> (8 * i));
}

uint64_t bench_get_seq(const uint8_t *buf, size_t len) {
    if (len < 8 || !buf) return UINT64_MAX;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)buf[i] << (8 * i);
    return v;
}

/* ---- receive accounting ---- */

void bench_rx_init(struct bench_rx *rx, long count) {
    memset(rx, 0, sizeof *rx);
    rx->seen = calloc((size_t)count, 1);
    if (!rx->seen) bench_die("out of memory");
    rx->count = count;
    pthread_mutex_init(&rx->mu, NULL);
    pthread_cond_init(&rx->cv, NULL);
}

void bench_rx_record(struct bench_rx *rx, const uint8_t *payload, size_t len) {
    uint64_t seq = bench_get_seq(payload, len);
    atomic_fetch_add(&rx->total, 1);
    if (seq >= (uint64_t)rx->count) {
        atomic_fetch_add(&rx->bad, 1);
    } else if (__atomic_exchange_n(&rx->seen[seq], 1, __ATOMIC_RELAXED)) {
        atomic_fetch_add(&rx->dup, 1);
    } else {
        long u = atomic_fetch_add(&rx->unique, 1) + 1;
        atomic_store(&rx->last_ns, bench_now_ns());
        if (u == rx->count) {
            pthread_mutex_lock(&rx->mu);
            pthread_cond_broadcast(&rx->cv);
            pthread_mutex_unlock(&rx->mu);
        }
    }
    if (rx->window) bench_window_release(rx->window, 1);
}

long bench_rx_wait_all(struct bench_rx *rx, int timeout_s) {
    long last = -1;
    uint64_t last_change = bench_now_ns();
    pthread_mutex_lock(&rx->mu);
    for (;;) {
        long u = atomic_load(&rx->unique);
        if (u >= rx->count) break;
        uint64_t now = bench_now_ns();
        if (u != last) {
            last = u;
            last_change = now;
        } else if (now - last_change > (uint64_t)timeout_s * 1000000000ull) {
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&rx->cv, &rx->mu, &ts);
    }
    pthread_mutex_unlock(&rx->mu);
    return atomic_load(&rx->unique);
}

/* ---- window ---- */

void bench_window_init(struct bench_window *w, long limit) {
    memset(w, 0, sizeof *w);
    w->limit = limit;
    w->low = limit >= 4 ? limit - limit / 4 : limit - 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

int bench_window_acquire(struct bench_window *w, int timeout_s) {
    if (w->sent - atomic_load(&w->done) < w->limit) {
        w->sent++;
        return 0;
    }
    uint64_t start = bench_now_ns();
    long seen = atomic_load(&w->done);
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->waiting, 1);
    while (w->sent - atomic_load(&w->done) > w->low) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        long d = atomic_load(&w->done);
        if (d != seen) {
            seen = d;
            start = bench_now_ns();
        } else if (bench_now_ns() - start > (uint64_t)timeout_s * 1000000000ull) {
            atomic_store(&w->waiting, 0);
            pthread_mutex_unlock(&w->mu);
            return -1;
        }
    }
    atomic_store(&w->waiting, 0);
    pthread_mutex_unlock(&w->mu);
    w->sent++;
    return 0;
}

void bench_window_release(struct bench_window *w, long n) {
    long done = atomic_fetch_add(&w->done, n) + n;
    if (atomic_load(&w->waiting)) {
        /* Under the lock the waiter's `sent` is stable (it waits); wake it only once its
         * condition holds, not for every message on the way there. The signal comes after
         * the unlock, so the woken waiter does not block at once on our lock. */
        pthread_mutex_lock(&w->mu);
        int ready = atomic_load(&w->waiting) && w->sent - done <= w->low;
        pthread_mutex_unlock(&w->mu);
        if (ready) pthread_cond_signal(&w->cv);
    }
}

/* ---- ping-pong ---- */

void bench_reply_init(struct bench_reply *r) {
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    atomic_store(&r->got, 0);
}

void bench_reply_post(struct bench_reply *r, uint64_t seq) {
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->got, seq + 1);
    pthread_mutex_unlock(&r->mu);
    /* After unlocking, so the woken waiter does not block at once on our lock. */
    pthread_cond_signal(&r->cv);
}

int bench_reply_wait(struct bench_reply *r, uint64_t seq, int timeout_s) {
    if (atomic_load(&r->got) == seq + 1) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_s;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    while (atomic_load(&r->got) != seq + 1) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT) {
            rc = -1;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- statistics and output ---- */

int bench_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double bench_percentile(uint64_t *v, long n, double p) {
    if (n <= 0) return -1;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_u64);
    long rank = (long)(p / 100.0 * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)v[rank - 1];
}

static void fmt_num(char *out, size_t cap, double v, int decimals) {
    if (v < 0) snprintf(out, cap, "-");
    else snprintf(out, cap, "%.*f", decimals, v);
}

void bench_print_result(const char *lib, const struct bench_args *a, double msgs_per_s,
                        long lost, long dup, double cpu_us_per_msg, long rss_kib,
                        double p50_us, double p99_us) {
    char m[64], c[64], p5[64], p9[64];
    fmt_num(m, sizeof m, msgs_per_s, 0);
    fmt_num(c, sizeof c, cpu_us_per_msg, 3);
    fmt_num(p5, sizeof p5, p50_us, 1);
    fmt_num(p9, sizeof p9, p99_us, 1);
    printf("lib=%s scenario=%s qos=%d size=%zu count=%ld msgs_per_s=%s lost=%ld dup=%ld "
           "cpu_us_per_msg=%s rss_kib=%ld p50_us=%s p99_us=%s\n",
           lib,
           a->scenario == SC_THROUGHPUT ? "throughput"
           : a->scenario == SC_PINGPONG ? "pingpong" : "handshake", a->qos, a->size,
           a->count, m, lost, dup, c, rss_kib, p5, p9);
    fflush(stdout);
}

void bench_latch_init(struct bench_latch *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

void bench_latch_set(struct bench_latch *l, int *field, int v) {
    pthread_mutex_lock(&l->mu);
    *field = v;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void bench_latch_wait(struct bench_latch *l, int *field, const char *lib, const char *what) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&l->mu);
    while (!*field)
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts)) bench_die("%s: %s timed out", lib, what);
    pthread_mutex_unlock(&l->mu);
    if (*field < 0) bench_die("%s: %s failed (%d)", lib, what, l->rc);
}

/* ---- the scenarios' measured loops ---- */

void bench_throughput_run(const char *lib, const struct bench_args *a, struct bench_rx *rx,
                          struct bench_window *win, bench_publish_fn publish, void *client,
                          struct bench_measure *m) {
    uint8_t *buf = malloc(a->size);
    bench_fill_payload(buf, a->size);
    double cpu0 = bench_cpu_seconds();
    uint64_t t0 = bench_now_ns();
    long sent = 0;
    for (long i = 0; i < a->count; i++) {
        if (bench_window_acquire(win, a->timeout_s) != 0) {
            fprintf(stderr, "%s: window stalled at %ld\n", lib, i);
            break;
        }
        bench_put_seq(buf, (uint64_t)i);
        publish(client, i, buf, a->size);
        sent++;
    }
    m->done = bench_rx_wait_all(rx, a->timeout_s);
    m->cpu_s = bench_cpu_seconds() - cpu0;
    uint64_t t1 = atomic_load(&rx->last_ns);
    m->secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : -1;
    /* Let the last acknowledgements in before the clients close (bounded: 2 s). */
    for (int k = 0; a->qos > 0 && k < 200 && atomic_load(&win->done) < sent; k++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    m->rss_kib = bench_peak_rss_kib();
    m->rtt = NULL;
    free(buf);
}

void bench_throughput_report(const char *lib, const struct bench_args *a, struct bench_rx *rx,
                             const struct bench_measure *m, long publishes_failed) {
    if (publishes_failed) fprintf(stderr, "%s: %ld publishes failed\n", lib, publishes_failed);
    long bad = atomic_load(&rx->bad);
    if (bad) fprintf(stderr, "%s: %ld bad payloads\n", lib, bad);
    bench_print_result(lib, a, m->secs > 0 ? (double)m->done / m->secs : -1, a->count - m->done,
                       atomic_load(&rx->dup), m->cpu_s / (double)a->count * 1e6, m->rss_kib, -1,
                       -1);
}

void bench_pingpong_run(const char *lib, const struct bench_args *a, struct bench_reply *reply,
                        bench_publish_fn ping, void *client, struct bench_measure *m) {
    long warm = a->count / 10 < 100 ? a->count / 10 : 100;
    m->rtt = malloc(sizeof(uint64_t) * (size_t)a->count);
    uint8_t *buf = malloc(a->size);
    bench_fill_payload(buf, a->size);
    long n = 0;
    double cpu0 = 0;
    uint64_t start = 0;
    for (long i = 0; i < warm + a->count; i++) {
        if (i == warm) {
            cpu0 = bench_cpu_seconds();
            start = bench_now_ns();
        }
        bench_put_seq(buf, (uint64_t)i);
        uint64_t t = bench_now_ns();
        ping(client, i, buf, a->size);
        if (bench_reply_wait(reply, (uint64_t)i, a->timeout_s) != 0) {
            fprintf(stderr, "%s: round trip %ld timed out\n", lib, i);
            break;
        }
        if (i >= warm) m->rtt[n++] = bench_now_ns() - t;
    }
    m->done = n;
    m->secs = (double)(bench_now_ns() - start) / 1e9;
    m->cpu_s = bench_cpu_seconds() - cpu0;
    m->rss_kib = bench_peak_rss_kib();
    free(buf);
}

void bench_pingpong_report(const char *lib, const struct bench_args *a, struct bench_measure *m) {
    long n = m->done;
    double p50 = bench_percentile(m->rtt, n, 50) / 1e3, p99 = bench_percentile(m->rtt, n, 99) / 1e3;
    bench_print_result(lib, a, n ? (double)n / m->secs : -1, a->count - n, 0,
                       n ? m->cpu_s / (double)n * 1e6 : -1, m->rss_kib, p50, p99);
    free(m->rtt);
    m->rtt = NULL;
}

void bench_handshake_run(const char *lib, const struct bench_args *a, bench_connect_fn connect,
                         bench_close_fn close, struct bench_measure *m) {
    (void)lib;
    long warm = a->count < 5 ? a->count : 5;
    m->rtt = malloc(sizeof(uint64_t) * (size_t)a->count);
    long n = 0;
    double cpu0 = 0;
    uint64_t start = 0;
    for (long i = 0; i < warm + a->count; i++) {
        if (i == warm) {
            cpu0 = bench_cpu_seconds();
            start = bench_now_ns();
        }
        uint64_t t = bench_now_ns();
        void *c = connect();
        if (i >= warm) m->rtt[n++] = bench_now_ns() - t;
        close(c);
    }
    m->done = n;
    m->secs = (double)(bench_now_ns() - start) / 1e9;
    m->cpu_s = bench_cpu_seconds() - cpu0;
    m->rss_kib = bench_peak_rss_kib();
}
