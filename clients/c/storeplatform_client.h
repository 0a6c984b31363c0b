/*
 * storeplatform_client.h: a small synchronous C client for storeplatformd.
 *
 * The wire protocol (framing, stream ids, metadata, deadlines, errors) is
 * described once, in proto/PROTOCOL.md; the messages are the protobuf-c code
 * generated from the .proto files in proto/storeplatform/v1/ into gen/.
 *
 * One connection carries one call at a time: an sp_client is not thread-safe;
 * use one per thread (or serialise the calls yourself).
 *
 * Memory: a response message returned through response_out is owned by the
 * caller and freed with protobuf_c_message_free_unpacked(msg, NULL) (or the
 * generated storeplatform__v1__*__free_unpacked). An sp_status owns its
 * strings: initialise it with SP_STATUS_INIT, reuse it across calls (each call
 * frees what the previous one left), and release it with sp_status_clear.
 */
#ifndef STOREPLATFORM_CLIENT_H
#define STOREPLATFORM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "storeplatform/v1/admin.pb-c.h"
#include "storeplatform/v1/envelope.pb-c.h"
#include "storeplatform/v1/fleet.pb-c.h"
#include "storeplatform/v1/platform.pb-c.h"
#include "storeplatform/v1/store.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest response frame accepted by default: 4 MiB, the daemon's own default. */
#define SP_DEFAULT_MAX_FRAME ((size_t)4 * 1024 * 1024)
/* The deadline the convenience wrappers send by default, milliseconds. */
#define SP_DEFAULT_TIMEOUT_MS 30000u
/* How much longer than a call's timeout_ms the client itself waits for the
 * answer before giving up on the connection (the daemon enforces the deadline;
 * this only guards against a daemon that stopped answering). */
#define SP_LOCAL_GRACE_MS 5000u

/* Full method names (PROTOCOL.md, "Methods"). */
#define SP_METHOD_HEALTH        "/storeplatform.v1.PlatformService/Health"
#define SP_METHOD_GET_METRICS   "/storeplatform.v1.PlatformService/GetMetrics"
#define SP_METHOD_LIST_AUDIT    "/storeplatform.v1.PlatformService/ListAudit"
#define SP_METHOD_CREATE_STORE  "/storeplatform.v1.StoreService/CreateStore"
#define SP_METHOD_GET_STORE     "/storeplatform.v1.StoreService/GetStore"
#define SP_METHOD_LIST_STORES   "/storeplatform.v1.StoreService/ListStores"
#define SP_METHOD_DELETE_STORE  "/storeplatform.v1.StoreService/DeleteStore"
#define SP_METHOD_RETRY_STORE   "/storeplatform.v1.StoreService/RetryStore"
#define SP_METHOD_WATCH_STORES  "/storeplatform.v1.StoreService/WatchStores"
#define SP_METHOD_LIST_ENGINE_VERSIONS "/storeplatform.v1.StoreService/ListEngineVersions"
#define SP_METHOD_LIST_STORE_REVISIONS "/storeplatform.v1.StoreService/ListStoreRevisions"
#define SP_METHOD_UPGRADE_STORE "/storeplatform.v1.StoreService/UpgradeStore"
#define SP_METHOD_ROLLBACK_STORE "/storeplatform.v1.StoreService/RollbackStore"
#define SP_METHOD_UPGRADE_FLEET "/storeplatform.v1.FleetService/UpgradeFleet"
#define SP_METHOD_GET_FLEET_UPGRADE "/storeplatform.v1.FleetService/GetFleetUpgrade"
#define SP_METHOD_LIST_FLEET_UPGRADES "/storeplatform.v1.FleetService/ListFleetUpgrades"
#define SP_METHOD_PAUSE_FLEET_UPGRADE "/storeplatform.v1.FleetService/PauseFleetUpgrade"
#define SP_METHOD_RESUME_FLEET_UPGRADE "/storeplatform.v1.FleetService/ResumeFleetUpgrade"
#define SP_METHOD_CANCEL_FLEET_UPGRADE "/storeplatform.v1.FleetService/CancelFleetUpgrade"
#define SP_METHOD_WATCH_FLEET_UPGRADE "/storeplatform.v1.FleetService/WatchFleetUpgrade"
#define SP_METHOD_RECONCILE     "/storeplatform.v1.AdminService/Reconcile"
#define SP_METHOD_LIST_OPERATIONS "/storeplatform.v1.AdminService/ListOperations"
#define SP_METHOD_GET_LIMITS    "/storeplatform.v1.AdminService/GetLimits"
#define SP_METHOD_UPDATE_LIMITS "/storeplatform.v1.AdminService/UpdateLimits"

/* Return values of the functions below. */
enum {
    /* The call succeeded (status OK). */
    SP_OK = 0,
    /* The daemon answered the call with a non-OK status (in status_out);
     * the connection stays usable. */
    SP_ERR_STATUS = 1,
    /* The connection is gone: the daemon closed it, sent a connection-level
     * ERROR frame (its status is in status_out), or it was closed before. */
    SP_ERR_CLOSED = -1,
    /* A read, write or connect failed (errno text in the status message). */
    SP_ERR_IO = -2,
    /* The daemon sent something this client refuses: a frame longer than the
     * max frame size, an envelope or response payload that does not parse. */
    SP_ERR_PROTOCOL = -3,
    /* No answer within timeout_ms + SP_LOCAL_GRACE_MS. */
    SP_ERR_TIMEOUT = -4,
    /* A bad argument (NULL client, NULL method, ...); nothing was sent. */
    SP_ERR_INVALID = -5,
    /* Out of memory. */
    SP_ERR_NOMEM = -6
};

/* After SP_ERR_CLOSED, SP_ERR_IO, SP_ERR_TIMEOUT and a refused frame
 * (SP_ERR_PROTOCOL with error_code CLIENT_FRAME_TOO_LARGE or
 * CLIENT_MALFORMED_ENVELOPE) the connection is closed: every later call returns
 * SP_ERR_CLOSED. sp_close is still needed to free the client. */

/* The outcome of a call. Statuses the client makes itself (local = 1) use the
 * gRPC codes too, with error codes starting with "CLIENT_":
 * CLIENT_CONNECTION_CLOSED, CLIENT_IO_ERROR, CLIENT_TIMEOUT,
 * CLIENT_FRAME_TOO_LARGE, CLIENT_MALFORMED_ENVELOPE, CLIENT_BAD_RESPONSE,
 * CLIENT_NOT_UNARY, CLIENT_INVALID_ARGUMENT, CLIENT_OUT_OF_MEMORY. */
typedef struct sp_status {
    /* gRPC canonical code (Storeplatform__V1__Code); 0 means OK. */
    int code;
    /* The platform's error code, e.g. "QUOTA_EXCEEDED"; "" on success.
     * Never NULL after a call. */
    char *error_code;
    /* Human-readable explanation; "" on success. Never NULL after a call. */
    char *message;
    /* For RATE_LIMITED: how long to wait before trying again, milliseconds. */
    uint64_t retry_after_ms;
    /* The call's request id as the daemon echoed it ("" when unknown). */
    char *request_id;
    /* 1 when the client made this status (see above), 0 when the daemon sent it. */
    int local;
} sp_status;

#define SP_STATUS_INIT { 0, NULL, NULL, 0, NULL, 0 }

/* Frees the strings of *status and resets it to SP_STATUS_INIT. */
void sp_status_clear(sp_status *status);

typedef struct sp_client sp_client;

/* Connect to the daemon's Unix socket or to host:port over TCP. On failure
 * return NULL and write a message into err (if err and errlen > 0). */
sp_client *sp_connect_unix(const char *path, char *err, size_t errlen);
sp_client *sp_connect_tcp(const char *host, int port, char *err, size_t errlen);

/*
 * TLS on TCP (the daemon's --tls-cert/--tls-key; README.md, "TLS"). The
 * daemon's certificate is verified against ca_file (the system's CAs when NULL)
 * and must hold server_name, or the host connected to when server_name is NULL
 * (an IP address is matched against the certificate's IP entries; a name is also
 * sent as SNI). cert_file and key_file (PEM, unencrypted key) go together: a
 * client certificate for a daemon that asks for one; a verified one makes the
 * caller cert:<subject>, and then no token is needed. TLS 1.2 or later.
 */
typedef struct sp_tls_options {
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    const char *server_name;
    /* How long the TLS handshake may take, milliseconds; 0 = SP_DEFAULT_TIMEOUT_MS.
     * (The TCP connect itself has no timeout, as in sp_connect_tcp.) */
    uint32_t handshake_timeout_ms;
} sp_tls_options;

#define SP_TLS_OPTIONS_INIT { NULL, NULL, NULL, NULL, 0 }

/* Connect to host:port and complete a TLS handshake. On failure return NULL and
 * write into err what went wrong and what to do: the daemon's certificate is not
 * trusted, has expired or does not hold the name; the daemon wants a client
 * certificate; the port does not speak TLS; a file cannot be read; ... A daemon
 * refuses a client certificate (expired, of another CA) only after the
 * handshake, in TLS 1.3: then the first call fails (SP_ERR_IO, CLIENT_IO_ERROR)
 * with the reason in its status message. Every read and write of the connection
 * then goes through TLS, with the same deadlines as in clear. */
sp_client *sp_connect_tls(const char *host, int port, const sp_tls_options *tls, char *err, size_t errlen);

/* 1 when the connection speaks TLS, else 0. */
int sp_is_tls(const sp_client *client);

/* The bearer token sent as "authorization: Bearer <token>" on every call
 * (TCP listeners with a token file require it). NULL or "" removes it.
 * Returns SP_OK, SP_ERR_INVALID or SP_ERR_NOMEM. */
int sp_set_token(sp_client *client, const char *token);

/* The largest response frame accepted (default SP_DEFAULT_MAX_FRAME; 0 restores
 * the default). A longer frame is refused from its header, before allocating. */
void sp_set_max_frame(sp_client *client, size_t max_frame);

/* The timeout_ms the convenience wrappers send (default SP_DEFAULT_TIMEOUT_MS;
 * 0 = no deadline). It also bounds how long sp_read_frame waits. */
void sp_set_timeout(sp_client *client, uint32_t timeout_ms);

/* 1 once the connection is closed (see above), else 0. */
int sp_is_closed(const sp_client *client);

/* A description of the last failure on this client ("" if none). */
const char *sp_last_error(const sp_client *client);

/* Closes the connection and frees the client. NULL is fine. */
void sp_close(sp_client *client);

/*
 * A unary call: sends REQUEST(method, request) on the next odd stream id with
 * metadata (authorization when a token is set, a request-id) and timeout_ms
 * (0 = no deadline), then reads frames until the answer for that stream id
 * arrives (frames of other streams are skipped).
 *
 * request may be NULL (an empty message). On SP_OK, if response_type and
 * response_out are non-NULL, *response_out receives the unpacked response.
 * In every other case *response_out is NULL. status_out (may be NULL) receives
 * the outcome: the daemon's status, or a local one (see sp_status).
 */
int sp_call(sp_client *client, const char *method, const ProtobufCMessage *request,
            const ProtobufCMessageDescriptor *response_type, uint32_t timeout_ms,
            ProtobufCMessage **response_out, sp_status *status_out);

/* Convenience wrappers around sp_call, with the client's timeout (sp_set_timeout). */
int sp_health(sp_client *client, Storeplatform__V1__HealthResponse **out, sp_status *status);
/* engine may be NULL or "" (the daemon's default, "woocommerce"). */
int sp_create_store(sp_client *client, const char *name, const char *engine,
                    Storeplatform__V1__CreateStoreResponse **out, sp_status *status);
int sp_get_store(sp_client *client, const char *id,
                 Storeplatform__V1__GetStoreResponse **out, sp_status *status);
/* GetStore by name: the live (not deleted) store with that name, which is unique
 * among live stores; NOT_FOUND when none has it (a deleted store is found by its
 * id only). */
int sp_get_store_by_name(sp_client *client, const char *name,
                         Storeplatform__V1__GetStoreResponse **out, sp_status *status);
/* page_size 0 = the daemon's default; page_token NULL or "" = the first page. */
int sp_list_stores(sp_client *client, uint32_t page_size, const char *page_token,
                   Storeplatform__V1__ListStoresResponse **out, sp_status *status);
int sp_delete_store(sp_client *client, const char *id,
                    Storeplatform__V1__DeleteStoreResponse **out, sp_status *status);
int sp_retry_store(sp_client *client, const char *id,
                   Storeplatform__V1__RetryStoreResponse **out, sp_status *status);

/*
 * Versions and upgrades (README.md at the repository root, "Upgrading a store").
 *
 * sp_list_engine_versions: every version stores can run, oldest first within an
 * engine; the one new stores get has is_default set.
 *
 * sp_list_store_revisions: a store's releases (install, upgrades, rollbacks),
 * newest first, each with its version, status, who asked and what happened.
 * NOT_FOUND for an unknown store.
 *
 * sp_upgrade_store: starts moving a ready store to version (a name
 * sp_list_engine_versions lists) and returns the store at once, upgrading, with
 * version the target. The change goes on in the daemon: the store ends ready on
 * the new version as a new revision; or, when the upgrade failed and the daemon
 * rolled it back by itself, ready on its old version (the revision of the upgrade
 * is then rolled-back, and its message says why); or failed when even that
 * rollback failed. Poll sp_get_store (or watch the store) until its status is no
 * longer upgrading, then compare its version. Errors: NOT_FOUND,
 * INVALID_ARGUMENT (no version), UNKNOWN_VERSION, ALREADY_ON_VERSION,
 * INVALID_STATE_TRANSITION (the store is not ready), OPERATION_IN_PROGRESS
 * (another operation runs on it, an upgrade among them).
 *
 * sp_rollback_store: starts bringing a ready store back to one of its earlier
 * revisions, as a new revision with that revision's version; it goes on and ends
 * as an upgrade does. Errors: NOT_FOUND, UNKNOWN_REVISION (a revision the store
 * does not have, never ran, or runs now), INVALID_STATE_TRANSITION,
 * OPERATION_IN_PROGRESS.
 *
 * Each takes the store's id; its _by_name form the name of a live store instead
 * (NOT_FOUND when no live store has it; a deleted store is named by its id only).
 */
int sp_list_engine_versions(sp_client *client, Storeplatform__V1__ListEngineVersionsResponse **out, sp_status *status);
int sp_list_store_revisions(sp_client *client, const char *id,
                            Storeplatform__V1__ListStoreRevisionsResponse **out, sp_status *status);
int sp_list_store_revisions_by_name(sp_client *client, const char *name,
                                    Storeplatform__V1__ListStoreRevisionsResponse **out, sp_status *status);
int sp_upgrade_store(sp_client *client, const char *id, const char *version,
                     Storeplatform__V1__UpgradeStoreResponse **out, sp_status *status);
int sp_upgrade_store_by_name(sp_client *client, const char *name, const char *version,
                             Storeplatform__V1__UpgradeStoreResponse **out, sp_status *status);
int sp_rollback_store(sp_client *client, const char *id, uint32_t revision,
                      Storeplatform__V1__RollbackStoreResponse **out, sp_status *status);
int sp_rollback_store_by_name(sp_client *client, const char *name, uint32_t revision,
                              Storeplatform__V1__RollbackStoreResponse **out, sp_status *status);

/*
 * WatchStores: committed store transitions as they happen (a server stream).
 *
 * sp_watch_stores sends WatchStores with watch->store_id (NULL or "": every
 * store) and watch->after_audit_id (0: from now on; N: first the transitions
 * committed after audit row N, from the daemon's audit log), then calls
 * on_event once per StoreEvent, in commit order, until the daemon ends the
 * stream, on_event returns non-zero (the call is cancelled), or the connection
 * fails. The event is freed when on_event returns.
 *
 * A watcher that does not keep up is ended by the daemon with WATCH_FELL_BEHIND
 * after the last event it sent. sp_watch_stores then resumes by itself with
 * after_audit_id = the last audit id it delivered, so every transition reaches
 * on_event exactly once; on_resume (may be NULL) is told each time, with that id,
 * and stops the watch by returning non-zero (sp_watch_stores then returns
 * SP_ERR_STATUS with WATCH_FELL_BEHIND in status_out).
 *
 * The call has no deadline and blocks until it ends; it takes the connection for
 * itself meanwhile (one call at a time). Returns SP_OK when the daemon ended the
 * stream with OK (it does at shutdown) or on_event stopped it, SP_ERR_STATUS with
 * the daemon's status (NOT_FOUND for an unknown store_id, RATE_LIMITED, ...), or
 * a local failure (SP_ERR_CLOSED when the connection dropped). On return
 * watch->last_audit_id is the last audit id delivered (after_audit_id if none)
 * and watch->resumes how many times the watch resumed: watch again from
 * last_audit_id after a dropped connection to miss nothing.
 */
typedef int (*sp_watch_event_fn)(const Storeplatform__V1__StoreEvent *event, void *context);
typedef int (*sp_watch_resume_fn)(int64_t after_audit_id, void *context);

typedef struct sp_watch {
    const char *store_id;
    int64_t after_audit_id;
    sp_watch_event_fn on_event;
    sp_watch_resume_fn on_resume;
    void *context;
    /* Out. */
    int64_t last_audit_id;
    unsigned resumes;
} sp_watch;

int sp_watch_stores(sp_client *client, sp_watch *watch, sp_status *status_out);

/*
 * Fleet upgrades (README.md at the repository root, "Upgrading the fleet"): many
 * stores moved to one version in waves of single-store upgrades, one fleet upgrade
 * at a time. A wave starts when every store of the wave before has ended, at most
 * max_unavailable of its stores upgrading at once; a store rolled back or failed
 * counts against failure_budget, and one more stops the fleet upgrade after its
 * wave (the stores not started keep their version).
 *
 * sp_upgrade_fleet: starts moving the stores options selects to version (a name
 * sp_list_engine_versions lists) and returns the fleet upgrade at once, running,
 * with every selected store waiting. options may be NULL (SP_FLEET_OPTIONS_INIT:
 * every live store, waves of 5). Errors: INVALID_ARGUMENT (no version, names and
 * statuses both given, a name repeated or invalid, max_unavailable over the wave
 * size, no live store selected), UNKNOWN_VERSION, NOT_FOUND (a named store that is
 * not live), FLEET_UPGRADE_IN_PROGRESS (FAILED_PRECONDITION: another one is active;
 * the message names it), PERMISSION_DENIED (operators of every store and admins only).
 *
 * sp_get_fleet_upgrade: one fleet upgrade with every store's outcome and its log;
 * id NULL or "" for the active one, or else the latest. NOT_FOUND when there is none.
 *
 * sp_list_fleet_upgrades: the latest, newest first, without their stores and steps;
 * limit 0 = 20, at most 100.
 *
 * sp_pause_fleet_upgrade starts no more stores (those upgrading end as they do);
 * sp_resume_fleet_upgrade goes on with a paused one; sp_cancel_fleet_upgrade starts
 * no more stores and ends it (cancelled) once those upgrading have ended. Each
 * returns the fleet upgrade after the change; id NULL or "" for the active one.
 * Errors: NOT_FOUND (no such id, or none active), INVALID_STATE_TRANSITION (pause:
 * not running; resume: not paused; cancel: already ended or cancelling).
 */

/* What sp_upgrade_fleet selects, and how it moves it. */
typedef struct sp_fleet_options {
    /* Live stores by name, upgraded in this order (canaries first); or */
    const char *const *names;
    size_t n_names;
    /* every live store in these statuses (STOREPLATFORM__V1__STORE_STATUS__*), by
     * name. Neither: every live store. */
    const Storeplatform__V1__StoreStatus *statuses;
    size_t n_statuses;
    /* Stores per wave; 0 = 5. */
    uint32_t wave_size;
    /* Most stores upgrading at once; 0 = the wave size. */
    uint32_t max_unavailable;
    /* Failed stores tolerated; 0 stops it after the wave of the first failure. */
    uint32_t failure_budget;
} sp_fleet_options;

#define SP_FLEET_OPTIONS_INIT { NULL, 0, NULL, 0, 0, 0, 0 }

int sp_upgrade_fleet(sp_client *client, const char *version, const sp_fleet_options *options,
                     Storeplatform__V1__UpgradeFleetResponse **out, sp_status *status);
int sp_get_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__GetFleetUpgradeResponse **out,
                         sp_status *status);
int sp_list_fleet_upgrades(sp_client *client, uint32_t limit, Storeplatform__V1__ListFleetUpgradesResponse **out,
                           sp_status *status);
int sp_pause_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__ChangeFleetUpgradeResponse **out,
                           sp_status *status);
int sp_resume_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__ChangeFleetUpgradeResponse **out,
                            sp_status *status);
int sp_cancel_fleet_upgrade(sp_client *client, const char *id, Storeplatform__V1__ChangeFleetUpgradeResponse **out,
                            sp_status *status);

/*
 * WatchFleetUpgrade: a fleet upgrade as it goes (a server stream).
 *
 * sp_watch_fleet_upgrade sends WatchFleetUpgrade with watch->id (NULL or "": the
 * active fleet upgrade, or else the latest) and watch->timeout_ms as the stream's
 * deadline (0: none), then calls on_update (may be NULL) with the fleet upgrade as
 * it is now, and again at every change, until the daemon ends the stream after
 * sending it ended (completed, cancelled or stopped; ended_ms > 0), on_update
 * returns non-zero (the call is cancelled), or the connection fails. The fleet
 * upgrade passed to on_update is freed when it returns.
 *
 * last_out (may be NULL) receives the last fleet upgrade delivered, NULL when none
 * was; free it with storeplatform__v1__fleet_upgrade__free_unpacked. To wait for a
 * fleet upgrade's end, watch it without on_update and read (*last_out)->state.
 *
 * The call blocks until it ends; it takes the connection for itself meanwhile (one
 * call at a time). Returns SP_OK when the daemon ended the stream with OK (after
 * the ended fleet upgrade, or at its shutdown: check ended_ms) or on_update stopped
 * it; SP_ERR_STATUS with the daemon's status (NOT_FOUND for an unknown id or when
 * there has been no fleet upgrade, DEADLINE_EXCEEDED past timeout_ms, ...); or a
 * local failure (SP_ERR_CLOSED when the connection dropped, SP_ERR_TIMEOUT when not
 * even the daemon's DEADLINE_EXCEEDED came within SP_LOCAL_GRACE_MS of the
 * deadline). *last_out holds what was delivered in every case. On return
 * watch->updates is how many fleet upgrades were delivered.
 */
typedef int (*sp_fleet_watch_fn)(const Storeplatform__V1__FleetUpgrade *fleet_upgrade, void *context);

typedef struct sp_fleet_watch {
    const char *id;
    uint32_t timeout_ms;
    sp_fleet_watch_fn on_update;
    void *context;
    /* Out. */
    unsigned updates;
} sp_fleet_watch;

int sp_watch_fleet_upgrade(sp_client *client, sp_fleet_watch *watch, Storeplatform__V1__FleetUpgrade **last_out,
                           sp_status *status_out);

/*
 * Raw access, for protocol tests. sp_send_raw writes len bytes as they are
 * (no framing added). sp_read_frame reads one frame: *body receives a malloc'd
 * copy of the envelope bytes (free() it; NULL when *len is 0). A header
 * announcing more than the max frame size is refused before allocating
 * (SP_ERR_PROTOCOL). End of stream is SP_ERR_CLOSED. Waits at most the
 * client's timeout (sp_set_timeout; 0 = forever).
 */
int sp_send_raw(sp_client *client, const void *bytes, size_t len);
int sp_read_frame(sp_client *client, uint8_t **body, size_t *len);

/* Closes the write side of the connection (shutdown(SHUT_WR); over TLS a
 * close_notify alert first); reads still work. */
int sp_shutdown_write(sp_client *client);

/* "OK", "NOT_FOUND", ... for a gRPC code; "UNKNOWN_CODE" for others. */
const char *sp_code_name(int code);
/* A short text for an SP_* return value. */
const char *sp_strerror(int rc);
/* "queued", "ready", ... (lower-case, as storectl prints them) for a StoreStatus. */
const char *sp_store_status_name(int status);
/* "deployed", "superseded", "failed", "rolled-back", "pending" (as storectl prints
 * them) for a RevisionStatus. */
const char *sp_revision_status_name(int status);
/* "running", "paused", "cancelling", "stopping", "completed", "cancelled", "stopped"
 * (as storectl prints them) for a FleetUpgradeState. */
const char *sp_fleet_upgrade_state_name(int state);
/* 1 for the states of a fleet upgrade that has ended (completed, cancelled,
 * stopped), 0 for the active ones and anything else. */
int sp_fleet_upgrade_state_has_ended(int state);
/* "waiting", "upgrading", "upgraded", "rolled-back", "failed", "skipped" (as storectl
 * prints them) for a FleetStoreOutcome. */
const char *sp_fleet_store_outcome_name(int outcome);

#ifdef __cplusplus
}
#endif

#endif /* STOREPLATFORM_CLIENT_H */
