/* 11. TLS through the C API against a Mosquitto with a TLS listener that requires a client
 * certificate, with certificates made on the spot by the openssl tool: client keys in
 * PKCS#1 (files) and SEC1 (PEM in memory) accepted, a QoS 1 round trip; no client
 * certificate and an unknown CA refused with MIDGE_RESULT_TLS and words; TLS options on a
 * plain address and a missing CA file refused with MIDGE_RESULT_TLS_CONFIG; a reload
 * makes the next connect use a new certificate; bad arguments. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void path(const char *name, char *out, size_t len) {
    snprintf(out, len, "%s/%s", dir, name);
}

static void run(const char *cmd) {
    char full[4096];
    snprintf(full, sizeof full, "cd '%s' && { %s ; } >>openssl.log 2>&1", dir, cmd);
    if (system(full) != 0) {
        h_note("command failed: %s", cmd);
        H_CHECK(!"openssl failed (see openssl.log)");
    }
}

/* A CA, a server certificate for 127.0.0.1, client certificates with an RSA PKCS#1 key
 * and an EC SEC1 key, and a second CA that signed nothing the broker shows. */
static void make_certificates(void) {
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=midge-c-ca && "
             "openssl req -x509 %s -keyout other.key -out other.pem -days 2 -subj /CN=other",
             ec, ec);
    run(cmd);
    run("printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' >server.ext && "
        "printf 'extendedKeyUsage=clientAuth\\n' >client.ext");
    snprintf(cmd, sizeof cmd,
             "openssl req %s -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile server.ext",
             ec);
    run(cmd);
    run("openssl genrsa -traditional -out rsa.key 2048 && "
        "openssl req -new -key rsa.key -out rsa.csr -subj /CN=device-rsa && "
        "openssl x509 -req -in rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out rsa.pem -days 2 -extfile client.ext");
    snprintf(cmd, sizeof cmd,
             "openssl req %s -keyout ec8.key -out ec.csr -subj /CN=device-ec && "
             "openssl ec -in ec8.key -out ec.key && "
             "openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out ec.pem -days 2 -extfile client.ext",
             ec);
    run(cmd);
}

static char *slurp(const char *name, size_t *len) {
    char p[512];
    path(name, p, sizeof p);
    FILE *f = fopen(p, "rb");
    H_CHECK(f != NULL);
    char *buf = (char *)malloc(65536);
    H_CHECK(buf != NULL);
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

static midge_tls_options *trusting(const char *ca) {
    midge_tls_options *t = midge_tls_options_new();
    H_CHECK(t != NULL);
    char p[512];
    path(ca, p, sizeof p);
    H_CHECK_OK(midge_tls_options_add_ca_file(t, p));
    return t;
}

static midge_client *client_with(const char *url, const midge_tls_options *tls) {
    midge_options *o = midge_options_new();
    H_CHECK_OK(midge_options_set_tls(o, tls));
    H_CHECK_OK(midge_options_set_reconnect(o, false, 0, 0));
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(url, o, &c));
    midge_options_free(&o);
    return c;
}

static void round_trip(midge_client *c) {
    h_inbox inbox;
    h_inbox_init(&inbox);
    H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, &inbox, NULL));
    const char *filters[] = {"tls/c"};
    uint8_t sub_options[] = {1};
    uint8_t codes[1] = {0xFF};
    H_CHECK_OK(midge_client_subscribe_wait(c, filters, sub_options, 1, NULL, H_LONG_MS, codes));
    H_CHECK(codes[0] == 1);
    uint8_t rc = 0xFF;
    H_CHECK_OK(midge_client_publish_wait(c, "tls/c", (const uint8_t *)"secret", 6, 1, false,
                                         NULL, H_LONG_MS, &rc));
    H_CHECK(rc == 0);
    midge_message *m = h_inbox_pop(&inbox, H_LONG_MS);
    H_CHECK(m != NULL);
    H_CHECK(h_payload_is(m, "secret", 6));
    midge_message_free(&m);
    H_CHECK_OK(midge_client_on_message(c, NULL, NULL, NULL));
    h_inbox_destroy(&inbox);
}

static void expect_tls_failure(const char *url, const midge_tls_options *tls, const char *words) {
    midge_client *c = client_with(url, tls);
    midge_connack *ack = NULL;
    H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, &ack), MIDGE_RESULT_TLS);
    H_CHECK(ack == NULL);
    const char *msg = midge_last_error_message();
    h_note("refused as expected: %s", msg);
    H_CHECK(strstr(msg, words) != NULL);
    midge_client_free(&c);
}

int main(void) {
    h_begin("test_tls");
    snprintf(dir, sizeof dir, "/tmp/midge-c-tls-XXXXXX");
    H_CHECK(mkdtemp(dir) != NULL);
    make_certificates();

    char ca[512], cert[512], key[512], conf[2048];
    path("ca.pem", ca, sizeof ca);
    path("server.pem", cert, sizeof cert);
    path("server.key", key, sizeof key);
    snprintf(conf, sizeof conf,
             "cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n", ca, cert, key);
    h_broker broker;
    h_broker_start(&broker, NULL, NULL, conf);
    char url[96];
    snprintf(url, sizeof url, "mqtts://127.0.0.1:%d", broker.port);

    /* --- mutual TLS, RSA PKCS#1 key from files */
    {
        midge_tls_options *t = trusting("ca.pem");
        char c_pem[512], c_key[512];
        path("rsa.pem", c_pem, sizeof c_pem);
        path("rsa.key", c_key, sizeof c_key);
        H_CHECK_OK(midge_tls_options_set_client_cert_files(t, c_pem, c_key));
        H_CHECK_OK(midge_tls_options_add_alpn(t, "mqtt"));
        midge_client *c = client_with(url, t);
        midge_tls_options_free(&t); /* copied */
        H_CHECK(t == NULL);
        midge_tls_options_free(&t); /* harmless */
        midge_connack *ack = NULL;
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, &ack));
        midge_connack_free(&ack);
        round_trip(c);
        midge_client_free(&c);
    }

    /* --- mutual TLS, EC SEC1 key and certificate as PEM in memory, CA as PEM too */
    {
        size_t cert_len = 0, key_len = 0, ca_len = 0;
        char *cert_pem = slurp("ec.pem", &cert_len);
        char *key_pem = slurp("ec.key", &key_len);
        char *ca_pem = slurp("ca.pem", &ca_len);
        H_CHECK(strstr(key_pem, "BEGIN EC PRIVATE KEY") != NULL); /* SEC1 */
        midge_tls_options *t = midge_tls_options_new();
        H_CHECK_OK(midge_tls_options_add_ca_pem(t, (const uint8_t *)ca_pem, ca_len));
        H_CHECK_OK(midge_tls_options_set_client_cert_pem(t, (const uint8_t *)cert_pem, cert_len,
                                                         (const uint8_t *)key_pem, key_len));
        free(cert_pem);
        free(key_pem);
        free(ca_pem);
        midge_client *c = client_with(url, t);
        midge_tls_options_free(&t);
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
        round_trip(c);
        midge_client_free(&c);
    }

    /* --- no client certificate: refused by the server, with words */
    {
        midge_tls_options *t = trusting("ca.pem");
        expect_tls_failure(url, t, "client certificate");
        midge_tls_options_free(&t);
    }

    /* --- the server's CA is not trusted */
    {
        midge_tls_options *t = trusting("other.pem");
        expect_tls_failure(url, t, "unknown CA");
        midge_tls_options_free(&t);
    }

    /* --- reload: the next connect uses the new certificate */
    {
        midge_tls_options *t = trusting("ca.pem");
        midge_client *c = client_with(url, t);
        H_CHECK_RC(midge_client_connect_wait(c, H_LONG_MS, NULL), MIDGE_RESULT_TLS);
        char c_pem[512], c_key[512];
        path("rsa.pem", c_pem, sizeof c_pem);
        path("rsa.key", c_key, sizeof c_key);
        H_CHECK_OK(midge_tls_options_set_client_cert_files(t, c_pem, c_key));
        H_CHECK_OK(midge_client_reload_tls(c, t));
        H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
        /* A missing key file is refused at once; the working options stay. */
        H_CHECK_OK(midge_tls_options_set_client_cert_files(t, c_pem, "/nonexistent/key.pem"));
        H_CHECK_RC(midge_client_reload_tls(c, t), MIDGE_RESULT_TLS_CONFIG);
        midge_tls_options_free(&t);
        midge_client_free(&c);
    }

    /* --- configuration errors */
    {
        midge_tls_options *t = trusting("ca.pem");
        midge_options *o = midge_options_new();
        H_CHECK_OK(midge_options_set_tls(o, t));
        midge_client *c = NULL;
        H_CHECK_RC(midge_client_new(broker.url, o, &c), MIDGE_RESULT_TLS_CONFIG); /* mqtt:// */
        H_CHECK(c == NULL);
        H_CHECK(strstr(midge_last_error_message(), "mqtts://") != NULL);
        midge_tls_options *missing = midge_tls_options_new();
        H_CHECK_OK(midge_tls_options_add_ca_file(missing, "/nonexistent/ca.pem"));
        H_CHECK_OK(midge_options_set_tls(o, missing));
        H_CHECK_RC(midge_client_new(url, o, &c), MIDGE_RESULT_TLS_CONFIG);
        H_CHECK(strstr(midge_last_error_message(), "/nonexistent/ca.pem") != NULL);
        midge_tls_options_free(&missing);
        midge_options_free(&o);

        uint8_t hash[32] = {0};
        H_CHECK_RC(midge_tls_options_add_pin(t, MIDGE_TLS_PIN_PUBLIC_KEY, hash, 31),
                   MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_tls_options_add_pin(t, 9, hash, 32), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_tls_options_set_versions(t, 7), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_OK(midge_tls_options_set_versions(t, MIDGE_TLS_VERSIONS_1_3));
        H_CHECK_RC(midge_tls_options_add_alpn(t, ""), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_tls_options_add_ca_file(NULL, "x"), MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK_RC(midge_tls_options_set_client_cert_files(t, "a", NULL),
                   MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK(strcmp(midge_result_str(MIDGE_RESULT_TLS), "TLS handshake failed") == 0);
        midge_tls_options *copy = t;
        midge_tls_options_free(&t);
        H_CHECK_RC(midge_tls_options_dangerous_set_no_verify(copy, true),
                   MIDGE_RESULT_INVALID_ARGUMENT); /* a stale copy reaches nothing */
    }

    h_broker_stop(&broker);
    char rm[512];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    H_CHECK(system(rm) == 0);
    h_end();
    return 0;
}
