/*
 * What the command-line examples share: strict number parsing and the TLS options they
 * take like mosquitto_pub (--cafile, --cert, --key, --insecure). Header-only, for the
 * examples in this directory.
 */
#ifndef MIDGE_EXAMPLE_ARGS_H
#define MIDGE_EXAMPLE_ARGS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <midge.h>

/* A whole number from lo to hi, or an error naming the option: "--qos abc" is refused, not
 * read as 0. */
static inline bool parse_int(const char *option, const char *text, long lo, long hi, int *out) {
    char *end = NULL;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "%s: expected a number from %ld to %ld, not \"%s\"\n", option, lo, hi,
                text);
        return false;
    }
    *out = (int)n;
    return true;
}

/* TLS (mqtts://, wss://) on `options` when any TLS argument was given: verification stays
 * on unless `insecure`; without `cafile` the system's roots are trusted. The TLS options
 * are copied by midge_options_set_tls. Returns MIDGE_RESULT_OK or the first failure, with
 * the failing call's name in *what. */
static inline midge_result apply_tls(midge_options *options, const char *cafile, const char *cert,
                                     const char *key, bool insecure, const char **what) {
    if (!(cafile || cert || key || insecure)) return MIDGE_RESULT_OK;
    midge_tls_options *tls = midge_tls_options_new();
    midge_result rc = MIDGE_RESULT_OK;
    *what = "midge_tls_options_new";
    if (tls == NULL) return MIDGE_RESULT_INVALID_ARGUMENT;
    if (rc == MIDGE_RESULT_OK && cafile) {
        *what = "midge_tls_options_add_ca_file";
        rc = midge_tls_options_add_ca_file(tls, cafile);
    }
    if (rc == MIDGE_RESULT_OK && (cert || key)) {
        *what = "midge_tls_options_set_client_cert_files";
        rc = midge_tls_options_set_client_cert_files(tls, cert, key);
    }
    if (rc == MIDGE_RESULT_OK && insecure) {
        *what = "midge_tls_options_dangerous_set_no_verify";
        rc = midge_tls_options_dangerous_set_no_verify(tls, true);
    }
    if (rc == MIDGE_RESULT_OK) {
        *what = "midge_options_set_tls";
        rc = midge_options_set_tls(options, tls);
    }
    midge_tls_options_free(&tls);
    return rc;
}

#endif
