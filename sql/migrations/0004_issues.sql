-- Issues: events grouped by (project, fingerprint).

CREATE TABLE issues (
    id UUID PRIMARY KEY DEFAULT uuidv7(),
    project_id UUID NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    title TEXT NOT NULL,
    level TEXT NOT NULL
    CONSTRAINT issues_level_check
    CHECK (level IN ('fatal', 'error', 'warning', 'info', 'debug')),
    status TEXT NOT NULL DEFAULT 'unresolved'
    CONSTRAINT issues_status_check
    CHECK (status IN ('unresolved', 'resolved', 'archived')),
    event_count INTEGER NOT NULL DEFAULT 0,
    first_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
    assigned_to UUID REFERENCES users (id),
    UNIQUE (project_id, fingerprint)
);

CREATE INDEX idx_issues_project_status ON issues (project_id, status);
CREATE INDEX idx_issues_project_last_seen ON issues (project_id, last_seen DESC);
