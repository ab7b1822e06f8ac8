/* Eclipse Paho C MQTTAsync, MQTT v5 (MQTTAsync_createWithOptions), maxInflight set to
 * --inflight, sendWhileDisconnected off, no persistence (or, with --store, its file persistence). See common.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <MQTTAsync.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* Paho C has no TCP_NODELAY option (and does not set it), while midge, libmosquitto and
 * the raw client run with it: without it Nagle + delayed ACK add ~40 ms steps to QoS 1
 * round trips. So this program interposes connect() (Paho calls it through the PLT) and
 * sets TCP_NODELAY on every TCP socket first. BENCH_PAHO_NAGLE=1 turns this off. */
int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    const char *nagle = getenv("BENCH_PAHO_NAGLE");
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) && !(nagle && *nagle == '1')) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return real(fd, addr, len);
}

static struct bench_args A;
static struct bench_rx RX;
static struct bench_window WIN;
static struct bench_reply REPLY;
static atomic_long PUB_FAILED, SEND_RETRIES;
static MQTTAsync ECHO;

static void on_conn_ok(void *ctx, MQTTAsync_successData5 *r) {
    (void)r;
    struct bench_latch *l = ctx;
    bench_latch_set(l, &l->connected, 1);
}
static void on_conn_fail(void *ctx, MQTTAsync_failureData5 *r) {
    struct bench_latch *l = ctx;
    l->rc = r ? r->code : -1;
    bench_latch_set(l, &l->connected, -1);
}
static void on_sub_ok(void *ctx, MQTTAsync_successData5 *r) {
    struct bench_latch *l = ctx;
    int code = r ? r->reasonCode : 0;
    l->rc = code;
    bench_latch_set(l, &l->subscribed, code < 0x80 ? 1 : -1);
}
static void on_sub_fail(void *ctx, MQTTAsync_failureData5 *r) {
    struct bench_latch *l = ctx;
    l->rc = r ? r->code : -1;
    bench_latch_set(l, &l->subscribed, -1);
}
static void on_lost(void *ctx, char *cause) {
    (void)ctx;
    fprintf(stderr, "paho: connection lost: %s\n", cause ? cause : "?");
}

static void check(int rc, const char *what) {
    if (rc != MQTTASYNC_SUCCESS) bench_die("paho: %s: %s (%d)", what, MQTTAsync_strerror(rc), rc);
}

static MQTTAsync make_client_stored(struct bench_latch *l, const char *name, MQTTAsync_messageArrived *arrived,
                                    bool stored) {
    bench_latch_init(l);
    char uri[320], id[64];
    snprintf(uri, sizeof uri, "tcp://%s", A.address);
    snprintf(id, sizeof id, "paho-%d-%s", (int)getpid(), name);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    co.MQTTVersion = MQTTVERSION_5;
    co.sendWhileDisconnected = 0;
    co.maxBufferedMessages = A.inflight > 100 ? A.inflight : 100;
    co.persistQoS0 = 0;
    MQTTAsync c;
    /* --store DIR (os, fsync, fsync-before-send): Paho's file persistence, its only built-in store (one file
     * per message under DIR, written with fwrite, never fsynced). */
    if (stored)
        check(MQTTAsync_createWithOptions(&c, uri, id, MQTTCLIENT_PERSISTENCE_DEFAULT, A.store_dir, &co), "create");
    else
        check(MQTTAsync_createWithOptions(&c, uri, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co), "create");
    check(MQTTAsync_setCallbacks(c, l, on_lost, arrived, NULL), "setCallbacks");
    return c;
}

static MQTTAsync make_client(struct bench_latch *l, const char *name, MQTTAsync_messageArrived *arrived) {
    return make_client_stored(l, name, arrived, false);
}

static void connect_client(MQTTAsync c, struct bench_latch *l, int receive_maximum) {
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer5;
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty p;
    p.identifier = MQTTPROPERTY_CODE_RECEIVE_MAXIMUM;
    p.value.integer2 = (unsigned short)receive_maximum;
    MQTTProperties_add(&props, &p);
    o.connectProperties = &props;
    o.cleanstart = 1;
    o.keepAliveInterval = 60;
    o.maxInflight = A.inflight;
    o.automaticReconnect = 0;
    o.onSuccess5 = on_conn_ok;
    o.onFailure5 = on_conn_fail;
    o.context = l;
    check(MQTTAsync_connect(c, &o), "connect");
    bench_latch_wait(l, &l->connected, "paho", "connect");
    MQTTProperties_free(&props);
}

static void subscribe(MQTTAsync c, struct bench_latch *l, const char *topic) {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess5 = on_sub_ok;
    ro.onFailure5 = on_sub_fail;
    ro.context = l;
    check(MQTTAsync_subscribe(c, topic, A.qos, &ro), "subscribe");
    bench_latch_wait(l, &l->subscribed, "paho", "subscribe");
}

static void close_client(MQTTAsync c) {
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    d.timeout = 1000;
    MQTTAsync_disconnect(c, &d);
    for (int k = 0; k < 100 && MQTTAsync_isConnected(c); k++) usleep(10000);
    MQTTAsync_destroy(&c);
}

static int on_rx(void *ctx, char *topic, int topic_len, MQTTAsync_message *m) {
    (void)ctx, (void)topic_len;
    bench_rx_record(&RX, m->payload, (size_t)m->payloadlen);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static void on_acked(void *ctx, MQTTAsync_successData5 *r) {
    (void)ctx;
    if (r && r->reasonCode >= 0x80) atomic_fetch_add(&PUB_FAILED, 1);
    bench_window_release(&WIN, 1);
}
static void on_ack_fail(void *ctx, MQTTAsync_failureData5 *r) {
    (void)ctx, (void)r;
    atomic_fetch_add(&PUB_FAILED, 1);
    bench_window_release(&WIN, 1);
}

/* Sends, retrying while Paho says its queue or window is full. */
static int send_msg(MQTTAsync c, const char *topic, void *payload, int len, MQTTAsync_responseOptions *ro) {
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = payload;
    msg.payloadlen = len;
    msg.qos = A.qos;
    msg.retained = 0;
    for (int tries = 0;; tries++) {
        int rc = MQTTAsync_sendMessage(c, topic, &msg, ro);
        if (rc == MQTTASYNC_SUCCESS) return 0;
        if ((rc != MQTTASYNC_MAX_BUFFERED_MESSAGES && rc != MQTTASYNC_MAX_MESSAGES_INFLIGHT) ||
            tries > 1000000)
            return rc;
        atomic_fetch_add(&SEND_RETRIES, 1);
        sched_yield();
    }
}

static int on_echo(void *ctx, char *topic, int topic_len, MQTTAsync_message *m) {
    (void)ctx, (void)topic_len;
    int rc = send_msg(ECHO, A.topic_b, m->payload, m->payloadlen, NULL);
    if (rc) fprintf(stderr, "paho: echo publish: %s\n", MQTTAsync_strerror(rc));
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static int on_pong(void *ctx, char *topic, int topic_len, MQTTAsync_message *m) {
    (void)ctx, (void)topic_len;
    bench_reply_post(&REPLY, bench_get_seq(m->payload, (size_t)m->payloadlen));
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

/* A publisher and the response options its publishes carry (NULL: none). */
struct paho_pub {
    MQTTAsync client;
    MQTTAsync_responseOptions *ro;
};

/* Publishes one message on topic A (a bench_publish_fn; `client` is a struct paho_pub). */
static void publish_a(void *client, long i, const uint8_t *buf, size_t len) {
    struct paho_pub *p = client;
    int rc = send_msg(p->client, A.topic_a, (void *)buf, (int)len, p->ro);
    if (rc) bench_die("paho: publish %ld: %s (%d)", i, MQTTAsync_strerror(rc), rc);
}

static void throughput(void) {
    bench_rx_init(&RX, A.count);
    bench_window_init(&WIN, A.inflight);
    if (A.qos == 0) RX.window = &WIN;

    struct bench_latch ls, lp;
    MQTTAsync sub = make_client(&ls, "sub", on_rx);
    connect_client(sub, &ls, A.inflight);
    subscribe(sub, &ls, A.topic_a);
    MQTTAsync pub = make_client_stored(&lp, "pub", on_rx, A.durability != DUR_NONE);
    connect_client(pub, &lp, A.inflight);

    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess5 = on_acked;
    ro.onFailure5 = on_ack_fail;

    struct paho_pub p = {pub, A.qos > 0 ? &ro : NULL};
    struct bench_measure m;
    bench_throughput_run("paho", &A, &RX, &WIN, publish_a, &p, &m);
    close_client(pub);
    close_client(sub);
    if (atomic_load(&SEND_RETRIES)) fprintf(stderr, "paho: %ld send retries\n", atomic_load(&SEND_RETRIES));
    bench_throughput_report("paho", &A, &RX, &m, atomic_load(&PUB_FAILED));
}

static void pingpong(void) {
    bench_reply_init(&REPLY);
    struct bench_latch le, lp;
    ECHO = make_client(&le, "echo", on_echo);
    connect_client(ECHO, &le, 1000);
    subscribe(ECHO, &le, A.topic_a);
    MQTTAsync pinger = make_client(&lp, "ping", on_pong);
    connect_client(pinger, &lp, 1000);
    subscribe(pinger, &lp, A.topic_b);

    struct paho_pub p = {pinger, NULL};
    struct bench_measure m;
    bench_pingpong_run("paho", &A, &REPLY, publish_a, &p, &m);
    close_client(pinger);
    close_client(ECHO);
    bench_pingpong_report("paho", &A, &m);
}

int main(int argc, char **argv) {
    bench_parse_args(argc, argv, &A);
    if (A.cafile[0] || A.scenario == SC_HANDSHAKE)
        bench_die("paho: no TLS and no handshake scenario in this program (midge and mosquitto only)");
    if (A.scenario == SC_THROUGHPUT) throughput();
    else pingpong();
    return 0;
}
