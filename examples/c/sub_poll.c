/*
 * sub_poll.c: subscribe and receive messages with the pull interface, no callbacks.
 *
 *   sub_poll --broker mqtt://127.0.0.1:1883 --topic 'sensors/#' --qos 2 --count 10
 *
 * With no callback registered, every event (connected, message, connection lost, and
 * publish/subscribe completions when asked for) waits in the client's queue for
 * midge_client_next_event, called from your own loop: the firmware main loop style. Each
 * event is owned: free it.
 * QoS 1/2 messages are acknowledged to the broker when handed out.
 * Exit code: 0 on success, 1 when a midge call failed or --count was not reached within
 * --seconds, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <midge.h>

#include "example_args.h"

#define TIMEOUT_MS 5000

static int ok(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "sub_poll: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: sub_poll [options]\n"
            "  --broker URL       broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic FILTER     topic filter (default midge/#)\n"
            "  --qos N            maximum QoS 0, 1 or 2 (default 1)\n"
            "  --count N          exit after N messages (default 1)\n"
            "  --seconds N        give up after N seconds (default 30)\n"
            "  --help             this text\n");
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *filter = "midge/#";
    int topics = 0;
    int qos = 1, count = 1, seconds = 30;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--topic") == 0) {
            if (topics++ > 0) {
                fprintf(stderr, "%s: one --topic only (this example subscribes to one filter)\n", argv[0]);
                return 2;
            }
            filter = v;
        }
        else if (strcmp(a, "--qos") == 0) { if (!parse_int(a, v, 0, 2, &qos)) return 2; }
        else if (strcmp(a, "--count") == 0) { if (!parse_int(a, v, 0, 1000000000, &count)) return 2; }
        else if (strcmp(a, "--seconds") == 0) { if (!parse_int(a, v, 0, 86400, &seconds)) return 2; }
        else { fprintf(stderr, "sub_poll: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (qos < 0 || qos > 2 || count < 1 || seconds < 1) { usage(stderr); return 2; }
    /* Refuse a bad filter here, before connecting, with midge's own words. */
    if (midge_topic_filter_check(filter) != MIDGE_RESULT_OK) {
        fprintf(stderr, "%s: --topic %s: %s\n", argv[0], filter, midge_last_error_message());
        return 2;
    }

    /* Completion events (publish/subscribe/unsubscribe complete) are opt-in for the pull
     * interface: this loop wants the SUBACK, so turn them on. */
    midge_options *options = midge_options_new();
    midge_client *client = NULL;
    int good = options != NULL &&
               ok(midge_options_set_completion_events(options, true), "set_completion_events") &&
               ok(midge_client_new(broker, options, &client), "midge_client_new");
    midge_options_free(&options);
    if (!good) return 1;

    /* Start connecting and subscribing without waiting: the outcomes arrive as events.
     * The subscribe waits in the client until the connection is up. */
    const char *filters[] = {filter};
    uint8_t sub_options[] = {(uint8_t)qos};
    if (!ok(midge_client_connect(client, NULL), "midge_client_connect") ||
        !ok(midge_client_subscribe(client, filters, sub_options, 1, NULL, NULL),
            "midge_client_subscribe")) {
        midge_client_free(&client);
        return 1;
    }

    int received = 0, status = 1, failed = 0;
    double deadline = now_s() + seconds;
    while (received < count && !failed && now_s() < deadline) {
        midge_event *event = NULL;
        midge_result rc = midge_client_next_event(client, 500, &event);
        if (rc == MIDGE_RESULT_TIMEOUT) continue; /* nothing in 500 ms: do other work */
        if (!ok(rc, "midge_client_next_event")) break;

        switch (midge_event_kind_of(event)) {
        case MIDGE_EVENT_CONNECTED:
            printf("connected to %s\n", broker);
            break;
        case MIDGE_EVENT_SUBSCRIBE_COMPLETE: {
            const midge_ack *ack = midge_event_ack(event);
            size_t n = 0;
            const uint8_t *codes = midge_ack_reason_codes(ack, &n);
            if (midge_ack_result(ack) != MIDGE_RESULT_OK || n != 1 || codes[0] >= 0x80) {
                fprintf(stderr, "sub_poll: subscribe failed: %s, code 0x%02x\n",
                        midge_result_str(midge_ack_result(ack)), n ? codes[0] : 0);
                failed = 1;
            } else {
                printf("subscribed to %s, granted QoS %u\n", filter, codes[0]);
            }
            break;
        }
        case MIDGE_EVENT_MESSAGE: {
            const midge_message *m = midge_event_message(event); /* lives as long as event */
            size_t len = 0;
            const uint8_t *payload = midge_message_payload(m, &len);
            printf("message %d: %s (QoS %d): %.*s\n", ++received, midge_message_topic(m),
                   midge_message_qos(m), (int)len, payload ? (const char *)payload : "");
            break;
        }
        case MIDGE_EVENT_CONNECTION_LOST:
            printf("connection lost: %s (midge reconnects)\n",
                   midge_disconnect_detail(midge_event_disconnect(event)));
            break;
        case MIDGE_EVENT_RECONNECTING:
            printf("reconnecting, attempt %llu\n", (unsigned long long)midge_event_count(event));
            break;
        default:
            break; /* publish completions, logs, ...: not used here */
        }
        fflush(stdout);
        midge_event_free(&event);
    }
    if (received >= count) status = 0;
    else if (!failed) fprintf(stderr, "sub_poll: only %d of %d messages in %d s\n", received, count, seconds);

    if (!ok(midge_client_disconnect_wait(client, 0x00, NULL, TIMEOUT_MS), "disconnect")) status = 1;
    midge_client_free(&client);
    return status;
}
