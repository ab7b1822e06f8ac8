/* 8. Every exported function with NULL arguments, a freed handle and a handle of another
 * type: MIDGE_RESULT_INVALID_ARGUMENT / NULL / 0, never a crash. Invalid UTF-8, a wildcard
 * in a publish topic, QoS 3, bad values; double free of every handle type; midge_result_str
 * for every value; midge_version(). */
#include "harness.h"

#include <string.h>

#define BAD MIDGE_RESULT_INVALID_ARGUMENT

static const uint8_t B[] = {1, 2, 3};

static void noop_drop(void *u) { (void)u; }

/* Every client function with this (bad) client handle. */
static void bad_client(midge_client *c) {
    const char *f[] = {"a"};
    const uint8_t o[] = {0};
    midge_completion *done = NULL;
    midge_connack *ack = NULL;
    midge_message *reply = NULL;
    midge_event *ev = NULL;
    uint8_t code = 0xEE;
    H_CHECK_RC(midge_client_connect(c, &done), BAD);
    H_CHECK_RC(midge_client_connect(c, NULL), BAD);
    H_CHECK_RC(midge_client_connect_wait(c, 10, &ack), BAD);
    H_CHECK_RC(midge_client_publish(c, "t", B, 3, 0, false, NULL, &done), BAD);
    H_CHECK_RC(midge_client_publish_wait(c, "t", B, 3, 1, false, NULL, 10, &code), BAD);
    H_CHECK_RC(midge_client_subscribe(c, f, o, 1, NULL, &done), BAD);
    H_CHECK_RC(midge_client_subscribe_wait(c, f, o, 1, NULL, 10, &code), BAD);
    H_CHECK_RC(midge_client_unsubscribe(c, f, 1, NULL, &done), BAD);
    H_CHECK_RC(midge_client_unsubscribe_wait(c, f, 1, NULL, 10, &code), BAD);
    H_CHECK_RC(midge_client_disconnect(c, 0, NULL, &done), BAD);
    H_CHECK_RC(midge_client_disconnect_wait(c, 0, NULL, 10), BAD);
    H_CHECK_RC(midge_client_reauthenticate(c, &done), BAD);
    H_CHECK_RC(midge_client_request(c, "t", B, 3, 1, "r", 10, &reply), BAD);
    H_CHECK_RC(midge_client_next_event(c, 0, &ev), BAD);
    H_CHECK_RC(midge_client_on_connect(c, NULL, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_on_connection_lost(c, NULL, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_on_message(c, h_inbox_on_message, NULL, noop_drop), BAD);
    H_CHECK_RC(midge_client_on_publish(c, NULL, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_on_subscribe(c, NULL, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_on_unsubscribe(c, NULL, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_on_log(c, NULL, NULL, NULL), BAD);
    midge_io_stats stats = {7, 0, 0, 0};
    H_CHECK_RC(midge_client_io_stats(c, &stats), BAD);
    H_CHECK(stats.writes == 7);
    H_CHECK(done == NULL && ack == NULL && reply == NULL && ev == NULL && code == 0xEE);
    midge_client_free(&c);
}

static void bad_options(midge_options *o) {
    H_CHECK_RC(midge_options_set_client_id(o, "x"), BAD);
    H_CHECK_RC(midge_options_set_clean_start(o, true), BAD);
    H_CHECK_RC(midge_options_set_keep_alive(o, 10), BAD);
    H_CHECK_RC(midge_options_set_session_expiry(o, 10), BAD);
    H_CHECK_RC(midge_options_set_username(o, "u"), BAD);
    H_CHECK_RC(midge_options_set_password(o, B, 3), BAD);
    H_CHECK_RC(midge_options_set_will(o, "w", B, 3, 0, false, NULL), BAD);
    H_CHECK_RC(midge_options_clear_will(o), BAD);
    H_CHECK_RC(midge_options_set_receive_maximum(o, 10), BAD);
    H_CHECK_RC(midge_options_set_maximum_packet_size(o, 1000), BAD);
    H_CHECK_RC(midge_options_set_topic_alias_maximum(o, 1), BAD);
    H_CHECK_RC(midge_options_set_request_response_information(o, true), BAD);
    H_CHECK_RC(midge_options_set_request_problem_information(o, true), BAD);
    H_CHECK_RC(midge_options_add_user_property(o, "k", "v"), BAD);
    H_CHECK_RC(midge_options_set_auto_topic_alias(o, true), BAD);
    H_CHECK_RC(midge_options_set_offline_queue(o, 1, 1), BAD);
    H_CHECK_RC(midge_options_set_resubscribe(o, true), BAD);
    H_CHECK_RC(midge_options_set_connack_timeout(o, 1), BAD);
    H_CHECK_RC(midge_options_set_connect_timeout(o, 1), BAD);
    H_CHECK_RC(midge_options_set_reconnect(o, true, 1, 2), BAD);
    H_CHECK_RC(midge_options_set_tcp_nodelay(o, true), BAD);
    H_CHECK_RC(midge_options_set_event_queue_limit(o, 1), BAD);
    H_CHECK_RC(midge_options_set_log_level(o, 1), BAD);
    H_CHECK_RC(midge_options_set_busy_poll(o, 100), BAD);
    H_CHECK_RC(midge_options_set_linger(o, 100), BAD);
    H_CHECK_RC(midge_options_set_authenticator(o, "m", NULL, 0, NULL, NULL, NULL), BAD);
    midge_client *c = NULL;
    if (o != NULL) {
        H_CHECK_RC(midge_client_new("mqtt://127.0.0.1:1", o, &c), BAD);
        H_CHECK(c == NULL);
    }
    midge_options_free(&o);
}

static void bad_properties(midge_properties *p) {
    H_CHECK_RC(midge_properties_add_int(p, MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL, 1), BAD);
    H_CHECK_RC(midge_properties_add_string(p, MIDGE_PROPERTY_CONTENT_TYPE, "x"), BAD);
    H_CHECK_RC(midge_properties_add_binary(p, MIDGE_PROPERTY_CORRELATION_DATA, B, 3), BAD);
    H_CHECK_RC(midge_properties_add_user_property(p, "k", "v"), BAD);
    H_CHECK_RC(midge_properties_clear(p), BAD);
    H_CHECK(midge_properties_count(p) == 0);
    if (p != NULL) {
        midge_completion *done = NULL;
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new("mqtt://127.0.0.1:1", NULL, &c));
        H_CHECK_RC(midge_client_publish(c, "t", B, 3, 0, false, p, &done), BAD);
        H_CHECK(done == NULL);
        midge_options *o = midge_options_new();
        H_CHECK_RC(midge_options_set_will(o, "w", B, 3, 0, false, p), BAD);
        midge_options_free(&o);
        midge_client_free(&c);
    }
    midge_properties_free(&p);
}

static void bad_completion(midge_completion *d) {
    H_CHECK(midge_completion_id(d) == 0);
    H_CHECK_RC(midge_completion_wait(d, 10), BAD);
    H_CHECK_RC(midge_completion_poll(d), BAD);
    H_CHECK(midge_completion_ack(d) == NULL);
    H_CHECK(midge_completion_connack(d) == NULL);
    midge_completion_free(&d);
}

static void bad_event(midge_event *e) {
    int level = 99;
    H_CHECK(midge_event_kind_of(e) == 0);
    H_CHECK(midge_event_connack(e) == NULL);
    H_CHECK(midge_event_disconnect(e) == NULL);
    H_CHECK(midge_event_message(e) == NULL);
    H_CHECK(midge_event_ack(e) == NULL);
    H_CHECK(midge_event_count(e) == 0);
    H_CHECK(midge_event_log(e, &level) == NULL);
    H_CHECK(level == 99);
    midge_event_free(&e);
}

static void null_lent(void) {
    /* Lent objects (messages, CONNACKs, causes, acks) are looked up like owned ones: NULL is
     * a dead handle. Optional values answer false and leave the out-parameter alone. */
    size_t n = 99;
    uint32_t u = 7;
    uint16_t u16 = 7;
    uint8_t u8 = 7;
    int i = 7;
    const char *k = NULL, *v = NULL, *s = NULL;
    const uint8_t *d = NULL;
    midge_property prop;
    memset(&prop, 0x5A, sizeof prop);
    H_CHECK(midge_message_topic(NULL) == NULL);
    H_CHECK(midge_message_payload(NULL, &n) == NULL);
    H_CHECK(midge_message_qos(NULL) == -1);
    H_CHECK(!midge_message_retain(NULL));
    H_CHECK(!midge_message_dup(NULL));
    midge_message_fields fields;
    memset(&fields, 0x5A, sizeof fields);
    midge_message_fields untouched = fields;
    H_CHECK_RC(midge_message_get_fields(NULL, &fields), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(memcmp(&fields, &untouched, sizeof fields) == 0);
    H_CHECK(!midge_message_packet_id(NULL, &u16));
    H_CHECK(!midge_message_payload_format(NULL, &u8));
    H_CHECK(!midge_message_message_expiry(NULL, &u));
    H_CHECK(!midge_message_content_type(NULL, &s));
    H_CHECK(!midge_message_response_topic(NULL, &s));
    H_CHECK(!midge_message_correlation_data(NULL, &d, &n));
    H_CHECK(midge_message_user_property_count(NULL) == 0);
    H_CHECK_RC(midge_message_user_property(NULL, 0, &k, &v), BAD);
    H_CHECK(midge_message_property_count(NULL) == 0);
    H_CHECK_RC(midge_message_property_at(NULL, 0, &prop), BAD);
    H_CHECK(midge_message_subscription_identifier_count(NULL) == 0);
    H_CHECK_RC(midge_message_subscription_identifier(NULL, 0, &u), BAD);
    H_CHECK(midge_message_clone(NULL) == NULL);
    midge_message_free(NULL);
    midge_message *no_message = NULL;
    midge_message_free(&no_message);

    H_CHECK(!midge_connack_session_present(NULL));
    H_CHECK(!midge_connack_assigned_client_id(NULL, &s));
    H_CHECK(midge_connack_keep_alive(NULL) == 0);
    H_CHECK(!midge_connack_server_keep_alive(NULL, &u16));
    H_CHECK(!midge_connack_session_expiry_interval(NULL, &u));
    H_CHECK(midge_connack_receive_maximum(NULL) == 0);
    H_CHECK(midge_connack_maximum_qos(NULL) == -1);
    H_CHECK(!midge_connack_retain_available(NULL));
    H_CHECK(!midge_connack_maximum_packet_size(NULL, &u));
    H_CHECK(midge_connack_topic_alias_maximum(NULL) == 0);
    H_CHECK(!midge_connack_wildcard_subscription_available(NULL));
    H_CHECK(!midge_connack_subscription_identifiers_available(NULL));
    H_CHECK(!midge_connack_shared_subscription_available(NULL));
    H_CHECK(!midge_connack_reason_string(NULL, &s));
    H_CHECK(!midge_connack_server_reference(NULL, &s));
    H_CHECK(!midge_connack_response_information(NULL, &s));
    H_CHECK(!midge_connack_authentication_method(NULL, &s));
    H_CHECK(!midge_connack_authentication_data(NULL, &d, &n));
    H_CHECK(midge_connack_user_property_count(NULL) == 0);
    H_CHECK_RC(midge_connack_user_property(NULL, 0, &k, &v), BAD);
    H_CHECK(midge_connack_property_count(NULL) == 0);
    H_CHECK_RC(midge_connack_property_at(NULL, 0, &prop), BAD);
    H_CHECK(midge_connack_clone(NULL) == NULL);
    midge_connack_free(NULL);

    H_CHECK(midge_disconnect_kind_of(NULL) == 0);
    H_CHECK(!midge_disconnect_reason_code(NULL, &u8));
    H_CHECK(!midge_disconnect_reason_string(NULL, &s));
    H_CHECK(!midge_disconnect_server_reference(NULL, &s));
    H_CHECK(!midge_disconnect_errno(NULL, &i));
    H_CHECK(midge_disconnect_detail(NULL) == NULL);
    H_CHECK(midge_disconnect_user_property_count(NULL) == 0);
    H_CHECK_RC(midge_disconnect_user_property(NULL, 0, &k, &v), BAD);
    H_CHECK(midge_disconnect_property_count(NULL) == 0);
    H_CHECK_RC(midge_disconnect_property_at(NULL, 0, &prop), BAD);

    H_CHECK(midge_ack_id(NULL) == 0);
    H_CHECK_RC(midge_ack_result(NULL), BAD);
    H_CHECK(!midge_ack_packet_id(NULL, &u16));
    H_CHECK(!midge_ack_reason_code(NULL, &u8));
    H_CHECK(midge_ack_reason_codes(NULL, &n) == NULL);
    H_CHECK(n == 0);
    H_CHECK(!midge_ack_reason_string(NULL, &s));
    H_CHECK(midge_ack_user_property_count(NULL) == 0);
    H_CHECK_RC(midge_ack_user_property(NULL, 0, &k, &v), BAD);
    H_CHECK(midge_ack_property_count(NULL) == 0);
    H_CHECK_RC(midge_ack_property_at(NULL, 0, &prop), BAD);

    /* Nothing was written on the way. */
    H_CHECK(u == 7 && u16 == 7 && u8 == 7 && i == 7);
    H_CHECK(k == NULL && v == NULL && s == NULL && d == NULL);
    uint8_t pattern[sizeof prop];
    memset(pattern, 0x5A, sizeof pattern);
    H_CHECK(memcmp(&prop, pattern, sizeof prop) == 0);

    H_CHECK_RC(midge_auth_response_set(NULL, B, 3), BAD);
}

int main(void) {
    h_begin("test_arguments");

    /* --- property names (table 2-4) for printing what a walk returns */
    H_CHECK(strcmp(midge_property_name(0x21), "Receive Maximum") == 0);
    H_CHECK(strcmp(midge_property_name(0x26), "User Property") == 0);
    H_CHECK(strcmp(midge_property_name(0x00), "unknown") == 0);

    /* --- topic checks without a client (4.7), with the same words as a publish/subscribe */
    H_CHECK_OK(midge_topic_name_check("sensors/t1"));
    H_CHECK_RC(midge_topic_name_check("sensors/#"), MIDGE_RESULT_INVALID_TOPIC);
    H_CHECK(strstr(midge_last_error_message(), "wildcard") != NULL);
    H_CHECK_RC(midge_topic_name_check(""), MIDGE_RESULT_INVALID_TOPIC);
    H_CHECK_RC(midge_topic_name_check(NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_topic_name_check("\xff"), MIDGE_RESULT_INVALID_UTF8);
    H_CHECK_OK(midge_topic_filter_check("sensors/+/t/#"));
    H_CHECK_OK(midge_topic_filter_check("$share/group/sensors/#"));
    H_CHECK_RC(midge_topic_filter_check("a/#/b"), MIDGE_RESULT_INVALID_TOPIC);
    H_CHECK_RC(midge_topic_filter_check("a/b+"), MIDGE_RESULT_INVALID_TOPIC);
    H_CHECK_RC(midge_topic_filter_check(NULL), MIDGE_RESULT_INVALID_ARGUMENT);

    /* --- version and result texts */
    H_CHECK(midge_version() == MIDGE_VERSION_NUMBER);
    H_CHECK(MIDGE_VERSION_NUMBER ==
            (MIDGE_VERSION_MAJOR << 16 | MIDGE_VERSION_MINOR << 8 | MIDGE_VERSION_PATCH));
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", MIDGE_VERSION_MAJOR, MIDGE_VERSION_MINOR,
             MIDGE_VERSION_PATCH);
    H_CHECK(strcmp(midge_version_string(), version) == 0);
    /* The last result defined: results are appended, so this moves with them. */
    enum { LAST_RESULT = MIDGE_RESULT_STORE };
    const char *texts[LAST_RESULT + 1];
    for (int r = MIDGE_RESULT_OK; r <= LAST_RESULT; r++) {
        texts[r] = midge_result_str(r);
        H_CHECK(texts[r] != NULL && texts[r][0] != '\0');
        H_CHECK(strcmp(texts[r], "unknown result") != 0);
        for (int q = 0; q < r; q++) H_CHECK(strcmp(texts[q], texts[r]) != 0);
    }
    const int unknown[] = {-1, LAST_RESULT + 1, 1000, -2147483647 - 1, 2147483647};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        H_CHECK(strcmp(midge_result_str(unknown[i]), "unknown result") == 0);
    }
    H_CHECK(midge_last_error_message() != NULL);

    /* --- NULL everywhere */
    bad_client(NULL);
    bad_options(NULL);
    bad_properties(NULL);
    bad_completion(NULL);
    bad_event(NULL);
    null_lent();
    H_CHECK(strstr(midge_last_error_message(), "NULL") != NULL);

    /* --- live handles, NULL in the other arguments */
    midge_options *o = midge_options_new();
    midge_properties *p = midge_properties_new();
    H_CHECK(o != NULL && p != NULL);
    midge_client *c = NULL;
    H_CHECK_RC(midge_client_new(NULL, o, &c), BAD);
    H_CHECK_RC(midge_client_new("mqtt://127.0.0.1:1", o, NULL), BAD);
    H_CHECK_RC(midge_client_new("nonsense://x", o, &c), MIDGE_RESULT_INVALID_ADDRESS);
    H_CHECK_RC(midge_client_new("mqtt://127.0.0.1:99999", o, &c), MIDGE_RESULT_INVALID_ADDRESS);
    H_CHECK_RC(midge_client_new("\xff\xfe", o, &c), MIDGE_RESULT_INVALID_UTF8);
    H_CHECK(c == NULL);
    H_CHECK_OK(midge_client_new("mqtt://127.0.0.1:1", o, &c));
    const char *f[] = {"a"};
    const char *nullf[] = {NULL};
    const uint8_t qos0[] = {0};
    midge_event *ev = NULL;
    midge_message *reply = NULL;
    H_CHECK_RC(midge_client_publish(c, NULL, B, 3, 0, false, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_publish(c, "t", NULL, 3, 0, false, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_publish_wait(c, NULL, B, 3, 0, false, NULL, 10, NULL), BAD);
    H_CHECK_RC(midge_client_subscribe(c, NULL, qos0, 1, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_subscribe(c, f, NULL, 1, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_subscribe(c, nullf, qos0, 1, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_subscribe_wait(c, NULL, qos0, 1, NULL, 10, NULL), BAD);
    H_CHECK_RC(midge_client_unsubscribe(c, NULL, 1, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_unsubscribe(c, nullf, 1, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_unsubscribe_wait(c, NULL, 1, NULL, 10, NULL), BAD);
    H_CHECK(midge_client_subscribe(c, f, qos0, 0, NULL, NULL) != MIDGE_RESULT_OK);   /* none */
    H_CHECK(midge_client_unsubscribe(c, f, 0, NULL, NULL) != MIDGE_RESULT_OK);
    H_CHECK_RC(midge_client_request(c, "t", B, 3, 1, "r", 10, NULL), BAD);
    H_CHECK_RC(midge_client_request(c, NULL, B, 3, 1, "r", 10, &reply), BAD);
    H_CHECK_RC(midge_client_request(c, "t", B, 3, 1, NULL, 10, &reply), BAD);
    H_CHECK_RC(midge_client_next_event(c, 0, NULL), BAD);
    H_CHECK_RC(midge_client_io_stats(c, NULL), BAD);
    H_CHECK_RC(midge_client_disconnect(c, 0x05, NULL, NULL), BAD); /* not a DISCONNECT code */
    H_CHECK_RC(midge_client_disconnect(c, -1, NULL, NULL), BAD);
    H_CHECK_RC(midge_client_disconnect(c, 256, NULL, NULL), BAD);
    H_CHECK(reply == NULL && ev == NULL);

    /* --- invalid UTF-8, wildcards, QoS 3 */
    const char bad_utf8[] = {'a', '/', (char)0xC3, (char)0x28, 0};
    H_CHECK_RC(midge_client_publish(c, bad_utf8, B, 3, 0, false, NULL, NULL),
               MIDGE_RESULT_INVALID_UTF8);
    H_CHECK(strlen(midge_last_error_message()) > 0);
    H_CHECK_RC(midge_client_publish_wait(c, bad_utf8, B, 3, 1, false, NULL, 10, NULL),
               MIDGE_RESULT_INVALID_UTF8);
    const char *badf[] = {bad_utf8};
    H_CHECK_RC(midge_client_subscribe(c, badf, qos0, 1, NULL, NULL), MIDGE_RESULT_INVALID_UTF8);
    H_CHECK_RC(midge_client_unsubscribe(c, badf, 1, NULL, NULL), MIDGE_RESULT_INVALID_UTF8);
    H_CHECK_RC(midge_options_set_client_id(o, bad_utf8), MIDGE_RESULT_INVALID_UTF8);
    H_CHECK_RC(midge_options_set_username(o, bad_utf8), MIDGE_RESULT_INVALID_UTF8);
    H_CHECK_RC(midge_properties_add_string(p, MIDGE_PROPERTY_CONTENT_TYPE, bad_utf8),
               MIDGE_RESULT_INVALID_UTF8);
    H_CHECK_RC(midge_properties_add_user_property(p, bad_utf8, "v"), MIDGE_RESULT_INVALID_UTF8);
    const char *wild[] = {"a/+", "a/#", "#", "+", "a/b+"};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++) {
        H_CHECK_RC(midge_client_publish(c, wild[i], B, 3, 0, false, NULL, NULL),
                   MIDGE_RESULT_INVALID_TOPIC);
        H_CHECK_RC(midge_client_publish_wait(c, wild[i], B, 3, 1, false, NULL, 10, NULL),
                   MIDGE_RESULT_INVALID_TOPIC);
    }
    H_CHECK_RC(midge_client_publish(c, "", B, 3, 0, false, NULL, NULL), MIDGE_RESULT_INVALID_TOPIC);
    H_CHECK_RC(midge_options_set_will(o, "w/#", B, 3, 0, false, NULL), MIDGE_RESULT_INVALID_TOPIC);
    const int bad_qos[] = {3, -1, 100};
    for (int i = 0; i < 3; i++) {
        H_CHECK_RC(midge_client_publish(c, "t", B, 3, bad_qos[i], false, NULL, NULL), BAD);
        H_CHECK_RC(midge_client_publish_wait(c, "t", B, 3, bad_qos[i], false, NULL, 10, NULL), BAD);
        H_CHECK_RC(midge_client_request(c, "t", B, 3, bad_qos[i], "r", 10, &reply), BAD);
        H_CHECK_RC(midge_options_set_will(o, "w", B, 3, bad_qos[i], false, NULL), BAD);
    }
    const uint8_t qos3[] = {3};
    H_CHECK_RC(midge_client_subscribe(c, f, qos3, 1, NULL, NULL), BAD);

    /* --- bad values for options and properties */
    H_CHECK_RC(midge_options_set_receive_maximum(o, 0), BAD);
    H_CHECK_RC(midge_options_set_log_level(o, 5), BAD);
    H_CHECK_RC(midge_options_set_log_level(o, -1), BAD);
    H_CHECK_RC(midge_options_set_event_queue_limit(o, 0), BAD);
    H_CHECK_RC(midge_options_set_busy_poll(o, 10001), BAD);
    H_CHECK_OK(midge_options_set_busy_poll(o, 10000));
    H_CHECK_OK(midge_options_set_busy_poll(o, 0));
    H_CHECK_RC(midge_options_set_linger(o, 10001), BAD);
    H_CHECK_OK(midge_options_set_linger(o, 10000));
    H_CHECK_OK(midge_options_set_linger(o, 0));
    H_CHECK_OK(midge_options_set_password(o, NULL, 3)); /* NULL removes it, whatever the length */
    H_CHECK_OK(midge_options_set_password(o, NULL, 0)); /* removes it */
    H_CHECK_RC(midge_properties_add_int(p, 0, 1), BAD);
    H_CHECK_RC(midge_properties_add_int(p, 0x7F, 1), BAD);
    H_CHECK_RC(midge_properties_add_int(p, MIDGE_PROPERTY_CONTENT_TYPE, 1), BAD);
    H_CHECK_RC(midge_properties_add_int(p, MIDGE_PROPERTY_PAYLOAD_FORMAT_INDICATOR, 2), BAD);
    H_CHECK_RC(midge_properties_add_int(p, MIDGE_PROPERTY_RECEIVE_MAXIMUM, 70000), BAD);
    H_CHECK_RC(midge_properties_add_string(p, MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL, "x"), BAD);
    H_CHECK_RC(midge_properties_add_string(p, MIDGE_PROPERTY_CONTENT_TYPE, NULL), BAD);
    H_CHECK_RC(midge_properties_add_binary(p, MIDGE_PROPERTY_CONTENT_TYPE, B, 3), BAD);
    H_CHECK_RC(midge_properties_add_binary(p, MIDGE_PROPERTY_CORRELATION_DATA, NULL, 3), BAD);
    H_CHECK_RC(midge_properties_add_user_property(p, NULL, "v"), BAD);
    H_CHECK_RC(midge_properties_add_user_property(p, "k", NULL), BAD);
    H_CHECK(midge_properties_count(p) == 0);
    /* a property not allowed in PUBLISH */
    H_CHECK_OK(midge_properties_add_int(p, MIDGE_PROPERTY_SESSION_EXPIRY_INTERVAL, 10));
    H_CHECK(midge_properties_count(p) == 1);
    H_CHECK_RC(midge_client_publish(c, "t", B, 3, 0, false, p, NULL), MIDGE_RESULT_INVALID_PROPERTY);
    H_CHECK_OK(midge_properties_clear(p));
    H_CHECK(midge_properties_count(p) == 0);

    /* --- wrong handle types */
    bad_client((midge_client *)o);
    bad_client((midge_client *)p);
    bad_options((midge_options *)c);
    bad_properties((midge_properties *)c);
    bad_completion((midge_completion *)c);
    bad_event((midge_event *)o);
    /* ... and the objects are still alive and well */
    H_CHECK_OK(midge_options_set_keep_alive(o, 5));
    H_CHECK_OK(midge_properties_add_user_property(p, "k", "v"));
    H_CHECK(midge_properties_count(p) == 1);
    H_CHECK_RC(midge_client_next_event(c, 0, &ev), MIDGE_RESULT_TIMEOUT);

    /* --- freed handles, and double frees of every handle type: _free empties the variable,
     * a second free through it finds NULL, and a stale copy is a dead handle */
    midge_completion *done = NULL;
    H_CHECK_OK(midge_client_publish(c, "t", B, 3, 0, false, NULL, &done)); /* offline queue */
    H_CHECK(done != NULL);
    midge_client *stale_c = c;
    midge_client_free(&c);
    H_CHECK(c == NULL);
    midge_client_free(&c);
    bad_client(stale_c);
    H_CHECK_RC(midge_completion_wait(done, H_LONG_MS), MIDGE_RESULT_CLOSED);
    midge_completion *stale_done = done;
    midge_completion_free(&done);
    H_CHECK(done == NULL);
    bad_completion(stale_done);
    midge_options *stale_o = o;
    midge_options_free(&o);
    H_CHECK(o == NULL);
    bad_options(stale_o);
    midge_properties *stale_p = p;
    midge_properties_free(&p);
    H_CHECK(p == NULL);
    bad_properties(stale_p);

    /* events, CONNACKs and messages need a broker */
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    H_CHECK_OK(midge_client_new(broker.url, NULL, &c));
    midge_connack *ack = NULL;
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, &ack));
    H_CHECK(midge_connack_receive_maximum(ack) > 0);
    midge_connack_free(&ack);
    midge_connack_free(&ack);
    ev = NULL;
    H_CHECK_OK(midge_client_next_event(c, H_LONG_MS, &ev)); /* CONNECTED */
    H_CHECK(midge_event_kind_of(ev) == MIDGE_EVENT_CONNECTED);
    const uint8_t q1[] = {1};
    const char *t[] = {"args/t"};
    H_CHECK_OK(midge_client_subscribe_wait(c, t, q1, 1, NULL, H_LONG_MS, NULL));
    H_CHECK_OK(midge_client_publish_wait(c, "args/t", B, 3, 1, false, NULL, H_LONG_MS, NULL));
    midge_event *mev = NULL;
    for (;;) {
        H_CHECK_OK(midge_client_next_event(c, H_LONG_MS, &mev));
        if (midge_event_kind_of(mev) == MIDGE_EVENT_MESSAGE) break;
        midge_event_free(&mev);
    }
    midge_message *m1 = midge_message_clone(midge_event_message(mev));
    midge_message *m2 = midge_message_clone(m1);
    H_CHECK(m1 != NULL && m2 != NULL && m1 != m2);
    const midge_message *lent = midge_event_message(mev);
    midge_event *stale_mev = mev;
    midge_event_free(&mev);
    H_CHECK(mev == NULL);
    bad_event(stale_mev);
    H_CHECK(midge_message_topic(lent) == NULL); /* lent by the event: gone with it */
    midge_message_fields gone, gone_before;
    memset(&gone, 0x5A, sizeof gone);
    gone_before = gone;
    H_CHECK_RC(midge_message_get_fields(lent, &gone), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(memcmp(&gone, &gone_before, sizeof gone) == 0); /* left as it was */
    H_CHECK_RC(midge_message_get_fields(m2, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    bad_event(ev == NULL ? NULL : (midge_event *)c); /* a client is not an event */
    H_CHECK(h_payload_is(m1, B, 3));
    midge_message_free(&m1);
    midge_message_free(&m1); /* freed already: ignored */
    H_CHECK(h_payload_is(m2, B, 3)); /* the other clone is untouched */
    midge_message_free(&m2);
    midge_message_free(&m2); /* freed already: ignored */
    midge_event *stale_ev = ev;
    midge_event_free(&ev);
    midge_event_free(&ev);
    bad_event(stale_ev);
    midge_client_free(&c);
    h_broker_stop(&broker);

    /* --- every reason code of the standard's table 2-6 has its name, others "unknown" */
    static const struct { uint8_t code; const char *name; } table[] = {
        {0x00, "Success"}, {0x01, "Granted QoS 1"}, {0x02, "Granted QoS 2"},
        {0x04, "Disconnect with Will Message"}, {0x10, "No matching subscribers"},
        {0x11, "No subscription existed"}, {0x18, "Continue authentication"},
        {0x19, "Re-authenticate"}, {0x80, "Unspecified error"}, {0x81, "Malformed Packet"},
        {0x82, "Protocol Error"}, {0x83, "Implementation specific error"},
        {0x84, "Unsupported Protocol Version"}, {0x85, "Client Identifier not valid"},
        {0x86, "Bad User Name or Password"}, {0x87, "Not authorized"},
        {0x88, "Server unavailable"}, {0x89, "Server busy"}, {0x8A, "Banned"},
        {0x8B, "Server shutting down"}, {0x8C, "Bad authentication method"},
        {0x8D, "Keep Alive timeout"}, {0x8E, "Session taken over"},
        {0x8F, "Topic Filter invalid"}, {0x90, "Topic Name invalid"},
        {0x91, "Packet Identifier in use"}, {0x92, "Packet Identifier not found"},
        {0x93, "Receive Maximum exceeded"}, {0x94, "Topic Alias invalid"},
        {0x95, "Packet too large"}, {0x96, "Message rate too high"},
        {0x97, "Quota exceeded"}, {0x98, "Administrative action"},
        {0x99, "Payload format invalid"}, {0x9A, "Retain not supported"},
        {0x9B, "QoS not supported"}, {0x9C, "Use another server"}, {0x9D, "Server moved"},
        {0x9E, "Shared Subscriptions not supported"}, {0x9F, "Connection rate exceeded"},
        {0xA0, "Maximum connect time"}, {0xA1, "Subscription Identifiers not supported"},
        {0xA2, "Wildcard Subscriptions not supported"},
    };
    for (int code = 0; code <= 255; code++) {
        const char *want = "unknown";
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            if (table[i].code == code) want = table[i].name;
        }
        H_CHECK(strcmp(midge_reason_code_str((uint8_t)code), want) == 0);
    }

    h_end();
    return 0;
}
