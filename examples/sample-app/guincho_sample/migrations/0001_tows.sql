-- The tows the company takes: where from, which vehicle, and when it was called in.
CREATE TABLE tows (
    id INTEGER PRIMARY KEY,
    plate TEXT NOT NULL,
    location TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
