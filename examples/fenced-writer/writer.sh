#!/bin/sh
# The job of examples/fenced-writer, run by `leasehold run` on the leader only: it writes a
# row every FENCED_WRITER_INTERVAL seconds (default 0.1), tagged with the fencing term that
# leasehold gives it in LEASEHOLD_TERM. The trigger of schema.sql refuses a row whose term
# is older than the newest one seen: a leader that was paused and wakes up after another
# took over can try to write, but nothing it writes lands.
#
#   leasehold run --store postgres://… -- ./writer.sh
#
# Needs psql and FENCED_WRITER_DATABASE_URL (the database holding schema.sql's tables).
set -u
: "${FENCED_WRITER_DATABASE_URL:?set FENCED_WRITER_DATABASE_URL to the PostgreSQL URL}"
: "${LEASEHOLD_TERM:?run me with leasehold run, which sets LEASEHOLD_TERM}"
interval="${FENCED_WRITER_INTERVAL:-0.1}"

# SIGTERM from leasehold: finish the write in progress, then exit.
trap 'exit 0' TERM INT

echo "fenced-writer: writing as ${LEASEHOLD_ID:-?} with term $LEASEHOLD_TERM"
while :; do
  # psql variables (:'term') quote the values; -c would not interpolate them, stdin does.
  if ! out=$(echo "INSERT INTO fenced_writer_rows (term, writer) VALUES (:'term', :'writer');" |
    psql "$FENCED_WRITER_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 \
      -v term="$LEASEHOLD_TERM" -v writer="${LEASEHOLD_ID:-?}" 2>&1); then
    echo "fenced-writer: refused, term $LEASEHOLD_TERM: $(printf '%s\n' "$out" | head -n 1)" >&2
  fi
  sleep "$interval"
done
