// Submit a leave job to bulkleave with ioredis (contract v1) and read the answers.
// Usage: REDIS_URL=redis://127.0.0.1:6379 PREFIX=bulkleave node examples/submit.mjs
import Redis from "ioredis";

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const prefix = process.env.PREFIX ?? "bulkleave";

const id = await redis.xadd(`${prefix}:submit`, "*",
  "v", "1",
  "provider", "ryzeapi",
  "account", "acme_ryze",
  "group", "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrSt12",
  "idempotency_key", "hr-4711-ryze",
  "requested_by", "hr-system");
console.log("submitted", id);

await new Promise((resolve) => setTimeout(resolve, 2000));
for (const [, fields] of await redis.xrange(`${prefix}:rejected`, "-", "+")) {
  const answer = Object.fromEntries(fields.reduce((pairs, v, i) => (i % 2 ? pairs[pairs.length - 1].push(v) : pairs.push([v]), pairs), []));
  if (answer.submission_id === id) console.log("rejected", answer.code, answer.field, "-", answer.reason);
}
redis.disconnect();
