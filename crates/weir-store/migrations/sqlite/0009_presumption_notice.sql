-- The notification that ends a compute-presumption clock (EU AI Act art. 52: the provider
-- notified the Commission), recorded by the publisher or an operator with its reference.
ALTER TABLE classifications ADD COLUMN notified_at BIGINT;
ALTER TABLE classifications ADD COLUMN notified_ref TEXT;
