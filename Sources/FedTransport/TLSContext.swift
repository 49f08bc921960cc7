// TLSContext: a federation member's TLS 1.3 setup: the CA it trusts, its certificate and key, checked on load.
import COpenSSL
import Foundation

/// A TLS set-up or handshake failed; the description names the file or the peer and says why.
public struct TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The three PEM files a member of a federation needs.
public struct TLSFiles: Sendable, Hashable {
    /// The federation's CA certificate: peers must present certificates it signed.
    public var authority: String
    /// This member's certificate (its common name is its ``PeerIdentity``).
    public var certificate: String
    /// This member's private key.
    public var key: String

    public init(authority: String, certificate: String, key: String) {
        self.authority = authority
        self.certificate = certificate
        self.key = key
    }
}

/// The TLS side of a ``SocketHub`` (`.hub`) or a ``SocketLink`` (`.link`): TLS 1.3 only, mutual authentication
/// against one CA (`SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT` on both sides), session tickets off.
///
/// Loading checks everything a typo or a stale file can break, naming the file: each file exists and parses, the
/// key matches the certificate, the certificate is within its validity dates, it is signed by the CA, and its
/// common name is a valid ``PeerIdentity`` (`hub` for the hub). A handshake that does not complete within
/// ``handshakeSeconds`` fails (the hub drops and logs the peer).
///
/// Creating one ignores SIGPIPE for the process: OpenSSL writes to sockets with `write(2)`, and a peer that closes
/// mid-write must end that connection with EPIPE, not the process.
public final class TLSContext: @unchecked Sendable {  // SSL_CTX is safe to share once configured
    public enum Role: Sendable { case hub, link }

    let context: OpaquePointer
    public let role: Role
    /// This member's identity, from its certificate.
    public let identity: PeerIdentity
    /// How long a handshake may take before the peer is dropped.
    public let handshakeSeconds: Double

    /// Loads and checks `files` for `role`.
    /// - Throws: ``TLSError`` naming the file at fault.
    public init(_ role: Role, files: TLSFiles, handshakeSeconds: Double = 10) throws {
        precondition(handshakeSeconds > 0)
        signal(SIGPIPE, SIG_IGN)
        let authority = try PEMFile.certificate(files.authority, what: "CA certificate")
        defer { X509_free(authority) }
        let certificate = try PEMFile.certificate(files.certificate, what: "certificate")
        defer { X509_free(certificate) }
        let key = try PEMFile.privateKey(files.key)
        defer { EVP_PKEY_free(key) }
        guard X509_check_private_key(certificate, key) == 1 else {
            ERR_clear_error()
            throw TLSError("the key in \(files.key) does not match the certificate in \(files.certificate)")
        }
        try PEMFile.checkDates(certificate, path: files.certificate)
        try PEMFile.checkDates(authority, path: files.authority)
        try PEMFile.verify(certificate, path: files.certificate, authority: authority, authorityPath: files.authority)
        guard let name = PEMFile.commonName(certificate), let identity = PeerIdentity(name) else {
            throw TLSError("the certificate \(files.certificate) does not name a federation identity in its common "
                           + "name (hub, clients:A..B, server, *, or endpoint names)")
        }
        if role == .hub && !identity.isHub {
            throw TLSError("the certificate \(files.certificate) names '\(name)', but the hub's must name 'hub' "
                           + "(fednoise certs writes it as hub.pem)")
        }
        guard let context = SSL_CTX_new(role == .hub ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError("cannot create a TLS context: \(openSSLErrors())")
        }
        self.context = context
        self.role = role
        self.identity = identity
        self.handshakeSeconds = handshakeSeconds
        guard fednoise_ssl_ctx_tls13_only(context) == 1,
              SSL_CTX_set_num_tickets(context, 0) == 1,
              SSL_CTX_use_certificate(context, certificate) == 1,
              SSL_CTX_use_PrivateKey(context, key) == 1,
              SSL_CTX_load_verify_locations(context, files.authority, nil) == 1
        else { throw TLSError("cannot set up TLS with \(files.certificate): \(openSSLErrors())") }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
    }

    deinit { SSL_CTX_free(context) }
}

/// The OpenSSL error queue of this thread, in words, emptied.
func openSSLErrors() -> String {
    var texts: [String] = []
    while case let code = ERR_get_error(), code != 0 {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        texts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return texts.isEmpty ? "no detail from OpenSSL" : texts.joined(separator: "; ")
}

/// Reading and checking PEM files with libcrypto.
enum PEMFile {
    static func open(_ path: String, what: String) throws(TLSError) -> OpaquePointer {
        guard FileManager.default.fileExists(atPath: path) else { throw TLSError("the \(what) \(path) does not exist") }
        guard let bio = BIO_new_file(path, "r") else {
            throw TLSError("cannot read the \(what) \(path): \(openSSLErrors())")
        }
        return bio
    }

    static func certificate(_ path: String, what: String) throws(TLSError) -> OpaquePointer {
        let bio = try open(path, what: what)
        defer { BIO_free(bio) }
        guard let x509 = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw TLSError("the \(what) \(path) is not a PEM certificate: \(openSSLErrors())")
        }
        return x509
    }

    static func privateKey(_ path: String) throws(TLSError) -> OpaquePointer {
        let bio = try open(path, what: "key")
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            throw TLSError("the key \(path) is not an unencrypted PEM private key: \(openSSLErrors())")
        }
        return key
    }

    static func checkDates(_ certificate: OpaquePointer, path: String) throws(TLSError) {
        if X509_cmp_current_time(X509_get0_notAfter(certificate)) <= 0 {
            throw TLSError("the certificate \(path) expired on \(text(X509_get0_notAfter(certificate)))")
        }
        if X509_cmp_current_time(X509_get0_notBefore(certificate)) >= 0 {
            throw TLSError("the certificate \(path) is not valid before \(text(X509_get0_notBefore(certificate)))")
        }
    }

    static func verify(_ certificate: OpaquePointer, path: String, authority: OpaquePointer,
                       authorityPath: String) throws(TLSError) {
        guard let store = X509_STORE_new(), let context = X509_STORE_CTX_new() else {
            throw TLSError("out of memory")
        }
        defer {
            X509_STORE_CTX_free(context)
            X509_STORE_free(store)
        }
        X509_STORE_add_cert(store, authority)
        X509_STORE_CTX_init(context, store, certificate, nil)
        guard X509_verify_cert(context) == 1 else {
            let reason = String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(context))))
            ERR_clear_error()
            throw TLSError("the certificate \(path) is not valid under the CA \(authorityPath): \(reason)")
        }
    }

    /// The subject's common name.
    static func commonName(_ certificate: OpaquePointer) -> String? {
        guard let name = X509_get_subject_name(certificate) else { return nil }
        var buffer = [CChar](repeating: 0, count: 256)
        let n = X509_NAME_get_text_by_NID(name, NID_commonName, &buffer, Int32(buffer.count))
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An ASN.1 time in words (`Dec  3 10:00:00 2027 GMT`).
    static func text(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        ASN1_TIME_print(bio, time)
        var data: UnsafeMutablePointer<CChar>?
        let n = fednoise_bio_mem_data(bio, &data)
        guard let data, n > 0 else { return "?" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    }
}
