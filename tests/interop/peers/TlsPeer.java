// TlsPeer: a TLS client or echo server on Java's SunJSSE (SSLSocket / SSLServerSocket),
// driven by tests/interop/test_peer_java.py. Everything stays on 127.0.0.1.
//
//   java TlsPeer client -port P -ca CA.pem [-sni NAME] [-alpn a,b] [-send TEXT] [-bulk N] [-close us|peer]
//                       [-cert CLIENT.pem -key CLIENT.key] [-connections N]
//   java TlsPeer server -cert CERT.pem -key KEY.pem [-alpn a,b] [-close-after N] [-suites S1,S2]
//                       [-client-ca CA.pem] [-connections N]
//
// Groups come from -Djdk.tls.namedGroups=... on the java command line. The client
// sends TEXT (or N bytes in mixed write sizes from a second thread), reads the echo,
// then sends close_notify first (us) or waits for the server's (peer). The server
// echoes one connection. Both print "HANDSHAKE ..." and "RESULT ..." lines; a failure
// prints "FAIL ..." and exits 1.
//
// A client given -cert/-key holds that client certificate (JSSE's key manager sends it when it
// fits the server's CertificateRequest); a server given -client-ca requires a client certificate
// (setNeedClientAuth) and verifies it against that CA. HANDSHAKE reports the peer's leaf (peer=CN).
//
// With -connections N, the client makes N connections one after the other from one SSLContext, and
// the server accepts N from one: JSSE's session cache (the client's keyed by host and port) resumes
// sessions across them, by session ID or, where both sides enable it, by RFC 5077 ticket
// (-Djdk.tls.client.enableSessionTicketExtension, -Djdk.tls.server.enableSessionTicketExtension).
// JSSE has no "resumed" flag: HANDSHAKE reports the session's ID (session_id=hex) and creation time
// (created=ms), and a connection resumed an earlier one's session when both are the same as its.
import javax.net.ssl.*;
import java.io.*;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;

public class TlsPeer {
    static final int[] MIXED = {1, 7, 100, 1000, 4096, 16383, 16384, 16385, 40000, 65536, 100003, 262144, 1048576, 3};

    static Map<String, String> opts = new HashMap<>();

    static String opt(String name, String dflt) { return opts.getOrDefault(name, dflt); }

    static void fail(String what, Throwable e) {
        System.out.println("FAIL " + what + ": " + e);
        System.out.flush();
        System.exit(1);
    }

    static List<X509Certificate> readCerts(String path) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<X509Certificate> out = new ArrayList<>();
        try (InputStream in = new FileInputStream(path)) {
            for (java.security.cert.Certificate c : cf.generateCertificates(in)) out.add((X509Certificate) c);
        }
        return out;
    }

    static PrivateKey readKey(String path) throws Exception {
        String pem = Files.readString(Path.of(path), StandardCharsets.US_ASCII);
        String b64 = pem.replaceAll("-----(BEGIN|END) PRIVATE KEY-----", "").replaceAll("\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64));
        // PKCS#8 names its algorithm: RSA, EC (P-256/384/521) or Ed25519; try each factory in turn.
        for (String alg : new String[] {"RSA", "EC", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (java.security.spec.InvalidKeySpecException e) {
                // not this algorithm
            }
        }
        throw new InvalidKeyException("no RSA, EC or Ed25519 key in " + path);
    }

    static KeyManager[] keyManagers(String certPath, String keyPath) throws Exception {
        List<X509Certificate> chain = readCerts(certPath);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        char[] pw = "interop".toCharArray();
        ks.setKeyEntry("key", readKey(keyPath), pw, chain.toArray(new X509Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        return kmf.getKeyManagers();
    }

    static TrustManager[] trustManagers(String caPath) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        int i = 0;
        for (X509Certificate c : readCerts(caPath)) trust.setCertificateEntry("ca" + i++, c);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        return tmf.getTrustManagers();
    }

    static String peerName(SSLSession ses) {
        try {
            X509Certificate leaf = (X509Certificate) ses.getPeerCertificates()[0];
            for (String part : leaf.getSubjectX500Principal().getName().split(","))
                if (part.startsWith("CN=")) return part.substring(3).replace(' ', '_');
            return "?";
        } catch (SSLPeerUnverifiedException e) {
            return "-";
        }
    }

    static String describe(SSLSocket s) {
        SSLSession ses = s.getSession();
        String sni = "-";
        if (ses instanceof ExtendedSSLSession) {
            for (SNIServerName n : ((ExtendedSSLSession) ses).getRequestedServerNames())
                if (n instanceof SNIHostName) sni = ((SNIHostName) n).getAsciiName();
        }
        String alpn = s.getApplicationProtocol();
        StringBuilder id = new StringBuilder();
        for (byte x : ses.getId()) id.append(String.format("%02x", x));
        return "HANDSHAKE version=" + ses.getProtocol() + " cipher=" + ses.getCipherSuite()
                + " alpn=" + (alpn == null || alpn.isEmpty() ? "-" : alpn) + " sni=" + sni + " peer=" + peerName(ses)
                + " session_id=" + (id.length() == 0 ? "-" : id) + " created=" + ses.getCreationTime()
                + " lib=JSSE_" + System.getProperty("java.version");
    }

    static final class Counter {
        long n;
        final MessageDigest md;
        Counter() throws NoSuchAlgorithmException { md = MessageDigest.getInstance("SHA-256"); }
        void add(byte[] b, int off, int len) { n += len; md.update(b, off, len); }
        String hex() throws CloneNotSupportedException {
            StringBuilder sb = new StringBuilder();
            for (byte x : ((MessageDigest) md.clone()).digest()) sb.append(String.format("%02x", x));
            return sb.toString();
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "";
        for (int i = 1; i + 1 < args.length; i += 2) opts.put(args[i].replaceFirst("^-+", ""), args[i + 1]);
        if (mode.equals("client")) client();
        else if (mode.equals("server")) server();
        else { System.out.println("FAIL usage: TlsPeer client|server ..."); System.exit(2); }
    }

    static int connections() { return Integer.parseInt(opt("connections", "1")); }

    static void client() throws Exception {
        SSLContext ctx = null;
        try {
            KeyManager[] km = opt("cert", "").isEmpty() ? null : keyManagers(opt("cert", ""), opt("key", ""));
            ctx = SSLContext.getInstance("TLS");
            ctx.init(km, trustManagers(opt("ca", "")), null);
        } catch (Exception e) {
            fail("setup", e);
        }
        for (int i = 0; i < connections(); i++) clientConnection(ctx);
    }

    static void clientConnection(SSLContext ctx) throws Exception {
        SSLSocket s = null;
        try {
            s = (SSLSocket) ctx.getSocketFactory().createSocket();
            s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(opt("port", "0"))), 10000);
            s.setSoTimeout(60000);
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(opt("sni", "localhost"))));
            p.setEndpointIdentificationAlgorithm("HTTPS");  // host name check against the SAN
            if (!opt("alpn", "").isEmpty()) p.setApplicationProtocols(opt("alpn", "").split(","));
            s.setSSLParameters(p);
            s.startHandshake();
        } catch (Exception e) {
            fail("handshake", e);
        }
        System.out.println(describe(s));
        System.out.flush();
        final SSLSocket sock = s;
        final byte[] message = opt("send", "").getBytes(StandardCharsets.UTF_8);
        final long total = message.length + Long.parseLong(opt("bulk", "0"));
        final Counter sent = new Counter(), received = new Counter();
        final Throwable[] werr = new Throwable[1];
        Thread writer = new Thread(() -> {
            try {
                OutputStream out = sock.getOutputStream();
                if (message.length > 0) { out.write(message); sent.add(message, 0, message.length); }
                byte[] buf = new byte[1 << 20];
                for (int k = 0; sent.n < total; k++) {
                    int n = (int) Math.min(MIXED[k % MIXED.length], total - sent.n);
                    for (int j = 0; j < n; j++) buf[j] = (byte) (k * 31 + j * 7);
                    out.write(buf, 0, n);
                    sent.add(buf, 0, n);
                }
                out.flush();
            } catch (Throwable e) { werr[0] = e; }
        });
        writer.start();
        try {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[65536];
            while (received.n < total) {
                int n = in.read(buf);
                if (n < 0) throw new EOFException("end of stream after " + received.n + " of " + total + " bytes");
                received.add(buf, 0, n);
            }
            writer.join(60000);
            if (werr[0] != null) fail("write", werr[0]);
            String closeBy = opt("close", "us");
            if (closeBy.equals("us")) s.shutdownOutput();  // close_notify
            int n = in.read(buf);  // the peer's close_notify (or ours answered)
            if (n != -1) throw new IOException("expected the end of the stream, got " + n + " bytes");
            s.close();
            System.out.println("RESULT sent=" + sent.n + " sent_sha256=" + sent.hex() + " received=" + received.n
                    + " received_sha256=" + received.hex() + " echo_ok=" + sent.hex().equals(received.hex())
                    + " closed_by=" + closeBy);
        } catch (Exception e) {
            fail("data", e);
        }
    }

    static void server() throws Exception {
        SSLServerSocket ss;
        try {
            String clientCA = opt("client-ca", "");
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(keyManagers(opt("cert", ""), opt("key", "")), clientCA.isEmpty() ? null : trustManagers(clientCA),
                     null);
            ss = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 5, InetAddress.getByName("127.0.0.1"));
            ss.setSoTimeout(60000);
            SSLParameters p = ss.getSSLParameters();
            if (!opt("alpn", "").isEmpty()) p.setApplicationProtocols(opt("alpn", "").split(","));
            if (!opt("suites", "").isEmpty()) p.setCipherSuites(opt("suites", "").split(","));
            if (!clientCA.isEmpty()) p.setNeedClientAuth(true);
            ss.setSSLParameters(p);
        } catch (Exception e) {
            fail("setup", e);
            return;
        }
        System.out.println("LISTENING " + ss.getLocalPort());
        System.out.flush();
        int n = connections();
        for (int i = 0; i < n; i++) serverConnection(ss, i == n - 1);
    }

    static void serverConnection(SSLServerSocket ss, boolean last) throws Exception {
        SSLSocket s = null;
        try {
            s = (SSLSocket) ss.accept();
            if (last) ss.close();
            s.setSoTimeout(60000);
            s.startHandshake();
        } catch (Exception e) {
            fail("handshake", e);
        }
        System.out.println(describe(s));
        System.out.flush();
        long closeAfter = Long.parseLong(opt("close-after", "-1"));
        String closedFirst = "peer";
        Counter received = new Counter();
        try {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[65536];
            while (true) {
                if (closeAfter >= 0 && received.n >= closeAfter) {
                    closedFirst = "us";
                    s.shutdownOutput();  // close_notify first
                    int n = in.read(buf);
                    if (n != -1) throw new IOException("expected the end of the stream, got " + n + " bytes");
                    break;
                }
                int n = in.read(buf);
                if (n < 0) break;
                received.add(buf, 0, n);
                out.write(buf, 0, n);
                out.flush();
            }
            s.close();
            System.out.println("RESULT received=" + received.n + " received_sha256=" + received.hex()
                    + " closed_first=" + closedFirst);
        } catch (Exception e) {
            fail("data", e);
        }
    }
}
