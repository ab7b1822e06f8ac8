/* 3. QoS 0/1/2 round trips with properties set from C: binary payload with zeros, user
 * properties (by index, in order), content type, response topic, correlation data, payload
 * format, message expiry, subscription identifier; completion handles (wait, poll PENDING
 * then OK, reason code, packet id); publish_wait reason codes. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t PAYLOAD[] = {0x00, 0x01, 0x00, 0x02, 0xFF, 0x00, 0x00, 0x7F, 0x00};
static const uint8_t CORRELATION[] = {0x00, 0xDE, 0x00, 0xAD};

static midge_properties *publish_properties(void) {
    midge_properties *p = midge_properties_new();
    H_CHECK(p != NULL);
    H_CHECK_OK(midge_properties_add_user_property(p, "a", "1"));
    H_CHECK_OK(midge_properties_add_user_property(p, "b", "2"));
    H_CHECK_OK(midge_properties_add_user_property(p, "a", "3")); /* repeats, order kept */
    H_CHECK_OK(midge_properties_add_string(p, MIDGE_PROPERTY_CONTENT_TYPE, "application/x-test"));
    H_CHECK_OK(midge_properties_add_string(p, MIDGE_PROPERTY_RESPONSE_TOPIC, "qos/reply"));
    H_CHECK_OK(midge_properties_add_binary(p, MIDGE_PROPERTY_CORRELATION_DATA, CORRELATION,
                                           sizeof CORRELATION));
    H_CHECK_OK(midge_properties_add_int(p, MIDGE_PROPERTY_PAYLOAD_FORMAT_INDICATOR, 0));
    H_CHECK_OK(midge_properties_add_int(p, MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL, 3600));
    H_CHECK(midge_properties_count(p) == 8);
    return p;
}

static void check_received(const midge_message *m, const char *topic, int qos) {
    H_CHECK(m != NULL);
    if (strcmp(midge_message_topic(m), topic) != 0) {
        h_note("got topic %s (QoS %d), expected %s (QoS %d)", midge_message_topic(m),
               midge_message_qos(m), topic, qos);
    }
    H_CHECK(strcmp(midge_message_topic(m), topic) == 0);
    H_CHECK(h_payload_is(m, PAYLOAD, sizeof PAYLOAD));
    H_CHECK(midge_message_qos(m) == qos);
    H_CHECK(!midge_message_retain(m));
    H_CHECK(!midge_message_dup(m));
    /* The same in one call. */
    midge_message_fields f;
    memset(&f, 0x5A, sizeof f);
    H_CHECK_OK(midge_message_get_fields(m, &f));
    H_CHECK(f.topic == midge_message_topic(m) && f.topic_len == strlen(topic));
    size_t plen = 0;
    H_CHECK(f.payload == midge_message_payload(m, &plen) && f.payload_len == plen);
    H_CHECK(f.payload_len == sizeof PAYLOAD && memcmp(f.payload, PAYLOAD, sizeof PAYLOAD) == 0);
    H_CHECK(f.qos == qos && !f.retain && !f.dup);
    H_CHECK(f.property_count == midge_message_property_count(m) && f.property_count > 0);
    uint16_t packet_id = 0;
    if (qos == 0) H_CHECK(!midge_message_packet_id(m, &packet_id) && packet_id == 0);
    else H_CHECK(midge_message_packet_id(m, &packet_id) && packet_id != 0);

    H_CHECK(midge_message_user_property_count(m) == 3);
    const char *k = NULL, *v = NULL;
    H_CHECK_OK(midge_message_user_property(m, 0, &k, &v));
    H_CHECK(strcmp(k, "a") == 0 && strcmp(v, "1") == 0);
    H_CHECK_OK(midge_message_user_property(m, 1, &k, &v));
    H_CHECK(strcmp(k, "b") == 0 && strcmp(v, "2") == 0);
    H_CHECK_OK(midge_message_user_property(m, 2, &k, &v));
    H_CHECK(strcmp(k, "a") == 0 && strcmp(v, "3") == 0);
    k = v = NULL;
    H_CHECK_RC(midge_message_user_property(m, 3, &k, &v), MIDGE_RESULT_NOT_FOUND);
    H_CHECK(k == NULL && v == NULL);
    H_CHECK_RC(midge_message_user_property(m, 0, NULL, &v), MIDGE_RESULT_INVALID_ARGUMENT);

    const char *text = NULL;
    H_CHECK(midge_message_content_type(m, &text));
    H_CHECK(strcmp(text, "application/x-test") == 0);
    H_CHECK(midge_message_response_topic(m, &text));
    H_CHECK(strcmp(text, "qos/reply") == 0);
    size_t clen = 0;
    const uint8_t *c = NULL;
    H_CHECK(midge_message_correlation_data(m, &c, &clen));
    H_CHECK(c != NULL && clen == sizeof CORRELATION);
    H_CHECK(memcmp(c, CORRELATION, sizeof CORRELATION) == 0);
    const uint8_t *c2 = NULL;
    H_CHECK(midge_message_correlation_data(m, &c2, NULL) && c2 == c);
    uint8_t format = 0xFF;
    H_CHECK(midge_message_payload_format(m, &format) && format == 0);
    uint32_t expiry = 0;
    H_CHECK(midge_message_message_expiry(m, &expiry));
    H_CHECK(expiry <= 3600 && expiry >= 3500);

    H_CHECK(midge_message_subscription_identifier_count(m) == 1);
    uint32_t id = 0;
    H_CHECK_OK(midge_message_subscription_identifier(m, 0, &id));
    H_CHECK(id == 42);
    H_CHECK_RC(midge_message_subscription_identifier(m, 1, &id), MIDGE_RESULT_NOT_FOUND);
}

int main(void) {
    h_begin("test_qos");
    h_broker broker;
    h_broker_start_acl(&broker, NULL, NULL, NULL,
                       "topic readwrite qos/#\n"
                       "topic readwrite nobody/#\n"
                       "topic read denied/#\n");

    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *sub = h_connect_id(broker.url, "c-qos-sub");
    H_CHECK_OK(midge_client_on_message(sub, h_inbox_on_message, &inbox, NULL));
    midge_properties *sp = midge_properties_new();
    H_CHECK_OK(midge_properties_add_int(sp, MIDGE_PROPERTY_SUBSCRIPTION_IDENTIFIER, 42));
    H_CHECK_OK(midge_properties_add_user_property(sp, "sub", "yes"));
    const char *filters[] = {"qos/#"};
    const uint8_t opts[] = {2};
    uint8_t granted = 0xEE;
    H_CHECK_OK(midge_client_subscribe_wait(sub, filters, opts, 1, sp, H_LONG_MS, &granted));
    H_CHECK(granted == 2);
    midge_properties_free(&sp);

    midge_client *pub = h_connect_id(broker.url, "c-qos-pub");
    midge_properties *pp = publish_properties();

    /* --- QoS 0, 1, 2 with completions */
    for (int qos = 0; qos <= 2; qos++) {
        char topic[32];
        snprintf(topic, sizeof topic, "qos/%d", qos);
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_publish(pub, topic, PAYLOAD, sizeof PAYLOAD, qos, false, pp,
                                        &done));
        H_CHECK(done != NULL);
        H_CHECK(midge_completion_id(done) != 0);
        H_CHECK_OK(midge_completion_wait(done, H_LONG_MS));
        H_CHECK_OK(midge_completion_poll(done));
        H_CHECK_OK(midge_completion_wait(done, 0)); /* ended: stays ended */
        uint8_t rc = 0xEE;
        const midge_ack *ack = midge_completion_ack(done);
        H_CHECK(midge_ack_reason_code(ack, &rc));
        H_CHECK(rc == 0x00);
        uint16_t packet_id = 0;
        if (qos == 0) H_CHECK(!midge_ack_packet_id(ack, &packet_id));
        else H_CHECK(midge_ack_packet_id(ack, &packet_id) && packet_id != 0);
        H_CHECK(midge_completion_connack(done) == NULL);
        midge_completion_free(&done);
        midge_completion_free(&done);
        H_CHECK(midge_ack_result(ack) == MIDGE_RESULT_INVALID_ARGUMENT); /* went with it */

        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        check_received(m, topic, qos);
        /* A clone is another handle on the same message (its data is shared, not copied);
         * freeing one leaves the other valid. */
        midge_message *again = midge_message_clone(m);
        H_CHECK(again != NULL && again != m);
        midge_message_free(&m);
        H_CHECK(strcmp(midge_message_topic(again), topic) == 0);
        midge_message_free(&again);
        midge_message_free(&again); /* freed already: ignored */
    }

    /* --- publish_wait: the acknowledgement's reason code */
    uint8_t code = 0xEE;
    H_CHECK_OK(midge_client_publish_wait(pub, "qos/w0", PAYLOAD, sizeof PAYLOAD, 0, false, pp,
                                         H_LONG_MS, &code));
    H_CHECK(code == 0x00);
    for (int qos = 1; qos <= 2; qos++) {
        code = 0xEE;
        H_CHECK_OK(midge_client_publish_wait(pub, "qos/w", PAYLOAD, sizeof PAYLOAD, qos, false,
                                             pp, H_LONG_MS, &code));
        H_CHECK(code == 0x00);
        code = 0xEE;
        H_CHECK_OK(midge_client_publish_wait(pub, "nobody/x", PAYLOAD, sizeof PAYLOAD, qos,
                                             false, NULL, H_LONG_MS, &code));
        /* No matching subscribers: Mosquitto says so in PUBACK, not in PUBREC (it may). */
        if (qos == 1) H_CHECK(code == 0x10);
        else H_CHECK(code == 0x10 || code == 0x00);
        /* Refused by the ACL: a failure code is MIDGE_RESULT_REFUSED with the code. */
        code = 0xEE;
        H_CHECK_RC(midge_client_publish_wait(pub, "denied/x", PAYLOAD, sizeof PAYLOAD, qos, false,
                                             NULL, H_LONG_MS, &code),
                   MIDGE_RESULT_REFUSED);
        uint8_t last = 0;
        H_CHECK(midge_last_error_reason_code(&last) && last == 0x87);
        H_CHECK(code == 0xEE);
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_publish(pub, "denied/x", PAYLOAD, 1, qos, false, NULL, &done));
        H_CHECK_RC(midge_completion_wait(done, H_LONG_MS), MIDGE_RESULT_REFUSED);
        H_CHECK(midge_ack_reason_code(midge_completion_ack(done), &code));
        H_CHECK(code == 0x87);
        H_CHECK_RC(midge_ack_result(midge_completion_ack(done)), MIDGE_RESULT_REFUSED);
        midge_completion_free(&done);
    }
    H_CHECK_OK(midge_client_publish_wait(pub, "qos/w", NULL, 0, 1, false, NULL, H_LONG_MS, NULL));
    for (int i = 0; i < 4; i++) {
        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL);
        if (i == 3) {
            /* the empty payload */
            size_t len = 99;
            (void)midge_message_payload(m, &len);
            H_CHECK(len == 0);
            H_CHECK(midge_message_user_property_count(m) == 0);
            const char *text = NULL;
            H_CHECK(!midge_message_content_type(m, &text) && text == NULL);
            H_CHECK(!midge_message_correlation_data(m, NULL, NULL));
            uint32_t e = 7;
            H_CHECK(!midge_message_message_expiry(m, &e));
            H_CHECK(e == 7);
            uint8_t format = 7;
            H_CHECK(!midge_message_payload_format(m, &format) && format == 7);
        } else {
            check_received(m, i == 0 ? "qos/w0" : "qos/w", i == 0 ? 0 : i);
        }
        midge_message_free(&m);
    }

    /* --- a large binary payload */
    {
        size_t big = 256 * 1024;
        uint8_t *data = (uint8_t *)calloc(big, 1);
        H_CHECK(data != NULL);
        for (size_t i = 0; i < big; i += 7) data[i] = (uint8_t)i;
        H_CHECK_OK(midge_client_publish_wait(pub, "qos/big", data, big, 2, false, NULL, H_LONG_MS,
                                             NULL));
        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL);
        H_CHECK(h_payload_is(m, data, big));
        midge_message_free(&m);
        free(data);
    }

    /* --- a completion observed PENDING, then OK: the broker is frozen meanwhile */
    h_broker_freeze(&broker);
    for (int qos = 1; qos <= 2; qos++) {
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_publish(pub, "qos/frozen", PAYLOAD, sizeof PAYLOAD, qos, false,
                                        pp, &done));
        H_CHECK_RC(midge_completion_poll(done), MIDGE_RESULT_PENDING);
        H_CHECK(midge_completion_ack(done) == NULL); /* nothing while pending */
        H_CHECK_RC(midge_completion_wait(done, 50), MIDGE_RESULT_TIMEOUT);
        /* The wait over, the request goes on. */
        if (qos == 2) h_broker_thaw(&broker);
        midge_completion_free(&done); /* freeing the handle does not cancel the publish */
    }
    {
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_publish(pub, "qos/after", PAYLOAD, sizeof PAYLOAD, 1, false, pp,
                                        &done));
        H_CHECK_OK(midge_completion_wait(done, H_LONG_MS));
        H_CHECK(midge_ack_packet_id(midge_completion_ack(done), NULL));
        midge_completion_free(&done);
    }
    /* Both frozen publishes were delivered, and the last one (the order across QoS levels
     * is the broker's: Mosquitto forwards a QoS 2 message on PUBREL). */
    int seen_frozen1 = 0, seen_frozen2 = 0, seen_after = 0;
    for (int i = 0; i < 3; i++) {
        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL);
        const char *t = midge_message_topic(m);
        int q = midge_message_qos(m);
        check_received(m, t, q);
        if (strcmp(t, "qos/frozen") == 0 && q == 1) seen_frozen1++;
        else if (strcmp(t, "qos/frozen") == 0 && q == 2) seen_frozen2++;
        else if (strcmp(t, "qos/after") == 0 && q == 1) seen_after++;
        midge_message_free(&m);
    }
    H_CHECK(seen_frozen1 == 1 && seen_frozen2 == 1 && seen_after == 1);

    midge_properties_free(&pp);
    midge_client_free(&pub);
    midge_client_free(&sub);
    h_inbox_destroy(&inbox);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
