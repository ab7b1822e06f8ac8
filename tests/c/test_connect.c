/* 1. Connect with a user name and password; a wrong password is refused with the reason
 * code; the CONNACK accessors (receive maximum, maximum QoS, assigned client id). */
#include "harness.h"

#include <string.h>

static midge_options *credentials(const char *user, const char *password) {
    midge_options *o = midge_options_new();
    H_CHECK(o != NULL);
    H_CHECK_OK(midge_options_set_username(o, user));
    H_CHECK_OK(midge_options_set_password(o, (const uint8_t *)password, strlen(password)));
    return o;
}

int main(void) {
    h_begin("test_connect");
    h_broker broker;
    /* A broker with a password file, a receive maximum of 17 and a maximum QoS of 1, so the
     * CONNACK carries values that differ from the standard's defaults. */
    h_broker_start(&broker, "alice", "s3cret",
                   "max_inflight_messages 17\n"
                   "max_qos 1\n");

    /* --- accepted, with an empty client id: the server assigns one */
    {
        midge_options *o = credentials("alice", "s3cret");
        H_CHECK_OK(midge_options_set_client_id(o, ""));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_options_free(&o); /* copied by midge_client_new */
        midge_connack *ack = NULL;
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, &ack));
        H_CHECK(ack != NULL);
        const char *assigned = NULL;
        H_CHECK(midge_connack_assigned_client_id(ack, &assigned));
        H_CHECK(assigned != NULL);
        H_CHECK(strlen(assigned) > 0);
        h_note("assigned client id: %s", assigned);
        H_CHECK(midge_connack_receive_maximum(ack) == 17);
        H_CHECK(midge_connack_maximum_qos(ack) == 1);
        H_CHECK(!midge_connack_session_present(ack));
        H_CHECK(midge_connack_retain_available(ack));
        H_CHECK(midge_connack_keep_alive(ack) == 60);
        const char *none = NULL;
        H_CHECK(!midge_connack_reason_string(ack, &none));
        H_CHECK(!midge_connack_server_reference(ack, &none));
        H_CHECK(!midge_connack_authentication_method(ack, &none));
        H_CHECK(none == NULL); /* absent: false, out-parameter untouched */
        H_CHECK(midge_connack_user_property_count(ack) == 0);
        const char *k = NULL, *v = NULL;
        H_CHECK_RC(midge_connack_user_property(ack, 0, &k, &v), MIDGE_RESULT_NOT_FOUND);
        H_CHECK(k == NULL && v == NULL); /* out-parameters untouched on failure */
        uint32_t max_packet = 0, expiry = 0;
        uint16_t server_keep_alive = 0;
        bool has_max_packet = midge_connack_maximum_packet_size(ack, &max_packet);
        bool has_server_keep_alive = midge_connack_server_keep_alive(ack, &server_keep_alive);
        bool has_expiry = midge_connack_session_expiry_interval(ack, &expiry);
        h_note("maximum packet size %s%u, topic alias maximum %u, wildcard %d, sub ids %d, "
               "shared %d, server keep alive %s%u, session expiry %s%u",
               has_max_packet ? "" : "(absent) ", (unsigned)max_packet,
               (unsigned)midge_connack_topic_alias_maximum(ack),
               (int)midge_connack_wildcard_subscription_available(ack),
               (int)midge_connack_subscription_identifiers_available(ack),
               (int)midge_connack_shared_subscription_available(ack),
               has_server_keep_alive ? "" : "(absent) ", (unsigned)server_keep_alive,
               has_expiry ? "" : "(absent) ", (unsigned)expiry);
        /* What the walk shows is exactly what was sent: the Assigned Client Identifier
         * and the Receive Maximum / Maximum QoS this broker is configured with. */
        size_t nprops = midge_connack_property_count(ack);
        bool saw_assigned = false, saw_receive_maximum = false;
        for (size_t i = 0; i < nprops; i++) {
            midge_property prop;
            H_CHECK_OK(midge_connack_property_at(ack, i, &prop));
            if (prop.id == MIDGE_PROPERTY_ASSIGNED_CLIENT_IDENTIFIER) {
                saw_assigned = strcmp(prop.string, assigned) == 0;
            }
            if (prop.id == MIDGE_PROPERTY_RECEIVE_MAXIMUM) saw_receive_maximum = prop.integer == 17;
            if (prop.id == MIDGE_PROPERTY_SERVER_KEEP_ALIVE) H_CHECK(has_server_keep_alive);
            if (prop.id == MIDGE_PROPERTY_MAXIMUM_PACKET_SIZE) H_CHECK(has_max_packet);
        }
        H_CHECK(saw_assigned && saw_receive_maximum);
        midge_property past;
        H_CHECK_RC(midge_connack_property_at(ack, nprops, &past), MIDGE_RESULT_NOT_FOUND);
        H_CHECK(midge_connack_wildcard_subscription_available(ack));
        H_CHECK(midge_connack_subscription_identifiers_available(ack));
        H_CHECK(midge_connack_shared_subscription_available(ack));

        /* The server's maximum QoS is enforced locally. */
        uint8_t code = 0xEE;
        H_CHECK_RC(midge_client_publish_wait(c, "t/q2", (const uint8_t *)"x", 1, 2, false, NULL,
                                             H_LONG_MS, &code),
                   MIDGE_RESULT_NOT_SUPPORTED);
        H_CHECK(code == 0xEE);
        H_CHECK_OK(midge_client_publish_wait(c, "t/q1", (const uint8_t *)"x", 1, 1, false, NULL,
                                             H_LONG_MS, &code));
        H_CHECK(code == 0x00 || code == 0x10);

        midge_connack_free(&ack);
        midge_connack_free(&ack); /* a second free does nothing */
        H_CHECK_OK(midge_client_disconnect_wait(c, 0, NULL, H_LONG_MS));
        midge_client_free(&c);
    }

    /* --- accepted, with our own client id: nothing assigned; the non-blocking connect */
    {
        midge_options *o = credentials("alice", "s3cret");
        H_CHECK_OK(midge_options_set_client_id(o, "c-test-connect"));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_options_free(&o);
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_connect(c, &done));
        H_CHECK(done != NULL);
        H_CHECK(midge_completion_id(done) != 0);
        H_CHECK_OK(midge_completion_wait(done, H_LONG_MS));
        H_CHECK_OK(midge_completion_poll(done));
        const midge_connack *ack = midge_completion_connack(done);
        H_CHECK(ack != NULL);
        H_CHECK(!midge_connack_assigned_client_id(ack, NULL));
        H_CHECK(midge_connack_receive_maximum(ack) == 17);
        H_CHECK(midge_connack_maximum_qos(ack) == 1);
        /* A lent CONNACK is not freed by midge_connack_free (the variable is emptied). */
        midge_connack *lent = (midge_connack *)ack;
        midge_connack_free(&lent);
        H_CHECK(lent == NULL);
        H_CHECK(midge_completion_connack(done) == ack);
        H_CHECK(midge_connack_receive_maximum(ack) == 17);
        midge_completion_free(&done);
        midge_client_free(&c); /* free while connected: DISCONNECT 0x00 and close */
    }

    /* --- wrong password: refused, 0x86 (bad user name or password) or 0x87 */
    {
        midge_options *o = credentials("alice", "wrong");
        H_CHECK_OK(midge_options_set_reconnect(o, true, 50, 100)); /* must not retry */
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_options_free(&o);
        midge_connack *ack = NULL;
        int64_t t0 = h_now_ms();
        H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, &ack), MIDGE_RESULT_CONNECTION_REFUSED);
        uint8_t code = 0;
        H_CHECK(midge_last_error_reason_code(&code));
        h_note("refused with reason code 0x%02X after %lld ms: %s", code,
               (long long)(h_now_ms() - t0), midge_last_error_message());
        H_CHECK(code == 0x86 || code == 0x87);
        H_CHECK(ack == NULL); /* not written on failure */
        H_CHECK(strlen(midge_last_error_message()) > 0);

        /* The non-blocking form: the completion has the refusal and its code. */
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_connect(c, &done));
        H_CHECK_RC(midge_completion_wait(done, H_LONG_MS), MIDGE_RESULT_CONNECTION_REFUSED);
        uint8_t rc = 0;
        const midge_ack *refusal = midge_completion_ack(done);
        H_CHECK(midge_ack_reason_code(refusal, &rc));
        H_CHECK(rc == 0x86 || rc == 0x87);
        H_CHECK_RC(midge_ack_result(refusal), MIDGE_RESULT_CONNECTION_REFUSED);
        H_CHECK(midge_ack_id(refusal) == midge_completion_id(done));
        H_CHECK(midge_completion_connack(done) == NULL);
        midge_completion_free(&done);
        midge_client_free(&c);
    }

    /* --- unknown user, and no credentials at all: refused too */
    {
        uint8_t code = 0;
        midge_options *o = credentials("mallory", "s3cret");
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(broker.url, o, &c));
        midge_options_free(&o);
        H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, NULL), MIDGE_RESULT_CONNECTION_REFUSED);
        code = 0;
        H_CHECK(midge_last_error_reason_code(&code));
        H_CHECK(code == 0x86 || code == 0x87);
        midge_client_free(&c);

        H_CHECK_OK(midge_client_new(broker.url, NULL, &c));
        H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, NULL), MIDGE_RESULT_CONNECTION_REFUSED);
        code = 0;
        H_CHECK(midge_last_error_reason_code(&code));
        H_CHECK(code == 0x86 || code == 0x87);
        midge_client_free(&c);
    }

    h_broker_stop(&broker);
    h_end();
    return 0;
}
