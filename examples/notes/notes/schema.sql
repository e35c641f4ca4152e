-- The notes app's schema. Idempotent: `erlen init-db` and the app's first
-- connection run it; `erlen init-db --drop` deletes everything first.
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS note (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    -- The client's file name, kept only to offer it back as the download name.
    attachment_name TEXT,
    -- The name the file is stored under in UPLOAD_FOLDER, chosen by the server.
    attachment_key TEXT UNIQUE,
    attachment_size INTEGER
);

CREATE INDEX IF NOT EXISTS note_by_user ON note (user_id, id);
