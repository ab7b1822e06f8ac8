/* 11. Process life: midge_shutdown joins every midge thread; what fork() allows.
 *
 * As midge.h documents it:
 * - midge_shutdown() is refused (MIDGE_RESULT_INVALID_ARGUMENT) while a client exists, and
 *   from a callback (MIDGE_RESULT_WOULD_DEADLOCK); with every client freed it stops and
 *   joins all of midge's threads (none left in /proc/self/task), and may be called again.
 * - After midge_shutdown, midge_client_new starts the threads again: a client works.
 * - fork() while midge's threads run: the parent's clients go on working; the child may
 *   only exec (here: this program again, which then uses midge from scratch).
 * - fork() after midge_shutdown: the child may use midge (new clients) and so may the
 *   parent. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* How many threads of this process have a name starting "midge-" (the I/O thread
 * "midge-io", the dispatchers "midge-dispatch-N", the resolvers "midge-dns-N"). */
static int midge_threads(void) {
    DIR *d = opendir("/proc/self/task");
    H_CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue; /* the thread ended meanwhile */
        if (fgets(comm, sizeof comm, f) != NULL && strncmp(comm, "midge-", 6) == 0) n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Whether every midge thread is gone. A thread midge_shutdown joined has finished all its
 * code, but the kernel may list it in /proc/self/task for a moment longer: a short bounded
 * poll (a thread left running, blocked in the poller, stays far longer). */
static bool midge_threads_gone(void) {
    int64_t deadline = h_now_ms() + 2000;
    while (midge_threads() != 0) {
        if (h_now_ms() > deadline) return false;
        h_pause_ms(1);
    }
    return true;
}

static void publish_retained(const char *url, const char *topic, const char *payload) {
    midge_client *c = h_connect(url, NULL);
    uint8_t reason = 0xFF;
    H_CHECK_OK(midge_client_publish_wait(c, topic, (const uint8_t *)payload, strlen(payload), 1,
                                         true, NULL, H_LONG_MS, &reason));
    H_CHECK(reason == 0x00 || reason == 0x10); /* 0x10: No matching subscribers (yet) */
    H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
    midge_client_free(&c);
}

/* A client subscribed to `topic`, whose messages go to `inbox`. */
static midge_client *subscriber(const char *url, h_inbox *inbox, const char *topic) {
    midge_client *c = h_connect(url, NULL);
    H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, inbox, NULL));
    const char *filters[1] = {topic};
    uint8_t qos[1] = {1}, codes[1] = {0xFF};
    H_CHECK_OK(midge_client_subscribe_wait(c, filters, qos, 1, NULL, H_LONG_MS, codes));
    H_CHECK(codes[0] == 0x01);
    return c;
}

static void expect_message(h_inbox *inbox, const char *payload) {
    midge_message *m = h_inbox_pop(inbox, H_LONG_MS);
    H_CHECK(m != NULL);
    H_CHECK(h_payload_is_str(m, payload));
    midge_message_free(&m);
}

/* The exec'd child: a fresh process image using midge. */
static int exec_child_main(const char *url) {
    publish_retained(url, "process/exec", "from the exec'd child");
    return midge_shutdown() == MIDGE_RESULT_OK && midge_threads_gone() ? 0 : 3;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool called;
    midge_result rc;
} shutdown_probe;

/* A message callback that tries midge_shutdown on midge's own dispatcher thread. */
static void shutdown_in_callback(void *user_data, const midge_message *message) {
    (void)message;
    shutdown_probe *p = (shutdown_probe *)user_data;
    midge_result rc = midge_shutdown();
    pthread_mutex_lock(&p->mu);
    p->rc = rc;
    p->called = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void shutdown_is_refused_while_clients_exist(const char *url) {
    h_note("shutdown with a live client: refused, nothing stopped");
    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *c = subscriber(url, &inbox, "process/alive");
    H_CHECK(midge_threads() > 0);
    H_CHECK_RC(midge_shutdown(), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK(strstr(midge_last_error_message(), "client") != NULL);
    /* The client still works. */
    H_CHECK_OK(midge_client_publish_wait(c, "process/alive", (const uint8_t *)"still", 5, 1,
                                         false, NULL, H_LONG_MS, NULL));
    expect_message(&inbox, "still");

    h_note("shutdown from a callback: MIDGE_RESULT_WOULD_DEADLOCK");
    shutdown_probe probe;
    pthread_mutex_init(&probe.mu, NULL);
    pthread_cond_init(&probe.cv, NULL);
    probe.called = false;
    probe.rc = MIDGE_RESULT_OK;
    H_CHECK_OK(midge_client_on_message(c, shutdown_in_callback, &probe, NULL));
    H_CHECK_OK(midge_client_publish_wait(c, "process/alive", (const uint8_t *)"cb", 2, 1, false,
                                         NULL, H_LONG_MS, NULL));
    pthread_mutex_lock(&probe.mu);
    int64_t deadline = h_now_ms() + H_LONG_MS;
    while (!probe.called && h_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&probe.cv, &probe.mu, &ts);
    }
    bool called = probe.called;
    midge_result rc = probe.rc;
    pthread_mutex_unlock(&probe.mu);
    H_CHECK(called);
    H_CHECK_RC(rc, MIDGE_RESULT_WOULD_DEADLOCK);

    H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
    midge_client_free(&c);
    pthread_cond_destroy(&probe.cv);
    pthread_mutex_destroy(&probe.mu);
    h_inbox_destroy(&inbox);
}

static void fork_while_threads_run(const char *self, const char *url) {
    h_note("fork while midge's threads run: the parent goes on, the child execs");
    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *c = subscriber(url, &inbox, "process/exec");
    H_CHECK(midge_threads() > 0);
    fflush(NULL);
    pid_t child = fork();
    H_CHECK(child >= 0);
    if (child == 0) {
        /* Only async-signal-safe calls until exec: no midge function here. */
        execl(self, self, "--exec-child", url, (char *)NULL);
        _exit(127);
    }
    /* The parent's client is unaffected: the exec'd child's message arrives, and the
     * parent's own publishes still go round. */
    expect_message(&inbox, "from the exec'd child");
    int status = 0;
    H_CHECK(waitpid(child, &status, 0) == child);
    H_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    H_CHECK_OK(midge_client_publish_wait(c, "process/exec", (const uint8_t *)"parent", 6, 1,
                                         false, NULL, H_LONG_MS, NULL));
    expect_message(&inbox, "parent");
    H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
    midge_client_free(&c);
    h_inbox_destroy(&inbox);
}

static void shutdown_joins_every_thread(void) {
    h_note("every client freed: shutdown stops and joins every midge thread");
    H_CHECK(midge_threads() > 0);
    H_CHECK_OK(midge_shutdown());
    H_CHECK(midge_threads_gone());
    h_note("a second shutdown finds nothing to do");
    H_CHECK_OK(midge_shutdown());
    H_CHECK(midge_threads_gone());
}

static void fork_after_shutdown(const char *url) {
    h_note("fork after shutdown: child and parent both use midge");
    H_CHECK(midge_threads_gone());
    fflush(NULL);
    pid_t child = fork();
    H_CHECK(child >= 0);
    if (child == 0) {
        publish_retained(url, "process/forked", "from the forked child");
        _exit(midge_shutdown() == MIDGE_RESULT_OK && midge_threads_gone() ? 0 : 3);
    }
    int status = 0;
    H_CHECK(waitpid(child, &status, 0) == child);
    H_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* A new client in the parent starts the threads again, and gets the child's message. */
    h_inbox inbox;
    h_inbox_init(&inbox);
    midge_client *c = subscriber(url, &inbox, "process/forked");
    H_CHECK(midge_threads() > 0);
    expect_message(&inbox, "from the forked child");
    H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
    midge_client_free(&c);
    h_inbox_destroy(&inbox);
    H_CHECK_OK(midge_shutdown());
    H_CHECK(midge_threads_gone());
}

int main(int argc, char **argv) {
    /* ctest runs the test by its absolute path, which the fork test execs again. */
    H_CHECK(argc >= 1 && argv[0][0] == '/');
    if (argc == 3 && strcmp(argv[1], "--exec-child") == 0) {
        return exec_child_main(argv[2]);
    }
    h_begin("test_process");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    shutdown_is_refused_while_clients_exist(broker.url);
    fork_while_threads_run(argv[0], broker.url);
    shutdown_joins_every_thread();
    fork_after_shutdown(broker.url);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
