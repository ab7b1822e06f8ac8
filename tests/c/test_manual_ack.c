/* 19. Application-controlled acknowledgements: midge_options_set_manual_ack and
 *     midge_message_ack, against a private Mosquitto.
 *
 * What reaches the broker is observed through the session it keeps: a client that did
 * not acknowledge disconnects, a new client with the same id and Clean Start 0 resumes the
 * session, and the broker sends again, with DUP, exactly the messages that got no PUBACK
 * [MQTT-4.4.0-1].
 *
 * - From a callback: the message callback keeps clones (h_inbox); they are acknowledged
 *   after the callback returned, from the test's thread, in the order 3rd, 1st, 2nd. None
 *   is acknowledged before that (all 3 come back), and afterwards none comes back.
 *   A lent message acknowledged inside the callback works too.
 * - From next_event: acknowledging the 2nd of 2 messages sends nothing, because PUBACKs
 *   go out in arrival order [MQTT-4.6.0-2] and the 1st is not acknowledged: both come
 *   back. A QoS 0 message, and a second acknowledgement, are no-ops returning OK. */
#include "harness.h"

#include <string.h>

#define QUIET_MS 500

/* A manual-ack client with a session the broker keeps (Clean Start as given). */
static midge_client *manual_client(const h_broker *b, const char *id, bool clean_start) {
    midge_options *o = midge_options_new();
    H_CHECK(o != NULL);
    H_CHECK_OK(midge_options_set_client_id(o, id));
    H_CHECK_OK(midge_options_set_session_expiry(o, 300));
    H_CHECK_OK(midge_options_set_clean_start(o, clean_start));
    H_CHECK_OK(midge_options_set_reconnect(o, false, 0, 0));
    H_CHECK_OK(midge_options_set_manual_ack(o, true));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(b->url, o, &c));
    midge_options_free(&o);
    return c;
}

static void publish_n(const h_broker *b, const char *topic, int qos, int n) {
    midge_client *pub = h_connect_id(b->url, "manual-pub");
    for (int i = 0; i < n; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "m%d", i);
        H_CHECK_OK(midge_client_publish_wait(pub, topic, (const uint8_t *)payload,
                                             strlen(payload), qos, false, NULL, H_LONG_MS,
                                             NULL));
    }
    midge_client_free(&pub);
}

static void subscribe(midge_client *c, const char *filter) {
    uint8_t opt = 1;
    H_CHECK_OK(midge_client_subscribe_wait(c, &filter, &opt, 1, NULL, H_LONG_MS, NULL));
}

/* A round trip after the acknowledgements: the broker answers the SUBSCRIBE only after
 * handling what came before it on the connection (its PUBACKs). Without it, a new
 * connection with the same client id could take the session over before the broker read
 * the old connection's last packets. */
static void barrier(midge_client *c) {
    subscribe(c, "manual/barrier");
}

/* Pops `n` messages from the inbox, checking payloads m0.. and the DUP flag. */
static void pop_n(h_inbox *in, midge_message **out, int n, bool dup) {
    for (int i = 0; i < n; i++) {
        out[i] = h_inbox_pop(in, H_LONG_MS);
        H_CHECK(out[i] != NULL);
        char payload[16];
        snprintf(payload, sizeof payload, "m%d", i);
        H_CHECK(h_payload_is_str(out[i], payload));
        H_CHECK(midge_message_dup(out[i]) == dup);
    }
}

typedef struct acking {
    midge_client *client;
    int acked;
} acking;

/* Acknowledges the lent message inside the callback. */
static void ack_in_callback(void *user_data, const midge_message *message) {
    acking *a = (acking *)user_data;
    H_CHECK_OK(midge_message_ack(a->client, message));
    __atomic_add_fetch(&a->acked, 1, __ATOMIC_SEQ_CST);
}

static void from_a_callback(const h_broker *b) {
    const char *topic = "manual/cb";
    h_inbox in;
    h_inbox_init(&in);
    midge_client *c = manual_client(b, "manual-cb", true);
    H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, &in, NULL));
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    subscribe(c, topic);
    publish_n(b, topic, 1, 3);
    midge_message *first[3];
    pop_n(&in, first, 3, false);
    /* None acknowledged: the broker still holds all 3 for the session. */
    H_CHECK_OK(midge_client_disconnect_wait(c, 0, NULL, H_LONG_MS));
    midge_client_free(&c);
    for (int i = 0; i < 3; i++) midge_message_free(&first[i]);

    c = manual_client(b, "manual-cb", false);
    H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, &in, NULL));
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    midge_message *again[3];
    pop_n(&in, again, 3, true);
    h_note("3 unacknowledged QoS 1 messages were sent again with DUP");
    /* Clones, after the callback returned, out of order: PUBACKs go out 1, 2, 3. */
    H_CHECK_OK(midge_message_ack(c, again[2]));
    H_CHECK_OK(midge_message_ack(c, again[0]));
    H_CHECK_OK(midge_message_ack(c, again[1]));
    H_CHECK_OK(midge_message_ack(c, again[0])); /* once only: a no-op */
    barrier(c);
    H_CHECK_OK(midge_client_disconnect_wait(c, 0, NULL, H_LONG_MS));
    midge_client_free(&c);
    for (int i = 0; i < 3; i++) midge_message_free(&again[i]);

    /* Acknowledged in the callback itself, with the lent message. */
    acking a = {NULL, 0};
    c = manual_client(b, "manual-cb", false);
    a.client = c;
    H_CHECK_OK(midge_client_on_message(c, ack_in_callback, &a, NULL));
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    publish_n(b, topic, 1, 2);
    H_WAIT_UNTIL(__atomic_load_n(&a.acked, __ATOMIC_SEQ_CST) == 2, H_LONG_MS);
    barrier(c);
    H_CHECK_OK(midge_client_disconnect_wait(c, 0, NULL, H_LONG_MS));
    midge_client_free(&c);

    /* Everything was acknowledged: a resumed session gets nothing. */
    c = manual_client(b, "manual-cb", false);
    H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, &in, NULL));
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    midge_message *none = h_inbox_pop(&in, QUIET_MS);
    H_CHECK(none == NULL);
    midge_client_free(&c);
    h_inbox_destroy(&in);
    h_note("clones acknowledged after the callback, and a lent one in it: nothing resent");
}

/* The next message event of `c` (others skipped), or NULL after timeout_ms. */
static midge_event *next_message(midge_client *c, int timeout_ms) {
    int64_t deadline = h_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - h_now_ms();
        if (left < 0) return NULL;
        midge_event *e = NULL;
        midge_result rc = midge_client_next_event(c, (uint32_t)left, &e);
        if (rc == MIDGE_RESULT_TIMEOUT) return NULL;
        H_CHECK_OK(rc);
        if (midge_event_kind_of(e) == MIDGE_EVENT_MESSAGE) return e;
        midge_event_free(&e);
    }
}

static void from_next_event(const h_broker *b) {
    const char *topic = "manual/pull";
    midge_client *c = manual_client(b, "manual-pull", true);
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    subscribe(c, topic);
    publish_n(b, topic, 1, 2);
    midge_event *e0 = next_message(c, H_LONG_MS);
    midge_event *e1 = next_message(c, H_LONG_MS);
    H_CHECK(e0 != NULL && e1 != NULL);
    H_CHECK(h_payload_is_str(midge_event_message(e0), "m0"));
    /* Only the 2nd: its PUBACK waits for the 1st [MQTT-4.6.0-2]. */
    H_CHECK_OK(midge_message_ack(c, midge_event_message(e1)));
    midge_event_free(&e0);
    midge_event_free(&e1);

    /* QoS 0: nothing to acknowledge, OK. */
    midge_client *pub = h_connect_id(b->url, "manual-pub0");
    H_CHECK_OK(midge_client_publish_wait(pub, topic, (const uint8_t *)"zero", 4, 0, false,
                                         NULL, H_LONG_MS, NULL));
    midge_client_free(&pub);
    midge_event *z = next_message(c, H_LONG_MS);
    H_CHECK(z != NULL);
    H_CHECK(midge_message_qos(midge_event_message(z)) == 0);
    H_CHECK_OK(midge_message_ack(c, midge_event_message(z)));
    midge_event_free(&z);

    /* Bad handles. */
    H_CHECK_RC(midge_message_ack(NULL, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_message_ack(c, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    barrier(c);
    H_CHECK_OK(midge_client_disconnect_wait(c, 0, NULL, H_LONG_MS));
    midge_client_free(&c);

    /* Both come back: the 2nd's acknowledgement did not go out ahead of the 1st's. */
    c = manual_client(b, "manual-pull", false);
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    for (int i = 0; i < 2; i++) {
        midge_event *e = next_message(c, H_LONG_MS);
        H_CHECK(e != NULL);
        const midge_message *m = midge_event_message(e);
        char payload[16];
        snprintf(payload, sizeof payload, "m%d", i);
        H_CHECK(h_payload_is_str(m, payload));
        H_CHECK(midge_message_dup(m));
        H_CHECK_OK(midge_message_ack(c, m));
        midge_event_free(&e);
    }
    barrier(c);
    H_CHECK_OK(midge_client_disconnect_wait(c, 0, NULL, H_LONG_MS));
    midge_client_free(&c);

    c = manual_client(b, "manual-pull", false);
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    midge_event *none = next_message(c, QUIET_MS);
    H_CHECK(none == NULL);
    midge_client_free(&c);
    h_note("next_event: the 2nd acknowledged alone sent nothing; both acknowledged, done");
}

int main(void) {
    h_begin("test_manual_ack");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    from_a_callback(&broker);
    from_next_event(&broker);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
