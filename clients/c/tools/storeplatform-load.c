/*
 * storeplatform-load: a load client for benchmarks (`storeplatform-bench reads`).
 *
 * It speaks the framing of proto/PROTOCOL.md over a Unix socket itself (the
 * library in storeplatform_client.c carries one call at a time; this keeps many
 * calls in flight on one connection) and uses the generated protobuf-c messages
 * for the request payloads and to parse every answer.
 *
 *   storeplatform-load --socket PATH --call health|get-store|list-stores|create-store
 *                      [--store-id ID] [--page-size N]
 *                      [--name-prefix P]                create-store: names P-1, P-2, … (one per call)
 *                      [--calls N]                      latency: N calls one at a time
 *                      [--in-flight K --seconds S]      rate: K calls outstanding for S seconds
 *                      [--pid PID]                      the server whose CPU time to report
 *                      [--tree-pid PID]                 also a process tree's (a PostgreSQL server:
 *                                                       PID, its children, its waited-for children)
 *                      [--echo]                         the server echoes the request back (the floor)
 *
 * Prints one line of key=value pairs: calls, seconds, p50_us, p99_us (latency
 * only), server_cpu_us (utime + stime of PID from /proc/PID/stat over the
 * measured calls), client_cpu_us (this process, getrusage), and with --tree-pid
 * tree_cpu_us.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "storeplatform/v1/envelope.pb-c.h"
#include "storeplatform/v1/platform.pb-c.h"
#include "storeplatform/v1/store.pb-c.h"

#define MAX_FRAME (4u * 1024u * 1024u)

static void die(const char *what) {
    fprintf(stderr, "storeplatform-load: %s\n", what);
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fields 4 (ppid) and 14-17 (utime, stime, cutime, cstime) of /proc/PID/stat. */
static int read_stat(const char *pid, long *ppid, unsigned long long times[4]) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    char text[4096];
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = 0;
    char *close = strrchr(text, ')');
    if (!close) return 0;
    char *cursor = close + 2;
    for (int field = 3; field <= 17 && *cursor; field++) {
        char *end;
        unsigned long long value = strtoull(cursor, &end, 10);
        if (field == 4) *ppid = (long)value;
        if (field >= 14) times[field - 14] = value;
        cursor = strchr(cursor, ' ');
        if (!cursor) break;
        cursor++;
    }
    return 1;
}

/* utime + stime of pid in microseconds; 0 when pid is 0 or unreadable. */
static long long process_cpu_us(long pid) {
    if (pid <= 0) return 0;
    unsigned long long times[4] = {0};
    long ppid = 0;
    char name[32];
    snprintf(name, sizeof name, "%ld", pid);
    if (!read_stat(name, &ppid, times)) return 0;
    return (long long)((times[0] + times[1]) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* CPU of a process tree one level deep, in microseconds: the root's own time and
 * its waited-for children's, plus each running child's own time (a PostgreSQL
 * server: the postmaster and its backends). 0 when pid is 0. */
static long long tree_cpu_us(long pid) {
    if (pid <= 0) return 0;
    unsigned long long ticks = 0, times[4] = {0};
    long ppid = 0;
    char root[32];
    snprintf(root, sizeof root, "%ld", pid);
    if (read_stat(root, &ppid, times)) ticks += times[0] + times[1] + times[2] + times[3];
    DIR *proc = opendir("/proc");
    if (!proc) return 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        if (read_stat(entry->d_name, &ppid, times) && ppid == pid) ticks += times[0] + times[1];
    }
    closedir(proc);
    return (long long)(ticks * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static long long self_cpu_us(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (long long)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec
        + (long long)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
}

/* The envelope of every request except its stream id (field 1), packed once
 * (for create-store, again for each call with the call's own name): a frame is
 * length, the stream id field, then these bytes (protobuf fields may come in any
 * order). */
static uint8_t *envelope_rest;
static size_t envelope_rest_length;
static int echo_mode;

/* create-store: every call creates a store of its own, named PREFIX-N. */
static const char *name_prefix;
static unsigned long name_counter;

static void pack_create_request(void) {
    char name[64];
    uint8_t payload[128];
    snprintf(name, sizeof name, "%s-%lu", name_prefix, ++name_counter);
    Storeplatform__V1__CreateStoreRequest request = STOREPLATFORM__V1__CREATE_STORE_REQUEST__INIT;
    request.name = name;
    size_t payload_length = storeplatform__v1__create_store_request__pack(&request, payload);
    Storeplatform__V1__Envelope envelope = STOREPLATFORM__V1__ENVELOPE__INIT;
    envelope.type = STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_REQUEST;
    envelope.method = "/storeplatform.v1.StoreService/CreateStore";
    envelope.payload.data = payload;
    envelope.payload.len = payload_length;
    envelope_rest_length = storeplatform__v1__envelope__pack(&envelope, envelope_rest);
}

static size_t put_frame(uint8_t *out, uint32_t stream_id) {
    if (name_prefix) pack_create_request();
    uint8_t id[6];
    size_t id_length = 0;
    id[id_length++] = 0x08; /* field 1, varint */
    uint32_t value = stream_id;
    do {
        uint8_t byte = value & 0x7F;
        value >>= 7;
        id[id_length++] = byte | (value ? 0x80 : 0);
    } while (value);
    uint32_t length = (uint32_t)(id_length + envelope_rest_length);
    out[0] = (uint8_t)(length >> 24);
    out[1] = (uint8_t)(length >> 16);
    out[2] = (uint8_t)(length >> 8);
    out[3] = (uint8_t)length;
    memcpy(out + 4, id, id_length);
    memcpy(out + 4 + id_length, envelope_rest, envelope_rest_length);
    return 4 + length;
}

/* Parses one answer; exits on a failed call. Returns its stream id. */
static uint32_t check_answer(const uint8_t *bytes, size_t length) {
    Storeplatform__V1__Envelope *envelope = storeplatform__v1__envelope__unpack(NULL, length, bytes);
    if (!envelope) die("an answer does not parse as an Envelope");
    uint32_t stream_id = envelope->stream_id;
    if (echo_mode) {
        if (envelope->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_REQUEST) die("the echo server answered something else");
    } else {
        if (envelope->type != STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_RESPONSE) die("the daemon answered with a frame that is not a RESPONSE");
        if (envelope->status && envelope->status->code != 0) {
            fprintf(stderr, "storeplatform-load: call failed: %s: %s\n", envelope->status->error_code, envelope->status->message);
            exit(1);
        }
    }
    storeplatform__v1__envelope__free_unpacked(envelope, NULL);
    return stream_id;
}

static void write_all(int fd, const uint8_t *bytes, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            die("write failed");
        }
        bytes += written;
        length -= (size_t)written;
    }
}

/* A read buffer holding partial frames between reads. */
static uint8_t *inbox;
static size_t inbox_used, inbox_capacity;

/* Reads once (blocking) and checks every whole frame in; returns how many. */
static size_t read_answers(int fd, uint32_t *last_stream_id) {
    if (inbox_capacity - inbox_used < 65536) {
        inbox_capacity = inbox_capacity * 2 + 65536;
        inbox = realloc(inbox, inbox_capacity);
        if (!inbox) die("out of memory");
    }
    ssize_t got;
    do {
        got = read(fd, inbox + inbox_used, inbox_capacity - inbox_used);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) die("the server closed the connection");
    inbox_used += (size_t)got;
    size_t offset = 0, answers = 0;
    while (inbox_used - offset >= 4) {
        uint32_t length = ((uint32_t)inbox[offset] << 24) | ((uint32_t)inbox[offset + 1] << 16)
            | ((uint32_t)inbox[offset + 2] << 8) | inbox[offset + 3];
        if (length > MAX_FRAME) die("an answer is longer than 4 MiB");
        if (inbox_used - offset - 4 < length) break;
        *last_stream_id = check_answer(inbox + offset + 4, length);
        offset += 4 + length;
        answers++;
    }
    memmove(inbox, inbox + offset, inbox_used - offset);
    inbox_used -= offset;
    return answers;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *socket_path = NULL, *call = "health", *store_id = "";
    long calls = 0, in_flight = 0, pid = 0, tree_pid = 0;
    double seconds = 3;
    unsigned page_size = 10;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--echo") == 0) { echo_mode = 1; continue; }
        if (!value) die("every option but --echo takes a value; see the comment at the top of storeplatform-load.c");
        i++;
        if (strcmp(arg, "--socket") == 0) socket_path = value;
        else if (strcmp(arg, "--call") == 0) call = value;
        else if (strcmp(arg, "--store-id") == 0) store_id = value;
        else if (strcmp(arg, "--name-prefix") == 0) name_prefix = value;
        else if (strcmp(arg, "--page-size") == 0) page_size = (unsigned)strtoul(value, NULL, 10);
        else if (strcmp(arg, "--calls") == 0) calls = strtol(value, NULL, 10);
        else if (strcmp(arg, "--in-flight") == 0) in_flight = strtol(value, NULL, 10);
        else if (strcmp(arg, "--seconds") == 0) seconds = strtod(value, NULL);
        else if (strcmp(arg, "--pid") == 0) pid = strtol(value, NULL, 10);
        else if (strcmp(arg, "--tree-pid") == 0) tree_pid = strtol(value, NULL, 10);
        else die("unknown option; see the comment at the top of storeplatform-load.c");
    }
    if (!socket_path) die("--socket is required");
    if ((calls > 0) == (in_flight > 0)) die("give either --calls (latency) or --in-flight (rate)");

    /* The request payload. */
    uint8_t payload[256];
    size_t payload_length = 0;
    const char *method;
    if (strcmp(call, "health") == 0) {
        method = "/storeplatform.v1.PlatformService/Health";
    } else if (strcmp(call, "get-store") == 0) {
        method = "/storeplatform.v1.StoreService/GetStore";
        Storeplatform__V1__GetStoreRequest request = STOREPLATFORM__V1__GET_STORE_REQUEST__INIT;
        request.id = (char *)store_id;
        if (storeplatform__v1__get_store_request__get_packed_size(&request) > sizeof payload) die("--store-id is too long");
        payload_length = storeplatform__v1__get_store_request__pack(&request, payload);
    } else if (strcmp(call, "list-stores") == 0) {
        method = "/storeplatform.v1.StoreService/ListStores";
        Storeplatform__V1__ListStoresRequest request = STOREPLATFORM__V1__LIST_STORES_REQUEST__INIT;
        request.page_size = page_size;
        payload_length = storeplatform__v1__list_stores_request__pack(&request, payload);
    } else if (strcmp(call, "create-store") == 0) {
        if (!name_prefix) die("--call create-store needs --name-prefix (store names must be unique: PREFIX-1, PREFIX-2, ...)");
        /* Room for the longest name: the prefix, '-' and 20 digits. */
        if (strlen(name_prefix) > 19) die("--name-prefix is longer than 19 characters (a store name has at most 40)");
        method = "/storeplatform.v1.StoreService/CreateStore";
        Storeplatform__V1__CreateStoreRequest request = STOREPLATFORM__V1__CREATE_STORE_REQUEST__INIT;
        request.name = "x-18446744073709551615";
        payload_length = storeplatform__v1__create_store_request__pack(&request, payload);
    } else {
        die("--call is health, get-store, list-stores or create-store");
    }
    Storeplatform__V1__Envelope envelope = STOREPLATFORM__V1__ENVELOPE__INIT;
    envelope.type = STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_REQUEST;
    envelope.method = (char *)method;
    envelope.payload.data = payload;
    envelope.payload.len = payload_length;
    envelope_rest_length = storeplatform__v1__envelope__get_packed_size(&envelope);
    if (name_prefix) envelope_rest_length += strlen(name_prefix); /* the longest name's envelope */
    envelope_rest = malloc(envelope_rest_length);
    if (!envelope_rest) die("out of memory");
    storeplatform__v1__envelope__pack(&envelope, envelope_rest);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {0};
    address.sun_family = AF_UNIX;
    if (strlen(socket_path) >= sizeof address.sun_path) die("--socket path is too long");
    strcpy(address.sun_path, socket_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("cannot connect to --socket");

    size_t frame_capacity = 4 + 6 + envelope_rest_length;
    uint32_t next_id = 1, last_id = 0;

    if (calls > 0) {
        uint8_t *frame = malloc(frame_capacity);
        double *samples = malloc(sizeof(double) * (size_t)calls);
        if (!frame || !samples) die("out of memory");
        long warm = calls / 10 > 0 ? calls / 10 : 1;
        for (long i = 0; i < warm; i++) {
            write_all(fd, frame, put_frame(frame, next_id));
            next_id += 2;
            while (read_answers(fd, &last_id) == 0) {}
        }
        long long server_before = process_cpu_us(pid), client_before = self_cpu_us(), tree_before = tree_cpu_us(tree_pid);
        double start = now_seconds();
        for (long i = 0; i < calls; i++) {
            double before = now_seconds();
            write_all(fd, frame, put_frame(frame, next_id));
            while (read_answers(fd, &last_id) == 0) {}
            if (last_id != next_id) die("an answer came for another call");
            next_id += 2;
            samples[i] = (now_seconds() - before) * 1e6;
        }
        double elapsed = now_seconds() - start;
        long long server_cpu = process_cpu_us(pid) - server_before, client_cpu = self_cpu_us() - client_before;
        long long tree_cpu = tree_cpu_us(tree_pid) - tree_before;
        qsort(samples, (size_t)calls, sizeof(double), compare_doubles);
        printf("calls=%ld seconds=%.3f p50_us=%.1f p99_us=%.1f server_cpu_us=%lld client_cpu_us=%lld tree_cpu_us=%lld\n",
            calls, elapsed, samples[calls / 2], samples[calls * 99 / 100], server_cpu, client_cpu, tree_cpu);
        return 0;
    }

    /* Rate: keep in_flight calls outstanding; each batch of answers read is
     * replaced by as many new requests, in one write. */
    uint8_t *batch = malloc(frame_capacity * (size_t)in_flight);
    if (!batch) die("out of memory");
    size_t batch_length = 0;
    for (long i = 0; i < in_flight; i++) {
        batch_length += put_frame(batch + batch_length, next_id);
        next_id += 2;
    }
    write_all(fd, batch, batch_length);
    double warm_end = now_seconds() + (seconds / 4 < 0.5 ? seconds / 4 : 0.5);
    long long answered = 0, server_before = 0, client_before = 0, tree_before = 0;
    double start = 0;
    int measuring = 0;
    for (;;) {
        double now = now_seconds();
        if (!measuring && now >= warm_end) {
            measuring = 1;
            answered = 0;
            server_before = process_cpu_us(pid);
            client_before = self_cpu_us();
            tree_before = tree_cpu_us(tree_pid);
            start = now;
        }
        if (measuring && now >= start + seconds) break;
        size_t answers = read_answers(fd, &last_id);
        answered += (long long)answers;
        batch_length = 0;
        for (size_t i = 0; i < answers; i++) {
            batch_length += put_frame(batch + batch_length, next_id);
            next_id += 2;
        }
        if (batch_length > 0) write_all(fd, batch, batch_length);
    }
    double elapsed = now_seconds() - start;
    long long server_cpu = process_cpu_us(pid) - server_before, client_cpu = self_cpu_us() - client_before;
    long long tree_cpu = tree_cpu_us(tree_pid) - tree_before;
    printf("calls=%lld seconds=%.3f server_cpu_us=%lld client_cpu_us=%lld tree_cpu_us=%lld\n", answered, elapsed, server_cpu, client_cpu, tree_cpu);
    return 0;
}
