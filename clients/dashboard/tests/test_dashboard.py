"""Browser tests of the dashboard (clients/dashboard) against a real storeplatformd.

Headless Chromium driven by selenium through chromium-driver; the daemon runs the
simulated cluster with short delays (see conftest.py). Every wait is an explicit
WebDriverWait with a generous bound; nothing sleeps to decide an outcome.
"""

import json
import re
import time
import uuid
from pathlib import Path

import pytest

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ApiError

WAIT = 20  # seconds: bound of an ordinary wait (a store is ready in ~1.5 s here)
SLOW_WAIT = 30  # throttled refreshes (metrics every 5 s) and failure + retry
STATUSES = ("queued", "provisioning", "ready", "upgrading", "failed", "deleting", "deleted")


# ---------------------------------------------------------------- helpers


def tid(testid):
    return f'[data-testid="{testid}"]'


def unique_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(driver, condition, message, timeout=WAIT):
    """Polls condition(driver) until it returns something truthy; returns that value.

    `message` is a string or a callable (evaluated only on timeout, for the current state).
    """
    try:
        return WebDriverWait(
            driver, timeout, poll_frequency=0.05,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(condition)
    except TimeoutException:
        if callable(message):
            try:
                message = message()
            except Exception as error:  # the state could not be read: say so, keep the timeout
                message = f"(could not describe the state: {error!r})"
        raise AssertionError(f"after {timeout} s: {message}") from None


def find(driver, testid):
    return driver.find_element(By.CSS_SELECTOR, tid(testid))


def click(driver, testid):
    """Clicks the element, retrying if it is re-rendered under the click (the summary
    strip is drawn again at every store event)."""
    click_css(driver, tid(testid))


def click_css(driver, selector):
    """Clicks the element `selector` finds, retrying if it is re-rendered under the
    click (cards, table rows and the summary strip are drawn again at store events)."""
    def attempt(d):
        d.find_element(By.CSS_SELECTOR, selector).click()
        return True
    wait_until(driver, attempt, f"could not click {selector}")


def card_selector(name):
    return f'{tid("store-card")}[data-store-name="{name}"]'


def card(driver, name):
    """The store's card, or None (cards are re-rendered: never keep one across waits)."""
    found = driver.find_elements(By.CSS_SELECTOR, card_selector(name))
    return found[0] if found else None


def card_status(driver, name):
    c = card(driver, name)
    return c.get_attribute("data-status") if c else None


def wait_status(driver, name, status, timeout=WAIT):
    wait_until(driver, lambda d: card_status(d, name) == status,
               lambda: f"card {name!r} never reached {status!r} (last: {card_status(driver, name)!r})", timeout)


def open_dashboard(browser, daemon, hash_=""):
    browser.get(daemon.url + "/" + hash_)
    wait_until(browser, lambda d: find(d, "connection-status").get_attribute("data-state") == "live",
               "the live-update connection (/api/events) never opened")
    wait_until(browser, lambda d: d.execute_script(
        "return document.getElementById('stores-state').dataset.state !== 'loading'"),
        "the store list never finished loading")
    # Survives only as long as the page is not reloaded.
    browser.execute_script("window.__notReloaded = true")


def assert_not_reloaded(browser):
    assert browser.execute_script("return window.__notReloaded === true"), "the page was reloaded"


def select_tab(browser, name):
    find(browser, f"tab-{name}").click()
    wait_until(browser, lambda d: find(d, f"tab-{name}").get_attribute("aria-selected") == "true",
               f"tab {name} not selected")


def watch_statuses(browser, name):
    """Records, in the page, every data-status a card of `name` is rendered with.

    Cards are replaced (not mutated) on each update, so every rendered state shows up as
    an added node; attribute changes are recorded too in case that ever changes.
    """
    browser.execute_script("""
        const name = arguments[0];
        window.__statuses = window.__statuses || {};
        const seen = window.__statuses[name] = [];
        const note = (node) => {
            if (node.nodeType === 1 && node.dataset.testid === 'store-card' && node.dataset.storeName === name) {
                const s = node.dataset.status;
                if (seen[seen.length - 1] !== s) seen.push(s);
            }
        };
        new MutationObserver((records) => {
            for (const r of records) {
                if (r.type === 'childList') r.addedNodes.forEach(note);
                else note(r.target);
            }
        }).observe(document.getElementById('store-list'),
                   {childList: true, subtree: true, attributes: true, attributeFilter: ['data-status']});
    """, name)


def recorded_statuses(browser, name):
    return browser.execute_script("return (window.__statuses || {})[arguments[0]] || []", name)


def create_in_form(browser, name):
    field = find(browser, "create-name")
    field.clear()
    field.send_keys(name)
    find(browser, "create-submit").click()


def create_and_wait_ready(browser, name):
    create_in_form(browser, name)
    wait_until(browser, lambda d: card(d, name) is not None, f"no card for {name!r} appeared")
    wait_status(browser, name, "ready")


def delete_in_ui(browser, name):
    click_in_card(browser, name, "store-delete")
    wait_until(browser, lambda d: find(d, "confirm-dialog").is_displayed(), "no confirmation dialog")
    assert name in find(browser, "confirm-dialog").text
    find(browser, "confirm-ok").click()
    wait_until(browser, lambda d: not find(d, "confirm-dialog").is_displayed(), "the dialog stayed open")


def card_info(browser, name):
    """An atomic snapshot of the store's card (no stale elements: cards are re-rendered)."""
    return browser.execute_script("""
        const c = document.querySelector(arguments[0]);
        if (!c) return null;
        const q = (t) => c.querySelector(`[data-testid="${t}"]`);
        const link = q('store-url');
        return {
            status: c.dataset.status,
            badge: q('store-status') && q('store-status').textContent,
            urlTag: link && link.tagName.toLowerCase(),
            urlHref: link && link.href,
            urlText: link && link.textContent,
            error: q('store-error-detail') && q('store-error-detail').textContent,
            headline: q('store-error-headline') && q('store-error-headline').textContent,
            deleteEnabled: !q('store-delete').disabled,
            retryEnabled: !q('store-retry').disabled,
            text: c.innerText,
        };
    """, card_selector(name))


def wait_deleted(browser, daemon, name):
    """Waits until the store is deleted and its card gone (deleted stores are hidden by default)."""
    wait_until(browser, lambda d: daemon.store_by_name(name)["status"] == "deleted" and card(d, name) is None,
               lambda: f"{name!r} was not deleted and hidden (card: {card_status(browser, name)!r})")


def visible_cards(browser):
    """(name, status) of the cards on screen, top to bottom."""
    return browser.execute_script("""
        return Array.from(document.querySelectorAll('[data-testid="store-card"]'))
            .map(c => [c.dataset.storeName, c.dataset.status]);
    """)


def click_in_card(browser, name, testid):
    """Clicks a button of the card, retrying if the card is re-rendered under the click."""
    def attempt(d):
        button = card(d, name).find_element(By.CSS_SELECTOR, tid(testid))
        assert button.is_enabled(), f"{testid} of {name} is disabled"
        button.click()
        return True
    wait_until(browser, attempt, f"could not click {testid} of {name}")


def button_enabled(browser, name, testid):
    return card_info(browser, name)["deleteEnabled" if testid == "store-delete" else "retryEnabled"]


def api_counts(daemon):
    m = daemon.api("GET", "/api/metrics")
    counts = {s: 0 for s in STATUSES}
    for entry in m.get("storesByStatus", []):
        counts[entry["status"]] = int(entry["count"])
    return counts, int(m.get("provisioning", {}).get("count", "0"))


def ui_counts(browser):
    """(counts by status, provisioning duration count) as the Metrics tab shows them, or None."""
    shown = browser.execute_script("""
        const t = (id) => { const e = document.querySelector(`[data-testid="${id}"]`); return e ? e.textContent : null; };
        return [arguments[0].map((s) => t('metric-count-' + s)), t('metric-duration-count')];
    """, list(STATUSES))
    if None in shown[0] or shown[1] is None:
        return None
    return {s: int(v) for s, v in zip(STATUSES, shown[0])}, int(shown[1])


def strip_counts(browser):
    """The summary strip's count of each status, read in one script: the strip is
    drawn again whenever counts arrive, so element by element could catch it midway."""
    return browser.execute_script("""
        return Object.fromEntries(arguments[0].map((s) => {
            const e = document.querySelector(`[data-testid="summary-${s}"]`);
            return [s, e ? Number(e.dataset.count) : null];
        }));
    """, list(STATUSES))


def audit_rows(browser, name=None):
    """(audit id, action) of the Activity Log's rows, top to bottom, optionally for one store."""
    return browser.execute_script("""
        return Array.from(document.querySelectorAll('[data-testid="audit-row"]'))
            .filter(r => arguments[0] === null || r.dataset.storeName === arguments[0])
            .map(r => [Number(r.dataset.auditId), r.dataset.action, r.classList.contains('provisional')]);
    """, name)


def api_audit(daemon, name):
    events = daemon.api("GET", "/api/audit?limit=200").get("events", [])
    return [(int(e["id"]), e["action"]) for e in events if e.get("storeName") == name]


# ---------------------------------------------------------------- tests


def test_create_goes_queued_provisioning_ready_without_reload(browser, daemon):
    open_dashboard(browser, daemon)
    name = unique_name("live")
    watch_statuses(browser, name)
    create_in_form(browser, name)

    wait_until(browser, lambda d: card(d, name) is not None, f"no card for {name!r} appeared")
    wait_status(browser, name, "ready")
    assert_not_reloaded(browser)

    seen = recorded_statuses(browser, name)
    assert [s for s in seen if s in ("queued", "provisioning", "ready")] == ["queued", "provisioning", "ready"], seen
    assert "failed" not in seen

    info = card_info(browser, name)
    assert info["badge"] == "ready"
    store = daemon.store_by_name(name)
    assert store["status"] == "ready"
    assert info["urlTag"] == "a", info
    assert info["urlHref"].rstrip("/") == store["url"].rstrip("/")
    assert info["urlText"] == store["url"]
    assert info["deleteEnabled"] and not info["retryEnabled"], info
    # The card names the store's owner: the browser's address, as the gateway saw it.
    assert store["owner"].startswith("http:"), store
    assert store["owner"] in info["text"], info
    # The form was reset and shows no error.
    assert find(browser, "create-name").get_attribute("value") == ""
    assert not find(browser, "create-error").is_displayed()


def test_bad_name_and_taken_name_show_their_messages(browser, daemon):
    open_dashboard(browser, daemon)
    error = lambda d: find(d, "create-error")  # noqa: E731

    # Client-side rule, shown while typing and again on submit; nothing is sent.
    find(browser, "create-name").send_keys("Bad_Name")
    expected = "Use lower case: “B” at position 1 is an upper-case letter (try “bad-name”)."
    wait_until(browser, lambda d: error(d).is_displayed() and error(d).text == expected,
               lambda: f"no inline error {expected!r} (shown: {error(browser).text!r})")
    assert error(browser).get_attribute("data-code") == "CLIENT_VALIDATION"
    assert find(browser, "create-name").get_attribute("aria-invalid") == "true"
    find(browser, "create-submit").click()
    wait_until(browser, lambda d: error(d).text == expected, "the error changed on submit")
    assert card(browser, "Bad_Name") is None and card(browser, "bad_name") is None
    assert daemon.store_by_name("Bad_Name") is None and daemon.store_by_name("bad_name") is None

    # Another rule gets its own message; a valid name clears it.
    field = find(browser, "create-name")
    field.clear()
    field.send_keys("9shop")
    wait_until(browser, lambda d: error(d).text == "The name must start with a letter, not a digit (try “shop”).",
               lambda: f"wrong message for a leading digit: {error(browser).text!r}")
    # The name suggested for Bad_Name is valid itself.
    field.clear()
    field.send_keys("bad-name")
    wait_until(browser, lambda d: not error(d).is_displayed(),
               lambda: f"the suggested name is refused: {error(browser).text!r}")
    assert find(browser, "create-name").get_attribute("aria-invalid") == "false"
    field.clear()
    field.send_keys("good-name")
    wait_until(browser, lambda d: not error(d).is_displayed(), "the error stayed after fixing the name")

    # The server's refusal for a taken name is shown in the same place.
    taken = unique_name("taken")
    store = daemon.api("POST", "/api/stores", {"name": taken, "engine": "woocommerce"})
    create_in_form(browser, taken)
    wait_until(browser, lambda d: error(d).is_displayed() and error(d).get_attribute("data-code") == "STORE_NAME_TAKEN",
               lambda: f"no STORE_NAME_TAKEN error (shown: {error(browser).text!r})")
    text = error(browser).text
    assert text.startswith(f'store name "{taken}" is taken by store {store["id"]}'), text
    assert find(browser, "create-name").get_attribute("aria-invalid") == "true"
    assert len(browser.find_elements(By.CSS_SELECTOR, card_selector(taken))) == 1
    daemon.api("DELETE", f"/api/stores/{store['id']}")


def test_delete_moves_the_card_to_deleted(browser, daemon):
    open_dashboard(browser, daemon)
    name = unique_name("del")
    create_and_wait_ready(browser, name)

    # Cancel keeps the store.
    click_in_card(browser, name, "store-delete")
    wait_until(browser, lambda d: find(d, "confirm-dialog").is_displayed(), "no confirmation dialog")
    find(browser, "confirm-cancel").click()
    wait_until(browser, lambda d: not find(d, "confirm-dialog").is_displayed(), "the dialog stayed open")
    assert card_status(browser, name) == "ready"
    assert daemon.store_by_name(name)["status"] == "ready"

    watch_statuses(browser, name)
    delete_in_ui(browser, name)
    # Deleted stores are hidden unless "Show deleted" is ticked: the card goes away.
    wait_deleted(browser, daemon, name)
    assert_not_reloaded(browser)
    seen = recorded_statuses(browser, name)
    assert "ready" not in seen[1:] and "deleted" not in seen, seen
    assert not find(browser, "show-deleted").is_selected()

    find(browser, "show-deleted").click()
    wait_until(browser, lambda d: card_status(d, name) == "deleted", "the deleted card did not come back")
    info = card_info(browser, name)
    assert info["badge"] == "deleted" and info["urlTag"] is None, info
    assert not info["deleteEnabled"] and not info["retryEnabled"], info
    # When it was deleted, relative, with the exact time on hover.
    created_at, deleted_at = card(browser, name).find_elements(By.CSS_SELECTOR, "time[data-relative]")
    assert "Deleted" in info["text"], info
    assert deleted_at.text == "just now" or deleted_at.text.endswith(" ago"), deleted_at.text
    assert deleted_at.get_attribute("title").endswith("Z)"), deleted_at.get_attribute("title")
    find(browser, "show-deleted").click()
    wait_until(browser, lambda d: card(d, name) is None, "the deleted card was not hidden again")


def test_activity_tab_shows_the_transitions_newest_first(browser, daemon):
    open_dashboard(browser, daemon)
    name = unique_name("audit")
    create_and_wait_ready(browser, name)
    delete_in_ui(browser, name)
    wait_deleted(browser, daemon, name)

    select_tab(browser, "activity")
    assert find(browser, "tab-activity").get_attribute("aria-selected") == "true"

    def rows_match_api(d):
        ui = [(i, a) for i, a, provisional in audit_rows(d, name) if not provisional]
        return ui if ui and ui == api_audit(daemon, name) else False

    rows = wait_until(browser, rows_match_api,
                      lambda: f"the Activity Log never matched /api/audit for {name}: "
                              f"ui={audit_rows(browser, name)} api={api_audit(daemon, name)}")
    actions = [a for _, a in rows]
    for action in ("create", "provision", "ready", "delete"):
        assert action in actions, actions
    # Newest first: the store's story reads bottom-up.
    story = list(reversed(actions))
    assert story.index("create") < story.index("provision") < story.index("ready") < story.index("delete"), story
    all_ids = [i for i, _, _ in audit_rows(browser)]
    assert all_ids == sorted(all_ids, reverse=True) and len(set(all_ids)) == len(all_ids), all_ids

    # A full row shows who did it and the status change.
    create_row = browser.find_element(
        By.CSS_SELECTOR, f'{tid("audit-row")}[data-store-name="{name}"][data-action="create"]')
    assert create_row.find_element(By.CSS_SELECTOR, ".audit-actor").text.startswith("http:")
    assert "queued" in create_row.text
    ready_row = browser.find_element(
        By.CSS_SELECTOR, f'{tid("audit-row")}[data-store-name="{name}"][data-action="ready"]')
    assert "provisioning" in ready_row.text and "ready" in ready_row.text

    # Live: with the tab on screen, a store created elsewhere shows up without a reload.
    other = unique_name("audit-live")
    store = daemon.api("POST", "/api/stores", {"name": other, "engine": "woocommerce"})
    wait_until(browser, lambda d: {"create", "provision", "ready"} <= {a for _, a, _ in audit_rows(d, other)},
               lambda: f"live rows for {other} never appeared: {audit_rows(browser, other)}")
    top = audit_rows(browser)[0]
    assert top[0] == max(i for i, _, _ in audit_rows(browser)), "newest row is not on top"
    assert_not_reloaded(browser)
    daemon.api("DELETE", f"/api/stores/{store['id']}")


def test_metrics_tab_matches_the_api(browser, daemon):
    open_dashboard(browser, daemon, "#metrics")
    assert find(browser, "tab-metrics").get_attribute("aria-selected") == "true"

    def matches(d):
        ui = ui_counts(d)
        return ui if ui == api_counts(daemon) else False

    wait_until(browser, matches, "the Metrics tab never matched /api/metrics")
    before_counts, before_durations = api_counts(daemon)

    # Live: create a store while the tab is on screen; the counts follow (throttled refresh).
    name = unique_name("metrics")
    daemon.api("POST", "/api/stores", {"name": name, "engine": "woocommerce"})

    def caught_up(d):
        ui = matches(d)
        return ui and ui[0]["ready"] == before_counts["ready"] + 1 and ui[1] == before_durations + 1

    wait_until(browser, caught_up,
               lambda: f"the Metrics tab did not follow the new store: ui={ui_counts(browser)} api={api_counts(daemon)}",
               SLOW_WAIT)
    assert_not_reloaded(browser)
    # The panel is re-rendered on each refresh: read it in one go.
    shown = browser.execute_script("""
        const t = (id) => { const e = document.querySelector(`[data-testid="${id}"]`); return e && e.textContent; };
        return {
            activity: ['creates', 'failures'].map((kind) => Array.from(
                document.querySelectorAll(`[data-testid="metric-activity"] rect[data-kind="${kind}"]`))
                .map((r) => Number(r.dataset.count))),
            segments: Object.fromEntries(Array.from(document.querySelectorAll('[data-testid="metric-status-bar"] rect'))
                .map((r) => [r.dataset.status, Number(r.dataset.count)])),
            bars: document.querySelectorAll('svg[data-testid="metric-chart"] rect').length,
            histogram: Array.from(document.querySelectorAll('[data-testid="metric-histogram-bar"]'))
                .map((r) => [Number(r.dataset.bound), Number(r.dataset.count)]),
            figures: ['avg', 'min', 'max', 'p50', 'p95'].map((f) => t('metric-duration-' + f)),
            active: t('metric-active-operations'),
        };
    """)
    assert shown["bars"] == 5, shown
    # Stores by status as one stacked bar, drawn from the same counts (zero counts have no segment).
    counts, _ = api_counts(daemon)
    assert shown["segments"] == {s: n for s, n in counts.items() if n > 0}, (shown, counts)
    # The last hour, twelve five-minute spans: the store made above is among the creates.
    creates, failures = shown["activity"]
    assert len(creates) == len(failures) == 12, shown
    assert creates[-1] >= 1 and sum(creates) <= sum(b["creates"] for b in daemon.api("GET", "/api/metrics")["lastHour"]), shown
    assert all(f and f.endswith(" s") for f in shown["figures"]), shown
    # The distribution of provisioning durations: one bar per bucket of the daemon's histogram,
    # each as tall as its count; the store made above is in one of them.
    buckets = [(int(b["upperBoundMs"]), int(b["count"])) for b in daemon.api("GET", "/api/metrics")["provisioningBuckets"]]
    assert len(shown["histogram"]) == len(buckets) == 12, (shown["histogram"], buckets)
    assert [bound for bound, _ in shown["histogram"]] == [bound for bound, _ in buckets], (shown["histogram"], buckets)
    assert 1 <= sum(n for _, n in shown["histogram"]) <= sum(n for _, n in buckets), (shown["histogram"], buckets)
    assert shown["active"] is not None and int(shown["active"]) >= 0, shown
    store = daemon.store_by_name(name)
    daemon.api("DELETE", f"/api/stores/{store['id']}")


@pytest.mark.own_window_sizes
def test_phone_width_has_no_horizontal_scroll_and_tabs_work_by_keyboard(browser, daemon):
    browser.set_window_size(360, 800)
    wait_until(browser, lambda d: d.execute_script("return window.innerWidth") == 360,
               "could not make the window 360 px wide")
    open_dashboard(browser, daemon)
    name = unique_name("phone-width-long-store-name")
    create_and_wait_ready(browser, name)
    # A long inline error too.
    find(browser, "create-name").send_keys("Bad_Name_" + "x" * 50)
    wait_until(browser, lambda d: find(d, "create-error").is_displayed(), "no inline error")

    def no_horizontal_scroll(tab):
        widths = browser.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth]")
        # <= 360 (the window), and no wider than the viewport left beside a vertical scrollbar.
        assert widths[0] <= 360 and widths[0] <= widths[1], f"horizontal scroll on {tab}: {widths}"

    no_horizontal_scroll("stores")

    # Keyboard: focus the selected tab, then arrows / Home / End.
    find(browser, "tab-stores").click()
    expected = [("ARROW_RIGHT", "activity"), ("ARROW_RIGHT", "metrics"), ("ARROW_RIGHT", "fleet"), ("ARROW_RIGHT", "stores"),
                ("ARROW_LEFT", "fleet"), ("HOME", "stores"), ("END", "fleet")]
    for key, tab in expected:
        browser.switch_to.active_element.send_keys(getattr(Keys, key))
        wait_until(browser, lambda d: find(d, f"tab-{tab}").get_attribute("aria-selected") == "true",
                   f"{key} did not select {tab}")
        active = browser.switch_to.active_element
        assert active.get_attribute("data-testid") == f"tab-{tab}", f"{key}: focus is not on tab-{tab}"
        assert active.get_attribute("tabindex") == "0"
        assert browser.find_element(By.ID, f"panel-{tab}").is_displayed()
        for other in {"stores", "activity", "metrics", "fleet"} - {tab}:
            assert find(browser, f"tab-{other}").get_attribute("aria-selected") == "false"
            assert not browser.find_element(By.ID, f"panel-{other}").is_displayed()
        assert browser.execute_script("return location.hash") == f"#{tab}"
        if tab == "activity":
            wait_until(browser, lambda d: audit_rows(d), "the Activity Log stayed empty")
        if tab == "metrics":
            wait_until(browser, lambda d: find(d, "metric-count-ready").text != "", "no metrics shown")
        if tab == "fleet":
            wait_until(browser, lambda d: d.execute_script(
                "return document.getElementById('fleet-version').options.length") > 0, "the fleet form has no versions")
        no_horizontal_scroll(tab)
    assert_not_reloaded(browser)
    daemon.api("DELETE", f"/api/stores/{daemon.store_by_name(name)['id']}")


def test_failed_store_shows_reason_and_retry_brings_it_to_ready(browser, crash_daemon):
    open_dashboard(browser, crash_daemon)
    name = unique_name("crash")
    watch_statuses(browser, name)
    create_in_form(browser, name)
    wait_status(browser, name, "failed", SLOW_WAIT)

    info = card_info(browser, name)
    assert info["badge"] == "failed", info
    store = crash_daemon.store_by_name(name)
    assert store["status"] == "failed"
    reason = info["error"]
    assert reason and "CrashLoopBackOff" in reason and reason == store["errorMessage"], info
    # A one-line headline shows; the whole reason is one click away.
    assert info["headline"] == "CrashLoopBackOff: wordpress, exit 1" == store["errorSummary"], info
    detail = lambda d: card(d, name).find_element(By.CSS_SELECTOR, tid("store-error-detail"))  # noqa: E731
    assert not detail(browser).is_displayed()
    card(browser, name).find_element(By.CSS_SELECTOR, tid("store-error-headline")).click()
    wait_until(browser, lambda d: detail(d).is_displayed() and detail(d).text == reason,
               "the failure's headline did not open its whole reason")
    assert info["urlTag"] is None, info
    assert info["retryEnabled"] and info["deleteEnabled"], info

    click_in_card(browser, name, "store-retry")
    wait_status(browser, name, "ready", SLOW_WAIT)
    assert_not_reloaded(browser)
    seen = recorded_statuses(browser, name)
    after_failure = seen[seen.index("failed") + 1:]
    assert after_failure and after_failure[-1] == "ready" and "provisioning" in after_failure, seen
    info = card_info(browser, name)
    assert info["error"] is None, info
    assert info["urlText"] == crash_daemon.store_by_name(name)["url"], info
    assert not info["retryEnabled"] and info["deleteEnabled"], info
    assert "Attempts" in info["text"], info

    # The failure is listed on the Metrics tab with its headline, marked resolved:
    # the store was retried and is ready.
    select_tab(browser, "metrics")
    failure = f'{tid("metric-failure")}[data-store-name="{name}"]'
    wait_until(browser, lambda d: any("CrashLoopBackOff: wordpress, exit 1" in f.text
                                      for f in d.find_elements(By.CSS_SELECTOR, failure)),
               "the failure is not listed under Recent failures", SLOW_WAIT)
    wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, failure).get_attribute("data-resolved") == "true",
               "the failure of a store retried to ready is not marked resolved", SLOW_WAIT)
    outcome = browser.find_element(By.CSS_SELECTOR, failure + " " + tid("metric-failure-outcome")).text
    assert outcome == "resolved: retried, ready", outcome

    # The Activity Log's fail row shows the headline too, opening the whole reason.
    select_tab(browser, "activity")
    row = f'{tid("audit-row")}[data-store-name="{name}"][data-action="fail"]'
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row + " " + tid("audit-message-headline")),
               "the fail row has no headline", SLOW_WAIT)
    headline = browser.find_element(By.CSS_SELECTOR, row + " " + tid("audit-message-headline"))
    assert headline.text == "CrashLoopBackOff: wordpress, exit 1", headline.text
    detail = browser.find_element(By.CSS_SELECTOR, row + " " + tid("audit-message-detail"))
    assert not detail.is_displayed()
    headline.click()
    wait_until(browser, lambda d: d.find_element(By.CSS_SELECTOR, row + " " + tid("audit-message-detail")).text == reason,
               "the fail row's headline did not open the whole reason")


# Runs before the page's own scripts: records every EventSource the page opens (its URL,
# and the `event: behind` frames it received) and every fetch (method, URL), without
# changing what they do.
RECORD_CONNECTIONS = """
(() => {
  const NativeEventSource = window.EventSource;
  window.__eventSources = [];
  window.EventSource = class extends NativeEventSource {
    constructor(url, init) {
      super(url, init);
      const record = { url: String(url), behind: 0 };
      window.__eventSources.push(record);
      this.addEventListener('behind', () => { record.behind += 1; });
    }
  };
  const nativeFetch = window.fetch;
  window.__fetches = [];
  window.fetch = function (input, init) {
    window.__fetches.push([(init && init.method) || 'GET', String(input)]);
    return nativeFetch.apply(this, arguments);
  };
})();
"""


def api_audit_ids(daemon):
    ids, token = [], ""
    while True:
        page = daemon.api("GET", "/api/audit?limit=1000" + (f"&page_token={token}" if token else ""))
        ids += [int(e["id"]) for e in page.get("events", [])]
        token = page.get("nextPageToken", "")
        if not token:
            return ids


def test_event_stream_resumes_after_the_last_event_id_without_rereading(browser, behind_daemon):
    from concurrent.futures import ThreadPoolExecutor

    daemon = behind_daemon
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CONNECTIONS})
    open_dashboard(browser, daemon, "#activity")
    # Cards of every status, deleted ones too: the test compares each with the daemon.
    browser.execute_script("document.getElementById('show-deleted').click()")
    wait_until(browser, lambda d: d.execute_script(
        "return document.getElementById('audit-state').dataset.state !== 'loading'"),
        "the activity log never finished loading")

    def connections():
        return browser.execute_script("return window.__eventSources")

    def stores_reads():
        return [url for method, url in browser.execute_script("return window.__fetches")
                if method == "GET" and url.startswith("/api/stores?")]

    assert [c["url"] for c in connections()] == ["/api/events?progress=1"]
    # The store list was read at start, and again for "Show deleted" (the server filters).
    wait_until(browser, lambda d: len(stores_reads()) == 2, lambda: f"store list reads: {stores_reads()}")

    # Bursts of transitions from many clients at once (creates, then deletes of half of
    # them, each store going queued → provisioning → ready, deleting → deleted) until the
    # page's stream has fallen behind at least once.
    names = []
    pool = ThreadPoolExecutor(max_workers=12)
    try:
        for round_ in range(8):
            batch = [unique_name(f"burst{round_}") for _ in range(12)]
            names += batch
            created = list(pool.map(lambda n: daemon.api("POST", "/api/stores", {"name": n, "engine": "woocommerce"}), batch))
            wait_until(browser, lambda d: all(
                (daemon.api("GET", f"/api/stores/{s['id']}")["status"] == "ready") for s in created),
                f"round {round_}: the stores never became ready", timeout=SLOW_WAIT)
            list(pool.map(lambda s: daemon.api("DELETE", f"/api/stores/{s['id']}"), created[::2]))
            if any(c["behind"] for c in connections()):
                break
    finally:
        pool.shutdown(wait=True)
    assert any(c["behind"] for c in connections()), \
        f"the stream never fell behind, so nothing was resumed: {connections()}"

    # Let every store settle, then the page must show exactly the daemon's state.
    def settled(_):
        statuses = {s["name"]: s["status"]
                    for s in daemon.api("GET", "/api/stores?page_size=500").get("stores", [])}
        return statuses if all(statuses.get(n) in ("ready", "deleted") for n in names) else False
    final = wait_until(browser, settled, "the burst's stores never settled", timeout=SLOW_WAIT)

    def page_matches(d):
        shown = {n: card_status(d, n) for n in names}
        return shown == {n: final[n] for n in names}
    wait_until(browser, page_matches,
               lambda: "the page's cards never matched the daemon: " + str(
                   {n: (card_status(browser, n), final[n]) for n in names if card_status(browser, n) != final[n]}),
               timeout=SLOW_WAIT)

    expected = sorted(api_audit_ids(daemon), reverse=True)

    def activity_matches(d):
        ids = [i for i, _, _ in audit_rows(d)]
        return ids if ids == expected else False
    ids = wait_until(browser, activity_matches,
                     lambda: f"the Activity Log never held every audit id once: "
                             f"missing={sorted(set(expected) - {i for i, _, _ in audit_rows(browser)})} "
                             f"extra={sorted({i for i, _, _ in audit_rows(browser)} - set(expected))} "
                             f"rows={len(audit_rows(browser))} expected={len(expected)}",
                     timeout=SLOW_WAIT)
    assert len(set(ids)) == len(ids), "an audit id is listed twice"

    # It resumed after the last id it had instead of reading everything again: every
    # reconnect named `after=`, each id a point the page had reached, and the store list
    # was read at start only (and for "Show deleted").
    urls = [c["url"] for c in connections()]
    assert len(urls) >= 2, urls
    resumed = [int(u.split("after=", 1)[1]) for u in urls[1:] if "after=" in u]
    assert len(resumed) == len(urls) - 1, f"a reconnect did not resume with after=: {urls}"
    assert resumed == sorted(resumed) and set(resumed) <= set(expected), urls
    assert len(stores_reads()) == 2, f"the page read the store list again: {stores_reads()}"
    assert_not_reloaded(browser)


def test_event_stream_resumes_after_a_dropped_connection(browser, behind_daemon):
    """The daemon restarts while the page cannot reach /api/events (blocked in the browser),
    and transitions are committed meanwhile: when the page gets through again it resumes
    with after=<last id> and applies what it missed, without reading the lists again."""
    daemon = behind_daemon
    before = max(api_audit_ids(daemon), default=0)  # other tests' transitions, not this one's
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_CONNECTIONS})
    open_dashboard(browser, daemon, "#activity")
    # Cards of every status, deleted ones too: the test compares each with the daemon.
    browser.execute_script("document.getElementById('show-deleted').click()")
    wait_until(browser, lambda d: d.execute_script(
        "return document.getElementById('audit-state').dataset.state !== 'loading'"),
        "the activity log never finished loading")

    def connections():
        return browser.execute_script("return window.__eventSources")

    def stores_reads():
        return [url for method, url in browser.execute_script("return window.__fetches")
                if method == "GET" and url.startswith("/api/stores?")]

    def new_rows(d):
        return [i for i, _, _ in audit_rows(d) if i > before]

    # The store list was read at start, and again for "Show deleted" (the server filters).
    wait_until(browser, lambda d: len(stores_reads()) == 2, lambda: f"store list reads: {stores_reads()}")

    # One store the page sees live, so it has an id to resume from.
    seen = unique_name("seen")
    daemon.api("POST", "/api/stores", {"name": seen, "engine": "woocommerce"})
    wait_status(browser, seen, "ready")
    last_seen = max(api_audit_ids(daemon))
    wait_until(browser, lambda d: max((i for i, _, _ in audit_rows(d)), default=0) == last_seen,
               "the page never showed the last transition")
    opened_before = len(connections())

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/events*"]})
    daemon.restart()
    wait_until(browser, lambda d: find(d, "connection-status").get_attribute("data-state") == "reconnecting",
               "the page never noticed the dropped connection")
    missed = [unique_name("missed") for _ in range(4)]
    created = [daemon.api("POST", "/api/stores", {"name": n, "engine": "woocommerce"}) for n in missed]
    wait_until(browser, lambda d: all(daemon.api("GET", f"/api/stores/{s['id']}")["status"] == "ready"
                                      for s in created), "the missed stores never became ready", timeout=SLOW_WAIT)
    daemon.api("DELETE", f"/api/stores/{created[0]['id']}")
    wait_until(browser, lambda d: daemon.api("GET", f"/api/stores/{created[0]['id']}")["status"] == "deleted",
               "the deleted store never reached deleted", timeout=SLOW_WAIT)
    assert all(card(browser, n) is None for n in missed), "the page saw a transition while blocked"
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})

    expected_status = {n: ("deleted" if i == 0 else "ready") for i, n in enumerate(missed)}
    wait_until(browser, lambda d: {n: card_status(d, n) for n in missed} == expected_status,
               lambda: f"the missed transitions never showed: { {n: card_status(browser, n) for n in missed} }",
               timeout=SLOW_WAIT)
    expected = sorted((i for i in api_audit_ids(daemon) if i > before), reverse=True)
    wait_until(browser, lambda d: new_rows(d) == expected,
               lambda: f"the Activity Log never held every new audit id once: {new_rows(browser)} != {expected}",
               timeout=SLOW_WAIT)
    all_ids = [i for i, _, _ in audit_rows(browser)]
    assert len(set(all_ids)) == len(all_ids), f"an audit id is listed twice: {all_ids}"
    wait_until(browser, lambda d: find(d, "connection-status").get_attribute("data-state") == "live",
               "the page never went live again")

    resumed = [c["url"] for c in connections()[opened_before:]]
    assert resumed and all(u.startswith("/api/events?progress=1&after=") for u in resumed), resumed
    assert f"/api/events?progress=1&after={last_seen}" in resumed, (last_seen, resumed)
    assert len(stores_reads()) == 2, f"the page read the store list again: {stores_reads()}"
    assert_not_reloaded(browser)


def test_stores_tab_filters_by_status_searches_and_hides_deleted_by_default(browser, daemon):
    open_dashboard(browser, daemon)
    keep, gone = unique_name("flt-keep"), unique_name("flt-gone")
    create_and_wait_ready(browser, keep)
    create_and_wait_ready(browser, gone)
    daemon.api("DELETE", f"/api/stores/{daemon.store_by_name(gone)['id']}")
    wait_deleted(browser, daemon, gone)
    assert not find(browser, "show-deleted").is_selected()
    assert all(status != "deleted" for _, status in visible_cards(browser)), visible_cards(browser)

    # The summary strip counts the stores by status, and live ones against the quota.
    strip = strip_counts

    # Of every store, as /api/metrics counts them (not only the page loaded).
    expected, _ = api_counts(daemon)
    wait_until(browser, lambda d: strip(d) == expected, lambda: f"strip {strip(browser)} != {expected}")
    live = sum(n for s, n in expected.items() if s != "deleted")
    quota = daemon.api("GET", "/api/metrics")["maxLiveStores"]
    wait_until(browser, lambda d: find(d, "summary-live").text == f"{live} / {quota} live stores",
               lambda: f"summary-live shows {find(browser, 'summary-live').text!r}, not {live} / {quota}")

    # A status in the strip filters the list; a second click clears it.
    click(browser, "summary-ready")
    wait_until(browser, lambda d: find(d, "summary-ready").get_attribute("aria-pressed") == "true", "ready not pressed")
    shown = visible_cards(browser)
    assert shown and all(status == "ready" for _, status in shown) and keep in {n for n, _ in shown}, shown
    click(browser, "summary-deleted")
    wait_until(browser, lambda d: card_status(d, gone) == "deleted", "filtering by deleted did not show the deleted store")
    assert all(status == "deleted" for _, status in visible_cards(browser)), visible_cards(browser)
    assert find(browser, "summary-ready").get_attribute("aria-pressed") == "false"
    click(browser, "summary-deleted")
    wait_until(browser, lambda d: card(d, gone) is None and card(d, keep) is not None, "clearing the filter did not")

    # Search by name.
    search = find(browser, "store-search")
    search.send_keys(keep)
    wait_until(browser, lambda d: [n for n, _ in visible_cards(d)] == [keep],
               lambda: f"searching {keep!r} shows {visible_cards(browser)}")
    search.clear()
    search.send_keys("no-store-is-named-like-this")
    wait_until(browser, lambda d: visible_cards(d) == [] and find(d, "state-empty").text == "No stores match the filter.",
               "a search matching nothing did not say so")
    search.clear()
    search.send_keys(Keys.SPACE, Keys.BACKSPACE)
    wait_until(browser, lambda d: card(d, keep) is not None, "clearing the search did not bring the stores back")

    # "Show deleted" adds the deleted stores to the others.
    find(browser, "show-deleted").click()
    wait_until(browser, lambda d: card_status(d, gone) == "deleted" and card(d, keep) is not None, "show deleted")
    assert_not_reloaded(browser)
    daemon.api("DELETE", f"/api/stores/{daemon.store_by_name(keep)['id']}")


def test_store_page_has_every_field_and_its_own_history(browser, daemon):
    open_dashboard(browser, daemon)
    name = unique_name("page")
    create_and_wait_ready(browser, name)
    store = daemon.store_by_name(name)
    click_css(browser, f'{card_selector(name)} {tid("store-link")}')
    wait_until(browser, lambda d: find(d, "store-page").is_displayed(), "the store page did not open")
    assert browser.execute_script("return location.hash") == f"#store/{store['id']}"
    assert not browser.find_element(By.ID, "panel-stores").is_displayed()

    def field(d, key):
        return find(d, f"store-field-{key}").text

    wait_until(browser, lambda d: field(d, "status") == "ready", lambda: f"status {field(browser, 'status')!r}")
    for key, value in (("id", store["id"]), ("name", name), ("url", store["url"]), ("namespace", store["namespace"]),
                       ("release", store["release"]), ("owner", store["owner"]), ("attempts", "1")):
        assert field(browser, key) == value, (key, field(browser, key), value)

    def history(d):
        return [r.get_attribute("data-action") for r in d.find_elements(By.CSS_SELECTOR, tid("store-history-row"))]

    api_history = [e["action"] for e in daemon.api("GET", f"/api/audit?store_id={store['id']}")["events"]]
    wait_until(browser, lambda d: history(d) == api_history == ["ready", "provision", "create"],
               lambda: f"history {history(browser)} != {api_history}")

    # Live: a delete elsewhere shows on the page, and in its history.
    daemon.api("DELETE", f"/api/stores/{store['id']}")
    wait_until(browser, lambda d: field(d, "status") == "deleted" and history(d)[:2] == ["deleted", "delete"],
               lambda: f"status {field(browser, 'status')!r}, history {history(browser)}", SLOW_WAIT)
    assert field(browser, "deleted-at") != "—"
    assert_not_reloaded(browser)

    # The page has its own address; the back link returns to the list.
    find(browser, "store-page-back").click()
    wait_until(browser, lambda d: find(d, "tab-stores").get_attribute("aria-selected") == "true"
               and not find(d, "store-page").is_displayed(), "the back link did not return to the stores")
    browser.get(daemon.url + f"/#store/{store['id']}")
    wait_until(browser, lambda d: find(d, "store-page").is_displayed() and field(d, "name") == name,
               "opening the store's address did not show its page")


def test_a_failed_stores_page_shows_its_failure_in_full(browser, crash_daemon):
    open_dashboard(browser, crash_daemon)
    name = unique_name("page-crash")
    create_in_form(browser, name)
    wait_status(browser, name, "failed", SLOW_WAIT)
    store = crash_daemon.store_by_name(name)
    browser.get(crash_daemon.url + f"/#store/{store['id']}")
    wait_until(browser, lambda d: find(d, "store-page-error-detail").is_displayed(), "the page did not show the failure")
    assert find(browser, "store-page-error-headline").text == store["errorSummary"] == "CrashLoopBackOff: wordpress, exit 1"
    assert find(browser, "store-page-error-detail").text == store["errorMessage"]
    crash_daemon.api("DELETE", f"/api/stores/{store['id']}")


# Where every run saves its screenshots of each tab (CI keeps artifacts/ as its artifacts).
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"


@pytest.mark.own_window_sizes
def test_screenshots_of_every_tab_at_desktop_and_phone_sizes(browser, daemon):
    """Saves artifacts/screenshots/<tab>-<width>x<height>.png (CI keeps artifacts/), and
    checks that no tab scrolls sideways at either size."""
    name = unique_name("shot")
    daemon.api("POST", "/api/stores", {"name": name, "engine": "woocommerce"})
    folder = SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        browser.set_window_size(width, height)
        wait_until(browser, lambda d: d.execute_script("return window.innerWidth") == width,
                   f"could not make the window {width} px wide")
        open_dashboard(browser, daemon)
        wait_status(browser, name, "ready")
        store_id = daemon.store_by_name(name)["id"]
        for tab in ("stores", "activity", "metrics", "fleet", "store"):
            if tab == "store":
                browser.execute_script("location.hash = arguments[0]", f"#store/{store_id}")
                wait_until(browser, lambda d: find(d, "store-page").is_displayed() and find(d, "store-history-row"),
                           "the store page did not open")
            else:
                select_tab(browser, tab)
                if tab == "metrics":
                    wait_until(browser, lambda d: find(d, "metric-count-ready").text != "", "no metrics shown")
                if tab == "fleet":
                    wait_until(browser, lambda d: d.execute_script(
                        "return document.getElementById('fleet-version').options.length") > 0, "the fleet form has no versions")
            widths = browser.execute_script("const e = document.documentElement; return [e.scrollWidth, e.clientWidth]")
            assert widths[0] <= widths[1], f"horizontal scroll on {tab} at {width}x{height}: {widths}"
            path = folder / f"{tab}-{width}x{height}.png"
            assert browser.save_screenshot(str(path)), path
            assert path.stat().st_size > 1000, path
    daemon.api("DELETE", f"/api/stores/{daemon.store_by_name(name)['id']}")


def test_a_provisioning_card_shows_each_step_as_it_begins(browser, slow_daemon):
    open_dashboard(browser, slow_daemon)
    name = unique_name("steps")
    # Every step a card of the store is rendered with, in order.
    browser.execute_script("""
        const name = arguments[0];
        const seen = window.__steps = [];
        new MutationObserver(() => {
            const step = document.querySelector(`[data-store-name="${name}"] [data-testid="store-step"]`);
            const value = step && step.dataset.step;
            if (value && seen[seen.length - 1] !== value) seen.push(value);
        }).observe(document.getElementById('store-list'), {childList: true, subtree: true});
    """, name)
    create_in_form(browser, name)
    def shown_step(d):
        steps = card(d, name).find_elements(By.CSS_SELECTOR, tid("store-step")) if card(d, name) else []
        return steps[0].get_attribute("data-step") if steps else None

    wait_until(browser, lambda d: shown_step(d) == "install", lambda: f"the card never showed the install step ({shown_step(browser)})")
    step = card(browser, name).find_element(By.CSS_SELECTOR, tid("store-step")).text
    assert step.endswith("step 3 of 4: installing the Helm release"), step
    assert "Provisioning for" in card_info(browser, name)["text"]
    # The time since the attempt started, against the deadline (--provision-deadline, 600 s by default).
    deadline = int(slow_daemon.api("GET", "/api/health")["provisionDeadlineMs"])
    assert deadline == 600_000
    elapsed = card(browser, name).find_element(By.CSS_SELECTOR, tid("store-progress")).text
    assert re.fullmatch(r"\d+ s of 10 min", elapsed), elapsed
    wait_status(browser, name, "ready", SLOW_WAIT)
    assert browser.execute_script("return window.__steps") == ["namespace", "secret", "install", "readiness"]
    # A ready card shows no step.
    assert card(browser, name).find_elements(By.CSS_SELECTOR, tid("store-step")) == []
    slow_daemon.api("DELETE", f"/api/stores/{slow_daemon.store_by_name(name)['id']}")


def test_the_table_view_lists_the_same_stores_with_the_same_filters_and_actions(browser, daemon):
    open_dashboard(browser, daemon)
    name = unique_name("table")
    create_and_wait_ready(browser, name)
    cards = visible_cards(browser)

    def rows(d):
        return d.execute_script("""
            return Array.from(document.querySelectorAll('[data-testid="store-row"]'))
                .map(r => [r.dataset.storeName, r.dataset.status]);
        """)

    find(browser, "view-table").click()
    wait_until(browser, lambda d: find(d, "store-table").is_displayed() and rows(d) == cards,
               lambda: f"the table {rows(browser)} is not the cards {cards}")
    assert visible_cards(browser) == []
    assert find(browser, "view-table").get_attribute("aria-pressed") == "true"
    row = browser.find_element(By.CSS_SELECTOR, f'{tid("store-row")}[data-store-name="{name}"]')
    assert daemon.store_by_name(name)["url"] in row.text

    # The search applies to the table too.
    find(browser, "store-search").send_keys(name)
    wait_until(browser, lambda d: rows(d) == [[name, "ready"]], lambda: f"search in the table: {rows(browser)}")

    # A delete from a row asks first, then the row follows the store (hidden once deleted).
    click_css(browser, f'{tid("store-row")}[data-store-name="{name}"] button[aria-label^="Delete"]')
    wait_until(browser, lambda d: find(d, "confirm-dialog").is_displayed(), "no confirmation dialog")
    find(browser, "confirm-ok").click()
    wait_until(browser, lambda d: daemon.store_by_name(name)["status"] == "deleted" and rows(d) == [],
               lambda: f"the deleted store's row stayed: {rows(browser)}")
    find(browser, "view-cards").click()
    wait_until(browser, lambda d: not find(d, "store-table").is_displayed(), "the cards did not come back")
    assert_not_reloaded(browser)


def test_counts_filters_and_search_reach_every_store_not_only_the_first_page(browser, many_daemon):
    """130 stores, 100 to a page: the strip counts all of them, and the status filter and the
    search ask the server, so stores beyond the first page are found."""
    open_dashboard(browser, many_daemon)

    strip = strip_counts

    def strip_matches(d):
        counts, _ = api_counts(many_daemon)
        return strip(d) == counts

    wait_until(browser, strip_matches, lambda: f"strip {strip(browser)} != {api_counts(many_daemon)[0]}")
    assert sum(strip(browser).values()) == 130
    assert strip(browser)["deleted"] == 1

    # One page of cards (deleted hidden), the rest behind "Load more".
    assert len(visible_cards(browser)) == 100
    wait_until(browser, lambda d: find(d, "stores-shown").text == "100 of 129 stores shown",
               lambda: f"the list says {find(browser, 'stores-shown').text!r}")
    find(browser, "stores-more").click()
    wait_until(browser, lambda d: len(visible_cards(d)) == 129, lambda: f"{len(visible_cards(browser))} cards after Load more")
    assert not find(browser, "stores-more").is_displayed()
    assert card(browser, "bulk-000") is not None and card(browser, "bulk-001") is None

    # A fresh page: a store beyond the first page is found by searching its name.
    open_dashboard(browser, many_daemon)
    assert card(browser, "bulk-002") is None
    find(browser, "store-search").send_keys("bulk-002")
    wait_until(browser, lambda d: [n for n, _ in visible_cards(d)] == ["bulk-002"],
               lambda: f"searching bulk-002 shows {visible_cards(browser)}")
    search = find(browser, "store-search")
    search.clear()
    search.send_keys(Keys.SPACE, Keys.BACKSPACE)
    wait_until(browser, lambda d: len(visible_cards(d)) == 100, "clearing the search did not bring the first page back")

    # The strip is drawn again at each transition: its buttons are clicked where they are now.
    def press(status):
        browser.execute_script("document.querySelector(`[data-testid=\"summary-${arguments[0]}\"]`).click()", status)

    # The deleted store, the second oldest, is found by its status.
    press("deleted")
    wait_until(browser, lambda d: visible_cards(d) == [["bulk-001", "deleted"]],
               lambda: f"filtering by deleted shows {visible_cards(browser)}")
    press("deleted")

    # Each status filter shows what the server holds in that status (at most a page).
    for status in ("provisioning", "queued"):
        press(status)

        def filtered(d):
            shown = visible_cards(d)
            held = {x["name"] for x in many_daemon.api("GET", f"/api/stores?status={status}&page_size=500")["stores"]}
            return (all(st == status for _, st in shown) and {n for n, _ in shown} <= held
                    and len(shown) == min(100, len(held)))

        wait_until(browser, filtered, lambda: f"filtering by {status} shows {visible_cards(browser)}")
        press(status)
    assert_not_reloaded(browser)


# ---------------------------------------------------------------- versions, upgrades, rollbacks


def ready_stores_and_versions(daemon, names, timeout=WAIT):
    """Creates stores `names` through the API and waits until each is ready; returns
    the version they run and another one to upgrade them to."""
    for name in names:
        daemon.api("POST", "/api/stores", {"name": name})
    for name in names:
        wait_api(daemon, daemon.store_by_name(name)["id"], lambda s: s["status"] == "ready", f"{name} never became ready", timeout)
    original = daemon.store_by_name(names[0])["version"]
    return original, next(v for v in api_versions(daemon) if v != original)


def wait_api(daemon, store_id, condition, what, timeout=WAIT):
    """Polls GET /api/stores/{id} until condition(store); returns the store."""
    deadline = time.monotonic() + timeout
    store = None
    while time.monotonic() < deadline:
        store = daemon.api("GET", f"/api/stores/{store_id}")
        if condition(store):
            return store
        time.sleep(0.05)
    raise AssertionError(f"after {timeout} s: {what} (last: {store})")


def ready_store_by_api(daemon, name):
    created = daemon.api("POST", "/api/stores", {"name": name})
    return wait_api(daemon, created["id"], lambda s: s["status"] == "ready", f"{name!r} never became ready")


def api_versions(daemon):
    return [v["name"] for v in daemon.api("GET", "/api/versions")["versions"]]


def api_revisions(daemon, store_id):
    return daemon.api("GET", f"/api/stores/{store_id}/revisions")["revisions"]


def card_version(browser, name, testid="store-version"):
    """[version, revision] as the store's card (or table row) shows them, or None."""
    return browser.execute_script("""
        const holder = document.querySelector(arguments[0]);
        const v = holder && holder.querySelector(`[data-testid="${arguments[1]}"]`);
        return v ? [v.dataset.version, Number(v.dataset.revision)] : null;
    """, card_selector(name) if testid == "store-version" else f'{tid("store-row")}[data-store-name="{name}"]', testid)


def dialog_choices(browser):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('#upgrade-version option')).map(o => o.value)")


def open_upgrade_dialog(browser, name):
    click_in_card(browser, name, "store-upgrade")
    wait_until(browser, lambda d: find(d, "upgrade-dialog").is_displayed(), "no upgrade dialog")


def choose_in_upgrade_dialog(browser, version):
    wait_until(browser, lambda d: version in dialog_choices(d), lambda: f"{version} not offered: {dialog_choices(browser)}")
    Select(find(browser, "upgrade-version")).select_by_value(version)
    find(browser, "upgrade-ok").click()
    wait_until(browser, lambda d: not find(d, "upgrade-dialog").is_displayed(), "the upgrade dialog stayed open")


def page_revisions(browser):
    """(revision, version, status, has a "Roll back to this") of the store page's revisions, top to bottom."""
    return [tuple(r) for r in browser.execute_script("""
        return Array.from(document.querySelectorAll('[data-testid="store-revision-row"]')).map(r => [
            Number(r.dataset.revision), r.dataset.version, r.dataset.status,
            r.querySelector('[data-testid="store-rollback"]') !== null]);
    """)]


def expected_revisions(daemon, store_id, current):
    """The API's revisions as page_revisions shows them: an earlier one that ran can be rolled back to."""
    return [(r["revision"], r["version"], r["status"], r["revision"] < current and r["status"] in ("deployed", "superseded"))
            for r in api_revisions(daemon, store_id)]


def revision_row(browser, revision):
    return browser.find_element(By.CSS_SELECTOR, f'{tid("store-revision-row")}[data-revision="{revision}"]')


def save_shot(browser, stem, window_size, show=None):
    """Saves artifacts/screenshots/<stem>-<size>.png, with the element of test id `show` scrolled into view."""
    if show:
        browser.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", tid(show))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{stem}-{window_size[0]}x{window_size[1]}.png"
    assert browser.save_screenshot(str(path)), path
    assert path.stat().st_size > 1000, path


def assert_no_sideways_scroll(browser, where):
    widths = browser.execute_script("const e = document.documentElement; return [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"horizontal scroll on {where}: {widths}"


def test_upgrade_from_the_dialog_reaches_ready_on_the_new_version(browser, daemon, window_size):
    open_dashboard(browser, daemon)
    name = unique_name("upg")
    create_and_wait_ready(browser, name)
    store = daemon.store_by_name(name)
    original = store["version"]
    assert original and store["revision"] == 1, store
    # The card shows the version the store runs, with its revision.
    wait_until(browser, lambda d: card_version(d, name) == [original, 1], lambda: f"card shows {card_version(browser, name)}")
    assert f"{original} · revision 1" in card_info(browser, name)["text"]
    # upgrading is one of the summary strip's statuses, as the others are.
    assert strip_counts(browser)["upgrading"] is not None

    versions = api_versions(daemon)
    target = next(v for v in versions if v != original)
    watch_statuses(browser, name)
    open_upgrade_dialog(browser, name)
    # Every version but the one the store runs.
    wait_until(browser, lambda d: dialog_choices(d) == [v for v in versions if v != original],
               lambda: f"the dialog offers {dialog_choices(browser)} of {versions}")
    assert original in find(browser, "upgrade-dialog").text
    save_shot(browser, "upgrade-dialog", window_size)
    choose_in_upgrade_dialog(browser, target)

    wait_until(browser, lambda d: card_status(d, name) == "ready" and card_version(d, name) == [target, 2],
               lambda: f"card {card_status(browser, name)} on {card_version(browser, name)}", SLOW_WAIT)
    seen = recorded_statuses(browser, name)
    assert "upgrading" in seen and seen[-1] == "ready" and seen.index("upgrading") < len(seen) - 1, seen
    after = daemon.store_by_name(name)
    assert (after["status"], after["version"], after["revision"]) == ("ready", target, 2), after
    assert_not_reloaded(browser)

    # The table shows the version too.
    find(browser, "view-table").click()
    wait_until(browser, lambda d: card_version(d, name, "store-row-version") == [target, 2],
               lambda: f"the row shows {card_version(browser, name, 'store-row-version')}")
    find(browser, "view-cards").click()
    wait_until(browser, lambda d: card(d, name) is not None, "the cards did not come back")

    # A refusal shows on the card, as a refused delete or retry does: the dialog offered
    # the original version, and meanwhile the store went back to it.
    open_upgrade_dialog(browser, name)
    wait_until(browser, lambda d: dialog_choices(d) == [v for v in versions if v != target],
               lambda: f"the dialog offers {dialog_choices(browser)}")
    daemon.api("POST", f"/api/stores/{store['id']}/upgrade", {"version": original})
    wait_api(daemon, store["id"], lambda s: s["status"] == "ready" and s["version"] == original, "the second upgrade never ended")
    with pytest.raises(ApiError) as refused:
        daemon.api("POST", f"/api/stores/{store['id']}/upgrade", {"version": original})
    expected = json.loads(refused.value.body)["error"]
    assert expected["code"] == "ALREADY_ON_VERSION", expected
    choose_in_upgrade_dialog(browser, original)
    action_error = lambda d: card(d, name).find_element(By.CSS_SELECTOR, tid("store-action-error")).text  # noqa: E731
    wait_until(browser, lambda d: action_error(d) == expected["message"], "the refusal was not shown on the card")
    daemon.api("DELETE", f"/api/stores/{store['id']}")


def test_store_page_lists_revisions_and_rolls_back_from_them(browser, daemon, window_size):
    name = unique_name("rev")
    store = ready_store_by_api(daemon, name)
    original = store["version"]
    target = next(v for v in api_versions(daemon) if v != original)
    daemon.api("POST", f"/api/stores/{store['id']}/upgrade", {"version": target})
    wait_api(daemon, store["id"], lambda s: s["status"] == "ready" and s["revision"] == 2, "the upgrade never ended")

    open_dashboard(browser, daemon, f"#store/{store['id']}")
    wait_until(browser, lambda d: find(d, "store-page").is_displayed(), "the store page did not open")
    expected = expected_revisions(daemon, store["id"], 2)
    assert expected == [(2, target, "deployed", False), (1, original, "superseded", True)], expected
    wait_until(browser, lambda d: page_revisions(d) == expected, lambda: f"revisions {page_revisions(browser)} != {expected}")
    # Each row says who made it and what happened.
    for revision in api_revisions(daemon, store["id"]):
        row = revision_row(browser, revision["revision"])
        assert row.find_element(By.CSS_SELECTOR, tid("store-revision-actor")).text == revision["actor"]
        assert row.find_element(By.CSS_SELECTOR, tid("store-revision-message")).text == revision["message"]
        assert row.find_element(By.TAG_NAME, "time").get_attribute("datetime")
    assert find(browser, "store-field-version").text == target
    assert find(browser, "store-field-revision").text == "2"
    assert_no_sideways_scroll(browser, f"the store page at {window_size}")
    save_shot(browser, "store-revisions", window_size, show="store-page-upgrade")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    save_shot(browser, "store-revisions-dark", window_size, show="store-page-upgrade")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # Every status the page's status field is rendered with, in order.
    browser.execute_script("""
        const seen = window.__pageStatuses = [];
        new MutationObserver(() => {
            const f = document.querySelector('[data-testid="store-field-status"]');
            const s = f && f.textContent;
            if (s && seen[seen.length - 1] !== s) seen.push(s);
        }).observe(document.getElementById('store-page-body'), {childList: true, subtree: true});
    """)
    revision_row(browser, 1).find_element(By.CSS_SELECTOR, tid("store-rollback")).click()
    wait_until(browser, lambda d: find(d, "confirm-dialog").is_displayed(), "no confirmation dialog")
    assert "revision 1" in find(browser, "confirm-dialog").text
    find(browser, "confirm-ok").click()

    def settled(d):
        return (find(d, "store-field-status").text == "ready" and find(d, "store-field-revision").text == "3"
                and find(d, "store-field-version").text == original)

    wait_until(browser, settled, lambda: f"the page shows {find(browser, 'store-field-status').text} "
               f"revision {find(browser, 'store-field-revision').text}", SLOW_WAIT)
    assert "upgrading" in browser.execute_script("return window.__pageStatuses"), browser.execute_script("return window.__pageStatuses")
    expected = expected_revisions(daemon, store["id"], 3)
    assert [r[:3] for r in expected] == [(3, original, "deployed"), (2, target, "superseded"), (1, original, "superseded")], expected
    wait_until(browser, lambda d: page_revisions(d) == expected, lambda: f"revisions {page_revisions(browser)} != {expected}", SLOW_WAIT)
    history = lambda d: [r.get_attribute("data-action") for r in d.find_elements(By.CSS_SELECTOR, tid("store-history-row"))]  # noqa: E731
    wait_until(browser, lambda d: history(d)[:2] == ["upgraded", "rollback"], lambda: f"history {history(browser)}", SLOW_WAIT)
    assert_not_reloaded(browser)
    daemon.api("DELETE", f"/api/stores/{store['id']}")


def test_a_failed_upgrade_rolls_back_by_itself_and_says_why(browser, upgrade_fault_daemon, window_size):
    d = upgrade_fault_daemon
    open_dashboard(browser, d)
    name = unique_name("upg-fault")
    create_and_wait_ready(browser, name)
    store = d.store_by_name(name)
    original = store["version"]
    target = next(v for v in api_versions(d) if v != original)
    watch_statuses(browser, name)
    open_upgrade_dialog(browser, name)
    choose_in_upgrade_dialog(browser, target)

    # The store goes upgrading, then ready again on its old version (the rollback's revision).
    wait_until(browser, lambda b: "upgrading" in recorded_statuses(b, name) and card_status(b, name) == "ready"
               and card_version(b, name) == [original, 3],
               lambda: f"card {recorded_statuses(browser, name)} on {card_version(browser, name)}", SLOW_WAIT)
    after = d.store_by_name(name)
    assert (after["status"], after["version"], after["revision"]) == ("ready", original, 3), after
    entry = next(e for e in d.api("GET", f"/api/audit?store_id={store['id']}")["events"] if e["action"] == "rolled-back")
    assert entry["message"].startswith(f"upgrade to {target} failed: "), entry

    # The card says why, its headline opening the whole reason.
    headline = lambda b: card(b, name).find_element(By.CSS_SELECTOR, tid("store-rolled-back-reason-headline"))  # noqa: E731
    wait_until(browser, lambda b: headline(b).text == (entry["summary"] or entry["message"].split("\n")[0]),
               "the card does not say why the upgrade was rolled back")
    headline(browser).click()
    wait_until(browser, lambda b: card(b, name).find_element(By.CSS_SELECTOR, tid("store-rolled-back-reason-detail")).text
               == entry["message"], "the headline did not open the whole reason")
    assert_not_reloaded(browser)
    assert_no_sideways_scroll(browser, f"the stores at {window_size}")
    save_shot(browser, "store-card-rolled-back", window_size, show="store-rolled-back")

    # The store's page lists the failed revision as rolled back, with why.
    click_css(browser, f'{card_selector(name)} {tid("store-link")}')
    wait_until(browser, lambda b: find(b, "store-page").is_displayed(), "the store page did not open")
    expected = expected_revisions(d, store["id"], 3)
    assert [r[:3] for r in expected] == [(3, original, "deployed"), (2, target, "rolled-back"), (1, original, "superseded")], expected
    wait_until(browser, lambda b: page_revisions(b) == expected, lambda: f"revisions {page_revisions(browser)} != {expected}")
    failed = next(r for r in api_revisions(d, store["id"]) if r["revision"] == 2)
    row = revision_row(browser, 2)
    row.find_element(By.CSS_SELECTOR, tid("store-revision-message-headline")).click()
    wait_until(browser, lambda b: revision_row(b, 2).find_element(By.CSS_SELECTOR, tid("store-revision-message-detail")).text
               == failed["message"], "the rolled-back revision does not show why")
    assert find(browser, "store-page-rolled-back-reason-headline").is_displayed()
    assert_no_sideways_scroll(browser, f"the store page at {window_size}")
    save_shot(browser, "store-rolled-back", window_size, show="store-page-upgrade")
    d.api("DELETE", f"/api/stores/{store['id']}")


# ---------------------------------------------------------------- fleet upgrades


def fleet_state(browser):
    """The state of the fleet upgrade the Fleet tab's card shows, or None."""
    return browser.execute_script("""
        const card = document.getElementById('fleet-current');
        return card.hidden ? null : (card.dataset.state || null);
    """)


def fleet_view(browser):
    """What the card shows: state, wave, counts per outcome, each store's (name, outcome), the log's actions."""
    return browser.execute_script("""
        const card = document.getElementById('fleet-current');
        if (card.hidden) return null;
        const counts = {};
        for (const c of card.querySelectorAll('[data-testid^="fleet-count-"]')) counts[c.dataset.testid.slice(12)] = Number(c.dataset.count);
        const text = (id) => { const e = card.querySelector(`[data-testid="${id}"]`); return e ? e.textContent : null; };
        return {
            id: card.dataset.fleetId, state: card.dataset.state, wave: text('fleet-wave'), counts,
            stores: Array.from(card.querySelectorAll('[data-testid="fleet-store-row"]')).map(r => [r.dataset.storeName, r.dataset.outcome]),
            steps: Array.from(card.querySelectorAll('[data-testid="fleet-step"]')).map(r => r.dataset.action),
            failed: text('fleet-failed'), notStarted: text('fleet-not-started'),
        };
    """)


def record_fleet_states(browser):
    """Records, in the page, every state and upgraded count the fleet card is rendered with."""
    browser.execute_script("""
        const seen = window.__fleetStates = [];
        const card = document.getElementById('fleet-current');
        const note = () => {
            const c = card.querySelector('[data-testid="fleet-count-upgraded"]');
            const entry = (card.dataset.state || '') + ':' + (c ? c.dataset.count : '');
            if (card.dataset.state && seen[seen.length - 1] !== entry) seen.push(entry);
        };
        new MutationObserver(note).observe(card, {childList: true, subtree: true, attributes: true});
    """)


def recorded_fleet_states(browser):
    return browser.execute_script("return window.__fleetStates || []")


def start_fleet_in_panel(browser, version, wave_size, names=None, failure_budget=None):
    """Fills the Fleet tab's form (every live store, or `names` in order) and starts it."""
    wait_until(browser, lambda d: version in d.execute_script(
        "return Array.from(document.querySelectorAll('#fleet-version option')).map(o => o.value)"),
        f"{version} is not offered in the fleet form")
    Select(find(browser, "fleet-version")).select_by_value(version)
    if names:
        Select(find(browser, "fleet-selection")).select_by_value("names")
        wait_until(browser, lambda d: find(d, "fleet-names").is_displayed(), "the names field did not show")
        find(browser, "fleet-names").send_keys(", ".join(names))
    for testid, value in (("fleet-wave-size", wave_size), ("fleet-failure-budget", failure_budget)):
        if value is None:
            continue
        field = find(browser, testid)
        field.clear()
        field.send_keys(str(value))
    find(browser, "fleet-submit").click()


def open_fleet_tab(browser, daemon):
    open_dashboard(browser, daemon, "#fleet")
    wait_until(browser, lambda d: find(d, "tab-fleet").get_attribute("aria-selected") == "true", "the Fleet tab is not selected")


def test_a_fleet_upgrade_in_waves_runs_to_completed_in_the_panel(browser, fleet_daemons, window_size):
    d = fleet_daemons()
    names = [f"fleet-{i}" for i in range(1, 6)]
    original, target = ready_stores_and_versions(d, names)

    open_fleet_tab(browser, d)
    wait_until(browser, lambda b: b.find_element(By.ID, "fleet-list-state").text == "No fleet upgrade yet.", "the empty list is not said")
    assert fleet_state(browser) is None
    record_fleet_states(browser)
    start_fleet_in_panel(browser, target, 2)

    wait_until(browser, lambda b: fleet_state(b) == "completed", lambda: f"the card shows {fleet_view(browser)}", 60)
    api = d.api("GET", "/api/fleet-upgrades/current")
    assert (api["state"], api["upgraded"], api["waveCount"], api["version"]) == ("completed", 5, 3, target), api
    view = fleet_view(browser)
    assert view["id"] == api["id"], view
    assert view["wave"] == "3 of 3", view
    assert view["counts"] == {"upgraded": 5, "rolled-back": 0, "failed": 0, "skipped": 0, "upgrading": 0, "waiting": 0}, view
    assert view["stores"] == [[name, "upgraded"] for name in names], view
    assert view["steps"] == [s["action"] for s in api["steps"]] == ["start", "wave", "wave", "wave", "end"], view
    assert view["failed"] is None and view["notStarted"] is None, view
    # It was followed live: running with fewer stores upgraded first, then completed.
    seen = recorded_fleet_states(browser)
    assert seen and seen[0].startswith("running:") and seen[-1] == "completed:5", seen
    assert len({entry.split(":")[1] for entry in seen if entry.startswith("running:")}) >= 2, seen
    for name in names:
        assert d.store_by_name(name)["version"] == target
    # The latest fleet upgrades list it; no button changes an ended one.
    wait_until(browser, lambda b: [(r.get_attribute("data-fleet-id"), r.get_attribute("data-state"))
                                   for r in b.find_elements(By.CSS_SELECTOR, tid("fleet-list-row"))] == [(api["id"], "completed")],
               "the list does not show the completed fleet upgrade")
    for button in ("fleet-pause", "fleet-resume", "fleet-cancel"):
        assert not find(browser, button).is_enabled(), button
    assert_not_reloaded(browser)
    assert_no_sideways_scroll(browser, f"the Fleet tab at {window_size}")
    save_shot(browser, "fleet-completed", window_size, show="fleet-current")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    save_shot(browser, "fleet-completed-dark", window_size, show="fleet-current")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_a_seeded_failure_stops_the_fleet_upgrade_and_the_panel_names_the_stores(browser, fleet_daemons, window_size):
    d = fleet_daemons("--sim-fault", "upgrade-error@shop-3")
    names = [f"shop-{i}" for i in range(1, 7)]
    original, target = ready_stores_and_versions(d, names)

    open_fleet_tab(browser, d)
    start_fleet_in_panel(browser, target, 2, names=names, failure_budget=0)
    wait_until(browser, lambda b: fleet_state(b) == "stopped", lambda: f"the card shows {fleet_view(browser)}", 60)
    api = d.api("GET", "/api/fleet-upgrades/current")
    assert api["state"] == "stopped", api
    view = fleet_view(browser)
    assert view["stores"] == [["shop-1", "upgraded"], ["shop-2", "upgraded"], ["shop-3", "rolled-back"],
                              ["shop-4", "upgraded"], ["shop-5", "waiting"], ["shop-6", "waiting"]], view
    assert view["stores"] == [[s["name"], s["outcome"]] for s in api["stores"]], (view, api)
    assert view["counts"]["rolled-back"] == 1 and view["counts"]["waiting"] == 2 and view["counts"]["upgraded"] == 3, view
    assert view["failed"] == "Failed: shop-3", view
    assert view["notStarted"] == "Not started (they keep their version): shop-5, shop-6", view
    assert view["steps"] == ["start", "wave", "wave", "stop", "end"], view
    # The failed store says why, its headline opening the whole reason.
    failed = next(s for s in api["stores"] if s["name"] == "shop-3")
    assert failed["message"], failed
    click_css(browser, f'{tid("fleet-store-row")}[data-store-name="shop-3"] {tid("fleet-store-reason-headline")}')
    wait_until(browser, lambda b: b.find_element(By.CSS_SELECTOR, f'{tid("fleet-store-row")}[data-store-name="shop-3"] {tid("fleet-store-reason-detail")}').text
               == failed["message"], "the failed store's reason did not open")
    assert d.store_by_name("shop-5")["version"] == original
    assert_not_reloaded(browser)
    assert_no_sideways_scroll(browser, f"the Fleet tab at {window_size}")
    save_shot(browser, "fleet-stopped", window_size, show="fleet-current")


def test_pause_then_resume_from_the_panel(browser, fleet_daemons, window_size):
    # Each upgrade takes a few seconds here, so the pause lands while the first wave runs.
    d = fleet_daemons("--sim-ready-delay", "3")
    names = [f"slow-{i}" for i in range(1, 4)]
    original, target = ready_stores_and_versions(d, names, SLOW_WAIT)

    open_fleet_tab(browser, d)
    start_fleet_in_panel(browser, target, 1)
    wait_until(browser, lambda b: fleet_state(b) == "running" and find(b, "fleet-pause").is_enabled(),
               lambda: f"the card shows {fleet_view(browser)}")
    assert not find(browser, "fleet-resume").is_enabled()
    find(browser, "fleet-pause").click()
    wait_until(browser, lambda b: fleet_state(b) == "paused", lambda: f"the card shows {fleet_view(browser)}")
    assert d.api("GET", "/api/fleet-upgrades/current")["state"] == "paused"
    # Paused: the store upgrading ends, no other starts.
    wait_until(browser, lambda b: fleet_view(b)["counts"]["upgrading"] == 0, lambda: f"the card shows {fleet_view(browser)}", SLOW_WAIT)
    view = fleet_view(browser)
    assert view["state"] == "paused" and view["counts"]["waiting"] >= 1, view
    assert find(browser, "fleet-resume").is_enabled() and not find(browser, "fleet-pause").is_enabled()
    save_shot(browser, "fleet-paused", window_size, show="fleet-current")
    find(browser, "fleet-resume").click()
    wait_until(browser, lambda b: fleet_state(b) == "completed", lambda: f"the card shows {fleet_view(browser)}", 60)
    view = fleet_view(browser)
    assert view["counts"]["upgraded"] == 3, view
    assert view["steps"][:2] == ["start", "wave"] and "pause" in view["steps"] and "resume" in view["steps"], view
    assert view["steps"].index("pause") < view["steps"].index("resume") and view["steps"][-1] == "end", view
    actors = [s["actor"] for s in d.api("GET", "/api/fleet-upgrades/current")["steps"] if s["action"] in ("pause", "resume")]
    assert actors == ["http:127.0.0.1", "http:127.0.0.1"], actors
    assert_not_reloaded(browser)
