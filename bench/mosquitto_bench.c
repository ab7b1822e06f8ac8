/* libmosquitto 2.0: threaded loop (mosquitto_loop_start), MQTT v5, send/receive maximum
 * set to --inflight, TCP_NODELAY. See common.h for the command line and the result line. */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static struct bench_args A;
static struct bench_rx RX;
static struct bench_window WIN;
static struct bench_reply REPLY;
static atomic_long PUB_FAILED;

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p) {
    (void)m, (void)flags, (void)p;
    struct bench_latch *l = obj;
    l->rc = rc;
    bench_latch_set(l, &l->connected, rc == 0 ? 1 : -1);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *p) {
    (void)m, (void)mid, (void)p;
    struct bench_latch *l = obj;
    l->rc = n > 0 ? granted[0] : -1;
    bench_latch_set(l, &l->subscribed, (n > 0 && granted[0] < 0x80) ? 1 : -1);
}

static void check(int rc, const char *what) {
    if (rc != MOSQ_ERR_SUCCESS) bench_die("mosquitto: %s: %s", what, mosquitto_strerror(rc));
}

static struct mosquitto *make_client(struct bench_latch *l, int receive_maximum) {
    bench_latch_init(l);
    struct mosquitto *m = mosquitto_new(NULL, true, l);
    if (!m) bench_die("mosquitto_new failed");
    check(mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), "protocol v5");
    check(mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, A.inflight), "send maximum");
    check(mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, receive_maximum), "receive maximum");
    check(mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1), "tcp nodelay");
    mosquitto_connect_v5_callback_set(m, on_connect);
    mosquitto_subscribe_v5_callback_set(m, on_subscribe);
    return m;
}

static void connect_client(struct mosquitto *m, struct bench_latch *l) {
    check(mosquitto_connect_bind_v5(m, A.host, A.port, 60, NULL, NULL), "connect");
    check(mosquitto_loop_start(m), "loop_start");
    bench_latch_wait(l, &l->connected, "mosquitto", "connect");
}

static void subscribe(struct mosquitto *m, struct bench_latch *l, const char *topic) {
    check(mosquitto_subscribe_v5(m, NULL, topic, A.qos, 0, NULL), "subscribe");
    bench_latch_wait(l, &l->subscribed, "mosquitto", "subscribe");
}

static void close_client(struct mosquitto *m) {
    mosquitto_disconnect_v5(m, 0, NULL);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
}

static void on_rx(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                  const mosquitto_property *p) {
    (void)m, (void)obj, (void)p;
    bench_rx_record(&RX, msg->payload, (size_t)msg->payloadlen);
}

static void on_acked(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *p) {
    (void)m, (void)obj, (void)mid, (void)p;
    if (rc >= 0x80) atomic_fetch_add(&PUB_FAILED, 1);
    bench_window_release(&WIN, 1);
}

static void on_echo(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                    const mosquitto_property *p) {
    (void)obj, (void)p;
    int rc = mosquitto_publish_v5(m, NULL, A.topic_b, msg->payloadlen, msg->payload, A.qos, false, NULL);
    if (rc) fprintf(stderr, "mosquitto: echo publish: %s\n", mosquitto_strerror(rc));
}

static void on_pong(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                    const mosquitto_property *p) {
    (void)m, (void)obj, (void)p;
    bench_reply_post(&REPLY, bench_get_seq(msg->payload, (size_t)msg->payloadlen));
}

static void throughput(void) {
    bench_rx_init(&RX, A.count);
    bench_window_init(&WIN, A.inflight);
    if (A.qos == 0) RX.window = &WIN;

    struct bench_latch ls, lp;
    struct mosquitto *sub = make_client(&ls, A.inflight);
    mosquitto_message_v5_callback_set(sub, on_rx);
    connect_client(sub, &ls);
    subscribe(sub, &ls, A.topic_a);
    struct mosquitto *pub = make_client(&lp, A.inflight);
    if (A.qos > 0) mosquitto_publish_v5_callback_set(pub, on_acked);
    connect_client(pub, &lp);

    uint8_t *buf = malloc(A.size);
    bench_fill_payload(buf, A.size);
    double cpu0 = bench_cpu_seconds();
    uint64_t t0 = bench_now_ns();
    long sent = 0;
    for (long i = 0; i < A.count; i++) {
        if (bench_window_acquire(&WIN, A.timeout_s) != 0) {
            fprintf(stderr, "mosquitto: window stalled at %ld\n", i);
            break;
        }
        bench_put_seq(buf, (uint64_t)i);
        int rc = mosquitto_publish_v5(pub, NULL, A.topic_a, (int)A.size, buf, A.qos, false, NULL);
        if (rc) bench_die("mosquitto: publish %ld: %s", i, mosquitto_strerror(rc));
        sent++;
    }
    long got = bench_rx_wait_all(&RX, A.timeout_s);
    double cpu1 = bench_cpu_seconds();
    uint64_t t1 = atomic_load(&RX.last_ns);
    if (A.qos > 0) {
        for (int k = 0; k < 200 && atomic_load(&WIN.done) < sent; k++) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    long rss = bench_peak_rss_kib();
    close_client(pub);
    close_client(sub);
    if (atomic_load(&PUB_FAILED)) fprintf(stderr, "mosquitto: %ld publishes failed\n", atomic_load(&PUB_FAILED));
    if (atomic_load(&RX.bad)) fprintf(stderr, "mosquitto: %ld bad payloads\n", atomic_load(&RX.bad));
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : -1;
    bench_print_result("mosquitto", &A, secs > 0 ? (double)got / secs : -1, A.count - got,
                       atomic_load(&RX.dup), (cpu1 - cpu0) / (double)A.count * 1e6, rss, -1, -1);
}

static void pingpong(void) {
    bench_reply_init(&REPLY);
    struct bench_latch le, lp;
    struct mosquitto *echo = make_client(&le, 1000);
    mosquitto_message_v5_callback_set(echo, on_echo);
    connect_client(echo, &le);
    subscribe(echo, &le, A.topic_a);
    struct mosquitto *pinger = make_client(&lp, 1000);
    mosquitto_message_v5_callback_set(pinger, on_pong);
    connect_client(pinger, &lp);
    subscribe(pinger, &lp, A.topic_b);

    long warm = A.count / 10 < 100 ? A.count / 10 : 100;
    uint64_t *rtt = malloc(sizeof(uint64_t) * (size_t)A.count);
    uint8_t *buf = malloc(A.size);
    bench_fill_payload(buf, A.size);
    long n = 0;
    double cpu0 = 0;
    uint64_t start = 0;
    for (long i = 0; i < warm + A.count; i++) {
        if (i == warm) {
            cpu0 = bench_cpu_seconds();
            start = bench_now_ns();
        }
        bench_put_seq(buf, (uint64_t)i);
        uint64_t t = bench_now_ns();
        check(mosquitto_publish_v5(pinger, NULL, A.topic_a, (int)A.size, buf, A.qos, false, NULL), "publish");
        if (bench_reply_wait(&REPLY, (uint64_t)i, A.timeout_s) != 0) {
            fprintf(stderr, "mosquitto: round trip %ld timed out\n", i);
            break;
        }
        if (i >= warm) rtt[n++] = bench_now_ns() - t;
    }
    uint64_t end = bench_now_ns();
    double cpu1 = bench_cpu_seconds();
    long rss = bench_peak_rss_kib();
    close_client(pinger);
    close_client(echo);
    double p50 = bench_percentile(rtt, n, 50) / 1e3, p99 = bench_percentile(rtt, n, 99) / 1e3;
    bench_print_result("mosquitto", &A, n ? (double)n / ((double)(end - start) / 1e9) : -1,
                       A.count - n, 0, n ? (cpu1 - cpu0) / (double)n * 1e6 : -1, rss, p50, p99);
}

int main(int argc, char **argv) {
    bench_parse_args(argc, argv, &A);
    mosquitto_lib_init();
    if (A.scenario == SC_THROUGHPUT) throughput();
    else pingpong();
    mosquitto_lib_cleanup();
    return 0;
}
