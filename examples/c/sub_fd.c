/*
 * sub_fd.c: a firmware-style main loop: one thread, one poll(), no callbacks.
 *
 *   sub_fd --broker mqtt://127.0.0.1:1883 --topic 'sensors/#' --qos 1 --count 10
 *
 * midge_client_event_fd() gives a file descriptor that is readable while events wait for
 * midge_client_next_event. Put it in the poll() set beside your own descriptors (here
 * standard input: type a line to publish it to the topic's first level + "/cmd"), and when
 * it is readable take events with a zero timeout until MIDGE_RESULT_TIMEOUT. Nothing runs
 * on your thread behind your back, and no event is lost while you do other work: midge
 * stops reading the socket when too many wait (midge_options_set_event_queue_limit).
 * Exit code: 0 on success, 1 when a midge call failed or --count was not reached within
 * --seconds, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <errno.h>
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
        fprintf(stderr, "sub_fd: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: sub_fd [options]\n"
            "  --broker URL       broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic FILTER     topic filter (default midge/#)\n"
            "  --qos N            maximum QoS 0, 1 or 2 (default 1)\n"
            "  --count N          exit after N messages (default 1)\n"
            "  --seconds N        give up after N seconds (default 30)\n"
            "  --stdin            also poll standard input: each line is published to\n"
            "                     midge/cmd at QoS 1\n"
            "  --help             this text\n");
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Handles one event; returns 1 for a message. */
static int handle(const midge_event *event, const char *broker) {
    switch (midge_event_kind_of(event)) {
    case MIDGE_EVENT_CONNECTED:
        printf("connected to %s\n", broker);
        return 0;
    case MIDGE_EVENT_MESSAGE: {
        const midge_message *m = midge_event_message(event); /* lives as long as event */
        size_t len = 0;
        const uint8_t *payload = midge_message_payload(m, &len);
        printf("message: %s (QoS %d): %.*s\n", midge_message_topic(m), midge_message_qos(m),
               (int)len, payload ? (const char *)payload : "");
        return 1;
    }
    case MIDGE_EVENT_PUBLISH_COMPLETE:
    case MIDGE_EVENT_SUBSCRIBE_COMPLETE: {
        /* Completion events are on (see main): every outcome comes here. Without them
         * only failures would. */
        const midge_ack *ack = midge_event_ack(event);
        if (midge_ack_result(ack) != MIDGE_RESULT_OK)
            fprintf(stderr, "sub_fd: request failed: %s\n",
                    midge_result_str(midge_ack_result(ack)));
        else if (midge_event_kind_of(event) == MIDGE_EVENT_SUBSCRIBE_COMPLETE)
            printf("subscribed\n");
        return 0;
    }
    case MIDGE_EVENT_CONNECTION_LOST:
        printf("connection lost: %s (midge reconnects)\n",
               midge_disconnect_detail(midge_event_disconnect(event)));
        return 0;
    default:
        return 0; /* reconnecting, logs, ...: not used here */
    }
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *filter = "midge/#";
    int topics = 0;
    int qos = 1, count = 1, seconds = 30, use_stdin = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (strcmp(a, "--stdin") == 0) { use_stdin = 1; continue; }
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
        else { fprintf(stderr, "sub_fd: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (qos < 0 || qos > 2 || count < 1 || seconds < 1) { usage(stderr); return 2; }
    /* Refuse a bad filter here, before connecting, with midge's own words. */
    if (midge_topic_filter_check(filter) != MIDGE_RESULT_OK) {
        fprintf(stderr, "%s: --topic %s: %s\n", argv[0], filter, midge_last_error_message());
        return 2;
    }

    /* Completion events: the SUBACK (and each publish's outcome) comes as an event. */
    midge_options *options = midge_options_new();
    midge_client *client = NULL;
    int good = options != NULL &&
               ok(midge_options_set_completion_events(options, true), "set_completion_events") &&
               ok(midge_client_new(broker, options, &client), "midge_client_new");
    midge_options_free(&options);
    if (!good) return 1;
    /* Connect and subscribe without waiting: the subscribe waits in the client until the
     * connection is up; a failure of either arrives as an event. */
    const char *filters[] = {filter};
    uint8_t sub_options[] = {(uint8_t)qos};
    if (!ok(midge_client_connect(client, NULL), "midge_client_connect") ||
        !ok(midge_client_subscribe(client, filters, sub_options, 1, NULL, NULL),
            "midge_client_subscribe")) {
        midge_client_free(&client);
        return 1;
    }

    struct pollfd fds[2] = {
        {midge_client_event_fd(client), POLLIN, 0}, /* owned by the client: never close */
        {STDIN_FILENO, POLLIN, 0},
    };
    int received = 0;
    long long deadline = now_ms() + (long long)seconds * 1000;
    while (received < count && now_ms() < deadline) {
        int n = poll(fds, use_stdin ? 2 : 1, (int)(deadline - now_ms()));
        if (n <= 0) continue; /* timeout or a signal: look at the deadline */
        if (fds[0].revents & POLLIN) {
            /* Take what waits, without blocking; the fd is readable again when more comes. */
            midge_event *event = NULL;
            midge_result rc;
            while ((rc = midge_client_next_event(client, 0, &event)) == MIDGE_RESULT_OK) {
                received += handle(event, broker);
                midge_event_free(&event);
            }
            if (rc != MIDGE_RESULT_TIMEOUT && !ok(rc, "midge_client_next_event")) break;
            fflush(stdout);
        }
        if (use_stdin && (fds[1].revents & (POLLIN | POLLHUP))) {
            char line[256];
            if (fgets(line, sizeof line, stdin) == NULL) {
                use_stdin = 0; /* end of input */
                continue;
            }
            line[strcspn(line, "\n")] = 0;
            /* No completion: a refusal comes back here or as a PUBLISH_COMPLETE event. */
            ok(midge_client_publish(client, "midge/cmd", (const uint8_t *)line, strlen(line),
                                    1, false, NULL, NULL),
               "midge_client_publish");
        }
    }
    int status = received >= count ? 0 : 1;
    if (status) fprintf(stderr, "sub_fd: only %d of %d messages in %d s\n", received, count, seconds);
    midge_client_disconnect_wait(client, 0x00, NULL, 5000);
    midge_client_free(&client);
    return status;
}
