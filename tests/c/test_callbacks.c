/* 5. Callbacks calling back into the API: publish from on_message (echo), disconnect from
 * on_connect, midge_client_free from the client's own callback; drop_user_data runs exactly
 * once after replace / remove / free (and at once when registration fails); the callbacks of
 * one client never run concurrently, never on the application's thread. Inline callbacks
 * (midge_options_set_inline_callbacks): on the I/O thread, where a _wait call fails with
 * MIDGE_RESULT_WOULD_DEADLOCK at once, publishing and midge_client_free work. */
#include "harness.h"

#include <sched.h>
#include <string.h>

#define ATOMIC_INC(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define ATOMIC_GET(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)

static pthread_t g_main_thread;

/* ------------------------------------------------------------------ drop_user_data */

typedef struct tracked {
    int drops;
    int calls;
} tracked;

static void count_drop(void *user_data) { ATOMIC_INC(&((tracked *)user_data)->drops); }

static void connect_count(void *user_data, const midge_connack *connack) {
    (void)connack;
    ATOMIC_INC(&((tracked *)user_data)->calls);
}

static void message_count(void *user_data, const midge_message *message) {
    (void)message;
    ATOMIC_INC(&((tracked *)user_data)->calls);
}

static void test_drop_user_data(const char *url) {
    tracked t[8];
    memset(t, 0, sizeof t);
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(url, NULL, &c));

    /* replaced: the old one is dropped once */
    H_CHECK_OK(midge_client_on_connect(c, connect_count, &t[0], count_drop));
    H_CHECK_OK(midge_client_on_connect(c, connect_count, &t[1], count_drop));
    H_WAIT_UNTIL(ATOMIC_GET(&t[0].drops) == 1, H_LONG_MS);
    H_CHECK(ATOMIC_GET(&t[1].drops) == 0);
    /* the callback works: connect, and the current one is called */
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    H_WAIT_UNTIL(ATOMIC_GET(&t[1].calls) == 1, H_LONG_MS);
    H_CHECK(ATOMIC_GET(&t[0].calls) == 0);
    /* removed with NULL: the old one dropped; the user data given with NULL is dropped at
     * once (nothing will call it) */
    H_CHECK_OK(midge_client_on_connect(c, NULL, &t[2], count_drop));
    H_WAIT_UNTIL(ATOMIC_GET(&t[1].drops) == 1, H_LONG_MS);
    H_WAIT_UNTIL(ATOMIC_GET(&t[2].drops) == 1, H_LONG_MS);
    /* NULL drop function: fine */
    H_CHECK_OK(midge_client_on_connect(c, connect_count, &t[3], NULL));
    H_CHECK_OK(midge_client_on_connect(c, NULL, NULL, NULL));
    /* registration failures drop at once */
    H_CHECK_RC(midge_client_on_message(NULL, message_count, &t[4], count_drop),
               MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(ATOMIC_GET(&t[4].drops) == 1);
    /* dropped when the client is freed, after free returns */
    H_CHECK_OK(midge_client_on_message(c, message_count, &t[5], count_drop));
    H_CHECK_OK(midge_client_on_log(c, NULL, &t[6], count_drop)); /* dropped at once */
    H_WAIT_UNTIL(ATOMIC_GET(&t[6].drops) == 1, H_LONG_MS);
    midge_client_free(&c);
    H_CHECK(ATOMIC_GET(&t[5].drops) == 1);
    /* a freed client: failure, dropped at once */
    H_CHECK_RC(midge_client_on_message(c, message_count, &t[7], count_drop),
               MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(ATOMIC_GET(&t[7].drops) == 1);
    midge_client_free(&c);
    /* exactly once, each */
    int expected[8] = {1, 1, 1, 0, 1, 1, 1, 1};
    for (int i = 0; i < 8; i++) {
        if (ATOMIC_GET(&t[i].drops) != expected[i]) h_note("user data %d dropped %d times", i, t[i].drops);
        H_CHECK(ATOMIC_GET(&t[i].drops) == expected[i]);
    }
}

/* ------------------------------------------------------------------ echo */

typedef struct echo {
    midge_client *client;
    int echoed;
    int failures;
} echo;

static void echo_on_message(void *user_data, const midge_message *m) {
    echo *e = (echo *)user_data;
    H_CHECK(!pthread_equal(pthread_self(), g_main_thread));
    size_t len = 0;
    const uint8_t *p = midge_message_payload(m, &len);
    /* blocking publish from the callback: the acknowledgement does not need this thread */
    uint8_t code = 0xEE;
    int rc = midge_client_publish_wait(e->client, "echo/out", p, len, 1, false, NULL, H_LONG_MS,
                                       &code);
    if (rc != MIDGE_RESULT_OK || code != 0x00) ATOMIC_INC(&e->failures);
    /* and a non-blocking one */
    rc = midge_client_publish(e->client, "echo/out0", p, len, 0, false, NULL, NULL);
    if (rc != MIDGE_RESULT_OK) ATOMIC_INC(&e->failures);
    ATOMIC_INC(&e->echoed);
}

static void test_echo(const char *url) {
    echo e;
    memset(&e, 0, sizeof e);
    e.client = h_connect_id(url, "c-cb-echo");
    H_CHECK_OK(midge_client_on_message(e.client, echo_on_message, &e, NULL));
    const char *in[] = {"echo/in"};
    const uint8_t q1[] = {1, 1};
    H_CHECK_OK(midge_client_subscribe_wait(e.client, in, q1, 1, NULL, H_LONG_MS, NULL));

    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *r = h_connect_id(url, "c-cb-requester");
    H_CHECK_OK(midge_client_on_message(r, h_inbox_on_message, &inbox, NULL));
    const char *out[] = {"echo/out", "echo/out0"};
    H_CHECK_OK(midge_client_subscribe_wait(r, out, q1, 2, NULL, H_LONG_MS, NULL));
    const int n = 5;
    for (int i = 0; i < n; i++) {
        uint8_t payload[3] = {(uint8_t)i, 0x00, 0xFF};
        H_CHECK_OK(midge_client_publish_wait(r, "echo/in", payload, 3, 1, false, NULL, H_LONG_MS,
                                             NULL));
    }
    int got_out = 0, got_out0 = 0;
    for (int i = 0; i < 2 * n; i++) {
        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL);
        size_t len = 0;
        const uint8_t *p = midge_message_payload(m, &len);
        H_CHECK(len == 3 && p[0] < n && p[1] == 0x00 && p[2] == 0xFF);
        if (strcmp(midge_message_topic(m), "echo/out") == 0) got_out++;
        else if (strcmp(midge_message_topic(m), "echo/out0") == 0) got_out0++;
        midge_message_free(&m);
    }
    H_CHECK(got_out == n && got_out0 == n);
    H_CHECK(ATOMIC_GET(&e.echoed) == n);
    H_CHECK(ATOMIC_GET(&e.failures) == 0);
    midge_client_free(&r);
    midge_client_free(&e.client);
    h_inbox_destroy(&inbox);
}

/* ------------------------------------------------------------------ disconnect from on_connect */

typedef struct self_disconnect {
    midge_client *client;
    int connects;
    int lost;
    int lost_kind;
    int lost_reason;
    int disconnect_rc;
    uint16_t receive_maximum;
} self_disconnect;

static void sd_on_connect(void *user_data, const midge_connack *connack) {
    self_disconnect *s = (self_disconnect *)user_data;
    s->receive_maximum = midge_connack_receive_maximum(connack);
    s->disconnect_rc = (int)midge_client_disconnect(s->client, 0x00, NULL, NULL);
    ATOMIC_INC(&s->connects);
}

static void sd_on_lost(void *user_data, const midge_disconnect *cause) {
    self_disconnect *s = (self_disconnect *)user_data;
    s->lost_kind = midge_disconnect_kind_of(cause);
    uint8_t code = 0;
    s->lost_reason = midge_disconnect_reason_code(cause, &code) ? (int)code : -1;
    H_CHECK(midge_disconnect_detail(cause) != NULL);
    ATOMIC_INC(&s->lost);
}

static void test_disconnect_from_on_connect(const char *url) {
    self_disconnect s;
    memset(&s, 0, sizeof s);
    H_CHECK_OK(midge_client_new(url, NULL, &s.client));
    H_CHECK_OK(midge_client_on_connect(s.client, sd_on_connect, &s, NULL));
    H_CHECK_OK(midge_client_on_connection_lost(s.client, sd_on_lost, &s, NULL));
    H_CHECK_OK(midge_client_connect(s.client, NULL));
    H_WAIT_UNTIL(ATOMIC_GET(&s.lost) == 1, H_LONG_MS);
    H_CHECK(ATOMIC_GET(&s.connects) == 1);
    H_CHECK(s.disconnect_rc == MIDGE_RESULT_OK);
    H_CHECK(s.receive_maximum > 0);
    H_CHECK(s.lost_kind == MIDGE_DISCONNECT_CLIENT);
    H_CHECK(s.lost_reason == 0x00);
    /* no reconnection follows: the client stays disconnected */
    H_CHECK_RC(midge_client_publish_wait(s.client, "x", NULL, 0, 1, false, NULL, 200, NULL),
               MIDGE_RESULT_TIMEOUT);
    H_CHECK(ATOMIC_GET(&s.connects) == 1);
    midge_client_free(&s.client);
}

/* ------------------------------------------------------------------ free from own callback */

typedef struct self_free {
    midge_client *client;
    int messages;
    int after_free_rc;
    int drops;
} self_free;

static void sf_on_message(void *user_data, const midge_message *m) {
    self_free *s = (self_free *)user_data;
    H_CHECK(h_payload_is_str(m, "bye"));
    int n = ATOMIC_INC(&s->messages);
    if (n == 1) {
        midge_client_free(&s->client); /* returns at once; closes after this callback */
        /* the handle is gone for every later call */
        s->after_free_rc = (int)midge_client_publish(s->client, "free/t", NULL, 0, 0, false, NULL,
                                                     NULL);
        /* the message is still valid for the rest of the call */
        H_CHECK(strcmp(midge_message_topic(m), "free/t") == 0);
    }
}

static void sf_drop(void *user_data) { ATOMIC_INC(&((self_free *)user_data)->drops); }

static void test_free_from_callback(const char *url) {
    self_free s;
    memset(&s, 0, sizeof s);
    s.client = h_connect_id(url, "c-cb-selffree");
    H_CHECK_OK(midge_client_on_message(s.client, sf_on_message, &s, sf_drop));
    const char *f[] = {"free/t"};
    const uint8_t q[] = {1};
    H_CHECK_OK(midge_client_subscribe_wait(s.client, f, q, 1, NULL, H_LONG_MS, NULL));
    midge_client *p = h_connect_id(url, "c-cb-selffree-pub");
    for (int i = 0; i < 3; i++) {
        H_CHECK_OK(midge_client_publish_wait(p, "free/t", (const uint8_t *)"bye", 3, 1, false,
                                             NULL, H_LONG_MS, NULL));
    }
    H_WAIT_UNTIL(ATOMIC_GET(&s.drops) == 1, H_LONG_MS); /* closed, callback dropped */
    if (ATOMIC_GET(&s.messages) != 1) h_note("%d message callbacks, expected 1", s.messages);
    H_CHECK(ATOMIC_GET(&s.messages) == 1);               /* no callback after the free */
    H_CHECK(s.after_free_rc == MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_client_connect(s.client, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    midge_client_free(&s.client); /* freed already: nothing */
    H_CHECK(ATOMIC_GET(&s.drops) == 1);
    midge_client_free(&p);
}

/* ------------------------------------------------------------------ no concurrency */

typedef struct serial {
    midge_client *client;
    int in_callback;
    int overlaps;
    int off_thread;
    int connects, losts, messages, publishes, publish_failures, subscribes, unsubscribes, logs;
} serial;

static void enter(serial *s) {
    if (__atomic_exchange_n(&s->in_callback, 1, __ATOMIC_SEQ_CST) != 0) ATOMIC_INC(&s->overlaps);
    if (pthread_equal(pthread_self(), g_main_thread)) ATOMIC_INC(&s->off_thread);
    for (int i = 0; i < 3; i++) sched_yield(); /* widen the window */
}

static void leave(serial *s) { __atomic_store_n(&s->in_callback, 0, __ATOMIC_SEQ_CST); }

static void se_connect(void *u, const midge_connack *c) {
    serial *s = (serial *)u;
    enter(s);
    H_CHECK(c != NULL);
    ATOMIC_INC(&s->connects);
    leave(s);
}
static void se_lost(void *u, const midge_disconnect *d) {
    serial *s = (serial *)u;
    enter(s);
    H_CHECK(d != NULL);
    ATOMIC_INC(&s->losts);
    leave(s);
}
static void se_message(void *u, const midge_message *m) {
    serial *s = (serial *)u;
    enter(s);
    H_CHECK(m != NULL);
    ATOMIC_INC(&s->messages);
    leave(s);
}
static void se_publish(void *u, const midge_ack *ack) {
    serial *s = (serial *)u;
    enter(s);
    /* Everything about the end of the publish, in one lent object. */
    uint16_t packet_id = 0;
    uint8_t reason_code = 0xFF;
    if (midge_ack_id(ack) == 0 || !midge_ack_packet_id(ack, &packet_id) || packet_id == 0 ||
        midge_ack_result(ack) != MIDGE_RESULT_OK || !midge_ack_reason_code(ack, &reason_code) ||
        reason_code != 0x00) {
        ATOMIC_INC(&s->publish_failures);
    }
    ATOMIC_INC(&s->publishes);
    leave(s);
}
static void se_subscribe(void *u, const midge_ack *ack) {
    serial *s = (serial *)u;
    enter(s);
    size_t count = 0;
    const uint8_t *codes = midge_ack_reason_codes(ack, &count);
    H_CHECK(midge_ack_id(ack) != 0 && midge_ack_result(ack) == MIDGE_RESULT_OK && count == 1 &&
            codes[0] == 0x01);
    H_CHECK(midge_ack_packet_id(ack, NULL));
    ATOMIC_INC(&s->subscribes);
    leave(s);
}
static void se_unsubscribe(void *u, const midge_ack *ack) {
    serial *s = (serial *)u;
    enter(s);
    size_t count = 0;
    const uint8_t *codes = midge_ack_reason_codes(ack, &count);
    H_CHECK(midge_ack_id(ack) != 0 && midge_ack_result(ack) == MIDGE_RESULT_OK && count == 1 &&
            codes[0] == 0x00);
    ATOMIC_INC(&s->unsubscribes);
    leave(s);
}
static void se_log(void *u, int level, const char *text) {
    serial *s = (serial *)u;
    enter(s);
    H_CHECK(level >= MIDGE_LOG_ERROR && level <= MIDGE_LOG_DEBUG && text != NULL);
    ATOMIC_INC(&s->logs);
    leave(s);
}

static void test_never_concurrent(const char *url) {
    serial s;
    memset(&s, 0, sizeof s);
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(o, "c-cb-serial"));
    H_CHECK_OK(midge_options_set_log_level(o, MIDGE_LOG_DEBUG));
    H_CHECK_OK(midge_client_new(url, o, &s.client));
    midge_options_free(&o);
    H_CHECK_OK(midge_client_on_connect(s.client, se_connect, &s, NULL));
    H_CHECK_OK(midge_client_on_connection_lost(s.client, se_lost, &s, NULL));
    H_CHECK_OK(midge_client_on_message(s.client, se_message, &s, NULL));
    H_CHECK_OK(midge_client_on_publish(s.client, se_publish, &s, NULL));
    H_CHECK_OK(midge_client_on_subscribe(s.client, se_subscribe, &s, NULL));
    H_CHECK_OK(midge_client_on_unsubscribe(s.client, se_unsubscribe, &s, NULL));
    H_CHECK_OK(midge_client_on_log(s.client, se_log, &s, NULL));
    H_CHECK_OK(midge_client_connect_wait(s.client, H_LONG_MS, NULL));
    /* with callbacks registered, next_event receives nothing */
    for (int i = 0; i < 20; i++) {
        midge_event *ev = NULL;
        int rc = (int)midge_client_next_event(s.client, 0, &ev);
        if (ev != NULL) {
            h_note("next_event took an event of kind %d while callbacks are registered",
                   midge_event_kind_of(ev));
            midge_event_free(&ev);
        }
        H_CHECK_RC(rc, MIDGE_RESULT_TIMEOUT);
        H_CHECK(ev == NULL);
    }

    const char *f[] = {"conc/t"};
    const uint8_t q[] = {1};
    midge_completion *done = NULL;
    H_CHECK_OK(midge_client_subscribe(s.client, f, q, 1, NULL, &done));
    H_CHECK_OK(midge_completion_wait(done, H_LONG_MS));
    midge_completion_free(&done);
    H_WAIT_UNTIL(ATOMIC_GET(&s.subscribes) == 1, H_LONG_MS);

    midge_client *other = h_connect_id(url, "c-cb-other");
    const int n = 200;
    for (int i = 0; i < n; i++) {
        uint8_t b = (uint8_t)i;
        H_CHECK_OK(midge_client_publish(s.client, "conc/t", &b, 1, 1, false, NULL, NULL));
        H_CHECK_OK(midge_client_publish(other, "conc/t", &b, 1, 0, false, NULL, NULL));
    }
    H_WAIT_UNTIL(ATOMIC_GET(&s.publishes) == n, H_LONG_MS);
    H_WAIT_UNTIL(ATOMIC_GET(&s.messages) == 2 * n, H_LONG_MS);
    H_CHECK_OK(midge_client_unsubscribe(s.client, f, 1, NULL, NULL));
    H_WAIT_UNTIL(ATOMIC_GET(&s.unsubscribes) == 1, H_LONG_MS);
    H_CHECK_OK(midge_client_disconnect_wait(s.client, 0, NULL, H_LONG_MS));
    H_WAIT_UNTIL(ATOMIC_GET(&s.losts) == 1, H_LONG_MS);
    midge_client_free(&s.client);
    midge_client_free(&other);
    h_note("serial: %d messages, %d publishes, %d log lines, %d overlaps", s.messages,
           s.publishes, s.logs, s.overlaps);
    H_CHECK(s.overlaps == 0);
    H_CHECK(s.off_thread == 0);
    H_CHECK(s.publish_failures == 0);
    H_CHECK(s.connects == 1);
    H_CHECK(s.logs > 0);
}

/* ------------------------------------------------------------------ inline callbacks */

typedef struct inline_cb {
    midge_client *client;
    int calls;
    int off_io_thread;  /* calls not on the thread named "midge-io" */
    int wait_rc;        /* midge_client_publish_wait inside the first call */
    int64_t wait_ms;    /* how long it took */
    int publish_rc;     /* midge_client_publish inside the first call */
    int after_free_rc;  /* midge_client_publish after midge_client_free, in the second call */
    int drops;
} inline_cb;

static void inline_on_message(void *user_data, const midge_message *m) {
    inline_cb *s = (inline_cb *)user_data;
    char name[16] = "";
    if (pthread_getname_np(pthread_self(), name, sizeof name) != 0 ||
        strcmp(name, "midge-io") != 0) {
        h_note("inline callback on thread \"%s\"", name);
        ATOMIC_INC(&s->off_io_thread);
    }
    if (h_payload_is_str(m, "one")) {
        /* a wait on the I/O thread could never end: it fails at once */
        int64_t t0 = h_now_ms();
        s->wait_rc = (int)midge_client_publish_wait(s->client, "inline/out",
                                                    (const uint8_t *)"waited", 6, 1, false, NULL,
                                                    H_LONG_MS, NULL);
        s->wait_ms = h_now_ms() - t0;
        /* publishing without waiting works */
        s->publish_rc = (int)midge_client_publish(s->client, "inline/out",
                                                  (const uint8_t *)"echo", 4, 1, false, NULL,
                                                  NULL);
    } else if (h_payload_is_str(m, "bye") && ATOMIC_GET(&s->calls) == 1) {
        midge_client_free(&s->client); /* returns at once; closes after this callback */
        s->after_free_rc = (int)midge_client_publish(s->client, "inline/out", NULL, 0, 0, false,
                                                     NULL, NULL);
    }
    ATOMIC_INC(&s->calls); /* last: the test reads the fields above once it sees the count */
}

static void inline_drop(void *user_data) { ATOMIC_INC(&((inline_cb *)user_data)->drops); }

static void test_inline(const char *url) {
    H_CHECK_RC(midge_options_set_inline_callbacks(NULL, true), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_options_set_inline_callbacks(NULL, false), MIDGE_RESULT_INVALID_ARGUMENT);

    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *r = h_connect_id(url, "c-cb-inline-out");
    H_CHECK_OK(midge_client_on_message(r, h_inbox_on_message, &inbox, NULL));
    const char *out[] = {"inline/out"};
    const uint8_t q1[] = {1};
    H_CHECK_OK(midge_client_subscribe_wait(r, out, q1, 1, NULL, H_LONG_MS, NULL));

    inline_cb s;
    memset(&s, 0, sizeof s);
    s.wait_rc = s.publish_rc = s.after_free_rc = -1;
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(o, "c-cb-inline"));
    H_CHECK_OK(midge_options_set_inline_callbacks(o, true));
    H_CHECK_OK(midge_client_new(url, o, &s.client));
    midge_options_free(&o);
    /* registered before connecting, so that every event goes through the I/O thread */
    H_CHECK_OK(midge_client_on_message(s.client, inline_on_message, &s, inline_drop));
    H_CHECK_OK(midge_client_connect_wait(s.client, H_LONG_MS, NULL));
    const char *in[] = {"inline/in"};
    H_CHECK_OK(midge_client_subscribe_wait(s.client, in, q1, 1, NULL, H_LONG_MS, NULL));

    midge_client *p = h_connect_id(url, "c-cb-inline-in");
    H_CHECK_OK(midge_client_publish_wait(p, "inline/in", (const uint8_t *)"one", 3, 1, false, NULL,
                                         H_LONG_MS, NULL));
    H_WAIT_UNTIL(ATOMIC_GET(&s.calls) == 1, H_LONG_MS);
    if (s.wait_rc != MIDGE_RESULT_WOULD_DEADLOCK) {
        h_note("publish_wait in an inline callback: %s", midge_result_str(s.wait_rc));
    }
    H_CHECK(s.wait_rc == MIDGE_RESULT_WOULD_DEADLOCK);
    H_CHECK(s.wait_ms < H_LONG_MS / 2); /* did not wait for its timeout */
    H_CHECK(s.publish_rc == MIDGE_RESULT_OK);
    /* the echo arrives; the publish whose wait failed may come first (its request went on) */
    int waited = 0;
    for (;;) {
        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL);
        bool echo = h_payload_is_str(m, "echo");
        if (!echo) {
            H_CHECK(h_payload_is_str(m, "waited"));
            waited++;
        }
        midge_message_free(&m);
        if (echo) break;
    }
    H_CHECK(waited <= 1);

    /* freeing the client from its inline callback: returns, and no call follows */
    for (int i = 0; i < 3; i++) {
        H_CHECK_OK(midge_client_publish_wait(p, "inline/in", (const uint8_t *)"bye", 3, 1, false,
                                             NULL, H_LONG_MS, NULL));
    }
    H_WAIT_UNTIL(ATOMIC_GET(&s.drops) == 1, H_LONG_MS);
    if (ATOMIC_GET(&s.calls) != 2) h_note("%d inline callbacks, expected 2", s.calls);
    H_CHECK(ATOMIC_GET(&s.calls) == 2);
    H_CHECK(s.after_free_rc == MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(ATOMIC_GET(&s.off_io_thread) == 0);
    midge_client_free(&s.client); /* freed already: nothing */
    H_CHECK(ATOMIC_GET(&s.drops) == 1);
    midge_client_free(&p);
    midge_client_free(&r);
    h_inbox_destroy(&inbox);
}

int main(void) {
    h_begin("test_callbacks");
    g_main_thread = pthread_self();
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);

    test_drop_user_data(broker.url);
    test_echo(broker.url);
    test_disconnect_from_on_connect(broker.url);
    test_never_concurrent(broker.url);
    test_free_from_callback(broker.url);
    test_inline(broker.url);

    h_broker_stop(&broker);
    h_end();
    return 0;
}
