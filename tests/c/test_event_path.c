/* 13. One event path, and no failure left unreported (issue #11, defects 2, 3, 4).
 *
 * - An event with no callback goes to midge_client_next_event, whatever other callbacks
 *   are registered: with only a log callback, QoS 1 messages reach the pull loop (they
 *   used to be acknowledged to the broker and dropped).
 * - A lost connection and a refused TCP connect, with automatic reconnect off, reach both
 *   the connection-lost callback and the pull queue.
 * - With no completion asked for, a refusal is reported exactly once: returned by the call
 *   when midge knows it by then, else as a failed *_COMPLETE event (or on_publish /
 *   on_subscribe): a full offline queue, the server's Maximum QoS, Retain Available and
 *   Maximum Packet Size, a subscribe too large for the server, connect when connected. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The next event of `c` that is not a log line, or NULL after timeout_ms. */
static midge_event *next_kind(midge_client *c, int timeout_ms) {
    int64_t deadline = h_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - h_now_ms();
        if (left < 0) return NULL;
        midge_event *e = NULL;
        midge_result rc = midge_client_next_event(c, (uint32_t)left, &e);
        if (rc == MIDGE_RESULT_TIMEOUT) return NULL;
        H_CHECK_OK(rc);
        if (midge_event_kind_of(e) != MIDGE_EVENT_LOG) return e;
        midge_event_free(&e);
    }
}

/* Waits for an event of `kind`, skipping others; fails the test after timeout_ms. */
static midge_event *expect_kind(midge_client *c, int kind, int timeout_ms) {
    int64_t deadline = h_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - h_now_ms();
        H_CHECK(left >= 0);
        midge_event *e = next_kind(c, (int)left);
        if (e == NULL) {
            h_note("no event of kind %d within %d ms", kind, timeout_ms);
            H_CHECK(e != NULL);
        }
        if (midge_event_kind_of(e) == kind) return e;
        midge_event_free(&e);
    }
}

static void count_log(void *user_data, int level, const char *message) {
    (void)level;
    (void)message;
    __atomic_add_fetch((int *)user_data, 1, __ATOMIC_SEQ_CST);
}

static void count_lost(void *user_data, const midge_disconnect *cause) {
    (void)cause;
    __atomic_add_fetch((int *)user_data, 1, __ATOMIC_SEQ_CST);
}

/* A refusal with no completion: either the call returned `expected`, or exactly one
 * `kind` event with that result follows. */
static void expect_refusal(midge_client *c, midge_result rc, int kind, midge_result expected,
                           const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        h_note("%s: refused by the call (%s)", what, midge_result_str(rc));
        H_CHECK_RC(rc, expected);
        return;
    }
    midge_event *e = expect_kind(c, kind, 3000);
    const midge_ack *ack = midge_event_ack(e);
    H_CHECK(ack != NULL);
    h_note("%s: refused by event (%s)", what, midge_result_str(midge_ack_result(ack)));
    H_CHECK_RC(midge_ack_result(ack), expected);
    midge_event_free(&e);
}

/* A TCP port on 127.0.0.1 that refuses connections: bound, never listening (kept bound by
 * the returned socket so that nobody else takes it). */
static int refusing_port(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    H_CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    H_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    H_CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void log_only_messages_reach_next_event(const h_broker *broker) {
    int logs = 0;
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(o, "ep-log-only"));
    H_CHECK_OK(midge_options_set_log_level(o, MIDGE_LOG_INFO));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(broker->url, o, &c));
    midge_options_free(&o);
    H_CHECK_OK(midge_client_on_log(c, count_log, &logs, NULL));
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    const char *filter = "ep/log-only";
    uint8_t opt = 1;
    H_CHECK_OK(midge_client_subscribe_wait(c, &filter, &opt, 1, NULL, H_LONG_MS, NULL));

    midge_client *pub = h_connect_id(broker->url, "ep-log-only-pub");
    for (int i = 0; i < 3; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "m%d", i);
        H_CHECK_OK(midge_client_publish_wait(pub, filter, (const uint8_t *)payload,
                                             strlen(payload), 1, false, NULL, H_LONG_MS,
                                             NULL));
    }
    for (int i = 0; i < 3; i++) {
        /* CONNECTED (no connect callback) comes first, through the same queue. */
        midge_event *e = expect_kind(c, MIDGE_EVENT_MESSAGE, 3000);
        char payload[16];
        snprintf(payload, sizeof payload, "m%d", i);
        H_CHECK(h_payload_is_str(midge_event_message(e), payload));
        midge_event_free(&e);
    }
    H_CHECK(__atomic_load_n(&logs, __ATOMIC_SEQ_CST) > 0);
    midge_client_free(&pub);
    midge_client_free(&c);
    h_note("with only on_log registered, 3 QoS 1 messages reached next_event");
}

static void lost_connection_reported_without_reconnect(void) {
    h_broker b;
    h_broker_start(&b, NULL, NULL, NULL);
    int lost = 0;
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_reconnect(o, false, 0, 0));
    H_CHECK_OK(midge_options_set_client_id(o, "ep-lost-cb"));
    midge_client *cb = NULL;
    H_CHECK_OK(midge_client_new(b.url, o, &cb));
    H_CHECK_OK(midge_options_set_client_id(o, "ep-lost-pull"));
    midge_client *pull = NULL;
    H_CHECK_OK(midge_client_new(b.url, o, &pull));
    midge_options_free(&o);
    H_CHECK_OK(midge_client_on_connection_lost(cb, count_lost, &lost, NULL));
    H_CHECK_OK(midge_client_connect_wait(cb, H_LONG_MS, NULL));
    H_CHECK_OK(midge_client_connect_wait(pull, H_LONG_MS, NULL));
    midge_event *e = expect_kind(pull, MIDGE_EVENT_CONNECTED, H_LONG_MS);
    midge_event_free(&e);

    h_broker_stop(&b);
    H_WAIT_UNTIL(__atomic_load_n(&lost, __ATOMIC_SEQ_CST) == 1, H_LONG_MS);
    e = expect_kind(pull, MIDGE_EVENT_CONNECTION_LOST, H_LONG_MS);
    midge_event_free(&e);
    h_note("reconnect off: the lost connection reached the callback and next_event");
    midge_client_free(&cb);
    midge_client_free(&pull);
}

static void refused_connect_reported(void) {
    int port = 0;
    int fd = refusing_port(&port);
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%d", port);
    int lost = 0;
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_reconnect(o, false, 0, 0));
    midge_client *cb = NULL;
    H_CHECK_OK(midge_client_new(url, o, &cb));
    midge_client *pull = NULL;
    H_CHECK_OK(midge_client_new(url, o, &pull));
    midge_options_free(&o);
    H_CHECK_OK(midge_client_on_connection_lost(cb, count_lost, &lost, NULL));
    H_CHECK_OK(midge_client_connect(cb, NULL));
    H_CHECK_OK(midge_client_connect(pull, NULL));
    H_WAIT_UNTIL(__atomic_load_n(&lost, __ATOMIC_SEQ_CST) == 1, H_LONG_MS);
    midge_event *e = expect_kind(pull, MIDGE_EVENT_CONNECTION_LOST, H_LONG_MS);
    midge_event_free(&e);
    h_note("reconnect off: a refused TCP connect reached the callback and next_event");
    midge_client_free(&cb);
    midge_client_free(&pull);
    close(fd);
}

static int inline_rc = -1, inline_disconnect_rc = -1, inline_reauth_rc = -1;

static void publish_qos2_on_connect(void *user_data, const midge_connack *connack) {
    (void)connack;
    midge_client *c = (midge_client *)user_data;
    const uint8_t p[1] = {'i'};
    /* Refused on the I/O thread: QoS 2 beyond Maximum QoS 1; a Content Type, which DISCONNECT
     * may not carry (3.14.2.2); re-authentication without an authenticator. */
    int d_rc = -1;
    midge_properties *props = midge_properties_new();
    if (props && midge_properties_add_string(props, MIDGE_PROPERTY_CONTENT_TYPE, "x") == 0) {
        d_rc = (int)midge_client_disconnect(c, 0, props, NULL);
    }
    midge_properties_free(&props);
    int r_rc = (int)midge_client_reauthenticate(c, NULL);
    int rc = (int)midge_client_publish(c, "ep/i", p, 1, 2, false, NULL, NULL);
    __atomic_store_n(&inline_disconnect_rc, d_rc, __ATOMIC_SEQ_CST);
    __atomic_store_n(&inline_reauth_rc, r_rc, __ATOMIC_SEQ_CST);
    __atomic_store_n(&inline_rc, rc, __ATOMIC_SEQ_CST);
}

static void refusals_reach_the_caller(void) {
    /* Offline, with room for one message: the second publish cannot be queued. */
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_offline_queue(o, 1, 1 << 20));
    midge_client *off = NULL;
    H_CHECK_OK(midge_client_new("mqtt://127.0.0.1:9", o, &off));
    midge_options_free(&o);
    const uint8_t p[1] = {'x'};
    H_CHECK_OK(midge_client_publish(off, "ep/q", p, 1, 1, false, NULL, NULL));
    midge_result rc = midge_client_publish(off, "ep/q", p, 1, 1, false, NULL, NULL);
    expect_refusal(off, rc, MIDGE_EVENT_PUBLISH_COMPLETE, MIDGE_RESULT_QUEUE_FULL,
                   "full offline queue");
    midge_client_free(&off);

    /* A server with limits: Maximum QoS 1, no retained messages, packets up to 1000 bytes. */
    h_broker b;
    h_broker_start(&b, NULL, NULL, "max_qos 1\nretain_available false\nmax_packet_size 1000\n");
    midge_client *c = h_connect_id(b.url, "ep-limits");
    midge_event *e = expect_kind(c, MIDGE_EVENT_CONNECTED, H_LONG_MS);
    midge_event_free(&e);
    rc = midge_client_publish(c, "ep/l", p, 1, 2, false, NULL, NULL);
    expect_refusal(c, rc, MIDGE_EVENT_PUBLISH_COMPLETE, MIDGE_RESULT_NOT_SUPPORTED,
                   "QoS 2 beyond Maximum QoS 1");
    rc = midge_client_publish(c, "ep/l", p, 1, 0, true, NULL, NULL);
    expect_refusal(c, rc, MIDGE_EVENT_PUBLISH_COMPLETE, MIDGE_RESULT_NOT_SUPPORTED,
                   "retained with Retain Available 0");
    static uint8_t big[2000];
    rc = midge_client_publish(c, "ep/l", big, sizeof big, 0, false, NULL, NULL);
    expect_refusal(c, rc, MIDGE_EVENT_PUBLISH_COMPLETE, MIDGE_RESULT_TOO_LARGE,
                   "publish beyond Maximum Packet Size");
    char filter[1500];
    memset(filter, 'f', sizeof filter - 1);
    filter[sizeof filter - 1] = 0;
    const char *filters[1] = {filter};
    uint8_t opt = 0;
    rc = midge_client_subscribe(c, filters, &opt, 1, NULL, NULL);
    expect_refusal(c, rc, MIDGE_EVENT_SUBSCRIBE_COMPLETE, MIDGE_RESULT_TOO_LARGE,
                   "subscribe beyond Maximum Packet Size");
    /* Refused on midge's I/O thread, where the call cannot know it yet (an inline
     * callback): a failed PUBLISH_COMPLETE event, though no completion events were asked
     * for, to next_event since no publish callback is registered. */
    midge_options *io = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(io, "ep-inline"));
    H_CHECK_OK(midge_options_set_inline_callbacks(io, true));
    midge_client *inl = NULL;
    H_CHECK_OK(midge_client_new(b.url, io, &inl));
    midge_options_free(&io);
    inline_rc = -1;
    H_CHECK_OK(midge_client_on_connect(inl, publish_qos2_on_connect, inl, NULL));
    H_CHECK_OK(midge_client_connect_wait(inl, H_LONG_MS, NULL));
    H_WAIT_UNTIL(__atomic_load_n(&inline_rc, __ATOMIC_SEQ_CST) != -1, H_LONG_MS);
    /* Disconnect and re-authentication likewise, as their own events (they used to reach
     * only the log, which is off by default); in the order the calls were made. */
    expect_refusal(inl, (midge_result)inline_disconnect_rc, MIDGE_EVENT_DISCONNECT_FAILED,
                   MIDGE_RESULT_INVALID_PROPERTY, "disconnect from an inline callback");
    expect_refusal(inl, (midge_result)inline_reauth_rc, MIDGE_EVENT_REAUTHENTICATE_FAILED,
                   MIDGE_RESULT_NOT_SUPPORTED, "re-authentication from an inline callback");
    expect_refusal(inl, (midge_result)inline_rc, MIDGE_EVENT_PUBLISH_COMPLETE,
                   MIDGE_RESULT_NOT_SUPPORTED, "QoS 2 from an inline callback");
    midge_client_free(&inl);

    /* Connected already: said at once. */
    rc = midge_client_connect(c, NULL);
    h_note("connect when connected: %s", midge_result_str(rc));
    H_CHECK(rc != MIDGE_RESULT_OK);
    /* Nothing else was reported twice. */
    e = next_kind(c, 200);
    H_CHECK(e == NULL);
    midge_client_free(&c);
    h_broker_stop(&b);
}

int main(void) {
    h_begin("test_event_path");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    log_only_messages_reach_next_event(&broker);
    lost_connection_reported_without_reconnect();
    refused_connect_reported();
    refusals_reach_the_caller();
    h_broker_stop(&broker);
    h_end();
    return 0;
}
