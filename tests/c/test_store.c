/* 19. Persistence stores (issue 15): midge_store_file_new and midge_store_callbacks_new with
 * callbacks written in C. What the handle API promises before a store can be given to a
 * client: arguments checked (NULL callbacks refused, close then not called), the store's
 * content read once at creation through the sink (midge owns the copies), a callback's
 * failure and "full" reported as MIDGE_RESULT_STORE / MIDGE_RESULT_STORE_FULL with its
 * code in the message, a sink kept past its callback reaching nothing, close called
 * exactly once by midge_store_free, the file store locked while open, a foreign file
 * refused and left untouched, and _free emptying the variable (double free harmless). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ a store in C */

#define MAX_ENTRIES 8

typedef struct entry {
    uint8_t key[32];
    size_t key_len;
    uint8_t *value;
    size_t value_len;
} entry;

typedef struct c_store {
    entry entries[MAX_ENTRIES];
    int count;
    int fail_with;           /* returned by the next callback when nonzero */
    int fail_get;            /* returned by the next get when nonzero */
    int keys_calls, get_calls, closes;
    midge_store_sink *kept;  /* a sink kept (wrongly) past its callback */
} c_store;

static entry *find(c_store *s, const uint8_t *key, size_t key_len) {
    for (int i = 0; i < s->count; i++) {
        if (s->entries[i].key_len == key_len && memcmp(s->entries[i].key, key, key_len) == 0) {
            return &s->entries[i];
        }
    }
    return NULL;
}

static int take_failure(c_store *s) {
    int f = s->fail_with;
    s->fail_with = 0;
    return f;
}

static int put_cb(void *ud, const uint8_t *key, size_t key_len, const uint8_t *value,
                  size_t value_len) {
    c_store *s = (c_store *)ud;
    int f = take_failure(s);
    if (f) return f;
    if (key_len > sizeof s->entries[0].key) return 1000;
    entry *e = find(s, key, key_len);
    if (!e) {
        if (s->count == MAX_ENTRIES) return MIDGE_RESULT_STORE_FULL;
        e = &s->entries[s->count++];
        memcpy(e->key, key, key_len);
        e->key_len = key_len;
        e->value = NULL;
    }
    free(e->value);
    e->value = (uint8_t *)malloc(value_len ? value_len : 1);
    if (value_len) memcpy(e->value, value, value_len);
    e->value_len = value_len;
    return 0;
}

static int get_cb(void *ud, const uint8_t *key, size_t key_len, midge_store_sink *sink) {
    c_store *s = (c_store *)ud;
    s->get_calls++;
    s->kept = sink;
    int f = take_failure(s);
    if (f) return f;
    if (s->fail_get) {
        f = s->fail_get;
        s->fail_get = 0;
        return f;
    }
    /* NULL bytes with a length are refused, during the callback too. */
    H_CHECK_RC(midge_store_sink_write(sink, NULL, 3), MIDGE_RESULT_INVALID_ARGUMENT);
    entry *e = find(s, key, key_len);
    if (e) H_CHECK_OK(midge_store_sink_write(sink, e->value, e->value_len));
    return 0;
}

static int remove_cb(void *ud, const uint8_t *key, size_t key_len) {
    c_store *s = (c_store *)ud;
    int f = take_failure(s);
    if (f) return f;
    entry *e = find(s, key, key_len);
    if (e) {
        free(e->value);
        *e = s->entries[--s->count];
    }
    return 0;
}

static int keys_cb(void *ud, midge_store_sink *sink) {
    c_store *s = (c_store *)ud;
    s->keys_calls++;
    s->kept = sink;
    int f = take_failure(s);
    if (f) return f;
    for (int i = 0; i < s->count; i++) {
        H_CHECK_OK(midge_store_sink_write(sink, s->entries[i].key, s->entries[i].key_len));
    }
    return 0;
}

static int sync_cb(void *ud) {
    return take_failure((c_store *)ud);
}

static void close_cb(void *ud) {
    c_store *s = (c_store *)ud;
    s->closes++;
}

static void c_store_clear(c_store *s) {
    for (int i = 0; i < s->count; i++) free(s->entries[i].value);
    memset(s, 0, sizeof *s);
}

static midge_store_callbacks callbacks_of(c_store *s) {
    midge_store_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.user_data = s;
    cb.put = put_cb;
    cb.get = get_cb;
    cb.remove = remove_cb;
    cb.keys = keys_cb;
    cb.sync = sync_cb;
    cb.close = close_cb;
    return cb;
}

static void callback_store(void) {
    c_store s;
    memset(&s, 0, sizeof s);
    midge_store *store = NULL;
    midge_store_callbacks cb = callbacks_of(&s);

    /* Arguments. */
    H_CHECK_RC(midge_store_callbacks_new(NULL, &store), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_store_callbacks_new(&cb, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    for (int missing = 0; missing < 5; missing++) {
        midge_store_callbacks bad = cb;
        if (missing == 0) bad.put = NULL;
        if (missing == 1) bad.get = NULL;
        if (missing == 2) bad.remove = NULL;
        if (missing == 3) bad.keys = NULL;
        if (missing == 4) bad.sync = NULL;
        H_CHECK_RC(midge_store_callbacks_new(&bad, &store), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK(strstr(midge_last_error_message(), "callbacks->") != NULL);
        H_CHECK(store == NULL);
    }
    H_CHECK(s.closes == 0 && s.keys_calls == 0);

    /* The store's content is read once, through the sink. */
    H_CHECK(put_cb(&s, (const uint8_t *)"m1", 2, (const uint8_t *)"hello", 5) == 0);
    H_CHECK(put_cb(&s, (const uint8_t *)"m2", 2, (const uint8_t *)"", 0) == 0);
    H_CHECK_OK(midge_store_callbacks_new(&cb, &store));
    H_CHECK(store != NULL);
    H_CHECK(s.keys_calls == 1 && s.get_calls == 2);
    /* A sink kept past its callback reaches nothing. */
    H_CHECK_RC(midge_store_sink_write(s.kept, (const uint8_t *)"x", 1),
               MIDGE_RESULT_INVALID_ARGUMENT);
    midge_store *stale = store;
    midge_store_free(&store);
    H_CHECK(store == NULL);
    H_CHECK(s.closes == 1);
    midge_store_free(&store);  /* NULL variable: nothing */
    midge_store_free(&stale);  /* a stale copy: nothing */
    midge_store_free(NULL);
    H_CHECK(s.closes == 1);    /* close ran exactly once */

    /* A callback's failure at creation: its code in the message, close not called. */
    s.fail_with = 42;
    H_CHECK_RC(midge_store_callbacks_new(&cb, &store), MIDGE_RESULT_STORE);
    H_CHECK(strstr(midge_last_error_message(), "42") != NULL);
    h_note("a keys callback returning 42: %s", midge_last_error_message());
    s.fail_with = MIDGE_RESULT_STORE_FULL;
    H_CHECK_RC(midge_store_callbacks_new(&cb, &store), MIDGE_RESULT_STORE_FULL);
    H_CHECK(store == NULL);
    /* get failing at creation, after keys succeeded. */
    s.fail_get = -7;
    H_CHECK_RC(midge_store_callbacks_new(&cb, &store), MIDGE_RESULT_STORE);
    H_CHECK(strstr(midge_last_error_message(), "-7") != NULL);
    H_CHECK(store == NULL);
    H_CHECK(s.closes == 1);

    /* Full: the store's own bound, reported as MIDGE_RESULT_STORE_FULL by its callbacks. */
    for (int i = s.count; i < MAX_ENTRIES; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        H_CHECK(put_cb(&s, (const uint8_t *)key, strlen(key), (const uint8_t *)"v", 1) == 0);
    }
    H_CHECK(put_cb(&s, (const uint8_t *)"one more", 8, (const uint8_t *)"v", 1) ==
            MIDGE_RESULT_STORE_FULL);
    H_CHECK_OK(midge_store_callbacks_new(&cb, &store));
    midge_store_free(&store);
    H_CHECK(s.closes == 2);
    c_store_clear(&s);
}

/* ------------------------------------------------------------------ file store */

static void file_store(void) {
    char dir[] = "/tmp/midge-test-store-XXXXXX";
    H_CHECK(mkdtemp(dir) != NULL);
    midge_store *a = NULL, *b = NULL;
    H_CHECK_OK(midge_store_file_new(dir, 0, 0, &a));
    H_CHECK(a != NULL);
    /* Locked while open, from this process too. */
    H_CHECK_RC(midge_store_file_new(dir, 0, 0, &b), MIDGE_RESULT_STORE);
    H_CHECK(strstr(midge_last_error_message(), "in use") != NULL);
    h_note("second open: %s", midge_last_error_message());
    H_CHECK(b == NULL);
    midge_store *stale = a;
    midge_store_free(&a);
    H_CHECK(a == NULL);
    midge_store_free(&stale);
    /* Free again once closed; bounds given. */
    H_CHECK_OK(midge_store_file_new(dir, 1 << 20, 10, &b));
    midge_store_free(&b);

    /* A file that is not a store is refused and left untouched. */
    char path[512];
    snprintf(path, sizeof path, "%s/settings.conf", dir);
    FILE *f = fopen(path, "w");
    H_CHECK(f != NULL);
    fputs("user=me\n", f);
    fclose(f);
    H_CHECK_RC(midge_store_file_new(path, 0, 0, &b), MIDGE_RESULT_STORE);
    H_CHECK(strstr(midge_last_error_message(), "not a midge store") != NULL);
    f = fopen(path, "r");
    char line[32] = {0};
    H_CHECK(f != NULL && fgets(line, sizeof line, f) != NULL);
    fclose(f);
    H_CHECK(strcmp(line, "user=me\n") == 0);

    /* Arguments and a directory that does not exist. */
    H_CHECK_RC(midge_store_file_new(NULL, 0, 0, &b), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_store_file_new(dir, 0, 0, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_RC(midge_store_file_new("/nonexistent-midge/dir/store", 0, 0, &b),
               MIDGE_RESULT_STORE);
    H_CHECK(b == NULL);

    snprintf(path, sizeof path, "%s/settings.conf", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/settings.conf.lock", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/midge.store", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/midge.store.lock", dir);
    unlink(path);
    H_CHECK(rmdir(dir) == 0);
}

int main(void) {
    h_begin("test_store");
    H_CHECK(strcmp(midge_result_str(MIDGE_RESULT_STORE_FULL), "store full") == 0);
    H_CHECK(strcmp(midge_result_str(MIDGE_RESULT_STORE), "store failed") == 0);
    callback_store();
    file_store();
    h_end();
    return 0;
}
