-- Ended windows are removed a few at a time by their start (weir_store::rates).
CREATE INDEX rate_windows_started ON rate_windows (started_at);
