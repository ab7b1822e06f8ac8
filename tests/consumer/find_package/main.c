/* A minimal program using an installed midge: checks the header and the library agree. */
#include <stdio.h>

#include <midge.h>

int main(void) {
    printf("midge %s (header %d.%d.%d)\n", midge_version_string(), MIDGE_VERSION_MAJOR,
           MIDGE_VERSION_MINOR, MIDGE_VERSION_PATCH);
    if (midge_version() != MIDGE_VERSION_NUMBER) {
        fprintf(stderr, "version mismatch: library 0x%06x, header 0x%06x\n",
                (unsigned)midge_version(), (unsigned)MIDGE_VERSION_NUMBER);
        return 1;
    }
    /* Call into the library for real: options and a client are created and freed. The
     * client never connects, so no broker is needed at that address. */
    midge_options *options = midge_options_new();
    midge_result rc = midge_options_set_client_id(options, "consumer");
    midge_client *client = NULL;
    if (rc == MIDGE_RESULT_OK) {
        rc = midge_client_new("mqtt://127.0.0.1:1883", options, &client);
    }
    midge_options_free(&options);
    if (rc != MIDGE_RESULT_OK) {
        fprintf(stderr, "midge: %s: %s\n", midge_result_str(rc), midge_last_error_message());
        return 1;
    }
    midge_client_free(&client);
    puts("ok");
    return 0;
}
