-- Projects and the API keys their SDKs authenticate with.

CREATE TABLE projects (
    id UUID PRIMARY KEY DEFAULT uuidv7(),
    org_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    platform TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX idx_projects_org ON projects (org_id);

-- Several keys per project; a key is 'mshr_' plus 48 hex characters.
CREATE TABLE api_keys (
    id UUID PRIMARY KEY DEFAULT uuidv7(),
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key_value TEXT UNIQUE NOT NULL,
    label TEXT NOT NULL DEFAULT 'default',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

CREATE INDEX idx_api_keys_project ON api_keys (project_id);
-- Serves the ingestion hot path: live keys only.
CREATE INDEX idx_api_keys_value ON api_keys (key_value) WHERE revoked_at IS NULL;
