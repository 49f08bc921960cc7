// COpenSSL: the system OpenSSL (libssl, libcrypto) for TLS 1.3 sockets and test certificates, plus functions
// for the macros Swift cannot import.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

static inline int fednoise_ssl_ctx_tls13_only(SSL_CTX *ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) return 0;
    if (SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) return 0;
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* AES-128-GCM first: with AES-NI/VAES the fastest suite, and 128-bit security is the federation's level. */
    if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
        return 0;
    return 1;
}

static inline long fednoise_bio_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/// Adds the extension `nid` with value `value` (config syntax, e.g. "critical,CA:TRUE") to `cert`, issued by `issuer`.
static inline int fednoise_x509_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/// Reads and writes of `ssl` go through 256 kB buffers in front of the socket `fd`, so that a large message leaves
/// and arrives in a few system calls instead of one or two per 16 kB record (flush writes with fednoise_ssl_flush).
/// Reads are buffered here rather than with OpenSSL's read-ahead: with read-ahead OpenSSL 3.0 moves every byte
/// still buffered to the front of its buffer before each record (ssl3_read_n's payload alignment), which costs as
/// much as copying the records several times over; here each record is copied out of the buffer once.
static inline int fednoise_ssl_set_buffered_fd(SSL *ssl, int fd) {
    BIO *reading = BIO_new_socket(fd, BIO_NOCLOSE), *writing = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *in = BIO_new(BIO_f_buffer()), *out = BIO_new(BIO_f_buffer());
    if (!reading || !writing || !in || !out || BIO_set_read_buffer_size(in, 1 << 18) != 1
        || BIO_set_write_buffer_size(out, 1 << 18) != 1) {
        BIO_free(reading);
        BIO_free(writing);
        BIO_free(in);
        BIO_free(out);
        return 0;
    }
    SSL_set_bio(ssl, BIO_push(in, reading), BIO_push(out, writing));
    return 1;
}

/// Writes out what the write buffer holds: 1 when done, else <= 0 (retry when the socket is writable if
/// fednoise_ssl_flush_should_retry says so).
static inline int fednoise_ssl_flush(SSL *ssl) { return BIO_flush(SSL_get_wbio(ssl)); }
static inline int fednoise_ssl_flush_should_retry(SSL *ssl) { return BIO_should_retry(SSL_get_wbio(ssl)); }
