/*
 * gateway.c: a store-and-forward gateway. Sensor readings go to the broker at QoS 1
 * through a persistent store, so that none is lost when the gateway is killed, crashes or
 * loses its connection: a reading is on disk before the gateway says "stored", and a
 * restarted gateway sends what the broker had not acknowledged.
 *
 *   sensor | gateway --broker mqtt://127.0.0.1:1883 --store /var/lib/gw --topic sensors/gw1
 *   gateway --store /var/lib/gw --count 100 --start 201     (readings 201..300, generated)
 *
 * Each line of standard input is one reading (its payload), or with --count the gateway
 * makes numbered readings itself, from --start on. The pieces that make the session
 * durable (midge_options_set_store): a store (midge_store_file_new), a fixed client id
 * and a Session Expiry Interval longer than a restart takes, so the broker keeps its half
 * of the session too. On restart midge restores the stored publishes and sends them on
 * connect; each one's end is a MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE event, printed as
 * "restored PAYLOAD (was #ID): ok" (#ID: the id the earlier run printed). The main loop
 * is one poll() on standard input and the client's event fd (as in sub_fd.c), so
 * readings are stored while the broker is away.
 *
 * Output, one line each: "connected ...", "stored PAYLOAD (#ID)" (the reading is in the
 * store), "acknowledged #ID" (the broker has it), "restored PAYLOAD (was #ID): RESULT".
 * At the end of the input the gateway waits up to --seconds for every acknowledgement;
 * what is still unacknowledged then stays in the store for the next run.
 * Exit code: 0 when every reading (and every restored one) was acknowledged, 1 when a
 * midge call failed or some were not acknowledged in time, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <midge.h>

#include "example_args.h"

static int ok(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "gateway: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: gateway --store PATH [options]\n"
            "  --store PATH          the persistent store: a directory (midge.store in it)\n"
            "                        or a file (required)\n"
            "  --durability os|fsync os: a stored reading survives the process being killed;\n"
            "                        fsync: also a power loss (default os)\n"
            "  --broker URL          broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic TOPIC         topic of the readings (default sensors/gateway)\n"
            "  --client-id ID        fixed client identifier (default midge-gateway)\n"
            "  --session-expiry N    seconds the broker keeps the session (default 3600)\n"
            "  --max-records N       bound on the stored readings (default 0: 100,000)\n"
            "  --count N             generate N numbered readings instead of reading stdin\n"
            "  --start N             the first generated reading's number (default 1)\n"
            "  --seconds N           at the end, wait up to N seconds for acknowledgements\n"
            "                        (default 30)\n"
            "  --help                this text\n");
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* What the gateway has seen, for its exit status. */
typedef struct tally {
    long stored, acknowledged, failed, restored, restored_failed;
} tally;

static void handle(const midge_event *event, const char *broker, tally *t) {
    switch (midge_event_kind_of(event)) {
    case MIDGE_EVENT_CONNECTED:
        printf("connected to %s, session present: %s\n", broker,
               midge_connack_session_present(midge_event_connack(event)) ? "yes" : "no");
        break;
    case MIDGE_EVENT_CONNECTION_LOST:
        printf("connection lost: %s (readings are stored meanwhile; midge reconnects)\n",
               midge_disconnect_detail(midge_event_disconnect(event)));
        break;
    case MIDGE_EVENT_PUBLISH_COMPLETE: {
        const midge_ack *ack = midge_event_ack(event);
        if (midge_ack_result(ack) == MIDGE_RESULT_OK) {
            printf("acknowledged #%llu\n", (unsigned long long)midge_ack_id(ack));
            t->acknowledged++;
        } else {
            printf("failed #%llu: %s\n", (unsigned long long)midge_ack_id(ack),
                   midge_result_str(midge_ack_result(ack)));
            t->failed++;
        }
        break;
    }
    case MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE: {
        /* A reading stored by an earlier run: its payload is in the event's message, its
         * outcome in the ack (the id is the one that run printed). */
        const midge_ack *ack = midge_event_ack(event);
        size_t len = 0;
        const uint8_t *payload = midge_message_payload(midge_event_message(event), &len);
        midge_result rc = midge_ack_result(ack);
        printf("restored %.*s (was #%llu): %s\n", (int)len, payload ? (const char *)payload : "",
               (unsigned long long)midge_ack_id(ack),
               rc == MIDGE_RESULT_OK ? "ok" : midge_result_str(rc));
        t->restored++;
        if (rc != MIDGE_RESULT_OK) t->restored_failed++;
        break;
    }
    default:
        break;
    }
}

/* Stores one reading (midge writes it to the store before returning). MIDGE_RESULT_OK,
 * or the failure: QUEUE_FULL / STORE_FULL mean "not now" (nothing was stored). */
static midge_result publish(midge_client *client, const char *topic, const char *payload,
                            size_t len, tally *t) {
    midge_completion *done = NULL;
    midge_result rc = midge_client_publish(client, topic, (const uint8_t *)payload, len, 1,
                                           false, NULL, &done);
    if (rc == MIDGE_RESULT_OK) {
        printf("stored %.*s (#%llu)\n", (int)len, payload,
               (unsigned long long)midge_completion_id(done));
        t->stored++;
    }
    /* The outcome comes as a MIDGE_EVENT_PUBLISH_COMPLETE (completion events are on). */
    midge_completion_free(&done);
    return rc;
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *topic = "sensors/gateway";
    const char *client_id = "midge-gateway", *store_path = NULL;
    int durability = MIDGE_DURABILITY_OS, expiry = 3600, max_records = 0;
    int count = 0, start = 1, seconds = 30;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--topic") == 0) topic = v;
        else if (strcmp(a, "--client-id") == 0) client_id = v;
        else if (strcmp(a, "--store") == 0) store_path = v;
        else if (strcmp(a, "--durability") == 0) {
            if (strcmp(v, "os") == 0) durability = MIDGE_DURABILITY_OS;
            else if (strcmp(v, "fsync") == 0) durability = MIDGE_DURABILITY_FSYNC;
            else { fprintf(stderr, "%s: expected os or fsync, not \"%s\"\n", a, v); return 2; }
        }
        else if (strcmp(a, "--session-expiry") == 0) { if (!parse_int(a, v, 1, 2147483647, &expiry)) return 2; }
        else if (strcmp(a, "--max-records") == 0) { if (!parse_int(a, v, 0, 1000000000, &max_records)) return 2; }
        else if (strcmp(a, "--count") == 0) { if (!parse_int(a, v, 1, 1000000000, &count)) return 2; }
        else if (strcmp(a, "--start") == 0) { if (!parse_int(a, v, 0, 1000000000, &start)) return 2; }
        else if (strcmp(a, "--seconds") == 0) { if (!parse_int(a, v, 1, 86400, &seconds)) return 2; }
        else { fprintf(stderr, "gateway: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (store_path == NULL) {
        fprintf(stderr, "gateway: --store PATH is required (where readings wait for the broker)\n");
        return 2;
    }
    if (*client_id == '\0') {
        fprintf(stderr, "gateway: --client-id: a durable session needs a fixed, non-empty id\n");
        return 2;
    }
    if (midge_topic_name_check(topic) != MIDGE_RESULT_OK) {
        fprintf(stderr, "gateway: --topic %s: %s\n", topic, midge_last_error_message());
        return 2;
    }

    /* 1. The store: opened here, handed to the options (which take it: store is NULL
     * after), then to the client. Another process holding it is refused ("in use"). */
    midge_store *store = NULL;
    if (!ok(midge_store_file_new(store_path, 0, (size_t)max_records, &store), "midge_store_file_new"))
        return 1;
    midge_options *options = midge_options_new();
    midge_client *client = NULL;
    int good = options != NULL &&
               ok(midge_options_set_client_id(options, client_id), "set_client_id") &&
               ok(midge_options_set_session_expiry(options, (uint32_t)expiry), "set_session_expiry") &&
               ok(midge_options_set_store(options, &store, durability), "set_store") &&
               /* Every publish's outcome as an event, beside the restored ones. */
               ok(midge_options_set_completion_events(options, true), "set_completion_events") &&
               /* The store bounds what waits; the offline queue should not refuse first. */
               ok(midge_options_set_offline_queue(options, 1000000, (size_t)1 << 30), "set_offline_queue") &&
               ok(midge_options_set_reconnect(options, true, 250, 5000), "set_reconnect") &&
               ok(midge_client_new(broker, options, &client), "midge_client_new");
    midge_options_free(&options);
    midge_store_free(&store); /* NULL (taken) unless a call above failed */
    if (!good) return 1;
    /* 2. Connect without waiting: readings are stored while the broker is unreachable. */
    if (!ok(midge_client_connect(client, NULL), "midge_client_connect")) {
        midge_client_free(&client);
        return 1;
    }

    /* 3. One loop: events whenever they come; a reading whenever one is ready and the
     * previous one was stored. A full queue or store holds the reading back until an
     * acknowledgement makes room (backpressure on the sensor, nothing dropped). */
    tally t = {0, 0, 0, 0, 0};
    char buf[4096], pending[4096];
    size_t buf_len = 0, pending_len = 0;
    bool have_pending = false, input_done = false, failed = false;
    int next = start;
    struct pollfd fds[2] = {
        {midge_client_event_fd(client), POLLIN, 0}, /* owned by the client: never close */
        {STDIN_FILENO, POLLIN, 0},
    };
    long long drain_deadline = 0;
    while (!failed) {
        /* The next reading, if none waits: a generated one, or a whole line of input. */
        if (!have_pending && !input_done && count > 0) {
            if (next - start < count) {
                pending_len = (size_t)snprintf(pending, sizeof pending, "%d", next++);
                have_pending = true;
            } else {
                input_done = true;
            }
        }
        if (!have_pending && count == 0) {
            char *nl = memchr(buf, '\n', buf_len);
            if (nl != NULL || buf_len == sizeof buf || (input_done && buf_len > 0)) {
                size_t n = nl != NULL ? (size_t)(nl - buf) : buf_len;
                memcpy(pending, buf, n);
                pending_len = n;
                have_pending = true;
                size_t used = nl != NULL ? n + 1 : n;
                memmove(buf, buf + used, buf_len - used);
                buf_len -= used;
            }
        }
        if (have_pending) {
            midge_result rc = publish(client, topic, pending, pending_len, &t);
            if (rc == MIDGE_RESULT_OK) have_pending = false;
            else if (rc != MIDGE_RESULT_QUEUE_FULL && rc != MIDGE_RESULT_STORE_FULL)
                failed = !ok(rc, "midge_client_publish");
        }
        /* The end: no more input, and nothing left unacknowledged (this run's readings,
         * and the restored ones: the client's in-flight and queued counts). */
        if (input_done && !have_pending && buf_len == 0) {
            midge_stats stats;
            if (drain_deadline == 0) drain_deadline = now_ms() + (long long)seconds * 1000;
            if (ok(midge_client_stats(client, &stats), "midge_client_stats") &&
                t.acknowledged + t.failed >= t.stored && stats.inflight_out == 0 &&
                stats.queued == 0)
                break;
            if (now_ms() >= drain_deadline) {
                fprintf(stderr, "gateway: %ld reading(s) not acknowledged in %d s: they stay "
                        "in the store for the next run\n", t.stored - t.acknowledged - t.failed,
                        seconds);
                failed = true;
                break;
            }
        }
        fflush(stdout);
        /* Wait: for events always; for input when a reading can be taken. A reading held
         * back by a full queue is retried after the next event. */
        bool line_ready = count == 0 && (memchr(buf, '\n', buf_len) != NULL ||
                                          buf_len == sizeof buf || (input_done && buf_len > 0));
        bool want_input = count == 0 && !input_done && !have_pending && !line_ready;
        int timeout = -1;
        if (have_pending) timeout = 100;
        else if (line_ready || (count > 0 && !input_done)) timeout = 0;
        else if (input_done) timeout = 50; /* the stats are polled while draining */
        fds[1].revents = 0;
        int n = poll(fds, want_input ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR) { perror("gateway: poll"); failed = true; break; }
        if (n > 0 && (fds[0].revents & POLLIN)) {
            midge_event *event = NULL;
            midge_result rc;
            while ((rc = midge_client_next_event(client, 0, &event)) == MIDGE_RESULT_OK) {
                handle(event, broker, &t);
                midge_event_free(&event);
            }
            if (rc != MIDGE_RESULT_TIMEOUT && !ok(rc, "midge_client_next_event")) failed = true;
        }
        if (want_input && n > 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
            ssize_t got = read(STDIN_FILENO, buf + buf_len, sizeof buf - buf_len);
            if (got > 0) buf_len += (size_t)got;
            else if (got == 0) input_done = true;
            else if (errno != EINTR) { perror("gateway: read"); input_done = true; }
        }
    }

    printf("stored %ld, acknowledged %ld, failed %ld; restored %ld (%ld failed)\n", t.stored,
           t.acknowledged, t.failed, t.restored, t.restored_failed);
    /* 4. Disconnect and free: anything unacknowledged stays in the store. */
    midge_client_disconnect_wait(client, 0x00, NULL, 5000);
    midge_client_free(&client);
    return failed || t.failed > 0 || t.restored_failed > 0 ? 1 : 0;
}
