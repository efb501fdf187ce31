// What the BullMQ scripts of the benches share: the Redis connection, the backlog of leave
// jobs, and the job handler that leaves through the Wasend stub (tests/common/stub.rs).
import IORedis from "ioredis";

export const connection = () =>
  new IORedis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null });

// Adds `count` leave jobs to `queue` in batches of 1,000, leaving the groups
// `120363000000000000 + offset + i@g.us`, each with 3 attempts and removed once settled.
export async function enqueue(queue, count, offset = 0) {
  for (let i = 0; i < count; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      batch.push({
        name: "leave",
        data: { group: `${120363000000000000n + BigInt(offset + j)}@g.us` },
        opts: { removeOnComplete: true, removeOnFail: true, attempts: 3 },
      });
    }
    await queue.addBulk(batch);
  }
}

// The job handler: Wasend's leave request to the stub on `port`, success checked in the body.
export const leaveOnStub = (port) => async (job) => {
  const r = await fetch(`http://127.0.0.1:${port}/s/groups/${encodeURIComponent(job.data.group)}/leave`, {
    method: "POST",
    headers: { authorization: "Bearer k" },
  });
  const body = await r.json();
  if (!body.success) throw new Error("not left");
};
