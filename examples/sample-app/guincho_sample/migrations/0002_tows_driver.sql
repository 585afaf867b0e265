-- Expand only: a nullable column, so the release before this one keeps working.
ALTER TABLE tows ADD COLUMN driver TEXT;
CREATE INDEX tows_created_at ON tows (created_at);
