// forkcast in a real browser: Debian's Chromium, headless, driven by
// playwright-core.  Starts build/forkcast on a free loopback port (test
// pattern 640x360 at 15 fps, 2 workers), opens the viewer page in several
// browser contexts at once, measures what the pages actually display, kills
// a worker, opens six tabs in one context (one browser's pool of six
// connections per host), and stops the server by its PID at the end.  Prints one line per
// test, figures as plain numbers (never asserted tightly), and closes with
// "N passed, N failed".  Exit 0 only when every test passed.
//
// How "the picture moves" is measured: a probe injected into the page
// (probeInstall in lib.mjs, shared with https.test.mjs) draws the <img>
// into a same-origin canvas at its natural size on every animation frame
// (requestAnimationFrame, 60 Hz) and hashes all its pixels (FNV-1a over
// the RGBA words).  Every test-pattern frame carries its frame number, so
// every new frame gives a new hash; a change is recorded with Date.now().
// The six tabs sample on a 20 ms timer instead, into a quarter-size
// canvas: headless Chromium runs animation frames at full speed only in
// the tab opened last.
//
// How latency is measured (capture -> visible in the page): the same page
// also reads /stream?framing=full with fetch() and a streaming reader, cuts
// the parts, decodes each JPEG with createImageBitmap and hashes it exactly
// as the probe hashes the <img> (same canvas size, same function), so each
// hash maps to that frame's X-Timestamp (the capture time, CLOCK_REALTIME).
// When the <img> shows a hash, latency = Date.now() at that animation frame
// minus the frame's X-Timestamp.  Browser and server run on this machine, so
// both clocks are the same clock.  Error bound: the change is seen at the
// first animation frame after the picture changed, so the figure is late by
// 0..1 animation-frame interval (printed, about 17 ms), plus Date.now()'s
// 1 ms resolution; it includes decode time (drawImage decodes) but not the
// compositor's last step to the screen (at most one more frame).  The extra
// fetch stream is one more client per page, a small load on the server.
// Hashes the reader did not see (it started later, or skipped a frame) are
// counted as unmatched and left out.

import fs from 'node:fs';
import path from 'node:path';
import {
	ROOT, BUILD, CHROMIUM, pageErrors, sleep, log, f0, f1, pct, assert, test, runSuite,
	freePort, getJSON, makeTmp, writeConf, spawnForkcast, waitHealthy, stopForkcast,
	launchChromium, newContext as contextOf, probeInstall, waitPicture, figures,
	wrongFigures as wrongFor, changes, rateIn, openPlayingTabs, tabRates, perTab,
} from './lib.mjs';

const ARTIFACTS = path.join(BUILD, 'test-artifacts');
const FPS = 15;
const WIDTH = 640, HEIGHT = 360;
const PAGES = 4;
const MIN_RATE = 5;		// distinct pictures per second, loose bound for 15 fps
const RECOVER_MS = 3000;	// a page must play again this soon after a worker dies
const TABS = 6;			// Chromium's connections per host (HTTP/1.1)
const BACK_MS = 8000;		// figures return this soon after a tab frees a socket
const TOTAL_MS = 150000;	// whole run, hard limit (about 55 s when all pass)
const PATTERN = { width: WIDTH, height: HEIGHT, fps: FPS };

let server = null, browser = null, tmp = null;

// --- the server ---------------------------------------------------------

// Starts forkcast on a free port, or on reusePort (a restart).
async function startServer(reusePort) {
	if (!tmp)
		tmp = makeTmp('forkcast-browser-');
	const port = reusePort || await freePort();
	const base = `http://127.0.0.1:${port}`;
	const conf = writeConf(tmp, [`127.0.0.1:${port}`], PATTERN);
	server = { ...spawnForkcast(tmp, conf), port, base };
	await waitHealthy(server, tmp, async () =>
	    (await fetch(base + '/healthz', { signal: AbortSignal.timeout(1000) })).status === 200);
	return server;
}

const stopServer = () => stopForkcast(server);

// Parent PID of pid, to kill only workers of the server this run started.
function ppidOf(pid) {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

// --- in-page code (runs in the browser; the probe is lib.mjs's) ----------

// Reads /stream?framing=full for ms milliseconds next to the <img>, maps
// each part's pixel hash to its X-Timestamp, then matches the <img>'s
// changes in that window (see the method at the top of this file).
async function probeLatency(ms) {
	const P = window.__probe;
	const parts = new Map();
	const pending = [];
	const ac = new AbortController();
	const res = await fetch('/stream?framing=full&t=' + Date.now(),
	    { signal: ac.signal, cache: 'no-store' });
	const reader = res.body.getReader();
	const start = Date.now(), end = start + ms;
	let buf = new Uint8Array(0);
	const headerEnd = (b) => {
		for (let i = 0; i + 3 < b.length && i < 1024; i++)
			if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10)
				return i;
		return -1;
	};
	let stop = false;
	const timer = setTimeout(() => { stop = true; ac.abort(); }, ms);
	try {
		while (!stop) {
			const { value, done } = await reader.read();
			if (done)
				break;
			const nb = new Uint8Array(buf.length + value.length);
			nb.set(buf);
			nb.set(value, buf.length);
			buf = nb;
			for (;;) {
				const he = headerEnd(buf);
				if (he < 0)
					break;
				const head = new TextDecoder('latin1').decode(buf.subarray(0, he));
				const len = Number((/content-length:\s*(\d+)/i.exec(head) || [])[1]);
				const ts = Number((/x-timestamp:\s*([\d.]+)/i.exec(head) || [])[1]) * 1000;
				if (!(len > 0))
					throw new Error('part without Content-Length: ' + head);
				if (buf.length < he + 4 + len)
					break;
				const arrival = Date.now();
				const jpeg = buf.slice(he + 4, he + 4 + len);
				buf = buf.slice(he + 4 + len);
				pending.push(createImageBitmap(new Blob([jpeg], { type: 'image/jpeg' }))
				    .then((bm) => {
					parts.set(P.hashOf(bm, bm.width, bm.height), { ts, arrival });
					bm.close();
				}));
			}
		}
	} catch (e) {
		if (!stop)
			throw e;
	} finally {
		clearTimeout(timer);
		ac.abort();
	}
	await Promise.allSettled(pending);
	const lat = [], sinceReader = [];
	let seen = 0, unmatched = 0;
	for (const [t, h] of P.changes) {
		if (t < start || t > end)
			continue;
		seen++;
		const p = parts.get(h);
		if (!p) {
			unmatched++;
			continue;
		}
		lat.push(t - p.ts);
		sinceReader.push(t - p.arrival);
	}
	const ticks = P.ticks.slice(-120), dt = [];
	for (let i = 1; i < ticks.length; i++)
		dt.push(ticks[i] - ticks[i - 1]);
	dt.sort((a, b) => a - b);
	return { lat, sinceReader, seen, unmatched, parts: parts.size,
	    rafMs: dt.length ? dt[dt.length >> 1] : NaN };
}

// Counts how many distinct colours a PNG (as base64) has, decoded by the
// browser itself; data: images do not taint a canvas.
async function pngColours(b64) {
	const im = new Image();
	im.src = 'data:image/png;base64,' + b64;
	await im.decode();
	const c = document.createElement('canvas');
	c.width = im.naturalWidth;
	c.height = im.naturalHeight;
	const cx = c.getContext('2d');
	cx.drawImage(im, 0, 0);
	const d = new Uint32Array(cx.getImageData(0, 0, c.width, c.height).data.buffer);
	const set = new Set();
	for (let i = 0; i < d.length && set.size < 100000; i += 7)
		set.add(d[i]);
	return { w: c.width, h: c.height, colours: set.size };
}

// --- helpers on the node side -------------------------------------------

function newContext(opts = {}) {
	return contextOf(browser, {
		viewport: opts.viewport || { width: 960, height: 600 },
		javaScriptEnabled: opts.javaScriptEnabled !== false,
		acceptDownloads: true,
	});
}

async function openViewer(urlPath = '/', opts = {}) {
	const ctx = await newContext(opts);
	const page = await ctx.newPage();
	page.on('pageerror', (e) => pageErrors.push(`${urlPath}: ${e.message}`));
	// A multipart document or image never finishes loading: do not wait
	// for "load".
	await page.goto(server.base + urlPath, { waitUntil: 'commit', timeout: 10000 });
	await waitPicture(page, 10000, `${urlPath}: the page`);
	return { ctx, page };
}

// What is wrong with figures ui for a server with n streams ('' if
// nothing); with stale allowed, "\u2013" (no figure) is accepted for
// the live figures.
const wrongFigures = (ui, n, stale) => wrongFor(ui, { ...PATTERN, viewers: n, stale, latency: true });

// The first change at or after t that is followed by two more within a
// second: the picture is playing again, not a frame left in a buffer.
function playingAgainAt(ch, t) {
	const after = ch.filter(([c]) => c >= t).map(([c]) => c);
	for (let i = 0; i + 2 < after.length; i++)
		if (after[i + 2] - after[i] <= 1000)
			return after[i];
	return null;
}

function pngSize(file) {
	const b = fs.readFileSync(file);
	const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
	assert(b.length > 33 && sig.every((v, i) => b[i] === v), `${file}: not a PNG`);
	assert(b.toString('latin1', 12, 16) === 'IHDR', `${file}: no IHDR first`);
	return { w: b.readUInt32BE(16), h: b.readUInt32BE(20), bytes: b.length, b64: b.toString('base64') };
}

// --- the tests ------------------------------------------------------------

async function main() {
	await startServer();
	log(`server ${server.base} (pid ${server.pid}), testpattern ${WIDTH}x${HEIGHT} at ${FPS} fps, 2 workers`);
	browser = await launchChromium();
	log(`browser: Chromium ${browser.version()} (${CHROMIUM})`);

	// Four viewers at once, each in its own context (own cookies, cache,
	// connections), as four people would be.
	let viewers = [];
	let tabCtx = null, tabsPlay = false;
	const tabs = [];
	await test(`${PAGES} pages open / at once and each shows >= ${MIN_RATE} new pictures/s`, async () => {
		viewers = await Promise.all(Array.from({ length: PAGES }, () => openViewer('/')));
		await Promise.all(viewers.map((v) => v.page.evaluate(probeInstall)));
		await sleep(300);
		const from = Date.now();
		const s0 = await getJSON(server.base + '/status');
		await sleep(5000);
		const to = Date.now();
		const s1 = await getJSON(server.base + '/status');
		const published = (s1.capture.frames - s0.capture.frames) / ((to - from) / 1000);
		const rates = [];
		for (const v of viewers)
			rates.push(rateIn(await changes(v.page), from, to));
		const note = rates.map((r, i) => `page ${i + 1} ${f1(r.rate)}/s`).join(', ');
		for (const [i, r] of rates.entries())
			assert(r.rate >= MIN_RATE, `page ${i + 1}: ${f1(r.rate)} distinct pictures/s < ${MIN_RATE} (${note})`);
		return note + ` (server published ${f1(published)}/s)`;
	});

	await test('the frame number advances: no page shows a picture twice; /status counts 4 streams', async () => {
		assert(viewers.length === PAGES, 'no pages');
		for (const [i, v] of viewers.entries()) {
			const ch = await changes(v.page);
			const distinct = new Set(ch.map(([, h]) => h)).size;
			assert(ch.length >= 20, `page ${i + 1}: only ${ch.length} changes`);
			assert(distinct === ch.length,
			    `page ${i + 1}: ${ch.length - distinct} of ${ch.length} pictures came back (frames out of order?)`);
		}
		const st = await getJSON(server.base + '/status');
		assert(st.clients === PAGES, `/status clients ${st.clients}, want ${PAGES}`);
		return `/status clients ${st.clients}, per worker ${st.workers.map((w) => w.clients).join('+')}`;
	});

	await test('each page shows source, resolution, fps and viewer count from the shared status poll', async () => {
		for (const [i, v] of viewers.entries()) {
			await v.page.waitForFunction((n) =>
			    document.getElementById('viewers').textContent === String(n),
			    PAGES, { timeout: 4000 }).catch(() => {});
			const ui = await figures(v.page);
			const bad = wrongFigures(ui, PAGES, false);
			assert(bad === '', `page ${i + 1}: ${bad}`);
			if (i === 0)
				v.note = `"${ui.src}" ${ui.res} ${ui.fps} fps, ${ui.viewers} viewers, latency ${ui.lat}`;
		}
		// The figures came from short requests, not from an event stream.
		const st = await getJSON(server.base + '/status');
		assert(st.events === 0, `/status counts ${st.events} event streams`);
		const polls = await Promise.all(viewers.map((v) => v.page.evaluate(() => window.forkcast.polls)));
		assert(polls.every((n) => n > 0), `polls per page ${polls.join(', ')}: a page in its own context polls itself`);
		return `${viewers[0].note}; /status events ${st.events}, polls per page ${polls.join(', ')}`;
	});

	await test(`latency with ${PAGES} pages (figures)`, async () => {
		const rs = await Promise.all(viewers.map((v) => v.page.evaluate(probeLatency, 4000)));
		const all = rs.flatMap((r) => r.lat), since = rs.flatMap((r) => r.sinceReader);
		for (const [i, r] of rs.entries())
			assert(r.lat.length >= 10, `page ${i + 1}: only ${r.lat.length} of ${r.seen} pictures matched a frame`);
		const um = rs.reduce((a, r) => a + r.unmatched, 0), seen = rs.reduce((a, r) => a + r.seen, 0);
		return `capture->visible p50 ${f0(pct(all, 50))} ms, p95 ${f0(pct(all, 95))} ms ` +
		    `(n=${all.length}, unmatched ${um}/${seen}; vs the parallel reader's arrival p50 ${f0(pct(since, 50))} ms; ` +
		    `animation frame ${f1(rs[0].rafMs)} ms)`;
	});

	await test(`killing a worker: every page plays again within ${RECOVER_MS} ms`, async () => {
		assert(viewers.length === PAGES, 'no pages');
		const st = await getJSON(server.base + '/status');
		const victim = st.workers.filter((w) => w.clients > 0)
		    .sort((a, b) => b.clients - a.clients)[0];
		assert(victim, 'no worker has clients');
		assert(ppidOf(victim.pid) === server.pid, `worker ${victim.pid} is not our server's child`);
		const before = await Promise.all(viewers.map((v) => v.page.evaluate(() => window.forkcast.reconnects)));
		const tKill = Date.now();
		process.kill(victim.pid, 'SIGKILL');
		await sleep(RECOVER_MS + 1500);
		const out = [];
		for (const [i, v] of viewers.entries()) {
			const ch = await changes(v.page);
			const again = playingAgainAt(ch, tKill);
			const info = await v.page.evaluate(() => ({
				reconnects: window.forkcast.reconnects,
				states: window.forkcast.history.map(([, s]) => s),
			}));
			out.push({ i, ms: again === null ? null : again - tKill,
			    reconnected: info.reconnects > before[i],
			    sawReconnecting: info.states.includes('reconnecting') });
		}
		const note = out.map((o) => `page ${o.i + 1} ${o.ms === null ? 'never' : o.ms + ' ms'}` +
		    (o.reconnected ? ' (reattached' + (o.sawReconnecting ? ', showed "reconnecting")' : ')') : '')).join(', ');
		for (const o of out)
			assert(o.ms !== null && o.ms <= RECOVER_MS, `page ${o.i + 1} did not play again in time: ${note}`);
		assert(out.some((o) => o.reconnected), `no page had to reattach (worker ${victim.pid} had ${victim.clients} clients): ${note}`);
		for (const o of out)
			assert(!o.reconnected || o.sawReconnecting, `page ${o.i + 1} reattached without showing "reconnecting": ${note}`);
		return `killed worker ${victim.pid} (${victim.clients} streams): ${note}`;
	});
	await Promise.all(viewers.map((v) => v.ctx.close()));

	// Browsers open at most 6 HTTP/1.1 connections per host, shared by
	// every tab of a profile: one context here, as one person's browser.
	// A page that held 2 connections (the stream and an EventSource)
	// played in 3 tabs only; the 4th never loaded.
	await test(`${TABS} tabs of / in one browser context all play >= ${MIN_RATE} new pictures/s, no event streams`, async () => {
		tabCtx = await newContext();
		// Navigations not awaited: in a full socket pool the document
		// itself waits; every tab gets the same 10 s below.
		tabs.push(...(await openPlayingTabs(tabCtx, server.base + '/', TABS, 'http', 10000, WIDTH)).tabs);
		// The timer probe: only the tab opened last gets animation
		// frames at full speed (see probeInstall in lib.mjs).
		const rates = await tabRates(tabs, 5000);
		const note = perTab(rates);
		for (const [i, r] of rates.entries())
			assert(r.rate >= MIN_RATE, `tab ${i + 1}: ${f1(r.rate)} distinct pictures/s < ${MIN_RATE} (${note})`);
		let st = null;
		for (let i = 0; i < 30; i++) {
			st = await getJSON(server.base + '/status');
			if (st.clients === TABS && st.events === 0)
				break;
			await sleep(200);
		}
		assert(st.clients === TABS, `/status counts ${st.clients} streams, want ${TABS}`);
		assert(st.events === 0, `/status counts ${st.events} event streams, want 0`);
		tabsPlay = true;
		return `${note}; /status ${st.clients} streams, ${st.events} event streams`;
	});

	await test(`the figures in ${TABS} tabs are never wrong, and come back within ${BACK_MS} ms when a tab closes`, async () => {
		// (A tab whose document never came would stall page.evaluate.)
		assert(tabsPlay, `the ${TABS} tabs did not all play`);
		// Every socket is held by a stream: the poll waits in the
		// browser's queue, so the figures may be stale ("-"), never
		// wrong, and the picture keeps playing without a reattach.
		const uis = await Promise.all(tabs.map(figures));
		for (const [i, ui] of uis.entries()) {
			const bad = wrongFigures(ui, TABS, true);
			assert(bad === '', `tab ${i + 1} with ${TABS} streams: ${bad}`);
		}
		const staleTabs = uis.filter((ui) => ui.viewers === '\u2013').length;
		const fc = await Promise.all(tabs.map((p) => p.evaluate(() => ({
			leader: window.forkcast.leader, reconnects: window.forkcast.reconnects,
		}))));
		for (const [i, f] of fc.entries())
			assert(f.reconnects === 0, `tab ${i + 1} reattached its stream ${f.reconnects} times`);
		// Close the tab that polls (the others must take over), or the
		// first one.
		let gone = fc.findIndex((f) => f.leader);
		const closedLeader = gone >= 0;
		if (gone < 0)
			gone = 0;
		await tabs[gone].close();
		const rest = tabs.filter((_, i) => i !== gone);
		const tClose = Date.now();
		const backAt = new Array(rest.length).fill(null);
		let last = [];
		while (Date.now() - tClose < BACK_MS && backAt.includes(null)) {
			last = await Promise.all(rest.map(figures));
			for (const [i, ui] of last.entries())
				if (backAt[i] === null && wrongFigures(ui, TABS - 1, false) === '')
					backAt[i] = Date.now() - tClose;
			await sleep(100);
		}
		for (const [i, t] of backAt.entries())
			assert(t !== null, `a remaining tab has no figures ${BACK_MS} ms after a tab closed: ${wrongFigures(last[i], TABS - 1, false)}`);
		// Roughly one tab polls for all: count the requests of 4 s.
		const p0 = await Promise.all(rest.map((p) => p.evaluate(() => window.forkcast.polls)));
		await sleep(4000);
		const p1 = await Promise.all(rest.map((p) => p.evaluate(() => window.forkcast.polls)));
		const polls = p1.map((n, i) => n - p0[i]);
		const total = polls.reduce((a, n) => a + n, 0);
		assert(total <= 8, `${total} status requests in 4 s from ${rest.length} tabs (${polls.join(', ')})`);
		const again = await Promise.all(rest.map((p) => p.evaluate(() => window.forkcast.reconnects)));
		assert(again.every((n) => n === 0), `reattaches after the close: ${again.join(', ')}`);
		return `with ${TABS} streams ${staleTabs} of ${TABS} tabs showed stale figures, none wrong; ` +
		    `closed tab ${gone + 1}${closedLeader ? ' (the polling one)' : ''}: figures back in ` +
		    `${backAt.join(', ')} ms; status requests in 4 s per tab ${polls.join(', ')}`;
	});
	if (tabCtx)
		await tabCtx.close();

	await test('without BroadcastChannel every tab of a context polls for itself', async () => {
		const ctx = await newContext();
		try {
			await ctx.addInitScript(() => { delete window.BroadcastChannel; });
			const pages = [];
			for (let i = 0; i < 2; i++) {
				const page = await ctx.newPage();
				page.on('pageerror', (e) => pageErrors.push(`no channel, tab ${i + 1}: ${e.message}`));
				await page.goto(server.base + '/', { waitUntil: 'commit', timeout: 10000 });
				pages.push(page);
			}
			for (const p of pages)
				await p.waitForFunction(() => document.getElementById('viewers').textContent === '2',
				    null, { timeout: 5000 });
			const p0 = await Promise.all(pages.map((p) => p.evaluate(() => window.forkcast.polls)));
			await sleep(3000);
			const fc = await Promise.all(pages.map((p) => p.evaluate(() => ({
				shared: window.forkcast.shared, polls: window.forkcast.polls,
			}))));
			const polls = fc.map((f, i) => f.polls - p0[i]);
			assert(fc.every((f) => f.shared === false), 'a page still found a BroadcastChannel');
			assert(polls.every((n) => n >= 2), `status requests in 3 s per tab ${polls.join(', ')}`);
			for (const [i, p] of pages.entries()) {
				const bad = wrongFigures(await figures(p), 2, false);
				assert(bad === '', `tab ${i + 1}: ${bad}`);
			}
			return `status requests in 3 s per tab ${polls.join(', ')}`;
		} finally {
			await ctx.close();
		}
	});

	for (const framing of ['advance', 'full']) {
		await test(`latency with 1 page, /?framing=${framing} (figures)`, async () => {
			const v = await openViewer(`/?framing=${framing}`);
			try {
				const stream = await v.page.evaluate(() => window.forkcast.stream);
				assert(stream === `/stream?framing=${framing}`, `the page streams "${stream}"`);
				await v.page.evaluate(probeInstall);
				await sleep(300);
				const r = await v.page.evaluate(probeLatency, 4000);
				assert(r.lat.length >= 10, `only ${r.lat.length} of ${r.seen} pictures matched a frame`);
				return `capture->visible p50 ${f0(pct(r.lat, 50))} ms, p95 ${f0(pct(r.lat, 95))} ms ` +
				    `(n=${r.lat.length}, unmatched ${r.unmatched}/${r.seen}; vs reader arrival p50 ${f0(pct(r.sinceReader, 50))} ms)`;
			} finally {
				await v.ctx.close();
			}
		});
	}

	await test('/video_feed opened directly (bare multipart image document) plays', async () => {
		const v = await openViewer('/video_feed');
		try {
			await v.page.evaluate(probeInstall);
			const shot1 = await v.page.screenshot();
			const from = Date.now() + 200;
			await sleep(2200);
			const shot2 = await v.page.screenshot();
			const r = rateIn(await changes(v.page), from, from + 2000);
			assert(!shot1.equals(shot2), 'two screenshots 2 s apart are identical');
			assert(r.rate >= MIN_RATE, `${f1(r.rate)} new pictures/s < ${MIN_RATE}`);
			return `${f1(r.rate)} new pictures/s, screenshots differ`;
		} finally {
			await v.ctx.close();
		}
	});

	await test('without JavaScript the <img> alone plays', async () => {
		const v = await openViewer('/', { javaScriptEnabled: false });
		try {
			const el = v.page.locator('#video');
			const a = await el.screenshot();
			let b = a, tries = 0;
			for (; tries < 10 && b.equals(a); tries++) {
				await sleep(300);
				b = await el.screenshot();
			}
			assert(!b.equals(a), 'the picture did not change in 3 s');
			const st = await v.page.evaluate(() => typeof window.forkcast);
			assert(st === 'undefined', 'the page script ran although JavaScript is off');
			return `picture changed after ${tries * 300} ms`;
		} finally {
			await v.ctx.close();
		}
	});

	await test('the Snapshot button downloads a JPEG', async () => {
		const v = await openViewer('/');
		try {
			const [dl] = await Promise.all([
				v.page.waitForEvent('download', { timeout: 5000 }),
				v.page.click('#snap'),
			]);
			const file = path.join(tmp, 'snapshot.jpg');
			await dl.saveAs(file);
			const b = fs.readFileSync(file);
			assert(/^snapshot-.*\.jpg$/.test(dl.suggestedFilename()), `file name "${dl.suggestedFilename()}"`);
			assert(b.length > 1000 && b[0] === 0xff && b[1] === 0xd8 &&
			    b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9, `not a whole JPEG (${b.length} bytes)`);
			return `${dl.suggestedFilename()}, ${b.length} bytes`;
		} finally {
			await v.ctx.close();
		}
	});

	await test('screenshot of the viewer is a non-blank PNG of the viewport size', async () => {
		const W = 1280, H = 720;
		const v = await openViewer('/', { viewport: { width: W, height: H } });
		try {
			await v.page.waitForFunction(() => window.forkcast && window.forkcast.status &&
			    window.forkcast.hashChanges > 2, null, { timeout: 5000 });
			fs.mkdirSync(ARTIFACTS, { recursive: true });
			const file = path.join(ARTIFACTS, 'viewer.png');
			await v.page.screenshot({ path: file });
			const png = pngSize(file);
			assert(png.w === W && png.h === H, `PNG is ${png.w}x${png.h}, want ${W}x${H}`);
			const px = await v.page.evaluate(pngColours, png.b64);
			assert(px.w === W && px.h === H, `decoded PNG is ${px.w}x${px.h}`);
			assert(px.colours >= 16, `only ${px.colours} colours: blank picture`);
			return `${path.relative(ROOT, file)} ${png.w}x${png.h}, ${png.bytes} bytes, >= ${px.colours} colours`;
		} finally {
			await v.ctx.close();
		}
	});

	await test('server stopped and started again: the page shows "reconnecting", then plays by itself', async () => {
		const v = await openViewer('/');
		try {
			await v.page.evaluate(probeInstall);
			await sleep(1000);
			const port = server.port;
			await stopServer();
			const tStop = Date.now();
			await v.page.waitForFunction(() => window.forkcast.state === 'reconnecting' &&
			    document.getElementById('video').className === 'broken' &&
			    getComputedStyle(document.getElementById('overlay')).display !== 'none',
			    null, { timeout: 6000 });
			const shown = Date.now() - tStop;
			await sleep(1000);
			await startServer(port);
			const tStart = Date.now();
			const n = (await changes(v.page)).length;
			await v.page.waitForFunction((k) => window.__probe.changes.length > k + 3 &&
			    window.forkcast.state === 'running', n, { timeout: 15000 });
			const again = playingAgainAt(await changes(v.page), tStart);
			assert(again !== null, 'no steady picture after the restart');
			return `"reconnecting" after ${shown} ms, playing ${again - tStart} ms after the server was healthy again`;
		} finally {
			await v.ctx.close();
		}
	});

	await test('no script errors in any page', async () => {
		assert(pageErrors.length === 0, pageErrors.join('; '));
	});
}

await runSuite({
	what: 'the browser run', limitMs: TOTAL_MS, main,
	browser: () => browser, stop: () => stopServer().catch(() => {}), dir: () => tmp,
});
