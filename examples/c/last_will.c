/*
 * last_will.c: set a Last Will, then leave cleanly or crash.
 *
 *   sub --topic 'midge/status/#' &                 # watch in another terminal
 *   last_will --topic midge/status/gw-1            # clean DISCONNECT: no will
 *   last_will --topic midge/status/gw-1 --crash    # _exit without DISCONNECT: the will
 *
 * The broker publishes the Will when the connection ends without a normal DISCONNECT:
 * a crash, a power cut, a network failure (found by keep alive), or DISCONNECT with reason
 * 0x04 (--with-will). A clean DISCONNECT (0x00) discards it. The will here is "offline",
 * retained, and the program publishes a retained "online" once connected: the usual
 * device-presence pattern (a clean exit publishes "offline" itself).
 * Exit code: 0 on success (also for --crash), 1 when a midge call failed, 2 for bad
 * arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <midge.h>

#include "example_args.h"

#define TIMEOUT_MS 5000

static int ok(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "last_will: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: last_will [options]\n"
            "  --broker URL       broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic TOPIC      status topic, also the will's (default midge/status/last_will)\n"
            "  --qos N            QoS of the will and the status (default 1)\n"
            "  --seconds N        stay connected N seconds first (default 1)\n"
            "  --crash            exit abruptly (_exit, no DISCONNECT): the broker sends the will\n"
            "  --with-will        disconnect with reason 0x04: the broker sends the will\n"
            "  --no-retain        do not retain the status messages\n"
            "  --help             this text\n");
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *topic = "midge/status/last_will";
    int qos = 1, seconds = 1, crash = 0, with_will = 0;
    bool retain = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (strcmp(a, "--crash") == 0) { crash = 1; continue; }
        if (strcmp(a, "--with-will") == 0) { with_will = 1; continue; }
        if (strcmp(a, "--no-retain") == 0) { retain = false; continue; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--topic") == 0) topic = v;
        else if (strcmp(a, "--qos") == 0) { if (!parse_int(a, v, 0, 2, &qos)) return 2; }
        else if (strcmp(a, "--seconds") == 0) { if (!parse_int(a, v, 0, 86400, &seconds)) return 2; }
        else { fprintf(stderr, "last_will: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (qos < 0 || qos > 2 || seconds < 0 || (crash && with_will)) { usage(stderr); return 2; }
    /* Refuse a bad topic here, before connecting, with midge's own words. */
    if (midge_topic_name_check(topic) != MIDGE_RESULT_OK) {
        fprintf(stderr, "last_will: --topic %s: %s\n", topic, midge_last_error_message());
        return 2;
    }

    /* The Will is part of the options: topic, payload, QoS, retain and will properties
     * (here a content type; a Will Delay Interval would hold it back for a while). */
    static const char will[] = "offline";
    midge_options *options = midge_options_new();
    midge_properties *will_props = midge_properties_new();
    midge_client *client = NULL;
    int good = options != NULL && will_props != NULL &&
               ok(midge_properties_add_string(will_props, MIDGE_PROPERTY_CONTENT_TYPE, "text/plain"),
                  "add content type") &&
               ok(midge_options_set_will(options, topic, (const uint8_t *)will, strlen(will), qos,
                                         retain, will_props),
                  "midge_options_set_will") &&
               ok(midge_options_set_keep_alive(options, 5), "set_keep_alive") &&
               ok(midge_client_new(broker, options, &client), "midge_client_new");
    midge_properties_free(&will_props);
    midge_options_free(&options);
    if (!good) return 1;

    if (!ok(midge_client_connect_wait(client, TIMEOUT_MS, NULL), "midge_client_connect_wait")) {
        midge_client_free(&client);
        return 1;
    }
    static const char online[] = "online";
    if (!ok(midge_client_publish_wait(client, topic, (const uint8_t *)online, strlen(online), qos,
                                      retain, NULL, TIMEOUT_MS, NULL),
            "midge_client_publish_wait")) {
        midge_client_free(&client);
        return 1;
    }
    printf("connected, published \"online\" to %s; will \"offline\" is set\n", topic);
    fflush(stdout);

    struct timespec t = {seconds, 0};
    nanosleep(&t, NULL);

    if (crash) {
        /* No DISCONNECT, no cleanup: the kernel closes the socket, as in a crash. */
        printf("crashing (_exit without DISCONNECT): the broker publishes the will\n");
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    if (!with_will) {
        /* A clean exit says "offline" itself (retained), then the DISCONNECT 0x00 makes
         * the broker discard the will. */
        static const char offline[] = "offline";
        if (!ok(midge_client_publish_wait(client, topic, (const uint8_t *)offline, strlen(offline),
                                          qos, retain, NULL, TIMEOUT_MS, NULL),
                "midge_client_publish_wait"))
            status = 1;
    }
    int reason = with_will ? 0x04 : 0x00;
    printf("disconnecting with reason 0x%02x: %s\n", reason,
           with_will ? "the broker publishes the will" : "the will is discarded");
    if (!ok(midge_client_disconnect_wait(client, reason, NULL, TIMEOUT_MS), "disconnect")) status = 1;
    midge_client_free(&client);
    return status;
}
