// pubsub.cpp: the C++ wrapper (bindings/cpp/midge.hpp) in one program.
//
//   pubsub_cpp --broker mqtt://127.0.0.1:1883 --topic midge/cpp
//
// Connects with a Last Will, subscribes with a message callback (a lambda), publishes at
// QoS 0, 1 and 2 with properties, keeps copies of the received messages past their
// callback, shows the error style (midge::Error), and disconnects. Exit code: 0 on success,
// 1 on failure, 2 for bad arguments.
#include <midge.hpp>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

using namespace std::chrono_literals;

static void usage(std::ostream& out) {
    out << "usage: pubsub_cpp [--broker URL] [--topic TOPIC] [--cafile CA.pem] [--help]\n"
           "  --broker URL   broker address (default mqtt://127.0.0.1:1883; mqtts:// for TLS)\n"
           "  --topic TOPIC  topic prefix (default midge/cpp)\n"
           "  --cafile FILE  trust this CA (PEM) for mqtts:// (else the system's roots)\n";
}

int main(int argc, char** argv) {
    std::string broker = "mqtt://127.0.0.1:1883", topic = "midge/cpp", cafile;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help") {
            usage(std::cout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(std::cerr);
            return 2;
        }
        if (a == "--broker") {
            broker = argv[++i];
        } else if (a == "--topic") {
            topic = argv[++i];
        } else if (a == "--cafile") {
            cafile = argv[++i];
        } else {
            std::cerr << "pubsub_cpp: unknown option " << a << "\n";
            usage(std::cerr);
            return 2;
        }
    }

    try {
        // Options: a builder; the Client copies them.
        midge::Options options;
        options.client_id("midge-cpp-example")
            .keep_alive(30s)
            .will(topic + "/status", "offline", midge::QoS::AtLeastOnce, false);
        if (!cafile.empty()) {
            // TLS options: a builder too, copied by Options::tls (so it may go out of scope).
            midge::Tls tls;
            tls.ca_file(cafile);
            options.tls(tls);
        }
        midge::Client client(broker, options);

        // Received messages are kept beyond their callback: copying a midge::Message takes
        // a reference (no payload copy). The callback runs on a midge thread.
        std::mutex mutex;
        std::condition_variable arrived;
        std::vector<midge::Message> inbox;
        client.on_message([&](const midge::Message& m) {
            std::lock_guard<std::mutex> lock(mutex);
            inbox.push_back(m);
            arrived.notify_one();
        });
        client.on_connection_lost([](const midge::Disconnect& d) {
            std::cout << "connection lost: " << d.detail << "\n";
        });

        midge::ConnAck connack = client.connect(5s);
        std::cout << "connected to " << broker << ", keep alive " << connack.keep_alive
                  << " s, maximum QoS " << connack.maximum_qos << "\n";

        int granted = client.subscribe(topic + "/data", midge::QoS::ExactlyOnce);
        std::cout << "subscribed to " << topic << "/data, granted QoS " << granted << "\n";

        for (int q = 0; q <= 2; q++) {
            midge::Properties props;
            props.user_property("sender", "pubsub_cpp").content_type("text/plain").message_expiry(60s);
            std::string payload = "reading at QoS " + std::to_string(q);
            int reason = client.publish(topic + "/data", payload, static_cast<midge::QoS>(q), false,
                                        props);
            std::cout << "published \"" << payload << "\": reason code " << reason << "\n";
        }

        {
            std::unique_lock<std::mutex> lock(mutex);
            if (!arrived.wait_for(lock, 5s, [&] { return inbox.size() >= 3; })) {
                std::cerr << "pubsub_cpp: only " << inbox.size() << " of 3 messages arrived\n";
                return 1;
            }
        }
        for (const midge::Message& m : inbox) {
            std::cout << "received " << m.topic() << " QoS " << static_cast<int>(m.qos()) << ": "
                      << m.payload().as_string();
            if (auto ct = m.content_type()) {
                std::cout << " [content type " << *ct << "]";
            }
            for (const auto& [name, value] : m.user_properties()) {
                std::cout << " [" << name << "=" << value << "]";
            }
            std::cout << "\n";
        }

        // One error style: every failure throws midge::Error.
        try {
            client.publish("a/wildcard/#/is/not/a/topic", "x");
        } catch (const midge::Error& e) {
            std::cout << "as expected, publishing to a wildcard failed: " << e.what() << "\n";
        }

        client.disconnect();
        midge_io_stats io = client.io_stats();
        std::cout << "disconnected after " << io.writes << " writes (" << io.bytes_sent
                  << " bytes) and " << io.reads << " reads (" << io.bytes_received << " bytes)\n";
        return 0;
    } catch (const midge::Error& e) {
        std::cerr << "pubsub_cpp: " << e.what() << " (result " << e.result();
        if (auto code = e.reason_code()) {
            std::cerr << ", reason code " << int(*code) << " " << midge_reason_code_str(*code);
        }
        std::cerr << ")\n";
        return 1;
    }
}
