/* 10. A value a C callback returns is checked, never trusted (issue 11, defect 6):
 * midge_result is an int32_t, and an authenticator returning 12345, which is no
 * midge_result, aborts the connect with a message naming the value (it was undefined
 * behaviour when midge_result was a C enum transmuted into Rust). A fake server that speaks
 * enhanced authentication (4.12): AUTH 0x18 Continue authentication with method "m", then
 * CONNACK when the client answers. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct fake {
    int listen_fd;
    char url[64];
    pthread_t thread;
    int answer_type; /* the first byte of the client's packet after our AUTH: 0xF0 AUTH */
} fake;

/* Reads one MQTT packet (fixed header, remaining length, body); its type byte, or -1. */
static int read_packet(int fd) {
    uint8_t b = 0;
    if (read(fd, &b, 1) != 1) return -1;
    int type = b;
    size_t len = 0, shift = 0;
    do {
        if (read(fd, &b, 1) != 1) return -1;
        len |= (size_t)(b & 0x7F) << shift;
        shift += 7;
    } while ((b & 0x80) && shift < 28);
    uint8_t body[512];
    while (len > 0) {
        size_t n = len < sizeof body ? len : sizeof body;
        ssize_t got = read(fd, body, n);
        if (got <= 0) return -1;
        len -= (size_t)got;
    }
    return type;
}

static void *fake_main(void *arg) {
    fake *f = (fake *)arg;
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (read_packet(fd) == 0x10) { /* CONNECT */
        /* AUTH, 0x18 Continue authentication, Authentication Method "m" */
        static const uint8_t challenge[] = {0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, 'm'};
        if (write(fd, challenge, sizeof challenge) == (ssize_t)sizeof challenge) {
            f->answer_type = read_packet(fd);
            if (f->answer_type == 0xF0) {
                /* CONNACK Success, Authentication Method "m" */
                static const uint8_t connack[] = {0x20, 0x07, 0x00, 0x00, 0x04,
                                                  0x15, 0x00, 0x01, 'm'};
                if (write(fd, connack, sizeof connack) == (ssize_t)sizeof connack) {
                    while (read_packet(fd) >= 0) {
                    }
                }
            }
        }
    }
    close(fd);
    return NULL;
}

static void fake_start(fake *f) {
    memset(f, 0, sizeof *f);
    f->answer_type = -2;
    f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    H_CHECK(f->listen_fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    H_CHECK(bind(f->listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    H_CHECK(listen(f->listen_fd, 4) == 0);
    socklen_t len = sizeof a;
    H_CHECK(getsockname(f->listen_fd, (struct sockaddr *)&a, &len) == 0);
    snprintf(f->url, sizeof f->url, "mqtt://127.0.0.1:%d", ntohs(a.sin_port));
    H_CHECK(pthread_create(&f->thread, NULL, fake_main, f) == 0);
}

static void fake_stop(fake *f) {
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
}

typedef struct auth_state {
    midge_result answer; /* what the callback returns */
    int challenges;
    int successes;
} auth_state;

static midge_result authenticate(void *user_data, midge_auth_step step, const uint8_t *data,
                                 size_t len, midge_auth_response *response) {
    (void)data;
    (void)len;
    auth_state *s = (auth_state *)user_data;
    if (step == MIDGE_AUTH_CHALLENGE) {
        __atomic_add_fetch(&s->challenges, 1, __ATOMIC_SEQ_CST);
        H_CHECK_OK(midge_auth_response_set(response, (const uint8_t *)"r", 1));
        return s->answer;
    }
    __atomic_add_fetch(&s->successes, 1, __ATOMIC_SEQ_CST);
    return MIDGE_RESULT_OK;
}

/* Connects through the fake server with an authenticator answering `answer`; the result. */
static int connect_with(auth_state *s, fake *f) {
    fake_start(f);
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_reconnect(o, false, 0, 0));
    H_CHECK_OK(midge_options_set_authenticator(o, "m", NULL, 0, authenticate, s, NULL));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(f->url, o, &c));
    midge_options_free(&o);
    int rc = (int)midge_client_connect_wait(c, H_LONG_MS, NULL);
    midge_client_free(&c);
    fake_stop(f);
    return rc;
}

int main(void) {
    h_begin("test_authenticator");

    /* A valid answer: the exchange goes on to CONNACK. */
    auth_state ok = {MIDGE_RESULT_OK, 0, 0};
    fake f;
    H_CHECK_OK(connect_with(&ok, &f));
    H_CHECK(ok.challenges == 1 && ok.successes == 1);
    H_CHECK(f.answer_type == 0xF0); /* our AUTH with the answer */

    /* A midge_result other than OK: a refusal, named. */
    auth_state refuse = {MIDGE_RESULT_REFUSED, 0, 0};
    int rc = connect_with(&refuse, &f);
    H_CHECK(rc != MIDGE_RESULT_OK);
    h_note("refusing authenticator: %s: %s", midge_result_str(rc), midge_last_error_message());
    H_CHECK(strstr(midge_last_error_message(), "authenticator failed") != NULL);
    H_CHECK(refuse.challenges == 1 && refuse.successes == 0);
    H_CHECK(f.answer_type != 0xF0); /* no answer went out */

    /* 12345 is no midge_result: checked, not transmuted; the connect ends, and says why. */
    auth_state bogus = {12345, 0, 0};
    rc = connect_with(&bogus, &f);
    H_CHECK(rc != MIDGE_RESULT_OK);
    h_note("authenticator returning 12345: %s: %s", midge_result_str(rc),
           midge_last_error_message());
    H_CHECK(strstr(midge_last_error_message(), "12345") != NULL);
    H_CHECK(strstr(midge_last_error_message(), "not a midge_result") != NULL);
    H_CHECK(bogus.challenges == 1 && bogus.successes == 0);
    H_CHECK(f.answer_type != 0xF0);

    h_end();
    return 0;
}
