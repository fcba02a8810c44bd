-- The fence of examples/fenced-writer: a row whose term is older than the newest term this
-- table has seen is refused. Apply once: psql "$DATABASE_URL" -f schema.sql
--
-- Every insert first raises the one-row fence to its own term (never lowers it) and takes
-- the fence row's lock, held until the insert commits: inserts are serialised on it, so
-- "newest term seen" is exact, not a race between two writers. `seq` is numbered under that
-- lock, so it is the order in which rows landed.

CREATE TABLE IF NOT EXISTS fenced_writer_fence (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  term bigint NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS fenced_writer_seq;

CREATE TABLE IF NOT EXISTS fenced_writer_rows (
  seq bigint PRIMARY KEY,
  term bigint NOT NULL,
  writer text NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION fenced_writer_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  newest bigint;
BEGIN
  INSERT INTO fenced_writer_fence AS fence (term) VALUES (NEW.term)
  ON CONFLICT (only_row) DO UPDATE SET term = GREATEST(fence.term, EXCLUDED.term)
  RETURNING fence.term INTO newest;
  IF NEW.term < newest THEN
    RAISE EXCEPTION 'fenced: term % is older than term %, the newest one seen', NEW.term, newest
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.seq := nextval('fenced_writer_seq');
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS fenced_writer_check ON fenced_writer_rows;
CREATE TRIGGER fenced_writer_check BEFORE INSERT ON fenced_writer_rows
  FOR EACH ROW EXECUTE FUNCTION fenced_writer_check();
