// node bench/inprocess.mjs [files=3000] [rounds=40]
//
// What the library itself costs per event, without a harness around it: this
// process writes a backlog of `files` files (open/write/close: 4 events each,
// kept under the default queue limit of 16,384) into a directory on /dev/shm,
// then times how long the queued events take to reach a listener that does
// nothing, through the raw layer (Inotify 'batch') and through the Notifier
// ('event', full pathnames). Medians and minimums of `rounds` rounds. The time
// includes the read(2) calls. CPU is this process's user+system time over the
// round (all threads, GC helpers included; the wait after the drain is idle),
// which other load on the machine disturbs less than the wall time.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

const lib = createRequire(import.meta.url)('../lib/index.js');
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
    wm.addWatch(root, lib.IN_ALL_EVENTS, { rec: true, autoAdd: true });
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
    if (count > 0) perEvent.push(Number(last - start) / count);
    if (count > 0) cpuPerEvent.push(((used.user + used.system) * 1000) / count);
  }
  notifier?.stop();
  wm.close();
  fs.rmSync(root, { recursive: true, force: true });
  perEvent.sort((a, b) => a - b);
  cpuPerEvent.sort((a, b) => a - b);
  const median = perEvent[perEvent.length >> 1];
  return { layer, events: count, medianNs: median, minNs: perEvent[0], eventsPerS: 1e9 / median, cpuNs: cpuPerEvent[cpuPerEvent.length >> 1] };
}

for (const layer of ['raw', 'notifier']) {
  const r = await measure(layer);
  console.log(`${r.layer.padEnd(9)} ${r.events} events/round  median ${r.medianNs.toFixed(0)} ns/event (${(r.eventsPerS / 1e6).toFixed(2)} M events/s), min ${r.minNs.toFixed(0)} ns; CPU median ${r.cpuNs.toFixed(0)} ns/event`);
}
