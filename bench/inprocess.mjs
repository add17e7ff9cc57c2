// node bench/inprocess.mjs [files=3000] [rounds=40]
//
// What the library itself costs per event, without a harness around it: this
// process writes a backlog of `files` files (open/write/close: 4 events each,
// kept under the default queue limit of 16,384) into a directory on /dev/shm,
// then times how long the queued events take to reach a listener that does
// nothing, through the raw layer (Inotify 'batch') and through the Notifier
// ('event', full pathnames), and through a Notifier whose mask is IN_CLOSE_WRITE
// only (one event of the four delivered: the other records, which autoAdd and
// the library's own bookkeeping still ask the kernel for, should cost almost
// nothing). Medians and minimums of `rounds` rounds. The time
// includes the read(2) calls. CPU is this process's user+system time over the
// round (all threads, GC helpers included; the wait after the drain is idle),
// which other load on the machine disturbs less than the wall time.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

const lib = createRequire(import.meta.url)(process.env.BENCH_OURS_LIB ?? '../lib/index.js');
const files = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 40);
const base = fs.existsSync('/dev/shm') ? '/dev/shm' : '/tmp';

async function measure(layer) {
  const root = fs.mkdtempSync(`${base}/inotify-inprocess-`);
  const wm = new lib.WatchManager();
  let count = 0;
  let last = 0n;
  let notifier;
  if (layer === 'raw') {
    wm.inotify.addWatch(root, lib.IN_ALL_EVENTS);
    wm.inotify.on('batch', (records) => { count += records.length; last = process.hrtime.bigint(); });
  } else {
    wm.addWatch(root, layer === 'notifier' ? lib.IN_ALL_EVENTS : lib.IN_CLOSE_WRITE, { rec: true, autoAdd: true });
    notifier = new lib.Notifier(wm);
    notifier.on('event', () => { count++; last = process.hrtime.bigint(); });
  }
  const perEvent = [];
  const cpuPerEvent = [];
  for (let round = 0; round < rounds; round++) {
    count = 0;
    for (let i = 0; i < files; i++) fs.writeFileSync(`${root}/f${round}-${i}`, 'x');
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint(); // nothing was read yet: this process was busy writing
    await new Promise((resolve) => setTimeout(resolve, 200));
    const used = process.cpuUsage(cpu);
    // Per record the kernel queued, delivered or not: with IN_CLOSE_WRITE only, each file's
    // IN_CREATE (asked for by autoAdd) and IN_CLOSE_WRITE; else every record is an event.
    const records = layer === 'notifier-close-write' ? files * 2 : count;
    if (count > 0) perEvent.push(Number(last - start) / records);
    if (count > 0) cpuPerEvent.push(((used.user + used.system) * 1000) / records);
  }
  notifier?.stop();
  wm.close();
  fs.rmSync(root, { recursive: true, force: true });
  perEvent.sort((a, b) => a - b);
  cpuPerEvent.sort((a, b) => a - b);
  const median = perEvent[perEvent.length >> 1];
  return { layer, events: count, medianNs: median, minNs: perEvent[0], eventsPerS: 1e9 / median, cpuNs: cpuPerEvent[cpuPerEvent.length >> 1] };
}

for (const layer of (process.argv[4] ?? 'raw,notifier,notifier-close-write').split(',')) {
  const r = await measure(layer);
  console.log(`${r.layer.padEnd(20)} ${r.events} events/round  median ${r.medianNs.toFixed(0)} ns/event (${(r.eventsPerS / 1e6).toFixed(2)} M events/s), min ${r.minNs.toFixed(0)} ns; CPU median ${r.cpuNs.toFixed(0)} ns/event`);
}
