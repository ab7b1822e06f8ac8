/* 15. midge_client_event_fd: readable exactly while events wait for
 * midge_client_next_event; not readable once they are all taken; the same descriptor on
 * every call; -1 for NULL and freed clients; a poll() loop with no callbacks and no thread
 * receives every message. */
#include "harness.h"

#include <poll.h>
#include <string.h>

static bool readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, timeout_ms);
    H_CHECK(n >= 0);
    return n == 1 && (p.revents & POLLIN) != 0;
}

/* Takes every waiting event (next_event with a zero timeout), returning how many messages. */
static int drain(midge_client *c) {
    int messages = 0;
    for (;;) {
        midge_event *e = NULL;
        midge_result rc = midge_client_next_event(c, 0, &e);
        if (rc == MIDGE_RESULT_TIMEOUT) return messages;
        H_CHECK_OK(rc);
        if (midge_event_kind_of(e) == MIDGE_EVENT_MESSAGE) messages++;
        midge_event_free(&e);
    }
}

int main(void) {
    h_begin("test_event_fd");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);

    H_CHECK(midge_client_event_fd(NULL) == -1);
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(o, "fd-sub"));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(broker.url, o, &c));
    midge_options_free(&o);
    int fd = midge_client_event_fd(c);
    H_CHECK(fd >= 0);
    H_CHECK(midge_client_event_fd(c) == fd);
    H_CHECK(!readable(fd, 0)); /* nothing waits yet */

    /* Connecting puts CONNECTED in the queue: the fd becomes readable. */
    H_CHECK_OK(midge_client_connect(c, NULL));
    H_CHECK(readable(fd, H_LONG_MS));
    midge_event *e = NULL;
    H_CHECK_OK(midge_client_next_event(c, 0, &e));
    H_CHECK(midge_event_kind_of(e) == MIDGE_EVENT_CONNECTED);
    midge_event_free(&e);
    H_CHECK(!readable(fd, 0)); /* the queue is empty again */

    const char *filter = "fd/t";
    uint8_t opt = 1;
    H_CHECK_OK(midge_client_subscribe_wait(c, &filter, &opt, 1, NULL, H_LONG_MS, NULL));
    midge_client *pub = h_connect_id(broker.url, "fd-pub");
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        H_CHECK_OK(midge_client_publish(pub, filter, (const uint8_t *)"x", 1, 1, false, NULL,
                                        NULL));
    }
    /* A poll() loop: wait on the fd, drain, until every message came. */
    int got = 0;
    int64_t deadline = h_now_ms() + H_LONG_MS;
    while (got < N) {
        H_CHECK(h_now_ms() < deadline);
        if (readable(fd, 1000)) {
            got += drain(c);
        }
    }
    H_CHECK(got == N);
    H_CHECK(!readable(fd, 0));
    h_note("a poll() loop received %d messages", got);

    midge_client_free(&pub);
    midge_client_free(&c);
    H_CHECK(midge_client_event_fd(c) == -1);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
