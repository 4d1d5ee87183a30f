-- What a repo's model card has ever declared, for classification: the highest training compute,
-- whether the weights were ever declared closed (and, in `bases`, every base model ever named).
-- A publisher can add risk facts to a card at will; removing them does not lower the computed
-- minimum (the card is self-declared; only signed, complete evaluations can lower a tier).
ALTER TABLE classifications ADD COLUMN declared_compute DOUBLE PRECISION;
ALTER TABLE classifications ADD COLUMN declared_closed BIGINT NOT NULL DEFAULT 0;
