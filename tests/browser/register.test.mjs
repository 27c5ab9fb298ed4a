// Browser tests of the register's pages, as a caseworker would use them:
// the real `cnis demo` fills a register, the real `cnis serve` serves it,
// and Debian's headless Chromium (driven by playwright-core, which never
// downloads a browser) signs in, makes drafts, searches with a misspelt
// name, edits and confirms an entry, and is refused another council's
// child. Every main page is checked with axe-core (serious and critical
// violations fail) and photographed at 1280 and 375 pixels wide.
//
// Run: bash tests/browser/setup.sh, then
//   CNIS_BIN=path/to/cnis CNIS_ARTIFACTS=dir node --test tests/browser/register.test.mjs
// (crates/cnis-cli/tests/browser.rs does both with the freshly built binary.)
// CNIS_TRACKING_RUN may name the tracking run for a binary whose demo does
// not print it yet; the Rust test clears it so that the demo's line is needed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.CNIS_BIN;
const ARTIFACTS = path.resolve(process.env.CNIS_ARTIFACTS || path.join(here, '../../target/browser-artifacts'));
const PASSWORD = 'demo-password-cnis';
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 375, height: 800 };

/** What the tests share: the demo's output, the server, the browser, and what each test found. */
const s = {
  tmp: null,
  demoOut: '',
  councils: [], // council codes with a caseworker account, in the demo's order
  run: null, // the tracking run with linkage
  demoDrafts: new Map(), // council code -> drafts the demo's import made
  server: null,
  serverLog: '',
  serverExit: null,
  base: null,
  browser: null,
  a: null, // { context, page } of council A's caseworker
  child: null, // the draft that the search, child and edit tests use
  checked: [], // { name, serious: [violations], other: [violations] }
  pageProblems: [], // console errors, failed requests, missing CSS
};

const execFileP = promisify(execFile);

/** The environment for `cnis`: none of the caller's cnis settings, which would change what the demo and server do. */
function cnisEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const k of ['CNIS_DB', 'CNIS_REGISTER', 'CNIS_REGISTER_SETTINGS', 'CNIS_BIND']) delete env[k];
  return env;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The last `n` lines of a long output, for an error message. */
const tail = (text, n = 30) => text.trimEnd().split('\n').slice(-n).join('\n');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A deadline for Promise.race that does not keep the process alive once the race is won. */
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** American Soundex, to keep a misspelling sounding like the name. */
function soundex(name) {
  const codes = { b: 1, f: 1, p: 1, v: 1, c: 2, g: 2, j: 2, k: 2, q: 2, s: 2, x: 2, z: 2, d: 3, t: 3, l: 4, m: 5, n: 5, r: 6 };
  const letters = name.toLowerCase().replace(/[^a-z]/g, '');
  if (!letters) return '';
  let out = letters[0].toUpperCase();
  let last = codes[letters[0]] ?? 0;
  for (const ch of letters.slice(1)) {
    const c = codes[ch] ?? 0;
    if (c && c !== last) out += c;
    if (ch !== 'h' && ch !== 'w') last = c;
    if (out.length === 4) break;
  }
  return out.padEnd(4, '0');
}

/**
 * A misspelling of `name` that keeps its first letter and, where it can,
 * its Soundex code: two inner letters swapped, else one inner letter
 * dropped, else one doubled.
 */
function misspell(name) {
  const code = soundex(name);
  const candidates = [];
  for (let i = 1; i + 2 < name.length; i++) {
    if (name[i] !== name[i + 1]) candidates.push(name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2));
  }
  for (let i = 1; i + 1 < name.length; i++) candidates.push(name.slice(0, i) + name.slice(i + 1));
  for (let i = 1; i < name.length; i++) candidates.push(name.slice(0, i) + name[i] + name.slice(i));
  const differ = candidates.filter((c) => c.toLowerCase() !== name.toLowerCase());
  return differ.find((c) => soundex(c) === code) ?? differ[0];
}

/** Runs axe on the page as it stands and photographs it at both widths. */
async function checkPage(page, name) {
  const results = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const other = results.violations.filter((v) => !serious.includes(v));
  s.checked.push({ name, url: page.url(), serious, other });
  for (const v of results.violations) {
    const target = v.nodes[0]?.target?.join(' ') ?? '';
    console.log(`axe on ${name}: ${v.id} (${v.impact}) ${v.help}; first node: ${target}; ${v.nodes.length} node(s)`);
  }
  // The GOV.UK stylesheet must have loaded (a CSP or a missing file would
  // leave the page unstyled): the width container is capped at 960px.
  const styled = await page.evaluate(() => {
    const el = document.querySelector('.govuk-width-container');
    return el ? getComputedStyle(el).maxWidth : 'no .govuk-width-container';
  });
  if (styled !== '960px') s.pageProblems.push(`${name}: the GOV.UK stylesheet did not apply (width container max-width ${styled})`);

  await mkdir(ARTIFACTS, { recursive: true });
  await page.setViewportSize(WIDE);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize(NARROW);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-375.png`), fullPage: true });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > NARROW.width) log(`note: ${name} is ${wide} px wide at ${NARROW.width} px (scrolls sideways)`);
  await page.setViewportSize(WIDE);
  log(`checked ${name}`);
}

async function newContext() {
  const context = await s.browser.newContext({ baseURL: s.base, viewport: WIDE });
  context.on('page', watch);
  return context;
}

/** Records console errors (CSP refusals among them) and failed requests. */
function watch(page) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs a page that answers 401, 403 or 422 (a wrong password, a form with errors, a
    // refusal) as a failed resource: the tests check those statuses themselves.
    const own = m.location()?.url === page.url() && /status of (40[13]|422)\b/.test(m.text());
    if (!own) s.pageProblems.push(`console error on ${page.url()}: ${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => s.pageProblems.push(`script error on ${page.url()}: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A request the browser dropped because the page moved on (a favicon
    // still loading when a form is sent) is not the page failing.
    if (r.failure()?.errorText === 'net::ERR_ABORTED') return;
    s.pageProblems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.url().includes('/assets/') && r.status() >= 400) s.pageProblems.push(`asset ${r.url()} answered ${r.status()}`);
  });
}

/** Clicks a form's button and waits for the answer to its POST to `pathname`. */
async function submit(page, button, pathname) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === pathname),
    page.getByRole('button', { name: button }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);

/** Signs in through the sign-in page; `check` runs axe and screenshots on it first. */
async function signIn(context, email, { check } = {}) {
  const page = await context.newPage();
  const r = await page.goto('/sign-in');
  assert.equal(r.status(), 200, 'GET /sign-in');
  if (check) await checkPage(page, 'sign-in');
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: 'Sign in' }).click()]);
  return page;
}

/** Every entry of the signed-in caseworker's council (the API, all pages). */
async function apiEntries(context, status) {
  const items = [];
  for (let p = 1; p < 1000; p++) {
    const q = new URLSearchParams({ page: String(p), per_page: '100' });
    if (status) q.set('status', status);
    const r = await context.request.get(`/api/v1/entries?${q}`);
    assert.equal(r.status(), 200, `GET /api/v1/entries?${q}: ${await r.text()}`);
    const body = await r.json();
    items.push(...body.items.map((i) => i.entry ?? i));
    if (body.items.length === 0 || items.length >= body.total) break;
  }
  return items;
}

function need(value, what) {
  if (!value) throw new Error(`${what} is not there: an earlier test failed`);
  return value;
}

before(async () => {
  assert.ok(BIN, 'CNIS_BIN must name the cnis binary');
  log('demo');
  s.tmp = await mkdtemp(path.join(os.tmpdir(), 'cnis-browser-'));
  await mkdir(ARTIFACTS, { recursive: true });

  // 1. The demo: synthetic data, tracking, and a register with accounts.
  let demo;
  try {
    demo = await execFileP(BIN, ['demo', '--pupils', '50000', '--out', s.tmp], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 600_000,
      env: cnisEnv({ RUST_LOG: 'warn' }),
    });
  } catch (e) {
    throw new Error(`cnis demo failed (${e.code ?? e.signal}):\n${tail(e.stdout ?? '')}\n${tail(e.stderr ?? '')}`);
  }
  s.demoOut = demo.stdout;
  await writeFile(path.join(ARTIFACTS, 'demo-output.txt'), demo.stdout + demo.stderr);
  s.councils = [...demo.stdout.matchAll(/^\s+caseworker@(\w+)\.demo\.invalid\s/gm)].map((m) => m[1]);
  const demoFile = path.join(ARTIFACTS, 'demo-output.txt');
  assert.ok(s.councils.length >= 2, `the demo printed fewer than two councils' caseworkers (${demoFile}):\n${tail(demo.stdout)}`);
  for (const m of demo.stdout.matchAll(/^\s+(\w+) [^:\n]*: .*?(\d+) drafts for caseworkers to confirm/gm)) {
    s.demoDrafts.set(m[1], Number(m[2]));
  }
  const run = demo.stdout.match(/tracking run (\d+) is the one with linkage/);
  if (run) s.run = Number(run[1]);
  else if (process.env.CNIS_TRACKING_RUN) s.run = Number(process.env.CNIS_TRACKING_RUN);
  else throw new Error(`the demo did not print "(tracking run N is the one with linkage; ...)" (${demoFile}):\n${tail(demo.stdout)}`);

  // 2. The server, on a free port, started as a user would.
  log('serve');
  const port = await freePort();
  s.base = `http://127.0.0.1:${port}`;
  s.server = spawn(
    BIN,
    ['serve', '--register', path.join(s.tmp, 'register.db'), '--analytics', path.join(s.tmp, 'cnis.db'), '--bind', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: cnisEnv({ RUST_LOG: 'info' }) },
  );
  s.server.stdout.on('data', (d) => (s.serverLog += d));
  s.server.stderr.on('data', (d) => (s.serverLog += d));
  s.serverExited = new Promise((resolve) =>
    s.server.on('exit', (code, signal) => {
      s.serverExit = { code, signal };
      resolve(s.serverExit);
    }),
  );
  const readyBy = Date.now() + 60_000;
  for (;;) {
    if (s.serverExit) throw new Error(`cnis serve exited (${JSON.stringify(s.serverExit)}):\n${tail(s.serverLog)}`);
    try {
      const r = await fetch(`${s.base}/ready`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > readyBy) throw new Error(`GET /ready did not answer 200 within 60 s:\n${tail(s.serverLog)}`);
    await sleep(200);
  }

  // 3. The browser: Debian's Chromium, never a downloaded one.
  log('browser');
  s.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  log(`Chromium ${s.browser.version()} on ${s.base}; councils ${s.councils.join(', ')}; tracking run ${s.run}`);
});

after(async () => {
  log('after');
  await s.browser?.close().catch(() => {});
  if (s.server && !s.serverExit) {
    s.server.kill('SIGTERM');
    const stopped = await Promise.race([s.serverExited, deadline(15_000)]);
    if (!stopped) s.server.kill('SIGKILL');
  }
  if (s.serverLog) await writeFile(path.join(ARTIFACTS, 'server.log'), s.serverLog).catch(() => {});
  if (s.tmp) await rm(s.tmp, { recursive: true, force: true });
  log('done');
});

test('a. a caseworker of council A signs in and sees their work', { timeout: 120_000 }, async () => {
  const A = s.councils[0];
  const context = await newContext();
  const page = await signIn(context, `caseworker@${A}.demo.invalid`, { check: true });
  s.a = { context, page };
  await assert.doesNotReject(page.getByRole('heading', { level: 1, name: 'Your work' }).waitFor(), 'heading "Your work"');
  const drafts = page.getByRole('link', { name: /drafts waiting for a caseworker/ });
  assert.match(await drafts.innerText(), /^\d+ drafts waiting for a caseworker$/);
  assert.equal(await drafts.getAttribute('href'), '/entries?status=draft');
  const cookies = await context.cookies();
  assert.ok(cookies.some((c) => c.name === 'cnis_session'), 'the session cookie is set');
  await checkPage(page, 'home');

  // The create form is a main page too.
  await page.getByRole('link', { name: 'Add a child' }).click();
  await page.waitForURL((u) => u.pathname === '/entries/new');
  await checkPage(page, 'new-entry');
});

test('b. the import page makes drafts from the tracking run; the drafts list has its leavers', { timeout: 120_000 }, async () => {
  const { page, context } = need(s.a, 'council A\'s signed-in page');
  const A = s.councils[0];
  const r = await page.goto('/import');
  assert.equal(r.status(), 200, 'GET /import');
  await page.getByLabel('Tracking run number').fill(String(s.run));
  const posted = await submit(page, 'Make drafts', '/import');
  assert.equal(posted.status(), 200, 'POST /import');
  const banner = page.locator('.govuk-notification-banner--success');
  await banner.waitFor();
  const heading = (await banner.locator('.govuk-notification-banner__heading').innerText()).trim();
  const made = heading.match(/^(\d+) drafts made$/);
  assert.ok(made, `banner heading "${heading}"`);
  const body = await banner.innerText();
  const already = body.match(/(\d+) already on the register/);
  assert.ok(already, `banner says how many were already on the register: ${body}`);
  // The demo imported this run already: nothing new, every draft it made already there.
  assert.equal(Number(made[1]), 0, `the demo imported run ${s.run} already: ${body}`);
  if (s.demoDrafts.has(A)) assert.equal(Number(already[1]), s.demoDrafts.get(A), `already on the register = the demo's drafts for ${A}: ${body}`);
  else assert.ok(Number(already[1]) >= 1, body);
  await checkPage(page, 'import');

  // The drafts list, reached from the dashboard's link.
  await page.goto('/');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/entries' && u.searchParams.get('status') === 'draft'),
    page.getByRole('link', { name: /drafts waiting for a caseworker/ }).click(),
  ]);
  const rows = page.locator('table.govuk-table tbody tr');
  const texts = await rows.allInnerTexts();
  assert.ok(texts.some((t) => t.includes('Leaver found by tracking')), `a draft from the tracking run in the list:\n${texts.join('\n')}`);
  await checkPage(page, 'entries');

  // The same through the API, and a draft to search for.
  const drafts = (await apiEntries(context, 'draft')).filter((e) => e.source === 'tracking_run' && e.status === 'draft');
  assert.ok(drafts.length >= 1, 'at least one draft from the tracking run (API)');
  // A draft the page lists, with plain names to misspell if there is one.
  const listed = drafts.filter((e) =>
    texts.some((t) => t.includes(`${e.content.given_name} ${e.content.family_name}`) && t.includes(e.child_id)),
  );
  assert.ok(listed.length >= 1, `the drafts page lists a draft the API gives:\n${texts.join('\n')}`);
  const plain = (n) => /^[A-Za-z]+$/.test(n);
  s.child =
    listed.find((e) => plain(e.content.given_name) && plain(e.content.family_name) && e.content.family_name.length >= 4) ??
    listed.find((e) => plain(e.content.family_name)) ??
    listed[0];
});

test('c. a misspelt family name finds the child, with why it matched', { timeout: 120_000 }, async () => {
  const { page } = need(s.a, 'council A\'s signed-in page');
  const child = need(s.child, 'a draft to search for');
  const wrong = misspell(child.content.family_name);
  console.log(`searching for ${child.content.given_name} "${wrong}" (really ${child.content.family_name}, Soundex ${soundex(child.content.family_name)}/${soundex(wrong)})`);
  await page.goto('/');
  await page.getByRole('link', { name: 'Find a child' }).click();
  await page.waitForURL((u) => u.pathname === '/search');
  await page.locator('#given_name').fill(child.content.given_name);
  await page.locator('#family_name').fill(wrong);
  const posted = await submit(page, 'Search', '/search');
  assert.equal(posted.status(), 200, 'POST /search');
  await page.getByRole('heading', { level: 2, name: /(child|children) found$/ }).waitFor();
  const row = page.locator('table.govuk-table tbody tr', { has: page.locator(`a[href="/children/${child.child_id}"]`) });
  assert.equal(await row.count(), 1, `the results list ${child.child_id}:\n${await page.locator('main').innerText()}`);
  const tags = (await row.locator('.govuk-tag--blue').allInnerTexts()).map((t) => t.trim());
  console.log(`why it matched: ${tags.join('; ')}`);
  assert.ok(tags.length >= 1, 'at least one "why it matched" tag');
  assert.ok(tags.some((t) => /^Family name (similar|matches)/.test(t)), `a tag about the family name: ${tags}`);
  assert.ok(tags.some((t) => /^Given name (similar|matches)/.test(t)), `a tag about the given name: ${tags}`);
  await checkPage(page, 'search');
});

test('c2. at 375 px wide the search results are not hidden under the search form', { timeout: 60_000 }, async () => {
  const { page } = need(s.a, 'council A\'s signed-in page');
  const child = need(s.child, 'a draft to search for');
  assert.equal(new URL(page.url()).pathname, '/search', 'on the search results');
  await page.setViewportSize(NARROW);
  try {
    const link = page.locator(`table.govuk-table a[href="/children/${child.child_id}"]`);
    // A trial click checks that a tap would reach the link and not something over it.
    const blocked = await link.click({ trial: true, timeout: 5_000 }).then(
      () => null,
      (e) => e.message.replace(/\x1b\[[0-9;]*m/g, ''),
    );
    const cover = blocked?.match(/- (.*intercepts pointer events)/)?.[1];
    assert.equal(blocked, null, `a tap on the result at ${NARROW.width} px does not reach it: ${cover ?? blocked}`);
  } finally {
    await page.setViewportSize(WIDE);
  }
});

test('d. the child opens from the results, with the child id in the identity bar', { timeout: 120_000 }, async () => {
  const { page } = need(s.a, 'council A\'s signed-in page');
  const child = need(s.child, 'a draft to search for');
  const link = page.locator(`table.govuk-table a[href="/children/${child.child_id}"]`);
  assert.equal(await link.count(), 1, 'the search results are still on the page');
  await Promise.all([page.waitForURL((u) => u.pathname === `/children/${child.child_id}`), link.click()]);
  const bar = page.locator('.moj-identity-bar');
  await bar.waitFor();
  const text = await bar.innerText();
  assert.ok(text.includes(child.child_id), `identity bar: ${text}`);
  assert.ok(text.includes(`${child.content.given_name} ${child.content.family_name}`), `identity bar: ${text}`);
  assert.match(text, /Born \d{1,2} \w+ \d{4}/);
  // It came from the tracking run: the timeline says so.
  const created = page.locator('.moj-timeline__item', { has: page.locator('.moj-timeline__title', { hasText: 'Entry created' }) });
  assert.ok((await created.count()) >= 1, 'an "Entry created" item');
  assert.match(await created.first().innerText(), new RegExp(`leaver found by tracking run ${s.run}\\b`));
  await page.getByRole('heading', { name: 'Who viewed this record' }).waitFor();
  await checkPage(page, 'child');
});

test('e. the entry is edited and confirmed, and the timeline shows both', { timeout: 120_000 }, async () => {
  const { page } = need(s.a, 'council A\'s signed-in page');
  const child = need(s.child, 'a draft to search for');
  assert.equal(new URL(page.url()).pathname, `/children/${child.child_id}`, 'on the child\'s page');
  await Promise.all([
    page.waitForURL((u) => u.pathname === `/entries/${child.id}/edit`),
    page.getByRole('link', { name: 'Edit entry' }).click(),
  ]);
  await checkPage(page, 'edit');

  const address = `${10 + Math.floor(Math.random() * 80)} Browser Test Lane`;
  const reason = 'Address corrected after a home visit by the browser test';
  await page.locator('#address').fill(address);
  // Confirming needs a parent: record one if the draft has none.
  if (!(await page.locator('#parent_name').inputValue()).trim()) await page.locator('#parent_name').fill('Alex Example');
  await page.locator('#reason').fill(reason);
  await Promise.all([
    page.waitForURL((u) => u.pathname === `/children/${child.child_id}`),
    page.getByRole('button', { name: 'Save changes' }).click(),
  ]);
  const banner = page.locator('.govuk-notification-banner--success .govuk-notification-banner__heading');
  assert.equal((await banner.innerText()).trim(), 'Register entry changed');
  assert.ok((await page.locator('.govuk-summary-list').first().innerText()).includes(address), 'the new address is shown');
  const changed = page.locator('.moj-timeline__item', { has: page.locator('.moj-timeline__title', { hasText: 'Entry changed' }) });
  assert.ok((await changed.count()) >= 1, 'an "Entry changed" item in the timeline');
  assert.ok((await changed.first().innerText()).includes(reason), `the change's reason: ${await changed.first().innerText()}`);
  await checkPage(page, 'child-changed');

  await Promise.all([
    page.waitForURL((u) => u.pathname === `/children/${child.child_id}`),
    page.getByRole('button', { name: 'Confirm: the child is on the register' }).click(),
  ]);
  await page.locator('.moj-timeline').waitFor();
  const confirmed = page.locator('.moj-timeline__title', { hasText: 'Confirmed on the register' });
  assert.ok((await confirmed.count()) >= 1, `"Confirmed on the register" in the timeline:\n${await page.locator('main').innerText()}`);
  assert.equal(await page.getByRole('button', { name: 'Confirm: the child is on the register' }).count(), 0, 'no confirm button once confirmed');
  await checkPage(page, 'child-confirmed');
});

test("f. council A's caseworker is refused council B's child", { timeout: 120_000 }, async () => {
  const { page, context } = need(s.a, 'council A\'s signed-in page');
  const B = s.councils[1];
  const contextB = await newContext();
  try {
    await signIn(contextB, `caseworker@${B}.demo.invalid`);
    const mine = new Set((await apiEntries(context)).map((e) => e.child_id));
    const theirs = (await apiEntries(contextB)).filter((e) => !mine.has(e.child_id));
    assert.ok(theirs.length >= 1, `council ${B} has a child that council ${s.councils[0]} does not hold`);
    const other = theirs[0];
    const r = await page.goto(`/children/${other.child_id}`);
    assert.equal(r.status(), 403, `GET /children/${other.child_id} as council ${s.councils[0]}`);
    await page.getByRole('heading', { level: 1, name: 'You cannot see this' }).waitFor();
    const html = await page.content();
    const c = other.content;
    for (const [what, v] of [
      ['name', `${c.given_name} ${c.family_name}`],
      ['family name', c.family_name],
      ['postcode', c.postcode],
      ['UPN', c.upn],
    ]) {
      if (v) assert.ok(!html.includes(v), `the refused page shows the other council's child's ${what}`);
    }
    await checkPage(page, 'refused');
  } finally {
    await contextB.close();
  }
});

test('g. a wrong password shows "There is a problem" and stays on the sign-in page', { timeout: 120_000 }, async () => {
  const context = await newContext();
  try {
    const page = await context.newPage();
    await page.goto('/sign-in');
    // Another account than the one the tests work as, so no lockout can touch them.
    await page.locator('#email').fill(`team-manager@${s.councils[0]}.demo.invalid`);
    await page.locator('#password').fill('not-the-password');
    const posted = await submit(page, 'Sign in', '/sign-in');
    assert.equal(posted.status(), 401, 'POST /sign-in with a wrong password');
    const summary = page.locator('.govuk-error-summary');
    await summary.waitFor();
    assert.equal((await summary.locator('.govuk-error-summary__title').innerText()).trim(), 'There is a problem');
    assert.equal(new URL(page.url()).pathname, '/sign-in');
    // Each link in the summary leads to a field on the page.
    for (const href of await summary.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
      assert.match(href, /^#./);
      assert.equal(await page.locator(href).count(), 1, `the error summary's link ${href} has a target`);
    }
    assert.match(await page.title(), /^Error: Sign in/);
    assert.ok(!(await context.cookies()).some((c) => c.name === 'cnis_session'), 'no session cookie');
    await checkPage(page, 'sign-in-error');
  } finally {
    await context.close();
  }
});

/** England's bank holidays, from the table cnis ships. */
async function bankHolidays() {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(path.join(here, '../../crates/cnis-core/data/bank-holidays-england.csv'), 'utf8');
  return new Set(text.trim().split('\n').slice(1).map((l) => l.split(',')[0]));
}

/** `n` weekdays after `from` that are not bank holidays (a council with no term dates loaded). */
function weekdaysAfter(from, n, holidays) {
  const d = new Date(`${from}T12:00:00Z`);
  while (n > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    const iso = d.toISOString().slice(0, 10);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6 && !holidays.has(iso)) n -= 1;
  }
  return d;
}

test('h. a school tells the council of a 20-day absence deletion; a caseworker works and closes the case it opens', { timeout: 180_000 }, async () => {
  const A = s.councils[0];
  const today = new Date().toISOString().slice(0, 10);
  const [y, m, d] = today.split('-');
  const family = `Noticeson${Date.now() % 100000}`;
  const school = await newContext();
  try {
    const page = await signIn(school, `school@${A}.demo.invalid`);
    await page.getByRole('link', { name: 'Tell us about a deletion' }).first().click();
    await page.waitForURL((u) => u.pathname === '/notices/new');
    await checkPage(page, 'notice-form');
    // An empty form names what is missing.
    const empty = await submit(page, 'Send to the council', '/notices/new');
    assert.equal(empty.status(), 422, 'POST /notices/new with nothing filled in');
    await page.locator('.govuk-error-summary').waitFor();
    await checkPage(page, 'notice-form-errors');

    await page.locator('#deletion_date-day').fill(String(Number(d)));
    await page.locator('#deletion_date-month').fill(String(Number(m)));
    await page.locator('#deletion_date-year').fill(y);
    await page.locator('#ground').selectOption('9(1)(i)');
    await page.locator('#given_name').fill('Rowan');
    await page.locator('#family_name').fill(family);
    await page.locator('#dob-day').fill('14');
    await page.locator('#dob-month').fill('3');
    await page.locator('#dob-year').fill(String(Number(y) - 12));
    await page.locator('#parent_name').fill('Alex Parent');
    const posted = await submit(page, 'Send to the council', '/notices/new');
    assert.equal(posted.status(), 303, 'POST /notices/new');
    await page.waitForURL((u) => u.pathname === '/notices');
    const row = page.locator('tr', { hasText: family });
    await row.waitFor();
    assert.match(await row.innerText(), /Missing education case open/i);
    assert.ok(!(await page.content()).includes('/children/'), 'a school is not shown child ids');
    await checkPage(page, 'notices-school');

    // The same school sends two more as a file: one good row, one with no
    // ground; the page names the bad row's line and column.
    await page.getByRole('link', { name: 'send several as a file' }).click();
    await page.waitForURL((u) => u.pathname === '/notices/upload');
    await checkPage(page, 'notice-upload');
    const dob = `14/03/${Number(y) - 11}`;
    const csv = `deletion_date,ground,given_name,family_name,dob\r\n${d}/${m}/${y},9(1)(a),Sam,${family}file,${dob}\r\n${d}/${m}/${y},,Kit,${family}file,${dob}\r\n`;
    await page.locator('#file').setInputFiles({ name: 'deletions.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const sent = await submit(page, 'Send to the council', '/notices/upload');
    assert.equal(sent.status(), 200, 'POST /notices/upload');
    assert.match(await page.locator('#upload-result').innerText(), /1 of 2 notices sent/);
    const notSent = await page.locator('#not-sent').innerText();
    assert.match(notSent, /3\s+ground/, 'line 3 named, with its column');
    await checkPage(page, 'notice-upload-result');
  } finally {
    await school.close();
  }

  const { page } = need(s.a, "council A's signed-in page");
  const r = await page.goto('/cases');
  assert.equal(r.status(), 200, 'GET /cases');
  await checkPage(page, 'cases');
  await page.getByRole('link', { name: new RegExp(family) }).click();
  await page.waitForURL((u) => /^\/cases\/\d+$/.test(u.pathname));
  // The deadline: 5 school days from today; the demo loads no term dates,
  // so weekdays less England's bank holidays, and the page says so.
  const due = weekdaysAfter(today, 5, await bankHolidays());
  const words = due.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  const deadline = await page.locator('#deadline').innerText();
  assert.ok(deadline.startsWith(words), `deadline "${deadline}" is ${words}`);
  assert.match(deadline, /5 school days/);
  assert.match(deadline, /without term dates/);
  await checkPage(page, 'case');

  await submit(page, 'Make me the key worker', new URL(page.url()).pathname + '/key-worker');
  await page.locator('#kind').selectOption('health');
  await page.locator('#outcome').fill('GP has no record of a move');
  const enquiry = await submit(page, 'Record the enquiry', new URL(page.url()).pathname + '/enquiries');
  assert.equal(enquiry.status(), 303, 'POST enquiry');
  await page.locator('#enquiries').getByText('GP has no record of a move').waitFor();
  await page.locator('#kind').selectOption('home_visit');
  await page.locator('#outcome').fill('Family at home; child starting at a new school next week');
  await page.locator('#located').check();
  await submit(page, 'Record the enquiry', new URL(page.url()).pathname + '/enquiries');
  await page.locator('#outcome-close').selectOption('back_in_school');
  await page.locator('#note').fill('Admitted to a school in the next council; CTF received');
  const closed = await submit(page, 'Close the case', new URL(page.url()).pathname + '/close');
  assert.equal(closed.status(), 303, 'POST close');
  await page.getByText('Case closed').first().waitFor();
  const summary = await page.locator('.govuk-summary-list').innerText();
  assert.match(summary, /Closed/);
  assert.match(summary, /Back in school/);
  const history = await page.locator('#history').innerText();
  for (const step of ['opened', 'key_worker', 'enquiry', 'closed']) assert.ok(history.includes(step), `history has ${step}`);
  await checkPage(page, 'case-closed');
});

test("i. council A hands a child over to council B, which sees the child before acknowledging and holds them after", { timeout: 180_000 }, async () => {
  const [A, B] = s.councils;
  const child = need(s.child, 'the child the earlier tests worked on');
  const { page } = need(s.a, "council A's signed-in page");
  let r = await page.goto(`/children/${child.child_id}`);
  assert.equal(r.status(), 200, `GET /children/${child.child_id} as council ${A}`);
  await page.getByText('Hand over to another council').first().click();
  await page.locator('input[name="to_council"]').first().fill(B);
  await page.locator('input[name="reason"][id^="handover-reason"]').first().fill('The family moved; the new address is in the next council');
  const offered = await submit(page, 'Offer the handover', `/children/${child.child_id}/handover`);
  assert.equal(offered.status(), 303, 'POST handover');
  await page.waitForURL((u) => u.pathname === '/cases');
  await checkPage(page, 'cases-offered');
  await page.locator('#outgoing').getByText(child.child_id).waitFor();

  const contextB = await newContext();
  try {
    const pageB = await signIn(contextB, `caseworker@${B}.demo.invalid`);
    // Before acknowledging, B already sees the child.
    r = await pageB.goto(`/children/${child.child_id}`);
    assert.equal(r.status(), 200, `council ${B} sees a child being handed over to it`);
    r = await pageB.goto('/cases');
    const row = pageB.locator('#incoming tr', { hasText: child.child_id });
    await row.waitFor();
    await checkPage(pageB, 'cases-handover');
    const [ack] = await Promise.all([
      pageB.waitForResponse((x) => x.request().method() === 'POST' && /\/handovers\/\d+\/acknowledge$/.test(new URL(x.url()).pathname)),
      row.getByRole('button', { name: /Acknowledge/ }).click(),
    ]);
    assert.equal(ack.status(), 303, 'POST acknowledge');
    await pageB.getByText('Handover acknowledged').first().waitFor();
    // The child is now on B's register, as a draft of B's own.
    const onB = await apiEntries(contextB);
    assert.ok(onB.some((e) => e.child_id === child.child_id && e.status === 'draft'), `the child is on council ${B}'s register`);
  } finally {
    await contextB.close();
  }
  // A's entry left the register: moved away.
  r = await page.goto(`/children/${child.child_id}`);
  assert.equal(r.status(), 200);
  assert.match(await page.content(), /left the register/i);
});

test('j. two entries for one child are merged from the possible duplicates, and the merge is undone exactly', { timeout: 180_000 }, async () => {
  const { context, page } = need(s.a, "council A's signed-in page");
  let r = await page.goto('/entries/new');
  assert.equal(r.status(), 200, 'GET /entries/new');
  const csrf = await page.locator('input[name="csrf"]').first().inputValue();
  const family = `Mergeson${Date.now() % 100000}`;
  const dob = `${new Date().getUTCFullYear() - 10}-06-21`;
  const create = async (given, reason) => {
    const res = await context.request.post('/api/v1/entries', {
      headers: { 'x-csrf-token': csrf },
      data: {
        content: { given_name: given, family_name: family, dob, sex: 'F', address: '12 Quarry Row', postcode: 'ZZ9 4QR' },
        source: 'hand',
        reason,
      },
    });
    assert.equal(res.status(), 201, `POST /api/v1/entries: ${await res.text()}`);
    return (await res.json()).child_id;
  };
  const first = await create('Morgan', 'the school nurse told us');
  const second = await create('Morgen', 'a neighbour rang');
  const before = async (id) => (await (await context.request.get(`/api/v1/children/${id}`)).json()).entries;
  const entriesBefore = [await before(first), await before(second)];

  r = await page.goto('/identity');
  assert.equal(r.status(), 200, 'GET /identity');
  const card = page.locator('.govuk-summary-card', { hasText: family });
  await card.waitFor();
  const why = await card.locator('.cnis-waterfall').innerText();
  for (const f of ['Given name', 'Family name', 'Date of birth']) assert.ok(why.includes(f), `the waterfall shows ${f}`);
  await checkPage(page, 'identity-queue');
  await card.locator('input[name="reason"]').first().fill('One girl: the neighbour misspelt her name');
  const [merged] = await Promise.all([
    page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/identity/merge'),
    card.getByRole('button', { name: 'The same child: merge' }).click(),
  ]);
  assert.equal(merged.status(), 303, 'POST /identity/merge');
  await page.waitForURL((u) => u.pathname.startsWith('/children/'));
  await page.getByText('The two children are merged into this one').first().waitFor();
  const kept = new URL(page.url()).pathname.split('/')[2];
  const absorbed = kept === first ? second : first;
  assert.ok([first, second].includes(kept), 'the child kept is one of the two');
  assert.match(await page.content(), /Merged into another child/);
  await checkPage(page, 'child-merged');
  // Either child's address opens the one record.
  r = await page.goto(`/children/${absorbed}`);
  assert.equal(r.status(), 200);
  assert.match(await page.locator('.govuk-inset-text').innerText(), /merged into this child/);

  await page.locator('input[name="reason"][id^="undo-reason"]').fill('Twins after all: two girls at the same address');
  const [undone] = await Promise.all([
    page.waitForResponse((x) => x.request().method() === 'POST' && /^\/merges\/\d+\/undo$/.test(new URL(x.url()).pathname)),
    page.getByRole('button', { name: 'Undo this merge' }).click(),
  ]);
  assert.equal(undone.status(), 303, 'POST undo');
  await page.getByText('The merge is undone').first().waitFor();
  await checkPage(page, 'child-unmerged');
  // Each child has their own record again, as it was, with the merge and
  // its undoing in the timeline.
  const after = [await before(first), await before(second)];
  for (const [i, id] of [first, second].entries()) {
    const view = await (await context.request.get(`/api/v1/children/${id}`)).json();
    assert.equal(view.child_id, id, `child ${id} is read as itself`);
    assert.equal(view.asked_for, null);
    assert.equal(after[i].length, 1, `child ${id} has one entry`);
    assert.equal(after[i][0].status, entriesBefore[i][0].status, 'the status as before');
    assert.deepEqual(after[i][0].content, entriesBefore[i][0].content, 'the content as before');
  }
  r = await page.goto('/identity');
  assert.equal(await page.locator('.govuk-summary-card', { hasText: family }).count(), 0, 'the pair is not offered again');
});

test('l. a school asks for consent to withdraw a child with a current child protection plan; the council refuses with reasons; the school, the parents and the child\'s page show it', { timeout: 180_000 }, async () => {
  const A = s.councils[0];
  const { context, page } = need(s.a, "council A's signed-in page");
  // The council's records: a child on its register with a child protection plan since last month.
  let r = await page.goto('/entries/new');
  assert.equal(r.status(), 200);
  const csrf = await page.locator('input[name="csrf"]').first().inputValue();
  const family = `Consentson${Date.now() % 100000}`;
  const dob = `${new Date().getUTCFullYear() - 11}-02-14`;
  const made = await context.request.post('/api/v1/entries', {
    headers: { 'x-csrf-token': csrf },
    data: { content: { given_name: 'Harper', family_name: family, dob, postcode: 'ZZ9 5CP' }, source: 'hand', reason: 'known to children\'s services' },
  });
  assert.equal(made.status(), 201, `POST /api/v1/entries: ${await made.text()}`);
  const child = (await made.json()).child_id;
  // The caseworker records the plan from the child's page.
  const start = new Date(Date.now() - 30 * 86400_000);
  r = await page.goto(`/children/${child}`);
  assert.equal(r.status(), 200, 'GET the child');
  await page.getByText('Record social-care involvement').click();
  await page.locator('#care-kind').selectOption('child_protection_plan');
  await page.locator('#care_start-day').fill(String(start.getUTCDate()));
  await page.locator('#care_start-month').fill(String(start.getUTCMonth() + 1));
  await page.locator('#care_start-year').fill(String(start.getUTCFullYear()));
  await checkPage(page, 'child-care-form');
  const care = await submit(page, 'Record the involvement', `/children/${child}/care`);
  assert.equal(care.status(), 303, 'POST the care form');
  await page.getByText('Social-care involvement recorded').first().waitFor();

  const today = new Date().toISOString().slice(0, 10);
  const school = await newContext();
  try {
    const sp = await signIn(school, `school@${A}.demo.invalid`);
    r = await sp.goto('/consent/new');
    assert.equal(r.status(), 200, 'GET /consent/new');
    await checkPage(sp, 'consent-form');
    await sp.locator('#given_name').fill('Harper');
    await sp.locator('#family_name').fill(family);
    await sp.locator('#dob').fill(dob);
    await sp.locator('#proposed_on').fill(today);
    const asked = await submit(sp, 'Ask the council', '/consent/new');
    assert.equal(asked.status(), 303, 'POST /consent/new');
    await sp.waitForURL((u) => u.pathname === '/consent');
    const row = sp.locator('#answers tr', { hasText: family });
    assert.match(await row.innerText(), /Waiting for the council/);
    assert.doesNotMatch(await row.innerText(), /protection|section 47/i, 'the school is not told why the child is a relevant child');
    await checkPage(sp, 'consent-school-waiting');

    const tm = await newContext();
    try {
      const tp = await signIn(tm, `team-manager@${A}.demo.invalid`);
      r = await tp.goto('/consent');
      assert.equal(r.status(), 200, 'GET /consent as a team manager');
      const card = tp.locator('.govuk-summary-card', { hasText: family });
      assert.match(await card.innerText(), /child protection plan/i);
      await checkPage(tp, 'consent-council');
      await card.getByLabel('No, consent is refused').check();
      await card.locator('textarea[name="reasons"]').fill('Harper is subject to a child protection plan; school is where she is seen every day');
      const [decided] = await Promise.all([
        tp.waitForResponse((x) => x.request().method() === 'POST' && /^\/consent\/\d+\/decision$/.test(new URL(x.url()).pathname)),
        card.getByRole('button', { name: 'Record the decision' }).click(),
      ]);
      assert.equal(decided.status(), 303, 'POST decision');
      await tp.getByText('Decision recorded').first().waitFor();
      // The parents' letter waits in the council's messages.
      r = await tp.goto('/messages');
      assert.equal(r.status(), 200, 'GET /messages');
      const letter = tp.locator('#messages tr', { hasText: 'The parents' }).filter({ hasText: 'refused' }).first();
      await letter.waitFor();
      assert.match(await letter.innerText(), /seen every day/);
      await checkPage(tp, 'messages');
      // The team manager (not the caseworker) reads the plan on the child's page.
      r = await tp.goto(`/children/${child}`);
      assert.equal(r.status(), 200, "GET the child's page as a team manager");
      assert.match(await tp.locator('#care-table').innerText(), /Child protection plan\s+\d+ \w+ \d{4}\s+Current/);
      await checkPage(tp, 'child-care-team-manager');
    } finally {
      await tm.close();
    }

    await sp.reload();
    const answered = sp.locator('#answers tr', { hasText: family });
    assert.match(await answered.innerText(), /Consent refused/);
    assert.match(await answered.innerText(), /seen every day/);
    await checkPage(sp, 'consent-school-refused');
  } finally {
    await school.close();
  }
  // The child's page shows the request and the refusal.
  r = await page.goto(`/children/${child}`);
  assert.equal(r.status(), 200);
  const consent = await page.locator('#consent + table').innerText();
  assert.match(consent, /Consent refused/);
  assert.match(consent, /seen every day/);
});

test('k. a caseworker adds an alternative provision provider; with no evidence the checklist shows every standard not met', { timeout: 120_000 }, async () => {
  const { page } = need(s.a, "council A's signed-in page");
  let r = await page.goto('/ap');
  assert.equal(r.status(), 200, 'GET /ap');
  await checkPage(page, 'ap-list');
  const name = `Canal Street Tuition ${Date.now() % 100000}`;
  await page.locator('#name').fill(name);
  await page.locator('#kind').selectOption('sole_trader');
  await page.locator('#address').fill('4 Canal Street');
  await page.locator('#reason').fill('A school said it places pupils there');
  const added = await submit(page, 'Add the provider', '/ap');
  assert.equal(added.status(), 303, 'POST /ap');
  await page.waitForURL((u) => /^\/ap\/\d+$/.test(u.pathname));
  await page.getByText('Provider added').first().waitFor();
  assert.equal(await page.locator('h1').innerText(), name);
  assert.equal(await page.getByText('Not met', { exact: true }).count(), 4, 'four standards, none met');
  await checkPage(page, 'ap-provider');
});

test('m. an administrator adds an account and sees its password once; an auditor reads the audit; an inspector reads a council\'s deletions by school', { timeout: 180_000 }, async () => {
  const A = s.councils[0];
  const admin = await newContext();
  try {
    const page = await signIn(admin, `council-admin@${A}.demo.invalid`);
    await page.getByRole('link', { name: 'Accounts' }).first().click();
    await page.waitForURL((u) => u.pathname === '/accounts');
    await checkPage(page, 'accounts');
    await page.getByRole('link', { name: 'Add an account' }).click();
    await page.waitForURL((u) => u.pathname === '/accounts/new');
    const empty = await submit(page, 'Add the account', '/accounts/new');
    assert.equal(empty.status(), 422, 'an empty form');
    await checkPage(page, 'account-form-errors');
    await page.locator('#name').fill('Robin Newcomer');
    await page.locator('#email').fill(`robin${Date.now() % 100000}@${A}.demo.invalid`);
    await page.getByLabel('Caseworker').check();
    const added = await submit(page, 'Add the account', '/accounts/new');
    assert.equal(added.status(), 200, 'POST /accounts/new');
    assert.match(await page.locator('#new-password').innerText(), /^[A-Za-z0-9]{20}$/);
    await checkPage(page, 'account-added');
  } finally {
    await admin.close();
  }
  const auditor = await newContext();
  try {
    const page = await signIn(auditor, 'auditor@national.demo.invalid');
    await page.getByRole('link', { name: 'Audit' }).first().click();
    await page.waitForURL((u) => u.pathname === '/audit');
    assert.match(await page.locator('#audit').innerText(), /child\.read/);
    await checkPage(page, 'audit');
  } finally {
    await auditor.close();
  }
  const shared = await newContext();
  try {
    const page = await signIn(shared, `shared-caseworker@${A}.demo.invalid`);
    const B = s.councils[1];
    const before = await page.locator('.moj-organisation-switcher__heading').innerText();
    await page.getByRole('link', { name: /Change council/ }).click();
    await page.waitForURL((u) => u.pathname === '/council');
    await checkPage(page, 'council-switcher');
    await page.locator(`#council-${B}`).check();
    await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('button', { name: 'Continue' }).click()]);
    const after = await page.locator('.moj-organisation-switcher__heading').innerText();
    assert.notEqual(after, before, 'the header names the council now acted for');
    const back = await page.goto('/council');
    assert.equal(back.status(), 200, 'GET /council');
    assert.ok(await page.locator(`#council-${B}`).isChecked(), 'acting for the second council now');
  } finally {
    await shared.close();
  }
  const inspector = await newContext();
  try {
    const page = await signIn(inspector, 'inspector@inspectorate.demo.invalid');
    await page.getByRole('link', { name: 'Deletions by school' }).first().click();
    await page.waitForURL((u) => u.pathname === '/scrutiny');
    await page.locator('#council').selectOption(A);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('council') === A), page.getByRole('button', { name: 'Show deletions' }).click()]);
    assert.match(await page.locator('h1').innerText(), /Deletions from roll by school: /);
    assert.ok(!(await page.content()).includes('/children/'), 'an inspector is shown no child');
    await checkPage(page, 'scrutiny-inspector');
  } finally {
    await inspector.close();
  }
});

test('n. a caseworker adds a child through the question pages, changes an answer from "Check your answers" and saves the draft', { timeout: 120_000 }, async () => {
  const { page } = need(s.a, "council A's signed-in page");
  const family = `Questions${Date.now() % 100000}`;
  let r = await page.goto('/entries/new');
  assert.equal(r.status(), 200, 'GET /entries/new');
  await checkPage(page, 'entry-question-child');
  // Enter in a field continues (the first button of the form is "Continue").
  await page.locator('#given_name').fill('Quinn');
  await page.locator('#family_name').fill(family);
  await page.locator('#dob-day').fill('2');
  await page.locator('#dob-month').fill('9');
  await page.locator('#dob-year').fill(String(new Date().getUTCFullYear() - 9));
  const [home] = await Promise.all([
    page.waitForResponse((x) => x.request().method() === 'POST' && new URL(x.url()).pathname === '/entries/new'),
    page.locator('#dob-year').press('Enter'),
  ]);
  assert.equal(home.status(), 200);
  await page.getByRole('heading', { name: 'Where the child lives' }).waitFor();
  await page.locator('#address').fill('3 Orchard Row');
  await page.locator('#postcode').fill('ZZ9 4QP');
  await submit(page, 'Continue', '/entries/new');
  await page.getByRole('heading', { name: "The child's parent" }).waitFor();
  await page.locator('#parent_name').fill('Ari Parent');
  await page.locator('#parent_educates').check();
  await submit(page, 'Continue', '/entries/new');
  await page.getByRole('heading', { name: 'How the council knows of the child' }).waitFor();
  await checkPage(page, 'entry-question-council');
  await page.getByLabel("Parent's notification").check();
  await submit(page, 'Continue', '/entries/new');
  await page.getByRole('heading', { name: /Check your answers/ }).waitFor();
  await checkPage(page, 'entry-check-answers');
  await submit(page, 'Change home address', '/entries/new');
  await page.getByRole('heading', { name: 'Where the child lives' }).waitFor();
  await page.locator('#address').fill('4 Orchard Row');
  await submit(page, 'Continue', '/entries/new');
  const answers = await page.locator('#answers').innerText();
  assert.match(answers, /4 Orchard Row/);
  assert.match(answers, /Ari Parent, who provides the child's education/);
  await page.locator('#reason').fill('parent phoned');
  const saved = await submit(page, 'Add the child as a draft', '/entries/new');
  assert.equal(saved.status(), 303, 'POST /entries/new saves');
  await page.getByText('Register entry created').first().waitFor();
  assert.match(await page.locator('h1').first().innerText(), new RegExp(`Quinn ${family}`));
});

test('every page checked has no serious or critical axe violation', async (t) => {
  assert.ok(s.checked.length > 0, 'no page was checked');
  for (const c of s.checked) {
    await t.test(`axe: ${c.name}`, () => {
      const lines = c.serious.map(
        (v) => `  ${v.id} (${v.impact}): ${v.help}; first node ${v.nodes[0]?.target?.join(' ')}: ${v.nodes[0]?.html ?? ''}`,
      );
      assert.equal(c.serious.length, 0, `${c.name} (${c.url}):\n${lines.join('\n')}`);
    });
  }
});

test('the pages loaded their stylesheet and scripts with no console error', () => {
  assert.deepEqual(s.pageProblems, []);
});

test('the server stops cleanly on SIGTERM', { timeout: 30_000 }, async () => {
  need(s.server, 'the server');
  assert.equal(s.serverExit, null, `the server had already stopped:\n${tail(s.serverLog)}`);
  s.server.kill('SIGTERM');
  const exit = await Promise.race([s.serverExited, deadline(20_000).then(() => null)]);
  assert.ok(exit, 'the server stopped within 20 s of SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGTERM:\n${tail(s.serverLog)}`);
});
