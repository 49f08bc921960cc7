// CertificateAuthority: a test federation's CA, made with libcrypto: Ed25519 keys, X.509 v3 certificates, PEM.
import COpenSSL
import Foundation

/// A certificate and its private key, PEM-encoded.
public struct PEMPair: Sendable, Hashable {
    public var certificate: String
    public var key: String
}

/// A certificate authority for one federation (`fednoise certs`): it signs the hub's and every node's certificate,
/// each naming its ``PeerIdentity`` in the common name. Keys are Ed25519 (RFC 8032), made by libcrypto's CSPRNG.
///
/// This is for test and private federations: the CA key should stay with whoever runs the federation, and the
/// certificates have no revocation.
public final class CertificateAuthority: @unchecked Sendable {  // immutable after init
    private let key: OpaquePointer
    private let certificate: OpaquePointer
    /// The CA's certificate and key.
    public let pem: PEMPair

    /// A new CA called `name`, valid for `days` from now.
    public init(name: String = "FedNoise federation CA", days: Int = 30) throws {
        key = try Self.newKey()
        certificate = try Self.build(subject: name, key: key, issuer: nil, issuerKey: key, days: days, daysAgo: 0,
                                     extensions: [(NID_basic_constraints, "critical,CA:TRUE"),
                                                  (NID_key_usage, "critical,keyCertSign,cRLSign"),
                                                  (NID_subject_key_identifier, "hash")])
        pem = PEMPair(certificate: try Self.pem(certificate: certificate), key: try Self.pem(key: key))
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// A certificate for `identity` (a ``PeerIdentity`` name: `hub`, `clients:0..9`, …), signed by this CA, valid
    /// from `daysAgo` days ago for `days` days (a negative end date makes an expired certificate, for tests).
    public func issue(_ identity: String, days: Int = 30, daysAgo: Int = 0) throws -> PEMPair {
        guard PeerIdentity(identity) != nil else { throw TLSError("'\(identity)' is not a federation identity") }
        let leafKey = try Self.newKey()
        defer { EVP_PKEY_free(leafKey) }
        let leaf = try Self.build(subject: identity, key: leafKey, issuer: certificate, issuerKey: key, days: days,
                                  daysAgo: daysAgo,
                                  extensions: [(NID_basic_constraints, "critical,CA:FALSE"),
                                               (NID_key_usage, "critical,digitalSignature"),
                                               (NID_ext_key_usage, "serverAuth,clientAuth"),
                                               (NID_authority_key_identifier, "keyid")])
        defer { X509_free(leaf) }
        return PEMPair(certificate: try Self.pem(certificate: leaf), key: try Self.pem(key: leafKey))
    }

    private static func newKey() throws(TLSError) -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else {
            throw TLSError("cannot make an Ed25519 key: \(openSSLErrors())")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &key) == 1, let key else {
            throw TLSError("cannot make an Ed25519 key: \(openSSLErrors())")
        }
        return key
    }

    /// An X.509 v3 certificate for `subject` and `key`, signed by `issuerKey` (self-signed without `issuer`).
    private static func build(subject: String, key: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer,
                              days: Int, daysAgo: Int,
                              extensions: [(Int32, String)]) throws(TLSError) -> OpaquePointer {
        guard let x509 = X509_new() else { throw TLSError("out of memory") }
        var serial: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &serial) { RAND_bytes($0.baseAddress, 8) }
        let name = X509_get_subject_name(x509)
        let ok = X509_set_version(x509, 2) == 1
            && ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial >> 1) == 1
            && X509_time_adj_ex(X509_getm_notBefore(x509), Int32(-daysAgo), 0, nil) != nil
            && X509_time_adj_ex(X509_getm_notAfter(x509), Int32(days - daysAgo), 0, nil) != nil
            && X509_set_pubkey(x509, key) == 1
            && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, subject, -1, -1, 0) == 1
            && X509_set_issuer_name(x509, issuer.map { X509_get_subject_name($0) } ?? name) == 1
            && extensions.allSatisfy { fednoise_x509_add_ext(x509, issuer ?? x509, $0.0, $0.1) == 1 }
            && X509_sign(x509, issuerKey, nil) > 0
        guard ok else {
            X509_free(x509)
            throw TLSError("cannot make the certificate for '\(subject)': \(openSSLErrors())")
        }
        return x509
    }

    private static func pem(certificate: OpaquePointer) throws(TLSError) -> String {
        try text { PEM_write_bio_X509($0, certificate) }
    }

    private static func pem(key: OpaquePointer) throws(TLSError) -> String {
        try text { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    private static func text(_ write: (OpaquePointer) -> Int32) throws(TLSError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError("out of memory") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw TLSError("cannot write PEM: \(openSSLErrors())") }
        var data: UnsafeMutablePointer<CChar>?
        let n = fednoise_bio_mem_data(bio, &data)
        guard let data, n > 0 else { throw TLSError("cannot write PEM: empty") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    }
}
