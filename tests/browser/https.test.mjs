// forkcast over HTTPS in a real browser: Debian's Chromium, headless,
// driven by playwright-core.  Makes a test CA and a server certificate with
// the openssl tool in a temp folder, starts build/forkcast with a plain and
// a TLS listen address on free loopback ports (test pattern 640x360 at
// 15 fps, 2 workers), and a small node https server on a third port: a
// dashboard of another origin that embeds the stream with an <img>.  Prints
// one line per test with its figures, closes with "N passed, N failed",
// exits 0 only when every test passed, and stops the processes it started
// by their PIDs (hard limit TOTAL_MS).
//
// The test CA: each browser context is made with playwright's
// ignoreHTTPSErrors rather than Chromium's --ignore-certificate-errors.
// It is scoped to the contexts that ask for it, so the first test can also
// open a context without it and see Chromium refuse the test CA's
// certificate: proof that the pages really came over TLS with that
// certificate, and that nothing but the unknown CA was ignored.  The CA is
// never installed anywhere; node's own requests to /status verify the
// chain against it.
//
// How "the picture moves" is measured: same-origin pages (the viewer at
// https://127.0.0.1:TPORT/) use the probe of lib.mjs, as viewer.test.mjs
// does: every animation frame, draw the <img> into a canvas and hash its
// pixels; every test-pattern frame carries its frame number, so a new
// frame is a new hash.  A cross-origin <img> taints the canvas (the dashboard cannot read
// the camera's pixels, as it should be), so there the test takes element
// screenshots as fast as Chromium makes them and counts distinct ones: a
// lower bound on the pictures shown, limited by the screenshot rate (also
// printed).
//
// HTTP/2: Chromium offers h2 and forkcast's TLS listeners choose it, so
// every HTTPS page here comes over h2.  The tabs of one browser context
// share one h2 connection: 12 tabs of the viewer page play at once over
// it, each page's navigation entry says nextHopProtocol "h2", and /status
// (asked by node over its own TLS connection) counts 2 TLS connections and
// 12 streams.  The same 12 tabs over plain HTTP/1.1 hit Chromium's six
// connections per host: six play, the other six never get their page.
// Many tabs are measured with a timer probe (see probeInstall in lib.mjs).
//
// Mixed content: Chromium upgrades an http:// image in an https:// page to
// https:// (no fallback), except when the image's host is an IP address:
// then it loads it over http:// with a console warning.  So an
// <img src="http://127.0.0.1:PORT/stream"> plays in the https:// dashboard,
// which says nothing about a camera reached by name.  To see that case the
// browser is started with --host-resolver-rules mapping the names
// camera.test and dashboard.test to 127.0.0.1.  Both cases are recorded;
// each is asserted as Chromium 156 does it (upgraded and failed by name,
// loaded with a warning by IP address).

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import {
	CHROMIUM, pageErrors, sleep, log, f1, assert, test, runSuite, freePort, getJSON,
	makeTmp, writeConf, spawnForkcast, waitHealthy, stopForkcast, launchChromium,
	newContext as contextOf, probeInstall, evalFor, pictureWidth, waitPicture, figures,
	wrongFigures as wrongFor, changes, rateIn, openTabs, openPlayingTabs, tabPictures,
	tabRates, perTab,
} from './lib.mjs';

const OPENSSL = process.env.OPENSSL || 'openssl';
const FPS = 15;
const WIDTH = 640, HEIGHT = 360;
const MIN_RATE = 5;		// distinct pictures per second, loose bound for 15 fps
const MIN_SHOTS = 3;		// distinct screenshots per second of a playing <img>
const TABS = 6;			// Chromium's connections per host (HTTP/1.1)
const MANY = 12;		// tabs on one h2 connection
const TOTAL_MS = 180000;	// whole run, hard limit (about 65 s when all pass)
// Names the browser resolves to 127.0.0.1 (--host-resolver-rules).
const CAMERA = 'camera.test', DASHBOARD = 'dashboard.test';
const PATTERN = { width: WIDTH, height: HEIGHT, fps: FPS };

let server = null, dash = null, browser = null, tmp = null;

// --- the test CA and the server certificate -----------------------------

// As tests/integration/tls.sh: an EC CA and a server certificate it signs
// (SAN: localhost, 127.0.0.1 and the two test names), the chain in one
// file, the key mode 600 (forkcast refuses a key others may read).
function makePKI(dir) {
	const ossl = (...a) => execFileSync(OPENSSL, a, { stdio: ['ignore', 'ignore', 'pipe'] });
	const p = (f) => path.join(dir, f);
	fs.mkdirSync(dir, { mode: 0o755 });
	ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
	    '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=forkcast test CA');
	ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
	    '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost');
	fs.writeFileSync(p('server.ext'), `subjectAltName=DNS:localhost,IP:127.0.0.1,` +
	    `DNS:${CAMERA},DNS:${DASHBOARD}\nextendedKeyUsage=serverAuth\n`);
	ossl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
	    '-CAcreateserial', '-days', '2', '-extfile', p('server.ext'), '-out', p('server.crt'));
	fs.writeFileSync(p('fullchain.pem'), fs.readFileSync(p('server.crt')) + fs.readFileSync(p('ca.crt')));
	fs.chmodSync(p('server.key'), 0o600);
	return { ca: p('ca.crt'), chain: p('fullchain.pem'), key: p('server.key') };
}

// --- forkcast -----------------------------------------------------------

async function startServer(pki) {
	const port = await freePort(), tport = await freePort();
	const conf = writeConf(tmp, [`127.0.0.1:${port}`, `127.0.0.1:${tport} tls`], PATTERN,
	    ['[tls]', `certificate = ${pki.chain}`, `key = ${pki.key}`]);
	server = { ...spawnForkcast(tmp, conf), port, tport,
	    base: `http://127.0.0.1:${port}`, tbase: `https://127.0.0.1:${tport}` };
	await waitHealthy(server, tmp, async () => (await tlsGet('/healthz', pki.ca)).status === 200,
	    ' over TLS');
	return server;
}

const stopServer = () => stopForkcast(server);

// GET over TLS from node, the chain verified against the test CA only.
function tlsGet(urlPath, ca) {
	return new Promise((resolve, reject) => {
		const req = https.get(server.tbase + urlPath, { ca: fs.readFileSync(ca), timeout: 3000 },
		    (res) => {
			const protocol = res.socket.getProtocol();
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, body, protocol }));
		});
		req.on('timeout', () => req.destroy(new Error('timeout')));
		req.on('error', reject);
	});
}

async function statusTLS(ca) {
	const r = await tlsGet('/status', ca);
	assert(r.status === 200, `GET /status over TLS: ${r.status}`);
	return { st: JSON.parse(r.body), protocol: r.protocol };
}

const statusPlain = () => getJSON(server.base + '/status');

// --- the dashboard: another HTTPS origin ----------------------------------

// A node https server with the same certificate on its own port: another
// origin (scheme, host and port) than forkcast's TLS address.  /embed?src=U
// is a page whose only picture is <img src="U">; no crossorigin attribute,
// as a dashboard would embed a camera.
function startDashboard(pki, port) {
	const page = (src) => `<!doctype html><html><head><meta charset="utf-8">` +
	    `<link rel="icon" href="data:,"><title>dashboard</title></head>` +
	    `<body style="margin:0;background:#000">` +
	    `<img id="cam" src="${src.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`)}" ` +
	    `width="${WIDTH}" height="${HEIGHT}" alt="camera"></body></html>`;
	const srv = https.createServer({ cert: fs.readFileSync(pki.chain), key: fs.readFileSync(pki.key) },
	    (req, res) => {
		const u = new URL(req.url, 'https://x');
		if (u.pathname !== '/embed' || !u.searchParams.get('src')) {
			res.writeHead(404).end();
			return;
		}
		res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
		res.end(page(u.searchParams.get('src')));
	});
	return new Promise((resolve, reject) => {
		srv.on('error', reject);
		srv.listen(port, '127.0.0.1', () => resolve(srv));
	});
}

// --- helpers on the node side -------------------------------------------

function newContext(opts = {}) {
	return contextOf(browser, { ignoreHTTPSErrors: opts.ignoreHTTPSErrors !== false });
}

// Screenshots of one element for ms: how many, how many distinct, and
// distinct per second.
async function shotRate(page, selector, ms) {
	const el = page.locator(selector);
	const seen = new Set();
	let shots = 0;
	const t0 = Date.now();
	while (Date.now() - t0 < ms) {
		const b = await el.screenshot({ timeout: 3000, animations: 'allow' });
		seen.add(crypto.createHash('sha1').update(b).digest('hex'));
		shots++;
	}
	const s = (Date.now() - t0) / 1000;
	return { shots, distinct: seen.size, rate: seen.size / s, shotRate: shots / s };
}

// The protocol each tab's page came over ('' when it has none).
async function tabProtocols(tabs) {
	return Promise.all(tabs.map((p) => evalFor(p, () => {
		const n = performance.getEntriesByType('navigation')[0];
		return n && location.protocol !== 'about:' ? n.nextHopProtocol : '';
	}, undefined, 1000, '')));
}

// What is wrong with the viewer page's figures for n streams ('' if
// nothing).
const wrongFigures = (ui, n) => wrongFor(ui, { ...PATTERN, viewers: n });

// Opens the dashboard page at url in a fresh context and records what
// Chromium does with its <img>: requests, failures, console messages,
// whether a picture came and whether it moves.
async function embed(url, ms) {
	const ctx = await newContext();
	const page = await ctx.newPage();
	const rec = { requests: [], failed: [], console: [] };
	page.on('request', (r) => { if (r.resourceType() === 'image') rec.requests.push(r.url()); });
	page.on('requestfailed', (r) => rec.failed.push(`${r.url()} ${r.failure() ? r.failure().errorText : ''}`));
	page.on('console', (m) => {
		const line = `${m.type()}: ${m.text()}`;
		if (!rec.console.includes(line))
			rec.console.push(line);
	});
	page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
	await page.goto(url, { waitUntil: 'commit', timeout: 10000 });
	let waited = null;
	try {
		waited = await waitPicture(page, ms, url);
	} catch { /* recorded as no picture */ }
	rec.width = await pictureWidth(page);
	rec.waited = waited;
	rec.complete = await page.evaluate(() => document.getElementById('cam').complete).catch(() => null);
	return { ctx, page, rec };
}

// --- the tests ------------------------------------------------------------

async function main() {
	tmp = makeTmp('forkcast-https-');
	const pki = makePKI(path.join(tmp, 'pki'));
	await startServer(pki);
	const dport = await freePort();
	dash = await startDashboard(pki, dport);
	const DBASE = `https://127.0.0.1:${dport}`;
	log(`server ${server.base} and ${server.tbase} (pid ${server.pid}), testpattern ` +
	    `${WIDTH}x${HEIGHT} at ${FPS} fps, 2 workers; dashboard ${DBASE} (this process)`);
	// Names that are not loopback to Chromium's Mixed Content checks but
	// connect to 127.0.0.1 (see the top of the file).
	browser = await launchChromium(
	    [`--host-resolver-rules=MAP ${CAMERA} 127.0.0.1, MAP ${DASHBOARD} 127.0.0.1`]);
	log(`browser: Chromium ${browser.version()} (${CHROMIUM})`);

	await test(`the viewer page over HTTPS plays >= ${MIN_RATE} new pictures/s and shows its figures`, async () => {
		// Without ignoreHTTPSErrors the test CA is unknown to Chromium.
		const strict = await newContext({ ignoreHTTPSErrors: false });
		let refused = '';
		try {
			await (await strict.newPage()).goto(server.tbase + '/', { waitUntil: 'commit', timeout: 10000 });
		} catch (e) {
			refused = (/net::ERR_[A-Z_]+/.exec(e.message) || [e.message])[0];
		} finally {
			await strict.close();
		}
		assert(refused.startsWith('net::ERR_CERT_'), `a context that checks certificates was not refused (${refused || 'loaded'})`);

		const ctx = await newContext();
		try {
			const page = await ctx.newPage();
			page.on('pageerror', (e) => pageErrors.push(`viewer: ${e.message}`));
			const resp = await page.goto(server.tbase + '/', { waitUntil: 'commit', timeout: 10000 });
			const sec = await resp.securityDetails();
			const first = await waitPicture(page, 10000, 'viewer over HTTPS');
			const where = await page.evaluate(() => ({ proto: location.protocol,
			    secure: window.isSecureContext, img: document.getElementById('video').currentSrc }));
			assert(where.proto === 'https:' && where.secure, `page is ${where.proto}, secure context ${where.secure}`);
			assert(where.img.startsWith(server.tbase + '/stream'), `the <img> streams from ${where.img}`);
			await page.evaluate(probeInstall);
			await sleep(300);
			const from = Date.now();
			await sleep(4000);
			const r = rateIn(await changes(page), from, Date.now());
			assert(r.rate >= MIN_RATE, `${f1(r.rate)} distinct pictures/s < ${MIN_RATE}`);
			await page.waitForFunction(() => document.getElementById('viewers').textContent === '1',
			    null, { timeout: 4000 }).catch(() => {});
			const ui = await figures(page);
			const bad = wrongFigures(ui, 1);
			assert(bad === '', `figures: ${bad}`);
			const { st } = await statusTLS(pki.ca);
			// The stream, this /status request and the page's last poll
			// (if its keep-alive connection is still open).
			assert(st.tls && st.tls.user_space + st.tls.ktls >= 2,
			    `/status tls ${JSON.stringify(st.tls)}: the stream is not a TLS connection`);
			return `${f1(r.rate)} new pictures/s (first picture after ${first} ms); ` +
			    `"${ui.src}" ${ui.res} ${ui.fps} fps, ${ui.viewers} viewers, ${ui.state}; ` +
			    `${sec ? sec.protocol : '?'}, issuer "${sec ? sec.issuer : '?'}"; ` +
			    `without ignoreHTTPSErrors: ${refused}; /status tls ${JSON.stringify(st.tls)}`;
		} finally {
			await ctx.close();
		}
	});

	await test(`a page of another HTTPS origin embeds <img src="${server.tbase}/stream"> and it plays`, async () => {
		const { ctx, page, rec } = await embed(`${DBASE}/embed?src=${encodeURIComponent(server.tbase + '/stream')}`, 10000);
		try {
			assert(rec.width === WIDTH, `naturalWidth ${rec.width}, want ${WIDTH} (failed: ${rec.failed.join('; ') || 'none'})`);
			// Cross-origin without CORS: the dashboard cannot read the
			// pixels, so the picture is watched through screenshots.
			const tainted = await page.evaluate(() => {
				const c = document.createElement('canvas');
				c.width = c.height = 8;
				const cx = c.getContext('2d');
				cx.drawImage(document.getElementById('cam'), 0, 0);
				try { cx.getImageData(0, 0, 1, 1); return false; } catch (e) { return e.name; }
			});
			assert(tainted === 'SecurityError', `the canvas was not tainted (${tainted}): not another origin?`);
			const s = await shotRate(page, '#cam', 3000);
			assert(s.rate >= MIN_SHOTS, `${f1(s.rate)} distinct screenshots/s < ${MIN_SHOTS} ` +
			    `(${s.distinct} of ${s.shots})`);
			return `first picture after ${rec.waited} ms, ${rec.width}px wide; canvas ${tainted} (cross-origin); ` +
			    `${s.distinct} distinct of ${s.shots} screenshots in 3 s (${f1(s.rate)}/s, ` +
			    `screenshots ${f1(s.shotRate)}/s)`;
		} finally {
			await ctx.close();
		}
	});

	// The same dashboard embedding the plain address.  Recorded, and
	// asserted only as observed with Chromium 156 (see the top).
	await test(`a https:// page embedding http://${CAMERA}:PORT/stream (mixed content) shows no picture`, async () => {
		const plainUrl = `http://${CAMERA}:${server.port}/stream`;
		const { ctx, page, rec } = await embed(`https://${DASHBOARD}:${dport}/embed?src=${encodeURIComponent(plainUrl)}`, 4000);
		try {
			const st = await statusPlain();
			const upgraded = rec.requests.length > 0 &&
			    rec.requests.every((u) => u === `https://${CAMERA}:${server.port}/stream`);
			const note = `requested ${rec.requests.join(', ') || 'nothing'}` +
			    `${upgraded ? ' (upgraded to https://, same port)' : ''}; ` +
			    `failed ${rec.failed.join('; ') || 'nothing'}; ` +
			    `naturalWidth ${rec.width}; server streams ${st.clients}; console: ${rec.console.join(' | ') || 'nothing'}`;
			// Whether blocked or upgraded to a port without TLS: no
			// picture, and no stream reached the server.
			assert(rec.width === 0, `a picture came: ${note}`);
			assert(st.clients === 0, `the server has ${st.clients} streams: ${note}`);
			assert(!rec.requests.includes(plainUrl), `Chromium requested the http:// URL itself: ${note}`);
			// And the https:// address under the same name plays in
			// the same dashboard: the name mapping is not the reason.
			const ok = await embed(`https://${DASHBOARD}:${dport}/embed?src=` +
			    encodeURIComponent(`https://${CAMERA}:${server.tport}/stream`), 10000);
			await ok.ctx.close();
			assert(ok.rec.width === WIDTH, `control: https://${CAMERA}:TPORT/stream in the same page: naturalWidth ${ok.rec.width}`);
			return note + `; control https://${CAMERA}:${server.tport}/stream: picture after ${ok.rec.waited} ms`;
		} finally {
			await ctx.close();
		}
	});

	await test(`the same page embedding http://127.0.0.1:PORT/stream: loaded over http:// with a Mixed Content warning (IP address: not upgraded)`, async () => {
		const plainUrl = `${server.base}/stream`;
		const { ctx, page, rec } = await embed(`${DBASE}/embed?src=${encodeURIComponent(plainUrl)}`, 4000);
		try {
			const st = await statusPlain();
			let s = null;
			if (rec.width > 0)
				s = await shotRate(page, '#cam', 2000);
			const tlsConns = st.tls ? st.tls.user_space + st.tls.ktls : NaN;
			const note = `requested ${rec.requests.join(', ') || 'nothing'}; failed ${rec.failed.join('; ') || 'nothing'}; ` +
			    `naturalWidth ${rec.width}; server streams ${st.clients} (TLS connections ${tlsConns}); ` +
			    (s ? `${s.distinct} distinct of ${s.shots} screenshots in 2 s; ` : '') +
			    `console: ${rec.console.join(' | ') || 'nothing'}`;
			assert(rec.requests.length > 0 && rec.requests.every((u) => u === plainUrl),
			    `Chromium no longer requests the http:// URL as it is: ${note}`);
			assert(rec.console.some((l) => /Mixed Content/.test(l)), `no Mixed Content warning: ${note}`);
			assert(st.clients === 1 && tlsConns === 0, `want 1 plain stream on the server: ${note}`);
			assert(s && s.rate >= MIN_SHOTS, `the http:// picture does not play: ${note}`);
			return note;
		} finally {
			await ctx.close();
		}
	});

	// Chromium offers h2 and forkcast's TLS listeners choose it: the tabs
	// of one browser context share one connection (the six-connection
	// wall of HTTP/1.1 is the last test).
	let tabCtx = null;
	let tabsPlay = false;
	await test(`${TABS} tabs of ${server.tbase}/ in one browser context all play >= ${MIN_RATE} new pictures/s over h2`, async () => {
		tabCtx = await newContext();
		const { tabs, loadedAt } = await openPlayingTabs(tabCtx, server.tbase + '/', TABS, 'https',
		    10000, WIDTH);
		const protos = await tabProtocols(tabs);
		const rates = await tabRates(tabs, 5000);
		const note = perTab(rates);
		for (const [i, r] of rates.entries())
			assert(r.rate >= MIN_RATE, `tab ${i + 1}: ${f1(r.rate)} distinct pictures/s < ${MIN_RATE} (${note})`);
		assert(protos.every((p) => p === 'h2'), `the pages came over ${protos.join(', ')}, want h2`);
		const st = await statusPlain();
		assert(st.clients === TABS, `/status counts ${st.clients} streams, want ${TABS}`);
		tabsPlay = true;
		return `pages over ${[...new Set(protos)].join(', ')}; ${note}; ` +
		    `pictures after ${loadedAt.join(', ')} ms; /status ${st.clients} streams`;
	});

	await test(`/status over TLS counts one h2 connection (2 with its own) for the ${TABS} streams of the ${TABS} tabs`, async () => {
		assert(tabsPlay, `the ${TABS} tabs did not all play`);
		const { st, protocol } = await statusTLS(pki.ca);
		assert(st.tls && Number.isInteger(st.tls.user_space) && Number.isInteger(st.tls.ktls),
		    `/status has no "tls": {"user_space": N, "ktls": N}: ${JSON.stringify(st.tls)}`);
		const perWorker = st.workers.map((w) => w.tls ? w.tls.user_space + w.tls.ktls : NaN);
		const sum = perWorker.reduce((a, n) => a + n, 0);
		// With no kTLS in the kernel every connection is user_space;
		// with it, the count moves to ktls.  The browser's one h2
		// connection and this request's own.
		const n = st.tls.user_space + st.tls.ktls;
		assert(n === 2, `/status tls ${JSON.stringify(st.tls)} with ${TABS} tabs streaming, want 2 connections`);
		assert(sum === n, `workers' sum ${sum} != total`);
		assert(st.clients === TABS, `/status counts ${st.clients} streams, want ${TABS}`);
		return `tls ${JSON.stringify(st.tls)} (per worker ${perWorker.join('+')}), ` +
		    `streams ${st.clients} (per worker ${st.workers.map((w) => w.clients).join('+')}), ` +
		    `connections ${st.workers.map((w) => w.connections).join('+')}, asked over ${protocol} verified against the test CA`;
	});
	if (tabCtx)
		await tabCtx.close();

	await test(`${MANY} tabs of ${server.tbase}/ in one browser context share one h2 connection and all play >= ${MIN_RATE} new pictures/s`, async () => {
		const ctx = await newContext();
		try {
			const { tabs, loadedAt } = await openPlayingTabs(ctx, server.tbase + '/', MANY, 'h2',
			    15000, WIDTH);
			const protos = await tabProtocols(tabs);
			const rates = await tabRates(tabs, 5000);
			const { st, protocol } = await statusTLS(pki.ca);
			const n = st.tls.user_space + st.tls.ktls;
			const ui = await figures(tabs[0]).catch(() => null);
			const note = `pages over ${protos.join(',')}; ${perTab(rates)}; ` +
			    `pictures after ${loadedAt.join(', ')} ms; /status (over ${protocol}, its own connection): ` +
			    `tls ${JSON.stringify(st.tls)}, streams ${st.clients} (per worker ` +
			    `${st.workers.map((w) => w.clients).join('+')}), connections ` +
			    `${st.workers.map((w) => w.connections).join('+')}; tab 1 shows ${ui ? ui.viewers : '?'} viewers`;
			assert(protos.every((p) => p === 'h2'), `not every page came over h2: ${note}`);
			for (const [i, r] of rates.entries())
				assert(r.rate >= MIN_RATE, `tab ${i + 1}: ${f1(r.rate)} distinct pictures/s < ${MIN_RATE}: ${note}`);
			assert(n === 2, `want 2 TLS connections (the browser's, this request's): ${note}`);
			assert(st.clients === MANY, `want ${MANY} streams: ${note}`);
			return note;
		} finally {
			await ctx.close();
		}
	});

	// The contrast: the same tabs over plain HTTP/1.1.  Chromium keeps at
	// most six connections per host and a stream never gives its
	// connection back, so six streams hold them all and the other tabs
	// wait for their page for as long as those play.
	await test(`${MANY} tabs of ${server.base}/ (HTTP/1.1) in one browser context: only ${TABS} play (six connections per host)`, async () => {
		const ctx = await newContext();
		try {
			const tabs = await openTabs(ctx, server.base + '/', MANY, 'http');
			const loadedAt = await tabPictures(tabs, 10000, WIDTH);
			const protos = await tabProtocols(tabs);
			const rates = await tabRates(tabs, 5000);
			const st = await statusPlain();
			const pictures = loadedAt.filter((t) => t !== null).length;
			const playing = rates.filter((r) => r.rate >= MIN_RATE).length;
			const note = `${pictures} of ${MANY} tabs show a picture, ${playing} play >= ${MIN_RATE}/s; ` +
			    `pages over ${protos.map((p) => p || 'none').join(',')}; ${perTab(rates)}; ` +
			    `server streams ${st.clients}, connections ${st.workers.map((w) => w.connections).join('+')}`;
			assert(st.clients === TABS, `want ${TABS} streams on the server: ${note}`);
			assert(pictures === TABS && playing === TABS, `want exactly ${TABS} tabs playing: ${note}`);
			return note;
		} finally {
			await Promise.race([ctx.close(), sleep(5000)]);
		}
	});

	await test('no script errors in any page', async () => {
		assert(pageErrors.length === 0, pageErrors.join('; '));
	});
}

await runSuite({
	what: 'the HTTPS browser run', limitMs: TOTAL_MS, main, browser: () => browser, dir: () => tmp,
	stop: async () => {
		if (dash) {
			dash.closeAllConnections();
			dash.close();
		}
		await stopServer().catch(() => {});
	},
});
