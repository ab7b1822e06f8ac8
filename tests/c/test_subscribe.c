/* 4. Subscription options: no local, retain as published, retain handling (send, send if
 * new, do not send) with a retained message; per-filter SUBACK reason codes from
 * subscribe_wait and the completion; UNSUBACK codes from unsubscribe_wait. */
#include "harness.h"

#include <string.h>

typedef struct peer {
    midge_client *client;
    h_inbox inbox;
} peer;

static void peer_open(peer *p, const char *url, const char *id) {
    h_inbox_init(&p->inbox);
    p->client = h_connect_id(url, id);
    H_CHECK_OK(midge_client_on_message(p->client, h_inbox_on_message, &p->inbox, NULL));
}

static void peer_close(peer *p) {
    midge_client_free(&p->client);
    h_inbox_destroy(&p->inbox);
}

static void subscribe1(peer *p, const char *filter, uint8_t options, uint8_t expected_code) {
    const char *filters[] = {filter};
    uint8_t code = 0xEE;
    H_CHECK_OK(midge_client_subscribe_wait(p->client, filters, &options, 1, NULL, H_LONG_MS, &code));
    H_CHECK(code == expected_code);
}

static void publish(peer *p, const char *topic, const char *payload, bool retain) {
    H_CHECK_OK(midge_client_publish_wait(p->client, topic, (const uint8_t *)payload,
                                         strlen(payload), 1, retain, NULL, H_LONG_MS, NULL));
}

/* The next message must be `payload` on `topic` with this RETAIN flag. */
static void expect(peer *p, const char *topic, const char *payload, bool retain) {
    midge_message *m = h_inbox_pop(&p->inbox, H_LONG_MS);
    if (m == NULL) h_note("nothing came, expected %s '%s' retain %d", topic, payload, (int)retain);
    H_CHECK(m != NULL);
    if (strcmp(midge_message_topic(m), topic) != 0 || !h_payload_is_str(m, payload) ||
        midge_message_retain(m) != retain) {
        size_t len = 0;
        const uint8_t *data = midge_message_payload(m, &len);
        h_note("got %s '%.*s' retain %d, expected %s '%s' retain %d", midge_message_topic(m),
               (int)len, data != NULL ? (const char *)data : "", (int)midge_message_retain(m),
               topic, payload, (int)retain);
    }
    H_CHECK(strcmp(midge_message_topic(m), topic) == 0);
    H_CHECK(h_payload_is_str(m, payload));
    H_CHECK(midge_message_retain(m) == retain);
    midge_message_free(&m);
}

int main(void) {
    h_begin("test_subscribe");
    h_broker broker;
    h_broker_start_acl(&broker, NULL, NULL, NULL,
                       "topic readwrite s/#\n"
                       "topic readwrite nl/#\n"
                       "topic readwrite rap/#\n"
                       "topic readwrite rh/#\n"
                       "topic write nosub/#\n");

    peer a, b;
    peer_open(&a, broker.url, "c-sub-a");
    peer_open(&b, broker.url, "c-sub-b");

    /* --- per-filter SUBACK codes: the granted QoS per filter */
    {
        const char *filters[] = {"s/a", "s/b", "s/c/#", "nosub/x"};
        const uint8_t opts[] = {0, 1, 2, 1};
        uint8_t codes[4] = {0xEE, 0xEE, 0xEE, 0xEE};
        H_CHECK_OK(midge_client_subscribe_wait(a.client, filters, opts, 4, NULL, H_LONG_MS, codes));
        /* Mosquitto 2.0 grants a subscription its ACL forbids (and delivers nothing): 0x01;
         * other versions refuse it with 0x87. Either is one code per filter, in order. */
        H_CHECK(codes[0] == 0x00 && codes[1] == 0x01 && codes[2] == 0x02);
        H_CHECK(codes[3] == 0x01 || codes[3] == 0x87);

        /* The same through a completion. */
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_subscribe(a.client, filters, opts, 4, NULL, &done));
        H_CHECK_OK(midge_completion_wait(done, H_LONG_MS));
        size_t n = 0;
        const midge_ack *ack = midge_completion_ack(done);
        const uint8_t *rc = midge_ack_reason_codes(ack, &n);
        H_CHECK(rc != NULL && n == 4);
        H_CHECK(rc[0] == 0x00 && rc[1] == 0x01 && rc[2] == 0x02 && rc[3] == codes[3]);
        H_CHECK(midge_ack_reason_codes(ack, NULL) == rc);
        uint8_t one = 0xEE;
        H_CHECK(!midge_ack_reason_code(ack, &one) && one == 0xEE); /* not one code */
        H_CHECK(midge_ack_packet_id(ack, NULL));
        midge_completion_free(&done);

        /* --- UNSUBACK codes: 0x00 Success, 0x11 No subscription existed */
        const char *unsub[] = {"s/a", "never/subscribed", "s/b"};
        uint8_t ucodes[3] = {0xEE, 0xEE, 0xEE};
        H_CHECK_OK(midge_client_unsubscribe_wait(a.client, unsub, 3, NULL, H_LONG_MS, ucodes));
        H_CHECK(ucodes[0] == 0x00 && ucodes[1] == 0x11 && ucodes[2] == 0x00);
        H_CHECK_OK(midge_client_unsubscribe(a.client, unsub, 3, NULL, &done));
        H_CHECK_OK(midge_completion_wait(done, H_LONG_MS));
        rc = midge_ack_reason_codes(midge_completion_ack(done), &n);
        H_CHECK(rc != NULL && n == 3);
        H_CHECK(rc[0] == 0x11 && rc[1] == 0x11 && rc[2] == 0x11);
        midge_completion_free(&done);
        const char *rest[] = {"s/c/#", "nosub/x"};
        H_CHECK_OK(midge_client_unsubscribe_wait(a.client, rest, 2, NULL, H_LONG_MS, NULL));
    }

    /* --- no local: A does not get its own publication, B's yes */
    subscribe1(&a, "nl/t", 1 | MIDGE_SUB_NO_LOCAL, 0x01);
    publish(&a, "nl/t", "from-a", false);
    publish(&b, "nl/t", "from-b", false);
    expect(&a, "nl/t", "from-b", false);
    /* Without no local, B gets its own. */
    subscribe1(&b, "nl/t", 1, 0x01);
    publish(&b, "nl/t", "from-b-2", false);
    expect(&b, "nl/t", "from-b-2", false);
    expect(&a, "nl/t", "from-b-2", false);
    const char *nl[] = {"nl/t"};
    H_CHECK_OK(midge_client_unsubscribe_wait(a.client, nl, 1, NULL, H_LONG_MS, NULL));
    H_CHECK_OK(midge_client_unsubscribe_wait(b.client, nl, 1, NULL, H_LONG_MS, NULL));

    /* --- retain as published: a live retained message keeps RETAIN only with the option */
    subscribe1(&a, "rap/t", 1 | MIDGE_SUB_RETAIN_AS_PUBLISHED | MIDGE_SUB_RETAIN_NONE, 0x01);
    subscribe1(&b, "rap/t", 1 | MIDGE_SUB_RETAIN_NONE, 0x01);
    publish(&b, "rap/t", "live", true);
    expect(&a, "rap/t", "live", true);
    expect(&b, "rap/t", "live", false);
    publish(&b, "rap/t", "", true); /* clears the retained message */
    expect(&a, "rap/t", "", true);
    expect(&b, "rap/t", "", false);

    /* --- retain handling */
    publish(&b, "rh/t", "kept", true);
    peer r;
    peer_open(&r, broker.url, "c-sub-r");
    /* 0: send at subscribe */
    subscribe1(&r, "rh/t", 1, 0x01);
    expect(&r, "rh/t", "kept", true);
    publish(&r, "rh/t", "marker-1", false); /* anything the broker sent earlier came first */
    expect(&r, "rh/t", "marker-1", false);
    /* 1: send only if the subscription is new: it is not */
    subscribe1(&r, "rh/t", 1 | MIDGE_SUB_RETAIN_IF_NEW, 0x01);
    publish(&r, "rh/t", "marker-2", false);
    expect(&r, "rh/t", "marker-2", false);
    /* 0 again: sent again */
    subscribe1(&r, "rh/t", 1, 0x01);
    expect(&r, "rh/t", "kept", true);
    publish(&r, "rh/t", "marker-3", false);
    expect(&r, "rh/t", "marker-3", false);
    peer_close(&r);
    /* 2: do not send */
    peer_open(&r, broker.url, "c-sub-r2");
    subscribe1(&r, "rh/t", 1 | MIDGE_SUB_RETAIN_NONE, 0x01);
    publish(&r, "rh/t", "marker-4", false);
    expect(&r, "rh/t", "marker-4", false);
    peer_close(&r);
    /* 1 on a new subscription: sent */
    peer_open(&r, broker.url, "c-sub-r3");
    subscribe1(&r, "rh/t", 1 | MIDGE_SUB_RETAIN_IF_NEW, 0x01);
    expect(&r, "rh/t", "kept", true);
    publish(&b, "rh/t", "", true); /* clear */
    expect(&r, "rh/t", "", false);
    peer_close(&r);

    /* --- options refused locally: reserved bits, retain handling 3, QoS 3 */
    {
        const char *filters[] = {"s/x"};
        const uint8_t bad[] = {0x40, 0x80, 0x30, 0x03};
        for (int i = 0; i < 4; i++) {
            uint8_t code = 0xEE;
            H_CHECK_RC(midge_client_subscribe_wait(a.client, filters, &bad[i], 1, NULL, H_LONG_MS,
                                                   &code),
                       MIDGE_RESULT_INVALID_ARGUMENT);
            H_CHECK(code == 0xEE);
        }
        const char *bad_filter[] = {"s/#/x"};
        const uint8_t ok[] = {0};
        H_CHECK_RC(midge_client_subscribe_wait(a.client, bad_filter, ok, 1, NULL, H_LONG_MS, NULL),
                   MIDGE_RESULT_INVALID_TOPIC);
        const char *shared[] = {"$share/g/s/x"};
        const uint8_t nl[] = {MIDGE_SUB_NO_LOCAL};
        H_CHECK_RC(midge_client_subscribe_wait(a.client, shared, nl, 1, NULL, H_LONG_MS, NULL),
                   MIDGE_RESULT_INVALID_PROPERTY);
    }

    peer_close(&a);
    peer_close(&b);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
