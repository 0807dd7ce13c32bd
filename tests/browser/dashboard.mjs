// tests/browser/dashboard.mjs - drives Debian's chromium (headless, through playwright-core)
// against the dashboard of a running gateway; run by tests/cli/gateway_browser.sh, which
// starts the stack and sets the environment:
//   GW_URL           the gateway (https://127.0.0.1:PORT; the CA is trusted in $HOME/.pki/nssdb)
//   ALICE_TOKEN, BOB_TOKEN   the users' bearer tokens
//   WORKFLOW         a small training workflow (JSON text) that succeeds
//   SHOTS            directory for screenshots (job-page.png)
//   DOCS_SHOT        optional: also save the top of the job page (through its plots) here
// Prints "PASS name" / "FAIL name: why" lines (tests/lib.sh conventions). Every wait is for
// a state the page reaches (the job's final state, an image loaded), with a deadline; no
// fixed sleeps.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const GW = env('GW_URL'), ALICE = env('ALICE_TOKEN'), BOB = env('BOB_TOKEN'), WORKFLOW = env('WORKFLOW');
const SHOTS = env('SHOTS');
const EPOCHS = (JSON.parse(WORKFLOW).params || {}).epochs;
const FINAL_MS = 90000;   // deadline for a job to reach its final state (a loaded machine)
const STEP_MS = 40000;    // deadline for a page to show what it fetched (a loaded 2-core machine)

let failures = 0;
const ok = (n) => console.log(`PASS ${n}`);
const bad = (n, why) => { failures++; console.log(`FAIL ${n}: ${String(why).replace(/\s+/g, ' ').slice(0, 600)}`); };
async function check(name, fn) {
  try {
    const extra = await fn();
    ok(extra ? `${name} (${extra})` : name);
    return true;
  } catch (e) {
    bad(name, e && e.message ? e.message : e);
    return false;
  }
}
function expect(cond, why) { if (!cond) throw new Error(why); }

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

// A tab with its own sessionStorage; records script errors and CSP violations.
async function newTab() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('script error: ' + e.message));
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) page.problems.push('CSP: ' + m.text()); });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

async function signIn(page, token) {
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
}

const text = (page, sel) => page.locator(sel).first().innerText({ timeout: STEP_MS });
const waitText = (page, sel, re, ms = STEP_MS) => page.waitForFunction(([s, r]) => {
  const e = document.querySelector(s);
  return e && !e.closest('[hidden]') && new RegExp(r).test(e.textContent);
}, [sel, re.source], { timeout: ms });

try {
  const alice = await newTab();

  // --- the page over HTTPS with the local CA trusted (no certificate errors ignored)
  let resp;
  const loaded = await check('dashboard loads over HTTPS (local CA trusted by chromium)', async () => {
    resp = await alice.goto(GW + '/', { waitUntil: 'load' });
    expect(resp && resp.status() === 200, `status ${resp && resp.status()}`);
    await alice.locator('#view-signin').waitFor({ state: 'visible', timeout: STEP_MS });
    const sec = await resp.securityDetails();
    return sec ? `${sec.protocol}, issuer ${sec.issuer}` : 'no TLS details';
  });
  if (!loaded) throw new Error('the dashboard did not load; nothing else can be checked');
  await check('page sent with the Content-Security-Policy', async () => {
    const csp = (await resp.allHeaders())['content-security-policy'] || '';
    expect(/default-src 'self'/.test(csp), `header: "${csp}"`);
  });

  // --- sign-in: a bad token is refused with the gateway's message, alice's accepted
  await check('bad token: the token form shows the gateway\'s message', async () => {
    await signIn(alice, 'not-a-token');
    await waitText(alice, '#signin-error', /token refused/);
    expect(await alice.locator('#view-signin').isVisible(), 'left the token form');
    return await text(alice, '#signin-error');
  });
  const signed = await check('alice signs in (GET /v1/whoami shows her name)', async () => {
    await signIn(alice, ALICE);
    await waitText(alice, '#who-name', /^alice$/);
    await alice.locator('#view-jobs').waitFor({ state: 'visible', timeout: STEP_MS });
    const stored = await alice.evaluate(() => sessionStorage.getItem('mlhep.token'));
    expect(stored === ALICE, 'token not kept in sessionStorage');
  });
  if (!signed) throw new Error('cannot sign in');

  // --- a bad workflow: the page shows the gateway's own error text
  await check('bad workflow: the gateway\'s error is shown and nothing is submitted', async () => {
    const bad = '{"name": "broken", "model": {"type": "bdt"}}';
    const r = await fetch(GW + '/v1/jobs', { method: 'POST', body: bad, headers: { Authorization: 'Bearer ' + ALICE } });
    const want = (await r.json()).error;
    expect(r.status === 400 && want, `API answered ${r.status}`);
    await alice.goto(GW + '/#/submit');
    await alice.fill('#workflow', bad);
    await alice.click('#submit-go');
    await waitText(alice, '#submit-error', /nothing was queued/);
    const got = await text(alice, '#submit-error');
    expect(got === want, `page shows "${got}", the API says "${want}"`);
    expect(alice.url().endsWith('#/submit'), 'left the submit page');
    return got;
  });

  // --- submit the training workflow through the page, follow it to its final state
  let jobId = '';
  const submitted = await check('workflow uploaded as a file and submitted opens its job page', async () => {
    await alice.fill('#workflow', '');
    await alice.setInputFiles('#submit-file', { name: 'workflow.json', mimeType: 'application/json', buffer: Buffer.from(WORKFLOW) });
    await alice.waitForFunction((w) => document.querySelector('#workflow').value === w, WORKFLOW, { timeout: STEP_MS });
    await alice.click('#submit-go');
    await alice.waitForURL(/#\/jobs\/[0-9a-f]{32}$/, { timeout: STEP_MS });
    jobId = alice.url().split('/').pop();
    return jobId;
  });
  let succeeded = false;
  if (submitted) {
    succeeded = await check('job page shows the job reach "succeeded"', async () => {
      const t0 = Date.now();
      await waitText(alice, '#job-state', /^(succeeded|failed|cancelled)$/, FINAL_MS);
      const st = await text(alice, '#job-state');
      expect(st === 'succeeded', `final state ${st}: ${await alice.locator('#job-fields').innerText()}`);
      expect(/100%/.test(await text(alice, '#job-pct')), 'progress bar not at 100%');
      return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    });
  }
  if (succeeded) {
    await check('ROC plot displayed (<img> of roc.svg loaded through a blob: URL)', async () => {
      const h = await alice.waitForFunction(() => {
        const i = document.querySelector('#job-plots img[data-artifact="roc.svg"]');
        return i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:') ? i.naturalWidth : 0;
      }, null, { timeout: STEP_MS });
      const plots = await alice.$$eval('#job-plots img', (l) => l.map((i) => i.alt));
      return `naturalWidth ${await h.jsonValue()}; plots: ${plots.join(' ')}`;
    });
    await check('metrics table shows the validation AUC (final and per epoch)', async () => {
      await alice.locator('#metrics-final tr[data-metric="auc"] td').waitFor({ timeout: STEP_MS });
      const fin = Number(await text(alice, '#metrics-final tr[data-metric="auc"] td'));
      expect(fin > 0 && fin <= 1, `final AUC "${fin}"`);
      const per = await alice.$$eval('#metrics-epochs td[data-col="val_auc"]', (l) => l.map((t) => Number(t.textContent)));
      expect(per.length === EPOCHS && per.every((x) => x > 0 && x <= 1), `per-epoch val AUC ${JSON.stringify(per)}`);
      const head = await alice.$$eval('#metrics-epochs th', (l) => l.map((t) => t.textContent));
      expect(head.includes('val AUC'), `columns ${head}`);
      return `final ${fin}, per epoch ${per.join(', ')}`;
    });
    await check('training fields and the log on the job page', async () => {
      const ev = Number(await text(alice, '#job-fields tr[data-field="events"] td'));
      const ep = await text(alice, '#job-fields tr[data-field="epoch"] td');
      expect(ev > 0 && ep === `${EPOCHS} / ${EPOCHS}`, `events ${ev}, epoch ${ep}`);
      await waitText(alice, '#job-log', /artifacts stored/);
      return `events ${ev}, epoch ${ep}`;
    });
    await check('artifact download: metrics.json and the .tar.gz archive', async () => {
      const [d1] = await Promise.all([alice.waitForEvent('download', { timeout: STEP_MS }),
        alice.click('#job-files button[data-file="metrics.json"]')]);
      const m = JSON.parse(fs.readFileSync(await d1.path(), 'utf8'));
      expect(d1.suggestedFilename() === 'metrics.json' && m.format === 'mlhep-metrics', `got ${d1.suggestedFilename()}`);
      const [d2] = await Promise.all([alice.waitForEvent('download', { timeout: STEP_MS }), alice.click('#archive')]);
      const gz = fs.readFileSync(await d2.path());
      expect(/\.tar\.gz$/.test(d2.suggestedFilename()) && gz[0] === 0x1f && gz[1] === 0x8b,
        `archive ${d2.suggestedFilename()}, ${gz.length} bytes`);
      return `${d2.suggestedFilename()} ${gz.length} bytes`;
    });
    await check('screenshot of the job page', async () => {
      fs.mkdirSync(SHOTS, { recursive: true });
      const f = path.join(SHOTS, 'job-page.png');
      await alice.screenshot({ path: f, fullPage: true });
      if (process.env.DOCS_SHOT) {
        const bottom = await alice.$eval('#job-plots', (e) => e.getBoundingClientRect().bottom + window.scrollY);
        await alice.screenshot({ path: process.env.DOCS_SHOT, fullPage: true,
          clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom + 24) } });
      }
      return f;
    });
    await check('tag as model, then the models page lists it', async () => {
      await alice.fill('#tag-name', 'hzz-dash');
      await alice.click('#tag-form button[type=submit]');
      await waitText(alice, '#job-action-msg', /tagged as hzz-dash@1/);
      await alice.goto(GW + '/#/models');
      await alice.locator('#models-table tr[data-model="hzz-dash"]').waitFor({ timeout: STEP_MS });
      await alice.click('#models-table tr[data-model="hzz-dash"] a');
      await alice.locator('#model-versions tr[data-version="1"]').waitFor({ timeout: STEP_MS });
      const feats = await alice.$$eval('#model-features tbody td:first-child', (l) => l.map((t) => t.textContent));
      const want = (JSON.parse(WORKFLOW).params || {}).selected_branches;
      expect(feats.length && (!want || feats.join() === want.join()), `features ${feats}, workflow ${want}`);
      return `${feats.length} features`;
    });
    await check('jobs list shows the job succeeded', async () => {
      await alice.goto(GW + '/#/jobs');
      await waitText(alice, `#jobs-table tr[data-job="${jobId}"] .state`, /^succeeded$/);
    });
  }

  // --- live updates: the list polls, the job page follows the event stream; cancel
  await check('a running job: live progress in the list, cancel on its page', async () => {
    await alice.goto(GW + '/#/submit');
    await alice.fill('#workflow', '{"name": "nap", "model": {"type": "sleep", "seconds": 60}}');
    await alice.click('#submit-go');
    await alice.waitForURL(/#\/jobs\/[0-9a-f]{32}$/, { timeout: STEP_MS });
    const id = alice.url().split('/').pop();
    await alice.goto(GW + '/#/jobs');
    // the 60 s job stays running until cancelled: wait for the list to show it moving
    await alice.waitForFunction((i) => {
      const r = document.querySelector(`#jobs-table tr[data-job="${i}"]`);
      const p = r && r.querySelector('[role=progressbar]');
      return r && /running/.test(r.textContent) && p && Number(p.getAttribute('aria-valuenow')) > 0;
    }, id, { timeout: FINAL_MS });
    await alice.goto(GW + '/#/jobs/' + id);
    await waitText(alice, '#job-log', /sleep job/);
    await alice.locator('#job-cancel').click({ timeout: STEP_MS });
    await waitText(alice, '#job-state', /^(succeeded|failed|cancelled)$/, FINAL_MS);
    const st = await text(alice, '#job-state');
    expect(st === 'cancelled', `final state ${st}`);
    expect(await alice.locator('#job-cancel').isHidden(), 'cancel button still shown');
    return st;
  });

  // --- bob does not see alice's job
  await check('bob\'s token does not see alice\'s job', async () => {
    const bob = await newTab();
    await bob.goto(GW + '/');
    await signIn(bob, BOB);
    await waitText(bob, '#who-name', /^bob$/);
    await bob.locator('#view-jobs[data-loaded]').waitFor({ timeout: STEP_MS });
    expect(!(await bob.$(`tr[data-job="${jobId}"]`)), 'alice\'s job is in bob\'s list');
    await bob.goto(GW + '/#/jobs/' + jobId);
    await waitText(bob, '#job-error', /no job/);
    const msg = await text(bob, '#job-error');
    expect(!(await bob.locator('#job-plots img').count()), 'plots shown to bob');
    await bob.context().close();
    return msg;
  });

  await check('sign out clears the token', async () => {
    await alice.click('#signout');
    await alice.locator('#view-signin').waitFor({ state: 'visible', timeout: STEP_MS });
    expect(await alice.evaluate(() => sessionStorage.getItem('mlhep.token')) === null, 'token still stored');
  });

  await check('no script errors or CSP violations', async () => {
    const csp = await alice.evaluate(() => window.__csp || []);
    const all = alice.problems.concat(csp);
    expect(all.length === 0, all.join('; '));
  });
} catch (e) {
  bad('browser run', e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
