/* 18. Several servers and redirection from C: midge_options_add_server (the address of
 * midge_client_new first; bad addresses refused), a connect that skips a dead first server,
 * midge_client_server (before and after, a short buffer cut and NUL-terminated); a CONNACK
 * 0x9C with a Server Reference from a scripted server, not followed by default (refusal with
 * the reference), followed with midge_options_set_follow_redirects (the redirect callback
 * sees from / to / reference / code), vetoed by the callback; drop_user_data once. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port where nothing listens: one the system gave us, closed again. */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    H_CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    H_CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    H_CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A server that answers one CONNECT with CONNACK `code` and a Server Reference. */
typedef struct redirector {
    int listen_fd;
    int port;
    uint8_t code;
    char reference[64];
    int accepted; /* read after the join */
    pthread_t thread;
    char url[64];
} redirector;

static void *redirector_run(void *arg) {
    redirector *r = (redirector *)arg;
    struct pollfd p = {r->listen_fd, POLLIN, 0};
    if (poll(&p, 1, H_LONG_MS) != 1) return NULL;
    int fd = accept(r->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    r->accepted = 1;
    uint8_t in[1024];
    if (recv(fd, in, sizeof in, 0) > 0) { /* the CONNECT */
        size_t n = strlen(r->reference);
        uint8_t out[96];
        out[0] = 0x20;
        out[1] = (uint8_t)(2 + 1 + 3 + n);
        out[2] = 0x00;                  /* no session present */
        out[3] = r->code;               /* 0x9C / 0x9D */
        out[4] = (uint8_t)(3 + n);      /* properties length */
        out[5] = 0x1C;                  /* Server Reference */
        out[6] = 0;
        out[7] = (uint8_t)n;
        memcpy(out + 8, r->reference, n);
        (void)!send(fd, out, 8 + n, MSG_NOSIGNAL);
        /* Until the client closes. */
        struct pollfd q = {fd, POLLIN, 0};
        while (poll(&q, 1, H_LONG_MS) == 1 && recv(fd, in, sizeof in, 0) > 0) {
        }
    }
    close(fd);
    return NULL;
}

static void redirector_start(redirector *r, uint8_t code, const char *reference) {
    memset(r, 0, sizeof *r);
    r->code = code;
    snprintf(r->reference, sizeof r->reference, "%s", reference);
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    H_CHECK(r->listen_fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    H_CHECK(bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    H_CHECK(listen(r->listen_fd, 4) == 0);
    socklen_t len = sizeof a;
    H_CHECK(getsockname(r->listen_fd, (struct sockaddr *)&a, &len) == 0);
    r->port = ntohs(a.sin_port);
    snprintf(r->url, sizeof r->url, "mqtt://127.0.0.1:%d", r->port);
    H_CHECK(pthread_create(&r->thread, NULL, redirector_run, r) == 0);
}

static void redirector_join(redirector *r) {
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
}

typedef struct seen {
    int calls;
    int drops;
    bool allow;
    uint8_t code;
    char from[64], to[64], reference[64];
} seen;

static bool on_redirect(void *user_data, const char *from, const char *to,
                        const char *reference, uint8_t reason_code) {
    seen *s = (seen *)user_data;
    s->calls++;
    s->code = reason_code;
    snprintf(s->from, sizeof s->from, "%s", from);
    snprintf(s->to, sizeof s->to, "%s", to);
    snprintf(s->reference, sizeof s->reference, "%s", reference);
    return s->allow;
}

static void drop_seen(void *user_data) { ((seen *)user_data)->drops++; }

int main(void) {
    h_begin("test_servers");
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);
    char dead[64];
    snprintf(dead, sizeof dead, "mqtt://127.0.0.1:%d", dead_port());
    char broker_hp[64];
    snprintf(broker_hp, sizeof broker_hp, "127.0.0.1:%d", broker.port);

    /* --- bad addresses are refused when added */
    {
        midge_options *o = midge_options_new();
        H_CHECK_RC(midge_options_add_server(o, "http://x"), MIDGE_RESULT_INVALID_ADDRESS);
        H_CHECK_RC(midge_options_add_server(o, "mqtt://h:0"), MIDGE_RESULT_INVALID_ADDRESS);
        H_CHECK_RC(midge_options_add_server(o, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_options_add_server(NULL, "mqtt://h"), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_options_set_follow_redirects(NULL, true),
                   MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_OK(midge_options_set_max_redirects(o, 1));
        midge_options_free(&o);
        H_CHECK(!midge_client_server(NULL, NULL, 0, NULL));
    }

    /* --- a dead first server: the connect goes on to the second */
    {
        midge_options *o = midge_options_new();
        H_CHECK_OK(midge_options_set_client_id(o, "c-servers-list"));
        H_CHECK_OK(midge_options_add_server(o, broker.url));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(dead, o, &c));
        midge_options_free(&o);
        size_t len = 99;
        H_CHECK(!midge_client_server(c, NULL, 0, &len));
        H_CHECK(len == 99); /* nothing written */
        midge_connack *ack = NULL;
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, &ack));
        const char *from_ack = NULL;
        H_CHECK(midge_connack_server(ack, &from_ack));
        H_CHECK(strcmp(from_ack, broker.url) == 0);
        midge_connack_free(&ack);
        H_CHECK(!midge_connack_server(ack, &from_ack)); /* freed: NULL now */
        char buf[64];
        H_CHECK(midge_client_server(c, buf, sizeof buf, &len));
        H_CHECK(strcmp(buf, broker.url) == 0);
        H_CHECK(len == strlen(broker.url));
        char small[8];
        H_CHECK(midge_client_server(c, small, sizeof small, NULL));
        H_CHECK(strlen(small) == 7 && strncmp(small, broker.url, 7) == 0);
        H_CHECK(midge_client_server(c, NULL, 0, &len) && len == strlen(broker.url));
        midge_client_free(&c);
    }

    /* --- not followed by default: the refusal, with the reference */
    {
        redirector r;
        redirector_start(&r, 0x9C, broker_hp);
        midge_options *o = midge_options_new();
        H_CHECK_OK(midge_options_set_client_id(o, "c-servers-off"));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(r.url, o, &c));
        midge_options_free(&o);
        H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, NULL),
                   MIDGE_RESULT_CONNECTION_REFUSED);
        uint8_t code = 0;
        H_CHECK(midge_last_error_reason_code(&code) && code == 0x9C);
        H_CHECK(strstr(midge_last_error_message(), broker_hp) != NULL);
        H_CHECK(!midge_client_server(c, NULL, 0, NULL));
        midge_client_free(&c);
        redirector_join(&r);
        H_CHECK(r.accepted == 1);
    }

    /* --- followed when allowed; the callback sees it */
    {
        redirector r;
        redirector_start(&r, 0x9D, broker_hp);
        midge_options *o = midge_options_new();
        H_CHECK_OK(midge_options_set_client_id(o, "c-servers-follow"));
        H_CHECK_OK(midge_options_set_follow_redirects(o, true));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(r.url, o, &c));
        midge_options_free(&o);
        seen s;
        memset(&s, 0, sizeof s);
        s.allow = true;
        H_CHECK_OK(midge_client_on_redirect(c, on_redirect, &s, drop_seen));
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
        char buf[64];
        H_CHECK(midge_client_server(c, buf, sizeof buf, NULL));
        H_CHECK(strcmp(buf, broker.url) == 0);
        H_CHECK(s.calls == 1 && s.code == 0x9D);
        H_CHECK(strcmp(s.from, r.url) == 0);
        H_CHECK(strcmp(s.to, broker.url) == 0);
        H_CHECK(strcmp(s.reference, broker_hp) == 0);
        H_CHECK(s.drops == 0);
        midge_client_free(&c);
        H_CHECK(s.drops == 1);
        redirector_join(&r);
    }

    /* --- vetoed by the callback */
    {
        redirector r;
        redirector_start(&r, 0x9C, broker_hp);
        midge_options *o = midge_options_new();
        H_CHECK_OK(midge_options_set_client_id(o, "c-servers-veto"));
        H_CHECK_OK(midge_options_set_follow_redirects(o, true));
        midge_client *c = NULL;
        H_CHECK_OK(midge_client_new(r.url, o, &c));
        midge_options_free(&o);
        seen s;
        memset(&s, 0, sizeof s);
        s.allow = false;
        H_CHECK_OK(midge_client_on_redirect(c, on_redirect, &s, drop_seen));
        H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, NULL),
                   MIDGE_RESULT_CONNECTION_REFUSED);
        H_CHECK(s.calls == 1 && s.code == 0x9C);
        /* Removing the callback drops its user_data once. */
        H_CHECK_OK(midge_client_on_redirect(c, NULL, NULL, NULL));
        H_CHECK(s.drops == 1);
        midge_client_free(&c);
        H_CHECK(s.drops == 1);
        redirector_join(&r);
    }

    h_broker_stop(&broker);
    h_end();
    return 0;
}
