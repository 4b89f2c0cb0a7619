// What the browser suites (viewer.test.mjs, https.test.mjs) share: the test
// runner and its tally, forkcast started and stopped by its PID, Chromium,
// the pixel probe that runs in the pages, and the helpers that read it.
// Each suite keeps its own constants, server configuration and tests; one
// suite runs per node process, so the tally and pageErrors below are that
// suite's.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const BUILD = process.env.BUILD || path.join(ROOT, 'build');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Tests passed and failed so far; test() and runSuite() count them.
export const tally = { passed: 0, failed: 0 };
// Script errors of every page the suite opened ("where: message").
export const pageErrors = [];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (s) => process.stdout.write(s + '\n');
export const f0 = (x) => Number.isFinite(x) ? x.toFixed(0) : '-';
export const f1 = (x) => Number.isFinite(x) ? x.toFixed(1) : '-';

// The p-th percentile of the numbers a (NaN when a is empty).
export function pct(a, p) {
	if (a.length === 0)
		return NaN;
	const s = [...a].sort((x, y) => x - y);
	return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
}

export function assert(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

// Runs one test: fn returns a note (its figures) or throws.  Prints one
// line and counts it in tally.
export async function test(name, fn) {
	const t0 = Date.now();
	try {
		const note = await fn();
		tally.passed++;
		log(`  ok   - ${name}${note ? ': ' + note : ''} (${Date.now() - t0} ms)`);
	} catch (e) {
		tally.failed++;
		log(`  FAIL - ${name}: ${e && e.message ? e.message : e}`);
	}
}

// Runs main() under a hard limit of limitMs, counting an exception
// outside a test (in main or in an event handler) as a failure; then
// closes browser() if there is one, stop() ends the rest of what the suite
// started (it must not throw), the server log
// in dir() is printed if anything failed, dir() is removed, the tally is
// printed as "N passed, N failed" and the process exits 0 only when every
// test passed.  what names the run in the time-out message.
export async function runSuite({ what, limitMs, main, browser, stop, dir }) {
	let finishing = false, deadline = null;
	const finish = async () => {
		if (finishing)
			return;
		finishing = true;
		clearTimeout(deadline);
		if (browser())
			await browser().close().catch(() => {});
		await stop();
		const d = dir();
		if (tally.failed > 0 && d)
			log('server log (last lines):\n' + serverLog(d));
		if (d)
			fs.rmSync(d, { recursive: true, force: true });
		log(`${tally.passed} passed, ${tally.failed} failed`);
		process.exit(tally.failed === 0 && tally.passed > 0 ? 0 : 1);
	};
	deadline = setTimeout(async () => {
		log(`  FAIL - ${what} took longer than ${limitMs / 1000} s`);
		tally.failed++;
		await finish();
	}, limitMs);
	process.on('uncaughtException', async (e) => {
		log(`  FAIL - uncaught: ${e && e.stack ? e.stack : e}`);
		tally.failed++;
		await finish();
	});
	try {
		await main();
	} catch (e) {
		tally.failed++;
		log(`  FAIL - setup: ${e && e.stack ? e.stack : e}`);
	}
	await finish();
}

// --- forkcast -----------------------------------------------------------

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

// GET url from node and parse its JSON; throws unless 2xx within 3 s.
export async function getJSON(url) {
	const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
	assert(r.ok, `${url}: status ${r.status}`);
	return r.json();
}

// A new temp folder named prefix..., for the configuration, log and pid
// file of one run.
export function makeTmp(prefix) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	// Capture runs as nobody and must reach the configuration's folder.
	fs.chmodSync(dir, 0o755);
	return dir;
}

// Writes dir/forkcast.conf: the listen addresses (each "HOST:PORT" or
// "HOST:PORT tls"), 2 workers, the test pattern of pattern ({ width,
// height, fps }), then the lines of more.  Returns its path.
export function writeConf(dir, listen, pattern, more = []) {
	const conf = path.join(dir, 'forkcast.conf');
	fs.writeFileSync(conf, [
		'[server]',
		...listen.map((l) => `listen = ${l}`),
		'workers = 2',
		'shutdown_grace = 1',
		`pid_file = ${dir}/forkcast.pid`,
		'[capture]',
		'source = testpattern',
		`width = ${pattern.width}`,
		`height = ${pattern.height}`,
		`fps = ${pattern.fps}`,
		'idle_stop = 0',
		...more,
		'',
	].join('\n'));
	return conf;
}

// Starts build/forkcast -c conf, its output appended to dir/forkcast.log.
// Returns { child, pid, exited } at once, so that the caller can stop it
// even when it never becomes healthy.
export function spawnForkcast(dir, conf) {
	const logFd = fs.openSync(path.join(dir, 'forkcast.log'), 'a');
	const child = spawn(path.join(BUILD, 'forkcast'), ['-c', conf],
	    { stdio: ['ignore', logFd, logFd] });
	fs.closeSync(logFd);
	const exited = new Promise((r) => child.on('exit', r));
	return { child, pid: child.pid, exited };
}

// Asks healthy() (true when /healthz answers 200; it may throw while
// nothing listens) every 100 ms for about 10 s; throws with the server log
// of dir when the server exits or stays unhealthy ("server did not become
// healthy" + what).
export async function waitHealthy(srv, dir, healthy, what = '') {
	for (let i = 0; i < 100; i++) {
		if (srv.child.exitCode !== null)
			break;
		try {
			if (await healthy())
				return;
		} catch { /* not listening yet */ }
		await sleep(100);
	}
	throw new Error(`server did not become healthy${what}:\n` + serverLog(dir));
}

// The last 30 lines of dir/forkcast.log.
export function serverLog(dir) {
	try {
		return fs.readFileSync(path.join(dir, 'forkcast.log'), 'utf8')
		    .split('\n').slice(-30).join('\n');
	} catch {
		return '(no log)';
	}
}

// SIGTERM to the server srv (from spawnForkcast), SIGKILL if it has not
// exited 15 s later.  Does nothing when it is not running.
export async function stopForkcast(srv) {
	if (!srv || srv.child.exitCode !== null)
		return;
	try { process.kill(srv.pid, 'SIGTERM'); } catch { return; }
	const t = await Promise.race([srv.exited.then(() => true), sleep(15000).then(() => false)]);
	if (!t) {
		try { process.kill(srv.pid, 'SIGKILL'); } catch { /* gone */ }
		await srv.exited;
	}
}

// --- the browser --------------------------------------------------------

// Headless Debian Chromium (never a downloaded one), with extraArgs.
export function launchChromium(extraArgs = []) {
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
		    '--disable-background-networking', '--disable-component-update',
		    '--disable-sync', ...extraArgs],
	});
}

// A browser context of 960x600 with playwright's context options opts
// (which may set another viewport).
export function newContext(browser, opts = {}) {
	return browser.newContext({ viewport: { width: 960, height: 600 }, ...opts });
}

// --- in-page code (runs in the browser) ---------------------------------

// Installs the pixel probe: hash the first <img> (same origin only) on
// every animation frame, and record each change of hash with Date.now()
// in window.__probe.changes.  Every test-pattern frame carries its frame
// number, so every new frame gives a new hash.  __probe.hashOf(src, w, h)
// is the hash function (FNV-1a over the RGBA words of a w x h canvas), for
// code that must hash other pictures the same way.
//
// With opts.every (ms) it samples on a timer instead, into a canvas
// opts.scale times smaller: for many tabs at once.  Headless Chromium runs
// animation frames at 60/s only in the page opened last; in the others
// they came 3 to 11 times a second with 12 tabs on a 2-core machine
// (measured), so an animation-frame probe there counts its own rate, not
// the stream's.  The <img> takes each new part whether or not its page
// paints, and a timer keeps running (about 45 samples/s per tab
// measured), so the timer probe sees every new picture the <img> holds.
// The bars of the test pattern move about 11 px per frame at 640 px wide,
// so a quarter-size copy still differs from frame to frame.
export function probeInstall(opts) {
	if (window.__probe)
		return;
	const every = opts && opts.every, scale = (opts && opts.scale) || 1;
	const P = window.__probe = { changes: [], ticks: [], samples: 0 };
	const c = document.createElement('canvas');
	const cx = c.getContext('2d', { willReadFrequently: true });
	P.hashOf = (src, w, h) => {
		if (c.width !== w) c.width = w;
		if (c.height !== h) c.height = h;
		cx.drawImage(src, 0, 0, w, h);
		const d = new Uint32Array(cx.getImageData(0, 0, w, h).data.buffer);
		let x = 0x811c9dc5;
		for (let i = 0; i < d.length; i++)
			x = Math.imul(x ^ d[i], 16777619);
		return (x >>> 0).toString(16);
	};
	let last = null;
	const tick = () => {
		const now = Date.now();
		if (P.ticks.length < 600)
			P.ticks.push(performance.now());
		const img = document.querySelector('img');
		if (img && img.naturalWidth > 0) {
			const h = P.hashOf(img, Math.ceil(img.naturalWidth / scale),
			    Math.ceil(img.naturalHeight / scale));
			if (h !== last) {
				last = h;
				P.changes.push([now, h]);
			}
		}
		P.samples++;
		if (!every)
			requestAnimationFrame(tick);
	};
	if (every)
		setInterval(tick, every);
	else
		requestAnimationFrame(tick);
}

// The timer probe (probeInstall) for pages that are not the front one.
export const TAB_PROBE = { every: 20, scale: 4 };

// --- helpers on the node side -------------------------------------------

// page.evaluate(fn, arg), or dflt after ms or on an error: a tab whose
// navigation waits for a connection may not answer.
export function evalFor(page, fn, arg, ms, dflt) {
	return Promise.race([page.evaluate(fn, arg).catch(() => dflt), sleep(ms).then(() => dflt)]);
}

// Width of the first <img>'s picture, 0 before one arrived (or before the
// document itself arrived: an evaluate may then wait for it, so it is
// given 1 s).
export function pictureWidth(page) {
	return evalFor(page, () => {
		const img = document.querySelector('img');
		return img ? img.naturalWidth : 0;
	}, undefined, 1000, 0);
}

// Waits up to ms for a picture in page; returns the ms it took.  Polled
// from here: with JavaScript off the page runs no timers, so
// waitForFunction's own polling would never fire again.
export async function waitPicture(page, ms, what) {
	const t0 = Date.now();
	for (;;) {
		if (await pictureWidth(page) > 0)
			return Date.now() - t0;
		assert(Date.now() - t0 < ms, `${what}: no picture after ${ms} ms`);
		await sleep(100);
	}
}

// The live figures of the viewer page, as shown.
export function figures(page) {
	return page.evaluate(() => ({
		src: document.getElementById('src').textContent,
		res: document.getElementById('res').textContent,
		fps: document.getElementById('fps').textContent,
		viewers: document.getElementById('viewers').textContent,
		lat: document.getElementById('lat').textContent,
		state: document.getElementById('state').textContent,
	}));
}

// What is wrong with the figures ui ('' if nothing) for want: { width,
// height, fps } of the pattern, viewers (the server's streams), latency
// (check that one too) and stale (accept "\u2013", no figure, for the
// live figures, and the page's first state).
export function wrongFigures(ui, want) {
	const dash = (x) => want.stale && x === '\u2013';
	const bad = [];
	if (!ui.src.includes('testpattern') && !(want.stale && ui.src === 'forkcast'))
		bad.push(`source "${ui.src}"`);
	if (ui.res !== `${want.width}\u00d7${want.height}` && !dash(ui.res))
		bad.push(`resolution "${ui.res}"`);
	if (!(Math.abs(Number(ui.fps) - want.fps) < 3) && !dash(ui.fps))
		bad.push(`fps "${ui.fps}"`);
	if (ui.viewers !== String(want.viewers) && !dash(ui.viewers))
		bad.push(`viewers "${ui.viewers}"`);
	if (want.latency && !/\d+ m?s/.test(ui.lat) && !dash(ui.lat))
		bad.push(`latency "${ui.lat}"`);
	if (ui.state !== 'running' && !(want.stale && ui.state === 'live'))
		bad.push(`state "${ui.state}"`);
	return bad.join(', ');
}

// The probe's changes in page: [Date.now(), hash] each.
export function changes(page) {
	return page.evaluate(() => window.__probe.changes);
}

// Changes inside [from, to): count, distinct hashes, rate per second.
export function rateIn(ch, from, to) {
	const inside = ch.filter(([t]) => t >= from && t < to);
	const distinct = new Set(inside.map(([, h]) => h)).size;
	return { n: inside.length, distinct, rate: distinct / ((to - from) / 1000) };
}

// --- many tabs in one context -------------------------------------------

// Opens n tabs of url in ctx, 300 ms apart; page errors are recorded as
// "what tab N".  Navigations are not awaited: over HTTP/1.1 a tab whose
// host has six streams open waits for its page.
export async function openTabs(ctx, url, n, what) {
	const tabs = [];
	for (let i = 0; i < n; i++) {
		const page = await ctx.newPage();
		page.on('pageerror', (e) => pageErrors.push(`${what} tab ${i + 1}: ${e.message}`));
		page.goto(url, { waitUntil: 'commit', timeout: 10000 }).catch(() => {});
		tabs.push(page);
		await sleep(300);
	}
	return tabs;
}

// Waits up to ms for a picture width pixels wide in every tab; per tab
// the ms it took, or null.
export async function tabPictures(tabs, ms, width) {
	const at = new Array(tabs.length).fill(null), t0 = Date.now();
	while (Date.now() - t0 < ms && at.includes(null)) {
		for (const [i, p] of tabs.entries())
			if (at[i] === null && await pictureWidth(p) === width)
				at[i] = Date.now() - t0;
		await sleep(100);
	}
	return at;
}

// openTabs, then tabPictures: throws unless every tab shows a picture
// width pixels wide within ms.  Returns { tabs, loadedAt }.
export async function openPlayingTabs(ctx, url, n, what, ms, width) {
	const tabs = await openTabs(ctx, url, n, what);
	const loadedAt = await tabPictures(tabs, ms, width);
	const missing = loadedAt.flatMap((t, i) => t === null ? [i + 1] : []);
	assert(missing.length === 0, `${n - missing.length} of ${n} tabs show a picture after ${ms / 1000} s; ` +
	    `no picture in tab ${missing.join(', ')}`);
	return { tabs, loadedAt };
}

// Distinct pictures per second in each tab over ms, all tabs at once,
// measured with the timer probe.
export async function tabRates(tabs, ms) {
	await Promise.all(tabs.map((p) => evalFor(p, probeInstall, TAB_PROBE, 1000, null)));
	await sleep(300);
	const from = Date.now();
	await sleep(ms);
	const to = Date.now();
	const all = await Promise.all(tabs.map((p) => evalFor(p,
	    () => window.__probe ? window.__probe.changes : [], undefined, 2000, [])));
	return all.map((ch) => rateIn(ch, from, to));
}

export const perTab = (rates) => rates.map((r, i) => `tab ${i + 1} ${f1(r.rate)}/s`).join(', ');
