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
    /* --cafile: TLS (OpenSSL), verifying the broker against that CA. */
    if (A.cafile[0]) check(mosquitto_tls_set(m, A.cafile, NULL, NULL, NULL, NULL), "tls_set");
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

/* Publishes one message on topic A (a bench_publish_fn). */
static void publish_a(void *client, long i, const uint8_t *buf, size_t len) {
    int rc = mosquitto_publish_v5(client, NULL, A.topic_a, (int)len, buf, A.qos, false, NULL);
    if (rc) bench_die("mosquitto: publish %ld: %s", i, mosquitto_strerror(rc));
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

    struct bench_measure m;
    bench_throughput_run("mosquitto", &A, &RX, &WIN, publish_a, pub, &m);
    close_client(pub);
    close_client(sub);
    bench_throughput_report("mosquitto", &A, &RX, &m, atomic_load(&PUB_FAILED));
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

    struct bench_measure m;
    bench_pingpong_run("mosquitto", &A, &REPLY, publish_a, pinger, &m);
    close_client(pinger);
    close_client(echo);
    bench_pingpong_report("mosquitto", &A, &m);
}

/* One fresh client to its CONNACK (a bench_connect_fn): the latch lives beside it. */
struct hs_client {
    struct bench_latch latch;
    struct mosquitto *m;
};

static void *hs_connect(void) {
    struct hs_client *c = malloc(sizeof *c);
    if (!c) bench_die("out of memory");
    c->m = make_client(&c->latch, 1000);
    connect_client(c->m, &c->latch);
    return c;
}

static void hs_close(void *client) {
    struct hs_client *c = client;
    close_client(c->m);
    free(c);
}

static void handshake(void) {
    struct bench_measure m;
    bench_handshake_run("mosquitto", &A, hs_connect, hs_close, &m);
    bench_handshake_report("mosquitto", &A, &m);
}

int main(int argc, char **argv) {
    bench_parse_args(argc, argv, &A);
    if (A.durability != DUR_NONE) bench_die("mosquitto: libmosquitto has no persistence (--durability)");
    mosquitto_lib_init();
    if (A.scenario == SC_THROUGHPUT) throughput();
    else if (A.scenario == SC_PINGPONG) pingpong();
    else handshake();
    mosquitto_lib_cleanup();
    return 0;
}
