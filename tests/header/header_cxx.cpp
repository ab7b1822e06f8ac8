// midge.h and the C++ wrapper midge.hpp compile as strict C++
// (-std=c++17 -Wall -Wextra -Werror -pedantic). Compiled only, never run: the function
// below instantiates every template of the wrapper.
#include <midge.h>
#include <midge.h>  // include guard
#include <midge.hpp>
#include <midge.hpp>  // include guard

static_assert(MIDGE_RESULT_OK == 0, "midge_result 0 is success");
static_assert(MIDGE_VERSION_NUMBER == ((MIDGE_VERSION_MAJOR << 16) | (MIDGE_VERSION_MINOR << 8) |
                                       MIDGE_VERSION_PATCH),
              "version number");

int midge_header_cxx_check();
int midge_header_cxx_check() {
    using namespace std::chrono_literals;
    midge::Options options;
    options.client_id("x").keep_alive(5s).completion_events(true).log_level(MIDGE_LOG_DEBUG);
    options.event_queue_limit(1000).event_queue_bytes(1 << 20).manual_ack(true);
    midge::Client client("mqtt://127.0.0.1:1883", options);  // never connects: no broker needed
    midge::Tls tls;
    tls.ca_pem("-----BEGIN CERTIFICATE-----\n").system_roots(false).mozilla_roots(true)
        .alpn("mqtt").server_name("broker").versions(midge::Tls::Versions::Tls13)
        .pin(midge::Tls::Pin::PublicKey, std::vector<uint8_t>(32, 0)).dangerous_no_verify(false);
    midge::Tls tls_moved = std::move(tls);
    midge::Options tls_options;
    tls_options.tls(tls_moved).ws_header("Authorization", "Bearer x");
    client.on_message([](const midge::Message& m) { midge::Message kept = m; (void)kept.topic(); });
    client.on_connect([](const midge::ConnAck& a) {
        (void)(a.protocol_version == midge::ProtocolVersion::V311);
    });
    midge::Options v311;
    v311.protocol_version(midge::ProtocolVersion::V5OrV311);
    client.on_connection_lost([](const midge::Disconnect&) {});
    client.on_publish([](const midge::Ack& a) { (void)a.reason_string; });
    client.on_subscribe([](const midge::Ack& a) { (void)a.packet_id; });
    client.on_unsubscribe([](const midge::Ack& a) { (void)a.properties; });
    client.on_log([](int, std::string_view) {});
    client.on_message(nullptr);
    midge::Properties props;
    props.user_property("a", "b").message_expiry(10s).correlation_data("id");
    std::vector<uint8_t> bytes{1, 2, 3};
    client.publish("t", bytes, midge::QoS::AtLeastOnce, false, props);
    (void)client.subscribe({{"a/#", 1}, {"b", 2}});
    int fd = client.event_fd();  // readable while next_event has events
    (void)fd;
    if (auto event = client.next_event(10ms)) {
        (void)event->kind();
        if (auto m = event->message()) {
            (void)m->properties();
            (void)m->packet_id();
            (void)m->payload_format();
            (void)m->correlation_data();
            client.ack(*m);
        }
        (void)event->ack();
        if (auto restored = event->restored_publish()) {
            (void)restored->id;
            (void)restored->message.payload();
        }
    }
    midge::Store store = midge::Store::file("/var/lib/gw", 1 << 20, 1000);
    midge::Store moved_store = std::move(store);
    midge::Options durable;
    durable.client_id("gw").store(std::move(moved_store), midge::Durability::Fsync);
    midge::Message reply = client.request("q", "x", "r");
    midge::Client moved = std::move(client);
    return static_cast<int>(reply.payload().size());
}
