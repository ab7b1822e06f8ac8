/* 2. Last Will: published with its properties when the connection ends abruptly (a child
 * process connects with a will and _exit()s), not after DISCONNECT 0x00, and after
 * DISCONNECT 0x04 (Disconnect with Will Message). */
#include "harness.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const uint8_t CORRELATION[] = {0x00, 0x01, 0x02, 0xFF};

static midge_options *will_options(const char *client_id, const char *topic, const char *payload,
                                   bool with_properties) {
    midge_options *o = midge_options_new();
    H_CHECK(o != NULL);
    H_CHECK_OK(midge_options_set_client_id(o, client_id));
    midge_properties *p = NULL;
    if (with_properties) {
        p = midge_properties_new();
        H_CHECK(p != NULL);
        H_CHECK_OK(midge_properties_add_string(p, MIDGE_PROPERTY_CONTENT_TYPE, "text/plain"));
        H_CHECK_OK(midge_properties_add_string(p, MIDGE_PROPERTY_RESPONSE_TOPIC, "will/response"));
        H_CHECK_OK(midge_properties_add_binary(p, MIDGE_PROPERTY_CORRELATION_DATA, CORRELATION,
                                               sizeof CORRELATION));
        H_CHECK_OK(midge_properties_add_int(p, MIDGE_PROPERTY_PAYLOAD_FORMAT_INDICATOR, 1));
        H_CHECK_OK(midge_properties_add_int(p, MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL, 300));
        H_CHECK_OK(midge_properties_add_int(p, MIDGE_PROPERTY_WILL_DELAY_INTERVAL, 0));
        H_CHECK_OK(midge_properties_add_user_property(p, "who", "child"));
        H_CHECK_OK(midge_properties_add_user_property(p, "who", "again"));
    }
    H_CHECK_OK(midge_options_set_will(o, topic, (const uint8_t *)payload, strlen(payload), 1,
                                      false, p));
    midge_properties_free(&p); /* copied */
    return o;
}

/* The child: connects with a will, reports, waits for the go and dies without DISCONNECT. */
static void child_main(const char *url, int ready_fd, int go_fd) {
    midge_options *o = will_options("c-will-child", "will/abrupt", "gone", true);
    midge_client *c = h_connect(url, o);
    midge_options_free(&o);
    (void)c; /* never freed: _exit() ends the process with the connection open */
    char byte = 'r';
    H_CHECK(write(ready_fd, &byte, 1) == 1);
    H_CHECK(read(go_fd, &byte, 1) == 1);
    _exit(0);
}

int main(void) {
    h_begin("test_will");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);

    /* Fork before this process uses midge at all, so the child starts with no midge threads
     * or locks inherited. */
    int ready[2], go[2];
    H_CHECK(pipe(ready) == 0);
    H_CHECK(pipe(go) == 0);
    fflush(stdout);
    pid_t child = fork();
    H_CHECK(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(go[1]);
        child_main(broker.url, ready[1], go[0]);
    }
    close(ready[1]);
    close(go[0]);

    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *sub = h_connect_id(broker.url, "c-will-sub");
    H_CHECK_OK(midge_client_on_message(sub, h_inbox_on_message, &inbox, NULL));
    const char *filters[] = {"will/#"};
    const uint8_t opts[] = {1};
    uint8_t granted = 0xEE;
    H_CHECK_OK(midge_client_subscribe_wait(sub, filters, opts, 1, NULL, H_LONG_MS, &granted));
    H_CHECK(granted == 1);

    /* --- abrupt end: the child exits with the connection open */
    char byte = 0;
    H_CHECK(read(ready[0], &byte, 1) == 1); /* the child is connected */
    H_CHECK(write(go[1], "g", 1) == 1);
    int status = 0;
    H_CHECK(waitpid(child, &status, 0) == child);
    H_CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) h_note("child exit status %d", WEXITSTATUS(status));
    close(ready[0]);
    close(go[1]);

    midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
    H_CHECK(m != NULL);
    H_CHECK(strcmp(midge_message_topic(m), "will/abrupt") == 0);
    H_CHECK(h_payload_is_str(m, "gone"));
    H_CHECK(midge_message_qos(m) == 1);
    H_CHECK(!midge_message_retain(m));
    const char *text = NULL;
    H_CHECK(midge_message_content_type(m, &text));
    H_CHECK(strcmp(text, "text/plain") == 0);
    H_CHECK(midge_message_response_topic(m, &text));
    H_CHECK(strcmp(text, "will/response") == 0);
    size_t clen = 0;
    const uint8_t *cdata = NULL;
    H_CHECK(midge_message_correlation_data(m, &cdata, &clen));
    H_CHECK(cdata != NULL && clen == sizeof CORRELATION);
    H_CHECK(memcmp(cdata, CORRELATION, sizeof CORRELATION) == 0);
    uint8_t format = 0;
    H_CHECK(midge_message_payload_format(m, &format) && format == 1);
    uint32_t expiry = 0;
    H_CHECK(midge_message_message_expiry(m, &expiry));
    H_CHECK(expiry > 0 && expiry <= 300);
    H_CHECK(midge_message_user_property_count(m) == 2);
    const char *k = NULL, *v = NULL;
    H_CHECK_OK(midge_message_user_property(m, 0, &k, &v));
    H_CHECK(strcmp(k, "who") == 0 && strcmp(v, "child") == 0);
    H_CHECK_OK(midge_message_user_property(m, 1, &k, &v));
    H_CHECK(strcmp(k, "who") == 0 && strcmp(v, "again") == 0);
    H_CHECK_RC(midge_message_user_property(m, 2, &k, &v), MIDGE_RESULT_NOT_FOUND);
    midge_message_free(&m);

    /* --- DISCONNECT 0x00: no will. Then DISCONNECT 0x04: the will. The broker handled the
     * first client's DISCONNECT before the second client even connected, so if the first
     * will were (wrongly) published it would arrive first. */
    {
        midge_options *o = will_options("c-will-normal", "will/normal", "must-not-arrive", false);
        midge_client *c = h_connect(broker.url, o);
        midge_options_free(&o);
        H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
        midge_client_free(&c);
    }
    {
        midge_options *o = will_options("c-will-0x04", "will/normal", "will-0x04", false);
        midge_client *c = h_connect(broker.url, o);
        midge_options_free(&o);
        H_CHECK_OK(midge_client_disconnect_wait(c, 0x04, NULL, H_LONG_MS));
        midge_client_free(&c);
    }
    m = h_inbox_pop(&inbox, H_LONG_MS);
    H_CHECK(m != NULL);
    H_CHECK(strcmp(midge_message_topic(m), "will/normal") == 0);
    H_CHECK(h_payload_is_str(m, "will-0x04"));
    H_CHECK(!midge_message_content_type(m, NULL));
    H_CHECK(!midge_message_payload_format(m, NULL));
    H_CHECK(midge_message_user_property_count(m) == 0);
    midge_message_free(&m);

    /* --- a cleared will is not sent, even after DISCONNECT 0x04 */
    {
        midge_options *o = will_options("c-will-cleared", "will/normal", "cleared", false);
        H_CHECK_OK(midge_options_clear_will(o));
        midge_client *c = h_connect(broker.url, o);
        midge_options_free(&o);
        H_CHECK_OK(midge_client_disconnect_wait(c, 0x04, NULL, H_LONG_MS));
        midge_client_free(&c);
        /* A marker from the subscriber's own connection follows anything the broker
         * published for the cleared client. */
        H_CHECK_OK(midge_client_publish_wait(sub, "will/marker", (const uint8_t *)"m", 1, 1,
                                             false, NULL, H_LONG_MS, NULL));
        m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL);
        H_CHECK(strcmp(midge_message_topic(m), "will/marker") == 0);
        midge_message_free(&m);
    }

    midge_client_free(&sub);
    H_CHECK(h_inbox_total(&inbox) == 3);
    h_inbox_destroy(&inbox);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
