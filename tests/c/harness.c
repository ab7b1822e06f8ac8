/* harness.c: see harness.h. Compiles as C11 and as C++17. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#ifndef MIDGE_MOSQUITTO_DEFAULT
#define MIDGE_MOSQUITTO_DEFAULT "/usr/sbin/mosquitto"
#endif
#ifndef MIDGE_MOSQUITTO_PASSWD_DEFAULT
#define MIDGE_MOSQUITTO_PASSWD_DEFAULT "mosquitto_passwd"
#endif

/* ------------------------------------------------------------------ time */

int64_t h_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_pause_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static const char *g_test_name = "test";
static int64_t g_test_start;

void h_begin(const char *name) {
    g_test_name = name;
    g_test_start = h_now_ms();
    /* Line-buffered output, so failures and notes interleave sensibly with valgrind's. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("[%s] start (midge %s)\n", name, midge_version_string());
}

void h_end(void) {
    printf("[%s] PASS in %lld ms\n", g_test_name, (long long)(h_now_ms() - g_test_start));
    fflush(stdout);
}

void h_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("[%s] ", g_test_name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* ------------------------------------------------------------------ broker registry */

#define H_MAX_BROKERS 8
static h_broker *g_brokers[H_MAX_BROKERS];
static pid_t g_owner_pid;
static pthread_mutex_t g_fail_mu = PTHREAD_MUTEX_INITIALIZER;

static void register_broker(h_broker *b) {
    if (g_owner_pid == 0) g_owner_pid = getpid();
    for (int i = 0; i < H_MAX_BROKERS; i++) {
        if (g_brokers[i] == NULL) {
            g_brokers[i] = b;
            return;
        }
    }
}

static void unregister_broker(h_broker *b) {
    for (int i = 0; i < H_MAX_BROKERS; i++) {
        if (g_brokers[i] == b) g_brokers[i] = NULL;
    }
}

static void dump_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    char buf[4096];
    /* The tail is what matters. */
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 16384) fseek(f, size - 16384, SEEK_SET);
        else fseek(f, 0, SEEK_SET);
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stderr);
    fclose(f);
}

void h_fail(const char *file, int line, const char *expr, int has_rc, int rc, int expected) {
    pthread_mutex_lock(&g_fail_mu); /* one failure report, even from several threads */
    fflush(stdout);
    uint8_t code = 0;
    int reason = midge_last_error_reason_code(&code) ? (int)code : -1;
    if (has_rc) {
        fprintf(stderr,
                "%s:%d: [%s] FAILED: %s\n  returned %d (%s), expected %d (%s)\n"
                "  last error: \"%s\" (reason code %d)\n",
                file, line, g_test_name, expr, rc, midge_result_str(rc), expected,
                midge_result_str(expected), midge_last_error_message(), reason);
    } else {
        fprintf(stderr, "%s:%d: [%s] FAILED: %s\n  last error: \"%s\" (reason code %d)\n", file,
                line, g_test_name, expr, midge_last_error_message(), reason);
    }
    if (getpid() == g_owner_pid) {
        for (int i = 0; i < H_MAX_BROKERS; i++) {
            h_broker *b = g_brokers[i];
            if (b == NULL || b->pid == 0) continue;
            char path[512];
            h_broker_path(b, "mosquitto.log", path, sizeof path);
            fprintf(stderr, "--- mosquitto (pid %d, port %d) log ---\n", (int)b->pid, b->port);
            dump_file(path);
            h_broker_stop(b);
        }
    }
    fflush(stderr);
    _exit(1); /* no atexit handlers, no destructors: midge's threads may still run */
}

/* ------------------------------------------------------------------ processes & files */

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : fallback;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    H_CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    H_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    H_CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Runs argv[0] with stdout/stderr to `log_path`; returns the child's PID. */
static pid_t spawn(char *const argv[], const char *log_path) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = 0;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) {
        fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(err));
        return 0;
    }
    return pid;
}

void h_broker_path(const h_broker *b, const char *name, char *out, size_t out_len) {
    int n = snprintf(out, out_len, "%s/%s", b->dir, name);
    H_CHECK(n > 0 && (size_t)n < out_len);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    H_CHECK(f != NULL);
    H_CHECK(fputs(text, f) >= 0);
    H_CHECK(fclose(f) == 0);
}

static bool tcp_accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

void h_broker_start(h_broker *b, const char *user, const char *password,
                    const char *extra_conf) {
    h_broker_start_acl(b, user, password, extra_conf, NULL);
}

void h_broker_start_acl(h_broker *b, const char *user, const char *password,
                        const char *extra_conf, const char *acl) {
    memset(b, 0, sizeof *b);
    const char *tmp = env_or("TMPDIR", "/tmp");
    int n = snprintf(b->dir, sizeof b->dir, "%s/midge-c-test-XXXXXX", tmp);
    H_CHECK(n > 0 && (size_t)n < sizeof b->dir);
    H_CHECK(mkdtemp(b->dir) != NULL);
    register_broker(b);

    char conf_path[512], log_path[512], passwd_path[512], out_path[512];
    h_broker_path(b, "mosquitto.conf", conf_path, sizeof conf_path);
    h_broker_path(b, "mosquitto.log", log_path, sizeof log_path);
    h_broker_path(b, "passwd", passwd_path, sizeof passwd_path);
    h_broker_path(b, "output.log", out_path, sizeof out_path);

    if (user != NULL) {
        const char *tool = env_or("MIDGE_MOSQUITTO_PASSWD", MIDGE_MOSQUITTO_PASSWD_DEFAULT);
        char *argv[8];
        argv[0] = (char *)tool;
        argv[1] = (char *)"-b";
        argv[2] = (char *)"-c";
        argv[3] = passwd_path;
        argv[4] = (char *)user;
        argv[5] = (char *)password;
        argv[6] = NULL;
        pid_t pid = spawn(argv, out_path);
        H_CHECK(pid > 0);
        int status = 0;
        H_CHECK(waitpid(pid, &status, 0) == pid);
        H_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    char acl_path[512], acl_line[600];
    acl_line[0] = '\0';
    if (acl != NULL) {
        h_broker_path(b, "acl", acl_path, sizeof acl_path);
        write_file(acl_path, acl);
        snprintf(acl_line, sizeof acl_line, "acl_file %s\n", acl_path);
    }

    const char *mosquitto = env_or("MIDGE_MOSQUITTO", MIDGE_MOSQUITTO_DEFAULT);
    for (int attempt = 1; attempt <= 5; attempt++) {
        b->port = free_port();
        char conf[4096];
        n = snprintf(conf, sizeof conf,
                     "listener %d 127.0.0.1\n"
                     "%s%s%s"
                     "log_dest file %s\n"
                     "log_type all\n"
                     "%s"
                     "%s"
                     "%s\n",
                     b->port, user != NULL ? "allow_anonymous false\npassword_file " : "allow_anonymous true\n",
                     user != NULL ? passwd_path : "", user != NULL ? "\n" : "", log_path,
                     geteuid() == 0 ? "user root\n" : "", acl_line, extra_conf != NULL ? extra_conf : "");
        H_CHECK(n > 0 && (size_t)n < sizeof conf);
        write_file(conf_path, conf);

        char *argv[4];
        argv[0] = (char *)mosquitto;
        argv[1] = (char *)"-c";
        argv[2] = conf_path;
        argv[3] = NULL;
        b->pid = spawn(argv, out_path);
        H_CHECK(b->pid > 0);

        /* Bounded poll: connectable, and our process still alive (not a squatter). */
        int64_t deadline = h_now_ms() + 5000;
        bool ready = false, exited = false;
        while (h_now_ms() < deadline) {
            int status;
            if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
                exited = true;
                break;
            }
            if (tcp_accepts(b->port)) {
                ready = waitpid(b->pid, &status, WNOHANG) == 0;
                exited = !ready;
                break;
            }
            h_pause_ms(5);
        }
        if (ready) {
            snprintf(b->url, sizeof b->url, "mqtt://127.0.0.1:%d", b->port);
            return;
        }
        if (!exited) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, NULL, 0);
        }
        fprintf(stderr, "mosquitto attempt %d on port %d failed\n", attempt, b->port);
        dump_file(out_path);
        dump_file(log_path);
        b->pid = 0;
    }
    h_fail(__FILE__, __LINE__, "mosquitto did not start", 0, 0, 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void h_broker_stop(h_broker *b) {
    if (b->pid > 0) {
        kill(b->pid, SIGKILL); /* works on a stopped process too */
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
    if (b->dir[0] != '\0') {
        nftw(b->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        b->dir[0] = '\0';
    }
    unregister_broker(b);
}

void h_broker_freeze(h_broker *b) {
    H_CHECK(b->pid > 0);
    H_CHECK(kill(b->pid, SIGSTOP) == 0);
    /* Wait until it really is stopped. */
    int status = 0;
    H_CHECK(waitpid(b->pid, &status, WUNTRACED) == b->pid);
    H_CHECK(WIFSTOPPED(status));
    b->stopped = true;
}

void h_broker_thaw(h_broker *b) {
    H_CHECK(b->pid > 0);
    H_CHECK(kill(b->pid, SIGCONT) == 0);
    b->stopped = false;
}

/* ------------------------------------------------------------------ silent server */

static void *silent_main(void *arg) {
    h_silent *s = (h_silent *)arg;
    for (;;) {
        struct pollfd p[2];
        p[0].fd = s->listen_fd;
        p[0].events = POLLIN;
        p[0].revents = 0;
        p[1].fd = s->wake[0];
        p[1].events = POLLIN;
        p[1].revents = 0;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents != 0) break;
        if (p[0].revents & POLLIN) {
            int fd = accept(s->listen_fd, NULL, NULL);
            if (fd < 0) continue;
            int i = __atomic_load_n(&s->accepted, __ATOMIC_SEQ_CST);
            if (i < 64) {
                s->accepted_fds[i] = fd; /* kept open, never read or written */
                __atomic_store_n(&s->accepted, i + 1, __ATOMIC_SEQ_CST);
            } else {
                close(fd);
            }
        }
    }
    return NULL;
}

void h_silent_start(h_silent *s) {
    memset(s, 0, sizeof *s);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    H_CHECK(s->listen_fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    H_CHECK(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    H_CHECK(listen(s->listen_fd, 16) == 0);
    socklen_t len = sizeof a;
    H_CHECK(getsockname(s->listen_fd, (struct sockaddr *)&a, &len) == 0);
    s->port = ntohs(a.sin_port);
    H_CHECK(pipe(s->wake) == 0);
    H_CHECK(pthread_create(&s->thread, NULL, silent_main, s) == 0);
    s->running = true;
    snprintf(s->url, sizeof s->url, "mqtt://127.0.0.1:%d", s->port);
}

int h_silent_accepted(h_silent *s) {
    return __atomic_load_n(&s->accepted, __ATOMIC_SEQ_CST);
}

void h_silent_stop(h_silent *s) {
    if (!s->running) return;
    H_CHECK(write(s->wake[1], "x", 1) == 1);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->accepted; i++) close(s->accepted_fds[i]);
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    s->running = false;
}

/* ------------------------------------------------------------------ inbox */

void h_inbox_init(h_inbox *in) {
    memset(in, 0, sizeof *in);
    pthread_mutex_init(&in->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&in->cv, &attr);
    pthread_condattr_destroy(&attr);
}

void h_inbox_destroy(h_inbox *in) {
    while (in->head != in->tail) {
        midge_message_free(&in->items[in->head % H_INBOX_CAP]);
        in->head++;
    }
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->mu);
}

void h_inbox_on_message(void *user_data, const midge_message *message) {
    h_inbox *in = (h_inbox *)user_data;
    midge_message *copy = midge_message_clone(message);
    H_CHECK(copy != NULL);
    pthread_mutex_lock(&in->mu);
    H_CHECK(in->tail - in->head < H_INBOX_CAP);
    in->items[in->tail % H_INBOX_CAP] = copy;
    in->tail++;
    in->total++;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

midge_message *h_inbox_pop(h_inbox *in, int timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    midge_message *m = NULL;
    pthread_mutex_lock(&in->mu);
    while (in->head == in->tail) {
        if (pthread_cond_timedwait(&in->cv, &in->mu, &deadline) == ETIMEDOUT) break;
    }
    if (in->head != in->tail) {
        m = in->items[in->head % H_INBOX_CAP];
        in->head++;
    }
    pthread_mutex_unlock(&in->mu);
    return m;
}

size_t h_inbox_total(h_inbox *in) {
    pthread_mutex_lock(&in->mu);
    size_t n = in->total;
    pthread_mutex_unlock(&in->mu);
    return n;
}

/* ------------------------------------------------------------------ helpers */

midge_client *h_connect(const char *url, const midge_options *options) {
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(url, options, &c));
    H_CHECK(c != NULL);
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    return c;
}

midge_client *h_connect_id(const char *url, const char *client_id) {
    midge_options *o = midge_options_new();
    H_CHECK(o != NULL);
    H_CHECK_OK(midge_options_set_client_id(o, client_id));
    midge_client *c = h_connect(url, o);
    midge_options_free(&o);
    return c;
}

bool h_payload_is(const midge_message *m, const void *bytes, size_t len) {
    size_t n = (size_t)-1;
    const uint8_t *p = midge_message_payload(m, &n);
    if (n != len) return false;
    if (len == 0) return true;
    return p != NULL && memcmp(p, bytes, len) == 0;
}

bool h_payload_is_str(const midge_message *m, const char *s) {
    return h_payload_is(m, s, strlen(s));
}
