// StorePlatform dashboard: vanilla JavaScript (ES2020), no build step, no dependencies.
// Talks to the daemon's HTTP gateway (same origin): /api/stores (and a store's revisions,
// upgrade and rollback), /api/versions, /api/fleet-upgrades (and a fleet upgrade's event
// stream), /api/audit, /api/metrics, and /api/events (Server-Sent Events) for live updates.
'use strict';

(() => {
  // ------------------------------------------------------------------ constants

  const STATUSES = ['queued', 'provisioning', 'ready', 'upgrading', 'failed', 'deleting', 'deleted'];
  const DELETABLE = new Set(['queued', 'provisioning', 'ready', 'failed']);
  const RETRYABLE = new Set(['failed']);
  /** Statuses an upgrade (or a rollback) applies to. */
  const UPGRADABLE = new Set(['ready']);
  /** Revision statuses a rollback can go back to: revisions that ran. */
  const RAN = new Set(['deployed', 'superseded']);
  /** Statuses an operation is under way in: the card shows for how long. */
  const IN_PROGRESS = new Set(['queued', 'provisioning', 'upgrading', 'deleting']);
  const NAME_MAX = 40;
  const TOKEN_KEY = 'storeplatform.token';
  const STORES_PAGE = 100;
  /** How long after the last key the search asks the server. */
  const SEARCH_DELAY_MS = 250;
  const AUDIT_PAGE = 50;
  // The gateway rate-limits every caller (30 requests/min by default), so refreshes caused
  // by live events are throttled and only made for the tab on screen.
  const AUDIT_REFRESH_MS = 3000;
  const METRICS_REFRESH_MS = 5000;
  const COUNTS_RESYNC_MS = 10000;
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 30000;

  // ------------------------------------------------------------------ helpers

  const $ = (id) => document.getElementById(id);

  /** Creates an element: el('p', {class: 'x', dataset: {...}}, child, 'text', ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** The gateway writes statuses as the filter takes them ("ready"); none is "unspecified". */
  function statusName(status) {
    return status ? String(status) : 'unspecified';
  }

  /** proto3 JSON int64 (a string) → number; missing → 0. */
  const int64 = (value) => (value === undefined || value === null || value === '' ? 0 : Number(value));

  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

  function timeElement(ms) {
    if (!ms) return el('span', { class: 'muted', text: '—' });
    const date = new Date(ms);
    return el('time', { datetime: date.toISOString(), title: date.toISOString() }, timeFormat.format(date));
  }

  /** "just now", "2 min ago", "3 h ago", "4 d ago". */
  function ago(ms) {
    const s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 10) return 'just now';
    if (s < 60) return Math.floor(s) + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  /** "12 s", "4 min 5 s", "2 h 3 min": how long since `ms`. */
  function elapsed(ms) {
    return spanText(Date.now() - ms);
  }

  /** "12 s", "10 min", "4 min 5 s", "2 h 3 min": a length of time in milliseconds. */
  function spanText(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600 && s % 60 === 0) return s / 60 + ' min';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  /** A time shown relative to now ("2 min ago"), exact on hover; kept current by the ticker below. */
  function relativeTime(ms) {
    if (!ms) return el('span', { class: 'muted', text: '—' });
    const date = new Date(ms);
    return el('time', { datetime: date.toISOString(), title: timeFormat.format(date) + ' (' + date.toISOString() + ')', 'data-relative': String(ms) }, ago(ms));
  }

  /** How long something has lasted ("12 s"), or, given a deadline, how long against it
   * ("12 s of 10 min"); kept current by the ticker below. */
  function durationSince(ms, testid, deadlineMs) {
    const attrs = { 'data-since': String(ms), 'data-testid': testid };
    if (deadlineMs) attrs['data-deadline'] = String(deadlineMs);
    const node = el('span', attrs);
    tickDuration(node);
    return node;
  }

  function tickDuration(node) {
    const since = Number(node.dataset.since);
    const deadline = Number(node.dataset.deadline || 0);
    node.textContent = deadline ? `${elapsed(since)} of ${spanText(deadline)}` : elapsed(since);
    // The last fifth before the deadline is marked: the store fails when it passes.
    node.classList.toggle('near-deadline', deadline > 0 && Date.now() - since >= deadline * 0.8);
  }

  // Relative times and running durations change with the clock, not with the data.
  setInterval(() => {
    for (const node of document.querySelectorAll('[data-relative]')) node.textContent = ago(Number(node.dataset.relative));
    for (const node of document.querySelectorAll('[data-since]')) tickDuration(node);
  }, 1000);

  /** How long a provisioning attempt may take (--provision-deadline), from /api/health; 0 until known. */
  let provisionDeadlineMs = 0;

  /** The "Provisioning for" of a card or page: against the deadline, from when the attempt
   * started; other statuses since their last change. */
  function progressSince(store, status, testid) {
    if (status === 'provisioning') {
      const started = int64(store.provisioningStartedAtMs) || int64(store.updatedAtMs);
      return durationSince(started, testid, provisionDeadlineMs);
    }
    return durationSince(int64(store.updatedAtMs), testid);
  }

  function seconds(ms) {
    const value = Number(ms) || 0;
    const s = value / 1000;
    return (s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2)) + ' s';
  }

  /** Details opened by the user, by key, so a re-render keeps them open. */
  const openDetails = new Set();

  /**
   * A failure's one-line headline with its whole reason one click away (a
   * <details>): `testid` on the whole, `-headline` and `-detail` on its parts.
   */
  function failureDetails(headline, reason, testid, key) {
    const details = el(
      'details',
      { class: 'failure-details', 'data-testid': testid, open: openDetails.has(key) },
      el('summary', { 'data-testid': testid + '-headline', text: headline || reason.split('\n')[0] }),
      el('pre', { 'data-testid': testid + '-detail', tabindex: '0', text: reason }),
    );
    details.addEventListener('toggle', () => {
      if (details.open) openDetails.add(key);
      else openDetails.delete(key);
    });
    return details;
  }

  function throttle(fn, ms) {
    let last = 0;
    let timer = null;
    const run = () => {
      timer = null;
      last = Date.now();
      fn();
    };
    return () => {
      if (timer) return;
      const wait = Math.max(0, last + ms - Date.now());
      timer = setTimeout(run, wait);
    };
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
    get isNetwork() {
      return this.code === 'NETWORK';
    }
  }

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  async function rawRequest(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const bearer = token();
    if (bearer) headers.Authorization = 'Bearer ' + bearer;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiError(0, 'NETWORK', 'Cannot reach the gateway — is storeplatformd running?');
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const err = (data && data.error) || {};
      const retryAfter = Number(response.headers.get('Retry-After')) || 0;
      throw new ApiError(
        response.status,
        err.code || 'HTTP_' + response.status,
        err.message || `The gateway answered ${response.status} ${response.statusText}`.trim(),
        retryAfter,
      );
    }
    return data || {};
  }

  /**
   * Calls the API. Mutating calls that answer 401 ask for the token, keep it in
   * sessionStorage and are retried with `Authorization: Bearer …`.
   */
  async function api(method, path, body) {
    const mutating = method !== 'GET';
    let refused = false;
    for (;;) {
      try {
        return await rawRequest(method, path, body);
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 401 || !mutating) throw error;
        const entered = await askToken(refused ? 'That token was refused: ' + error.message : '');
        if (!entered) throw error;
        refused = true;
      }
    }
  }

  // ------------------------------------------------------------------ token dialog

  function askToken(problem) {
    const dialog = $('token-dialog');
    const input = $('token-input');
    const errorLine = $('token-error');
    errorLine.textContent = problem;
    errorLine.hidden = !problem;
    input.value = '';
    return new Promise((resolve) => {
      const finish = (value) => {
        dialog.removeEventListener('close', onClose);
        $('token-form').removeEventListener('submit', onSubmit);
        $('token-cancel').removeEventListener('click', onCancel);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (!value) {
          errorLine.textContent = 'Enter the token.';
          errorLine.hidden = false;
          return;
        }
        try {
          sessionStorage.setItem(TOKEN_KEY, value);
        } catch {
          /* storage unavailable: the call below still fails cleanly */
        }
        finish(value);
      };
      const onCancel = () => finish(null);
      const onClose = () => finish(null);
      dialog.addEventListener('close', onClose);
      $('token-form').addEventListener('submit', onSubmit);
      $('token-cancel').addEventListener('click', onCancel);
      dialog.showModal();
      input.focus();
    });
  }

  function confirmDelete(store) {
    return confirmAction(
      'Delete store?',
      `Delete “${store.name}”? Its WooCommerce site, database and namespace are removed. This cannot be undone.`,
      'Delete',
      true,
    );
  }

  function confirmRollback(store, revision) {
    return confirmAction(
      'Roll back store?',
      `Roll “${store.name}” back to revision ${revision.revision} (${revision.version})? It runs revision ` +
        `${store.revision} (${store.version}) now. The rollback is a new revision, undone by itself if it fails.`,
      'Roll back',
      false,
    );
  }

  /** Asks in the confirmation dialog; resolves true when `ok` is chosen (`keep` labels the other choice). */
  function confirmAction(title, text, ok, danger, keep) {
    const dialog = $('confirm-dialog');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = ok;
    $('confirm-cancel').textContent = keep || 'Cancel';
    $('confirm-ok').className = 'btn ' + (danger ? 'btn-danger' : 'btn-primary');
    return new Promise((resolve) => {
      const finish = (value) => {
        $('confirm-ok').removeEventListener('click', onOk);
        $('confirm-cancel').removeEventListener('click', onCancel);
        dialog.removeEventListener('close', onClose);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onOk = (event) => {
        event.preventDefault();
        finish(true);
      };
      const onCancel = () => finish(false);
      const onClose = () => finish(false);
      $('confirm-ok').addEventListener('click', onOk);
      $('confirm-cancel').addEventListener('click', onCancel);
      dialog.addEventListener('close', onClose);
      dialog.showModal();
      $('confirm-cancel').focus();
    });
  }

  // ------------------------------------------------------------------ versions + upgrade dialog

  /** The engine versions stores can run (GET /api/versions); null until read. */
  let engineVersions = null;

  /** Reads the versions once (again after a failure); resolves to the list. */
  let versionsRead = null;
  function loadVersions() {
    if (!versionsRead) {
      versionsRead = api('GET', '/api/versions').then(
        (answer) => {
          engineVersions = answer.versions || [];
          renderAllStores();
          if (pageStoreId) renderStorePage();
          return engineVersions;
        },
        (error) => {
          versionsRead = null;
          throw error;
        },
      );
    }
    return versionsRead;
  }

  /** The versions a store can be upgraded to: its engine's, but the one it runs. */
  function versionChoices(store, versions) {
    const engine = store.engine || 'woocommerce';
    return (versions || []).filter((v) => v.engine === engine && v.name !== store.version);
  }

  /** "WordPress wordpress:6.8-php8.3-apache, WooCommerce 9.8.5 (the default)". */
  function versionDetail(version) {
    return `WordPress image ${version.wordpressImage}, WooCommerce ${version.woocommerceVersion}` + (version.isDefault ? ' (the version new stores get)' : '');
  }

  /** Asks which version to upgrade `store` to; resolves to its name, or null when cancelled. */
  function chooseVersion(store) {
    const dialog = $('upgrade-dialog');
    const select = $('upgrade-version');
    const detail = $('upgrade-detail');
    const errorLine = $('upgrade-error');
    const ok = $('upgrade-ok');
    $('upgrade-title').textContent = `Upgrade “${store.name}”`;
    $('upgrade-text').textContent = `It runs ${store.version || 'an unknown version'} (revision ${store.revision || 0}). ` +
      'The upgrade is a new revision; if it fails, the store is rolled back to this one by itself.';
    select.replaceChildren();
    select.disabled = true;
    ok.disabled = true;
    detail.textContent = '';
    errorLine.hidden = true;
    let choices = [];
    const showChoices = (versions) => {
      choices = versionChoices(store, versions);
      select.replaceChildren(...choices.map((v) => el('option', { value: v.name, text: v.name + (v.isDefault ? ' (default)' : '') })));
      select.disabled = choices.length === 0;
      ok.disabled = choices.length === 0;
      if (choices.length === 0) {
        errorLine.textContent = `There is no other version of ${store.engine || 'woocommerce'} to upgrade to.`;
        errorLine.hidden = false;
      }
      showDetail();
    };
    const showDetail = () => {
      const chosen = choices.find((v) => v.name === select.value);
      detail.textContent = chosen ? versionDetail(chosen) : '';
    };
    loadVersions().then(showChoices, (error) => {
      errorLine.textContent = 'Could not read the versions: ' + error.message;
      errorLine.hidden = false;
    });
    return new Promise((resolve) => {
      const finish = (value) => {
        $('upgrade-form').removeEventListener('submit', onSubmit);
        $('upgrade-cancel').removeEventListener('click', onCancel);
        select.removeEventListener('change', showDetail);
        dialog.removeEventListener('close', onClose);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        if (select.value) finish(select.value);
      };
      const onCancel = () => finish(null);
      const onClose = () => finish(null);
      $('upgrade-form').addEventListener('submit', onSubmit);
      $('upgrade-cancel').addEventListener('click', onCancel);
      select.addEventListener('change', showDetail);
      dialog.addEventListener('close', onClose);
      dialog.showModal();
      select.focus();
    });
  }

  // ------------------------------------------------------------------ tabs

  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  let activeTab = 'stores';

  function selectTab(tab, focus) {
    $('panel-store').hidden = true;
    pageStoreId = '';
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    activeTab = tab.id.replace(/^tab-/, '');
    if (location.hash !== '#' + activeTab) history.replaceState(null, '', '#' + activeTab);
    onTabShown(activeTab);
  }

  for (const tab of tabs) {
    tab.addEventListener('click', () => selectTab(tab, false));
    tab.addEventListener('keydown', (event) => {
      const index = tabs.indexOf(tab);
      let next = null;
      if (event.key === 'ArrowRight' || event.key === 'ArrowDown') next = tabs[(index + 1) % tabs.length];
      else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') next = tabs[(index - 1 + tabs.length) % tabs.length];
      else if (event.key === 'Home') next = tabs[0];
      else if (event.key === 'End') next = tabs[tabs.length - 1];
      if (next) {
        event.preventDefault();
        selectTab(next, true);
      }
    });
  }

  // ------------------------------------------------------------------ state blocks

  function showState(container, kind, message, onRetry) {
    container.replaceChildren();
    container.dataset.state = kind || '';
    if (!kind) return;
    const box = el('div', { class: 'state-box state-' + kind, 'data-testid': kind === 'error' ? 'state-error' : 'state-' + kind });
    box.append(el('p', { text: message }));
    if (onRetry) box.append(el('button', { type: 'button', class: 'btn', onclick: onRetry, text: 'Try again' }));
    container.append(box);
  }

  // ------------------------------------------------------------------ name validation

  function describeChar(ch) {
    if (ch === ' ') return 'a space';
    const code = 'U+' + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
    return /\p{L}|\p{N}|\p{P}|\p{S}/u.test(ch) ? `“${ch}”` : `the character ${code}`;
  }

  /**
   * A valid name close to `raw`: lower case, every run of other characters one “-”,
   * starting with a letter, at most NAME_MAX characters; null when nothing is left.
   */
  function suggestName(raw) {
    const name = raw
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^[^a-z]+/, '')
      .slice(0, NAME_MAX)
      .replace(/-+$/, '');
    return name && name !== raw && validateName(name) === null ? name : null;
  }

  /** “ (try “my-shop”)” when a valid name close to `raw` exists, else nothing. */
  function suggestion(raw) {
    const name = suggestName(raw);
    return name ? ` (try “${name}”)` : '';
  }

  /** Client-side mirror of the server's DNS-1123 rule; the message names the first rule broken. */
  function validateName(raw) {
    if (raw.trim() === '') return 'A store name is required, for example “my-shop”.';
    const chars = Array.from(raw);
    if (chars.length > NAME_MAX) return `The name is ${chars.length} characters long; the maximum is ${NAME_MAX}.`;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (/[a-z0-9-]/.test(ch)) continue;
      if (/[A-Z]/.test(ch)) {
        return `Use lower case: “${ch}” at position ${i + 1} is an upper-case letter${suggestion(raw)}.`;
      }
      return `${describeChar(ch)} at position ${i + 1} is not allowed; use only lower-case letters a-z, digits 0-9 and “-”${suggestion(raw)}.`.replace(
        /^./,
        (c) => c.toUpperCase(),
      );
    }
    if (chars[0] === '-') return `The name must start with a letter, not a hyphen${suggestion(raw)}.`;
    if (/[0-9]/.test(chars[0])) return `The name must start with a letter, not a digit${suggestion(raw)}.`;
    if (chars[chars.length - 1] === '-') return `The name must end with a letter or digit, not a hyphen${suggestion(raw)}.`;
    return null;
  }

  // ------------------------------------------------------------------ create form

  const form = $('create-form');
  const nameInput = $('create-name');
  const engineSelect = $('create-engine');
  const submitButton = $('create-submit');
  const createError = $('create-error');
  let nameTouched = false;

  function setCreateError(message, code) {
    createError.textContent = message || '';
    createError.hidden = !message;
    if (code) createError.dataset.code = code;
    else delete createError.dataset.code;
  }

  function checkNameInline() {
    const problem = validateName(nameInput.value);
    nameInput.setAttribute('aria-invalid', problem ? 'true' : 'false');
    return problem;
  }

  nameInput.addEventListener('input', () => {
    if (!nameTouched && nameInput.value === '') return;
    const problem = checkNameInline();
    if (nameTouched || problem) setCreateError(problem, problem ? 'CLIENT_VALIDATION' : null);
    else setCreateError(null);
  });
  nameInput.addEventListener('blur', () => {
    if (nameInput.value !== '') nameTouched = true;
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    nameTouched = true;
    const problem = checkNameInline();
    if (problem) {
      setCreateError(problem, 'CLIENT_VALIDATION');
      nameInput.focus();
      return;
    }
    setCreateError(null);
    submitButton.disabled = true;
    submitButton.textContent = 'Creating…';
    try {
      const store = await api('POST', '/api/stores', { name: nameInput.value, engine: engineSelect.value });
      upsertStore(store, true);
      nameInput.value = '';
      nameTouched = false;
      nameInput.setAttribute('aria-invalid', 'false');
      scheduleAudit();
      scheduleMetrics();
    } catch (error) {
      let message = error.message;
      if (error.code === 'RATE_LIMITED' && error.retryAfter && !/\d+\s*s/.test(message)) {
        message += ` Try again in ${error.retryAfter} s.`;
      }
      setCreateError(message, error.code);
      // A bad name, or one another store has: either way the field is what to fix.
      if (error.status === 400 || error.code === 'STORE_NAME_TAKEN') nameInput.setAttribute('aria-invalid', 'true');
    } finally {
      submitButton.disabled = false;
      submitButton.textContent = 'Create store';
    }
  });

  // ------------------------------------------------------------------ stores

  const storeList = $('store-list');
  const storesState = $('stores-state');
  const storesMore = $('stores-more');
  const storesShown = $('stores-shown');
  const showDeleted = $('show-deleted');
  const storeSearch = $('store-search');
  const summaryStrip = $('summary-strip');
  const summaryLive = $('summary-live');
  /** The status the summary strip filters by; '' for none. */
  let statusFilter = '';
  /** The quota of live stores, from /api/metrics; 0 until known. */
  let maxLiveStores = 0;
  /** Every store's status counted, from /api/metrics (storesByStatus, all stores, not
   * only the pages loaded), kept current by the transitions of the event stream. */
  const counts = new Map(STATUSES.map((status) => [status, 0]));
  /** id → Store JSON */
  const stores = new Map();
  /** The store whose page is shown (#store/<id>); '' on the tabs. */
  let pageStoreId = '';
  /** id → the provisioning step under way ({step, timeMs}), from "progress" events. */
  const progress = new Map();
  const STEPS = {
    namespace: 'creating the namespace',
    secret: "writing the store's Secret",
    install: 'installing the Helm release',
    readiness: 'waiting for the pods to be ready',
  };
  const STEP_ORDER = Object.keys(STEPS);

  /** "step 3 of 4: installing the Helm release", with the steps as a small progress bar. */
  function stepElement(store, testid) {
    const current = progress.get(store.id);
    if (!current) return null;
    const index = STEP_ORDER.indexOf(current.step);
    return el(
      'span',
      { class: 'step', 'data-testid': testid, 'data-step': current.step },
      el('span', { class: 'step-dots', 'aria-hidden': 'true' }, ...STEP_ORDER.map((s, i) => el('span', { class: 'step-dot' + (i <= index ? ' done' : '') }))),
      ` step ${index + 1} of ${STEP_ORDER.length}: ${STEPS[current.step] || current.step}`,
    );
  }
  let storesToken = '';
  let storesLoaded = false;

  function storeCard(store) {
    const status = statusName(store.status);
    const busy = pending.has(store.id);
    const card = el('li', {
      class: 'card store-card status-' + status,
      'data-testid': 'store-card',
      'data-store-id': store.id,
      'data-store-name': store.name,
      'data-status': status,
      'aria-labelledby': 'store-title-' + store.id,
    });
    card.append(
      el(
        'div',
        { class: 'store-head' },
        el(
          'h3',
          { class: 'store-name', id: 'store-title-' + store.id },
          el('a', { href: '#store/' + encodeURIComponent(store.id), 'data-testid': 'store-link', text: store.name }),
        ),
        el('span', { class: 'badge badge-' + status, 'data-testid': 'store-status', text: status }),
      ),
    );
    const meta = el('dl', { class: 'store-meta' });
    const row = (label, value) => meta.append(el('div', {}, el('dt', { text: label }), el('dd', {}, value)));
    row('Engine', store.engine || 'woocommerce');
    row('Version', versionElement(store, 'store-version'));
    if (store.owner) row('Owner', store.owner);
    row('Created', relativeTime(int64(store.createdAtMs)));
    if (IN_PROGRESS.has(status)) row(status[0].toUpperCase() + status.slice(1) + ' for', progressSince(store, status, 'store-progress'));
    if (status === 'provisioning' && progress.has(store.id)) row('Step', stepElement(store, 'store-step'));
    if (status === 'deleted') row('Deleted', relativeTime(int64(store.deletedAtMs)));
    if (status === 'ready' && store.provisioningDurationMs) row('Provisioned in', seconds(int64(store.provisioningDurationMs)));
    if (store.attempts > 1) row('Attempts', String(store.attempts));
    card.append(meta);
    if (status === 'ready' && store.url) {
      card.append(
        el(
          'p',
          { class: 'store-url' },
          el('a', { href: store.url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'store-url', text: store.url }),
        ),
      );
    }
    if (status === 'failed' && store.errorMessage) {
      card.append(
        el(
          'div',
          { class: 'store-error' },
          el('p', { class: 'store-error-title', text: 'Failure reason' }),
          failureDetails(store.errorSummary, store.errorMessage, 'store-error', 'store:' + store.id + ':' + store.updatedAtMs),
        ),
      );
    }
    const note = rolledBackNote(store, 'store-rolled-back');
    if (note) card.append(note);
    const actionError = actionErrors.get(store.id);
    if (actionError) card.append(el('p', { class: 'form-error', role: 'alert', 'data-testid': 'store-action-error', text: actionError }));
    const upgrade = el('button', {
      type: 'button',
      class: 'btn',
      'data-testid': 'store-upgrade',
      disabled: busy || !UPGRADABLE.has(status),
      'aria-label': 'Upgrade ' + store.name,
      text: 'Upgrade',
      onclick: () => storeAction(store.id, 'upgrade'),
    });
    const retry = el('button', {
      type: 'button',
      class: 'btn',
      'data-testid': 'store-retry',
      disabled: busy || !RETRYABLE.has(status),
      'aria-label': 'Retry ' + store.name,
      text: 'Retry',
      onclick: () => storeAction(store.id, 'retry'),
    });
    const del = el('button', {
      type: 'button',
      class: 'btn btn-danger',
      'data-testid': 'store-delete',
      disabled: busy || !DELETABLE.has(status),
      'aria-label': 'Delete ' + store.name,
      text: 'Delete',
      onclick: () => storeAction(store.id, 'delete'),
    });
    card.append(el('div', { class: 'store-actions' }, upgrade, retry, del));
    return card;
  }

  /** "6.9-wc10.3 · revision 1"; while upgrading "→ 6.8-wc9.8 · revision 2" (the target). */
  function versionElement(store, testid) {
    const upgrading = statusName(store.status) === 'upgrading';
    return el(
      'span',
      { class: 'version', 'data-testid': testid, 'data-version': store.version || '', 'data-revision': String(store.revision || 0) },
      upgrading ? '→ ' : '',
      store.version || '—',
      store.revision ? el('span', { class: 'muted', text: ` · revision ${store.revision}` }) : '',
    );
  }

  /** id → {auditId, summary, message}: a change of a ready store that failed and was rolled
   * back by itself (audit action "rolled-back"), shown until the store changes again. */
  const rolledBack = new Map();

  /** Why the store's last upgrade or rollback was undone, its whole reason one click away. */
  function rolledBackNote(store, testid) {
    const note = rolledBack.get(store.id);
    if (!note || statusName(store.status) !== 'ready') return null;
    return el(
      'div',
      { class: 'store-notice', 'data-testid': testid },
      el('p', { class: 'store-notice-title', text: 'Rolled back by itself: the change failed' }),
      failureDetails(note.summary, note.message, testid + '-reason', 'rolled-back:' + store.id + ':' + note.auditId),
    );
  }

  /** Reads the reason of the rollback the event `auditId` announced, from the audit log. */
  async function loadRolledBack(id, auditId) {
    try {
      const page = await api('GET', '/api/audit?' + new URLSearchParams({ store_id: id, limit: '20' }));
      const entry = (page.events || []).find((e) => int64(e.id) === auditId);
      if (!entry) return;
      rolledBack.set(id, { auditId, summary: entry.summary || '', message: entry.message || '' });
      renderStore(id);
      if (pageStoreId === id) renderStorePage();
    } catch {
      /* the store page's revisions say it too */
    }
  }

  const pending = new Set();
  const actionErrors = new Map();

  /** Deletes, retries, upgrades or rolls back a store (`revision` for a rollback), asking
   * first where the change needs it; a refusal is shown on the store's card and page. */
  async function storeAction(id, kind, revision) {
    const store = stores.get(id);
    if (!store) return;
    let body;
    if (kind === 'delete' && !(await confirmDelete(store))) return;
    if (kind === 'upgrade') {
      const version = await chooseVersion(store);
      if (!version) return;
      body = { version };
    }
    if (kind === 'rollback') {
      if (!(await confirmRollback(store, revision))) return;
      body = { revision: revision.revision };
    }
    actionErrors.delete(id);
    pending.add(id);
    renderStore(id);
    if (pageStoreId === id) renderStorePage();
    try {
      const path = '/api/stores/' + encodeURIComponent(id);
      const updated = kind === 'delete' ? await api('DELETE', path) : await api('POST', path + '/' + kind, body);
      pending.delete(id);
      upsertStore(updated, false);
      if (pageStoreId === id) refreshRevisionsSoon();
      scheduleAudit();
      scheduleMetrics();
    } catch (error) {
      pending.delete(id);
      let message = error.message;
      if (error.code === 'RATE_LIMITED' && error.retryAfter) message += ` Try again in ${error.retryAfter} s.`;
      actionErrors.set(id, message);
      renderStore(id);
      if (pageStoreId === id) renderStorePage();
      // The store may have moved on; fetch its current state.
      if (error.status === 409) refreshStore(id);
    }
  }

  async function refreshStore(id) {
    try {
      upsertStore(await api('GET', '/api/stores/' + encodeURIComponent(id)), false);
    } catch {
      /* the next event or reload corrects it */
    }
  }

  /** Whether a store the list does not hold sorts after the last page loaded while more
   * pages follow: an event about it leaves the list alone ("Load more" brings it in order). */
  function beyondLoadedPages(store) {
    if (!storesToken || stores.has(store.id)) return false;
    for (const loaded of stores.values()) if (!isNewer(loaded, store)) return false;
    return stores.size > 0;
  }

  function isNewer(a, b) {
    // Newest first: by creation time, then id.
    const ta = int64(a.createdAtMs);
    const tb = int64(b.createdAtMs);
    if (ta !== tb) return ta > tb;
    return String(a.id) > String(b.id);
  }

  /** The search text as the server matches it: names are lower case. */
  function searchText() {
    return storeSearch.value.trim().toLowerCase();
  }

  /** Whether the store passes the filters: the status chosen in the summary strip (or,
   * without one, not deleted unless "Show deleted" is ticked) and the search text (part
   * of the name, or the whole id). The server applies the same filters to the pages it
   * sends (loadStores); this keeps stores that live events bring or change consistent. */
  function visible(store) {
    const status = statusName(store.status);
    if (statusFilter ? status !== statusFilter : status === 'deleted' && !showDeleted.checked) return false;
    const query = searchText();
    return !query || store.name.includes(query) || store.id === query;
  }

  /** The statuses the list asks the server for: the one chosen, else every status but
   * deleted unless "Show deleted" is ticked; [] means every status. */
  function filterStatuses() {
    if (statusFilter) return [statusFilter];
    return showDeleted.checked ? [] : STATUSES.filter((status) => status !== 'deleted');
  }

  /** Takes the counts of every store from a metrics answer. */
  function takeCounts(m) {
    for (const status of STATUSES) counts.set(status, 0);
    for (const entry of m.storesByStatus || []) {
      const status = statusName(entry.status);
      if (counts.has(status)) counts.set(status, int64(entry.count));
    }
    maxLiveStores = int64(m.maxLiveStores);
  }

  /** A transition moves one store from one count to another. */
  function countTransition(from, to) {
    const a = statusName(from);
    const b = statusName(to);
    if (a === b) return;
    if (counts.has(a)) counts.set(a, Math.max(0, counts.get(a) - 1));
    if (counts.has(b)) counts.set(b, counts.get(b) + 1);
    renderSummary();
  }

  /** Counts by status (of every store, from the server) as buttons that filter, and live / quota. */
  function renderSummary() {
    summaryStrip.replaceChildren(
      ...STATUSES.map((status) =>
        el(
          'button',
          {
            type: 'button',
            class: 'chip badge-' + status,
            'data-testid': 'summary-' + status,
            'data-count': String(counts.get(status)),
            'aria-pressed': String(statusFilter === status),
            title: statusFilter === status ? 'Show every status' : 'Show only ' + status + ' stores',
            onclick: () => {
              statusFilter = statusFilter === status ? '' : status;
              renderSummary();
              renderAllStores();
              loadStores(false);
            },
          },
          status + ' ',
          el('strong', { text: String(counts.get(status)) }),
        ),
      ),
    );
    const live = Array.from(counts.entries()).filter(([status]) => status !== 'deleted').reduce((sum, [, n]) => sum + n, 0);
    summaryLive.textContent = maxLiveStores ? `${live} / ${maxLiveStores} live stores` : `${live} live stores`;
    summaryLive.dataset.live = String(live);
    summaryLive.classList.toggle('at-quota', maxLiveStores > 0 && live >= maxLiveStores);
  }

  function renderStore(id) {
    if (view === 'table') {
      renderAllStores();
      return;
    }
    const store = stores.get(id);
    const existing = storeList.querySelector(`[data-store-id="${CSS.escape(id)}"]`);
    if (!store || !visible(store)) {
      if (existing) existing.remove();
      updateStoresEmpty();
      return;
    }
    const card = storeCard(store);
    if (existing) {
      // Keep keyboard focus on the same control across the re-render.
      const focused = document.activeElement && existing.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
      existing.replaceWith(card);
      if (focused) {
        const again = card.querySelector(`[data-testid="${focused}"]`);
        if (again && !again.disabled) {
          again.focus();
        } else {
          const title = card.querySelector('.store-name');
          title.tabIndex = -1;
          title.focus();
        }
      }
    } else {
      let before = null;
      for (const other of storeList.children) {
        const otherStore = stores.get(other.dataset.storeId);
        if (otherStore && isNewer(store, otherStore)) {
          before = other;
          break;
        }
      }
      storeList.insertBefore(card, before);
    }
    updateStoresEmpty();
  }

  function upsertStore(store, isNew) {
    if (!store || !store.id) return;
    const previous = stores.get(store.id);
    // Ignore stale snapshots (an older event arriving after a newer response).
    if (previous && int64(previous.updatedAtMs) > int64(store.updatedAtMs)) return;
    if (previous && previous.status !== store.status) actionErrors.delete(store.id);
    if (statusName(store.status) !== 'provisioning') progress.delete(store.id);
    if (statusName(store.status) !== 'ready') rolledBack.delete(store.id);
    stores.set(store.id, store);
    renderStore(store.id);
    if (!previous || previous.status !== store.status) renderSummary();
    if (pageStoreId === store.id) renderStorePage();
    if (isNew) {
      const card = storeList.querySelector(`[data-store-id="${CSS.escape(store.id)}"]`);
      if (card) card.classList.add('flash');
    }
  }

  function updateStoresEmpty() {
    if (!storesLoaded) return;
    renderShown();
    if ((view === 'table' ? storeTableBody : storeList).children.length === 0) {
      const filtered = statusFilter || searchText();
      // The list holds only what the filters asked the server for: the counts say whether any store exists.
      const total = STATUSES.reduce((sum, status) => sum + (counts.get(status) || 0), 0);
      const message = filtered
        ? 'No stores match the filter.'
        : stores.size === 0 && total === 0
          ? 'No stores yet — create one above.'
          : 'No stores to show (deleted stores are hidden: tick “Show deleted”).';
      showState(storesState, 'empty', message);
    } else if (storesState.dataset.state === 'empty') {
      showState(storesState, null);
    }
  }

  function renderAllStores() {
    renderSummary();
    storeList.replaceChildren();
    storeTableBody.replaceChildren();
    const sorted = Array.from(stores.values()).sort((a, b) => (isNewer(a, b) ? -1 : 1));
    for (const store of sorted) {
      if (!visible(store)) continue;
      if (view === 'table') storeTableBody.append(storeRow(store));
      else storeList.append(storeCard(store));
    }
    updateStoresEmpty();
  }

  // ------------------------------------------------------------------ table view
  //
  // The same stores, filters and actions as the cards, one row each: for many stores.

  const storeTable = $('store-table');
  const storeTableBody = $('store-table-body');
  const viewButtons = { cards: $('view-cards'), table: $('view-table') };
  /** 'cards' or 'table'. */
  let view = 'cards';

  function setView(next) {
    view = next;
    for (const [name, button] of Object.entries(viewButtons)) button.setAttribute('aria-pressed', String(name === view));
    storeList.hidden = view !== 'cards';
    storeTable.hidden = view !== 'table';
    renderAllStores();
  }
  viewButtons.cards.addEventListener('click', () => setView('cards'));
  viewButtons.table.addEventListener('click', () => setView('table'));

  function storeRow(store) {
    const status = statusName(store.status);
    const busy = pending.has(store.id);
    const detail =
      status === 'ready' && store.url
        ? el('a', { href: store.url, target: '_blank', rel: 'noopener noreferrer', text: store.url })
        : status === 'failed' && store.errorMessage
          ? el('span', { class: 'row-failure', title: store.errorMessage, text: store.errorSummary || store.errorMessage.split('\n')[0] })
          : status === 'provisioning' && progress.has(store.id)
            ? stepElement(store, 'store-row-step')
            : '';
    return el(
      'tr',
      { 'data-testid': 'store-row', 'data-store-id': store.id, 'data-store-name': store.name, 'data-status': status },
      el('td', {}, el('a', { href: '#store/' + encodeURIComponent(store.id), text: store.name })),
      el('td', {}, el('span', { class: 'badge badge-' + status, text: status })),
      el('td', {}, store.engine || 'woocommerce'),
      el('td', {}, versionElement(store, 'store-row-version')),
      el('td', {}, relativeTime(int64(store.createdAtMs))),
      el('td', { class: 'row-detail' }, detail),
      el(
        'td',
        { class: 'row-actions' },
        el('button', {
          type: 'button', class: 'btn btn-small', disabled: busy || !UPGRADABLE.has(status), 'aria-label': 'Upgrade ' + store.name,
          text: 'Upgrade', onclick: () => storeAction(store.id, 'upgrade'),
        }),
        el('button', {
          type: 'button', class: 'btn btn-small', disabled: busy || !RETRYABLE.has(status), 'aria-label': 'Retry ' + store.name,
          text: 'Retry', onclick: () => storeAction(store.id, 'retry'),
        }),
        el('button', {
          type: 'button', class: 'btn btn-small btn-danger', disabled: busy || !DELETABLE.has(status), 'aria-label': 'Delete ' + store.name,
          text: 'Delete', onclick: () => storeAction(store.id, 'delete'),
        }),
      ),
    );
  }

  /** Bumped by every fresh read of the list, so only the latest answer is shown. */
  let storesQuery = 0;

  /** Reads the list (or, with `more`, its next page) as the filters ask: the server
   * filters by status and by part of the name and pages, so every store can be found
   * however many there are. A whole id (st_…) in the search box reads that store. */
  async function loadStores(more) {
    const query = more ? storesQuery : ++storesQuery;
    if (!more) {
      if (!storesLoaded) showState(storesState, 'loading', 'Loading stores…');
    }
    const text = searchText();
    try {
      let found;
      let token = '';
      if (text.startsWith('st_') && !more) {
        try {
          found = [await api('GET', '/api/stores/' + encodeURIComponent(text))];
        } catch (error) {
          if (error.status !== 404) throw error;
          found = [];
        }
      } else if (!/^[a-z0-9-]{0,40}$/.test(text)) {
        found = []; // no name holds anything else, and the server refuses to look for it
      } else {
        const params = new URLSearchParams({ page_size: String(STORES_PAGE) });
        const statuses = filterStatuses();
        if (statuses.length) params.set('status', statuses.join(','));
        if (text) params.set('name_contains', text);
        if (more && storesToken) params.set('page_token', storesToken);
        const page = await api('GET', '/api/stores?' + params);
        found = page.stores || [];
        token = page.nextPageToken || '';
      }
      if (query !== storesQuery) return; // the filters changed meanwhile: a newer read is under way
      if (!more) stores.clear();
      for (const store of found) stores.set(store.id, store);
      storesToken = token;
      storesMore.hidden = !storesToken;
      storesLoaded = true;
      showState(storesState, null);
      renderAllStores();
    } catch (error) {
      if (query !== storesQuery) return;
      if (storesLoaded && more) {
        showState(storesState, 'error', 'Could not load more stores: ' + error.message, () => loadStores(true));
        return;
      }
      const message = error.isNetwork
        ? 'Cannot reach the gateway. Is storeplatformd running? The page reconnects on its own.'
        : 'Could not load stores: ' + error.message;
      storesLoaded = false;
      storeList.replaceChildren();
      storesMore.hidden = true;
      showState(storesState, 'error', message, () => loadStores(false));
    }
  }

  /** What the list shows now, of how many: "100 of 240 stores" while more pages follow. */
  function renderShown() {
    const shown = (view === 'table' ? storeTableBody : storeList).children.length;
    const statuses = filterStatuses();
    const total = (statuses.length ? statuses : STATUSES).reduce((sum, status) => sum + (counts.get(status) || 0), 0);
    storesShown.hidden = !storesToken;
    storesShown.textContent = searchText() ? `${shown} shown; more match` : `${shown} of ${total} stores shown`;
  }

  storesMore.addEventListener('click', () => loadStores(true));
  showDeleted.addEventListener('change', () => {
    renderAllStores();
    loadStores(false);
  });
  /** Typing filters what is loaded at once and asks the server a moment after the last key. */
  let searchTimer = null;
  storeSearch.addEventListener('input', () => {
    renderAllStores();
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadStores(false), SEARCH_DELAY_MS);
  });

  /** The provisioning deadline, for "12 s of 10 min" on provisioning stores. */
  async function loadDeadline() {
    try {
      provisionDeadlineMs = int64((await api('GET', '/api/health')).provisionDeadlineMs);
      renderAllStores();
      if (pageStoreId) renderStorePage();
    } catch {
      /* durations show without the deadline */
    }
  }

  /** The counts of every store and the quota, for the strip: read at start, whenever the
   * event stream opens, with every metrics load, and a while after transitions (the
   * transitions keep them current in between; the reads correct any drift). */
  async function loadCounts() {
    try {
      takeCounts(await api('GET', '/api/metrics'));
      renderSummary();
      renderShown();
    } catch {
      /* the strip keeps what it showed */
    }
  }

  const resyncCountsSoon = throttle(loadCounts, COUNTS_RESYNC_MS);

  // ------------------------------------------------------------------ activity log

  const auditList = $('audit-list');
  const auditState = $('audit-state');
  const auditMore = $('audit-more');
  let auditToken = '';
  let auditLoaded = false;
  let auditStale = true;

  function statusChange(from, to) {
    const wrap = el('span', { class: 'change' });
    if (statusName(from) !== 'unspecified') {
      wrap.append(el('span', { class: 'badge badge-' + statusName(from), text: statusName(from) }), ' → ');
    }
    if (statusName(to) !== 'unspecified') wrap.append(el('span', { class: 'badge badge-' + statusName(to), text: statusName(to) }));
    return wrap;
  }

  function auditRow(event, provisional) {
    const row = el('li', {
      class: 'audit-row' + (provisional ? ' provisional' : ''),
      'data-testid': 'audit-row',
      'data-audit-id': String(event.id || '0'),
      'data-action': event.action || '',
      'data-store-name': event.storeName || '',
      'data-fleet-upgrade-id': event.fleetUpgradeId || '',
    });
    row.append(
      el(
        'div',
        { class: 'audit-main' },
        el('span', { class: 'audit-action', text: event.action || '—' }),
        // A fleet upgrade's step names the fleet upgrade; a store's change, the store.
        el('span', {
          class: 'audit-store',
          text: event.fleetUpgradeId ? 'fleet upgrade ' + event.fleetUpgradeId : event.storeName || event.storeId || '',
        }),
        statusChange(event.fromStatus, event.toStatus),
      ),
      el(
        'div',
        { class: 'audit-sub' },
        timeElement(int64(event.timeMs)),
        el('span', { class: 'audit-actor', title: 'actor', text: event.actor || (provisional ? '…' : 'unknown') }),
      ),
    );
    if (event.message) {
      // A long message (a failure's driver output) shows its one-line summary, the whole text one click away.
      const summary = event.summary || event.message.split('\n')[0];
      row.append(
        summary === event.message
          ? el('p', { class: 'audit-message', text: event.message })
          : el('div', { class: 'audit-message' }, failureDetails(summary, event.message, 'audit-message', 'audit:' + event.id)),
      );
    }
    return row;
  }

  function auditIdOf(node) {
    return int64(node.dataset.auditId);
  }

  /** Inserts or replaces a row, keeping the list ordered by id, newest first. */
  function placeAuditRow(event, provisional) {
    const id = int64(event.id);
    if (!id) return;
    const existing = auditList.querySelector(`[data-audit-id="${CSS.escape(String(event.id))}"]`);
    const row = auditRow(event, provisional);
    if (existing) {
      // Rows already complete never change; a provisional one (from a live event) is
      // replaced once the audit log has the full row.
      if (provisional || !existing.classList.contains('provisional')) return;
      existing.replaceWith(row);
    } else {
      let before = null;
      for (const other of auditList.children) {
        if (auditIdOf(other) < id) {
          before = other;
          break;
        }
      }
      auditList.insertBefore(row, before);
    }
    if (auditState.dataset.state === 'empty') showState(auditState, null);
  }

  async function loadAudit(more) {
    const params = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (more && auditToken) params.set('page_token', auditToken);
    if (!auditLoaded && !more) showState(auditState, 'loading', 'Loading activity…');
    try {
      const page = await api('GET', '/api/audit?' + params);
      const events = page.events || [];
      if (more) {
        for (const event of events) placeAuditRow(event, false);
        auditToken = page.nextPageToken || '';
      } else {
        // Newest page: merge (keeps rows already loaded further down).
        if (!auditLoaded) auditList.replaceChildren();
        for (const event of events) placeAuditRow(event, false);
        if (!auditLoaded) auditToken = page.nextPageToken || '';
      }
      auditLoaded = true;
      auditStale = false;
      auditMore.hidden = !auditToken;
      if (auditList.children.length === 0) showState(auditState, 'empty', 'No activity yet — create a store to see it here.');
      else showState(auditState, null);
    } catch (error) {
      const message = error.isNetwork ? 'Cannot reach the gateway.' : 'Could not load the activity log: ' + error.message;
      if (error.code === 'RATE_LIMITED') {
        auditStale = true;
        setTimeout(scheduleAudit, Math.max(1, error.retryAfter || 5) * 1000);
      }
      showState(auditState, 'error', message, () => loadAudit(more));
    }
  }

  auditMore.addEventListener('click', () => loadAudit(true));

  const refreshAuditSoon = throttle(() => loadAudit(false), AUDIT_REFRESH_MS);
  function scheduleAudit() {
    auditStale = true;
    if (activeTab === 'activity') refreshAuditSoon();
  }

  // ------------------------------------------------------------------ metrics

  const metricsState = $('metrics-state');
  const metricsBody = $('metrics-body');
  let metricsLoaded = false;
  let metricsStale = true;

  function statRow(dl, label, value, testid) {
    dl.append(el('div', { class: 'stat' }, el('dt', { text: label }), el('dd', { 'data-testid': testid, text: value })));
  }

  function durationChart(p) {
    const NS = 'http://www.w3.org/2000/svg';
    const bars = [
      ['min', Number(p.minMs) || 0],
      ['p50', Number(p.p50Ms) || 0],
      ['avg', Number(p.avgMs) || 0],
      ['p95', Number(p.p95Ms) || 0],
      ['max', Number(p.maxMs) || 0],
    ];
    const max = Math.max(...bars.map((b) => b[1]), 1);
    const rowH = 22;
    const labelW = 36;
    const valueW = 64;
    const width = 320;
    const plotW = width - labelW - valueW;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${width} ${bars.length * rowH}`);
    svg.setAttribute('class', 'bar-chart');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Provisioning duration: ' + bars.map(([l, v]) => `${l} ${seconds(v)}`).join(', '));
    svg.setAttribute('data-testid', 'metric-chart');
    bars.forEach(([label, value], i) => {
      const y = i * rowH;
      const text = document.createElementNS(NS, 'text');
      text.setAttribute('x', '0');
      text.setAttribute('y', String(y + 15));
      text.setAttribute('class', 'bar-label');
      text.textContent = label;
      const rect = document.createElementNS(NS, 'rect');
      rect.setAttribute('x', String(labelW));
      rect.setAttribute('y', String(y + 4));
      rect.setAttribute('height', String(rowH - 8));
      rect.setAttribute('rx', '3');
      rect.setAttribute('width', String(Math.max(value > 0 ? 2 : 0, (value / max) * plotW)));
      rect.setAttribute('class', 'bar bar-' + label);
      const val = document.createElementNS(NS, 'text');
      val.setAttribute('x', String(width));
      val.setAttribute('y', String(y + 15));
      val.setAttribute('text-anchor', 'end');
      val.setAttribute('class', 'bar-value');
      val.textContent = seconds(value);
      svg.append(text, rect, val);
    });
    return svg;
  }

  /** What followed a failure, in words, and whether that settled it (ready or deleted since). */
  function failureOutcome(f) {
    const now = statusName(f.storeStatus);
    switch (f.resolution) {
      case 'open':
        return { resolved: false, text: 'open: retry or delete it' };
      case 'retried':
        if (now === 'deleted') return { resolved: true, text: 'resolved: deleted' };
        if (now === 'ready') return { resolved: true, text: 'resolved: retried, ready' };
        if (now === 'failed') return { resolved: false, text: 'retried, failed again' };
        return { resolved: false, text: 'retried, ' + now };
      case 'deleted':
        if (now === 'deleted') return { resolved: true, text: 'resolved: deleted' };
        if (now === 'failed') return { resolved: false, text: 'delete failed' };
        return { resolved: false, text: 'deleting' };
      default:
        return { resolved: false, text: '' };
    }
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** An inline SVG of `columns` columns ten units wide and 40 high, stretched to its box
   * (the last hour's chart, the distribution's); `label` says what it shows. */
  function columnChart(columns, className, label) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${columns * 10} 40`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('class', className);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
    return svg;
  }

  /** A bar of a columnChart at `x`, as tall as `count` is of `max`, with `title` on hover. */
  function column(x, width, count, max, className, title) {
    const height = (count / max) * 38;
    const rect = document.createElementNS(SVG_NS, 'rect');
    rect.setAttribute('x', String(x));
    rect.setAttribute('y', String(40 - height));
    rect.setAttribute('width', String(width));
    rect.setAttribute('height', String(height));
    rect.setAttribute('class', className);
    rect.dataset.count = String(count);
    const hover = document.createElementNS(SVG_NS, 'title');
    hover.textContent = title;
    rect.append(hover);
    return rect;
  }

  /** Creates and failures of the last hour, per five-minute span, as paired bars (inline SVG). */
  function renderActivity(m) {
    const holder = $('metric-activity');
    const buckets = m.lastHour || [];
    const creates = buckets.reduce((sum, b) => sum + (b.creates || 0), 0);
    const failures = buckets.reduce((sum, b) => sum + (b.failures || 0), 0);
    const max = Math.max(1, ...buckets.map((b) => Math.max(b.creates || 0, b.failures || 0)));
    const svg = columnChart(buckets.length, 'activity-svg', `${creates} creates and ${failures} failures in the last hour`);
    buckets.forEach((bucket, index) => {
      for (const [kind, offset] of [['creates', 1], ['failures', 5]]) {
        const count = bucket[kind] || 0;
        const title = `${kind} ${count} from ${new Date(int64(bucket.startMs)).toLocaleTimeString()}`;
        const rect = column(index * 10 + offset, 4, count, max, 'activity-' + kind, title);
        rect.dataset.kind = kind;
        svg.append(rect);
      }
    });
    holder.replaceChildren(
      svg,
      el(
        'p',
        { class: 'status-legend' },
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch activity-creates' }), `${creates} creates`),
        el('span', { class: 'legend-item' }, el('span', { class: 'swatch activity-failures' }), `${failures} failures`),
        el('span', { class: 'muted', text: '60 min ago → now' }),
      ),
    );
  }

  /** "≤ 500 ms", "≤ 5 s", "≤ 2 min", "> 10 min": a histogram bucket's label. */
  function bucketLabel(bucket, previous) {
    const bound = int64(bucket.upperBoundMs);
    const text = (ms) => (ms < 1000 ? ms + ' ms' : spanText(ms));
    return bound ? '≤ ' + text(bound) : '> ' + text(int64(previous && previous.upperBoundMs));
  }

  /** How long provisioning took, as a histogram (inline SVG): one bar per bucket of the
   * provisioner's DurationBuckets, from /api/metrics' provisioningBuckets. */
  function renderHistogram(m) {
    const holder = $('metric-histogram');
    const buckets = m.provisioningBuckets || [];
    const total = buckets.reduce((sum, b) => sum + int64(b.count), 0);
    if (!total) {
      holder.replaceChildren(el('p', { class: 'muted', text: 'No store has become ready on this replica since it started.' }));
      return;
    }
    const max = Math.max(1, ...buckets.map((b) => int64(b.count)));
    const svg = columnChart(
      buckets.length,
      'histogram-svg',
      'Provisioning durations: ' + buckets.map((b, i) => `${bucketLabel(b, buckets[i - 1])} ${int64(b.count)}`).join(', '),
    );
    buckets.forEach((bucket, index) => {
      const count = int64(bucket.count);
      const rect = column(index * 10 + 1, 8, count, max, 'histogram-bar', `${bucketLabel(bucket, buckets[index - 1])}: ${count}`);
      rect.dataset.testid = 'metric-histogram-bar';
      rect.dataset.bound = String(int64(bucket.upperBoundMs));
      svg.append(rect);
    });
    const first = buckets[0];
    const last = buckets[buckets.length - 1];
    holder.replaceChildren(
      svg,
      el(
        'p',
        { class: 'histogram-labels' },
        el('span', { text: bucketLabel(first, null) }),
        el('span', { text: `${total} provisionings` }),
        el('span', { text: bucketLabel(last, buckets[buckets.length - 2]) }),
      ),
    );
  }

  /** Stores by status as one stacked bar (inline SVG), with a legend. */
  function renderStatusBar(m) {
    const holder = $('metric-status-bar');
    const counts = new Map();
    for (const entry of m.storesByStatus || []) counts.set(statusName(entry.status), int64(entry.count));
    const total = STATUSES.reduce((sum, status) => sum + (counts.get(status) || 0), 0);
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 100 8');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Stores by status: ' + STATUSES.map((s) => `${s} ${counts.get(s) || 0}`).join(', '));
    svg.setAttribute('class', 'status-bar-svg');
    let x = 0;
    for (const status of STATUSES) {
      const count = counts.get(status) || 0;
      if (!count) continue;
      const width = (count / total) * 100;
      const rect = document.createElementNS(NS, 'rect');
      rect.setAttribute('x', String(x));
      rect.setAttribute('y', '0');
      rect.setAttribute('width', String(width));
      rect.setAttribute('height', '8');
      rect.setAttribute('class', 'seg seg-' + status);
      rect.dataset.status = status;
      rect.dataset.count = String(count);
      const title = document.createElementNS(NS, 'title');
      title.textContent = `${status}: ${count}`;
      rect.append(title);
      svg.append(rect);
      x += width;
    }
    holder.replaceChildren(
      total ? svg : el('p', { class: 'muted', text: 'No stores yet.' }),
      el(
        'p',
        { class: 'status-legend' },
        ...STATUSES.filter((s) => counts.get(s)).map((s) => el('span', { class: 'legend-item' }, el('span', { class: 'swatch seg-' + s }), `${s} ${counts.get(s)}`)),
      ),
    );
  }

  function renderMetrics(m) {
    takeCounts(m);
    renderSummary();
    renderStatusBar(m);
    renderActivity(m);
    renderHistogram(m);
    const counts = $('metric-counts');
    counts.replaceChildren();
    const byStatus = new Map();
    for (const entry of m.storesByStatus || []) byStatus.set(statusName(entry.status), int64(entry.count));
    for (const status of STATUSES) {
      counts.append(
        el(
          'div',
          { class: 'count count-' + status },
          el('dt', {}, el('span', { class: 'badge badge-' + status, text: status })),
          el('dd', { 'data-testid': 'metric-count-' + status, text: String(byStatus.get(status) || 0) }),
        ),
      );
    }

    const p = m.provisioning || {};
    const durations = $('metric-durations');
    durations.replaceChildren();
    statRow(durations, 'count', String(int64(p.count)), 'metric-duration-count');
    statRow(durations, 'avg', seconds(p.avgMs), 'metric-duration-avg');
    statRow(durations, 'min', seconds(p.minMs), 'metric-duration-min');
    statRow(durations, 'max', seconds(p.maxMs), 'metric-duration-max');
    statRow(durations, 'p50', seconds(p.p50Ms), 'metric-duration-p50');
    statRow(durations, 'p95', seconds(p.p95Ms), 'metric-duration-p95');
    const chart = $('metric-chart');
    chart.replaceChildren();
    if (int64(p.count) > 0) chart.append(durationChart(p));
    else chart.append(el('p', { class: 'muted', text: 'No store has finished provisioning yet.' }));

    const counters = $('metric-counters');
    counters.replaceChildren();
    statRow(counters, 'Rate-limited requests', String(int64(m.rateLimitedTotal)), 'metric-rate-limited');
    statRow(counters, 'Quota refusals', String(int64(m.quotaRefusalsTotal)), 'metric-quota-refusals');
    statRow(counters, 'Active operations', String(int64(m.activeOperations)), 'metric-active-operations');
    statRow(counters, 'Reconcile passes', String(int64(m.reconcilePasses)), 'metric-reconcile-passes');
    statRow(counters, 'Reconcile corrections', String(int64(m.reconcileCorrections)), 'metric-reconcile-corrections');

    const failures = $('metric-failures');
    failures.replaceChildren();
    const list = m.recentFailures || [];
    if (list.length === 0) failures.append(el('li', { class: 'muted', text: 'No failures. 🎉' }));
    for (const f of list) {
      const outcome = failureOutcome(f);
      failures.append(
        el(
          'li',
          {
            class: 'failure' + (outcome.resolved ? ' resolved' : ''),
            'data-testid': 'metric-failure',
            'data-store-name': f.storeName || '',
            'data-resolved': String(outcome.resolved),
          },
          el(
            'div',
            { class: 'failure-head' },
            el('strong', { text: f.storeName || f.storeId || '?' }),
            el('span', { class: 'failure-outcome' + (outcome.resolved ? ' ok' : ''), 'data-testid': 'metric-failure-outcome', text: outcome.text }),
            timeElement(int64(f.timeMs)),
          ),
          failureDetails(f.summary, f.reason || '(no reason recorded)', 'metric-failure-reason', 'failure:' + f.storeId + ':' + f.timeMs),
        ),
      );
    }
  }

  async function loadMetrics() {
    if (!metricsLoaded) showState(metricsState, 'loading', 'Loading metrics…');
    try {
      const m = await api('GET', '/api/metrics');
      renderMetrics(m);
      metricsLoaded = true;
      metricsStale = false;
      metricsBody.hidden = false;
      showState(metricsState, null);
    } catch (error) {
      if (error.code === 'RATE_LIMITED') {
        metricsStale = true;
        setTimeout(scheduleMetrics, Math.max(1, error.retryAfter || 5) * 1000);
      }
      const message = error.isNetwork ? 'Cannot reach the gateway.' : 'Could not load metrics: ' + error.message;
      showState(metricsState, 'error', message, loadMetrics);
    }
  }

  const refreshMetricsSoon = throttle(loadMetrics, METRICS_REFRESH_MS);
  function scheduleMetrics() {
    metricsStale = true;
    if (activeTab === 'metrics') refreshMetricsSoon();
  }

  function onTabShown(name) {
    if (name === 'activity' && (auditStale || !auditLoaded)) loadAudit(false);
    if (name === 'metrics' && (metricsStale || !metricsLoaded)) loadMetrics();
    if (name === 'fleet') openFleetTab();
  }

  // ------------------------------------------------------------------ fleet upgrades
  //
  // The Fleet tab: the active fleet upgrade (or the one chosen from the list), its
  // progress kept current by its event stream (GET /api/fleet-upgrades/{id}/events,
  // one request for the whole fleet upgrade, which ends by itself when it does), a form
  // that starts one, and the latest ones.

  /** Active states: one fleet upgrade at a time is in one of these. */
  const FLEET_ACTIVE = new Set(['running', 'paused', 'cancelling', 'stopping']);
  /** Outcomes in the order the progress bar shows them. */
  const OUTCOMES = ['upgraded', 'rolled-back', 'failed', 'skipped', 'upgrading', 'waiting'];
  /** A fleet upgrade's count field of each outcome. */
  const OUTCOME_COUNT = { upgraded: 'upgraded', 'rolled-back': 'rolledBack', failed: 'failed', skipped: 'skipped', upgrading: 'upgrading', waiting: 'waiting' };
  const OUTCOME_LABEL = { upgraded: 'upgraded', 'rolled-back': 'rolled back', failed: 'failed', skipped: 'skipped', upgrading: 'upgrading', waiting: 'not started' };
  /** Statuses a fleet upgrade can select stores in (live ones). */
  const FLEET_STATUSES = STATUSES.filter((status) => status !== 'deleted');
  const FLEET_LIST_SIZE = 10;
  const FLEET_RETRY_MS = 2000;

  const fleetPanel = {
    state: $('fleet-state'),
    current: $('fleet-current'),
    form: $('fleet-form'),
    version: $('fleet-version'),
    versionDetail: $('fleet-version-detail'),
    selection: $('fleet-selection'),
    statuses: $('fleet-statuses'),
    namesField: $('fleet-names-field'),
    names: $('fleet-names'),
    waveSize: $('fleet-wave-size'),
    maxUnavailable: $('fleet-max-unavailable'),
    failureBudget: $('fleet-failure-budget'),
    submit: $('fleet-submit'),
    error: $('fleet-error'),
    list: $('fleet-list'),
    listState: $('fleet-list-state'),
  };
  /** The fleet upgrade the card shows (FleetUpgrade JSON); null when there has been none. */
  let fleetShown = null;
  /** The open event stream of the fleet upgrade shown, and its id. */
  let fleetSource = null;
  let fleetSourceId = '';
  let fleetRetryTimer = null;
  let fleetLoaded = false;
  /** A refused pause, resume or cancel, shown on the card until the next change. */
  let fleetActionError = '';
  let fleetBusy = false;

  fleetPanel.statuses.append(
    ...FLEET_STATUSES.map((status) =>
      el(
        'label',
        { class: 'toggle' },
        el('input', { type: 'checkbox', value: status, 'data-testid': 'fleet-status-' + status, checked: status === 'ready' }),
        ' ',
        el('span', { class: 'badge badge-' + status, text: status }),
      ),
    ),
  );

  function showFleetSelection() {
    fleetPanel.statuses.hidden = fleetPanel.selection.value !== 'statuses';
    fleetPanel.namesField.hidden = fleetPanel.selection.value !== 'names';
  }
  fleetPanel.selection.addEventListener('change', showFleetSelection);

  function showFleetVersions(versions) {
    const chosen = fleetPanel.version.value;
    fleetPanel.version.replaceChildren(
      ...versions.map((v) => el('option', { value: v.name, text: v.name + (v.isDefault ? ' (default)' : '') })),
    );
    // Keep the user's choice; otherwise offer the first version new stores do not get.
    const keep = versions.find((v) => v.name === chosen) || versions.find((v) => !v.isDefault) || versions[0];
    if (keep) fleetPanel.version.value = keep.name;
    showFleetVersionDetail();
  }
  function showFleetVersionDetail() {
    const chosen = (engineVersions || []).find((v) => v.name === fleetPanel.version.value);
    fleetPanel.versionDetail.textContent = chosen ? versionDetail(chosen) : '';
  }
  fleetPanel.version.addEventListener('change', showFleetVersionDetail);

  function setFleetError(message, code) {
    fleetPanel.error.textContent = message || '';
    fleetPanel.error.hidden = !message;
    if (code) fleetPanel.error.dataset.code = code;
    else delete fleetPanel.error.dataset.code;
  }

  /** A whole number from the field, or null when it is empty; throws a message when it is not one. */
  function fleetNumber(input, label) {
    const text = input.value.trim();
    if (text === '') return null;
    if (!/^\d+$/.test(text)) throw new Error(`${label} must be a whole number, 0 or more.`);
    return Number(text);
  }

  /** The request body the form describes (UpgradeFleetRequest); throws a message when it is incomplete. */
  function fleetRequest() {
    const body = { version: fleetPanel.version.value };
    if (!body.version) throw new Error('Choose the version to upgrade to.');
    if (fleetPanel.selection.value === 'statuses') {
      const statuses = Array.from(fleetPanel.statuses.querySelectorAll('input:checked')).map((input) => input.value);
      if (statuses.length === 0) throw new Error('Tick at least one status.');
      body.selector = { statuses };
    } else if (fleetPanel.selection.value === 'names') {
      const names = fleetPanel.names.value.split(/[\s,]+/).filter(Boolean);
      if (names.length === 0) throw new Error('Name at least one store.');
      body.selector = { names };
    }
    const waveSize = fleetNumber(fleetPanel.waveSize, 'Wave size');
    const maxUnavailable = fleetNumber(fleetPanel.maxUnavailable, 'Max unavailable');
    const failureBudget = fleetNumber(fleetPanel.failureBudget, 'Failure budget');
    if (waveSize !== null) body.waveSize = waveSize;
    if (maxUnavailable !== null) body.maxUnavailable = maxUnavailable;
    if (failureBudget !== null) body.failureBudget = failureBudget;
    return body;
  }

  fleetPanel.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    try {
      body = fleetRequest();
    } catch (problem) {
      setFleetError(problem.message, 'CLIENT_VALIDATION');
      return;
    }
    setFleetError(null);
    fleetPanel.submit.disabled = true;
    fleetPanel.submit.textContent = 'Starting…';
    try {
      const fleet = await api('POST', '/api/fleet-upgrades', body);
      fleetActionError = '';
      showFleet(fleet);
      loadFleetList();
    } catch (error) {
      let message = error.message;
      if (error.code === 'RATE_LIMITED' && error.retryAfter) message += ` Try again in ${error.retryAfter} s.`;
      setFleetError(message, error.code);
      // Another one is active: show it.
      if (error.code === 'FLEET_UPGRADE_IN_PROGRESS') loadFleet();
    } finally {
      fleetPanel.submit.disabled = false;
      fleetPanel.submit.textContent = 'Start fleet upgrade';
    }
  });

  /** "stores shop-5, shop-6": names listed in words. */
  function storeNames(entries) {
    return entries.map((entry) => entry.name).join(', ');
  }

  /** One selected store: its name, wave, outcome and, for a failure or a skip, why. */
  function fleetStoreRow(fleet, entry) {
    const outcome = entry.outcome || 'unspecified';
    const row = el('li', {
      class: 'audit-row fleet-store outcome-' + outcome,
      'data-testid': 'fleet-store-row',
      'data-store-name': entry.name,
      'data-outcome': outcome,
      'data-wave': String(entry.wave || 0),
    });
    row.append(
      el(
        'div',
        { class: 'audit-main' },
        el('a', { class: 'fleet-store-name', href: '#store/' + encodeURIComponent(entry.storeId), text: entry.name }),
        el('span', { class: 'badge badge-outcome-' + outcome, 'data-testid': 'fleet-store-outcome', text: OUTCOME_LABEL[outcome] || outcome }),
        el('span', { class: 'muted', text: `wave ${entry.wave}` }),
        el('span', { class: 'muted fleet-from', text: `from ${entry.fromVersion || '—'}` + (entry.revision ? ` · revision ${entry.revision}` : '') }),
      ),
    );
    if (entry.message) {
      const failure = outcome === 'rolled-back' || outcome === 'failed';
      const first = entry.message.split('\n')[0];
      row.append(
        failure
          ? el('div', { class: 'audit-message' }, failureDetails(first.length > 100 ? first.slice(0, 99) + '…' : first, entry.message, 'fleet-store-reason', 'fleet:' + fleet.id + ':' + entry.storeId))
          : el('p', { class: 'audit-message', 'data-testid': 'fleet-store-message', text: entry.message }),
      );
    }
    return row;
  }

  /** The counts per outcome as one bar, with a legend. */
  function fleetBar(fleet) {
    const total = OUTCOMES.reduce((sum, outcome) => sum + (fleet[OUTCOME_COUNT[outcome]] || 0), 0);
    const bar = el('div', {
      class: 'fleet-bar',
      role: 'img',
      'data-testid': 'fleet-bar',
      'aria-label': OUTCOMES.map((o) => `${OUTCOME_LABEL[o]} ${fleet[OUTCOME_COUNT[o]] || 0}`).join(', ') + ` of ${total} stores`,
    });
    for (const outcome of OUTCOMES) {
      const count = fleet[OUTCOME_COUNT[outcome]] || 0;
      if (count) bar.append(el('span', { class: 'fleet-seg seg-outcome-' + outcome, style: `flex-grow: ${count}`, title: `${OUTCOME_LABEL[outcome]}: ${count}` }));
    }
    const legend = el(
      'p',
      { class: 'status-legend' },
      ...OUTCOMES.map((outcome) =>
        el(
          'span',
          { class: 'legend-item', 'data-testid': 'fleet-count-' + outcome, 'data-count': String(fleet[OUTCOME_COUNT[outcome]] || 0) },
          el('span', { class: 'swatch seg-outcome-' + outcome }),
          `${OUTCOME_LABEL[outcome]} ${fleet[OUTCOME_COUNT[outcome]] || 0}`,
        ),
      ),
    );
    return [bar, legend];
  }

  /** What an ended fleet upgrade left: the stores that failed and why, and those not started. */
  function fleetOutcome(fleet) {
    const parts = [];
    const stores = fleet.stores || [];
    const failed = stores.filter((s) => s.outcome === 'rolled-back' || s.outcome === 'failed');
    const waiting = stores.filter((s) => s.outcome === 'waiting');
    if (failed.length) {
      parts.push(el('p', { class: 'fleet-failed', 'data-testid': 'fleet-failed' }, el('strong', { text: 'Failed: ' }), storeNames(failed)));
    }
    if (!FLEET_ACTIVE.has(fleet.state) && waiting.length) {
      parts.push(
        el('p', { class: 'fleet-not-started', 'data-testid': 'fleet-not-started' }, el('strong', { text: 'Not started (they keep their version): ' }), storeNames(waiting)),
      );
    }
    return parts;
  }

  function fleetButton(testid, text, enabled, onclick, danger) {
    return el('button', { type: 'button', class: 'btn' + (danger ? ' btn-danger' : ''), 'data-testid': testid, disabled: fleetBusy || !enabled, text, onclick });
  }

  function renderFleet() {
    const fleet = fleetShown;
    fleetPanel.current.hidden = !fleet;
    if (!fleet) return;
    const state = fleet.state || 'unspecified';
    const active = FLEET_ACTIVE.has(state);
    const meta = el('dl', { class: 'store-meta fleet-meta' });
    const row = (label, value, testid) => meta.append(el('div', {}, el('dt', { text: label }), el('dd', { 'data-testid': testid }, value)));
    row('Wave', fleet.currentWave ? `${fleet.currentWave} of ${fleet.waveCount}` : `not begun (${fleet.waveCount} waves)`, 'fleet-wave');
    row('Waves of', `${fleet.waveSize} stores, at most ${fleet.maxUnavailable} at once`, 'fleet-sizes');
    row('Failure budget', String(fleet.failureBudget || 0), 'fleet-budget');
    row('Started by', fleet.actor || '—', 'fleet-actor');
    row('Started', relativeTime(int64(fleet.createdMs)), 'fleet-created');
    if (active) row(state[0].toUpperCase() + state.slice(1) + ' for', durationSince(int64(fleet.createdMs), 'fleet-progress'), 'fleet-elapsed');
    else row('Ended', relativeTime(int64(fleet.endedMs)), 'fleet-ended');
    const steps = el(
      'ol',
      { class: 'fleet-steps', 'data-testid': 'fleet-steps', 'aria-label': 'Its log, oldest first' },
      ...(fleet.steps || []).map((step) =>
        el(
          'li',
          { class: 'fleet-step', 'data-testid': 'fleet-step', 'data-action': step.action },
          timeElement(int64(step.timeMs)),
          ' ',
          el('strong', { text: step.action }),
          ' ',
          el('span', { class: 'audit-actor', text: step.actor }),
          el('span', { class: 'fleet-step-message', text: step.message }),
        ),
      ),
    );
    fleetPanel.current.replaceChildren(
      el(
        'div',
        { class: 'store-head' },
        el(
          'h3',
          { class: 'store-name', id: 'fleet-current-title' },
          (active ? 'Fleet upgrade to ' : 'Last fleet upgrade to ') + fleet.version,
          el('span', { class: 'muted fleet-id', text: ' ' + fleet.id }),
        ),
        el('span', { class: 'badge badge-fleet-' + state, 'data-testid': 'fleet-state-badge', 'data-state': state, text: state }),
      ),
      meta,
      ...fleetBar(fleet),
      ...fleetOutcome(fleet),
      fleetActionError ? el('p', { class: 'form-error', role: 'alert', 'data-testid': 'fleet-action-error', text: fleetActionError }) : '',
      el(
        'div',
        { class: 'store-actions' },
        fleetButton('fleet-pause', 'Pause', state === 'running', () => changeFleet('pause')),
        fleetButton('fleet-resume', 'Resume', state === 'paused', () => changeFleet('resume')),
        fleetButton('fleet-cancel', 'Cancel', state === 'running' || state === 'paused' || state === 'stopping', () => changeFleet('cancel'), true),
      ),
      el('h4', { class: 'chart-title', text: 'Stores, in order' }),
      el('ol', { class: 'audit-list fleet-stores', 'data-testid': 'fleet-stores' }, ...(fleet.stores || []).map((entry) => fleetStoreRow(fleet, entry))),
      el('h4', { class: 'chart-title', text: 'Log' }),
      steps,
    );
    fleetPanel.current.dataset.fleetId = fleet.id;
    fleetPanel.current.dataset.state = state;
  }

  /** Shows `fleet` on the card, following it live while it is active. */
  function showFleet(fleet) {
    const before = fleetShown;
    if (before && before.id === fleet.id && int64(before.updatedMs) > int64(fleet.updatedMs)) return; // an older answer
    if (!before || before.id !== fleet.id || before.state !== fleet.state) fleetActionError = '';
    fleetShown = fleet;
    renderFleet();
    if (FLEET_ACTIVE.has(fleet.state)) followFleet(fleet.id);
    else {
      closeFleetSource();
      // It just ended: the list shows its final counts.
      if (before && before.id === fleet.id && FLEET_ACTIVE.has(before.state)) loadFleetList();
    }
  }

  function closeFleetSource() {
    if (fleetSource) fleetSource.close();
    fleetSource = null;
    fleetSourceId = '';
  }

  /** Opens the event stream of fleet upgrade `id` (one at a time); a dropped stream is
   * followed by a fresh read a little later, which opens it again while it is active. */
  function followFleet(id) {
    if (fleetSource && fleetSourceId === id) return;
    closeFleetSource();
    const opened = new EventSource('/api/fleet-upgrades/' + encodeURIComponent(id) + '/events');
    fleetSource = opened;
    fleetSourceId = id;
    opened.addEventListener('fleet-upgrade', (message) => {
      try {
        showFleet(JSON.parse(message.data));
      } catch {
        /* a malformed frame: the next one, or the next read, corrects it */
      }
    });
    const dropped = () => {
      opened.close();
      if (fleetSource !== opened) return;
      fleetSource = null;
      fleetSourceId = '';
      clearTimeout(fleetRetryTimer);
      fleetRetryTimer = setTimeout(() => loadFleet(id), FLEET_RETRY_MS);
    };
    opened.addEventListener('refused', dropped);
    opened.addEventListener('error', dropped);
  }

  /** Pauses, resumes or cancels the fleet upgrade shown. */
  async function changeFleet(kind) {
    const fleet = fleetShown;
    if (!fleet) return;
    if (kind === 'cancel') {
      const confirmed = await confirmAction(
        'Cancel the fleet upgrade?',
        `No more stores are started; those upgrading now finish. The ${fleet.waiting} stores not started keep their version.`,
        'Cancel fleet upgrade',
        true,
        'Keep it going',
      );
      if (!confirmed) return;
    }
    fleetBusy = true;
    fleetActionError = '';
    renderFleet();
    try {
      const changed = await api('POST', '/api/fleet-upgrades/' + encodeURIComponent(fleet.id) + '/' + kind);
      fleetBusy = false;
      showFleet(changed);
      loadFleetList();
    } catch (error) {
      fleetBusy = false;
      let message = error.message;
      if (error.code === 'RATE_LIMITED' && error.retryAfter) message += ` Try again in ${error.retryAfter} s.`;
      fleetActionError = message;
      renderFleet();
      // It may have moved on meanwhile: read it again.
      if (error.status === 409) loadFleet(fleet.id);
    }
  }

  /** One row of the latest fleet upgrades; choosing it shows it on the card. */
  function fleetListRow(fleet) {
    const state = fleet.state || 'unspecified';
    const counts = OUTCOMES.filter((o) => fleet[OUTCOME_COUNT[o]]).map((o) => `${fleet[OUTCOME_COUNT[o]]} ${OUTCOME_LABEL[o]}`).join(', ');
    return el(
      'li',
      { class: 'audit-row', 'data-testid': 'fleet-list-row', 'data-fleet-id': fleet.id, 'data-state': state },
      el(
        'div',
        { class: 'audit-main' },
        el('button', { type: 'button', class: 'link-button', 'data-testid': 'fleet-list-show', text: 'to ' + fleet.version, onclick: () => loadFleet(fleet.id) }),
        el('span', { class: 'badge badge-fleet-' + state, text: state }),
        el('span', { class: 'muted', text: counts || 'no stores' }),
      ),
      el(
        'div',
        { class: 'audit-sub' },
        relativeTime(int64(fleet.createdMs)),
        el('span', { class: 'audit-actor', text: fleet.actor }),
        el('span', { class: 'audit-actor', text: fleet.id }),
      ),
    );
  }

  async function loadFleetList() {
    try {
      const page = await api('GET', '/api/fleet-upgrades?limit=' + FLEET_LIST_SIZE);
      const fleets = page.fleetUpgrades || [];
      fleetPanel.list.replaceChildren(...fleets.map(fleetListRow));
      if (fleets.length === 0) showState(fleetPanel.listState, 'empty', 'No fleet upgrade yet.');
      else showState(fleetPanel.listState, null);
    } catch (error) {
      showState(fleetPanel.listState, 'error', 'Could not load the fleet upgrades: ' + error.message, loadFleetList);
    }
  }

  /** Reads fleet upgrade `id`, or the current one (active, else the latest), onto the card. */
  async function loadFleet(id) {
    clearTimeout(fleetRetryTimer);
    if (!fleetLoaded) showState(fleetPanel.state, 'loading', 'Loading fleet upgrades…');
    try {
      showFleet(await api('GET', '/api/fleet-upgrades/' + encodeURIComponent(id || 'current')));
      showState(fleetPanel.state, null);
    } catch (error) {
      if (error.status === 404 && !id) {
        fleetShown = null;
        renderFleet();
        showState(fleetPanel.state, null);
      } else {
        showState(fleetPanel.state, 'error', 'Could not load the fleet upgrade: ' + error.message, () => loadFleet(id));
      }
    }
    fleetLoaded = true;
  }

  function openFleetTab() {
    loadVersions().then(showFleetVersions, (error) => setFleetError('Could not read the versions: ' + error.message));
    // The card keeps following the fleet upgrade it follows; otherwise it shows the current one.
    if (!fleetSource) loadFleet();
    loadFleetList();
  }

  /** A store began upgrading: a fleet upgrade started elsewhere (storectl) shows up without a reload. */
  const noticeFleetSoon = throttle(() => {
    if (activeTab === 'fleet' && !fleetSource) loadFleet();
  }, FLEET_RETRY_MS);

  // ------------------------------------------------------------------ store page
  //
  // #store/<id>: every field of one store, its failure in full, and its own history
  // from the audit log; kept current by the live events like the cards.

  const storePage = $('panel-store');
  const storePageBody = $('store-page-body');
  const storeHistory = $('store-history');
  const storePageState = $('store-page-state');
  const storeRevisions = $('store-revisions');
  const storeRevisionsState = $('store-revisions-state');
  const storePageUpgrade = $('store-page-upgrade');
  const storePageActionError = $('store-page-action-error');
  /** The revisions of the store whose page is shown (GET /api/stores/{id}/revisions), newest first. */
  let pageRevisions = [];

  storePageUpgrade.addEventListener('click', () => {
    if (pageStoreId) storeAction(pageStoreId, 'upgrade');
  });

  function renderStorePage() {
    const store = stores.get(pageStoreId);
    if (!store) return;
    const status = statusName(store.status);
    const fields = el('dl', { class: 'store-fields' });
    const field = (key, label, value) =>
      fields.append(el('div', {}, el('dt', { text: label }), el('dd', { 'data-testid': 'store-field-' + key }, value)));
    field('id', 'Id', store.id);
    field('name', 'Name', store.name);
    field('status', 'Status', el('span', { class: 'badge badge-' + status, text: status }));
    field('engine', 'Engine', store.engine || 'woocommerce');
    field('version', status === 'upgrading' ? 'Version (target)' : 'Version', store.version || '—');
    field('revision', 'Revision', String(store.revision || 0));
    field('owner', 'Owner', store.owner || '—');
    field('url', 'URL', store.url ? el('a', { href: store.url, target: '_blank', rel: 'noopener noreferrer', text: store.url }) : '—');
    field('namespace', 'Namespace', store.namespace || '—');
    field('release', 'Helm release', store.release || '—');
    field('attempts', 'Attempts', String(store.attempts || 0));
    field('created', 'Created', timeElement(int64(store.createdAtMs)));
    field('updated', 'Last change', timeElement(int64(store.updatedAtMs)));
    if (IN_PROGRESS.has(status)) field('progress', status[0].toUpperCase() + status.slice(1) + ' for', progressSince(store, status, 'store-page-progress'));
    if (status === 'provisioning' && progress.has(store.id)) field('step', 'Step', stepElement(store, 'store-page-step'));
    field('ready-at', 'Ready at', timeElement(int64(store.readyAtMs)));
    field('deleted-at', 'Deleted at', timeElement(int64(store.deletedAtMs)));
    field('provisioned-in', 'Provisioned in', store.provisioningDurationMs && int64(store.provisioningDurationMs) ? seconds(int64(store.provisioningDurationMs)) : '—');
    const parts = [
      el('h2', { class: 'section-title store-page-title', id: 'store-page-title' }, store.name + ' ', el('span', { class: 'badge badge-' + status, text: status })),
    ];
    if (status === 'failed' && store.errorMessage) {
      const key = 'page:' + store.id + ':' + store.updatedAtMs;
      if (!openDetails.has('seen:' + key)) {
        // The page opens the failure in full; the user may close it.
        openDetails.add('seen:' + key);
        openDetails.add(key);
      }
      parts.push(el('div', { class: 'store-error' }, failureDetails(store.errorSummary, store.errorMessage, 'store-page-error', key)));
    }
    const note = rolledBackNote(store, 'store-page-rolled-back');
    if (note) parts.push(note);
    parts.push(fields);
    storePageBody.replaceChildren(...parts);
    storePageUpgrade.disabled = pending.has(store.id) || !UPGRADABLE.has(status);
    const actionError = actionErrors.get(store.id);
    storePageActionError.textContent = actionError || '';
    storePageActionError.hidden = !actionError;
    renderRevisions();
  }

  /** One revision: its number, status, version, who made it and when, what happened; an
   * earlier one that ran can be rolled back to (while the store is ready). */
  function revisionRow(store, revision) {
    const status = revision.status || 'unspecified';
    const row = el('li', {
      class: 'audit-row revision-row',
      'data-testid': 'store-revision-row',
      'data-revision': String(revision.revision),
      'data-status': status,
      'data-version': revision.version || '',
    });
    row.append(
      el(
        'div',
        { class: 'audit-main' },
        el('span', { class: 'revision-number', text: 'Revision ' + revision.revision }),
        el('span', { class: 'badge badge-rev-' + status, 'data-testid': 'store-revision-status', text: status }),
        el('span', { class: 'revision-version', 'data-testid': 'store-revision-version', text: revision.version || '—' }),
        revision.revision === store.revision && status === 'deployed' ? el('span', { class: 'muted', text: 'runs now' }) : '',
      ),
      el(
        'div',
        { class: 'audit-sub' },
        timeElement(int64(revision.timeMs)),
        el('span', { class: 'audit-actor', title: 'who asked for it', 'data-testid': 'store-revision-actor', text: revision.actor || 'unknown' }),
      ),
    );
    if (revision.message) {
      // A failed change's message says why in full: its first line, the rest one click away.
      const first = revision.message.split('\n')[0];
      const long = status === 'failed' || status === 'rolled-back' || first !== revision.message;
      row.append(
        long
          ? el('div', { class: 'audit-message' }, failureDetails(first.length > 100 ? first.slice(0, 99) + '…' : first, revision.message, 'store-revision-message', 'revision:' + store.id + ':' + revision.revision))
          : el('p', { class: 'audit-message', 'data-testid': 'store-revision-message', text: revision.message }),
      );
    }
    if (revision.revision < store.revision && RAN.has(status)) {
      row.append(
        el(
          'div',
          { class: 'revision-actions' },
          el('button', {
            type: 'button',
            class: 'btn btn-small',
            'data-testid': 'store-rollback',
            disabled: pending.has(store.id) || !UPGRADABLE.has(statusName(store.status)),
            'aria-label': `Roll back ${store.name} to revision ${revision.revision}`,
            text: 'Roll back to this',
            onclick: () => storeAction(store.id, 'rollback', revision),
          }),
        ),
      );
    }
    return row;
  }

  function renderRevisions() {
    const store = stores.get(pageStoreId);
    if (!store) return;
    storeRevisions.replaceChildren(...pageRevisions.map((revision) => revisionRow(store, revision)));
  }

  async function loadRevisions() {
    const id = pageStoreId;
    if (!id) return;
    try {
      const page = await api('GET', '/api/stores/' + encodeURIComponent(id) + '/revisions');
      if (id !== pageStoreId) return;
      pageRevisions = page.revisions || [];
      if (pageRevisions.length === 0) showState(storeRevisionsState, 'empty', 'No revision yet: the store has not been installed.');
      else showState(storeRevisionsState, null);
      renderRevisions();
    } catch (error) {
      if (id === pageStoreId) showState(storeRevisionsState, 'error', 'Could not load the revisions: ' + error.message, loadRevisions);
    }
  }
  const refreshRevisionsSoon = throttle(loadRevisions, AUDIT_REFRESH_MS);

  async function loadStoreHistory() {
    const id = pageStoreId;
    if (!id) return;
    try {
      const page = await api('GET', '/api/audit?' + new URLSearchParams({ store_id: id, limit: '200' }));
      if (id !== pageStoreId) return;
      storeHistory.replaceChildren(
        ...(page.events || []).map((event) => {
          const row = auditRow(event, false);
          row.dataset.testid = 'store-history-row';
          return row;
        }),
      );
    } catch (error) {
      if (id === pageStoreId) showState(storePageState, 'error', 'Could not load the history: ' + error.message, loadStoreHistory);
    }
  }
  const refreshHistorySoon = throttle(loadStoreHistory, AUDIT_REFRESH_MS);

  async function openStorePage(id) {
    pageStoreId = id;
    // A store's page belongs to the Stores tab: that tab is the one marked.
    for (const tab of tabs) {
      tab.setAttribute('aria-selected', String(tab.id === 'tab-stores'));
      tab.tabIndex = tab.id === 'tab-stores' ? 0 : -1;
      $(tab.getAttribute('aria-controls')).hidden = true;
    }
    activeTab = 'stores';
    storePage.hidden = false;
    storePageBody.replaceChildren();
    storeHistory.replaceChildren();
    pageRevisions = [];
    storeRevisions.replaceChildren();
    storePageActionError.hidden = true;
    showState(storePageState, null);
    showState(storeRevisionsState, null);
    if (!stores.has(id)) {
      try {
        upsertStore(await api('GET', '/api/stores/' + encodeURIComponent(id)), false);
      } catch (error) {
        if (id === pageStoreId) showState(storePageState, 'error', 'Could not load the store: ' + error.message);
        return;
      }
    }
    renderStorePage();
    loadStoreHistory();
    loadRevisions();
    $('store-page-back').focus();
  }

  /** Shows what the address names: a store's page (#store/<id>) or a tab (#stores, …). */
  function route() {
    const match = /^#store\/(.+)$/.exec(location.hash);
    if (match) {
      openStorePage(decodeURIComponent(match[1]));
      return;
    }
    const tab = tabs.find((t) => '#' + t.id.replace(/^tab-/, '') === location.hash) || tabs[0];
    selectTab(tab, false);
  }
  window.addEventListener('hashchange', route);

  // ------------------------------------------------------------------ live events
  //
  // Every `event: store` carries its audit id. The page remembers the highest one it
  // applied; when the stream ends (`event: behind`: it fell behind, or a replay was
  // partial) or the connection drops, it reconnects to /api/events?after=<that id> and
  // the gateway replays the transitions that followed, in order, from the audit log (an
  // EventSource cannot set Last-Event-ID itself). Only without an id yet, or when the
  // gateway refuses the resume, does the page read everything again.

  const connection = $('connection');
  let source = null;
  let everConnected = false;
  let backoff = BACKOFF_MIN_MS;
  let reconnectTimer = null;
  /** The highest audit id applied from the stream; 0 until the first event. */
  let lastEventId = 0;
  /** Audit ids applied lately (insertion order), so a replay never applies one twice. */
  const applied = new Set();
  const APPLIED_KEEP = 5000;

  function setConnection(state, text) {
    connection.dataset.state = state;
    connection.textContent = text;
  }

  /** Records an applied audit id; false when it was applied before. */
  function firstTime(id) {
    if (applied.has(id) || (id <= lastEventId - APPLIED_KEEP)) return false;
    applied.add(id);
    if (id > lastEventId) lastEventId = id;
    if (applied.size > APPLIED_KEEP) {
      for (const old of applied) {
        applied.delete(old);
        if (applied.size <= APPLIED_KEEP / 2) break;
      }
    }
    return true;
  }

  function onStoreEvent(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const auditId = int64(event.auditId);
    if (event.action === 'progress') {
      // A provisioning step began: not a transition, nothing for the Activity Log.
      if (!event.store || statusName(stores.get(event.store.id)?.status) === 'ready') return;
      progress.set(event.store.id, { step: event.step, timeMs: int64(event.timeMs) });
      if (beyondLoadedPages(event.store)) return;
      upsertStore(event.store, false);
      renderStore(event.store.id);
      if (pageStoreId === event.store.id) renderStorePage();
      return;
    }
    if (event.action !== 'current' && auditId > 0 && !firstTime(auditId)) return;
    if (event.action !== 'current' && auditId > 0) {
      countTransition(event.fromStatus, event.toStatus);
      resyncCountsSoon();
    }
    if (event.store && !beyondLoadedPages(event.store)) upsertStore(event.store, event.action === 'create');
    if (event.store && event.store.id === pageStoreId) {
      refreshHistorySoon();
      refreshRevisionsSoon();
    }
    if (event.action === 'rolled-back' && event.store && auditId > 0) loadRolledBack(event.store.id, auditId);
    if (event.action === 'upgrade') noticeFleetSoon();
    if (event.action !== 'current' && auditId > 0 && auditLoaded) {
      // Show it at once; the throttled refresh fills in actor and message.
      placeAuditRow(
        {
          id: event.auditId,
          timeMs: event.timeMs,
          action: event.action,
          storeId: event.store && event.store.id,
          storeName: event.store && event.store.name,
          fromStatus: event.fromStatus,
          toStatus: event.toStatus,
          message: statusName(event.toStatus) === 'failed' && event.store ? event.store.errorMessage : '',
          summary: statusName(event.toStatus) === 'failed' && event.store ? event.store.errorSummary : '',
        },
        true,
      );
    }
    scheduleAudit();
    scheduleMetrics();
  }

  function reconnectAfter(delay) {
    if (!reconnectTimer) reconnectTimer = setTimeout(connect, delay);
  }

  /** The next delay of exponential backoff with jitter. */
  function nextBackoff() {
    const delay = Math.min(BACKOFF_MAX_MS, backoff) * (0.75 + Math.random() * 0.5);
    backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    return delay;
  }

  /** Whether the gateway refuses to resume at `url` (a 4xx other than 429): then forget the id. */
  async function checkResumeRefused(url, after) {
    try {
      const response = await fetch(url, { method: 'HEAD', cache: 'no-store' });
      const refused = response.status >= 400 && response.status < 500 && response.status !== 429;
      if (refused && lastEventId === after) lastEventId = 0;
    } catch {
      /* unreachable: keep the id and retry with backoff */
    }
  }

  function connect() {
    reconnectTimer = null;
    if (source) source.close();
    setConnection(everConnected ? 'reconnecting' : 'connecting', everConnected ? 'reconnecting…' : 'connecting…');
    const after = lastEventId;
    // progress=1: the provisioning steps too, for the cards' and store page's progress.
    const url = after > 0 ? '/api/events?progress=1&after=' + after : '/api/events?progress=1';
    const opened = new EventSource(url);
    source = opened;
    let isOpen = false;
    opened.addEventListener('store', onStoreEvent);
    opened.addEventListener('open', () => {
      isOpen = true;
      backoff = BACKOFF_MIN_MS;
      const wasConnected = everConnected;
      everConnected = true;
      setConnection('live', 'live');
      // Read after the stream is open, so no transition falls between the counts and the events.
      loadCounts();
      if (after > 0 && storesState.dataset.state !== 'error') return; // the replay brings what was missed
      if (wasConnected || storesState.dataset.state === 'error') {
        // Nothing to resume from: read everything again.
        loadStores(false);
        if (activeTab === 'activity') loadAudit(false);
        else auditStale = true;
        if (activeTab === 'metrics') loadMetrics();
        else metricsStale = true;
      }
    });
    opened.addEventListener('behind', () => {
      // The stream ends here; everything up to lastEventId was applied. Resume at once
      // when this connection made progress, with backoff when it did not.
      opened.close();
      if (source === opened) source = null;
      setConnection('reconnecting', 'reconnecting…');
      reconnectAfter(lastEventId > after ? 0 : nextBackoff());
    });
    opened.addEventListener('error', () => {
      // Manage reconnection ourselves, with exponential backoff and jitter (EventSource
      // gives up for good on a non-200 answer, and retries at a fixed pace otherwise).
      opened.close();
      if (source === opened) source = null;
      if (!isOpen && after > 0) checkResumeRefused(url, after);
      const delay = nextBackoff();
      setConnection(everConnected ? 'reconnecting' : 'offline', everConnected ? 'reconnecting…' : 'offline — retrying…');
      reconnectAfter(delay);
    });
  }

  // Reconnect at once when the tab comes back or the network returns.
  window.addEventListener('online', () => {
    if (!source) {
      clearTimeout(reconnectTimer);
      backoff = BACKOFF_MIN_MS;
      connect();
    }
  });

  // ------------------------------------------------------------------ start

  route();
  loadStores(false);
  loadCounts();
  loadDeadline();
  loadVersions().catch(() => {
    /* the upgrade dialog reads them again */
  });
  connect();

  // For debugging from the console.
  window.storePlatform = { validateName, statusName, stores, reload: () => loadStores(false), resumesAfter: () => lastEventId };
})();
