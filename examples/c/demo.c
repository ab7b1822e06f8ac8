/*
 * demo.c: a guided tour of midge's C API against a live MQTT 5 broker, as a numbered
 * transcript. `./demo` at the top of the repository builds it and runs it against a
 * throwaway Mosquitto; run it yourself with
 *
 *   demo --broker mqtt://127.0.0.1:1883 --username demo --password secret
 *
 *  1. connect with a client id, user name/password and a Last Will (CONNACK properties)
 *  2. subscribe (granted QoS)
 *  3. publish and receive at QoS 0, 1 and 2 with properties (acknowledgement codes)
 *  4. unsubscribe: nothing more arrives
 *  5. keep alive: 1 s keep alive, 2.5 s idle, the connection stays up
 *  6. a second client (another process) is killed: its Last Will reaches us
 *  7. a clean DISCONNECT
 *
 * Events are read with the pull interface (midge_client_next_event) to keep the transcript
 * in order; examples/c/sub.c shows the callback style. Exit code 0 when every step worked,
 * 1 (with the failing step) otherwise, 2 for bad arguments.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <midge.h>

#define TIMEOUT_MS 5000

static int step;                  /* the step being run, for failure messages */
static midge_client *client;      /* the demo's client */

/* ------------------------------------------------------------------------ helpers */

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "\ndemo: FAILED at step %d: ", step);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    midge_client_free(&client);
    exit(1);
}

/* Every midge call is checked: on failure, print its result and detail and stop. */
static void check(midge_result rc, const char *what) {
    if (rc != MIDGE_RESULT_OK) {
        uint8_t reason = 0;
        char code[32] = "";
        if (midge_last_error_reason_code(&reason))
            snprintf(code, sizeof code, ", reason code 0x%02x (%s)", reason,
                     midge_reason_code_str(reason));
        fail("%s: %s (%s%s)", what, midge_result_str(rc), midge_last_error_message(), code);
    }
}

static void title(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("\n[%d] ", ++step);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* Waits up to `ms` for the next message, printing log lines on the way; fails on a lost
 * connection. Returns the event holding the message (free it), or NULL on timeout. */
static midge_event *next_message(uint32_t ms) {
    double deadline = now_s() + ms / 1000.0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) return NULL;
        midge_event *event = NULL;
        midge_result rc = midge_client_next_event(client, (uint32_t)(left * 1000) + 1, &event);
        if (rc == MIDGE_RESULT_TIMEOUT) return NULL;
        check(rc, "midge_client_next_event");
        int level = 0;
        switch (midge_event_kind_of(event)) {
        case MIDGE_EVENT_MESSAGE:
            return event;
        case MIDGE_EVENT_LOG: {
            const char *text = midge_event_log(event, &level);
            printf("      (log, level %d) %s\n", level, text);
            break;
        }
        case MIDGE_EVENT_CONNECTION_LOST:
            fail("connection lost: %s", midge_disconnect_detail(midge_event_disconnect(event)));
            break;
        default:
            break; /* connected, completions: already reported by the _wait calls */
        }
        midge_event_free(&event);
    }
}

/* Prints a received message with its properties. */
static void print_message(const char *arrow, const midge_message *m) {
    size_t len = 0;
    const uint8_t *payload = midge_message_payload(m, &len);
    printf("    %s %s at QoS %d: \"%.*s\"\n", arrow, midge_message_topic(m), midge_message_qos(m),
           (int)len, payload ? (const char *)payload : "");
    /* Optional values: true (and the value written) when the message has one. */
    const char *ct = NULL;
    if (midge_message_content_type(m, &ct)) printf("         content type: %s\n", ct);
    uint32_t expiry = 0;
    if (midge_message_message_expiry(m, &expiry))
        printf("         message expiry: %u s left\n", expiry);
    uint8_t format = 0;
    if (midge_message_payload_format(m, &format))
        printf("         payload format: %s\n", format ? "UTF-8" : "bytes");
    for (size_t i = 0; i < midge_message_user_property_count(m); i++) {
        const char *name = NULL, *value = NULL;
        check(midge_message_user_property(m, i, &name, &value), "midge_message_user_property");
        printf("         user property: %s = %s\n", name, value);
    }
}

/* --------------------------------------------------------------- the will child */

/* Step 6's second client, in its own process (started by fork + exec of this program):
 * connects with a Last Will, says "ready" on stdout, then waits to be killed. */
static int will_child(const char *broker, const char *user, const char *pass, const char *topic) {
    midge_options *o = midge_options_new();
    midge_properties *wp = midge_properties_new();
    midge_client *c = NULL;
    static const char will[] = "sensor-42 went away without saying goodbye";
    char id[64];
    snprintf(id, sizeof id, "midge-demo-sensor-%ld", (long)getpid());
    if (o == NULL || wp == NULL) return 1;
    midge_result rc = midge_options_set_client_id(o, id);
    if (!rc && user) rc = midge_options_set_username(o, user);
    if (!rc && pass) rc = midge_options_set_password(o, (const uint8_t *)pass, strlen(pass));
    if (!rc) rc = midge_properties_add_string(wp, MIDGE_PROPERTY_CONTENT_TYPE, "text/plain");
    if (!rc) rc = midge_properties_add_user_property(wp, "device", "sensor-42");
    if (!rc) rc = midge_options_set_will(o, topic, (const uint8_t *)will, strlen(will), 1, false, wp);
    if (!rc) rc = midge_client_new(broker, o, &c);
    if (!rc) rc = midge_client_connect_wait(c, TIMEOUT_MS, NULL);
    midge_properties_free(&wp);
    midge_options_free(&o);
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "demo (will child): %s (%s)\n", midge_result_str(rc), midge_last_error_message());
        return 1;
    }
    printf("ready %s\n", id);
    fflush(stdout);
    for (;;) pause(); /* until SIGKILL: no DISCONNECT is ever sent */
}

/* ------------------------------------------------------------------------ TLS */

/* A client for `url` over TLS trusting only `cafile` (midge verifies the server's
 * certificate and its name; with no CA given it would trust the system's roots). */
static midge_result tls_client(const char *url, const char *cafile, const char *user,
                               const char *pass, midge_client **out) {
    midge_options *options = midge_options_new();
    midge_tls_options *tls = midge_tls_options_new();
    if (options == NULL || tls == NULL) fail("out of memory");
    if (user) check(midge_options_set_username(options, user), "midge_options_set_username");
    if (pass)
        check(midge_options_set_password(options, (const uint8_t *)pass, strlen(pass)),
              "midge_options_set_password");
    check(midge_options_set_reconnect(options, false, 0, 0), "midge_options_set_reconnect");
    check(midge_options_set_log_level(options, MIDGE_LOG_DEBUG), "midge_options_set_log_level");
    check(midge_tls_options_add_ca_file(tls, cafile), "midge_tls_options_add_ca_file");
    check(midge_options_set_tls(options, tls), "midge_options_set_tls"); /* copied */
    midge_tls_options_free(&tls);
    midge_result rc = midge_client_new(url, options, out);
    midge_options_free(&options);
    return rc;
}

static void tls_step(const char *url, const char *cafile, const char *other_ca, const char *user,
                     const char *pass, long pid) {
    check(tls_client(url, cafile, user, pass, &client), "midge_client_new (TLS)");
    check(midge_client_connect_wait(client, TIMEOUT_MS, NULL), "midge_client_connect_wait (TLS)");
    midge_event *early = next_message(100); /* the handshake's log lines: version, group */
    if (early) fail("unexpected message before subscribing");
    printf("    connected over TLS, the server's certificate verified against %s\n", cafile);
    char topic[96];
    snprintf(topic, sizeof topic, "midge/demo/%ld/tls", pid);
    const char *filters[] = {topic};
    uint8_t qos1[] = {1}, granted = 0, reason = 0xff;
    check(midge_client_subscribe_wait(client, filters, qos1, 1, NULL, TIMEOUT_MS, &granted),
          "midge_client_subscribe_wait (TLS)");
    static const char secret[] = "sent encrypted";
    check(midge_client_publish_wait(client, topic, (const uint8_t *)secret, strlen(secret), 1,
                                    false, NULL, TIMEOUT_MS, &reason),
          "midge_client_publish_wait (TLS)");
    printf("    -> published \"%s\" at QoS 1 over TLS: PUBACK, reason code 0x%02x %s\n", secret,
           reason, midge_reason_code_str(reason));
    midge_event *ev = next_message(TIMEOUT_MS);
    if (ev == NULL) fail("the TLS message did not come back");
    print_message("<- received", midge_event_message(ev));
    midge_event_free(&ev);
    check(midge_client_disconnect_wait(client, 0x00, NULL, TIMEOUT_MS), "disconnect (TLS)");
    midge_client_free(&client);
    if (other_ca == NULL) return;

    /* The same server, but trusting a CA that did not sign its certificate: refused, with
     * the reason in words, and no reconnection attempted. */
    midge_client *doubter = NULL;
    check(tls_client(url, other_ca, user, pass, &doubter), "midge_client_new (other CA)");
    midge_result rc = midge_client_connect_wait(doubter, TIMEOUT_MS, NULL);
    if (rc != MIDGE_RESULT_TLS) {
        midge_client_free(&doubter);
        fail("a server certificate from an unknown CA was not refused: %s", midge_result_str(rc));
    }
    printf("    trusting another CA instead: refused (%s): %s\n", midge_result_str(rc),
           midge_last_error_message());
    midge_client_free(&doubter);
}

/* ------------------------------------------------------------------------ main */

static void usage(FILE *out) {
    fprintf(out,
            "usage: demo [--broker URL] [--username NAME] [--password SECRET]\n"
            "            [--tls-broker mqtts://HOST:PORT --cafile CA.pem [--other-ca OTHER.pem]]\n"
            "  --broker URL       MQTT 5 broker (default mqtt://127.0.0.1:1883)\n"
            "  --username NAME    user name to connect with\n"
            "  --password SECRET  password to connect with\n"
            "  --tls-broker URL   step 8: the same broker's TLS listener, verified with --cafile;\n"
            "                     --other-ca: a CA that did not sign it (refused, in words)\n"
            "  --help             this text\n");
}

int main(int argc, char **argv) {
    const char *broker = "mqtt://127.0.0.1:1883", *user = NULL, *pass = NULL, *child_topic = NULL;
    const char *tls_broker = NULL, *cafile = NULL, *other_ca = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (v == NULL) { usage(stderr); return 2; }
        if (strcmp(a, "--broker") == 0) broker = v;
        else if (strcmp(a, "--username") == 0) user = v;
        else if (strcmp(a, "--password") == 0) pass = v;
        else if (strcmp(a, "--tls-broker") == 0) tls_broker = v;
        else if (strcmp(a, "--cafile") == 0) cafile = v;
        else if (strcmp(a, "--other-ca") == 0) other_ca = v;
        else if (strcmp(a, "--will-child") == 0) child_topic = v; /* internal, step 6 */
        else { fprintf(stderr, "demo: unknown option %s\n", a); usage(stderr); return 2; }
        i++;
    }
    if (child_topic) return will_child(broker, user, pass, child_topic);
    if (tls_broker && !cafile) { usage(stderr); return 2; }

    if (midge_version() != MIDGE_VERSION_NUMBER) {
        fprintf(stderr, "demo: libmidge %s does not match midge.h %d.%d.%d\n",
                midge_version_string(), MIDGE_VERSION_MAJOR, MIDGE_VERSION_MINOR, MIDGE_VERSION_PATCH);
        return 1;
    }
    long pid = (long)getpid();
    char id[64], data_topic[96], will_topic[96], my_will_topic[96];
    snprintf(id, sizeof id, "midge-demo-%ld", pid);
    snprintf(data_topic, sizeof data_topic, "midge/demo/%ld/data", pid);
    snprintf(will_topic, sizeof will_topic, "midge/demo/%ld/will/sensor-42", pid);
    snprintf(my_will_topic, sizeof my_will_topic, "midge/demo/%ld/will/%s", pid, id);
    printf("midge demo: libmidge %s, broker %s\n", midge_version_string(), broker);

    /* ---- 1. connect ------------------------------------------------------------ */
    title("Connect as \"%s\", user name %s, with a Last Will and a 1 s keep alive", id,
          user ? user : "(none)");
    midge_options *options = midge_options_new();
    midge_properties *will_props = midge_properties_new();
    if (options == NULL || will_props == NULL) fail("out of memory");
    static const char my_will[] = "the demo client died";
    check(midge_options_set_client_id(options, id), "midge_options_set_client_id");
    if (user) check(midge_options_set_username(options, user), "midge_options_set_username");
    if (pass)
        check(midge_options_set_password(options, (const uint8_t *)pass, strlen(pass)),
              "midge_options_set_password");
    check(midge_properties_add_string(will_props, MIDGE_PROPERTY_CONTENT_TYPE, "text/plain"),
          "midge_properties_add_string");
    check(midge_options_set_will(options, my_will_topic, (const uint8_t *)my_will, strlen(my_will),
                                 1, false, will_props),
          "midge_options_set_will");
    check(midge_options_set_keep_alive(options, 1), "midge_options_set_keep_alive");
    check(midge_options_set_reconnect(options, false, 0, 0), "midge_options_set_reconnect");
    /* Debug log lines arrive as MIDGE_EVENT_LOG events (or through midge_client_on_log). */
    check(midge_options_set_log_level(options, MIDGE_LOG_DEBUG), "midge_options_set_log_level");
    check(midge_client_new(broker, options, &client), "midge_client_new");
    midge_properties_free(&will_props);
    midge_options_free(&options); /* copied by midge_client_new */

    midge_connack *ca = NULL;
    midge_result rc = midge_client_connect_wait(client, TIMEOUT_MS, &ca);
    uint8_t refusal = 0;
    if (rc == MIDGE_RESULT_CONNECTION_REFUSED && midge_last_error_reason_code(&refusal))
        fail("the broker refused the connection: reason code 0x%02x %s (%s)", refusal,
             midge_reason_code_str(refusal), midge_last_error_message());
    check(rc, "midge_client_connect_wait");
    /* The connect's debug log lines, queued as events: shown before the CONNACK they led to
     * (a message here would be a bug: nothing is subscribed yet). */
    midge_event *early = next_message(100);
    if (early) fail("unexpected message before subscribing");
    printf("    password: %s; will: \"%s\" on %s (QoS 1)\n", pass ? "set" : "(none)", my_will,
           my_will_topic);
    printf("    CONNACK: session present %s, keep alive %u s,\n"
           "             receive maximum %u, maximum QoS %d, retain available %s,\n"
           "             topic alias maximum %u,\n"
           "             wildcards %s, subscription ids %s, shared subscriptions %s\n",
           yes_no(midge_connack_session_present(ca)), midge_connack_keep_alive(ca),
           midge_connack_receive_maximum(ca), midge_connack_maximum_qos(ca),
           yes_no(midge_connack_retain_available(ca)), midge_connack_topic_alias_maximum(ca),
           yes_no(midge_connack_wildcard_subscription_available(ca)),
           yes_no(midge_connack_subscription_identifiers_available(ca)),
           yes_no(midge_connack_shared_subscription_available(ca)));
    /* What the server did not send is absent, not -1 or 0. */
    uint16_t server_keep_alive = 0;
    if (midge_connack_server_keep_alive(ca, &server_keep_alive))
        printf("    server keep alive: %u s\n", server_keep_alive);
    uint32_t max_packet = 0;
    if (midge_connack_maximum_packet_size(ca, &max_packet))
        printf("    maximum packet size: %u\n", max_packet);
    const char *text = NULL;
    if (midge_connack_assigned_client_id(ca, &text))
        printf("    assigned client id: %s\n", text);
    if (midge_connack_reason_string(ca, &text)) printf("    reason string: %s\n", text);
    /* Every property the server sent, whatever it is. */
    for (size_t i = 0; i < midge_connack_property_count(ca); i++) {
        midge_property p;
        check(midge_connack_property_at(ca, i, &p), "midge_connack_property_at");
        printf("    property %s (0x%02x):", midge_property_name(p.id), p.id);
        if (p.string != NULL) printf(" %s%s%s", p.string, p.value ? " = " : "", p.value ? p.value : "");
        else if (p.data == NULL) printf(" %u", p.integer);
        printf("\n");
    }
    midge_connack_free(&ca);

    /* ---- 2. subscribe ---------------------------------------------------------- */
    char will_filter[96];
    snprintf(will_filter, sizeof will_filter, "midge/demo/%ld/will/+", pid);
    title("Subscribe to %s (QoS 2) and %s (QoS 1)", data_topic, will_filter);
    const char *filters[] = {data_topic, will_filter};
    uint8_t sub_options[] = {2, 1};
    uint8_t granted[2] = {0, 0};
    check(midge_client_subscribe_wait(client, filters, sub_options, 2, NULL, TIMEOUT_MS, granted),
          "midge_client_subscribe_wait");
    printf("    SUBACK: granted QoS %u for %s, QoS %u for %s\n", granted[0], filters[0], granted[1],
           filters[1]);
    if (granted[0] >= 0x80 || granted[1] >= 0x80) fail("a subscription was refused");

    /* ---- 3. publish and receive ------------------------------------------------ */
    title("Publish and receive at QoS 0, 1 and 2, with properties");
    static const char *const acks[] = {"", "PUBACK", "PUBREC/PUBCOMP"};
    for (int qos = 0; qos <= 2; qos++) {
        char payload[64], reading[16];
        snprintf(payload, sizeof payload, "temperature 21.%d C", qos);
        snprintf(reading, sizeof reading, "%d", qos + 1);
        midge_properties *props = midge_properties_new();
        if (props == NULL) fail("out of memory");
        check(midge_properties_add_user_property(props, "sensor", "t1"), "add user property");
        check(midge_properties_add_user_property(props, "reading", reading), "add user property");
        check(midge_properties_add_string(props, MIDGE_PROPERTY_CONTENT_TYPE, "text/plain"),
              "add content type");
        check(midge_properties_add_int(props, MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL, 60),
              "add message expiry");
        check(midge_properties_add_int(props, MIDGE_PROPERTY_PAYLOAD_FORMAT_INDICATOR, 1),
              "add payload format");
        uint8_t reason = 0xff;
        check(midge_client_publish_wait(client, data_topic, (const uint8_t *)payload, strlen(payload),
                                        qos, false, props, TIMEOUT_MS, &reason),
              "midge_client_publish_wait");
        midge_properties_free(&props);
        if (qos == 0)
            printf("    -> published \"%s\" at QoS 0: written (QoS 0 has no acknowledgement)\n",
                   payload);
        else
            printf("    -> published \"%s\" at QoS %d: %s, reason code 0x%02x %s\n", payload, qos,
                   acks[qos], reason, midge_reason_code_str(reason));
        midge_event *ev = next_message(TIMEOUT_MS);
        if (ev == NULL) fail("the QoS %d message did not come back", qos);
        print_message("<- received", midge_event_message(ev));
        midge_event_free(&ev);
    }

    /* ---- 4. unsubscribe -------------------------------------------------------- */
    title("Unsubscribe from %s; nothing more arrives", data_topic);
    uint8_t unsub = 0xff;
    const char *unsub_filters[] = {data_topic};
    check(midge_client_unsubscribe_wait(client, unsub_filters, 1, NULL, TIMEOUT_MS, &unsub),
          "midge_client_unsubscribe_wait");
    printf("    UNSUBACK: reason code 0x%02x%s\n", unsub, unsub == 0 ? " (success)" : "");
    static const char late[] = "nobody is listening";
    uint8_t reason = 0xff;
    check(midge_client_publish_wait(client, data_topic, (const uint8_t *)late, strlen(late), 1, false,
                                    NULL, TIMEOUT_MS, &reason),
          "midge_client_publish_wait");
    printf("    -> published \"%s\" at QoS 1: PUBACK reason code 0x%02x%s\n", late, reason,
           reason == 0x10 ? " (no matching subscribers)" : "");
    midge_event *ev = next_message(1000);
    if (ev != NULL) fail("a message arrived after unsubscribing: %s", midge_message_topic(midge_event_message(ev)));
    printf("    nothing arrived in 1 s\n");

    /* ---- 5. keep alive ---------------------------------------------------------- */
    title("Keep alive: 1 s keep alive, 2.5 s without traffic from us");
    double t0 = now_s();
    ev = next_message(2500); /* fails the demo if the connection is lost meanwhile */
    if (ev != NULL) fail("unexpected message %s", midge_message_topic(midge_event_message(ev)));
    check(midge_client_publish_wait(client, data_topic, (const uint8_t *)"ping", 4, 1, false, NULL,
                                    TIMEOUT_MS, &reason),
          "midge_client_publish_wait");
    printf("    idle %.1f s: midge sent PINGREQs, the broker answered PINGRESP;\n"
           "    the connection stayed up (a QoS 1 publish was acknowledged right after)\n",
           now_s() - t0);

    /* ---- 6. last will ----------------------------------------------------------- */
    title("Last Will: a second client in another process is killed with SIGKILL");
    int out[2];
    if (pipe(out) != 0) fail("pipe failed");
    char *child_argv[12];
    int n = 0;
    child_argv[n++] = argv[0];
    child_argv[n++] = "--broker";
    child_argv[n++] = (char *)broker;
    if (user) { child_argv[n++] = "--username"; child_argv[n++] = (char *)user; }
    if (pass) { child_argv[n++] = "--password"; child_argv[n++] = (char *)pass; }
    child_argv[n++] = "--will-child";
    child_argv[n++] = will_topic;
    child_argv[n] = NULL;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) fail("fork failed");
    if (child == 0) {
        /* A fresh process image: midge's threads do not survive fork, exec starts clean. */
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv("/proc/self/exe", child_argv);
        _exit(127);
    }
    close(out[1]);
    char line[128] = "";
    FILE *from_child = fdopen(out[0], "r");
    if (from_child == NULL || fgets(line, sizeof line, from_child) == NULL || strncmp(line, "ready ", 6) != 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        fail("the second client did not connect");
    }
    line[strcspn(line, "\n")] = '\0';
    printf("    process %ld connected as \"%s\" with a will on %s\n", (long)child, line + 6, will_topic);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    fclose(from_child);
    printf("    killed it: no DISCONNECT was sent, the broker publishes its will\n");
    ev = next_message(TIMEOUT_MS);
    if (ev == NULL) fail("the will did not arrive");
    print_message("<- will received:", midge_event_message(ev));
    midge_event_free(&ev);

    /* ---- 7. disconnect ---------------------------------------------------------- */
    title("Clean DISCONNECT (reason 0x00: the broker discards our own will)");
    check(midge_client_disconnect_wait(client, 0x00, NULL, TIMEOUT_MS), "midge_client_disconnect_wait");
    printf("    disconnected\n");
    midge_client_free(&client);
    client = NULL;

    /* ---- 8. TLS ------------------------------------------------------------------- */
    if (tls_broker) {
        title("TLS: %s, the server's certificate verified", tls_broker);
        tls_step(tls_broker, cafile, other_ca, user, pass, pid);
    } else {
        printf("\n(no --tls-broker: the TLS step is not shown)\n");
    }

    printf("\nAll %d steps passed.\n", step);
    return 0;
}
