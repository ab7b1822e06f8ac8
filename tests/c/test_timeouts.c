/* 6. Blocking calls time out within their bound: connect_wait against a server that accepts
 * TCP and never answers (TIMEOUT, or DISCONNECTED once a short CONNACK timeout ends the
 * attempt); publish_wait QoS 1 while the broker is SIGSTOP'ed (TIMEOUT; the publish goes on
 * after SIGCONT); freeing a client ends its pending work promptly. */
#include "harness.h"

#include <string.h>

/* Slack for scheduling (and valgrind) on top of a requested timeout. */
#define SLACK_MS 3000

static midge_client *silent_client(const char *url, uint32_t connack_timeout_ms) {
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_reconnect(o, false, 100, 1000));
    if (connack_timeout_ms > 0) H_CHECK_OK(midge_options_set_connack_timeout(o, connack_timeout_ms));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(url, o, &c));
    midge_options_free(&o);
    return c;
}

typedef struct blocked_call {
    midge_client *client;
    int rc;
    int64_t returned_at;
    int done;
} blocked_call;

static void *connect_wait_thread(void *arg) {
    blocked_call *b = (blocked_call *)arg;
    b->rc = (int)midge_client_connect_wait(b->client, 8000, NULL);
    b->returned_at = h_now_ms();
    __atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

int main(void) {
    h_begin("test_timeouts");
    h_silent silent;
    h_silent_start(&silent);

    /* --- connect_wait: TIMEOUT after its own timeout */
    {
        midge_client *c = silent_client(silent.url, 0);
        int64_t t0 = h_now_ms();
        midge_connack *ack = NULL;
        H_CHECK_RC(midge_client_connect_wait(c, 300, &ack), MIDGE_RESULT_TIMEOUT);
        int64_t took = h_now_ms() - t0;
        h_note("connect_wait(300 ms) timed out after %lld ms", (long long)took);
        H_CHECK(took >= 290 && took < 300 + SLACK_MS);
        H_CHECK(ack == NULL);
        H_WAIT_UNTIL(h_silent_accepted(&silent) >= 1, H_LONG_MS);
        /* the attempt goes on: a completion for it is pending */
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_connect(c, &done));
        H_CHECK_RC(midge_completion_poll(done), MIDGE_RESULT_PENDING);
        t0 = h_now_ms();
        H_CHECK_RC(midge_completion_wait(done, 100), MIDGE_RESULT_TIMEOUT);
        took = h_now_ms() - t0;
        H_CHECK(took >= 95 && took < 100 + SLACK_MS);
        /* free while connecting: prompt, and the completion ends CLOSED */
        t0 = h_now_ms();
        midge_client_free(&c);
        took = h_now_ms() - t0;
        h_note("free while connecting took %lld ms", (long long)took);
        H_CHECK(took < SLACK_MS);
        /* the pending connect ends (CLOSED; midge says DISCONNECTED, client-initiated) */
        int rc = (int)midge_completion_wait(done, H_LONG_MS);
        H_CHECK(rc == MIDGE_RESULT_CLOSED || rc == MIDGE_RESULT_DISCONNECTED);
        midge_completion_free(&done);
    }

    /* --- a short CONNACK timeout ends the attempt: DISCONNECTED, before connect_wait's own */
    {
        midge_client *c = silent_client(silent.url, 200);
        int64_t t0 = h_now_ms();
        H_CHECK_RC(midge_client_connect_wait(c, 20000, NULL), MIDGE_RESULT_DISCONNECTED);
        int64_t took = h_now_ms() - t0;
        h_note("CONNACK timeout 200 ms: connect_wait returned after %lld ms (%s)",
               (long long)took, midge_last_error_message());
        H_CHECK(took >= 190 && took < 200 + SLACK_MS);
        midge_client_free(&c);
    }

    /* --- a connect_wait blocked in another thread ends (CLOSED) when the client is freed */
    {
        blocked_call b;
        memset(&b, 0, sizeof b);
        b.client = silent_client(silent.url, 0);
        /* Counted before the thread starts: it may connect before this thread looks. */
        int before = h_silent_accepted(&silent);
        pthread_t th;
        H_CHECK(pthread_create(&th, NULL, connect_wait_thread, &b) == 0);
        H_WAIT_UNTIL(h_silent_accepted(&silent) > before, H_LONG_MS); /* it is connecting */
        int64_t t0 = h_now_ms();
        midge_client_free(&b.client);
        H_WAIT_UNTIL(__atomic_load_n(&b.done, __ATOMIC_SEQ_CST) == 1, 8000 + SLACK_MS);
        pthread_join(th, NULL);
        int64_t took = b.returned_at - t0;
        h_note("connect_wait in another thread returned %d (%s) %lld ms after the free", b.rc,
               midge_result_str(b.rc), (long long)took);
        H_CHECK_RC(b.rc, MIDGE_RESULT_CLOSED);
        H_CHECK(took < SLACK_MS);
    }
    h_silent_stop(&silent);

    /* --- publish_wait QoS 1 while the broker is frozen: TIMEOUT; after SIGCONT it goes on */
    {
        h_broker broker;
        h_broker_start(&broker, NULL, NULL, NULL);
        h_inbox inbox;
        h_inbox_init(&inbox);
        midge_client *sub = h_connect_id(broker.url, "c-timeout-sub");
        H_CHECK_OK(midge_client_on_message(sub, h_inbox_on_message, &inbox, NULL));
        const char *f[] = {"frozen/t"};
        const uint8_t q[] = {1};
        H_CHECK_OK(midge_client_subscribe_wait(sub, f, q, 1, NULL, H_LONG_MS, NULL));
        midge_client *c = h_connect_id(broker.url, "c-timeout-pub");

        h_broker_freeze(&broker);
        int64_t t0 = h_now_ms();
        uint8_t code = 0xEE;
        H_CHECK_RC(midge_client_publish_wait(c, "frozen/t", (const uint8_t *)"1", 1, 1, false, NULL,
                                             300, &code),
                   MIDGE_RESULT_TIMEOUT);
        int64_t took = h_now_ms() - t0;
        h_note("publish_wait(300 ms) on a frozen broker timed out after %lld ms", (long long)took);
        H_CHECK(took >= 290 && took < 300 + SLACK_MS);
        H_CHECK(code == 0xEE);
        /* subscribe_wait and unsubscribe_wait too */
        H_CHECK_RC(midge_client_subscribe_wait(c, f, q, 1, NULL, 100, NULL), MIDGE_RESULT_TIMEOUT);
        H_CHECK_RC(midge_client_unsubscribe_wait(c, f, 1, NULL, 100, NULL), MIDGE_RESULT_TIMEOUT);
        h_broker_thaw(&broker);

        /* the timed-out publish went on: it arrives, then a second one */
        H_CHECK_OK(midge_client_publish_wait(c, "frozen/t", (const uint8_t *)"2", 1, 1, false, NULL,
                                             H_LONG_MS, &code));
        H_CHECK(code == 0x00);
        midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL && h_payload_is_str(m, "1"));
        midge_message_free(&m);
        m = h_inbox_pop(&inbox, H_LONG_MS);
        H_CHECK(m != NULL && h_payload_is_str(m, "2"));
        midge_message_free(&m);

        midge_client_free(&c);
        midge_client_free(&sub);
        h_inbox_destroy(&inbox);
        h_broker_stop(&broker);
    }

    h_end();
    return 0;
}
