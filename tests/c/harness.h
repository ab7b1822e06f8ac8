/*
 * harness.h: the small test harness of midge's C test suite.
 *
 * - H_CHECK* macros: on failure print file:line, the expression, the midge result text and
 *   midge_last_error_message(), dump the logs of the brokers this process started, stop
 *   them and exit non-zero.
 * - h_broker: a private Mosquitto on an ephemeral 127.0.0.1 port (never the system one on
 *   1883), in a mkdtemp directory, stopped by PID.
 * - h_silent: a TCP server that accepts connections and never answers.
 * - h_inbox: a thread-safe queue of received messages for midge_client_on_message.
 *
 * The same sources compile as C11 and as C++17 (see CMakeLists.txt).
 */
#ifndef MIDGE_TEST_HARNESS_H
#define MIDGE_TEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "midge.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ assertions */

void h_fail(const char *file, int line, const char *expr, int has_rc, int rc, int expected);
void h_note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Check a condition. */
#define H_CHECK(expr)                                                    \
    do {                                                                 \
        if (!(expr)) h_fail(__FILE__, __LINE__, #expr, 0, 0, 0);         \
    } while (0)

/* Check that a call returns the expected midge_result. */
#define H_CHECK_RC(call, expected)                                              \
    do {                                                                        \
        int h_rc_ = (int)(call);                                                \
        int h_ex_ = (int)(expected);                                            \
        if (h_rc_ != h_ex_) h_fail(__FILE__, __LINE__, #call, 1, h_rc_, h_ex_); \
    } while (0)

#define H_CHECK_OK(call) H_CHECK_RC(call, MIDGE_RESULT_OK)

/* Wait (bounded) until a condition holds, polling it every millisecond. */
#define H_WAIT_UNTIL(expr, timeout_ms)                                          \
    do {                                                                        \
        int64_t h_deadline_ = h_now_ms() + (timeout_ms);                        \
        while (!(expr)) {                                                       \
            if (h_now_ms() > h_deadline_) {                                     \
                h_fail(__FILE__, __LINE__, "wait until: " #expr, 0, 0, 0);      \
            }                                                                   \
            h_pause_ms(1);                                                      \
        }                                                                       \
    } while (0)

/* A generous bound for anything that should happen "at once" (valgrind is slow). */
#define H_LONG_MS 10000

int64_t h_now_ms(void);
void h_pause_ms(int ms);
/* The name the test prints at the start and at the end (with its duration). */
void h_begin(const char *name);
void h_end(void);

/* ------------------------------------------------------------------ broker */

typedef struct h_broker {
    pid_t pid;        /* 0 when not running */
    int port;
    bool stopped;     /* SIGSTOP'ed */
    char dir[256];    /* the mkdtemp directory: config, log, password file */
    char url[64];     /* mqtt://127.0.0.1:PORT */
} h_broker;

/* Starts a private Mosquitto and waits until it accepts TCP connections. `user` and
 * `password` (both NULL for an anonymous broker) make a password file with mosquitto_passwd;
 * `extra_conf` (may be NULL) is appended to the configuration. Fails the test on error. */
void h_broker_start(h_broker *b, const char *user, const char *password, const char *extra_conf);
/* As h_broker_start, with an ACL file of the given text (`acl_file`; NULL for none). */
void h_broker_start_acl(h_broker *b, const char *user, const char *password,
                        const char *extra_conf, const char *acl);
/* Kills the broker by PID, reaps it and removes its directory. Idempotent. */
void h_broker_stop(h_broker *b);
/* SIGSTOP / SIGCONT. */
void h_broker_freeze(h_broker *b);
void h_broker_thaw(h_broker *b);
/* Writes a file into the broker's directory (before start: use h_broker_path). */
void h_broker_path(const h_broker *b, const char *name, char *out, size_t out_len);

/* ------------------------------------------------------------------ silent server */

typedef struct h_silent {
    int listen_fd;
    int port;
    int wake[2];
    int accepted_fds[64];
    int accepted;           /* count, read with __atomic */
    pthread_t thread;
    bool running;
    char url[64];
} h_silent;

void h_silent_start(h_silent *s);
void h_silent_stop(h_silent *s);
int h_silent_accepted(h_silent *s);

/* ------------------------------------------------------------------ inbox */

#define H_INBOX_CAP 1024

typedef struct h_inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    midge_message *items[H_INBOX_CAP];
    size_t head, tail;
    size_t total;
} h_inbox;

void h_inbox_init(h_inbox *in);
/* Frees what is left. */
void h_inbox_destroy(h_inbox *in);
/* A midge_message_cb: user_data is the h_inbox; keeps a clone of the message. */
void h_inbox_on_message(void *user_data, const midge_message *message);
/* The next message (owned: midge_message_free it), or NULL after timeout_ms. */
midge_message *h_inbox_pop(h_inbox *in, int timeout_ms);
size_t h_inbox_total(h_inbox *in);

/* ------------------------------------------------------------------ helpers */

/* A connected client (connect_wait within H_LONG_MS); options may be NULL. */
midge_client *h_connect(const char *url, const midge_options *options);
/* A connected client with an explicit client id and clean start. */
midge_client *h_connect_id(const char *url, const char *client_id);
/* Whether the message's payload is exactly the given bytes. */
bool h_payload_is(const midge_message *m, const void *bytes, size_t len);
bool h_payload_is_str(const midge_message *m, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* MIDGE_TEST_HARNESS_H */
