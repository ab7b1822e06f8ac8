/* midge only: connects 1, 100 and 1000 clients (--clients LIST) in one process and reports
 * connect-to-CONNACK time (median, p99: from midge_client_connect to the connect callback)
 * and resident memory per idle client (VmRSS delta over the connected set / N).
 * usage: idle_clients --broker host:port [--clients 1,100,1000] [--idle-ms 500] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "midge.h"

static uint64_t *T_START, *T_DONE;
static atomic_long CONNECTED;

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
    if (cb) check(midge_client_on_connect(c, cb, (void *)index, NULL), "on_connect");
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
        long rss0 = rss_kib();
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
        usleep((useconds_t)idle_ms * 1000);
        long rss1 = rss_kib();
        uint64_t *d = calloc((size_t)n, sizeof(uint64_t));
        long m = 0;
        for (long i = 0; i < n; i++)
            if (T_DONE[i]) d[m++] = T_DONE[i] - T_START[i];
        double p50 = bench_percentile(d, m, 50) / 1e3, p99 = bench_percentile(d, m, 99) / 1e3;
        printf("lib=midge scenario=idle clients=%ld connected=%ld connect_p50_us=%.1f connect_p99_us=%.1f "
               "connect_all_ms=%.2f rss_delta_kib=%ld rss_per_client_kib=%.1f\n",
               n, ok, p50, p99, (double)(all1 - all0) / 1e6, rss1 - rss0, (double)(rss1 - rss0) / (double)n);
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
