/*
 * pub.c: publish messages and wait for each acknowledgement.
 *
 *   pub --broker mqtt://127.0.0.1:1883 --topic sensors/t1 --qos 1 --message 21.5 --count 3
 *   pub --broker mqtts://broker:8883 --cafile ca.pem --cert dev.pem --key dev.key
 *
 * The simplest use of midge: create a client, connect, publish with the _wait forms (each
 * returns once the broker acknowledged: PUBACK for QoS 1, PUBCOMP for QoS 2), disconnect.
 * Exit code: 0 on success, 1 when a midge call failed, 2 for bad arguments.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <midge.h>

#include "example_args.h"

#define TIMEOUT_MS 5000

/* Prints a failed midge call with its result and detail; returns 0 when it failed. */
static int ok(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "pub: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: pub [options]\n"
            "  --broker URL       broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic TOPIC      topic to publish to (default midge/example)\n"
            "  --qos N            0, 1 or 2 (default 1)\n"
            "  --message TEXT     payload (default \"hello from midge\")\n"
            "  --count N          how many messages (default 1)\n"
            "  --retain           set the RETAIN flag\n"
            "  --client-id ID     client identifier (default: assigned by the broker)\n"
            "  --username NAME    user name\n"
            "  --password SECRET  password\n"
            "  --cafile FILE      trust this CA (PEM) for mqtts:// and wss://\n"
            "  --cert FILE        client certificate (PEM) for mutual TLS, with --key\n"
            "  --key FILE         the client certificate's private key (PEM)\n"
            "  --insecure         do not verify the server's certificate (tests only!)\n"
            "  --help             this text\n");
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *topic = "midge/example";
    const char *message = "hello from midge", *client_id = "", *username = NULL, *password = NULL;
    const char *cafile = NULL, *cert = NULL, *key = NULL;
    bool insecure = false;
    int qos = 1, count = 1;
    bool retain = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        else if (strcmp(a, "--retain") == 0) { retain = true; continue; }
        else if (strcmp(a, "--insecure") == 0) { insecure = true; continue; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--topic") == 0) topic = v;
        else if (strcmp(a, "--qos") == 0) { if (!parse_int(a, v, 0, 2, &qos)) return 2; }
        else if (strcmp(a, "--message") == 0) message = v;
        else if (strcmp(a, "--count") == 0) { if (!parse_int(a, v, 1, 1000000000, &count)) return 2; }
        else if (strcmp(a, "--client-id") == 0) client_id = v;
        else if (strcmp(a, "--username") == 0) username = v;
        else if (strcmp(a, "--password") == 0) password = v;
        else if (strcmp(a, "--cafile") == 0) cafile = v;
        else if (strcmp(a, "--cert") == 0) cert = v;
        else if (strcmp(a, "--key") == 0) key = v;
        else { fprintf(stderr, "pub: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (qos < 0 || qos > 2 || count < 1) { usage(stderr); return 2; }
    /* Refuse a bad topic here, before connecting, with midge's own words. */
    if (midge_topic_name_check(topic) != MIDGE_RESULT_OK) {
        fprintf(stderr, "pub: --topic %s: %s\n", topic, midge_last_error_message());
        return 2;
    }

    /* 1. Options: copied by midge_client_new, so they can be freed right after. */
    midge_options *options = midge_options_new();
    midge_client *client = NULL;
    int good = options != NULL && ok(midge_options_set_client_id(options, client_id), "set_client_id");
    if (good && username) good = ok(midge_options_set_username(options, username), "set_username");
    if (good && password)
        good = ok(midge_options_set_password(options, (const uint8_t *)password, strlen(password)),
                  "set_password");
    /* TLS (mqtts://, wss://): see apply_tls in example_args.h. */
    if (good) {
        const char *tls_call = "TLS options";
        midge_result tls_rc = apply_tls(options, cafile, cert, key, insecure, &tls_call);
        good = ok(tls_rc, tls_call);
    }
    if (good) good = ok(midge_client_new(broker, options, &client), "midge_client_new");
    midge_options_free(&options);
    if (!good) return 1;

    /* 2. Connect and wait for the CONNACK. A refusal gives its reason code. */
    midge_connack *connack = NULL;
    midge_result rc = midge_client_connect_wait(client, TIMEOUT_MS, &connack);
    if (rc == MIDGE_RESULT_CONNECTION_REFUSED) {
        uint8_t code = 0;
        (void)midge_last_error_reason_code(&code);
        fprintf(stderr, "pub: refused by %s: reason code 0x%02x %s (%s)\n", broker, code,
                midge_reason_code_str(code), midge_last_error_message());
        midge_client_free(&client);
        return 1;
    }
    if (!ok(rc, "midge_client_connect_wait")) { midge_client_free(&client); return 1; }
    printf("connected to %s (keep alive %u s)\n", broker, midge_connack_keep_alive(connack));
    midge_connack_free(&connack);

    /* 3. Publish; the reason code is 0x00 (success) or 0x10 (no matching subscribers). */
    int status = 0;
    for (int n = 1; n <= count && status == 0; n++) {
        uint8_t reason = 0;
        rc = midge_client_publish_wait(client, topic, (const uint8_t *)message, strlen(message),
                                       qos, retain, NULL, TIMEOUT_MS, &reason);
        if (rc == MIDGE_RESULT_REFUSED) {
            uint8_t code = 0;
            (void)midge_last_error_reason_code(&code);
            fprintf(stderr, "pub: the broker refused message %d: reason code 0x%02x %s\n", n,
                    code, midge_reason_code_str(code));
            status = 1;
        } else if (!ok(rc, "midge_client_publish_wait")) {
            status = 1;
        } else {
            printf("published %d/%d to %s at QoS %d: reason code 0x%02x\n", n, count, topic, qos,
                   reason);
        }
    }

    /* 4. A clean DISCONNECT (reason 0x00: the broker discards the Will), then free. */
    if (!ok(midge_client_disconnect_wait(client, 0x00, NULL, TIMEOUT_MS), "disconnect")) status = 1;
    midge_client_free(&client);
    return status;
}
