/* 14. Callbacks that block never stall other clients (issue #11, defect 7).
 *
 * Three clients' message callbacks block, each first in a _wait call (a publish_wait) and
 * then on a condition the test releases at the end;
 * meanwhile a fourth client's messages keep flowing to its callback. */
#include "harness.h"

#include <string.h>

#define BLOCKERS 3

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static bool g_release = false;
static int g_blocked = 0;

typedef struct blocker {
    midge_client *client;
    int index;
    int waited_rc;
} blocker;

/* Blocks the client's callback: a _wait call (allowed in a callback), then the gate. */
static void blocking_on_message(void *user_data, const midge_message *message) {
    (void)message;
    blocker *b = (blocker *)user_data;
    char topic[32];
    snprintf(topic, sizeof topic, "bc/echo/%d", b->index);
    b->waited_rc = (int)midge_client_publish_wait(b->client, topic, (const uint8_t *)"e", 1, 1,
                                                  false, NULL, H_LONG_MS, NULL);
    pthread_mutex_lock(&g_mu);
    g_blocked++;
    pthread_cond_broadcast(&g_cv);
    while (!g_release) pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
}

static int blocked_count(void) {
    pthread_mutex_lock(&g_mu);
    int n = g_blocked;
    pthread_mutex_unlock(&g_mu);
    return n;
}

int main(void) {
    h_begin("test_blocked_callbacks");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    midge_client *pub = h_connect_id(broker.url, "bc-pub");

    blocker blockers[BLOCKERS];
    for (int i = 0; i < BLOCKERS; i++) {
        char id[32], filter[32];
        snprintf(id, sizeof id, "bc-blocker-%d", i);
        snprintf(filter, sizeof filter, "bc/block/%d", i);
        blockers[i].client = h_connect_id(broker.url, id);
        blockers[i].index = i;
        blockers[i].waited_rc = -1;
        const char *f = filter;
        uint8_t opt = 1;
        H_CHECK_OK(midge_client_subscribe_wait(blockers[i].client, &f, &opt, 1, NULL,
                                               H_LONG_MS, NULL));
        H_CHECK_OK(midge_client_on_message(blockers[i].client, blocking_on_message,
                                           &blockers[i], NULL));
        H_CHECK_OK(midge_client_publish_wait(pub, filter, (const uint8_t *)"b", 1, 1, false,
                                             NULL, H_LONG_MS, NULL));
    }
    /* All three callbacks are now blocked on the gate (after their _wait returned). */
    H_WAIT_UNTIL(blocked_count() == BLOCKERS, H_LONG_MS);
    for (int i = 0; i < BLOCKERS; i++) H_CHECK_OK(blockers[i].waited_rc);
    h_note("%d callbacks blocked", BLOCKERS);

    /* A fourth client keeps receiving. */
    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *free_client = h_connect_id(broker.url, "bc-free");
    const char *f = "bc/free";
    uint8_t opt = 1;
    H_CHECK_OK(midge_client_subscribe_wait(free_client, &f, &opt, 1, NULL, H_LONG_MS, NULL));
    H_CHECK_OK(midge_client_on_message(free_client, h_inbox_on_message, &inbox, NULL));
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "f%d", i);
        H_CHECK_OK(midge_client_publish_wait(pub, f, (const uint8_t *)payload, strlen(payload),
                                             1, false, NULL, H_LONG_MS, NULL));
    }
    for (int i = 0; i < N; i++) {
        midge_message *m = h_inbox_pop(&inbox, 5000);
        if (m == NULL) h_note("message %d of the free client stalled behind blocked callbacks", i);
        H_CHECK(m != NULL);
        char payload[16];
        snprintf(payload, sizeof payload, "f%d", i);
        H_CHECK(h_payload_is_str(m, payload));
        midge_message_free(&m);
    }
    h_note("the fourth client received %d messages while %d callbacks blocked", N, BLOCKERS);

    pthread_mutex_lock(&g_mu);
    g_release = true;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < BLOCKERS; i++) midge_client_free(&blockers[i].client);
    midge_client_free(&free_client);
    midge_client_free(&pub);
    h_inbox_destroy(&inbox);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
