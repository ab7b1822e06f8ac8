/* 7. The pull interface: midge_client_next_event gives CONNECTED (with its CONNACK),
 * SUBSCRIBE/PUBLISH/UNSUBSCRIBE_COMPLETE (ids matching the completions), MESSAGE events,
 * CONNECTION_LOST after a disconnect; TIMEOUT when idle; accessors of the wrong kind give
 * NULL / 0; a freed client gives INVALID_ARGUMENT; a next_event blocked in another thread
 * ends when the client is freed. */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The next event that is not a log line. */
static midge_event *next(midge_client *c) {
    for (;;) {
        midge_event *e = NULL;
        H_CHECK_OK(midge_client_next_event(c, H_LONG_MS, &e));
        H_CHECK(e != NULL);
        if (midge_event_kind_of(e) != MIDGE_EVENT_LOG) return e;
        int level = -1;
        H_CHECK(midge_event_log(e, &level) != NULL);
        H_CHECK(level >= MIDGE_LOG_ERROR && level <= MIDGE_LOG_DEBUG);
        midge_event_free(&e);
    }
}

typedef struct blocked_next {
    midge_client *client;
    pid_t tid;
    int started;
    int rc;
    int kind;
    int64_t returned_at;
    int done;
} blocked_next;

static void *next_event_thread(void *arg) {
    blocked_next *b = (blocked_next *)arg;
    midge_event *e = NULL;
    b->tid = (pid_t)syscall(SYS_gettid);
    __atomic_store_n(&b->started, 1, __ATOMIC_SEQ_CST);
    b->rc = (int)midge_client_next_event(b->client, 8000, &e);
    b->kind = midge_event_kind_of(e);
    midge_event_free(&e);
    b->returned_at = h_now_ms();
    __atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Whether thread `tid` of this process sleeps in a futex wait: after `started`, the only
 * one it can reach is next_event's (a wait on valgrind's own lock shows as a pipe read). */
static bool waits_on_futex(pid_t tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *end = strrchr(buf, ')'); /* the name may hold spaces */
    if (end == NULL || end[1] != ' ' || end[2] != 'S') return false;
    snprintf(path, sizeof path, "/proc/self/task/%d/wchan", (int)tid);
    f = fopen(path, "r");
    if (f == NULL) return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "futex") != NULL;
}

int main(void) {
    h_begin("test_events");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);

    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(o, "c-events"));
    H_CHECK_OK(midge_options_set_log_level(o, MIDGE_LOG_INFO));
    /* Completion events are opt-in for the pull interface. */
    H_CHECK_OK(midge_options_set_completion_events(o, true));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(broker.url, o, &c));
    midge_options_free(&o);

    /* --- idle before connecting: TIMEOUT after the wait */
    midge_event *e = NULL;
    int64_t t0 = h_now_ms();
    H_CHECK_RC(midge_client_next_event(c, 100, &e), MIDGE_RESULT_TIMEOUT);
    H_CHECK(h_now_ms() - t0 >= 95);
    H_CHECK(e == NULL);

    /* --- CONNECTED */
    midge_completion *conn = NULL;
    H_CHECK_OK(midge_client_connect(c, &conn));
    e = next(c);
    H_CHECK(midge_event_kind_of(e) == MIDGE_EVENT_CONNECTED);
    const midge_connack *ack = midge_event_connack(e);
    H_CHECK(ack != NULL);
    H_CHECK(!midge_connack_assigned_client_id(ack, NULL));
    H_CHECK(midge_connack_receive_maximum(ack) > 0);
    H_CHECK(midge_event_message(e) == NULL);
    H_CHECK(midge_event_disconnect(e) == NULL);
    H_CHECK(midge_event_ack(e) == NULL);
    H_CHECK(midge_event_log(e, NULL) == NULL);
    size_t n = 99;
    midge_event *stale = e;
    midge_event_free(&e);
    midge_event_free(&e); /* double free: nothing */
    H_CHECK(midge_event_kind_of(stale) == 0); /* freed */
    H_CHECK(midge_connack_receive_maximum(ack) == 0); /* its CONNACK went with it */
    H_CHECK_OK(midge_completion_wait(conn, H_LONG_MS));
    midge_completion_free(&conn);

    /* --- SUBSCRIBE_COMPLETE, with the completion's id and one code per filter */
    const char *filters[] = {"ev/a", "ev/b"};
    const uint8_t opts[] = {1, 2};
    midge_completion *sub = NULL;
    H_CHECK_OK(midge_client_subscribe(c, filters, opts, 2, NULL, &sub));
    e = next(c);
    H_CHECK(midge_event_kind_of(e) == MIDGE_EVENT_SUBSCRIBE_COMPLETE);
    const midge_ack *done = midge_event_ack(e);
    H_CHECK(midge_ack_id(done) == midge_completion_id(sub));
    H_CHECK(midge_ack_result(done) == MIDGE_RESULT_OK);
    const uint8_t *codes = midge_ack_reason_codes(done, &n);
    H_CHECK(codes != NULL && n == 2 && codes[0] == 1 && codes[1] == 2);
    H_CHECK(midge_event_connack(e) == NULL);
    midge_event_free(&e);
    midge_completion_free(&sub);

    /* --- PUBLISH_COMPLETE and MESSAGE (in either order) */
    midge_completion *pub = NULL;
    const uint8_t payload[] = {0x00, 0x42, 0x00};
    H_CHECK_OK(midge_client_publish(c, "ev/a", payload, sizeof payload, 1, false, NULL, &pub));
    int got_complete = 0, got_message = 0;
    midge_message *kept = NULL;
    while (got_complete + got_message < 2) {
        e = next(c);
        int kind = midge_event_kind_of(e);
        if (kind == MIDGE_EVENT_PUBLISH_COMPLETE) {
            got_complete++;
            done = midge_event_ack(e);
            H_CHECK(midge_ack_id(done) == midge_completion_id(pub));
            H_CHECK(midge_ack_result(done) == MIDGE_RESULT_OK);
            uint16_t packet_id = 0;
            H_CHECK(midge_ack_packet_id(done, &packet_id) && packet_id != 0);
            codes = midge_ack_reason_codes(done, &n);
            H_CHECK(codes != NULL && n == 1 && codes[0] == 0x00);
            H_CHECK(midge_event_message(e) == NULL);
        } else {
            H_CHECK(kind == MIDGE_EVENT_MESSAGE);
            got_message++;
            const midge_message *m = midge_event_message(e);
            H_CHECK(m != NULL);
            H_CHECK(strcmp(midge_message_topic(m), "ev/a") == 0);
            H_CHECK(h_payload_is(m, payload, sizeof payload));
            H_CHECK(midge_message_qos(m) == 1);
            H_CHECK(midge_event_ack(e) == NULL);
            kept = midge_message_clone(m); /* outlives the event */
            H_CHECK(kept != NULL);
        }
        midge_event_free(&e);
    }
    H_CHECK(strcmp(midge_message_topic(kept), "ev/a") == 0);
    H_CHECK(h_payload_is(kept, payload, sizeof payload));
    midge_message_free(&kept);
    H_CHECK_OK(midge_completion_wait(pub, 0));
    midge_completion_free(&pub);

    /* QoS 0 publish without a completion still gives an event */
    H_CHECK_OK(midge_client_publish(c, "ev/b", NULL, 0, 0, false, NULL, NULL));
    got_complete = got_message = 0;
    while (got_complete + got_message < 2) {
        e = next(c);
        int kind = midge_event_kind_of(e);
        if (kind == MIDGE_EVENT_PUBLISH_COMPLETE) {
            got_complete++;
            H_CHECK(midge_ack_id(midge_event_ack(e)) != 0);
            H_CHECK(!midge_ack_packet_id(midge_event_ack(e), NULL)); /* QoS 0: none */
        } else {
            H_CHECK(kind == MIDGE_EVENT_MESSAGE);
            got_message++;
            H_CHECK(midge_message_qos(midge_event_message(e)) == 0);
        }
        midge_event_free(&e);
    }

    /* --- UNSUBSCRIBE_COMPLETE */
    midge_completion *unsub = NULL;
    H_CHECK_OK(midge_client_unsubscribe(c, filters, 2, NULL, &unsub));
    e = next(c);
    H_CHECK(midge_event_kind_of(e) == MIDGE_EVENT_UNSUBSCRIBE_COMPLETE);
    H_CHECK(midge_ack_id(midge_event_ack(e)) == midge_completion_id(unsub));
    codes = midge_ack_reason_codes(midge_event_ack(e), &n);
    H_CHECK(codes != NULL && n == 2 && codes[0] == 0x00 && codes[1] == 0x00);
    midge_event_free(&e);
    midge_completion_free(&unsub);

    /* --- idle: TIMEOUT (log lines aside) */
    for (;;) {
        e = NULL;
        t0 = h_now_ms();
        int rc = (int)midge_client_next_event(c, 100, &e);
        if (rc == MIDGE_RESULT_OK) {
            H_CHECK(midge_event_kind_of(e) == MIDGE_EVENT_LOG);
            midge_event_free(&e);
            continue;
        }
        H_CHECK_RC(rc, MIDGE_RESULT_TIMEOUT);
        H_CHECK(h_now_ms() - t0 >= 95);
        break;
    }

    /* --- CONNECTION_LOST after our DISCONNECT */
    H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
    e = next(c);
    H_CHECK(midge_event_kind_of(e) == MIDGE_EVENT_CONNECTION_LOST);
    const midge_disconnect *cause = midge_event_disconnect(e);
    H_CHECK(cause != NULL);
    H_CHECK(midge_disconnect_kind_of(cause) == MIDGE_DISCONNECT_CLIENT);
    uint8_t reason = 0xFF;
    H_CHECK(midge_disconnect_reason_code(cause, &reason) && reason == 0x00);
    H_CHECK(midge_disconnect_detail(cause) != NULL);
    H_CHECK(!midge_disconnect_errno(cause, NULL));
    H_CHECK(!midge_disconnect_reason_string(cause, NULL));
    H_CHECK(!midge_disconnect_server_reference(cause, NULL));
    H_CHECK(midge_disconnect_property_count(cause) == 0);
    H_CHECK(midge_event_connack(e) == NULL);
    midge_event_free(&e);

    /* --- freed: INVALID_ARGUMENT (the CLOSED event went with the client) */
    midge_client_free(&c);
    e = NULL;
    H_CHECK_RC(midge_client_next_event(c, 0, &e), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(e == NULL);

    /* --- a next_event blocked in another thread ends when the client is freed: with the
     * CLOSED event, or CLOSED */
    {
        blocked_next b;
        memset(&b, 0, sizeof b);
        b.client = h_connect_id(broker.url, "c-events-blocked");
        /* drain what connecting produced */
        for (;;) {
            e = NULL;
            if (midge_client_next_event(b.client, 50, &e) != MIDGE_RESULT_OK) break;
            midge_event_free(&e);
        }
        pthread_t th;
        H_CHECK(pthread_create(&th, NULL, next_event_thread, &b) == 0);
        /* Freed before it called next_event, it would get INVALID_ARGUMENT: wait until it
         * sleeps inside. */
        H_WAIT_UNTIL(__atomic_load_n(&b.started, __ATOMIC_SEQ_CST) == 1, 5000);
        H_WAIT_UNTIL(waits_on_futex(b.tid), 5000);
        t0 = h_now_ms();
        midge_client_free(&b.client);
        H_WAIT_UNTIL(__atomic_load_n(&b.done, __ATOMIC_SEQ_CST) == 1, 8000 + 3000);
        pthread_join(th, NULL);
        int64_t took = b.returned_at - t0;
        h_note("blocked next_event returned %d (%s), kind %d, %lld ms after the free", b.rc,
               midge_result_str(b.rc), b.kind, (long long)took);
        H_CHECK((b.rc == MIDGE_RESULT_OK && (b.kind == MIDGE_EVENT_CLOSED ||
                                             b.kind == MIDGE_EVENT_CONNECTION_LOST)) ||
                b.rc == MIDGE_RESULT_CLOSED);
        H_CHECK(took < 3000);
    }

    h_broker_stop(&broker);
    h_end();
    return 0;
}
