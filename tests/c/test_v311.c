/* 11. MQTT 3.1.1 from C: midge_options_set_protocol_version (values checked), options 3.1.1
 * cannot carry refused by midge_client_new with MIDGE_RESULT_NOT_IN_V311, a 3.1.1
 * connection's CONNACK (midge_connack_protocol_version 4, no properties), QoS 0/1/2 round
 * trips, requests with properties refused and nothing sent, a plain DISCONNECT; a
 * 5.0-or-3.1.1 client speaks 5.0 to a broker that accepts it. (The fallback itself, which
 * needs a broker that refuses 5.0, is tested against the fake broker in
 * tests/client_v311.rs.) Statement numbers are MQTT 3.1.1's. */
#include "harness.h"

#include <string.h>

static midge_options *v311_options(const char *client_id) {
    midge_options *o = midge_options_new();
    H_CHECK(o != NULL);
    H_CHECK_OK(midge_options_set_protocol_version(o, MIDGE_PROTOCOL_V311));
    H_CHECK_OK(midge_options_set_client_id(o, client_id));
    return o;
}

int main(void) {
    h_begin("test_v311");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);

    /* --- the option's values */
    {
        midge_options *o = midge_options_new();
        H_CHECK_RC(midge_options_set_protocol_version(o, 3), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_options_set_protocol_version(o, 6), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_options_set_protocol_version(NULL, MIDGE_PROTOCOL_V5),
                   MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_OK(midge_options_set_protocol_version(o, MIDGE_PROTOCOL_V5));
        H_CHECK_OK(midge_options_set_protocol_version(o, MIDGE_PROTOCOL_V5_OR_V311));
        H_CHECK_OK(midge_options_set_protocol_version(o, MIDGE_PROTOCOL_V311));
        midge_options_free(&o);
        H_CHECK(strcmp(midge_result_str(MIDGE_RESULT_NOT_IN_V311), "not in MQTT 3.1.1") == 0);
        H_CHECK(midge_connack_protocol_version(NULL) == 0);
    }

    /* --- options 3.1.1 cannot carry: refused when the client is made, named in the error */
    {
        midge_options *o = v311_options("c-v311-refused");
        H_CHECK_OK(midge_options_add_user_property(o, "k", "v"));
        midge_client *c = NULL;
        H_CHECK_RC(midge_client_new(broker.url, o, &c), MIDGE_RESULT_NOT_IN_V311);
        H_CHECK(c == NULL); /* out-parameter written only on success */
        H_CHECK(strstr(midge_last_error_message(), "User Properties") != NULL);
        midge_options_free(&o);

        /* Clean Session 0 keeps the session with no expiry: an hour is not expressible. */
        o = v311_options("c-v311-expiry");
        H_CHECK_OK(midge_options_set_clean_start(o, false));
        H_CHECK_OK(midge_options_set_session_expiry(o, 3600));
        H_CHECK_RC(midge_client_new(broker.url, o, &c), MIDGE_RESULT_NOT_IN_V311);
        H_CHECK_OK(midge_options_set_session_expiry(o, 0xFFFFFFFFu));
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_client_free(&c);
        midge_options_free(&o);
    }

    /* --- a 3.1.1 connection: QoS 0/1/2 round trips */
    {
        h_inbox inbox;
        h_inbox_init(&inbox);
        midge_options *o = v311_options("c-v311");
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_options_free(&o);
        H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, &inbox, NULL));
        midge_connack *ack = NULL;
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, &ack));
        H_CHECK(midge_connack_protocol_version(ack) == MIDGE_PROTOCOL_V311);
        H_CHECK(midge_connack_property_count(ack) == 0); /* 3.1.1 CONNACKs have none */
        H_CHECK(!midge_connack_session_present(ack));   /* [MQTT-3.2.2-1] */
        H_CHECK(!midge_connack_subscription_identifiers_available(ack));
        midge_connack_free(&ack);

        const char *filters[] = {"v311/#"};
        const uint8_t qos2[] = {2};
        uint8_t granted = 0xEE;
        H_CHECK_OK(midge_client_subscribe_wait(c, filters, qos2, 1, NULL, H_LONG_MS, &granted));
        H_CHECK(granted == 2);
        for (int qos = 0; qos <= 2; qos++) {
            char payload[8];
            snprintf(payload, sizeof payload, "q%d", qos);
            uint8_t rc = 0xEE;
            H_CHECK_OK(midge_client_publish_wait(c, "v311/t", (const uint8_t *)payload,
                                                 strlen(payload), qos, false, NULL, H_LONG_MS,
                                                 &rc));
            H_CHECK(rc == 0x00); /* 3.1.1 acks have no reason code: success */
            midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
            H_CHECK(m != NULL);
            H_CHECK(strcmp(midge_message_topic(m), "v311/t") == 0);
            H_CHECK(h_payload_is_str(m, payload));
            H_CHECK(midge_message_qos(m) == qos);
            H_CHECK(midge_message_property_count(m) == 0);
            midge_message_free(&m);
        }

        /* --- what 3.1.1 cannot carry: refused at the call, nothing sent */
        midge_properties *p = midge_properties_new();
        H_CHECK_OK(midge_properties_add_string(p, MIDGE_PROPERTY_CONTENT_TYPE, "text/plain"));
        midge_completion *done = NULL;
        H_CHECK_RC(midge_client_publish(c, "v311/t", (const uint8_t *)"x", 1, 1, false, p, &done),
                   MIDGE_RESULT_NOT_IN_V311);
        H_CHECK(done == NULL);
        const uint8_t no_local[] = {1 | MIDGE_SUB_NO_LOCAL};
        H_CHECK_RC(midge_client_subscribe(c, filters, no_local, 1, NULL, NULL),
                   MIDGE_RESULT_NOT_IN_V311);
        midge_properties_free(&p);
        /* 0x04 "with Will" is a 5.0 reason code: not in a 3.1.1 DISCONNECT. */
        H_CHECK_RC(midge_client_disconnect_wait(c, 0x04, NULL, H_LONG_MS),
                   MIDGE_RESULT_NOT_IN_V311);
        H_CHECK(h_inbox_total(&inbox) == 3);
        H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
        midge_client_free(&c);
        h_inbox_destroy(&inbox);
    }

    /* --- 5.0 or 3.1.1: a broker that speaks 5.0 gets 5.0 */
    {
        midge_options *o = midge_options_new();
        H_CHECK_OK(midge_options_set_protocol_version(o, MIDGE_PROTOCOL_V5_OR_V311));
        H_CHECK_OK(midge_options_set_client_id(o, "c-v5-or-v311"));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_options_free(&o);
        midge_connack *ack = NULL;
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, &ack));
        H_CHECK(midge_connack_protocol_version(ack) == MIDGE_PROTOCOL_V5);
        midge_connack_free(&ack);
        midge_client_free(&c);
    }

    h_broker_stop(&broker);
    h_end();
    return 0;
}
