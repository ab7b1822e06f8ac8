/* midge through its C API. See common.h for the command line and the result line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "midge.h"

static struct bench_args A;
static struct bench_rx RX;
static struct bench_window WIN;
static struct bench_reply REPLY;
static atomic_long PUB_FAILED;
static midge_client *ECHO;

static void check(midge_result r, const char *what) {
    if (r != MIDGE_RESULT_OK)
        bench_die("midge: %s: %s (%s)", what, midge_result_str(r), midge_last_error_message());
}

static void on_log(void *ud, int level, const char *message) {
    (void)ud;
    fprintf(stderr, "midge log %d: %s\n", level, message);
}

/* midge runs on its defaults, as users run them (issue 14): callbacks on its dispatcher
 * threads, adaptive batching and spinning, default queue bounds. Only the Receive Maximum is
 * set (to --inflight, as for every library) and the BENCH_MIDGE_* variables below override
 * a setting for an experiment. --defaults is accepted and changes nothing. */
static bool tls(void) { return A.cafile[0] != 0; }

/* --store DIR --durability os|fsync|fsync-before-send: the publisher's QoS 1/2 messages go through a file
 * store in DIR, under a fixed client id (a store holds one client's session). */
static void set_store(midge_options *o) {
    midge_store *store = NULL;
    check(midge_store_file_new(A.store_dir, 0, 0, &store), "store_file_new");
    int durability = A.durability == DUR_FSYNC               ? MIDGE_DURABILITY_FSYNC
                     : A.durability == DUR_FSYNC_BEFORE_SEND ? MIDGE_DURABILITY_FSYNC_BEFORE_SEND
                                                             : MIDGE_DURABILITY_OS;
    check(midge_options_set_store(o, &store, durability), "set_store");
    char id[64];
    snprintf(id, sizeof id, "midge-bench-%d-pub", (int)getpid());
    check(midge_options_set_client_id(o, id), "set_client_id");
}

static midge_client *make_client_stored(uint16_t receive_maximum, bool stored) {
    midge_options *o = midge_options_new();
    if (stored) set_store(o);
    check(midge_options_set_reconnect(o, false, 250, 1000), "set_reconnect");
    check(midge_options_set_receive_maximum(o, receive_maximum), "set_receive_maximum");
    check(midge_options_set_tcp_nodelay(o, true), "set_tcp_nodelay");
    /* BENCH_MIDGE_DISPATCH=0 runs the callbacks on the I/O thread (inline callbacks). */
    const char *dispatch = getenv("BENCH_MIDGE_DISPATCH");
    if (dispatch)
        check(midge_options_set_inline_callbacks(o, strcmp(dispatch, "1") != 0),
              "set_inline_callbacks");
    /* BENCH_MIDGE_BUSY_POLL=usec: a floor for the I/O thread's spin before it sleeps. */
    const char *busy = getenv("BENCH_MIDGE_BUSY_POLL");
    if (busy) check(midge_options_set_busy_poll(o, (uint32_t)strtoul(busy, NULL, 10)), "set_busy_poll");
    /* BENCH_MIDGE_LINGER=usec: the cap of adaptive batching (0: off). */
    const char *linger = getenv("BENCH_MIDGE_LINGER");
    if (linger) check(midge_options_set_linger(o, (uint32_t)strtoul(linger, NULL, 10)), "set_linger");
    if (tls()) {
        midge_tls_options *tls = midge_tls_options_new();
        if (!tls) bench_die("midge: tls_options_new failed");
        check(midge_tls_options_add_ca_file(tls, A.cafile), "tls_options_add_ca_file");
        check(midge_options_set_tls(o, tls), "set_tls");
        midge_tls_options_free(&tls);
    }
    /* BENCH_MIDGE_LOG=1: midge's warnings and errors on stderr (to explain a failed run). */
    const char *log = getenv("BENCH_MIDGE_LOG");
    bool logging = log && strcmp(log, "1") == 0;
    if (logging) check(midge_options_set_log_level(o, MIDGE_LOG_WARN), "set_log_level");
    char address[400];
    snprintf(address, sizeof address, "%s%s", tls() ? "mqtts://" : "", A.address);
    midge_client *c = NULL;
    check(midge_client_new(address, o, &c), "client_new");
    midge_options_free(&o);
    if (logging) check(midge_client_on_log(c, on_log, NULL, NULL), "on_log");
    return c;
}

static midge_client *make_client(uint16_t receive_maximum) { return make_client_stored(receive_maximum, false); }

static void connect_client(midge_client *c) {
    check(midge_client_connect_wait(c, 10000, NULL), "connect_wait");
}

static void subscribe(midge_client *c, const char *topic) {
    const char *filters[1] = {topic};
    uint8_t opts[1] = {(uint8_t)A.qos};
    uint8_t codes[1] = {0};
    check(midge_client_subscribe_wait(c, filters, opts, 1, NULL, 10000, codes), "subscribe_wait");
    if (codes[0] >= 0x80) bench_die("midge: SUBACK refused: 0x%02x", codes[0]);
}

static void on_rx(void *ud, const midge_message *m) {
    (void)ud;
    size_t len = 0;
    const uint8_t *p = midge_message_payload(m, &len);
    bench_rx_record(&RX, p, len);
}

static void on_acked(void *ud, const midge_ack *ack) {
    (void)ud;
    uint8_t rc = 0;
    if (midge_ack_result(ack) != MIDGE_RESULT_OK || (midge_ack_reason_code(ack, &rc) && rc >= 0x80))
        atomic_fetch_add(&PUB_FAILED, 1);
    bench_window_release(&WIN, 1);
}

static void on_echo(void *ud, const midge_message *m) {
    (void)ud;
    size_t len = 0;
    const uint8_t *p = midge_message_payload(m, &len);
    midge_result r = midge_client_publish(ECHO, A.topic_b, p, len, A.qos, false, NULL, NULL);
    if (r != MIDGE_RESULT_OK) fprintf(stderr, "midge: echo publish: %s\n", midge_result_str(r));
}

static void on_pong(void *ud, const midge_message *m) {
    (void)ud;
    size_t len = 0;
    const uint8_t *p = midge_message_payload(m, &len);
    bench_reply_post(&REPLY, bench_get_seq(p, len));
}

/* Publishes one message on topic A (a bench_publish_fn). */
static void publish_a(void *client, long i, const uint8_t *buf, size_t len) {
    midge_result r = midge_client_publish(client, A.topic_a, buf, len, A.qos, false, NULL, NULL);
    if (r != MIDGE_RESULT_OK) bench_die("midge: publish %ld: %s", i, midge_result_str(r));
}

static void throughput(void) {
    bench_rx_init(&RX, A.count);
    bench_window_init(&WIN, A.inflight);
    if (A.qos == 0) RX.window = &WIN;

    midge_client *sub = make_client((uint16_t)A.inflight);
    check(midge_client_on_message(sub, on_rx, NULL, NULL), "on_message");
    connect_client(sub);
    subscribe(sub, A.topic_a);

    midge_client *pub = make_client_stored((uint16_t)A.inflight, A.durability != DUR_NONE);
    if (A.qos > 0) check(midge_client_on_publish(pub, on_acked, NULL, NULL), "on_publish");
    connect_client(pub);

    struct bench_measure m;
    bench_throughput_run("midge", &A, &RX, &WIN, publish_a, pub, &m);
    midge_client_free(&pub);
    midge_client_free(&sub);
    bench_throughput_report("midge", &A, &RX, &m, atomic_load(&PUB_FAILED));
}

static void pingpong(void) {
    bench_reply_init(&REPLY);
    ECHO = make_client(1000);
    check(midge_client_on_message(ECHO, on_echo, NULL, NULL), "on_message");
    connect_client(ECHO);
    subscribe(ECHO, A.topic_a);
    midge_client *pinger = make_client(1000);
    check(midge_client_on_message(pinger, on_pong, NULL, NULL), "on_message");
    connect_client(pinger);
    subscribe(pinger, A.topic_b);

    struct bench_measure m;
    bench_pingpong_run("midge", &A, &REPLY, publish_a, pinger, &m);
    midge_client_free(&pinger);
    midge_client_free(&ECHO);
    bench_pingpong_report("midge", &A, &m);
}

/* One fresh client to its CONNACK (a bench_connect_fn). */
static void *hs_connect(void) {
    midge_client *c = make_client(1000);
    connect_client(c);
    return c;
}

static void hs_close(void *client) {
    midge_client *c = client;
    midge_client_free(&c);
}

static void handshake(void) {
    struct bench_measure m;
    bench_handshake_run("midge", &A, hs_connect, hs_close, &m);
    bench_handshake_report("midge", &A, &m);
}

int main(int argc, char **argv) {
    bench_parse_args(argc, argv, &A);
    if (A.scenario == SC_THROUGHPUT) throughput();
    else if (A.scenario == SC_PINGPONG) pingpong();
    else handshake();
    return 0;
}
