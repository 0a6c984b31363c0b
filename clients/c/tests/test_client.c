/*
 * test_client: the C client against a running storeplatformd.
 *
 * The daemon is started by the caller (see README.md) and found through:
 *   STOREPLATFORM_TEST_SOCKET  its Unix socket
 *   STOREPLATFORM_TEST_TCP     its TCP listener, host:port
 *   STOREPLATFORM_TEST_TOKEN   the bearer token that listener requires
 *   STOREPLATFORM_TEST_TLS_DIR (optional) the TCP listener speaks TLS with
 *                              optional client certificates: this directory
 *                              holds ca.pem (its CA, also the client CA),
 *                              client.pem/.key ("CN=billing,O=Example"),
 *                              expired.pem/.key, other-ca.pem, other.pem/.key
 *                              (Tests/DaemonTests/TLSTests.swift makes them).
 *                              Then every TCP check runs over TLS, and the TLS
 *                              checks run too.
 *   STOREPLATFORM_TEST_UPGRADE_FAULT
 *                              the fault the daemon's simulator injects into the
 *                              first upgrade of every store: upgrade-error or
 *                              migration-error (its --sim-fault), for the upgrade
 *                              and fleet upgrade checks
 * It should run with --max-live-stores 3, high --requests-per-minute and
 * --creates-per-minute, and a fast simulated cluster. The suite keeps at most 3
 * stores live at a time and deletes what it creates.
 *
 * Prints one line per check and ends with "N passed, M failed"; exits 0 only
 * when every check passed.
 */
#define _POSIX_C_SOURCE 200809L

#include "storeplatform_client.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Generous: the suite runs under sanitizers beside the rest of the tests. A bound, not a speed check. */
#define READY_TIMEOUT_MS 120000
#define POLL_INTERVAL_MS 50
#define MAX_TRACKED 32

static int passed;
static int failed;

static void check(int ok, const char *label, const char *format, ...)
{
    char detail[1024] = "";
    if (format != NULL) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(detail, sizeof detail, format, arguments);
        va_end(arguments);
    }
    if (ok)
        passed++;
    else
        failed++;
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", label, detail[0] != '\0' ? ": " : "", detail);
    fflush(stdout);
}

static void sleep_ms(long ms)
{
    struct timespec interval = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&interval, &interval) != 0) {
    }
}

static long long now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static const char *text(const char *s)
{
    return s != NULL ? s : "(null)";
}

/* "rc=1 NOT_FOUND: no store ..." for failure details. */
static const char *describe(int rc, const sp_status *status)
{
    static char buffer[768];
    snprintf(buffer, sizeof buffer, "rc=%d (%s) %s %s: %s", rc, sp_strerror(rc), sp_code_name(status->code),
             text(status->error_code), text(status->message));
    return buffer;
}

/* ---- where the daemon is -------------------------------------------------------- */

typedef struct target {
    const char *label; /* "unix" or "tcp" */
    int tcp;
    const char *path;
    char host[256];
    int port;
    const char *token;
    const sp_tls_options *tls; /* NULL: plain TCP */
} target;

/* A new connection; with_token chooses whether TCP calls carry the token. */
static sp_client *open_client(const target *t, int with_token)
{
    char err[512] = "";
    sp_client *client = !t->tcp           ? sp_connect_unix(t->path, err, sizeof err)
                        : t->tls != NULL ? sp_connect_tls(t->host, t->port, t->tls, err, sizeof err)
                                         : sp_connect_tcp(t->host, t->port, err, sizeof err);
    if (client == NULL) {
        char label[128];
        snprintf(label, sizeof label, "%s: connect", t->label);
        check(0, label, "%s", err);
        return NULL;
    }
    if (t->tcp && with_token)
        sp_set_token(client, t->token);
    sp_set_timeout(client, 10000);
    return client;
}

/* ---- stores this run created, so that they can be cleaned up ------------------------ */

static char *tracked[MAX_TRACKED];

static void track(const char *id)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == NULL) {
            tracked[i] = strdup(id);
            return;
        }
    }
}

static void untrack(const char *id)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] != NULL && strcmp(tracked[i], id) == 0) {
            free(tracked[i]);
            tracked[i] = NULL;
        }
    }
}

/* Polls GetStore until the store is in `wanted` or timeout_ms passes.
 * Returns the last status seen (or -1 when a get failed). */
static int wait_for_status(sp_client *client, const char *id, int wanted, long timeout_ms, sp_status *status)
{
    long long deadline = now_ms() + timeout_ms;
    int last = -1;
    for (;;) {
        Storeplatform__V1__GetStoreResponse *got = NULL;
        int rc = sp_get_store(client, id, &got, status);
        if (rc != SP_OK)
            return -1;
        last = got->store != NULL ? (int)got->store->status : -1;
        storeplatform__v1__get_store_response__free_unpacked(got, NULL);
        if (last == wanted || now_ms() >= deadline)
            return last;
        sleep_ms(POLL_INTERVAL_MS);
    }
}

/* Deletes a store and waits until it is deleted. Returns 1 when deleted; otherwise
 * says why in `why` (when not NULL). */
static int delete_and_wait(sp_client *client, const char *id, char *why, size_t why_size)
{
    sp_status status = SP_STATUS_INIT;
    long long deadline = now_ms() + READY_TIMEOUT_MS;
    for (;;) {
        Storeplatform__V1__DeleteStoreResponse *deleted = NULL;
        int rc = sp_delete_store(client, id, &deleted, &status);
        if (deleted != NULL)
            storeplatform__v1__delete_store_response__free_unpacked(deleted, NULL);
        /* OPERATION_IN_PROGRESS: another operation holds the store; try again.
         * INVALID_STATE_TRANSITION: already deleting or deleted; just wait. */
        if (rc == SP_ERR_STATUS && strcmp(status.error_code, "OPERATION_IN_PROGRESS") == 0 && now_ms() < deadline) {
            sleep_ms(POLL_INTERVAL_MS);
            continue;
        }
        if (rc != SP_OK && !(rc == SP_ERR_STATUS && strcmp(status.error_code, "INVALID_STATE_TRANSITION") == 0)) {
            if (why != NULL)
                snprintf(why, why_size, "delete of %s: %s", id, describe(rc, &status));
            sp_status_clear(&status);
            return 0;
        }
        break;
    }
    int last = wait_for_status(client, id, STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED,
                               deadline - now_ms(), &status);
    if (last != STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED && why != NULL) {
        if (last < 0)
            snprintf(why, why_size, "get of %s failed: %s %s: %s", id, sp_code_name(status.code),
                     text(status.error_code), text(status.message));
        else
            snprintf(why, why_size, "%s still %s after %d s", id, sp_store_status_name(last), READY_TIMEOUT_MS / 1000);
    }
    sp_status_clear(&status);
    if (last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED)
        untrack(id);
    return last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED;
}

static void cleanup_tracked(const target *t)
{
    sp_client *client = NULL;
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == NULL)
            continue;
        if (client == NULL && (client = open_client(t, 1)) == NULL)
            return;
        char id[128];
        snprintf(id, sizeof id, "%s", tracked[i]);
        if (!delete_and_wait(client, id, NULL, 0))
            printf("note: could not delete store %s while cleaning up\n", id);
    }
    sp_close(client);
}

/* Whether the store with this id is on some page of ListStores. */
static int listed(sp_client *client, const char *id, sp_status *status, int *rc_out)
{
    char *token = NULL;
    int found = 0;
    *rc_out = SP_OK;
    for (int page = 0; page < 100 && !found; page++) {
        Storeplatform__V1__ListStoresResponse *list = NULL;
        int rc = sp_list_stores(client, 100, token, &list, status);
        free(token);
        token = NULL;
        if (rc != SP_OK) {
            *rc_out = rc;
            return 0;
        }
        for (size_t i = 0; i < list->n_stores; i++)
            if (strcmp(list->stores[i]->id, id) == 0)
                found = 1;
        if (list->next_page_token[0] != '\0')
            token = strdup(list->next_page_token);
        storeplatform__v1__list_stores_response__free_unpacked(list, NULL);
        if (token == NULL)
            break;
    }
    free(token);
    return found;
}

static int is_error(int rc, const sp_status *status, const char *error_code)
{
    return rc == SP_ERR_STATUS && status->local == 0 && strcmp(status->error_code, error_code) == 0;
}

/* ---- the RPC suite ----------------------------------------------------------------- */

static void run_rpc_suite(const target *t)
{
    char label[256];
    char name[64];
    char id[128] = "";
    sp_status status = SP_STATUS_INIT;
    int rc;
#define LABEL(...) (snprintf(label, sizeof label, __VA_ARGS__), label)

    sp_client *client = open_client(t, 1);
    if (client == NULL)
        return;

    /* Health. */
    Storeplatform__V1__HealthResponse *health = NULL;
    rc = sp_health(client, &health, &status);
    check(rc == SP_OK && health != NULL && strcmp(health->status, "SERVING") == 0 && health->version[0] != '\0',
          LABEL("%s: health answers SERVING", t->label), rc == SP_OK ? "status %s" : "%s",
          rc == SP_OK ? health->status : describe(rc, &status));
    check(rc == SP_OK && strncmp(status.request_id, "c-", 2) == 0,
          LABEL("%s: the daemon echoes the client's request-id", t->label), "request id '%s'",
          text(status.request_id));
    if (health != NULL)
        storeplatform__v1__health_response__free_unpacked(health, NULL);

    /* Create. */
    snprintf(name, sizeof name, "c%s-%ld-life", t->tcp ? "t" : "u", (long)getpid());
    Storeplatform__V1__CreateStoreResponse *created = NULL;
    rc = sp_create_store(client, name, NULL, &created, &status);
    int create_ok = rc == SP_OK && created != NULL && created->store != NULL && created->store->id[0] != '\0' &&
                    strcmp(created->store->name, name) == 0;
    if (create_ok) {
        snprintf(id, sizeof id, "%s", created->store->id);
        track(id);
    }
    check(create_ok, LABEL("%s: create store %s", t->label, name), create_ok ? "id %s, %s" : "%s",
          create_ok ? id : describe(rc, &status),
          create_ok ? sp_store_status_name(created->store->status) : "");
    if (created != NULL)
        storeplatform__v1__create_store_response__free_unpacked(created, NULL);

    if (create_ok) {
        /* Get. */
        Storeplatform__V1__GetStoreResponse *got = NULL;
        rc = sp_get_store(client, id, &got, &status);
        int get_ok = rc == SP_OK && got->store != NULL && strcmp(got->store->id, id) == 0 &&
                     strcmp(got->store->name, name) == 0 && strcmp(got->store->engine, "woocommerce") == 0;
        check(get_ok, LABEL("%s: get the store by id", t->label), get_ok ? NULL : "%s", describe(rc, &status));
        if (got != NULL)
            storeplatform__v1__get_store_response__free_unpacked(got, NULL);
        got = NULL;
        rc = sp_get_store_by_name(client, name, &got, &status);
        get_ok = rc == SP_OK && got->store != NULL && strcmp(got->store->id, id) == 0 && strcmp(got->store->name, name) == 0;
        check(get_ok, LABEL("%s: get the store by name", t->label), get_ok ? NULL : "%s", describe(rc, &status));
        if (got != NULL)
            storeplatform__v1__get_store_response__free_unpacked(got, NULL);

        /* Ready. */
        long long started = now_ms();
        int last = wait_for_status(client, id, STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY,
                                   READY_TIMEOUT_MS, &status);
        check(last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY,
              LABEL("%s: the store becomes ready", t->label), "last status %s after %lld ms%s%s",
              sp_store_status_name(last), now_ms() - started, last < 0 ? ", " : "",
              last < 0 ? describe(-1, &status) : "");
        got = NULL;
        rc = sp_get_store(client, id, &got, &status);
        check(rc == SP_OK && got->store->url[0] != '\0' && got->store->ready_at_ms > 0,
              LABEL("%s: a ready store has its url", t->label), "url '%s'",
              rc == SP_OK ? got->store->url : describe(rc, &status));
        if (got != NULL)
            storeplatform__v1__get_store_response__free_unpacked(got, NULL);

        /* List. */
        int list_rc = SP_OK;
        int found = listed(client, id, &status, &list_rc);
        check(found, LABEL("%s: list contains the store", t->label), found ? NULL : "%s",
              describe(list_rc, &status));

        /* Retry of a ready store. */
        Storeplatform__V1__RetryStoreResponse *retried = NULL;
        rc = sp_retry_store(client, id, &retried, &status);
        check(is_error(rc, &status, "INVALID_STATE_TRANSITION") && retried == NULL &&
                  status.code == STOREPLATFORM__V1__CODE__CODE_FAILED_PRECONDITION,
              LABEL("%s: retry of a ready store -> INVALID_STATE_TRANSITION", t->label), "%s",
              describe(rc, &status));
        if (retried != NULL)
            storeplatform__v1__retry_store_response__free_unpacked(retried, NULL);

        /* Delete. */
        Storeplatform__V1__DeleteStoreResponse *deleted = NULL;
        rc = sp_delete_store(client, id, &deleted, &status);
        int delete_ok = rc == SP_OK && deleted->store != NULL &&
                        (deleted->store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETING ||
                         deleted->store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED);
        check(delete_ok, LABEL("%s: delete the store", t->label), "%s",
              delete_ok ? sp_store_status_name(deleted->store->status) : describe(rc, &status));
        if (deleted != NULL)
            storeplatform__v1__delete_store_response__free_unpacked(deleted, NULL);
        last = wait_for_status(client, id, STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED, READY_TIMEOUT_MS,
                               &status);
        check(last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED,
              LABEL("%s: the store becomes deleted", t->label), "last status %s", sp_store_status_name(last));
        if (last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED)
            untrack(id);
    }

    /* Error codes. */
    created = NULL;
    rc = sp_create_store(client, "Bad_Name", NULL, &created, &status);
    check(is_error(rc, &status, "INVALID_STORE_NAME") && status.code == STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT,
          LABEL("%s: create \"Bad_Name\" -> INVALID_STORE_NAME", t->label), "%s", describe(rc, &status));
    if (created != NULL) {
        track(created->store->id);
        storeplatform__v1__create_store_response__free_unpacked(created, NULL);
    }

    char unknown[64];
    snprintf(unknown, sizeof unknown, "st_no_such_store_%ld", (long)getpid());
    Storeplatform__V1__GetStoreResponse *missing = NULL;
    rc = sp_get_store(client, unknown, &missing, &status);
    check(is_error(rc, &status, "NOT_FOUND") && status.code == STOREPLATFORM__V1__CODE__CODE_NOT_FOUND,
          LABEL("%s: get of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    if (missing != NULL)
        storeplatform__v1__get_store_response__free_unpacked(missing, NULL);
    missing = NULL;
    rc = sp_get_store_by_name(client, "no-store-is-named-this", &missing, &status);
    check(is_error(rc, &status, "NOT_FOUND") && strstr(status.message, "no live store is named") != NULL,
          LABEL("%s: get of an unknown name -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    if (missing != NULL)
        storeplatform__v1__get_store_response__free_unpacked(missing, NULL);
    Storeplatform__V1__DeleteStoreResponse *missing_delete = NULL;
    rc = sp_delete_store(client, unknown, &missing_delete, &status);
    check(is_error(rc, &status, "NOT_FOUND"), LABEL("%s: delete of an unknown id -> NOT_FOUND", t->label), "%s",
          describe(rc, &status));
    if (missing_delete != NULL)
        storeplatform__v1__delete_store_response__free_unpacked(missing_delete, NULL);

    rc = sp_call(client, "/storeplatform.v1.StoreService/NoSuchMethod", NULL, NULL, 5000, NULL, &status);
    check(is_error(rc, &status, "UNIMPLEMENTED") && status.code == STOREPLATFORM__V1__CODE__CODE_UNIMPLEMENTED,
          LABEL("%s: unknown method -> UNIMPLEMENTED", t->label), "%s", describe(rc, &status));

    /* Quota: create until QUOTA_EXCEEDED (the daemon allows 3 live stores). */
    char quota_ids[8][128];
    int quota_created = 0;
    int quota_hit = 0;
    char unexpected[768] = "";
    for (int attempt = 0; attempt < 8 && !quota_hit; attempt++) {
        snprintf(name, sizeof name, "c%s-%ld-quota-%d", t->tcp ? "t" : "u", (long)getpid(), attempt);
        created = NULL;
        rc = sp_create_store(client, name, NULL, &created, &status);
        if (rc == SP_OK) {
            snprintf(quota_ids[quota_created], sizeof quota_ids[0], "%s", created->store->id);
            track(quota_ids[quota_created]);
            quota_created++;
        } else if (is_error(rc, &status, "QUOTA_EXCEEDED")) {
            quota_hit = status.code == STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED;
            if (!quota_hit)
                snprintf(unexpected, sizeof unexpected, "QUOTA_EXCEEDED with code %s", sp_code_name(status.code));
        } else {
            snprintf(unexpected, sizeof unexpected, "%s", describe(rc, &status));
            break;
        }
        if (created != NULL)
            storeplatform__v1__create_store_response__free_unpacked(created, NULL);
    }
    check(quota_hit && unexpected[0] == '\0', LABEL("%s: creates past the live-store limit -> QUOTA_EXCEEDED", t->label),
          "%d created first%s%s", quota_created, unexpected[0] != '\0' ? "; " : "", unexpected);
    int all_deleted = 1;
    char why[1024] = "";
    for (int i = 0; i < quota_created; i++)
        all_deleted &= delete_and_wait(client, quota_ids[i], why[0] == '\0' ? why : NULL, sizeof why);
    check(all_deleted, LABEL("%s: the quota stores are deleted again", t->label), "%d stores%s%s", quota_created,
          why[0] != '\0' ? "; " : "", why);

    /* The client's own frame limit: refused from the header, connection closed. */
    sp_set_max_frame(client, 8);
    health = NULL;
    rc = sp_health(client, &health, &status);
    check(rc == SP_ERR_PROTOCOL && status.local && strcmp(status.error_code, "CLIENT_FRAME_TOO_LARGE") == 0 &&
              health == NULL && sp_is_closed(client),
          LABEL("%s: a response over the client's max frame is refused", t->label), "%s", describe(rc, &status));
    rc = sp_health(client, &health, &status);
    check(rc == SP_ERR_CLOSED && strcmp(status.error_code, "CLIENT_CONNECTION_CLOSED") == 0,
          LABEL("%s: a call on the closed connection fails at once", t->label), "%s", describe(rc, &status));
    sp_close(client);

    if (t->tcp) {
        /* Authentication. */
        sp_client *anonymous = open_client(t, 0);
        if (anonymous != NULL) {
            health = NULL;
            rc = sp_health(anonymous, &health, &status);
            check(is_error(rc, &status, "UNAUTHENTICATED") && status.code == STOREPLATFORM__V1__CODE__CODE_UNAUTHENTICATED,
                  LABEL("%s: health without a token -> UNAUTHENTICATED", t->label), "%s", describe(rc, &status));
            if (health != NULL)
                storeplatform__v1__health_response__free_unpacked(health, NULL);
            sp_set_token(anonymous, "not-the-token");
            rc = sp_health(anonymous, &health, &status);
            check(is_error(rc, &status, "UNAUTHENTICATED"),
                  LABEL("%s: health with a wrong token -> UNAUTHENTICATED", t->label), "%s", describe(rc, &status));
            if (health != NULL)
                storeplatform__v1__health_response__free_unpacked(health, NULL);
            created = NULL;
            snprintf(name, sizeof name, "ct-%ld-anon", (long)getpid());
            sp_set_token(anonymous, NULL);
            rc = sp_create_store(anonymous, name, NULL, &created, &status);
            check(is_error(rc, &status, "UNAUTHENTICATED"),
                  LABEL("%s: create without a token -> UNAUTHENTICATED", t->label), "%s", describe(rc, &status));
            if (created != NULL) {
                track(created->store->id);
                storeplatform__v1__create_store_response__free_unpacked(created, NULL);
            }
            sp_close(anonymous);
        }
    }
    sp_status_clear(&status);
#undef LABEL
}

/* ---- versions, revisions, upgrades and rollbacks ----------------------------------- */

/* The fault the daemon injects into each store's first upgrade (STOREPLATFORM_TEST_UPGRADE_FAULT). */
static const char *upgrade_fault;

/* Polls GetStore until the store is no longer upgrading or timeout_ms passes.
 * Returns the store as last seen (free it with storeplatform__v1__get_store_response__free_unpacked),
 * or NULL when a get failed. */
static Storeplatform__V1__GetStoreResponse *wait_while_upgrading(sp_client *client, const char *id, long timeout_ms,
                                                                 sp_status *status)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        Storeplatform__V1__GetStoreResponse *got = NULL;
        if (sp_get_store(client, id, &got, status) != SP_OK)
            return NULL;
        if (got->store == NULL || got->store->status != STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_UPGRADING ||
            now_ms() >= deadline)
            return got;
        storeplatform__v1__get_store_response__free_unpacked(got, NULL);
        sleep_ms(POLL_INTERVAL_MS);
    }
}

/* "3 6.9-wc10.3 deployed, 2 6.8-wc9.8 rolled-back, ..." of a store's revisions,
 * newest first, into out; the message of revision `wanted` into message (when not
 * NULL). Returns the rc of the call. */
static int revision_history(sp_client *client, const char *id, char *out, size_t size, uint32_t wanted,
                            char *message, size_t message_size, sp_status *status)
{
    Storeplatform__V1__ListStoreRevisionsResponse *response = NULL;
    int rc = sp_list_store_revisions(client, id, &response, status);
    out[0] = '\0';
    if (message != NULL)
        message[0] = '\0';
    if (rc != SP_OK) {
        snprintf(out, size, "%s", describe(rc, status));
        return rc;
    }
    for (size_t i = 0; i < response->n_revisions; i++) {
        const Storeplatform__V1__StoreRevision *revision = response->revisions[i];
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%" PRIu32 " %s %s", i > 0 ? ", " : "", revision->revision,
                 revision->version, sp_revision_status_name(revision->status));
        if (message != NULL && revision->revision == wanted)
            snprintf(message, message_size, "%s", revision->message);
    }
    storeplatform__v1__list_store_revisions_response__free_unpacked(response, NULL);
    return rc;
}

/* Waits out a change and checks that the store ends ready on `version` at `revision`. */
static void expect_change_ends(sp_client *client, const char *id, const char *version, uint32_t revision,
                               const char *label)
{
    sp_status status = SP_STATUS_INIT;
    long long started = now_ms();
    Storeplatform__V1__GetStoreResponse *got = wait_while_upgrading(client, id, READY_TIMEOUT_MS, &status);
    const Storeplatform__V1__Store *store = got != NULL ? got->store : NULL;
    if (store != NULL)
        check(store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY && strcmp(store->version, version) == 0 &&
                  store->revision == revision,
              label, "%s on %s at revision %" PRIu32 " after %lld ms (wanted ready on %s at %" PRIu32 ")%s%s",
              sp_store_status_name(store->status), store->version, store->revision, now_ms() - started, version,
              revision, store->error_message[0] != '\0' ? ": " : "", store->error_message);
    else
        check(0, label, "%s", describe(-1, &status));
    if (got != NULL)
        storeplatform__v1__get_store_response__free_unpacked(got, NULL);
    sp_status_clear(&status);
}

/* Versions; one store's life through a failed upgrade (the daemon's seeded fault,
 * rolled back by itself), an upgrade by name, a rollback; and every refusal. */
static void run_upgrade_suite(const target *t)
{
    char label[256];
    char name[64];
    char id[128] = "";
    char default_version[64] = "";
    char other_version[64] = "";
    char wanted[512];
    char seen[1024];
    char message[4096];
    sp_status status = SP_STATUS_INIT;
    int rc;
#define LABEL(...) (snprintf(label, sizeof label, __VA_ARGS__), label)

    if (upgrade_fault == NULL) {
        check(0, LABEL("%s: upgrade: the daemon's upgrade fault is named", t->label),
              "set STOREPLATFORM_TEST_UPGRADE_FAULT to the --sim-fault the daemon fails each store's first upgrade "
              "with (upgrade-error or migration-error; see clients/c/README.md)");
        return;
    }
    sp_client *client = open_client(t, 1);
    if (client == NULL)
        return;

    /* Versions: one default, and another to upgrade to. */
    Storeplatform__V1__ListEngineVersionsResponse *versions = NULL;
    rc = sp_list_engine_versions(client, &versions, &status);
    int defaults = 0;
    size_t count = rc == SP_OK ? versions->n_versions : 0;
    for (size_t i = 0; i < count; i++) {
        const Storeplatform__V1__EngineVersion *version = versions->versions[i];
        if (strcmp(version->engine, "woocommerce") != 0)
            continue;
        if (version->is_default) {
            defaults++;
            snprintf(default_version, sizeof default_version, "%s", version->name);
        } else if (other_version[0] == '\0') {
            snprintf(other_version, sizeof other_version, "%s", version->name);
        }
    }
    check(rc == SP_OK && defaults == 1 && other_version[0] != '\0',
          LABEL("%s: versions: one default and another to upgrade to", t->label),
          "%zu versions, %d default (%s), other '%s'%s%s", count, defaults, default_version, other_version,
          rc != SP_OK ? "; " : "", rc != SP_OK ? describe(rc, &status) : "");
    if (versions != NULL)
        storeplatform__v1__list_engine_versions_response__free_unpacked(versions, NULL);
    if (defaults != 1 || other_version[0] == '\0') {
        sp_status_clear(&status);
        sp_close(client);
        return;
    }

    /* A ready store on the default version, at revision 1. */
    snprintf(name, sizeof name, "c%s-%ld-upgrade", t->tcp ? "t" : "u", (long)getpid());
    Storeplatform__V1__CreateStoreResponse *created = NULL;
    rc = sp_create_store(client, name, NULL, &created, &status);
    if (rc == SP_OK) {
        snprintf(id, sizeof id, "%s", created->store->id);
        track(id);
        storeplatform__v1__create_store_response__free_unpacked(created, NULL);
    }
    int last = rc == SP_OK ? wait_for_status(client, id, STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY,
                                             READY_TIMEOUT_MS, &status)
                           : -1;
    check(last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY,
          LABEL("%s: upgrade: a store to upgrade becomes ready", t->label), "%s",
          last >= 0 ? sp_store_status_name(last) : describe(rc, &status));
    if (last != STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY) {
        sp_status_clear(&status);
        sp_close(client);
        return;
    }
    rc = revision_history(client, id, seen, sizeof seen, 0, NULL, 0, &status);
    snprintf(wanted, sizeof wanted, "1 %s deployed", default_version);
    check(rc == SP_OK && strcmp(seen, wanted) == 0, LABEL("%s: revisions: a new store has its install", t->label),
          "'%s'", seen);

    /* The first upgrade meets the seeded fault and is rolled back by the daemon. */
    Storeplatform__V1__UpgradeStoreResponse *upgraded = NULL;
    rc = sp_upgrade_store(client, id, other_version, &upgraded, &status);
    check(rc == SP_OK && upgraded->store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_UPGRADING &&
              strcmp(upgraded->store->version, other_version) == 0 && upgraded->store->revision == 2,
          LABEL("%s: upgrade: the store is upgrading to %s as revision 2", t->label, other_version), "%s",
          rc == SP_OK ? sp_store_status_name(upgraded->store->status) : describe(rc, &status));
    if (upgraded != NULL)
        storeplatform__v1__upgrade_store_response__free_unpacked(upgraded, NULL);
    upgraded = NULL;
    expect_change_ends(client, id, default_version, 3,
                       LABEL("%s: upgrade: under the fault %s it ends ready on its old version", t->label, upgrade_fault));
    rc = revision_history(client, id, seen, sizeof seen, 2, message, sizeof message, &status);
    snprintf(wanted, sizeof wanted, "3 %s deployed, 2 %s rolled-back, 1 %s superseded", default_version, other_version,
             default_version);
    char fault_text[128];
    snprintf(fault_text, sizeof fault_text, "simulated fault %s", upgrade_fault);
    check(rc == SP_OK && strcmp(seen, wanted) == 0 && strstr(message, fault_text) != NULL,
          LABEL("%s: revisions: the failed upgrade is rolled-back and says why", t->label), "'%s'; revision 2: '%s'",
          seen, message);

    /* The second upgrade, by name, ends on the new version. */
    rc = sp_upgrade_store_by_name(client, name, other_version, &upgraded, &status);
    check(rc == SP_OK && strcmp(upgraded->store->id, id) == 0 &&
              upgraded->store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_UPGRADING,
          LABEL("%s: upgrade by name: the store is upgrading", t->label), "%s",
          rc == SP_OK ? sp_store_status_name(upgraded->store->status) : describe(rc, &status));
    if (upgraded != NULL)
        storeplatform__v1__upgrade_store_response__free_unpacked(upgraded, NULL);
    upgraded = NULL;
    expect_change_ends(client, id, other_version, 4,
                       LABEL("%s: upgrade: it ends ready on %s as revision 4", t->label, other_version));
    Storeplatform__V1__ListStoreRevisionsResponse *listed_revisions = NULL;
    rc = sp_list_store_revisions_by_name(client, name, &listed_revisions, &status);
    check(rc == SP_OK && listed_revisions->n_revisions == 4 && listed_revisions->revisions[0]->revision == 4 &&
              strcmp(listed_revisions->revisions[0]->version, other_version) == 0 &&
              listed_revisions->revisions[0]->status == STOREPLATFORM__V1__REVISION_STATUS__REVISION_STATUS_DEPLOYED,
          LABEL("%s: revisions by name: the upgrade is revision 4, deployed", t->label), "%s",
          rc == SP_OK ? "" : describe(rc, &status));
    if (listed_revisions != NULL)
        storeplatform__v1__list_store_revisions_response__free_unpacked(listed_revisions, NULL);
    listed_revisions = NULL;

    /* Back to revision 1, as revision 5 with its version. */
    Storeplatform__V1__RollbackStoreResponse *rolled = NULL;
    rc = sp_rollback_store(client, id, 1, &rolled, &status);
    check(rc == SP_OK && rolled->store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_UPGRADING &&
              strcmp(rolled->store->version, default_version) == 0 && rolled->store->revision == 5,
          LABEL("%s: rollback to revision 1: the store is upgrading to %s as revision 5", t->label, default_version),
          "%s", rc == SP_OK ? sp_store_status_name(rolled->store->status) : describe(rc, &status));
    if (rolled != NULL)
        storeplatform__v1__rollback_store_response__free_unpacked(rolled, NULL);
    rolled = NULL;
    expect_change_ends(client, id, default_version, 5,
                       LABEL("%s: rollback: it ends ready on %s as revision 5", t->label, default_version));
    rc = revision_history(client, id, seen, sizeof seen, 0, NULL, 0, &status);
    snprintf(wanted, sizeof wanted, "5 %s deployed, 4 %s superseded, 3 %s superseded, 2 %s rolled-back, 1 %s superseded",
             default_version, other_version, default_version, other_version, default_version);
    check(rc == SP_OK && strcmp(seen, wanted) == 0, LABEL("%s: revisions: the rollback is revision 5", t->label),
          "'%s'", seen);

    /* Refusals, each with its code; none changes the store. */
    rc = sp_upgrade_store(client, id, "9.9-wc99.9", &upgraded, &status);
    check(is_error(rc, &status, "UNKNOWN_VERSION") && status.code == STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT &&
              upgraded == NULL && strstr(status.message, other_version) != NULL,
          LABEL("%s: upgrade to an unknown version -> UNKNOWN_VERSION", t->label), "%s", describe(rc, &status));
    rc = sp_upgrade_store_by_name(client, name, default_version, &upgraded, &status);
    check(is_error(rc, &status, "ALREADY_ON_VERSION") &&
              status.code == STOREPLATFORM__V1__CODE__CODE_FAILED_PRECONDITION && upgraded == NULL,
          LABEL("%s: upgrade to the version it runs -> ALREADY_ON_VERSION", t->label), "%s", describe(rc, &status));
    rc = sp_rollback_store(client, id, 99, &rolled, &status);
    check(is_error(rc, &status, "UNKNOWN_REVISION") && status.code == STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT &&
              rolled == NULL,
          LABEL("%s: rollback to a revision it does not have -> UNKNOWN_REVISION", t->label), "%s",
          describe(rc, &status));
    rc = sp_rollback_store_by_name(client, name, 5, &rolled, &status);
    check(is_error(rc, &status, "UNKNOWN_REVISION") && rolled == NULL,
          LABEL("%s: rollback to the revision it runs -> UNKNOWN_REVISION", t->label), "%s", describe(rc, &status));
    Storeplatform__V1__GetStoreResponse *got = NULL;
    rc = sp_get_store(client, id, &got, &status);
    check(rc == SP_OK && got->store->status == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY &&
              got->store->revision == 5 && strcmp(got->store->version, default_version) == 0,
          LABEL("%s: the refused changes left the store as it was", t->label), "%s",
          rc == SP_OK ? sp_store_status_name(got->store->status) : describe(rc, &status));
    if (got != NULL)
        storeplatform__v1__get_store_response__free_unpacked(got, NULL);

    /* A store that does not exist, by id and by name. */
    char unknown[64];
    snprintf(unknown, sizeof unknown, "st_no_such_store_%ld", (long)getpid());
    rc = sp_upgrade_store(client, unknown, other_version, &upgraded, &status);
    check(is_error(rc, &status, "NOT_FOUND") && status.code == STOREPLATFORM__V1__CODE__CODE_NOT_FOUND && upgraded == NULL,
          LABEL("%s: upgrade of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_upgrade_store_by_name(client, "no-store-is-named-this", other_version, &upgraded, &status);
    check(is_error(rc, &status, "NOT_FOUND") && upgraded == NULL,
          LABEL("%s: upgrade of an unknown name -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_rollback_store(client, unknown, 1, &rolled, &status);
    check(is_error(rc, &status, "NOT_FOUND") && rolled == NULL,
          LABEL("%s: rollback of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_rollback_store_by_name(client, "no-store-is-named-this", 1, &rolled, &status);
    check(is_error(rc, &status, "NOT_FOUND") && rolled == NULL,
          LABEL("%s: rollback of an unknown name -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_list_store_revisions(client, unknown, &listed_revisions, &status);
    check(is_error(rc, &status, "NOT_FOUND") && listed_revisions == NULL,
          LABEL("%s: revisions of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_list_store_revisions_by_name(client, "no-store-is-named-this", &listed_revisions, &status);
    check(is_error(rc, &status, "NOT_FOUND") && listed_revisions == NULL,
          LABEL("%s: revisions of an unknown name -> NOT_FOUND", t->label), "%s", describe(rc, &status));

    char why[512] = "";
    check(delete_and_wait(client, id, why, sizeof why), LABEL("%s: upgrade: the store is deleted", t->label), "%s", why);
    sp_status_clear(&status);
    sp_close(client);
#undef LABEL
}

/* ---- fleet upgrades ----------------------------------------------------------------- */

/* What a fleet upgrade's watch delivered. */
typedef struct fleet_watched {
    int count;
    int active_before_last; /* every fleet upgrade before the last one was active */
    int last_state;
    char id[64];
    int same_id; /* every one had the id of the first */
} fleet_watched;

static int collect_fleet_upgrade(const Storeplatform__V1__FleetUpgrade *fleet, void *context)
{
    fleet_watched *w = context;
    if (w->count == 0) {
        snprintf(w->id, sizeof w->id, "%s", fleet->id);
        w->active_before_last = 1;
        w->same_id = 1;
    } else if (sp_fleet_upgrade_state_has_ended(w->last_state)) {
        w->active_before_last = 0;
    }
    w->same_id = w->same_id && strcmp(w->id, fleet->id) == 0;
    w->last_state = (int)fleet->state;
    w->count++;
    return 0;
}

/* "NAME OUTCOME, NAME OUTCOME" of a fleet upgrade's stores, in its order. */
static const char *fleet_outcomes(const Storeplatform__V1__FleetUpgrade *fleet, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; fleet != NULL && i < fleet->n_stores; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s %s", i > 0 ? ", " : "", fleet->stores[i]->name,
                 sp_fleet_store_outcome_name(fleet->stores[i]->outcome));
    }
    return out;
}

/* "start wave stop end": the actions of a fleet upgrade's log, oldest first. */
static const char *fleet_steps(const Storeplatform__V1__FleetUpgrade *fleet, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; fleet != NULL && i < fleet->n_steps; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i > 0 ? " " : "", fleet->steps[i]->action);
    }
    return out;
}

/* 1 when the words of text (separated by spaces) hold first, second and third in
 * this order, with perhaps others between them. */
static int in_order(const char *text, const char *first, const char *second, const char *third)
{
    const char *wanted[3] = { first, second, third };
    int found = 0;
    for (const char *word = text; *word != '\0' && found < 3;) {
        size_t length = strcspn(word, " ");
        if (length == strlen(wanted[found]) && strncmp(word, wanted[found], length) == 0)
            found++;
        word += length;
        word += strspn(word, " ");
    }
    return found == 3;
}

/* The message of the last step of the log with this action ("" when none). */
static const char *fleet_step_message(const Storeplatform__V1__FleetUpgrade *fleet, const char *action)
{
    const char *message = "";
    for (size_t i = 0; fleet != NULL && i < fleet->n_steps; i++)
        if (strcmp(fleet->steps[i]->action, action) == 0)
            message = fleet->steps[i]->message;
    return message;
}

/* 1 when both messages are there and serialize to the same bytes. */
static int same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    if (a == NULL || b == NULL)
        return 0;
    size_t size = protobuf_c_message_get_packed_size(a);
    if (size != protobuf_c_message_get_packed_size(b))
        return 0;
    uint8_t *bytes_a = malloc(size + 1);
    uint8_t *bytes_b = malloc(size + 1);
    int same = bytes_a != NULL && bytes_b != NULL && protobuf_c_message_pack(a, bytes_a) == size &&
               protobuf_c_message_pack(b, bytes_b) == size && memcmp(bytes_a, bytes_b, size) == 0;
    free(bytes_a);
    free(bytes_b);
    return same;
}

/* Cancels the active fleet upgrade, if there is one, and waits for its end: no
 * fleet upgrade started here outlives the suite, whatever failed in it. */
static void end_active_fleet_upgrade(sp_client *client)
{
    sp_status status = SP_STATUS_INIT;
    Storeplatform__V1__ChangeFleetUpgradeResponse *changed = NULL;
    if (sp_cancel_fleet_upgrade(client, NULL, &changed, &status) == SP_OK) {
        printf("note: cancelled fleet upgrade %s left active\n", changed->fleet_upgrade->id);
        sp_fleet_watch wait = { 0 };
        wait.timeout_ms = READY_TIMEOUT_MS;
        (void)sp_watch_fleet_upgrade(client, &wait, NULL, &status);
    }
    if (changed != NULL)
        storeplatform__v1__change_fleet_upgrade_response__free_unpacked(changed, NULL);
    sp_status_clear(&status);
}

/* Creates a store named name and waits until it is ready; its id into id. 1 when ready. */
static int ready_store(sp_client *client, const char *name, char *id, size_t id_size, sp_status *status)
{
    Storeplatform__V1__CreateStoreResponse *created = NULL;
    int rc = sp_create_store(client, name, NULL, &created, status);
    if (rc != SP_OK)
        return 0;
    snprintf(id, id_size, "%s", created->store->id);
    track(id);
    storeplatform__v1__create_store_response__free_unpacked(created, NULL);
    return wait_for_status(client, id, STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY, READY_TIMEOUT_MS, status) ==
           STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY;
}

/* The store's status, version and revision: "ready 6.9-wc10.3 3". */
static const char *store_state(sp_client *client, const char *id, char *out, size_t size, sp_status *status)
{
    Storeplatform__V1__GetStoreResponse *got = NULL;
    int rc = sp_get_store(client, id, &got, status);
    if (rc == SP_OK)
        snprintf(out, size, "%s %s %" PRIu32, sp_store_status_name(got->store->status), got->store->version,
                 got->store->revision);
    else
        snprintf(out, size, "%s", describe(rc, status));
    if (got != NULL)
        storeplatform__v1__get_store_response__free_unpacked(got, NULL);
    return out;
}

/* Watches fleet upgrade id to its end; the last fleet upgrade delivered into *last. */
static int watch_fleet_to_end(sp_client *client, const char *id, fleet_watched *w,
                              Storeplatform__V1__FleetUpgrade **last, sp_status *status)
{
    sp_fleet_watch watch = { 0 };
    watch.id = id;
    watch.timeout_ms = READY_TIMEOUT_MS;
    watch.on_update = collect_fleet_upgrade;
    watch.context = w;
    int rc = sp_watch_fleet_upgrade(client, &watch, last, status);
    if (rc == SP_OK && (int)watch.updates != w->count)
        return -100; /* the counts disagree: reported by the caller's check */
    return rc;
}

/* Two stores through three fleet upgrades, selected by name (the daemon fails the
 * first upgrade of every store: STOREPLATFORM_TEST_UPGRADE_FAULT): the first stops
 * after its first wave, naming the store that failed and the one not started; after
 * the second store's own first upgrade (rolled back) the next completes with both
 * upgraded; a third is paused, refused a second one beside it, resumed and
 * cancelled; then the refusals. The daemon runs one fleet upgrade at a time: each
 * one started here has ended before this returns. */
static void run_fleet_suite(const target *t)
{
    char label[256];
    char names[2][64];
    char ids[2][128];
    char default_version[64] = "";
    char other_version[64] = "";
    char fleet_id[64] = "";
    char seen[1024];
    char wanted[1024];
    char steps[256];
    sp_status status = SP_STATUS_INIT;
    int rc;
#define LABEL(...) (snprintf(label, sizeof label, __VA_ARGS__), label)

    if (upgrade_fault == NULL)
        return; /* the upgrade suite said so */
    sp_client *client = open_client(t, 1);
    if (client == NULL)
        return;

    check(strcmp(sp_fleet_upgrade_state_name(STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_CANCELLING),
                 "cancelling") == 0 &&
              strcmp(sp_fleet_store_outcome_name(STOREPLATFORM__V1__FLEET_STORE_OUTCOME__FLEET_STORE_OUTCOME_ROLLED_BACK),
                     "rolled-back") == 0 &&
              strcmp(sp_fleet_upgrade_state_name(99), "unknown") == 0 &&
              sp_fleet_upgrade_state_has_ended(STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_STOPPED) &&
              !sp_fleet_upgrade_state_has_ended(STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_PAUSED),
          LABEL("%s: fleet: state and outcome names", t->label), NULL);

    /* The default version and another. */
    Storeplatform__V1__ListEngineVersionsResponse *versions = NULL;
    rc = sp_list_engine_versions(client, &versions, &status);
    for (size_t i = 0; rc == SP_OK && i < versions->n_versions; i++) {
        const Storeplatform__V1__EngineVersion *version = versions->versions[i];
        if (strcmp(version->engine, "woocommerce") != 0)
            continue;
        if (version->is_default)
            snprintf(default_version, sizeof default_version, "%s", version->name);
        else if (other_version[0] == '\0')
            snprintf(other_version, sizeof other_version, "%s", version->name);
    }
    if (versions != NULL)
        storeplatform__v1__list_engine_versions_response__free_unpacked(versions, NULL);

    /* Two ready stores; the second is made last, so that the first is free of its
     * create operation by the time a fleet upgrade starts it. */
    int ready = default_version[0] != '\0' && other_version[0] != '\0';
    for (int i = 0; i < 2 && ready; i++) {
        snprintf(names[i], sizeof names[i], "c%s-%ld-fleet-%c", t->tcp ? "t" : "u", (long)getpid(), 'a' + i);
        ready = ready_store(client, names[i], ids[i], sizeof ids[i], &status);
    }
    check(ready, LABEL("%s: fleet: two ready stores and two versions", t->label), "versions '%s' '%s'; %s",
          default_version, other_version, status.message != NULL ? status.message : "");
    if (!ready) {
        sp_status_clear(&status);
        sp_close(client);
        return;
    }

    /* 1. Waves of one, no failure tolerated: the first store's upgrade meets the
     * fault and is rolled back, and the fleet upgrade stops after wave 1. */
    const char *both[2] = { names[0], names[1] };
    sp_fleet_options options = SP_FLEET_OPTIONS_INIT;
    options.names = both;
    options.n_names = 2;
    options.wave_size = 1;
    Storeplatform__V1__UpgradeFleetResponse *started = NULL;
    rc = sp_upgrade_fleet(client, other_version, &options, &started, &status);
    const Storeplatform__V1__FleetUpgrade *fleet = rc == SP_OK ? started->fleet_upgrade : NULL;
    snprintf(wanted, sizeof wanted, "%s waiting, %s waiting", names[0], names[1]);
    check(fleet != NULL && fleet->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_RUNNING &&
              strncmp(fleet->id, "fu_", 3) == 0 && strcmp(fleet->version, other_version) == 0 &&
              fleet->wave_size == 1 && fleet->max_unavailable == 1 && fleet->failure_budget == 0 &&
              fleet->wave_count == 2 && fleet->waiting == 2 && fleet->selector != NULL && fleet->selector->n_names == 2 &&
              strcmp(fleet_outcomes(fleet, seen, sizeof seen), wanted) == 0 && fleet->stores[1]->wave == 2 &&
              strcmp(fleet->stores[0]->from_version, default_version) == 0,
          LABEL("%s: fleet: upgrade_fleet answers running, every store waiting, in the order named", t->label),
          "%s; '%s'", fleet != NULL ? sp_fleet_upgrade_state_name(fleet->state) : describe(rc, &status), seen);
    if (fleet != NULL)
        snprintf(fleet_id, sizeof fleet_id, "%s", fleet->id);
    if (started != NULL)
        storeplatform__v1__upgrade_fleet_response__free_unpacked(started, NULL);
    started = NULL;

    fleet_watched w = { 0 };
    Storeplatform__V1__FleetUpgrade *ended = NULL;
    rc = watch_fleet_to_end(client, fleet_id, &w, &ended, &status);
    check(rc == SP_OK && ended != NULL && w.count >= 1 && w.active_before_last && w.same_id &&
              strcmp(w.id, fleet_id) == 0 && ended->ended_ms > 0 &&
              ended->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_STOPPED,
          LABEL("%s: fleet: the watch follows it until it stopped", t->label), "%s; %d updates, last %s",
          describe(rc, &status), w.count, ended != NULL ? sp_fleet_upgrade_state_name(ended->state) : "none");
    snprintf(wanted, sizeof wanted, "%s rolled-back, %s waiting", names[0], names[1]);
    char fault_text[128];
    snprintf(fault_text, sizeof fault_text, "simulated fault %s", upgrade_fault);
    check(ended != NULL && strcmp(fleet_outcomes(ended, seen, sizeof seen), wanted) == 0 &&
              strstr(ended->stores[0]->message, fault_text) != NULL && ended->stores[1]->message[0] == '\0' &&
              ended->upgraded == 0 && ended->rolled_back == 1 && ended->failed == 0 && ended->skipped == 0 &&
              ended->waiting == 1 && ended->upgrading == 0 && ended->current_wave == 1,
          LABEL("%s: fleet: stopped: the first store rolled back (why), the second not started", t->label),
          "'%s'; first store's message '%s'", seen, ended != NULL && ended->n_stores > 0 ? ended->stores[0]->message : "");
    const char *stop = fleet_step_message(ended, "stop");
    check(ended != NULL && strcmp(fleet_steps(ended, steps, sizeof steps), "start wave stop end") == 0 &&
              strstr(stop, names[0]) != NULL && strstr(stop, names[1]) == NULL &&
              strcmp(fleet_step_message(ended, "end"), "stopped: 0 upgraded, 1 rolled back, 0 failed, 0 skipped, 1 not started") == 0,
          LABEL("%s: fleet: its log names the failed store and what moved", t->label), "'%s'; stop '%s'; end '%s'", steps,
          stop, fleet_step_message(ended, "end"));
    snprintf(wanted, sizeof wanted, "ready %s 3", default_version);
    store_state(client, ids[0], seen, sizeof seen, &status);
    check(strcmp(seen, wanted) == 0, LABEL("%s: fleet: the failed store is ready on its old version", t->label), "'%s'",
          seen);
    snprintf(wanted, sizeof wanted, "ready %s 1", default_version);
    store_state(client, ids[1], seen, sizeof seen, &status);
    check(strcmp(seen, wanted) == 0, LABEL("%s: fleet: the store not started is as it was", t->label), "'%s'", seen);

    /* Reading it: by id, as the latest, in the list (without stores and log). */
    Storeplatform__V1__GetFleetUpgradeResponse *got = NULL;
    rc = sp_get_fleet_upgrade(client, fleet_id, &got, &status);
    check(rc == SP_OK && same_message(&got->fleet_upgrade->base, ended != NULL ? &ended->base : NULL),
          LABEL("%s: fleet: get by id answers what the watch ended with", t->label), rc == SP_OK ? NULL : "%s",
          describe(rc, &status));
    if (got != NULL)
        storeplatform__v1__get_fleet_upgrade_response__free_unpacked(got, NULL);
    got = NULL;
    rc = sp_get_fleet_upgrade(client, NULL, &got, &status);
    check(rc == SP_OK && strcmp(got->fleet_upgrade->id, fleet_id) == 0,
          LABEL("%s: fleet: get without an id answers the latest", t->label), "%s",
          rc == SP_OK ? got->fleet_upgrade->id : describe(rc, &status));
    if (got != NULL)
        storeplatform__v1__get_fleet_upgrade_response__free_unpacked(got, NULL);
    got = NULL;
    Storeplatform__V1__ListFleetUpgradesResponse *list = NULL;
    rc = sp_list_fleet_upgrades(client, 1, &list, &status);
    check(rc == SP_OK && list->n_fleet_upgrades == 1 && strcmp(list->fleet_upgrades[0]->id, fleet_id) == 0 &&
              list->fleet_upgrades[0]->n_stores == 0 && list->fleet_upgrades[0]->n_steps == 0 &&
              list->fleet_upgrades[0]->rolled_back == 1,
          LABEL("%s: fleet: the list's first is it, without stores and log", t->label), rc == SP_OK ? NULL : "%s",
          describe(rc, &status));
    if (list != NULL)
        storeplatform__v1__list_fleet_upgrades_response__free_unpacked(list, NULL);
    if (ended != NULL)
        storeplatform__v1__fleet_upgrade__free_unpacked(ended, NULL);
    ended = NULL;

    /* 2. The second store's first upgrade, on its own, meets the fault too; then a
     * fleet upgrade of both completes with both upgraded. */
    Storeplatform__V1__UpgradeStoreResponse *upgraded = NULL;
    rc = sp_upgrade_store(client, ids[1], other_version, &upgraded, &status);
    if (upgraded != NULL)
        storeplatform__v1__upgrade_store_response__free_unpacked(upgraded, NULL);
    expect_change_ends(client, ids[1], default_version, 3,
                       LABEL("%s: fleet: the second store's own first upgrade is rolled back", t->label));
    options.wave_size = 1;
    rc = sp_upgrade_fleet(client, other_version, &options, &started, &status);
    fleet_id[0] = '\0';
    if (rc == SP_OK)
        snprintf(fleet_id, sizeof fleet_id, "%s", started->fleet_upgrade->id);
    check(rc == SP_OK, LABEL("%s: fleet: a second fleet upgrade starts once the first ended", t->label),
          rc == SP_OK ? NULL : "%s", describe(rc, &status));
    if (started != NULL)
        storeplatform__v1__upgrade_fleet_response__free_unpacked(started, NULL);
    started = NULL;
    sp_fleet_watch wait = { 0 }; /* no callback: a wait for its end */
    wait.id = fleet_id;
    wait.timeout_ms = READY_TIMEOUT_MS;
    rc = fleet_id[0] != '\0' ? sp_watch_fleet_upgrade(client, &wait, &ended, &status) : SP_ERR_INVALID;
    snprintf(wanted, sizeof wanted, "%s upgraded, %s upgraded", names[0], names[1]);
    check(rc == SP_OK && ended != NULL && wait.updates >= 1 &&
              ended->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_COMPLETED &&
              strcmp(fleet_outcomes(ended, seen, sizeof seen), wanted) == 0 && ended->upgraded == 2 &&
              ended->stores[0]->revision == 4 && ended->stores[1]->revision == 4 && ended->current_wave == 2 &&
              strcmp(fleet_step_message(ended, "end"), "completed: 2 upgraded, 0 rolled back, 0 failed, 0 skipped, 0 not started") == 0,
          LABEL("%s: fleet: completed, every store upgraded", t->label), "%s; %s '%s'; end '%s'", describe(rc, &status),
          ended != NULL ? sp_fleet_upgrade_state_name(ended->state) : "none", seen, fleet_step_message(ended, "end"));
    if (ended != NULL)
        storeplatform__v1__fleet_upgrade__free_unpacked(ended, NULL);
    ended = NULL;
    snprintf(wanted, sizeof wanted, "ready %s 4", other_version);
    for (int i = 0; i < 2; i++) {
        store_state(client, ids[i], seen, sizeof seen, &status);
        check(strcmp(seen, wanted) == 0, LABEL("%s: fleet: %s is ready on %s", t->label, names[i], other_version), "'%s'",
              seen);
    }

    /* 3. Back to the default version: paused at once (its first wave may have
     * started; the second waits), refused a second fleet upgrade, resumed, cancelled. */
    options.failure_budget = 2;
    rc = sp_upgrade_fleet(client, default_version, &options, &started, &status);
    fleet_id[0] = '\0';
    if (rc == SP_OK)
        snprintf(fleet_id, sizeof fleet_id, "%s", started->fleet_upgrade->id);
    if (started != NULL)
        storeplatform__v1__upgrade_fleet_response__free_unpacked(started, NULL);
    started = NULL;
    Storeplatform__V1__ChangeFleetUpgradeResponse *changed = NULL;
    rc = rc == SP_OK ? sp_pause_fleet_upgrade(client, fleet_id, &changed, &status) : rc;
    fleet = rc == SP_OK ? changed->fleet_upgrade : NULL;
    check(fleet != NULL && strcmp(fleet->id, fleet_id) == 0 &&
              fleet->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_PAUSED &&
              fleet->n_stores == 2 && fleet->n_steps > 0 && fleet->stores[1]->outcome == STOREPLATFORM__V1__FLEET_STORE_OUTCOME__FLEET_STORE_OUTCOME_WAITING &&
              strcmp(fleet->steps[fleet->n_steps - 1]->action, "pause") == 0,
          LABEL("%s: fleet: pause -> paused, its second wave waiting", t->label), "%s",
          fleet != NULL ? fleet_outcomes(fleet, seen, sizeof seen) : describe(rc, &status));
    if (changed != NULL)
        storeplatform__v1__change_fleet_upgrade_response__free_unpacked(changed, NULL);
    changed = NULL;

    const char *second[1] = { names[1] };
    sp_fleet_options one = SP_FLEET_OPTIONS_INIT;
    one.names = second;
    one.n_names = 1;
    rc = sp_upgrade_fleet(client, default_version, &one, &started, &status);
    check(is_error(rc, &status, "FLEET_UPGRADE_IN_PROGRESS") &&
              status.code == STOREPLATFORM__V1__CODE__CODE_FAILED_PRECONDITION && started == NULL &&
              strstr(status.message, fleet_id) != NULL && strstr(status.message, "paused") != NULL,
          LABEL("%s: fleet: a second one beside the paused one -> FLEET_UPGRADE_IN_PROGRESS", t->label), "%s",
          describe(rc, &status));
    rc = sp_get_fleet_upgrade(client, "", &got, &status);
    check(rc == SP_OK && strcmp(got->fleet_upgrade->id, fleet_id) == 0 &&
              got->fleet_upgrade->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_PAUSED,
          LABEL("%s: fleet: get without an id answers the active one", t->label), rc == SP_OK ? NULL : "%s",
          describe(rc, &status));
    if (got != NULL)
        storeplatform__v1__get_fleet_upgrade_response__free_unpacked(got, NULL);
    got = NULL;
    rc = sp_pause_fleet_upgrade(client, NULL, &changed, &status);
    check(is_error(rc, &status, "INVALID_STATE_TRANSITION") &&
              status.code == STOREPLATFORM__V1__CODE__CODE_FAILED_PRECONDITION && changed == NULL,
          LABEL("%s: fleet: pause of a paused one -> INVALID_STATE_TRANSITION", t->label), "%s", describe(rc, &status));
    rc = sp_resume_fleet_upgrade(client, fleet_id, &changed, &status);
    check(rc == SP_OK && changed->fleet_upgrade->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_RUNNING,
          LABEL("%s: fleet: resume -> running", t->label), "%s",
          rc == SP_OK ? sp_fleet_upgrade_state_name(changed->fleet_upgrade->state) : describe(rc, &status));
    if (changed != NULL)
        storeplatform__v1__change_fleet_upgrade_response__free_unpacked(changed, NULL);
    changed = NULL;
    rc = sp_resume_fleet_upgrade(client, "", &changed, &status);
    check(is_error(rc, &status, "INVALID_STATE_TRANSITION") && changed == NULL,
          LABEL("%s: fleet: resume of a running one -> INVALID_STATE_TRANSITION", t->label), "%s", describe(rc, &status));
    rc = sp_cancel_fleet_upgrade(client, NULL, &changed, &status);
    check(rc == SP_OK && strcmp(changed->fleet_upgrade->id, fleet_id) == 0 &&
              (changed->fleet_upgrade->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_CANCELLING ||
               changed->fleet_upgrade->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_CANCELLED),
          LABEL("%s: fleet: cancel -> cancelling or cancelled", t->label), "%s",
          rc == SP_OK ? sp_fleet_upgrade_state_name(changed->fleet_upgrade->state) : describe(rc, &status));
    if (changed != NULL)
        storeplatform__v1__change_fleet_upgrade_response__free_unpacked(changed, NULL);
    changed = NULL;
    fleet_watched cancelled = { 0 };
    rc = watch_fleet_to_end(client, fleet_id, &cancelled, &ended, &status);
    check(rc == SP_OK && ended != NULL &&
              ended->state == STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_CANCELLED &&
              ended->upgrading == 0 && ended->ended_ms > 0 &&
              in_order(fleet_steps(ended, steps, sizeof steps), "pause", "resume", "cancel") &&
              strncmp(fleet_step_message(ended, "end"), "cancelled: ", 11) == 0,
          LABEL("%s: fleet: it ends cancelled, its log has pause, resume, cancel", t->label), "%s; %s; '%s'",
          describe(rc, &status), ended != NULL ? sp_fleet_upgrade_state_name(ended->state) : "none", steps);
    if (ended != NULL)
        storeplatform__v1__fleet_upgrade__free_unpacked(ended, NULL);
    ended = NULL;
    rc = sp_cancel_fleet_upgrade(client, fleet_id, &changed, &status);
    check(is_error(rc, &status, "INVALID_STATE_TRANSITION") && strstr(status.message, "cancelled") != NULL,
          LABEL("%s: fleet: cancel of a cancelled one -> INVALID_STATE_TRANSITION", t->label), "%s", describe(rc, &status));
    rc = sp_pause_fleet_upgrade(client, "", &changed, &status);
    check(is_error(rc, &status, "NOT_FOUND") && status.code == STOREPLATFORM__V1__CODE__CODE_NOT_FOUND,
          LABEL("%s: fleet: pause with none active -> NOT_FOUND", t->label), "%s", describe(rc, &status));

    /* Refusals. */
    const char *unknown_id = "fu_0000000000000000";
    rc = sp_get_fleet_upgrade(client, unknown_id, &got, &status);
    check(is_error(rc, &status, "NOT_FOUND") && got == NULL,
          LABEL("%s: fleet: get of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_cancel_fleet_upgrade(client, unknown_id, &changed, &status);
    check(is_error(rc, &status, "NOT_FOUND") && changed == NULL,
          LABEL("%s: fleet: cancel of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    fleet_watched none = { 0 };
    rc = watch_fleet_to_end(client, unknown_id, &none, &ended, &status);
    check(is_error(rc, &status, "NOT_FOUND") && none.count == 0 && ended == NULL,
          LABEL("%s: fleet: watch of an unknown id -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    rc = sp_upgrade_fleet(client, "9.9-wc99.9", &one, &started, &status);
    check(is_error(rc, &status, "UNKNOWN_VERSION") && started == NULL,
          LABEL("%s: fleet: an unknown version -> UNKNOWN_VERSION", t->label), "%s", describe(rc, &status));
    const char *missing[1] = { "no-store-is-named-this" };
    one.names = missing;
    rc = sp_upgrade_fleet(client, other_version, &one, &started, &status);
    check(is_error(rc, &status, "NOT_FOUND") && started == NULL,
          LABEL("%s: fleet: a named store that is not live -> NOT_FOUND", t->label), "%s", describe(rc, &status));
    one.names = second;
    one.wave_size = 1;
    one.max_unavailable = 2;
    rc = sp_upgrade_fleet(client, other_version, &one, &started, &status);
    check(is_error(rc, &status, "INVALID_ARGUMENT") && status.code == STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT,
          LABEL("%s: fleet: max unavailable over the wave size -> INVALID_ARGUMENT", t->label), "%s",
          describe(rc, &status));
    if (started != NULL)
        storeplatform__v1__upgrade_fleet_response__free_unpacked(started, NULL);

    end_active_fleet_upgrade(client);
    char why[512] = "";
    int deleted = 1;
    for (int i = 0; i < 2; i++)
        deleted &= delete_and_wait(client, ids[i], why[0] == '\0' ? why : NULL, sizeof why);
    check(deleted, LABEL("%s: fleet: the stores are deleted", t->label), "%s", why);
    sp_status_clear(&status);
    sp_close(client);
#undef LABEL
}

/* ---- broken frames ------------------------------------------------------------------ */

static void put_be32(uint8_t *out, uint32_t value)
{
    out[0] = (uint8_t)(value >> 24);
    out[1] = (uint8_t)(value >> 16);
    out[2] = (uint8_t)(value >> 8);
    out[3] = (uint8_t)value;
}

/* Reads one frame and decodes it; NULL (with *rc set) when none arrives or it does not parse. */
static Storeplatform__V1__Envelope *read_envelope(sp_client *client, int *rc)
{
    uint8_t *body = NULL;
    size_t len = 0;
    *rc = sp_read_frame(client, &body, &len);
    if (*rc != SP_OK)
        return NULL;
    Storeplatform__V1__Envelope *env = storeplatform__v1__envelope__unpack(NULL, len, body);
    free(body);
    if (env == NULL)
        *rc = SP_ERR_PROTOCOL;
    return env;
}

/* Expects an ERROR frame on stream 0 with error_code, then the end of the connection. */
static void expect_connection_error(sp_client *client, const char *label, const char *error_code, int code)
{
    char full[256];
    int rc;
    Storeplatform__V1__Envelope *env = read_envelope(client, &rc);
    int ok = env != NULL && env->stream_id == 0 && env->type == STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_ERROR &&
             env->status != NULL && strcmp(env->status->error_code, error_code) == 0 &&
             (int)env->status->code == code;
    snprintf(full, sizeof full, "%s -> ERROR on stream 0 with %s", label, error_code);
    if (env != NULL)
        check(ok, full, "stream %u type %d %s %s: %s", env->stream_id, (int)env->type,
              env->status != NULL ? sp_code_name(env->status->code) : "-",
              env->status != NULL ? env->status->error_code : "-", env->status != NULL ? env->status->message : "-");
    else
        check(0, full, "no frame: %s (%s)", sp_strerror(rc), sp_last_error(client));
    if (env != NULL)
        storeplatform__v1__envelope__free_unpacked(env, NULL);

    uint8_t *body = NULL;
    size_t len = 0;
    rc = sp_read_frame(client, &body, &len);
    snprintf(full, sizeof full, "%s -> then the daemon closes the connection", label);
    check(rc == SP_ERR_CLOSED, full, "%s (%s)", sp_strerror(rc), sp_last_error(client));
    free(body);
}

static void expect_still_serving(const target *t, const char *after)
{
    char label[256];
    sp_status status = SP_STATUS_INIT;
    snprintf(label, sizeof label, "%s: after %s, a new connection answers health", t->label, after);
    sp_client *client = open_client(t, 1);
    if (client == NULL)
        return;
    Storeplatform__V1__HealthResponse *health = NULL;
    int rc = sp_health(client, &health, &status);
    check(rc == SP_OK && strcmp(health->status, "SERVING") == 0, label, rc == SP_OK ? NULL : "%s",
          describe(rc, &status));
    if (health != NULL)
        storeplatform__v1__health_response__free_unpacked(health, NULL);
    sp_status_clear(&status);
    sp_close(client);
}

/* A serialised REQUEST frame for Health on stream_id (with the target's token). */
static uint8_t *health_request_frame(const target *t, uint32_t stream_id, size_t *frame_len)
{
    Storeplatform__V1__Envelope env = STOREPLATFORM__V1__ENVELOPE__INIT;
    Storeplatform__V1__Envelope__MetadataEntry auth = STOREPLATFORM__V1__ENVELOPE__METADATA_ENTRY__INIT;
    Storeplatform__V1__Envelope__MetadataEntry *metadata[1] = { &auth };
    char value[512];
    env.stream_id = stream_id;
    env.type = STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_REQUEST;
    env.method = SP_METHOD_HEALTH;
    env.timeout_ms = 5000;
    if (t->tcp) {
        snprintf(value, sizeof value, "Bearer %s", t->token);
        auth.key = "authorization";
        auth.value = value;
        env.metadata = metadata;
        env.n_metadata = 1;
    }
    size_t size = storeplatform__v1__envelope__get_packed_size(&env);
    uint8_t *frame = malloc(size + 4);
    if (frame == NULL)
        abort();
    put_be32(frame, (uint32_t)size);
    storeplatform__v1__envelope__pack(&env, frame + 4);
    *frame_len = size + 4;
    return frame;
}

static void run_frame_suite(const target *t)
{
    char label[256];
    sp_client *client;
    uint8_t frame[64];
    int rc;

    /* A header announcing more than 4 MiB. */
    if ((client = open_client(t, 1)) != NULL) {
        put_be32(frame, 4u * 1024 * 1024 + 1);
        rc = sp_send_raw(client, frame, 4);
        snprintf(label, sizeof label, "%s: a header announcing 4 MiB + 1", t->label);
        if (rc == SP_OK)
            expect_connection_error(client, label, "FRAME_TOO_LARGE", STOREPLATFORM__V1__CODE__CODE_RESOURCE_EXHAUSTED);
        else
            check(0, label, "send failed: %s", sp_last_error(client));
        sp_close(client);
        expect_still_serving(t, "a frame too large");
    }

    /* A truncated frame: the header says 100, 10 bytes follow, then the write side closes. */
    if ((client = open_client(t, 1)) != NULL) {
        put_be32(frame, 100);
        memset(frame + 4, 0x08, 10);
        rc = sp_send_raw(client, frame, 14);
        if (rc == SP_OK)
            rc = sp_shutdown_write(client);
        snprintf(label, sizeof label, "%s: a truncated frame then shutdown(SHUT_WR) -> the connection closes", t->label);
        if (rc != SP_OK) {
            check(0, label, "send failed: %s", sp_last_error(client));
        } else {
            /* The daemon may say why before closing; it must close either way. */
            int frames = 0;
            uint8_t *body = NULL;
            size_t len = 0;
            while ((rc = sp_read_frame(client, &body, &len)) == SP_OK && frames < 4) {
                free(body);
                body = NULL;
                frames++;
            }
            free(body);
            check(rc == SP_ERR_CLOSED, label, "%s after %d frame(s) (%s)", sp_strerror(rc), frames,
                  sp_last_error(client));
        }
        sp_close(client);
        expect_still_serving(t, "a truncated frame");
    }

    /* A garbage envelope: a valid length, then bytes that are no Envelope. */
    if ((client = open_client(t, 1)) != NULL) {
        put_be32(frame, 16);
        memset(frame + 4, 0xFF, 16);
        rc = sp_send_raw(client, frame, 20);
        snprintf(label, sizeof label, "%s: a garbage envelope (16 x 0xFF)", t->label);
        if (rc == SP_OK)
            expect_connection_error(client, label, "MALFORMED_ENVELOPE", STOREPLATFORM__V1__CODE__CODE_INVALID_ARGUMENT);
        else
            check(0, label, "send failed: %s", sp_last_error(client));
        sp_close(client);
        expect_still_serving(t, "a garbage envelope");
    }

    /* sp_call reports a connection-level ERROR frame as the daemon's status. */
    if ((client = open_client(t, 1)) != NULL) {
        sp_status status = SP_STATUS_INIT;
        put_be32(frame, 4u * 1024 * 1024 + 1);
        rc = sp_send_raw(client, frame, 4);
        sleep_ms(100); /* let the daemon answer and close first */
        Storeplatform__V1__HealthResponse *health = NULL;
        if (rc == SP_OK)
            rc = sp_health(client, &health, &status);
        snprintf(label, sizeof label, "%s: sp_call returns a connection ERROR frame as the status", t->label);
        check(rc == SP_ERR_CLOSED && !status.local && strcmp(status.error_code, "FRAME_TOO_LARGE") == 0 &&
                  sp_is_closed(client) && health == NULL,
              label, "%s", describe(rc, &status));
        sp_status_clear(&status);
        sp_close(client);
    }

    /* A request split across writes is reassembled; an even stream id is refused on its stream only. */
    if ((client = open_client(t, 1)) != NULL) {
        size_t len = 0;
        uint8_t *request = health_request_frame(t, 2, &len);
        rc = sp_send_raw(client, request, len);
        free(request);
        Storeplatform__V1__Envelope *env = rc == SP_OK ? read_envelope(client, &rc) : NULL;
        snprintf(label, sizeof label, "%s: a REQUEST on an even stream id -> INVALID_ARGUMENT on that stream", t->label);
        check(env != NULL && env->stream_id == 2 && env->type == STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_RESPONSE &&
                  env->status != NULL && strcmp(env->status->error_code, "INVALID_ARGUMENT") == 0,
              label, "%s", env != NULL && env->status != NULL ? env->status->error_code : sp_last_error(client));
        if (env != NULL)
            storeplatform__v1__envelope__free_unpacked(env, NULL);

        request = health_request_frame(t, 3, &len);
        rc = sp_send_raw(client, request, 3); /* part of the header */
        sleep_ms(50);
        if (rc == SP_OK)
            rc = sp_send_raw(client, request + 3, len / 2);
        sleep_ms(50);
        if (rc == SP_OK)
            rc = sp_send_raw(client, request + 3 + len / 2, len - 3 - len / 2);
        free(request);
        env = rc == SP_OK ? read_envelope(client, &rc) : NULL;
        snprintf(label, sizeof label, "%s: a REQUEST split over three writes is answered on the same connection",
                 t->label);
        int ok = env != NULL && env->stream_id == 3 && env->type == STOREPLATFORM__V1__FRAME_TYPE__FRAME_TYPE_RESPONSE &&
                 (env->status == NULL || env->status->code == STOREPLATFORM__V1__CODE__CODE_OK);
        Storeplatform__V1__HealthResponse *health =
            ok ? storeplatform__v1__health_response__unpack(NULL, env->payload.len, env->payload.data) : NULL;
        check(ok && health != NULL && strcmp(health->status, "SERVING") == 0, label, "%s",
              env != NULL && env->status != NULL ? env->status->error_code : sp_last_error(client));
        if (health != NULL)
            storeplatform__v1__health_response__free_unpacked(health, NULL);
        if (env != NULL)
            storeplatform__v1__envelope__free_unpacked(env, NULL);
        sp_close(client);
    }
}

/* ---- main ---------------------------------------------------------------------------- */

/* ---- WatchStores ------------------------------------------------------------------- */

#define MAX_WATCHED 64

/* What a watch in the tests received. */
typedef struct watched {
    int count;
    int64_t ids[MAX_WATCHED];
    int from[MAX_WATCHED];
    int to[MAX_WATCHED];
    char first_action[32];
    int stop_at_status; /* stop the watch once an event reaches this status; -1 never */
    int resumes_seen;
} watched;

static int collect_event(const Storeplatform__V1__StoreEvent *event, void *context)
{
    watched *w = context;
    if (w->count < MAX_WATCHED) {
        w->ids[w->count] = event->audit_id;
        w->from[w->count] = (int)event->from_status;
        w->to[w->count] = (int)event->to_status;
        if (w->count == 0)
            snprintf(w->first_action, sizeof w->first_action, "%s", text(event->action));
        w->count++;
    }
    return (int)event->to_status == w->stop_at_status || w->count >= MAX_WATCHED;
}

static int refuse_resume(int64_t after_audit_id, void *context)
{
    (void)after_audit_id;
    (void)context;
    return 1;
}

static int count_resume(int64_t after_audit_id, void *context)
{
    (void)after_audit_id;
    ((watched *)context)->resumes_seen++;
    return 0;
}

/* The audit ids of one store, oldest first, into ids (at most max); their number, or -1. */
static int audit_ids(sp_client *client, const char *store_id, int64_t *ids, int max, sp_status *status)
{
    Storeplatform__V1__ListAuditRequest request = STOREPLATFORM__V1__LIST_AUDIT_REQUEST__INIT;
    request.limit = 1000;
    request.store_id = (char *)store_id;
    ProtobufCMessage *response = NULL;
    if (sp_call(client, SP_METHOD_LIST_AUDIT, &request.base, &storeplatform__v1__list_audit_response__descriptor,
                10000, &response, status) != SP_OK)
        return -1;
    Storeplatform__V1__ListAuditResponse *audit = (Storeplatform__V1__ListAuditResponse *)response;
    int n = 0;
    /* Newest first in the answer. */
    for (size_t i = audit->n_events; i > 0 && n < max; i--)
        ids[n++] = audit->events[i - 1]->id;
    storeplatform__v1__list_audit_response__free_unpacked(audit, NULL);
    return n;
}

/* The daemon for this suite runs with --watch-replay-limit 2: a watch resumed
 * after a store's first audit row has more to replay than one replay holds, so
 * the daemon ends it with WATCH_FELL_BEHIND after 2 events, and sp_watch_stores
 * must resume from the last one it delivered until it has them all. */
static void run_watch_suite(const target *t)
{
    char label[160];
    sp_status status = SP_STATUS_INIT;
    sp_client *client = open_client(t, 1);
    if (client == NULL)
        return;
    char name[64];
    snprintf(name, sizeof name, "c-watch-%s-%ld", t->label, (long)getpid());
    Storeplatform__V1__CreateStoreResponse *created = NULL;
    int rc = sp_create_store(client, name, NULL, &created, &status);
    snprintf(label, sizeof label, "%s: watch: create %s", t->label, name);
    check(rc == SP_OK, label, rc == SP_OK ? NULL : "%s", describe(rc, &status));
    if (rc != SP_OK) {
        sp_status_clear(&status);
        sp_close(client);
        return;
    }
    char id[128];
    snprintf(id, sizeof id, "%s", created->store->id);
    storeplatform__v1__create_store_response__free_unpacked(created, NULL);
    track(id);
    int last = wait_for_status(client, id, STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY, READY_TIMEOUT_MS, &status);
    snprintf(label, sizeof label, "%s: watch: the store gets ready", t->label);
    check(last == STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_READY, label, "status %s", sp_store_status_name(last));
    char why[1024] = "";
    int deleted = delete_and_wait(client, id, why, sizeof why);
    snprintf(label, sizeof label, "%s: watch: the store is deleted", t->label);
    check(deleted, label, "%s", why);

    /* Every transition of the store, from the audit log. */
    int64_t expected[MAX_WATCHED];
    int n_expected = audit_ids(client, id, expected, MAX_WATCHED, &status);
    snprintf(label, sizeof label, "%s: watch: the audit log has create, ready, delete, deleted", t->label);
    check(n_expected >= 4, label, "%d rows", n_expected);
    if (n_expected < 4) {
        sp_status_clear(&status);
        sp_close(client);
        return;
    }

    /* Resume after the first row: the rest, through several WATCH_FELL_BEHIND. */
    watched w = { 0 };
    w.stop_at_status = STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_DELETED;
    sp_watch watch = { 0 };
    watch.store_id = id;
    watch.after_audit_id = expected[0];
    watch.on_event = collect_event;
    watch.on_resume = count_resume;
    watch.context = &w;
    rc = sp_watch_stores(client, &watch, &status);
    snprintf(label, sizeof label, "%s: watch: after_audit_id replays to the end, stopped by the callback", t->label);
    check(rc == SP_OK, label, rc == SP_OK ? NULL : "%s", describe(rc, &status));
    snprintf(label, sizeof label, "%s: watch: every later transition exactly once, in order", t->label);
    int same = w.count == n_expected - 1;
    for (int i = 0; same && i < w.count; i++)
        same = w.ids[i] == expected[i + 1];
    check(same, label, "got %d events for %d rows; first id %lld, expected %lld", w.count, n_expected - 1,
          w.count > 0 ? (long long)w.ids[0] : -1LL, (long long)expected[1]);
    int chained = 1;
    for (int i = 1; i < w.count; i++)
        chained = chained && w.from[i] == w.to[i - 1];
    snprintf(label, sizeof label, "%s: watch: each event starts where the one before ended", t->label);
    check(chained, label, NULL);
    snprintf(label, sizeof label, "%s: watch: resumed after WATCH_FELL_BEHIND (replay limit 2)", t->label);
    check(watch.resumes >= 1 && (int)watch.resumes == w.resumes_seen, label, "resumes %u, callbacks %d",
          watch.resumes, w.resumes_seen);
    snprintf(label, sizeof label, "%s: watch: last_audit_id is the last delivered", t->label);
    check(watch.last_audit_id == expected[n_expected - 1], label, "%lld", (long long)watch.last_audit_id);

    /* The connection is in step after the cancelled stream. */
    Storeplatform__V1__HealthResponse *health = NULL;
    rc = sp_health(client, &health, &status);
    snprintf(label, sizeof label, "%s: watch: the connection still answers after a stopped watch", t->label);
    check(rc == SP_OK, label, rc == SP_OK ? NULL : "%s", describe(rc, &status));
    if (health != NULL)
        storeplatform__v1__health_response__free_unpacked(health, NULL);

    /* on_resume that says stop: the call ends with the daemon's WATCH_FELL_BEHIND
     * after the 2 events one replay holds, and says where to go on from. */
    watched refused = { 0 };
    refused.stop_at_status = -1;
    sp_watch no_resume = { 0 };
    no_resume.store_id = id;
    no_resume.after_audit_id = expected[0];
    no_resume.on_event = collect_event;
    no_resume.on_resume = refuse_resume;
    no_resume.context = &refused;
    rc = sp_watch_stores(client, &no_resume, &status);
    snprintf(label, sizeof label, "%s: watch: WATCH_FELL_BEHIND (ABORTED) when on_resume declines", t->label);
    check(is_error(rc, &status, "WATCH_FELL_BEHIND") && status.code == STOREPLATFORM__V1__CODE__CODE_ABORTED &&
              refused.count == 2 && no_resume.last_audit_id == expected[2],
          label, "%s; %d events, last %lld", describe(rc, &status), refused.count, (long long)no_resume.last_audit_id);
    char where[64];
    snprintf(where, sizeof where, "after audit id %lld", (long long)expected[2]);
    snprintf(label, sizeof label, "%s: watch: the message names where to resume", t->label);
    check(status.message != NULL && strstr(status.message, where) != NULL, label, "%s", text(status.message));

    /* An unknown store: NOT_FOUND, nothing delivered. */
    watched none = { 0 };
    none.stop_at_status = -1;
    sp_watch unknown = { 0 };
    unknown.store_id = "st_missing";
    unknown.on_event = collect_event;
    unknown.context = &none;
    rc = sp_watch_stores(client, &unknown, &status);
    snprintf(label, sizeof label, "%s: watch: an unknown store is NOT_FOUND", t->label);
    check(is_error(rc, &status, "NOT_FOUND") && none.count == 0, label, "%s", describe(rc, &status));

    sp_status_clear(&status);
    sp_close(client);
}

/* ---- TLS ---------------------------------------------------------------------------- */

/* dir/name into path. */
static const char *pki(char *path, size_t size, const char *dir, const char *name)
{
    snprintf(path, size, "%s/%s", dir, name);
    return path;
}

/* A TLS connection with these files, and the outcome of one Health call on it:
 * *message receives the connect error or the call's status message. */
static int tls_health(const target *t, const char *ca, const char *cert, const char *key, const char *token,
                      char *message, size_t size)
{
    sp_tls_options options = SP_TLS_OPTIONS_INIT;
    options.ca_file = ca;
    options.cert_file = cert;
    options.key_file = key;
    options.handshake_timeout_ms = 10000;
    message[0] = '\0';
    sp_client *client = sp_connect_tls(t->host, t->port, &options, message, size);
    if (client == NULL)
        return SP_ERR_CLOSED;
    if (token != NULL)
        sp_set_token(client, token);
    sp_set_timeout(client, 10000);
    sp_status status = SP_STATUS_INIT;
    Storeplatform__V1__HealthResponse *health = NULL;
    int rc = sp_health(client, &health, &status);
    snprintf(message, size, "%s: %s", text(status.error_code), text(status.message));
    if (health != NULL)
        storeplatform__v1__health_response__free_unpacked(health, NULL);
    sp_status_clear(&status);
    sp_close(client);
    return rc;
}

static void run_tls_suite(const target *t, const char *dir)
{
    char message[1024];
    char ca[1024], cert[1024], key[1024];
    pki(ca, sizeof ca, dir, "ca.pem");

    /* The daemon's certificate verified against the CA, for the address 127.0.0.1; a token. */
    int rc = tls_health(t, ca, NULL, NULL, t->token, message, sizeof message);
    check(rc == SP_OK, "tls: health with the CA and a token", "%s %s", sp_strerror(rc), message);

    /* A client certificate instead of a token: the caller is cert:<subject>. */
    sp_tls_options options = SP_TLS_OPTIONS_INIT;
    options.ca_file = ca;
    options.cert_file = pki(cert, sizeof cert, dir, "client.pem");
    options.key_file = pki(key, sizeof key, dir, "client.key");
    char err[512] = "";
    sp_client *client = sp_connect_tls(t->host, t->port, &options, err, sizeof err);
    check(client != NULL && sp_is_tls(client), "tls: connect with a client certificate", "%s", err);
    if (client != NULL) {
        sp_set_timeout(client, 10000);
        sp_status status = SP_STATUS_INIT;
        Storeplatform__V1__CreateStoreResponse *created = NULL;
        char name[64];
        snprintf(name, sizeof name, "ctls-%ld", (long)getpid());
        rc = sp_create_store(client, name, NULL, &created, &status);
        check(rc == SP_OK, "tls: create with a client certificate and no token", "%s", describe(rc, &status));
        if (rc == SP_OK) {
            track(created->store->id);
            Storeplatform__V1__ListAuditRequest request = STOREPLATFORM__V1__LIST_AUDIT_REQUEST__INIT;
            request.store_id = created->store->id;
            ProtobufCMessage *response = NULL;
            rc = sp_call(client, SP_METHOD_LIST_AUDIT, &request.base, &storeplatform__v1__list_audit_response__descriptor,
                         10000, &response, &status);
            int found = 0;
            char actors[512] = "";
            if (rc == SP_OK) {
                Storeplatform__V1__ListAuditResponse *audit = (Storeplatform__V1__ListAuditResponse *)response;
                for (size_t i = 0; i < audit->n_events; i++) {
                    found |= strcmp(audit->events[i]->actor, "cert:CN=billing,O=Example") == 0;
                    size_t used = strlen(actors);
                    snprintf(actors + used, sizeof actors - used, "%s ", audit->events[i]->actor);
                }
                storeplatform__v1__list_audit_response__free_unpacked(audit, NULL);
            }
            check(found, "tls: the audit log names the caller cert:CN=billing,O=Example", "%s; actors: %s",
                  describe(rc, &status), actors);
            storeplatform__v1__create_store_response__free_unpacked(created, NULL);
        }
        sp_status_clear(&status);
        sp_close(client);
    }

    /* A request of 1 MiB: many TLS records, written as the socket takes them (with
     * a generous deadline: a loaded machine decrypts it slowly). */
    client = open_client(t, 1);
    if (client != NULL) {
        sp_set_timeout(client, 60000);
        size_t size = 1024u * 1024;
        char *name = malloc(size + 1);
        if (name == NULL)
            abort();
        memset(name, 'a', size);
        name[size] = '\0';
        sp_status status = SP_STATUS_INIT;
        Storeplatform__V1__CreateStoreResponse *created = NULL;
        rc = sp_create_store(client, name, NULL, &created, &status);
        free(name);
        check(is_error(rc, &status, "INVALID_STORE_NAME") && created == NULL,
              "tls: a 1 MiB request is read whole and answered", "%s", describe(rc, &status));
        if (created != NULL)
            storeplatform__v1__create_store_response__free_unpacked(created, NULL);
        Storeplatform__V1__HealthResponse *health = NULL;
        rc = sp_health(client, &health, &status);
        check(rc == SP_OK, "tls: the connection answers after it", "%s", describe(rc, &status));
        if (health != NULL)
            storeplatform__v1__health_response__free_unpacked(health, NULL);
        sp_status_clear(&status);
        sp_close(client);
    }

    /* Neither token nor certificate. */
    rc = tls_health(t, ca, NULL, NULL, NULL, message, sizeof message);
    check(rc == SP_ERR_STATUS && strstr(message, "UNAUTHENTICATED") != NULL,
          "tls: neither token nor certificate -> UNAUTHENTICATED", "%s %s", sp_strerror(rc), message);

    /* The daemon's certificate, checked against another CA. */
    pki(cert, sizeof cert, dir, "other-ca.pem");
    rc = tls_health(t, cert, NULL, NULL, t->token, message, sizeof message);
    char expected[1200];
    snprintf(expected, sizeof expected,
             "the daemon's certificate (CN=localhost, issued by StorePlatform Test CA) is not signed by the CA file %s; "
             "give its CA with --tls-ca",
             cert);
    check(rc == SP_ERR_CLOSED && strstr(message, expected) != NULL, "tls: an untrusted daemon certificate is refused",
          "%s %s", sp_strerror(rc), message);

    /* The daemon's certificate holds 127.0.0.1 and localhost, not another name. */
    options = (sp_tls_options)SP_TLS_OPTIONS_INIT;
    options.ca_file = ca;
    options.server_name = "elsewhere.example";
    client = sp_connect_tls(t->host, t->port, &options, err, sizeof err);
    check(client == NULL && strstr(err, "is not valid for this host name") != NULL,
          "tls: a server name the certificate does not hold is refused", "%s", err);
    sp_close(client);
    options.server_name = "localhost";
    err[0] = '\0';
    client = sp_connect_tls(t->host, t->port, &options, err, sizeof err);
    check(client != NULL, "tls: --tls-server-name localhost is accepted", "%s", err);
    sp_close(client);

    /* Client certificates the daemon refuses: it says so after the handshake (TLS 1.3). */
    rc = tls_health(t, ca, pki(cert, sizeof cert, dir, "expired.pem"), pki(key, sizeof key, dir, "expired.key"), NULL,
                    message, sizeof message);
    check(rc != SP_OK && strstr(message, "the daemon refused the client certificate: it has expired") != NULL,
          "tls: an expired client certificate is refused", "%s %s", sp_strerror(rc), message);
    rc = tls_health(t, ca, pki(cert, sizeof cert, dir, "other.pem"), pki(key, sizeof key, dir, "other.key"), NULL,
                    message, sizeof message);
    check(rc != SP_OK &&
              strstr(message, "the daemon refused the client certificate: it is not signed by a CA the daemon trusts") !=
                  NULL,
          "tls: a client certificate of another CA is refused", "%s %s", sp_strerror(rc), message);

    /* Files that do not do. */
    rc = tls_health(t, pki(cert, sizeof cert, dir, "missing.pem"), NULL, NULL, t->token, message, sizeof message);
    check(rc == SP_ERR_CLOSED && strstr(message, "cannot read the CA file") != NULL && strstr(message, "missing.pem") != NULL,
          "tls: a missing CA file is named", "%s", message);
    rc = tls_health(t, ca, pki(cert, sizeof cert, dir, "client.pem"), pki(key, sizeof key, dir, "other.key"), NULL,
                    message, sizeof message);
    check(rc == SP_ERR_CLOSED && strstr(message, "other.key") != NULL, "tls: a key that is not the certificate's is named",
          "%s", message);

    /* A plain client on the TLS port. */
    client = sp_connect_tcp(t->host, t->port, err, sizeof err);
    if (client != NULL) {
        sp_set_token(client, t->token);
        sp_set_timeout(client, 10000);
        sp_status status = SP_STATUS_INIT;
        Storeplatform__V1__HealthResponse *health = NULL;
        rc = sp_health(client, &health, &status);
        check(rc != SP_OK && strstr(text(status.message), "the daemon answered in TLS") != NULL,
              "tls: a plain client on the TLS port is told so", "%s", describe(rc, &status));
        if (health != NULL)
            storeplatform__v1__health_response__free_unpacked(health, NULL);
        sp_status_clear(&status);
        sp_close(client);
    } else {
        check(0, "tls: a plain client on the TLS port is told so", "connect: %s", err);
    }
}

/* A daemon that cannot be reached: the message says which socket, what is there,
 * and how to point the client at the daemon. */
static void run_unreachable_checks(void)
{
    char path[128];
    char err[1024] = "";
    snprintf(path, sizeof path, "/tmp/storeplatform-c-test-%ld-none.sock", (long)getpid());
    sp_client *client = sp_connect_unix(path, err, sizeof err);
    char expected[256];
    snprintf(expected, sizeof expected, "cannot reach storeplatformd: there is no socket at %s. Is storeplatformd running?",
             path);
    check(client == NULL && strncmp(err, expected, strlen(expected)) == 0 && strstr(err, "STOREPLATFORM_SOCKET=PATH") != NULL &&
              strstr(err, "--socket PATH") != NULL,
          "unix: no daemon at the socket -> what to check and how to point the client", "'%s'", err);
    if (client != NULL)
        sp_close(client);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *socket_path = getenv("STOREPLATFORM_TEST_SOCKET");
    const char *tcp = getenv("STOREPLATFORM_TEST_TCP");
    const char *token = getenv("STOREPLATFORM_TEST_TOKEN");
    if (socket_path == NULL || socket_path[0] == '\0' || tcp == NULL || tcp[0] == '\0' || token == NULL ||
        token[0] == '\0') {
        fprintf(stderr,
                "test_client needs a running storeplatformd and STOREPLATFORM_TEST_SOCKET (its Unix socket),\n"
                "STOREPLATFORM_TEST_TCP (host:port) and STOREPLATFORM_TEST_TOKEN (the token its TCP listener\n"
                "requires). See clients/c/README.md.\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }

    target unix_target = { .label = "unix", .tcp = 0, .path = socket_path };
    target tcp_target = { .label = "tcp", .tcp = 1, .token = token };
    const char *colon = strrchr(tcp, ':');
    size_t host_length = colon != NULL ? (size_t)(colon - tcp) : 0;
    if (colon == NULL || host_length == 0 || host_length >= sizeof tcp_target.host || atoi(colon + 1) <= 0) {
        fprintf(stderr, "STOREPLATFORM_TEST_TCP must be host:port, not '%s'\n", tcp);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    memcpy(tcp_target.host, tcp, host_length);
    tcp_target.host[host_length] = '\0';
    tcp_target.port = atoi(colon + 1);
    upgrade_fault = getenv("STOREPLATFORM_TEST_UPGRADE_FAULT");
    if (upgrade_fault != NULL && upgrade_fault[0] == '\0')
        upgrade_fault = NULL;
    const char *tls_dir = getenv("STOREPLATFORM_TEST_TLS_DIR");
    char tls_ca[1024];
    sp_tls_options tls = SP_TLS_OPTIONS_INIT;
    if (tls_dir != NULL && tls_dir[0] != '\0') {
        tls.ca_file = pki(tls_ca, sizeof tls_ca, tls_dir, "ca.pem");
        tcp_target.tls = &tls;
        tcp_target.label = "tls";
    }

    run_unreachable_checks();
    run_rpc_suite(&unix_target);
    cleanup_tracked(&unix_target);
    run_rpc_suite(&tcp_target);
    cleanup_tracked(&tcp_target);
    run_upgrade_suite(&unix_target);
    cleanup_tracked(&unix_target);
    run_upgrade_suite(&tcp_target);
    cleanup_tracked(&tcp_target);
    run_fleet_suite(&unix_target);
    cleanup_tracked(&unix_target);
    run_fleet_suite(&tcp_target);
    cleanup_tracked(&tcp_target);
    run_frame_suite(&unix_target);
    run_frame_suite(&tcp_target);
    run_watch_suite(&unix_target);
    run_watch_suite(&tcp_target);
    if (tcp_target.tls != NULL)
        run_tls_suite(&tcp_target, tls_dir);
    cleanup_tracked(&unix_target);

    for (int i = 0; i < MAX_TRACKED; i++)
        free(tracked[i]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
