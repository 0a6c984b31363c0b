/*
 * storeplatform_client.c: see storeplatform_client.h; the wire is proto/PROTOCOL.md.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MSG_DONTWAIT, MSG_NOSIGNAL on glibc */
#define _DARWIN_C_SOURCE /* the same on macOS */

#include "storeplatform_client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#ifndef SSL_R_UNEXPECTED_EOF_WHILE_READING
#define SSL_R_UNEXPECTED_EOF_WHILE_READING (-1) /* OpenSSL before 3.0: reported as SSL_ERROR_SYSCALL */
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0
#endif

#define SP_MAX_STREAM_ID UINT32_MAX

/* What the verification of the daemon's certificate found first, for the
 * handshake's error message. */
typedef struct sp_peer_failure {
    long error; /* X509_V_OK when nothing failed */
    char subject[256];
    char issuer[256];
    char not_before[32];
    char not_after[32];
} sp_peer_failure;

struct sp_client {
    int fd;                  /* -1 once closed */
    /* TLS, when connected with sp_connect_tls; every read and write of fd goes
     * through the transport functions below, plain or TLS. */
    SSL_CTX *tls_ctx;
    SSL *tls;
    BIO_METHOD *tls_bio_method;
    int tls_broken;          /* a fatal TLS error: no close_notify at close */
    int tls_error;           /* last_error holds a TLS failure's explanation */
    const char *tls_ca_file; /* during the handshake only */
    sp_peer_failure peer_failure;
    uint64_t next_stream_id; /* odd; past UINT32_MAX means exhausted */
    char *token;             /* NULL when none */
    size_t max_frame;
    uint32_t timeout_ms;
    uint64_t request_seed;
    uint64_t request_counter;
    char last_error[512];
};

/* ---- statuses ------------------------------------------------------------ */

/* Status strings are malloc'd, or point here when there is nothing to say (or
 * memory ran out), so that they are never NULL after a call. */
static char sp_empty_string[1] = "";

static char *dup_or_empty(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return sp_empty_string;
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    if (copy == NULL)
        return sp_empty_string;
    memcpy(copy, text, length + 1);
    return copy;
}

static void free_status_string(char *text)
{
    if (text != NULL && text != sp_empty_string)
        free(text);
}

void sp_status_clear(sp_status *status)
{
    if (status == NULL)
        return;
    free_status_string(status->error_code);
    free_status_string(status->message);
    free_status_string(status->request_id);
    status->code = 0;
    status->error_code = NULL;
    status->message = NULL;
    status->retry_after_ms = 0;
    status->request_id = NULL;
    status->local = 0;
}

static void set_status(sp_status *status, int code, const char *error_code, const char *message,
                       uint64_t retry_after_ms, const char *request_id, int local)
{
    if (status == NULL)
        return;
    sp_status_clear(status);
    status->code = code;
    status->error_code = dup_or_empty(error_code);
    status->message = dup_or_empty(message);
    status->retry_after_ms = retry_after_ms;
    status->request_id = dup_or_empty(request_id);
    status->local = local;
}

static void set_last_error(sp_client *client, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(client->last_error, sizeof client->last_error, format, arguments); /* truncation is fine */
    va_end(arguments);
}

/* Records a local failure: last_error, and a local status when asked for. */
static void local_failure(sp_client *client, sp_status *status, int code, const char *error_code,
                          const char *request_id, const char *format, ...)
{
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    if (client != NULL)
        set_last_error(client, "%s: %s", error_code, message);
    set_status(status, code, error_code, message, 0, request_id, 1);
}

/* The failure of a read while a call or a watch waits for frames, as a local
 * status: what the transport said, under the code that fits it. */
static int read_failure(sp_client *client, int rc, int too_large, const char *request_id,
                        sp_status *status_out, const char *doing)
{
    char reason[sizeof client->last_error];
    memcpy(reason, client->last_error, sizeof reason);
    int code = STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE;
    const char *error_code = rc == SP_ERR_CLOSED ? "CLIENT_CONNECTION_CLOSED" : "CLIENT_IO_ERROR";
    if (rc == SP_ERR_TIMEOUT) {
        code = STOREPLATFORM__V1__CODE__CODE_DEADLINE_EXCEEDED;
        error_code = "CLIENT_TIMEOUT";
    } else if (too_large) {
        code = STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED;
        error_code = "CLIENT_FRAME_TOO_LARGE";
    } else if (rc == SP_ERR_NOMEM) {
        code = STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED;
        error_code = "CLIENT_OUT_OF_MEMORY";
    }
    local_failure(client, status_out, code, error_code, request_id, "%s: %s", doing, reason);
    return rc;
}

static void mark_closed(sp_client *client)
{
    if (client->tls != NULL) {
        if (!client->tls_broken && client->fd >= 0) {
            /* Best effort, without waiting: tell the daemon this end is done. */
            ERR_clear_error();
            (void)SSL_shutdown(client->tls);
        }
        SSL_free(client->tls); /* frees its BIO too */
        client->tls = NULL;
    }
    if (client->tls_ctx != NULL) {
        SSL_CTX_free(client->tls_ctx);
        client->tls_ctx = NULL;
    }
    if (client->tls_bio_method != NULL) {
        BIO_meth_free(client->tls_bio_method);
        client->tls_bio_method = NULL;
    }
    ERR_clear_error();
    if (client->fd >= 0) {
        close(client->fd);
        client->fd = -1;
    }
}

/* ---- names ---------------------------------------------------------------- */

const char *sp_code_name(int code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (code < 0 || (size_t)code >= sizeof names / sizeof names[0])
        return "UNKNOWN_CODE";
    return names[code];
}

const char *sp_strerror(int rc)
{
    switch (rc) {
    case SP_OK: return "ok";
    case SP_ERR_STATUS: return "the daemon refused or failed the call";
    case SP_ERR_CLOSED: return "the connection is closed";
    case SP_ERR_IO: return "I/O error";
    case SP_ERR_PROTOCOL: return "the daemon sent something this client refuses";
    case SP_ERR_TIMEOUT: return "no answer in time";
    case SP_ERR_INVALID: return "invalid argument";
    case SP_ERR_NOMEM: return "out of memory";
    default: return "unknown result";
    }
}

const char *sp_store_status_name(int status)
{
    static const char *const names[] = {
        "unspecified", "queued", "provisioning", "ready", "failed", "deleting", "deleted", "upgrading",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0])
        return "unknown";
    return names[status];
}

const char *sp_revision_status_name(int status)
{
    static const char *const names[] = {
        "unspecified", "deployed", "superseded", "failed", "rolled-back", "pending",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0])
        return "unknown";
    return names[status];
}

const char *sp_fleet_upgrade_state_name(int state)
{
    static const char *const names[] = {
        "unspecified", "running", "paused", "cancelling", "stopping", "completed", "cancelled", "stopped",
    };
    if (state < 0 || (size_t)state >= sizeof names / sizeof names[0])
        return "unknown";
    return names[state];
}

int sp_fleet_upgrade_state_has_ended(int state)
{
    return state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_COMPLETED ||
           state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_CANCELLED ||
           state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_STOPPED;
}

const char *sp_fleet_store_outcome_name(int outcome)
{
    static const char *const names[] = {
        "unspecified", "waiting", "upgrading", "upgraded", "rolled-back", "failed", "skipped",
    };
    if (outcome < 0 || (size_t)outcome >= sizeof names / sizeof names[0])
        return "unknown";
    return names[outcome];
}

/* ---- time and I/O ----------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* A deadline timeout_ms from now, or -1 (none) for 0. */
static int64_t deadline_after(uint64_t timeout_ms)
{
    return timeout_ms == 0 ? -1 : now_ms() + (int64_t)timeout_ms;
}

/* Waits until fd is ready for events or the deadline passes (-1: no deadline,
 * then the blocking call itself waits). SP_OK, SP_ERR_TIMEOUT or SP_ERR_IO. */
static int wait_ready(int fd, short events, int64_t deadline)
{
    if (deadline < 0)
        return SP_OK;
    for (;;) {
        int64_t remaining = deadline - now_ms();
        if (remaining <= 0)
            return SP_ERR_TIMEOUT;
        struct pollfd pfd = { .fd = fd, .events = events, .revents = 0 };
        int ready = poll(&pfd, 1, remaining > INT32_MAX ? INT32_MAX : (int)remaining);
        if (ready > 0)
            return SP_OK; /* readable, writable, or an error/hang-up the next call reports */
        if (ready == 0)
            continue; /* re-check the clock */
        if (errno != EINTR)
            return SP_ERR_IO;
    }
}

static int is_disconnect(int error)
{
    return error == EPIPE || error == ECONNRESET || error == ENOTCONN || error == ECONNABORTED;
}

/* ---- TLS: the socket BIO, and what failures mean --------------------------------- */

/* OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE when the
 * daemon has gone; this one sends with MSG_NOSIGNAL like the plain transport, so
 * that a library never needs the program to ignore SIGPIPE. */
static int bio_fd(BIO *bio)
{
    return (int)(intptr_t)BIO_get_data(bio);
}

static int bio_write(BIO *bio, const char *data, int len)
{
    BIO_clear_retry_flags(bio);
    ssize_t sent = send(bio_fd(bio), data, (size_t)len, MSG_NOSIGNAL);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            BIO_set_retry_write(bio);
        return -1;
    }
    return (int)sent;
}

static int bio_read(BIO *bio, char *data, int len)
{
    BIO_clear_retry_flags(bio);
    ssize_t n = recv(bio_fd(bio), data, (size_t)len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            BIO_set_retry_read(bio);
        return -1;
    }
    return (int)n; /* 0: end of stream */
}

static long bio_ctrl(BIO *bio, int command, long number, void *pointer)
{
    (void)bio;
    (void)number;
    (void)pointer;
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static int bio_destroy(BIO *bio)
{
    (void)bio;
    return 1; /* the fd is the client's; mark_closed closes it */
}

/* "CN=billing,O=Example" (RFC 4514, as the daemon names callers cert:<subject>). */
static void name_rfc4514(const X509_NAME *name, char *out, size_t size)
{
    out[0] = '\0';
    BIO *memory = BIO_new(BIO_s_mem());
    if (memory == NULL)
        return;
    if (X509_NAME_print_ex(memory, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(memory, out, (int)size - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(memory);
}

/* The values of a name, most specific first: "StorePlatform Test CA". */
static void name_values(const X509_NAME *name, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = X509_NAME_entry_count(name) - 1; i >= 0; i--) {
        const ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        unsigned char *utf8 = NULL;
        int length = ASN1_STRING_to_UTF8(&utf8, data);
        if (length < 0)
            continue;
        int n = snprintf(out + used, size - used, "%s%.*s", used > 0 ? "," : "", length, (const char *)utf8);
        OPENSSL_free(utf8);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

static void format_time(const ASN1_TIME *time, char *out, size_t size)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (time == NULL || ASN1_TIME_to_tm(time, &tm) != 1 || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "?");
}

/* Records the first failure verifying the daemon's chain; the handshake still fails on it. */
static int verify_callback(int preverify_ok, X509_STORE_CTX *store)
{
    if (preverify_ok)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    sp_client *client = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    if (client != NULL && client->peer_failure.error == X509_V_OK) {
        sp_peer_failure *failure = &client->peer_failure;
        failure->error = X509_STORE_CTX_get_error(store);
        int error = (int)failure->error;
        /* Expiry concerns the certificate at hand; everything else is said of the daemon's own. */
        X509 *certificate = error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID
                                ? X509_STORE_CTX_get_current_cert(store)
                                : X509_STORE_CTX_get0_cert(store);
        if (certificate == NULL)
            certificate = X509_STORE_CTX_get_current_cert(store);
        if (certificate != NULL) {
            name_rfc4514(X509_get_subject_name(certificate), failure->subject, sizeof failure->subject);
            name_values(X509_get_issuer_name(certificate), failure->issuer, sizeof failure->issuer);
            format_time(X509_get0_notBefore(certificate), failure->not_before, sizeof failure->not_before);
            format_time(X509_get0_notAfter(certificate), failure->not_after, sizeof failure->not_after);
        }
    }
    return 0;
}

/* snprintf into a message buffer, where truncation is fine. */
static void text_into(char *out, size_t size, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(out, size, format, arguments);
    va_end(arguments);
}

/* Why the daemon's certificate was refused, with what to do. */
static void explain_peer_failure(const sp_client *client, char *out, size_t size)
{
    const sp_peer_failure *failure = &client->peer_failure;
    int error = (int)failure->error;
    if (error == X509_V_ERR_CERT_HAS_EXPIRED) {
        text_into(out, size, "the daemon's certificate (%s) expired at %s; the daemon needs a new one", failure->subject,
                 failure->not_after);
    } else if (error == X509_V_ERR_CERT_NOT_YET_VALID) {
        text_into(out, size, "the daemon's certificate (%s) is not valid before %s; check the clocks", failure->subject,
                 failure->not_before);
    } else if (error == X509_V_ERR_HOSTNAME_MISMATCH || error == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        text_into(out, size,
                 "the daemon's certificate (%s) is not valid for this host name; connect by a name the certificate "
                 "holds, or give it with --tls-server-name",
                 failure->subject);
    } else if (error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
               error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
               error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE || error == X509_V_ERR_CERT_SIGNATURE_FAILURE) {
        char trust[300];
        if (client->tls_ca_file != NULL)
            text_into(trust, sizeof trust, "the CA file %s", client->tls_ca_file);
        else
            text_into(trust, sizeof trust, "the system's CAs");
        text_into(out, size, "the daemon's certificate (%s, issued by %s) is not signed by %s; give its CA with --tls-ca",
                 failure->subject, failure->issuer, trust);
    } else {
        text_into(out, size, "the daemon's certificate (%s) is not trusted: %s; give its CA with --tls-ca",
                 failure->subject, X509_verify_cert_error_string(failure->error));
    }
}

/* What a fatal TLS error (SSL_ERROR_SSL) means, from the error queue and the
 * verification result, with what to do. */
static void explain_tls_error(const sp_client *client, int handshaking, char *out, size_t size)
{
    unsigned long error = ERR_peek_last_error();
    int reason = ERR_GET_LIB(error) == ERR_LIB_SSL ? ERR_GET_REASON(error) : 0;
    if (client->peer_failure.error != X509_V_OK) {
        explain_peer_failure(client, out, size);
        return;
    }
    switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
        text_into(out, size, "the daemon wants a client certificate: give one with --tls-cert and --tls-key");
        return;
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        text_into(out, size,
                 "the daemon refused the client certificate: it has expired; get a new one from the daemon's client CA");
        return;
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
        text_into(out, size,
                 "the daemon refused the client certificate: it is not signed by a CA the daemon trusts; use a "
                 "certificate from the daemon's client CA");
        return;
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
        text_into(out, size, "the daemon refused the client certificate: it is revoked; get a new one from the daemon's client CA");
        return;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_RECORD:
    case SSL_R_HTTP_REQUEST:
        if (handshaking) {
            text_into(out, size, "the daemon did not answer in TLS: this port does not speak TLS; connect without "
                                "the --tls options, or check the port");
            return;
        }
        break;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
        text_into(out, size, handshaking ? "the daemon closed the connection during the TLS handshake: this port may "
                                          "not speak TLS; connect without the --tls options, or check the port"
                                        : "the daemon closed the connection");
        return;
    default:
        break;
    }
    char text[256];
    ERR_error_string_n(error, text, sizeof text);
    text_into(out, size, "TLS failed: %s", error != 0 ? text : "no reason given");
}

/* Waits until fd is ready for events or the deadline passes; -1 waits as long
 * as it takes. SP_OK, SP_ERR_TIMEOUT or SP_ERR_IO. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t remaining = deadline < 0 ? -1 : deadline - now_ms();
        if (deadline >= 0 && remaining <= 0)
            return SP_ERR_TIMEOUT;
        struct pollfd pfd = { .fd = fd, .events = events, .revents = 0 };
        int ready = poll(&pfd, 1, remaining < 0 ? -1 : remaining > INT32_MAX ? INT32_MAX : (int)remaining);
        if (ready > 0)
            return SP_OK;
        if (ready == 0)
            continue;
        if (errno != EINTR)
            return SP_ERR_IO;
    }
}

/* After an SSL_read/SSL_write/SSL_connect that returned ret: waits for the
 * socket when OpenSSL wants to read or write (SP_OK: try again), else records
 * the failure in last_error and returns SP_ERR_CLOSED, SP_ERR_IO or
 * SP_ERR_TIMEOUT. doing is "writing to", "waiting for" or "the TLS handshake with". */
static int tls_retry_or_fail(sp_client *client, int ret, int64_t deadline, const char *doing, int handshaking)
{
    int error = SSL_get_error(client->tls, ret);
    int saved_errno = errno;
    short events = 0;
    switch (error) {
    case SSL_ERROR_WANT_READ:
        events = POLLIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        events = POLLOUT;
        break;
    case SSL_ERROR_ZERO_RETURN:
        set_last_error(client, "the daemon closed the connection");
        return SP_ERR_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (saved_errno == EINTR && ERR_peek_error() == 0)
            return SP_OK;
        client->tls_broken = 1;
        if (ERR_peek_error() == 0 && saved_errno == 0) {
            /* OpenSSL before 3.0: an end of stream without close_notify. */
            set_last_error(client, "the daemon closed the connection");
            return SP_ERR_CLOSED;
        }
        set_last_error(client, "%s: %s", strncmp(doing, "writing", 7) == 0 ? "write" : "read", strerror(saved_errno));
        return is_disconnect(saved_errno) ? SP_ERR_CLOSED : SP_ERR_IO;
    default: {
        client->tls_broken = 1;
        char reason[sizeof client->last_error];
        explain_tls_error(client, handshaking, reason, sizeof reason);
        unsigned long last = ERR_peek_last_error();
        int eof = ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
        set_last_error(client, "%s", reason);
        client->tls_error = !eof || handshaking;
        ERR_clear_error();
        return eof && !handshaking ? SP_ERR_CLOSED : SP_ERR_IO;
    }
    }
    int rc = wait_fd(client->fd, events, deadline);
    if (rc == SP_ERR_TIMEOUT)
        set_last_error(client, "timed out %s the daemon", doing);
    else if (rc != SP_OK)
        set_last_error(client, "poll: %s", strerror(errno));
    return rc;
}

/* ---- the transport: every read and write of the connection, plain or TLS --------- */

/* Writes all len bytes (partial writes and EINTR handled). On failure returns
 * SP_ERR_CLOSED, SP_ERR_IO or SP_ERR_TIMEOUT with last_error set; the caller
 * closes the connection. */
static int write_all(sp_client *client, const uint8_t *bytes, size_t len, int64_t deadline)
{
    if (client->tls != NULL) {
        while (len > 0) {
            int chunk = len > INT_MAX ? INT_MAX : (int)len;
            ERR_clear_error();
            errno = 0;
            int sent = SSL_write(client->tls, bytes, chunk);
            if (sent > 0) {
                bytes += sent;
                len -= (size_t)sent;
                continue;
            }
            int rc = tls_retry_or_fail(client, sent, deadline, "writing to", 0);
            if (rc != SP_OK)
                return rc;
        }
        return SP_OK;
    }
    int flags = MSG_NOSIGNAL | (deadline >= 0 ? MSG_DONTWAIT : 0);
    while (len > 0) {
        int rc = wait_ready(client->fd, POLLOUT, deadline);
        if (rc != SP_OK) {
            if (rc == SP_ERR_TIMEOUT)
                set_last_error(client, "timed out writing to the daemon");
            else
                set_last_error(client, "poll: %s", strerror(errno));
            return rc;
        }
        ssize_t sent = send(client->fd, bytes, len, flags);
        if (sent < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            int error = errno;
            set_last_error(client, "write: %s", strerror(error));
            return is_disconnect(error) ? SP_ERR_CLOSED : SP_ERR_IO;
        }
        bytes += sent;
        len -= (size_t)sent;
    }
    return SP_OK;
}

/* Reads exactly len bytes. *got says how many arrived before a failure.
 * End of stream is SP_ERR_CLOSED. Does not close the connection itself. */
static int read_exact(sp_client *client, uint8_t *bytes, size_t len, int64_t deadline, size_t *got)
{
    *got = 0;
    if (client->tls != NULL) {
        /* Records already decrypted are read before the socket is polled. */
        while (*got < len) {
            size_t want = len - *got;
            ERR_clear_error();
            errno = 0;
            int n = SSL_read(client->tls, bytes + *got, want > INT_MAX ? INT_MAX : (int)want);
            if (n > 0) {
                *got += (size_t)n;
                continue;
            }
            int rc = tls_retry_or_fail(client, n, deadline, "waiting for", 0);
            if (rc != SP_OK)
                return rc;
        }
        return SP_OK;
    }
    int flags = deadline >= 0 ? MSG_DONTWAIT : 0;
    while (*got < len) {
        int rc = wait_ready(client->fd, POLLIN, deadline);
        if (rc != SP_OK) {
            if (rc == SP_ERR_TIMEOUT)
                set_last_error(client, "timed out waiting for the daemon");
            else
                set_last_error(client, "poll: %s", strerror(errno));
            return rc;
        }
        ssize_t n = recv(client->fd, bytes + *got, len - *got, flags);
        if (n == 0) {
            set_last_error(client, "the daemon closed the connection");
            return SP_ERR_CLOSED;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            int error = errno;
            set_last_error(client, "read: %s", strerror(error));
            return is_disconnect(error) ? SP_ERR_CLOSED : SP_ERR_IO;
        }
        *got += (size_t)n;
    }
    return SP_OK;
}

/* Reads one frame. A header over max_frame is refused before any allocation.
 * Any failure closes the connection (the byte stream can no longer be trusted). */
static int read_frame(sp_client *client, uint8_t **body, size_t *len, int64_t deadline, int *too_large)
{
    uint8_t header[4];
    size_t got = 0;
    *body = NULL;
    *len = 0;
    *too_large = 0;
    int rc = read_exact(client, header, sizeof header, deadline, &got);
    if (rc != SP_OK) {
        if (rc == SP_ERR_CLOSED && got > 0)
            set_last_error(client,
                     "the daemon closed the connection in the middle of a frame header");
        mark_closed(client);
        return rc;
    }
    uint32_t length = (uint32_t)header[0] << 24 | (uint32_t)header[1] << 16 | (uint32_t)header[2] << 8 |
                      (uint32_t)header[3];
    if ((uint64_t)length > (uint64_t)client->max_frame && client->tls == NULL &&
        (header[0] == 0x15 || header[0] == 0x16) && header[1] == 0x03) {
        /* A TLS record (an alert or a handshake), not a frame: a plain client on a TLS port. */
        set_last_error(client, "the daemon answered in TLS: this port speaks TLS; connect with TLS (--tls-ca, "
                               "or --tls for the system's CAs)");
        client->tls_error = 1;
        mark_closed(client);
        return SP_ERR_IO;
    }
    if ((uint64_t)length > (uint64_t)client->max_frame) {
        set_last_error(client,
                 "the daemon sent a frame of %" PRIu32 " bytes, over this client's limit of %zu bytes",
                 length, client->max_frame);
        *too_large = 1;
        mark_closed(client);
        return SP_ERR_PROTOCOL;
    }
    if (length == 0)
        return SP_OK;
    uint8_t *buffer = malloc(length);
    if (buffer == NULL) {
        set_last_error(client, "out of memory for a %" PRIu32 " byte frame",
                 length);
        mark_closed(client);
        return SP_ERR_NOMEM;
    }
    rc = read_exact(client, buffer, length, deadline, &got);
    if (rc != SP_OK) {
        if (rc == SP_ERR_CLOSED)
            set_last_error(client,
                     "the daemon closed the connection after %zu of %" PRIu32 " frame bytes", got, length);
        free(buffer);
        mark_closed(client);
        return rc;
    }
    *body = buffer;
    *len = length;
    return SP_OK;
}

/* ---- connecting ------------------------------------------------------------- */

static void write_err(char *err, size_t errlen, const char *format, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(err, errlen, format, arguments);
    va_end(arguments);
}

/* connect(2), finishing a connect that a signal interrupted. */
static int connect_fd(int fd, const struct sockaddr *address, socklen_t length)
{
    if (connect(fd, address, length) == 0)
        return 0;
    if (errno != EINTR)
        return -1;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT, .revents = 0 };
        int ready = poll(&pfd, 1, -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return -1;
        int error = 0;
        socklen_t size = sizeof error;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) < 0)
            return -1;
        if (error != 0) {
            errno = error;
            return -1;
        }
        return 0;
    }
}

static void prepare_socket(int fd)
{
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#ifdef SO_NOSIGPIPE
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static sp_client *new_client(int fd)
{
    sp_client *client = calloc(1, sizeof *client);
    if (client == NULL)
        return NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    client->fd = fd;
    client->next_stream_id = 1;
    client->max_frame = SP_DEFAULT_MAX_FRAME;
    client->timeout_ms = SP_DEFAULT_TIMEOUT_MS;
    client->request_seed = splitmix64((uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec) ^
                           splitmix64((uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)client);
    return client;
}

/* What is at path, seen from here: missing, not a socket, not ours to open, or a
 * socket nobody listens on (the words of storectl's Sources/storectl/Unreachable.swift). */
static void socket_problem(const char *path, char *out, size_t size)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        if (errno == EACCES)
            snprintf(out, size, "permission denied looking for the socket %s (a directory on the way is not open to this user)",
                     path);
        else
            snprintf(out, size, "there is no socket at %s", path);
    } else if (!S_ISSOCK(info.st_mode)) {
        snprintf(out, size, "%s exists but is not a socket", path);
    } else if (access(path, W_OK) != 0) {
        snprintf(out, size,
                 "permission denied on the socket %s (run as the daemon's user, root, or a member of the socket's group)",
                 path);
    } else {
        snprintf(out, size, "nothing is listening on the socket %s (a daemon that stopped may have left it behind)", path);
    }
}

sp_client *sp_connect_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un address;
    if (path == NULL || path[0] == '\0') {
        write_err(err, errlen, "no socket path");
        return NULL;
    }
    if (strlen(path) >= sizeof address.sun_path) {
        write_err(err, errlen, "socket path %s is longer than %zu bytes", path, sizeof address.sun_path - 1);
        return NULL;
    }
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        write_err(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    prepare_socket(fd);
    if (connect_fd(fd, (const struct sockaddr *)&address, sizeof address) < 0) {
        char problem[PATH_MAX + 160];
        socket_problem(path, problem, sizeof problem);
        write_err(err, errlen,
                  "cannot reach storeplatformd: %s. Is storeplatformd running? It listens on the socket its --socket "
                  "(or STOREPLATFORM_SOCKET) names; connect to the same path (storeplatform-c --socket PATH, or "
                  "STOREPLATFORM_SOCKET=PATH)",
                  problem);
        close(fd);
        return NULL;
    }
    sp_client *client = new_client(fd);
    if (client == NULL) {
        write_err(err, errlen, "out of memory");
        close(fd);
    }
    return client;
}

/* A connected TCP socket to host:port, or -1 with a message in err. */
static int tcp_connect_fd(const char *host, int port, char *err, size_t errlen)
{
    if (host == NULL || host[0] == '\0') {
        write_err(err, errlen, "no host");
        return -1;
    }
    if (port <= 0 || port > 65535) {
        write_err(err, errlen, "port %d is not between 1 and 65535", port);
        return -1;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *addresses = NULL;
    int gai = getaddrinfo(host, service, &hints, &addresses);
    if (gai != 0) {
        write_err(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int last_error = 0;
    for (struct addrinfo *a = addresses; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            last_error = errno;
            continue;
        }
        prepare_socket(fd);
        if (connect_fd(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        last_error = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(addresses);
    if (fd < 0) {
        write_err(err, errlen,
                  "cannot reach storeplatformd at %s:%d (%s). Is storeplatformd running with --tcp %s:%d? Connect to "
                  "the daemon's address (storeplatform-c --tcp HOST:PORT), or to its Unix socket (--socket PATH, or "
                  "STOREPLATFORM_SOCKET=PATH)",
                  host, port, strerror(last_error), host, port);
        return -1;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* small request/answer frames */
    return fd;
}

sp_client *sp_connect_tcp(const char *host, int port, char *err, size_t errlen)
{
    int fd = tcp_connect_fd(host, port, err, errlen);
    if (fd < 0)
        return NULL;
    sp_client *client = new_client(fd);
    if (client == NULL) {
        write_err(err, errlen, "out of memory");
        close(fd);
    }
    return client;
}

/* The last OpenSSL error as text ("no reason given" when there is none). */
static const char *openssl_reason(char *buffer, size_t size)
{
    unsigned long error = ERR_peek_last_error();
    if (error == 0)
        snprintf(buffer, size, "no reason given");
    else
        ERR_error_string_n(error, buffer, size);
    return buffer;
}

/* Whether a file can be opened for reading; if not, err says why. */
static int readable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        write_err(err, errlen, "cannot read the %s %s: %s", what, path, strerror(errno));
        return 0;
    }
    fclose(file);
    return 1;
}

/* The client context: TLS 1.2+, the daemon verified against ca_file (or the
 * system's CAs), and the client certificate when given. NULL with err set. */
static SSL_CTX *tls_context(const sp_tls_options *tls, char *err, size_t errlen)
{
    char reason[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        write_err(err, errlen, "cannot set up TLS: %s", openssl_reason(reason, sizeof reason));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);
    if (tls->ca_file != NULL) {
        if (!readable("CA file", tls->ca_file, err, errlen))
            goto fail;
        if (SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL) != 1) {
            write_err(err, errlen, "cannot read the CA file %s: not a PEM certificate file (%s)", tls->ca_file,
                      openssl_reason(reason, sizeof reason));
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        write_err(err, errlen, "cannot load the system's CAs: %s; give a CA file with --tls-ca",
                  openssl_reason(reason, sizeof reason));
        goto fail;
    }
    if (tls->cert_file != NULL) {
        if (!readable("client certificate", tls->cert_file, err, errlen) ||
            !readable("client key", tls->key_file, err, errlen))
            goto fail;
        if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
            write_err(err, errlen, "cannot read the client certificate %s: not a PEM certificate file (%s)",
                      tls->cert_file, openssl_reason(reason, sizeof reason));
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
            write_err(err, errlen, "cannot read the client key %s: not an unencrypted PEM key, or not the key of %s (%s)",
                      tls->key_file, tls->cert_file, openssl_reason(reason, sizeof reason));
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            write_err(err, errlen, "the client key %s does not fit the certificate %s", tls->key_file, tls->cert_file);
            goto fail;
        }
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int is_ip_address(const char *name)
{
    unsigned char address[16];
    return inet_pton(AF_INET, name, address) == 1 || inet_pton(AF_INET6, name, address) == 1;
}

sp_client *sp_connect_tls(const char *host, int port, const sp_tls_options *tls, char *err, size_t errlen)
{
    sp_tls_options defaults = SP_TLS_OPTIONS_INIT;
    if (tls == NULL)
        tls = &defaults;
    if ((tls->cert_file == NULL) != (tls->key_file == NULL)) {
        write_err(err, errlen, "a client certificate and its key go together (--tls-cert and --tls-key): give both or neither");
        return NULL;
    }
    const char *name = tls->server_name != NULL && tls->server_name[0] != '\0' ? tls->server_name : host;
    ERR_clear_error();
    SSL_CTX *ctx = tls_context(tls, err, errlen);
    if (ctx == NULL) {
        ERR_clear_error();
        return NULL;
    }
    int fd = tcp_connect_fd(host, port, err, errlen);
    if (fd < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    sp_client *client = new_client(fd);
    if (client == NULL) {
        write_err(err, errlen, "out of memory");
        SSL_CTX_free(ctx);
        close(fd);
        return NULL;
    }
    client->tls_ctx = ctx;
    client->tls_ca_file = tls->ca_file;
    client->peer_failure.error = X509_V_OK;
    char reason[256];
    BIO *bio = NULL;
    client->tls = SSL_new(ctx);
    client->tls_bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                          "storeplatform socket");
    if (client->tls == NULL || client->tls_bio_method == NULL ||
        BIO_meth_set_write(client->tls_bio_method, bio_write) != 1 ||
        BIO_meth_set_read(client->tls_bio_method, bio_read) != 1 ||
        BIO_meth_set_ctrl(client->tls_bio_method, bio_ctrl) != 1 ||
        BIO_meth_set_create(client->tls_bio_method, bio_create) != 1 ||
        BIO_meth_set_destroy(client->tls_bio_method, bio_destroy) != 1 ||
        (bio = BIO_new(client->tls_bio_method)) == NULL) {
        write_err(err, errlen, "cannot set up TLS: %s", openssl_reason(reason, sizeof reason));
        goto fail;
    }
    BIO_set_data(bio, (void *)(intptr_t)fd);
    SSL_set_bio(client->tls, bio, bio); /* the SSL owns the BIO now */
    SSL_set_app_data(client->tls, client);
    if (is_ip_address(name)) {
        /* An address: matched against the certificate's IP entries; never sent as SNI. */
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client->tls), name) != 1) {
            write_err(err, errlen, "cannot check the daemon's certificate for %s", name);
            goto fail;
        }
    } else if (SSL_set_tlsext_host_name(client->tls, name) != 1 || SSL_set1_host(client->tls, name) != 1) {
        write_err(err, errlen, "cannot check the daemon's certificate for the name %s", name);
        goto fail;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        write_err(err, errlen, "fcntl: %s", strerror(errno));
        goto fail;
    }
    int64_t deadline = deadline_after(tls->handshake_timeout_ms != 0 ? tls->handshake_timeout_ms : SP_DEFAULT_TIMEOUT_MS);
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int ret = SSL_connect(client->tls);
        if (ret == 1)
            break;
        int rc = tls_retry_or_fail(client, ret, deadline, "in the TLS handshake with", 1);
        if (rc == SP_OK)
            continue;
        if (rc == SP_ERR_CLOSED)
            write_err(err, errlen, "the daemon at %s:%d closed the connection during the TLS handshake: this port may not "
                                   "speak TLS; connect without the --tls options, or check the port", host, port);
        else
            write_err(err, errlen, "TLS handshake with %s:%d: %s", host, port, client->last_error);
        goto fail;
    }
    client->tls_ca_file = NULL; /* the caller's string: not kept past the call */
    client->last_error[0] = '\0';
    client->tls_error = 0;
    return client;
fail:
    client->tls_broken = 1;
    sp_close(client);
    return NULL;
}

int sp_is_tls(const sp_client *client)
{
    return client != NULL && client->tls != NULL;
}

int sp_set_token(sp_client *client, const char *token)
{
    if (client == NULL)
        return SP_ERR_INVALID;
    char *copy = NULL;
    if (token != NULL && token[0] != '\0') {
        copy = malloc(strlen(token) + 1);
        if (copy == NULL)
            return SP_ERR_NOMEM;
        memcpy(copy, token, strlen(token) + 1);
    }
    free(client->token);
    client->token = copy;
    return SP_OK;
}

void sp_set_max_frame(sp_client *client, size_t max_frame)
{
    if (client != NULL)
        client->max_frame = max_frame == 0 ? SP_DEFAULT_MAX_FRAME : max_frame;
}

void sp_set_timeout(sp_client *client, uint32_t timeout_ms)
{
    if (client != NULL)
        client->timeout_ms = timeout_ms;
}

int sp_is_closed(const sp_client *client)
{
    return client == NULL || client->fd < 0;
}

const char *sp_last_error(const sp_client *client)
{
    return client == NULL ? "no client" : client->last_error;
}

void sp_close(sp_client *client)
{
    if (client == NULL)
        return;
    mark_closed(client);
    free(client->token);
    free(client);
}

/* ---- raw frames ---------------------------------------------------------------- */

int sp_send_raw(sp_client *client, const void *bytes, size_t len)
{
    if (client == NULL || (bytes == NULL && len > 0))
        return SP_ERR_INVALID;
    if (client->fd < 0) {
        set_last_error(client, "the connection is closed");
        return SP_ERR_CLOSED;
    }
    int rc = write_all(client, bytes, len, deadline_after(client->timeout_ms));
    if (rc != SP_OK)
        mark_closed(client);
    return rc;
}

int sp_read_frame(sp_client *client, uint8_t **body, size_t *len)
{
    if (client == NULL || body == NULL || len == NULL)
        return SP_ERR_INVALID;
    *body = NULL;
    *len = 0;
    if (client->fd < 0) {
        set_last_error(client, "the connection is closed");
        return SP_ERR_CLOSED;
    }
    int too_large = 0;
    return read_frame(client, body, len, deadline_after(client->timeout_ms), &too_large);
}

int sp_shutdown_write(sp_client *client)
{
    if (client == NULL)
        return SP_ERR_INVALID;
    if (client->fd < 0)
        return SP_ERR_CLOSED;
    if (client->tls != NULL) {
        /* close_notify first, so that the daemon sees the end of the TLS stream. */
        ERR_clear_error();
        if (SSL_shutdown(client->tls) < 0 && SSL_get_error(client->tls, -1) != SSL_ERROR_WANT_WRITE) {
            client->tls_broken = 1;
            ERR_clear_error();
        }
    }
    if (shutdown(client->fd, SHUT_WR) < 0) {
        set_last_error(client, "shutdown: %s", strerror(errno));
        return SP_ERR_IO;
    }
    return SP_OK;
}

/* ---- calls ------------------------------------------------------------------ */

/* Serialises env as one frame (4-byte big-endian length + bytes) into a malloc'd buffer. */
static int pack_frame(const Storeplatform__V1__Envelope *env, uint8_t **frame, size_t *frame_len)
{
    size_t size = storeplatform__v1__envelope__get_packed_size(env);
    if ((uint64_t)size > UINT32_MAX)
        return SP_ERR_INVALID;
    uint8_t *buffer = malloc(size + 4);
    if (buffer == NULL)
        return SP_ERR_NOMEM;
    buffer[0] = (uint8_t)(size >> 24);
    buffer[1] = (uint8_t)(size >> 16);
    buffer[2] = (uint8_t)(size >> 8);
    buffer[3] = (uint8_t)size;
    storeplatform__v1__envelope__pack(env, buffer + 4);
    *frame = buffer;
    *frame_len = size + 4;
    return SP_OK;
}

/* Best effort: asks the daemon to stop the call on stream_id. */
static void send_cancel(sp_client *client, uint32_t stream_id, int64_t deadline)
{
    Storeplatform__V1__Envelope env = STOREPLATFORM__V1__ENVELOPE__INIT;
    env.stream_id = stream_id;
    env.type = STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_CANCEL;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    if (pack_frame(&env, &frame, &frame_len) == SP_OK && write_all(client, frame, frame_len, deadline) != SP_OK)
        mark_closed(client);
    free(frame);
}

static int is_connection_error(const Storeplatform__V1__Envelope *env)
{
    return env->stream_id == 0 && env->type == STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_ERROR;
}

/* Reports a connection-level ERROR frame (stream 0) as the call's status, frees
 * it and closes the connection (the daemon closes it right after). */
static void connection_error(sp_client *client, Storeplatform__V1__Envelope *error, sp_status *status_out,
                             const char *request_id)
{
    const Storeplatform__V1__Status *s = error->status;
    set_status(status_out, s != NULL ? (int)s->code : STOREPLATFORM__V1__CODE__CODE_UNKNOWN,
               s != NULL ? s->error_code : "", s != NULL ? s->message : "", s != NULL ? s->retry_after_ms : 0,
               request_id, 0);
    set_last_error(client, "connection error %s: %s", s != NULL ? s->error_code : "",
                   s != NULL ? s->message : "");
    storeplatform__v1__envelope__free_unpacked(error, NULL);
    mark_closed(client);
}

/* After a write found the connection closed: the ERROR frame (stream 0) the
 * daemon sent before closing, if one is still buffered; else NULL. */
static Storeplatform__V1__Envelope *read_connection_error(sp_client *client)
{
    int64_t deadline = deadline_after(200);
    for (int frames = 0; frames < 64 && client->fd >= 0; frames++) {
        uint8_t *body = NULL;
        size_t len = 0;
        int too_large = 0;
        if (read_frame(client, &body, &len, deadline, &too_large) != SP_OK)
            return NULL;
        Storeplatform__V1__Envelope *env = storeplatform__v1__envelope__unpack(NULL, len, body);
        free(body);
        if (env != NULL && is_connection_error(env))
            return env;
        if (env != NULL)
            storeplatform__v1__envelope__free_unpacked(env, NULL);
    }
    return NULL;
}

static const char *metadata_value(const Storeplatform__V1__Envelope *env, const char *key)
{
    for (size_t i = 0; i < env->n_metadata; i++) {
        const Storeplatform__V1__Envelope__MetadataEntry *entry = env->metadata[i];
        if (entry != NULL && entry->key != NULL && strcmp(entry->key, key) == 0)
            return entry->value;
    }
    return NULL;
}

/* Sends REQUEST(method, request) on the next odd stream id with metadata and
 * timeout_ms; *stream_id_out receives the id, request_id (24 bytes) the id sent.
 * Checks the client first. On failure status_out says why. */
static int send_request(sp_client *client, const char *method, const ProtobufCMessage *request,
                        uint32_t timeout_ms, int64_t deadline, uint32_t *stream_id_out, char *request_id,
                        sp_status *status_out)
{
    request_id[0] = '\0';
    if (client == NULL || method == NULL || method[0] == '\0') {
        local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT,
                      "CLIENT_INVALID_ARGUMENT", NULL, client == NULL ? "no client" : "no method");
        return SP_ERR_INVALID;
    }
    if (client->fd < 0) {
        local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE, "CLIENT_CONNECTION_CLOSED",
                      NULL, "the connection is closed; connect again");
        return SP_ERR_CLOSED;
    }
    if (client->next_stream_id > SP_MAX_STREAM_ID) {
        local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED,
                      "CLIENT_INVALID_ARGUMENT", NULL, "stream ids of this connection are used up; connect again");
        return SP_ERR_INVALID;
    }

    uint32_t stream_id = (uint32_t)client->next_stream_id;
    snprintf(request_id, 24, "c-%016" PRIx64,
             splitmix64(client->request_seed + client->request_counter++));

    /* The request payload. */
    uint8_t *payload = NULL;
    size_t payload_len = request != NULL ? protobuf_c_message_get_packed_size(request) : 0;
    if (payload_len > 0) {
        payload = malloc(payload_len);
        if (payload == NULL) {
            local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED,
                          "CLIENT_OUT_OF_MEMORY", request_id, "out of memory packing the request");
            return SP_ERR_NOMEM;
        }
        protobuf_c_message_pack(request, payload);
    }

    /* Metadata: request-id, and authorization when a token is set. */
    char *authorization = NULL;
    Storeplatform__V1__Envelope__MetadataEntry entries[2] = {
        STOREPLATFORM__V1__ENVELOPE__METADATA_ENTRY__INIT,
        STOREPLATFORM__V1__ENVELOPE__METADATA_ENTRY__INIT,
    };
    Storeplatform__V1__Envelope__MetadataEntry *metadata[2];
    size_t n_metadata = 0;
    entries[n_metadata].key = "request-id";
    entries[n_metadata].value = request_id;
    metadata[n_metadata] = &entries[n_metadata];
    n_metadata++;
    if (client->token != NULL) {
        size_t size = strlen("Bearer ") + strlen(client->token) + 1;
        authorization = malloc(size);
        if (authorization == NULL) {
            free(payload);
            local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED,
                          "CLIENT_OUT_OF_MEMORY", request_id, "out of memory building metadata");
            return SP_ERR_NOMEM;
        }
        snprintf(authorization, size, "Bearer %s", client->token);
        entries[n_metadata].key = "authorization";
        entries[n_metadata].value = authorization;
        metadata[n_metadata] = &entries[n_metadata];
        n_metadata++;
    }

    Storeplatform__V1__Envelope env = STOREPLATFORM__V1__ENVELOPE__INIT;
    env.stream_id = stream_id;
    env.type = STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_REQUEST;
    env.method = (char *)method;
    env.payload.data = payload;
    env.payload.len = payload_len;
    env.n_metadata = n_metadata;
    env.metadata = metadata;
    env.timeout_ms = timeout_ms;

    uint8_t *frame = NULL;
    size_t frame_len = 0;
    int rc = pack_frame(&env, &frame, &frame_len);
    free(payload);
    free(authorization);
    if (rc != SP_OK) {
        local_failure(client, status_out,
                      rc == SP_ERR_NOMEM ? STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED
                                         : STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT,
                      rc == SP_ERR_NOMEM ? "CLIENT_OUT_OF_MEMORY" : "CLIENT_INVALID_ARGUMENT", request_id,
                      rc == SP_ERR_NOMEM ? "out of memory packing the request" : "the request is too large");
        return rc;
    }

    client->next_stream_id += 2;
    rc = write_all(client, frame, frame_len, deadline);
    free(frame);
    char reason[sizeof client->last_error];
    memcpy(reason, client->last_error, sizeof reason);
    if (rc == SP_ERR_CLOSED) {
        /* The daemon may have said why before closing (too many connections,
         * shutting down): an ERROR frame can still be waiting to be read. */
        client->tls_error = 0;
        Storeplatform__V1__Envelope *error = read_connection_error(client);
        if (error != NULL) {
            connection_error(client, error, status_out, request_id);
            return SP_ERR_CLOSED;
        }
        /* Or a TLS alert: why the daemon refused this connection (its client certificate). */
        if (client->tls_error) {
            memcpy(reason, client->last_error, sizeof reason);
            rc = SP_ERR_IO;
        }
    }
    if (rc != SP_OK) {
        mark_closed(client);
        local_failure(client, status_out,
                      rc == SP_ERR_TIMEOUT ? STOREPLATFORM__V1__CODE__CODE_DEADLINE_EXCEEDED
                                           : STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE,
                      rc == SP_ERR_TIMEOUT ? "CLIENT_TIMEOUT"
                      : rc == SP_ERR_CLOSED ? "CLIENT_CONNECTION_CLOSED"
                                            : "CLIENT_IO_ERROR",
                      request_id, "sending %s: %s", method, reason);
        return rc;
    }

    *stream_id_out = stream_id;
    return SP_OK;
}

int sp_call(sp_client *client, const char *method, const ProtobufCMessage *request,
            const ProtobufCMessageDescriptor *response_type, uint32_t timeout_ms,
            ProtobufCMessage **response_out, sp_status *status_out)
{
    if (response_out != NULL)
        *response_out = NULL;
    uint32_t stream_id = 0;
    char request_id[24];
    int64_t deadline = timeout_ms == 0 ? -1 : deadline_after((uint64_t)timeout_ms + SP_LOCAL_GRACE_MS);
    int rc = send_request(client, method, request, timeout_ms, deadline, &stream_id, request_id, status_out);
    if (rc != SP_OK)
        return rc;
    char doing[256];

    int not_unary = 0;
    for (;;) {
        uint8_t *body = NULL;
        size_t body_len = 0;
        int too_large = 0;
        rc = read_frame(client, &body, &body_len, deadline, &too_large);
        if (rc != SP_OK) {
            snprintf(doing, sizeof doing, "awaiting %s", method);
            return read_failure(client, rc, too_large, request_id, status_out, doing);
        }
        Storeplatform__V1__Envelope *answer = storeplatform__v1__envelope__unpack(NULL, body_len, body);
        free(body);
        if (answer == NULL) {
            mark_closed(client);
            local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INTERNAL, "CLIENT_MALFORMED_ENVELOPE",
                          request_id, "awaiting %s: the daemon sent a frame that is not an Envelope", method);
            return SP_ERR_PROTOCOL;
        }

        if (is_connection_error(answer)) {
            connection_error(client, answer, status_out, request_id);
            return SP_ERR_CLOSED;
        }
        if (answer->stream_id != stream_id) {
            storeplatform__v1__envelope__free_unpacked(answer, NULL);
            continue; /* another call's frame (or a stray): not ours */
        }
        if (answer->type == STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_STREAM_MESSAGE) {
            /* A server stream: this unary API cannot deliver it; stop it and
             * wait for its end so that the connection stays in step. */
            if (!not_unary) {
                not_unary = 1;
                send_cancel(client, stream_id, deadline);
                if (client->fd < 0) {
                    storeplatform__v1__envelope__free_unpacked(answer, NULL);
                    local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE,
                                  "CLIENT_CONNECTION_CLOSED", request_id, "cancelling %s: %s", method,
                                  client->last_error);
                    return SP_ERR_CLOSED;
                }
            }
            storeplatform__v1__envelope__free_unpacked(answer, NULL);
            continue;
        }
        if (answer->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_RESPONSE &&
            answer->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_STREAM_END &&
            answer->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_ERROR) {
            storeplatform__v1__envelope__free_unpacked(answer, NULL);
            continue; /* not an answer type; ignore it */
        }

        /* The answer. An absent status is the default one: OK. */
        const Storeplatform__V1__Status *s = answer->status;
        int code = s != NULL ? (int)s->code : STOREPLATFORM__V1__CODE__CODE_OK;
        const char *echoed = metadata_value(answer, "request-id");
        const char *id = echoed != NULL && echoed[0] != '\0' ? echoed : request_id;
        if (not_unary) {
            storeplatform__v1__envelope__free_unpacked(answer, NULL);
            local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT, "CLIENT_NOT_UNARY",
                          id, "%s is a server stream; sp_call handles unary methods only", method);
            return SP_ERR_INVALID;
        }
        if (code != STOREPLATFORM__V1__CODE__CODE_OK) {
            set_status(status_out, code, s->error_code, s->message, s->retry_after_ms, id, 0);
            set_last_error(client, "%s: %s", s->error_code, s->message);
            storeplatform__v1__envelope__free_unpacked(answer, NULL);
            return SP_ERR_STATUS;
        }
        if (response_type != NULL && response_out != NULL) {
            ProtobufCMessage *response =
                protobuf_c_message_unpack(response_type, NULL, answer->payload.len, answer->payload.data);
            if (response == NULL) {
                local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INTERNAL, "CLIENT_BAD_RESPONSE",
                              id, "the answer to %s does not parse as %s", method, response_type->name);
                storeplatform__v1__envelope__free_unpacked(answer, NULL);
                return SP_ERR_PROTOCOL;
            }
            *response_out = response;
        }
        set_status(status_out, STOREPLATFORM__V1__CODE__CODE_OK, "", "", 0, id, 0);
        client->last_error[0] = '\0';
        storeplatform__v1__envelope__free_unpacked(answer, NULL);
        return SP_OK;
    }
}

/* ---- convenience wrappers --------------------------------------------------------- */

/* sp_call with the client's timeout; *out receives the typed response. */
#define SP_CALL_TYPED(type, client, method, request, descriptor, out, status)                                  \
    do {                                                                                                     \
        ProtobufCMessage *response = NULL;                                                                   \
        int rc = sp_call((client), (method), &(request).base, &(descriptor),                                 \
                         (client) != NULL ? (client)->timeout_ms : 0, (out) != NULL ? &response : NULL,       \
                         (status));                                                                          \
        if ((out) != NULL)                                                                                   \
            *(out) = (type *)response;                                                                       \
        return rc;                                                                                           \
    } while (0)

int sp_health(sp_client *client, Storeplatform__V1__HealthResponse **out, sp_status *status)
{
    Storeplatform__V1__HealthRequest request = STOREPLATFORM__V1__HEALTH_REQUEST__INIT;
    SP_CALL_TYPED(Storeplatform__V1__HealthResponse, client, SP_METHOD_HEALTH, request,
                  storeplatform__v1__health_response__descriptor, out, status);
}

int sp_create_store(sp_client *client, const char *name, const char *engine,
                    Storeplatform__V1__CreateStoreResponse **out, sp_status *status)
{
    Storeplatform__V1__CreateStoreRequest request = STOREPLATFORM__V1__CREATE_STORE_REQUEST__INIT;
    if (name != NULL)
        request.name = (char *)name;
    if (engine != NULL)
        request.engine = (char *)engine;
    SP_CALL_TYPED(Storeplatform__V1__CreateStoreResponse, client, SP_METHOD_CREATE_STORE, request,
                  storeplatform__v1__create_store_response__descriptor, out, status);
}

/* GetStore by id or (id NULL) by name. */
static int get_store(sp_client *client, const char *id, const char *name, Storeplatform__V1__GetStoreResponse **out,
                     sp_status *status)
{
    Storeplatform__V1__GetStoreRequest request = STOREPLATFORM__V1__GET_STORE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    if (name != NULL)
        request.name = (char *)name;
    SP_CALL_TYPED(Storeplatform__V1__GetStoreResponse, client, SP_METHOD_GET_STORE, request,
                  storeplatform__v1__get_store_response__descriptor, out, status);
}

int sp_get_store(sp_client *client, const char *id, Storeplatform__V1__GetStoreResponse **out, sp_status *status)
{
    return get_store(client, id, NULL, out, status);
}

int sp_get_store_by_name(sp_client *client, const char *name, Storeplatform__V1__GetStoreResponse **out,
                         sp_status *status)
{
    return get_store(client, NULL, name, out, status);
}

int sp_list_stores(sp_client *client, uint32_t page_size, const char *page_token,
                   Storeplatform__V1__ListStoresResponse **out, sp_status *status)
{
    Storeplatform__V1__ListStoresRequest request = STOREPLATFORM__V1__LIST_STORES_REQUEST__INIT;
    request.page_size = page_size;
    if (page_token != NULL)
        request.page_token = (char *)page_token;
    SP_CALL_TYPED(Storeplatform__V1__ListStoresResponse, client, SP_METHOD_LIST_STORES, request,
                  storeplatform__v1__list_stores_response__descriptor, out, status);
}

int sp_delete_store(sp_client *client, const char *id, Storeplatform__V1__DeleteStoreResponse **out,
                    sp_status *status)
{
    Storeplatform__V1__DeleteStoreRequest request = STOREPLATFORM__V1__DELETE_STORE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    SP_CALL_TYPED(Storeplatform__V1__DeleteStoreResponse, client, SP_METHOD_DELETE_STORE, request,
                  storeplatform__v1__delete_store_response__descriptor, out, status);
}

int sp_retry_store(sp_client *client, const char *id, Storeplatform__V1__RetryStoreResponse **out,
                   sp_status *status)
{
    Storeplatform__V1__RetryStoreRequest request = STOREPLATFORM__V1__RETRY_STORE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    SP_CALL_TYPED(Storeplatform__V1__RetryStoreResponse, client, SP_METHOD_RETRY_STORE, request,
                  storeplatform__v1__retry_store_response__descriptor, out, status);
}

int sp_list_engine_versions(sp_client *client, Storeplatform__V1__ListEngineVersionsResponse **out, sp_status *status)
{
    Storeplatform__V1__ListEngineVersionsRequest request = STOREPLATFORM__V1__LIST_ENGINE_VERSIONS_REQUEST__INIT;
    SP_CALL_TYPED(Storeplatform__V1__ListEngineVersionsResponse, client, SP_METHOD_LIST_ENGINE_VERSIONS, request,
                  storeplatform__v1__list_engine_versions_response__descriptor, out, status);
}

/* ListStoreRevisions by id or (id NULL) by name. */
static int list_store_revisions(sp_client *client, const char *id, const char *name,
                                Storeplatform__V1__ListStoreRevisionsResponse **out, sp_status *status)
{
    Storeplatform__V1__ListStoreRevisionsRequest request = STOREPLATFORM__V1__LIST_STORE_REVISIONS_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    if (name != NULL)
        request.name = (char *)name;
    SP_CALL_TYPED(Storeplatform__V1__ListStoreRevisionsResponse, client, SP_METHOD_LIST_STORE_REVISIONS, request,
                  storeplatform__v1__list_store_revisions_response__descriptor, out, status);
}

int sp_list_store_revisions(sp_client *client, const char *id, Storeplatform__V1__ListStoreRevisionsResponse **out,
                            sp_status *status)
{
    return list_store_revisions(client, id, NULL, out, status);
}

int sp_list_store_revisions_by_name(sp_client *client, const char *name,
                                    Storeplatform__V1__ListStoreRevisionsResponse **out, sp_status *status)
{
    return list_store_revisions(client, NULL, name, out, status);
}

/* UpgradeStore by id or (id NULL) by name. */
static int upgrade_store(sp_client *client, const char *id, const char *name, const char *version,
                         Storeplatform__V1__UpgradeStoreResponse **out, sp_status *status)
{
    Storeplatform__V1__UpgradeStoreRequest request = STOREPLATFORM__V1__UPGRADE_STORE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    if (name != NULL)
        request.name = (char *)name;
    if (version != NULL)
        request.version = (char *)version;
    SP_CALL_TYPED(Storeplatform__V1__UpgradeStoreResponse, client, SP_METHOD_UPGRADE_STORE, request,
                  storeplatform__v1__upgrade_store_response__descriptor, out, status);
}

int sp_upgrade_store(sp_client *client, const char *id, const char *version,
                     Storeplatform__V1__UpgradeStoreResponse **out, sp_status *status)
{
    return upgrade_store(client, id, NULL, version, out, status);
}

int sp_upgrade_store_by_name(sp_client *client, const char *name, const char *version,
                             Storeplatform__V1__UpgradeStoreResponse **out, sp_status *status)
{
    return upgrade_store(client, NULL, name, version, out, status);
}

/* RollbackStore by id or (id NULL) by name. */
static int rollback_store(sp_client *client, const char *id, const char *name, uint32_t revision,
                          Storeplatform__V1__RollbackStoreResponse **out, sp_status *status)
{
    Storeplatform__V1__RollbackStoreRequest request = STOREPLATFORM__V1__ROLLBACK_STORE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    if (name != NULL)
        request.name = (char *)name;
    request.revision = revision;
    SP_CALL_TYPED(Storeplatform__V1__RollbackStoreResponse, client, SP_METHOD_ROLLBACK_STORE, request,
                  storeplatform__v1__rollback_store_response__descriptor, out, status);
}

int sp_rollback_store(sp_client *client, const char *id, uint32_t revision,
                      Storeplatform__V1__RollbackStoreResponse **out, sp_status *status)
{
    return rollback_store(client, id, NULL, revision, out, status);
}

int sp_rollback_store_by_name(sp_client *client, const char *name, uint32_t revision,
                              Storeplatform__V1__RollbackStoreResponse **out, sp_status *status)
{
    return rollback_store(client, NULL, name, revision, out, status);
}

/* ---- fleet upgrades ---------------------------------------------------------------- */

int sp_upgrade_fleet(sp_client *client, const char *version, const sp_fleet_options *options,
                     Storeplatform__V1__UpgradeFleetResponse **out, sp_status *status)
{
    Storeplatform__V1__UpgradeFleetRequest request = STOREPLATFORM__V1__UPGRADE_FLEET_REQUEST__INIT;
    Storeplatform__V1__FleetSelector selector = STOREPLATFORM__V1__FLEET_SELECTOR__INIT;
    if (version != NULL)
        request.version = (char *)version;
    if (options != NULL) {
        /* Packing only reads these; the generated struct has no const. */
        selector.names = (char **)options->names;
        selector.n_names = options->names != NULL ? options->n_names : 0;
        selector.statuses = (Storeplatform__V1__StoreStatus *)options->statuses;
        selector.n_statuses = options->statuses != NULL ? options->n_statuses : 0;
        request.wave_size = options->wave_size;
        request.max_unavailable = options->max_unavailable;
        request.failure_budget = options->failure_budget;
    }
    request.selector = &selector;
    SP_CALL_TYPED(Storeplatform__V1__UpgradeFleetResponse, client, SP_METHOD_UPGRADE_FLEET, request,
                  storeplatform__v1__upgrade_fleet_response__descriptor, out, status);
}

int sp_get_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__GetFleetUpgradeResponse **out,
                         sp_status *status)
{
    Storeplatform__V1__GetFleetUpgradeRequest request = STOREPLATFORM__V1__GET_FLEET_UPGRADE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    SP_CALL_TYPED(Storeplatform__V1__GetFleetUpgradeResponse, client, SP_METHOD_GET_FLEET_UPGRADE, request,
                  storeplatform__v1__get_fleet_upgrade_response__descriptor, out, status);
}

int sp_list_fleet_upgrades(sp_client *client, uint32_t limit, Storeplatform__V1__ListFleetUpgradesResponse **out,
                           sp_status *status)
{
    Storeplatform__V1__ListFleetUpgradesRequest request = STOREPLATFORM__V1__LIST_FLEET_UPGRADES_REQUEST__INIT;
    request.limit = limit;
    SP_CALL_TYPED(Storeplatform__V1__ListFleetUpgradesResponse, client, SP_METHOD_LIST_FLEET_UPGRADES, request,
                  storeplatform__v1__list_fleet_upgrades_response__descriptor, out, status);
}

/* PauseFleetUpgrade, ResumeFleetUpgrade or CancelFleetUpgrade (method) of id. */
static int change_fleet_upgrade(sp_client *client, const char *method, const char *id,
                                Storeplatform__V1__ChangeFleetUpgradeResponse **out, sp_status *status)
{
    Storeplatform__V1__ChangeFleetUpgradeRequest request = STOREPLATFORM__V1__CHANGE_FLEET_UPGRADE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    SP_CALL_TYPED(Storeplatform__V1__ChangeFleetUpgradeResponse, client, method, request,
                  storeplatform__v1__change_fleet_upgrade_response__descriptor, out, status);
}

int sp_pause_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__ChangeFleetUpgradeResponse **out,
                           sp_status *status)
{
    return change_fleet_upgrade(client, SP_METHOD_PAUSE_FLEET_UPGRADE, id, out, status);
}

int sp_resume_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__ChangeFleetUpgradeResponse **out,
                            sp_status *status)
{
    return change_fleet_upgrade(client, SP_METHOD_RESUME_FLEET_UPGRADE, id, out, status);
}

int sp_cancel_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__ChangeFleetUpgradeResponse **out,
                            sp_status *status)
{
    return change_fleet_upgrade(client, SP_METHOD_CANCEL_FLEET_UPGRADE, id, out, status);
}

/* ---- server streams --------------------------------------------------------------- */

/* Takes one stream message, unpacked as the stream's message type: frees it or
 * keeps it. Returns non-zero to stop the stream. */
typedef int (*stream_message_fn)(ProtobufCMessage *message, void *context);

/* One server-streaming call: sends REQUEST(method, request) with timeout_ms (0: no
 * deadline; the client then waits as long as the stream runs), then hands each
 * STREAM_MESSAGE, unpacked as message_type, to on_message until the daemon ends the
 * stream or on_message asks to stop (*stopped = 1: CANCEL is sent, and what still
 * comes before the end is dropped). doing names the call in local failures
 * ("watching stores"). Returns SP_OK when the stream ended with OK or was stopped,
 * SP_ERR_STATUS with the daemon's status, or a local failure. */
static int run_stream(sp_client *client, const char *method, const ProtobufCMessage *request, uint32_t timeout_ms,
                      const ProtobufCMessageDescriptor *message_type, stream_message_fn on_message, void *context,
                      int *stopped, const char *doing, sp_status *status_out)
{
    uint32_t stream_id = 0;
    char request_id[24];
    int64_t deadline = timeout_ms == 0 ? -1 : deadline_after((uint64_t)timeout_ms + SP_LOCAL_GRACE_MS);
    int rc = send_request(client, method, request, timeout_ms, deadline, &stream_id, request_id, status_out);
    if (rc != SP_OK)
        return rc;
    for (;;) {
        uint8_t *body = NULL;
        size_t body_len = 0;
        int too_large = 0;
        rc = read_frame(client, &body, &body_len, deadline, &too_large);
        if (rc != SP_OK)
            return read_failure(client, rc, too_large, request_id, status_out, doing);
        Storeplatform__V1__Envelope *frame = storeplatform__v1__envelope__unpack(NULL, body_len, body);
        free(body);
        if (frame == NULL) {
            mark_closed(client);
            local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INTERNAL, "CLIENT_MALFORMED_ENVELOPE",
                          request_id, "%s: the daemon sent a frame that is not an Envelope", doing);
            return SP_ERR_PROTOCOL;
        }
        if (is_connection_error(frame)) {
            connection_error(client, frame, status_out, request_id);
            return SP_ERR_CLOSED;
        }
        if (frame->stream_id != stream_id) {
            storeplatform__v1__envelope__free_unpacked(frame, NULL);
            continue;
        }
        if (frame->type == STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_STREAM_MESSAGE) {
            if (*stopped) {
                /* Cancelled: what still comes before the end is not delivered. */
                storeplatform__v1__envelope__free_unpacked(frame, NULL);
                continue;
            }
            ProtobufCMessage *message =
                protobuf_c_message_unpack(message_type, NULL, frame->payload.len, frame->payload.data);
            storeplatform__v1__envelope__free_unpacked(frame, NULL);
            if (message == NULL) {
                mark_closed(client);
                local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INTERNAL, "CLIENT_BAD_RESPONSE",
                              request_id, "%s: a stream message does not parse as %s", doing, message_type->short_name);
                return SP_ERR_PROTOCOL;
            }
            if (on_message(message, context)) {
                *stopped = 1;
                send_cancel(client, stream_id, deadline_after(SP_LOCAL_GRACE_MS));
                if (client->fd < 0) {
                    local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE,
                                  "CLIENT_CONNECTION_CLOSED", request_id, "cancelling %s: %s", method,
                                  client->last_error);
                    return SP_ERR_CLOSED;
                }
            }
            continue;
        }
        if (frame->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_STREAM_END &&
            frame->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_RESPONSE &&
            frame->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_ERROR) {
            storeplatform__v1__envelope__free_unpacked(frame, NULL);
            continue;
        }
        /* The end of the stream. */
        const Storeplatform__V1__Status *s = frame->status;
        int code = s != NULL ? (int)s->code : STOREPLATFORM__V1__CODE__CODE_OK;
        const char *echoed = metadata_value(frame, "request-id");
        const char *id = echoed != NULL && echoed[0] != '\0' ? echoed : request_id;
        if (*stopped || code == STOREPLATFORM__V1__CODE__CODE_OK) {
            set_status(status_out, STOREPLATFORM__V1__CODE__CODE_OK, "", "", 0, id, 0);
            client->last_error[0] = '\0';
            storeplatform__v1__envelope__free_unpacked(frame, NULL);
            return SP_OK;
        }
        set_status(status_out, code, s->error_code, s->message, s->retry_after_ms, id, 0);
        set_last_error(client, "%s: %s", s->error_code, s->message);
        storeplatform__v1__envelope__free_unpacked(frame, NULL);
        return SP_ERR_STATUS;
    }
}

/* ---- WatchStores (a server stream) ------------------------------------------------- */

/* Hands a StoreEvent to the watch's callback and records its audit id. */
static int deliver_store_event(ProtobufCMessage *message, void *context)
{
    sp_watch *watch = context;
    Storeplatform__V1__StoreEvent *event = (Storeplatform__V1__StoreEvent *)message;
    int stop = watch->on_event != NULL ? watch->on_event(event, watch->context) : 0;
    if (event->audit_id > 0)
        watch->last_audit_id = event->audit_id;
    storeplatform__v1__store_event__free_unpacked(event, NULL);
    return stop;
}

/* One WatchStores call, from after_audit_id, until the daemon ends it or the
 * callback asks to stop (*stopped = 1). Updates watch->last_audit_id as events
 * arrive. Returns SP_OK when the stream ended with OK or was stopped,
 * SP_ERR_STATUS with the daemon's status (WATCH_FELL_BEHIND among them), or a
 * local failure. */
static int watch_once(sp_client *client, sp_watch *watch, int64_t after_audit_id, int *stopped,
                      sp_status *status_out)
{
    Storeplatform__V1__WatchStoresRequest request = STOREPLATFORM__V1__WATCH_STORES_REQUEST__INIT;
    request.store_id = (char *)(watch->store_id != NULL ? watch->store_id : "");
    request.after_audit_id = after_audit_id;
    /* No deadline: a watch runs until it is stopped. */
    return run_stream(client, SP_METHOD_WATCH_STORES, &request.base, 0, &storeplatform__v1__store_event__descriptor,
                      deliver_store_event, watch, stopped, "watching stores", status_out);
}

int sp_watch_stores(sp_client *client, sp_watch *watch, sp_status *status_out)
{
    if (watch == NULL || watch->after_audit_id < 0) {
        local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT, "CLIENT_INVALID_ARGUMENT",
                      NULL, watch == NULL ? "no watch" : "after_audit_id must not be negative");
        return SP_ERR_INVALID;
    }
    /* The outcome is needed to tell WATCH_FELL_BEHIND even when the caller wants none. */
    sp_status own = SP_STATUS_INIT;
    sp_status *status = status_out != NULL ? status_out : &own;
    watch->last_audit_id = watch->after_audit_id;
    watch->resumes = 0;
    int stopped = 0;
    int rc;
    for (;;) {
        int64_t from = watch->last_audit_id;
        rc = watch_once(client, watch, from, &stopped, status);
        if (rc != SP_ERR_STATUS || status->error_code == NULL || strcmp(status->error_code, "WATCH_FELL_BEHIND") != 0)
            break;
        /* The daemon ended the stream after the last event it sent (the last one
         * delivered here) and kept the rest in its audit log: go on from there. */
        watch->resumes++;
        if (watch->on_resume != NULL && watch->on_resume(watch->last_audit_id, watch->context) != 0)
            break;
        if (watch->last_audit_id == from) {
            /* Nothing came this time (the daemon could not read its log): not at once again. */
            struct timespec pause = { 1, 0 };
            nanosleep(&pause, NULL);
        }
    }
    sp_status_clear(&own);
    return rc;
}

/* ---- WatchFleetUpgrade (a server stream) ------------------------------------------- */

typedef struct fleet_watch_state {
    sp_fleet_watch *watch;
    Storeplatform__V1__FleetUpgrade *last; /* NULL until one arrived */
} fleet_watch_state;

/* Hands a fleet upgrade to the watch's callback and keeps it as the last one. */
static int deliver_fleet_upgrade(ProtobufCMessage *message, void *context)
{
    fleet_watch_state *state = context;
    Storeplatform__V1__FleetUpgrade *fleet = (Storeplatform__V1__FleetUpgrade *)message;
    sp_fleet_watch *watch = state->watch;
    watch->updates++;
    int stop = watch->on_update != NULL ? watch->on_update(fleet, watch->context) : 0;
    if (state->last != NULL)
        storeplatform__v1__fleet_upgrade__free_unpacked(state->last, NULL);
    state->last = fleet;
    return stop;
}

int sp_watch_fleet_upgrade(sp_client *client, sp_fleet_watch *watch, Storeplatform__V1__FleetUpgrade **last_out,
                           sp_status *status_out)
{
    if (last_out != NULL)
        *last_out = NULL;
    if (watch == NULL) {
        local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT, "CLIENT_INVALID_ARGUMENT",
                      NULL, "no watch");
        return SP_ERR_INVALID;
    }
    watch->updates = 0;
    Storeplatform__V1__WatchFleetUpgradeRequest request = STOREPLATFORM__V1__WATCH_FLEET_UPGRADE_REQUEST__INIT;
    request.id = (char *)(watch->id != NULL ? watch->id : "");
    fleet_watch_state state = { watch, NULL };
    int stopped = 0;
    int rc = run_stream(client, SP_METHOD_WATCH_FLEET_UPGRADE, &request.base, watch->timeout_ms,
                        &storeplatform__v1__fleet_upgrade__descriptor, deliver_fleet_upgrade, &state, &stopped,
                        "watching the fleet upgrade", status_out);
    if (last_out != NULL)
        *last_out = state.last;
    else if (state.last != NULL)
        storeplatform__v1__fleet_upgrade__free_unpacked(state.last, NULL);
    return rc;
}
