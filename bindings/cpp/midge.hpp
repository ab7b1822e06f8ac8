// midge.hpp: a header-only C++17 RAII wrapper over midge's C API (midge.h).
//
//   midge::Client client("mqtt://127.0.0.1:1883", midge::Options().client_id("gw-1"));
//   client.connect(std::chrono::seconds(5));
//   client.subscribe("sensors/#", midge::QoS::AtLeastOnce);
//   client.publish("sensors/t1", "21.5", midge::QoS::ExactlyOnce);
//   while (auto event = client.next_event(std::chrono::seconds(1))) { ... }
//   client.disconnect();
//
// Errors: every failure throws midge::Error, which carries the midge_result, the detail
// text (midge_last_error_message) and the MQTT reason code when the server gave one. A
// timeout in next_event is not a failure: it returns std::nullopt.
//
// Ownership: Client, Options, Properties, Tls, Store and Event are move-only owners of their
// C object.
// Message is a reference-counted view: copying it is cheap (midge_message_clone, no copy
// of the payload) and a copy stays valid after the callback or event it came from.
//
// Callbacks (on_message, on_connect, ...) take std::function; the function is stored as the
// callback's user_data and destroyed through drop_user_data once midge is done with it.
// They run on midge's dispatcher threads (on the I/O thread with inline callbacks). An exception escaping a callback is caught (it
// must not cross into the C library) and reported on stderr.
#ifndef MIDGE_HPP
#define MIDGE_HPP

#include <midge.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace midge {

/// Quality of service levels.
enum class QoS : int { AtMostOnce = 0, AtLeastOnce = 1, ExactlyOnce = 2 };

/// The MQTT version a client speaks (Options::protocol_version) or a connection speaks
/// (ConnAck::protocol_version: V5 or V311). Under 3.1.1, what 3.1.1 cannot carry is
/// refused with an Error whose result() is MIDGE_RESULT_NOT_IN_V311.
enum class ProtocolVersion : int {
    V311 = MIDGE_PROTOCOL_V311,
    V5 = MIDGE_PROTOCOL_V5,
    /// Options only: 5.0, and 3.1.1 (remembered) when the server refuses 5.0.
    V5OrV311 = MIDGE_PROTOCOL_V5_OR_V311,
};

/// Every failure of the wrapper: the midge_result, the detail, and the MQTT reason code
/// (std::nullopt when none came).
class Error : public std::runtime_error {
public:
    Error(midge_result result, const std::string& message,
          std::optional<uint8_t> reason_code = std::nullopt)
        : std::runtime_error(message), result_(result), reason_code_(reason_code) {}

    /// An Error for a failed call `what` (reads the calling thread's last error).
    static Error last(midge_result result, const char* what) {
        std::string text = std::string(what) + ": " + midge_result_str(result);
        const char* detail = midge_last_error_message();
        if (detail != nullptr && *detail != '\0') {
            text += ": ";
            text += detail;
        }
        uint8_t code = 0;
        std::optional<uint8_t> reason;
        if (midge_last_error_reason_code(&code)) {
            reason = code;
        }
        return Error(result, text, reason);
    }

    midge_result result() const noexcept { return result_; }
    std::optional<uint8_t> reason_code() const noexcept { return reason_code_; }

private:
    midge_result result_;
    std::optional<uint8_t> reason_code_;
};

namespace detail {
inline void check(midge_result result, const char* what) {
    if (result != MIDGE_RESULT_OK) {
        throw Error::last(result, what);
    }
}

inline uint32_t millis(std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) {
        return 0;
    }
    if (timeout.count() >= static_cast<long long>(std::numeric_limits<uint32_t>::max())) {
        return std::numeric_limits<uint32_t>::max();
    }
    return static_cast<uint32_t>(timeout.count());
}

inline uint32_t micros(std::chrono::microseconds d) {
    if (d.count() <= 0) {
        return 0;
    }
    if (d.count() >= static_cast<long long>(std::numeric_limits<uint32_t>::max())) {
        return std::numeric_limits<uint32_t>::max();
    }
    return static_cast<uint32_t>(d.count());
}

inline std::string_view view(const char* s) {
    return s != nullptr ? std::string_view(s) : std::string_view();
}

inline std::optional<std::string_view> optional_view(const char* s) {
    if (s == nullptr) {
        return std::nullopt;
    }
    return std::string_view(s);
}

/// An optional value read the C way (`bool f(obj, T* out)`) as a std::optional.
template <typename T, typename Obj, typename F>
std::optional<T> optional(const Obj* obj, F f) {
    T value{};
    if (!f(obj, &value)) {
        return std::nullopt;
    }
    return value;
}

/// An optional string: copied, so it outlives the object it was read from.
template <typename Obj, typename F>
std::optional<std::string> optional_string(const Obj* obj, F f) {
    const char* value = nullptr;
    if (!f(obj, &value)) {
        return std::nullopt;
    }
    return std::string(value);
}

/// Runs a user callback without letting an exception reach the C library.
template <typename F>
void guarded(const char* which, F&& f) noexcept {
    try {
        f();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "midge: exception escaped the %s callback: %s\n", which, e.what());
    } catch (...) {
        std::fprintf(stderr, "midge: exception escaped the %s callback\n", which);
    }
}

template <typename Fn>
void drop_function(void* user_data) {
    delete static_cast<Fn*>(user_data);
}
}  // namespace detail

/// A borrowed run of bytes (C++17 stand-in for std::span<const uint8_t>).
class ByteView {
public:
    constexpr ByteView() noexcept = default;
    constexpr ByteView(const uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}
    ByteView(std::string_view s) noexcept  // NOLINT: implicit by design
        : data_(reinterpret_cast<const uint8_t*>(s.data())), size_(s.size()) {}
    ByteView(const char* s) noexcept : ByteView(std::string_view(s)) {}  // NOLINT
    ByteView(const std::string& s) noexcept : ByteView(std::string_view(s)) {}  // NOLINT
    ByteView(const std::vector<uint8_t>& v) noexcept  // NOLINT
        : data_(v.data()), size_(v.size()) {}

    const uint8_t* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const uint8_t* begin() const noexcept { return data_; }
    const uint8_t* end() const noexcept { return data_ + size_; }
    std::string_view as_string() const noexcept {
        return std::string_view(reinterpret_cast<const char*>(data_), size_);
    }
    std::vector<uint8_t> to_vector() const { return std::vector<uint8_t>(begin(), end()); }

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

/// A name/value User Property.
using UserProperty = std::pair<std::string_view, std::string_view>;

/// One property as the server sent it, copied (see midge_property).
struct Property {
    uint8_t id = 0;          ///< a midge_property_id value
    uint32_t integer = 0;    ///< integer properties
    std::string string;      ///< string properties; a User Property's name
    std::string value;       ///< a User Property's value
    std::vector<uint8_t> data;  ///< binary properties
};

namespace detail {
/// Every property of a C object, through its `_property_count` / `_property_at`.
template <typename Obj, typename Count, typename At>
std::vector<Property> properties(const Obj* obj, Count count, At at) {
    std::vector<Property> out;
    size_t n = count(obj);
    for (size_t i = 0; i < n; ++i) {
        midge_property p;
        if (at(obj, i, &p) != MIDGE_RESULT_OK) {
            break;
        }
        Property q;
        q.id = p.id;
        q.integer = p.integer;
        q.string = p.string != nullptr ? p.string : "";
        q.value = p.value != nullptr ? p.value : "";
        if (p.data != nullptr) {
            q.data.assign(p.data, p.data + p.len);
        }
        out.push_back(std::move(q));
    }
    return out;
}

/// Every User Property of a C object, copied.
template <typename Obj, typename Count, typename At>
std::vector<std::pair<std::string, std::string>> user_properties(const Obj* obj, Count count,
                                                                 At at) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t n = count(obj);
    for (size_t i = 0; i < n; ++i) {
        const char* name = nullptr;
        const char* value = nullptr;
        if (at(obj, i, &name, &value) == MIDGE_RESULT_OK) {
            out.emplace_back(name, value);
        }
    }
    return out;
}
}  // namespace detail

/// MQTT properties for publish, subscribe, unsubscribe, disconnect and the Last Will.
/// Builder style: `Properties().user_property("k", "v").content_type("text/plain")`.
class Properties {
public:
    Properties() : p_(midge_properties_new()) {
        if (p_ == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~Properties() { midge_properties_free(&p_); }
    Properties(Properties&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Properties& operator=(Properties&& o) noexcept {
        if (this != &o) {
            midge_properties_free(&p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Properties(const Properties&) = delete;
    Properties& operator=(const Properties&) = delete;

    Properties& add_int(midge_property_id id, uint32_t value) {
        detail::check(midge_properties_add_int(p_, id, value), "midge_properties_add_int");
        return *this;
    }
    Properties& add_string(midge_property_id id, const std::string& value) {
        detail::check(midge_properties_add_string(p_, id, value.c_str()),
                      "midge_properties_add_string");
        return *this;
    }
    Properties& add_binary(midge_property_id id, ByteView data) {
        detail::check(midge_properties_add_binary(p_, id, data.data(), data.size()),
                      "midge_properties_add_binary");
        return *this;
    }
    Properties& user_property(const std::string& name, const std::string& value) {
        detail::check(midge_properties_add_user_property(p_, name.c_str(), value.c_str()),
                      "midge_properties_add_user_property");
        return *this;
    }
    Properties& content_type(const std::string& value) {
        return add_string(MIDGE_PROPERTY_CONTENT_TYPE, value);
    }
    Properties& message_expiry(std::chrono::seconds interval) {
        return add_int(MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL,
                       static_cast<uint32_t>(interval.count()));
    }
    Properties& response_topic(const std::string& topic) {
        return add_string(MIDGE_PROPERTY_RESPONSE_TOPIC, topic);
    }
    Properties& correlation_data(ByteView data) {
        return add_binary(MIDGE_PROPERTY_CORRELATION_DATA, data);
    }
    Properties& payload_format_utf8() {
        return add_int(MIDGE_PROPERTY_PAYLOAD_FORMAT_INDICATOR, 1);
    }
    /// A Topic Alias the application chooses (publish only): with a topic it binds the
    /// alias; with an empty topic the message goes to the topic bound to it.
    Properties& topic_alias(uint16_t alias) { return add_int(MIDGE_PROPERTY_TOPIC_ALIAS, alias); }
    size_t size() const noexcept { return midge_properties_count(p_); }
    void clear() { detail::check(midge_properties_clear(p_), "midge_properties_clear"); }

    const midge_properties* native() const noexcept { return p_; }

private:
    midge_properties* p_;
};

/// TLS settings for mqtts:// and wss:// (builder style; see midge_tls_options). Copied by
/// Options::tls and Client::reload_tls. Verification is on by default.
class Tls {
public:
    /// Which TLS versions to offer.
    enum class Versions : int { All = MIDGE_TLS_VERSIONS_ALL, Tls12 = MIDGE_TLS_VERSIONS_1_2,
                                Tls13 = MIDGE_TLS_VERSIONS_1_3 };
    /// What a pin is the SHA-256 of.
    enum class Pin : int { Certificate = MIDGE_TLS_PIN_CERTIFICATE,
                           PublicKey = MIDGE_TLS_PIN_PUBLIC_KEY };

    Tls() : t_(midge_tls_options_new()) {
        if (t_ == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~Tls() { midge_tls_options_free(&t_); }
    Tls(Tls&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
    Tls& operator=(Tls&& o) noexcept {
        if (this != &o) {
            midge_tls_options_free(&t_);
            t_ = std::exchange(o.t_, nullptr);
        }
        return *this;
    }
    Tls(const Tls&) = delete;
    Tls& operator=(const Tls&) = delete;

    /// Trust the CA certificates of a PEM file (then not the system's roots, unless asked).
    Tls& ca_file(const std::string& path) {
        detail::check(midge_tls_options_add_ca_file(t_, path.c_str()), "midge_tls_options_add_ca_file");
        return *this;
    }
    Tls& ca_dir(const std::string& path) {
        detail::check(midge_tls_options_add_ca_dir(t_, path.c_str()), "midge_tls_options_add_ca_dir");
        return *this;
    }
    /// Trust the CA certificates of PEM text in memory.
    Tls& ca_pem(std::string_view pem) {
        detail::check(midge_tls_options_add_ca_pem(
                          t_, reinterpret_cast<const uint8_t*>(pem.data()), pem.size()),
                      "midge_tls_options_add_ca_pem");
        return *this;
    }
    Tls& system_roots(bool on) {
        detail::check(midge_tls_options_set_system_roots(t_, on), "midge_tls_options_set_system_roots");
        return *this;
    }
    Tls& mozilla_roots(bool on) {
        detail::check(midge_tls_options_set_mozilla_roots(t_, on), "midge_tls_options_set_mozilla_roots");
        return *this;
    }
    /// Client certificate chain and key files (PEM; PKCS#8, PKCS#1 or SEC1 key).
    Tls& client_cert_files(const std::string& cert, const std::string& key) {
        detail::check(midge_tls_options_set_client_cert_files(t_, cert.c_str(), key.c_str()),
                      "midge_tls_options_set_client_cert_files");
        return *this;
    }
    Tls& client_cert_pem(std::string_view cert, std::string_view key) {
        detail::check(midge_tls_options_set_client_cert_pem(
                          t_, reinterpret_cast<const uint8_t*>(cert.data()), cert.size(),
                          reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                      "midge_tls_options_set_client_cert_pem");
        return *this;
    }
    Tls& alpn(const std::string& protocol) {
        detail::check(midge_tls_options_add_alpn(t_, protocol.c_str()), "midge_tls_options_add_alpn");
        return *this;
    }
    /// The name sent as SNI and verified, instead of the address's host.
    Tls& server_name(const std::string& name) {
        detail::check(midge_tls_options_set_server_name(t_, name.c_str()),
                      "midge_tls_options_set_server_name");
        return *this;
    }
    Tls& versions(Versions v) {
        detail::check(midge_tls_options_set_versions(t_, static_cast<int>(v)),
                      "midge_tls_options_set_versions");
        return *this;
    }
    Tls& pin(Pin kind, const std::vector<uint8_t>& sha256) {
        detail::check(midge_tls_options_add_pin(t_, static_cast<int>(kind), sha256.data(), sha256.size()),
                      "midge_tls_options_add_pin");
        return *this;
    }
    /// DANGEROUS: no certificate verification. For tests against throwaway servers only.
    Tls& dangerous_no_verify(bool on) {
        detail::check(midge_tls_options_dangerous_set_no_verify(t_, on),
                      "midge_tls_options_dangerous_set_no_verify");
        return *this;
    }

    const midge_tls_options* native() const noexcept { return t_; }

private:
    midge_tls_options* t_;
};

/// How far a persistent client's writes have gone when publish returns (midge_durability;
/// see Options::store).
enum class Durability : int {
    /// Written to the operating system: survives the process being killed, not a power loss.
    Os = MIDGE_DURABILITY_OS,
    /// On stable storage (fdatasync): survives a power loss.
    Fsync = MIDGE_DURABILITY_FSYNC,
    /// Written to the operating system when publish returns; on stable storage before it
    /// is sent (one sync per write to the server, shared by the publishes made meanwhile).
    FsyncBeforeSend = MIDGE_DURABILITY_FSYNC_BEFORE_SEND,
};

/// A persistence store for Options::store (move-only owner of a midge_store). Empty once
/// moved from or handed to Options::store; destroying it frees a store still held (the file
/// store's file is closed and its lock released).
class Store {
public:
    /// An empty store (holds nothing; Options::store refuses it).
    Store() noexcept = default;
    ~Store() { midge_store_free(&s_); }
    Store(Store&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Store& operator=(Store&& o) noexcept {
        if (this != &o) {
            midge_store_free(&s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    /// The file store (midge_store_file_new): `path` is a directory (the store is the file
    /// `midge.store` in it) or the store file itself. `max_bytes` bounds the live keys and
    /// values (0: 64 MiB), `max_records` the live records (0: 100,000); a publish beyond
    /// them throws Error(MIDGE_RESULT_STORE_FULL). Throws Error(MIDGE_RESULT_STORE) when the
    /// file cannot be opened, is in use (by another process or another Store), or is not
    /// a midge store.
    static Store file(const std::string& path, uint64_t max_bytes = 0, size_t max_records = 0) {
        midge_store* s = nullptr;
        detail::check(midge_store_file_new(path.c_str(), max_bytes, max_records, &s),
                      "midge_store_file_new");
        return Store(s);
    }

    /// A store of the application's callbacks (midge_store_callbacks_new; the struct is
    /// copied): for devices without a file system, or the application's own database.
    /// Throws Error on a NULL required callback or a failing `keys` / `get` (then `close`
    /// is not called); once made, `close` runs when midge is done with the store.
    static Store callbacks(const midge_store_callbacks& callbacks) {
        midge_store* s = nullptr;
        detail::check(midge_store_callbacks_new(&callbacks, &s), "midge_store_callbacks_new");
        return Store(s);
    }

    /// Whether it holds a store.
    explicit operator bool() const noexcept { return s_ != nullptr; }
    const midge_store* native() const noexcept { return s_; }

private:
    explicit Store(midge_store* s) noexcept : s_(s) {}
    friend class Options;

    midge_store* s_ = nullptr;
};

/// A client's configuration (builder style). Copied by the Client constructor.
class Options {
public:
    Options() : o_(midge_options_new()) {
        if (o_ == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~Options() { midge_options_free(&o_); }
    Options(Options&& o) noexcept : o_(std::exchange(o.o_, nullptr)) {}
    Options& operator=(Options&& o) noexcept {
        if (this != &o) {
            midge_options_free(&o_);
            o_ = std::exchange(o.o_, nullptr);
        }
        return *this;
    }
    Options(const Options&) = delete;
    Options& operator=(const Options&) = delete;

    /// Another server after the client's address, tried in order (`midge_options_add_server`).
    Options& add_server(const std::string& address) {
        detail::check(midge_options_add_server(o_, address.c_str()), "midge_options_add_server");
        return *this;
    }
    /// Follow 0x9C / 0x9D Server References (off by default; `midge_options_set_follow_redirects`).
    Options& follow_redirects(bool on) {
        detail::check(midge_options_set_follow_redirects(o_, on),
                      "midge_options_set_follow_redirects");
        return *this;
    }
    /// Redirections followed in a row before giving up (default 3).
    Options& max_redirects(uint32_t max) {
        detail::check(midge_options_set_max_redirects(o_, max), "midge_options_set_max_redirects");
        return *this;
    }
    Options& protocol_version(ProtocolVersion version) {
        detail::check(midge_options_set_protocol_version(o_, static_cast<int>(version)),
                      "midge_options_set_protocol_version");
        return *this;
    }
    Options& client_id(const std::string& id) {
        detail::check(midge_options_set_client_id(o_, id.c_str()), "midge_options_set_client_id");
        return *this;
    }
    Options& clean_start(bool on) {
        detail::check(midge_options_set_clean_start(o_, on), "midge_options_set_clean_start");
        return *this;
    }
    Options& keep_alive(std::chrono::seconds interval) {
        detail::check(midge_options_set_keep_alive(o_, static_cast<uint16_t>(interval.count())),
                      "midge_options_set_keep_alive");
        return *this;
    }
    Options& session_expiry(std::chrono::seconds interval) {
        detail::check(
            midge_options_set_session_expiry(o_, static_cast<uint32_t>(interval.count())),
            "midge_options_set_session_expiry");
        return *this;
    }
    Options& username(const std::string& name) {
        detail::check(midge_options_set_username(o_, name.c_str()), "midge_options_set_username");
        return *this;
    }
    Options& password(ByteView password) {
        // A non-NULL pointer even for an empty password (NULL would remove it).
        static const uint8_t empty = 0;
        const uint8_t* data = password.data() != nullptr ? password.data() : &empty;
        detail::check(midge_options_set_password(o_, data, password.size()),
                      "midge_options_set_password");
        return *this;
    }
    Options& will(const std::string& topic, ByteView payload, QoS qos = QoS::AtMostOnce,
                  bool retain = false, const Properties* properties = nullptr) {
        detail::check(midge_options_set_will(o_, topic.c_str(), payload.data(), payload.size(),
                                             static_cast<int>(qos), retain,
                                             properties != nullptr ? properties->native() : nullptr),
                      "midge_options_set_will");
        return *this;
    }
    Options& user_property(const std::string& name, const std::string& value) {
        detail::check(midge_options_add_user_property(o_, name.c_str(), value.c_str()),
                      "midge_options_add_user_property");
        return *this;
    }
    Options& receive_maximum(uint16_t maximum) {
        detail::check(midge_options_set_receive_maximum(o_, maximum),
                      "midge_options_set_receive_maximum");
        return *this;
    }
    Options& maximum_packet_size(uint32_t bytes) {
        detail::check(midge_options_set_maximum_packet_size(o_, bytes),
                      "midge_options_set_maximum_packet_size");
        return *this;
    }
    /// The memory one client may spend on input and replies, in bytes (default
    /// MIDGE_MEMORY_BUDGET_DEFAULT, 16 MiB; at least MIDGE_MEMORY_BUDGET_MIN, else throws).
    Options& memory_budget(uint64_t bytes) {
        detail::check(midge_options_set_memory_budget(o_, bytes),
                      "midge_options_set_memory_budget");
        return *this;
    }
    Options& reconnect(bool enabled, std::chrono::milliseconds initial = std::chrono::milliseconds(250),
                       std::chrono::milliseconds maximum = std::chrono::seconds(30)) {
        detail::check(midge_options_set_reconnect(o_, enabled, detail::millis(initial),
                                                  detail::millis(maximum)),
                      "midge_options_set_reconnect");
        return *this;
    }
    Options& connect_timeout(std::chrono::milliseconds timeout) {
        detail::check(midge_options_set_connect_timeout(o_, detail::millis(timeout)),
                      "midge_options_set_connect_timeout");
        return *this;
    }
    Options& connack_timeout(std::chrono::milliseconds timeout) {
        detail::check(midge_options_set_connack_timeout(o_, detail::millis(timeout)),
                      "midge_options_set_connack_timeout");
        return *this;
    }
    Options& offline_queue(size_t max_messages, size_t max_bytes) {
        detail::check(midge_options_set_offline_queue(o_, max_messages, max_bytes),
                      "midge_options_set_offline_queue");
        return *this;
    }
    /// How many messages may wait for the application before midge stops reading the
    /// socket (backpressure), and the same bound in approximate bytes.
    Options& event_queue_limit(size_t messages) {
        detail::check(midge_options_set_event_queue_limit(o_, messages),
                      "midge_options_set_event_queue_limit");
        return *this;
    }
    Options& event_queue_bytes(size_t bytes) {
        detail::check(midge_options_set_event_queue_bytes(o_, bytes),
                      "midge_options_set_event_queue_bytes");
        return *this;
    }
    /// Deliver publish/subscribe/unsubscribe completion events to next_event (default off).
    Options& completion_events(bool on) {
        detail::check(midge_options_set_completion_events(o_, on),
                      "midge_options_set_completion_events");
        return *this;
    }
    Options& log_level(midge_log_level level) {
        detail::check(midge_options_set_log_level(o_, level), "midge_options_set_log_level");
        return *this;
    }
    /// Callbacks on midge's I/O thread (see midge_options_set_inline_callbacks).
    Options& inline_callbacks(bool on) {
        detail::check(midge_options_set_inline_callbacks(o_, on),
                      "midge_options_set_inline_callbacks");
        return *this;
    }
    /// Poll at least this long before sleeping, for latency, even when midge's own adaptive
    /// spin would not (see midge_options_set_busy_poll; at most 10 ms).
    Options& busy_poll(std::chrono::microseconds spin) {
        detail::check(midge_options_set_busy_poll(o_, detail::micros(spin)),
                      "midge_options_set_busy_poll");
        return *this;
    }
    /// Application-controlled acknowledgements: QoS 1/2 messages are acknowledged only by
    /// Client::ack, still in arrival order (see midge_options_set_manual_ack).
    Options& manual_ack(bool on) {
        detail::check(midge_options_set_manual_ack(o_, on), "midge_options_set_manual_ack");
        return *this;
    }
    /// The longest pause of adaptive batching (default 1 ms, 0 turns it off; see
    /// midge_options_set_linger; at most 10 ms).
    Options& linger(std::chrono::microseconds pause) {
        detail::check(midge_options_set_linger(o_, detail::micros(pause)),
                      "midge_options_set_linger");
        return *this;
    }
    /// A durable session (midge_options_set_store): takes the store (`store` is empty
    /// after; an empty Store throws Error(MIDGE_RESULT_INVALID_ARGUMENT)), replacing one set
    /// before. Every QoS 1/2 publish is in the store before publish returns; a Client made
    /// later with a store holding the session sends what was not acknowledged on its next
    /// connect, each ending with an Event of kind MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE
    /// (Event::restored_publish). Set a fixed client_id and a session_expiry longer than a
    /// restart takes. One store per client: the first Client made with these options takes
    /// it, a second throws Error(MIDGE_RESULT_INVALID_ARGUMENT) until another is set.
    Options& store(Store&& store, Durability durability) {
        detail::check(midge_options_set_store(o_, &store.s_, static_cast<int>(durability)),
                      "midge_options_set_store");
        return *this;
    }

    /// TLS settings for a mqtts:// or wss:// address (copied).
    Options& tls(const Tls& tls) {
        detail::check(midge_options_set_tls(o_, tls.native()), "midge_options_set_tls");
        return *this;
    }
    /// An HTTP header on the WebSocket upgrade (ws://, wss://).
    Options& ws_header(const std::string& name, const std::string& value) {
        detail::check(midge_options_add_ws_header(o_, name.c_str(), value.c_str()),
                      "midge_options_add_ws_header");
        return *this;
    }

    const midge_options* native() const noexcept { return o_; }
    midge_options* native() noexcept { return o_; }

private:
    midge_options* o_;
};

/// A received message: a reference-counted view. Copies share the payload (no copy) and
/// stay valid on their own; the one passed to a callback or held by an Event is lent.
class Message {
public:
    /// Wraps `m`: lent (not freed) unless `owned`.
    explicit Message(const midge_message* m, bool owned = false) noexcept
        : m_(const_cast<midge_message*>(m)), owned_(owned) {}
    ~Message() { release(); }
    Message(const Message& o) : m_(midge_message_clone(o.m_)), owned_(true) {}
    Message(Message&& o) noexcept
        : m_(std::exchange(o.m_, nullptr)), owned_(std::exchange(o.owned_, false)) {}
    Message& operator=(const Message& o) {
        if (this != &o) {
            midge_message* m = midge_message_clone(o.m_);
            release();
            m_ = m;
            owned_ = true;
        }
        return *this;
    }
    Message& operator=(Message&& o) noexcept {
        if (this != &o) {
            release();
            m_ = std::exchange(o.m_, nullptr);
            owned_ = std::exchange(o.owned_, false);
        }
        return *this;
    }

    /// A copy that outlives the callback or event (same as the copy constructor).
    Message clone() const { return Message(*this); }

    std::string_view topic() const { return detail::view(midge_message_topic(m_)); }
    ByteView payload() const {
        size_t len = 0;
        const uint8_t* data = midge_message_payload(m_, &len);
        return ByteView(data, len);
    }
    QoS qos() const { return static_cast<QoS>(midge_message_qos(m_)); }
    bool retain() const { return midge_message_retain(m_); }
    bool dup() const { return midge_message_dup(m_); }
    /// None for QoS 0.
    std::optional<uint16_t> packet_id() const {
        return detail::optional<uint16_t>(m_, midge_message_packet_id);
    }
    /// 0 bytes, 1 UTF-8; none when the message has no Payload Format Indicator.
    std::optional<uint8_t> payload_format() const {
        return detail::optional<uint8_t>(m_, midge_message_payload_format);
    }
    std::optional<uint32_t> message_expiry() const {
        return detail::optional<uint32_t>(m_, midge_message_message_expiry);
    }
    std::optional<std::string_view> content_type() const {
        const char* value = nullptr;
        if (!midge_message_content_type(m_, &value)) {
            return std::nullopt;
        }
        return std::string_view(value);
    }
    std::optional<std::string_view> response_topic() const {
        const char* value = nullptr;
        if (!midge_message_response_topic(m_, &value)) {
            return std::nullopt;
        }
        return std::string_view(value);
    }
    std::optional<ByteView> correlation_data() const {
        const uint8_t* data = nullptr;
        size_t len = 0;
        if (!midge_message_correlation_data(m_, &data, &len)) {
            return std::nullopt;
        }
        return ByteView(data, len);
    }
    /// Every property, as received.
    std::vector<Property> properties() const {
        return detail::properties(m_, midge_message_property_count, midge_message_property_at);
    }
    std::vector<UserProperty> user_properties() const {
        std::vector<UserProperty> out;
        size_t n = midge_message_user_property_count(m_);
        for (size_t i = 0; i < n; ++i) {
            const char* name = nullptr;
            const char* value = nullptr;
            if (midge_message_user_property(m_, i, &name, &value) == MIDGE_RESULT_OK) {
                out.emplace_back(detail::view(name), detail::view(value));
            }
        }
        return out;
    }
    std::vector<uint32_t> subscription_identifiers() const {
        std::vector<uint32_t> out;
        size_t n = midge_message_subscription_identifier_count(m_);
        for (size_t i = 0; i < n; ++i) {
            uint32_t id = 0;
            if (midge_message_subscription_identifier(m_, i, &id) == MIDGE_RESULT_OK) {
                out.push_back(id);
            }
        }
        return out;
    }

    const midge_message* native() const noexcept { return m_; }

private:
    void release() noexcept {
        if (owned_) {
            midge_message_free(&m_);
        }
        m_ = nullptr;
        owned_ = false;
    }

    midge_message* m_;
    bool owned_;
};

/// The server's CONNACK, copied out of the C object. Optional fields are those the server
/// may leave out; the others hold the value in force (the standard's default if absent).
struct ConnAck {
    ProtocolVersion protocol_version = ProtocolVersion::V5;  ///< of this connection
    std::optional<std::string> server;  ///< the server connected to (`mqtt://host:port`)
    bool session_present = false;
    std::optional<std::string> assigned_client_id;
    uint16_t keep_alive = 0;  ///< in force, in seconds
    std::optional<uint16_t> server_keep_alive;
    std::optional<uint32_t> session_expiry_interval;
    uint16_t receive_maximum = 0;
    int maximum_qos = 2;
    bool retain_available = true;
    std::optional<uint32_t> maximum_packet_size;  ///< none: no limit
    uint16_t topic_alias_maximum = 0;
    bool wildcard_subscription_available = true;
    bool subscription_identifiers_available = true;
    bool shared_subscription_available = true;
    std::optional<std::string> reason_string;
    std::vector<std::pair<std::string, std::string>> user_properties;
    std::vector<Property> properties;  ///< every property, as sent

    static ConnAck from(const midge_connack* c) {
        ConnAck a;
        if (c == nullptr) {
            return a;
        }
        a.protocol_version = static_cast<ProtocolVersion>(midge_connack_protocol_version(c));
        a.server = detail::optional_string(c, midge_connack_server);
        a.session_present = midge_connack_session_present(c);
        a.assigned_client_id = detail::optional_string(c, midge_connack_assigned_client_id);
        a.keep_alive = midge_connack_keep_alive(c);
        a.server_keep_alive = detail::optional<uint16_t>(c, midge_connack_server_keep_alive);
        a.session_expiry_interval =
            detail::optional<uint32_t>(c, midge_connack_session_expiry_interval);
        a.receive_maximum = midge_connack_receive_maximum(c);
        a.maximum_qos = midge_connack_maximum_qos(c);
        a.retain_available = midge_connack_retain_available(c);
        a.maximum_packet_size = detail::optional<uint32_t>(c, midge_connack_maximum_packet_size);
        a.topic_alias_maximum = midge_connack_topic_alias_maximum(c);
        a.wildcard_subscription_available = midge_connack_wildcard_subscription_available(c);
        a.subscription_identifiers_available = midge_connack_subscription_identifiers_available(c);
        a.shared_subscription_available = midge_connack_shared_subscription_available(c);
        a.reason_string = detail::optional_string(c, midge_connack_reason_string);
        a.user_properties = detail::user_properties(c, midge_connack_user_property_count,
                                                    midge_connack_user_property);
        a.properties =
            detail::properties(c, midge_connack_property_count, midge_connack_property_at);
        return a;
    }
};

/// Why a connection ended, copied out of the C object.
struct Disconnect {
    midge_disconnect_kind kind = MIDGE_DISCONNECT_TRANSPORT;
    std::optional<uint8_t> reason_code;
    std::optional<int> os_errno;
    std::string detail;
    std::optional<std::string> reason_string;
    std::optional<std::string> server_reference;
    /// The refusing CONNACK's or the server's DISCONNECT's properties.
    std::vector<Property> properties;

    static Disconnect from(const midge_disconnect* d) {
        Disconnect x;
        if (d == nullptr) {
            return x;
        }
        x.kind = static_cast<midge_disconnect_kind>(midge_disconnect_kind_of(d));
        x.reason_code = detail::optional<uint8_t>(d, midge_disconnect_reason_code);
        x.os_errno = detail::optional<int>(d, midge_disconnect_errno);
        x.detail = std::string(detail::view(midge_disconnect_detail(d)));
        x.reason_string = detail::optional_string(d, midge_disconnect_reason_string);
        x.server_reference = detail::optional_string(d, midge_disconnect_server_reference);
        x.properties =
            detail::properties(d, midge_disconnect_property_count, midge_disconnect_property_at);
        return x;
    }
};

/// How a publish, subscribe or unsubscribe ended, copied out of the C midge_ack.
struct Ack {
    uint64_t id = 0;  ///< the completion id
    midge_result result = MIDGE_RESULT_OK;
    std::optional<uint16_t> packet_id;
    std::vector<uint8_t> reason_codes;  ///< one for a publish, one per filter otherwise
    std::optional<std::string> reason_string;
    std::vector<std::pair<std::string, std::string>> user_properties;
    std::vector<Property> properties;

    static Ack from(const midge_ack* a) {
        Ack x;
        if (a == nullptr) {
            return x;
        }
        x.id = midge_ack_id(a);
        x.result = midge_ack_result(a);
        x.packet_id = detail::optional<uint16_t>(a, midge_ack_packet_id);
        size_t n = 0;
        const uint8_t* codes = midge_ack_reason_codes(a, &n);
        if (codes != nullptr) {
            x.reason_codes.assign(codes, codes + n);
        }
        x.reason_string = detail::optional_string(a, midge_ack_reason_string);
        x.user_properties =
            detail::user_properties(a, midge_ack_user_property_count, midge_ack_user_property);
        x.properties = detail::properties(a, midge_ack_property_count, midge_ack_property_at);
        return x;
    }
};

/// How a publish restored from the store ended (Event::restored_publish).
struct RestoredPublish {
    uint64_t id = 0;  ///< the completion id its publish_async returned before the restart
    midge_result result = MIDGE_RESULT_OK;  ///< MIDGE_RESULT_OK once acknowledged
    Ack ack;          ///< the whole acknowledgement (packet id, reason code, properties)
    Message message;  ///< what was published: topic, payload, QoS, properties
};

/// One event from Client::next_event (owned; move-only).
class Event {
public:
    explicit Event(midge_event* e) noexcept : e_(e) {}
    ~Event() { midge_event_free(&e_); }
    Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
    Event& operator=(Event&& o) noexcept {
        if (this != &o) {
            midge_event_free(&e_);
            e_ = std::exchange(o.e_, nullptr);
        }
        return *this;
    }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    midge_event_kind kind() const { return static_cast<midge_event_kind>(midge_event_kind_of(e_)); }
    /// The message of a MIDGE_EVENT_MESSAGE, or what a MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE
    /// published (a copy: it outlives the event).
    std::optional<Message> message() const {
        const midge_message* m = midge_event_message(e_);
        if (m == nullptr) {
            return std::nullopt;
        }
        Message borrowed(m);
        return borrowed.clone();  // an owned reference: valid after the event is freed
    }
    std::optional<ConnAck> connack() const {
        const midge_connack* c = midge_event_connack(e_);
        if (c == nullptr) {
            return std::nullopt;
        }
        return ConnAck::from(c);
    }
    std::optional<Disconnect> disconnect() const {
        const midge_disconnect* d = midge_event_disconnect(e_);
        if (d == nullptr) {
            return std::nullopt;
        }
        return Disconnect::from(d);
    }
    /// How the request of a completion event ended.
    std::optional<Ack> ack() const {
        const midge_ack* a = midge_event_ack(e_);
        if (a == nullptr) {
            return std::nullopt;
        }
        return Ack::from(a);
    }
    /// A MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE: a publish restored from the store
    /// (Options::store) ended. std::nullopt for any other kind.
    std::optional<RestoredPublish> restored_publish() const {
        if (kind() != MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE) {
            return std::nullopt;
        }
        std::optional<Ack> a = ack();
        std::optional<Message> m = message();
        if (!a || !m) {
            return std::nullopt;
        }
        return RestoredPublish{a->id, a->result, std::move(*a), std::move(*m)};
    }
    uint64_t count() const { return midge_event_count(e_); }
    std::optional<std::string_view> log(int* level = nullptr) const {
        return detail::optional_view(midge_event_log(e_, level));
    }

    const midge_event* native() const noexcept { return e_; }

private:
    midge_event* e_;
};

/// An MQTT 5 client (move-only). Every method may be called from any thread.
class Client {
public:
    using Duration = std::chrono::milliseconds;
    static constexpr Duration default_timeout() { return std::chrono::seconds(10); }

    explicit Client(const std::string& address, const Options& options = Options()) {
        detail::check(midge_client_new(address.c_str(), options.native(), &c_), "midge_client_new");
    }
    /// Disconnects (reason 0x00) if connected, waits for running callbacks, frees them.
    ~Client() { midge_client_free(&c_); }
    Client(Client&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    Client& operator=(Client&& o) noexcept {
        if (this != &o) {
            midge_client_free(&c_);
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Connects and waits for the CONNACK; throws on refusal (reason code in the Error).
    ConnAck connect(Duration timeout = default_timeout()) {
        midge_connack* connack = nullptr;
        detail::check(midge_client_connect_wait(c_, detail::millis(timeout), &connack),
                      "midge_client_connect_wait");
        ConnAck a = ConnAck::from(connack);
        midge_connack_free(&connack);
        return a;
    }
    /// Starts connecting and returns at once (the outcome arrives as an event/callback).
    void connect_async() { detail::check(midge_client_connect(c_, nullptr), "midge_client_connect"); }

    /// The Last Will for the next connect and the automatic reconnections after it.
    void set_will(const std::string& topic, ByteView payload, QoS qos = QoS::AtMostOnce,
                  bool retain = false, const Properties* properties = nullptr) {
        detail::check(midge_client_set_will(c_, topic.c_str(), payload.data(), payload.size(),
                                            static_cast<int>(qos), retain,
                                            properties != nullptr ? properties->native() : nullptr),
                      "midge_client_set_will");
    }
    /// No Last Will from the next connect on.
    void clear_will() { detail::check(midge_client_clear_will(c_), "midge_client_clear_will"); }
    /// User Name and Password for the next connect (std::nullopt: none).
    void set_credentials(std::optional<std::string> username,
                         std::optional<std::string> password = std::nullopt) {
        detail::check(midge_client_set_credentials(
                          c_, username ? username->c_str() : nullptr,
                          password ? reinterpret_cast<const uint8_t*>(password->data()) : nullptr,
                          password ? password->size() : 0),
                      "midge_client_set_credentials");
    }
    /// Clean Start for the next connection only.
    void set_clean_start(bool clean_start) {
        detail::check(midge_client_set_clean_start(c_, clean_start), "midge_client_set_clean_start");
    }

    /// Publishes and waits for the acknowledgement; returns its reason code (0x00, or 0x10
    /// no matching subscribers). A failure code throws (Error::reason_code()).
    uint8_t publish(const std::string& topic, ByteView payload, QoS qos = QoS::AtMostOnce,
                    bool retain = false, const Properties* properties = nullptr,
                    Duration timeout = default_timeout()) {
        uint8_t reason = 0;
        detail::check(midge_client_publish_wait(c_, topic.c_str(), payload.data(), payload.size(),
                                                static_cast<int>(qos), retain,
                                                properties != nullptr ? properties->native() : nullptr,
                                                detail::millis(timeout), &reason),
                      "midge_client_publish_wait");
        return reason;
    }
    uint8_t publish(const std::string& topic, ByteView payload, QoS qos, bool retain,
                    const Properties& properties, Duration timeout = default_timeout()) {
        return publish(topic, payload, qos, retain, &properties, timeout);
    }
    /// Publishes without waiting (queued while offline); on_publish reports the outcome.
    uint64_t publish_async(const std::string& topic, ByteView payload, QoS qos = QoS::AtMostOnce,
                           bool retain = false, const Properties* properties = nullptr) {
        midge_completion* completion = nullptr;
        detail::check(midge_client_publish(c_, topic.c_str(), payload.data(), payload.size(),
                                           static_cast<int>(qos), retain,
                                           properties != nullptr ? properties->native() : nullptr,
                                           &completion),
                      "midge_client_publish");
        uint64_t id = midge_completion_id(completion);
        midge_completion_free(&completion);
        return id;
    }

    /// Subscribes to one filter; returns the granted QoS. A refusal (code >= 0x80) throws.
    /// `flags`: MIDGE_SUB_NO_LOCAL | MIDGE_SUB_RETAIN_AS_PUBLISHED | MIDGE_SUB_RETAIN_*.
    uint8_t subscribe(const std::string& filter, QoS qos = QoS::AtMostOnce, uint8_t flags = 0,
                      const Properties* properties = nullptr, Duration timeout = default_timeout()) {
        const char* filters[1] = {filter.c_str()};
        uint8_t options[1] = {static_cast<uint8_t>(static_cast<uint8_t>(qos) | flags)};
        uint8_t code = 0;
        detail::check(midge_client_subscribe_wait(c_, filters, options, 1,
                                                  properties != nullptr ? properties->native() : nullptr,
                                                  detail::millis(timeout), &code),
                      "midge_client_subscribe_wait");
        if (code >= 0x80) {
            throw Error(MIDGE_RESULT_REFUSED,
                        "subscribe " + filter + ": refused with reason code " + std::to_string(code),
                        code);
        }
        return code;
    }
    /// Subscribes to several filters (filter, options byte); returns one code per filter,
    /// failures included (per-filter refusals are data here).
    std::vector<uint8_t> subscribe(const std::vector<std::pair<std::string, uint8_t>>& subscriptions,
                                   Duration timeout = default_timeout()) {
        std::vector<const char*> filters;
        std::vector<uint8_t> options;
        for (const auto& s : subscriptions) {
            filters.push_back(s.first.c_str());
            options.push_back(s.second);
        }
        std::vector<uint8_t> codes(subscriptions.size());
        detail::check(midge_client_subscribe_wait(c_, filters.data(), options.data(), filters.size(),
                                                  nullptr, detail::millis(timeout), codes.data()),
                      "midge_client_subscribe_wait");
        return codes;
    }

    /// Unsubscribes from one filter; returns the UNSUBACK code (0x11: there was none).
    uint8_t unsubscribe(const std::string& filter, Duration timeout = default_timeout()) {
        const char* filters[1] = {filter.c_str()};
        uint8_t code = 0;
        detail::check(midge_client_unsubscribe_wait(c_, filters, 1, nullptr, detail::millis(timeout),
                                                    &code),
                      "midge_client_unsubscribe_wait");
        if (code >= 0x80) {
            throw Error(MIDGE_RESULT_REFUSED,
                        "unsubscribe " + filter + ": refused with reason code " + std::to_string(code),
                        code);
        }
        return code;
    }

    /// Sends DISCONNECT (0x00 normal, 0x04 with the Will) and waits for the close.
    void disconnect(int reason_code = 0, Duration timeout = default_timeout()) {
        detail::check(midge_client_disconnect_wait(c_, reason_code, nullptr, detail::millis(timeout)),
                      "midge_client_disconnect_wait");
    }

    /// Request/response: publishes with a Response Topic and fresh Correlation Data and
    /// waits for the reply (subscribe to `response_topic` first).
    Message request(const std::string& topic, ByteView payload, const std::string& response_topic,
                    QoS qos = QoS::AtLeastOnce, Duration timeout = default_timeout()) {
        midge_message* reply = nullptr;
        detail::check(midge_client_request(c_, topic.c_str(), payload.data(), payload.size(),
                                           static_cast<int>(qos), response_topic.c_str(),
                                           detail::millis(timeout), &reply),
                      "midge_client_request");
        return Message(reply, true);
    }

    /// With Options::manual_ack: acknowledges a received message (lent in a callback or
    /// an Event, or a copy kept after it), from any thread. Its PUBACK / PUBREC goes out
    /// once every earlier message is acknowledged too. A no-op for QoS 0, a second ack, a
    /// message of an ended connection (see midge_message_ack).
    void ack(const Message& message) {
        detail::check(midge_message_ack(c_, message.native()), "midge_message_ack");
    }

    /// The pull interface: the next event, or std::nullopt when none came in `timeout`.
    /// Throws Error(MIDGE_RESULT_CLOSED) once the client is closed. Receives every event
    /// no registered callback takes (callbacks and this loop may be mixed).
    std::optional<Event> next_event(Duration timeout) {
        midge_event* event = nullptr;
        midge_result r = midge_client_next_event(c_, detail::millis(timeout), &event);
        if (r == MIDGE_RESULT_TIMEOUT) {
            return std::nullopt;
        }
        detail::check(r, "midge_client_next_event");
        return Event(event);
    }

    /// A descriptor readable while events wait for next_event, for poll()/epoll loops
    /// (owned by the client: never read or close it).
    int event_fd() const {
        int fd = midge_client_event_fd(c_);
        if (fd < 0) {
            throw Error(MIDGE_RESULT_INVALID_ARGUMENT, "midge_client_event_fd");
        }
        return fd;
    }

    /// New TLS settings (rotated certificates) for the next connect.
    void reload_tls(const Tls& tls) {
        detail::check(midge_client_reload_tls(c_, tls.native()), "midge_client_reload_tls");
    }

    /// The server of the last connection made (`mqtt://host:port`), empty before the first
    /// CONNACK (`midge_client_server`).
    std::string server() const {
        size_t len = 0;
        if (!midge_client_server(c_, nullptr, 0, &len)) return std::string();
        std::string out(len + 1, '\0');
        if (!midge_client_server(c_, &out[0], out.size(), &len)) return std::string();
        out.resize(std::min(len, out.size() - 1));
        return out;
    }

    /// The client's socket I/O so far: writes and reads that moved data, and their bytes.
    midge_io_stats io_stats() const {
        midge_io_stats stats{};
        detail::check(midge_client_io_stats(c_, &stats), "midge_client_io_stats");
        return stats;
    }

    /// The client's counters (see `midge_stats`): messages, packets and bytes each way, in
    /// flight, queued, connections, round-trip time. Cheap enough for a watchdog.
    midge_stats stats() const {
        midge_stats stats{};
        detail::check(midge_client_stats(c_, &stats), "midge_client_stats");
        return stats;
    }

    // Callbacks. Each replaces the previous one; an empty std::function removes it.

    void on_message(std::function<void(const Message&)> fn) {
        set<midge_message_cb>(midge_client_on_message, std::move(fn), &message_tramp,
                              "midge_client_on_message");
    }
    void on_connect(std::function<void(const ConnAck&)> fn) {
        set<midge_connect_cb>(midge_client_on_connect, std::move(fn), &connect_tramp,
                              "midge_client_on_connect");
    }
    void on_connection_lost(std::function<void(const Disconnect&)> fn) {
        set<midge_connection_lost_cb>(midge_client_on_connection_lost, std::move(fn), &lost_tramp,
                                      "midge_client_on_connection_lost");
    }
    /// Each publish's end: result, packet id, reason code, the PUBACK/PUBREC/PUBCOMP's
    /// reason string and properties.
    void on_publish(std::function<void(const Ack&)> fn) {
        set<midge_ack_cb>(midge_client_on_publish, std::move(fn), &ack_tramp,
                          "midge_client_on_publish");
    }
    /// Each subscribe's end (one reason code per filter, the SUBACK's properties).
    void on_subscribe(std::function<void(const Ack&)> fn) {
        set<midge_ack_cb>(midge_client_on_subscribe, std::move(fn), &ack_tramp,
                          "midge_client_on_subscribe");
    }
    /// Each unsubscribe's end (one reason code per filter, the UNSUBACK's properties).
    void on_unsubscribe(std::function<void(const Ack&)> fn) {
        set<midge_ack_cb>(midge_client_on_unsubscribe, std::move(fn), &ack_tramp,
                          "midge_client_on_unsubscribe");
    }
    /// (level, text)
    void on_log(std::function<void(int, std::string_view)> fn) {
        set<midge_log_cb>(midge_client_on_log, std::move(fn), &log_tramp, "midge_client_on_log");
    }

    /// Each redirection midge would follow (`Options::follow_redirects`): (from, to, the
    /// Server Reference as sent, reason code 0x9C / 0x9D); return false to refuse it (an
    /// exception refuses too). Runs on midge's I/O thread: return quickly, do not wait on
    /// midge.
    using RedirectFn =
        std::function<bool(std::string_view, std::string_view, std::string_view, uint8_t)>;
    void on_redirect(RedirectFn fn) {
        set<midge_redirect_cb>(midge_client_on_redirect, std::move(fn), &redirect_tramp,
                               "midge_client_on_redirect");
    }

    midge_client* native() noexcept { return c_; }

private:
    template <typename Cb, typename Setter, typename Fn>
    void set(Setter setter, Fn fn, Cb tramp, const char* what) {
        if (!fn) {
            detail::check(setter(c_, nullptr, nullptr, nullptr), what);
            return;
        }
        // Owned by midge from here: drop_function deletes it after the last call, or at
        // once if the call fails.
        Fn* stored = new Fn(std::move(fn));
        detail::check(setter(c_, tramp, stored, &detail::drop_function<Fn>), what);
    }

    static void message_tramp(void* user, const midge_message* m) {
        detail::guarded("message", [&] {
            (*static_cast<std::function<void(const Message&)>*>(user))(Message(m));
        });
    }
    static void connect_tramp(void* user, const midge_connack* c) {
        detail::guarded("connect", [&] {
            (*static_cast<std::function<void(const ConnAck&)>*>(user))(ConnAck::from(c));
        });
    }
    static void lost_tramp(void* user, const midge_disconnect* d) {
        detail::guarded("connection lost", [&] {
            (*static_cast<std::function<void(const Disconnect&)>*>(user))(Disconnect::from(d));
        });
    }
    static void ack_tramp(void* user, const midge_ack* a) {
        detail::guarded("acknowledgement", [&] {
            (*static_cast<std::function<void(const Ack&)>*>(user))(Ack::from(a));
        });
    }
    static bool redirect_tramp(void* user, const char* from, const char* to, const char* reference,
                               uint8_t reason_code) {
        bool allowed = false;
        detail::guarded("redirect", [&] {
            allowed = (*static_cast<RedirectFn*>(user))(detail::view(from), detail::view(to),
                                                        detail::view(reference), reason_code);
        });
        return allowed;
    }
    static void log_tramp(void* user, int level, const char* text) {
        detail::guarded("log", [&] {
            (*static_cast<std::function<void(int, std::string_view)>*>(user))(level,
                                                                              detail::view(text));
        });
    }

    midge_client* c_ = nullptr;
};

/// The library's version text, e.g. "1.0.0".
inline std::string_view version() { return midge_version_string(); }

/// Stops and joins every midge thread (midge_shutdown): every Client must be destroyed
/// first. Call before dlclose of libmidge, or before fork() when the child uses midge.
/// The next Client starts the threads again.
inline void shutdown() { detail::check(midge_shutdown(), "midge_shutdown"); }

}  // namespace midge

#endif  // MIDGE_HPP
