/*
 * storeplatform-c: an example command-line client built on storeplatform_client.
 *
 *   storeplatform-c [--socket PATH | --tcp HOST:PORT [TLS options]] [--token-file F] [--timeout SECONDS] COMMAND
 *   TLS options: --tls, --tls-ca FILE, --tls-cert FILE --tls-key FILE, --tls-server-name NAME
 *   COMMAND: health | create NAME | list | get ID|NAME | delete ID | retry ID
 *            | versions | revisions STORE | upgrade STORE VERSION | rollback STORE REVISION
 *            | watch [--store ID] [--after AUDIT_ID] [--count N]
 *            | fleet-upgrade VERSION [--store NAME]... [--status STATUS]... [--wave-size N]
 *              [--max-unavailable N] [--failure-budget N] [--wait]
 *            | fleet-status [ID] [--watch] | fleet-list [--limit N]
 *            | fleet-pause [ID] | fleet-resume [ID] | fleet-cancel [ID]
 *   (STORE: a store's id, st_..., or the name of a live store; ID: a fleet upgrade's, fu_...)
 *
 * Exit codes: 0 success; 1 the daemon refused or failed the call ("error: CODE:
 * message" on stderr); 2 bad usage; 3 the daemon could not be reached (or the
 * connection dropped).
 */
#define _POSIX_C_SOURCE 200809L

#include "storeplatform_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: storeplatform-c [--socket PATH | --tcp HOST:PORT [TLS options]] [--token-file F] [--timeout SECONDS]\n"
    "                       COMMAND\n"
    "\n"
    "commands:\n"
    "  health        the daemon's status, version, uptime and cluster driver\n"
    "  create NAME   ask for a new store (answers at once, status queued)\n"
    "  list          every store, newest first (all pages)\n"
    "  get ID|NAME   one store, by id (st_...) or by the name of a live store\n"
    "  delete ID     start deleting a store\n"
    "  retry ID      queue a failed store again\n"
    "  versions      the engine versions stores can run; * marks the one new stores get\n"
    "  revisions STORE\n"
    "                a store's releases, newest first: install, upgrades, rollbacks\n"
    "  upgrade STORE VERSION\n"
    "                start upgrading a ready store to VERSION (as versions lists it); the\n"
    "                store is upgrading, then ready on VERSION, or ready on its old version\n"
    "                when the upgrade failed and was rolled back by itself (revisions says\n"
    "                why), or failed when even that rollback failed\n"
    "  rollback STORE REVISION\n"
    "                start bringing a ready store back to an earlier revision (as revisions\n"
    "                lists it), as a new revision with that revision's version\n"
    "  watch [--store ID] [--after AUDIT_ID] [--count N]\n"
    "                print store status changes as they are committed, one line each:\n"
    "                audit id, time (UTC), store, old -> new status, action. --store: one\n"
    "                store's only; --after: first the changes after that audit id; --count:\n"
    "                stop after N changes. When the daemon says the watch fell behind, it\n"
    "                resumes after the last change printed, so none is missed. Without\n"
    "                --count it runs until the daemon ends the stream or Ctrl-C\n"
    "  fleet-upgrade VERSION [--store NAME]... [--status STATUS]... [--wave-size N]\n"
    "                [--max-unavailable N] [--failure-budget N] [--wait]\n"
    "                start upgrading many live stores to VERSION in waves (one fleet upgrade\n"
    "                at a time): --store names them in the order to upgrade them, --status\n"
    "                selects every live store in those statuses, neither every live store;\n"
    "                --wave-size stores per wave (5), at most --max-unavailable upgrading at\n"
    "                once (the wave size); past --failure-budget failed stores (0) it stops\n"
    "                after its wave. --wait follows it as fleet-status --watch does\n"
    "  fleet-status [ID] [--watch]\n"
    "                a fleet upgrade (the active one, else the latest): its state, every\n"
    "                store's outcome and its log. --watch: one line per store that moves\n"
    "                and per change of state until it ends; exit 0 when it completed,\n"
    "                1 when it stopped or was cancelled\n"
    "  fleet-list [--limit N]\n"
    "                the latest fleet upgrades, newest first\n"
    "  fleet-pause [ID]   start no more stores until fleet-resume\n"
    "  fleet-resume [ID]  go on with a paused fleet upgrade\n"
    "  fleet-cancel [ID]  start no more stores; it ends once those upgrading have, and\n"
    "                     the rest keep their version\n"
    "\n"
    "STORE is a store's id (st_...) or the name of a live store. ID is a fleet upgrade's\n"
    "id (fu_...); without it, the active one.\n"
    "\n"
    "options:\n"
    "  --socket PATH       the daemon's Unix socket (default: $STOREPLATFORM_SOCKET, else\n"
    "                      /run/storeplatform/storeplatformd.sock as root, else\n"
    "                      $XDG_RUNTIME_DIR/storeplatform/storeplatformd.sock, else\n"
    "                      /tmp/storeplatform-<uid>/storeplatformd.sock)\n"
    "  --tcp HOST:PORT     call over TCP instead\n"
    "  --token-file F      token file whose first token is sent as the bearer token (TCP);\n"
    "                      a NAME TOKEN line sends its TOKEN\n"
    "  --timeout SECONDS   deadline of each call (default 30)\n"
    "\n"
    "TLS on --tcp (asked for by --tls or by any --tls-* option; the environment variable\n"
    "in parentheses is the default):\n"
    "  --tls                   speak TLS, trusting the system's CAs (STOREPLATFORM_TLS=1)\n"
    "  --tls-ca FILE           PEM CA certificates to verify the daemon's certificate\n"
    "                          with, instead of the system's (STOREPLATFORM_TLS_CA)\n"
    "  --tls-cert FILE         PEM client certificate, for a daemon that asks for one; a\n"
    "                          verified one names the caller cert:<subject> and needs no\n"
    "                          token (STOREPLATFORM_TLS_CLIENT_CERT)\n"
    "  --tls-key FILE          its unencrypted PEM key (STOREPLATFORM_TLS_CLIENT_KEY)\n"
    "  --tls-server-name NAME  the name the daemon's certificate must hold, when it is not\n"
    "                          the --tcp host (STOREPLATFORM_TLS_SERVER_NAME)\n"
    "\n"
    "exit codes: 0 success; 1 the daemon refused or failed the call; 2 bad usage;\n"
    "3 the daemon could not be reached\n";

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static int usage_error(const char *format, const char *argument)
{
    fprintf(stderr, "error: ");
    fprintf(stderr, format, argument);
    fprintf(stderr, "\nusage: storeplatform-c [--socket PATH | --tcp HOST:PORT [--tls-ca F ...]] [--token-file F] "
                    "[--timeout SECONDS] health|create NAME|list|get ID|NAME|delete ID|retry ID|versions|revisions STORE|"
                    "upgrade STORE VERSION|rollback STORE REVISION|watch|fleet-upgrade VERSION|fleet-status [ID]|fleet-list|"
                    "fleet-pause|fleet-resume|fleet-cancel [ID] (--help for more)\n");
    return EXIT_USAGE;
}

/* The daemon's default socket, as DefaultPaths.socket in the Swift sources. */
static void default_socket(char *path, size_t size)
{
    const char *configured = getenv("STOREPLATFORM_SOCKET");
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (configured != NULL && configured[0] != '\0')
        snprintf(path, size, "%s", configured);
    else if (getuid() == 0)
        snprintf(path, size, "/run/storeplatform/storeplatformd.sock");
    else if (runtime != NULL && runtime[0] != '\0')
        snprintf(path, size, "%s/storeplatform/storeplatformd.sock", runtime);
    else
        snprintf(path, size, "/tmp/storeplatform-%lu/storeplatformd.sock", (unsigned long)getuid());
}

/* Reads the first token of a token file, as the daemon does: the first line that
 * is not blank and does not start with '#', without surrounding spaces; of a
 * "NAME TOKEN" line, the TOKEN. Returns a malloc'd string, or NULL with a message
 * in err. */
static char *read_token(const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read token file %s: %s", file, strerror(errno));
        return NULL;
    }
    char line[4096];
    char *token = NULL;
    while (token == NULL && fgets(line, sizeof line, f) != NULL) {
        char *start = line;
        while (*start == ' ' || *start == '\t')
            start++;
        char *end = start + strlen(start);
        while (end > start && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*start == '\0' || *start == '#')
            continue;
        char *last_space = strrchr(start, ' ');
        char *last_tab = strrchr(start, '\t');
        if (last_tab != NULL && (last_space == NULL || last_tab > last_space))
            last_space = last_tab;
        if (last_space != NULL)
            start = last_space + 1;
        token = malloc(strlen(start) + 1);
        if (token != NULL)
            memcpy(token, start, strlen(start) + 1);
    }
    fclose(f);
    if (token == NULL)
        snprintf(err, errlen, "token file %s holds no token", file);
    return token;
}

/* An environment variable's value, or NULL when unset or empty. */
static const char *env_value(const char *name)
{
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? value : NULL;
}

/* Splits HOST:PORT ([v6]:PORT too). Returns 0 on success. */
static int parse_host_port(const char *text, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0')
        return -1;
    const char *host_start = text;
    size_t host_length = (size_t)(colon - text);
    if (text[0] == '[' && colon[-1] == ']') {
        host_start++;
        host_length -= 2;
    }
    if (host_length == 0 || host_length >= host_size)
        return -1;
    memcpy(host, host_start, host_length);
    host[host_length] = '\0';
    char *end = NULL;
    long value = strtol(colon + 1, &end, 10);
    if (*end != '\0' || value < 1 || value > 65535)
        return -1;
    *port = (int)value;
    return 0;
}

static void format_time(int64_t ms, char *out, size_t size)
{
    if (ms <= 0) {
        snprintf(out, size, "-");
        return;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm utc;
    if (gmtime_r(&seconds, &utc) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        snprintf(out, size, "%" PRId64, ms);
}

static const char *or_dash(const char *text)
{
    return text != NULL && text[0] != '\0' ? text : "-";
}

static void print_store(const Storeplatform__V1__Store *store)
{
    char created[32], ready[32];
    if (store == NULL) {
        printf("(no store in the answer)\n");
        return;
    }
    format_time(store->created_at_ms, created, sizeof created);
    format_time(store->ready_at_ms, ready, sizeof ready);
    printf("id:        %s\n", store->id);
    printf("name:      %s\n", store->name);
    printf("engine:    %s\n", or_dash(store->engine));
    printf("version:   %s\n", or_dash(store->version));
    printf("revision:  %" PRIu32 "\n", store->revision);
    printf("status:    %s\n", sp_store_status_name(store->status));
    printf("url:       %s\n", or_dash(store->url));
    printf("namespace: %s\n", or_dash(store->namespace_));
    printf("attempts:  %" PRIu32 "\n", store->attempts);
    printf("created:   %s\n", created);
    printf("ready:     %s\n", ready);
    if (store->error_message != NULL && store->error_message[0] != '\0')
        printf("error:     %s\n", store->error_message);
}

/* Prints a failed call and returns the exit code for it. */
static int report(int rc, const sp_status *status)
{
    fprintf(stderr, "error: %s: %s\n", or_dash(status->error_code), or_dash(status->message));
    if (rc == SP_ERR_CLOSED || rc == SP_ERR_IO || rc == SP_ERR_TIMEOUT)
        return EXIT_UNREACHABLE;
    return EXIT_REFUSED;
}

static int run_list(sp_client *client, sp_status *status)
{
    char *token = NULL;
    int printed_header = 0;
    for (int page = 0; page < 10000; page++) {
        Storeplatform__V1__ListStoresResponse *response = NULL;
        int rc = sp_list_stores(client, 0, token, &response, status);
        free(token);
        token = NULL;
        if (rc != SP_OK)
            return report(rc, status);
        if (!printed_header) {
            printf("%-24s  %-30s  %-12s  %s\n", "ID", "NAME", "STATUS", "URL");
            printed_header = 1;
        }
        for (size_t i = 0; i < response->n_stores; i++) {
            const Storeplatform__V1__Store *store = response->stores[i];
            printf("%-24s  %-30s  %-12s  %s\n", store->id, store->name, sp_store_status_name(store->status),
                   or_dash(store->url));
        }
        if (response->next_page_token != NULL && response->next_page_token[0] != '\0') {
            token = malloc(strlen(response->next_page_token) + 1);
            if (token != NULL)
                memcpy(token, response->next_page_token, strlen(response->next_page_token) + 1);
        }
        storeplatform__v1__list_stores_response__free_unpacked(response, NULL);
        if (token == NULL)
            return 0;
    }
    free(token);
    fprintf(stderr, "error: too many pages\n");
    return EXIT_REFUSED;
}

static int run_versions(sp_client *client, sp_status *status)
{
    Storeplatform__V1__ListEngineVersionsResponse *response = NULL;
    int rc = sp_list_engine_versions(client, &response, status);
    if (rc != SP_OK)
        return report(rc, status);
    printf("%-12s  %-14s  %-32s  %-11s  %s\n", "ENGINE", "VERSION", "WORDPRESS IMAGE", "WOOCOMMERCE", "CHART");
    for (size_t i = 0; i < response->n_versions; i++) {
        const Storeplatform__V1__EngineVersion *version = response->versions[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", version->name, version->is_default ? " *" : "");
        printf("%-12s  %-14s  %-32s  %-11s  %s\n", version->engine, name, version->wordpress_image,
               version->woocommerce_version, version->chart_version);
    }
    storeplatform__v1__list_engine_versions_response__free_unpacked(response, NULL);
    return 0;
}

/* Ids start with "st_", which no valid name does: anything else names a live store. */
static int is_store_id(const char *store)
{
    return strncmp(store, "st_", 3) == 0;
}

static int run_revisions(sp_client *client, const char *store, sp_status *status)
{
    Storeplatform__V1__ListStoreRevisionsResponse *response = NULL;
    int rc = is_store_id(store) ? sp_list_store_revisions(client, store, &response, status)
                                : sp_list_store_revisions_by_name(client, store, &response, status);
    if (rc != SP_OK)
        return report(rc, status);
    if (response->n_revisions == 0)
        printf("no revisions recorded for store %s\n", store);
    else
        printf("%-8s  %-14s  %-11s  %-20s  %-20s  %s\n", "REVISION", "VERSION", "STATUS", "BY", "TIME", "MESSAGE");
    for (size_t i = 0; i < response->n_revisions; i++) {
        const Storeplatform__V1__StoreRevision *revision = response->revisions[i];
        char when[32];
        format_time(revision->time_ms, when, sizeof when);
        printf("%-8" PRIu32 "  %-14s  %-11s  %-20s  %-20s  %s\n", revision->revision, or_dash(revision->version),
               sp_revision_status_name(revision->status), or_dash(revision->actor), when, or_dash(revision->message));
    }
    storeplatform__v1__list_store_revisions_response__free_unpacked(response, NULL);
    return 0;
}

/* What watch prints and when it stops. */
typedef struct watch_printer {
    long long remaining; /* -1: no --count */
} watch_printer;

static int print_event(const Storeplatform__V1__StoreEvent *event, void *context)
{
    watch_printer *printer = context;
    char when[32];
    format_time(event->time_ms, when, sizeof when);
    const Storeplatform__V1__Store *store = event->store;
    printf("%" PRId64 "  %s  %s (%s)  %s -> %s  %s\n", event->audit_id, when, store != NULL ? store->name : "-",
           store != NULL ? store->id : "-", sp_store_status_name(event->from_status),
           sp_store_status_name(event->to_status), or_dash(event->action));
    fflush(stdout);
    return printer->remaining > 0 && --printer->remaining == 0;
}

static int note_resume(int64_t after_audit_id, void *context)
{
    (void)context;
    fprintf(stderr, "the watch fell behind after audit id %" PRId64 "; resuming from there\n", after_audit_id);
    return 0;
}

static int run_watch(sp_client *client, const char *store_id, int64_t after, long long count, sp_status *status)
{
    watch_printer printer = { count > 0 ? count : -1 };
    sp_watch watch = { 0 };
    watch.store_id = store_id;
    watch.after_audit_id = after;
    watch.on_event = print_event;
    watch.on_resume = note_resume;
    watch.context = &printer;
    int rc = sp_watch_stores(client, &watch, status);
    if (rc != SP_OK) {
        int code = report(rc, status);
        if (watch.last_audit_id > 0)
            fprintf(stderr, "watch again with --after %" PRId64 " to miss nothing\n", watch.last_audit_id);
        return code;
    }
    return 0;
}

/* ---- fleet upgrades ------------------------------------------------------------ */

/* What a fleet-* command was asked for. */
typedef struct fleet_arguments {
    const char *version;      /* fleet-upgrade */
    const char *id;           /* the other commands: NULL = the active (or latest) one */
    const char **names;       /* --store, argc entries allocated */
    size_t n_names;
    Storeplatform__V1__StoreStatus statuses[16]; /* --status */
    size_t n_statuses;
    uint32_t wave_size;       /* default 5 */
    uint32_t max_unavailable; /* default 0: the wave size */
    uint32_t failure_budget;
    uint32_t limit;           /* fleet-list; 0 = the daemon's 20 */
    int follow;               /* --wait, --watch */
} fleet_arguments;

/* Prints text on one line: line breaks and tabs become spaces. */
static void print_one_line(const char *text)
{
    for (const char *c = text != NULL ? text : ""; *c != '\0'; c++)
        putchar(*c == '\n' || *c == '\r' || *c == '\t' ? ' ' : *c);
}

/* "12 upgraded, 1 rolled back, 0 failed, 2 skipped, 15 not started", as storectl says it. */
static void fleet_summary(const Storeplatform__V1__FleetUpgrade *fleet, char *out, size_t size)
{
    int n = snprintf(out, size,
                     "%" PRIu32 " upgraded, %" PRIu32 " rolled back, %" PRIu32 " failed, %" PRIu32 " skipped, %" PRIu32
                     " not started",
                     fleet->upgraded, fleet->rolled_back, fleet->failed, fleet->skipped, fleet->waiting);
    if (fleet->upgrading > 0 && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, ", %" PRIu32 " upgrading", fleet->upgrading);
}

/* A fleet upgrade as a person reads it: its fields, every store, its log. */
static void print_fleet(const Storeplatform__V1__FleetUpgrade *fleet)
{
    if (fleet == NULL) {
        printf("(no fleet upgrade in the answer)\n");
        return;
    }
    char started[32], ended[32], summary[256];
    format_time(fleet->created_ms, started, sizeof started);
    format_time(fleet->ended_ms, ended, sizeof ended);
    fleet_summary(fleet, summary, sizeof summary);
    printf("id:        %s\n", fleet->id);
    printf("version:   %s\n", fleet->version);
    printf("state:     %s\n", sp_fleet_upgrade_state_name(fleet->state));
    printf("wave:      %" PRIu32 " of %" PRIu32 " (%" PRIu32 " stores each, at most %" PRIu32 " at once)\n",
           fleet->current_wave, fleet->wave_count, fleet->wave_size, fleet->max_unavailable);
    printf("budget:    %" PRIu32 " failed stores\n", fleet->failure_budget);
    printf("outcomes:  %s\n", summary);
    printf("started:   %s by %s\n", started, or_dash(fleet->actor));
    printf("ended:     %s\n", ended);
    if (fleet->n_stores > 0) {
        printf("\n%-4s  %-30s  %-14s  %-11s  %-8s  %s\n", "WAVE", "STORE", "FROM", "OUTCOME", "REVISION", "MESSAGE");
        for (size_t i = 0; i < fleet->n_stores; i++) {
            const Storeplatform__V1__FleetUpgradeStore *store = fleet->stores[i];
            char revision[16];
            snprintf(revision, sizeof revision, "%" PRIu32, store->revision);
            printf("%-4" PRIu32 "  %-30s  %-14s  %-11s  %-8s  ", store->wave, store->name, or_dash(store->from_version),
                   sp_fleet_store_outcome_name(store->outcome), store->revision == 0 ? "-" : revision);
            print_one_line(or_dash(store->message));
            putchar('\n');
        }
    }
    if (fleet->n_steps > 0) {
        printf("\n%-20s  %-6s  %-20s  %s\n", "TIME", "STEP", "BY", "MESSAGE");
        for (size_t i = 0; i < fleet->n_steps; i++) {
            const Storeplatform__V1__FleetUpgradeStep *step = fleet->steps[i];
            char when[32];
            format_time(step->time_ms, when, sizeof when);
            printf("%-20s  %-6s  %-20s  ", when, step->action, or_dash(step->actor));
            print_one_line(step->message);
            putchar('\n');
        }
    }
}

/* What --wait and --watch have printed so far: the outcome of each store by its
 * place in the fleet upgrade (which never changes), and the state. */
typedef struct fleet_follower {
    int *outcomes;
    size_t n_outcomes;
    int state;  /* -1 before the first snapshot */
    int failed; /* out of memory */
} fleet_follower;

/* One line per store whose outcome changed since the last snapshot, then one when
 * the state changed (the first snapshot gets a line of its own). */
static int print_fleet_changes(const Storeplatform__V1__FleetUpgrade *fleet, void *context)
{
    fleet_follower *follower = context;
    char when[32], summary[256];
    format_time(fleet->updated_ms, when, sizeof when);
    fleet_summary(fleet, summary, sizeof summary);
    if (follower->state < 0)
        printf("%s  fleet upgrade %s to %s: %s, %zu stores in %" PRIu32 " waves\n", when, fleet->id, fleet->version,
               sp_fleet_upgrade_state_name(fleet->state), fleet->n_stores, fleet->wave_count);
    if (fleet->n_stores > follower->n_outcomes) {
        int *grown = realloc(follower->outcomes, fleet->n_stores * sizeof *grown);
        if (grown == NULL) {
            follower->failed = 1;
            return 1;
        }
        for (size_t i = follower->n_outcomes; i < fleet->n_stores; i++)
            grown[i] = STOREPLATFORM__V1__FLEET_STORE_OUTCOME__FLEET_STORE_OUTCOME_WAITING;
        follower->outcomes = grown;
        follower->n_outcomes = fleet->n_stores;
    }
    for (size_t i = 0; i < fleet->n_stores; i++) {
        const Storeplatform__V1__FleetUpgradeStore *store = fleet->stores[i];
        if ((int)store->outcome == follower->outcomes[i])
            continue;
        follower->outcomes[i] = (int)store->outcome;
        printf("%s  wave %" PRIu32 "  %s  %s", when, store->wave, store->name, sp_fleet_store_outcome_name(store->outcome));
        if (store->message[0] != '\0') {
            printf(": ");
            print_one_line(store->message);
        }
        putchar('\n');
    }
    if (follower->state >= 0 && follower->state != (int)fleet->state)
        printf("%s  fleet upgrade %s: %s\n", when, sp_fleet_upgrade_state_name(fleet->state), summary);
    follower->state = (int)fleet->state;
    fflush(stdout);
    return 0;
}

/* Follows fleet upgrade id (the active or latest when NULL) to its end. 0 when it
 * completed; 1 when it stopped or was cancelled, saying so on stderr. */
static int follow_fleet(sp_client *client, const char *id, sp_status *status)
{
    fleet_follower follower = { NULL, 0, -1, 0 };
    sp_fleet_watch watch = { 0 };
    watch.id = id;
    watch.on_update = print_fleet_changes;
    watch.context = &follower;
    Storeplatform__V1__FleetUpgrade *last = NULL;
    int rc = sp_watch_fleet_upgrade(client, &watch, &last, status);
    free(follower.outcomes);
    int code = 0;
    if (follower.failed) {
        fprintf(stderr, "error: out of memory\n");
        code = EXIT_REFUSED;
    } else if (rc != SP_OK) {
        code = report(rc, status);
    } else if (last == NULL) {
        fprintf(stderr, "error: the daemon ended the fleet upgrade's watch before sending it\n");
        code = EXIT_REFUSED;
    } else if (last->state != STOREPLATFORM__V1__FLEET_UPGRADE_STATE__FLEET_UPGRADE_STATE_COMPLETED) {
        char summary[256];
        fleet_summary(last, summary, sizeof summary);
        if (sp_fleet_upgrade_state_has_ended(last->state))
            fprintf(stderr, "error: fleet upgrade %s %s: %s\n", last->id, sp_fleet_upgrade_state_name(last->state), summary);
        else
            fprintf(stderr, "error: the watch of fleet upgrade %s ended while it was %s (the daemon stopped?); it carries on\n",
                    last->id, sp_fleet_upgrade_state_name(last->state));
        code = EXIT_REFUSED;
    }
    if (last != NULL)
        storeplatform__v1__fleet_upgrade__free_unpacked(last, NULL);
    return code;
}

static int run_fleet_list(sp_client *client, uint32_t limit, sp_status *status)
{
    Storeplatform__V1__ListFleetUpgradesResponse *response = NULL;
    int rc = sp_list_fleet_upgrades(client, limit, &response, status);
    if (rc != SP_OK)
        return report(rc, status);
    if (response->n_fleet_upgrades == 0)
        printf("no fleet upgrades yet\n");
    else
        printf("%-19s  %-14s  %-10s  %-7s  %-20s  %-20s  %s\n", "ID", "VERSION", "STATE", "WAVE", "STARTED", "BY",
               "OUTCOMES");
    for (size_t i = 0; i < response->n_fleet_upgrades; i++) {
        const Storeplatform__V1__FleetUpgrade *fleet = response->fleet_upgrades[i];
        char wave[32], started[32], summary[256];
        snprintf(wave, sizeof wave, "%" PRIu32 "/%" PRIu32, fleet->current_wave, fleet->wave_count);
        format_time(fleet->created_ms, started, sizeof started);
        fleet_summary(fleet, summary, sizeof summary);
        printf("%-19s  %-14s  %-10s  %-7s  %-20s  %-20s  %s\n", fleet->id, fleet->version,
               sp_fleet_upgrade_state_name(fleet->state), wave, started, or_dash(fleet->actor), summary);
    }
    storeplatform__v1__list_fleet_upgrades_response__free_unpacked(response, NULL);
    return 0;
}

static int run_fleet(sp_client *client, const char *command, const fleet_arguments *arguments, sp_status *status)
{
    int rc;
    if (strcmp(command, "fleet-upgrade") == 0) {
        sp_fleet_options options = SP_FLEET_OPTIONS_INIT;
        options.names = arguments->names;
        options.n_names = arguments->n_names;
        options.statuses = arguments->statuses;
        options.n_statuses = arguments->n_statuses;
        options.wave_size = arguments->wave_size;
        options.max_unavailable = arguments->max_unavailable;
        options.failure_budget = arguments->failure_budget;
        Storeplatform__V1__UpgradeFleetResponse *started = NULL;
        if ((rc = sp_upgrade_fleet(client, arguments->version, &options, &started, status)) != SP_OK)
            return report(rc, status);
        int code = 0;
        if (!arguments->follow)
            print_fleet(started->fleet_upgrade);
        else if (started->fleet_upgrade == NULL)
            printf("(no fleet upgrade in the answer)\n");
        else
            code = follow_fleet(client, started->fleet_upgrade->id, status);
        storeplatform__v1__upgrade_fleet_response__free_unpacked(started, NULL);
        return code;
    }
    if (strcmp(command, "fleet-status") == 0) {
        if (arguments->follow)
            return follow_fleet(client, arguments->id, status);
        Storeplatform__V1__GetFleetUpgradeResponse *got = NULL;
        if ((rc = sp_get_fleet_upgrade(client, arguments->id, &got, status)) != SP_OK)
            return report(rc, status);
        print_fleet(got->fleet_upgrade);
        storeplatform__v1__get_fleet_upgrade_response__free_unpacked(got, NULL);
        return 0;
    }
    if (strcmp(command, "fleet-list") == 0)
        return run_fleet_list(client, arguments->limit, status);
    Storeplatform__V1__ChangeFleetUpgradeResponse *changed = NULL;
    if (strcmp(command, "fleet-pause") == 0)
        rc = sp_pause_fleet_upgrade(client, arguments->id, &changed, status);
    else if (strcmp(command, "fleet-resume") == 0)
        rc = sp_resume_fleet_upgrade(client, arguments->id, &changed, status);
    else
        rc = sp_cancel_fleet_upgrade(client, arguments->id, &changed, status);
    if (rc != SP_OK)
        return report(rc, status);
    print_fleet(changed->fleet_upgrade);
    storeplatform__v1__change_fleet_upgrade_response__free_unpacked(changed, NULL);
    return 0;
}

static int is_fleet_command(const char *command)
{
    static const char *const commands[] = {
        "fleet-upgrade", "fleet-status", "fleet-list", "fleet-pause", "fleet-resume", "fleet-cancel",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(command, commands[i]) == 0)
            return 1;
    return 0;
}

/* A count option's value: 0 when it is a whole number from minimum to UINT32_MAX. */
static int parse_count(const char *text, uint32_t minimum, uint32_t *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || text[0] < '0' || text[0] > '9' || parsed < minimum || parsed > UINT32_MAX)
        return -1;
    *value = (uint32_t)parsed;
    return 0;
}

/* Reads the arguments of a fleet-* command from argv[i...]; 0, or the usage error's exit code. */
static int parse_fleet_arguments(const char *command, int argc, char **argv, int i, fleet_arguments *out)
{
    int upgrade = strcmp(command, "fleet-upgrade") == 0;
    int list = strcmp(command, "fleet-list") == 0;
    int status = strcmp(command, "fleet-status") == 0;
    int positional = 0;
    for (; i < argc; i++) {
        const char *argument = argv[i];
        if (strncmp(argument, "--", 2) != 0) {
            if (list || positional > 0)
                return usage_error("unexpected argument '%s'", argument);
            if (argument[0] == '\0')
                return usage_error(upgrade ? "%s needs a non-empty VERSION (versions lists them)"
                                           : "%s: the fleet upgrade's ID must not be empty (omit it for the active one)",
                                   command);
            if (upgrade)
                out->version = argument;
            else
                out->id = argument;
            positional++;
            continue;
        }
        if ((upgrade && strcmp(argument, "--wait") == 0) || (status && strcmp(argument, "--watch") == 0)) {
            out->follow = 1;
            continue;
        }
        int takes_value = (upgrade && (strcmp(argument, "--store") == 0 || strcmp(argument, "--status") == 0 ||
                                       strcmp(argument, "--wave-size") == 0 || strcmp(argument, "--max-unavailable") == 0 ||
                                       strcmp(argument, "--failure-budget") == 0)) ||
                          (list && strcmp(argument, "--limit") == 0);
        if (!takes_value)
            return usage_error("unknown option %s", argument);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", argument);
        const char *value = argv[++i];
        if (strcmp(argument, "--store") == 0) {
            if (value[0] == '\0')
                return usage_error("%s", "--store must not be empty");
            out->names[out->n_names++] = value;
        } else if (strcmp(argument, "--status") == 0) {
            int found = 0;
            for (int s = STOREPLATFORM__V1__STORE_STATUS__STORE_STATUS_QUEUED;
                 strcmp(sp_store_status_name(s), "unknown") != 0; s++) {
                if (strcmp(sp_store_status_name(s), value) == 0) {
                    found = s;
                    break;
                }
            }
            if (found == 0)
                return usage_error("--status wants a store status (queued, provisioning, ready, failed, deleting, "
                                   "upgrading), not '%s'", value);
            if (out->n_statuses >= sizeof out->statuses / sizeof out->statuses[0])
                return usage_error("%s", "too many --status options");
            out->statuses[out->n_statuses++] = (Storeplatform__V1__StoreStatus)found;
        } else if (strcmp(argument, "--wave-size") == 0) {
            if (parse_count(value, 1, &out->wave_size) != 0)
                return usage_error("--wave-size wants a number of stores (1 or more), not '%s'", value);
        } else if (strcmp(argument, "--max-unavailable") == 0) {
            if (parse_count(value, 0, &out->max_unavailable) != 0)
                return usage_error("--max-unavailable wants a number of stores (0: the wave size), not '%s'", value);
        } else if (strcmp(argument, "--failure-budget") == 0) {
            if (parse_count(value, 0, &out->failure_budget) != 0)
                return usage_error("--failure-budget wants a number of failed stores (0 or more), not '%s'", value);
        } else if (parse_count(value, 1, &out->limit) != 0) {
            return usage_error("--limit wants a number of fleet upgrades (1 or more), not '%s'", value);
        }
    }
    if (upgrade && out->version == NULL)
        return usage_error("%s needs a VERSION (versions lists them)", command);
    if (out->n_names > 0 && out->n_statuses > 0)
        return usage_error("%s", "select stores by --store or by --status, not both");
    if (out->max_unavailable > out->wave_size)
        return usage_error("--max-unavailable cannot exceed --wave-size (%s)", "a wave's stores are all that may upgrade at once");
    return 0;
}

/* argument: the command's first argument (NULL when it takes none); second: its
 * second (upgrade's VERSION, rollback's REVISION), NULL when it takes none. */
static int run_command(sp_client *client, const char *command, const char *argument, const char *second,
                       sp_status *status)
{
    int rc;
    if (strcmp(command, "health") == 0) {
        Storeplatform__V1__HealthResponse *health = NULL;
        if ((rc = sp_health(client, &health, status)) != SP_OK)
            return report(rc, status);
        printf("status:   %s\n", health->status);
        printf("version:  %s\n", health->version);
        printf("uptime:   %.1f s\n", health->uptime_seconds);
        printf("cluster:  %s%s\n", health->cluster_driver, health->cluster_simulated ? " (embedded simulator, no real Kubernetes)" : "");
        printf("database: %s\n", or_dash(health->database));
        storeplatform__v1__health_response__free_unpacked(health, NULL);
        return 0;
    }
    if (strcmp(command, "list") == 0)
        return run_list(client, status);
    if (strcmp(command, "create") == 0) {
        Storeplatform__V1__CreateStoreResponse *created = NULL;
        if ((rc = sp_create_store(client, argument, NULL, &created, status)) != SP_OK)
            return report(rc, status);
        print_store(created->store);
        storeplatform__v1__create_store_response__free_unpacked(created, NULL);
        return 0;
    }
    if (strcmp(command, "get") == 0) {
        Storeplatform__V1__GetStoreResponse *got = NULL;
        rc = is_store_id(argument) ? sp_get_store(client, argument, &got, status)
                                   : sp_get_store_by_name(client, argument, &got, status);
        if (rc != SP_OK)
            return report(rc, status);
        print_store(got->store);
        storeplatform__v1__get_store_response__free_unpacked(got, NULL);
        return 0;
    }
    if (strcmp(command, "versions") == 0)
        return run_versions(client, status);
    if (strcmp(command, "revisions") == 0)
        return run_revisions(client, argument, status);
    if (strcmp(command, "upgrade") == 0) {
        Storeplatform__V1__UpgradeStoreResponse *upgraded = NULL;
        rc = is_store_id(argument) ? sp_upgrade_store(client, argument, second, &upgraded, status)
                                   : sp_upgrade_store_by_name(client, argument, second, &upgraded, status);
        if (rc != SP_OK)
            return report(rc, status);
        print_store(upgraded->store);
        storeplatform__v1__upgrade_store_response__free_unpacked(upgraded, NULL);
        return 0;
    }
    if (strcmp(command, "rollback") == 0) {
        Storeplatform__V1__RollbackStoreResponse *rolled_back = NULL;
        uint32_t revision = (uint32_t)strtoul(second, NULL, 10); /* checked in main */
        rc = is_store_id(argument) ? sp_rollback_store(client, argument, revision, &rolled_back, status)
                                   : sp_rollback_store_by_name(client, argument, revision, &rolled_back, status);
        if (rc != SP_OK)
            return report(rc, status);
        print_store(rolled_back->store);
        storeplatform__v1__rollback_store_response__free_unpacked(rolled_back, NULL);
        return 0;
    }
    if (strcmp(command, "delete") == 0) {
        Storeplatform__V1__DeleteStoreResponse *deleted = NULL;
        if ((rc = sp_delete_store(client, argument, &deleted, status)) != SP_OK)
            return report(rc, status);
        print_store(deleted->store);
        storeplatform__v1__delete_store_response__free_unpacked(deleted, NULL);
        return 0;
    }
    /* retry */
    Storeplatform__V1__RetryStoreResponse *retried = NULL;
    if ((rc = sp_retry_store(client, argument, &retried, status)) != SP_OK)
        return report(rc, status);
    print_store(retried->store);
    storeplatform__v1__retry_store_response__free_unpacked(retried, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    const char *socket_path = NULL;
    const char *tcp = NULL;
    const char *token_file = NULL;
    double timeout_seconds = 30;
    /* TLS: the environment first, as storectl; options override it. */
    const char *tls_env = getenv("STOREPLATFORM_TLS");
    int tls = tls_env != NULL && strcmp(tls_env, "1") == 0;
    sp_tls_options tls_options = SP_TLS_OPTIONS_INIT;
    tls_options.ca_file = env_value("STOREPLATFORM_TLS_CA");
    tls_options.cert_file = env_value("STOREPLATFORM_TLS_CLIENT_CERT");
    tls_options.key_file = env_value("STOREPLATFORM_TLS_CLIENT_KEY");
    tls_options.server_name = env_value("STOREPLATFORM_TLS_SERVER_NAME");
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *option = argv[i];
        if (strcmp(option, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(option, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(option, "--tls") == 0) {
            tls = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", option);
        const char *value = argv[++i];
        if (strcmp(option, "--socket") == 0) {
            socket_path = value;
        } else if (strcmp(option, "--tcp") == 0) {
            tcp = value;
        } else if (strcmp(option, "--token-file") == 0) {
            token_file = value;
        } else if (strcmp(option, "--tls-ca") == 0) {
            tls_options.ca_file = value;
        } else if (strcmp(option, "--tls-cert") == 0) {
            tls_options.cert_file = value;
        } else if (strcmp(option, "--tls-key") == 0) {
            tls_options.key_file = value;
        } else if (strcmp(option, "--tls-server-name") == 0) {
            tls_options.server_name = value;
        } else if (strcmp(option, "--timeout") == 0) {
            char *end = NULL;
            timeout_seconds = strtod(value, &end);
            if (*end != '\0' || !(timeout_seconds > 0 && timeout_seconds <= 4000000))
                return usage_error("--timeout must be a positive number of seconds, not '%s'", value);
        } else {
            return usage_error("unknown option %s", option);
        }
    }
    if (i >= argc)
        return usage_error("%s", "no command");
    const char *command = argv[i++];
    /* fleet-upgrade's --store names, at most one per argument. */
    const char *fleet_names[argc];
    fleet_arguments fleet = { 0 };
    fleet.names = fleet_names;
    fleet.wave_size = 5;
    int fleet_command = is_fleet_command(command);
    if (fleet_command) {
        int code = parse_fleet_arguments(command, argc, argv, i, &fleet);
        if (code != 0)
            return code;
        i = argc;
    }
    const char *watch_store = NULL;
    long long watch_after = 0, watch_count = 0;
    if (strcmp(command, "watch") == 0) {
        for (; i < argc; i++) {
            const char *option = argv[i];
            if (i + 1 >= argc)
                return usage_error("%s needs a value", option);
            const char *value = argv[++i];
            char *end = NULL;
            if (strcmp(option, "--store") == 0) {
                if (value[0] == '\0')
                    return usage_error("%s", "--store must not be empty");
                watch_store = value;
            } else if (strcmp(option, "--after") == 0) {
                errno = 0;
                watch_after = strtoll(value, &end, 10);
                if (errno != 0 || *end != '\0' || value[0] == '\0' || watch_after < 0)
                    return usage_error("--after wants an audit id (0 or more), not '%s'", value);
            } else if (strcmp(option, "--count") == 0) {
                errno = 0;
                watch_count = strtoll(value, &end, 10);
                if (errno != 0 || *end != '\0' || value[0] == '\0' || watch_count < 1)
                    return usage_error("--count wants a number of changes (1 or more), not '%s'", value);
            } else {
                return usage_error("unknown watch option %s", option);
            }
        }
    }
    int wants_two = strcmp(command, "upgrade") == 0 || strcmp(command, "rollback") == 0;
    int wants_argument = wants_two || strcmp(command, "create") == 0 || strcmp(command, "get") == 0 ||
                         strcmp(command, "delete") == 0 || strcmp(command, "retry") == 0 ||
                         strcmp(command, "revisions") == 0;
    if (!wants_argument && strcmp(command, "health") != 0 && strcmp(command, "list") != 0 &&
        strcmp(command, "versions") != 0 && strcmp(command, "watch") != 0 && !fleet_command)
        return usage_error("unknown command '%s'", command);
    const char *argument = NULL;
    const char *second = NULL;
    if (wants_argument) {
        if (i >= argc)
            return usage_error("%s needs an argument", command);
        argument = argv[i++];
        if (argument[0] == '\0')
            return usage_error("%s needs a non-empty argument", command);
    }
    if (wants_two) {
        if (i >= argc)
            return usage_error(strcmp(command, "upgrade") == 0 ? "%s needs a VERSION after the store (versions lists them)"
                                                               : "%s needs a REVISION after the store (revisions lists them)",
                           command);
        second = argv[i++];
        if (strcmp(command, "upgrade") == 0 && second[0] == '\0')
            return usage_error("%s", "upgrade needs a non-empty VERSION (versions lists them)");
        if (strcmp(command, "rollback") == 0) {
            char *end = NULL;
            errno = 0;
            unsigned long revision = strtoul(second, &end, 10);
            if (errno != 0 || *end != '\0' || second[0] < '1' || second[0] > '9' || revision > UINT32_MAX)
                return usage_error("rollback wants a REVISION number (1 or more, as revisions lists them), not '%s'",
                                   second);
        }
    }
    if (i < argc)
        return usage_error("unexpected argument '%s'", argv[i]);
    if (socket_path != NULL && tcp != NULL)
        return usage_error("%s", "--socket and --tcp exclude each other");
    if (token_file != NULL && tcp == NULL)
        return usage_error("%s", "--token-file applies to --tcp; the Unix socket identifies callers by uid");
    if (tls_options.ca_file != NULL || tls_options.cert_file != NULL || tls_options.key_file != NULL ||
        tls_options.server_name != NULL)
        tls = 1;
    if (tls && tcp == NULL)
        return usage_error("%s", "--tls and the --tls-* options apply to --tcp; the Unix socket needs no TLS");
    if ((tls_options.cert_file == NULL) != (tls_options.key_file == NULL))
        return usage_error("%s", "--tls-cert and --tls-key go together: give both or neither");

    char err[512];
    char *token = NULL;
    if (token_file != NULL && (token = read_token(token_file, err, sizeof err)) == NULL) {
        fprintf(stderr, "error: %s\n", err);
        return EXIT_USAGE;
    }

    sp_client *client = NULL;
    if (tcp != NULL) {
        char host[256];
        int port = 0;
        if (parse_host_port(tcp, host, sizeof host, &port) != 0) {
            free(token);
            return usage_error("--tcp wants HOST:PORT, not '%s'", tcp);
        }
        if (tls) {
            tls_options.handshake_timeout_ms = (uint32_t)(timeout_seconds * 1000);
            client = sp_connect_tls(host, port, &tls_options, err, sizeof err);
        } else {
            client = sp_connect_tcp(host, port, err, sizeof err);
        }
    } else {
        char path[4096];
        if (socket_path != NULL)
            snprintf(path, sizeof path, "%s", socket_path);
        else
            default_socket(path, sizeof path);
        client = sp_connect_unix(path, err, sizeof err);
    }
    if (client == NULL) {
        fprintf(stderr, "error: UNAVAILABLE: %s\n", err);
        free(token);
        return EXIT_UNREACHABLE;
    }
    if (token != NULL && sp_set_token(client, token) != SP_OK) {
        fprintf(stderr, "error: out of memory\n");
        free(token);
        sp_close(client);
        return EXIT_REFUSED;
    }
    free(token);
    sp_set_timeout(client, (uint32_t)(timeout_seconds * 1000));

    sp_status status = SP_STATUS_INIT;
    int exit_code = fleet_command                     ? run_fleet(client, command, &fleet, &status)
                    : strcmp(command, "watch") == 0 ? run_watch(client, watch_store, watch_after, watch_count, &status)
                                                    : run_command(client, command, argument, second, &status);
    sp_status_clear(&status);
    sp_close(client);
    return exit_code;
}
