// BullMQ reference of benches/quota.rs: BullMQ's own rate limiter drives the provider
// simulator's Green API accounts. BullMQ's open-source limiter is per queue, not per job
// group, so each account gets a queue of its own (named after the account), limited to the
// account's quota.
//
//   node quota.mjs enqueue <prefix> <account> <count> <offset>
//       adds <count> leave jobs for <account> (groups 120363000000000000 + offset + i)
//   node quota.mjs worker <prefix> <simulator base URL> <accounts JSON> <concurrency>
//       one Worker per account ({name, instance, token, max, duration}), limiter
//       { max, duration }; on a 429 the queue is rate-limited for `duration` and the job goes
//       back to wait without spending an attempt (BullMQ's documented way); runs until killed
import { Queue, Worker } from "bullmq";
import { connection, enqueue } from "./common.mjs";

const [mode, prefix, ...rest] = process.argv.slice(2);

if (mode === "enqueue") {
  const [account, count, offset] = rest;
  const q = new Queue(account, { connection: connection(), prefix });
  await enqueue(q, +count, +offset);
  await q.close();
  process.exit(0);
} else if (mode === "worker") {
  const [base, accounts, concurrency] = rest;
  for (const a of JSON.parse(accounts)) {
    const queue = new Queue(a.name, { connection: connection(), prefix });
    const url = `${base}/waInstance${a.instance}/leaveGroup/${a.token}`;
    new Worker(a.name, async (job) => {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ groupId: job.data.group }),
      });
      await r.arrayBuffer();
      if (r.status === 429) {
        await queue.rateLimit(a.duration);
        throw Worker.RateLimitError();
      }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
    }, {
      connection: connection(),
      prefix,
      concurrency: +concurrency,
      limiter: { max: a.max, duration: a.duration },
    });
  }
  process.on("SIGTERM", () => process.exit(0));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(64);
}
