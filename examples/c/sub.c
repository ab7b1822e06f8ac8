/*
 * sub.c: subscribe and receive messages through callbacks.
 *
 *   sub --broker mqtt://127.0.0.1:1883 --topic 'sensors/#' --qos 1 --count 10
 *
 * Callbacks run on midge's dispatcher threads, one at a time for a client, in order. They
 * may call midge (even on their own client), but should return quickly. Here they print
 * and count; the main thread waits until enough messages came, the time is up or Ctrl-C.
 * midge reconnects by itself after a lost connection (and subscribes again if the broker
 * lost the session): on_connection_lost and on_connect show it.
 * Exit code: 0 on success (or Ctrl-C), 1 when a midge call failed or --count was not
 * reached within --seconds, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <midge.h>

#include "example_args.h"

#define TIMEOUT_MS 5000

static atomic_int received;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static int ok(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "sub: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

/* Each successful CONNACK (the first connection and every reconnection). */
static void on_connect(void *user_data, const midge_connack *connack) {
    (void)user_data;
    printf("[connect] connected, session present: %s, keep alive %u s\n",
           midge_connack_session_present(connack) ? "yes" : "no",
           midge_connack_keep_alive(connack));
    fflush(stdout);
}

/* Each received message; it is borrowed for the call (midge_message_clone keeps it). */
static void on_message(void *user_data, const midge_message *message) {
    const char *prefix = user_data; /* the user_data given to midge_client_on_message */
    size_t len = 0;
    const uint8_t *payload = midge_message_payload(message, &len);
    printf("%s %s (QoS %d%s): %.*s\n", prefix, midge_message_topic(message),
           midge_message_qos(message), midge_message_retain(message) ? ", retained" : "",
           (int)len, payload ? (const char *)payload : "");
    fflush(stdout);
    atomic_fetch_add(&received, 1);
}

/* Each lost connection or failed attempt, with its cause; midge reconnects by itself. */
static void on_connection_lost(void *user_data, const midge_disconnect *cause) {
    (void)user_data;
    uint8_t code = 0;
    if (midge_disconnect_reason_code(cause, &code))
        printf("[lost] %s (reason code 0x%02x %s)\n", midge_disconnect_detail(cause), code,
               midge_reason_code_str(code));
    else
        printf("[lost] %s\n", midge_disconnect_detail(cause));
    fflush(stdout);
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: sub [options]\n"
            "  --broker URL       broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic FILTER     topic filter (default midge/#); repeat for several\n"
            "  --qos N            maximum QoS 0, 1 or 2 (default 1)\n"
            "  --count N          exit after N messages (default 0: until Ctrl-C or --seconds)\n"
            "  --seconds N        give up after N seconds (default 0: never)\n"
            "  --username NAME    user name\n"
            "  --password SECRET  password\n"
            "  --cafile FILE      trust this CA (PEM) for mqtts:// and wss://\n"
            "  --cert FILE        client certificate (PEM) for mutual TLS, with --key\n"
            "  --key FILE         the client certificate's private key (PEM)\n"
            "  --insecure         do not verify the server's certificate (tests only!)\n"
            "  --help             this text\n");
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883";
    enum { MAX_FILTERS = 16 };
    const char *filters[MAX_FILTERS] = {"midge/#"};
    size_t n_filters = 0; /* --topic given so far; none: the default above */
    const char *username = NULL, *password = NULL;
    const char *cafile = NULL, *cert = NULL, *key = NULL;
    bool insecure = false;
    int qos = 1, count = 0, seconds = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (strcmp(a, "--insecure") == 0) { insecure = true; continue; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--topic") == 0) {
            if (n_filters == MAX_FILTERS) {
                fprintf(stderr, "sub: at most %d --topic\n", MAX_FILTERS);
                return 2;
            }
            filters[n_filters++] = v;
        }
        else if (strcmp(a, "--qos") == 0) { if (!parse_int(a, v, 0, 2, &qos)) return 2; }
        else if (strcmp(a, "--count") == 0) { if (!parse_int(a, v, 0, 1000000000, &count)) return 2; }
        else if (strcmp(a, "--seconds") == 0) { if (!parse_int(a, v, 0, 86400, &seconds)) return 2; }
        else if (strcmp(a, "--username") == 0) username = v;
        else if (strcmp(a, "--password") == 0) password = v;
        else if (strcmp(a, "--cafile") == 0) cafile = v;
        else if (strcmp(a, "--cert") == 0) cert = v;
        else if (strcmp(a, "--key") == 0) key = v;
        else { fprintf(stderr, "sub: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (qos < 0 || qos > 2 || count < 0 || seconds < 0) { usage(stderr); return 2; }
    if (n_filters == 0) n_filters = 1;
    /* Refuse a bad filter here, before connecting, with midge's own words. */
    for (size_t f = 0; f < n_filters; f++) {
        if (midge_topic_filter_check(filters[f]) != MIDGE_RESULT_OK) {
            fprintf(stderr, "sub: --topic %s: %s\n", filters[f], midge_last_error_message());
            return 2;
        }
    }
    signal(SIGINT, on_sigint);

    midge_options *options = midge_options_new();
    midge_client *client = NULL;
    int good = options != NULL;
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

    /* Register the callbacks before connecting, so no event is missed. No user_data needs
     * freeing here (drop_user_data NULL); pass a free function for heap-allocated data. */
    static char prefix[] = "[message]";
    if (!ok(midge_client_on_connect(client, on_connect, NULL, NULL), "on_connect") ||
        !ok(midge_client_on_message(client, on_message, prefix, NULL), "on_message") ||
        !ok(midge_client_on_connection_lost(client, on_connection_lost, NULL, NULL),
            "on_connection_lost")) {
        midge_client_free(&client);
        return 1;
    }

    /* Connect, then subscribe; both wait for the broker's answer. */
    midge_result rc = midge_client_connect_wait(client, TIMEOUT_MS, NULL);
    uint8_t refusal = 0;
    if (rc == MIDGE_RESULT_CONNECTION_REFUSED && midge_last_error_reason_code(&refusal))
        fprintf(stderr, "sub: refused: reason code 0x%02x %s\n", refusal,
                midge_reason_code_str(refusal));
    uint8_t granted[MAX_FILTERS] = {0}, sub_options[MAX_FILTERS];
    for (size_t f = 0; f < n_filters; f++) sub_options[f] = (uint8_t)qos;
    if (!ok(rc, "midge_client_connect_wait") ||
        !ok(midge_client_subscribe_wait(client, filters, sub_options, n_filters, NULL, TIMEOUT_MS,
                                        granted),
            "midge_client_subscribe_wait")) {
        midge_client_free(&client);
        return 1;
    }
    for (size_t f = 0; f < n_filters; f++) {
        if (granted[f] >= 0x80) {
            fprintf(stderr, "sub: subscription to %s refused: reason code 0x%02x %s\n", filters[f],
                    granted[f], midge_reason_code_str(granted[f]));
            midge_client_free(&client);
            return 1;
        }
        printf("subscribed to %s, granted QoS %u\n", filters[f], granted[f]);
    }
    fflush(stdout);

    /* Wait in 100 ms steps; the callbacks do the work. */
    int status = 0;
    struct timespec step = {0, 100 * 1000 * 1000};
    for (long waited_ms = 0; !interrupted; waited_ms += 100) {
        if (count > 0 && atomic_load(&received) >= count) break;
        if (seconds > 0 && waited_ms >= seconds * 1000L) {
            if (count > 0) {
                fprintf(stderr, "sub: only %d of %d messages in %d s\n", atomic_load(&received),
                        count, seconds);
                status = 1;
            }
            break;
        }
        nanosleep(&step, NULL);
    }

    printf("received %d message(s), disconnecting\n", atomic_load(&received));
    if (!ok(midge_client_disconnect_wait(client, 0x00, NULL, TIMEOUT_MS), "disconnect")) status = 1;
    midge_client_free(&client); /* waits for running callbacks */
    return status;
}
