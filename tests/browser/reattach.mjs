// The viewer page through a load balancer, for tests/integration/scaleout.sh:
//   node reattach.mjs URL DIR
// Opens URL (the viewer page) in headless Chromium and waits until its
// picture plays, then creates DIR/page.playing.  When DIR/page.killed
// appears (it holds the kill time, ms since the epoch), measures how long
// the page takes to attach a new stream and play again, and prints one
// JSON line.  Exit 0 when it played again within 15 s, 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [url, dir] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
	    '--disable-background-networking', '--disable-component-update',
	    '--disable-sync'],
});
let rc = 1;
try {
	const page = await browser.newPage();
	await page.goto(url);
	const fc = () => page.evaluate(() => ({
		hashChanges: window.forkcast.hashChanges,
		attaches: window.forkcast.attaches,
		reconnects: window.forkcast.reconnects,
		state: window.forkcast.state,
	}));
	let s = await fc();
	for (let i = 0; i < 150 && s.hashChanges < 5; i++) {
		await sleep(100);
		s = await fc();
	}
	if (s.hashChanges < 5)
		throw new Error('the page never played');
	writeFileSync(`${dir}/page.playing`, '1');
	for (let i = 0; i < 600 && !existsSync(`${dir}/page.killed`); i++)
		await sleep(50);
	const t0 = Number(readFileSync(`${dir}/page.killed`, 'utf8'));
	const before = await fc();
	let sawReconnecting = false, after = before;
	while (Date.now() - t0 < 15000) {
		after = await fc();
		if (after.state === 'reconnecting')
			sawReconnecting = true;
		if (after.attaches > before.attaches &&
		    after.hashChanges >= before.hashChanges + 3)
			break;
		await sleep(50);
	}
	const ok = after.attaches > before.attaches &&
	    after.hashChanges >= before.hashChanges + 3;
	console.log(JSON.stringify({ ok, reattach_ms: ok ? Date.now() - t0 : null,
	    reattached: after.attaches - before.attaches,
	    showed_reconnecting: sawReconnecting }));
	rc = ok ? 0 : 1;
} catch (e) {
	console.log(JSON.stringify({ ok: false, error: String(e) }));
} finally {
	await browser.close();
}
process.exit(rc);
