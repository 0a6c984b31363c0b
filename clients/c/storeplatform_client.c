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
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT 0
#endif

#define SP_MAX_STREAM_ID UINT32_MAX

struct sp_client {
    int fd;                  /* -1 once closed */
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

static void mark_closed(sp_client *client)
{
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
        "unspecified", "queued", "provisioning", "ready", "failed", "deleting", "deleted",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0])
        return "unknown";
    return names[status];
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

/* Writes all len bytes (partial writes and EINTR handled). On failure returns
 * SP_ERR_CLOSED, SP_ERR_IO or SP_ERR_TIMEOUT with last_error set; the caller
 * closes the connection. */
static int write_all(sp_client *client, const uint8_t *bytes, size_t len, int64_t deadline)
{
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
    int flags = deadline >= 0 ? MSG_DONTWAIT : 0;
    *got = 0;
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
        write_err(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
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

sp_client *sp_connect_tcp(const char *host, int port, char *err, size_t errlen)
{
    if (host == NULL || host[0] == '\0') {
        write_err(err, errlen, "no host");
        return NULL;
    }
    if (port <= 0 || port > 65535) {
        write_err(err, errlen, "port %d is not between 1 and 65535", port);
        return NULL;
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
        return NULL;
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
        write_err(err, errlen, "cannot connect to %s:%d: %s", host, port, strerror(last_error));
        return NULL;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); /* small request/answer frames */
    sp_client *client = new_client(fd);
    if (client == NULL) {
        write_err(err, errlen, "out of memory");
        close(fd);
    }
    return client;
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
        Storeplatform__V1__Envelope *error = read_connection_error(client);
        if (error != NULL) {
            connection_error(client, error, status_out, request_id);
            return SP_ERR_CLOSED;
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
    char reason[sizeof client->last_error];

    int not_unary = 0;
    for (;;) {
        uint8_t *body = NULL;
        size_t body_len = 0;
        int too_large = 0;
        rc = read_frame(client, &body, &body_len, deadline, &too_large);
        if (rc != SP_OK) {
            memcpy(reason, client->last_error, sizeof reason);
            int code = STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE;
            const char *error_code = "CLIENT_IO_ERROR";
            if (rc == SP_ERR_CLOSED) {
                error_code = "CLIENT_CONNECTION_CLOSED";
            } else if (rc == SP_ERR_TIMEOUT) {
                code = STOREPLATFORM__V1__CODE__CODE_DEADLINE_EXCEEDED;
                error_code = "CLIENT_TIMEOUT";
            } else if (too_large) {
                code = STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED;
                error_code = "CLIENT_FRAME_TOO_LARGE";
            } else if (rc == SP_ERR_NOMEM) {
                code = STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED;
                error_code = "CLIENT_OUT_OF_MEMORY";
            }
            local_failure(client, status_out, code, error_code, request_id, "awaiting %s: %s", method, reason);
            return rc;
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

int sp_get_store(sp_client *client, const char *id, Storeplatform__V1__GetStoreResponse **out, sp_status *status)
{
    Storeplatform__V1__GetStoreRequest request = STOREPLATFORM__V1__GET_STORE_REQUEST__INIT;
    if (id != NULL)
        request.id = (char *)id;
    SP_CALL_TYPED(Storeplatform__V1__GetStoreResponse, client, SP_METHOD_GET_STORE, request,
                  storeplatform__v1__get_store_response__descriptor, out, status);
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

/* ---- WatchStores (a server stream) ------------------------------------------------- */

/* The failure of a read while a watch waits for frames, as a local status. */
static int watch_read_failure(sp_client *client, int rc, int too_large, const char *request_id,
                              sp_status *status_out)
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
    local_failure(client, status_out, code, error_code, request_id, "watching stores: %s", reason);
    return rc;
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
    uint32_t stream_id = 0;
    char request_id[24];
    /* No deadline: a watch runs until it is stopped. */
    int rc = send_request(client, SP_METHOD_WATCH_STORES, &request.base, 0, -1, &stream_id, request_id, status_out);
    if (rc != SP_OK)
        return rc;
    for (;;) {
        uint8_t *body = NULL;
        size_t body_len = 0;
        int too_large = 0;
        rc = read_frame(client, &body, &body_len, -1, &too_large);
        if (rc != SP_OK)
            return watch_read_failure(client, rc, too_large, request_id, status_out);
        Storeplatform__V1__Envelope *frame = storeplatform__v1__envelope__unpack(NULL, body_len, body);
        free(body);
        if (frame == NULL) {
            mark_closed(client);
            local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INTERNAL, "CLIENT_MALFORMED_ENVELOPE",
                          request_id, "watching stores: the daemon sent a frame that is not an Envelope");
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
            Storeplatform__V1__StoreEvent *event =
                storeplatform__v1__store_event__unpack(NULL, frame->payload.len, frame->payload.data);
            storeplatform__v1__envelope__free_unpacked(frame, NULL);
            if (event == NULL) {
                mark_closed(client);
                local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_INTERNAL, "CLIENT_BAD_RESPONSE",
                              request_id, "watching stores: a stream message does not parse as StoreEvent");
                return SP_ERR_PROTOCOL;
            }
            int stop = watch->on_event != NULL ? watch->on_event(event, watch->context) : 0;
            if (event->audit_id > 0)
                watch->last_audit_id = event->audit_id;
            storeplatform__v1__store_event__free_unpacked(event, NULL);
            if (stop) {
                *stopped = 1;
                send_cancel(client, stream_id, deadline_after(SP_LOCAL_GRACE_MS));
                if (client->fd < 0) {
                    local_failure(client, status_out, STOREPLATFORM__V1__CODE__CODE_UNAVAILABLE,
                                  "CLIENT_CONNECTION_CLOSED", request_id, "cancelling the watch: %s",
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
