// botanpeer: a TLS client or echo server on Botan 2's TLS library, for what the botan command-line
// tool cannot do: send a client certificate (tls_client has no option for one) and verify one
// (tls_server's credentials manager trusts no CA for clients). Driven by
// tests/interop/test_mutual_tls_interop.py; built with g++ against libbotan-2-dev at test time.
// Everything stays on 127.0.0.1.
//
//   botanpeer client -port P -ca CA.pem [-sni NAME] [-cert CLIENT.pem -key CLIENT.key] [-send TEXT]
//                    [-connections N]
//   botanpeer server -cert CERT.pem -key KEY.pem [-client-ca CA.pem] [-connections N] [-tickets on|off]
//
// A client given -cert/-key offers that chain when the server's CertificateRequest allows its key
// type; a server given -client-ca names that CA in its CertificateRequest, verifies the client's
// chain against it, and requires one (policy require_client_certificate_authentication). The client
// sends TEXT, reads the echo, and sends close_notify first; the server echoes one connection and
// answers close_notify. Both print "HANDSHAKE ..." (peer=CN of the peer's leaf, peer_verified)
// and "RESULT ..." lines; a server prints "LISTENING <port>" first; a failure prints "FAIL ..."
// and exits 1.
//
// Resumption: with -connections N the client makes N connections one after the other and the server
// accepts N, each side keeping its sessions in one Session_Manager_In_Memory; a server with
// "-tickets on" also issues RFC 5077 tickets (the credentials' "session-ticket" key). Botan has no
// "resumed" flag: a handshake in which no Certificate message passed (tls_inspect_handshake_msg) was
// an abbreviated one, reported as resumed=true, and ticket=true when a NewSessionTicket passed. A
// resumed server handshake does not call tls_session_established, so HANDSHAKE is printed once the
// channel is active, from what the hellos said.
#include <botan/auto_rng.h>
#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/data_src.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/pkcs8.h>
#include <botan/tls_client.h>
#include <botan/tls_ciphersuite.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_messages.h>
#include <botan/tls_policy.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/version.h>
#include <botan/x509cert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::map<std::string, std::string> opts;

std::string opt(const std::string& name, const std::string& dflt = "") {
    auto it = opts.find(name);
    return it == opts.end() ? dflt : it->second;
}

[[noreturn]] void fail(const std::string& what) {
    std::cout << "FAIL " << what << std::endl;
    std::exit(1);
}

std::vector<Botan::X509_Certificate> read_chain(const std::string& path) {
    std::vector<Botan::X509_Certificate> chain;
    Botan::DataSource_Stream in(path);
    while (!in.end_of_data()) {
        try {
            chain.push_back(Botan::X509_Certificate(in));
        } catch (const std::exception&) {
            break;  // trailing whitespace after the last certificate
        }
    }
    if (chain.empty()) fail("no certificate in " + path);
    return chain;
}

std::string common_name(const Botan::X509_Certificate& cert) {
    const auto names = cert.subject_info("Name");
    std::string cn = names.empty() ? "" : names[0];
    std::replace(cn.begin(), cn.end(), ' ', '_');
    return cn.empty() ? "?" : cn;
}

// One certificate chain with its key (or none), and one trusted CA for the peer's chain.
class Credentials : public Botan::Credentials_Manager {
  public:
    Credentials(const std::string& cert, const std::string& key, const std::string& ca) {
        if (!cert.empty()) {
            m_chain = read_chain(cert);
            Botan::DataSource_Stream in(key);
            m_key = Botan::PKCS8::load_key(in);
        }
        if (!ca.empty()) {
            m_store = std::make_unique<Botan::Certificate_Store_In_Memory>();
            for (const auto& c : read_chain(ca)) m_store->add_certificate(c);
        }
    }

    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string&,
                                                                           const std::string&) override {
        // On a server, a store here is what makes Botan ask for a client certificate (and name its CA).
        if (!m_store) return {};
        return {m_store.get()};
    }

    std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& key_types, const std::string&,
                                                    const std::string&) override {
        if (m_key && std::find(key_types.begin(), key_types.end(), m_key->algo_name()) != key_types.end())
            return m_chain;
        return {};
    }

    Botan::Private_Key* private_key_for(const Botan::X509_Certificate&, const std::string&,
                                        const std::string&) override {
        return m_key.get();
    }

    // A server's RFC 5077 ticket key: none (no tickets) unless enabled.
    Botan::SymmetricKey psk(const std::string& type, const std::string& context,
                            const std::string& identity) override {
        if (type == "tls-server" && context == "session-ticket" && m_ticket_key.length() > 0) return m_ticket_key;
        return Botan::Credentials_Manager::psk(type, context, identity);
    }

    void enable_tickets(Botan::RandomNumberGenerator& rng) { m_ticket_key = Botan::SymmetricKey(rng, 32); }

  private:
    Botan::SymmetricKey m_ticket_key;
    std::vector<Botan::X509_Certificate> m_chain;
    std::unique_ptr<Botan::Private_Key> m_key;
    std::unique_ptr<Botan::Certificate_Store_In_Memory> m_store;
};

class Policy : public Botan::TLS::Policy {
  public:
    explicit Policy(bool require_client_cert) : m_require(require_client_cert) {}
    bool require_client_certificate_authentication() const override { return m_require; }
    // The interop certificates carry no OCSP or CRL pointers (as the botan tool's own checks allow).
    bool require_cert_revocation_info() const override { return false; }

  private:
    bool m_require;
};

// Counts and hashes a byte stream.
struct Counter {
    size_t n = 0;
    std::unique_ptr<Botan::HashFunction> h = Botan::HashFunction::create_or_throw("SHA-256");
    void add(const uint8_t* data, size_t size) {
        n += size;
        h->update(data, size);
    }
    std::string hex() const { return Botan::hex_encode(h->copy_state()->final(), false); }
};

class Peer : public Botan::TLS::Callbacks {
  public:
    explicit Peer(int fd) : m_fd(fd) {}

    void tls_emit_data(const uint8_t data[], size_t size) override {
        while (size > 0) {
            ssize_t n = ::send(m_fd, data, size, MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            data += n;
            size -= static_cast<size_t>(n);
        }
    }

    void tls_record_received(uint64_t, const uint8_t data[], size_t size) override {
        received.add(data, size);
        pending.insert(pending.end(), data, data + size);
    }

    void tls_alert(Botan::TLS::Alert alert) override {
        if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY) close_notify = true;
        else std::cout << "ALERT " << alert.type_string() << std::endl;
    }

    bool tls_session_established(const Botan::TLS::Session&) override {
        return true;  // keep it in the session manager (a no-op one unless resuming)
    }

    void tls_inspect_handshake_msg(const Botan::TLS::Handshake_Message& msg) override {
        switch (msg.type()) {
            case Botan::TLS::CLIENT_HELLO:
                sni = static_cast<const Botan::TLS::Client_Hello&>(msg).sni_hostname();
                break;
            case Botan::TLS::SERVER_HELLO: {
                const auto& hello = static_cast<const Botan::TLS::Server_Hello&>(msg);
                version = hello.version();
                cipher = hello.ciphersuite();
                ems = hello.supports_extended_master_secret();
                break;
            }
            case Botan::TLS::CERTIFICATE:
                full = true;
                break;
            case Botan::TLS::NEW_SESSION_TICKET:
                ticket = true;
                break;
            default:
                break;
        }
    }

    // Once the channel is active: what was negotiated, and whether the handshake was a full one.
    void report(const Botan::TLS::Channel& channel) const {
        const auto peer = channel.peer_cert_chain();
        const auto suite = Botan::TLS::Ciphersuite::by_id(cipher);
        std::cout << "HANDSHAKE version=" << (version == Botan::TLS::Protocol_Version::TLS_V12 ? "TLSv1.2"
                                                                                           : version.to_string())
                  << " cipher=TLS_" << (suite.valid() ? suite.to_string() : "?") << " sni=" << (sni.empty() ? "-" : sni)
                  << " peer=" << (peer.empty() ? "-" : common_name(peer[0]))
                  << " peer_verified=" << (peer_verified ? "true" : "false") << " ems=" << (ems ? "true" : "false")
                  << " resumed=" << (full ? "false" : "true") << " ticket=" << (ticket ? "true" : "false")
                  << " lib=Botan_" << Botan::short_version_string() << std::endl;
    }

    void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                               const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                               const std::vector<Botan::Certificate_Store*>& roots, Botan::Usage_Type usage,
                               const std::string& hostname, const Botan::TLS::Policy& policy) override {
        // Botan's own path validation (it throws, and Botan sends the alert, on a bad chain).
        Botan::TLS::Callbacks::tls_verify_cert_chain(chain, ocsp, roots, usage, hostname, policy);
        peer_verified = true;
    }

    // Read from the socket into the TLS channel; false at EOF.
    bool pump(Botan::TLS::Channel& channel) {
        uint8_t buf[16384];
        ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
        if (n < 0) throw std::runtime_error("recv failed (timeout?)");
        if (n == 0) return false;
        channel.received_data(buf, static_cast<size_t>(n));
        return true;
    }

    Counter received;
    std::vector<uint8_t> pending;
    bool close_notify = false;
    bool peer_verified = false;
    std::string sni;
    Botan::TLS::Protocol_Version version;
    uint16_t cipher = 0;
    bool ems = false;
    bool full = false;
    bool ticket = false;

  private:
    int m_fd;
};

void set_timeout(int fd) {
    timeval tv{60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

int connections() { return std::stoi(opt("connections", "1")); }

void client_connection(Botan::TLS::Session_Manager& sessions, Credentials& creds, const Policy& policy,
                       Botan::RandomNumberGenerator& rng) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    set_timeout(fd);
    sockaddr_in addr = loopback(std::stoi(opt("port", "0")));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
    Peer peer(fd);
    Botan::TLS::Client channel(peer, sessions, creds, policy, rng,
                               Botan::TLS::Server_Information(opt("sni", "localhost")),
                               Botan::TLS::Protocol_Version::TLS_V12);
    try {
        while (!channel.is_active())
            if (!peer.pump(channel)) throw std::runtime_error("end of stream in the handshake");
    } catch (const std::exception& e) {
        fail(std::string("handshake: ") + e.what());
    }
    peer.report(channel);
    const std::string text = opt("send");
    Counter sent;
    try {
        channel.send(text);
        sent.add(reinterpret_cast<const uint8_t*>(text.data()), text.size());
        while (peer.received.n < sent.n)
            if (!peer.pump(channel)) throw std::runtime_error("end of stream before the echo");
        channel.close();  // close_notify first
        while (!peer.close_notify)
            if (!peer.pump(channel)) throw std::runtime_error("end of stream without close_notify");
    } catch (const std::exception& e) {
        fail(std::string("data: ") + e.what());
    }
    ::close(fd);
    std::cout << "RESULT sent=" << sent.n << " sent_sha256=" << sent.hex() << " received=" << peer.received.n
              << " received_sha256=" << peer.received.hex() << " echo_ok=" << (sent.hex() == peer.received.hex() ? "true" : "false")
              << " closed_by=us" << std::endl;
}

void client() {
    Botan::AutoSeeded_RNG rng;
    Botan::TLS::Session_Manager_In_Memory sessions(rng);
    Credentials creds(opt("cert"), opt("key"), opt("ca"));
    Policy policy(false);
    for (int i = 0; i < connections(); i++) client_connection(sessions, creds, policy, rng);
}

void server_connection(int listener, bool last, Botan::TLS::Session_Manager& sessions, Credentials& creds,
                       const Policy& policy, Botan::RandomNumberGenerator& rng) {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) fail("accept");
    if (last) ::close(listener);
    set_timeout(fd);
    Peer peer(fd);
    Botan::TLS::Server channel(peer, sessions, creds, policy, rng);
    try {
        while (!channel.is_active())
            if (!peer.pump(channel)) throw std::runtime_error("end of stream in the handshake");
    } catch (const std::exception& e) {
        fail(std::string("handshake: ") + e.what());
    }
    peer.report(channel);
    try {
        while (!peer.close_notify) {
            if (!peer.pending.empty()) {
                channel.send(peer.pending.data(), peer.pending.size());
                peer.pending.clear();
            }
            if (!peer.pump(channel)) throw std::runtime_error("end of stream without close_notify");
        }
        if (!peer.pending.empty()) channel.send(peer.pending.data(), peer.pending.size());
        channel.close();  // answer the client's close_notify
    } catch (const std::exception& e) {
        fail(std::string("data: ") + e.what());
    }
    ::close(fd);
    std::cout << "RESULT received=" << peer.received.n << " received_sha256=" << peer.received.hex()
              << " closed_first=peer" << std::endl;
}

void server() {
    Botan::AutoSeeded_RNG rng;
    Botan::TLS::Session_Manager_In_Memory sessions(rng);
    Credentials creds(opt("cert"), opt("key"), opt("client-ca"));
    if (opt("tickets", "off") == "on") creds.enable_tickets(rng);
    Policy policy(!opt("client-ca").empty());
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        fail("listen");
    std::cout << "LISTENING " << ntohs(addr.sin_port) << std::endl;
    set_timeout(listener);
    for (int i = 0, n = connections(); i < n; i++) server_connection(listener, i == n - 1, sessions, creds, policy, rng);
}

}  // namespace

int main(int argc, char** argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    for (int i = 2; i + 1 < argc; i += 2) opts[std::string(argv[i]).substr(1)] = argv[i + 1];
    try {
        if (mode == "client") client();
        else if (mode == "server") server();
        else fail("usage: botanpeer client|server ...");
    } catch (const std::exception& e) {
        fail(std::string("setup: ") + e.what());
    }
    return 0;
}
