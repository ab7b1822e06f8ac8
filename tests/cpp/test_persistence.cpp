// Durable sessions through the C++ wrapper (midge.hpp): midge::Store, Options::store,
// Event::restored_publish. Built by tests/c/CMakeLists.txt as cpp_test_persistence (also
// under valgrind), with the C test harness (a private Mosquitto per run).
//
// 1. Store is a move-only owner: a moved-from Store frees nothing (the file stays locked by
//    the Store it moved to), move-assignment frees the store it replaces, Options::store
//    takes it (the lock goes with the Options), an empty Store is refused.
// 2. A restart: QoS 1 publishes accepted by a client that never connected, the client
//    destroyed, a new client made with the same store (file, or Store::callbacks over the
//    application's map) sends them on connect; a subscriber receives each and every one
//    ends with a restored-publish event carrying the id publish_async returned, the result
//    and the message.
#include "harness.h"

#include <midge.hpp>

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;

const std::chrono::milliseconds kLong(H_LONG_MS);

// A fresh directory under /tmp, removed with its files at the end of the scope.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/midge-cpp-persist-XXXXXX";
        H_CHECK(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::string cmd = "rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0) {
            h_note("could not remove %s", path.c_str());
        }
    }
};

// Whether opening the file store in `dir` is refused as in use (another Store holds it).
bool store_in_use(const std::string& dir) {
    try {
        midge::Store probe = midge::Store::file(dir);
        return false;  // opened: nobody held it (and the probe frees it again)
    } catch (const midge::Error& e) {
        H_CHECK(e.result() == MIDGE_RESULT_STORE);
        H_CHECK(std::string(e.what()).find("in use") != std::string::npos);
        return true;
    }
}

template <typename F>
midge_result error_of(F&& f) {
    try {
        f();
    } catch (const midge::Error& e) {
        return e.result();
    }
    return MIDGE_RESULT_OK;
}

void store_is_a_move_only_owner() {
    TempDir a, b;
    midge::Store held;
    H_CHECK(!held);
    {
        midge::Store first = midge::Store::file(a.path);
        H_CHECK(first);
        H_CHECK(store_in_use(a.path));
        held = std::move(first);
        H_CHECK(!first && held);
    }  // `first`, moved from, is destroyed: it must not free the store `held` has
    H_CHECK(store_in_use(a.path));

    // Move construction, then self-move-assignment keeps the store.
    midge::Store moved(std::move(held));
    H_CHECK(!held && moved);
    midge::Store& alias = moved;
    moved = std::move(alias);
    H_CHECK(moved);
    H_CHECK(store_in_use(a.path));

    // Move-assignment frees the store it replaces (b's lock goes, a's stays).
    midge::Store other = midge::Store::file(b.path);
    H_CHECK(store_in_use(b.path));
    other = std::move(moved);
    H_CHECK(!store_in_use(b.path));
    H_CHECK(store_in_use(a.path));

    // Options::store takes it; the Options free it (the lock goes with them).
    {
        midge::Options options;
        options.store(std::move(other), midge::Durability::Os);
        H_CHECK(!other);
        H_CHECK(store_in_use(a.path));
        // An empty Store (moved from, taken) is refused, and the one set stays.
        H_CHECK(error_of([&] { options.store(std::move(other), midge::Durability::Fsync); }) ==
                MIDGE_RESULT_INVALID_ARGUMENT);
        H_CHECK(store_in_use(a.path));
    }
    H_CHECK(!store_in_use(a.path));

    // A failure to open is an Error with MIDGE_RESULT_STORE.
    H_CHECK(error_of([&] { midge::Store::file(a.path + "/no/such/dir/midge.store"); }) ==
            MIDGE_RESULT_STORE);
    h_note("Store: moves, move-assignment, Options::store, empty refused");
}

// The application's own storage for Store::callbacks: it outlives each midge::Store.
struct Kv {
    std::map<std::string, std::string> data;
    int closes = 0;
    bool fail_keys = false;

    static std::string key(const uint8_t* k, size_t n) {
        return std::string(reinterpret_cast<const char*>(k), n);
    }
    static int put(void* ud, const uint8_t* k, size_t kn, const uint8_t* v, size_t vn) {
        static_cast<Kv*>(ud)->data[key(k, kn)] = key(v, vn);
        return 0;
    }
    static int get(void* ud, const uint8_t* k, size_t kn, midge_store_sink* sink) {
        Kv* kv = static_cast<Kv*>(ud);
        auto it = kv->data.find(key(k, kn));
        if (it == kv->data.end()) return 0;
        return midge_store_sink_write(sink, reinterpret_cast<const uint8_t*>(it->second.data()),
                                      it->second.size());
    }
    static int remove(void* ud, const uint8_t* k, size_t kn) {
        static_cast<Kv*>(ud)->data.erase(key(k, kn));
        return 0;
    }
    static int keys(void* ud, midge_store_sink* sink) {
        Kv* kv = static_cast<Kv*>(ud);
        if (kv->fail_keys) return MIDGE_RESULT_STORE;
        for (const auto& e : kv->data) {
            int rc = midge_store_sink_write(sink, reinterpret_cast<const uint8_t*>(e.first.data()),
                                            e.first.size());
            if (rc != 0) return rc;
        }
        return 0;
    }
    static int sync(void*) { return 0; }
    static void close(void* ud) { static_cast<Kv*>(ud)->closes++; }

    midge::Store store() {
        midge_store_callbacks cb{};
        cb.user_data = this;
        cb.put = put;
        cb.get = get;
        cb.remove = remove;
        cb.keys = keys;
        cb.sync = sync;
        cb.close = close;
        return midge::Store::callbacks(cb);
    }
};

void callback_store_is_owned_too() {
    Kv kv;
    {
        midge::Store a = kv.store();
        midge::Store b = std::move(a);
        H_CHECK(kv.closes == 0);
    }  // `b` frees it (close once); `a`, moved from, does nothing
    H_CHECK(kv.closes == 1);
    {
        midge::Options options;
        options.store(kv.store(), midge::Durability::Os);
        H_CHECK(kv.closes == 1);
    }  // the Options free the store they took
    H_CHECK(kv.closes == 2);
    // A failing `keys` is an Error with MIDGE_RESULT_STORE, and close is not called.
    kv.fail_keys = true;
    H_CHECK(error_of([&] { kv.store(); }) == MIDGE_RESULT_STORE);
    H_CHECK(kv.closes == 2);
    // A required callback missing: MIDGE_RESULT_INVALID_ARGUMENT.
    midge_store_callbacks none{};
    H_CHECK(error_of([&] { midge::Store::callbacks(none); }) == MIDGE_RESULT_INVALID_ARGUMENT);
    h_note("Store::callbacks: close once per store, failures are Errors");
}

// Messages a subscriber received, for another thread to wait on.
struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> payloads;

    void add(const midge::Message& m) {
        std::lock_guard<std::mutex> lock(mu);
        payloads.emplace_back(m.payload().as_string());
        cv.notify_all();
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(mu);
        return payloads.size();
    }
    bool wait_for(size_t n) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, kLong, [&] { return payloads.size() >= n; });
    }
};

constexpr int kPublishes = 8;

using StoreMaker = std::function<midge::Store()>;

midge::Options persistent(const std::string& id, const StoreMaker& make,
                          midge::Durability durability) {
    midge::Options options;
    options.client_id(id).session_expiry(600s).store(make(), durability);
    return options;
}

void restart_restores(const h_broker& broker, const std::string& id, const StoreMaker& make,
                      midge::Durability durability) {
    const std::string topic = "cpp/persist/" + id;
    Inbox inbox;
    midge::Client sub(broker.url, midge::Options().client_id(id + "-sub"));
    sub.on_message([&](const midge::Message& m) { inbox.add(m); });
    sub.connect(kLong);
    sub.subscribe(topic, midge::QoS::AtLeastOnce, 0, nullptr, kLong);

    std::vector<uint64_t> ids;
    {
        midge::Options options = persistent(id, make, durability);
        midge::Client offline(broker.url, options);
        // One store per client: these Options gave theirs to `offline`.
        H_CHECK(error_of([&] { midge::Client second(broker.url, options); }) ==
                MIDGE_RESULT_INVALID_ARGUMENT);
        for (int i = 0; i < kPublishes; ++i) {
            ids.push_back(offline.publish_async(topic, std::to_string(i), midge::QoS::AtLeastOnce));
        }
    }  // destroyed, never connected: every publish waits in the store (its lock released)
    H_CHECK(inbox.size() == 0);

    midge::Client client(broker.url, persistent(id, make, durability));
    client.connect(kLong);
    std::set<uint64_t> seen;
    int64_t deadline = h_now_ms() + H_LONG_MS;
    while (seen.size() < static_cast<size_t>(kPublishes)) {
        int64_t left = deadline - h_now_ms();
        H_CHECK(left > 0);
        std::optional<midge::Event> event = client.next_event(std::chrono::milliseconds(left));
        if (!event) {
            continue;
        }
        std::optional<midge::RestoredPublish> restored = event->restored_publish();
        if (event->kind() != MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE) {
            H_CHECK(!restored);
            continue;
        }
        H_CHECK(restored);
        H_CHECK_OK(restored->result);
        H_CHECK(restored->ack.id == restored->id);
        int index = -1;
        for (int i = 0; i < kPublishes; ++i) {
            if (ids[static_cast<size_t>(i)] == restored->id) index = i;
        }
        H_CHECK(index >= 0);
        H_CHECK(seen.insert(restored->id).second);
        H_CHECK(restored->message.topic() == topic);
        H_CHECK(restored->message.payload().as_string() == std::to_string(index));
        H_CHECK(restored->message.qos() == midge::QoS::AtLeastOnce);
    }
    H_CHECK(inbox.wait_for(kPublishes));
    {
        std::lock_guard<std::mutex> lock(inbox.mu);
        std::set<std::string> got(inbox.payloads.begin(), inbox.payloads.end());
        for (int i = 0; i < kPublishes; ++i) H_CHECK(got.count(std::to_string(i)) == 1);
    }
    client.disconnect(0, kLong);
    sub.disconnect(0, kLong);
    h_note("%s: %d publishes accepted offline, restored on connect, each reported", id.c_str(),
           kPublishes);
}

}  // namespace

int main() {
    h_begin("cpp_test_persistence");
    store_is_a_move_only_owner();
    callback_store_is_owned_too();
    h_broker broker;
    h_broker_start(&broker, nullptr, nullptr, nullptr);
    {
        TempDir os_dir, fsync_dir, before_send_dir;
        restart_restores(broker, "cpp-persist-os", [&] { return midge::Store::file(os_dir.path); },
                         midge::Durability::Os);
        restart_restores(broker, "cpp-persist-fsync",
                         [&] { return midge::Store::file(fsync_dir.path); },
                         midge::Durability::Fsync);
        restart_restores(broker, "cpp-persist-before-send",
                         [&] { return midge::Store::file(before_send_dir.path); },
                         midge::Durability::FsyncBeforeSend);
    }
    Kv kv;
    restart_restores(broker, "cpp-persist-kv", [&] { return kv.store(); },
                     midge::Durability::Os);
    H_CHECK(kv.closes == 2);  // each client closed its store once
    h_broker_stop(&broker);
    h_end();
    return 0;
}
