// BullMQ reference of benches/queue.rs: enqueue `size` leave jobs, then drain them with one
// worker of `concurrency` against the stub on `port`; prints the enqueue and drain rates
// (jobs/s) as JSON. Keys live under `prefix`.
//
//   node queue.mjs <size> <port> <concurrency> <prefix>
import { Queue, Worker } from "bullmq";
import { connection, enqueue, leaveOnStub } from "./common.mjs";

const [size, port, concurrency, prefix] = process.argv.slice(2);
const n = +size;
const q = new Queue("leave", { connection: connection(), prefix });
await q.obliterate({ force: true }).catch(() => {});
const t0 = performance.now();
await enqueue(q, n);
const enqueued = n / ((performance.now() - t0) / 1000);
let done = 0;
const t1 = performance.now();
const finished = new Promise((resolve) => {
  const w = new Worker("leave", leaveOnStub(port), { connection: connection(), prefix, concurrency: +concurrency });
  w.on("completed", () => { if (++done === n) resolve(w); });
});
const w = await finished;
const drain = n / ((performance.now() - t1) / 1000);
await w.close();
await q.obliterate({ force: true }).catch(() => {});
await q.close();
console.log(JSON.stringify({ enqueue: enqueued, drain }));
process.exit(0);
