/*
 * request_response.c: MQTT 5 request/response, a responder and a requester in one program.
 *
 *   request_response --broker mqtt://127.0.0.1:1883 --topic demo/rpc/uppercase --count 3
 *
 * The responder subscribes to the request topic; for each request its message callback
 * publishes the answer to the request's Response Topic, with the request's Correlation
 * Data. The requester subscribes to its own response topic, then midge_client_request
 * publishes with a Response Topic and fresh Correlation Data and waits for the matching
 * reply. In real firmware the two are in different processes; nothing else changes.
 * Exit code: 0 when every request got its answer, 1 otherwise, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <midge.h>

#include "example_args.h"

#define TIMEOUT_MS 5000

static int ok(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "request_response: %s failed: %s (%s)\n", what, midge_result_str(rc),
                midge_last_error_message());
        return 0;
    }
    return 1;
}

/* The responder's message callback: answer with the request's payload in upper case. */
static void on_request(void *user_data, const midge_message *request) {
    midge_client *responder = user_data;
    const char *reply_to = NULL;
    size_t len = 0, corr_len = 0;
    const uint8_t *payload = midge_message_payload(request, &len);
    const uint8_t *corr = NULL;
    (void)midge_message_correlation_data(request, &corr, &corr_len);
    if (!midge_message_response_topic(request, &reply_to)) {
        printf("  responder: request without a Response Topic, ignored\n");
        return;
    }
    char answer[256];
    size_t n = len < sizeof answer ? len : sizeof answer;
    for (size_t i = 0; i < n; i++) answer[i] = (char)toupper(payload[i]);

    /* The reply carries the request's Correlation Data, so the requester can match it. */
    midge_properties *props = midge_properties_new();
    midge_result rc = MIDGE_RESULT_OK;
    if (corr != NULL)
        rc = midge_properties_add_binary(props, MIDGE_PROPERTY_CORRELATION_DATA, corr, corr_len);
    /* A callback may call midge; it publishes without waiting (its completion is not kept). */
    if (ok(rc, "midge_properties_add_binary"))
        ok(midge_client_publish(responder, reply_to, (const uint8_t *)answer, n,
                                midge_message_qos(request), false, props, NULL),
           "midge_client_publish (reply)");
    midge_properties_free(&props);
    printf("  responder: \"%.*s\" -> \"%.*s\" on %s\n", (int)len, (const char *)payload, (int)n,
           answer, reply_to);
    fflush(stdout);
}

static midge_client *connect_client(const char *broker, const char *client_id) {
    midge_options *options = midge_options_new();
    midge_client *client = NULL;
    int good = options != NULL && ok(midge_options_set_client_id(options, client_id), "set_client_id") &&
               ok(midge_client_new(broker, options, &client), "midge_client_new");
    midge_options_free(&options);
    if (!good) return NULL;
    if (!ok(midge_client_connect_wait(client, TIMEOUT_MS, NULL), "midge_client_connect_wait")) {
        midge_client_free(&client);
        return NULL;
    }
    return client;
}

static int subscribe(midge_client *client, const char *filter, int qos) {
    const char *filters[] = {filter};
    uint8_t options[] = {(uint8_t)qos}, granted = 0;
    if (!ok(midge_client_subscribe_wait(client, filters, options, 1, NULL, TIMEOUT_MS, &granted),
            "midge_client_subscribe_wait"))
        return 0;
    if (granted >= 0x80) {
        fprintf(stderr, "request_response: %s refused: 0x%02x\n", filter, granted);
        return 0;
    }
    return 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: request_response [options]\n"
            "  --broker URL     broker address (default mqtt://127.0.0.1:1883)\n"
            "  --topic TOPIC    request topic (default midge/rpc/uppercase)\n"
            "  --qos N          QoS of requests and replies (default 1)\n"
            "  --count N        how many requests (default 3)\n"
            "  --help           this text\n");
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *topic = "midge/rpc/uppercase";
    int qos = 1, count = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--topic") == 0) topic = v;
        else if (strcmp(a, "--qos") == 0) { if (!parse_int(a, v, 0, 2, &qos)) return 2; }
        else if (strcmp(a, "--count") == 0) { if (!parse_int(a, v, 1, 1000000000, &count)) return 2; }
        else { fprintf(stderr, "request_response: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (qos < 0 || qos > 2 || count < 1) { usage(stderr); return 2; }
    /* Refuse a bad topic here, before connecting, with midge's own words. */
    if (midge_topic_name_check(topic) != MIDGE_RESULT_OK) {
        fprintf(stderr, "request_response: --topic %s: %s\n", topic, midge_last_error_message());
        return 2;
    }

    /* Unique ids and response topic per process, so several copies can run at once. */
    char responder_id[64], requester_id[64], response_topic[128];
    snprintf(responder_id, sizeof responder_id, "rr-responder-%ld", (long)getpid());
    snprintf(requester_id, sizeof requester_id, "rr-requester-%ld", (long)getpid());
    snprintf(response_topic, sizeof response_topic, "%s/reply/%ld", topic, (long)getpid());

    /* The responder: the message callback gets the client itself as user_data. */
    midge_client *responder = connect_client(broker, responder_id);
    if (responder == NULL) return 1;
    if (!ok(midge_client_on_message(responder, on_request, responder, NULL), "on_message") ||
        !subscribe(responder, topic, qos)) {
        midge_client_free(&responder);
        return 1;
    }
    printf("responder: serving %s\n", topic);

    /* The requester: subscribe to the response topic first, then ask. */
    midge_client *requester = connect_client(broker, requester_id);
    int status = requester != NULL && subscribe(requester, response_topic, qos) ? 0 : 1;
    for (int n = 1; n <= count && status == 0; n++) {
        char question[64];
        snprintf(question, sizeof question, "request number %d", n);
        printf("requester: asking \"%s\"\n", question);
        fflush(stdout);
        midge_message *reply = NULL;
        if (!ok(midge_client_request(requester, topic, (const uint8_t *)question, strlen(question),
                                     qos, response_topic, TIMEOUT_MS, &reply),
                "midge_client_request")) {
            status = 1;
            break;
        }
        size_t len = 0;
        const uint8_t *payload = midge_message_payload(reply, &len);
        printf("requester: reply \"%.*s\" on %s\n", (int)len, (const char *)payload,
               midge_message_topic(reply));
        fflush(stdout);
        midge_message_free(&reply); /* the reply is ours */
    }

    if (requester != NULL) {
        if (!ok(midge_client_disconnect_wait(requester, 0x00, NULL, TIMEOUT_MS), "disconnect")) status = 1;
        midge_client_free(&requester);
    }
    if (!ok(midge_client_disconnect_wait(responder, 0x00, NULL, TIMEOUT_MS), "disconnect")) status = 1;
    midge_client_free(&responder);
    return status;
}
