/*
 * test_stats: midge_client_stats against a private Mosquitto. Counters move with the
 * traffic: messages each way, packets, bytes equal to the socket counters, in flight,
 * the queue while offline, connections, and a measured round-trip time.
 */
#include <string.h>

#include "harness.h"

int main(void) {
    h_begin("test_stats");
    midge_stats s;
    H_CHECK_RC(midge_client_stats(NULL, &s), MIDGE_RESULT_INVALID_ARGUMENT);

    h_broker broker;
    h_broker_start(&broker, NULL, NULL, NULL);

    /* Offline: publishes wait in the queue and are counted there. */
    midge_client *c = NULL;
    H_CHECK_OK(midge_client_new(broker.url, NULL, &c));
    H_CHECK_RC(midge_client_stats(c, NULL), MIDGE_RESULT_INVALID_ARGUMENT);
    H_CHECK_OK(midge_client_stats(c, &s));
    H_CHECK(s.messages_sent == 0 && s.connects == 0 && !s.has_rtt && s.connected_ms == 0);
    for (int i = 0; i < 3; i++) {
        H_CHECK_OK(midge_client_publish(c, "stats/t", (const uint8_t *)"abc", 3, MIDGE_QOS_1,
                                        false, NULL, NULL));
    }
    H_WAIT_UNTIL((midge_client_stats(c, &s), s.queued == 3), H_LONG_MS);
    H_CHECK(s.queued_bytes >= 3 * (7 + 3));

    /* Connected: the queue drains, every message is acknowledged, a round trip measured. */
    h_inbox inbox;
    h_inbox_init(&inbox);
    H_CHECK_OK(midge_client_on_message(c, h_inbox_on_message, &inbox, NULL));
    H_CHECK_OK(midge_client_connect_wait(c, H_LONG_MS, NULL));
    const char *filters[] = {"stats/#"};
    const uint8_t opts[] = {1};
    uint8_t granted = 0;
    H_CHECK_OK(midge_client_subscribe_wait(c, filters, opts, 1, NULL, H_LONG_MS, &granted));
    uint8_t reason = 0xEE;
    H_CHECK_OK(midge_client_publish_wait(c, "stats/t", (const uint8_t *)"abc", 3, MIDGE_QOS_1,
                                         false, NULL, H_LONG_MS, &reason));
    /* 3 queued + 1 own publish, and the subscription brings the last one back. */
    H_WAIT_UNTIL((midge_client_stats(c, &s), s.messages_sent == 4 && s.messages_received >= 1 &&
                                                 s.inflight_out == 0 && s.queued == 0),
                 H_LONG_MS);
    H_CHECK(s.connects == 1 && s.disconnects == 0);
    H_CHECK(s.has_rtt && s.rtt_us > 0 && s.last_rtt_us > 0);
    /* CONNECT, SUBSCRIBE, 4 PUBLISH at least; CONNACK, SUBACK, 4 PUBACK at least. */
    H_CHECK(s.packets_sent >= 6 && s.packets_received >= 6 + s.messages_received);
    midge_io_stats io;
    H_CHECK_OK(midge_client_io_stats(c, &io));
    H_CHECK(s.bytes_sent <= io.bytes_sent && s.bytes_sent > 0);
    H_CHECK(s.writes <= io.writes && s.reads > 0);

    /* A clean disconnect ends the connection: counted, and no longer connected. */
    H_CHECK_OK(midge_client_disconnect_wait(c, 0x00, NULL, H_LONG_MS));
    H_WAIT_UNTIL((midge_client_stats(c, &s), s.disconnects == 1), H_LONG_MS);
    H_CHECK(s.connected_ms == 0);

    midge_client_free(&c);
    H_CHECK(c == NULL);
    h_inbox_destroy(&inbox);
    h_broker_stop(&broker);
    h_end();
    return 0;
}
