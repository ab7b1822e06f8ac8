/* 9. One ownership model for every type (issue 11, defect 1). For each freeable type the
 * sequence that released someone else's object when handles were addresses: take a, free
 * it through a copy... here through the variable, which _free empties; take b (an
 * allocator reusing a's memory would put b where a was); free a stale copy of a again;
 * take d. b must still be alive, and distinct from d. Allocations between the frees make
 * address reuse likely (ASan runs this with quarantine_size_mb=0, so freed memory is
 * reused at once; under glibc's malloc it is reused too). Then lent handles: a message
 * or CONNACK lent by an event is not the caller's to free and dies with the event. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static void *churn[64];
static int churned;

/* Allocations between the frees: what makes a reused address likely. */
static void allocate_some(void) {
    for (int i = 0; i < 4 && churned < 64; i++) churn[churned++] = malloc(64 + 32 * i);
}

/* The sequence for type T: `make` gives an owned handle, `live(h)` is true while h
 * reaches a live object of type T. */
#define SEQUENCE(T, make, live)                                                              \
    do {                                                                                     \
        T *a = (make);                                                                       \
        H_CHECK(a != NULL && live(a));                                                       \
        T *stale = a;                                                                        \
        allocate_some();                                                                     \
        T##_free(&a);                                                                        \
        H_CHECK(a == NULL);     /* the variable is emptied ... */                            \
        T##_free(&a);           /* ... so a second free through it finds NULL */             \
        H_CHECK(!live(stale));  /* the stale copy reaches nothing */                         \
        allocate_some();                                                                     \
        T *b = (make);                                                                       \
        H_CHECK(b != NULL && b != stale); /* a handle is never given twice */                \
        T *stale_copy = stale;                                                               \
        T##_free(&stale_copy);  /* a stale copy freed again: nothing, not b */               \
        H_CHECK(stale_copy == NULL);                                                         \
        allocate_some();                                                                     \
        T *d = (make);                                                                       \
        H_CHECK(d != NULL && d != b);                                                        \
        H_CHECK(live(b) && live(d));                                                         \
        void *seen_b = (void *)b, *seen_d = (void *)d;                                       \
        T##_free(&b);                                                                        \
        H_CHECK(live(d));                                                                    \
        T##_free(&d);                                                                        \
        H_CHECK(!live(stale));                                                               \
        h_note("%s: a=%p b=%p d=%p, all distinct, b survived the stale free", #T,            \
               (void *)stale, seen_b, seen_d);                                         \
    } while (0)

static const char *g_url;
static midge_client *g_client;          /* connected, subscribed to own/t */
static const midge_message *g_lent_message;
static const midge_connack *g_lent_connack;

/* What a message callback kept: the lent pointer itself (wrongly) and a clone (rightly). */
typedef struct kept_message {
    const midge_message *lent;
    midge_message *clone;
    int calls;
} kept_message;

static void keep_message(void *user_data, const midge_message *m) {
    kept_message *k = (kept_message *)user_data;
    if (__atomic_load_n(&k->calls, __ATOMIC_SEQ_CST) == 0) {
        k->lent = m;
        k->clone = midge_message_clone(m);
        H_CHECK(midge_message_topic(m) != NULL); /* valid during the call */
    }
    __atomic_add_fetch(&k->calls, 1, __ATOMIC_SEQ_CST);
}

static midge_client *new_client(void) {
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(g_url, NULL, &c));
    return c;
}
static bool client_live(midge_client *c) {
    midge_io_stats st;
    return midge_client_io_stats(c, &st) == MIDGE_RESULT_OK;
}
static bool options_live(midge_options *o) {
    return midge_options_set_keep_alive(o, 5) == MIDGE_RESULT_OK;
}
static bool properties_live(midge_properties *p) {
    return midge_properties_add_user_property(p, "k", "v") == MIDGE_RESULT_OK;
}
static bool message_live(midge_message *m) { return midge_message_topic(m) != NULL; }
static bool connack_live(midge_connack *c) { return midge_connack_maximum_qos(c) >= 0; }
static bool event_live(midge_event *e) { return midge_event_kind_of(e) != 0; }
static bool completion_live(midge_completion *c) { return midge_completion_id(c) != 0; }

/* A completion of a QoS 0 publish (its message comes as an event, drained by new_event). */
static midge_completion *new_completion(void) {
    midge_completion *done = NULL;
    H_CHECK_OK(midge_client_publish(g_client, "own/t", (const uint8_t *)"c", 1, 0, false, NULL,
                                    &done));
    return done;
}

/* The next event: publish a message to ourselves and take it. */
static midge_event *new_event(void) {
    H_CHECK_OK(midge_client_publish(g_client, "own/t", (const uint8_t *)"e", 1, 0, false, NULL,
                                    NULL));
    midge_event *e = NULL;
    H_CHECK_OK(midge_client_next_event(g_client, H_LONG_MS, &e));
    return e;
}

int main(void) {
    h_begin("test_ownership");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    g_url = broker.url;

    H_CHECK_OK(midge_client_new(g_url, NULL, &g_client));
    H_CHECK_OK(midge_client_connect(g_client, NULL));
    midge_event *connected = NULL;
    H_CHECK_OK(midge_client_next_event(g_client, H_LONG_MS, &connected));
    H_CHECK(midge_event_kind_of(connected) == MIDGE_EVENT_CONNECTED);
    g_lent_connack = midge_event_connack(connected);
    const char *filter[] = {"own/t"};
    const uint8_t qos[] = {0};
    H_CHECK_OK(midge_client_subscribe_wait(g_client, filter, qos, 1, NULL, H_LONG_MS, NULL));
    midge_event *with_message = new_event();
    H_CHECK(midge_event_kind_of(with_message) == MIDGE_EVENT_MESSAGE);
    g_lent_message = midge_event_message(with_message);

    SEQUENCE(midge_message, midge_message_clone(g_lent_message), message_live);
    SEQUENCE(midge_connack, midge_connack_clone(g_lent_connack), connack_live);
    SEQUENCE(midge_options, midge_options_new(), options_live);
    SEQUENCE(midge_properties, midge_properties_new(), properties_live);
    SEQUENCE(midge_event, new_event(), event_live);
    SEQUENCE(midge_completion, new_completion(), completion_live);
    SEQUENCE(midge_client, new_client(), client_live);

    /* Lent handles: not the caller's to free; they die with their lender. */
    midge_message *lent = (midge_message *)g_lent_message;
    midge_message_free(&lent);
    H_CHECK(lent == NULL);
    H_CHECK(message_live((midge_message *)g_lent_message)); /* still the event's */
    midge_message *kept = midge_message_clone(g_lent_message);
    midge_event_free(&with_message);
    H_CHECK(!message_live((midge_message *)g_lent_message)); /* gone with the event */
    H_CHECK(message_live(kept)); /* the clone is the caller's */
    H_CHECK(h_payload_is_str(kept, "e"));
    midge_message_free(&kept);
    midge_connack *kept_connack = midge_connack_clone(g_lent_connack);
    midge_event_free(&connected);
    H_CHECK(!connack_live((midge_connack *)g_lent_connack));
    H_CHECK(connack_live(kept_connack));
    midge_connack_free(&kept_connack);

    /* A message lent to a callback is valid for the call only: kept past it, the pointer
     * reaches nothing (never a later message); the clone is the caller's. */
    {
        kept_message k = {NULL, NULL, 0};
        midge_client *cb_client = new_client();
        H_CHECK_OK(midge_client_on_message(cb_client, keep_message, &k, NULL));
        H_CHECK_OK(midge_client_connect_wait(cb_client, H_LONG_MS, NULL));
        const char *cb_filter[] = {"own/cb"};
        H_CHECK_OK(midge_client_subscribe_wait(cb_client, cb_filter, qos, 1, NULL, H_LONG_MS,
                                               NULL));
        for (int i = 0; i < 3; i++) {
            H_CHECK_OK(midge_client_publish_wait(cb_client, "own/cb", (const uint8_t *)"cb", 2,
                                                 0, false, NULL, H_LONG_MS, NULL));
        }
        H_WAIT_UNTIL(__atomic_load_n(&k.calls, __ATOMIC_SEQ_CST) == 3, H_LONG_MS);
        H_CHECK(!message_live((midge_message *)k.lent)); /* expired with its call */
        H_CHECK(message_live(k.clone) && h_payload_is_str(k.clone, "cb"));
        midge_message_free(&k.clone);
        midge_client_free(&cb_client);
    }

    /* A handle of one type is not one of another, whatever it is cast to. */
    midge_options *o = midge_options_new();
    H_CHECK(!message_live((midge_message *)o));
    midge_message *wrong = (midge_message *)o;
    midge_message_free(&wrong); /* ignored: not a message */
    H_CHECK(options_live(o));
    midge_options_free(&o);

    for (int i = 0; i < churned; i++) free(churn[i]);
    midge_client_free(&g_client);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
