-- The PostgreSQL ceiling of `completeExecution` (benches/load.rs, part `pg-throughput`): run by
-- psql on the bench's database after the server's completions, with -v company, workflow and
-- total. It adds `total` running executions of the bench's workflow, whose ids the scripts
-- compute from a number (md5(n)), and the mover as one SQL function: the server sends the mover
-- as one simple query (two statements, one round trip), which pgbench's prepared mode cannot.
CREATE OR REPLACE FUNCTION bench_move() RETURNS void LANGUAGE sql AS $$
SELECT pg_advisory_xact_lock(727001, hashtext(current_schema()));
WITH moved AS (DELETE FROM sla_event_queue RETURNING id, company_id, breach_id, kind, created_at),
logged AS (INSERT INTO sla_events (company_id, breach_id, kind, created_at)
           SELECT company_id, breach_id, kind, created_at FROM moved ORDER BY id RETURNING seq)
SELECT pg_notify('wi_wake', 'event') FROM (SELECT count(*) AS n FROM logged) c WHERE c.n > 0;
$$;
INSERT INTO workflow_executions
  (id, company_id, created_at, updated_at, workflow_id, external_id, status, input_data, started_at)
SELECT md5(n::text)::uuid, :'company', now(), now(), :'workflow', 'ceiling-' || n, 'running',
       '{}'::json, now()
FROM generate_series(1, :total) n;
