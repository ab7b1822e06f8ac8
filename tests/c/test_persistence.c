/* 20. Durable sessions (issue 15) from C: midge_options_set_store with the file store and
 * with a store of C callbacks. Publishes accepted by a client that never connected survive
 * it being freed; a client made later with the store sends them (the QoS 2 ones exactly
 * once) and reports each as MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE with the completion id it
 * had and what it published. One store per client: the options refuse a second client,
 * and a store holding another client identifier's session is refused. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ a store in C */

#define SLOTS 64

typedef struct slot {
    uint8_t *key, *value;
    size_t key_len, value_len;
} slot;

/* The application's own storage: it outlives the midge_store made over it. */
typedef struct kv {
    slot slots[SLOTS];
    int puts, closes;
} kv;

static slot *kv_find(kv *s, const uint8_t *key, size_t key_len, bool create) {
    slot *empty = NULL;
    for (int i = 0; i < SLOTS; i++) {
        slot *e = &s->slots[i];
        if (e->key && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) return e;
        if (!e->key && !empty) empty = e;
    }
    if (!create || !empty) return NULL;
    empty->key = (uint8_t *)malloc(key_len ? key_len : 1);
    memcpy(empty->key, key, key_len);
    empty->key_len = key_len;
    return empty;
}

static int kv_put(void *ud, const uint8_t *key, size_t key_len, const uint8_t *value,
                  size_t value_len) {
    kv *s = (kv *)ud;
    slot *e = kv_find(s, key, key_len, true);
    if (!e) return MIDGE_RESULT_STORE_FULL;
    free(e->value);
    e->value = (uint8_t *)malloc(value_len ? value_len : 1);
    memcpy(e->value, value, value_len);
    e->value_len = value_len;
    s->puts++;
    return 0;
}

static int kv_get(void *ud, const uint8_t *key, size_t key_len, midge_store_sink *sink) {
    slot *e = kv_find((kv *)ud, key, key_len, false);
    return e ? (int)midge_store_sink_write(sink, e->value, e->value_len) : 0;
}

static int kv_remove(void *ud, const uint8_t *key, size_t key_len) {
    slot *e = kv_find((kv *)ud, key, key_len, false);
    if (e) {
        free(e->key);
        free(e->value);
        memset(e, 0, sizeof *e);
    }
    return 0;
}

static int kv_keys(void *ud, midge_store_sink *sink) {
    kv *s = (kv *)ud;
    for (int i = 0; i < SLOTS; i++) {
        if (s->slots[i].key) {
            int rc = (int)midge_store_sink_write(sink, s->slots[i].key, s->slots[i].key_len);
            if (rc) return rc;
        }
    }
    return 0;
}

static int kv_sync(void *ud) {
    (void)ud;
    return 0;
}

static void kv_close(void *ud) {
    ((kv *)ud)->closes++;
}

static int kv_count(kv *s) {
    int n = 0;
    for (int i = 0; i < SLOTS; i++) n += s->slots[i].key != NULL;
    return n;
}

static void kv_clear(kv *s) {
    for (int i = 0; i < SLOTS; i++) {
        free(s->slots[i].key);
        free(s->slots[i].value);
    }
    memset(s, 0, sizeof *s);
}

static midge_store *kv_store(kv *s) {
    midge_store_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.user_data = s;
    cb.put = kv_put;
    cb.get = kv_get;
    cb.remove = kv_remove;
    cb.keys = kv_keys;
    cb.sync = kv_sync;
    cb.close = kv_close;
    midge_store *store = NULL;
    H_CHECK_OK(midge_store_callbacks_new(&cb, &store));
    return store;
}

/* ------------------------------------------------------------------ the scenario */

#define PUBLISHES 6

static midge_options *persistent_options(const char *id, midge_store **store, int durability) {
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_client_id(o, id));
    H_CHECK_OK(midge_options_set_session_expiry(o, 600));
    H_CHECK_OK(midge_options_set_store(o, store, durability));
    H_CHECK(*store == NULL); /* taken */
    return o;
}

/* A client that never connects accepts PUBLISHES messages (QoS 1 and 2 alternating) into
 * its store and is freed; a second client made with `again` sends them. */
typedef midge_store *(*store_maker)(void *ctx);

static void restart_sends_what_was_accepted(const h_broker *b, const char *id,
                                            store_maker make, void *ctx, int durability) {
    midge_store *first = make(ctx);
    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *sub = h_connect_id(b->url, "persist-c-sub");
    H_CHECK_OK(midge_client_on_message(sub, h_inbox_on_message, &inbox, NULL));
    char filter[64];
    snprintf(filter, sizeof filter, "pc/%s/#", id);
    const char *filters[1] = {filter};
    const uint8_t qos2 = 2;
    H_CHECK_OK(midge_client_subscribe_wait(sub, filters, &qos2, 1, NULL, H_LONG_MS, NULL));

    uint64_t ids[PUBLISHES];
    midge_options *o = persistent_options(id, &first, durability);
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(b->url, o, &c));
    /* One store per client: the options gave theirs away. */
    midge_client *second = NULL;
    H_CHECK_RC(midge_client_new(b->url, o, &second), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(second == NULL);
    midge_options_free(&o);
    for (int i = 0; i < PUBLISHES; i++) {
        char topic[64], payload[16];
        snprintf(topic, sizeof topic, "pc/%s/q%d", id, 1 + i % 2);
        snprintf(payload, sizeof payload, "%d", i);
        midge_completion *done = NULL;
        H_CHECK_OK(midge_client_publish(c, topic, (const uint8_t *)payload, strlen(payload),
                                        1 + i % 2, false, NULL, &done));
        ids[i] = midge_completion_id(done);
        midge_completion_free(&done);
    }
    midge_client_free(&c); /* never connected: everything waits in the store */

    /* A new client with the store (for the file store: opened again, its lock released
     * by the first client's free). */
    midge_store *again = make(ctx);
    o = persistent_options(id, &again, durability);
    H_CHECK_OK(midge_client_new(b->url, o, &c));
    midge_options_free(&o);
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    bool seen[PUBLISHES] = {false};
    int restored = 0;
    int64_t deadline = h_now_ms() + H_LONG_MS;
    while (restored < PUBLISHES) {
        int64_t left = deadline - h_now_ms();
        H_CHECK(left > 0);
        midge_event *e = NULL;
        H_CHECK_OK(midge_client_next_event(c, (int)left, &e));
        if (midge_event_kind_of(e) == MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE) {
            const midge_ack *ack = midge_event_ack(e);
            const midge_message *m = midge_event_message(e);
            H_CHECK(ack != NULL && m != NULL);
            H_CHECK_RC(midge_ack_result(ack), MIDGE_RESULT_OK);
            for (int i = 0; i < PUBLISHES; i++) {
                if (ids[i] == midge_ack_id(ack)) {
                    H_CHECK(!seen[i]);
                    seen[i] = true;
                    char payload[16];
                    snprintf(payload, sizeof payload, "%d", i);
                    H_CHECK(h_payload_is_str(m, payload));
                }
            }
            restored++;
        }
        midge_event_free(&e);
    }
    for (int i = 0; i < PUBLISHES; i++) H_CHECK(seen[i]);
    /* The subscriber gets each once, QoS 2 exactly once. */
    H_WAIT_UNTIL(h_inbox_total(&inbox) >= PUBLISHES, H_LONG_MS);
    midge_message *extra = h_inbox_pop(&inbox, 0);
    int got = 0;
    while (extra) {
        got++;
        midge_message_free(&extra);
        extra = h_inbox_pop(&inbox, got >= PUBLISHES ? 200 : H_LONG_MS);
    }
    H_CHECK(got == PUBLISHES);
    h_note("%s: %d publishes accepted offline, restored and delivered once", id, got);
    midge_client_free(&c);
    midge_client_free(&sub);
    h_inbox_destroy(&inbox);
}

static midge_store *open_file_store(void *dir) {
    midge_store *s = NULL;
    H_CHECK_OK(midge_store_file_new((const char *)dir, 0, 0, &s));
    return s;
}

static midge_store *open_kv_store(void *mem) {
    return kv_store((kv *)mem);
}

static void file_store(const h_broker *b) {
    char dir[] = "/tmp/midge-persist-c-XXXXXX";
    H_CHECK(mkdtemp(dir) != NULL);
    /* Locked while open: a second opening is refused. */
    midge_store *first = open_file_store(dir), *second = NULL;
    H_CHECK_RC(midge_store_file_new(dir, 0, 0, &second), MIDGE_RESULT_STORE);
    /* A store set again on the options frees the one set before: its lock goes. */
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_store(o, &first, MIDGE_DURABILITY_OS));
    kv spare;
    memset(&spare, 0, sizeof spare);
    midge_store *other = kv_store(&spare);
    H_CHECK_OK(midge_options_set_store(o, &other, MIDGE_DURABILITY_OS));
    first = open_file_store(dir);
    midge_options_free(&o);
    H_CHECK(spare.closes == 1);
    midge_store_free(&first);
    restart_sends_what_was_accepted(b, "persist-c-file", open_file_store, dir,
                                    MIDGE_DURABILITY_FSYNC);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    H_CHECK(system(cmd) == 0);
}

int main(void) {
    h_begin("test_persistence");
    h_broker b;
    h_broker_start(&b, NULL, NULL, NULL);
    file_store(&b);

    /* The C callback store: the application's storage outlives each midge_store. */
    kv mem;
    memset(&mem, 0, sizeof mem);
    restart_sends_what_was_accepted(&b, "persist-c-kv", open_kv_store, &mem,
                                    MIDGE_DURABILITY_OS);
    H_CHECK(mem.closes == 2);
    h_note("callback store: %d puts, %d records left", mem.puts, kv_count(&mem));

    /* A store holding another client's session is refused. */
    midge_store *s = kv_store(&mem);
    midge_options *o = persistent_options("someone-else", &s, MIDGE_DURABILITY_OS);
    midge_client *c = NULL;
    H_CHECK_RC(midge_client_new(b.url, o, &c), MIDGE_RESULT_INVALID_ARGUMENT);
    midge_options_free(&o);
    kv_clear(&mem);

    /* Bad arguments. */
    o = midge_options_new();
    s = kv_store(&mem);
    H_CHECK_RC(midge_options_set_store(o, &s, 0), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_options_set_store(o, &s, 4), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(s != NULL); /* not taken */
    H_CHECK_RC(midge_options_set_store(o, NULL, MIDGE_DURABILITY_OS),
               MIDGE_RESULT_INVALID_ARGUMENT);
    midge_store_free(&s);
    H_CHECK_RC(midge_options_set_store(o, &s, MIDGE_DURABILITY_OS),
               MIDGE_RESULT_INVALID_ARGUMENT); /* *store NULL */
    midge_options_free(&o);

    h_broker_stop(&b);
    h_end();
    return 0;
}
