/* Shared code of the midge / libmosquitto / Paho / raw benchmark programs (issue 6). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

/* handshake: `count` fresh connections one after another, each timed from the connect
 * call to its CONNACK (over TLS when --cafile is given). */
enum scenario { SC_THROUGHPUT = 0, SC_PINGPONG = 1, SC_HANDSHAKE = 2 };

struct bench_args {
    char host[256];
    int port;
    char address[300]; /* "host:port" */
    int scenario;
    int qos;
    size_t size;  /* payload bytes, >= 8 (sequence number) */
    long count;   /* messages (throughput) or round trips (pingpong) */
    int inflight; /* publisher window, 1..65535 */
    int timeout_s; /* give up when nothing progresses for this long */
    char topic_a[64], topic_b[64];
    char cafile[1024]; /* --cafile: TLS, trusting this CA; empty: plain TCP */
    int defaults;      /* --defaults: the library as users run it (midge: no tuning) */
    /* --store DIR --durability {none,os,fsync,fsync-before-send} (issue 15; midge and Paho
     * only): the publisher keeps its QoS 1/2 messages in a store in DIR. midge: its file
     * store with MIDGE_DURABILITY_OS, _FSYNC or _FSYNC_BEFORE_SEND; Paho:
     * MQTTCLIENT_PERSISTENCE_DEFAULT (its file store, one file per message, never
     * fsynced) for all three. */
    char store_dir[1024];
    int durability; /* DUR_NONE, DUR_OS, DUR_FSYNC, DUR_FSYNC_BEFORE_SEND */
};
enum durability { DUR_NONE = 0, DUR_OS = 1, DUR_FSYNC = 2, DUR_FSYNC_BEFORE_SEND = 3 };

void bench_parse_args(int argc, char **argv, struct bench_args *a);
uint64_t bench_now_ns(void);
double bench_cpu_seconds(void); /* getrusage(RUSAGE_SELF) user + sys */
long bench_peak_rss_kib(void);  /* VmHWM, or ru_maxrss */

/* Payloads: the first 8 bytes carry the sequence number (little endian). */
void bench_fill_payload(uint8_t *buf, size_t size);
void bench_put_seq(uint8_t *buf, uint64_t seq);
uint64_t bench_get_seq(const uint8_t *buf, size_t len); /* UINT64_MAX when too short */

struct bench_window;
/* Received-message accounting, safe to call from any thread. */
struct bench_rx {
    uint8_t *seen;              /* one byte per sequence number */
    long count;
    atomic_long unique;
    atomic_long total;          /* unique + duplicates + out of range */
    atomic_long dup;
    atomic_long bad;            /* out of range or short payloads */
    atomic_uint_fast64_t last_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int waiting;
    struct bench_window *window; /* QoS 0: each receipt frees a window slot */
};
void bench_rx_init(struct bench_rx *rx, long count);
void bench_rx_record(struct bench_rx *rx, const uint8_t *payload, size_t len);
/* Waits until every message came or nothing came for timeout_s; returns unique count. */
long bench_rx_wait_all(struct bench_rx *rx, int timeout_s);

/* The publisher's window: at most `limit` messages sent and not yet done (acknowledged
 * for QoS 1/2, received for QoS 0). Once full, the publisher waits until the window is
 * down to a low-water mark (3/4 of the limit), so it is woken once per batch. */
struct bench_window {
    long limit, low;
    long sent;                  /* publisher thread; read under mu while it waits */
    atomic_long done;
    atomic_int waiting;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};
void bench_window_init(struct bench_window *w, long limit);
/* Returns 0, or -1 when nothing moved for timeout_s. */
int bench_window_acquire(struct bench_window *w, int timeout_s);
void bench_window_release(struct bench_window *w, long n);

/* Ping-pong: one waiter for one reply. */
struct bench_reply {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t got;   /* sequence number + 1 of the last reply */
};
void bench_reply_init(struct bench_reply *r);
void bench_reply_post(struct bench_reply *r, uint64_t seq);
int bench_reply_wait(struct bench_reply *r, uint64_t seq, int timeout_s);

int bench_cmp_u64(const void *a, const void *b);
/* p in [0,100]; sorts `v`. Nearest-rank percentile. */
double bench_percentile(uint64_t *v, long n, double p);

/* The one result line. Pass negative values for "-". */
void bench_print_result(const char *lib, const struct bench_args *a, double msgs_per_s,
                        long lost, long dup, double cpu_us_per_msg, long rss_kib,
                        double p50_us, double p99_us);

/* Connection and subscription state set from a library's callbacks and waited on by the
 * main thread (bounded: 10 s). A field is 0 until set, > 0 on success, < 0 on failure. */
struct bench_latch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connected, subscribed, rc;
};
void bench_latch_init(struct bench_latch *l);
void bench_latch_set(struct bench_latch *l, int *field, int v);
void bench_latch_wait(struct bench_latch *l, int *field, const char *lib, const char *what);

/* The two scenarios' measured loops, the same for every library program: `publish`
 * sends one message (payload `buf`, sequence number `i` in it) on `client`, dying on error. */
typedef void (*bench_publish_fn)(void *client, long i, const uint8_t *buf, size_t len);

struct bench_measure {
    long done;        /* messages received, or round trips made */
    double secs;      /* first publish to last receipt, or the timed round trips */
    double cpu_s;     /* the process's CPU time over the same interval */
    long rss_kib;     /* peak RSS, taken before the clients close */
    uint64_t *rtt;    /* ping-pong: each round trip, in ns */
};

/* Throughput: publishes a->count messages, at most a->inflight outstanding in `win`, and
 * waits for them at `rx` (and at QoS > 0 for their acknowledgements). */
void bench_throughput_run(const char *lib, const struct bench_args *a, struct bench_rx *rx,
                          struct bench_window *win, bench_publish_fn publish, void *client,
                          struct bench_measure *m);
void bench_throughput_report(const char *lib, const struct bench_args *a, struct bench_rx *rx,
                             const struct bench_measure *m, long publishes_failed);

/* Ping-pong: min(100, count/10) warm-up round trips, then a->count timed ones, each
 * published with `ping` and awaited at `reply`. */
void bench_pingpong_run(const char *lib, const struct bench_args *a, struct bench_reply *reply,
                        bench_publish_fn ping, void *client, struct bench_measure *m);
void bench_pingpong_report(const char *lib, const struct bench_args *a, struct bench_measure *m);

/* Handshake: `connect` makes one client and returns once it has its CONNACK (dying on
 * error); `close` disconnects and frees it. min(5, count) warm-up connections, then
 * a->count timed ones; m->rtt holds each connect-to-CONNACK time, m->cpu_s the CPU of
 * the whole connect/close cycles. */
typedef void *(*bench_connect_fn)(void);
typedef void (*bench_close_fn)(void *client);
void bench_handshake_run(const char *lib, const struct bench_args *a, bench_connect_fn connect,
                         bench_close_fn close, struct bench_measure *m);
/* Reported like ping-pong: connections/s, CPU us per connection, p50/p99 connect time. */
#define bench_handshake_report bench_pingpong_report

void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
