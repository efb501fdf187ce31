// BullMQ reference of benches/memory.rs, in two processes so the worker's memory is its own:
//
//   node memory.mjs worker <prefix> <port> <concurrency>   one Worker on queue "leave" against
//                                                          the stub on <port>; prints "ready",
//                                                          runs until killed
//   node memory.mjs enqueue <prefix> <count>               adds <count> leave jobs, exits
import { Queue, Worker } from "bullmq";
import { connection, enqueue, leaveOnStub } from "./common.mjs";

const [mode, prefix, ...rest] = process.argv.slice(2);

if (mode === "enqueue") {
  const q = new Queue("leave", { connection: connection(), prefix });
  await enqueue(q, +rest[0]);
  await q.close();
  process.exit(0);
} else if (mode === "worker") {
  const [port, concurrency] = rest;
  const w = new Worker("leave", leaveOnStub(port), { connection: connection(), prefix, concurrency: +concurrency });
  await w.waitUntilReady();
  process.on("SIGTERM", () => process.exit(0));
  console.log("ready");
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(64);
}
