#!/usr/bin/env sh
# Submit one leave job with redis-cli (contract v1), then show any rejections.
# Usage: REDIS_URL=redis://127.0.0.1:6379 PREFIX=bulkleave sh examples/submit.sh
set -eu
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
PREFIX=${PREFIX:-bulkleave}
redis-cli -u "$REDIS_URL" XADD "$PREFIX:submit" '*' \
  v 1 provider wasend account acme_wasend group 120363406289005073@g.us \
  campaign offboard-2026-11 requested_by hr-system
redis-cli -u "$REDIS_URL" XRANGE "$PREFIX:rejected" - + COUNT 10
