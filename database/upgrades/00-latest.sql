-- v0 -> v2: Latest revision
CREATE TABLE msn_contact (
    bridge_id        TEXT    NOT NULL,
    login_id         TEXT    NOT NULL,
    passport         TEXT    NOT NULL,
    friendly_name    TEXT    NOT NULL DEFAULT '',
    personal_message TEXT    NOT NULL DEFAULT '',
    lists            INTEGER NOT NULL DEFAULT 0,
    status           TEXT    NOT NULL DEFAULT 'FLN',
    updated_at       BIGINT  NOT NULL,

    PRIMARY KEY (bridge_id, login_id, passport)
);

CREATE TABLE msn_group_member (
    bridge_id TEXT   NOT NULL,
    login_id  TEXT   NOT NULL,
    group_id  TEXT   NOT NULL,
    passport  TEXT   NOT NULL,
    joined_at BIGINT NOT NULL,

    PRIMARY KEY (bridge_id, login_id, group_id, passport)
);

CREATE TABLE msn_pending_request (
    bridge_id     TEXT   NOT NULL,
    login_id      TEXT   NOT NULL,
    passport      TEXT   NOT NULL,
    friendly_name TEXT   NOT NULL DEFAULT '',
    received_at   BIGINT NOT NULL,

    PRIMARY KEY (bridge_id, login_id, passport)
);
