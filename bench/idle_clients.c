/* midge only: connects 1, 100 and 1000 clients (--clients LIST) in one process and reports
 * connect-to-CONNACK time (median, p99: from midge_client_connect to the connect callback),
 * resident memory per idle client (VmRSS delta over the connected, subscribed set / N),
 * the heap in use per idle client (glibc mallinfo2: uordblks + hblkhd delta / N; unlike
 * RSS it does not count freed memory malloc keeps, e.g. the subscribe storm's transients),
 * the process's CPU time while they idle (keep-alive timers included), and the time for a
 * QoS 1 message to each of them (each subscribed to its own topic) to be delivered.
 * usage: idle_clients --broker host:port [--clients 1,100,1000] [--idle-ms 500] */
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "midge.h"

static uint64_t *T_START, *T_DONE;
static atomic_long CONNECTED, DELIVERED;

static void check(midge_result r, const char *what) {
    if (r != MIDGE_RESULT_OK)
        bench_die("midge: %s: %s (%s)", what, midge_result_str(r), midge_last_error_message());
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static long heap_bytes(void) {
    struct mallinfo2 m = mallinfo2();
    return (long)(m.uordblks + m.hblkhd);
}

static double cpu_ms(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

static void on_message(void *ud, const midge_message *m) {
    (void)ud;
    (void)m;
    atomic_fetch_add(&DELIVERED, 1);
}

static void on_connect(void *ud, const midge_connack *ack) {
    (void)ack;
    size_t i = (size_t)ud;
    if (!T_DONE[i]) {
        T_DONE[i] = bench_now_ns();
        atomic_fetch_add(&CONNECTED, 1);
    }
}

static midge_client *new_client(const char *address, size_t index, midge_connect_cb cb) {
    midge_options *o = midge_options_new();
    check(midge_options_set_reconnect(o, false, 250, 1000), "set_reconnect");
    check(midge_options_set_keep_alive(o, 60), "set_keep_alive");
    midge_client *c = NULL;
    check(midge_client_new(address, o, &c), "client_new");
    midge_options_free(&o);
    if (cb) {
        check(midge_client_on_connect(c, cb, (void *)index, NULL), "on_connect");
        check(midge_client_on_message(c, on_message, NULL, NULL), "on_message");
    }
    return c;
}

int main(int argc, char **argv) {
    const char *address = NULL, *list = "1,100,1000";
    int idle_ms = 500;
    bool bad = argc % 2 == 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--broker")) address = argv[i + 1];
        else if (!strcmp(argv[i], "--clients")) list = argv[i + 1];
        else if (!strcmp(argv[i], "--idle-ms")) idle_ms = atoi(argv[i + 1]);
        else bad = true;
    }
    if (bad || address == NULL) {
        bench_die("usage: idle_clients --broker host:port [--clients 1,100,1000] [--idle-ms N]");
    }
    /* A first client starts midge's threads, so they are not counted per client. */
    midge_client *warm = new_client(address, 0, NULL);
    check(midge_client_connect_wait(warm, 10000, NULL), "connect_wait");

    char *copy = strdup(list);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        long n = atol(tok);
        if (n < 1) continue;
        T_START = calloc((size_t)n, sizeof(uint64_t));
        T_DONE = calloc((size_t)n, sizeof(uint64_t));
        midge_client **cs = calloc((size_t)n, sizeof *cs);
        atomic_store(&CONNECTED, 0);
        usleep(100000);
        long rss0 = rss_kib(), heap0 = heap_bytes();
        for (long i = 0; i < n; i++) cs[i] = new_client(address, (size_t)i, on_connect);
        uint64_t all0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            T_START[i] = bench_now_ns();
            check(midge_client_connect(cs[i], NULL), "connect");
        }
        uint64_t deadline = bench_now_ns() + 30000000000ull;
        while (atomic_load(&CONNECTED) < n && bench_now_ns() < deadline) usleep(1000);
        uint64_t all1 = bench_now_ns();
        long ok = atomic_load(&CONNECTED);
        /* Each on its own topic, QoS 1: what a QoS 1 message to each of them takes. */
        midge_completion **subs = calloc((size_t)n, sizeof *subs);
        char topic[64];
        for (long i = 0; i < n; i++) {
            snprintf(topic, sizeof topic, "idle/%ld", i);
            const char *filters[1] = {topic};
            const uint8_t options[1] = {1};
            check(midge_client_subscribe(cs[i], filters, options, 1, NULL, &subs[i]), "subscribe");
        }
        for (long i = 0; i < n; i++) {
            check(midge_completion_wait(subs[i], 30000), "subscribe wait");
            midge_completion_free(&subs[i]);
        }
        free(subs);
        usleep(100000);
        double cpu0 = cpu_ms();
        usleep((useconds_t)idle_ms * 1000);
        double idle_cpu = cpu_ms() - cpu0;
        long rss1 = rss_kib(), heap1 = heap_bytes();
        atomic_store(&DELIVERED, 0);
        uint64_t pub0 = bench_now_ns();
        midge_completion *last = NULL;
        for (long i = 0; i < n; i++) {
            snprintf(topic, sizeof topic, "idle/%ld", i);
            if (last) midge_completion_free(&last);
            check(midge_client_publish(warm, topic, (const uint8_t *)"x", 1, 1, false, NULL, &last), "publish");
        }
        deadline = bench_now_ns() + 30000000000ull;
        while (atomic_load(&DELIVERED) < n && bench_now_ns() < deadline) usleep(1000);
        uint64_t pub1 = bench_now_ns();
        if (last) {
            check(midge_completion_wait(last, 30000), "publish wait");
            midge_completion_free(&last);
        }
        uint64_t *d = calloc((size_t)n, sizeof(uint64_t));
        long m = 0;
        for (long i = 0; i < n; i++)
            if (T_DONE[i]) d[m++] = T_DONE[i] - T_START[i];
        double p50 = bench_percentile(d, m, 50) / 1e3, p99 = bench_percentile(d, m, 99) / 1e3;
        printf("lib=midge scenario=idle clients=%ld connected=%ld connect_p50_us=%.1f connect_p99_us=%.1f "
               "connect_all_ms=%.2f rss_delta_kib=%ld rss_per_client_kib=%.1f heap_per_client_b=%ld "
               "idle_cpu_ms_per_s=%.2f qos1_delivered=%ld qos1_all_ms=%.1f\n",
               n, ok, p50, p99, (double)(all1 - all0) / 1e6, rss1 - rss0, (double)(rss1 - rss0) / (double)n,
               (heap1 - heap0) / n,
               idle_cpu * 1000.0 / (double)idle_ms, atomic_load(&DELIVERED), (double)(pub1 - pub0) / 1e6);
        fflush(stdout);
        for (long i = 0; i < n; i++) midge_client_free(&cs[i]);
        free(cs);
        free(d);
        free(T_START);
        free(T_DONE);
        T_START = T_DONE = NULL;
    }
    free(copy);
    midge_client_free(&warm);
    return 0;
}
