/* 12. Unloading libmidge: dlopen it, run a client against a private Mosquitto (connect,
 * subscribe, a QoS 1 round trip through a callback), free the client, midge_shutdown,
 * dlclose; then no midge thread is left in /proc/self/task (a thread left would run code
 * that is no longer mapped), and the process carries on. Twice, so the library is loaded
 * again after an unload.
 *
 * This program does not link libmidge (only libdl): the library comes and goes with
 * dlopen/dlclose. So it has its own few lines to start the broker instead of harness.c.
 *   test_dlclose [path/to/libmidge.so]   (default: the build's, or $MIDGE_TEST_LIB) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "midge.h"

#define FAIL(...)                                                    \
    do {                                                             \
        fprintf(stderr, "test_dlclose:%d: FAIL: ", __LINE__);        \
        fprintf(stderr, __VA_ARGS__);                                \
        fprintf(stderr, "\n");                                       \
        stop_broker();                                               \
        exit(1);                                                     \
    } while (0)

/* ------------------------------------------------------------------ the broker */

static pid_t g_broker;
static char g_dir[256];

static void stop_broker(void) {
    if (g_broker > 0) {
        kill(g_broker, SIGTERM);
        waitpid(g_broker, NULL, 0);
        g_broker = 0;
    }
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        FAIL("no free port: %s", strerror(errno));
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* A private Mosquitto on a free loopback port (never the system's); its URL to `url`. */
static void start_broker(char *url, size_t url_len) {
    const char *mosquitto = getenv("MIDGE_MOSQUITTO");
    if (mosquitto == NULL || *mosquitto == '\0') mosquitto = "/usr/sbin/mosquitto";
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/midge-dlclose-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) FAIL("mkdtemp: %s", strerror(errno));
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = free_port();
        char conf[512], text[512];
        snprintf(conf, sizeof conf, "%s/mosquitto.conf", g_dir);
        snprintf(text, sizeof text, "listener %d 127.0.0.1\nallow_anonymous true\n%s", port,
                 geteuid() == 0 ? "user root\n" : "");
        FILE *f = fopen(conf, "w");
        if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) FAIL("writing %s", conf);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) FAIL("fork: %s", strerror(errno));
        if (pid == 0) {
            char log[300];
            snprintf(log, sizeof log, "%s/output.log", g_dir);
            FILE *out = freopen(log, "w", stdout);
            (void)out;
            dup2(1, 2);
            execl(mosquitto, mosquitto, "-c", conf, (char *)NULL);
            _exit(127);
        }
        g_broker = pid;
        /* Bounded poll until it accepts, or it exited (port taken: try another). */
        int64_t deadline = now_ms() + 5000;
        while (now_ms() < deadline) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                g_broker = 0;
                break;
            }
            if (accepts(port)) {
                snprintf(url, url_len, "mqtt://127.0.0.1:%d", port);
                return;
            }
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        stop_broker();
    }
    FAIL("mosquitto (%s) did not start", mosquitto);
}

/* ------------------------------------------------------------------ threads */

/* The names of this process's threads that start "midge-" (comma-separated) and their
 * number. */
static int midge_threads(char *names, size_t len) {
    names[0] = '\0';
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) FAIL("opendir /proc/self/task: %s", strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue;
        if (fgets(comm, sizeof comm, f) != NULL && strncmp(comm, "midge-", 6) == 0) {
            comm[strcspn(comm, "\n")] = '\0';
            size_t used = strlen(names);
            snprintf(names + used, len - used, "%s%s", n > 0 ? ", " : "", comm);
            n++;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* How many midge threads remain (names in `names`) once a short bounded poll has given the
 * kernel time to drop threads that were joined but are still listed for a moment (a thread
 * left running, blocked in the poller, stays far longer). */
static int midge_threads_left(char *names, size_t len) {
    int64_t deadline = now_ms() + 2000;
    int n;
    while ((n = midge_threads(names, len)) != 0 && now_ms() < deadline) {
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return n;
}

/* ------------------------------------------------------------------ the library */

typedef struct {
    midge_result (*client_new)(const char *, const midge_options *, midge_client **);
    void (*client_free)(midge_client **);
    midge_result (*connect_wait)(midge_client *, uint32_t, midge_connack **);
    midge_result (*subscribe_wait)(midge_client *, const char *const *, const uint8_t *, size_t,
                                   const midge_properties *, uint32_t, uint8_t *);
    midge_result (*publish_wait)(midge_client *, const char *, const uint8_t *, size_t, int, bool,
                                 const midge_properties *, uint32_t, uint8_t *);
    midge_result (*on_message)(midge_client *, midge_message_cb, void *, midge_drop_cb);
    midge_result (*disconnect_wait)(midge_client *, int, const midge_properties *, uint32_t);
    const char *(*last_error_message)(void);
    midge_result (*shutdown)(void);
} api;

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (p == NULL) fprintf(stderr, "test_dlclose: %s: %s\n", name, dlerror());
    return p;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int received;
    int dropped;
} inbox;

static void on_message(void *user_data, const midge_message *message) {
    (void)message;
    inbox *in = (inbox *)user_data;
    pthread_mutex_lock(&in->mu);
    in->received++;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

static void on_drop(void *user_data) {
    inbox *in = (inbox *)user_data;
    pthread_mutex_lock(&in->mu);
    in->dropped++;
    pthread_mutex_unlock(&in->mu);
}

#define CHECK_OK(a, call)                                                          \
    do {                                                                           \
        midge_result rc_ = (call);                                                 \
        if (rc_ != MIDGE_RESULT_OK) FAIL("%s: %d (%s)", #call, (int)rc_,           \
                                         (a)->last_error_message());               \
    } while (0)

static void round_trip(const api *a, const char *url) {
    midge_client *c = NULL;
    CHECK_OK(a, a->client_new(url, NULL, &c));
    CHECK_OK(a, a->connect_wait(c, 10000, NULL));
    inbox in;
    pthread_mutex_init(&in.mu, NULL);
    pthread_cond_init(&in.cv, NULL);
    in.received = 0;
    in.dropped = 0;
    CHECK_OK(a, a->on_message(c, on_message, &in, on_drop));
    const char *filters[1] = {"dlclose/t"};
    uint8_t qos[1] = {1}, codes[1] = {0xFF};
    CHECK_OK(a, a->subscribe_wait(c, filters, qos, 1, NULL, 10000, codes));
    CHECK_OK(a, a->publish_wait(c, "dlclose/t", (const uint8_t *)"hi", 2, 1, false, NULL, 10000,
                                NULL));
    pthread_mutex_lock(&in.mu);
    int64_t deadline = now_ms() + 10000;
    while (in.received == 0 && now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&in.cv, &in.mu, &ts);
    }
    int received = in.received;
    pthread_mutex_unlock(&in.mu);
    if (received != 1) FAIL("the message did not come back through the callback");
    CHECK_OK(a, a->disconnect_wait(c, 0x00, NULL, 10000));
    a->client_free(&c);
    /* midge_client_free waits for the client's last callback: drop_user_data has run. */
    pthread_mutex_lock(&in.mu);
    int dropped = in.dropped;
    pthread_mutex_unlock(&in.mu);
    if (dropped != 1) FAIL("drop_user_data ran %d times by midge_client_free's return", dropped);
    pthread_cond_destroy(&in.cv);
    pthread_mutex_destroy(&in.mu);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("MIDGE_TEST_LIB");
#ifdef MIDGE_TEST_LIB_DEFAULT
    if (path == NULL) path = MIDGE_TEST_LIB_DEFAULT;
#endif
    if (path == NULL) FAIL("usage: test_dlclose path/to/libmidge.so");
    printf("[test_dlclose] %s\n", path);
    char url[64];
    start_broker(url, sizeof url);
    char names[1024];

    for (int round = 1; round <= 2; round++) {
        if (midge_threads(names, sizeof names) != 0) FAIL("midge threads before dlopen: %s", names);
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) FAIL("dlopen: %s", dlerror());
        api a;
        memset(&a, 0, sizeof a);
        *(void **)&a.client_new = sym(lib, "midge_client_new");
        *(void **)&a.client_free = sym(lib, "midge_client_free");
        *(void **)&a.connect_wait = sym(lib, "midge_client_connect_wait");
        *(void **)&a.subscribe_wait = sym(lib, "midge_client_subscribe_wait");
        *(void **)&a.publish_wait = sym(lib, "midge_client_publish_wait");
        *(void **)&a.on_message = sym(lib, "midge_client_on_message");
        *(void **)&a.disconnect_wait = sym(lib, "midge_client_disconnect_wait");
        *(void **)&a.last_error_message = sym(lib, "midge_last_error_message");
        *(void **)&a.shutdown = sym(lib, "midge_shutdown");
        if (a.client_new == NULL || a.client_free == NULL || a.connect_wait == NULL ||
            a.subscribe_wait == NULL || a.publish_wait == NULL || a.on_message == NULL ||
            a.disconnect_wait == NULL || a.last_error_message == NULL) {
            FAIL("libmidge lacks a function");
        }

        round_trip(&a, url);
        int n = midge_threads(names, sizeof names);
        printf("[test_dlclose] round %d: client freed, %d midge threads: %s\n", round, n, names);
        if (n == 0) FAIL("no midge thread seen while the library runs: the scan sees nothing");

        if (a.shutdown == NULL) {
            fprintf(stderr, "test_dlclose: no midge_shutdown: dlclose with the threads running\n");
        } else {
            CHECK_OK(&a, a.shutdown());
        }
        n = midge_threads_left(names, sizeof names);
        if (n != 0) FAIL("after midge_shutdown, %d midge threads remain: %s", n, names);
        if (dlclose(lib) != 0) FAIL("dlclose: %s", dlerror());
        /* Whether the loader really unmapped it is its choice (thread-local destructors
         * registered on this thread keep it); either way no midge code may run now. */
        void *still = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        printf("[test_dlclose] round %d: midge_shutdown joined every thread; after dlclose the "
               "library is %s\n",
               round, still != NULL ? "still mapped" : "unmapped");
        if (still != NULL) dlclose(still);
        n = midge_threads_left(names, sizeof names);
        if (n != 0) FAIL("after dlclose, %d midge threads remain: %s", n, names);
    }
    stop_broker();
    char log[300];
    snprintf(log, sizeof log, "%s/output.log", g_dir);
    unlink(log);
    snprintf(log, sizeof log, "%s/mosquitto.conf", g_dir);
    unlink(log);
    rmdir(g_dir);
    printf("[test_dlclose] ok\n");
    return 0;
}
