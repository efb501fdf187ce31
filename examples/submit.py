"""Submit leave jobs to bulkleave with redis-py (contract v1) and read the answers.

Usage: REDIS_URL=redis://127.0.0.1:6379 PREFIX=bulkleave python3 examples/submit.py
"""
import json
import os
import time

import redis

r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"), decode_responses=True)
prefix = os.environ.get("PREFIX", "bulkleave")

ids = [
    r.xadd(f"{prefix}:submit", {
        "v": "1",
        "provider": "wasend",
        "account": "acme_wasend",
        "group": group,
        "campaign": "offboard-2026-11",
        "requested_by": "hr-system",
    })
    for group in ["120363406289005073@g.us", "79001234567@c.us"]  # the second is a contact: rejected
]
print("submitted", ids)

time.sleep(2)  # a worker validates within a moment
for entry_id, fields in r.xrange(f"{prefix}:rejected", "-", "+"):
    if fields["submission_id"] in ids:
        print("rejected", fields["submission_id"], fields["code"], fields["field"], "-", fields["reason"])
        print("  original", json.loads(fields["original"]))
